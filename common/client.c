/*
 * client.c - asynchronous requests (see client.h).
 *
 * Calls are found by request id in a hash table (a reply) and time out on
 * their own libuv timer. Each endpoint has one DEALER with ZMQ_IMMEDIATE, so
 * a request is only handed to a live connection; until there is one (the
 * service is starting or restarting) it waits in the endpoint's queue and is
 * retried every QUEUE_RETRY_MS until its timeout.
 */
#include "client.h"
#include "clock.h"
#include "envelope.pb-c.h"
#include "loop.h"
#include "rpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define BUCKETS 4096 /* power of two */
#define QUEUE_RETRY_MS 5
#define ENDPOINT_MAX 256

typedef struct s_conn s_conn;
typedef struct s_call s_call;

struct s_call {
    koop_client_t *client;
    s_conn *conn;
    uint64_t id;
    koop_client_cb cb;
    void *ctx;
    uint32_t timeout_ms;
    uint8_t *buf;          /* the packed request while it waits in the queue */
    size_t len;
    s_call *hnext;         /* hash chain */
    s_call *qnext;         /* the endpoint's queue */
    uv_timer_t timer;      /* timer.data = this call; freed when the timer closed */
};

struct s_conn {
    koop_client_t *client;
    char endpoint[ENDPOINT_MAX];
    void *sock;
    koop_zwatch_t *watch;  /* freed when its handles closed */
    s_call *qhead, *qtail;
    uv_timer_t *retry;     /* freed when closed */
    s_conn *next;
};

struct koop_client {
    uv_loop_t *loop;
    void *zctx;
    int own_zctx;
    uint64_t next_id;
    size_t in_flight;
    s_conn *conns;
    s_call *buckets[BUCKETS];
};

/* ---- calls ---- */

static s_call **
s_slot(koop_client_t *c, uint64_t id)
{
    return &c->buckets[id & (BUCKETS - 1)];
}

/* Takes the call with id out of the table (NULL when none). */
static s_call *
s_take(koop_client_t *c, uint64_t id)
{
    for (s_call **p = s_slot(c, id); *p; p = &(*p)->hnext)
        if ((*p)->id == id) {
            s_call *call = *p;
            *p = call->hnext;
            call->hnext = NULL;
            c->in_flight--;
            return call;
        }
    return NULL;
}

static void
s_free_call(uv_handle_t *h)
{
    s_call *call = h->data;
    free(call->buf);
    free(call);
}

/* Removes a call from its endpoint's queue (if it waits there). */
static void
s_unqueue(s_call *call)
{
    s_conn *cn = call->conn;
    s_call *prev = NULL;
    for (s_call *q = cn->qhead; q; prev = q, q = q->qnext)
        if (q == call) {
            if (prev)
                prev->qnext = q->qnext;
            else
                cn->qhead = q->qnext;
            if (cn->qtail == q)
                cn->qtail = prev;
            q->qnext = NULL;
            return;
        }
}

/* Ends a call already taken out of the table: its callback (unless
 * cancelled: cb NULL), then its memory once the timer is closed. */
static void
s_end(s_call *call, const koop_reply_t *reply)
{
    koop_client_cb cb = call->cb;
    s_unqueue(call);
    uv_timer_stop(&call->timer);
    uv_close((uv_handle_t *)&call->timer, s_free_call);
    if (cb)
        cb(call->ctx, reply);
}

static void
s_on_timeout(uv_timer_t *t)
{
    s_call *call = t->data;
    koop_reply_t reply;
    char ms[24];
    if (!s_take(call->client, call->id))
        return;
    memset(&reply, 0, sizeof reply);
    koop_error_set(&reply.err, KOOP_ERR_CLIENT_TIMEOUT, NULL,
                   (const char *const[]){call->conn->endpoint, koop_num_str(ms, call->timeout_ms), NULL});
    reply.status = reply.err.status;
    s_end(call, &reply);
}

/* ---- replies ---- */

static void
s_on_readable(koop_zwatch_t *w)
{
    s_conn *cn = w->zw_data;
    koop_client_t *c = cn->client;
    while (cn->sock && cn->watch == w && koop_zwatch_readable(w)) {
        zmq_msg_t msg;
        koop_reply_t reply;
        uint64_t id = 0;
        s_call *call;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, cn->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        if (koop_rpc_unpack_reply(zmq_msg_data(&msg), zmq_msg_size(&msg), &id, &reply) == 0 &&
            (call = s_take(c, id)) != NULL)
            s_end(call, &reply);
        /* else: a late reply to a call that timed out, or bytes that are
         * not a reply: dropped */
        koop_reply_clear(&reply);
        zmq_msg_close(&msg);
    }
}

