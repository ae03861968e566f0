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
 * Built-in methods: "sys.ping" (koop.Pong), "sys.stats" (koop.ServiceStats:
 * store sizes and counters, for monitoring), "sys.backup" (a compacting copy
 * of the store made in a worker thread while the service keeps serving,
 * answered when it is on disk; backup.h), "events.verify" and
 * "feed.digest" (verify.h), "feed.stat" (koop.FeedFetch ->
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
#include "errors.h"
#include "koop.h"
#include "log.h"
#include "names.h"
#include "store.h"
#include "verify.h"

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
    /* outputs, set through koop_call_reply / koop_fail */
    int status;
    int mdb_rc;                   /* storage error met, for the runtime (map full -> retry) */
    koop_error_t err;             /* why, when status is not KOOP_OK */
    uint8_t *reply;
    size_t reply_len;
    int parked;                   /* feed.fetch waiting for events */
    int held;                     /* sys.backup: the runtime answers when the copy is made */
    int final;                    /* a deferred call run for the last time: may not defer */
    uint64_t defer_tag;           /* set by koop_call_defer */
    uint64_t received_ms;         /* mono ms the request was taken off the socket */
    uint64_t defer_until;         /* mono ms by which a deferred call runs for the last time */
    void *user;                   /* the service's own per-call state (e.g. audit) */
};

/* A handler's status meaning "put aside" (koop_call_defer); never sent. */
#define KOOP_DEFERRED 64
/* How long a deferred call may wait at most before it runs for the last time. */
#define KOOP_DEFER_MAX_MS 2000

typedef int (*koop_handler_fn)(koop_call_t *call);

/* A method the service serves: its row of common/api.def (request and
 * reply types, flags) and its handler. A service builds its table from its
 * rows of api.def, so nothing here is written twice:
 *
 *     static const koop_method_t s_methods[] = {
 *     #define KOOP_API_registry(fn, name, ...) {name, fn},
 *     #include "api_rows.h"
 *     #undef KOOP_API_registry
 *     };
 */
typedef struct {
    const char *name;                          /* "institution.add" */
    koop_handler_fn fn;
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
    /* before_call runs before every handler (also when a batch runs again
     * after the map grew): the service resets its per-call state there. */
    void (*before_call)(koop_call_t *call);
    int (*after_write)(koop_call_t *call, MDB_txn *batch_txn);
    /* Optional: the state tables events.verify checks against the log
     * (verify.h); NULL: the chains only. */
    const koop_verify_def_t *verify;
    /* names fills the name fields (names.h) of each reply that has them,
     * in koop_call_reply, in the call's transaction; its ctx is the call. */
    koop_names_fn names;
    /* feed_local decides whether call->caller (a person) may read the LOCAL
     * events of this service's log with feed.fetch (KOOP_OK, or fails the
     * call with an access.* code). Such a fetch runs as a write, so that
     * after_write records it. Without the hook a person never may; the
     * node's own services (no person, over the ipc socket) always may. */
    int (*feed_local)(koop_call_t *call);
} koop_service_def_t;

/* Runs the service: parses `-c FILE` (or prints --version), checks what
 * preflight.h lists, serves until a stop signal. Returns the process exit
 * code (KOOP_EXIT_REFUSED when a start-up check refused). `user` is the
 * service's own state (koop_service_user). */
int koop_service_main(const koop_service_def_t *def, int argc, char **argv, void *user);

koop_store_t *koop_service_store(koop_service_t *svc);
koop_log_t *koop_service_log(koop_service_t *svc);
const koop_config_t *koop_service_config(koop_service_t *svc);
uv_loop_t *koop_service_loop(koop_service_t *svc);
void *koop_service_zctx(koop_service_t *svc);
/* The process's client for requests to other services (client.h). */
struct koop_client *koop_service_client(koop_service_t *svc);
void *koop_service_user(koop_service_t *svc);
const char *koop_service_node(koop_service_t *svc);
const koop_service_def_t *koop_service_def(koop_service_t *svc);
/* Counts n events that came from outside the service (a feed, a hub, a
 * peer) and were refused: undecodable, of the wrong stream, or changing a
 * record their node does not own. sys.ping reports the count since start
 * (koop.Pong.events_refused: koopctl status, the gateway's /metrics).
 * Accepts NULL (a consumer driven without a service: nothing counted). */
