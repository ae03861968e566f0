/*
 * Nothing from outside is trusted (issue 15, phase 2), with real nodes:
 *  - the hub decodes every event of a batch in full before it stores any:
 *    an envelope with a valid head and then a payload field of the wrong
 *    wire type, a payload with an overlong varint, a 6-byte tag - all of
 *    which its old hand-written scanner took - refuse the whole batch with
 *    a code naming the event, and nothing of it is stored;
 *  - a gmina whose own log holds an event the hub refuses holds that
 *    stream, says why, and does not send it again and again;
 *  - an enrolled gmina that rewrites the hub's institution (and another
 *    gmina's) leaves the other gmina's figures at the hub as they were:
 *    refused by the hub's reporting, counted in `report status`, `koopctl
 *    status` and the gateway's /metrics;
 *  - the hub sends down only what is its own (or its hub's) to send;
 *  - a gmina's registry refuses a hub's Down that would change a record of
 *    the gmina, whole, and its uplink holds the down-flow;
 *  - the consumers of a node's own logs (the cases copy, the notifier,
 *    reporting) refuse records another node owns.
 */
#include "kt_http.h"
#include "kt_link.h"
#include "kt_report.h"
#include "kt_sync.h"
#include "envelope.pb-c.h"
#include "id.h"
#include "registry.pb-c.h"
#include "store.h"
#include "../../services/sync/sync.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static kt_node_t hub, ga, gb;
static int port;

static void
s_fini(void)
{
    int reports = kt_node_destroy(&ga) + kt_node_destroy(&gb) + kt_node_destroy(&hub);
    cr_expect_eq(reports, 0, "the nodes' processes reported sanitizer errors");
}

TestSuite(trust, .fini = s_fini, .timeout = 180);

/* A hub and gminas A (and B when two) enrolled on it; nothing started. */
static void
s_tree(int two)
{
    port = 0;
    cr_assert_eq(kt_hub_init(&hub, "2013", "Powiat wysokomazowiecki", &port), 0);
    cr_assert_eq(kt_gmina_init(&ga, "2013032", "Kobylin-Borzymy", port, &hub), 0);
    cr_assert_eq(kt_enrol(&hub, &ga), 0);
    if (two) {
        cr_assert_eq(kt_gmina_init(&gb, "2013042", "Wysokie Mazowieckie", port, &hub), 0);
        cr_assert_eq(kt_enrol(&hub, &gb), 0);
    }
}

static json_t *
s_json(kt_node_t *n, ...)
{
    kt_run_t r;
    char exe[PATH_MAX + 16];
    char *argv[32];
    const char *a;
    va_list ap;
    int k = 0;
    json_t *j;
    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    argv[k++] = exe;
    argv[k++] = "-c";
    argv[k++] = n->conf;
    argv[k++] = "--json";
    va_start(ap, n);
    while ((a = va_arg(ap, const char *)) != NULL && k < 30)
        argv[k++] = (char *)a;
    va_end(ap);
    argv[k] = NULL;
    cr_assert_eq(kt_exec(&r, argv), 0);
    cr_assert_eq(r.code, 0, "koopctl %s %s: %s", argv[4], k > 5 ? argv[5] : "", r.err);
    j = json_incref(r.json);
    kt_run_free(&r);
    return j;
}

/* `koopctl status`: the events_refused of one service. */
static long
s_refused(kt_node_t *n, const char *service)
{
    json_t *st = s_json(n, "status", NULL), *svcs = json_object_get(st, "services");
    long v = -1;
    for (size_t i = 0; i < json_array_size(svcs); i++) {
        json_t *s = json_array_get(svcs, i);
        if (strcmp(json_string_value(json_object_get(s, "name")), service) == 0)
            v = (long)json_integer_value(json_object_get(s, "events_refused"));
    }
    json_decref(st);
    return v;
}

/* Waits (up to timeout_s) until a service of n has refused at least want events. */
static long
s_wait_refused(kt_node_t *n, const char *service, long want, int timeout_s)
{
    long v = -1;
    for (int i = 0; i < timeout_s * 5 && (v = s_refused(n, service)) < want; i++)
        kt_sleep_ms(200);
    return v;
}