/* ---- endpoints ---- */

static void
s_free_watch(koop_zwatch_t *w)
{
    free(w);
}

static void
s_free_handle(uv_handle_t *h)
{
    free(h);
}

static void s_on_retry(uv_timer_t *t);

static s_conn *
s_conn_get(koop_client_t *c, const char *endpoint)
{
    s_conn *cn;
    int one = 1, hwm = 100000, e;
    for (cn = c->conns; cn; cn = cn->next)
        if (strcmp(cn->endpoint, endpoint) == 0)
            return cn;
    if (strlen(endpoint) >= ENDPOINT_MAX) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    cn = calloc(1, sizeof *cn);
    if (!cn)
        return NULL;
    cn->client = c;
    strcpy(cn->endpoint, endpoint);
    cn->retry = calloc(1, sizeof *cn->retry);
    cn->watch = calloc(1, sizeof *cn->watch);
    cn->sock = zmq_socket(c->zctx, ZMQ_DEALER);
    if (!cn->retry || !cn->watch || !cn->sock)
        goto fail;
    if (koop_rpc_sockopts(cn->sock) != 0 || zmq_setsockopt(cn->sock, ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
        zmq_setsockopt(cn->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(cn->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 || zmq_connect(cn->sock, endpoint) != 0)
        goto fail;
    if (koop_zwatch_start(c->loop, cn->watch, cn->sock, s_on_readable, cn) != 0) {
        cn->watch = NULL; /* a failed start may still be closing its handles: leaked, not freed */
        goto fail;
    }
    if (uv_timer_init(c->loop, cn->retry) != 0) {
        koop_zwatch_stop(cn->watch, s_free_watch);
        cn->watch = NULL;
        goto fail;
    }
    cn->retry->data = cn;
    cn->next = c->conns;
    c->conns = cn;
    return cn;
fail:
    e = errno ? errno : EIO;
    if (cn->sock)
        zmq_close(cn->sock);
    free(cn->retry);
    free(cn->watch);
    free(cn);
    errno = e;
    return NULL;
}

/* Tries to hand the queued requests to the connection, in order. */
static void
s_flush(s_conn *cn)
{
    while (cn->qhead) {
        s_call *call = cn->qhead;
        if (zmq_send(cn->sock, call->buf, call->len, ZMQ_DONTWAIT) < 0) {
            if (errno != EAGAIN) {
                /* not sendable at all: its timer will say so */
                cn->qhead = call->qnext;
                call->qnext = NULL;
                if (!cn->qhead)
                    cn->qtail = NULL;
                continue;
            }
            uv_timer_start(cn->retry, s_on_retry, QUEUE_RETRY_MS, 0);
            return;
        }
        cn->qhead = call->qnext;
        if (!cn->qhead)
            cn->qtail = NULL;
        call->qnext = NULL;
        free(call->buf);
        call->buf = NULL;
    }
}

static void
s_on_retry(uv_timer_t *t)
{
    s_flush(t->data);
}

/* ---- the client ---- */

koop_client_t *
koop_client_new(uv_loop_t *loop, void *zctx)
{
    koop_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    c->zctx = zctx;
    if (!zctx) {
        c->zctx = zmq_ctx_new();
        if (!c->zctx) {
            free(c);
            return NULL;
        }
        c->own_zctx = 1;
    }
    c->next_id = 1;
    return c;
}

void
koop_client_destroy(koop_client_t **self_p)
{
    koop_client_t *c;
    if (!self_p || !*self_p)
        return;
    c = *self_p;
    for (size_t b = 0; b < BUCKETS; b++)
        while (c->buckets[b]) {
            s_call *call = c->buckets[b];
            c->buckets[b] = call->hnext;
            call->cb = NULL;
            call->qnext = NULL;
            uv_timer_stop(&call->timer);
            uv_close((uv_handle_t *)&call->timer, s_free_call);
        }
    while (c->conns) {
        s_conn *cn = c->conns;
        c->conns = cn->next;
        koop_zwatch_stop(cn->watch, s_free_watch);
        uv_timer_stop(cn->retry);
        uv_close((uv_handle_t *)cn->retry, s_free_handle);
        zmq_close(cn->sock);
        free(cn);
    }
    if (c->own_zctx)
        zmq_ctx_term(c->zctx);
    free(c);
    *self_p = NULL;
}

int
koop_client_call(koop_client_t *c, const char *endpoint, const char *caller, const char *method,
                 const ProtobufCMessage *req, uint32_t timeout_ms, koop_client_cb cb, void *ctx,
                 uint64_t *call_id)
{
    s_conn *cn;
    s_call *call;
    int rc;

    if (!endpoint || !method || !cb)
        return -EINVAL;
    if (!(cn = s_conn_get(c, endpoint)))
        return -errno;
    call = calloc(1, sizeof *call);
    if (!call)
        return -ENOMEM;
    call->client = c;
    call->conn = cn;
    call->id = c->next_id++;
    call->cb = cb;
    call->ctx = ctx;
    call->timeout_ms = timeout_ms;
    rc = koop_rpc_pack_call(call->id, caller, method, req, koop_clock_real_ms() + timeout_ms, &call->buf,
                            &call->len);
    if (rc != 0) {
        free(call);
        return rc;
    }
    if ((rc = uv_timer_init(c->loop, &call->timer)) != 0) {
        free(call->buf);
        free(call);
        return rc;
    }
    call->timer.data = call;
    if (!cn->qhead && zmq_send(cn->sock, call->buf, call->len, ZMQ_DONTWAIT) >= 0) {
        free(call->buf);
        call->buf = NULL;
    } else if (!cn->qhead && errno != EAGAIN) {
        rc = -errno;
        uv_close((uv_handle_t *)&call->timer, s_free_call);
        return rc;
    } else {
        /* no live connection yet (or others wait before it): queue, in order */
        if (cn->qtail)
            cn->qtail->qnext = call;
        else
            cn->qhead = call;
        cn->qtail = call;
        if (!uv_is_active((uv_handle_t *)cn->retry))
            uv_timer_start(cn->retry, s_on_retry, QUEUE_RETRY_MS, 0);
    }
    uv_timer_start(&call->timer, s_on_timeout, timeout_ms, 0);
    call->hnext = *s_slot(c, call->id);
    *s_slot(c, call->id) = call;
    c->in_flight++;
    if (call_id)
        *call_id = call->id;
    return 0;
}

int
koop_client_cancel(koop_client_t *c, uint64_t call_id)
{
    s_call *call = s_take(c, call_id);
    if (!call)
        return -ENOENT;
    call->cb = NULL;
    s_end(call, NULL);
    return 0;
}

size_t
koop_client_in_flight(const koop_client_t *c)
{
    return c->in_flight;
}

/* ---- the blocking wrapper ---- */

typedef struct s_done s_done;
struct s_done {
    uint64_t id;
    koop_reply_t reply;
    s_done *next;
};

struct koop_rpc_client {
    uv_loop_t loop;
    koop_client_t *client;
    char endpoint[ENDPOINT_MAX];
    s_done *head, *tail;   /* replies not yet taken by koop_rpc_recv/call */
    uv_timer_t wait;
};

typedef struct {
    koop_rpc_client_t *rc;
    uint64_t id;
} s_pending;

static void
s_on_sync_reply(void *ctx, const koop_reply_t *reply)
{
    s_pending *p = ctx;
    s_done *d = calloc(1, sizeof *d);
    if (d) {
        d->id = p->id;
        d->reply = *reply; /* takes the payload: the caller of cb clears only its own copy */
        if (reply->len) {
            d->reply.payload = malloc(reply->len);
            if (d->reply.payload)
                memcpy(d->reply.payload, reply->payload, reply->len);
            else
                d->reply.len = 0;
        }
        if (p->rc->tail)
            p->rc->tail->next = d;
        else
            p->rc->head = d;
        p->rc->tail = d;
    }
    free(p);
}

koop_rpc_client_t *
koop_rpc_client_new(const char *endpoint)
{
    koop_rpc_client_t *self = calloc(1, sizeof *self);
    if (!self || !endpoint || strlen(endpoint) >= ENDPOINT_MAX)
        goto fail;
    strcpy(self->endpoint, endpoint);
    if (uv_loop_init(&self->loop) != 0)
        goto fail;
    if (uv_timer_init(&self->loop, &self->wait) != 0 || !(self->client = koop_client_new(&self->loop, NULL))) {
        uv_loop_close(&self->loop);
        goto fail;
    }
    return self;
fail:
    free(self);
    return NULL;
}

void
koop_rpc_client_destroy(koop_rpc_client_t **self_p)
{
    koop_rpc_client_t *self;
    if (!self_p || !*self_p)
        return;
    self = *self_p;
    /* the pending contexts of calls in flight are freed with them below */
    for (size_t b = 0; b < BUCKETS; b++)
        for (s_call *call = self->client->buckets[b]; call; call = call->hnext)
            free(call->ctx);
    koop_client_destroy(&self->client);
    uv_close((uv_handle_t *)&self->wait, NULL);
    uv_run(&self->loop, UV_RUN_DEFAULT);
    uv_loop_close(&self->loop);
    while (self->head) {
        s_done *d = self->head;
        self->head = d->next;
        koop_reply_clear(&d->reply);
        free(d);
    }
    free(self);
    *self_p = NULL;
}

int
koop_rpc_send(koop_rpc_client_t *self, const char *caller, const char *method, const ProtobufCMessage *req,
              uint64_t *request_id)
{
    s_pending *p = calloc(1, sizeof *p);
    int rc;
    if (!p)
        return -ENOMEM;
    p->rc = self;
    rc = koop_client_call(self->client, self->endpoint, caller, method, req, KOOP_RPC_PIPELINE_TIMEOUT_MS,
                          s_on_sync_reply, p, &p->id);
    if (rc != 0) {
        free(p);
        return rc;
    }
    if (request_id)
        *request_id = p->id;
    return 0;
}

static void
s_on_wait(uv_timer_t *t)
{
    (void)t;
}

/* Takes the first finished reply (id 0: any) into *reply. 1 when found. */
static int
s_take_done(koop_rpc_client_t *self, uint64_t want, uint64_t *id, koop_reply_t *reply)
{
    s_done *prev = NULL;
    for (s_done *d = self->head; d; prev = d, d = d->next) {
        if (want && d->id != want)
            continue;
        if (prev)
            prev->next = d->next;
        else
            self->head = d->next;
        if (self->tail == d)
            self->tail = prev;
        if (id)
            *id = d->id;
        *reply = d->reply;
        free(d);
        return 1;
    }
    return 0;
}

/* Runs the loop until a reply (want, or any when 0) is there or timeout_ms
 * passed. */
static int
s_wait_for(koop_rpc_client_t *self, uint64_t want, int timeout_ms, uint64_t *id, koop_reply_t *reply)
{
    uint64_t end = koop_clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    memset(reply, 0, sizeof *reply);
    for (;;) {
        uint64_t now;
        if (s_take_done(self, want, id, reply))
            return 0;
        now = koop_clock_mono_ms();
        if (now >= end)
            return -ETIMEDOUT;
        uv_timer_start(&self->wait, s_on_wait, end - now, 0);
        uv_run(&self->loop, UV_RUN_ONCE);
        uv_timer_stop(&self->wait);
    }
}

int
koop_rpc_recv(koop_rpc_client_t *self, int timeout_ms, uint64_t *request_id, koop_reply_t *reply)
{
    return s_wait_for(self, 0, timeout_ms, request_id, reply);
}

int
koop_rpc_call(koop_rpc_client_t *self, const char *caller, const char *method, const ProtobufCMessage *req,
              int timeout_ms, koop_reply_t *reply)
{
    s_pending *p = calloc(1, sizeof *p);
    int rc;
    memset(reply, 0, sizeof *reply);
    if (!p)
        return -ENOMEM;
    p->rc = self;
    rc = koop_client_call(self->client, self->endpoint, caller, method, req,
                          (uint32_t)(timeout_ms > 0 ? timeout_ms : 1), s_on_sync_reply, p, &p->id);
    if (rc != 0) {
        free(p);
        return rc;
    }
    {
        uint64_t want = p->id; /* p is freed by the callback */
        /* the call's own timer ends it; the margin only guards the loop */
        rc = s_wait_for(self, want, timeout_ms + 1000, NULL, reply);
        if (rc == 0 && reply->err.id == KOOP_ERR_CLIENT_TIMEOUT) {
            koop_reply_clear(reply);
            return -ETIMEDOUT;
        }
        return rc;
    }
}
