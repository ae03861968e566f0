/*
 * Reporting end to end on a real gmina node (koop-node with registry, cases
 * and reporting), everything entered through the real koopctl with
 * historical dates. Every figure below was computed by hand from the
 * scenario (dates differences checked: 2019-06-01..2020-10-01 = 488 days,
 * 2021-01-15..2022-12-31 = 715 days; months of 30.44 days).
 *
 * The scenario (report day 2022-12-31):
 *   institutions GOPS (social), PCPR (family support), KPP (police),
 *   SP1 (education), NGO (ngo), PUP (labour office);
 *   PZK A formed 2019-06-01: GOPS, PCPR, KPP, SP1 join 2019-06-01, SP1 leaves
 *   2019-12-31, NGO joins 2020-02-01, dissolved 2020-10-01;
 *   PZK B formed 2021-01-15: GOPS, PCPR, PUP join 2021-01-15, SP1 2021-03-01;
 *   agreements signed 2019-05-20 (4 parties) and 2021-01-10 (2 parties);
 *   IPW1 (H1, 3 persons) 2019-09-01..2020-09-01 success, ZZK: worker, police,
 *   teacher; IPW2 (H2, 4) 2019-09-01..2020-06-30 success; IPW3 (H3, 2)
 *   2019-10-01..2020-12-15 no success, ZZK + police; IPW4 (H4, 5) draft
 *   2020-03-01..2020-04-01 discontinued; IPW5 (H5, 1) from 2021-02-01;
 *   IPW6 (H1 again) from 2021-05-01, ZZK + labour office;
 *   goals, reviews (one entered out of date order), tasks on time / late /
 *   cancelled / overdue / not yet due, referrals accepted / declined / done /
 *   unanswered, one ZZK meeting, three entries on the list of services.
 */
#include "koop_test.h"
#include "kt_report.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static kt_node_t node;

static void
s_setup(void)
{
    cr_assert_eq(kt_node_init(&node, "gmina", "2013032", "Kobylin-Borzymy", NULL), 0);
    cr_assert_eq(kt_node_start(&node, 20), 0, "node did not start");
}

static void
s_teardown(void)
{
    cr_assert_eq(kt_node_destroy(&node), 0, "the node's processes reported sanitizer errors");
}

TestSuite(reporting, .init = s_setup, .fini = s_teardown, .timeout = 120); /* the value other suites use: libcriterion 2.4.1 leaks a runner entry per other value */

#define ID(var, ...)                                                                                          \
    char *var = kt_ctl_id(&node, __VA_ARGS__, NULL);                                                          \
    cr_assert_not_null(var, "could not create " #var)

static void
s_ok(const char *what, ...)
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
    argv[k++] = node.conf;
    va_start(ap, what);
    while ((a = va_arg(ap, const char *)) != NULL && k < 62)
        argv[k++] = (char *)a;
    va_end(ap);
    argv[k] = NULL;
    cr_assert_eq(kt_exec(&r, argv), 0);
    cr_assert_eq(r.code, 0, "%s failed: %s", what, r.err);
    kt_run_free(&r);
}

typedef struct {
    char *gops, *pcpr, *kpp, *sp1, *ngo, *pup;
    char *sw, *cop, *teacher, *pupper;
} s_ids;

static s_ids ids;

