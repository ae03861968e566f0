/*
 * The cases service end to end: a real node (koop-node, koop-registry,
 * koop-cases) driven by the real koopctl acting as staff people: the IPW
 * lifecycle, the ZZK access rules, the audit log, goals/tasks/meetings/
 * referrals/consent, the timeline, history entered after the fact, bad input,
 * and personal data never reaching a SHARED event.
 */
#include "kt_cases.h"
#include "cases.pb-c.h"
#include "envelope.pb-c.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

KT_GMINA_SUITE(cases, 120);

/* A command that must be refused: its exit code, the error's code and field
 * and (when given) the message's arguments (kt_refused). */
#define REFUSED(r, exit, code, field, ...) kt_refused(r, exit, code, field __VA_OPT__(, ) __VA_ARGS__, NULL)

Test(cases, ipw_lifecycle_legal_transitions)
{
    kt_run_t r;
    char *hh = NULL, *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &hh);
    cr_assert_not_null(ipw);

    AS(&r, g.sw, "ipw", "show", "--ipw", ipw);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(kt_str(r.json, "status"), "draft");
    cr_assert_str_eq(kt_str(r.json, "outcome"), "none");
    cr_assert_str_eq(kt_str(r.json, "number"), "IPW/2026/0001");
    cr_assert_str_eq(kt_str(r.json, "household"), hh);
    json_t *m = json_array_get(json_object_get(r.json, "members"), 0);
    cr_assert_str_eq(kt_str(m, "person"), g.sw, "the coordinator is the first ZZK member");
    cr_assert_str_eq(kt_str(m, "institution"), g.gops);
    cr_assert_str_eq(kt_str(m, "sector"), "social_assistance");
    kt_run_free(&r);

    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", "2026-01-15");
    cr_assert_str_eq(kt_str(r.json, "status"), "active");
    kt_ok(&r, "activate");
    AS(&r, g.sw, "ipw", "suspend", "--ipw", ipw, "--date", "2026-03-01", "--reason", "pobyt w szpitalu");
    cr_assert_str_eq(kt_str(r.json, "status"), "suspended");
    kt_ok(&r, "suspend");
    AS(&r, g.sw, "ipw", "resume", "--ipw", ipw, "--date", "2026-04-01");
    cr_assert_str_eq(kt_str(r.json, "status"), "active");
    kt_ok(&r, "resume");
    AS(&r, g.sw, "ipw", "review", "--ipw", ipw, "--date", "2026-06-01");
    kt_ok(&r, "review");
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-11-01", "--outcome", "success", "--reason",
       "cele osiągnięte");
    kt_ok(&r, "close");

    AS(&r, g.sw, "ipw", "show", "--ipw", ipw);
    cr_assert_str_eq(kt_str(r.json, "status"), "closed");
    cr_assert_str_eq(kt_str(r.json, "outcome"), "success");
    cr_assert_str_eq(kt_str(r.json, "signed"), "2026-01-15");
    cr_assert_str_eq(kt_str(r.json, "closed"), "2026-11-01");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(r.json, "reviews"), 0)), "2026-06-01");
    json_t *h = json_object_get(r.json, "history");
    cr_assert_eq(json_array_size(h), 5, "draft, active, suspended, active, closed");
    cr_assert_str_eq(kt_str(json_array_get(h, 2), "status"), "suspended");
    cr_assert_str_eq(kt_str(json_array_get(h, 4), "date"), "2026-11-01");
    kt_run_free(&r);

    /* a closed household IPW allows a new one */
    char *second = ID(g.sw, "ipw", "open", "--household", hh, "--coordinator", g.sw, "--opened", "2026-11-10");
    cr_assert_not_null(second);
    free(second);
    free(hh);
    free(ipw);
}

