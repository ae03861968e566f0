/*
 * koop-gateway - HTTP/JSON API of a node (and, phase B, its web UI).
 *
 * Module boundaries (docs/GATEWAY.md has the sketch):
 *
 *   httpd.c     libmicrohttpd in external-epoll mode on the service's libuv
 *               loop: the only file that knows MHD. Limits, the request
 *               timeout, suspend while a call is outstanding, resume, queue.
 *   route.c     routes built from common/api.def, and the parsing of what a
 *               client sends (path, query, cookies, JSON body): functions
 *               of bytes, no I/O (fuzzed).
 *   dispatch.c  one request: /healthz, /metrics, /api/...: session, CSRF,
 *               request message, a call to the row's service as the
 *               logged-in person, the reply as common/present makes it.
 *   session.c   sessions in the gateway's store; cookies.
 *   login.c     login: rate limits, Argon2id off the loop (a capped queue
 *               of uv_queue_work jobs), TOTP, audit facts.
 *   web.c       the `web` rows of api.def (session, me, methods).
 *   account.c   the `gateway` rows (koopctl account ...), on the ROUTER.
 *   totp.c      RFC 6238 codes, base32.
 *   metrics.c   counters and the Prometheus text.
 *
 * One thread: MHD, ZeroMQ and LMDB are all used from the loop; only the
 * password hashing runs on libuv's thread pool, on copies, touching
 * nothing shared.
 */
#ifndef KOOP_GATEWAY_H
#define KOOP_GATEWAY_H

#include "api.h"
#include "client.h"
#include "errors.h"
#include "gateway.pb-c.h"
#include "password.h"
#include "service.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

/* ---- limits (defaults; [gateway] keys in docs/GATEWAY.md) ---- */
#define GW_JSON_DEPTH 16           /* nesting of a request body */
#define GW_CALL_TIMEOUT_MS 10000   /* a call to a service */
#define GW_TOTP_PENDING_MS (5 * 60 * 1000) /* password given, code not yet */
#define GW_SESSION_TOUCH_MS 60000  /* last-seen is written at most this often */
#define GW_HASH_QUEUE 64           /* logins waiting for a hashing thread */
#define GW_PATH_MAX 512            /* bytes of a request path */
#define GW_ROUTE_SEGMENTS 8
#define GW_STATIC_DEPTH 4          /* directories of a web UI file's path, with the file */
#define GW_STATIC_NAME_MAX 200     /* bytes of that path */
#define GW_STATIC_FILE_MAX (4u << 20) /* a web UI file */

typedef struct gw gw_t;
typedef struct gw_req gw_req_t;
typedef struct gw_httpd gw_httpd_t;
typedef struct gw_login_job gw_login_job_t;

typedef struct {
    /* from the config, checked at start */
    char host[128];
    int port;
    int tls;
    char trusted_proxy[64];
    char origin[256];
    int totp_for_coordinators;
    uint64_t idle_ms, absolute_ms;
    size_t max_body, max_header;
    unsigned max_connections, per_ip_connections;
    unsigned request_timeout_s, idle_timeout_s;
    unsigned hash_workers;
    koop_pwparams_t pw;
    char web_dir[4096];            /* the web UI's files; "" when none was found */
} gw_limits_t;

typedef struct {
    uint64_t requests[6];          /* by class: 1xx..5xx, [0] unused */
    uint64_t latency_buckets[12];  /* see metrics.c */
    uint64_t latency_count;
    double latency_sum_s;
    uint64_t logins_ok, logins_failed, logins_limited, logins_totp_failed;
    uint64_t logouts, sessions_expired;
    uint64_t csrf_refused, unauthenticated, body_too_large, bad_json;
    uint64_t request_timeouts, busy;
    uint64_t calls, call_errors;
    uint64_t connections_total;
    unsigned connections_open, suspended;
    unsigned hashes_running, hashes_queued;
    /* every service of the node, asked (sys.ping) every GW_SERVICES_POLL_MS */
    struct gw_service_count {
        struct gw *gw;
        const char *name;          /* services.def, borrowed */
        uint64_t events_refused;   /* its koop.Pong.events_refused */
        int answered;              /* its last answer came */
        uint64_t call_id;
        int asking;
    } services[KOOP_MAX_SERVICES];
    int nservices;
} gw_metrics_t;
#define GW_SERVICES_POLL_MS 5000