static void
s_scenario(void)
{
    char parties[200];
    const char *sw;

    ids.gops = kt_ctl_id(&node, "institution", "add", "--name", "GOPS", "--sector", "social_assistance", "--level", "gmina", NULL);
    ids.pcpr = kt_ctl_id(&node, "institution", "add", "--name", "PCPR", "--sector", "family_support", "--level", "powiat", NULL);
    ids.kpp = kt_ctl_id(&node, "institution", "add", "--name", "KPP", "--sector", "police", "--level", "powiat", NULL);
    ids.sp1 = kt_ctl_id(&node, "institution", "add", "--name", "SP nr 1", "--sector", "education", "--level", "gmina", NULL);
    ids.ngo = kt_ctl_id(&node, "institution", "add", "--name", "Stowarzyszenie", "--sector", "ngo", "--level", "gmina", NULL);
    ids.pup = kt_ctl_id(&node, "institution", "add", "--name", "PUP", "--sector", "labour_office", "--level", "powiat", NULL);
    cr_assert(ids.gops && ids.pcpr && ids.kpp && ids.sp1 && ids.ngo && ids.pup);
    ids.sw = kt_ctl_id(&node, "person", "add", "--name", "Anna Nowak", "--institution", ids.gops, "--role", "social_worker", NULL);
    ids.cop = kt_ctl_id(&node, "person", "add", "--name", "Jan Dzielnicowy", "--institution", ids.kpp, "--role", "police_officer", NULL);
    ids.teacher = kt_ctl_id(&node, "person", "add", "--name", "Ewa Pedagog", "--institution", ids.sp1, "--role", "teacher", NULL);
    ids.pupper = kt_ctl_id(&node, "person", "add", "--name", "Piotr Doradca", "--institution", ids.pup, "--role", "other", NULL);
    cr_assert(ids.sw && ids.cop && ids.teacher && ids.pupper);
    sw = ids.sw;

    /* PZKs and agreements */
    ID(pzk_a, "pzk", "create", "--name", "G-PZK", "--formed", "2019-06-01");
    const char *const first[] = {ids.gops, ids.pcpr, ids.kpp, ids.sp1};
    for (int i = 0; i < 4; i++)
        s_ok("pzk join", "pzk", "join", "--pzk", pzk_a, "--institution", first[i], "--date", "2019-06-01", NULL);
    s_ok("pzk leave", "pzk", "leave", "--pzk", pzk_a, "--institution", ids.sp1, "--date", "2019-12-31", NULL);
    s_ok("pzk join", "pzk", "join", "--pzk", pzk_a, "--institution", ids.ngo, "--date", "2020-02-01", NULL);
    s_ok("pzk dissolve", "pzk", "dissolve", "--pzk", pzk_a, "--date", "2020-10-01", NULL);
    ID(pzk_b, "pzk", "create", "--name", "PZK II", "--formed", "2021-01-15");
    const char *const second[] = {ids.gops, ids.pcpr, ids.pup};
    for (int i = 0; i < 3; i++)
        s_ok("pzk join", "pzk", "join", "--pzk", pzk_b, "--institution", second[i], "--date", "2021-01-15", NULL);
    s_ok("pzk join", "pzk", "join", "--pzk", pzk_b, "--institution", ids.sp1, "--date", "2021-03-01", NULL);
    snprintf(parties, sizeof parties, "%s,%s,%s,%s", ids.gops, ids.pcpr, ids.kpp, ids.sp1);
    s_ok("agreement", "agreement", "add", "--parties", parties, "--signed", "2019-05-20", NULL);
    snprintf(parties, sizeof parties, "%s,%s", ids.gops, ids.pup);
    s_ok("agreement", "agreement", "add", "--parties", parties, "--signed", "2021-01-10", NULL);

    /* the list of services */
    ID(s1, "service", "add", "--name", "Terapia rodzinna", "--provider", ids.pcpr, "--target", "families", "--category",
       "terapia", "--verified", "2021-06-01");
    ID(s2, "service", "add", "--name", "Aktywizacja zawodowa", "--provider", ids.pup, "--target", "adults", "--category",
       "praca", "--verified", "2020-01-10");
    ID(s3, "service", "add", "--name", "Klub", "--provider", ids.ngo, "--target", "children_youth", "--category",
       "terapia");
    s_ok("service update", "service", "update", "--id", s3, "--active", "false", NULL);

    /* households */
    ID(h1, "--as", sw, "household", "add", "--name", "Rodzina 1", "--size", "3", "--date", "2019-08-01");
    ID(h2, "--as", sw, "household", "add", "--name", "Rodzina 2", "--size", "4", "--date", "2019-08-01");
    ID(h3, "--as", sw, "household", "add", "--name", "Rodzina 3", "--size", "2", "--date", "2019-08-01");
    ID(h4, "--as", sw, "household", "add", "--name", "Rodzina 4", "--size", "5", "--date", "2019-08-01");
    ID(h5, "--as", sw, "household", "add", "--name", "Rodzina 5", "--size", "1", "--date", "2021-01-20");
    cr_assert(kt_consent_all(&node, sw, h1, "2019-08-01") == 0 && kt_consent_all(&node, sw, h2, "2019-08-01") == 0 &&
              kt_consent_all(&node, sw, h3, "2019-08-01") == 0 && kt_consent_all(&node, sw, h4, "2019-08-01") == 0 &&
              kt_consent_all(&node, sw, h5, "2021-01-20") == 0);

    /* IPW1 */
    ID(ipw1, "--as", sw, "ipw", "open", "--household", h1, "--coordinator", sw, "--opened", "2019-09-01");
    s_ok("member", "--as", sw, "ipw", "member", "add", "--ipw", ipw1, "--person", ids.cop, "--date", "2019-09-01", NULL);
    s_ok("member", "--as", sw, "ipw", "member", "add", "--ipw", ipw1, "--person", ids.teacher, "--date", "2019-09-01", NULL);
    s_ok("activate", "--as", sw, "ipw", "activate", "--ipw", ipw1, "--date", "2019-09-15", NULL);
    ID(g1, "--as", sw, "goal", "add", "--ipw", ipw1, "--area", "work", "--baseline", "2", "--target", "8", "--date", "2019-09-15");
    s_ok("scale", "--as", sw, "goal", "scale", "--goal", g1, "--value", "5", "--date", "2020-01-15", NULL);
    s_ok("scale", "--as", sw, "goal", "scale", "--goal", g1, "--value", "7", "--date", "2020-08-01", NULL);
    ID(t1, "--as", sw, "task", "add", "--ipw", ipw1, "--owner", ids.cop, "--due", "2019-10-01", "--title", "Wizyta", "--date", "2019-09-15");
    s_ok("task done", "--as", sw, "task", "done", "--task", t1, "--date", "2019-09-30", NULL);
    ID(t2, "--as", sw, "task", "add", "--ipw", ipw1, "--owner", ids.teacher, "--due", "2019-11-01", "--title", "Opinia", "--date", "2019-09-15");
    s_ok("task done", "--as", sw, "task", "done", "--task", t2, "--date", "2019-11-15", NULL);
    ID(t3, "--as", sw, "task", "add", "--ipw", ipw1, "--owner", ids.cop, "--due", "2020-02-01", "--title", "Patrol", "--date", "2019-09-15");
    s_ok("task cancel", "--as", sw, "task", "cancel", "--task", t3, "--date", "2020-01-20", NULL);
    ID(r1, "--as", sw, "referral", "send", "--ipw", ipw1, "--service", s1, "--date", "2019-10-01");
    s_ok("accept", "--as", sw, "referral", "accept", "--referral", r1, "--date", "2019-10-04", NULL);
    s_ok("done", "--as", sw, "referral", "done", "--referral", r1, "--date", "2020-02-01", NULL);
    ID(r2, "--as", sw, "referral", "send", "--ipw", ipw1, "--service", s2, "--date", "2019-10-10");
    s_ok("decline", "--as", sw, "referral", "decline", "--referral", r2, "--date", "2019-10-20", NULL);
    {
        char who[100];
        snprintf(who, sizeof who, "%s,%s", sw, ids.cop);
        s_ok("meeting", "--as", sw, "meeting", "add", "--ipw", ipw1, "--date", "2019-10-05", "--participants", who, NULL);
    }
    s_ok("close", "--as", sw, "ipw", "close", "--ipw", ipw1, "--date", "2020-09-01", "--outcome", "success", NULL);

    /* IPW2: a review entered late, dated before the one already there */
    ID(ipw2, "--as", sw, "ipw", "open", "--household", h2, "--coordinator", sw, "--opened", "2019-09-01");
    s_ok("activate", "--as", sw, "ipw", "activate", "--ipw", ipw2, "--date", "2019-09-15", NULL);
    ID(g2, "--as", sw, "goal", "add", "--ipw", ipw2, "--area", "housing", "--baseline", "3", "--target", "6", "--date", "2019-09-15");
    s_ok("scale", "--as", sw, "goal", "scale", "--goal", g2, "--value", "4", "--date", "2020-05-01", NULL);
    s_ok("scale", "--as", sw, "goal", "scale", "--goal", g2, "--value", "6", "--date", "2020-03-01", NULL);
    s_ok("close", "--as", sw, "ipw", "close", "--ipw", ipw2, "--date", "2020-06-30", "--outcome", "success", NULL);

    /* IPW3, IPW4 */
    ID(ipw3, "--as", sw, "ipw", "open", "--household", h3, "--coordinator", sw, "--opened", "2019-10-01");
    s_ok("member", "--as", sw, "ipw", "member", "add", "--ipw", ipw3, "--person", ids.cop, "--date", "2019-10-01", NULL);
    s_ok("activate", "--as", sw, "ipw", "activate", "--ipw", ipw3, "--date", "2019-10-10", NULL);
    s_ok("close", "--as", sw, "ipw", "close", "--ipw", ipw3, "--date", "2020-12-15", "--outcome", "no_success", NULL);
    ID(ipw4, "--as", sw, "ipw", "open", "--household", h4, "--coordinator", sw, "--opened", "2020-03-01");
    s_ok("close", "--as", sw, "ipw", "close", "--ipw", ipw4, "--date", "2020-04-01", "--outcome", "discontinued", NULL);

    /* IPW5 with open tasks and referrals */
    ID(ipw5, "--as", sw, "ipw", "open", "--household", h5, "--coordinator", sw, "--opened", "2021-02-01");
    s_ok("activate", "--as", sw, "ipw", "activate", "--ipw", ipw5, "--date", "2021-02-10", NULL);
    ID(t4, "--as", sw, "task", "add", "--ipw", ipw5, "--owner", sw, "--due", "2021-03-01", "--title", "Wywiad", "--date", "2021-02-10");
    ID(t5, "--as", sw, "task", "add", "--ipw", ipw5, "--owner", sw, "--due", "2022-12-31", "--title", "Plan", "--date", "2021-02-10");
    ID(r3, "--as", sw, "referral", "send", "--ipw", ipw5, "--service", s1, "--date", "2021-03-01");
    s_ok("accept", "--as", sw, "referral", "accept", "--referral", r3, "--date", "2021-03-02", NULL);
    ID(r4, "--as", sw, "referral", "send", "--ipw", ipw5, "--service", s2, "--date", "2021-03-05");

    /* IPW6: the first household again */
    ID(ipw6, "--as", sw, "ipw", "open", "--household", h1, "--coordinator", sw, "--opened", "2021-05-01");
    s_ok("member", "--as", sw, "ipw", "member", "add", "--ipw", ipw6, "--person", ids.pupper, "--date", "2021-05-01", NULL);
    s_ok("activate", "--as", sw, "ipw", "activate", "--ipw", ipw6, "--date", "2021-05-05", NULL);

    free(pzk_a); free(pzk_b); free(s1); free(s2); free(s3);
    free(h1); free(h2); free(h3); free(h4); free(h5);
    free(ipw1); free(ipw2); free(ipw3); free(ipw4); free(ipw5); free(ipw6);
    free(g1); free(g2); free(t1); free(t2); free(t3); free(t4); free(t5);
    free(r1); free(r2); free(r3); free(r4);
}