Test(cases, illegal_transitions_are_refused_with_clear_errors)
{
    kt_run_t r;
    char *hh = NULL, *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &hh);
    cr_assert_not_null(ipw);

    AS(&r, g.sw, "ipw", "suspend", "--ipw", ipw, "--date", "2026-02-01");
    REFUSED(&r, 1, "state.illegal_transition", NULL, "IPW/2026/0001", "ipw_draft", "ipw.suspend", "ipw_active");
    AS(&r, g.sw, "ipw", "resume", "--ipw", ipw, "--date", "2026-02-01");
    REFUSED(&r, 1, "state.illegal_transition", NULL, "IPW/2026/0001", "ipw_draft", "ipw.resume", "ipw_suspended");
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-02-01", "--outcome", "success");
    REFUSED(&r, 1, "ipw.close_draft", "outcome", "IPW/2026/0001", "discontinued");
    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", "2026-01-05");
    REFUSED(&r, 1, "date.order", "date", "2026-01-05", "ipw_last_step", "2026-01-10");
    AS(&r, g.sw, "ipw", "open", "--household", hh, "--coordinator", g.sw, "--opened", "2026-02-01");
    REFUSED(&r, 1, "ipw.already_open", "household", "IPW/2026/0001", "ipw_draft");

    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", "2026-01-15");
    kt_ok(&r, "activate");
    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", "2026-01-16");
    REFUSED(&r, 1, "state.illegal_transition", NULL, "IPW/2026/0001", "ipw_active", "ipw.activate", "ipw_draft");
    AS(&r, g.sw, "ipw", "resume", "--ipw", ipw, "--date", "2026-01-16");
    REFUSED(&r, 1, "state.illegal_transition", NULL, "IPW/2026/0001", "ipw_active", "ipw.resume", "ipw_suspended");
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-05-01");
    REFUSED(&r, 1, "field.enum_required", "outcome", "success no_success discontinued");
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-05-01", "--outcome", "none");
    REFUSED(&r, 1, "field.enum", "outcome", "none", "success no_success discontinued");
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-05-01", "--outcome", "maybe");
    REFUSED(&r, 2, "field.enum", "outcome");

    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-05-01", "--outcome", "no_success");
    kt_ok(&r, "close");
    const char *steps[][3] = {
        {"activate", "ipw.activate", "ipw_draft"}, {"suspend", "ipw.suspend", "ipw_active"},
        {"resume", "ipw.resume", "ipw_suspended"}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        AS(&r, g.sw, "ipw", steps[i][0], "--ipw", ipw, "--date", "2026-06-01");
        REFUSED(&r, 1, "state.illegal_transition", NULL, "IPW/2026/0001", "ipw_closed", steps[i][1], steps[i][2]);
    }
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-06-01", "--outcome", "success");
    REFUSED(&r, 1, "state.illegal_transition", NULL, "IPW/2026/0001", "ipw_closed", "ipw.close", "ipw_open");
    AS(&r, g.sw, "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "1", "--target", "5");
    REFUSED(&r, 1, "ipw.closed", "ipw", "IPW/2026/0001", "2026-05-01");
    AS(&r, g.sw, "ipw", "member", "add", "--ipw", ipw, "--person", g.cop);
    REFUSED(&r, 1, "ipw.closed", "ipw", "IPW/2026/0001", "2026-05-01");

    AS(&r, g.sw, "ipw", "show", "--ipw", ipw);
    cr_assert_str_eq(kt_str(r.json, "status"), "closed");
    cr_assert_str_eq(kt_str(r.json, "outcome"), "no_success");
    kt_ok(&r, "show");

    /* a draft that never started closes as discontinued */
    char *other = kt_open_ipw(&g, g.sw2, "2026-02-01", NULL);
    AS(&r, g.sw2, "ipw", "close", "--ipw", other, "--date", "2026-02-10", "--outcome", "discontinued");
    cr_assert_str_eq(kt_str(r.json, "outcome"), "discontinued");
    kt_ok(&r, "close a draft as discontinued");
    free(other);
    free(hh);
    free(ipw);
}

Test(cases, case_numbers_are_per_gmina_and_year)
{
    kt_run_t r;
    const char *opened[] = {"2025-03-01", "2025-12-31", "2026-01-02"};
    const char *want[] = {"IPW/2025/0001", "IPW/2025/0002", "IPW/2026/0001"};
    for (int i = 0; i < 3; i++) {
        char *ipw = kt_open_ipw(&g, g.sw, opened[i], NULL);
        cr_assert_not_null(ipw);
        AS(&r, g.sw, "ipw", "show", "--ipw", ipw);
        cr_assert_str_eq(kt_str(r.json, "number"), want[i]);
        kt_run_free(&r);
        free(ipw);
    }
}

Test(cases, zzk_members_and_coordinators_only)
{
    kt_run_t r;
    char *hh = NULL, *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &hh);
    cr_assert_not_null(ipw);

    AS(&r, g.cop, "ipw", "show", "--ipw", ipw);
    REFUSED(&r, 1, "access.denied.not_in_zzk", NULL, g.cop, "IPW/2026/0001");
    AS(&r, g.outsider, "ipw", "timeline", "--ipw", ipw);
    REFUSED(&r, 1, "access.denied.not_in_zzk", NULL, g.outsider, "IPW/2026/0001");
    AS(&r, g.sw2, "household", "show", "--household", hh);
    REFUSED(&r, 1, "access.denied.household", NULL, hh);
    AS(&r, NULL, "ipw", "show", "--ipw", ipw);
    REFUSED(&r, 1, "cli.no_person", "as");
    AS(&r, "01a20dc3-0000-7000-8000-000000000000", "ipw", "show", "--ipw", ipw);
    REFUSED(&r, 1, "access.caller_unknown", "as", "01a20dc3-0000-7000-8000-000000000000");

    /* the service itself refuses a request without a caller */
    Koop__Cases__IpwRef q = KOOP__CASES__IPW_REF__INIT;
    q.ipw = ipw;
    cr_assert_eq(kt_request_refused(&g.node, "cases", NULL, "ipw.show", &q.base, "access.no_caller", "as"), 3 /* DENIED */);

    AS(&r, g.coord, "ipw", "show", "--ipw", ipw);
    kt_ok(&r, "a coordinator reads any IPW");
    AS(&r, g.coord, "household", "show", "--household", hh);
    kt_ok(&r, "a coordinator reads any household");

    AS(&r, g.sw, "ipw", "member", "add", "--ipw", ipw, "--person", g.cop, "--date", "2026-01-12");
    kt_ok(&r, "add member");
    AS(&r, g.sw, "ipw", "member", "add", "--ipw", ipw, "--person", g.cop);
    REFUSED(&r, 1, "zzk.already_member", "person", g.cop, "IPW/2026/0001");
    AS(&r, g.cop, "ipw", "show", "--ipw", ipw);
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *m = json_array_get(json_object_get(r.json, "members"), 1);
    cr_assert_str_eq(kt_str(m, "institution"), g.kpp, "member's institution comes from the registry");
    cr_assert_str_eq(kt_str(m, "sector"), "police");
    kt_run_free(&r);
    AS(&r, g.cop, "household", "show", "--household", hh);
    kt_ok(&r, "a ZZK member reads the household");
    AS(&r, g.cop, "goal", "add", "--ipw", ipw, "--area", "health", "--baseline", "3", "--target", "6");
    REFUSED(&r, 1, "access.denied.case_lead", NULL, g.cop, "IPW/2026/0001", "goal.add");
    char *goal = ID(g.sw, "goal", "add", "--ipw", ipw, "--area", "health", "--baseline", "3", "--target", "6");
    cr_assert_not_null(goal, "the coordinator adds a goal");
    AS(&r, g.cop, "goal", "scale", "--goal", goal, "--value", "4", "--date", "2026-02-01");
    kt_ok(&r, "a ZZK member scales a goal");

    AS(&r, g.sw, "ipw", "member", "remove", "--ipw", ipw, "--person", g.sw);
    REFUSED(&r, 1, "zzk.coordinator", "person", "IPW/2026/0001");
    AS(&r, g.sw, "ipw", "member", "remove", "--ipw", ipw, "--person", g.cop, "--date", "2026-03-01");
    kt_ok(&r, "remove member");
    AS(&r, g.cop, "ipw", "show", "--ipw", ipw);
    REFUSED(&r, 1, "access.denied.not_in_zzk", NULL, g.cop, "IPW/2026/0001");
    AS(&r, g.cop, "goal", "scale", "--goal", goal, "--value", "5", "--date", "2026-03-02");
    REFUSED(&r, 1, "access.denied.not_in_zzk", NULL, g.cop, "IPW/2026/0001");

    /* lists show only what the person may see */
    AS(&r, g.sw2, "ipw", "list");
    cr_assert_eq(json_array_size(r.json), 0);
    kt_run_free(&r);
    AS(&r, g.sw, "ipw", "list", "--status", "draft");
    cr_assert_eq(json_array_size(r.json), 1);
    kt_run_free(&r);
    AS(&r, g.sw2, "household", "list");
    cr_assert_eq(json_array_size(r.json), 0);
    kt_run_free(&r);
    AS(&r, g.coord, "household", "list", "--text", "testowa");
    cr_assert_eq(json_array_size(r.json), 1);
    kt_run_free(&r);
    free(goal);
    free(hh);
    free(ipw);
}

