/*
 * Reporting in a tree of real nodes: three gminas, two powiat hubs, a
 * voivodeship hub above them, everything entered through koopctl with
 * historical dates and carried up by koop-sync. Each figure below was
 * computed by hand (day counts: 2019-06-01..2020-10-01 = 488,
 * 2020-01-01..2022-12-31 = 1095, 2019-01-01..2021-01-01 = 731; months of
 * 30.44 days); the report day is 2022-12-31.
 *
 *   hub-2013 (powiat)  its own registry: PCPR (family support), which comes
 *                      down to its gminas and joins both their PZKs
 *     gmina-2013032    GOPS1, SP1; PZK1 2019-06-01..2020-10-01: GOPS1, PCPR,
 *                      SP1; 3 IPWs 2019-09-01..2020-09-01 (2 success), 2 persons each
 *     gmina-2013042    GOPS2; PZK2 from 2020-01-01: GOPS2, PCPR; IPW
 *                      2020-02-01..2020-12-01 success (4 persons), IPW from
 *                      2021-03-01 (1 person)
 *   hub-2014 (powiat)
 *     gmina-2014011    GOPS3, KPP3, NGO3; PZK3 2019-01-01..2021-01-01; 6 IPWs
 *                      2019-06-01..2020-06-01, 3 with success, 3 persons each
 *   hub-20 (voivodeship) above both powiat hubs
 *
 * Above a gmina every 1 or 2 is hidden, and so is a percentage whose part or
 * rest is 1 or 2 (75 % of 4 would tell the one without success), and every
 * figure that would tell a hidden one by subtraction (services/reporting/
 * suppress.c): within a report (IPWs closed = by outcome, partners = by
 * sector), and across units (a hub's figure = its units' + its own). The
 * powiat counts PCPR once although both its gminas' PZKs have it; the
 * gminas know its sector too (it came down as a LOCAL remote.* record).
 */
#include "koop_test.h"
#include "kt_report.h"
#include "kt_sync.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static kt_node_t voiv, pow1, pow2, g1, g2, g3;
static kt_node_t *const all[] = {&voiv, &pow1, &pow2, &g1, &g2, &g3};

static void
s_setup(void)
{
    int vport = 0, p1port = kt_free_port(), p2port = kt_free_port();
    char ep[64], key[PATH_MAX + 32], listen[64];

    cr_assert_eq(kt_hub_init(&voiv, "20", "Województwo podlaskie", &vport), 0);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", vport);
    snprintf(key, sizeof key, "%s/keys/node.pub", voiv.dir);
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", p1port);
    cr_assert_eq(kt_node_init(&pow1, "hub", "2013", "Powiat wysokomazowiecki", "--listen", listen, "--hub", ep,
                              "--hub-key", key, NULL), 0);
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", p2port);
    cr_assert_eq(kt_node_init(&pow2, "hub", "2014", "Powiat zambrowski", "--listen", listen, "--hub", ep, "--hub-key",
                              key, NULL), 0);
    cr_assert_eq(kt_gmina_init(&g1, "2013032", "Kobylin-Borzymy", p1port, &pow1), 0);
    cr_assert_eq(kt_gmina_init(&g2, "2013042", "Wysokie Mazowieckie", p1port, &pow1), 0);
    cr_assert_eq(kt_gmina_init(&g3, "2014011", "Zambrów", p2port, &pow2), 0);
    cr_assert_eq(kt_enrol(&voiv, &pow1), 0);
    cr_assert_eq(kt_enrol(&voiv, &pow2), 0);
    cr_assert_eq(kt_enrol(&pow1, &g1), 0);
    cr_assert_eq(kt_enrol(&pow1, &g2), 0);
    cr_assert_eq(kt_enrol(&pow2, &g3), 0);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cr_assert_eq(kt_node_start(all[i], 30), 0, "node %zu did not start", i);
}

static void
s_teardown(void)
{
    int reports = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        reports += kt_node_destroy(all[i]);
    cr_assert_eq(reports, 0, "the nodes' processes reported sanitizer errors");
}

