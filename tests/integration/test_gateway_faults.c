/*
 * The gateway under faults and time: a session survives a restart and a
 * kill -9 of the gateway; sessions expire when idle (the injectable clock,
 * KOOP_CLOCK_OFFSET_MS); a slow client is cut off while others are served.
 */
#include "kt_cases.h"
#include "kt_http.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static kt_gmina_t g;

#define PW "S3kretne-Haslo!"

static void
s_setup(void)
{
    cr_assert_eq(kt_gmina_setup(&g), 0);
    cr_assert_eq(kt_account(&g.node, g.sw, "anowak", PW), 0);
    cr_assert_eq(kt_http_wait(&g.node, 20), 0);
}

static void
s_teardown(void)
{
    unsetenv("KOOP_CLOCK_OFFSET_MS");
    int reports = kt_node_sanitizer_reports(&g.node);
    kt_gmina_teardown(&g);
    cr_assert_eq(reports, 0, "sanitizer reports in the node's log");
}

TestSuite(gateway_faults, .init = s_setup, .fini = s_teardown, .timeout = 120);

static long
s_mine(kt_http_t *c)
{
    kt_resp_t r;
    long st = kt_http(c, &r, "GET", "/api/tasks/mine", NULL, NULL) == 0 ? r.status : -1;
    kt_resp_free(&r);
    return st;
}

static void
s_restart(const char *clock_offset_ms)
{
    cr_assert_eq(kt_node_stop(&g.node), 0);
    if (clock_offset_ms)
        setenv("KOOP_CLOCK_OFFSET_MS", clock_offset_ms, 1);
    else
        unsetenv("KOOP_CLOCK_OFFSET_MS");
    cr_assert_eq(kt_node_start(&g.node, 20), 0);
    cr_assert_eq(kt_http_wait(&g.node, 20), 0);
}

Test(gateway_faults, a_session_survives_a_restart_of_the_node)
{
    kt_http_t c = {.port = g.node.http_port};
    cr_assert_eq(kt_http_login(&c, "anowak", PW), 200);
    s_restart(NULL);
    cr_assert_eq(s_mine(&c), 200);
}

Test(gateway_faults, the_gateway_killed_9_comes_back_with_its_sessions)
{
    kt_http_t c = {.port = g.node.http_port};
    kt_resp_t r;
    pid_t gw;
    cr_assert_eq(kt_http_login(&c, "anowak", PW), 200);
    gw = kt_child_pid(g.node.pid, "koop-gateway");
    cr_assert_gt(gw, 0);
    cr_assert_eq(kill(gw, SIGKILL), 0);
    kt_sleep_ms(200);
    cr_assert_eq(kt_http_wait(&g.node, 20), 0, "koop-node restarts the gateway");
    cr_assert_neq(kt_child_pid(g.node.pid, "koop-gateway"), gw);
    cr_assert_eq(s_mine(&c), 200);
    /* and it writes again: logout */
    cr_assert_eq(kt_http_csrf(&c, &r, "DELETE", "/api/session", NULL), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    kt_resp_free(&r);
}

Test(gateway_faults, an_idle_session_expires_and_an_active_one_lives_on)
{
    kt_http_t c = {.port = g.node.http_port}, d = {.port = g.node.http_port};
    kt_resp_t r;
    cr_assert_eq(kt_http_login(&c, "anowak", PW), 200);
    /* 20 minutes later (of the 30 idle) it is alive, and the use counts */
    s_restart("1200000");
    cr_assert_eq(s_mine(&c), 200);
    cr_assert_eq(kt_http_login(&d, "anowak", PW), 200);
    /* 40 minutes after login, 20 after the last use: c alive, d (unused
     * since its login at +20) also alive; at +55 d is idle 35 min */
    s_restart("2400000");
    cr_assert_eq(s_mine(&c), 200);
    s_restart("3300000");
    cr_assert_eq(kt_http(&d, &r, "GET", "/api/tasks/mine", NULL, NULL), 0);
    cr_assert_eq(r.status, 401);
    cr_assert_str_eq(kt_resp_code(&r), "session.expired");
    kt_resp_free(&r);
    cr_assert_eq(s_mine(&c), 200, "used at +40: 15 min idle");
    /* 13 hours on, past the absolute limit of 12 h */
    s_restart("46800000");
    cr_assert_eq(s_mine(&c), 401);
}

/* A client sending its request one byte at a time is cut off after the
 * request timeout, while other clients are answered meanwhile. */
Test(gateway_faults, a_slow_client_is_timed_out_while_others_are_served)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.node.http_port)};
    FILE *f = fopen(g.node.conf, "a");
    kt_http_t c = {.port = g.node.http_port};
    int fd, closed = 0, served = 0;
    struct timespec t0, t1;
    cr_assert_not_null(f);
    fprintf(f, "\n[gateway]\nrequest_timeout_s = 2\nidle_timeout_s = 10\n");
    fclose(f);
    s_restart(NULL);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < sizeof req - 1 && !closed; i++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1) {
            closed = 1;
            break;
        }
        /* the others: answered at once */
        if (i % 3 == 0) {
            kt_resp_t r;
            cr_assert_eq(kt_http(&c, &r, "GET", "/healthz", NULL, NULL), 0);
            served += r.status == 200;
            kt_resp_free(&r);
        }
        if (poll(&p, 1, 200) == 1) {
            char buf[256];
            closed = recv(fd, buf, sizeof buf, 0) <= 0;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(fd);
    cr_assert(closed, "the slow client was never cut off");
    cr_assert_geq(t1.tv_sec - t0.tv_sec, 1, "cut off too early");
    cr_assert_leq(t1.tv_sec - t0.tv_sec, 6, "cut off too late");
    cr_assert_geq(served, 3, "others were served meanwhile (%d)", served);
    {
        kt_resp_t r;
        cr_assert_eq(kt_http(&c, &r, "GET", "/metrics", NULL, NULL), 0);
        cr_assert(strstr(r.body, "koop_gateway_request_timeouts_total 1"), "%s", r.body);
        kt_resp_free(&r);
    }
}

Test(gateway_faults, metrics_pass_promtool_and_hold_no_personal_data)
{
    kt_http_t c = {.port = g.node.http_port};
    kt_resp_t r;
    char path[PATH_MAX + 32];
    char *argv[] = {"/usr/bin/promtool", "check", "metrics", NULL};
    kt_run_t k;
    FILE *f;
    cr_assert_eq(kt_http_login(&c, "anowak", PW), 200);
    cr_assert_eq(kt_http_login(&c, "anowak", "zle-haslo-123"), 401);
    cr_assert_eq(kt_http(&c, &r, "GET", "/metrics", NULL, NULL), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "koop_gateway_logins_total 1"), "%s", r.body);
    cr_assert(strstr(r.body, "koop_gateway_login_failures_total 1"));
    cr_assert_null(strstr(r.body, "anowak"));
    cr_assert_null(strstr(r.body, "Anna"));
    cr_assert_null(strstr(r.body, "127.0.0.1"));
    snprintf(path, sizeof path, "%s/metrics.txt", g.node.dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(r.body, f);
    fclose(f);
    kt_resp_free(&r);
    /* promtool reads the text on stdin */
    {
        FILE *in = fopen(path, "r");
        char *text = NULL;
        size_t len = 0;
        cr_assert_not_null(in);
        cr_assert_geq(getdelim(&text, &len, '\0', in), 0);
        fclose(in);
        cr_assert_eq(kt_exec_input(&k, argv, text), 0);
        free(text);
    }
    cr_assert_eq(k.code, 0, "promtool: %s%s", k.out, k.err);
    kt_run_free(&k);
}
