/*
 * service - the runtime every koop service runs on.
 *
 * A service is a table of methods over its own store and event log.
 * koop_service_main() loads the node config, opens the store in
 * DATA_DIR/<name>, binds a ROUTER at the service's endpoint, and serves on a
 * libuv loop until SIGTERM/SIGINT.
 *
 * Group commit. Each time the socket is readable the runtime drains up to
 * KOOP_SERVICE_BATCH requests. If any is a write, the whole batch runs in one
 * LMDB write transaction, then commits once (one fsync), and only then are
 * the replies sent. A refused request changes nothing: the writes first run
 * straight in the batch's transaction; if one of them fails, that attempt
 * is aborted whole and the batch runs again with each write in its own
 * nested transaction (committed into the batch when it succeeds, aborted
 * when it fails). So a handler must be safe to run again from scratch (as
 * for a map resize, store.h), and a batch with a refusal costs two runs. A batch that only reads
 * runs in one read transaction. A commit that fails turns every write reply
 * into an INTERNAL error: nothing is acknowledged that is not durable.
 *
 * Built-in methods: "sys.ping" (koop.Pong), "feed.stat" (koop.FeedFetch ->
 * koop.FeedStat: the log's last seqs and how many SHARED events follow
 * after_seq) and "feed.fetch" (koop.FeedFetch ->
 * koop.FeedBatch) with long-poll: a fetch with nothing to return and wait_ms
 * > 0 is parked and answered after the next commit that appends events, or
 * with an empty batch when wait_ms passes.
 *
 * Bad input never stops the service: an undecodable envelope or payload
 * gets a MALFORMED reply; a message that cannot be answered (wrong frame
 * count) is dropped and counted (koop.Pong does not report it yet; the log
 * does).
 */
#ifndef KOOP_SERVICE_H
#define KOOP_SERVICE_H

#include "config.h"
#include "koop.h"
#include "log.h"
#include "store.h"

#include <protobuf-c/protobuf-c.h>
#include <uv.h>

#define KOOP_SERVICE_BATCH 512

typedef struct koop_service koop_service_t;
typedef struct koop_call koop_call_t;

struct koop_call {
    koop_service_t *svc;
    const char *caller;           /* acting person id, "" when none */
    const char *method;
    MDB_txn *txn;                 /* the transaction the handler works in */
    const ProtobufCMessage *req;  /* unpacked request; NULL when the method takes none */
    /* outputs, set through koop_call_reply / koop_call_fail */
    int status;
    int mdb_rc;                   /* storage error met, for the runtime (map full -> retry) */
    char error[512];
    uint8_t *reply;
    size_t reply_len;
    int parked;                   /* feed.fetch waiting for events */
    void *user;                   /* the service's own per-call state (e.g. audit) */
};

typedef int (*koop_handler_fn)(koop_call_t *call);

#define KOOP_METHOD_WRITE 1u

typedef struct {
    const char *name;                          /* "institution.add" */
    const ProtobufCMessageDescriptor *request; /* NULL: no payload */
    koop_handler_fn fn;
    unsigned flags;
} koop_method_t;

typedef struct {
    const char *name;            /* service, stream and data sub-directory name */
    const char *const *tables;   /* NULL-terminated table names */
    const koop_method_t *methods;
    size_t nmethods;
    /* Optional hooks. start runs after the store, log and socket are ready;
     * a non-zero return stops the process. after_write runs for every write
     * call (success or not) inside the batch's transaction, after the call's
     * own nested transaction ended: what it writes commits with the batch
     * (the cases service writes its audit log here). */
    int (*start)(koop_service_t *svc);
    void (*stop)(koop_service_t *svc);
    int (*after_write)(koop_call_t *call, MDB_txn *batch_txn);
} koop_service_def_t;

/* Runs the service: parses `-c FILE`, serves until a stop signal. Returns the
 * process exit code. `user` is the service's own state (koop_service_user). */
int koop_service_main(const koop_service_def_t *def, int argc, char **argv, void *user);

koop_store_t *koop_service_store(koop_service_t *svc);
koop_log_t *koop_service_log(koop_service_t *svc);
const koop_config_t *koop_service_config(koop_service_t *svc);
uv_loop_t *koop_service_loop(koop_service_t *svc);
void *koop_service_zctx(koop_service_t *svc);
void *koop_service_user(koop_service_t *svc);
const char *koop_service_node(koop_service_t *svc);

/* Answers parked fetches after a commit that the service made itself
 * (outside a request batch) and that appended events. */
void koop_service_events_committed(koop_service_t *svc);

/* Sets the reply message (packed now; msg stays the caller's). Returns 0 or
 * fails the call as INTERNAL. */
int koop_call_reply(koop_call_t *call, const ProtobufCMessage *msg);
/* Fails the call with status and a Polish message; returns status. */
int koop_call_fail(koop_call_t *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fails the call because storage said rc; returns KOOP_INTERNAL. */
int koop_call_store_error(koop_call_t *call, int rc);
/* Appends an event with payload msg to the service's log in call->txn. */
int koop_call_emit(koop_call_t *call, const char *type, int scope, const ProtobufCMessage *msg);
/* As koop_call_emit with a payload that is already encoded (kept as these
 * bytes, e.g. another node's event envelope). */
int koop_call_emit_raw(koop_call_t *call, const char *type, int scope, const uint8_t *payload,
                       size_t len);

#endif
