/*
 * dispatch.c - one complete request: /healthz, /metrics, or a route of
 * /api/ (route.c) taken through these steps, each of which may answer:
 *
 *   language (lang query or cookie, else Accept-Language)
 *   route (404 / 405 with Allow)
 *   session (a row of another service, or a web row with PERSON, needs one:
 *            401 without; a session waiting for its TOTP code may only
 *            finish logging in or log out)
 *   state-changing method (not GET): Origin / Sec-Fetch-Site of this site,
 *            and, with a session, X-CSRF-Token equal to the session's (403)
 *   request message: path fields + query (GET, DELETE) or JSON body (POST,
 *            PUT) through pbjson (400 with the field)
 *   web row: its handler (web.c); other rows: a call to the row's service
 *            with the session's person as caller; the reply as
 *            common/present shows it (a report with format=csv: its CSV),
 *            or the service's error (access.* as 403, not found as 404).
 *
 * Any other path is a file of the web UI (static.c).
 *
 * The gateway decides nothing about case access: the services do and
 * audit it.
 */
#include "gateway.h"
#include "clock.h"
#include "pbjson.h"
#include "present.h"
#include "say.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- answers ---- */

void
gw_answer_json(gw_req_t *r, unsigned status, json_t *body)
{
    /* the bytes koopctl --json prints (koop_present_dump's format) */
    char *s = body ? json_dumps(body, KOOP_PBJSON_DUMP_FLAGS) : NULL;
    json_decref(body);
    gw_answer_text(r, status, s, s ? strlen(s) : 0);
}

void
gw_answer_text(gw_req_t *r, unsigned status, char *s, size_t n)
{
    free(r->resp);
    r->resp = NULL;
    r->resp_len = 0;
    r->status = status;
    if (s) {
        r->resp = realloc(s, n + 2);
        if (!r->resp) {
            free(s);
        } else {
            r->resp[n] = '\n';
            r->resp[n + 1] = '\0';
            r->resp_len = n + 1;
        }
    }
    if (!r->resp) {
        static const char oom[] = "{\"error\": {\"code\": \"internal.no_memory\"}}\n";
        r->resp = strdup(oom);
        r->resp_len = r->resp ? sizeof oom - 1 : 0;
        r->status = 500;
    }
}

unsigned
gw_http_status(const koop_error_t *e)
{
    switch (e->id) {
    case KOOP_ERR_SESSION_REQUIRED:
    case KOOP_ERR_SESSION_EXPIRED:
    case KOOP_ERR_SESSION_TOTP_PENDING:
    case KOOP_ERR_ACCOUNT_LOGIN_FAILED:
    case KOOP_ERR_TOTP_INVALID:
        return 401;
    case KOOP_ERR_ACCOUNT_RATE_LIMITED:
        return 429;
    case KOOP_ERR_HTTP_METHOD:
        return 405;
    case KOOP_ERR_HTTP_CONTENT_TYPE:
        return 415;
    default:
        break;
    }
    switch (e->status) {
    case KOOP_OK: return 200;
    case KOOP_INVALID:
    case KOOP_MALFORMED: return 400;
    case KOOP_NOT_FOUND: return 404;
    case KOOP_DENIED: return 403;
    case KOOP_CONFLICT: return 409;
    case KOOP_TOO_LARGE: return 413;
    case KOOP_UNAVAILABLE: return 503;
    case KOOP_DEADLINE: return 504;
    default: return 500;
    }
}

void
gw_answer_error(gw_req_t *r, const koop_error_t *e)
{
    const char *label = e->field[0] ? koop_present_label(e->field, r->lang) : NULL;
    unsigned st = gw_http_status(e);
    if (st >= 500)
        r->gw->m.call_errors++;
    gw_answer_json(r, st, koop_present_error(e, r->lang, label));
}

void
gw_answer_err(gw_req_t *r, koop_err_t id, const char *field, const char *const *args)
{
    koop_error_t e;
    koop_error_set(&e, id, field, args);
    gw_answer_error(r, &e);
}

/* A report asked for with format=csv: the CSV koopctl --csv prints, as a
 * file to save. */
static void
s_answer_csv(gw_req_t *r, const koop_api_method_t *api, const ProtobufCMessage *reply)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        gw_fail(r, INTERNAL_NO_MEMORY, NULL);
        return;
    }
    koop_present_text(api, reply, KOOP_FMT_CSV, r->lang, f);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        gw_fail(r, INTERNAL_NO_MEMORY, NULL);
        return;
    }
    free(r->resp);
    r->resp = buf;
    r->resp_len = len;
    r->status = 200;
    r->content_type = "text/csv; charset=utf-8";
    snprintf(r->disposition, sizeof r->disposition, "attachment; filename=\"%s.csv\"", api->name);
}

void
gw_answer_reply(gw_req_t *r, const koop_api_method_t *api, const ProtobufCMessage *reply)
{
    if (r->csv && (api->flags & KOOP_API_REPORT)) {
        s_answer_csv(r, api, reply);
        return;
    }
    {
        size_t n = 0;
        char *s = koop_present_json_text(api, reply, r->lang, &n);
        gw_answer_text(r, 200, s, n);
    }
}