/* A route: one row of api.def with its path split into segments. */
typedef struct {
    const koop_api_method_t *api;
    int nseg;
    const char *seg[GW_ROUTE_SEGMENTS]; /* literal, or "{field}" */
    size_t seglen[GW_ROUTE_SEGMENTS];
} gw_route_t;

typedef struct {
    gw_route_t *routes;
    size_t n;
} gw_routes_t;

/* A person asked about at account creation (account.c). */
typedef struct {
    struct gw *gw;
    char id[KOOP_ID_LEN];
    int state; /* 0 free, 1 asked, 2 found, 3 missing, 4 inactive */
    uint64_t tag;
} gw_person_check_t;

struct gw {
    koop_service_t *svc;
    koop_store_t *store;
    koop_client_t *client;
    const koop_config_t *cfg;
    MDB_dbi dbi_accounts, dbi_by_person, dbi_sessions;
    gw_limits_t lim;
    gw_routes_t routes;
    gw_httpd_t *httpd;
    gw_metrics_t m;
    uv_timer_t *services_poll;     /* metrics.c */
    char dummy_hash[KOOP_PASSWORD_HASH_MAX]; /* verified for unknown logins */
    /* login.c */
    gw_login_job_t *queue_head, *queue_tail;
    struct gw_bucket *buckets;
    size_t nbuckets;
    /* account.c */
    gw_person_check_t checks[16];
    uint64_t next_tag;
    int stopping;
};

/* ---- a request in flight (httpd.c owns it; dispatch.c fills it) ----
 *
 *   RECEIVING --full request--> dispatch --answer now--> READY --queued--> (MHD) done
 *                                   \--async (call, hash)--> WAITING [suspended]
 *                                          --gw_req_answer--> READY [resumed] --queued-->
 */
enum { GW_REQ_RECEIVING = 0, GW_REQ_WAITING, GW_REQ_READY, GW_REQ_QUEUED };

#define GW_MAX_SET_COOKIE 2

struct gw_req {
    gw_t *gw;
    void *conn;                 /* struct MHD_Connection */
    int state;
    int suspended;
    char method[8];
    char path[GW_PATH_MAX];
    char *body;
    size_t body_len;
    int body_too_large;
    uint64_t start_us;
    koop_lang_t lang;
    char address[64];           /* the client (or, behind the trusted proxy, its X-Forwarded-For) */
    int secure;                 /* served over TLS (config or trusted X-Forwarded-Proto) */
    /* routing and session */
    const koop_api_method_t *api;
    Koop__Gw__Session *session; /* NULL when none */
    uint8_t session_key[32];    /* hash of the session id */
    uint64_t call_id;
    int calling;
    gw_login_job_t *job;        /* a login waiting for its hash */
    void *web_state;            /* a web handler's own state between steps */
    /* the answer */
    unsigned status;
    char *resp;                 /* owned */
    size_t resp_len;
    const char *content_type;
    const char *cache_control;  /* NULL: no-store (every API answer) */
    char etag[48];              /* a web UI file's validator */
    int csv;                    /* a report asked for as CSV (format=csv) */
    char disposition[96];       /* Content-Disposition of a CSV report */
    char *set_cookie[GW_MAX_SET_COOKIE];
    char retry_after[12];
    char allow[64];
};

