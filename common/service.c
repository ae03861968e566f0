/*
 * service.c - request batches, group commit, long-poll feed.
 *
 * Life of a batch (see service.h):
 *   readable -> s_collect (decode, look up method, unpack payload)
 *            -> s_execute (one write txn with nested txns per write, or one read txn)
 *            -> replies sent after commit; parked fetches kept in s->parked
 *   commit appended events -> s_wake_parked answers the fetches that now have events
 *   timer (50 ms)          -> expired parked fetches get an empty batch
 *   a handler defers       -> the entry waits in s->deferred (nothing written)
 *   koop_service_retry_deferred / timer (expiry) -> run again as a batch of their own
 *   sys.backup       -> checked in the batch, then the copy runs in a worker
 *                       thread (uv_queue_work; one at a time, the map kept
 *                       still meanwhile) and is answered when it is on disk
 */
#include "service.h"
#include "api.h"
#include "backup.h"
#include "client.h"
#include "clock.h"
#include "loop.h"
#include "preflight.h"
#include "rpc.h"
#include "say.h"
#include "text.h"
#include "version.h"
#include "envelope.pb-c.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define PARKED_MAX 256
#define DEFERRED_MAX 256
#define FEED_MAX_EVENTS 10000
#define FEED_MAX_BYTES (KOOP_MAX_MSG / 2)

typedef struct {
    zmq_msg_t identity;
    uint64_t request_id;
    const koop_method_t *method;
    const koop_api_method_t *api; /* the method's row of api.def */
    Koop__Request *env;          /* owned */
    ProtobufCMessage *req;       /* owned, may be NULL */
    koop_call_t call;
    int writes;                  /* runs in the write transaction (see s_entry_writes) */
    int decode_status;           /* non-OK: answered without running */
    koop_error_t decode_err;
} s_entry;

typedef struct {
    zmq_msg_t identity;
    uint64_t request_id;
    char stream[64];
    uint64_t after_seq;
    uint32_t max;
    int shared_only;
    uint64_t deadline_ms;
} s_parked;

/* The copy of the store in the making (sys.backup). */
typedef struct {
    uv_work_t work;
    int running;
    zmq_msg_t identity;          /* whom to answer */
    uint64_t request_id;
    char dir[PATH_MAX];          /* DIR/<service> */
    uint64_t started_mono;
    int rc;                      /* of the copy */
    koop_backup_info_t info;
    uint64_t done;               /* copies made since start */
    uint64_t last_ms;            /* when the last one ended */
} s_backup_t;

struct koop_service {
    const koop_service_def_t *def;
    koop_config_t cfg;
    koop_store_t *store;
    koop_log_t *log;
    void *zctx;
    koop_client_t *client; /* the process's requests to other services */
    void *router;
    uv_loop_t loop;
    koop_zwatch_t watch;
    uv_timer_t parked_timer;
    koop_signals_t signals;
    void *user;
    int stopping;
    int private_endpoint;  /* listening on an ipc:// socket in the node's runtime dir */
    int events_appended;   /* set by koop_call_emit during a batch */
    int nested_writes;     /* this run of a batch gives each write a nested txn */
    s_entry *batch;        /* KOOP_SERVICE_BATCH entries */
    size_t nbatch;
    s_entry *deferred;     /* DEFERRED_MAX entries put aside by koop_call_defer */
    uint64_t *deferred_until; /* mono ms when each must run for the last time */
    size_t ndeferred;
    size_t defers_this_batch;
    s_parked parked[PARKED_MAX];
    size_t nparked;
    uint64_t dropped;      /* messages that could not be answered */
    uint64_t expired;      /* requests answered DEADLINE without running */
    uint64_t refused_events; /* events from outside this service refused (koop_service_note_refused) */
    uint64_t answered;     /* replies sent */
    uint64_t refused;      /* of them, with a status other than OK */
    uint64_t write_batches;   /* write transactions of request batches committed */
    uint64_t commit_failures; /* ... whose commit failed */
    uint64_t started_ms;
    s_backup_t backup;
    const koop_api_method_t **apis; /* api.def row of each def->methods[i] */
    int loop_ready;
    uint8_t *local_reply;  /* in-process use (no router): the last reply, packed */
    size_t local_reply_len;
};

static const koop_method_t s_builtin[];
static const koop_api_method_t *s_builtin_api[];
static void s_execute(koop_service_t *s);
static void s_retry_deferred(koop_service_t *s, uint64_t final_tag, int expire_only);

/* ---- call helpers ---- */

static int
s_reply_packed(koop_call_t *call, const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    free(call->reply);
    call->reply = NULL;
    call->reply_len = 0;
    if (len > KOOP_MAX_MSG - 1024)
        return koop_fail(call, REPLY_TOO_LARGE, NULL, KOOP_NUM(len));
    call->reply = malloc(len ? len : 1);
    if (!call->reply)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    protobuf_c_message_pack(msg, call->reply);
    call->reply_len = len;
    return KOOP_OK;
}

int
koop_call_reply(koop_call_t *call, const ProtobufCMessage *msg)
{
    koop_names_undo_t *undo = NULL;
    int rc;
    if (!call->svc->def->names || !koop_names_wanted(msg->descriptor))
        return s_reply_packed(call, msg);
    /* the names are set in the caller's message while it is packed, then
     * taken out again: it is as the caller made it when this returns */
    if (koop_names_fill_in_place((ProtobufCMessage *)msg, call->svc->def->names, call, &undo) != 0) {
        koop_names_undo(&undo); /* no memory: the reply goes without names */
        return s_reply_packed(call, msg);
    }
    rc = s_reply_packed(call, msg);
    koop_names_undo(&undo);
    return rc;
}

int
koop_call_error(koop_call_t *call, koop_err_t id, const char *field, const char *const *args)
{
    koop_error_set(&call->err, id, field, args);
    call->status = call->err.status;
    return call->status;
}

int
koop_call_fail_error(koop_call_t *call, const koop_error_t *e)
{
    if (e->status == KOOP_OK) /* nothing said why: a programming error, never a success */
        return koop_call_error(call, KOOP_ERR_UNKNOWN_CODE, NULL, NULL);
    call->err = *e;
    call->status = e->status;
    return call->status;
}

int
koop_call_store_error(koop_call_t *call, int rc)
{
    call->mdb_rc = rc;
    koop_error("%s: storage error: %s", call->method, koop_strerror(rc));
    if (rc == ENOSPC || rc == -ENOSPC)
        return koop_fail(call, INTERNAL_DISK_FULL, NULL);
    return koop_fail(call, INTERNAL_STORAGE, NULL, koop_strerror(rc));
}

int
koop_call_emit(koop_call_t *call, const char *type, int scope, const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t stackbuf[4096], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    int rc;
    if (!buf)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    protobuf_c_message_pack(msg, buf);
    rc = koop_log_append(call->svc->log, call->txn, type, scope, call->caller, buf, len, NULL);
    if (buf != stackbuf)
        free(buf);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    call->svc->events_appended = 1;
    return KOOP_OK;
}

