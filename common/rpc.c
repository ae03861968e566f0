#include "rpc.h"
#include "envelope.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

int
koop_rpc_sockopts(void *sock)
{
    int64_t max = KOOP_MAX_MSG;
    int linger = 0;
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0)
        return -errno;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0)
        return -errno;
    return 0;
}

void *
koop_rpc_router_new(void *zctx, const char *endpoint)
{
    void *s = zmq_socket(zctx, ZMQ_ROUTER);
    int one = 1, e;
    if (!s)
        return NULL;
    /* a reply to a peer that went away fails loudly instead of vanishing */
    if (koop_rpc_sockopts(s) != 0 || zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0)
        goto fail;
    if (strncmp(endpoint, "ipc://", 6) == 0)
        unlink(endpoint + 6); /* a stale file from a killed process */
    if (zmq_bind(s, endpoint) != 0)
        goto fail;
    if (strncmp(endpoint, "ipc://", 6) == 0)
        chmod(endpoint + 6, 0600);
    return s;
fail:
    e = errno;
    zmq_close(s);
    errno = e;
    return NULL;
}

void *
koop_rpc_dealer_new(void *zctx, const char *endpoint)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int e;
    if (!s)
        return NULL;
    if (koop_rpc_sockopts(s) != 0 || zmq_connect(s, endpoint) != 0) {
        e = errno;
        zmq_close(s);
        errno = e;
        return NULL;
    }
    return s;
}

void
koop_reply_clear(koop_reply_t *reply)
{
    if (!reply)
        return;
    free(reply->error);
    free(reply->payload);
    memset(reply, 0, sizeof *reply);
}

int
koop_rpc_pack_request(uint64_t request_id, const char *caller, const char *method,
                      const ProtobufCMessage *req, uint8_t **out, size_t *len)
{
    Koop__Request env = KOOP__REQUEST__INIT;
    uint8_t *inner = NULL;
    size_t inner_len = 0;

    *out = NULL;
    if (req) {
        inner_len = protobuf_c_message_get_packed_size(req);
        if (inner_len > KOOP_MAX_MSG - 1024)
            return -E2BIG;
        inner = malloc(inner_len ? inner_len : 1);
        if (!inner)
            return -ENOMEM;
        protobuf_c_message_pack(req, inner);
    }
    env.has_request_id = 1;
    env.request_id = request_id;
    env.caller = (char *)(caller ? caller : "");
    env.method = (char *)method;
    env.has_payload = 1;
    env.payload.data = inner;
    env.payload.len = inner_len;
    *len = koop__request__get_packed_size(&env);
    *out = malloc(*len);
    if (!*out) {
        free(inner);
        return -ENOMEM;
    }
    koop__request__pack(&env, *out);
    free(inner);
    return 0;
}

int
koop_rpc_unpack_reply(const uint8_t *buf, size_t len, uint64_t *request_id, koop_reply_t *reply)
{
    Koop__Reply *r = koop__reply__unpack(NULL, len, buf);
    memset(reply, 0, sizeof *reply);
    if (!r)
        return -EBADMSG;
    *request_id = r->request_id;
    reply->status = r->has_status ? (int)r->status : KOOP_OK;
    if (r->error && *r->error)
        reply->error = strdup(r->error);
    if (r->has_payload && r->payload.len) {
        reply->payload = malloc(r->payload.len);
        if (reply->payload) {
            memcpy(reply->payload, r->payload.data, r->payload.len);
            reply->len = r->payload.len;
        }
    }
    koop__reply__free_unpacked(r, NULL);
    return 0;
}

struct koop_rpc_client {
    void *zctx;
    void *sock;
    uint64_t next_id;
};

koop_rpc_client_t *
koop_rpc_client_new(const char *endpoint)
{
    koop_rpc_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->zctx = zmq_ctx_new();
    if (!self->zctx)
        goto fail;
    self->sock = zmq_socket(self->zctx, ZMQ_DEALER);
    if (!self->sock)
        goto fail;
    {
        /* queue a request only on a live connection: a request handed to a
         * connection that is still being made to a restarting service could
         * otherwise vanish with it; zmq_send waits (up to SNDTIMEO) instead */
        int one = 1, sndtimeo = KOOP_RPC_SEND_TIMEOUT_MS;
        if (koop_rpc_sockopts(self->sock) != 0 ||
            zmq_setsockopt(self->sock, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo) != 0 ||
            zmq_setsockopt(self->sock, ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
            zmq_connect(self->sock, endpoint) != 0)
            goto fail;
    }
    self->next_id = 1;
    return self;
fail:
    koop_rpc_client_destroy(&self);
    return NULL;
}

void
koop_rpc_client_destroy(koop_rpc_client_t **self_p)
{
    koop_rpc_client_t *self;
    if (!self_p || !*self_p)
        return;
    self = *self_p;
    if (self->sock)
        zmq_close(self->sock);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    free(self);
    *self_p = NULL;
}

int
koop_rpc_send(koop_rpc_client_t *self, const char *caller, const char *method,
              const ProtobufCMessage *req, uint64_t *request_id)
{
    uint8_t *buf;
    size_t len;
    uint64_t id = self->next_id++;
    int rc = koop_rpc_pack_request(id, caller, method, req, &buf, &len);
    if (rc != 0)
        return rc;
    rc = zmq_send(self->sock, buf, len, 0) < 0 ? -errno : 0;
    free(buf);
    if (rc == 0 && request_id)
        *request_id = id;
    return rc;
}

int
koop_rpc_recv(koop_rpc_client_t *self, int timeout_ms, uint64_t *request_id, koop_reply_t *reply)
{
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    zmq_msg_t msg;
    int rc = zmq_poll(&item, 1, timeout_ms);
    if (rc < 0)
        return -errno;
    if (rc == 0)
        return -ETIMEDOUT;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, self->sock, 0) < 0) {
        rc = -errno;
        zmq_msg_close(&msg);
        return rc;
    }
    rc = koop_rpc_unpack_reply(zmq_msg_data(&msg), zmq_msg_size(&msg), request_id, reply);
    zmq_msg_close(&msg);
    return rc;
}

int
koop_rpc_call(koop_rpc_client_t *self, const char *caller, const char *method,
              const ProtobufCMessage *req, int timeout_ms, koop_reply_t *reply)
{
    uint64_t want, got;
    int64_t left = timeout_ms;
    int rc;
    memset(reply, 0, sizeof *reply);
    zmq_setsockopt(self->sock, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    rc = koop_rpc_send(self, caller, method, req, &want);
    if (rc == -EAGAIN)
        return -ETIMEDOUT; /* no connection within the timeout */
    if (rc != 0)
        return rc;
    while (left >= 0) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = koop_rpc_recv(self, (int)left, &got, reply);
        if (rc != 0)
            return rc;
        if (got == want)
            return 0;
        koop_reply_clear(reply); /* a late answer to an earlier call */
        clock_gettime(CLOCK_MONOTONIC, &t1);
        left -= (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    }
    return -ETIMEDOUT;
}