/* ---- malformed events at the hub ---- */

/* An envelope's head as a real producer writes it: node, stream, seq, id,
 * time, scope SHARED, type. */
static size_t
s_head(uint8_t *out, const char *node, uint64_t seq)
{
    return kt_link_event(out, 512, node, "registry", seq, KOOP__SCOPE__SCOPE_SHARED, "institution.added", NULL);
}

/* A good event: an institution of `node`. */
static size_t
s_good(uint8_t *out, const char *node, uint64_t seq)
{
    Koop__Reg__Institution in = KOOP__REG__INSTITUTION__INIT;
    char id[KOOP_ID_LEN];
    koop_id_new(id);
    in.id = id;
    in.owner = (char *)node;
    in.name = "Szkoła Podstawowa";
    return kt_link_event(out, 512, node, "registry", seq, KOOP__SCOPE__SCOPE_SHARED, "institution.added", &in.base);
}

/* The batch [good seq 1, bad seq 2] is refused whole with `code` naming
 * event 2, and the hub still holds nothing of node's registry stream. */
static void
s_refused_whole(kt_link_t *l, const char *node, const uint8_t *bad, size_t bad_len, const char *code)
{
    uint8_t good[512];
    const uint8_t *ev[2] = {good, bad};
    size_t len[2] = {s_good(good, node, 1), bad_len};
    sync_event_head_t h;
    Koop__Sync__Frame *rep;
    uint64_t seq = 99;
    char log_id[64];
    json_t *list;

    /* what the hub's old scanner of heads accepted */
    cr_assert_eq(sync_event_head(bad, bad_len, &h), 0, "%s: not a case the head scanner took", code);
    rep = kt_link_batch(l, "registry", 0, ev, len, 2);
    cr_assert_not_null(rep, "%s: the hub did not answer", code);
    cr_assert_eq(rep->body_case, KOOP__SYNC__FRAME__BODY_REFUSE, "%s: the batch was taken", code);
    cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_MALFORMED);
    cr_assert_str_eq(rep->refuse->error, code);
    cr_assert(rep->refuse->has_event_seq && rep->refuse->event_seq == 2, "%s: refused event %llu", code,
              (unsigned long long)rep->refuse->event_seq);
    cr_assert_geq(rep->refuse->n_error_args, 2);
    cr_assert_str_eq(rep->refuse->error_args[0], "2");
    cr_assert_str_eq(rep->refuse->error_args[1], "registry");
    koop__sync__frame__free_unpacked(rep, NULL);
    cr_assert_eq(kt_link_position(&hub, node, "registry", &seq, log_id), 0);
    cr_assert_eq(seq, 0, "%s: the hub stored part of a refused batch", code);
    list = s_json(&hub, "events", "list", "--node", node, "--stream", "registry", NULL);
    cr_assert_eq(json_array_size(list), 0, "%s: the hub holds events of a refused batch", code);
    json_decref(list);
}