int
koop_call_emit_raw(koop_call_t *call, const char *type, int scope, const uint8_t *payload, size_t len)
{
    int rc = koop_log_append(call->svc->log, call->txn, type, scope, call->caller, payload, len, NULL);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    call->svc->events_appended = 1;
    return KOOP_OK;
}

int
koop_call_defer(koop_call_t *call, uint64_t tag)
{
    koop_service_t *s = call->svc;
    if (call->final || s->ndeferred + s->defers_this_batch >= DEFERRED_MAX)
        return 0;
    s->defers_this_batch++;
    call->defer_tag = tag;
    call->status = KOOP_DEFERRED;
    return KOOP_DEFERRED;
}

/* ---- accessors ---- */

koop_store_t *koop_service_store(koop_service_t *svc) { return svc->store; }
koop_log_t *koop_service_log(koop_service_t *svc) { return svc->log; }
const koop_config_t *koop_service_config(koop_service_t *svc) { return &svc->cfg; }
uv_loop_t *koop_service_loop(koop_service_t *svc) { return &svc->loop; }
void *koop_service_zctx(koop_service_t *svc) { return svc->zctx; }
koop_client_t *koop_service_client(koop_service_t *svc) { return svc->client; }
void *koop_service_user(koop_service_t *svc) { return svc->user; }
const char *koop_service_node(koop_service_t *svc) { return svc->cfg.node_id; }
const koop_service_def_t *koop_service_def(koop_service_t *svc) { return svc->def; }

void
koop_service_note_refused(koop_service_t *svc, uint64_t n)
{
    if (svc)
        svc->refused_events += n;
}

uint64_t
koop_service_refused(const koop_service_t *svc)
{
    return svc ? svc->refused_events : 0;
}

/* ---- replies ---- */

/* Sends a reply: the payload when status is OK, else err (code, field,
 * arguments and the Polish message, for logs). */
