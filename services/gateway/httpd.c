/*
 * httpd.c - libmicrohttpd in external-epoll mode on the gateway's libuv loop.
 *
 * MHD owns an epoll fd (MHD_DAEMON_INFO_EPOLL_FD) holding the listening
 * socket, every connection and its ITC (the eventfd MHD_resume_connection
 * signals). The loop watches that one fd with uv_poll and runs MHD_run when
 * it is readable and when MHD_get_timeout says (run_timer); a resume kicks
 * run_timer at 0 ms, as MHD's documentation asks (MHD_run after a resume).
 *
 *   connection: STARTED (notify) ── headers ──> access handler (first call:
 *     the request's gw_req_t; a Content-Length over the limit is answered
 *     413 at once and MHD closes the connection) ── body chunks (copied up
 *     to max_body) ──> last call: gw_dispatch
 *        answered now ──> queued
 *        waiting (a service call, a hash) ──> MHD_suspend_connection
 *            ... gw_req_answer ──> MHD_resume_connection, kick ──> access
 *            handler again ──> queued
 *     ── response sent ──> COMPLETED (notify): the gw_req_t is freed
 *
 * Limits given to MHD: connections (total and per address), idle timeout,
 * the memory of a connection (which bounds the header). MHD has no timeout
 * for a whole request (a client sending one byte a second never idles), so
 * a 1 s sweep shuts down the socket of a connection that has not delivered
 * a complete request within request_timeout_s of opening or of its previous
 * response; MHD then closes it. Suspended connections are never swept (the
 * wait is ours, bounded by the call's deadline).
 *
 * When the port is taken the gateway keeps serving its ROUTER (accounts) and
 * tries to bind again every second, saying so once in its log.
 */
#include "gateway.h"
#include "clock.h"
#include "say.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct s_conn {
    struct s_conn *prev, *next;
    int fd;
    uint64_t since_ms;  /* opened, or its previous response completed */
    int dispatched;     /* a complete request is being answered */
    gw_req_t *req;
} s_conn;

struct gw_httpd {
    gw_t *gw;
    struct MHD_Daemon *d;
    uv_poll_t poll;
    uv_timer_t run_timer;
    uv_timer_t sweep;
    int handles; /* poll initialised */
    s_conn *conns;
    int bind_failed_logged;
    uint64_t sweeps;
};

static void s_run(gw_httpd_t *h);

static void
s_on_timer(uv_timer_t *t)
{
    s_run(t->data);
}

static void
s_kick(gw_httpd_t *h)
{
    uv_timer_start(&h->run_timer, s_on_timer, 0, 0);
}

static void
s_run(gw_httpd_t *h)
{
    MHD_UNSIGNED_LONG_LONG t;
    if (!h->d)
        return;
    MHD_run(h->d);
    if (MHD_get_timeout(h->d, &t) == MHD_YES)
        uv_timer_start(&h->run_timer, s_on_timer, t, 0);
    else
        uv_timer_stop(&h->run_timer);
}

static void
s_on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    s_run(p->data);
}

/* ---- requests ---- */

const char *
gw_req_header(gw_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
gw_req_arg(gw_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct {
    int (*fn)(void *ctx, const char *key, const char *value);
    void *ctx;
    int rc;
} s_query_ctx;

static enum MHD_Result
s_query_visit(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    s_query_ctx *q = cls;
    (void)kind;
    q->rc = q->fn(q->ctx, key, value);
    return q->rc == 0 ? MHD_YES : MHD_NO;
}

int
gw_req_query(gw_req_t *r, int (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
    s_query_ctx q = {fn, ctx, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, s_query_visit, &q);
    return q.rc;
}

void
gw_req_wait(gw_req_t *r)
{
    r->state = GW_REQ_WAITING;
}

void
gw_req_answer(gw_req_t *r)
{
    int was_waiting = r->state == GW_REQ_WAITING;
    r->state = GW_REQ_READY;
    if (was_waiting && r->suspended) {
        r->suspended = 0;
        r->gw->m.suspended--;
        MHD_resume_connection(r->conn);
        s_kick(r->gw->httpd);
    }
}

/* Headers every answer has: no caching of API answers (a web UI file says
 * its own), the content security policy (no inline script or style, no
 * framing) and its companions. */
static void
s_security_headers(struct MHD_Response *resp, const char *cache_control)
{
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(resp, "Cache-Control", cache_control ? cache_control : "no-store");
}

static enum MHD_Result
s_queue(gw_req_t *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ok;
    if (!r->resp && r->status != 304) {
        koop_error_t e;
        koop_error_set(&e, KOOP_ERR_INTERNAL_NO_MEMORY, NULL, NULL);
        gw_answer_error(r, &e);
    }
    resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return MHD_NO; /* MHD closes the connection */
    r->resp = NULL;
    s_security_headers(resp, r->cache_control);
    if (r->etag[0])
        MHD_add_response_header(resp, "ETag", r->etag);
    if (r->status != 304)
        MHD_add_response_header(resp, "Content-Type",
                                r->content_type ? r->content_type : "application/json; charset=utf-8");
    for (int i = 0; i < GW_MAX_SET_COOKIE; i++)
        if (r->set_cookie[i])
            MHD_add_response_header(resp, "Set-Cookie", r->set_cookie[i]);
    if (r->disposition[0])
        MHD_add_response_header(resp, "Content-Disposition", r->disposition);
    if (r->retry_after[0])
        MHD_add_response_header(resp, "Retry-After", r->retry_after);
    if (r->allow[0])
        MHD_add_response_header(resp, "Allow", r->allow);
    ok = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    gw_metrics_observe(r->gw, r->status, koop_clock_mono_us() - r->start_us);
    r->state = GW_REQ_QUEUED;
    return ok;
}

static s_conn *
s_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void
s_address(struct MHD_Connection *conn, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, outlen, "?");
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)ci->client_addr)->sin_addr, out, (socklen_t)outlen);
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ci->client_addr)->sin6_addr, out, (socklen_t)outlen);
}

