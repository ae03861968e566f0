/*
 * The web UI in a real browser: a real node (its gateway serving web/),
 * Debian's Chromium driven by chromium-driver through python3-selenium
 * (tests/browser/web_scenario.py), axe-core (npm, build/npm) on every main
 * page. The node, its registry and a family are set up here with koopctl;
 * everything the people do happens in the browser:
 *
 *   the coordinator reads the report; the social worker logs in with the
 *   keyboard alone, finds the family without Polish letters, opens an IPW,
 *   adds the police officer to its ZZK, a goal (a wrong scale value first:
 *   the message next to the field, nothing saved) and a task for him, and
 *   activates the programme (its timeline in labels.def's words, Polish
 *   and, at the end, English); the police officer logs in, sees the task
 *   (the case number, not the family's name) and its notification, marks
 *   it done with the keyboard; the coordinator sees it done and the report
 *   change.
 *
 * Screenshots of every main page go to build/screenshots/.
 */
#include "kt_cases.h"
#include "kt_http.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static kt_gmina_t g;

#define PW_SW "S3kretne-Haslo!"
#define PW_COP "Inne-Haslo-123!"
#define PW_COORD "Haslo-Koordynatora-1"

static void
s_setup(void)
{
    char *hh;
    cr_assert_eq(kt_gmina_setup(&g), 0);
    cr_assert_eq(kt_account(&g.node, g.sw, "anowak", PW_SW), 0);
    cr_assert_eq(kt_account(&g.node, g.cop, "jdzielnicowy", PW_COP), 0);
    cr_assert_eq(kt_account(&g.node, g.coord, "ekoordynator", PW_COORD), 0);
    hh = kt_as_id(&g, g.sw, "household", "add", "--name", "Zofia Brzęczyszczykiewicz", "--size", "4", "--address",
                  "ul. Lipowa 7", "--target", "families", NULL);
    cr_assert_not_null(hh);
    free(hh);
    cr_assert_eq(kt_http_wait(&g.node, 20), 0, "no /healthz");
}

static void
s_teardown(void)
{
    int reports = kt_node_sanitizer_reports(&g.node);
    kt_gmina_teardown(&g);
    cr_assert_eq(reports, 0, "sanitizer reports in the node's log");
}

Test(browser, a_case_from_the_social_worker_to_the_police_and_back, .init = s_setup, .fini = s_teardown,
     .timeout = 290)
{
    const char *src = getenv("KOOP_SRC") ? getenv("KOOP_SRC") : ".";
    const char *build = getenv("KOOP_BUILD") ? getenv("KOOP_BUILD") : "build";
    char url[64], script[PATH_MAX], shots[PATH_MAX], axe[PATH_MAX];
    kt_run_t r;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", g.node.http_port);
    snprintf(script, sizeof script, "%s/tests/browser/web_scenario.py", src);
    snprintf(shots, sizeof shots, "%s/screenshots", build);
    snprintf(axe, sizeof axe, "%s/npm/node_modules/axe-core/axe.min.js", build);
    cr_assert_eq(access(axe, R_OK), 0, "%s missing: make test installs axe-core (npm ci in build/npm)", axe);
    mkdir(shots, 0755);
    setenv("KOOP_WEB_URL", url, 1);
    setenv("KOOP_WEB_SCREENSHOTS", shots, 1);
    setenv("KOOP_WEB_AXE", axe, 1);
    setenv("KOOP_WEB_USERS",
           "{\"sw\": [\"anowak\", \"" PW_SW "\"], \"cop\": [\"jdzielnicowy\", \"" PW_COP "\"],"
           " \"coord\": [\"ekoordynator\", \"" PW_COORD "\"]}", 1);
    setenv("KOOP_WEB_FAMILY", "Zofia Brzęczyszczykiewicz", 1);
    setenv("KOOP_WEB_COP", "Jan Dzielnicowy", 1);
    setenv("KOOP_WEB_SW", "Anna Nowak", 1);
    /* Debian's python3 (python3-selenium), whatever python3 is first on PATH */
    kt_exec_for(&r, (char *[]){"/usr/bin/python3", script, NULL}, 270);
    fprintf(stderr, "%s%s", r.out ? r.out : "", r.err ? r.err : "");
    cr_assert_eq(r.code, 0, "the browser scenario failed (exit %d); its output is above", r.code);
    kt_run_free(&r);
}