static void
s_send_reply(koop_service_t *s, zmq_msg_t *identity, uint64_t request_id, int status,
             const koop_error_t *err, const uint8_t *payload, size_t len)
{
    Koop__Reply r = KOOP__REPLY__INIT;
    uint8_t stackbuf[8192], *buf;
    char message[512];
    char *args[KOOP_ERR_MAX_ARGS];
    size_t plen;
    zmq_msg_t id;

    r.has_request_id = 1;
    r.request_id = request_id;
    r.has_status = 1;
    r.status = (Koop__Status)status;
    if (status != KOOP_OK && err && err->code[0]) {
        koop_error_render(err, KOOP_LANG_PL, NULL, message, sizeof message);
        r.error = message;
        r.code = (char *)err->code;
        r.field = err->field[0] ? (char *)err->field : NULL;
        for (size_t i = 0; i < err->nargs; i++)
            args[i] = (char *)err->args[i];
        r.args = args;
        r.n_args = err->nargs;
    }
    if (len) {
        r.has_payload = 1;
        r.payload.data = (uint8_t *)payload;
        r.payload.len = len;
    }
    plen = koop__reply__get_packed_size(&r);
    buf = plen <= sizeof stackbuf ? stackbuf : malloc(plen);
    if (!buf) {
        s->dropped++;
        return;
    }
    koop__reply__pack(&r, buf);
    s->answered++;
    s->refused += status != KOOP_OK;
    if (!s->router) { /* in-process (koop_service_local_call): keep it for the caller */
        free(s->local_reply);
        s->local_reply = buf == stackbuf ? malloc(plen ? plen : 1) : buf;
        if (s->local_reply && buf == stackbuf)
            memcpy(s->local_reply, buf, plen);
        s->local_reply_len = s->local_reply ? plen : 0;
        return;
    }
    zmq_msg_init(&id);
    zmq_msg_copy(&id, identity);
    if (zmq_msg_send(&id, s->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        s->dropped++; /* peer gone (ROUTER_MANDATORY) or its queue is full */
    } else if (zmq_send(s->router, buf, plen, ZMQ_DONTWAIT) < 0) {
        s->dropped++;
    }
    if (buf != stackbuf)
        free(buf);
}

/* ---- built-in methods ---- */

typedef struct {
    Koop__FeedBatch *batch;
    size_t bytes;
    size_t cap;
    uint64_t last; /* seq of the last event taken */
} s_feed_ctx;

static int
s_feed_visit(uint64_t seq, const uint8_t *bytes, size_t len, void *ctx)
{
    s_feed_ctx *f = ctx;
    if (f->batch->n_events > 0 && f->bytes + len > FEED_MAX_BYTES)
        return 1; /* full: the consumer asks again */
    if (f->batch->n_events == f->cap)
        return 1;
    f->batch->events[f->batch->n_events].data = (uint8_t *)bytes;
    f->batch->events[f->batch->n_events].len = len;
    f->batch->seqs[f->batch->n_events] = seq;
    f->batch->n_events++;
    f->batch->n_seqs = f->batch->n_events;
    f->bytes += len;
    f->last = seq;
    return 0;
}

/* Fills a FeedBatch from txn; answers the call. The event bytes point into
 * the txn's pages, so the reply is packed before the txn ends. */
static int
s_feed_answer(koop_call_t *call, const char *stream, uint64_t after, uint32_t max, int shared_only,
              size_t *n_events)
{
    koop_service_t *s = call->svc;
    Koop__FeedBatch batch = KOOP__FEED_BATCH__INIT;
    s_feed_ctx f = {&batch, 0, 0, after};
    uint8_t prev_shared[KOOP_CHAIN_LEN], shared[KOOP_CHAIN_LEN], link[KOOP_CHAIN_LEN];
    uint64_t last = 0;
    int rc;

    if (strcmp(stream, koop_log_stream(s->log)) != 0)
        return koop_fail(call, FEED_STREAM_UNKNOWN, "stream", stream);
    if (max == 0 || max > FEED_MAX_EVENTS)
        max = FEED_MAX_EVENTS;
    f.cap = max;
    batch.events = calloc(max, sizeof *batch.events);
    batch.seqs = calloc(max, sizeof *batch.seqs);
    if (!batch.events || !batch.seqs) {
        free(batch.events);
        free(batch.seqs);
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    }
    rc = koop_log_read(s->log, call->txn, after, max, shared_only, s_feed_visit, &f);
    if (rc == 1)
        rc = 0;
    if (rc == 0)
        rc = koop_log_last(s->log, call->txn, 0, &last);
    /* the chains, for an uplink's batch (docs/ACCOUNTABILITY.md) */
    if (rc == 0 && (rc = koop_log_links(s->log, call->txn, after, NULL, prev_shared)) == 0)
        rc = koop_log_links(s->log, call->txn, f.last, link, shared);
    if (rc != 0) {
        free(batch.events);
        free(batch.seqs);
        return koop_call_store_error(call, rc);
    }
    batch.has_prev_shared_link = batch.has_shared_link = batch.has_link = 1;
    batch.prev_shared_link = (ProtobufCBinaryData){KOOP_CHAIN_LEN, prev_shared};
    batch.shared_link = (ProtobufCBinaryData){KOOP_CHAIN_LEN, shared};
    batch.link = (ProtobufCBinaryData){KOOP_CHAIN_LEN, link};
    batch.has_last_seq = 1;
    batch.last_seq = last;
    batch.log_id = (char *)koop_log_id(s->log);
    rc = koop_call_reply(call, &batch.base);
    if (n_events)
        *n_events = batch.n_events;
    free(batch.events);
    free(batch.seqs);
    return rc;
}

/* Who may read LOCAL events (personal data) of this service's log
 * (docs/FOUNDATION.md, "The local trust boundary"): a request without a
 * person over the node's own ipc socket is one of the node's services
 * (only the node's user can reach that socket; koopctl asks for SHARED
 * events only when it acts for nobody); a person only when the service's
 * feed_local hook agrees (the cases service: coordinators, audited);
 * nobody else. */
static int
s_local_allowed(koop_call_t *call)
{
    koop_service_t *s = call->svc;
    if (!call->caller || !*call->caller) {
        if (s->private_endpoint)
            return KOOP_OK;
        return koop_fail(call, ACCESS_NO_CALLER, "as", "local_events");
    }
    if (s->def->feed_local)
        return s->def->feed_local(call);
    return koop_fail(call, ACCESS_DENIED_COORDINATOR_ONLY, NULL, "local_events_log");
}

/* A fetch of LOCAL events for a person runs as a write: the service's
 * after_write then records it (the cases audit log) in the same commit. */
static int
s_entry_writes(const s_entry *e)
{
    const Koop__FeedFetch *q;
    if (e->api->flags & KOOP_API_WRITE)
        return 1;
    if (strcmp(e->api->name, "feed.fetch") != 0 || !e->req || !e->call.caller || !*e->call.caller)
        return 0;
    q = (const Koop__FeedFetch *)e->req;
    return !q->shared_only && e->call.svc->def->feed_local != NULL;
}

static int
s_method_fetch(koop_call_t *call)
{
    const Koop__FeedFetch *q = (const Koop__FeedFetch *)call->req;
    size_t n = 0;
    int rc;
    if (!q->stream)
        return koop_fail(call, FEED_STREAM_REQUIRED, "stream");
    if (!q->shared_only && (rc = s_local_allowed(call)) != KOOP_OK)
        return rc;
    rc = s_feed_answer(call, q->stream, q->after_seq, q->max, q->shared_only, &n);
    /* a person's read is answered at once (it is audited as it was) */
    if (rc == KOOP_OK && n == 0 && q->wait_ms > 0 && !*call->caller)
        call->parked = 1;
    return rc;
}

static int
s_method_ping(koop_call_t *call)
{
    koop_service_t *s = call->svc;
    Koop__Pong p = KOOP__PONG__INIT;
    uint64_t last = 0;
    int rc = koop_log_last(s->log, call->txn, 0, &last);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    p.service = (char *)s->def->name;
    p.node = s->cfg.node_id;
    p.has_last_seq = 1;
    p.last_seq = last;
    p.log_id = (char *)koop_log_id(s->log);
    p.has_pid = 1;
    p.pid = (uint32_t)getpid();
    p.has_events_refused = 1;
    p.events_refused = s->refused_events;
    {
        MDB_envinfo info;
        if (mdb_env_info(koop_store_env(s->store), &info) == 0) {
            p.has_commits = 1;
            p.commits = (uint64_t)info.me_last_txnid;
        }
    }
    return koop_call_reply(call, &p.base);
}

/* How far the log is and how many SHARED events follow after_seq: what an
 * uplink reports as pending without reading the events themselves. */
static int
s_method_stat(koop_call_t *call)
{
    const Koop__FeedFetch *q = (const Koop__FeedFetch *)call->req;
    koop_service_t *s = call->svc;
    Koop__FeedStat st = KOOP__FEED_STAT__INIT;
    int rc;
    if (!q->stream || strcmp(q->stream, koop_log_stream(s->log)) != 0)
        return koop_fail(call, FEED_STREAM_UNKNOWN, "stream", q->stream ? q->stream : "");
    st.has_last_seq = st.has_last_shared_seq = st.has_shared_after = 1;
    if ((rc = koop_log_last(s->log, call->txn, 0, &st.last_seq)) != 0 ||
        (rc = koop_log_last(s->log, call->txn, 1, &st.last_shared_seq)) != 0 ||
        (rc = koop_log_count_shared_after(s->log, call->txn, q->after_seq, &st.shared_after)) != 0)
        return koop_call_store_error(call, rc);
    st.log_id = (char *)koop_log_id(s->log);
    return koop_call_reply(call, &st.base);
}

/* What monitoring needs to know of this service (koop.ServiceStats). */
static int
s_method_stats(koop_call_t *call)
{
    koop_service_t *s = call->svc;
    Koop__ServiceStats st = KOOP__SERVICE_STATS__INIT;
    Koop__StoreStats store = KOOP__STORE_STATS__INIT;
    koop_store_sizes_t z;
    int rc;

    if ((rc = koop_store_sizes(s->store, &z)) != 0)
        return koop_call_store_error(call, rc);
    store.has_file_bytes = store.has_map_bytes = store.has_used_bytes = store.has_page_size = 1;
    store.has_last_txn = store.has_readers = store.has_max_readers = 1;
    store.file_bytes = z.file_bytes;
    store.map_bytes = z.map_bytes;
    store.used_bytes = z.used_bytes;
    store.page_size = z.page_size;
    store.last_txn = z.last_txn;
    store.readers = z.readers;
    store.max_readers = z.max_readers;
    st.service = (char *)s->def->name;
    st.node = s->cfg.node_id;
    st.version = (char *)koop_version();
    st.log_id = (char *)koop_log_id(s->log);
    st.store = &store;
    st.has_pid = st.has_started_ms = st.has_last_seq = st.has_last_shared_seq = 1;
    st.has_requests = st.has_refused = st.has_write_batches = st.has_commit_failures = 1;
    st.has_dropped = st.has_expired = st.has_parked = st.has_deferred = 1;
    st.has_backup_running = st.has_backups = st.has_last_backup_ms = 1;
    st.pid = (uint32_t)getpid();
    st.started_ms = s->started_ms;
    if ((rc = koop_log_last(s->log, call->txn, 0, &st.last_seq)) != 0 ||
        (rc = koop_log_last(s->log, call->txn, 1, &st.last_shared_seq)) != 0)
        return koop_call_store_error(call, rc);
    st.requests = s->answered;
    st.refused = s->refused;
    st.write_batches = s->write_batches;
    st.commit_failures = s->commit_failures;
    st.dropped = s->dropped;
    st.expired = s->expired;
    st.parked = (uint32_t)s->nparked;
    st.deferred = (uint32_t)s->ndeferred;
    st.backup_running = s->backup.running;
    st.backups = s->backup.done;
    st.last_backup_ms = s->backup.last_ms;
    st.has_events_refused = 1;
    st.events_refused = s->refused_events;
    return koop_call_reply(call, &st.base);
}

/* sys.backup: checks what it can in the batch; the copy starts after the
 * batch (s_backup_start), when no transaction of this thread is open. */
static int
s_method_backup(koop_call_t *call)
{
    const Koop__BackupRequest *q = (const Koop__BackupRequest *)call->req;
    if (!q->dir || !*q->dir)
        return koop_fail(call, FIELD_REQUIRED, "dir");
    if (q->dir[0] != '/' || strlen(q->dir) > PATH_MAX - 128 || strstr(q->dir, "/../") ||
        strstr(q->dir, "/./"))
        return koop_fail(call, BACKUP_DIR_PATH, "dir", q->dir);
    if (call->svc->backup.running)
        return koop_fail(call, BACKUP_RUNNING, NULL, call->svc->def->name);
    call->held = 1;
    return KOOP_OK;
}

/* The methods every service answers: the `sys` rows of api.def. */
static const koop_method_t s_builtin[] = {
#define KOOP_API_sys(fn, name, ...) {name, fn},
#include "api_rows.h"
#undef KOOP_API_sys
};
static const koop_api_method_t *s_builtin_api[KOOP_ARRAY_LEN(s_builtin)];

/* The method called name and its api.def row (*api), or NULL. */
static const koop_method_t *
s_find_method(koop_service_t *s, const char *name, const koop_api_method_t **api)
{
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_builtin); i++)
        if (strcmp(s_builtin[i].name, name) == 0) {
            *api = s_builtin_api[i];
            return &s_builtin[i];
        }
    for (size_t i = 0; i < s->def->nmethods; i++)
        if (strcmp(s->def->methods[i].name, name) == 0) {
            *api = s->apis[i];
            return &s->def->methods[i];
        }
    return NULL;
}

