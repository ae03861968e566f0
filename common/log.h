/*
 * log - a service's event log, inside the service's own LMDB store.
 *
 * The transactional outbox: a handler changes its tables and appends the
 * events describing the change in the same write transaction, so state and
 * log never disagree. Each event is a koop.Event envelope (node, stream,
 * seq, id, time, actor, scope, type, payload) stored under its sequence
 * number as a big-endian key; sequences start at 1 and grow by exactly 1
 * (no gaps: the next seq is always last + 1 inside the writing txn).
 *
 * Tables: "log" seq -> envelope bytes (never re-encoded afterwards);
 *         "log_shared" seq -> S(seq) for the SHARED events (what may leave the node);
 *         "log_chain" seq -> L(seq); "log_redacted" (retention): see log_chain.h;
 *         "log_meta" "log_id" -> a random id made when the log is created, so a
 *         reset or restored database is recognisable as a different log.
 *
 * Both chains (chain.h) are written in the appending transaction: L over
 * every entry, S over the SHARED ones, which is the chain a hub receiving
 * only those can check.
 */
#ifndef KOOP_LOG_H
#define KOOP_LOG_H

#include "chain.h"
#include "errors.h"
#include "store.h"
#include <protobuf-c/protobuf-c.h>

typedef struct koop_log koop_log_t;

/* Opens the log of `stream` in `store` (creating its identity on first use).
 * One log object per store appends (it keeps the last links it wrote). */
int koop_log_open(koop_log_t **out, koop_store_t *store, const char *node, const char *stream);
void koop_log_destroy(koop_log_t **self_p);

const char *koop_log_id(const koop_log_t *self);

/* Gives the log of `store` a new identity (koopctl restore): log_meta
 * "log_id" = new_id, and "restored_from" = the identity it had, so the copy
 * of a log is never taken for the history it was copied from (consumers
 * and the hub see a new log), and computes both chains again from the new
 * identity's genesis (log_chain.h). In the caller's write txn, with no koop_log_t
 * of that store open. Returns 0 or an error code. */
int koop_log_renew_id(koop_store_t *store, MDB_txn *txn, const char *new_id);
/* The identity of the log of `store` as stored (old_id, size bytes), or
 * MDB_NOTFOUND when it has none yet. */
int koop_log_stored_id(koop_store_t *store, MDB_txn *txn, char *id, size_t size);
const char *koop_log_stream(const koop_log_t *self);
const char *koop_log_node(const koop_log_t *self);

/* Appends one event in txn (the caller's write transaction) and returns its
 * seq in *seq_out (may be NULL). scope is KOOP__SCOPE__SCOPE_LOCAL/SHARED;
 * payload is the encoded event message (copied). */
int koop_log_append(koop_log_t *self, MDB_txn *txn, const char *type, int scope,
                    const char *actor, const uint8_t *payload, size_t payload_len,
                    uint64_t *seq_out);

/* Many appends in one write transaction (a hub's drain, a replay): the last
 * seq is read once and the log table is written through a cursor kept open
 * (the chains follow from the links the previous add computed).
 * Valid only inside txn, by one writer; end it before the txn ends (also
 * after a failed add, after which the txn must be aborted). Each add is
 * exactly what koop_log_append does. */
typedef struct {
    koop_log_t *la_log;
    MDB_txn *la_txn;
    MDB_cursor *la_cur;
    uint64_t la_last;
} koop_log_appender_t;
int koop_log_appender_begin(koop_log_appender_t *a, koop_log_t *self, MDB_txn *txn);
int koop_log_appender_add(koop_log_appender_t *a, const char *type, int scope, const char *actor,
                          const uint8_t *payload, size_t payload_len, uint64_t *seq_out);
/* Closes the cursors; accepts an appender whose begin failed. */
void koop_log_appender_end(koop_log_appender_t *a);

/* The last seq of a log table (a "log" or "log_shared" dbi of txn, opened
 * by the caller; 0 when empty). For readers without a koop_log_t (a copy
 * read by koop_backup_inspect). */
int koop_log_last_in(MDB_txn *txn, MDB_dbi dbi, uint64_t *last);

/* Last seq in the log (0 when empty); with shared_only, the last SHARED one. */
int koop_log_last(koop_log_t *self, MDB_txn *txn, int shared_only, uint64_t *last);

/* Number of SHARED events with seq > after. */
int koop_log_count_shared_after(koop_log_t *self, MDB_txn *txn, uint64_t after, uint64_t *count);

/* Calls visit for up to `max` events with seq > after, in order; with
 * shared_only, SHARED events only. The bytes are valid only during the call.
 * visit returns 0 to go on, non-zero to stop (returned). */
typedef int (*koop_log_visit_fn)(uint64_t seq, const uint8_t *bytes, size_t len, void *ctx);
int koop_log_read(koop_log_t *self, MDB_txn *txn, uint64_t after, uint32_t max, int shared_only,
                  koop_log_visit_fn visit, void *ctx);

/* ---- the chains (chain.h, log_chain.h, docs/ACCOUNTABILITY.md) ---- */

/* The links as of seq: L of the last entry at or before seq, and S of the
 * last SHARED one at or before it (the genesis links when there is none).
 * Either output may be NULL. 0 or an error code. */
int koop_log_links(koop_log_t *self, MDB_txn *txn, uint64_t seq, uint8_t link[KOOP_CHAIN_LEN],
                   uint8_t shared[KOOP_CHAIN_LEN]);

/* What koop_log_verify found. */
typedef struct {
    uint64_t entries;   /* entries walked */
    uint64_t last_seq;
    uint64_t shared;    /* SHARED entries */
    uint64_t redacted;  /* entries whose payload retention removed */
    uint64_t problems;
    uint8_t head[KOOP_CHAIN_LEN], shared_head[KOOP_CHAIN_LEN]; /* stored L and S of the last entries */
} koop_log_check_t;

typedef struct {
    /* a finding (a verify.* code of errors.def and its arguments), in seq order */
    void (*problem)(void *ctx, uint64_t seq, koop_err_t code, const char *const *args);
    /* each entry as stored, in order (redacted: retention removed its
     * payload); may be NULL; non-zero stops the walk (returned) */
    int (*entry)(void *ctx, uint64_t seq, const uint8_t *env, size_t len, int redacted);
    void *ctx;
} koop_log_walk_t;

/* Walks the whole log in txn and checks, for every entry: its seq follows
 * the one before (a gap is a removed entry), its envelope is in the form
 * the log writes and names this node, stream and seq, its stored L and (for
 * a SHARED entry) S are the links of its bytes after the stored links
 * before it, and a removed payload has its hash in log_redacted. Links
 * without an entry (a removed last entry) are found too. Each link is
 * checked against the stored one before it, so a changed entry is named
 * exactly; a history rewritten with every later link recomputed is found
 * against heads kept elsewhere (the hub's, sync verify). Returns 0 (the
 * findings went to walk->problem) or a storage error. */
int koop_log_verify(koop_log_t *self, MDB_txn *txn, const koop_log_walk_t *walk, koop_log_check_t *out);

/* Retention: removes the payload of LOCAL entry seq, keeping B(payload) in
 * log_redacted, so both chains still verify. 0 (also when it was removed
 * already), -EPERM for a SHARED entry, MDB_NOTFOUND, or an error code. */
int koop_log_redact(koop_log_t *self, MDB_txn *txn, uint64_t seq);

#endif
