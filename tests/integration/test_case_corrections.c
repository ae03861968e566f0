/*
 * Corrections on a real node through koopctl: every field a person enters
 * can be corrected, and each correction is in the timeline (old and new
 * value) and the audit log; the last step's date is corrected with a
 * reason, a closed IPW reopened, an entry made by mistake removed (gone
 * from lists, kept in the logs); dates of what happened may not lie in the
 * future; an IPW closes only cleanly.
 */
#include "kt_cases.h"
#include "cases.pb-c.h"
#include "clock.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

KT_GMINA_SUITE(case_corrections, 180);
#define REFUSED(r, exit, code, field, ...) kt_refused(r, exit, code, field __VA_OPT__(, ) __VA_ARGS__, NULL)

/* The timeline of ipw has an entry of type whose summary holds `text`. */
static void
s_in_timeline(const char *ipw, const char *type, const char *text)
{
    kt_run_t r;
    int found = 0;
    AS(&r, g.sw, "ipw", "timeline", "--ipw", ipw);
    cr_assert_eq(r.code, 0, "%s", r.err);
    for (size_t i = 0; i < json_array_size(r.json) && !found; i++) {
        json_t *e = json_array_get(r.json, i);
        found = strcmp(kt_str(e, "type"), type) == 0 && strstr(kt_str(e, "summary"), text) != NULL;
    }
    cr_assert(found, "no %s with '%s' in the timeline: %s", type, text, r.out);
    kt_run_free(&r);
}

/* The audit log has an allowed call of method by who. */
static void
s_in_audit(const char *who, const char *method)
{
    kt_run_t r;
    int found = 0;
    AS(&r, g.coord, "audit", "show", "--person", who);
    for (size_t i = 0; i < json_array_size(r.json) && !found; i++) {
        json_t *e = json_array_get(r.json, i);
        found = strcmp(kt_str(e, "method"), method) == 0 && json_is_true(json_object_get(e, "allowed"));
    }
    cr_assert(found, "%s by %s not in the audit log", method, who);
    kt_run_free(&r);
}

static void
s_date_after_today(int days, char out[11])
{
    char today[11];
    koop_date_today(today);
    koop_date_from_days(koop_date_days(today) + days, out);
}

