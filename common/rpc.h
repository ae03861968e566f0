/*
 * rpc - request/reply between koop processes over ZeroMQ.
 *
 * Wire: a DEALER client sends one frame, a packed koop.Request; the
 * service's ROUTER sees [peer identity][request] and answers
 * [peer identity][packed koop.Reply] with the same request_id. Every socket
 * has ZMQ_MAXMSGSIZE = KOOP_MAX_MSG (a peer sending more is disconnected by
 * ZeroMQ) and linger 0. Replies are matched by request_id, so a late reply to
 * an earlier timed-out call is dropped, never mistaken for the current one.
 */
#ifndef KOOP_RPC_H
#define KOOP_RPC_H

#include "errors.h"
#include "koop.h"
#include <protobuf-c/protobuf-c.h>

/* Sets the options every koop socket has. Returns 0 or -errno. */
int koop_rpc_sockopts(void *sock);

/* A ROUTER bound to endpoint (an ipc:// file is made mode 0600). NULL and
 * errno on failure. */
void *koop_rpc_router_new(void *zctx, const char *endpoint);
/* A DEALER connected to endpoint. NULL and errno on failure. */
void *koop_rpc_dealer_new(void *zctx, const char *endpoint);

/* A reply: status, and when not OK the error (code, field, arguments); the
 * payload is the method's reply message (unpack it with its descriptor). */
typedef struct {
    int status;
    koop_error_t err;
    uint8_t *payload;   /* owned; NULL when len == 0 */
    size_t len;
} koop_reply_t;

void koop_reply_clear(koop_reply_t *reply);

/* Packs a request envelope with a deadline (unix ms, 0: none) after which
 * the service answers DEADLINE instead of running it. Caller frees *out.
 * Returns 0 or -ENOMEM/-E2BIG. */
int koop_rpc_pack_call(uint64_t request_id, const char *caller, const char *method, const ProtobufCMessage *req,
                       uint64_t deadline_ms, uint8_t **out, size_t *len);
/* koop_rpc_pack_call without a deadline (tests that speak the wire). */
int koop_rpc_pack_request(uint64_t request_id, const char *caller, const char *method,
                          const ProtobufCMessage *req, uint8_t **out, size_t *len);

/* Unpacks a reply envelope into *reply (payload copied; an error's code,
 * field and arguments into reply->err). Returns 0 or -EBADMSG/-ENOMEM. */
int koop_rpc_unpack_reply(const uint8_t *buf, size_t len, uint64_t *request_id,
                          koop_reply_t *reply);

/* The clients (asynchronous, and the blocking wrapper): client.h. */

#endif