TestSuite(reporting_tree, .init = s_setup, .fini = s_teardown, .timeout = 120); /* the value other suites use: libcriterion 2.4.1 leaks a runner entry per other value */

/* ---- entering the scenario ---- */

static void
s_ok(kt_node_t *n, ...)
{
    kt_run_t r;
    char exe[PATH_MAX + 16];
    char *argv[64];
    const char *a;
    va_list ap;
    int k = 0;
    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    argv[k++] = exe;
    argv[k++] = "-c";
    argv[k++] = n->conf;
    va_start(ap, n);
    while ((a = va_arg(ap, const char *)) != NULL && k < 62)
        argv[k++] = (char *)a;
    va_end(ap);
    argv[k] = NULL;
    cr_assert_eq(kt_exec(&r, argv), 0);
    cr_assert_eq(r.code, 0, "koopctl %s %s failed: %s", argv[3], argv[4], r.err);
    kt_run_free(&r);
}

static char *
s_inst(kt_node_t *n, const char *name, const char *sector, const char *level)
{
    char *id = kt_ctl_id(n, "institution", "add", "--name", name, "--sector", sector, "--level", level, NULL);
    cr_assert_not_null(id, "institution %s", name);
    return id;
}

/* A PZK formed on `formed` that the institutions (NULL-terminated) join that
 * day; dissolved on `dissolved` unless NULL. */
static void
s_pzk(kt_node_t *n, const char *formed, const char *dissolved, ...)
{
    char *pzk = kt_ctl_id(n, "pzk", "create", "--name", "G-PZK", "--formed", formed, NULL);
    const char *inst;
    va_list ap;
    cr_assert_not_null(pzk);
    va_start(ap, dissolved);
    while ((inst = va_arg(ap, const char *)) != NULL)
        s_ok(n, "pzk", "join", "--pzk", pzk, "--institution", inst, "--date", formed, NULL);
    va_end(ap);
    if (dissolved)
        s_ok(n, "pzk", "dissolve", "--pzk", pzk, "--date", dissolved, NULL);
    free(pzk);
}

/* One household and its IPW: opened, activated a week later, closed with
 * outcome (NULL: still running). */
static void
s_ipw(kt_node_t *n, const char *sw, const char *size, const char *opened, const char *activated, const char *closed,
      const char *outcome)
{
    char *hh = kt_ctl_id(n, "--as", sw, "household", "add", "--name", "Rodzina", "--size", size, "--date", opened, NULL);
    char *ipw;
    cr_assert_not_null(hh);
    cr_assert_eq(kt_consent_all(n, sw, hh, opened), 0);
    ipw = kt_ctl_id(n, "--as", sw, "ipw", "open", "--household", hh, "--coordinator", sw, "--opened", opened, NULL);
    cr_assert_not_null(ipw);
    s_ok(n, "--as", sw, "ipw", "activate", "--ipw", ipw, "--date", activated, NULL);
    if (closed)
        s_ok(n, "--as", sw, "ipw", "close", "--ipw", ipw, "--date", closed, "--outcome", outcome, NULL);
    free(hh);
    free(ipw);
}

static char *
s_worker(kt_node_t *n, const char *gops)
{
    char *sw = kt_ctl_id(n, "person", "add", "--name", "Pracownik socjalny", "--institution", gops, "--role",
                         "social_worker", NULL);
    cr_assert_not_null(sw);
    return sw;
}

/* Waits until a hub-owned record has come down to a gmina. */
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
    cr_assert(ok, "the powiat's institution did not come down to the gmina");
}

static char *g1_worker;