static enum MHD_Result
s_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
         const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    gw_t *gw = cls;
    gw_req_t *r = *con_cls;
    s_conn *c = s_conn_of(conn);
    (void)version;
    (void)upload_data;

    if (!r) {
        const char *cl;
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->gw = gw;
        r->conn = conn;
        r->start_us = koop_clock_mono_us();
        if (c)
            c->req = r;
        s_address(conn, r->address, sizeof r->address);
        snprintf(r->method, sizeof r->method, "%s", strlen(method) < sizeof r->method ? method : "?");
        if (strlen(url) >= sizeof r->path) {
            gw_fail(r, HTTP_PATH, NULL, "…");
            return s_queue(r);
        }
        snprintf(r->path, sizeof r->path, "%s", url);
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > gw->lim.max_body) {
            /* answered before the body is read: MHD discards it and closes */
            gw->m.body_too_large++;
            gw_fail(r, HTTP_BODY_TOO_LARGE, NULL, KOOP_NUM(gw->lim.max_body));
            return s_queue(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->body_too_large)
            return MHD_YES;
        if (r->body_len + n > gw->lim.max_body) {
            /* a chunked body past the limit: the rest is read and dropped */
            r->body_too_large = 1;
            free(r->body);
            r->body = NULL;
            r->body_len = 0;
            return MHD_YES;
        }
        {
            char *grown = realloc(r->body, r->body_len + n + 1);
            if (!grown)
                return MHD_NO;
            r->body = grown;
            memcpy(r->body + r->body_len, upload_data, n);
            r->body_len += n;
            r->body[r->body_len] = '\0';
        }
        return MHD_YES;
    }
    switch (r->state) {
    case GW_REQ_RECEIVING:
        if (c)
            c->dispatched = 1;
        if (r->body_too_large) {
            gw->m.body_too_large++;
            gw_fail(r, HTTP_BODY_TOO_LARGE, NULL, KOOP_NUM(gw->lim.max_body));
            return s_queue(r);
        }
        gw_dispatch(r);
        if (r->state == GW_REQ_WAITING) {
            MHD_suspend_connection(conn);
            r->suspended = 1;
            gw->m.suspended++;
            return MHD_YES;
        }
        return s_queue(r);
    case GW_REQ_READY:
        return s_queue(r);
    default:
        return MHD_YES;
    }
}

static void
s_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    gw_t *gw = cls;
    gw_req_t *r = *con_cls;
    s_conn *c = s_conn_of(conn);
    (void)toe;
    if (c) {
        c->req = NULL;
        c->dispatched = 0;
        c->since_ms = koop_clock_mono_ms();
    }
    if (!r)
        return;
    if (r->calling)
        koop_client_cancel(gw->client, r->call_id);
    gw_login_forget(r);
    gw_req_release(r);
    free(r);
    *con_cls = NULL;
}

static void
s_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode toe)
{
    gw_t *gw = cls;
    gw_httpd_t *h = gw->httpd;
    s_conn *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof *c);
        if (!c)
            return; /* not swept for the request timeout; MHD's idle timeout still applies */
        c->fd = ci ? ci->connect_fd : -1;
        c->since_ms = koop_clock_mono_ms();
        c->next = h->conns;
        if (h->conns)
            h->conns->prev = c;
        h->conns = c;
        *socket_context = c;
        gw->m.connections_open++;
        gw->m.connections_total++;
    } else if (c) {
        if (c->prev)
            c->prev->next = c->next;
        else
            h->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        free(c);
        *socket_context = NULL;
        gw->m.connections_open--;
    }
}