/* ---- waiting and reading ---- */

/* Events of a log: the SHARED ones, or with all, every one. */
static long
s_events_of(const char *stream, int all)
{
    kt_run_t r;
    long n = 0;
    if (all)
        return kt_log_events(&node, stream);
    kt_ctl(&r, &node, "--json", "events", "list", "--stream", stream, "--limit", "10000", NULL);
    cr_assert_eq(r.code, 0, "events list %s: %s", stream, r.err);
    for (size_t i = 0; i < json_array_size(r.json); i++)
        n += strcmp(json_string_value(json_object_get(json_array_get(r.json, i), "scope")), "shared") == 0;
    kt_run_free(&r);
    return n;
}

static long
s_seen(void)
{
    kt_run_t r;
    long n = -1;
    kt_ctl(&r, &node, "--json", "report", "status", NULL);
    if (r.code == 0 && json_is_object(r.json))
        n = (long)(json_integer_value(json_object_get(r.json, "applied")) +
                   json_integer_value(json_object_get(r.json, "ignored")) +
                   json_integer_value(json_object_get(r.json, "rejected")));
    kt_run_free(&r);
    return n;
}

/* Waits until reporting has taken every SHARED event of the cases log and
 * every event of the registry's (it reads the LOCAL ones for the sectors
 * of hub-owned institutions, and passes the rest over). */