Test(trust, hub_refuses_whole_batches_with_events_its_code_cannot_read)
{
    const char *node = "gmina-2013032";
    uint8_t bad[512];
    size_t n;
    kt_link_t *l;
    Koop__Sync__Frame *rep;
    json_t *st;

    s_tree(0);
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    cr_assert_not_null(l = kt_link_open(&ga, &hub, port));
    rep = kt_link_hello(l, node, "registry", "log-a", 0);
    cr_assert(rep && rep->body_case == KOOP__SYNC__FRAME__BODY_WELCOME, "no WELCOME");
    koop__sync__frame__free_unpacked(rep, NULL);

    /* a valid head, then the payload (field 9, bytes) as a varint */
    n = s_head(bad, node, 2);
    bad[n++] = 0x48;
    bad[n++] = 0x07;
    s_refused_whole(l, node, bad, n, "sync.event_envelope");

    /* a valid envelope whose payload holds an 11-byte varint (the sector) */
    {
        Koop__Reg__Institution in = KOOP__REG__INSTITUTION__INIT;
        uint8_t p[256];
        size_t pn;
        char id[KOOP_ID_LEN];
        koop_id_new(id);
        in.id = id;
        in.owner = (char *)node;
        pn = koop__reg__institution__pack(&in, p);
        p[pn++] = 0x18; /* field 3, varint */
        for (int i = 0; i < 10; i++)
            p[pn++] = 0x80;
        p[pn++] = 0x01;
        n = s_head(bad, node, 2);
        bad[n++] = 0x4a; /* field 9, bytes */
        bad[n++] = (uint8_t)pn;
        memcpy(bad + n, p, pn);
        n += pn;
        s_refused_whole(l, node, bad, n, "sync.event_payload");
    }

    /* a valid head, then a 6-byte tag (field 20, length-delimited, padded) */
    {
        static const uint8_t tag6[] = {0xa2, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00};
        n = s_head(bad, node, 2);
        memcpy(bad + n, tag6, sizeof tag6);
        n += sizeof tag6;
        s_refused_whole(l, node, bad, n, "sync.event_envelope");
    }

    /* the link still takes good events, and everything was counted */
    {
        uint8_t good[512];
        const uint8_t *ev[1] = {good};
        size_t len[1] = {s_good(good, node, 1)};
        rep = kt_link_batch(l, "registry", 0, ev, len, 1);
        cr_assert(rep && rep->body_case == KOOP__SYNC__FRAME__BODY_ACK && rep->ack->seq == 1, "a good batch was not taken");
        koop__sync__frame__free_unpacked(rep, NULL);
    }
    kt_link_close(&l);
    st = kt_sync_status(&hub);
    cr_assert_eq(json_integer_value(json_object_get(st, "events_refused")), 3, "%s", json_dumps(st, JSON_COMPACT));
    cr_assert_eq(json_integer_value(json_object_get(kt_hub_node(st, node), "refused")), 3);
    json_decref(st);
    cr_assert_eq(s_refused(&hub, "sync"), 3);
}

/* ---- a gmina whose own log holds an event the hub refuses ---- */

Test(trust, uplink_holds_a_stream_the_hub_refused_and_says_why)
{
    Koop__Reg__Institution in = KOOP__REG__INSTITUTION__INIT;
    uint8_t p[256];
    size_t pn;
    uint64_t seq, stored = 0;
    char id[KOOP_ID_LEN], log_id[64];
    json_t *st, *reg;
    long refused;

    s_tree(0);
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    cr_assert_eq(kt_node_start(&ga, 20), 0);
    cr_assert_eq(kt_add_institutions(&ga, 3, "Szkoła"), 3);
    cr_assert_eq(kt_wait_synced(&ga, 60), 0);
    kt_node_stop(&ga);
    /* a record the gmina's registry would never write: the hub's */
    koop_id_new(id);
    in.id = id;
    in.owner = "hub-2013";
    in.name = "Przejęta";
    pn = koop__reg__institution__pack(&in, p);
    cr_assert_eq(kt_log_inject(&ga, "registry", "institution.updated", KOOP__SCOPE__SCOPE_SHARED, p, pn, &seq), 0);
    cr_assert_eq(kt_node_start(&ga, 20), 0);
    cr_assert_eq(kt_add_institutions(&ga, 2, "Przedszkole"), 2);

    /* the hub refuses the batch, once: the stream stays held */
    for (int i = 0; i < 100; i++) {
        st = kt_sync_status(&hub);
        refused = (long)json_integer_value(json_object_get(kt_hub_node(st, "gmina-2013032"), "refused"));
        json_decref(st);
        if (refused > 0)
            break;
        kt_sleep_ms(200);
    }
    cr_assert_eq(refused, 1);
    kt_sleep_ms(6000); /* past the uplink's retransmit time (4 s) */
    st = kt_sync_status(&hub);
    cr_assert_eq(json_integer_value(json_object_get(kt_hub_node(st, "gmina-2013032"), "refused")), 1,
                 "the uplink sent the refused event again: %s", json_dumps(st, JSON_COMPACT));
    json_decref(st);
    cr_assert_eq(kt_link_position(&hub, "gmina-2013032", "registry", &stored, log_id), 0);
    cr_assert_eq(stored, seq - 1, "the hub holds %llu of the stream", (unsigned long long)stored);

    st = kt_sync_status(&ga);
    reg = json_object_get(json_object_get(st, "streams"), "registry");
    cr_assert(strstr(json_string_value(json_object_get(reg, "state")), "sync.event_owner") &&
                  strstr(json_string_value(json_object_get(reg, "state")), "wstrzymany"),
              "the stream's state does not say why: %s", json_dumps(st, JSON_COMPACT));
    cr_assert_eq(json_integer_value(json_object_get(reg, "pending")), 3, "%s", json_dumps(st, JSON_COMPACT));
    cr_assert(json_is_string(json_object_get(st, "last_error")) &&
                  strstr(json_string_value(json_object_get(st, "last_error")), "hub-2013"),
              "last_error: %s", json_dumps(st, JSON_COMPACT));
    json_decref(st);

    /* the node's own consumers of that log refuse it too */
    cr_assert_geq(s_wait_refused(&ga, "cases", 1, 20), 1, "the cases copy took another node's record");
    cr_assert_geq(s_wait_refused(&ga, "notifier", 1, 20), 1, "the notifier took another node's record");
    cr_assert_geq(s_wait_refused(&ga, "reporting", 1, 20), 1, "reporting took another node's record");
    cr_assert_geq(s_refused(&ga, "sync"), 0);
}

