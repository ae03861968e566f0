/*
 * metrics.c - the gateway's counters as Prometheus text (GET /metrics): no
 * login needed, so nothing here names a person, a login, an address or a
 * record; routes are not labelled (counts by status class only). The
 * node's services are asked for theirs (sys.ping) every
 * GW_SERVICES_POLL_MS, so /metrics answers at once with the last answers.
 */
#include "gateway.h"
#include "envelope.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double s_bounds[12] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

void
gw_metrics_observe(gw_t *gw, unsigned status, uint64_t micros)
{
    double s = (double)micros / 1e6;
    size_t b = 0;
    if (status >= 100 && status < 600)
        gw->m.requests[status / 100]++;
    while (b < KOOP_ARRAY_LEN(s_bounds) && s > s_bounds[b])
        b++;
    if (b < KOOP_ARRAY_LEN(s_bounds))
        gw->m.latency_buckets[b]++;
    gw->m.latency_count++;
    gw->m.latency_sum_s += s;
}

/* The number of entries of a table (0 when it cannot be read). */
static size_t
s_entries(gw_t *gw, MDB_dbi dbi)
{
    MDB_txn *txn;
    MDB_stat st;
    size_t n = 0;
    if (koop_store_read(gw->store, &txn) != 0)
        return 0;
    if (mdb_stat(txn, dbi, &st) == 0)
        n = st.ms_entries;
    mdb_txn_abort(txn);
    return n;
}

static void
s_on_pong(void *ctx, const koop_reply_t *reply)
{
    struct gw_service_count *c = ctx;
    Koop__Pong *p = reply->status == KOOP_OK ? koop__pong__unpack(NULL, reply->len, reply->payload) : NULL;
    c->asking = 0;
    c->answered = p != NULL;
    if (p) {
        c->events_refused = p->events_refused;
        koop__pong__free_unpacked(p, NULL);
    }
}

/* Asks every service that is not still answering the last question. */
static void
s_poll(uv_timer_t *t)
{
    gw_t *gw = t->data;
    for (int i = 0; i < gw->m.nservices; i++) {
        if (gw->m.services[i].asking)
            continue;
        if (koop_client_call(gw->client, koop_config_endpoint(gw->cfg, gw->m.services[i].name), NULL, "sys.ping",
                             NULL, GW_SERVICES_POLL_MS / 2, s_on_pong, &gw->m.services[i],
                             &gw->m.services[i].call_id) == 0)
            gw->m.services[i].asking = 1;
    }
}