static void
s_caught_up(void)
{
    long want = s_events_of("registry", 1) + s_events_of("cases", 0), seen = -1;
    for (int i = 0; i < 200 && seen != want; i++) {
        seen = s_seen();
        if (seen != want)
            kt_sleep_ms(100);
    }
    cr_assert_eq(seen, want, "reporting took %ld of %ld events", seen, want);
}

static json_t *
s_report(const char *verb, const char *from, const char *to)
{
    kt_run_t r;
    json_t *j;
    if (from && to)
        kt_ctl(&r, &node, "--json", "report", verb, "--as-of", "2022-12-31", "--from", from, "--to", to, NULL);
    else if (to)
        kt_ctl(&r, &node, "--json", "report", verb, "--as-of", "2022-12-31", "--to", to, NULL);
    else
        kt_ctl(&r, &node, "--json", "report", verb, "--as-of", "2022-12-31", NULL);
    cr_assert_eq(r.code, 0, "report %s failed: %s", verb, r.err);
    cr_assert(json_is_object(r.json), "not JSON: %s", r.out);
    j = json_incref(r.json);
    kt_run_free(&r);
    return j;
}

#define EVAL(rep, key, want)                                                                                   \
    do {                                                                                                       \
        double g_ = kt_report_eval((rep), (key));                                                      \
        cr_expect(g_ > (want) - 1e-9 && g_ < (want) + 1e-9, "%s: got %g, want %g", (key), g_, (double)(want)); \
    } while (0)

