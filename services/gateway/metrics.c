/*
 * metrics.c - the gateway's counters as Prometheus text (GET /metrics): no
 * login needed, so nothing here names a person, a login, an address or a
 * record; routes are not labelled (counts by status class only).
 */
#include "gateway.h"

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