void
gw_req_release(gw_req_t *r)
{
    free(r->body);
    free(r->resp);
    for (int i = 0; i < GW_MAX_SET_COOKIE; i++)
        free(r->set_cookie[i]);
    if (r->session)
        koop__gw__session__free_unpacked(r->session, NULL);
    free(r->web_state);
    memset(r, 0, sizeof *r);
}

/* ---- the call to a service ---- */

static void
s_on_reply(void *ctx, const koop_reply_t *reply)
{
    gw_req_t *r = ctx;
    r->calling = 0;
    if (reply->status != KOOP_OK) {
        gw_answer_error(r, &reply->err);
    } else {
        ProtobufCMessage *msg = protobuf_c_message_unpack(r->api->reply, NULL, reply->len, reply->payload);
        if (!msg) {
            gw_fail(r, CLI_BAD_REPLY, NULL, r->api->service);
        } else {
            gw_answer_reply(r, r->api, msg);
            protobuf_c_message_free_unpacked(msg, NULL);
        }
    }
    gw_req_answer(r);
}

static void
s_call(gw_req_t *r, const ProtobufCMessage *msg)
{
    gw_t *gw = r->gw;
    const char *ep = koop_config_endpoint(gw->cfg, r->api->service);
    int rc;
    if (!ep) {
        gw_fail(r, HTTP_NO_SERVICE, NULL, r->api->service);
        return;
    }
    gw->m.calls++;
    rc = koop_client_call(gw->client, ep, r->session->person, r->api->name, msg, GW_CALL_TIMEOUT_MS, s_on_reply, r,
                          &r->call_id);
    if (rc != 0) {
        gw_fail(r, SERVICE_UNAVAILABLE, NULL, r->api->service);
        return;
    }
    r->calling = 1;
    gw_req_wait(r);
}

/* ---- steps ---- */

static int
s_query_visit(void *ctx, const char *key, const char *value)
{
    void **c = ctx;
    gw_req_t *r = c[2];
    if (strcmp(key, "lang") == 0)
        return 0; /* the language of the answer, not a field */
    if ((r->api->flags & KOOP_API_REPORT) && strcmp(key, "format") == 0 && value && strcmp(value, "csv") == 0) {
        r->csv = 1; /* a report as CSV, not a field */
        return 0;
    }
    return gw_query_add(c[0], key, value, c[1]);
}

/* The request's fields as one JSON object: path fields, then the query or
 * the body. NULL with *err when the input is not acceptable. */
static json_t *
s_fields(gw_req_t *r, json_t *path_fields, koop_error_t *err)
{
    json_t *obj = path_fields;
    if (r->api->http == KOOP_HTTP_GET || r->api->http == KOOP_HTTP_DELETE) {
        void *c[3] = {obj, err, r};
        if (gw_req_query(r, s_query_visit, c) != 0)
            return NULL;
        return json_incref(obj);
    }
    if (r->body_len) {
        const char *ct = gw_req_header(r, "Content-Type");
        if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
            koop_error_set(err, KOOP_ERR_HTTP_CONTENT_TYPE, NULL, NULL);
            return NULL;
        }
        if (gw_body_merge(obj, r->body, r->body_len, err) != 0) {
            if (err->id != KOOP_ERR_FIELD_TWICE)
                r->gw->m.bad_json++;
            return NULL;
        }
    }
    return json_incref(obj);
}

/* Origin / Sec-Fetch-Site of a state-changing request: the browser says
 * where it comes from; a request from another site is refused. Clients
 * that send neither (scripts) pass here and meet the token check. */
static int
s_same_site(gw_req_t *r, char *why, size_t whylen)
{
    const char *sfs = gw_req_header(r, "Sec-Fetch-Site");
    const char *origin = gw_req_header(r, "Origin");
    const char *host = gw_req_header(r, "Host");
    if (sfs && strcmp(sfs, "same-origin") != 0 && strcmp(sfs, "none") != 0) {
        snprintf(why, whylen, "Sec-Fetch-Site: %.40s", sfs);
        return 0;
    }
    if (origin) {
        const char *o = origin;
        if (r->gw->lim.origin[0] && strcmp(origin, r->gw->lim.origin) == 0)
            return 1;
        if (strncmp(o, "https://", 8) == 0)
            o += 8;
        else if (strncmp(o, "http://", 7) == 0)
            o += 7;
        else
            o = NULL;
        if (!o || !host || strcmp(o, host) != 0) {
            snprintf(why, whylen, "Origin: %.80s", origin);
            return 0;
        }
    }
    return 1;
}

/* Behind the trusted proxy its X-Forwarded-For (the last address) and
 * X-Forwarded-Proto count; from anyone else they are ignored. */