static void
s_scenario(void)
{
    char *pcpr = s_inst(&pow1, "PCPR Wysokie Mazowieckie", "family_support", "powiat");
    char *gops1 = s_inst(&g1, "GOPS Kobylin-Borzymy", "social_assistance", "gmina");
    char *sp1 = s_inst(&g1, "SP Kobylin", "education", "gmina");
    char *gops2 = s_inst(&g2, "MOPS Wysokie Mazowieckie", "social_assistance", "gmina");
    char *gops3 = s_inst(&g3, "MOPS Zambrów", "social_assistance", "gmina");
    char *kpp3 = s_inst(&g3, "KPP Zambrów", "police", "powiat");
    char *ngo3 = s_inst(&g3, "Stowarzyszenie", "ngo", "gmina");
    char *sw2, *sw3;

    s_wait_down(&g1, pcpr);
    s_wait_down(&g2, pcpr);
    s_pzk(&g1, "2019-06-01", "2020-10-01", gops1, pcpr, sp1, NULL);
    s_pzk(&g2, "2020-01-01", NULL, gops2, pcpr, NULL);
    s_pzk(&g3, "2019-01-01", "2021-01-01", gops3, kpp3, ngo3, NULL);
    g1_worker = s_worker(&g1, gops1);
    sw2 = s_worker(&g2, gops2);
    sw3 = s_worker(&g3, gops3);
    s_ipw(&g1, g1_worker, "2", "2019-09-01", "2019-09-08", "2020-09-01", "success");
    s_ipw(&g1, g1_worker, "2", "2019-09-01", "2019-09-08", "2020-09-01", "success");
    s_ipw(&g1, g1_worker, "2", "2019-09-01", "2019-09-08", "2020-09-01", "no_success");
    s_ipw(&g2, sw2, "4", "2020-02-01", "2020-02-08", "2020-12-01", "success");
    s_ipw(&g2, sw2, "1", "2021-03-01", "2021-03-08", NULL, NULL);
    for (int i = 0; i < 6; i++)
        s_ipw(&g3, sw3, "3", "2019-06-01", "2019-06-08", "2020-06-01", i < 3 ? "success" : "no_success");
    free(pcpr); free(gops1); free(sp1); free(gops2); free(gops3); free(kpp3); free(ngo3);
    free(sw2); free(sw3);
}

/* ---- waiting and reading ---- */

/* Events of a log: the SHARED ones, or with all, every one. */
static long
s_events_of(kt_node_t *n, const char *stream, int every)
{
    kt_run_t r;
    long count = 0;
    if (every)
        return kt_log_events(n, stream);
    kt_ctl(&r, n, "--json", "events", "list", "--stream", stream, "--limit", "10000", NULL);
    cr_assert_eq(r.code, 0, "events list %s: %s", stream, r.err);
    for (size_t i = 0; i < json_array_size(r.json); i++)
        count += strcmp(json_string_value(json_object_get(json_array_get(r.json, i), "scope")), "shared") == 0;
    kt_run_free(&r);
    return count;
}

static long
s_seen(kt_node_t *n)
{
    return kt_report_seen(n);
}

/* Waits until a powiat hub's uplink to the voivodeship is connected with
 * nothing pending (on a hub, `sync status` nests it under "uplink"). */
static int
s_wait_hub_synced(kt_node_t *hub, int timeout_s)
{
    for (int i = 0; i < timeout_s * 5; i++) {
        json_t *s = kt_sync_status(hub), *u = s ? json_object_get(s, "uplink") : NULL;
        int ok = u && json_is_true(json_object_get(u, "connected")) &&
                 json_integer_value(json_object_get(u, "pending")) == 0;
        json_decref(s);
        if (ok)
            return 0;
        kt_sleep_ms(200);
    }
    return -1;
}

/* Waits until every uplink is idle and every node's reporting has taken
 * every event it reads: SHARED ones, and all of its registry's (LOCAL ones
 * bring hub-owned institutions' sectors). */