void koop_service_note_refused(koop_service_t *svc, uint64_t n);
uint64_t koop_service_refused(const koop_service_t *svc);

/* Deferring a call: a handler that needs something another service is
 * about to deliver (a registry record its copy has not applied yet, the
 * positions of the node's streams) never waits for it: it starts what will
 * bring it, and puts the call aside:
 *
 *     if (koop_call_defer(call, tag) == KOOP_DEFERRED)
 *         return KOOP_DEFERRED;
 *     ... decide now (the call cannot be deferred again) ...
 *
 * Nothing the handler wrote is kept (its nested transaction is aborted, no
 * after_write runs). koop_service_retry_deferred(svc, final_tag) runs every
 * deferred call again (from the loop, in a batch of its own); those with
 * tag <= final_tag run for the last time (call->final), as does every call
 * deferred for KOOP_DEFER_MAX_MS or near its deadline. Returns KOOP_DEFERRED
 * when the call was put aside, 0 when it cannot be (final run, too many
 * deferred calls): then the handler decides now. */
int koop_call_defer(koop_call_t *call, uint64_t tag);
void koop_service_retry_deferred(koop_service_t *svc, uint64_t final_tag);

/* In-process use, for tests and fuzzing: the service's store and log in
 * cfg->data_dir/<name>, a loop and a ZeroMQ context (for what a test sets
 * up itself), no socket, no start hook. koop_service_local_call runs one
 * packed koop.Request through the same decoding, dispatch and batch commit
 * as a request from the socket and returns the packed koop.Reply (caller
 * frees); a feed.fetch that would wait is answered at once. 0 or -errno. */
koop_service_t *koop_service_local_new(const koop_service_def_t *def, const koop_config_t *cfg, void *user);
int koop_service_local_call(koop_service_t *svc, const uint8_t *req, size_t len, uint8_t **reply,
                            size_t *reply_len);
void koop_service_local_destroy(koop_service_t **svc_p);

/* Answers parked fetches after a commit that the service made itself
 * (outside a request batch) and that appended events. */
void koop_service_events_committed(koop_service_t *svc);

/* Sets the reply message (packed now; msg stays the caller's), with the
 * name fields filled by the service's names hook (names.h) when its type has
 * any. Returns 0 or fails the call as INTERNAL. */
int koop_call_reply(koop_call_t *call, const ProtobufCMessage *msg);
/* Fails the call with an error of the catalogue (errors.def): its status,
 * the request field it is about (NULL: none) and the message's arguments
 * (NULL-terminated, may be NULL). Returns the code's status. Use the macro:
 *     return koop_fail(call, FIELD_REQUIRED, "name");
 *     return koop_fail(call, DATE_ORDER, "date", date, "opened", ipw->opened);
 * Numbers as arguments: KOOP_NUM(n). */
int koop_call_error(koop_call_t *call, koop_err_t id, const char *field, const char *const *args);
#define koop_fail(call, ID, field, ...)                                                            \
    koop_call_error((call), KOOP_ERR_##ID, (field), (const char *const[]){__VA_ARGS__ __VA_OPT__(, ) NULL})
/* Fails the call with an error already filled (by code that works without
 * a call, e.g. koop_error_fill in a module the handler uses). Returns its
 * status. */
int koop_call_fail_error(koop_call_t *call, const koop_error_t *e);
/* Fails the call because storage said rc (a library code, koop.h);
 * returns KOOP_INTERNAL. */
int koop_call_store_error(koop_call_t *call, int rc);
/* Appends an event with payload msg to the service's log in call->txn. */
int koop_call_emit(koop_call_t *call, const char *type, int scope, const ProtobufCMessage *msg);
/* As koop_call_emit with a payload that is already encoded (kept as these
 * bytes, e.g. another node's event envelope). */
int koop_call_emit_raw(koop_call_t *call, const char *type, int scope, const uint8_t *payload,
                       size_t len);

#endif
