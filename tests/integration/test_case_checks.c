/*
 * What the cases service refuses so that mistakes do not get in (each with
 * its own code and field, nothing written), and how people find cases:
 * PESEL checks and duplicates, the rules of names, dates and numbers that
 * contradict each other; households found by case number, names, PESEL or
 * its start without Polish letters; IPWs by number; task lists.
 */
#include "kt_cases.h"
#include "cases.pb-c.h"
#include "clock.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

KT_GMINA_SUITE(case_checks, 180);
#define REFUSED(r, exit, code, field, ...) kt_refused(r, exit, code, field __VA_OPT__(, ) __VA_ARGS__, NULL)

/* How many households exist for the coordinator (nothing written by a refusal). */
static size_t
s_households(void)
{
    kt_run_t r;
    size_t n;
    AS(&r, g.coord, "household", "list");
    n = json_array_size(r.json);
    kt_run_free(&r);
    return n;
}

Test(case_checks, pesel_is_checked_against_its_check_digit_birth_date_and_sex)
{
    kt_run_t r;
    /* 85010112345: born 1985-01-01, a woman (4 is even), check digit 5 */
    AS(&r, g.sw, "household", "add", "--name", "A", "--size", "1", "--pesel", "85010112346");
    REFUSED(&r, 1, "pesel.checksum", "pesel");
    AS(&r, g.sw, "household", "add", "--name", "A", "--size", "1", "--pesel", "8501011234");
    REFUSED(&r, 1, "pesel.invalid", "pesel");
    AS(&r, g.sw, "household", "add", "--name", "A", "--size", "1", "--pesel", "85010112345", "--birth", "1985-01-02");
    REFUSED(&r, 1, "pesel.birth", "pesel", "1985-01-01", "1985-01-02");
    AS(&r, g.sw, "household", "add", "--name", "A", "--size", "1", "--pesel", "85010112345", "--sex", "male");
    REFUSED(&r, 1, "pesel.sex", "pesel", "female", "male");
    /* month 13 with a right check digit: no such birth date */
    AS(&r, g.sw, "household", "add", "--name", "A", "--size", "1", "--pesel", "85130112340");
    REFUSED(&r, 1, "pesel.date", "pesel");
    cr_assert_eq(s_households(), 0, "a refused household was written");
    /* born in 2005: month + 20; what the number says fills birth and sex */
    AS(&r, g.sw, "household", "add", "--name", "Młoda", "--size", "1", "--pesel", "05211512346");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(kt_str(r.json, "birth"), "2005-01-15");
    cr_assert_str_eq(kt_str(r.json, "sex"), "female");
    kt_run_free(&r);
}

Test(case_checks, a_duplicate_pesel_is_refused_with_the_case_number_or_linked_by_a_coordinator)
{
    kt_run_t r;
    char *hh = NULL, *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &hh);
    cr_assert_not_null(ipw);
    AS(&r, g.sw, "household", "update", "--household", hh, "--pesel", "85010112345");
    kt_ok(&r, "pesel");
    AS(&r, g.sw2, "household", "add", "--name", "Znowu", "--size", "1", "--pesel", "85010112345");
    REFUSED(&r, 1, "pesel.duplicate", "pesel", hh, "IPW/2026/0001");
    AS(&r, g.sw, "household", "member", "add", "--household", hh, "--name", "Ta sama", "--pesel", "85010112345");
    kt_ok(&r, "the head's own number is not a duplicate of itself"); /* same household: allowed */
    AS(&r, g.sw2, "household", "add", "--name", "Znowu", "--size", "1", "--pesel", "85010112345", "--link", "true");
    REFUSED(&r, 1, "access.denied.coordinator_action", NULL, g.sw2, "household.link");
    AS(&r, g.coord, "household", "add", "--name", "Nowe gospodarstwo", "--size", "1", "--pesel", "85010112345",
       "--link", "true");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(r.json, "linked"), 0)), hh,
                     "linked to the household holding the number");
    kt_run_free(&r);
    free(hh);
    free(ipw);
}