/* ---- httpd.c ---- */
int gw_httpd_start(gw_t *gw);
void gw_httpd_stop(gw_t *gw);
/* The value of request header name (NULL when absent). */
const char *gw_req_header(gw_req_t *r, const char *name);
/* The value of query argument name (NULL when absent). */
const char *gw_req_arg(gw_req_t *r, const char *name);
/* Calls fn for every query argument; stops at the first non-zero return. */
int gw_req_query(gw_req_t *r, int (*fn)(void *ctx, const char *key, const char *value), void *ctx);
/* The answer is set: a waiting request is resumed and queued. */
void gw_req_answer(gw_req_t *r);
/* Marks r as waiting (its connection is suspended after dispatch returns). */
void gw_req_wait(gw_req_t *r);

/* ---- route.c (bytes in, no I/O) ---- */
int gw_routes_build(gw_routes_t *rt);
void gw_routes_free(gw_routes_t *rt);
/* The route of method+path. Path fields go into fields (a JSON object).
 * Returns the route, or NULL with *why: 404 (no path matches), 405 (the
 * path matches other methods: allow lists them), 400 (a bad segment). */
const gw_route_t *gw_route_match(const gw_routes_t *rt, const char *method, const char *path, json_t *fields,
                                 int *why, char *allow, size_t allowlen);
/* Parses a request body: a JSON object, at most depth levels, no duplicate
 * keys. NULL with *err set when it is not. */
json_t *gw_body_parse(const char *bytes, size_t len, int depth, koop_error_t *err);
/* Adds the fields of a request body (gw_body_parse, GW_JSON_DEPTH) to obj,
 * which holds the path's fields: a field given in both is refused. 0, or
 * -1 with *err set. */
int gw_body_merge(json_t *obj, const char *bytes, size_t len, koop_error_t *err);
/* The nesting depth of a JSON text (strings skipped), without parsing it. */
int gw_json_depth(const char *bytes, size_t len);
/* Adds key=value (a query argument) to obj. 0, or -1 with *err set. */
int gw_query_add(json_t *obj, const char *key, const char *value, koop_error_t *err);
/* The value of cookie name in a Cookie header, into out. 0 or -1. */
int gw_cookie_get(const char *header, const char *name, char *out, size_t outlen);
/* The language of an Accept-Language header (pl when it says nothing we have). */
koop_lang_t gw_lang_of(const char *accept_language);
/* The file of the web UI a request path names ("/" is index.html), relative
 * to web_dir, into rel. 0, or -1 when the path names no such file (see
 * route.c: no .., no hidden names, known extensions only). */
int gw_static_path(const char *path, char *rel, size_t rellen);
/* The Content-Type of a file name by its extension, NULL when not served. */
const char *gw_static_type(const char *rel);

/* ---- static.c ---- */
/* Finds the web UI's directory when [gateway] web_dir is not set. */
void gw_static_find_dir(gw_t *gw);
/* Answers GET/HEAD of a web UI file: 200 with ETag, 304, or 404. */
void gw_static_serve(gw_req_t *r);

/* ---- dispatch.c ---- */
void gw_dispatch(gw_req_t *r);
/* Answers: JSON (takes the reference), a catalogue error, a koop_error_t. */
void gw_answer_json(gw_req_t *r, unsigned status, json_t *body);
/* Answers status with the JSON text s[0..n) (malloc'd: taken, freed here;
 * NULL: out of memory, answered 500) and koopctl's trailing newline. */
