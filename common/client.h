/*
 * client - asynchronous requests to koop services on a libuv loop, and the
 * blocking wrapper koopctl, tests and benchmarks use.
 *
 * One client per process (it shares the process's ZeroMQ context), one
 * DEALER per endpoint, any number of requests in flight on each. A request
 * carries its deadline (koop.Request.deadline_ms = now + timeout): a service
 * that takes it off its socket after that answers DEADLINE without running
 * it, so a request nobody waits for any more never changes anything.
 *
 *   call ──> QUEUED (no live connection yet: retried every few ms)
 *        ──> SENT ──reply with our request id──> cb(reply)
 *                 ──timeout──> cb(status KOOP_UNAVAILABLE, code cli.no_answer)
 *   a reply that comes after its timeout (or was cancelled) is dropped.
 *
 * libuv's rule: a function that returns an error never calls its callback;
 * one that returns 0 calls it exactly once (unless the call is cancelled or
 * the client destroyed first). The callback may start new calls.
 */
#ifndef KOOP_CLIENT_H
#define KOOP_CLIENT_H

#include "errors.h"
#include "koop.h"
#include "rpc.h"

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <uv.h>

typedef struct koop_client koop_client_t;

/* reply is valid during the call only (copy what you keep). */
typedef void (*koop_client_cb)(void *ctx, const koop_reply_t *reply);

/* A client on loop. zctx: the process's ZeroMQ context (NULL: the client
 * makes and owns one). NULL and errno on failure. */
koop_client_t *koop_client_new(uv_loop_t *loop, void *zctx);
/* Closes every connection; callbacks of calls in flight are not called.
 * The loop must run once more to close the handles. Accepts NULL. */
void koop_client_destroy(koop_client_t **self_p);

/* Sends method(req) as caller (NULL: none) to endpoint; cb(ctx, reply) runs
 * once, with the reply or after timeout_ms. req may be NULL (empty
 * payload). On success *call_id (may be NULL) names the call for
 * koop_client_cancel. Returns 0, or -errno and cb is never called. */
int koop_client_call(koop_client_t *self, const char *endpoint, const char *caller, const char *method,
                     const ProtobufCMessage *req, uint32_t timeout_ms, koop_client_cb cb, void *ctx,
                     uint64_t *call_id);
/* Forgets a call in flight: its callback is not called. 0 or -ENOENT. */
int koop_client_cancel(koop_client_t *self, uint64_t call_id);
/* Calls in flight (all endpoints). */
size_t koop_client_in_flight(const koop_client_t *self);

/* ---- the blocking wrapper ---- */

typedef struct koop_rpc_client koop_rpc_client_t;

/* A blocking client of one service: a private loop and client. */
koop_rpc_client_t *koop_rpc_client_new(const char *endpoint);
void koop_rpc_client_destroy(koop_rpc_client_t **self_p);

/* One request, waiting up to timeout_ms for its reply. Returns 0 when a
 * reply arrived (reply->status tells the outcome; caller clears it),
 * -ETIMEDOUT when none came, or another -errno. */
int koop_rpc_call(koop_rpc_client_t *self, const char *caller, const char *method,
                  const ProtobufCMessage *req, int timeout_ms, koop_reply_t *reply);

/* Pipelined load (benchmarks, tests): koop_rpc_send queues a request (with
 * a deadline KOOP_RPC_PIPELINE_TIMEOUT_MS away) and returns its id;
 * koop_rpc_recv waits up to timeout_ms for the next reply (in any order) and
 * says whose it is. */
#define KOOP_RPC_PIPELINE_TIMEOUT_MS 60000
int koop_rpc_send(koop_rpc_client_t *self, const char *caller, const char *method,
                  const ProtobufCMessage *req, uint64_t *request_id);
int koop_rpc_recv(koop_rpc_client_t *self, int timeout_ms, uint64_t *request_id, koop_reply_t *reply);

#endif
