/*
 * Registry end to end: a real node (koop-node + koop-registry) driven by the
 * real koopctl: records, search, bad input, and restarts.
 */
#include "koop_test.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>

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

TestSuite(registry, .init = s_setup, .fini = s_teardown, .timeout = 120);

static size_t
s_list_len(const char *noun, const char *verb, const char *k, const char *v)
{
    kt_run_t r;
    size_t n;
    kt_ctl(&r, &node, "--json", noun, verb, k, v, NULL);
    cr_assert_eq(r.code, 0, "%s %s failed: %s", noun, verb, r.err);
    cr_assert(json_is_array(r.json), "%s %s: not an array: %s", noun, verb, r.out);
    n = json_array_size(r.json);
    kt_run_free(&r);
    return n;
}

Test(registry, institution_add_show_update_list)
{
    kt_run_t r;
    char *id = kt_ctl_id(&node, "institution", "add", "--name", "GOPS Kobylin-Borzymy", "--sector",
                         "social_assistance", "--level", "gmina", "--teryt", "2013032", "--email",
                         "gops@example.org", NULL);
    cr_assert_not_null(id);
    kt_ctl(&r, &node, "--json", "institution", "show", "--id", id, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "GOPS Kobylin-Borzymy");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "sector")), "social_assistance");
    cr_assert(json_is_true(json_object_get(r.json, "active")));
    kt_run_free(&r);

    kt_ctl(&r, &node, "--json", "institution", "update", "--id", id, "--active", "false", "--phone",
           "+48 86 275 00 00", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(json_is_false(json_object_get(r.json, "active")));
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "GOPS Kobylin-Borzymy",
                     "update must keep fields it was not given");
    kt_run_free(&r);

    cr_assert_eq(s_list_len("institution", "list", "--sector", "social_assistance"), 1);
    cr_assert_eq(s_list_len("institution", "list", "--sector", "police"), 0);
    cr_assert_eq(s_list_len("institution", "list", "--text", "kobylin"), 1, "text search ignores case");
    free(id);
}

Test(registry, pzk_lifecycle_with_historical_dates)
{
    kt_run_t r;
    char *gops = kt_ctl_id(&node, "institution", "add", "--name", "GOPS", "--sector", "social_assistance",
                           "--level", "gmina", NULL);
    char *pcpr = kt_ctl_id(&node, "institution", "add", "--name", "PCPR", "--sector", "family_support",
                           "--level", "powiat", NULL);
    char *pzk = kt_ctl_id(&node, "pzk", "create", "--name", "G-PZK", "--formed", "2019-06-14", NULL);
    cr_assert(gops && pcpr && pzk);

    kt_ctl(&r, &node, "--json", "pzk", "show", "--id", pzk, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "teryt")), "2013032",
                     "a PZK belongs to the node's gmina by default");
    kt_run_free(&r);

    kt_ctl(&r, &node, "pzk", "join", "--pzk", pzk, "--institution", pcpr, "--date", "2019-06-14", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    kt_ctl(&r, &node, "--json", "pzk", "join", "--pzk", pzk, "--institution", pcpr, "--date", "2019-07-01", NULL);
    kt_refused(&r, 1, "pzk.already_member", "institution", pcpr, NULL); /* joining twice */
    kt_ctl(&r, &node, "--json", "pzk", "join", "--pzk", pzk, "--institution", gops, "--date", "2018-01-01", NULL);
    kt_refused(&r, 1, "date.order", "date", "2018-01-01", "formed", "2019-06-14", NULL); /* before the team was formed */

    kt_ctl(&r, &node, "pzk", "leave", "--pzk", pzk, "--institution", pcpr, "--date", "2020-03-01", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    kt_ctl(&r, &node, "--json", "pzk", "dissolve", "--pzk", pzk, "--date", "2020-10-01", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "dissolved")), "2020-10-01");
    json_t *m = json_array_get(json_object_get(r.json, "members"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(m, "left")), "2020-03-01");
    kt_run_free(&r);
    kt_ctl(&r, &node, "--json", "pzk", "dissolve", "--pzk", pzk, "--date", "2020-11-01", NULL);
    kt_refused(&r, 1, "pzk.already_dissolved", "pzk", "2020-10-01", NULL); /* dissolving twice */
    kt_ctl(&r, &node, "--json", "pzk", "join", "--pzk", pzk, "--institution", gops, "--date", "2020-10-01", NULL);
    kt_refused(&r, 1, "pzk.dissolved", "date", "2020-10-01", NULL); /* joining a dissolved team */
    kt_ctl(&r, &node, "--json", "pzk", "leave", "--pzk", pzk, "--institution", gops, "--date", "2020-10-02", NULL);
    kt_refused(&r, 1, "pzk.not_member", "institution", gops, NULL);
    free(gops);
    free(pcpr);
    free(pzk);
}