static void
s_settled(void)
{
    kt_node_t *const gminas[] = {&g1, &g2, &g3};
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(kt_wait_synced(gminas[i], 60), 0, "gmina %zu: uplink did not catch up", i + 1);
    cr_assert_eq(s_wait_hub_synced(&pow1, 60), 0, "powiat 2013: uplink did not catch up");
    cr_assert_eq(s_wait_hub_synced(&pow2, 60), 0, "powiat 2014: uplink did not catch up");
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        kt_node_t *n = all[i];
        int hub = n == &voiv || n == &pow1 || n == &pow2;
        long want = s_events_of(n, "registry", 1) + (hub ? s_events_of(n, "sync", 0) : s_events_of(n, "cases", 0));
        long seen = -1;
        for (int k = 0; k < 300 && seen != want; k++) {
            seen = s_seen(n);
            if (seen != want)
                kt_sleep_ms(100);
        }
        cr_assert_eq(seen, want, "node %zu: reporting took %ld of %ld events", i, seen, want);
    }
}

static json_t *
s_report(kt_node_t *n, const char *verb, const char *unit, const char *from, const char *to)
{
    kt_run_t r;
    const char *args[16];
    char exe[PATH_MAX + 16];
    int k = 0;
    json_t *j;
    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    args[k++] = exe;
    args[k++] = "-c";
    args[k++] = n->conf;
    args[k++] = "--json";
    args[k++] = "report";
    args[k++] = verb;
    args[k++] = "--as-of";
    args[k++] = "2022-12-31";
    if (unit) {
        args[k++] = "--unit";
        args[k++] = unit;
    }
    if (from) {
        args[k++] = "--from";
        args[k++] = from;
        args[k++] = "--to";
        args[k++] = to;
    }
    args[k] = NULL;
    cr_assert_eq(kt_exec(&r, (char *const *)args), 0);
    cr_assert_eq(r.code, 0, "report %s %s: %s", verb, unit ? unit : "", r.err);
    j = json_incref(r.json);
    kt_run_free(&r);
    return j;
}

#define EVAL(rep, key, want)                                                                                      \
    do {                                                                                                          \
        double g_ = kt_report_eval((rep), (key));                                                         \
        cr_expect(g_ > (want) - 1e-9 && g_ < (want) + 1e-9, "%s %s: got %g, want %g", what, (key), g_,            \
                  (double)(want));                                                                                \
    } while (0)

#define IND(rep, key, dim, want)                                                                                  \
    do {                                                                                                          \
        double g_ = kt_report_figure((rep), (key), (dim));                                                                   \
        cr_expect(g_ > (want) - 1e-9 && g_ < (want) + 1e-9, "%s %s/%s: got %g, want %g", what, (key),            \
                  (dim) ? (const char *)(dim) : "", g_, (double)(want));                                          \
    } while (0)

#define SUP (-3)

/* Every figure at every level; `extra` IPWs more in gmina 1 (phase two:
 * opened 2022-02-01, closed 2022-06-01 with success, 2 persons each). */