/* Pairs every method with its api.def row; a method without a row, or a
 * row of this service without a method, is a programming error reported at
 * start. Returns 0 or -EINVAL. */
static int
s_resolve_methods(koop_service_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_builtin); i++)
        if (!(s_builtin_api[i] = koop_api_find(s_builtin[i].name)))
            return -EINVAL;
    s->apis = calloc(s->def->nmethods ? s->def->nmethods : 1, sizeof *s->apis);
    if (!s->apis)
        return -ENOMEM;
    for (size_t i = 0; i < s->def->nmethods; i++) {
        const koop_api_method_t *a = koop_api_find(s->def->methods[i].name);
        if (!a || strcmp(a->service, s->def->name) != 0) {
            koop_error("metoda %s nie ma wiersza usługi %s w common/api.def", s->def->methods[i].name,
                       s->def->name);
            return -EINVAL;
        }
        s->apis[i] = a;
    }
    for (size_t i = 0; i < koop_api_nmethods; i++)
        n += strcmp(koop_api_methods[i].service, s->def->name) == 0;
    if (n != s->def->nmethods) {
        koop_error("usługa %s obsługuje %zu metod, a common/api.def opisuje %zu", s->def->name,
                   s->def->nmethods, n);
        return -EINVAL;
    }
    return 0;
}

/* ---- parked fetches ---- */

static void
s_park(koop_service_t *s, s_entry *e)
{
    const Koop__FeedFetch *q = (const Koop__FeedFetch *)e->req;
    s_parked *p;
    if (s->nparked == PARKED_MAX || !s->router) {
        /* answer now (empty): the consumer simply asks again */
        s_send_reply(s, &e->identity, e->request_id, KOOP_OK, NULL, e->call.reply, e->call.reply_len);
        return;
    }
    p = &s->parked[s->nparked++];
    zmq_msg_init(&p->identity);
    zmq_msg_copy(&p->identity, &e->identity);
    p->request_id = e->request_id;
    snprintf(p->stream, sizeof p->stream, "%s", q->stream);
    p->after_seq = q->after_seq;
    p->max = q->max;
    p->shared_only = q->shared_only;
    p->deadline_ms = koop_clock_mono_ms() + (q->wait_ms > 60000 ? 60000 : q->wait_ms);
}

static void
s_unpark(koop_service_t *s, size_t i)
{
    zmq_msg_close(&s->parked[i].identity);
    s->parked[i] = s->parked[--s->nparked];
}

/* Answers parked fetches that now have events (or expired when `expire`). */
static void
s_answer_parked(koop_service_t *s, int expire)
{
    MDB_txn *txn;
    uint64_t now = koop_clock_mono_ms(), last_all = 0, last_shared = 0;
    int rc;

    if (s->nparked == 0)
        return;
    if ((rc = koop_store_read(s->store, &txn)) != 0) {
        koop_error("feed: cannot read the log: %s", koop_strerror(rc));
        return;
    }
    if (koop_log_last(s->log, txn, 0, &last_all) != 0 || koop_log_last(s->log, txn, 1, &last_shared) != 0) {
        mdb_txn_abort(txn);
        return;
    }
    for (size_t i = 0; i < s->nparked;) {
        s_parked *p = &s->parked[i];
        uint64_t last = p->shared_only ? last_shared : last_all;
        if (last > p->after_seq || (expire && now >= p->deadline_ms)) {
            koop_call_t call = {.svc = s, .caller = "", .method = "feed.fetch", .txn = txn};
            int st = s_feed_answer(&call, p->stream, p->after_seq, p->max, p->shared_only, NULL);
            s_send_reply(s, &p->identity, p->request_id, st, &call.err, call.reply, call.reply_len);
            free(call.reply);
            s_unpark(s, i);
        } else {
            i++;
        }
    }
    mdb_txn_abort(txn);
}

void
koop_service_events_committed(koop_service_t *svc)
{
    s_answer_parked(svc, 0);
}

static void
s_on_parked_timer(uv_timer_t *t)
{
    s_answer_parked(t->data, 1);
    s_retry_deferred(t->data, 0, 1);
}

/* ---- batches ---- */

static void
s_entry_reset_outputs(s_entry *e)
{
    free(e->call.reply);
    e->call.reply = NULL;
    e->call.reply_len = 0;
    e->call.status = KOOP_OK;
    e->call.mdb_rc = 0;
    koop_error_clear(&e->call.err);
    e->call.parked = 0;
    e->call.held = 0;
}

static void
s_entry_free(s_entry *e)
{
    zmq_msg_close(&e->identity);
    if (e->req)
        protobuf_c_message_free_unpacked(e->req, NULL);
    if (e->env)
        koop__request__free_unpacked(e->env, NULL);
    free(e->call.reply);
    memset(e, 0, sizeof *e);
}

/* 1 when a method name is well formed: 1..KOOP_MAX_METHOD of [a-z0-9._]. */
static int
s_method_name_ok(const char *m)
{
    size_t n = strlen(m);
    return n > 0 && n <= KOOP_MAX_METHOD && strspn(m, "abcdefghijklmnopqrstuvwxyz0123456789._") == n;
}