static void
s_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    koop_debug("http: %s", msg);
}

/* ---- the daemon ---- */

static int
s_bind(gw_httpd_t *h)
{
    gw_t *gw = h->gw;
    const gw_limits_t *l = &gw->lim;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
    char port[8];
    const union MHD_DaemonInfo *di;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    int rc;

    snprintf(port, sizeof port, "%d", l->port);
    if ((rc = getaddrinfo(l->host, port, &hints, &ai)) != 0 || !ai) {
        koop_error("[gateway] listen: nieznany adres %s (%s)", l->host, gai_strerror(rc));
        return -EINVAL;
    }
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, (uint16_t)l->port, NULL, NULL, s_access, gw,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                            MHD_OPTION_CONNECTION_LIMIT, l->max_connections,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, l->per_ip_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, l->idle_timeout_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, l->max_header,
                            MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
                            MHD_OPTION_NOTIFY_COMPLETED, s_completed, gw,
                            MHD_OPTION_NOTIFY_CONNECTION, s_notify_connection, gw,
                            MHD_OPTION_EXTERNAL_LOGGER, s_logger, gw,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        if (!h->bind_failed_logged)
            koop_error("nie można nasłuchiwać HTTP na %s:%d (%s); ponawiam co sekundę", l->host, l->port,
                       strerror(errno));
        h->bind_failed_logged = 1;
        return -errno;
    }
    di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di || uv_poll_init(koop_service_loop(gw->svc), &h->poll, di->epoll_fd) != 0) {
        MHD_stop_daemon(h->d);
        h->d = NULL;
        return -EIO;
    }
    h->poll.data = h;
    h->handles = 1;
    uv_poll_start(&h->poll, UV_READABLE, s_on_poll);
    koop_info("HTTP na %s:%d", l->host, l->port);
    s_run(h);
    return 0;
}

/* Every second: bind if not yet bound; end requests past their time. */
static void
s_on_sweep(uv_timer_t *t)
{
    gw_httpd_t *h = t->data;
    uint64_t now = koop_clock_mono_ms(), limit = (uint64_t)h->gw->lim.request_timeout_s * 1000;
    int any = 0;
    if (!h->d) {
        s_bind(h);
        return;
    }
    for (s_conn *c = h->conns; c; c = c->next) {
        if (c->dispatched || c->fd < 0 || now - c->since_ms <= limit)
            continue;
        /* MHD sees the socket end and closes the connection */
        shutdown(c->fd, SHUT_RDWR);
        c->since_ms = now; /* once */
        h->gw->m.request_timeouts++;
        any = 1;
    }
    if (any)
        s_kick(h);
    if (++h->sweeps % 60 == 0)
        gw_session_sweep(h->gw);
}

int
gw_httpd_start(gw_t *gw)
{
    gw_httpd_t *h = calloc(1, sizeof *h);
    uv_loop_t *loop = koop_service_loop(gw->svc);
    if (!h)
        return -ENOMEM;
    h->gw = gw;
    gw->httpd = h;
    uv_timer_init(loop, &h->run_timer);
    h->run_timer.data = h;
    uv_timer_init(loop, &h->sweep);
    h->sweep.data = h;
    uv_timer_start(&h->sweep, s_on_sweep, 1000, 1000);
    if (s_bind(h) == -EINVAL)
        return -EINVAL;
    return 0; /* bound, or retried by the sweep */
}

static void
s_on_closed(uv_handle_t *hd)
{
    gw_httpd_t *h = hd->data;
    if (--h->handles == 0)
        free(h);
}

void
gw_httpd_stop(gw_t *gw)
{
    gw_httpd_t *h = gw->httpd;
    if (!h)
        return;
    if (h->d) {
        /* MHD may not be stopped with suspended connections: answer them */
        for (s_conn *c = h->conns; c; c = c->next) {
            gw_req_t *r = c->req;
            if (!r || r->state != GW_REQ_WAITING)
                continue;
            if (r->calling) {
                koop_client_cancel(gw->client, r->call_id);
                r->calling = 0;
            }
            gw_login_forget(r);
            gw_fail(r, HTTP_BUSY, NULL);
            gw_req_answer(r);
        }
        MHD_run(h->d);
        uv_poll_stop(&h->poll);
        MHD_stop_daemon(h->d);
        h->d = NULL;
    }
    uv_timer_stop(&h->run_timer);
    uv_timer_stop(&h->sweep);
    h->handles += 2; /* + poll, counted at bind */
    uv_close((uv_handle_t *)&h->run_timer, s_on_closed);
    uv_close((uv_handle_t *)&h->sweep, s_on_closed);
    if (h->handles == 3)
        uv_close((uv_handle_t *)&h->poll, s_on_closed);
    else
        h->handles = 2;
    gw->httpd = NULL;
}