static json_t *
s_find_entry(json_t *audit, const char *caller, const char *method, int allowed)
{
    for (size_t i = 0; i < json_array_size(audit); i++) {
        json_t *e = json_array_get(audit, i);
        if (strcmp(kt_str(e, "caller"), caller) == 0 && strcmp(kt_str(e, "method"), method) == 0 &&
            json_is_true(json_object_get(e, "allowed")) == allowed)
            return e;
    }
    return NULL;
}

Test(cases, audit_log_records_reads_writes_and_refusals)
{
    kt_run_t r;
    char *hh = NULL, *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &hh);
    cr_assert_not_null(ipw);
    AS(&r, g.sw, "ipw", "show", "--ipw", ipw);
    kt_ok(&r, "show");
    AS(&r, g.outsider, "ipw", "show", "--ipw", ipw);
    REFUSED(&r, 1, "access.denied.not_in_zzk", NULL, g.outsider, "IPW/2026/0001");
    Koop__Cases__IpwRef q = KOOP__CASES__IPW_REF__INIT;
    q.ipw = ipw;
    cr_assert_eq(kt_request_refused(&g.node, "cases", NULL, "ipw.show", &q.base, "access.no_caller", "as"), 3);
    AS(&r, g.sw, "audit", "show");
    REFUSED(&r, 1, "access.denied.coordinator_only", NULL, "audit_log");

    AS(&r, g.coord, "audit", "show");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(json_is_array(r.json), "audit show --json is an array: %s", r.out);
    json_t *e = s_find_entry(r.json, g.sw, "household.add", 1);
    cr_assert_not_null(e, "household add not audited");
    cr_assert_str_eq(kt_str(e, "household"), hh);
    cr_assert_str_eq(kt_str(e, "result"), "ok");
    e = s_find_entry(r.json, g.sw, "ipw.open", 1);
    cr_assert_not_null(e, "ipw open not audited");
    cr_assert_str_eq(kt_str(e, "ipw"), ipw);
    e = s_find_entry(r.json, g.sw, "ipw.show", 1);
    cr_assert_not_null(e, "a read is not audited");
    cr_assert_str_eq(kt_str(e, "ipw"), ipw);
    cr_assert(json_integer_value(json_object_get(e, "time_ms")) > 0);
    e = s_find_entry(r.json, g.outsider, "ipw.show", 0);
    cr_assert_not_null(e, "a refused read is not audited");
    cr_assert_str_eq(kt_str(e, "ipw"), ipw, "the refused attempt names the case");
    cr_assert_str_eq(kt_str(e, "household"), hh);
    cr_assert_not_null(s_find_entry(r.json, "", "ipw.show", 0), "an anonymous attempt is not audited");
    cr_assert_not_null(s_find_entry(r.json, g.sw, "audit.show", 0), "refused audit read not audited");
    size_t all = json_array_size(r.json);
    kt_run_free(&r);

    AS(&r, g.coord, "audit", "show", "--ipw", ipw);
    cr_assert(json_array_size(r.json) >= 4 && json_array_size(r.json) < all, "filter by IPW");
    for (size_t i = 0; i < json_array_size(r.json); i++)
        cr_assert_str_eq(kt_str(json_array_get(r.json, i), "ipw"), ipw);
    kt_run_free(&r);
    AS(&r, g.coord, "audit", "show", "--person", g.outsider);
    cr_assert_eq(json_array_size(r.json), 1);
    kt_run_free(&r);
    AS(&r, g.coord, "audit", "show", "--limit", "2");
    cr_assert_eq(json_array_size(r.json), 2);
    cr_assert_str_eq(kt_str(json_array_get(r.json, 1), "method"), "audit.show", "newest last");
    kt_run_free(&r);
    free(hh);
    free(ipw);
}

