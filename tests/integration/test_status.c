/*
 * koopctl status as monitoring uses it (docs/OPERATIONS.md "Monitoring"):
 * every service with its data sizes, the link to the hub, and the exit
 * codes: 3 when a service does not answer, 4 when the link has been down
 * longer than [sync] alert_after (on a gmina, and on a hub for a silent
 * gmina), measured on the real clock and on the injectable one; the same
 * facts as Prometheus text that promtool accepts and that names no person.
 */
#include "koop_test.h"
#include "kt_ops.h"
#include "kt_sync.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kt_node_t g, hub;

static void
s_teardown(void)
{
    cr_expect_eq(kt_nodes_destroy((kt_node_t *[]){&g, &hub, NULL}), 0, "sanitizer reports");
}

TestSuite(status, .fini = s_teardown, .timeout = 240);

/* koopctl --json status, waiting up to timeout_s for exit code `want`. */
static void
s_status_until(kt_run_t *r, kt_node_t *n, int want, int timeout_s)
{
    for (int i = 0; i < timeout_s * 5; i++) {
        kt_ctl(r, n, "--json", "status", NULL);
        if (r->code == want)
            return;
        kt_run_free(r);
        kt_sleep_ms(200);
    }
    kt_ctl(r, n, "--json", "status", NULL);
}

static const char *
s_problem(const kt_run_t *r, size_t i)
{
    const char *p = json_string_value(json_array_get(json_object_get(r->json, "problems"), i));
    return p ? p : "";
}

/* promtool check metrics on the text (the reference checker). */
static void
s_promtool(const char *text)
{
    char path[] = "/tmp/kt-metrics.XXXXXX", cmd[128];
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    {
        char *argv[] = {"/bin/sh", "-c", cmd, NULL};
        kt_run_t r;
        cr_assert_eq(kt_exec(&r, argv), 0);
        cr_assert_eq(r.code, 0, "promtool: %s%s", r.out, r.err);
        kt_run_free(&r);
    }
    unlink(path);
}

Test(status, every_service_with_its_sizes_and_a_service_that_does_not_answer_exits_3)
{
    char *id;
    pid_t cases;
    kt_run_t r;
    json_t *svcs;

    cr_assert_eq(kt_node_init(&g, "gmina", "2013032", "Gmina Kobylin-Borzymy", NULL), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    id = kt_ctl_id(&g, "institution", "add", "--name", "OPS", "--sector", "social_assistance", "--level", "gmina",
                   NULL);
    cr_assert_not_null(id);
    free(kt_ctl_id(&g, "person", "add", "--name", "Anna Nowakowska-Zielińska", "--institution", id, "--role",
                   "coordinator", "--phone", "600100200", NULL));
    free(id);
    kt_ctl(&r, &g, "--json", "status", NULL);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    svcs = json_object_get(r.json, "services");
    cr_assert_eq((int)json_array_size(svcs), kt_node_services(&g));
    for (size_t i = 0; i < json_array_size(svcs); i++) {
        json_t *s = json_array_get(svcs, i), *store = json_object_get(s, "store");
        cr_assert(json_is_true(json_object_get(s, "ok")));
        cr_assert_gt(json_integer_value(json_object_get(store, "file_bytes")), 0);
        cr_assert_geq(json_integer_value(json_object_get(store, "map_bytes")),
                      json_integer_value(json_object_get(store, "file_bytes")));
        cr_assert_gt(json_integer_value(json_object_get(s, "requests")), 0, "sys.stats counts what it answered");
    }
    cr_assert_gt(json_integer_value(json_object_get(r.json, "data_bytes")), 0);
    kt_run_free(&r);
    kt_ctl(&r, &g, "status", "--metrics", NULL);
    cr_assert_eq(r.code, 0);
    s_promtool(r.out);
    cr_assert(strstr(r.out, "koop_service_up{node=\"gmina-2013032\",service=\"registry\"} 1"), "%s", r.out);
    cr_assert(strstr(r.out, "koop_store_file_bytes{node=\"gmina-2013032\",service=\"cases\"}"));
    cr_assert(!strstr(r.out, "Nowakowska") && !strstr(r.out, "600100200"), "the metrics name a person");
    kt_run_free(&r);

    /* a service that does not answer (stopped, not dead: koop-node would restart it) */
    cases = kt_child_pid(g.pid, "koop-cases");
    cr_assert_gt(cases, 0);
    cr_assert_eq(kill(cases, SIGSTOP), 0);
    kt_ctl(&r, &g, "--json", "status", NULL);
    cr_assert_eq(r.code, 3, "a service down: %s", r.out);
    cr_assert(strstr(s_problem(&r, 0), "usługa cases nie odpowiada"), "%s", r.out);
    kt_run_free(&r);
    kt_ctl(&r, &g, "status", NULL);
    cr_assert_eq(r.code, 3);
    cr_assert(strstr(r.out, "cases      nie odpowiada"), "%s", r.out);
    kt_run_free(&r);
    /* in English: the lines and the findings, in text and in JSON */
    kt_ctl(&r, &g, "--lang", "en", "status", NULL);
    cr_assert_eq(r.code, 3);
    cr_assert(strstr(r.out, "node gmina-2013032 (gmina): NOT EVERY SERVICE ANSWERS\n") &&
                  strstr(r.out, "\n  cases      does not answer\n") && strstr(r.out, "\n  registry   running (pid ") &&
                  strstr(r.out, "\n  ! the service cases does not answer: "),
              "%s", r.out);
    cr_assert(!strstr(r.out, "nie odpowiada") && !strstr(r.out, "działa") && !strstr(r.out, "dane"), "%s", r.out);
    kt_run_free(&r);
    kt_ctl(&r, &g, "--lang", "en", "--json", "status", NULL);
    cr_assert(strstr(s_problem(&r, 0), "the service cases does not answer"), "%s", r.out);
    kt_run_free(&r);
    kt_ctl(&r, &g, "status", "--metrics", NULL);
    cr_assert_eq(r.code, 3);
    cr_assert(strstr(r.out, "koop_service_up{node=\"gmina-2013032\",service=\"cases\"} 0"), "%s", r.out);
    cr_assert(strstr(r.out, "koop_status_code{node=\"gmina-2013032\"} 3"), "%s", r.out);
    kt_run_free(&r);
    cr_assert_eq(kill(cases, SIGCONT), 0);
    s_status_until(&r, &g, 0, 10);
    cr_assert_eq(r.code, 0, "answers again: %s", r.out);
    kt_run_free(&r);
}

Test(status, the_link_down_longer_than_alert_after_exits_4_until_it_is_back)
{
    kt_run_t r;
    json_t *sync;

    cr_assert_eq(kt_pair_init(&hub, &g, 1), 0);
    cr_assert_eq(kt_conf_set(g.conf, "sync", "alert_after", "8s"), 0);
    /* the hub is not running: down from the start, within alert_after at first */
    cr_assert_eq(kt_node_start(&g, 20), 0, "status is 0 while the link is down for less than alert_after");
    s_status_until(&r, &g, 4, 30);
    cr_assert_eq(r.code, 4, "down longer than alert_after: %s", r.out);
    cr_assert(strstr(s_problem(&r, 0), "brak połączenia z hubem") && strstr(s_problem(&r, 0), "alarm po 8 s"),
              "%s", r.out);
    sync = json_object_get(r.json, "sync");
    cr_assert(json_is_false(json_object_get(sync, "connected")));
    cr_assert_geq(json_integer_value(json_object_get(sync, "down_s")), 8);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "alert_after_s")), 8);
    kt_run_free(&r);
    kt_ctl(&r, &g, "status", "--metrics", NULL);
    cr_assert_eq(r.code, 4);
    s_promtool(r.out);
    cr_assert(strstr(r.out, "koop_sync_connected{node=\"gmina-2013032\"} 0"), "%s", r.out);
    cr_assert(strstr(r.out, "koop_status_code{node=\"gmina-2013032\"} 4"), "%s", r.out);
    kt_run_free(&r);
    /* the hub comes: all is well again */
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    s_status_until(&r, &g, 0, 30);
    cr_assert_eq(r.code, 0, "the link is back: %s", r.out);
    kt_run_free(&r);
}