/* Refuses e before anything runs: the reply is err (code and arguments). */
static void
s_refuse(s_entry *e, koop_err_t id, const char *const *args)
{
    koop_error_set(&e->decode_err, id, NULL, args);
    e->decode_status = e->decode_err.status;
}

/* Decodes one packed koop.Request into e (identity already set). Identity
 * fields are bounded before anything keeps them: a method name that is not
 * one (KOOP_MAX_METHOD of [a-z0-9._]) or a caller that is longer than
 * KOOP_MAX_CALLER or not clean text is refused here, so no handler, audit
 * entry or log line ever holds more than that. A request past its deadline
 * is answered DEADLINE and not run. */
static void
s_decode(koop_service_t *s, s_entry *e, const uint8_t *data, size_t len)
{
    char shown[80];
    e->env = koop__request__unpack(NULL, len, data);
    if (!e->env || !e->env->method) {
        s_refuse(e, KOOP_ERR_REQUEST_MALFORMED, NULL);
        return;
    }
    e->request_id = e->env->request_id;
    if (!s_method_name_ok(e->env->method)) {
        s_refuse(e, KOOP_ERR_REQUEST_METHOD, (const char *const[]){koop_text_escape(e->env->method, shown, 48), NULL});
        return;
    }
    if (e->env->caller && !koop_text_valid(e->env->caller, KOOP_MAX_CALLER)) {
        s_refuse(e, KOOP_ERR_REQUEST_CALLER,
                 (const char *const[]){koop_text_escape(e->env->caller, shown, 48), KOOP_NUM(KOOP_MAX_CALLER), NULL});
        return;
    }
    e->method = s_find_method(s, e->env->method, &e->api);
    if (!e->method) {
        s_refuse(e, KOOP_ERR_METHOD_UNKNOWN, (const char *const[]){e->env->method, s->def->name, NULL});
        return;
    }
    if (e->env->has_deadline_ms && e->env->deadline_ms && koop_clock_real_ms() > e->env->deadline_ms) {
        /* the caller has given up on it: answering is enough, running it
         * would change things nobody waits for */
        s_refuse(e, KOOP_ERR_REQUEST_DEADLINE, NULL);
        s->expired++;
        return;
    }
    e->req = protobuf_c_message_unpack(e->api->request, NULL, e->env->payload.len, e->env->payload.data);
    if (!e->req) {
        s_refuse(e, KOOP_ERR_REQUEST_PAYLOAD, (const char *const[]){e->env->method, NULL});
        return;
    }
    e->call.svc = s;
    e->call.caller = e->env->caller ? e->env->caller : "";
    e->call.method = e->method->name;
    e->call.req = e->req;
    e->call.received_ms = koop_clock_mono_ms();
    e->writes = s_entry_writes(e);
}

/* Receives one request into e. Returns 1 when e holds something to answer,
 * 0 when a message was dropped, -1 when nothing was there. */
static int
s_recv_one(koop_service_t *s, s_entry *e)
{
    zmq_msg_t body;
    int more = 0;
    size_t len = sizeof more;

    memset(e, 0, sizeof *e);
    zmq_msg_init(&e->identity);
    if (zmq_msg_recv(&e->identity, s->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&e->identity);
        return -1;
    }
    zmq_getsockopt(s->router, ZMQ_RCVMORE, &more, &len);
    if (!more) {
        zmq_msg_close(&e->identity);
        s->dropped++;
        return 0;
    }
    zmq_msg_init(&body);
    zmq_msg_recv(&body, s->router, 0);
    zmq_getsockopt(s->router, ZMQ_RCVMORE, &more, &len);
    if (more) {
        /* more frames than the protocol has: drain them and answer the error */
        while (more) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, s->router, 0);
            zmq_msg_close(&extra);
            zmq_getsockopt(s->router, ZMQ_RCVMORE, &more, &len);
        }
        koop_error_set(&e->decode_err, KOOP_ERR_REQUEST_FRAMES, NULL, NULL);
        e->decode_status = e->decode_err.status;
        zmq_msg_close(&body);
        return 1;
    }
    s_decode(s, e, zmq_msg_data(&body), zmq_msg_size(&body));
    zmq_msg_close(&body);
    return 1;
}

/* A write refused in the batch's own transaction may have written part of
 * itself before it said no: the whole batch is then run again from the
 * start with each write in a nested transaction of its own (s_run_writes).
 * Not an LMDB or errno code. */
#define S_REDO_NESTED (-0x6b6f6f70)

/* The common case: the write runs straight in the batch's transaction, as
 * the reads do. LMDB gives every nested transaction its own dirty-page list
 * (about 2.5 MB allocated, and merged into the parent at its commit), which
 * was most of a registry write's cost; a write that succeeds needs none. */
static int
s_write_direct(s_entry *e, MDB_txn *txn)
{
    e->call.txn = txn;
    if (e->method->fn(&e->call) == KOOP_OK && e->call.status == KOOP_OK)
        return 0;
    return e->call.mdb_rc == MDB_MAP_FULL ? MDB_MAP_FULL : S_REDO_NESTED;
}

/* After a refusal: the write in its own nested transaction, committed into
 * the batch when it succeeds, aborted when it fails, so a refused request
 * changes nothing. */
static int
s_write_nested(koop_service_t *s, s_entry *e, MDB_txn *txn)
{
    MDB_txn *child;
    int rc;
    if ((rc = mdb_txn_begin(koop_store_env(s->store), txn, 0, &child)) != 0)
        return rc;
    e->call.txn = child;
    if (e->method->fn(&e->call) == KOOP_OK && e->call.status == KOOP_OK) {
        if ((rc = mdb_txn_commit(child)) != 0)
            koop_call_store_error(&e->call, rc);
    } else {
        mdb_txn_abort(child);
    }
    return e->call.mdb_rc == MDB_MAP_FULL ? MDB_MAP_FULL : 0; /* map full: grow, run the batch again */
}

static int
s_run_writes(MDB_txn *txn, void *ctx)
{
    koop_service_t *s = ctx;
    s->events_appended = 0;
    s->defers_this_batch = 0;
    for (size_t i = 0; i < s->nbatch; i++) {
        s_entry *e = &s->batch[i];
        int rc;
        if (e->decode_status != KOOP_OK)
            continue;
        s_entry_reset_outputs(e);
        if (s->def->before_call)
            s->def->before_call(&e->call);
        if (!e->writes) {
            e->call.txn = txn;
            e->method->fn(&e->call);
        } else {
            if ((rc = s->nested_writes ? s_write_nested(s, e, txn) : s_write_direct(e, txn)) != 0)
                return rc;
            if (s->def->after_write && e->call.status != KOOP_DEFERRED) {
                e->call.txn = txn;
                if ((rc = s->def->after_write(&e->call, txn)) != 0)
                    return rc;
            }
        }
        e->call.txn = NULL;
    }
    return 0;
}

/* Keeps e aside until it is retried (koop_call_defer). However often it is
 * deferred again, it runs for the last time within KOOP_DEFER_MAX_MS of
 * its first deferral (or half the time to its deadline). */