Test(cases, goals_tasks_and_my_tasks)
{
    kt_run_t r;
    char *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", NULL);
    cr_assert_not_null(ipw);
    char *goal = ID(g.sw, "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "2", "--target", "7",
                    "--description", "Podjęcie pracy", "--date", "2026-01-12");
    cr_assert_not_null(goal);
    AS(&r, g.sw, "goal", "scale", "--goal", goal, "--value", "5", "--date", "2026-06-01");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(json_object_get(r.json, "scalings"), 0), "value")), 5);
    kt_ok(&r, "scale");
    AS(&r, g.sw, "goal", "scale", "--goal", goal, "--value", "11", "--date", "2026-06-02");
    REFUSED(&r, 1, "psr.range", "value", "11");
    AS(&r, g.sw, "goal", "scale", "--goal", goal, "--value", "-1", "--date", "2026-06-02");
    REFUSED(&r, 1, "psr.range", "value", "-1");
    AS(&r, g.sw, "goal", "scale", "--goal", goal, "--value", "4", "--date", "2025-12-31");
    REFUSED(&r, 1, "date.order", "date", "2025-12-31", "ipw_opened", "2026-01-10");

    AS(&r, g.sw, "task", "add", "--ipw", ipw, "--owner", g.cop, "--due", "2026-02-01", "--title", "Wizyta");
    REFUSED(&r, 1, "zzk.member_required", "owner", g.cop, "IPW/2026/0001");
    AS(&r, g.sw, "ipw", "member", "add", "--ipw", ipw, "--person", g.cop);
    kt_ok(&r, "member add");
    AS(&r, g.sw, "task", "add", "--ipw", ipw, "--goal", goal, "--owner", g.cop, "--due", "2026-02-01", "--title",
       "Wizyta dzielnicowego", "--service", g.service);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(kt_str(r.json, "status"), "planned");
    cr_assert_str_eq(kt_str(r.json, "owner_institution"), g.kpp, "owner institution derived from the registry");
    cr_assert_str_eq(kt_str(r.json, "owner_sector"), "police");
    cr_assert_str_eq(kt_str(r.json, "service_provider"), g.pcpr);
    char *t1 = strdup(kt_str(r.json, "id"));
    kt_run_free(&r);
    char *t2 = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.cop, "--due", "2026-03-01", "--title", "Druga");
    char *t3 = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", "2026-03-01", "--title", "Moje");
    cr_assert(t2 && t3);

    AS(&r, g.cop, "task", "mine");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_eq(json_array_size(r.json), 2, "the owner's tasks: %s", r.out);
    cr_assert_str_eq(kt_str(json_array_get(r.json, 0), "id"), t1, "ordered by due date");
    kt_run_free(&r);

    AS(&r, g.cop, "task", "start", "--task", t1, "--date", "2026-01-20");
    cr_assert_str_eq(kt_str(r.json, "status"), "in_progress");
    kt_ok(&r, "start");
    AS(&r, g.cop, "task", "start", "--task", t1, "--date", "2026-01-21");
    REFUSED(&r, 1, "state.illegal_transition", NULL, t1, "task_in_progress", "task.start", "task_planned");
    AS(&r, g.cop, "task", "done", "--task", t1, "--date", "2026-01-19");
    REFUSED(&r, 1, "date.order", "date", "2026-01-19", "task_started", "2026-01-20");
    AS(&r, g.cop, "task", "done", "--task", t1, "--date", "2026-01-30");
    cr_assert_str_eq(kt_str(r.json, "done"), "2026-01-30");
    kt_ok(&r, "done");
    AS(&r, g.cop, "task", "cancel", "--task", t1);
    REFUSED(&r, 1, "access.denied.case_lead", NULL, g.cop, "IPW/2026/0001", "task.cancel");
    AS(&r, g.sw, "task", "cancel", "--task", t1);
    REFUSED(&r, 1, "state.illegal_transition", NULL, t1, "task_done", "task.cancel", "task_open");
    AS(&r, g.sw, "task", "cancel", "--task", t2, "--date", "2026-02-15", "--reason", "nieaktualne");
    cr_assert_str_eq(kt_str(r.json, "status"), "cancelled");
    kt_ok(&r, "cancel");
    AS(&r, g.cop, "task", "mine", "--status", "done");
    cr_assert_eq(json_array_size(r.json), 1);
    kt_run_free(&r);
    AS(&r, g.sw, "task", "mine");
    cr_assert_eq(json_array_size(r.json), 1);
    cr_assert_str_eq(kt_str(json_array_get(r.json, 0), "id"), t3);
    kt_run_free(&r);
    /* someone with an open task stays in the ZZK */
    AS(&r, g.sw, "ipw", "member", "add", "--ipw", ipw, "--person", g.sw2);
    kt_ok(&r, "member add");
    char *t4 = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw2, "--due", "2026-03-01", "--title", "X");
    AS(&r, g.sw, "ipw", "member", "remove", "--ipw", ipw, "--person", g.sw2);
    REFUSED(&r, 1, "zzk.open_tasks", "person", g.sw2, "IPW/2026/0001", "1");

    AS(&r, g.sw, "ipw", "show", "--ipw", ipw);
    cr_assert_eq(json_array_size(json_object_get(r.json, "goals")), 1);
    cr_assert_eq(json_array_size(json_object_get(r.json, "tasks")), 4);
    kt_run_free(&r);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
    free(goal);
    free(ipw);
}