Test(registry, agreement_needs_known_parties)
{
    kt_run_t r;
    char *a = kt_ctl_id(&node, "institution", "add", "--name", "A", "--sector", "police", "--level", "powiat", NULL);
    char *b = kt_ctl_id(&node, "institution", "add", "--name", "B", "--sector", "ngo", "--level", "gmina", NULL);
    char parties[160];
    snprintf(parties, sizeof parties, "%s,%s", a, b);
    char *ag = kt_ctl_id(&node, "agreement", "add", "--parties", parties, "--signed", "2019-06-14", "--until",
                         "2021-12-31", NULL);
    cr_assert_not_null(ag);
    snprintf(parties, sizeof parties, "%s,01a20dc3-0000-7000-8000-000000000000", a);
    cr_assert_eq(kt_ctl_refused(&node, "record.not_found", "parties", "agreement", "add", "--parties", parties,
                                "--signed", "2019-06-14", NULL),
                 1, "an unknown party must be refused");
    kt_ctl(&r, &node, "--json", "agreement", "add", "--parties", a, "--signed", "2019-06-14", NULL);
    kt_refused(&r, 1, "agreement.parties", "parties", NULL);
    snprintf(parties, sizeof parties, "%s,%s,%s", a, b, a);
    kt_ctl(&r, &node, "--json", "agreement", "add", "--parties", parties, "--signed", "2019-06-14", NULL);
    kt_refused(&r, 1, "list.duplicate", "parties", a, NULL);
    snprintf(parties, sizeof parties, "%s,%s", a, b);
    kt_ctl(&r, &node, "--json", "agreement", "add", "--parties", parties, "--signed", "2019-06-14", "--until",
           "2019-01-01", NULL);
    kt_refused(&r, 1, "date.order", "until", "2019-01-01", "signed", "2019-06-14", NULL);
    cr_assert_eq(s_list_len("agreement", "list", "--institution", b), 1);
    free(a);
    free(b);
    free(ag);
}