/* ---- an enrolled gmina rewrites records it does not own ---- */

static char *
s_inst(kt_node_t *n, const char *name, const char *sector, const char *level)
{
    char *id = kt_ctl_id(n, "institution", "add", "--name", name, "--sector", sector, "--level", level, NULL);
    cr_assert_not_null(id, "institution %s", name);
    return id;
}

static void
s_wait_down(kt_node_t *g, const char *id)
{
    kt_run_t r;
    int ok = 0;
    for (int i = 0; i < 300 && !ok; i++) {
        kt_ctl(&r, g, "--json", "institution", "show", "--id", id, NULL);
        ok = r.code == 0;
        kt_run_free(&r);
        if (!ok)
            kt_sleep_ms(100);
    }
    cr_assert(ok, "the hub's institution did not come down to the gmina");
}

/* The hub's reporting has taken every SHARED event of its logs. */
static void
s_hub_settled(long extra)
{
    long want = 0, seen = -1;
    const char *streams[] = {"registry", "sync"};
    for (int s = 0; s < 2; s++) {
        json_t *l = s_json(&hub, "events", "list", "--stream", streams[s], "--limit", "10000", NULL);
        for (size_t i = 0; i < json_array_size(l); i++)
            want += strcmp(json_string_value(json_object_get(json_array_get(l, i), "scope")), "shared") == 0;
        json_decref(l);
    }
    want += extra;
    for (int k = 0; k < 300 && seen != want; k++) {
        json_t *st = s_json(&hub, "report", "status", NULL);
        seen = (long)(json_integer_value(json_object_get(st, "applied")) +
                      json_integer_value(json_object_get(st, "ignored")) +
                      json_integer_value(json_object_get(st, "rejected")) +
                      json_integer_value(json_object_get(st, "not_owned")));
        json_decref(st);
        if (seen != want)
            kt_sleep_ms(100);
    }
    cr_assert_eq(seen, want, "the hub's reporting took %ld of %ld events", seen, want);
}

/* Gmina A's partners by sector in the hub's figures. */
static void
s_expect_a_figures(const char *when)
{
    json_t *rep = s_json(&hub, "report", "indicators", "--unit", "gmina-2013032", "--as-of", "2022-12-31", NULL);
    cr_expect_eq(kt_report_figure(rep, "partner_entities", NULL), 6, "%s: partners", when);
    cr_expect_eq(kt_report_figure(rep, "partner_entities", "family_support"), 3, "%s: the hub's institutions",
                 when);
    cr_expect_eq(kt_report_figure(rep, "partner_entities", "education"), 3, "%s: the gmina's own", when);
    cr_expect_eq(kt_report_figure(rep, "partner_entities", "ngo"), -2, "%s: moved to another sector", when);
    json_decref(rep);
}

