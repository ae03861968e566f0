/*
 * Who may change what when a person is named: registry writes only for a
 * coordinator, an animator or a model expert; report.rebuild and
 * notify.retry only for the node's own user (no person). Through koopctl
 * --as and over HTTP as the logged-in person; a call without a person (the
 * node's shell) is trusted as before. A refusal changes nothing.
 */
#include "kt_cases.h"
#include "kt_http.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static kt_gmina_t g;

/* The words of labels.def: set, value, Polish, English. */
static const char *const s_words[][4] = {
#define KOOP_LABEL(field, pl, en)
#define KOOP_VALUE(set, value, pl, en) {set, value, pl, en},
#include "labels.def"
#undef KOOP_VALUE
#undef KOOP_LABEL
};

/* Where the web UI reads a set of labels.def (tools/i18n/web_labels.c):
 * catalogue[section][key][value], catalogue[section][value] when key is NULL. */
static const struct {
    const char *set, *section, *key;
} s_ui[] = {
#define KOOP_WEB_EXPORT(set, section, key) {set, section, key},
#include "../../tools/i18n/web_exports.def"
#undef KOOP_WEB_EXPORT
};

TestSuite(web_access, .timeout = 120);

static void
s_setup(void)
{
    cr_assert_eq(kt_gmina_setup(&g), 0);
}

static void
s_teardown(void)
{
    kt_gmina_teardown(&g);
}

/* How many institutions the registry lists. */
static size_t
s_institutions(void)
{
    kt_run_t r;
    size_t n;
    cr_assert_eq(kt_ctl(&r, &g.node, "--json", "institution", "list", NULL), 0);
    cr_assert(json_is_array(r.json));
    n = json_array_size(r.json);
    kt_run_free(&r);
    return n;
}

Test(web_access, registry_writes_need_a_coordinator_animator_or_model_expert, .init = s_setup,
     .fini = s_teardown)
{
    kt_run_t r;
    size_t before = s_institutions();
    char *animator, *id;

    /* a social worker and a police officer: refused, nothing written */
    kt_as(&r, &g, g.sw, "institution", "add", "--name", "Szkoła", "--sector", "education", "--level", "gmina", NULL);
    kt_refused(&r, 1, "access.denied.registry", NULL, NULL);
    kt_as(&r, &g, g.cop, "person", "update", "--id", g.cop, "--role", "coordinator", NULL);
    kt_refused(&r, 1, "access.denied.registry", NULL, NULL);
    kt_as(&r, &g, g.cop, "pzk", "create", "--name", "PZK", "--formed", "2026-01-05", NULL);
    kt_refused(&r, 1, "access.denied.registry", NULL, NULL);
    cr_assert_eq(s_institutions(), before);
    cr_assert_eq(kt_as(&r, &g, NULL, "person", "show", "--id", g.cop, NULL), 0);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "role")), "police_officer");
    kt_run_free(&r);
    /* reads stay open */
    cr_assert_eq(kt_as(&r, &g, g.cop, "institution", "list", NULL), 0);
    kt_run_free(&r);
    /* an unknown person */
    kt_as(&r, &g, "0190f000-0000-7000-8000-000000000000", "institution", "add", "--name", "X", "--sector", "other",
          "--level", "gmina", NULL);
    kt_refused(&r, 1, "access.caller_unknown", NULL, NULL);

    /* the coordinator, an animator, and the node's shell (no person) may */
    id = kt_as_id(&g, g.coord, "institution", "add", "--name", "Szkoła Podstawowa", "--sector", "education",
                  "--level", "gmina", NULL);
    cr_assert_not_null(id);
    free(id);
    animator = kt_as_id(&g, g.coord, "person", "add", "--name", "Adam Animator", "--institution", g.gops, "--role",
                        "animator", NULL);
    cr_assert_not_null(animator);
    id = kt_as_id(&g, animator, "pzk", "create", "--name", "PZK Kobylin", "--formed", "2026-01-05", NULL);
    cr_assert_not_null(id);
    free(id);
    id = kt_ctl_id(&g.node, "institution", "add", "--name", "Poradnia", "--sector", "health", "--level", "powiat",
                   NULL);
    cr_assert_not_null(id);
    free(id);
    cr_assert_eq(s_institutions(), before + 2);
    /* an inactive coordinator no longer may */
    cr_assert_eq(kt_ctl(&r, &g.node, "--json", "person", "update", "--id", animator, "--active", "false", NULL), 0);
    kt_run_free(&r);
    kt_as(&r, &g, animator, "institution", "add", "--name", "Y", "--sector", "other", "--level", "gmina", NULL);
    kt_refused(&r, 1, "access.caller_inactive", NULL, NULL);
    free(animator);
}