static void
s_forwarded(gw_req_t *r)
{
    const gw_limits_t *l = &r->gw->lim;
    r->secure = l->tls;
    if (l->trusted_proxy[0] && strcmp(r->address, l->trusted_proxy) == 0) {
        const char *xff = gw_req_header(r, "X-Forwarded-For"), *xfp = gw_req_header(r, "X-Forwarded-Proto");
        if (xff) {
            const char *last = strrchr(xff, ',');
            last = last ? last + 1 : xff;
            while (*last == ' ')
                last++;
            if (*last && strlen(last) < sizeof r->address && strspn(last, "0123456789abcdefABCDEF.:") == strlen(last))
                snprintf(r->address, sizeof r->address, "%s", last);
        }
        if (xfp && strcmp(xfp, "https") == 0)
            r->secure = 1;
    }
}

static void
s_api(gw_req_t *r)
{
    gw_t *gw = r->gw;
    json_t *path_fields = json_object(), *fields;
    char allow[64], why[128];
    const gw_route_t *route;
    ProtobufCMessage *msg;
    koop_error_t err;
    int code, web, needs_session;

    route = gw_route_match(&gw->routes, r->method, r->path, path_fields, &code, allow, sizeof allow);
    if (!route) {
        json_decref(path_fields);
        if (code == 405) {
            snprintf(r->allow, sizeof r->allow, "%s", allow);
            gw_fail(r, HTTP_METHOD, NULL, r->method, r->path, allow);
        } else if (code == 400) {
            gw_fail(r, HTTP_PATH, NULL, r->path);
        } else {
            gw_fail(r, HTTP_NOT_FOUND, NULL, r->path);
        }
        return;
    }
    r->api = route->api;
    web = strcmp(r->api->service, "web") == 0;
    needs_session = !web || (r->api->flags & KOOP_API_PERSON);

    {
        koop_err_t se = gw_session_load(r);
        if (needs_session && se != KOOP_ERR_NONE) {
            json_decref(path_fields);
            gw->m.unauthenticated++;
            if (se == KOOP_ERR_SESSION_EXPIRED)
                gw_session_cookie(r, NULL);
            gw_answer_err(r, se, NULL, NULL);
            return;
        }
        if (needs_session && r->session->totp_pending && strcmp(r->api->name, "session.logout") != 0) {
            json_decref(path_fields);
            gw->m.unauthenticated++;
            gw_fail(r, SESSION_TOTP_PENDING, NULL);
            return;
        }
    }
    if (r->api->http != KOOP_HTTP_GET) {
        if (!s_same_site(r, why, sizeof why)) {
            json_decref(path_fields);
            gw->m.csrf_refused++;
            gw_fail(r, CSRF_ORIGIN, NULL, why);
            return;
        }
        if (needs_session) {
            const char *token = gw_req_header(r, "X-CSRF-Token");
            const char *want = r->session->csrf ? r->session->csrf : "";
            if (!token || strlen(token) != strlen(want) || !*want ||
                sodium_memcmp(token, want, strlen(want)) != 0) {
                json_decref(path_fields);
                gw->m.csrf_refused++;
                gw_fail(r, CSRF_TOKEN, NULL);
                return;
            }
        }
    }
    fields = s_fields(r, path_fields, &err);
    json_decref(path_fields);
    if (!fields) {
        gw_answer_error(r, &err);
        return;
    }
    msg = koop_pbjson_from_json(r->api->request, fields, &err);
    json_decref(fields);
    if (!msg) {
        gw_answer_error(r, &err);
        return;
    }
    if (web)
        gw_web_handler(r->api)(r, msg);
    else
        s_call(r, msg);
    protobuf_c_message_free_unpacked(msg, NULL);
}

void
gw_dispatch(gw_req_t *r)
{
    gw_t *gw = r->gw;
    const char *cookie = gw_req_header(r, "Cookie");
    char lang[8];
    int l;

    s_forwarded(r);
    r->lang = gw_lang_of(gw_req_header(r, "Accept-Language"));
    if (cookie && gw_cookie_get(cookie, "lang", lang, sizeof lang) == 0 && (l = koop_lang_parse(lang)) >= 0)
        r->lang = (koop_lang_t)l;
    {
        const char *q = gw_req_arg(r, "lang");
        if (q && (l = koop_lang_parse(q)) >= 0)
            r->lang = (koop_lang_t)l;
    }
    if (strcmp(r->path, "/healthz") == 0 && strcmp(r->method, "GET") == 0) {
        json_t *o = json_object();
        json_object_set_new(o, "status", json_string("ok"));
        json_object_set_new(o, "node", json_string(koop_service_node(gw->svc)));
        gw_answer_json(r, 200, o);
        return;
    }
    if (strcmp(r->path, "/metrics") == 0 && strcmp(r->method, "GET") == 0) {
        size_t len;
        char *text = gw_metrics_text(gw, &len);
        if (text) {
            free(r->resp);
            r->resp = text;
            r->resp_len = len;
            r->status = 200;
            r->content_type = "text/plain; version=0.0.4; charset=utf-8";
        } else {
            gw_fail(r, INTERNAL_NO_MEMORY, NULL);
        }
        return;
    }
    if (strncmp(r->path, "/api/", 5) == 0) {
        s_api(r);
        return;
    }
    gw_static_serve(r);
}