static size_t
s_institution_updated(uint8_t *out, const char *node, uint64_t seq, const char *id, const char *owner)
{
    Koop__Reg__Institution in = KOOP__REG__INSTITUTION__INIT;
    in.id = (char *)id;
    in.owner = (char *)owner;
    in.name = "Przejęta";
    in.has_sector = 1;
    in.sector = KOOP__REG__SECTOR__SECTOR_NGO;
    return kt_link_event(out, 512, node, "registry", seq, KOOP__SCOPE__SCOPE_SHARED, "institution.updated", &in.base);
}

Test(trust, gmina_rewriting_records_it_does_not_own_changes_no_figures_of_another)
{
    char *h[3], *a[3], *pzk;
    uint64_t acked;
    char log_id[64];
    kt_link_t *l;
    Koop__Sync__Frame *rep;
    uint8_t e1[512], e2[512];
    json_t *st;

    s_tree(1);
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    cr_assert_eq(kt_node_start(&ga, 20), 0);
    cr_assert_eq(kt_node_start(&gb, 20), 0);
    for (int i = 0; i < 3; i++) {
        char name[40];
        snprintf(name, sizeof name, "PCPR %d", i + 1);
        h[i] = s_inst(&hub, name, "family_support", "powiat");
        snprintf(name, sizeof name, "Szkoła %d", i + 1);
        a[i] = s_inst(&ga, name, "education", "gmina");
    }
    for (int i = 0; i < 3; i++)
        s_wait_down(&ga, h[i]);
    pzk = kt_ctl_id(&ga, "pzk", "create", "--name", "PZK Kobylin", "--formed", "2020-01-01", NULL);
    cr_assert_not_null(pzk);
    for (int i = 0; i < 3; i++) {
        kt_run_t r;
        cr_assert_eq(kt_ctl(&r, &ga, "pzk", "join", "--pzk", pzk, "--institution", h[i], "--date", "2020-01-01", NULL), 0);
        cr_assert_eq(r.code, 0, "%s", r.err);
        kt_run_free(&r);
        cr_assert_eq(kt_ctl(&r, &ga, "pzk", "join", "--pzk", pzk, "--institution", a[i], "--date", "2020-01-01", NULL), 0);
        cr_assert_eq(r.code, 0, "%s", r.err);
        kt_run_free(&r);
    }
    cr_assert_eq(kt_wait_synced(&ga, 60), 0);
    cr_assert_eq(kt_wait_synced(&gb, 60), 0);
    s_hub_settled(0);
    s_expect_a_figures("before");

    /* gmina B, with its own key: its node stopped, a test speaks for it */
    kt_node_stop(&gb);
    cr_assert_eq(kt_link_position(&hub, "gmina-2013042", "registry", &acked, log_id), 0);
    cr_assert_not_null(l = kt_link_open(&gb, &hub, port));
    rep = kt_link_hello(l, "gmina-2013042", "registry", log_id, acked);
    cr_assert(rep && rep->body_case == KOOP__SYNC__FRAME__BODY_WELCOME, "no WELCOME");
    koop__sync__frame__free_unpacked(rep, NULL);
    /* naming the hub as the owner: refused by the hub's check, nothing kept */
    {
        const uint8_t *ev[1] = {e1};
        size_t len[1] = {s_institution_updated(e1, "gmina-2013042", acked + 1, h[0], "hub-2013")};
        rep = kt_link_batch(l, "registry", acked, ev, len, 1);
        cr_assert(rep && rep->body_case == KOOP__SYNC__FRAME__BODY_REFUSE, "the hub took a record of its own from a gmina (%d %d)",
                  rep ? (int)rep->body_case : -1, rep && rep->refuse ? (int)rep->refuse->code : -1);
        cr_assert_str_eq(rep->refuse->error, "sync.event_owner");
        koop__sync__frame__free_unpacked(rep, NULL);
    }
    /* claiming them as its own: stored (the hub cannot know every id), and
     * refused by the hub's reporting, which knows whose they are */
    {
        const uint8_t *ev[2] = {e1, e2};
        size_t len[2] = {s_institution_updated(e1, "gmina-2013042", acked + 1, h[0], "gmina-2013042"),
                         s_institution_updated(e2, "gmina-2013042", acked + 2, a[0], "gmina-2013042")};
        rep = kt_link_batch(l, "registry", acked, ev, len, 2);
        cr_assert(rep && rep->body_case == KOOP__SYNC__FRAME__BODY_ACK && rep->ack->seq == acked + 2, "not stored");
        koop__sync__frame__free_unpacked(rep, NULL);
    }
    kt_link_close(&l);
    s_hub_settled(0);
    st = s_json(&hub, "report", "status", NULL);
    cr_assert_eq(json_integer_value(json_object_get(st, "not_owned")), 2, "%s", json_dumps(st, JSON_COMPACT));
    json_decref(st);
    s_expect_a_figures("after");
    {
        /* the hub's own institution keeps its sector in the hub's figures too */
        json_t *rep_h = s_json(&hub, "report", "indicators", "--as-of", "2022-12-31", NULL);
        cr_expect_eq(kt_report_figure(rep_h, "partner_entities", "family_support"), 3);
        cr_expect_eq(kt_report_figure(rep_h, "partner_entities", "ngo"), -2);
        json_decref(rep_h);
    }

    /* counted where an operator looks */
    cr_assert_eq(s_wait_refused(&hub, "reporting", 2, 20), 2);
    cr_assert_geq(s_refused(&hub, "sync"), 1);
    {
        kt_http_t c = {hub.http_port, "", ""};
        int found = 0;
        cr_assert_eq(kt_http_wait(&hub, 20), 0);
        for (int i = 0; i < 60 && !found; i++) {
            kt_resp_t r;
            cr_assert_eq(kt_http(&c, &r, "GET", "/metrics", NULL, NULL), 0);
            found = strstr(r.body, "koop_events_refused_total{service=\"reporting\"} 2\n") != NULL;
            kt_resp_free(&r);
            if (!found)
                kt_sleep_ms(200);
        }
        cr_assert(found, "/metrics does not count the refused events");
    }
    for (int i = 0; i < 3; i++) {
        free(h[i]);
        free(a[i]);
    }
    free(pzk);
}