Test(web_access, rebuild_and_retry_are_the_nodes_own, .init = s_setup, .fini = s_teardown)
{
    kt_run_t r;
    kt_as(&r, &g, g.coord, "report", "rebuild", NULL);
    kt_refused(&r, 1, "access.shell_only", NULL, "report.rebuild", NULL);
    kt_as(&r, &g, g.coord, "notify", "retry", NULL);
    kt_refused(&r, 1, "access.shell_only", NULL, "notify.retry", NULL);
    cr_assert_eq(kt_ctl(&r, &g.node, "--json", "report", "rebuild", NULL), 0, "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(kt_ctl(&r, &g.node, "--json", "notify", "retry", NULL), 0, "%s", r.err);
    kt_run_free(&r);
}

Test(web_access, over_http_the_logged_in_person_is_the_caller, .init = s_setup, .fini = s_teardown)
{
    kt_http_t sw = {.port = g.node.http_port}, coord = {.port = g.node.http_port};
    kt_resp_t r;
    size_t before;
    cr_assert_eq(kt_account(&g.node, g.sw, "anowak", "S3kretne-Haslo!"), 0);
    cr_assert_eq(kt_account(&g.node, g.coord, "ekoordynator", "Haslo-Koordynatora-1"), 0);
    cr_assert_eq(kt_http_wait(&g.node, 20), 0);
    before = s_institutions();
    cr_assert_eq(kt_http_login(&sw, "anowak", "S3kretne-Haslo!"), 200);
    cr_assert_eq(kt_http_csrf(&sw, &r, "POST", "/api/institutions",
                              "{\"name\":\"Szkoła\",\"sector\":\"education\",\"level\":\"gmina\"}"), 0);
    cr_assert_eq(r.status, 403, "%s", r.body);
    cr_assert_str_eq(kt_resp_code(&r), "access.denied.registry");
    kt_resp_free(&r);
    cr_assert_eq(kt_http_csrf(&sw, &r, "POST", "/api/reports/rebuild", "{}"), 0);
    cr_assert_eq(r.status, 403, "%s", r.body);
    cr_assert_str_eq(kt_resp_code(&r), "access.shell_only");
    kt_resp_free(&r);
    cr_assert_eq(s_institutions(), before);
    cr_assert_eq(kt_http_login(&coord, "ekoordynator", "Haslo-Koordynatora-1"), 200);
    cr_assert_eq(kt_http_csrf(&coord, &r, "POST", "/api/institutions",
                              "{\"name\":\"Szkoła\",\"sector\":\"education\",\"level\":\"gmina\"}"), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    kt_resp_free(&r);
    cr_assert_eq(s_institutions(), before + 1);
}

/* ---- the web UI's files, forms and CSV, over HTTP ---- */

Test(web_access, the_web_ui_is_served_with_types_validators_and_no_listing, .init = s_setup, .fini = s_teardown)
{
    kt_http_t c = {.port = g.node.http_port};
    kt_resp_t r;
    char etag[64] = "", hdr[96];
    const char *p;
    cr_assert_eq(kt_http_wait(&g.node, 20), 0);
    cr_assert_eq(kt_http(&c, &r, "GET", "/", NULL, NULL), 0);
    cr_assert_eq(r.status, 200, "GET /: %ld %s", r.status, r.body);
    cr_assert(strstr(r.headers, "Content-Type: text/html; charset=utf-8"), "%s", r.headers);
    cr_assert(strstr(r.headers, "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'"));
    cr_assert(strstr(r.headers, "Cache-Control: no-cache"));
    cr_assert(strstr(r.body, "<html lang=\"pl\">") && strstr(r.body, "js/app.js"));
    /* no inline script or style anywhere in web/ (the CSP would block it) */
    cr_assert_null(strstr(r.body, "style=\""));
    cr_assert_null(strstr(r.body, "<script>"));
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "GET", "/js/app.js", NULL, NULL), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.headers, "Content-Type: text/javascript; charset=utf-8"));
    p = strstr(r.headers, "ETag: ");
    cr_assert_not_null(p);
    sscanf(p + 6, "%63s", etag);
    kt_resp_free(&r);
    snprintf(hdr, sizeof hdr, "If-None-Match: %s", etag);
    cr_assert_eq(kt_http(&c, &r, "GET", "/js/app.js", NULL, (const char *const[]){hdr, NULL}), 0);
    cr_assert_eq(r.status, 304, "revalidation with %s", hdr);
    kt_resp_free(&r);
    /* the UI's own catalogues keep no copy of labels.def's words */
    for (int en = 0; en < 2; en++) {
        cr_assert_eq(kt_http(&c, &r, "GET", en ? "/i18n/en.json" : "/i18n/pl.json", NULL, NULL), 0);
        cr_assert(r.status == 200 && json_is_object(r.json));
        cr_assert(strstr(r.headers, "Content-Type: application/json"));
        cr_expect_null(json_object_get(r.json, "timeline"), "the timeline's words are labels.def's");
        cr_expect_null(json_object_get(r.json, "enum"), "the values of enums are labels.def's");
        kt_resp_free(&r);
    }
    /* the words of labels.def the UI shows, made from it by make: the report
     * groups' titles, the timeline's event words and the values of enums of
     * both languages, every one as labels.def says and no other */
    for (int en = 0; en < 2; en++) {
        json_t *ev;
        cr_assert_eq(kt_http(&c, &r, "GET", en ? "/i18n/labels-en.json" : "/i18n/labels-pl.json", NULL, NULL), 0);
        cr_assert(r.status == 200 && json_is_object(r.json), "%ld %s", r.status, r.body);
        for (size_t u = 0; u < sizeof s_ui / sizeof s_ui[0]; u++) {
            json_t *words = json_object_get(r.json, s_ui[u].section);
            size_t seen = 0;
            if (s_ui[u].key)
                words = json_object_get(words, s_ui[u].key);
            for (size_t i = 0; i < sizeof s_words / sizeof s_words[0]; i++) {
                json_t *w;
                if (strcmp(s_words[i][0], s_ui[u].set) != 0)
                    continue;
                w = json_object_get(words, s_words[i][1]);
                cr_expect_str_eq(json_string_value(w) ? json_string_value(w) : "", s_words[i][2 + en], "%s %s: %s",
                                 s_ui[u].set, s_words[i][1], r.body);
                seen++;
            }
            cr_expect_geq(seen, 2, "%s", s_ui[u].set);
            cr_expect_eq(json_object_size(words), seen, "%s: %s", s_ui[u].set, r.body);
        }
        /* the timeline names a programme started as labels.def (and koopctl) does */
        ev = json_object_get(json_object_get(r.json, "timeline"), "ipw.activated");
        cr_expect_str_eq(json_string_value(ev) ? json_string_value(ev) : "",
                         en ? "programme started" : "rozpoczęto realizację programu");
        kt_resp_free(&r);
    }
    {
        static const char *const missing[] = {"/js/", "/js", "/nie-ma.html", "/../koop.conf", "/%2e%2e/koop.conf",
                                              "/.hidden", "/koop.conf"};
        for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
            cr_assert_eq(kt_http(&c, &r, "GET", missing[i], NULL, NULL), 0);
            cr_assert_eq(r.status, 404, "%s: %ld", missing[i], r.status);
            cr_assert_str_eq(kt_resp_code(&r), "http.not_found");
            kt_resp_free(&r);
        }
    }
    cr_assert_eq(kt_http(&c, &r, "POST", "/index.html", "{}", NULL), 0);
    cr_assert_eq(r.status, 405);
    cr_assert(strstr(r.headers, "Allow: GET, HEAD"));
    kt_resp_free(&r);
}

