/*
 * local.c - one asynchronous request at a time to one of the node's own
 * services, on the loop (the uplink's feed readers and its registry calls).
 *
 *   IDLE --call--> WAITING --reply with our request id--> IDLE (cb)
 *                  WAITING --timeout--> IDLE (cb with -ETIMEDOUT; the socket is
 *                                       dropped, so a late reply is never taken
 *                                       for the next request's)
 */
#include "sync.h"
#include "loop.h"
#include "rpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct sync_local {
    uv_loop_t *loop;
    void *zctx;
    char endpoint[KOOP_CONF_STR];
    void *sock;
    koop_zwatch_t *watch;   /* freed when its handles closed */
    uv_timer_t *timer;      /* freed on close */
    uint64_t request_id;
    int busy;
    sync_local_cb cb;
    void *ctx;
};

static void s_on_readable(koop_zwatch_t *w);

static void
s_free_watch(koop_zwatch_t *w)
{
    free(w);
}

static void
s_disconnect(sync_local_t *self)
{
    if (self->watch) {
        koop_zwatch_stop(self->watch, s_free_watch);
        self->watch = NULL;
    }
    if (self->sock) {
        zmq_close(self->sock);
        self->sock = NULL;
    }
}

static int
s_connect(sync_local_t *self)
{
    self->sock = koop_rpc_dealer_new(self->zctx, self->endpoint);
    if (!self->sock)
        return -errno;
    self->watch = calloc(1, sizeof *self->watch);
    if (!self->watch || koop_zwatch_start(self->loop, self->watch, self->sock, s_on_readable, self) != 0) {
        /* a failed start may still be closing its handles: leaked, not freed */
        self->watch = NULL;
        zmq_close(self->sock);
        self->sock = NULL;
        return -EIO;
    }
    return 0;
}

/* Ends the request in flight and calls back (the callback may call again). */
static void
s_finish(sync_local_t *self, int status, const char *error, const uint8_t *payload, size_t len)
{
    sync_local_cb cb = self->cb;
    void *ctx = self->ctx;
    self->busy = 0;
    self->cb = NULL;
    uv_timer_stop(self->timer);
    if (cb)
        cb(ctx, status, error, payload, len);
}

static void
s_on_timeout(uv_timer_t *t)
{
    sync_local_t *self = t->data;
    if (!self->busy)
        return;
    s_disconnect(self);
    s_finish(self, -ETIMEDOUT, "brak odpowiedzi usługi", NULL, 0);
}

static void
s_on_readable(koop_zwatch_t *w)
{
    sync_local_t *self = w->zw_data;
    while (self->sock && self->watch == w && koop_zwatch_readable(w)) {
        zmq_msg_t msg;
        koop_reply_t reply;
        uint64_t id;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        if (koop_rpc_unpack_reply(zmq_msg_data(&msg), zmq_msg_size(&msg), &id, &reply) == 0 &&
            self->busy && id == self->request_id) {
            zmq_msg_close(&msg);
            s_finish(self, reply.status, reply.error, reply.payload, reply.len);
            koop_reply_clear(&reply);
            continue;
        }
        koop_reply_clear(&reply); /* a late or foreign reply */
        zmq_msg_close(&msg);
    }
}

sync_local_t *
sync_local_new(uv_loop_t *loop, void *zctx, const char *endpoint)
{
    sync_local_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->timer = calloc(1, sizeof *self->timer);
    if (!self->timer || strlen(endpoint) >= sizeof self->endpoint) {
        free(self->timer);
        free(self);
        return NULL;
    }
    self->loop = loop;
    self->zctx = zctx;
    strcpy(self->endpoint, endpoint);
    uv_timer_init(loop, self->timer);
    self->timer->data = self;
    return self;
}

static void
s_free_timer(uv_handle_t *h)
{
    free(h);
}

void
sync_local_destroy(sync_local_t **self_p)
{
    sync_local_t *self;
    if (!self_p || !*self_p)
        return;
    self = *self_p;
    s_disconnect(self);
    uv_timer_stop(self->timer);
    uv_close((uv_handle_t *)self->timer, s_free_timer);
    free(self);
    *self_p = NULL;
}

int
sync_local_busy(const sync_local_t *self)
{
    return self->busy;
}

int
sync_local_call(sync_local_t *self, const char *method, const ProtobufCMessage *req, uint32_t timeout_ms,
                sync_local_cb cb, void *ctx)
{
    uint8_t *buf;
    size_t len;
    int rc;

    if (self->busy)
        return -EBUSY;
    if (!self->sock && (rc = s_connect(self)) != 0)
        return rc;
    if ((rc = koop_rpc_pack_request(++self->request_id, NULL, method, req, &buf, &len)) != 0)
        return rc;
    if (zmq_send(self->sock, buf, len, ZMQ_DONTWAIT) < 0) {
        rc = -errno;
        free(buf);
        s_disconnect(self); /* start afresh next time */
        return rc;
    }
    free(buf);
    self->busy = 1;
    self->cb = cb;
    self->ctx = ctx;
    uv_timer_start(self->timer, s_on_timeout, timeout_ms, 0);
    return 0;
}