/* ---- down-flow ---- */

/* Waits until a gmina's registry has a record (1) or, for the whole time,
 * has not (0). */
static int
s_has_institution(kt_node_t *g, const char *id)
{
    kt_run_t r;
    int ok;
    kt_ctl(&r, g, "--json", "institution", "show", "--id", id, NULL);
    ok = r.code == 0;
    kt_run_free(&r);
    return ok;
}

/* The hub's envelope of a record of `owner`, written by `node`. */
static size_t
s_hub_record(uint8_t *out, const char *node, uint64_t seq, const char *type, const char *id, const char *owner)
{
    Koop__Reg__Institution in = KOOP__REG__INSTITUTION__INIT;
    in.id = (char *)id;
    in.owner = (char *)owner;
    in.name = "Przejęta";
    in.has_sector = 1;
    in.sector = KOOP__REG__SECTOR__SECTOR_NGO;
    return kt_link_event(out, 512, node, "registry", seq, KOOP__SCOPE__SCOPE_SHARED, type, &in.base);
}

Test(trust, hub_sends_down_only_its_own_records_and_those_of_its_hub)
{
    Koop__Reg__Institution in = KOOP__REG__INSTITUTION__INIT;
    uint8_t p[256], env[512];
    size_t pn, en;
    uint64_t seq;
    char x1[KOOP_ID_LEN], x2[KOOP_ID_LEN], *good;
    json_t *st;

    s_tree(0);
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    cr_assert_eq(kt_node_start(&ga, 20), 0);
    cr_assert_eq(kt_wait_synced(&ga, 60), 0);
    kt_node_stop(&hub);
    /* in the hub's registry log: a record of the gmina's, as if the hub owned it */
    koop_id_new(x1);
    in.id = x1;
    in.owner = "gmina-2013032";
    in.name = "Cudza";
    pn = koop__reg__institution__pack(&in, p);
    cr_assert_eq(kt_log_inject(&hub, "registry", "institution.added", KOOP__SCOPE__SCOPE_SHARED, p, pn, &seq), 0);
    /* a record "from the hub above" that claims this hub as its owner */
    koop_id_new(x2);
    en = s_hub_record(env, "hub-20", 7, "institution.added", x2, "hub-2013");
    cr_assert_eq(kt_log_inject(&hub, "registry", "remote.institution.added", KOOP__SCOPE__SCOPE_LOCAL, env, en, &seq), 0);
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    good = s_inst(&hub, "PCPR", "family_support", "powiat");
    s_wait_down(&ga, good);
    cr_assert(!s_has_institution(&ga, x1), "a record that is not the hub's came down");
    cr_assert(!s_has_institution(&ga, x2), "a record claiming the hub as owner came down from above");
    st = kt_sync_status(&hub);
    cr_assert_eq(json_integer_value(json_object_get(st, "down_out")), 2, "%s", json_dumps(st, JSON_COMPACT));
    json_decref(st);
    cr_assert_geq(s_refused(&hub, "sync"), 2);
    free(good);
}