Test(case_checks, names_keep_their_rules_and_the_code_says_which)
{
    kt_run_t r;
    AS(&r, g.sw, "household", "add", "--name", "   ", "--size", "1");
    REFUSED(&r, 1, "text.blank", "name");
    AS(&r, g.sw, "household", "add", "--name", "Jan\nKowalski", "--size", "1");
    REFUSED(&r, 1, "text.newline", "name");
    AS(&r, g.sw, "household", "add", "--name", "Jan\x07", "--size", "1");
    REFUSED(&r, 1, "text.control", "name", "U+0007");
    AS(&r, g.sw, "household", "add", "--name", "Kowalski\u202Egnp", "--size", "1");
    REFUSED(&r, 1, "text.bidi", "name", "U+202E");
    cr_assert_eq(s_households(), 0);
    char *hh = ID(g.sw, "household", "add", "--name", "Kowalscy", "--size", "2");
    cr_assert_not_null(hh);
    AS(&r, g.sw, "household", "member", "add", "--household", hh, "--name", " ");
    REFUSED(&r, 1, "text.blank", "name");
    AS(&r, g.sw, "household", "update", "--household", hh, "--name", "Kowalscy\n");
    REFUSED(&r, 1, "text.newline", "name");
    char *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", NULL);
    AS(&r, g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", "2026-02-01", "--title", "\u202Eabc");
    REFUSED(&r, 1, "text.bidi", "title", "U+202E");
    free(hh);
    free(ipw);
}

Test(case_checks, dates_and_numbers_that_contradict_each_other)
{
    kt_run_t r;
    char *hh = NULL, *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &hh);
    cr_assert_not_null(ipw);
    AS(&r, g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", "2026-01-05", "--title", "Wcześniej");
    REFUSED(&r, 1, "date.order", "due", "2026-01-05", "ipw_opened", "2026-01-10");
    char *task = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", "2026-02-01", "--title", "Dobre");
    AS(&r, g.sw, "task", "update", "--task", task, "--due", "2025-12-31");
    REFUSED(&r, 1, "date.order", "due", "2025-12-31", "ipw_opened", "2026-01-10");
    AS(&r, g.sw, "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "6", "--target", "4");
    REFUSED(&r, 1, "goal.target_not_above", "target", "4", "6");
    AS(&r, g.sw, "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "5", "--target", "5");
    REFUSED(&r, 1, "goal.target_not_above", "target", "5", "5");
    char *goal = ID(g.sw, "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "2", "--target", "5");
    AS(&r, g.sw, "goal", "update", "--goal", goal, "--baseline", "7");
    REFUSED(&r, 1, "goal.target_not_above", "target", "5", "7");
    /* the household of 3 (kt_open_ipw): the head and two members fill it */
    AS(&r, g.sw, "household", "member", "add", "--household", hh, "--name", "Córka");
    kt_ok(&r, "member 1");
    AS(&r, g.sw, "household", "member", "add", "--household", hh, "--name", "Syn");
    kt_ok(&r, "member 2");
    AS(&r, g.sw, "household", "member", "add", "--household", hh, "--name", "Wnuk");
    REFUSED(&r, 1, "household.size_below_members", "household", "4", "3");
    AS(&r, g.sw, "household", "update", "--household", hh, "--size", "2");
    REFUSED(&r, 1, "household.size_below_members", "size", "3", "2");
    AS(&r, g.sw, "household", "show", "--household", hh);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "size")), 3, "nothing written");
    cr_assert_eq(json_array_size(json_object_get(r.json, "members")), 2);
    kt_run_free(&r);
    free(task);
    free(goal);
    free(hh);
    free(ipw);
}

Test(case_checks, households_are_found_by_number_names_and_pesel_without_polish_letters)
{
    kt_run_t r;
    char *h1 = ID(g.sw, "household", "add", "--name", "Zofia Brzęczyszczykiewicz", "--size", "3", "--pesel",
                  "85010112345");
    char *h2 = ID(g.sw, "household", "add", "--name", "Łukasz Żółtowski", "--size", "2");
    cr_assert(h1 && h2);
    AS(&r, g.sw, "household", "member", "add", "--household", h2, "--name", "Ślązak Marian", "--pesel", "13271354316");
    kt_ok(&r, "member");
    char *c = kt_consent(&g, g.sw, h2, "2026-02-01");
    char *ipw = ID(g.sw, "ipw", "open", "--household", h2, "--coordinator", g.sw, "--opened", "2026-02-01");
    cr_assert(c && ipw);
    const struct {
        const char *text, *want;
    } q[] = {
        {"brzeczy", "Zofia Brzęczyszczykiewicz"}, {"BRZĘCZY", "Zofia Brzęczyszczykiewicz"},
        {"zoltowski", "Łukasz Żółtowski"},        {"lukasz", "Łukasz Żółtowski"},
        {"slazak", "Łukasz Żółtowski"},           {"85010112345", "Zofia Brzęczyszczykiewicz"},
        {"850101", "Zofia Brzęczyszczykiewicz"},  {"132713", "Łukasz Żółtowski"},
        {"IPW/2026/0001", "Łukasz Żółtowski"},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        AS(&r, g.sw, "household", "list", "--text", q[i].text);
        cr_assert_eq(json_array_size(r.json), 1, "'%s' finds %zu: %s", q[i].text, json_array_size(r.json), r.out);
        cr_assert_str_eq(kt_str(json_array_get(r.json, 0), "name"), q[i].want, "'%s'", q[i].text);
        kt_run_free(&r);
    }
    AS(&r, g.sw, "household", "list", "--text", "nowak");
    cr_assert_eq(json_array_size(r.json), 0);
    kt_run_free(&r);
    /* found only among those the person may see */
    AS(&r, g.sw2, "household", "list", "--text", "brzeczy");
    cr_assert_eq(json_array_size(r.json), 0);
    kt_run_free(&r);
    free(h1);
    free(h2);
    free(c);
    free(ipw);
}

Test(case_checks, an_ipw_number_works_wherever_its_id_does)
{
    kt_run_t r;
    char *hh = NULL, *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &hh);
    char *other = kt_open_ipw(&g, g.sw2, "2026-02-01", NULL);
    cr_assert(ipw && other);
    AS(&r, g.sw, "ipw", "show", "--ipw", "IPW/2026/0001");
    cr_assert_str_eq(kt_str(r.json, "id"), ipw);
    kt_ok(&r, "show by number");
    AS(&r, g.sw, "ipw", "show", "--id", "IPW/2026/0001");
    cr_assert_str_eq(kt_str(r.json, "id"), ipw);
    kt_ok(&r, "show --id");
    AS(&r, g.sw, "household", "show", "--id", hh);
    kt_ok(&r, "household show --id");
    AS(&r, g.sw, "ipw", "activate", "--ipw", "IPW/2026/0001", "--date", "2026-01-15");
    kt_ok(&r, "a step by number");
    AS(&r, g.sw, "goal", "add", "--ipw", "IPW/2026/0001", "--area", "work", "--baseline", "1", "--target", "3");
    kt_ok(&r, "a goal by number");
    AS(&r, g.sw, "ipw", "show", "--ipw", "IPW/2026/0099");
    REFUSED(&r, 1, "record.not_found", "ipw", "ipw", "IPW/2026/0099");
    AS(&r, g.sw, "ipw", "show", "--ipw", "IPW/2026/0002");
    REFUSED(&r, 1, "access.denied.not_in_zzk", NULL, g.sw, "IPW/2026/0002");
    /* lists by coordinator and status */
    AS(&r, g.coord, "ipw", "list", "--coordinator", g.sw2);
    cr_assert_eq(json_array_size(r.json), 1);
    cr_assert_str_eq(kt_str(json_array_get(r.json, 0), "id"), other);
    kt_run_free(&r);
    AS(&r, g.coord, "ipw", "list", "--status", "active");
    cr_assert_eq(json_array_size(r.json), 1);
    cr_assert_str_eq(kt_str(json_array_get(r.json, 0), "id"), ipw);
    kt_run_free(&r);
    AS(&r, g.coord, "ipw", "list", "--text", "2026/0002");
    cr_assert_eq(json_array_size(r.json), 1);
    kt_run_free(&r);
    free(hh);
    free(ipw);
    free(other);
}