Test(case_corrections, every_field_can_be_corrected_with_history)
{
    kt_run_t r;
    char *hh = NULL, *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &hh);
    char parts[80];
    cr_assert_not_null(ipw);
    AS(&r, g.sw, "ipw", "member", "add", "--ipw", ipw, "--person", g.cop, "--date", "2026-01-12");
    kt_ok(&r, "member");

    /* the household and its members */
    AS(&r, g.sw, "household", "update", "--household", hh, "--address", "ul. Nowa 1", "--reason", "przeprowadzka");
    cr_assert_str_eq(kt_str(r.json, "address"), "ul. Nowa 1");
    kt_ok(&r, "household update");
    s_in_timeline(ipw, "household.updated", "adres: – → ul. Nowa 1");
    s_in_audit(g.sw, "household.update");
    AS(&r, g.sw, "household", "update", "--household", hh);
    REFUSED(&r, 1, "update.empty", NULL);
    AS(&r, g.sw, "household", "member", "add", "--household", hh, "--name", "Jan Testowy", "--relation", "syn");
    cr_assert_eq(r.code, 0, "%s", r.err);
    char *member = strdup(kt_str(json_array_get(json_object_get(r.json, "members"), 0), "id"));
    kt_run_free(&r);
    AS(&r, g.sw, "household", "member", "update", "--household", hh, "--member", member, "--relation", "wnuk");
    cr_assert_str_eq(kt_str(json_array_get(json_object_get(r.json, "members"), 0), "relation"), "wnuk");
    kt_ok(&r, "member update");
    s_in_timeline(ipw, "household.updated", "syn → wnuk");

    /* the IPW itself */
    AS(&r, g.sw, "ipw", "update", "--ipw", ipw, "--opened", "2026-01-09", "--reason", "data z wniosku");
    cr_assert_str_eq(kt_str(r.json, "opened"), "2026-01-09");
    kt_ok(&r, "ipw update");
    s_in_timeline(ipw, "ipw.updated", "2026-01-10 → 2026-01-09");
    s_in_audit(g.sw, "ipw.update");

    /* a goal */
    char *goal = ID(g.sw, "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "2", "--target", "6");
    AS(&r, g.sw, "goal", "update", "--goal", goal, "--target", "8", "--description", "Stała praca");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "target")), 8);
    kt_ok(&r, "goal update");
    s_in_timeline(ipw, "goal.updated", "6 → 8");
    s_in_audit(g.sw, "goal.update");

    /* a task: reassignment and a new due day */
    char *task = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.cop, "--due", "2026-03-01", "--title", "Wizyta");
    AS(&r, g.sw, "task", "update", "--task", task, "--owner", g.sw, "--due", "2026-04-01", "--title", "Wizyta domowa");
    cr_assert_str_eq(kt_str(r.json, "owner"), g.sw);
    cr_assert_str_eq(kt_str(r.json, "owner_institution"), g.gops, "the owner's institution follows the owner");
    cr_assert_str_eq(kt_str(r.json, "due"), "2026-04-01");
    kt_ok(&r, "task update");
    AS(&r, g.sw, "task", "mine");
    cr_assert_eq(json_array_size(r.json), 1, "the new owner has it: %s", r.out);
    kt_run_free(&r);
    AS(&r, g.cop, "task", "mine");
    cr_assert_eq(json_array_size(r.json), 0, "the old owner still has it: %s", r.out);
    kt_run_free(&r);
    s_in_timeline(ipw, "task.updated", "2026-03-01 → 2026-04-01");
    s_in_audit(g.sw, "task.update");
    AS(&r, g.sw, "task", "update", "--task", task, "--owner", g.outsider);
    REFUSED(&r, 1, "zzk.member_required", "owner", g.outsider, "IPW/2026/0001");

    /* a meeting and a referral */
    snprintf(parts, sizeof parts, "%s,%s", g.sw, g.cop);
    char *meeting = ID(g.sw, "meeting", "add", "--ipw", ipw, "--date", "2026-02-01", "--participants", parts, "--topic",
                       "Diagnoza");
    AS(&r, g.sw, "meeting", "update", "--meeting", meeting, "--topic", "Diagnoza rodziny", "--date", "2026-02-02");
    cr_assert_str_eq(kt_str(r.json, "date"), "2026-02-02");
    kt_ok(&r, "meeting update");
    s_in_timeline(ipw, "meeting.updated", "Diagnoza → Diagnoza rodziny");
    char *ref = ID(g.sw, "referral", "send", "--ipw", ipw, "--service", g.service, "--note", "pilne");
    AS(&r, g.sw, "referral", "update", "--referral", ref, "--note", "pilne – przemoc");
    cr_assert_str_eq(kt_str(r.json, "note"), "pilne – przemoc");
    kt_ok(&r, "referral update");
    s_in_timeline(ipw, "referral.updated", "pilne → pilne – przemoc");
    s_in_audit(g.sw, "referral.update");

    /* every correction is an event of its own, SHARED for what is counted */
    kt_event_t *ev = NULL;
    long n = kt_events(&g.node, "cases", 1, &ev);
    const char *want[] = {"household.updated", "ipw.updated", "goal.updated", "task.updated", "meeting.updated",
                          "referral.updated"};
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        int seen = 0;
        for (long i = 0; i < n; i++)
            seen |= strcmp(ev[i].type, want[w]) == 0;
        cr_assert(seen, "no SHARED %s event", want[w]);
    }
    kt_events_free(ev, n);
    kt_verify_clean(&g.node, "cases"); /* every corrected record is its last event's */
    free(member);
    free(goal);
    free(task);
    free(meeting);
    free(ref);
    free(hh);
    free(ipw);
}

