/*
 * log_chain - the chains of an event log (chain.h): kept by log.c on every
 * append, walked by koop_log_verify, and changed by retention only through
 * koop_log_redact. Internal to libkoop (log.c and log_chain.c).
 *
 * Tables (beside "log" and "log_shared", see log.h):
 *   "log_chain"    seq -> L(seq), 32 bytes, for every entry
 *   "log_shared"   seq -> S(seq), 32 bytes, for the SHARED entries
 *   "log_redacted" seq -> B(payload) of an entry whose payload was removed
 *   "log_meta"     "chain" -> "1" once the chains exist (a store made
 *                  before them gets them computed at its first open; never
 *                  again after, so a chain table emptied behind the
 *                  service's back stays visible to verify)
 */
#ifndef KOOP_LOG_CHAIN_H
#define KOOP_LOG_CHAIN_H

#include "chain.h"
#include "store.h"

typedef struct {
    MDB_dbi log, shared, chain, redacted, meta;
    uint8_t genesis[KOOP_CHAIN_LEN];        /* L(0) */
    uint8_t genesis_shared[KOOP_CHAIN_LEN]; /* S(0) */
    /* The links the last append computed: L(seq) and S of the last SHARED
     * entry up to seq. The next append takes them instead of reading both
     * back when seq is the log's last entry then - always true unless the
     * transaction of that append was aborted (then the log's last is lower
     * and the links are read from the tables): the latest append of a seq
     * is the one the log holds whenever that seq is its last. */
    uint64_t last_seq;                      /* 0: nothing cached */
    uint8_t last_link[KOOP_CHAIN_LEN];
    uint8_t last_shared[KOOP_CHAIN_LEN];
} koop_log_chain_t;

/* Opens the chain tables of the log `log_id` in store; computes the chains
 * of a log written before they existed. 0 or an error code. */
int koop_log_chain_open(koop_log_chain_t *c, koop_store_t *store, const char *log_id);

/* Computes both chains of the log of store again from the genesis links of
 * log_id, in the caller's write txn (koop_log_renew_id: a restored log is a
 * new history, whose chains start from its new identity, the one the hub
 * checks the first batch of its new epoch against). 0 or an error code. */
int koop_log_chain_rebase(koop_store_t *store, MDB_txn *txn, const char *log_id);

/* Adds the links of entry seq (just written as env: header_len bytes before
 * the payload field, payload/payload_len) in txn: L(seq), and S(seq) for a
 * SHARED entry (log_shared's value). 0, or an LMDB code (MDB_CORRUPTED when
 * the link of seq - 1 is not there). */
int koop_log_chain_append(koop_log_chain_t *c, MDB_txn *txn, uint64_t seq, int shared, const uint8_t *env,
                          size_t header_len, const uint8_t *payload, size_t payload_len);

/* The chain state of a log (log.c). */
struct koop_log;
const koop_log_chain_t *koop_log_chain_of(const struct koop_log *log);

#endif