/* Puts a record event into the stopped hub's down log, past its last entry
 * (what a hostile hub would send, bypassing its own check). */
static void
s_down_inject(kt_node_t *h, const uint8_t *env, size_t len, const char *id)
{
    static const char *const tables[] = {"down_log", "down_rec", NULL};
    char dir[PATH_MAX + 32];
    koop_store_t *store;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    unsigned char key[8];
    uint64_t last = 0;
    snprintf(dir, sizeof dir, "%s/data/sync", h->dir);
    cr_assert_eq(koop_store_open(&store, dir, tables), 0);
    cr_assert_eq(mdb_txn_begin(koop_store_env(store), NULL, 0, &txn), 0);
    cr_assert_eq(mdb_cursor_open(txn, koop_store_dbi(store, "down_log"), &cur), 0);
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
        last = koop_be64_get(k.mv_data);
    mdb_cursor_close(cur);
    koop_be64_put(key, last + 1000);
    k.mv_size = 8;
    k.mv_data = key;
    v.mv_size = len;
    v.mv_data = (void *)env;
    cr_assert_eq(mdb_put(txn, koop_store_dbi(store, "down_log"), &k, &v, 0), 0);
    {
        MDB_val rk = {strlen(id), (void *)id};
        cr_assert_eq(mdb_put(txn, koop_store_dbi(store, "down_rec"), &rk, &k, 0), 0);
    }
    cr_assert_eq(mdb_txn_commit(txn), 0);
    koop_store_destroy(&store);
}

Test(trust, gmina_refuses_a_hub_record_that_would_change_its_own_and_holds_the_down_flow)
{
    uint8_t env[512];
    size_t en;
    char *own, *pcpr;
    json_t *st, *down;
    kt_run_t r;

    s_tree(0);
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    cr_assert_eq(kt_node_start(&ga, 20), 0);
    pcpr = s_inst(&hub, "PCPR", "family_support", "powiat");
    own = s_inst(&ga, "GOPS", "social_assistance", "gmina");
    s_wait_down(&ga, pcpr);
    kt_node_stop(&hub);
    en = s_hub_record(env, "hub-2013", 1000, "institution.updated", own, "hub-2013");
    s_down_inject(&hub, env, en, own);
    cr_assert_eq(kt_node_start(&hub, 20), 0);

    for (int i = 0; i < 150; i++) {
        st = kt_sync_status(&ga);
        down = json_object_get(st, "down");
        if (json_integer_value(json_object_get(down, "refused")) > 0)
            break;
        json_decref(st);
        st = NULL;
        kt_sleep_ms(200);
    }
    cr_assert_not_null(st, "the gmina took the hub's record of its own institution");
    cr_assert(strstr(json_string_value(json_object_get(down, "state")), "down_self") ||
                  strstr(json_string_value(json_object_get(down, "state")), "należy do tego węzła"),
              "%s", json_dumps(st, JSON_COMPACT));
    json_decref(st);
    kt_ctl(&r, &ga, "--json", "institution", "show", "--id", own, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "GOPS");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "owner")), "gmina-2013032");
    kt_run_free(&r);
    /* held: the hub sends it again after 10 s; the gmina does not try it again */
    kt_sleep_ms(12000);
    st = kt_sync_status(&ga);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(st, "down"), "refused")), 1, "%s",
                 json_dumps(st, JSON_COMPACT));
    cr_assert(json_is_true(json_object_get(st, "connected")), "the link went down: %s", json_dumps(st, JSON_COMPACT));
    json_decref(st);
    cr_assert_geq(s_refused(&ga, "sync"), 1);
    free(own);
    free(pcpr);
}