Test(case_corrections, dates_of_what_happened_are_not_in_the_future)
{
    kt_run_t r;
    char tomorrow[11], later[11];
    char *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", NULL);
    cr_assert_not_null(ipw);
    s_date_after_today(1, tomorrow);
    s_date_after_today(2, later);
    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", "2099-01-01");
    REFUSED(&r, 1, "date.future", "date");
    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", later);
    REFUSED(&r, 1, "date.future", "date");
    AS(&r, g.sw, "household", "add", "--name", "X", "--size", "1", "--date", later);
    REFUSED(&r, 1, "date.future", "date");
    AS(&r, g.sw, "ipw", "open", "--household", "01a20dc3-0000-7000-8000-000000000000", "--coordinator", g.sw, "--opened",
       later);
    REFUSED(&r, 1, "date.future", "opened");
    /* one day of tolerance */
    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", tomorrow);
    kt_ok(&r, "activation dated tomorrow");
    /* a planned meeting may lie ahead; a due date too */
    AS(&r, g.sw, "meeting", "add", "--ipw", ipw, "--date", "2099-02-01");
    kt_ok(&r, "a planned meeting");
    AS(&r, g.sw, "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "1", "--target", "3", "--date", later);
    REFUSED(&r, 1, "date.future", "date");
    free(ipw);
}

Test(case_corrections, the_last_step_is_corrected_and_a_closed_ipw_reopened)
{
    kt_run_t r;
    char *hh = NULL, *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &hh);
    cr_assert_not_null(ipw);
    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", "2026-01-20");
    kt_ok(&r, "activate");
    AS(&r, g.sw, "ipw", "correct", "--ipw", ipw, "--date", "2026-01-18");
    REFUSED(&r, 1, "field.required", "reason");
    AS(&r, g.sw, "ipw", "correct", "--ipw", ipw, "--date", "2026-01-05", "--reason", "x");
    REFUSED(&r, 1, "date.order", "date", "2026-01-05", "previous_step", "2026-01-10");
    AS(&r, g.sw, "ipw", "correct", "--ipw", ipw, "--date", "2026-01-18", "--reason", "podpisano wcześniej");
    cr_assert_str_eq(kt_str(r.json, "signed"), "2026-01-18");
    json_t *last = json_array_get(json_object_get(r.json, "history"), 1);
    cr_assert_str_eq(kt_str(last, "date"), "2026-01-18");
    cr_assert_str_eq(kt_str(last, "corrected_from"), "2026-01-20", "the first date is kept");
    kt_ok(&r, "correct");
    s_in_timeline(ipw, "ipw.corrected", "2026-01-20 → 2026-01-18");

    /* a suspension's reason ends with the resume (the history keeps it) */
    AS(&r, g.sw, "ipw", "suspend", "--ipw", ipw, "--date", "2026-02-01", "--reason", "pobyt w szpitalu");
    cr_assert_str_eq(kt_str(r.json, "reason"), "pobyt w szpitalu");
    kt_ok(&r, "suspend");
    AS(&r, g.sw, "ipw", "resume", "--ipw", ipw, "--date", "2026-03-01");
    cr_assert_str_eq(kt_str(r.json, "reason"), "", "the suspension's reason is over");
    cr_assert_str_eq(kt_str(json_array_get(json_object_get(r.json, "history"), 2), "reason"), "pobyt w szpitalu");
    kt_ok(&r, "resume");

    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-10-01", "--outcome", "success");
    kt_ok(&r, "close");
    AS(&r, g.sw, "ipw", "reopen", "--ipw", ipw);
    REFUSED(&r, 1, "field.required", "reason");
    AS(&r, g.sw, "ipw", "reopen", "--ipw", ipw, "--reason", "zamknięte omyłkowo");
    cr_assert_str_eq(kt_str(r.json, "status"), "active", "back to the state it was closed from");
    cr_assert_str_eq(kt_str(r.json, "outcome"), "none");
    cr_assert_str_eq(kt_str(r.json, "closed"), "");
    kt_ok(&r, "reopen");
    s_in_timeline(ipw, "ipw.reopened", "zamknięte omyłkowo");
    s_in_audit(g.sw, "ipw.reopen");
    AS(&r, g.sw, "ipw", "reopen", "--ipw", ipw, "--reason", "x");
    REFUSED(&r, 1, "state.illegal_transition", NULL, "IPW/2026/0001", "ipw_active", "ipw.reopen", "ipw_closed");
    /* closed again (the reopening is dated today), then a second programme:
     * reopening the first would make two open */
    char today[11];
    s_date_after_today(0, today);
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-10-02", "--outcome", "success");
    REFUSED(&r, 1, "date.order", "date", "2026-10-02", "ipw_last_step", today);
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", today, "--outcome", "success");
    kt_ok(&r, "close");
    char *second = ID(g.sw, "ipw", "open", "--household", hh, "--coordinator", g.sw, "--opened", today);
    cr_assert_not_null(second);
    AS(&r, g.sw, "ipw", "reopen", "--ipw", ipw, "--reason", "x");
    REFUSED(&r, 1, "ipw.already_open", "household", "IPW/2026/0002", "ipw_draft");
    free(second);
    free(hh);
    free(ipw);
}

