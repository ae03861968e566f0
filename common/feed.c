#include "feed.h"
#include "clock.h"
#include "koop.h"
#include "loop.h"
#include "rpc.h"
#include "say.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define RETRY_MS 200
#define GRACE_MS 5000

struct koop_feed {
    koop_feed_opts_t opts;
    char stream[64];
    char key[96];
    char endpoint[256];
    char log_id[64];        /* the producer's log id the cursor belongs to */
    void *sock;
    koop_zwatch_t *watch;   /* one per connection; freed when its handles closed */
    uv_timer_t timer;       /* retry delay and reply deadline */
    uint64_t cursor;
    uint64_t request_id;
    int in_flight;
    int failed;
    int watching;
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
    int rc = mdb_del(txn, koop_store_dbi(store, "feed_cursors"), &k, NULL);
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

/* ---- socket ---- */

static void s_on_readable(koop_zwatch_t *w);
static void s_on_timer(uv_timer_t *t);

static int
s_connect(koop_feed_t *f)
{
    int one = 1;
    f->sock = zmq_socket(f->opts.zctx, ZMQ_DEALER);
    if (!f->sock)
        return -errno;
    if (koop_rpc_sockopts(f->sock) != 0 || zmq_setsockopt(f->sock, ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
        zmq_connect(f->sock, f->endpoint) != 0) {
        int e = errno;
        zmq_close(f->sock);
        f->sock = NULL;
        return -e;
    }
    f->watch = calloc(1, sizeof *f->watch);
    if (!f->watch || koop_zwatch_start(f->opts.loop, f->watch, f->sock, s_on_readable, f) != 0) {
        /* a failed start may still be closing its handles: w is leaked, not freed */
        f->watch = NULL;
        zmq_close(f->sock);
        f->sock = NULL;
        return -EIO;
    }
    f->watching = 1;
    return 0;
}

static void
s_free_watch(koop_zwatch_t *w)
{
    free(w);
}

static void
s_disconnect(koop_feed_t *f)
{
    if (f->watching) {
        koop_zwatch_stop(f->watch, s_free_watch);
        f->watch = NULL;
        f->watching = 0;
    }
    if (f->sock) {
        zmq_close(f->sock);
        f->sock = NULL;
    }
    f->in_flight = 0;
}

static void
s_retry_later(koop_feed_t *f)
{
    uv_timer_start(&f->timer, s_on_timer, RETRY_MS, 0);
}

static void
s_send_fetch(koop_feed_t *f)
{
    Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
    uint8_t *buf;
    size_t len;

    if (f->failed || f->in_flight)
        return;
    if (!f->sock && s_connect(f) != 0) {
        s_retry_later(f);
        return;
    }
    q.stream = f->stream;
    q.has_after_seq = 1;
    q.after_seq = f->cursor;
    q.has_max = 1;
    q.max = f->opts.batch_max;
    q.has_wait_ms = 1;
    q.wait_ms = f->opts.wait_ms;
    q.has_shared_only = 1;
    q.shared_only = f->opts.shared_only ? 1 : 0;
    if (koop_rpc_pack_request(++f->request_id, NULL, "feed.fetch", &q.base, &buf, &len) != 0) {
        s_retry_later(f);
        return;
    }
    if (zmq_send(f->sock, buf, len, ZMQ_DONTWAIT) < 0) {
        /* no live connection yet (ZMQ_IMMEDIATE): try again shortly */
        free(buf);
        s_retry_later(f);
        return;
    }
    free(buf);
    f->in_flight = 1;
    uv_timer_start(&f->timer, s_on_timer, f->opts.wait_ms + GRACE_MS, 0);
}

static void
s_on_timer(uv_timer_t *t)
{
    koop_feed_t *f = t->data;
    if (f->in_flight) {
        koop_warn("feed %s: no answer from %s; reconnecting", f->stream, f->endpoint);
        s_disconnect(f);
    }
    s_send_fetch(f);
}

/* ---- applying a batch ---- */

typedef struct {
    koop_feed_t *f;
    Koop__FeedBatch *batch;
    uint64_t cursor;       /* out: the new cursor */
    int gap;
} s_apply_ctx;

static int
s_apply_batch(MDB_txn *txn, void *ctx)
{
    s_apply_ctx *a = ctx;
    koop_feed_t *f = a->f;
    uint64_t pos = f->cursor;
    unsigned char val[8 + 64];
    size_t idlen = strlen(a->batch->log_id ? a->batch->log_id : "");
    int rc;

    a->gap = 0;
    if (f->opts.batch_begin && (rc = f->opts.batch_begin(txn, f->opts.ctx)) != 0)
        return rc;
    for (size_t i = 0; i < a->batch->n_events; i++) {
        Koop__Event *ev = koop__event__unpack(NULL, a->batch->events[i].len, a->batch->events[i].data);
        if (!ev)
            return MDB_CORRUPTED;
        /* shared_only feeds skip LOCAL seqs, so only order is required there */
        if (ev->seq <= pos || (!f->opts.shared_only && ev->seq != pos + 1)) {
            koop__event__free_unpacked(ev, NULL);
            a->gap = 1;
            return EPROTO;
        }
        rc = f->opts.apply(txn, ev, f->opts.ctx);
        pos = ev->seq;
        koop__event__free_unpacked(ev, NULL);
        if (rc != 0)
            return rc;
    }
    if (f->opts.batch_end && (rc = f->opts.batch_end(txn, f->opts.ctx)) != 0)
        return rc;
    if (idlen >= 64)
        return EINVAL;
    koop_be64_put(val, pos);
    memcpy(val + 8, a->batch->log_id ? a->batch->log_id : "", idlen);
    if ((rc = koop_store_put_str(txn, koop_store_dbi(f->opts.store, "feed_cursors"), f->key, val, 8 + idlen)) != 0)
        return rc;
    a->cursor = pos;
    return 0;
}

static void
s_handle_reply(koop_feed_t *f, const uint8_t *data, size_t len)
{
    koop_reply_t reply;
    uint64_t id;
    Koop__FeedBatch *batch;
    s_apply_ctx a = {f, NULL, 0, 0};
    int rc;

    if (koop_rpc_unpack_reply(data, len, &id, &reply) != 0 || id != f->request_id) {
        koop_reply_clear(&reply);
        return; /* not the answer we wait for */
    }
    f->in_flight = 0;
    uv_timer_stop(&f->timer);
    if (reply.status != KOOP_OK) {
        koop_error("feed %s: producer refused: %s", f->stream, reply.error ? reply.error : "?");
        koop_reply_clear(&reply);
        s_retry_later(f);
        return;
    }
    batch = koop__feed_batch__unpack(NULL, reply.len, reply.payload);
    koop_reply_clear(&reply);
    if (!batch) {
        s_retry_later(f);
        return;
    }
    if (f->log_id[0] && batch->log_id && strcmp(f->log_id, batch->log_id) != 0) {
        koop_error("feed %s: the producer's log changed (%s -> %s): its database was reset or "
                   "restored; not applying anything until an operator rebuilds this consumer",
                   f->stream, f->log_id, batch->log_id);
        f->failed = 1;
        koop__feed_batch__free_unpacked(batch, NULL);
        return;
    }
    if (batch->n_events > 0) {
        a.batch = batch;
        rc = koop_store_write(f->opts.store, s_apply_batch, &a);
        if (rc != 0) {
            koop_error("feed %s: applying events after %llu failed: %s", f->stream,
                       (unsigned long long)f->cursor, a.gap ? "gap in sequence" : mdb_strerror(rc));
            koop__feed_batch__free_unpacked(batch, NULL);
            s_retry_later(f);
            return;
        }
        f->cursor = a.cursor;
        if (!f->log_id[0] && batch->log_id)
            snprintf(f->log_id, sizeof f->log_id, "%s", batch->log_id);
        if (f->opts.committed)
            f->opts.committed(f->opts.ctx);
    }
    koop__feed_batch__free_unpacked(batch, NULL);
    s_send_fetch(f);
}

static void
s_on_readable(koop_zwatch_t *w)
{
    koop_feed_t *f = w->zw_data;
    while (f->sock && koop_zwatch_readable(w)) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, f->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        s_handle_reply(f, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
    }
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
        koop_error("feed %s: cannot read cursor: %s", f->stream, mdb_strerror(rc));
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
    s_disconnect(f);
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
