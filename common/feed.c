#include "feed.h"
#include "client.h"
#include "clock.h"
#include "koop.h"
#include "say.h"
#include "service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 200
#define GRACE_MS 5000

struct koop_feed {
    koop_feed_opts_t opts;
    char stream[64];
    char key[96];
    char endpoint[256];
    char log_id[64];        /* the producer's log id the cursor belongs to */
    uv_timer_t timer;       /* retry delay */
    uint64_t cursor;
    uint64_t call_id;       /* the fetch in flight (client.h) */
    uint64_t fetches;       /* fetches sent; the one in flight is number `fetches` */
    uint64_t caught_up_ms;  /* mono ms of the last answer that left us caught up */
    uint64_t sent_ms;       /* mono ms the fetch in flight was sent */
    int in_flight;
    int in_flight_waits;    /* the fetch in flight is a long poll */
    int poke_next;          /* the next fetch must not wait */
    int failed;
    unsigned bad;           /* undecodable events met (skipped or refused batches) */
    uint64_t refused;       /* events moved past since start (koop_feed_refused) */
};

/* ---- cursor storage: value = be64 seq, then the producer's log id ---- */

int
koop_feed_cursor_get(koop_store_t *store, MDB_txn *txn, const char *key, uint64_t *seq)
{
    MDB_val v;
    int rc = koop_store_get_str(txn, koop_store_dbi(store, "feed_cursors"), key, &v);
    *seq = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (v.mv_size < 8)
        return MDB_CORRUPTED;
    *seq = koop_be64_get(v.mv_data);
    return 0;
}

int
koop_feed_cursor_reset(koop_store_t *store, MDB_txn *txn, const char *key)
{
    MDB_val k = {strlen(key), (void *)key};
    int rc = koop_mdb_rc(mdb_del(txn, koop_store_dbi(store, "feed_cursors"), &k, NULL));
    return rc == MDB_NOTFOUND ? 0 : rc;
}

#define CURSOR_ID_MAX 64

int
koop_feed_cursor_put(koop_store_t *store, MDB_txn *txn, const char *key, uint64_t seq, const char *log_id)
{
    unsigned char val[8 + CURSOR_ID_MAX];
    size_t idlen = strlen(log_id);
    if (idlen >= CURSOR_ID_MAX)
        return -EINVAL;
    koop_be64_put(val, seq);
    memcpy(val + 8, log_id, idlen);
    return koop_store_put_str(txn, koop_store_dbi(store, "feed_cursors"), key, val, 8 + idlen);
}