char *
gw_metrics_text(gw_t *gw, size_t *len)
{
    const gw_metrics_t *m = &gw->m;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    uint64_t cum = 0;
    const struct {
        const char *name, *help;
        uint64_t value;
    } counters[] = {
        {"logins_total", "Successful logins.", m->logins_ok},
        {"login_failures_total", "Failed login attempts (wrong password, unknown login, refused).", m->logins_failed},
        {"login_totp_failures_total", "Wrong or replayed one-time codes.", m->logins_totp_failed},
        {"login_rate_limited_total", "Login attempts refused by the rate limits.", m->logins_limited},
        {"logouts_total", "Logouts.", m->logouts},
        {"sessions_expired_total", "Sessions found expired.", m->sessions_expired},
        {"csrf_refused_total", "State-changing requests refused (token or origin).", m->csrf_refused},
        {"unauthenticated_total", "API requests without a valid session.", m->unauthenticated},
        {"body_too_large_total", "Requests refused for their body size.", m->body_too_large},
        {"bad_json_total", "Request bodies that were not acceptable JSON.", m->bad_json},
        {"request_timeouts_total", "Connections closed for not sending a request in time.", m->request_timeouts},
        {"busy_total", "Logins refused because the hashing queue was full.", m->busy},
        {"service_calls_total", "Calls made to the node's services.", m->calls},
        {"errors_5xx_answers_total", "Answers with a server-side error.", m->call_errors},
        {"connections_total", "Connections accepted.", m->connections_total},
    };
    const struct {
        const char *name, *help;
        double value;
    } gauges[] = {
        {"connections_open", "Open connections.", m->connections_open},
        {"connections_suspended", "Connections waiting for a service or a hash.", m->suspended},
        {"hashes_running", "Password hashes being computed.", m->hashes_running},
        {"hashes_queued", "Logins waiting for a hashing thread.", m->hashes_queued},
        {"sessions", "Sessions in the store (live or not yet swept).", (double)s_entries(gw, gw->dbi_sessions)},
        {"accounts", "Accounts.", (double)s_entries(gw, gw->dbi_accounts)},
    };
    if (!f)
        return NULL;
    fprintf(f, "# HELP koop_events_refused_total Events from outside a service refused by it since it started "
               "(undecodable, or changing a record their node does not own), by service.\n"
               "# TYPE koop_events_refused_total counter\n");
    for (int i = 0; i < m->nservices; i++)
        if (m->services[i].answered)
            fprintf(f, "koop_events_refused_total{service=\"%s\"} %llu\n", m->services[i].name,
                    (unsigned long long)m->services[i].events_refused);
    fprintf(f, "# HELP koop_gateway_http_requests_total HTTP answers by status class.\n"
               "# TYPE koop_gateway_http_requests_total counter\n");
    for (int c = 1; c <= 5; c++)
        fprintf(f, "koop_gateway_http_requests_total{code=\"%dxx\"} %llu\n", c, (unsigned long long)m->requests[c]);
    fprintf(f, "# HELP koop_gateway_http_request_duration_seconds Time from the request's headers to its answer.\n"
               "# TYPE koop_gateway_http_request_duration_seconds histogram\n");
    for (size_t b = 0; b < KOOP_ARRAY_LEN(s_bounds); b++) {
        cum += m->latency_buckets[b];
        fprintf(f, "koop_gateway_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", s_bounds[b],
                (unsigned long long)cum);
    }
    fprintf(f, "koop_gateway_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)m->latency_count);
    fprintf(f, "koop_gateway_http_request_duration_seconds_sum %.6f\n", m->latency_sum_s);
    fprintf(f, "koop_gateway_http_request_duration_seconds_count %llu\n", (unsigned long long)m->latency_count);
    for (size_t i = 0; i < KOOP_ARRAY_LEN(counters); i++)
        fprintf(f, "# HELP koop_gateway_%s %s\n# TYPE koop_gateway_%s counter\nkoop_gateway_%s %llu\n",
                counters[i].name, counters[i].help, counters[i].name, counters[i].name,
                (unsigned long long)counters[i].value);
    for (size_t i = 0; i < KOOP_ARRAY_LEN(gauges); i++)
        fprintf(f, "# HELP koop_gateway_%s %s\n# TYPE koop_gateway_%s gauge\nkoop_gateway_%s %g\n", gauges[i].name,
                gauges[i].help, gauges[i].name, gauges[i].name, gauges[i].value);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void
s_free_timer(uv_handle_t *h)
{
    free(h);
}

int
gw_metrics_start(gw_t *gw)
{
    const char *names[KOOP_MAX_SERVICES];
    int n = koop_config_services(gw->cfg, names);
    gw->m.nservices = 0;
    for (int i = 0; i < n; i++) {
        struct gw_service_count *c = &gw->m.services[gw->m.nservices++];
        memset(c, 0, sizeof *c);
        c->gw = gw;
        c->name = names[i];
    }
    if (!(gw->services_poll = calloc(1, sizeof *gw->services_poll)))
        return -ENOMEM;
    uv_timer_init(koop_service_loop(gw->svc), gw->services_poll);
    gw->services_poll->data = gw;
    return uv_timer_start(gw->services_poll, s_poll, 0, GW_SERVICES_POLL_MS);
}

void
gw_metrics_stop(gw_t *gw)
{
    for (int i = 0; i < gw->m.nservices; i++)
        if (gw->m.services[i].asking)
            (void)koop_client_cancel(gw->client, gw->m.services[i].call_id);
    gw->m.nservices = 0;
    if (gw->services_poll) {
        uv_timer_stop(gw->services_poll);
        uv_close((uv_handle_t *)gw->services_poll, s_free_timer);
        gw->services_poll = NULL;
    }
}
