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