static void
s_defer(koop_service_t *s, s_entry *e)
{
    uint64_t now = koop_clock_mono_ms();
    if (!e->call.defer_until) {
        e->call.defer_until = now + KOOP_DEFER_MAX_MS;
        if (e->env->has_deadline_ms && e->env->deadline_ms) {
            /* run for the last time well before the caller gives up */
            uint64_t real = koop_clock_real_ms();
            uint64_t left = e->env->deadline_ms > real ? e->env->deadline_ms - real : 0;
            if (now + left / 2 < e->call.defer_until)
                e->call.defer_until = now + left / 2;
        }
    }
    s->deferred[s->ndeferred] = *e;
    s->deferred_until[s->ndeferred] = e->call.defer_until;
    s->ndeferred++;
    memset(e, 0, sizeof *e);
}

/* ---- sys.backup: the copy in a worker thread ---- */

static void
s_backup_answer(koop_service_t *s, zmq_msg_t *identity, uint64_t request_id, koop_err_t id,
                const char *const *args)
{
    koop_error_t err;
    koop_error_set(&err, id, NULL, args);
    s_send_reply(s, identity, request_id, err.status, &err, NULL, 0);
}

static void
s_backup_work(uv_work_t *w)
{
    koop_service_t *s = w->data;
    s_backup_t *b = &s->backup;
    b->rc = koop_backup_copy(koop_store_env(s->store), b->dir, &b->info);
}

static void
s_backup_done(uv_work_t *w, int status)
{
    koop_service_t *s = w->data;
    s_backup_t *b = &s->backup;
    uint64_t took = koop_clock_mono_ms() - b->started_mono;

    koop_store_copying(s->store, 0);
    b->running = 0;
    if (status == 0 && b->rc == 0) {
        Koop__BackupReply r = KOOP__BACKUP_REPLY__INIT;
        koop_call_t call = {.svc = s, .method = "sys.backup"};
        char file[128];
        snprintf(file, sizeof file, "%s/data.mdb", s->def->name);
        r.service = (char *)s->def->name;
        r.file = file;
        r.node = b->info.node;
        r.log_id = b->info.log_id;
        r.blake2b = b->info.blake2b;
        r.has_bytes = r.has_store_format = r.has_last_seq = r.has_took_ms = 1;
        r.bytes = b->info.bytes;
        r.store_format = b->info.format;
        r.last_seq = b->info.last_seq;
        r.took_ms = took;
        b->done++;
        b->last_ms = koop_clock_real_ms();
        koop_info("kopia zapasowa: %s (%llu bajtów, zdarzenia do %llu) w %llu ms", b->dir,
                  (unsigned long long)r.bytes, (unsigned long long)r.last_seq, (unsigned long long)took);
        if (koop_call_reply(&call, &r.base) == KOOP_OK)
            s_send_reply(s, &b->identity, b->request_id, KOOP_OK, NULL, call.reply, call.reply_len);
        else
            s_send_reply(s, &b->identity, b->request_id, call.status, &call.err, NULL, 0);
        free(call.reply);
    } else {
        int rc = status != 0 ? status : b->rc;
        koop_error("kopia zapasowa do %s nie powiodła się: %s", b->dir, koop_strerror(rc));
        (void)rmdir(b->dir);
        /* the reader's language is koopctl's: the two errors koop_strerror
         * names in Polish are codes of their own, the rest strerror's words */
        s_backup_answer(s, &b->identity, b->request_id,
                        rc == -ENOSPC ? KOOP_ERR_BACKUP_DISK_FULL
                        : rc == -EIO  ? KOOP_ERR_BACKUP_IO
                                      : KOOP_ERR_BACKUP_COPY,
                        (const char *const[]){s->def->name, b->dir, koop_strerror(rc), NULL});
    }
    zmq_msg_close(&b->identity);
}

/* Starts the copy asked for by e (sys.backup, already checked); with no
 * transaction of this thread open, as the map may grow here. Answers e
 * now when it cannot start. */
