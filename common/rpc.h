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

#include "koop.h"
#include <protobuf-c/protobuf-c.h>

/* Sets the options every koop socket has. Returns 0 or -errno. */
int koop_rpc_sockopts(void *sock);

/* A ROUTER bound to endpoint (an ipc:// file is made mode 0600). NULL and
 * errno on failure. */
void *koop_rpc_router_new(void *zctx, const char *endpoint);
/* A DEALER connected to endpoint. NULL and errno on failure. */
void *koop_rpc_dealer_new(void *zctx, const char *endpoint);

typedef struct {
    int status;     /* KOOP_OK or an error status */
    char *error;    /* Polish message, or NULL; owned */
    uint8_t *payload; /* owned; may be NULL when len == 0 */
    size_t len;
} koop_reply_t;

void koop_reply_clear(koop_reply_t *reply);

/* Packs a request envelope. Caller frees *out. Returns 0 or -ENOMEM/-E2BIG. */
int koop_rpc_pack_request(uint64_t request_id, const char *caller, const char *method,
                          const ProtobufCMessage *req, uint8_t **out, size_t *len);

/* Unpacks a reply envelope into *reply. Returns 0 or -EBADMSG. */
int koop_rpc_unpack_reply(const uint8_t *buf, size_t len, uint64_t *request_id,
                          koop_reply_t *reply);

typedef struct koop_rpc_client koop_rpc_client_t;

/* A client queues a request only on a live connection (ZMQ_IMMEDIATE): a
 * send waits for one up to this long (koop_rpc_call: up to its timeout). */
#define KOOP_RPC_SEND_TIMEOUT_MS 15000

/* A blocking client of one service (for koopctl, tests, benchmarks). */
koop_rpc_client_t *koop_rpc_client_new(const char *endpoint);
void koop_rpc_client_destroy(koop_rpc_client_t **self_p);

/* Sends one request and waits up to timeout_ms for its reply. Returns 0 when
 * the reply arrived (reply->status tells the outcome), -ETIMEDOUT when none
 * came, or another -errno. req may be NULL (empty payload). */
int koop_rpc_call(koop_rpc_client_t *self, const char *caller, const char *method,
                  const ProtobufCMessage *req, int timeout_ms, koop_reply_t *reply);

/* Sends without waiting for the reply and receives separately: for pipelined
 * load (bench). koop_rpc_send returns -EAGAIN when no connection came within
 * KOOP_RPC_SEND_TIMEOUT_MS. */
int koop_rpc_send(koop_rpc_client_t *self, const char *caller, const char *method,
                  const ProtobufCMessage *req, uint64_t *request_id);
int koop_rpc_recv(koop_rpc_client_t *self, int timeout_ms, uint64_t *request_id,
                  koop_reply_t *reply);

#endif