#define IND(rep, key, dim, want)                                                                               \
    do {                                                                                                       \
        double g_ = kt_report_figure((rep), (key), (dim));                                                                \
        cr_expect(g_ > (want) - 1e-9 && g_ < (want) + 1e-9, "%s/%s: got %g, want %g", (key),                  \
                  (dim) ? (const char *)(dim) : "", g_, (double)(want));                                       \
    } while (0)

/* Every hand-computed figure of the scenario; `extra` IPWs of phase two
 * (opened 2022-02-01, closed 2022-06-01 with success, households of 2). */
static void
s_check_all(int extra)
{
    json_t *e, *x;

    /* all time, evaluation */
    e = s_report("evaluation", NULL, NULL);
    EVAL(e, "partner_entities", 6);
    EVAL(e, "pzk_count", 2);
    EVAL(e, "pzk_avg_months", 19.8);
    EVAL(e, "agreements", 2);
    EVAL(e, "ipw_opened", 6 + extra);
    EVAL(e, "ipw_active", 6 + extra);
    EVAL(e, "ipw_closed", 4 + extra);
    EVAL(e, "ipw_success", 2 + extra);
    EVAL(e, "ipw_success_rate", extra ? 91.7 : 50.0);
    EVAL(e, "ipw_avg_months", extra ? 4.8 : 9.4);
    EVAL(e, "households", 5 + extra);
    EVAL(e, "persons", 15 + 2 * extra);
    cr_expect(json_is_false(json_object_get(e, "small_counts_suppressed")));
    cr_expect(strstr(json_string_value(json_object_get(e, "summary")), "6 podmiotów partnerskich współpracowało w PZK"),
              "summary: %s", json_string_value(json_object_get(e, "summary")));
    json_decref(e);

    /* all time, every indicator */
    x = s_report("indicators", NULL, NULL);
    IND(x, "partner_entities", NULL, 6);
    IND(x, "partner_entities", "social_assistance", 1);
    IND(x, "partner_entities", "family_support", 1);
    IND(x, "partner_entities", "police", 1);
    IND(x, "partner_entities", "education", 1);
    IND(x, "partner_entities", "ngo", 1);
    IND(x, "partner_entities", "labour_office", 1);
    IND(x, "pzk_formed", NULL, 2);
    IND(x, "pzk_dissolved", NULL, 1);
    IND(x, "agreement_avg_parties", NULL, 3.0);
    IND(x, "ipw_signed", NULL, 5 + extra);
    IND(x, "ipw_closed", "success", 2 + extra);
    IND(x, "ipw_closed", "no_success", 1);
    IND(x, "ipw_closed", "discontinued", 1);
    IND(x, "households_registered", NULL, 5 + extra);
    IND(x, "goals_added", NULL, 2);
    IND(x, "goals_added", "work", 1);
    IND(x, "goals_added", "housing", 1);
    IND(x, "psr_goals_reviewed", NULL, 2);
    IND(x, "psr_avg_change", NULL, 3.0);
    IND(x, "tasks_due", NULL, 5);
    IND(x, "tasks_on_time", NULL, 1);
    IND(x, "tasks_on_time", "police", 1);
    IND(x, "tasks_late", NULL, 1);
    IND(x, "tasks_late", "education", 1);
    IND(x, "tasks_overdue", NULL, 1);
    IND(x, "tasks_overdue", "social_assistance", 1);
    IND(x, "tasks_not_yet_due", NULL, 1);
    IND(x, "tasks_cancelled", NULL, 1);
    IND(x, "tasks_on_time_rate", NULL, 50.0);
    IND(x, "referrals_sent", NULL, 4);
    IND(x, "referrals_accepted", NULL, 2);
    IND(x, "referrals_declined", NULL, 1);
    IND(x, "referrals_done", NULL, 1);
    IND(x, "referral_median_answer_days", NULL, 3.0);
    IND(x, "zzk_avg_size", NULL, extra ? 1.2 : 1.7);    /* (10 + extra) / (6 + extra) */
    IND(x, "zzk_avg_sectors", NULL, extra ? 1.2 : 1.7);
    IND(x, "ipw_by_zzk_sectors", "1", 3 + extra);
    IND(x, "ipw_by_zzk_sectors", "2", 2);
    IND(x, "ipw_by_zzk_sectors", "3", 1);
    IND(x, "meetings", NULL, 1);
    IND(x, "catalogue_entries", NULL, 3);
    IND(x, "catalogue_active", NULL, 2);
    IND(x, "catalogue_by_target", "families", 1);
    IND(x, "catalogue_by_target", "adults", 1);
    IND(x, "catalogue_by_category", "terapia", 1);
    IND(x, "catalogue_by_category", "praca", 1);
    IND(x, "catalogue_unverified", NULL, 2);
    IND(x, "gminas", NULL, 1);
    json_decref(x);

    /* 2020 */
    x = s_report("indicators", "2020", "2020");
    IND(x, "partner_entities", NULL, 4);
    IND(x, "pzk_count", NULL, 1);
    IND(x, "pzk_avg_months", NULL, 16.0);
    IND(x, "agreements", NULL, 0);
    IND(x, "ipw_opened", NULL, 1);
    IND(x, "ipw_active", NULL, 4);
    IND(x, "ipw_closed", NULL, 4);
    IND(x, "ipw_success", NULL, 2);
    IND(x, "ipw_success_rate", NULL, 50.0);
    IND(x, "households", NULL, 4);
    IND(x, "persons", NULL, 14);
    IND(x, "tasks_due", NULL, 1);
    IND(x, "tasks_cancelled", NULL, 1);
    IND(x, "referrals_sent", NULL, 0);
    IND(x, "referrals_done", NULL, 1);
    IND(x, "psr_avg_change", NULL, 3.0);
    json_decref(x);

    /* 2021 */
    x = s_report("indicators", "2021-01-01", "2021-12-31");
    IND(x, "partner_entities", NULL, 4);
    IND(x, "partner_entities", "labour_office", 1);
    IND(x, "partner_entities", "police", -2);
    IND(x, "pzk_count", NULL, 1);
    IND(x, "pzk_avg_months", NULL, 11.5);
    IND(x, "agreements", NULL, 1);
    IND(x, "ipw_opened", NULL, 2);
    IND(x, "ipw_active", NULL, 2);
    IND(x, "ipw_closed", NULL, 0);
    IND(x, "ipw_success_rate", NULL, -1);
    IND(x, "households", NULL, 2);
    IND(x, "persons", NULL, 4);
    IND(x, "zzk_avg_size", NULL, 1.5);
    IND(x, "referrals_sent", NULL, 2);
    IND(x, "referral_median_answer_days", NULL, 1.0);
    json_decref(x);

    /* the first household's pause, 2020-10 .. 2021-04 */
    x = s_report("evaluation", "2020-10", "2021-04");
    EVAL(x, "households", 2);
    EVAL(x, "persons", 3);
    json_decref(x);
    /* 2019 Q4 and the reviews as of mid-2020 */
    x = s_report("indicators", "2019-Q4", "2019-Q4");
    IND(x, "partner_entities", NULL, 4);
    IND(x, "referrals_sent", NULL, 2);
    IND(x, "referral_median_answer_days", NULL, 6.5);
    IND(x, "tasks_due", NULL, 2);
    json_decref(x);
    x = s_report("indicators", NULL, "2020-06");
    IND(x, "psr_avg_change", NULL, 2.0);
    json_decref(x);
}

