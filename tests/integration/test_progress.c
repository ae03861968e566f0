/*
 * Long work shows a progress line on a terminal and nothing in a script:
 * backup, restore, report rebuild and sync wait (a catch-up) run under a
 * pseudo-terminal draw "what: done / total (N %)" in place (\r); the same
 * commands with their output going to a pipe, or with --json, write no
 * such line.
 */
#include "koop_test.h"
#include "kt_ops.h"
#include "kt_sync.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FMT(buf, ...) cr_assert(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf, "path too long")

static kt_node_t g, copy, hub;

static void
s_teardown(void)
{
    cr_expect_eq(kt_nodes_destroy((kt_node_t *[]){&g, &copy, &hub, NULL}), 0, "sanitizer reports");
}

TestSuite(progress, .fini = s_teardown, .timeout = 180);

/* koopctl -c n->conf ARGS... on a terminal. */
static void
s_on_tty(kt_run_t *r, kt_node_t *n, char *const args[])
{
    char exe[PATH_MAX + 16], *argv[32];
    int k = 0;
    S_FMT(exe, "%s/koopctl", kt_bin());
    argv[k++] = exe;
    argv[k++] = "-c";
    argv[k++] = n->conf;
    for (int i = 0; args[i] && k < 31; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    cr_assert_eq(kt_exec_pty(r, argv, 60), 0);
}

Test(progress, backup_restore_and_report_rebuild_draw_a_line_on_a_terminal_only)
{
    char dir[PATH_MAX + 32], dir2[PATH_MAX + 32];
    kt_run_t r;

    cr_assert_eq(kt_node_init(&g, "gmina", "2013032", "Gmina Kobylin-Borzymy", NULL), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_add_institutions(&g, 300, "Instytucja"), 300);
    S_FMT(dir, "%s/kopia", g.dir);
    S_FMT(dir2, "%s/kopia2", g.dir);

    s_on_tty(&r, &g, (char *[]){"backup", dir, NULL});
    cr_assert_eq(r.code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "\rkopia zapasowa: ") && strstr(r.out, "(100 %)") && strstr(r.out, " / "),
              "a progress line: %s", r.out);
    kt_run_free(&r);
    /* in a script (a pipe) and with --json: nothing but the result */
    cr_assert_eq(kt_ctl(&r, &g, "--json", "backup", dir2, NULL), 0);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "");
    cr_assert_not_null(r.json, "only the JSON on stdout: %s", r.out);
    kt_run_free(&r);

    s_on_tty(&r, &g, (char *[]){"report", "rebuild", NULL});
    cr_assert_eq(r.code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "\rodbudowa wskaźników: ") && strstr(r.out, "300 / 300 zdarzeń (100 %)"),
              "the rebuild followed to its end: %s", r.out);
    kt_run_free(&r);
    cr_assert_eq(kt_ctl(&r, &g, "report", "rebuild", NULL), 0);
    cr_assert_eq(r.code, 0);
    cr_assert(!strstr(r.err, "odbudowa") && !strstr(r.out, "\r"), "no line in a script: %s%s", r.out, r.err);
    kt_run_free(&r);

    cr_assert_eq(kt_node_init(&copy, "gmina", "2013032", "Kopia", NULL), 0);
    s_on_tty(&r, &copy, (char *[]){"restore", dir, NULL});
    cr_assert_eq(r.code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "\rodtwarzanie: ") && strstr(r.out, "(100 %)"), "%s", r.out);
    kt_run_free(&r);
}

Test(progress, sync_wait_follows_a_catch_up_and_says_when_it_did_not_end)
{
    kt_run_t r;

    cr_assert_eq(kt_pair_init(&hub, &g, 1), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_add_institutions(&g, 50, "Czeka"), 50);
    /* the hub is away: the wait ends with 4 and what is left */
    s_on_tty(&r, &g, (char *[]){"sync", "wait", "--timeout", "2", NULL});
    cr_assert_eq(r.code, 4, "%s", r.out);
    /* the 50 institutions and the node's node.described */
    cr_assert(strstr(r.out, "\rwysyłanie do huba: 0 / 51 zdarzeń (0 %)"), "%s", r.out);
    cr_assert(strstr(r.out, "nie ma jeszcze 51 zdarzeń"), "%s", r.out);
    kt_run_free(&r);
    /* the hub is back: the catch-up is followed to its end */
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    cr_assert_eq(kt_ctl(&r, &g, "sync", "wait", "--timeout", "60", NULL), 0);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    cr_assert_str_eq(r.err, "", "no progress line in a script");
    cr_assert(strstr(r.out, "ma wszystkie zdarzenia"), "%s", r.out);
    kt_run_free(&r);
}