Test(case_corrections, an_ipw_closes_cleanly_or_cancels_what_is_open)
{
    kt_run_t r;
    char *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", NULL);
    cr_assert_not_null(ipw);
    AS(&r, g.sw, "ipw", "activate", "--ipw", ipw, "--date", "2026-01-15");
    kt_ok(&r, "activate");
    char *t1 = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", "2026-03-01", "--title", "Otwarte");
    char *t2 = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", "2026-03-01", "--title", "Zrobione");
    char *m1 = ID(g.sw, "meeting", "add", "--ipw", ipw, "--date", "2099-01-10", "--topic", "Później");
    char *m2 = ID(g.sw, "meeting", "add", "--ipw", ipw, "--date", "2026-02-01", "--topic", "Było");
    cr_assert(t1 && t2 && m1 && m2);
    AS(&r, g.sw, "task", "done", "--task", t2, "--date", "2026-02-15");
    kt_ok(&r, "done");
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-11-01", "--outcome", "success");
    REFUSED(&r, 1, "ipw.open_items", NULL);
    /* the refusal lists what is open */
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-11-01", "--outcome", "success");
    cr_assert(strstr(r.err, t1) && strstr(r.err, m1) && !strstr(r.err, t2) && !strstr(r.err, m2),
              "the list of open items: %s", r.err);
    kt_run_free(&r);
    AS(&r, g.sw, "ipw", "close", "--ipw", ipw, "--date", "2026-11-01", "--outcome", "success", "--reason",
       "cele osiągnięte", "--cancel-open");
    cr_assert_str_eq(kt_str(r.json, "status"), "closed");
    kt_ok(&r, "close --cancel-open");
    AS(&r, g.sw, "ipw", "show", "--ipw", ipw);
    json_t *tasks = json_object_get(r.json, "tasks"), *meetings = json_object_get(r.json, "meetings");
    for (size_t i = 0; i < json_array_size(tasks); i++) {
        json_t *t = json_array_get(tasks, i);
        if (strcmp(kt_str(t, "id"), t1) == 0) {
            cr_assert_str_eq(kt_str(t, "status"), "cancelled");
            cr_assert_str_eq(kt_str(t, "reason"), "cele osiągnięte", "cancelled with the closing reason");
        } else {
            cr_assert_str_eq(kt_str(t, "status"), "done");
        }
    }
    for (size_t i = 0; i < json_array_size(meetings); i++) {
        json_t *m = json_array_get(meetings, i);
        cr_assert_str_eq(kt_str(m, "cancelled"), strcmp(kt_str(m, "id"), m1) == 0 ? "2026-11-01" : "");
    }
    kt_run_free(&r);
    /* no open task is left to count as overdue */
    AS(&r, g.sw, "task", "mine", "--overdue", "true");
    cr_assert_eq(json_array_size(r.json), 0, "%s", r.out);
    kt_run_free(&r);
    free(t1);
    free(t2);
    free(m1);
    free(m2);
    free(ipw);
}