Test(reporting, every_figure_exact_before_and_after_rebuild)
{
    kt_run_t r;
    s_scenario();
    s_caught_up();
    s_check_all(0);

    kt_ctl(&r, &node, "--json", "report", "rebuild", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(json_is_true(json_object_get(r.json, "started")));
    kt_run_free(&r);
    s_caught_up();
    s_check_all(0);
}

Test(reporting, exact_after_kill_9_of_reporting_mid_stream)
{
    pid_t writer, rep, rep2 = 0;
    long before;
    int status;
    s_scenario();
    s_caught_up();
    before = s_seen();

    /* phase two: 20 more programmes entered while reporting is killed */
    writer = fork();
    cr_assert_geq(writer, 0);
    if (writer == 0) {
        int bad = 0;
        for (int i = 0; i < 20; i++) {
            char name[32], *hh, *ipw;
            kt_run_t w;
            snprintf(name, sizeof name, "Rodzina B%d", i);
            hh = kt_ctl_id(&node, "--as", ids.sw, "household", "add", "--name", name, "--size", "2", "--date", "2022-01-10", NULL);
            ipw = hh && kt_consent_all(&node, ids.sw, hh, "2022-01-10") == 0
                      ? kt_ctl_id(&node, "--as", ids.sw, "ipw", "open", "--household", hh, "--coordinator", ids.sw,
                                 "--opened", "2022-02-01", NULL)
                     : NULL;
            if (!ipw) {
                bad++;
                free(hh);
                continue;
            }
            kt_ctl(&w, &node, "--as", ids.sw, "ipw", "activate", "--ipw", ipw, "--date", "2022-02-02", NULL);
            bad += w.code != 0;
            kt_run_free(&w);
            kt_ctl(&w, &node, "--as", ids.sw, "ipw", "close", "--ipw", ipw, "--date", "2022-06-01", "--outcome", "success", NULL);
            bad += w.code != 0;
            kt_run_free(&w);
            free(hh);
            free(ipw);
        }
        _exit(bad ? 1 : 0);
    }
    /* kill -9 once reporting is in the middle of the new events */
    for (int i = 0; i < 300 && s_seen() < before + 8; i++)
        kt_sleep_ms(20);
    rep = kt_child_pid(node.pid, "koop-reporting");
    cr_assert_gt(rep, 0, "no koop-reporting process under koop-node");
    cr_assert_eq(kill(rep, SIGKILL), 0);
    cr_log_info("koop-reporting (pid %d) killed after %ld of the new events", (int)rep, s_seen() - before);
    cr_assert_eq(waitpid(writer, &status, 0), writer);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writes of phase two failed");
    for (int i = 0; i < 100 && (rep2 == 0 || rep2 == rep); i++) {
        rep2 = kt_child_pid(node.pid, "koop-reporting");
        if (rep2 == 0 || rep2 == rep)
            kt_sleep_ms(100);
    }
    cr_assert(rep2 > 0 && rep2 != rep, "koop-node did not restart koop-reporting");
    s_caught_up();
    s_check_all(20);

    /* and once more from the logs */
    s_ok("rebuild", "report", "rebuild", NULL);
    s_caught_up();
    s_check_all(20);
}

Test(reporting, text_csv_and_bad_periods)
{
    kt_run_t r;
    s_scenario();
    s_caught_up();
    kt_ctl(&r, &node, "report", "evaluation", "--as-of", "2022-12-31", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "6 podmiotów partnerskich współpracowało w PZK"), "%s", r.out);
    cr_expect(strstr(r.out, "przeciętny PZK działał 19,8 miesiąca"), "%s", r.out);
    cr_expect(strstr(r.out, "2 spośród 4 osób/rodzin, których IPW zamknięto, zakończyły go sukcesem (50,0 %)"), "%s",
              r.out);
    kt_run_free(&r);
    kt_ctl(&r, &node, "report", "evaluation", "--as-of", "2022-12-31", "--csv", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strncmp(r.out, "unit,teryt,level,from,to,as_of,partner_entities,pzk_count,pzk_avg_months", 72) == 0, "%s",
              r.out);
    cr_expect(strstr(r.out, ",persons,suppressed\n"), "the last column lists what is hidden: %s", r.out);
    cr_expect(strstr(r.out, "\ngmina-2013032,2013032,gmina,,,2022-12-31,6,2,19.8,2,6,6,4,2,50.0,9.4,5,15,\n"), "%s",
              r.out);
    kt_run_free(&r);
    kt_ctl(&r, &node, "report", "indicators", "--from", "2021", "--to", "2021", "--as-of", "2022-12-31", "--csv", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.out, ",pzk,pzk_avg_months,,Przeciętny czas działania PZK (miesiące),11.5,0\n"), "%s", r.out);
    cr_expect(strstr(r.out, ",units,gminas_with_agreements,,Gminy z podpisanymi porozumieniami (do końca okresu),1,0\n"),
              "%s", r.out);
    kt_run_free(&r);
    kt_ctl(&r, &node, "report", "indicators", "--as-of", "2022-12-31", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "Lista aktywności i usług"), "%s", r.out);
    cr_expect(strstr(r.out, "Wskaźniki modelu kooperacji: Kobylin-Borzymy – gmina-2013032 (gmina, TERYT 2013032)\n"
                            "Okres: od początku – 2022-12-31 (stan na 2022-12-31)\n"), "%s", r.out);
    cr_expect(strstr(r.out, "\n  Przeciętny czas działania PZK (miesiące)"), "%s", r.out);
    cr_expect(strstr(r.out, "\n    – pomoc społeczna "), "%s", r.out);
    kt_run_free(&r);
    /* in English (--lang en): the same figures under labels.def's English */
    kt_ctl(&r, &node, "--lang", "en", "report", "indicators", "--as-of", "2022-12-31", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "Indicators of the cooperation model: Kobylin-Borzymy – gmina-2013032 (municipality, TERYT 2013032)\n"
                            "Period: from the start – 2022-12-31 (as of 2022-12-31)\n"), "%s", r.out);
    cr_expect(strstr(r.out, "\nIndividual Cooperation Programmes (IPW)\n  IPWs opened in the period "), "%s", r.out);
    cr_expect(strstr(r.out, "\n  Mean working time of a PZK (months)"), "%s", r.out);
    cr_expect(strstr(r.out, "\n    – social assistance "), "%s", r.out);
    cr_expect(strstr(r.out, " 19.8\n"), "a decimal point in English: %s", r.out);
    cr_expect_null(strstr(r.out, "IPW otwarte"), "%s", r.out);
    cr_expect_null(strstr(r.out, "pomoc społeczna"), "%s", r.out);
    kt_run_free(&r);
    /* the evaluation's summary too, the same sentence in the reader's words */
    kt_ctl(&r, &node, "--lang", "en", "report", "evaluation", "--as-of", "2022-12-31", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "(municipality, TERYT 2013032)\n"), "%s", r.out);
    cr_expect(strstr(r.out, "\n6 partner entities cooperated in PZKs; a PZK worked 19.8 months on average (PZKs in the "
                            "period: 2); 2 of the 4 persons/families whose IPW was closed completed it with success "
                            "(50.0 %); IPWs covered 5 households (15 people).\n"), "%s", r.out);
    cr_expect_null(strstr(r.out, "podmiot"), "%s", r.out);
    kt_run_free(&r);
    kt_ctl(&r, &node, "--lang", "en", "--json", "report", "evaluation", "--as-of", "2022-12-31", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strncmp(json_string_value(json_object_get(r.json, "summary")), "6 partner entities cooperated in PZKs;", 38) == 0,
              "%s", r.out);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "level")), "gmina", "JSON keeps the reply's own values: %s",
                     r.out);
    kt_run_free(&r);
    kt_ctl(&r, &node, "--lang", "en", "--json", "report", "indicators", "--as-of", "2022-12-31", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    {
        size_t i;
        json_t *f;
        int seen = 0;
        json_array_foreach(json_object_get(r.json, "figures"), i, f) {
            const char *key = json_string_value(json_object_get(f, "key")), *dim = json_string_value(json_object_get(f, "dim"));
            if (!strcmp(key, "ipw_closed") && !strcmp(dim, "success") && ++seen)
                cr_expect_str_eq(json_string_value(json_object_get(f, "dim_label")), "success");
            if (!strcmp(key, "ipw_closed") && !*dim && ++seen)
                cr_expect_str_eq(json_string_value(json_object_get(f, "label")), "IPWs closed in the period");
        }
        cr_expect_eq(seen, 2, "%s", r.out);
    }
    kt_run_free(&r);

    /* a period that is not whole months is refused */
    kt_ctl(&r, &node, "--json", "report", "evaluation", "--from", "2020-01-15", NULL);
    kt_refused(&r, 1, "report.whole_months", "from", "2020-01-15", "first_day", NULL);
    kt_ctl(&r, &node, "--json", "report", "evaluation", "--unit", "gmina-0000000", NULL);
    kt_refused(&r, 1, "report.unit_unknown", "unit", "gmina-0000000", NULL);
    kt_ctl(&r, &node, "--json", "report", "evaluation", "--csv", NULL);
    kt_refused(&r, 2, "field.invalid", "csv", "--json", NULL);
    kt_ctl(&r, &node, "report", "evaluation", "--period", "2020", NULL);
    cr_expect_eq(r.code, 2);
    kt_run_free(&r);
    kt_ctl(&r, &node, "--json", "report", "evaluation", "--unit", "2013032", "--as-of", "2022-12-31", NULL);
    cr_assert_eq(r.code, 0, "the gmina by its TERYT: %s", r.err);
    cr_expect_eq(json_integer_value(json_object_get(r.json, "ipw_opened")), 6);
    kt_run_free(&r);
}