Test(registry, catalogue_search_by_target_category_provider_text)
{
    char *pcpr = kt_ctl_id(&node, "institution", "add", "--name", "PCPR", "--sector", "family_support",
                           "--level", "powiat", NULL);
    char *gops = kt_ctl_id(&node, "institution", "add", "--name", "GOPS", "--sector", "social_assistance",
                           "--level", "gmina", NULL);
    char *s1 = kt_ctl_id(&node, "service", "add", "--name", "Poradnictwo rodzinne", "--provider", pcpr,
                         "--target", "families,children_youth", "--category", "counselling",
                         "--description", "Konsultacje psychologa dla RODZIN", NULL);
    char *s2 = kt_ctl_id(&node, "service", "add", "--name", "Klub seniora", "--provider", gops, "--target",
                         "seniors", "--category", "leisure", "--area", "Kobylin-Borzymy", NULL);
    cr_assert(pcpr && gops && s1 && s2);
    cr_assert_eq(s_list_len("service", "search", "--target", "families"), 1);
    cr_assert_eq(s_list_len("service", "search", "--target", "seniors,families"), 2);
    cr_assert_eq(s_list_len("service", "search", "--category", "Leisure"), 1);
    cr_assert_eq(s_list_len("service", "search", "--provider", pcpr), 1);
    cr_assert_eq(s_list_len("service", "search", "--area", "kobylin"), 1);
    cr_assert_eq(s_list_len("service", "search", "--text", "rodzin"), 1, "text matches name/description");

    kt_run_t r;
    kt_ctl(&r, &node, "service", "update", "--id", s2, "--active", "false", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(s_list_len("service", "search", "--target", "seniors"), 0, "inactive entries are hidden");
    cr_assert_eq(s_list_len("service", "search", "--active", "false"), 1);
    free(pcpr);
    free(gops);
    free(s1);
    free(s2);
}

/* Bad input from the CLI: a clear error, non-zero exit, nothing written. */
Test(registry, bad_input_is_refused_and_changes_nothing)
{
    kt_run_t r;
    /* each: the error's code and field, then the command */
    const char *bad[][14] = {
        {"field.enum", "sector", "institution", "add", "--name", "X", "--sector", "nonsense", "--level", "gmina", NULL},
        {"field.required", "name", "institution", "add", "--sector", "police", "--level", "gmina", NULL},
        {"field.enum_required", "sector", "institution", "add", "--name", "X", "--level", "gmina", NULL},
        {"field.enum_required", "level", "institution", "add", "--name", "X", "--sector", "police", NULL},
        {"email.invalid", "email", "institution", "add", "--name", "X", "--sector", "police", "--level", "gmina",
         "--email", "nie-mail", NULL},
        {"teryt.invalid", "teryt", "institution", "add", "--name", "X", "--sector", "police", "--level", "gmina",
         "--teryt", "12a", NULL},
        {"field.unknown", "colour", "institution", "add", "--name", "X", "--sector", "police", "--level", "gmina",
         "--colour", "red", NULL},
        {"field.no_value", "level", "institution", "add", "--name", "X", "--sector", "police", "--level", NULL},
        {"record.not_found", "institution", "person", "add", "--name", "Jan", "--institution", "no-such-id", "--role",
         "teacher", NULL},
        {"field.required", "institution", "person", "add", "--name", "Jan", "--role", "teacher", NULL},
        {"date.no_such_day", "formed", "pzk", "create", "--name", "P", "--formed", "2019-02-30", NULL},
        {"date.required", "formed", "pzk", "create", "--name", "P", NULL},
        {"field.enum", "target", "service", "add", "--name", "S", "--provider", "x", "--target", "martians",
         "--category", "c", NULL},
        {"record.not_found", "provider", "service", "add", "--name", "S", "--provider", "x", "--target", "seniors",
         "--category", "c", NULL},
        {"record.not_found", "id", "institution", "show", "--id", "01a20dc3-0000-7000-8000-000000000000", NULL},
        {"field.required", "id", "institution", "update", "--name", "Y", NULL},
        {"cli.unknown_command", NULL, "institution", "fly", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[16];
        size_t k = 0;
        char exe[PATH_MAX + 16];
        snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
        argv[k++] = exe;
        argv[k++] = "-c";
        argv[k++] = node.conf;
        argv[k++] = "--json";
        for (size_t j = 2; bad[i][j]; j++)
            argv[k++] = (char *)bad[i][j];
        argv[k] = NULL;
        kt_exec(&r, argv);
        cr_assert_neq(r.code, 0, "case %zu accepted", i);
        kt_refused(&r, r.code, bad[i][0], bad[i][1], NULL);
    }
    cr_assert_eq(s_list_len("institution", "list", "--text", ""), 0);
    cr_assert_eq(s_list_len("person", "list", "--text", ""), 0);
    /* still serving */
    char *id = kt_ctl_id(&node, "institution", "add", "--name", "OK", "--sector", "police", "--level", "gmina", NULL);
    cr_assert_not_null(id);
    free(id);
}

/* kill -9 of the registry: koop-node restarts it and everything is there. */
Test(registry, kill9_registry_is_restarted_with_data)
{
    kt_run_t r;
    char *id = kt_ctl_id(&node, "institution", "add", "--name", "KPP", "--sector", "police", "--level",
                         "powiat", NULL);
    pid_t reg = kt_child_pid(node.pid, "koop-registry");
    cr_assert(reg > 0, "no registry child of koop-node");
    kill(reg, SIGKILL);
    int back = 0;
    for (int i = 0; i < 100 && !back; i++) {
        kt_ctl(&r, &node, "--json", "--timeout", "1000", "institution", "show", "--id", id, NULL);
        back = r.code == 0;
        kt_run_free(&r);
        if (!back)
            kt_sleep_ms(100);
    }
    cr_assert(back, "registry not back after kill -9");
    cr_assert_neq(kt_child_pid(node.pid, "koop-registry"), reg);
    free(id);
}

Test(registry, node_restart_keeps_everything)
{
    char *id = kt_ctl_id(&node, "institution", "add", "--name", "SP nr 1", "--sector", "education", "--level",
                         "gmina", NULL);
    cr_assert_eq(kt_node_stop(&node), 0, "koop-node did not stop cleanly on SIGTERM");
    cr_assert_eq(kt_node_start(&node, 20), 0);
    kt_run_t r;
    kt_ctl(&r, &node, "--json", "institution", "show", "--id", id, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    free(id);
}

Test(registry, status_reports_every_service)
{
    kt_run_t r;
    kt_ctl(&r, &node, "--json", "status", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(json_is_true(json_object_get(r.json, "ok")));
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "node")), "gmina-2013032");
    kt_run_free(&r);
    kt_node_stop(&node);
    kt_ctl(&r, &node, "--timeout", "300", "status", NULL);
    cr_assert_eq(r.code, 3, "status of a stopped node must fail with exit 3, got %d", r.code);
    kt_run_free(&r);
}

/* kill -9 of koop-node itself: its services stop too (no orphan keeps the
 * node's sockets), and a new koop-node starts cleanly. */
Test(registry, services_stop_when_koop_node_is_killed)
{
    pid_t reg = kt_child_pid(node.pid, "koop-registry");
    int status, gone = 0;
    cr_assert(reg > 0);
    kill(node.pid, SIGKILL);
    waitpid(node.pid, &status, 0);
    node.pid = 0;
    for (int i = 0; i < 50 && !gone; i++) {
        char path[64], st = 0;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)reg);
        FILE *f = fopen(path, "r");
        if (!f) {
            gone = 1;
            break;
        }
        if (fscanf(f, "%*d %*s %c", &st) == 1 && st == 'Z')
            gone = 1;
        fclose(f);
        if (!gone)
            kt_sleep_ms(100);
    }
    cr_assert(gone, "the registry outlived its koop-node");
    cr_assert_eq(kt_node_start(&node, 20), 0, "a new koop-node does not start after the old one was killed");
}