Test(cases, meetings_and_referrals)
{
    kt_run_t r;
    char *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", NULL);
    char parts[80];
    cr_assert_not_null(ipw);
    snprintf(parts, sizeof parts, "%s,%s", g.sw, g.cop);
    AS(&r, g.sw, "meeting", "add", "--ipw", ipw, "--date", "2026-01-20", "--participants", parts);
    REFUSED(&r, 1, "zzk.member_required", "participants", g.cop, "IPW/2026/0001");
    AS(&r, g.sw, "ipw", "member", "add", "--ipw", ipw, "--person", g.cop);
    kt_ok(&r, "member add");
    AS(&r, g.sw, "meeting", "add", "--ipw", ipw, "--date", "2026-01-20", "--participants", parts, "--topic",
       "Diagnoza", "--decisions", "Spotkanie co miesiąc");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_eq(json_array_size(json_object_get(r.json, "participants")), 2);
    kt_run_free(&r);

    char *ref = ID(g.sw, "referral", "send", "--ipw", ipw, "--service", g.service, "--date", "2026-01-21");
    cr_assert_not_null(ref);
    AS(&r, g.sw, "referral", "done", "--referral", ref, "--date", "2026-01-22");
    REFUSED(&r, 1, "state.illegal_transition", NULL, ref, "referral_sent", "referral.done", "referral_accepted");
    AS(&r, g.sw, "referral", "accept", "--referral", ref, "--date", "2026-01-20");
    REFUSED(&r, 1, "date.order", "date", "2026-01-20", "referral_last_step", "2026-01-21");
    AS(&r, g.sw, "referral", "accept", "--referral", ref, "--date", "2026-01-25");
    cr_assert_str_eq(kt_str(r.json, "status"), "accepted");
    cr_assert_str_eq(kt_str(r.json, "provider"), g.pcpr);
    cr_assert_str_eq(kt_str(r.json, "provider_sector"), "family_support");
    kt_ok(&r, "accept");
    AS(&r, g.sw, "referral", "decline", "--referral", ref, "--date", "2026-01-26");
    REFUSED(&r, 1, "state.illegal_transition", NULL, ref, "referral_accepted", "referral.decline", "referral_sent");
    AS(&r, g.sw, "referral", "done", "--referral", ref, "--date", "2026-03-01");
    cr_assert_str_eq(kt_str(r.json, "status"), "done");
    kt_ok(&r, "done");

    char *ref2 = ID(g.sw, "referral", "send", "--ipw", ipw, "--service", g.service, "--date", "2026-02-01");
    AS(&r, g.sw, "referral", "decline", "--referral", ref2, "--date", "2026-02-03", "--reason", "brak miejsc");
    cr_assert_str_eq(kt_str(r.json, "status"), "declined");
    kt_ok(&r, "decline");
    AS(&r, g.sw, "referral", "accept", "--referral", ref2, "--date", "2026-02-04");
    REFUSED(&r, 1, "state.illegal_transition", NULL, ref2, "referral_declined", "referral.accept", "referral_sent");
    AS(&r, g.sw, "referral", "send", "--ipw", ipw, "--service", "01a20dc3-0000-7000-8000-000000000000");
    REFUSED(&r, 1, "record.not_found", "service", "catalogue", "01a20dc3-0000-7000-8000-000000000000");
    free(ref);
    free(ref2);
    free(ipw);
}

Test(cases, consent_record_and_withdraw)
{
    kt_run_t r;
    char *hh = ID(g.sw, "household", "add", "--name", "Rodzina Zgody", "--size", "2");
    char share[80];
    cr_assert_not_null(hh);
    snprintf(share, sizeof share, "%s,%s", g.kpp, g.pcpr);
    char *consent = ID(g.sw, "consent", "record", "--household", hh, "--date", "2026-01-05", "--purpose",
                       "udział w IPW i wymiana informacji w ZZK", "--share-with", share);
    cr_assert_not_null(consent);
    AS(&r, g.sw, "consent", "record", "--household", hh, "--purpose", "x", "--share-with",
       "01a20dc3-0000-7000-8000-000000000000");
    REFUSED(&r, 1, "record.not_found", "share_with", "institution", "01a20dc3-0000-7000-8000-000000000000");
    AS(&r, g.sw, "consent", "withdraw", "--consent", consent, "--date", "2026-01-01");
    REFUSED(&r, 1, "date.order", "date", "2026-01-01", "consent_given", "2026-01-05");
    AS(&r, g.sw2, "consent", "withdraw", "--consent", consent, "--date", "2026-03-01");
    REFUSED(&r, 1, "access.denied.household", NULL, hh);
    AS(&r, g.sw, "consent", "withdraw", "--consent", consent, "--date", "2026-03-01");
    cr_assert_str_eq(kt_str(r.json, "withdrawn"), "2026-03-01");
    kt_ok(&r, "withdraw");
    AS(&r, g.sw, "consent", "withdraw", "--consent", consent, "--date", "2026-03-02");
    REFUSED(&r, 1, "consent.withdrawn", "consent", "2026-03-01");
    AS(&r, g.sw, "household", "show", "--household", hh);
    json_t *c = json_array_get(json_object_get(r.json, "consents"), 0);
    cr_assert_str_eq(kt_str(c, "date"), "2026-01-05");
    cr_assert_str_eq(kt_str(c, "withdrawn"), "2026-03-01");
    cr_assert_eq(json_array_size(json_object_get(c, "share_with")), 2);
    kt_run_free(&r);
    free(consent);
    free(hh);
}