Test(web_access, methods_describe_the_fields_of_a_form_and_reports_come_as_csv, .init = s_setup, .fini = s_teardown)
{
    kt_http_t c = {.port = g.node.http_port};
    kt_resp_t r;
    json_t *m, *in;
    size_t i, j;
    int seen = 0;
    cr_assert_eq(kt_http_wait(&g.node, 20), 0);
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/methods?lang=en", NULL, NULL), 0);
    cr_assert_eq(r.status, 200);
    json_array_foreach(r.json, i, m) {
        if (strcmp(json_string_value(json_object_get(m, "name")), "task.add") != 0)
            continue;
        json_array_foreach(json_object_get(m, "inputs"), j, in) {
            const char *name = json_string_value(json_object_get(in, "name"));
            int req = json_is_true(json_object_get(in, "required"));
            const char *type = json_string_value(json_object_get(in, "type"));
            if (strcmp(name, "ipw") == 0)
                cr_assert(req && json_is_true(json_object_get(in, "in_path")), "ipw is the path's");
            if (strcmp(name, "due") == 0) {
                cr_assert(req && strcmp(type, "date") == 0, "due: required date");
                cr_assert_str_eq(json_string_value(json_object_get(in, "label")), "due");
                seen++;
            }
            if (strcmp(name, "title") == 0) {
                cr_assert_str_eq(json_string_value(json_object_get(in, "label")), "task");
                seen++;
            }
            if (strcmp(name, "goal") == 0)
                cr_assert(!req, "goal is optional");
        }
    }
    json_array_foreach(r.json, i, m) {
        if (strcmp(json_string_value(json_object_get(m, "name")), "institution.add") != 0)
            continue;
        json_array_foreach(json_object_get(m, "inputs"), j, in) {
            if (strcmp(json_string_value(json_object_get(in, "name")), "sector") == 0) {
                json_t *values = json_object_get(in, "values");
                cr_assert_str_eq(json_string_value(json_object_get(in, "type")), "enum");
                cr_assert_str_eq(json_string_value(json_array_get(values, 0)), "social_assistance");
                cr_assert(json_is_true(json_object_get(in, "required")));
                seen++;
            }
        }
    }
    cr_assert_eq(seen, 3);
    kt_resp_free(&r);
    cr_assert_eq(kt_account(&g.node, g.coord, "ekoordynator", "Haslo-Koordynatora-1"), 0);
    cr_assert_eq(kt_http_login(&c, "ekoordynator", "Haslo-Koordynatora-1"), 200);
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/reports/indicators?format=csv", NULL, NULL), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.headers, "Content-Type: text/csv; charset=utf-8"), "%s", r.headers);
    cr_assert(strstr(r.headers, "Content-Disposition: attachment; filename=\"report.indicators.csv\""));
    cr_assert(strncmp(r.body, "unit,teryt,level,from,to,as_of", 30) == 0, "%.80s", r.body);
    kt_resp_free(&r);
    /* a report's labels in the UI's language (labels.def), keys the same */
    {
        static const char *const want[][2] = {{"", "IPW otwarte w okresie"}, {"?lang=en", "IPWs opened in the period"}};
        for (i = 0; i < 2; i++) {
            char path[64];
            const char *label = NULL;
            snprintf(path, sizeof path, "/api/reports/indicators%s", want[i][0]);
            cr_assert_eq(kt_http(&c, &r, "GET", path, NULL, NULL), 0);
            cr_assert_eq(r.status, 200, "%s", r.body);
            json_array_foreach(json_object_get(r.json, "figures"), j, in) if (!strcmp(json_string_value(json_object_get(in, "key")), "ipw_opened"))
                label = json_string_value(json_object_get(in, "label"));
            cr_assert_str_eq(label ? label : "", want[i][1], "%s", r.body);
            kt_resp_free(&r);
        }
    }
    /* the evaluation's summary too, in the UI's language */
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/reports/evaluation?lang=en", NULL, NULL), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect(strstr(kt_str(r.json, "summary"), " cooperated in PZKs; "), "%s", r.body);
    cr_expect_null(strstr(kt_str(r.json, "summary"), " w PZK"), "%s", r.body);
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/reports/evaluation?lang=pl", NULL, NULL), 0);
    cr_expect(strstr(kt_str(r.json, "summary"), " w PZK"), "%s", r.body);
    kt_resp_free(&r);
    /* format is a report's only: elsewhere it is an unknown field */
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/tasks/mine?format=csv", NULL, NULL), 0);
    cr_assert_eq(r.status, 400);
    kt_resp_free(&r);
}