/* ---- the consumers of a node's own logs ---- */

Test(trust, cases_copy_keeps_each_record_with_its_owner)
{
    uint8_t env[512];
    size_t en;
    uint64_t seq;
    char *own;

    s_tree(0);
    cr_assert_eq(kt_node_start(&ga, 20), 0);
    own = s_inst(&ga, "GOPS", "social_assistance", "gmina");
    kt_node_stop(&ga); /* the copy meets the record, then the forged change, in log order */
    /* a hub's record, as remote.apply would log it, for the gmina's own institution */
    en = s_hub_record(env, "hub-2013", 5, "institution.updated", own, "hub-2013");
    cr_assert_eq(kt_log_inject(&ga, "registry", "remote.institution.updated", KOOP__SCOPE__SCOPE_LOCAL, env, en, &seq),
                 0);
    cr_assert_eq(kt_node_start(&ga, 20), 0);
    cr_assert_eq(s_wait_refused(&ga, "cases", 1, 20), 1, "the copy took a change of the gmina's record from a hub");
    /* a hub's record is not the notifier's, and LOCAL is not reporting's: nothing to refuse there */
    cr_assert_eq(s_refused(&ga, "notifier"), 0);
    cr_assert_eq(s_refused(&ga, "reporting"), 0);
    free(own);
}

Test(trust, notifier_takes_only_its_nodes_records)
{
    Koop__Reg__Person p = KOOP__REG__PERSON__INIT;
    uint8_t buf[512];
    size_t n;
    uint64_t seq;
    char *gops, *anna;
    kt_run_t r;

    s_tree(0);
    cr_assert_eq(kt_node_start(&ga, 20), 0);
    gops = s_inst(&ga, "GOPS", "social_assistance", "gmina");
    anna = kt_ctl_id(&ga, "person", "add", "--name", "Anna Nowak", "--institution", gops, "--role", "social_worker",
                     "--email", "anna@gops.example.pl", NULL);
    cr_assert_not_null(anna);
    kt_node_stop(&ga);
    /* her record rewritten as if another node owned it: mails would go elsewhere */
    p.id = anna;
    p.name = "Anna Nowak";
    p.institution = gops;
    p.email = "ktos@example.com";
    p.owner = "hub-2013";
    p.has_role = 1;
    p.role = KOOP__REG__ROLE__ROLE_SOCIAL_WORKER;
    n = koop__reg__person__pack(&p, buf);
    cr_assert_eq(kt_log_inject(&ga, "registry", "person.updated", KOOP__SCOPE__SCOPE_LOCAL, buf, n, &seq), 0);
    cr_assert_eq(kt_node_start(&ga, 20), 0);
    cr_assert_eq(s_wait_refused(&ga, "notifier", 1, 20), 1, "the notifier took a record another node owns");
    cr_assert_eq(s_wait_refused(&ga, "cases", 1, 20), 1, "the cases copy took a record another node owns");
    kt_ctl(&r, &ga, "--json", "--as", anna, "notify", "prefs", "--mail", "true", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "email")), "anna@gops.example.pl");
    kt_run_free(&r);
    free(gops);
    free(anna);
}
