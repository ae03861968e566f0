/*
 * Refusals in the user's language, through a real node: a refusal of each
 * service (registry, cases, notifier, reporting, sync) comes back as the same
 * code and field whatever the language, with the catalogue's Polish message
 * by default and its English one with `koopctl --lang en` or KOOP_LANG=en
 * (--lang wins over KOOP_LANG), in the JSON error object and in text.
 */
#include "errors.h"
#include "kt_cases.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kt_gmina_t g;

static void
s_setup(void)
{
    cr_assert_eq(kt_gmina_setup(&g), 0, "node with staff did not start");
}

static void
s_teardown(void)
{
    unsetenv("KOOP_LANG");
    kt_gmina_teardown(&g);
}

TestSuite(errors_lang, .init = s_setup, .fini = s_teardown, .timeout = 120);

#define UNKNOWN "01a20dc3-0000-7000-8000-000000000000"

/* The message the catalogue gives for code/field/args in lang, with the
 * field as koopctl names it. */
static void
s_expected(const char *code, const char *field, const char *const *args, koop_lang_t lang, char *out, size_t len)
{
    koop_error_t e;
    char label[80];
    koop_error_set(&e, koop_err_find(code), field, args);
    if (field)
        koop_field_option(field, label, sizeof label);
    koop_error_render(&e, lang, field ? label : NULL, out, len);
}

/* Runs koopctl -c CONF [--json] [--lang lang] [--as as] ARGS (NULL-terminated
 * in cmd) with KOOP_LANG = env (NULL: unset). */
static void
s_run(kt_run_t *r, int json, const char *lang, const char *env, const char *as, const char *const *cmd)
{
    char exe[PATH_MAX + 16];
    char *argv[32];
    int k = 0;
    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    argv[k++] = exe;
    argv[k++] = "-c";
    argv[k++] = g.node.conf;
    if (json)
        argv[k++] = "--json";
    if (lang) {
        argv[k++] = "--lang";
        argv[k++] = (char *)lang;
    }
    if (as) {
        argv[k++] = "--as";
        argv[k++] = (char *)as;
    }
    for (int i = 0; cmd[i]; i++)
        argv[k++] = (char *)cmd[i];
    argv[k] = NULL;
    if (env)
        setenv("KOOP_LANG", env, 1);
    else
        unsetenv("KOOP_LANG");
    cr_assert_eq(kt_exec(r, argv), 0);
    unsetenv("KOOP_LANG");
}

/* One refusal, asked in every way: the code and field never change, the
 * message is the catalogue's in the language asked for. */
static void
s_check(const char *service, const char *as, const char *const *cmd, int exit_code, const char *code,
        const char *field, const char *const *args)
{
    static const struct {
        const char *lang, *env;
        koop_lang_t want;
    } ways[] = {
        {NULL, NULL, KOOP_LANG_PL},     {"en", NULL, KOOP_LANG_EN}, {NULL, "en", KOOP_LANG_EN},
        {"pl", "en", KOOP_LANG_PL},     {NULL, "pl", KOOP_LANG_PL}, {"en", "pl", KOOP_LANG_EN},
    };
    char pl[1024], en[1024], text[1100];
    kt_run_t r;

    s_expected(code, field, args, KOOP_LANG_PL, pl, sizeof pl);
    s_expected(code, field, args, KOOP_LANG_EN, en, sizeof en);
    cr_assert_str_neq(pl, en, "%s: %s has the same message in both languages", service, code);
    for (size_t i = 0; i < sizeof ways / sizeof ways[0]; i++) {
        json_t *doc, *e;
        s_run(&r, 1, ways[i].lang, ways[i].env, as, cmd);
        cr_assert_eq(r.code, exit_code, "%s (--lang %s, KOOP_LANG=%s): exit %d: %s", service,
                     ways[i].lang ? ways[i].lang : "-", ways[i].env ? ways[i].env : "-", r.code, r.err);
        doc = json_loads(r.err, 0, NULL);
        e = json_object_get(doc, "error");
        cr_assert(json_is_object(e), "%s: not one JSON error object: %s", service, r.err);
        kt_err_is(service, json_string_value(json_object_get(e, "code")),
                  json_string_value(json_object_get(e, "field")), code, field);
        cr_assert_str_eq(json_string_value(json_object_get(e, "message")), ways[i].want == KOOP_LANG_EN ? en : pl,
                         "%s (--lang %s, KOOP_LANG=%s)", service, ways[i].lang ? ways[i].lang : "-",
                         ways[i].env ? ways[i].env : "-");
        json_decref(doc);
        kt_run_free(&r);
    }
    /* without --json: one line, "error: ..." / "błąd: ..." */
    s_run(&r, 0, NULL, "en", as, cmd);
    snprintf(text, sizeof text, "error: %s\n", en);
    cr_assert_str_eq(r.err, text, "%s: text output in English: %s", service, r.err);
    kt_run_free(&r);
    s_run(&r, 0, NULL, NULL, as, cmd);
    snprintf(text, sizeof text, "błąd: %s\n", pl);
    cr_assert_str_eq(r.err, text, "%s: text output in Polish: %s", service, r.err);
    kt_run_free(&r);
}

Test(errors_lang, a_refusal_of_every_service_in_polish_and_english)
{
    s_check("registry", NULL, (const char *const[]){"institution", "show", "--id", UNKNOWN, NULL}, 1,
            "record.not_found", "id", (const char *const[]){"institution", UNKNOWN, NULL});
    s_check("cases", g.sw, (const char *const[]){"audit", "show", NULL}, 1, "access.denied.coordinator_only", NULL,
            (const char *const[]){"audit_log", NULL});
    s_check("notifier", UNKNOWN, (const char *const[]){"notify", "prefs", "--due-days", "3", NULL}, 1,
            "recipient.unknown", "as", (const char *const[]){UNKNOWN, NULL});
    s_check("reporting", NULL, (const char *const[]){"report", "indicators", "--from", "2020-13", NULL}, 1,
            "report.period", "from", (const char *const[]){"2020-13", NULL});
    s_check("sync", NULL, (const char *const[]){"events", "list", "--stream", "cases", "--node", "gmina-2013043", NULL},
            1, "sync.not_hub", NULL, (const char *const[]){NULL});
}

/* koopctl's own refusals too, and an unknown language is refused. */
Test(errors_lang, koopctl_own_refusals_in_english)
{
    kt_run_t r;
    s_check("koopctl", NULL, (const char *const[]){"ipw", "fly", NULL}, 2, "cli.unknown_command", NULL,
            (const char *const[]){"ipw fly", NULL});
    s_check("koopctl", NULL, (const char *const[]){"enrol", "/nonexistent.pub", NULL}, 2, "cli.not_hub", NULL,
            (const char *const[]){g.node.conf, NULL});
    s_run(&r, 1, "de", NULL, NULL, (const char *const[]){"status", NULL});
    kt_refused_in(&r, KOOP_LANG_PL, 2, "cli.lang", "lang", "de", NULL);
}
