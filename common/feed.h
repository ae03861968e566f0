/*
 * feed - consuming another service's event log (the consumer side of
 * "feed.fetch", see service.h).
 *
 * A consumer applies each batch of events and moves its cursor in ONE write
 * transaction of its own store, so every event takes effect exactly once
 * across crashes. The cursor (last applied seq and the producer's log id)
 * lives in the consumer's table "feed_cursors" under the stream name.
 *
 *   IDLE -> FETCHING (fetch after=cursor, wait=long-poll) -> reply
 *        -> APPLY (one txn: apply every event, cursor = last seq) -> FETCHING
 *   no reply within wait + 5 s, or a fetch that cannot be sent: retry
 *   after a short delay (the producer may be restarting; nothing is lost,
 *   the next fetch starts from the stored cursor).
 *
 * An event that cannot be decoded is skipped (the batch says its position,
 * FeedBatch.seqs) and logged; one whose stream is not the feed's is moved
 * past the same way, and so is one the consumer refuses (KOOP_FEED_REFUSED);
 * all are counted (koop_feed_refused, and the service's sys.ping); after KOOP_FEED_MAX_BAD of them (or of batches
 * refused for one without a position) the feed stops (koop_feed_failed), so
 * no consumer spins on a log it cannot read.
 *
 * Events must arrive as cursor+1, cursor+2, ...: a gap or a different
 * producer log id (the producer's database was reset) stops the feed with an
 * error in the log instead of applying anything out of order.
 */
#ifndef KOOP_FEED_H
#define KOOP_FEED_H

#include "envelope.pb-c.h"
#include "store.h"

#include <uv.h>

typedef struct koop_feed koop_feed_t;

#define KOOP_FEED_MAX_BAD 100

/* Applies one event inside txn. Returns 0, KOOP_FEED_REFUSED (the event was
 * checked and refused before it changed anything: undecodable by its type,
 * or not its node's to change; the feed moves past it and counts it), or an
 * LMDB/errno code that aborts the whole batch (it is fetched and applied
 * again later). */
typedef int (*koop_feed_apply_fn)(MDB_txn *txn, const Koop__Event *event, void *ctx);
#define KOOP_FEED_REFUSED 0x52454655 /* not an errno, LMDB's codes are negative */
/* Called after a batch committed (e.g. to answer the consumer's own parked fetches). */
typedef void (*koop_feed_committed_fn)(void *ctx);
/* Called after every answer of the producer was applied: fetch is the
 * answer's number (koop_feed_poke), caught_up 1 when the consumer then held
 * everything the producer had when it answered. */
typedef void (*koop_feed_replied_fn)(void *ctx, uint64_t fetch, int caught_up);

struct koop_client;

/* Called in the batch's transaction before its first event and after its
 * last (before the cursor moves): a consumer that holds changes for the
 * whole batch writes them at the end. An error aborts the batch. */
typedef int (*koop_feed_batch_fn)(MDB_txn *txn, void *ctx);

typedef struct {
    uv_loop_t *loop;
    struct koop_client *client; /* the process's client (client.h), e.g. koop_service_client() */
    koop_store_t *store;       /* the consumer's store */
    const char *endpoint;      /* the producer's ROUTER */
    const char *stream;        /* the producer's stream name */
    const char *cursor_key;    /* key of the cursor in feed_cursors; NULL = stream */
    int shared_only;
    uint32_t batch_max;        /* 0 = 1000 */
    uint32_t wait_ms;          /* long-poll wait; 0 = 1000 */
    koop_feed_apply_fn apply;
    koop_feed_batch_fn batch_begin;   /* may be NULL */
    koop_feed_batch_fn batch_end;     /* may be NULL */
    koop_feed_committed_fn committed;
    koop_feed_replied_fn replied;  /* may be NULL */
    void *ctx;
    /* the consumer's service: events the feed moved past (undecodable) or
     * the consumer refused are counted there once their batch committed
     * (koop_service_note_refused); may be NULL */
    struct koop_service *svc;
} koop_feed_opts_t;

/* Creates and starts a feed. NULL on failure (errno). */
koop_feed_t *koop_feed_start(const koop_feed_opts_t *opts);
/* Stops it and closes its handles (the loop must run once more to finish). */
void koop_feed_destroy(koop_feed_t **self_p);

/* Takes one FeedBatch (the payload of a feed.fetch reply) as the feed does
 * when it arrives: checks the producer's log id, applies every event and
 * moves the cursor in one transaction of the consumer's store. Returns 0
 * (applied, or nothing to apply) or the error that kept the batch out (it
 * is fetched again later; after a log id change the feed has failed).
 * Called by the feed on every reply; also for tests and fuzzing. */
int koop_feed_take(koop_feed_t *self, const uint8_t *payload, size_t len);

/* The last applied seq. */
uint64_t koop_feed_position(const koop_feed_t *self);
/* 1 when the feed stopped on an error it cannot get past by itself. */
int koop_feed_failed(const koop_feed_t *self);
/* Events moved past since start: undecodable, of another stream, or
 * refused by the consumer. */
uint64_t koop_feed_refused(const koop_feed_t *self);
/* Asks the producer (not waiting for the long poll) and returns the number
 * of a fetch sent after since_ms (mono): its answer, with caught_up
 * (replied), proves the consumer has everything the producer committed
 * before since_ms. A quick fetch already under way that was sent since then
 * serves; otherwise one is sent (now, or right after the one under way). */
uint64_t koop_feed_poke(koop_feed_t *self, uint64_t since_ms);
/* 1 when the last answer (within the long-poll time and a margin) left the
 * consumer caught up: the producer is there and nothing is missing. */
int koop_feed_current(const koop_feed_t *self);

/* Reads a cursor from a consumer's store (0 when none). */
int koop_feed_cursor_get(koop_store_t *store, MDB_txn *txn, const char *key, uint64_t *seq);
/* Forgets a cursor (used by rebuilds that replay a log from the start). */
int koop_feed_cursor_reset(koop_store_t *store, MDB_txn *txn, const char *key);

/* Every cursor of a consumer's store: its key, position and the producer's
 * log id ("" before the first batch). fn returns 0 to go on; any other
 * value stops the walk and is returned. For restore (koopctl), which
 * carries the cursors over to the restored producers' new identities. */
typedef int (*koop_feed_cursor_fn)(const char *key, uint64_t seq, const char *log_id, void *ctx);
int koop_feed_cursor_each(koop_store_t *store, MDB_txn *txn, koop_feed_cursor_fn fn, void *ctx);
/* Sets a cursor: key -> seq of the log log_id. */
int koop_feed_cursor_put(koop_store_t *store, MDB_txn *txn, const char *key, uint64_t seq, const char *log_id);

#endif