Test(case_checks, my_overdue_tasks_and_the_week_of_all_my_cases)
{
    kt_run_t r;
    char today[11], monday[11], sunday[11], nextweek[11];
    int64_t d;
    koop_date_today(today);
    d = koop_date_days(today);
    koop_date_from_days(d - ((d + 3) % 7 + 7) % 7, monday);
    koop_date_from_days(d - ((d + 3) % 7 + 7) % 7 + 6, sunday);
    koop_date_from_days(d - ((d + 3) % 7 + 7) % 7 + 8, nextweek);
    char *ipw = kt_open_ipw(&g, g.sw, "2026-01-10", NULL);
    cr_assert_not_null(ipw);
    AS(&r, g.sw, "ipw", "member", "add", "--ipw", ipw, "--person", g.cop);
    kt_ok(&r, "member");
    char *late = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.cop, "--due", "2026-02-01", "--title", "Spóźnione");
    char *mon = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.cop, "--due", monday, "--title", "Poniedziałek");
    char *sun = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", sunday, "--title", "Niedziela");
    char *next = ID(g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", nextweek, "--title", "Za tydzień");
    cr_assert(late && mon && sun && next);
    AS(&r, g.cop, "task", "mine", "--overdue", "true");
    cr_assert_eq(json_array_size(r.json), strcmp(monday, today) < 0 ? 2 : 1, "%s", r.out);
    cr_assert_str_eq(kt_str(json_array_get(r.json, 0), "id"), late);
    kt_run_free(&r);
    /* the IPW's coordinator sees the week's open tasks of everyone in her cases */
    AS(&r, g.sw, "task", "week");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_eq(json_array_size(r.json), 2, "this week's tasks: %s", r.out);
    cr_assert_str_eq(kt_str(json_array_get(r.json, 0), "id"), mon);
    cr_assert_str_eq(kt_str(json_array_get(r.json, 1), "id"), sun);
    kt_run_free(&r);
    AS(&r, g.sw, "task", "week", "--overdue", "true");
    cr_assert_str_eq(kt_str(json_array_get(r.json, 0), "id"), late);
    kt_run_free(&r);
    AS(&r, g.sw2, "task", "week");
    cr_assert_eq(json_array_size(r.json), 0, "not her cases: %s", r.out);
    kt_run_free(&r);
    free(late);
    free(mon);
    free(sun);
    free(next);
    free(ipw);
}