Test(cases, timeline_shows_everything_in_date_order)
{
    kt_run_t r;
    char *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", NULL);
    cr_assert_not_null(ipw);
    /* entered out of order on purpose */
    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", "2026-01-15");
    kt_ok(&r, "activate");
    char *goal = ID(g.sw, "goal", "add", "--ipw", ipw, "--area", "housing", "--baseline", "1", "--target", "6",
                    "--date", "2026-01-12");
    AS(&r, g.sw, "goal", "scale", "--goal", goal, "--value", "4", "--date", "2026-04-01");
    kt_ok(&r, "scale");
    AS(&r, g.sw, "meeting", "add", "--ipw", ipw, "--date", "2026-02-01", "--topic", "Plan");
    kt_ok(&r, "meeting");
    char *task = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", "2026-03-01", "--title", "Wniosek",
                    "--date", "2026-01-16");
    AS(&r, g.sw, "task", "done", "--task", task, "--date", "2026-02-20");
    kt_ok(&r, "task done");

    AS(&r, g.sw, "ipw", "timeline", "--ipw", ipw);
    cr_assert_eq(r.code, 0, "%s", r.err);
    const char *want[] = {"ipw.opened", "ipw.member_added", "goal.added", "ipw.activated", "task.added",
                          "meeting.held", "task.done", "goal.scaled"};
    cr_assert_eq(json_array_size(r.json), sizeof want / sizeof want[0], "%s", r.out);
    for (size_t i = 0; i < json_array_size(r.json); i++) {
        json_t *e = json_array_get(r.json, i);
        cr_assert_str_eq(kt_str(e, "type"), want[i], "entry %zu", i);
        if (i)
            cr_assert(strcmp(kt_str(json_array_get(r.json, i - 1), "date"), kt_str(e, "date")) <= 0);
    }
    cr_assert(strstr(kt_str(json_array_get(r.json, 6), "summary"), "Wniosek"), "the timeline says what was done");
    kt_run_free(&r);
    AS(&r, g.cop, "ipw", "timeline", "--ipw", ipw);
    REFUSED(&r, 1, "access.denied.not_in_zzk", NULL, g.cop, "IPW/2026/0001");
    free(goal);
    free(task);
    free(ipw);
}

/* A programme from 2019-2020 entered today, every step with its own date. */
Test(cases, historical_case_entered_after_the_fact)
{
    kt_run_t r;
    char *ipw = kt_open_ipw(&g, g.sw, "2019-09-01", NULL);
    cr_assert_not_null(ipw);
    AS(&r, g.sw, "ipw", "member", "add", "--ipw", ipw, "--person", g.cop, "--date", "2019-09-02");
    kt_ok(&r, "member");
    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", "2019-09-15");
    kt_ok(&r, "activate");
    char *goal = ID(g.sw, "goal", "add", "--ipw", ipw, "--area", "parenting", "--baseline", "3", "--target", "8",
                    "--date", "2019-09-15");
    char *task = ID(g.sw, "task", "add", "--ipw", ipw, "--goal", goal, "--owner", g.cop, "--due", "2019-10-01",
                    "--title", "Wizyta", "--date", "2019-09-16");
    cr_assert(goal && task);
    AS(&r, g.cop, "task", "start", "--task", task, "--date", "2019-09-20");
    kt_ok(&r, "start");
    AS(&r, g.cop, "task", "done", "--task", task, "--date", "2019-09-30");
    kt_ok(&r, "done");
    AS(&r, g.sw, "goal", "scale", "--goal", goal, "--value", "8", "--date", "2020-08-20");
    kt_ok(&r, "scale");
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2020-09-01", "--outcome", "success");
    kt_ok(&r, "close");
    AS(&r, g.sw, "ipw", "show", "--ipw", ipw);
    cr_assert_str_eq(kt_str(r.json, "number"), "IPW/2019/0001");
    cr_assert_str_eq(kt_str(r.json, "opened"), "2019-09-01");
    cr_assert_str_eq(kt_str(r.json, "signed"), "2019-09-15");
    cr_assert_str_eq(kt_str(r.json, "closed"), "2020-09-01");
    kt_run_free(&r);
    AS(&r, g.sw, "ipw", "timeline", "--ipw", ipw);
    for (size_t i = 0; i < json_array_size(r.json); i++) {
        const char *d = kt_str(json_array_get(r.json, i), "date");
        cr_assert(strcmp(d, "2019-09-01") >= 0 && strcmp(d, "2020-09-01") <= 0, "entry dated %s", d);
    }
    kt_run_free(&r);
    free(goal);
    free(task);
    free(ipw);
}