Test(case_corrections, a_record_entered_by_mistake_is_removed_but_kept_in_the_logs)
{
    kt_run_t r;
    char *hh = NULL, *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &hh);
    cr_assert_not_null(ipw);
    char *goal = ID(g.sw, "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "1", "--target", "5");
    char *task = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", "2026-03-01", "--title", "Dubel");
    cr_assert(goal && task);
    AS(&r, g.sw, "record", "remove", "--id", task);
    REFUSED(&r, 1, "field.required", "reason");
    AS(&r, g.sw, "record", "remove", "--id", task, "--reason", "wpisane dwa razy");
    cr_assert_str_eq(kt_str(r.json, "kind"), "task");
    kt_ok(&r, "remove");
    AS(&r, g.sw, "record", "remove", "--id", task, "--reason", "x");
    REFUSED(&r, 1, "record.removed", "id");
    AS(&r, g.sw, "task", "mine");
    cr_assert_eq(json_array_size(r.json), 0, "a removed task is listed: %s", r.out);
    kt_run_free(&r);
    AS(&r, g.sw, "task", "done", "--task", task);
    REFUSED(&r, 1, "record.removed", "task");
    AS(&r, g.sw, "record", "remove", "--id", goal, "--reason", "pomyłka");
    kt_ok(&r, "remove goal");
    AS(&r, g.sw, "ipw", "show", "--ipw", ipw);
    cr_assert_eq(json_array_size(json_object_get(r.json, "goals")), 0);
    cr_assert_eq(json_array_size(json_object_get(r.json, "tasks")), 0);
    kt_run_free(&r);
    s_in_timeline(ipw, "record.removed", "wpisane dwa razy");
    /* a household with a programme stays until the programme goes */
    AS(&r, g.sw, "record", "remove", "--id", hh, "--reason", "x");
    REFUSED(&r, 1, "record.has_children", "id", "household", hh, "1", "ipws");
    AS(&r, g.sw, "record", "remove", "--id", ipw, "--reason", "nie ta rodzina");
    kt_ok(&r, "remove ipw");
    AS(&r, g.sw, "ipw", "list");
    cr_assert_eq(json_array_size(r.json), 0, "%s", r.out);
    kt_run_free(&r);
    AS(&r, g.sw, "record", "remove", "--id", hh, "--reason", "omyłkowa rejestracja");
    kt_ok(&r, "remove household");
    AS(&r, g.coord, "household", "list");
    cr_assert_eq(json_array_size(r.json), 0, "%s", r.out);
    kt_run_free(&r);
    AS(&r, g.coord, "household", "show", "--household", hh);
    REFUSED(&r, 1, "record.removed", "household");
    /* kept: the audit log and the event log have all of it */
    s_in_audit(g.sw, "record.remove");
    kt_event_t *ev = NULL;
    long n = kt_events(&g.node, "cases", 1, &ev);
    int removed = 0;
    for (long i = 0; i < n; i++)
        removed += strcmp(ev[i].type, "record.removed") == 0;
    cr_assert_eq(removed, 4, "record.removed events: %d", removed);
    kt_events_free(ev, n);
    kt_verify_clean(&g.node, "cases"); /* removed records are what their removal events say */
    free(goal);
    free(task);
    free(hh);
    free(ipw);
}