int
koop_feed_cursor_each(koop_store_t *store, MDB_txn *txn, koop_feed_cursor_fn fn, void *ctx)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = koop_mdb_rc(mdb_cursor_open(txn, koop_store_dbi(store, "feed_cursors"), &cur));
    if (rc != 0)
        return rc;
    while ((rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) == 0) {
        char key[128], id[CURSOR_ID_MAX];
        if (k.mv_size >= sizeof key || v.mv_size < 8 || v.mv_size - 8 >= sizeof id) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = '\0';
        memcpy(id, (char *)v.mv_data + 8, v.mv_size - 8);
        id[v.mv_size - 8] = '\0';
        if ((rc = fn(key, koop_be64_get(v.mv_data), id, ctx)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
s_load_cursor(MDB_txn *txn, void *ctx)
{
    koop_feed_t *f = ctx;
    MDB_val v;
    int rc = koop_store_get_str(txn, koop_store_dbi(f->opts.store, "feed_cursors"), f->key, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (v.mv_size < 8 || v.mv_size - 8 >= sizeof f->log_id)
        return MDB_CORRUPTED;
    f->cursor = koop_be64_get(v.mv_data);
    memcpy(f->log_id, (char *)v.mv_data + 8, v.mv_size - 8);
    f->log_id[v.mv_size - 8] = '\0';
    return 0;
}

/* ---- fetching ---- */

static void s_on_timer(uv_timer_t *t);
static void s_on_reply(void *ctx, const koop_reply_t *reply);

static void
s_retry_later(koop_feed_t *f)
{
    uv_timer_start(&f->timer, s_on_timer, RETRY_MS, 0);
}

static void
s_send_fetch(koop_feed_t *f)
{
    Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;

    if (f->failed || f->in_flight)
        return;
    q.stream = f->stream;
    q.has_after_seq = 1;
    q.after_seq = f->cursor;
    q.has_max = 1;
    q.max = f->opts.batch_max;
    q.has_wait_ms = 1;
    q.wait_ms = f->poke_next ? 0 : f->opts.wait_ms;
    q.has_shared_only = 1;
    q.shared_only = f->opts.shared_only ? 1 : 0;
    if (koop_client_call(f->opts.client, f->endpoint, NULL, "feed.fetch", &q.base, f->opts.wait_ms + GRACE_MS,
                         s_on_reply, f, &f->call_id) != 0) {
        s_retry_later(f);
        return;
    }
    f->fetches++;
    f->sent_ms = koop_clock_mono_ms();
    f->in_flight = 1;
    f->in_flight_waits = !f->poke_next;
    f->poke_next = 0;
}

uint64_t
koop_feed_poke(koop_feed_t *f, uint64_t since_ms)
{
    if (f->failed)
        return f->fetches + 1;
    if (f->in_flight && !f->in_flight_waits && f->sent_ms > since_ms)
        return f->fetches; /* a quick fetch sent since then: its answer tells */
    if (f->in_flight && f->in_flight_waits) {
        /* a long poll sent before now may be answered late: ask afresh
         * (its late answer, if any, is dropped; the cursor decides) */
        (void)koop_client_cancel(f->opts.client, f->call_id);
        f->in_flight = 0;
        uv_timer_stop(&f->timer);
        f->poke_next = 1;
        s_send_fetch(f);
        return f->in_flight ? f->fetches : f->fetches + 1;
    }
    if (f->in_flight) {
        /* a quick fetch is under way, but sent before now: the next one tells */
        f->poke_next = 1;
        return f->fetches + 1;
    }
    f->poke_next = 1;
    uv_timer_stop(&f->timer);
    s_send_fetch(f);
    return f->in_flight ? f->fetches : f->fetches + 1;
}

/* A fetch that must not wait, unanswered for this long: the producer is not there. */
#define QUICK_ANSWER_MS 500

int
koop_feed_current(const koop_feed_t *f)
{
    uint64_t now = koop_clock_mono_ms();
    if (f->failed || !f->caught_up_ms || now - f->caught_up_ms > (uint64_t)f->opts.wait_ms + GRACE_MS)
        return 0;
    return !(f->in_flight && !f->in_flight_waits && now - f->sent_ms > QUICK_ANSWER_MS);
}

static void
s_on_timer(uv_timer_t *t)
{
    s_send_fetch(t->data);
}

/* ---- applying a batch ---- */

typedef struct {
    koop_feed_t *f;
    Koop__FeedBatch *batch;
    uint64_t cursor;       /* out: the new cursor */
    int gap;
    unsigned skipped;      /* out: undecodable events moved past */
    unsigned refused;      /* out: events of another stream, or refused by the consumer */
} s_apply_ctx;

static int
s_apply_batch(MDB_txn *txn, void *ctx)
{
    s_apply_ctx *a = ctx;
    koop_feed_t *f = a->f;
    uint64_t pos = f->cursor;
    int rc;

    a->gap = 0;
    a->skipped = 0;
    a->refused = 0;
    if (f->opts.batch_begin && (rc = f->opts.batch_begin(txn, f->opts.ctx)) != 0)
        return rc;
    for (size_t i = 0; i < a->batch->n_events; i++) {
        Koop__Event *ev = koop__event__unpack(NULL, a->batch->events[i].len, a->batch->events[i].data);
        if (!ev) {
            /* never decodable, so never retried: moved past (its position is
             * given) and counted; without a position the batch stays out */
            uint64_t at = i < a->batch->n_seqs ? a->batch->seqs[i] : 0;
            if (at <= pos || (!f->opts.shared_only && at != pos + 1))
                return MDB_CORRUPTED;
            koop_error("feed %s: event %llu cannot be decoded (%zu bytes): skipped", f->stream,
                       (unsigned long long)at, a->batch->events[i].len);
            a->skipped++;
            pos = at;
            continue;
        }
        /* shared_only feeds skip LOCAL seqs, so only order is required there */
        if (ev->seq <= pos || (!f->opts.shared_only && ev->seq != pos + 1)) {
            koop__event__free_unpacked(ev, NULL);
            a->gap = 1;
            return -EPROTO;
        }
        /* a feed carries its producer's stream only */
        if (!ev->stream || strcmp(ev->stream, f->stream) != 0) {
            if (a->refused++ < 5)
                koop_error("feed %s: event %llu names stream %.32s: skipped", f->stream,
                           (unsigned long long)ev->seq, ev->stream ? ev->stream : "-");
            rc = 0;
        } else if ((rc = f->opts.apply(txn, ev, f->opts.ctx)) == KOOP_FEED_REFUSED) {
            a->refused++;
            rc = 0;
        }
        pos = ev->seq;
        koop__event__free_unpacked(ev, NULL);
        if (rc != 0)
            return rc;
    }
    if (f->opts.batch_end && (rc = f->opts.batch_end(txn, f->opts.ctx)) != 0)
        return rc;
    if ((rc = koop_feed_cursor_put(f->opts.store, txn, f->key, pos, a->batch->log_id ? a->batch->log_id : "")) != 0)
        return rc;
    a->cursor = pos;
    return 0;
}

/* koop_feed_take, saying whether the consumer is caught up afterwards (it
 * holds everything the producer had when it answered). */
static int
s_take(koop_feed_t *f, const uint8_t *payload, size_t len, int *caught_up)
{
    Koop__FeedBatch *batch = koop__feed_batch__unpack(NULL, len, payload);
    s_apply_ctx a = {f, NULL, 0, 0, 0, 0};
    int rc = 0;

    *caught_up = 0;
    if (!batch)
        return -EPROTO;
    if (f->log_id[0] && batch->log_id && strcmp(f->log_id, batch->log_id) != 0) {
        koop_error("strumień %s: dziennik producenta ma nową tożsamość (%s, był %s): jego bazę wyzerowano albo "
                   "odtworzono bez koopctl restore; wstrzymano, nic nie zastosowano – raporty odbuduje koopctl "
                   "report rebuild, a cały węzeł odtworzy z jednej kopii koopctl restore",
                   f->stream, batch->log_id, f->log_id);
        f->failed = 1;
        rc = -ESTALE;
    } else if (f->log_id[0] && batch->has_last_seq && batch->last_seq < f->cursor) {
        /* the same log, but shorter than what this consumer applied: its
         * store was put back (files copied by hand) without a new identity;
         * going on would skip every event written at the seqs in between */
        koop_error("strumień %s: dziennik producenta (tożsamość %s) kończy się na zdarzeniu %llu, a ten odbiorca "
                   "zastosował już zdarzenia do %llu z tego samego dziennika: dane producenta cofnięto (skopiowano "
                   "pliki bez koopctl restore?); wstrzymano, nic nie pominięto – odtwórz cały węzeł z kopii "
                   "zrobionej przez koopctl backup (koopctl restore nadaje dziennikom nową tożsamość); raporty "
                   "odbuduje też koopctl report rebuild",
                   f->stream, f->log_id, (unsigned long long)batch->last_seq, (unsigned long long)f->cursor);
        f->failed = 1;
        rc = -ESTALE;
    } else if (batch->n_events > 0) {
        a.batch = batch;
        rc = koop_store_write(f->opts.store, s_apply_batch, &a);
        if (rc != 0) {
            koop_error("feed %s: applying events after %llu failed: %s", f->stream,
                       (unsigned long long)f->cursor, a.gap ? "gap in sequence" : koop_strerror(rc));
            f->bad += rc == MDB_CORRUPTED;
        } else {
            f->bad += a.skipped;
            f->refused += a.skipped + a.refused;
            koop_service_note_refused(f->opts.svc, a.skipped + a.refused);
            f->cursor = a.cursor;
            if (!f->log_id[0] && batch->log_id)
                snprintf(f->log_id, sizeof f->log_id, "%s", batch->log_id);
            if (f->opts.committed)
                f->opts.committed(f->opts.ctx);
        }
    }
    /* a shared_only consumer may stop short of the last (LOCAL) seqs */
    if (rc == 0)
        *caught_up = batch->n_events < f->opts.batch_max && (f->opts.shared_only || f->cursor >= batch->last_seq);
    koop__feed_batch__free_unpacked(batch, NULL);
    if (f->bad >= KOOP_FEED_MAX_BAD && !f->failed) {
        koop_error("feed %s: %u undecodable events: stopped (the producer's log needs an operator)", f->stream,
                   f->bad);
        f->failed = 1;
    }
    return rc;
}

int
koop_feed_take(koop_feed_t *f, const uint8_t *payload, size_t len)
{
    int caught_up;
    return s_take(f, payload, len, &caught_up);
}

static void
s_on_reply(void *ctx, const koop_reply_t *reply)
{
    koop_feed_t *f = ctx;
    uint64_t fetch = f->fetches;
    int rc, caught_up;

    f->in_flight = 0;
    if (reply->status != KOOP_OK) {
        char msg[300];
        koop_error_render(&reply->err, KOOP_LANG_PL, NULL, msg, sizeof msg);
        if (reply->err.id == KOOP_ERR_CLIENT_TIMEOUT)
            koop_warn("feed %s: %s", f->stream, msg);
        else
            koop_error("feed %s: producer refused: %s", f->stream, msg);
        s_retry_later(f);
        return;
    }
    rc = s_take(f, reply->payload, reply->len, &caught_up);
    if (f->failed)
        return;
    if (rc != 0) {
        s_retry_later(f);
        return;
    }
    if (caught_up)
        f->caught_up_ms = koop_clock_mono_ms();
    s_send_fetch(f);
    if (f->opts.replied)
        f->opts.replied(f->opts.ctx, fetch, caught_up);
}

koop_feed_t *
koop_feed_start(const koop_feed_opts_t *opts)
{
    koop_feed_t *f = calloc(1, sizeof *f);
    int rc;
    if (!f)
        return NULL;
    f->opts = *opts;
    if (!f->opts.batch_max)
        f->opts.batch_max = 1000;
    if (!f->opts.wait_ms)
        f->opts.wait_ms = 1000;
    snprintf(f->stream, sizeof f->stream, "%s", opts->stream);
    snprintf(f->key, sizeof f->key, "%s", opts->cursor_key ? opts->cursor_key : opts->stream);
    snprintf(f->endpoint, sizeof f->endpoint, "%s", opts->endpoint);
    f->opts.stream = f->stream;
    f->opts.endpoint = f->endpoint;
    f->opts.cursor_key = f->key;
    if ((rc = koop_store_write(f->opts.store, s_load_cursor, f)) != 0) {
        koop_error("feed %s: cannot read cursor: %s", f->stream, koop_strerror(rc));
        free(f);
        errno = EIO;
        return NULL;
    }
    uv_timer_init(opts->loop, &f->timer);
    f->timer.data = f;
    s_send_fetch(f);
    return f;
}

static void
s_free_on_close(uv_handle_t *h)
{
    free(h->data);
}

void
koop_feed_destroy(koop_feed_t **self_p)
{
    koop_feed_t *f;
    if (!self_p || !*self_p)
        return;
    f = *self_p;
    if (f->in_flight)
        (void)koop_client_cancel(f->opts.client, f->call_id);
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, s_free_on_close);
    *self_p = NULL;
}

uint64_t
koop_feed_position(const koop_feed_t *self)
{
    return self->cursor;
}

int
koop_feed_failed(const koop_feed_t *self)
{
    return self->failed;
}

uint64_t
koop_feed_refused(const koop_feed_t *self)
{
    return self->refused;
}
