#include "rpc.h"
#include "envelope.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    free(reply->payload);
    memset(reply, 0, sizeof *reply);
}

int
koop_rpc_pack_call(uint64_t request_id, const char *caller, const char *method, const ProtobufCMessage *req,
                   uint64_t deadline_ms, uint8_t **out, size_t *len)
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
    if (deadline_ms) {
        env.has_deadline_ms = 1;
        env.deadline_ms = deadline_ms;
    }
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
koop_rpc_pack_request(uint64_t request_id, const char *caller, const char *method,
                      const ProtobufCMessage *req, uint8_t **out, size_t *len)
{
    return koop_rpc_pack_call(request_id, caller, method, req, 0, out, len);
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
    if (reply->status != KOOP_OK) {
        if (r->code && *r->code)
            koop_error_set_code(&reply->err, r->code, reply->status, r->field, (const char *const *)r->args,
                                r->n_args);
        else /* a peer without codes: keep its words */
            koop_error_set_code(&reply->err, "legacy", reply->status, r->field,
                                (const char *const[]){r->error ? r->error : ""}, 1);
    }
    if (r->has_payload && r->payload.len) {
        reply->payload = malloc(r->payload.len);
        if (!reply->payload) {
            koop__reply__free_unpacked(r, NULL);
            return -ENOMEM;
        }
        memcpy(reply->payload, r->payload.data, r->payload.len);
        reply->len = r->payload.len;
    }
    koop__reply__free_unpacked(r, NULL);
    return 0;
}