static void
s_check(int extra)
{
    const char *what;
    json_t *e;

    /* the gminas themselves: no suppression; the powiat institution counts with its sector */
    what = "gmina 1";
    e = s_report(&g1, "indicators", NULL, NULL, NULL);
    cr_expect(json_is_false(json_object_get(e, "small_counts_suppressed")));
    IND(e, "partner_entities", NULL, 3);
    IND(e, "partner_entities", "unknown", -2);
    IND(e, "partner_entities", "family_support", 1);
    IND(e, "partner_entities", "social_assistance", 1);
    IND(e, "partner_entities", "education", 1);
    IND(e, "pzk_count", NULL, 1);
    IND(e, "pzk_avg_months", NULL, 16.0);
    IND(e, "ipw_opened", NULL, 3 + extra);
    IND(e, "ipw_closed", NULL, 3 + extra);
    IND(e, "ipw_success", NULL, 2 + extra);
    IND(e, "ipw_success_rate", NULL, extra ? 92.3 : 66.7);
    IND(e, "households", NULL, 3 + extra);
    IND(e, "persons", NULL, 6 + 2 * extra);
    json_decref(e);
    what = "gmina 2";
    e = s_report(&g2, "evaluation", NULL, NULL, NULL);
    EVAL(e, "partner_entities", 2);
    EVAL(e, "pzk_count", 1);
    EVAL(e, "pzk_avg_months", 36.0);
    EVAL(e, "ipw_opened", 2);
    EVAL(e, "ipw_closed", 1);
    EVAL(e, "ipw_success_rate", 100.0);
    EVAL(e, "households", 2);
    EVAL(e, "persons", 5);
    json_decref(e);

    /* powiat 2013: PCPR once, its sector known; 1-2 hidden, and what tells them */
    what = "powiat 2013";
    e = s_report(&pow1, "indicators", NULL, NULL, NULL);
    cr_expect(json_is_true(json_object_get(e, "small_counts_suppressed")));
    cr_expect_str_eq(json_string_value(json_object_get(e, "level")), "powiat");
    IND(e, "partner_entities", NULL, 4);
    IND(e, "partner_entities", "social_assistance", SUP);
    IND(e, "partner_entities", "family_support", SUP);
    IND(e, "partner_entities", "education", SUP);
    IND(e, "partner_entities", "unknown", -2);
    IND(e, "pzk_count", NULL, SUP);
    IND(e, "pzk_avg_months", NULL, SUP);
    IND(e, "ipw_opened", NULL, 5 + extra);
    IND(e, "ipw_closed", NULL, 4 + extra);
    IND(e, "ipw_closed", "no_success", SUP);
    IND(e, "ipw_success", NULL, SUP);      /* 4 - 3 (14 - 13) would tell the one without success */
    IND(e, "ipw_success_rate", NULL, SUP); /* 3 of 4 (13 of 14): the rest is 1 */
    IND(e, "households", NULL, 5 + extra);
    IND(e, "persons", NULL, 11 + 2 * extra);
    IND(e, "gminas", NULL, 2);
    json_decref(e);
    what = "powiat 2013, 2020";
    e = s_report(&pow1, "indicators", NULL, "2020", "2020");
    IND(e, "partner_entities", NULL, 4);
    IND(e, "ipw_opened", NULL, SUP);
    IND(e, "ipw_closed", NULL, 4);
    IND(e, "ipw_success", NULL, SUP); /* the same 3 of 4 */
    json_decref(e);
    what = "powiat 2013, gmina 1 by TERYT";
    e = s_report(&pow1, "evaluation", "2013032", NULL, NULL);
    EVAL(e, "partner_entities", SUP); /* 3 partners of three sectors, each hidden: each would be 1 */
    EVAL(e, "ipw_closed", SUP);       /* the powiat's 4 (14) minus it would tell gmina 2's one */
    EVAL(e, "ipw_success", SUP);      /* 2 (12): the rest is 1 */
    EVAL(e, "ipw_success_rate", SUP);
    json_decref(e);
    what = "powiat 2013, gmina 2 by node";
    e = s_report(&pow1, "evaluation", "gmina-2013042", NULL, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(e, "unit_name")), "Wysokie Mazowieckie",
                     "the hub names its gmina as the gmina named itself");
    EVAL(e, "partner_entities", SUP);
    EVAL(e, "ipw_opened", SUP);
    EVAL(e, "ipw_closed", SUP);
    EVAL(e, "ipw_success_rate", SUP);
    EVAL(e, "persons", 5);
    json_decref(e);

    /* powiat 2014 */
    what = "powiat 2014";
    e = s_report(&pow2, "evaluation", NULL, NULL, NULL);
    EVAL(e, "partner_entities", SUP); /* three sectors, one each */
    EVAL(e, "pzk_count", SUP);
    EVAL(e, "ipw_closed", 6);
    EVAL(e, "ipw_success", 3);
    EVAL(e, "ipw_success_rate", 50.0);
    EVAL(e, "households", 6);
    EVAL(e, "persons", 18);
    json_decref(e);

    /* the voivodeship: 7 partners, 3 PZKs */
    what = "voivodeship";
    e = s_report(&voiv, "indicators", NULL, NULL, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(e, "level")), "województwo");
    IND(e, "partner_entities", NULL, SUP);                 /* 7 - powiat 2013's 4 = powiat 2014's hidden 3 */
    IND(e, "partner_entities", "social_assistance", SUP);  /* 3, else the four others' 1s are told */
    IND(e, "partner_entities", "police", SUP);
    IND(e, "pzk_count", NULL, 3);
    IND(e, "pzk_avg_months", NULL, 25.3); /* (488 + 1095 + 731) / 3 / 30.44 */
    IND(e, "ipw_opened", NULL, 11 + extra);
    IND(e, "ipw_closed", NULL, 10 + extra);
    IND(e, "ipw_success", NULL, SUP);      /* minus powiat 2014's 3: powiat 2013's hidden 3 (13) */
    IND(e, "ipw_success_rate", NULL, SUP);
    IND(e, "households", NULL, 11 + extra);
    IND(e, "persons", NULL, 29 + 2 * extra);
    IND(e, "gminas", NULL, 3);
    json_decref(e);
    what = "voivodeship, powiat 2013 by TERYT";
    e = s_report(&voiv, "evaluation", "2013", NULL, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(e, "unit")), "hub-2013");
    EVAL(e, "partner_entities", 4);
    EVAL(e, "ipw_opened", 5 + extra);
    EVAL(e, "ipw_success", SUP); /* as the powiat's own report hides it */
    json_decref(e);
}