static void
s_backup_start(koop_service_t *s, s_entry *e)
{
    const Koop__BackupRequest *q = (const Koop__BackupRequest *)e->req;
    s_backup_t *b = &s->backup;
    koop_store_sizes_t z;
    struct stat st;
    const char *name = s->def->name;
    int rc;

    if (b->running) { /* two in one batch */
        s_backup_answer(s, &e->identity, e->request_id, KOOP_ERR_BACKUP_RUNNING, (const char *const[]){name, NULL});
        return;
    }
    /* the caller made dir: a service that sees something else there (its
     * own /tmp under systemd's PrivateTmp, another mount) must not write */
    if (stat(q->dir, &st) != 0 && (errno == EACCES || errno == EPERM)) {
        rc = errno; /* a directory above it is closed to the node's user */
        s_backup_answer(s, &e->identity, e->request_id, KOOP_ERR_BACKUP_DIR_WRITE,
                        (const char *const[]){name, q->dir, strerror(rc), NULL});
        return;
    }
    if (stat(q->dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
        (q->has_dir_dev && (st.st_dev != q->dir_dev || st.st_ino != q->dir_ino))) {
        s_backup_answer(s, &e->identity, e->request_id, KOOP_ERR_BACKUP_DIR_UNSEEN,
                        (const char *const[]){name, q->dir, NULL});
        return;
    }
    snprintf(b->dir, sizeof b->dir, "%s/%s", q->dir, name);
    if (mkdir(b->dir, 0700) != 0) {
        rc = errno;
        s_backup_answer(s, &e->identity, e->request_id,
                        rc == EEXIST ? KOOP_ERR_BACKUP_EXISTS : KOOP_ERR_BACKUP_DIR_WRITE,
                        (const char *const[]){name, b->dir, strerror(rc), NULL});
        return;
    }
    /* room for the writes made while the copy runs: the map cannot grow
     * then (the copy's read transaction holds it) */
    if (koop_store_sizes(s->store, &z) == 0 && z.used_bytes * 2 > z.map_bytes && (rc = koop_store_grow(s->store)) != 0)
        koop_warn("kopia zapasowa: nie można powiększyć mapy przed kopią: %s", koop_strerror(rc));
    b->work.data = s;
    b->request_id = e->request_id;
    b->started_mono = koop_clock_mono_ms();
    b->rc = 0;
    zmq_msg_init(&b->identity);
    zmq_msg_move(&b->identity, &e->identity);
    koop_store_copying(s->store, 1);
    b->running = 1;
    if ((rc = uv_queue_work(&s->loop, &b->work, s_backup_work, s_backup_done)) != 0) {
        koop_store_copying(s->store, 0);
        b->running = 0;
        (void)rmdir(b->dir);
        s_backup_answer(s, &b->identity, b->request_id, KOOP_ERR_BACKUP_COPY,
                        (const char *const[]){name, b->dir, uv_strerror(rc), NULL});
        zmq_msg_close(&b->identity);
    }
}

/* Runs deferred calls again as one batch (with expire_only, only those whose
 * time is up). Those whose tag <= final_tag, or whose time is up, run for
 * the last time; the others may defer again. Only between batches. */
static void
s_retry_deferred(koop_service_t *s, uint64_t final_tag, int expire_only)
{
    uint64_t now = koop_clock_mono_ms();
    size_t keep = 0;
    if (s->nbatch || s->stopping || !s->ndeferred)
        return;
    for (size_t i = 0; i < s->ndeferred; i++) {
        s_entry *e = &s->deferred[i];
        int due = now >= s->deferred_until[i];
        if (expire_only && !due) {
            s->deferred_until[keep] = s->deferred_until[i];
            s->deferred[keep++] = *e;
            continue;
        }
        e->call.final = due || e->call.defer_tag <= final_tag;
        s->batch[s->nbatch++] = *e;
    }
    s->ndeferred = keep;
    if (s->nbatch)
        s_execute(s);
}

void
koop_service_retry_deferred(koop_service_t *svc, uint64_t final_tag)
{
    s_retry_deferred(svc, final_tag, 0);
}

static void
s_execute(koop_service_t *s)
{
    int any_write = 0, rc;

    for (size_t i = 0; i < s->nbatch; i++)
        if (s->batch[i].decode_status == KOOP_OK && s->batch[i].writes)
            any_write = 1;

    if (any_write) {
        /* every write straight in the batch's transaction; if one is
         * refused, nothing of this attempt is kept and the batch runs again
         * with a nested transaction per write */
        s->nested_writes = 0;
        rc = koop_store_write(s->store, s_run_writes, s);
        if (rc == S_REDO_NESTED) {
            s->nested_writes = 1;
            rc = koop_store_write(s->store, s_run_writes, s);
        }
        s->write_batches += rc == 0;
        s->commit_failures += rc != 0;
        if (rc != 0) {
            koop_error("batch of %zu: commit failed: %s", s->nbatch, koop_strerror(rc));
            for (size_t i = 0; i < s->nbatch; i++) {
                s_entry *e = &s->batch[i];
                if (e->decode_status != KOOP_OK)
                    continue;
                s_entry_reset_outputs(e);
                if (rc == ENOSPC || rc == -ENOSPC)
                    koop_fail(&e->call, INTERNAL_DISK_FULL, NULL);
                else if (rc == -EBUSY) /* the map is full and a copy holds it (koop_store_grow) */
                    koop_fail(&e->call, INTERNAL_MAP_BACKUP, NULL);
                else
                    koop_fail(&e->call, INTERNAL_COMMIT, NULL, koop_strerror(rc));
            }
        }
    } else {
        MDB_txn *txn;
        rc = koop_store_read(s->store, &txn);
        for (size_t i = 0; i < s->nbatch; i++) {
            s_entry *e = &s->batch[i];
            if (e->decode_status != KOOP_OK)
                continue;
            if (rc != 0) {
                koop_call_store_error(&e->call, rc);
                continue;
            }
            s_entry_reset_outputs(e);
            if (s->def->before_call)
                s->def->before_call(&e->call);
            e->call.txn = txn;
            e->method->fn(&e->call);
            e->call.txn = NULL;
        }
        if (rc == 0)
            mdb_txn_abort(txn);
        s->defers_this_batch = 0;
    }

    for (size_t i = 0; i < s->nbatch; i++) {
        s_entry *e = &s->batch[i];
        if (e->decode_status != KOOP_OK)
            s_send_reply(s, &e->identity, e->request_id, e->decode_status, &e->decode_err, NULL, 0);
        else if (e->call.parked)
            s_park(s, e);
        else if (e->call.held && e->call.status == KOOP_OK)
            s_backup_start(s, e);
        else if (e->call.status == KOOP_DEFERRED && s->ndeferred < DEFERRED_MAX) {
            s_defer(s, e);
            continue;
        }
        else if (e->call.status != KOOP_OK)
            s_send_reply(s, &e->identity, e->request_id, e->call.status, &e->call.err, NULL, 0);
        else
            s_send_reply(s, &e->identity, e->request_id, KOOP_OK, NULL, e->call.reply, e->call.reply_len);
        s_entry_free(e);
    }
    s->nbatch = 0;
    if (any_write && s->events_appended) {
        s->events_appended = 0;
        s_answer_parked(s, 0);
    }
}

static void
s_on_readable(koop_zwatch_t *w)
{
    koop_service_t *s = w->zw_data;
    while (!s->stopping && koop_zwatch_readable(w)) {
        s->nbatch = 0;
        while (s->nbatch < KOOP_SERVICE_BATCH) {
            int r = s_recv_one(s, &s->batch[s->nbatch]);
            if (r < 0)
                break;
            if (r > 0)
                s->nbatch++;
        }
        if (s->nbatch)
            s_execute(s);
    }
}

/* ---- start / stop ---- */

static void
s_on_stop(void *data)
{
    koop_service_t *s = data;
    koop_info("stopping");
    s->stopping = 1;
    koop_zwatch_stop(&s->watch, NULL);
    uv_timer_stop(&s->parked_timer);
    uv_close((uv_handle_t *)&s->parked_timer, NULL);
    koop_signals_stop(&s->signals);
    if (s->def->stop)
        s->def->stop(s);
    koop_client_destroy(&s->client);
}

static void
s_usage(const char *name)
{
    fprintf(stderr, "użycie: koop-%s -c PLIK_KONFIGURACJI\n", name);
}

/* Allocates the batches, pairs the methods with api.def and opens the
 * store and log: through the start-up checks (preflight.h) when the
 * service serves endpoint, directly for in-process use (endpoint NULL).
 * Returns 0, a preflight exit code (> 0), or -1. */
static int
s_open(koop_service_t *s, const char *endpoint)
{
    const koop_service_info_t *info = koop_service_info(s->def->name);
    int rc;
    s->batch = calloc(KOOP_SERVICE_BATCH, sizeof *s->batch);
    s->deferred = calloc(DEFERRED_MAX, sizeof *s->deferred);
    s->deferred_until = calloc(DEFERRED_MAX, sizeof *s->deferred_until);
    if (!s->batch || !s->deferred || !s->deferred_until || s_resolve_methods(s) != 0)
        return -1;
    if (endpoint) {
        /* whether it takes a person comes from services.def */
        if ((rc = koop_preflight_service(&s->cfg, s->def->name, endpoint,
                                         (info ? info->flags : 0) & KOOP_SVC_PERSON, s->def->tables, &s->store)) != 0)
            return rc;
    } else {
        char dir[PATH_MAX + 64];
        mkdir(s->cfg.data_dir, 0700);
        snprintf(dir, sizeof dir, "%s/%s", s->cfg.data_dir, s->def->name);
        if ((rc = koop_store_open(&s->store, dir, s->def->tables)) != 0) {
            koop_error("cannot open store %s: %s", dir, koop_strerror(rc));
            return -1;
        }
    }
    if ((rc = koop_log_open(&s->log, s->store, s->cfg.node_id, s->def->name)) != 0) {
        koop_error("nie można otworzyć dziennika zdarzeń usługi w %s/%s: %s", s->cfg.data_dir, s->def->name,
                   koop_strerror(rc));
        return -1;
    }
    return 0;
}

int
koop_service_main(const koop_service_def_t *def, int argc, char **argv, void *user)
{
    koop_service_t *s = calloc(1, sizeof *s);
    const char *conf = NULL, *endpoint;
    char err[600];
    int rc, opt, exit_code = 1;

    if (koop_version_asked(argc, argv)) {
        free(s);
        return 0;
    }
    koop_say_init(def->name);
    {
        /* started by koop-node: stop when it dies, even by SIGKILL, so no
         * orphaned service keeps the node's sockets and files */
        const char *parent = getenv("KOOP_NODE_PID");
        if (parent && *parent) {
            if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != (pid_t)atoi(parent)) {
                koop_error("koop-node (pid %s) już nie działa: usługa nie startuje", parent);
                free(s);
                return 1;
            }
        }
    }
    if (!s) {
        koop_error("brak pamięci");
        return 1;
    }
    s->def = def;
    s->user = user;
    s->started_ms = koop_clock_real_ms();
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        if (opt == 'c')
            conf = optarg;
        else {
            s_usage(def->name);
            free(s);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (!conf) {
        s_usage(def->name);
        free(s);
        return 2;
    }
    if (koop_config_load(&s->cfg, conf, err, sizeof err) != 0) {
        koop_error("błąd konfiguracji: %s", err);
        free(s);
        return KOOP_EXIT_REFUSED;
    }
    endpoint = koop_config_endpoint(&s->cfg, def->name);
    s->private_endpoint = endpoint && strncmp(endpoint, "ipc://", 6) == 0;
    if (!endpoint) {
        koop_error("%s: brak adresu usługi %s w sekcji [endpoints]", conf, def->name);
        free(s);
        return KOOP_EXIT_REFUSED;
    }
    if ((rc = s_open(s, endpoint)) != 0) {
        exit_code = rc > 0 ? rc : 1;
        goto done;
    }
    if ((rc = uv_loop_init(&s->loop)) != 0)
        goto done;
    s->zctx = zmq_ctx_new();
    if (!s->zctx || !(s->client = koop_client_new(&s->loop, s->zctx)))
        goto done_loop;
    s->router = koop_rpc_router_new(s->zctx, endpoint);
    if (!s->router) {
        koop_error("usługa nie może słuchać na %s (%s): czy działa tam inny program? popraw adres w [endpoints] "
                   "pliku %s albo zatrzymaj ten program",
                   endpoint, zmq_strerror(errno), conf);
        goto done_loop;
    }
    if ((rc = koop_zwatch_start(&s->loop, &s->watch, s->router, s_on_readable, s)) != 0)
        goto done_loop;
    uv_timer_init(&s->loop, &s->parked_timer);
    s->parked_timer.data = s;
    uv_timer_start(&s->parked_timer, s_on_parked_timer, 50, 50);
    if ((rc = koop_signals_start(&s->loop, &s->signals, s_on_stop, s)) != 0)
        goto done_loop;
    if (def->start && (rc = def->start(s)) != 0) {
        /* a refusal of the service's own checks was said already */
        if (rc == KOOP_EXIT_REFUSED)
            exit_code = rc;
        else
            koop_error("usługa nie wystartowała (%d): przyczyna w komunikatach powyżej", rc);
        s_on_stop(s);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        goto done_loop;
    }
    koop_info("serving %s (node %s, log %s)", endpoint, s->cfg.node_id, koop_log_id(s->log));
    uv_run(&s->loop, UV_RUN_DEFAULT);
    exit_code = 0;
    if (s->dropped)
        koop_warn("%llu message(s) could not be answered", (unsigned long long)s->dropped);
    if (s->expired)
        koop_info("%llu request(s) answered past their deadline without running",
                  (unsigned long long)s->expired);
    koop_info("stopped");
done_loop:
    while (s->nparked)
        s_unpark(s, 0);
    while (s->ndeferred) /* unanswered: their callers time out */
        s_entry_free(&s->deferred[--s->ndeferred]);
    if (s->client) { /* a start that failed before the loop ran */
        koop_client_destroy(&s->client);
        uv_run(&s->loop, UV_RUN_DEFAULT);
    }
    if (s->router)
        zmq_close(s->router);
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    uv_loop_close(&s->loop);
done:
    koop_log_destroy(&s->log);
    koop_store_destroy(&s->store);
    free(s->batch);
    free(s->deferred);
    free(s->deferred_until);
    free(s->apis);
    free(s);
    return exit_code;
}

/* ---- in-process use (tests, fuzzing) ---- */

koop_service_t *
koop_service_local_new(const koop_service_def_t *def, const koop_config_t *cfg, void *user)
{
    koop_service_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->def = def;
    s->user = user;
    s->cfg = *cfg;
    /* only this process reaches it: as trusted as the node's ipc socket */
    s->private_endpoint = 1;
    if (s_open(s, NULL) != 0 || uv_loop_init(&s->loop) != 0)
        goto fail;
    s->loop_ready = 1;
    if (!(s->zctx = zmq_ctx_new()) || !(s->client = koop_client_new(&s->loop, s->zctx)))
        goto fail;
    return s;
fail:
    koop_service_local_destroy(&s);
    return NULL;
}

int
koop_service_local_call(koop_service_t *svc, const uint8_t *req, size_t len, uint8_t **reply, size_t *reply_len)
{
    s_entry *e = &svc->batch[0];
    *reply = NULL;
    *reply_len = 0;
    memset(e, 0, sizeof *e);
    zmq_msg_init(&e->identity);
    s_decode(svc, e, req, len);
    svc->nbatch = 1;
    s_execute(svc); /* the reply lands in local_reply (no router) */
    while (svc->ndeferred) /* nothing will retry them in process: answer now */
        s_retry_deferred(svc, UINT64_MAX, 0);
    if (!svc->local_reply)
        return -ENOMEM;
    *reply = svc->local_reply;
    *reply_len = svc->local_reply_len;
    svc->local_reply = NULL;
    svc->local_reply_len = 0;
    return 0;
}

void
koop_service_local_destroy(koop_service_t **svc_p)
{
    koop_service_t *s;
    if (!svc_p || !*svc_p)
        return;
    s = *svc_p;
    koop_client_destroy(&s->client);
    while (s->nparked)
        s_unpark(s, 0);
    if (s->loop_ready) {
        uv_run(&s->loop, UV_RUN_NOWAIT); /* handles the service's hooks closed */
        (void)uv_loop_close(&s->loop);
    }
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    koop_log_destroy(&s->log);
    koop_store_destroy(&s->store);
    free(s->local_reply);
    free(s->batch);
    free(s->deferred);
    free(s->deferred_until);
    free(s->apis);
    free(s);
    *svc_p = NULL;
}
