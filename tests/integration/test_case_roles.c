/*
 * The role table of docs/CASES.md, one test per rule, through the real
 * koopctl on a real node: each rule is shown allowed for the roles that
 * have it and refused - with its access.* code - for one that does not,
 * and each of those calls is found in the audit log (allowed or not, with
 * the code of the refusal).
 */
#include "kt_cases.h"
#include "cases.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kt_gmina_t g;
static char *ipw, *hh, *consent;

static void
s_setup(void)
{
    kt_run_t r;
    cr_assert_eq(kt_gmina_setup(&g), 0, "node with staff did not start");
    ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &hh);
    cr_assert_not_null(ipw);
    kt_as(&r, &g, g.sw, "ipw", "member", "add", "--ipw", ipw, "--person", g.cop, "--date", "2026-01-11", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    kt_as(&r, &g, g.sw, "ipw", "activate", "--ipw", ipw, "--date", "2026-01-15", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    kt_as(&r, &g, g.coord, "consent", "record", "--household", hh, "--purpose", "x", "--share-with", g.gops, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    consent = strdup(json_string_value(json_object_get(r.json, "id")));
    kt_run_free(&r);
}

static void
s_teardown(void)
{
    free(ipw);
    free(hh);
    free(consent);
    kt_gmina_teardown(&g);
}

TestSuite(case_roles, .init = s_setup, .fini = s_teardown, .timeout = 180);

#define AS(r, who, ...) kt_as(r, &g, who, __VA_ARGS__, NULL)

/* The newest audit entry of `who` for `method` with `allowed` (a refusal of
 * access is not allowed; any other is) has `code` (NULL: none checked). */
static void
s_audited(const char *who, const char *method, int allowed, const char *code)
{
    kt_run_t r;
    json_t *found = NULL;
    AS(&r, g.coord, "audit", "show", "--person", who);
    cr_assert_eq(r.code, 0, "%s", r.err);
    for (size_t i = json_array_size(r.json); i-- > 0 && !found;) {
        json_t *e = json_array_get(r.json, i);
        const char *m = json_string_value(json_object_get(e, "method"));
        if (m && strcmp(m, method) == 0 && json_is_true(json_object_get(e, "allowed")) == allowed)
            found = e;
    }
    cr_assert_not_null(found, "no audit entry of %s for %s (allowed %d)", who, method, allowed);
    if (code)
        cr_assert_str_eq(json_string_value(json_object_get(found, "code")), code, "audit of %s", method);
    kt_run_free(&r);
}

/* koopctl --json --as who ARGS (a va_list) into r. */
static void
s_run_v(kt_run_t *r, const char *who, va_list ap)
{
    char exe[PATH_MAX + 16], *full[40];
    const char *a;
    int k = 0;
    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    full[k++] = exe;
    full[k++] = "-c";
    full[k++] = g.node.conf;
    full[k++] = "--json";
    full[k++] = "--as";
    full[k++] = (char *)who;
    while ((a = va_arg(ap, const char *)) && k < 38)
        full[k++] = (char *)a;
    full[k] = NULL;
    kt_exec(r, full);
}

/* koopctl ARGS as who must be allowed; its audit entry says so. */
static json_t *
s_allowed(const char *who, const char *method, ...)
{
    va_list ap;
    kt_run_t r;
    json_t *out;
    va_start(ap, method);
    s_run_v(&r, who, ap);
    va_end(ap);
    cr_assert_eq(r.code, 0, "%s (as %s) refused: %s", method, who, r.err);
    out = json_incref(r.json);
    kt_run_free(&r);
    s_audited(who, method, 1, NULL);
    return out;
}

/* koopctl ARGS as who must be refused with code (and field, NULL: none);
 * audited as refused. */
static void
s_refused_on(const char *who, const char *method, const char *code, const char *field, ...)
{
    va_list ap;
    kt_run_t r;
    va_start(ap, field);
    s_run_v(&r, who, ap);
    va_end(ap);
    kt_refused(&r, 1, code, field, NULL);
    s_audited(who, method, strncmp(code, "access.", 7) != 0, code);
}
#define s_refused(who, method, code, ...) s_refused_on(who, method, code, NULL, __VA_ARGS__)

static char *
s_id(json_t *o)
{
    const char *id = json_string_value(json_object_get(o, "id"));
    char *copy = id ? strdup(id) : NULL;
    json_decref(o);
    return copy;
}

Test(case_roles, opening_an_ipw_is_for_the_coordinator_it_names_or_a_gmina_coordinator)
{
    char *h2 = kt_as_id(&g, g.sw2, "household", "add", "--name", "Druga", "--size", "2", NULL);
    char *c2 = kt_consent(&g, g.sw2, h2, "2026-02-01");
    cr_assert(h2 && c2);
    s_refused(g.sw2, "ipw.open", "access.denied.case_lead", "ipw", "open", "--household", h2, "--coordinator", g.sw,
              "--opened", "2026-02-01", NULL);
    json_decref(s_allowed(g.sw2, "ipw.open", "ipw", "open", "--household", h2, "--coordinator", g.sw2, "--opened",
                          "2026-02-01", NULL));
    free(h2);
    free(c2);
}

Test(case_roles, the_lifecycle_is_for_the_leads)
{
    s_refused(g.cop, "ipw.suspend", "access.denied.case_lead", "ipw", "suspend", "--ipw", ipw, "--date", "2026-02-01",
              NULL);
    json_decref(s_allowed(g.sw, "ipw.suspend", "ipw", "suspend", "--ipw", ipw, "--date", "2026-02-01", "--reason",
                          "szpital", NULL));
    s_refused(g.cop, "ipw.resume", "access.denied.case_lead", "ipw", "resume", "--ipw", ipw, "--date", "2026-03-01",
              NULL);
    json_decref(s_allowed(g.coord, "ipw.resume", "ipw", "resume", "--ipw", ipw, "--date", "2026-03-01", NULL));
    s_refused(g.cop, "ipw.review", "access.denied.case_lead", "ipw", "review", "--ipw", ipw, "--date", "2026-04-01",
              NULL);
    json_decref(s_allowed(g.sw, "ipw.review", "ipw", "review", "--ipw", ipw, "--date", "2026-04-01", NULL));
    s_refused(g.cop, "ipw.close", "access.denied.case_lead", "ipw", "close", "--ipw", ipw, "--date", "2026-11-01",
              "--outcome", "success", NULL);
    json_decref(s_allowed(g.sw, "ipw.close", "ipw", "close", "--ipw", ipw, "--date", "2026-11-01", "--outcome",
                          "success", NULL));
    s_refused(g.cop, "ipw.correct", "access.denied.case_lead", "ipw", "correct", "--ipw", ipw, "--date", "2026-11-02",
              "--reason", "x", NULL);
    json_decref(s_allowed(g.sw, "ipw.correct", "ipw", "correct", "--ipw", ipw, "--date", "2026-11-02", "--reason",
                          "pomyłka w dacie", NULL));
    s_refused(g.cop, "ipw.reopen", "access.denied.case_lead", "ipw", "reopen", "--ipw", ipw, "--reason", "x", NULL);
    json_decref(s_allowed(g.coord, "ipw.reopen", "ipw", "reopen", "--ipw", ipw, "--reason", "zamknięte omyłkowo", NULL));
    s_refused(g.cop, "ipw.update", "access.denied.case_lead", "ipw", "update", "--ipw", ipw, "--opened", "2026-01-09",
              NULL);
    json_decref(s_allowed(g.sw, "ipw.update", "ipw", "update", "--ipw", ipw, "--opened", "2026-01-09", NULL));
}

Test(case_roles, the_zzk_is_changed_by_the_leads)
{
    s_refused(g.cop, "ipw.member.add", "access.denied.case_lead", "ipw", "member", "add", "--ipw", ipw, "--person",
              g.sw2, NULL);
    json_decref(s_allowed(g.sw, "ipw.member.add", "ipw", "member", "add", "--ipw", ipw, "--person", g.sw2, NULL));
    s_refused(g.cop, "ipw.member.remove", "access.denied.case_lead", "ipw", "member", "remove", "--ipw", ipw,
              "--person", g.sw2, NULL);
    json_decref(s_allowed(g.coord, "ipw.member.remove", "ipw", "member", "remove", "--ipw", ipw, "--person", g.sw2,
                          NULL));
}

Test(case_roles, goals_are_set_by_the_leads_and_scaled_by_the_zzk)
{
    char *goal;
    s_refused(g.cop, "goal.add", "access.denied.case_lead", "goal", "add", "--ipw", ipw, "--area", "work",
              "--baseline", "2", "--target", "7", NULL);
    goal = s_id(s_allowed(g.sw, "goal.add", "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "2",
                          "--target", "7", NULL));
    s_refused(g.cop, "goal.update", "access.denied.case_lead", "goal", "update", "--goal", goal, "--target", "8", NULL);
    json_decref(s_allowed(g.sw, "goal.update", "goal", "update", "--goal", goal, "--target", "8", NULL));
    json_decref(s_allowed(g.cop, "goal.scale", "goal", "scale", "--goal", goal, "--value", "4", "--date", "2026-03-01",
                          NULL));
    s_refused(g.outsider, "goal.scale", "access.denied.not_in_zzk", "goal", "scale", "--goal", goal, "--value", "5",
              "--date", "2026-03-02", NULL);
    free(goal);
}

Test(case_roles, tasks_are_planned_by_the_leads_and_done_by_their_owner)
{
    char *t = s_id(s_allowed(g.sw, "task.add", "task", "add", "--ipw", ipw, "--owner", g.cop, "--due", "2026-03-01",
                             "--title", "Wizyta", NULL));
    s_refused(g.cop, "task.add", "access.denied.case_lead", "task", "add", "--ipw", ipw, "--owner", g.cop, "--due",
              "2026-03-01", "--title", "Inne", NULL);
    s_refused(g.cop, "task.update", "access.denied.case_lead", "task", "update", "--task", t, "--due", "2026-04-01",
              NULL);
    json_decref(s_allowed(g.cop, "task.start", "task", "start", "--task", t, "--date", "2026-02-01", NULL));
    s_refused(g.cop, "task.cancel", "access.denied.case_lead", "task", "cancel", "--task", t, NULL);
    /* someone of the ZZK who does not own it */
    json_decref(s_allowed(g.sw, "ipw.member.add", "ipw", "member", "add", "--ipw", ipw, "--person", g.sw2, NULL));
    s_refused(g.sw2, "task.done", "access.denied.task_owner", "task", "done", "--task", t, NULL);
    json_decref(s_allowed(g.cop, "task.done", "task", "done", "--task", t, "--date", "2026-02-10", NULL));
    free(t);
}

Test(case_roles, meetings_by_the_leads_notes_by_the_zzk)
{
    char *m;
    s_refused(g.cop, "meeting.add", "access.denied.case_lead", "meeting", "add", "--ipw", ipw, "--date", "2026-02-01",
              NULL);
    m = s_id(s_allowed(g.sw, "meeting.add", "meeting", "add", "--ipw", ipw, "--date", "2026-02-01", "--topic",
                       "Diagnoza", NULL));
    s_refused(g.cop, "meeting.update", "access.denied.case_lead", "meeting", "update", "--meeting", m, "--topic", "X",
              NULL);
    json_decref(s_allowed(g.cop, "note.add", "note", "add", "--ipw", ipw, "--text", "Rodzina w domu", NULL));
    s_refused(g.outsider, "note.add", "access.denied.not_in_zzk", "note", "add", "--ipw", ipw, "--text", "x", NULL);
    free(m);
}

Test(case_roles, a_referral_is_handled_by_its_recipients)
{
    kt_run_t r;
    char *rep = kt_ctl_id(&g.node, "person", "add", "--name", "Przedstawiciel PCPR", "--institution", g.pcpr, "--role",
                          "other", NULL);
    char *worker = kt_ctl_id(&g.node, "person", "add", "--name", "Terapeuta PCPR", "--institution", g.pcpr, "--role",
                             "psychologist", NULL);
    char *pzk = kt_ctl_id(&g.node, "pzk", "create", "--name", "PZK", "--formed", "2025-01-01", NULL);
    char *ref, *ref2;
    cr_assert(rep && worker && pzk);
    kt_ctl(&r, &g.node, "--json", "pzk", "join", "--pzk", pzk, "--institution", g.pcpr, "--date", "2025-01-01",
           "--representative", rep, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    s_refused(g.cop, "referral.send", "access.denied.case_lead", "referral", "send", "--ipw", ipw, "--service",
              g.service, NULL);
    ref = s_id(s_allowed(g.sw, "referral.send", "referral", "send", "--ipw", ipw, "--service", g.service, "--date",
                         "2026-02-01", "--note", "pilne", NULL));
    /* the provider's PZK representative sees the referral and the case number only */
    json_t *shown = s_allowed(rep, "referral.show", "referral", "show", "--referral", ref, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(shown, "ipw_number")), "IPW/2026/0001");
    json_decref(shown);
    s_refused(rep, "ipw.show", "access.denied.not_in_zzk", "ipw", "show", "--ipw", ipw, NULL);
    s_refused(g.cop, "referral.accept", "access.denied.referral", "referral", "accept", "--referral", ref, NULL);
    s_refused(worker, "referral.accept", "access.denied.referral", "referral", "accept", "--referral", ref, NULL);
    json_decref(s_allowed(rep, "referral.accept", "referral", "accept", "--referral", ref, NULL));
    /* the representative names a colleague, who then completes it */
    char list[40];
    snprintf(list, sizeof list, "%s", worker);
    s_refused(g.cop, "referral.update", "access.denied.case_lead", "referral", "update", "--referral", ref,
              "--recipients", list, NULL);
    json_decref(s_allowed(rep, "referral.update", "referral", "update", "--referral", ref, "--recipients", list, NULL));
    json_decref(s_allowed(worker, "referral.done", "referral", "done", "--referral", ref, NULL));
    /* people named at sending; someone of another institution cannot be named */
    AS(&r, g.sw, "referral", "send", "--ipw", ipw, "--service", g.service, "--recipients", g.cop);
    kt_refused(&r, 1, "referral.recipient", "recipients", NULL);
    ref2 = s_id(s_allowed(g.sw, "referral.send", "referral", "send", "--ipw", ipw, "--service", g.service,
                          "--recipients", list, NULL));
    json_decref(s_allowed(worker, "referral.decline", "referral", "decline", "--referral", ref2, NULL));
    free(rep);
    free(worker);
    free(pzk);
    free(ref);
    free(ref2);
}

Test(case_roles, the_case_is_read_by_its_zzk_and_the_coordinators)
{
    json_decref(s_allowed(g.cop, "ipw.show", "ipw", "show", "--ipw", ipw, NULL));
    json_decref(s_allowed(g.cop, "household.show", "household", "show", "--household", hh, NULL));
    json_decref(s_allowed(g.coord, "ipw.timeline", "ipw", "timeline", "--ipw", ipw, NULL));
    s_refused(g.sw2, "ipw.show", "access.denied.not_in_zzk", "ipw", "show", "--ipw", ipw, NULL);
    s_refused(g.outsider, "household.show", "access.denied.household", "household", "show", "--household", hh, NULL);
}

Test(case_roles, the_household_is_changed_by_its_registrar_coordinators_and_leads)
{
    json_decref(s_allowed(g.sw, "household.update", "household", "update", "--household", hh, "--phone", "600700800",
                          NULL));
    s_refused(g.cop, "household.update", "access.denied.household_change", "household", "update", "--household", hh,
              "--phone", "1", NULL);
    json_decref(s_allowed(g.coord, "household.member.add", "household", "member", "add", "--household", hh, "--name",
                          "Jan Testowy", NULL));
    s_refused(g.cop, "consent.withdraw", "access.denied.household_change", "consent", "withdraw", "--consent", consent,
              NULL);
}

Test(case_roles, consent_decides_who_of_the_zzk_reads)
{
    kt_run_t r;
    char *h2 = kt_as_id(&g, g.sw, "household", "add", "--name", "Bez zgody", "--size", "1", NULL), *c2, *ipw2;
    cr_assert_not_null(h2);
    s_refused_on(g.sw, "ipw.open", "ipw.no_consent", "household", "ipw", "open", "--household", h2, "--coordinator", g.sw, "--opened",
              "2026-02-01", NULL);
    AS(&r, g.sw, "consent", "record", "--household", h2, "--purpose", "Zgoda", "--share-with", g.gops, "--date",
       "2026-02-01");
    cr_assert_eq(r.code, 0, "%s", r.err);
    c2 = strdup(json_string_value(json_object_get(r.json, "id")));
    kt_run_free(&r);
    ipw2 = s_id(s_allowed(g.sw, "ipw.open", "ipw", "open", "--household", h2, "--coordinator", g.sw, "--opened",
                          "2026-02-01", NULL));
    /* the police is not named: its officer cannot join */
    AS(&r, g.sw, "ipw", "member", "add", "--ipw", ipw2, "--person", g.cop);
    kt_refused(&r, 1, "consent.not_covered", "person", g.cop, NULL);
    /* another legal basis, naming the police, lets him in; its withdrawal cuts him off at once */
    AS(&r, g.sw, "consent", "record", "--household", h2, "--purpose", "Postanowienie sądu", "--basis",
       "postanowienie sądu rodzinnego", "--share-with", g.kpp, "--date", "2026-02-02");
    cr_assert_eq(r.code, 0, "%s", r.err);
    char *basis = strdup(json_string_value(json_object_get(r.json, "id")));
    kt_run_free(&r);
    json_decref(s_allowed(g.sw, "ipw.member.add", "ipw", "member", "add", "--ipw", ipw2, "--person", g.cop, NULL));
    json_decref(s_allowed(g.cop, "ipw.show", "ipw", "show", "--ipw", ipw2, NULL));
    json_decref(s_allowed(g.sw, "consent.withdraw", "consent", "withdraw", "--consent", basis, NULL));
    s_refused(g.cop, "ipw.show", "access.denied.no_consent", "ipw", "show", "--ipw", ipw2, NULL);
    s_refused(g.cop, "household.show", "access.denied.household", "household", "show", "--household", h2, NULL);
    json_decref(s_allowed(g.sw, "ipw.show", "ipw", "show", "--ipw", ipw2, NULL)); /* the leads keep it */
    /* the withdrawal is in the timeline */
    AS(&r, g.sw, "ipw", "timeline", "--ipw", ipw2);
    int seen = 0;
    for (size_t i = 0; i < json_array_size(r.json); i++)
        seen |= strcmp(json_string_value(json_object_get(json_array_get(r.json, i), "type")), "consent.withdrawn") == 0;
    cr_assert(seen, "withdrawal not in the timeline: %s", r.out);
    kt_run_free(&r);
    free(h2);
    free(c2);
    free(ipw2);
    free(basis);
}

/* 1 when `task` is among who's done tasks (task mine --status done). */
static int
s_mine_has(const char *who, const char *task)
{
    json_t *list = s_allowed(who, "task.mine", "task", "mine", "--status", "done", NULL), *t;
    size_t i;
    int found = 0;
    json_array_foreach(list, i, t) found |= strcmp(json_string_value(json_object_get(t, "id")), task) == 0;
    json_decref(list);
    return found;
}

Test(case_roles, members_lose_a_closed_ipw_after_the_period_coordinators_keep_it)
{
    char *h2 = kt_as_id(&g, g.sw, "household", "add", "--name", "Dawna", "--size", "1", "--date", "2025-01-01", NULL);
    char *c2 = kt_consent(&g, g.sw, h2, "2025-01-02");
    char *old = s_id(s_allowed(g.sw, "ipw.open", "ipw", "open", "--household", h2, "--coordinator", g.sw, "--opened",
                               "2025-01-02", NULL));
    json_decref(s_allowed(g.sw, "ipw.member.add", "ipw", "member", "add", "--ipw", old, "--person", g.cop, NULL));
    /* the member's task there: in "my tasks" while the IPW is theirs to read */
    char *t_old = s_id(s_allowed(g.sw, "task.add", "task", "add", "--ipw", old, "--owner", g.cop, "--due", "2025-02-01",
                                 "--title", "Stare zadanie", NULL));
    json_decref(s_allowed(g.cop, "task.start", "task", "start", "--task", t_old, "--date", "2025-01-10", NULL));
    json_decref(s_allowed(g.cop, "task.done", "task", "done", "--task", t_old, "--date", "2025-01-20", NULL));
    cr_assert(s_mine_has(g.cop, t_old), "a task of a readable IPW is among the owner's tasks");
    json_decref(s_allowed(g.sw, "ipw.close", "ipw", "close", "--ipw", old, "--date", "2025-03-01", "--outcome",
                          "discontinued", NULL));
    s_refused(g.cop, "ipw.show", "access.denied.closed", "ipw", "show", "--ipw", old, NULL);
    cr_assert(!s_mine_has(g.cop, t_old), "a task of an IPW closed past the period is no longer listed");
    json_decref(s_allowed(g.sw, "ipw.show", "ipw", "show", "--ipw", old, NULL));
    json_decref(s_allowed(g.coord, "ipw.show", "ipw", "show", "--ipw", old, NULL));
    /* recently closed: members still read it */
    json_decref(s_allowed(g.sw, "ipw.close", "ipw", "close", "--ipw", ipw, "--date", "2026-11-20", "--outcome",
                          "success", NULL));
    json_decref(s_allowed(g.cop, "ipw.show", "ipw", "show", "--ipw", ipw, NULL));
    free(t_old);
    free(h2);
    free(c2);
    free(old);
}

Test(case_roles, records_entered_by_mistake_are_removed_by_the_leads)
{
    char *goal = s_id(s_allowed(g.sw, "goal.add", "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "1",
                                "--target", "4", NULL));
    s_refused(g.cop, "record.remove", "access.denied.case_lead", "record", "remove", "--id", goal, "--reason", "x",
              NULL);
    json_decref(s_allowed(g.sw, "record.remove", "record", "remove", "--id", goal, "--reason", "wpisany dwa razy", NULL));
    free(goal);
}

Test(case_roles, the_audit_log_raw_local_events_and_transfers_are_for_coordinators)
{
    kt_run_t r;
    s_refused(g.sw, "audit.show", "access.denied.coordinator_only", "audit", "show", NULL);
    s_refused(g.sw, "transfer.list", "access.denied.coordinator_only", "transfer", "list", NULL);
    json_decref(s_allowed(g.coord, "transfer.list", "transfer", "list", NULL));
    /* raw events: a social worker is refused, a coordinator reads them (audited) */
    s_refused(g.sw, "feed.fetch", "access.denied.coordinator_only", "events", "list", "--stream", "cases", NULL);
    AS(&r, g.coord, "events", "list", "--stream", "cases");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "Rodzina Testowa"), "a coordinator reads the LOCAL events");
    kt_run_free(&r);
    s_audited(g.coord, "feed.fetch", 1, NULL);
    /* acting for nobody: what may leave the node, nothing personal */
    kt_ctl(&r, &g.node, "--json", "events", "list", "--stream", "cases", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(json_array_size(r.json) > 0);
    cr_assert_null(strstr(r.out, "Rodzina Testowa"), "personal data listed for nobody");
    cr_assert_null(strstr(r.out, "\"local\""), "a LOCAL event listed for nobody: %s", r.out);
    kt_run_free(&r);
}
