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
 *         "log_shared" seq -> "" for the SHARED events (what may leave the node);
 *         "log_meta" "log_id" -> a random id made when the log is created, so a
 *         reset or restored database is recognisable as a different log.
 */
#ifndef KOOP_LOG_H
#define KOOP_LOG_H

#include "store.h"
#include <protobuf-c/protobuf-c.h>

typedef struct koop_log koop_log_t;

/* Opens the log of `stream` in `store` (creating its identity on first use). */
int koop_log_open(koop_log_t **out, koop_store_t *store, const char *node, const char *stream);
void koop_log_destroy(koop_log_t **self_p);

const char *koop_log_id(const koop_log_t *self);

/* Gives the log of `store` a new identity (koopctl restore): log_meta
 * "log_id" = new_id, and "restored_from" = the identity it had, so the copy
 * of a log is never taken for the history it was copied from (consumers
 * and the hub see a new log). In the caller's write txn, with no koop_log_t
 * of that store open. Returns 0 or an error code. */
int koop_log_renew_id(koop_store_t *store, MDB_txn *txn, const char *new_id);
/* The identity of the log of `store` as stored (old_id, size bytes), or
 * MDB_NOTFOUND when it has none yet. */
int koop_log_stored_id(koop_store_t *store, MDB_txn *txn, char *id, size_t size);
const char *koop_log_stream(const koop_log_t *self);

/* Appends one event in txn (the caller's write transaction) and returns its
 * seq in *seq_out (may be NULL). scope is KOOP__SCOPE__SCOPE_LOCAL/SHARED;
 * payload is the encoded event message (copied). */
int koop_log_append(koop_log_t *self, MDB_txn *txn, const char *type, int scope,
                    const char *actor, const uint8_t *payload, size_t payload_len,
                    uint64_t *seq_out);

/* Many appends in one write transaction (a hub's drain, a replay): the last
 * seq is read once and both tables are written through cursors kept open.
 * Valid only inside txn, by one writer; end it before the txn ends (also
 * after a failed add, after which the txn must be aborted). Each add is
 * exactly what koop_log_append does. */
typedef struct {
    koop_log_t *la_log;
    MDB_txn *la_txn;
    MDB_cursor *la_cur, *la_shared;
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

#endif
