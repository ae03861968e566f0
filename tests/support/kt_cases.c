#include "kt_cases.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "client.h"

#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 48

static int
s_as_v(kt_run_t *r, kt_gmina_t *g, const char *as, va_list ap)
{
    char exe[PATH_MAX + 16];
    char *argv[MAX_ARGS + 8];
    const char *a;
    int k = 0;

    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    argv[k++] = exe;
    argv[k++] = "-c";
    argv[k++] = g->node.conf;
    argv[k++] = "--json";
    if (as) {
        argv[k++] = "--as";
        argv[k++] = (char *)as;
    }
    while ((a = va_arg(ap, const char *)) != NULL && k < MAX_ARGS)
        argv[k++] = (char *)a;
    argv[k] = NULL;
    return kt_exec(r, argv);
}

int
kt_as(kt_run_t *r, kt_gmina_t *g, const char *as, ...)
{
    va_list ap;
    int rc;
    va_start(ap, as);
    rc = s_as_v(r, g, as, ap);
    va_end(ap);
    return rc;
}

char *
kt_as_id(kt_gmina_t *g, const char *as, ...)
{
    kt_run_t r;
    va_list ap;
    char *id = NULL;
    va_start(ap, as);
    s_as_v(&r, g, as, ap);
    va_end(ap);
    if (r.code == 0 && json_is_object(r.json) && json_is_string(json_object_get(r.json, "id")))
        id = strdup(json_string_value(json_object_get(r.json, "id")));
    else
        fprintf(stderr, "kt_as_id: exit %d: %s%s\n", r.code, r.err, r.out);
    kt_run_free(&r);
    return id;
}

int
kt_gmina_setup(kt_gmina_t *g)
{
    memset(g, 0, sizeof *g);
    if (kt_node_init(&g->node, "gmina", "2013032", "Kobylin-Borzymy", NULL) != 0 || kt_node_start(&g->node, 20) != 0)
        return -1;
    g->gops = kt_ctl_id(&g->node, "institution", "add", "--name", "GOPS", "--sector", "social_assistance", "--level",
                        "gmina", NULL);
    g->kpp = kt_ctl_id(&g->node, "institution", "add", "--name", "KPP", "--sector", "police", "--level", "powiat", NULL);
    g->pcpr = kt_ctl_id(&g->node, "institution", "add", "--name", "PCPR", "--sector", "family_support", "--level",
                        "powiat", NULL);
    if (!g->gops || !g->kpp || !g->pcpr)
        return -1;
    g->sw = kt_ctl_id(&g->node, "person", "add", "--name", "Anna Nowak", "--institution", g->gops, "--role",
                      "social_worker", NULL);
    g->sw2 = kt_ctl_id(&g->node, "person", "add", "--name", "Beata Kowal", "--institution", g->gops, "--role",
                       "social_worker", NULL);
    g->cop = kt_ctl_id(&g->node, "person", "add", "--name", "Jan Dzielnicowy", "--institution", g->kpp, "--role",
                       "police_officer", NULL);
    g->coord = kt_ctl_id(&g->node, "person", "add", "--name", "Ewa Koordynator", "--institution", g->gops, "--role",
                         "coordinator", NULL);
    g->outsider = kt_ctl_id(&g->node, "person", "add", "--name", "Obcy Urzędnik", "--institution", g->kpp, "--role",
                            "other", NULL);
    g->service = kt_ctl_id(&g->node, "service", "add", "--name", "Poradnictwo rodzinne", "--provider", g->pcpr,
                           "--target", "families", "--category", "counselling", NULL);
    return g->sw && g->sw2 && g->cop && g->coord && g->outsider && g->service ? 0 : -1;
}

void
kt_gmina_teardown(kt_gmina_t *g)
{
    kt_node_destroy(&g->node);
    free(g->gops);
    free(g->kpp);
    free(g->pcpr);
    free(g->sw);
    free(g->sw2);
    free(g->cop);
    free(g->coord);
    free(g->outsider);
    free(g->service);
}

char *
kt_consent(kt_gmina_t *g, const char *as, const char *household, const char *date)
{
    char share[3 * 40];
    snprintf(share, sizeof share, "%s,%s,%s", g->gops, g->kpp, g->pcpr);
    return kt_as_id(g, as, "consent", "record", "--household", household, "--purpose", "Zgoda na współpracę w ZZK",
                    "--share-with", share, "--date", date, NULL);
}

char *
kt_open_ipw(kt_gmina_t *g, const char *as, const char *opened, char **household)
{
    char *hh = kt_as_id(g, as, "household", "add", "--name", "Rodzina Testowa", "--size", "3", NULL);
    char *consent = hh ? kt_consent(g, as, hh, opened) : NULL;
    char *ipw = consent ? kt_as_id(g, as, "ipw", "open", "--household", hh, "--coordinator", as, "--opened", opened, NULL)
                        : NULL;
    free(consent);
    if (household)
        *household = hh;
    else
        free(hh);
    return ipw;
}