/* Bad input: a clear error, non-zero exit, nothing written, still serving. */
Test(cases, bad_input_is_refused_and_service_keeps_serving)
{
    kt_run_t r;
    char *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", NULL);
    char *goal = ID(g.sw, "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "2", "--target", "7");
    const char *unknown = "01a20dc3-0000-7000-8000-000000000000";
    cr_assert(ipw && goal);
    /* each: the error's code and field, then the command */
    const char *bad[][18] = {
        {"date.no_such_day", "birth", "household", "add", "--name", "X", "--size", "3", "--birth", "1985-02-30", NULL},
        {"pesel.invalid", "pesel", "household", "add", "--name", "X", "--size", "3", "--pesel", "123", NULL},
        {"pesel.invalid", "pesel", "household", "add", "--name", "X", "--size", "3", "--pesel", "8501011234a", NULL},
        {"field.range", "size", "household", "add", "--name", "X", "--size", "0", NULL},
        {"field.range", "size", "household", "add", "--name", "X", "--size", "99", NULL},
        {"field.number", "size", "household", "add", "--name", "X", "--size", "many", NULL},
        {"field.required", "name", "household", "add", "--size", "3", NULL},
        {"field.required", "size", "household", "add", "--name", "X", NULL},
        {"field.enum", "sex", "household", "add", "--name", "X", "--size", "3", "--sex", "other", NULL},
        {"phone.invalid", "phone", "household", "add", "--name", "X", "--size", "3", "--phone", "dzwoń wieczorem", NULL},
        {"field.unknown", "colour", "household", "add", "--name", "X", "--size", "3", "--colour", "red", NULL},
        {"id.invalid", "household", "household", "show", "--household", "abc", NULL},
        {"record.not_found", "household", "household", "show", "--household", unknown, NULL},
        {"record.not_found", "household", "ipw", "open", "--household", unknown, "--coordinator", g.sw, "--opened",
         "2026-01-01", NULL},
        {"date.no_such_day", "opened", "ipw", "open", "--household", "x", "--coordinator", g.sw, "--opened", "2026-13-01",
         NULL},
        {"record.not_found", "ipw", "ipw", "show", "--ipw", unknown, NULL},
        {"field.required", "ipw", "ipw", "show", NULL},
        {"date.invalid", "date", "ipw", "activate", "--ipw", ipw, "--date", "15.01.2026", NULL},
        {"date.required", "date", "ipw", "activate", "--ipw", ipw, NULL},
        {"record.not_found", "person", "ipw", "member", "add", "--ipw", ipw, "--person", unknown, NULL},
        {"field.required", "person", "ipw", "member", "add", "--ipw", ipw, NULL},
        {"field.enum", "area", "goal", "add", "--ipw", ipw, "--area", "space", "--baseline", "2", "--target", "7", NULL},
        {"psr.range", "baseline", "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "12", "--target", "7",
         NULL},
        {"psr.required", "target", "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "2", NULL},
        {"field.enum_required", "area", "goal", "add", "--ipw", ipw, "--baseline", "2", "--target", "7", NULL},
        {"date.required", "date", "goal", "scale", "--goal", goal, "--value", "5", NULL},
        {"field.number", "value", "goal", "scale", "--goal", goal, "--value", "five", "--date", "2026-06-01", NULL},
        {"field.required", "title", "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", "2026-02-01", NULL},
        {"date.required", "due", "task", "add", "--ipw", ipw, "--owner", g.sw, "--title", "T", NULL},
        {"date.invalid", "due", "task", "add", "--ipw", ipw, "--owner", g.sw, "--title", "T", "--due", "jutro", NULL},
        {"record.not_found", "goal", "task", "add", "--ipw", ipw, "--owner", g.sw, "--title", "T", "--due",
         "2026-02-01", "--goal", unknown, NULL},
        {"record.not_found", "task", "task", "done", "--task", unknown, NULL},
        {"field.enum", "status", "task", "mine", "--status", "someday", NULL},
        {"cli.unknown_command", NULL, "ipw", "fly", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[24];
        size_t k = 0;
        char exe[PATH_MAX + 16];
        snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
        argv[k++] = exe;
        argv[k++] = "-c";
        argv[k++] = g.node.conf;
        argv[k++] = "--json";
        argv[k++] = "--as";
        argv[k++] = g.sw;
        for (size_t j = 2; bad[i][j]; j++)
            argv[k++] = (char *)bad[i][j];
        argv[k] = NULL;
        kt_exec(&r, argv);
        cr_assert_neq(r.code, 0, "case %zu (%s %s) accepted: %s", i, bad[i][2], bad[i][3], r.out);
        kt_refused(&r, r.code, bad[i][0], bad[i][1], NULL);
    }
    /* nothing was written by the refused requests */
    AS(&r, g.coord, "household", "list");
    cr_assert_eq(json_array_size(r.json), 1, "%s", r.out);
    kt_run_free(&r);
    AS(&r, g.sw, "ipw", "show", "--ipw", ipw);
    cr_assert_eq(json_array_size(json_object_get(r.json, "goals")), 1);
    cr_assert_eq(json_array_size(json_object_get(r.json, "tasks")), 0);
    cr_assert_eq(json_array_size(json_object_get(r.json, "members")), 1);
    cr_assert_str_eq(kt_str(r.json, "status"), "draft");
    kt_run_free(&r);
    /* garbage on the wire gets an answer too */
    cr_assert_eq(kt_request_refused(&g.node, "cases", g.sw, "ipw.nonsense", NULL, "method.unknown", NULL), 1);
    /* still serving */
    char *hh = ID(g.sw, "household", "add", "--name", "OK", "--size", "1");
    cr_assert_not_null(hh);
    free(hh);
    free(goal);
    free(ipw);
}

/* Personal data written into cases never appears in a SHARED event. */
Test(cases, pii_never_in_shared_events)
{
    kt_run_t r;
    const char *pii[] = {
        "Zofia Brzęczyszczykiewicz", "84022912343", "1984-02-29", "ul. Lipowa 7", "600100200",
        "Kacper Brzęczyszczykiewicz", "13271354316", "2013-07-13", "pasierb",
        "Leczenie odwykowe matki", "Zgoda na rozmowę z pedagogiem", "Wizyta w poradni uzależnień",
        "Rozmowa o piciu", "Matka podejmie terapię", "Skierowanie pilne - przemoc", "brak terminów",
        "Przeprowadzka do Białegostoku", "rodzina wyjechała", "Brzęczyszczykiewicz",
    };
    char *hh = ID(g.sw, "household", "add", "--name", pii[0], "--pesel", pii[1], "--birth", pii[2], "--address",
                  pii[3], "--phone", "+48 600100200", "--size", "3", "--sex", "female", "--target", "families,adults");
    cr_assert_not_null(hh);
    AS(&r, g.sw, "household", "member", "add", "--household", hh, "--name", pii[5], "--pesel", pii[6], "--birth",
       pii[7], "--relation", pii[8]);
    kt_ok(&r, "member");
    char *consent = ID(g.sw, "consent", "record", "--household", hh, "--date", "2026-01-09", "--purpose", pii[10],
                       "--share-with", g.kpp);
    char *ipw = ID(g.sw, "ipw", "open", "--household", hh, "--coordinator", g.sw, "--opened", "2026-01-10");
    cr_assert(consent && ipw);
    AS(&r, g.sw, "ipw", "member", "add", "--ipw", ipw, "--person", g.cop, "--date", "2026-01-11");
    kt_ok(&r, "zzk");
    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", "2026-01-15");
    kt_ok(&r, "activate");
    char *goal = ID(g.sw, "goal", "add", "--ipw", ipw, "--area", "addiction", "--baseline", "1", "--target", "6",
                    "--description", pii[9], "--date", "2026-01-16");
    AS(&r, g.sw, "goal", "scale", "--goal", goal, "--value", "3", "--date", "2026-03-01");
    kt_ok(&r, "scale");
    char *task = ID(g.sw, "task", "add", "--ipw", ipw, "--goal", goal, "--owner", g.cop, "--due", "2026-02-01",
                    "--title", pii[11], "--service", g.service, "--date", "2026-01-16");
    AS(&r, g.sw, "task", "cancel", "--task", task, "--date", "2026-01-20", "--reason", pii[17]);
    kt_ok(&r, "cancel");
    char parts[80];
    snprintf(parts, sizeof parts, "%s,%s", g.sw, g.cop);
    AS(&r, g.sw, "meeting", "add", "--ipw", ipw, "--date", "2026-01-21", "--participants", parts, "--topic", pii[12],
       "--decisions", pii[13]);
    kt_ok(&r, "meeting");
    char *ref = ID(g.sw, "referral", "send", "--ipw", ipw, "--service", g.service, "--date", "2026-01-22", "--note",
                   pii[14]);
    AS(&r, g.sw, "referral", "decline", "--referral", ref, "--date", "2026-01-23", "--reason", pii[15]);
    kt_ok(&r, "decline");
    AS(&r, g.sw, "ipw", "suspend", "--ipw", ipw, "--date", "2026-02-01", "--reason", pii[16]);
    kt_ok(&r, "suspend");
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-03-02", "--outcome", "discontinued", "--reason", pii[17]);
    kt_ok(&r, "close");
    AS(&r, g.sw, "consent", "withdraw", "--consent", consent, "--date", "2026-03-03");
    kt_ok(&r, "withdraw");

    kt_event_t *ev;
    long n = kt_events(&g.node, "cases", 0, &ev);
    cr_assert_gt(n, 20);
    int shared = 0;
    for (long i = 0; i < n; i++) {
        int is_local = strncmp(ev[i].type, "local.", 6) == 0;
        cr_assert_eq(ev[i].seq, (uint64_t)i + 1, "the log has no gaps");
        cr_assert_eq(ev[i].scope, is_local ? KOOP__SCOPE__SCOPE_LOCAL : KOOP__SCOPE__SCOPE_SHARED,
                     "%s has the wrong scope", ev[i].type);
        if (is_local)
            continue;
        shared++;
        for (size_t p = 0; p < sizeof pii / sizeof pii[0]; p++)
            cr_assert(!kt_contains(ev[i].bytes, ev[i].len, pii[p]), "SHARED %s (seq %llu) carries '%s'", ev[i].type,
                      (unsigned long long)ev[i].seq, pii[p]);
    }
    /* the check can see personal data: it is all in the LOCAL events */
    for (size_t p = 0; p < sizeof pii / sizeof pii[0]; p++) {
        int found = 0;
        for (long i = 0; i < n && !found; i++)
            found = ev[i].scope == KOOP__SCOPE__SCOPE_LOCAL && kt_contains(ev[i].bytes, ev[i].len, pii[p]);
        cr_assert(found, "'%s' is not in any LOCAL event: the test would prove nothing", pii[p]);
    }
    kt_events_free(ev, n);
    /* what may leave the node is exactly the SHARED events */
    n = kt_events(&g.node, "cases", 1, &ev);
    cr_assert_eq(n, shared);
    for (long i = 0; i < n; i++)
        for (size_t p = 0; p < sizeof pii / sizeof pii[0]; p++)
            cr_assert(!kt_contains(ev[i].bytes, ev[i].len, pii[p]));
    kt_events_free(ev, n);

    /* and koopctl decodes every payload */
    kt_ctl(&r, &g.node, "--json", "events", "list", "--stream", "cases", "--limit", "1000", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    for (size_t i = 0; i < json_array_size(r.json); i++) {
        json_t *e = json_array_get(r.json, i);
        cr_assert(json_is_object(json_object_get(e, "data")), "event %s not decoded", kt_str(e, "type"));
    }
    kt_run_free(&r);
    free(hh);
    free(consent);
    free(ipw);
    free(goal);
    free(task);
    free(ref);
}