void gw_answer_text(gw_req_t *r, unsigned status, char *s, size_t n);
void gw_answer_error(gw_req_t *r, const koop_error_t *e);
void gw_answer_err(gw_req_t *r, koop_err_t id, const char *field, const char *const *args);
#define gw_fail(r, ID, field, ...)                                                                 \
    gw_answer_err((r), KOOP_ERR_##ID, (field), (const char *const[]){__VA_ARGS__ __VA_OPT__(, ) NULL})
/* Answers with a method's reply message as common/present shows it. */
void gw_answer_reply(gw_req_t *r, const koop_api_method_t *api, const ProtobufCMessage *reply);
/* The HTTP status of an error. */
unsigned gw_http_status(const koop_error_t *e);
/* Frees what a request holds (httpd.c calls it at the end). */
void gw_req_release(gw_req_t *r);

/* ---- session.c ---- */
#define GW_SID_LEN 32  /* hex of 128 random bits */
/* The session of r's cookie into r->session (NULL when none). Returns 0, or
 * the error: SESSION_REQUIRED (no or unknown cookie), SESSION_EXPIRED. */
koop_err_t gw_session_load(gw_req_t *r);
/* Writes a new session for account a (pending: waiting for the TOTP code)
 * in txn; its id into sid, its record into *out (caller frees). */
int gw_session_put(gw_t *gw, MDB_txn *txn, const Koop__Gw__Account *a, int pending, char sid[GW_SID_LEN + 1],
                   Koop__Gw__Session **out);
int gw_session_del(gw_t *gw, MDB_txn *txn, const uint8_t key[32]);
/* Deletes every session of login in txn; how many. */
int gw_session_del_login(gw_t *gw, MDB_txn *txn, const char *login, unsigned *count);
/* Adds the Set-Cookie of sid (NULL: clears it) to r. */
void gw_session_cookie(gw_req_t *r, const char *sid);
void gw_session_key(const char *sid, uint8_t key[32]);
/* Removes expired sessions (a timer). */
void gw_session_sweep(gw_t *gw);

/* ---- account.c ---- */
int gw_account_get(gw_t *gw, MDB_txn *txn, const char *login, Koop__Gw__Account **out);
int gw_account_put(gw_t *gw, MDB_txn *txn, const Koop__Gw__Account *a);
/* Appends an audit fact (event type) to the gateway's log in txn. */
int gw_audit(gw_t *gw, MDB_txn *txn, const char *type, const char *actor, const char *login, const char *person,
             const char *address, const char *reason, unsigned sessions);
/* The handlers of the gateway rows (api.def). */
int gw_account_create(koop_call_t *call);
int gw_account_reset(koop_call_t *call);
int gw_account_disable(koop_call_t *call);
int gw_account_list(koop_call_t *call);
int gw_totp_enable(koop_call_t *call);
int gw_totp_disable(koop_call_t *call);

/* ---- login.c ---- */
int gw_login_init(gw_t *gw);
void gw_login_stop(gw_t *gw);
void gw_login_start(gw_req_t *r, const Koop__Gw__Login *req);
/* The request is going away: its job, if any, is forgotten. */
void gw_login_forget(gw_req_t *r);

/* ---- web.c ---- */
typedef void (*gw_web_fn)(gw_req_t *r, const ProtobufCMessage *req);
gw_web_fn gw_web_handler(const koop_api_method_t *api);

/* ---- totp.c ---- */
#define GW_TOTP_SECRET_LEN 20
#define GW_TOTP_STEP_S 30
/* The 6-digit code of secret at step (unix time / 30). */
unsigned gw_totp_code(const uint8_t *secret, size_t len, uint64_t step);
/* 1 when code matches a step within one of now_s's and is later than
 * last_step (*step_out: the step matched), else 0. */
int gw_totp_check(const uint8_t *secret, size_t len, const char *code, uint64_t now_s, uint64_t last_step,
                  uint64_t *step_out);
/* RFC 4648 base32 of data (no padding) into out. */
void gw_base32(const uint8_t *data, size_t len, char *out, size_t outlen);

/* ---- metrics.c ---- */
void gw_metrics_observe(gw_t *gw, unsigned status, uint64_t micros);
/* The Prometheus text (caller frees). */
char *gw_metrics_text(gw_t *gw, size_t *len);
/* Starts / stops asking the node's services for their counters (metrics.c). */
int gw_metrics_start(gw_t *gw);
void gw_metrics_stop(gw_t *gw);

#endif