/* koopctl keys generate: the pair node init made is kept; --force makes a new
 * one (old kept as *.old), secret key mode 0600. */
Test(registry, keys_generate_keeps_a_pair_and_rotates_with_force)
{
    kt_run_t r;
    char pub[PATH_MAX + 32], sec[PATH_MAX + 32], before[4096] = "", after[4096] = "";
    struct stat st;
    FILE *f;
    snprintf(pub, sizeof pub, "%s/keys/node.pub", node.dir);
    snprintf(sec, sizeof sec, "%s/keys/node.key", node.dir);
    f = fopen(pub, "r");
    cr_assert_not_null(f, "node init made no public certificate");
    cr_assert_gt(fread(before, 1, sizeof before - 1, f), 0);
    fclose(f);
    kt_ctl(&r, &node, "keys", "generate", NULL);
    cr_assert_eq(r.code, 1, "an existing key pair was overwritten without --force");
    kt_run_free(&r);
    kt_ctl(&r, &node, "keys", "generate", "--force", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    f = fopen(pub, "r");
    cr_assert_gt(fread(after, 1, sizeof after - 1, f), 0);
    fclose(f);
    cr_assert(strstr(after, "node-id") && strstr(after, "gmina-2013032"), "the certificate names the node");
    cr_assert_str_neq(strstr(before, "public-key"), strstr(after, "public-key"), "no new key was made");
    cr_assert_eq(stat(sec, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
}

/* Names people read in lists are one line of visible text: each broken rule
 * is its own code, and nothing is written. */
Test(registry, names_refused_by_the_rule_they_break)
{
    kt_run_t r;
    char *gops = kt_ctl_id(&node, "institution", "add", "--name", "GOPS", "--sector", "social_assistance",
                           "--level", "gmina", NULL);
    const struct {
        const char *value, *code;
    } names[] = {
        {"   ", "text.blank"},
        {" \xc2\xa0\t", "text.control"},
        {"\xc2\xa0\xe2\x80\x83", "text.blank"},
        {"Jan\nKowalski", "text.newline"},
        {"Jan\r\nKowalski", "text.newline"},
        {"Jan\tKowalski", "text.control"},
        {"Jan \xe2\x80\xaeikswolwoK", "text.bidi"},
    };
    cr_assert_not_null(gops);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        kt_ctl(&r, &node, "--json", "institution", "add", "--name", names[i].value, "--sector", "police", "--level",
               "gmina", NULL);
        kt_refused(&r, 1, names[i].code, "name", NULL);
        kt_ctl(&r, &node, "--json", "person", "add", "--name", names[i].value, "--institution", gops, "--role",
               "teacher", NULL);
        kt_refused(&r, 1, names[i].code, "name", NULL);
        kt_ctl(&r, &node, "--json", "pzk", "create", "--name", names[i].value, "--formed", "2020-01-01", NULL);
        kt_refused(&r, 1, names[i].code, "name", NULL);
        kt_ctl(&r, &node, "--json", "service", "add", "--name", names[i].value, "--provider", gops, "--target",
               "adults", "--category", "poradnictwo", NULL);
        kt_refused(&r, 1, names[i].code, "name", NULL);
        kt_ctl(&r, &node, "--json", "service", "add", "--name", "Poradnia", "--provider", gops, "--target",
               "adults", "--category", names[i].value, NULL);
        kt_refused(&r, 1, names[i].code, "category", NULL);
    }
    /* the message says which rule failed */
    kt_ctl(&r, &node, "institution", "add", "--name", "Jan\nKowalski", "--sector", "police", "--level", "gmina", NULL);
    cr_assert(strstr(r.err, "--name") && strstr(r.err, "wiersz"), "%s", r.err);
    kt_run_free(&r);
    kt_ctl(&r, &node, "--lang", "en", "institution", "add", "--name", "x\xe2\x80\xae", "--sector", "police", "--level",
           "gmina", NULL);
    cr_assert(strstr(r.err, "writing direction"), "%s", r.err);
    kt_run_free(&r);
    /* a name written with a hyphen, apostrophe or Polish letters is fine */
    char *ok = kt_ctl_id(&node, "person", "add", "--name", "Zofia O'Brien-Brzęczyszczykiewicz", "--institution", gops,
                         "--role", "teacher", NULL);
    cr_assert_not_null(ok);
    cr_assert_eq(s_list_len("institution", "list", "--text", ""), 1, "nothing was written");
    cr_assert_eq(s_list_len("person", "list", "--text", ""), 1);
    cr_assert_eq(s_list_len("pzk", "list", "--teryt", "2013032"), 0);
    cr_assert_eq(s_list_len("service", "search", "--text", ""), 0);
    free(ok);
    free(gops);
}

Test(registry, dates_that_do_not_exist_are_not_format_errors)
{
    kt_run_t r;
    kt_ctl(&r, &node, "--json", "pzk", "create", "--name", "P", "--formed", "2026-02-30", NULL);
    kt_refused(&r, 1, "date.no_such_day", "formed", "2026-02-30", NULL);
    kt_ctl(&r, &node, "--json", "pzk", "create", "--name", "P", "--formed", "2026-04-31", NULL);
    kt_refused(&r, 1, "date.no_such_day", "formed", "2026-04-31", NULL);
    kt_ctl(&r, &node, "--json", "pzk", "create", "--name", "P", "--formed", "2026-02-3", NULL);
    kt_refused(&r, 1, "date.invalid", "formed", "2026-02-3", NULL);
    kt_ctl(&r, &node, "--json", "pzk", "create", "--name", "P", "--formed", "1850-01-01", NULL);
    kt_refused(&r, 1, "date.year", "formed", "1850-01-01", NULL);
    kt_ctl(&r, &node, "pzk", "create", "--name", "P", "--formed", "2026-02-30", NULL);
    cr_assert(strstr(r.err, "nie ma takiego dnia: 2026-02-30"), "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(s_list_len("pzk", "list", "--teryt", "2013032"), 0, "nothing was written");
}

Test(registry, pzk_memberships_of_one_institution_do_not_overlap)
{
    kt_run_t r;
    char *pcpr = kt_ctl_id(&node, "institution", "add", "--name", "PCPR", "--sector", "family_support", "--level",
                           "powiat", NULL);
    char *pzk = kt_ctl_id(&node, "pzk", "create", "--name", "G-PZK", "--formed", "2019-01-01", NULL);
    cr_assert(pcpr && pzk);
    kt_ctl(&r, &node, "pzk", "join", "--pzk", pzk, "--institution", pcpr, "--date", "2019-03-01", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    kt_ctl(&r, &node, "pzk", "leave", "--pzk", pzk, "--institution", pcpr, "--date", "2021-06-30", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    /* history entered later: a new membership dated inside the earlier one */
    kt_ctl(&r, &node, "--json", "pzk", "join", "--pzk", pzk, "--institution", pcpr, "--date", "2020-01-01", NULL);
    kt_refused(&r, 1, "pzk.membership_overlap", "date", "2020-01-01", "2019-03-01", "2021-06-30", NULL);
    /* ... or starting before it */
    kt_ctl(&r, &node, "--json", "pzk", "join", "--pzk", pzk, "--institution", pcpr, "--date", "2019-02-01", NULL);
    kt_refused(&r, 1, "pzk.membership_overlap", "date", "2019-02-01", "2019-03-01", "2021-06-30", NULL);
    kt_ctl(&r, &node, "--json", "pzk", "show", "--id", pzk, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "members")), 1, "nothing was written");
    kt_run_free(&r);
    /* coming back on the day it left, or later, is a new membership */
    kt_ctl(&r, &node, "--json", "pzk", "join", "--pzk", pzk, "--institution", pcpr, "--date", "2021-06-30", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_eq(json_array_size(json_object_get(r.json, "members")), 2);
    kt_run_free(&r);
    free(pcpr);
    free(pzk);
}

Test(registry, pzk_representative_works_at_the_institution)
{
    kt_run_t r;
    char *gops = kt_ctl_id(&node, "institution", "add", "--name", "GOPS", "--sector", "social_assistance",
                           "--level", "gmina", NULL);
    char *pup = kt_ctl_id(&node, "institution", "add", "--name", "PUP", "--sector", "labour_office", "--level",
                          "powiat", NULL);
    char *anna = kt_ctl_id(&node, "person", "add", "--name", "Anna Nowak", "--institution", gops, "--role",
                           "social_worker", NULL);
    char *pzk = kt_ctl_id(&node, "pzk", "create", "--name", "PZK", "--formed", "2020-01-01", NULL);
    cr_assert(gops && pup && anna && pzk);
    kt_ctl(&r, &node, "--json", "pzk", "join", "--pzk", pzk, "--institution", pup, "--date", "2020-02-01",
           "--representative", anna, NULL);
    kt_refused(&r, 1, "pzk.representative_elsewhere", "representative", anna, pup, gops, NULL);
    kt_ctl(&r, &node, "--json", "pzk", "show", "--id", pzk, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "members")), 0, "nothing was written");
    kt_run_free(&r);
    kt_ctl(&r, &node, "--json", "pzk", "join", "--pzk", pzk, "--institution", gops, "--date", "2020-02-01",
           "--representative", anna, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    free(gops);
    free(pup);
    free(anna);
    free(pzk);
}

/* Search ignores case and Polish letters: "osrodek" finds "Ośrodek". */
Test(registry, search_without_polish_letters)
{
    kt_run_t r;
    char *gops = kt_ctl_id(&node, "institution", "add", "--name", "Gminny Ośrodek Pomocy Społecznej", "--sector",
                           "social_assistance", "--level", "gmina", "--address", "ul. Źródlana 3, Łomża", NULL);
    char *p = kt_ctl_id(&node, "person", "add", "--name", "Małgorzata Żółkiewska", "--institution", gops, "--role",
                        "social_worker", NULL);
    char *s = kt_ctl_id(&node, "service", "add", "--name", "Ośrodek wsparcia dziennego", "--provider", gops,
                        "--target", "children_youth", "--category", "Świetlica", NULL);
    cr_assert(gops && p && s);
    cr_assert_eq(s_list_len("service", "search", "--text", "osrodek"), 1);
    cr_assert_eq(s_list_len("service", "search", "--text", "OSRODEK WSPARCIA"), 1);
    cr_assert_eq(s_list_len("service", "search", "--text", "swietlica"), 1, "the category too");
    cr_assert_eq(s_list_len("service", "search", "--category", "swietlica"), 1);
    cr_assert_eq(s_list_len("service", "search", "--text", "ośrodki"), 0);
    cr_assert_eq(s_list_len("institution", "list", "--text", "osrodek pomocy spolecznej"), 1);
    cr_assert_eq(s_list_len("institution", "list", "--text", "lomza"), 1, "the address too");
    cr_assert_eq(s_list_len("person", "list", "--text", "malgorzata zolk"), 1);
    cr_assert_eq(s_list_len("person", "list", "--text", "MAŁGORZATA"), 1);
    kt_ctl(&r, &node, "--json", "service", "search", "--text", "osrodek", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r.json, 0), "name")), "Ośrodek wsparcia dziennego");
    kt_run_free(&r);
    free(gops);
    free(p);
    free(s);
}