/* kt_request, also giving the reply's error (when error is not NULL). */
static int
s_request(kt_node_t *n, const char *service, const char *caller, const char *method, const ProtobufCMessage *req,
          int timeout_ms, uint8_t **payload, size_t *len, koop_error_t *error)
{
    koop_config_t cfg;
    char err[600];
    koop_rpc_client_t *c;
    koop_reply_t reply;
    int st = -1;

    if (payload)
        *payload = NULL;
    if (len)
        *len = 0;
    if (error)
        koop_error_clear(error);
    if (koop_config_load(&cfg, n->conf, err, sizeof err) != 0)
        return -1;
    c = koop_rpc_client_new(koop_config_endpoint(&cfg, service));
    if (!c)
        return -1;
    if (koop_rpc_call(c, caller, method, req, timeout_ms, &reply) == 0) {
        st = reply.status;
        if (payload) {
            *payload = reply.payload;
            reply.payload = NULL;
        }
        if (len)
            *len = reply.len;
        if (error)
            *error = reply.err;
        koop_reply_clear(&reply);
    }
    koop_rpc_client_destroy(&c);
    return st;
}

int
kt_request(kt_node_t *n, const char *service, const char *caller, const char *method,
           const ProtobufCMessage *req, int timeout_ms, uint8_t **payload, size_t *len)
{
    return s_request(n, service, caller, method, req, timeout_ms, payload, len, NULL);
}

int
kt_request_refused(kt_node_t *n, const char *service, const char *caller, const char *method,
                   const ProtobufCMessage *req, const char *code, const char *field)
{
    koop_error_t e;
    char what[160];
    int st = s_request(n, service, caller, method, req, 5000, NULL, NULL, &e);
    snprintf(what, sizeof what, "%s %s (as %s)", service, method, caller ? caller : "nobody");
    kt_err_is(what, e.code, e.field, code, field);
    return st;
}

long
kt_events(kt_node_t *n, const char *stream, int shared_only, kt_event_t **out)
{
    kt_event_t *ev = NULL;
    long count = 0, cap = 0;
    uint64_t after = 0;

    *out = NULL;
    for (;;) {
        Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
        Koop__FeedBatch *b;
        uint8_t *payload;
        size_t len;
        q.stream = (char *)stream;
        q.has_after_seq = 1;
        q.after_seq = after;
        q.has_max = 1;
        q.max = 1000;
        q.has_shared_only = 1;
        q.shared_only = shared_only;
        if (kt_request(n, stream, NULL, "feed.fetch", &q.base, 5000, &payload, &len) != 0)
            goto fail;
        b = koop__feed_batch__unpack(NULL, len, payload);
        free(payload);
        if (!b)
            goto fail;
        for (size_t i = 0; i < b->n_events; i++) {
            Koop__Event *e = koop__event__unpack(NULL, b->events[i].len, b->events[i].data);
            kt_event_t *x;
            if (!e)
                continue;
            if (count == cap) {
                cap = cap ? cap * 2 : 256;
                ev = realloc(ev, (size_t)cap * sizeof *ev);
            }
            x = &ev[count++];
            memset(x, 0, sizeof *x);
            x->seq = e->seq;
            x->scope = e->scope;
            snprintf(x->type, sizeof x->type, "%s", e->type ? e->type : "");
            x->len = b->events[i].len;
            x->bytes = malloc(x->len + e->payload.len + 1);
            memcpy(x->bytes, b->events[i].data, x->len);
            x->payload = x->bytes + x->len;
            if (e->payload.len)
                memcpy(x->payload, e->payload.data, e->payload.len);
            x->payload_len = e->payload.len;
            after = e->seq;
            koop__event__free_unpacked(e, NULL);
        }
        size_t got = b->n_events;
        koop__feed_batch__free_unpacked(b, NULL);
        if (got == 0)
            break;
    }
    *out = ev;
    return count;
fail:
    kt_events_free(ev, count);
    return -1;
}

void
kt_events_free(kt_event_t *ev, long n)
{
    for (long i = 0; i < n; i++)
        free(ev[i].bytes);
    free(ev);
}

int
kt_contains(const uint8_t *hay, size_t hay_len, const char *needle)
{
    return memmem(hay, hay_len, needle, strlen(needle)) != NULL;
}

const char *
kt_str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

void
kt_ok(kt_run_t *r, const char *what)
{
    cr_assert_eq(r->code, 0, "%s failed: %s", what, r->err);
    kt_run_free(r);
}