Test(status, alert_after_is_measured_on_the_injectable_clock)
{
    kt_run_t r;

    cr_assert_eq(kt_pair_init(&hub, &g, 0), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    kt_ctl(&r, &g, "--json", "status", NULL);
    cr_assert_eq(r.code, 0, "down for seconds, alert_after 1 h by default: %s", r.out);
    kt_run_free(&r);
    setenv("KOOP_CLOCK_OFFSET_MS", "3700000", 1); /* 1 h 1 min 40 s later */
    kt_ctl(&r, &g, "--json", "status", NULL);
    unsetenv("KOOP_CLOCK_OFFSET_MS");
    cr_assert_eq(r.code, 4, "an hour later: %s", r.out);
    cr_assert(strstr(s_problem(&r, 0), "brak połączenia z hubem") && strstr(s_problem(&r, 0), "od 1 h"), "%s",
              r.out);
    kt_run_free(&r);
}

Test(status, a_hub_says_which_gmina_has_been_silent_longer_than_alert_after)
{
    int port = 0;
    kt_run_t r;

    cr_assert_eq(kt_hub_init(&hub, "2013", "Powiat wysokomazowiecki", &port), 0);
    cr_assert_eq(kt_conf_set(hub.conf, "sync", "alert_after", "6s"), 0);
    cr_assert_eq(kt_gmina_init(&g, "2013032", "Gmina Kobylin-Borzymy", port, &hub), 0);
    cr_assert_eq(kt_enrol(&hub, &g), 0);
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_add_institutions(&g, 3, "Przed"), 3);
    cr_assert_eq(kt_wait_synced(&g, 30), 0);
    kt_ctl(&r, &hub, "status", NULL);
    cr_assert_eq(r.code, 0, "%s", r.out);
    kt_run_free(&r);
    cr_assert_eq(kt_node_stop(&g), 0);
    s_status_until(&r, &hub, 4, 40);
    cr_assert_eq(r.code, 4, "a gmina silent longer than alert_after: %s", r.out);
    cr_assert(strstr(s_problem(&r, 0), "węzeł gmina-2013032 milczy"), "%s", r.out);
    kt_run_free(&r);
    kt_ctl(&r, &hub, "status", "--metrics", NULL);
    s_promtool(r.out);
    cr_assert(strstr(r.out, "koop_hub_node_connected{node=\"hub-2013\",peer=\"gmina-2013032\"} 0"), "%s", r.out);
    kt_run_free(&r);
}