Test(reporting_tree, gmina_powiat_and_voivodeship_figures_exact_before_and_after_rebuild)
{
    kt_run_t r;
    s_scenario();
    s_settled();
    s_check(0);
    /* the gminas' names next to their ids, at the powiat and above */
    kt_ctl(&r, &voiv, "report", "status", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "gmina-2013032") && strstr(r.out, "Kobylin-Borzymy") && strstr(r.out, "Zambrów") &&
                  strstr(r.out, "Powiat wysokomazowiecki"),
              "%s", r.out);
    kt_run_free(&r);
    kt_ctl(&r, &pow1, "report", "evaluation", "--unit", "2013032", "--as-of", "2022-12-31", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "Kobylin-Borzymy – gmina-2013032") && strstr(r.out, "ukryte") && !strstr(r.out, "<3"),
              "%s", r.out);
    kt_run_free(&r);
    s_ok(&pow1, "report", "rebuild", NULL);
    s_ok(&voiv, "report", "rebuild", NULL);
    s_settled();
    s_check(0);
}

Test(reporting_tree, powiat_exact_after_kill_9_of_its_reporting_mid_stream)
{
    pid_t writer, rep, rep2 = 0;
    long before;
    int status;
    s_scenario();
    s_settled();
    before = s_seen(&pow1);
    writer = fork();
    cr_assert_geq(writer, 0);
    if (writer == 0) {
        for (int i = 0; i < 10; i++)
            s_ipw(&g1, g1_worker, "2", "2022-02-01", "2022-02-08", "2022-06-01", "success");
        _exit(0);
    }
    for (int i = 0; i < 600 && s_seen(&pow1) < before + 6; i++)
        kt_sleep_ms(20);
    rep = kt_child_pid(pow1.pid, "koop-reporting");
    cr_assert_gt(rep, 0);
    cr_assert_eq(kill(rep, SIGKILL), 0);
    cr_log_info("the powiat's koop-reporting (pid %d) killed after %ld new events", (int)rep, s_seen(&pow1) - before);
    cr_assert_eq(waitpid(writer, &status, 0), writer);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writes of phase two failed");
    for (int i = 0; i < 100 && (rep2 == 0 || rep2 == rep); i++) {
        rep2 = kt_child_pid(pow1.pid, "koop-reporting");
        if (rep2 == 0 || rep2 == rep)
            kt_sleep_ms(100);
    }
    cr_assert(rep2 > 0 && rep2 != rep, "koop-node did not restart the powiat's koop-reporting");
    s_settled();
    s_check(10);
}
