/*
 * Fail fast and clearly: every start-up refusal of common/preflight and
 * koop-node, through real processes. Each one exits KOOP_EXIT_REFUSED (78)
 * quickly with a Polish message that names the fix, instead of a restart
 * loop; and what must still work (a node beside a refused second instance,
 * a service killed from outside) still works.
 */
#include "koop_test.h"
#include "services.h"
#include "kt_ops.h"
#include "preflight.h"
#include "store.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <unistd.h>

static kt_node_t node;

/* snprintf into an array, failing the test rather than cutting a path */
#define S_FMT(buf, ...) cr_assert(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf, "path too long")

static void
s_setup(void)
{
    cr_assert_eq(kt_node_init(&node, "gmina", "2013032", "Gmina Kobylin-Borzymy", NULL), 0);
}

static void
s_teardown(void)
{
    cr_assert_eq(kt_node_destroy(&node), 0, "the node's processes reported sanitizer errors");
}

TestSuite(preflight, .init = s_setup, .fini = s_teardown, .timeout = 180);

/* Sets `key = value` on the first line of the node's config that sets key. */
static void
s_conf_set(const char *key, const char *value)
{
    char line[1024], out[16384] = "", tmp[PATH_MAX + 8];
    size_t klen = strlen(key), used = 0;
    int done = 0;
    FILE *f = fopen(node.conf, "r");
    cr_assert(f);
    while (fgets(line, sizeof line, f)) {
        const char *p = line + klen;
        if (!done && strncmp(line, key, klen) == 0 && (*p == ' ' || *p == '=')) {
            used += (size_t)snprintf(out + used, sizeof out - used, "%s = %s\n", key, value);
            done = 1;
        } else {
            used += (size_t)snprintf(out + used, sizeof out - used, "%s", line);
        }
        cr_assert(used < sizeof out);
    }
    fclose(f);
    cr_assert(done, "no line sets %s in %s", key, node.conf);
    S_FMT(tmp, "%s.new", node.conf);
    f = fopen(tmp, "w");
    cr_assert(f);
    fputs(out, f);
    fclose(f);
    cr_assert_eq(rename(tmp, node.conf), 0);
}

/* Runs BIN/program -c CONF in the foreground for at most timeout_s. */
static void
s_run(kt_run_t *r, const char *program, int timeout_s)
{
    char exe[PATH_MAX];
    S_FMT(exe, "%s/%s", kt_bin(), program);
    char *argv[] = {exe, "-c", node.conf, NULL};
    cr_assert_eq(kt_exec_for(r, argv, timeout_s), 0);
}

/* A refusal: exit 78, and the message holds every one of the NULL-ended needles. */
static void
s_expect_refused(kt_run_t *r, const char *what, ...)
{
    va_list ap;
    const char *needle;
    cr_expect_eq(r->code, KOOP_EXIT_REFUSED, "%s: exit %d (want %d, 124 = still running)\n%s", what, r->code,
                 KOOP_EXIT_REFUSED, r->err);
    va_start(ap, what);
    while ((needle = va_arg(ap, const char *)) != NULL)
        cr_expect(strstr(r->err, needle), "%s: the message does not say '%s':\n%s", what, needle, r->err);
    va_end(ap);
}

static int
s_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Runs the node once (so every store is stamped) and stops it. */
static void
s_first_start(void)
{
    cr_assert_eq(kt_node_start(&node, 30), 0);
    cr_assert_eq(kt_node_stop(&node), 0);
}

static void
s_path(char *out, size_t size, const char *sub)
{
    cr_assert(snprintf(out, size, "%s/%s", node.dir, sub) < (int)size, "path too long");
}

Test(preflight, missing_data_dir_stops_the_node_before_any_service_starts)
{
    kt_run_t r;
    s_conf_set("data_dir", "/proc/koop-nie-ma/data");
    s_run(&r, "koop-node", 30);
    s_expect_refused(&r, "koop-node", "katalog danych /proc/koop-nie-ma/data nie istnieje", "data_dir",
                     node.conf, NULL);
    cr_expect(!strstr(r.err, "uruchomiono"), "a service was started:\n%s", r.err);
    kt_run_free(&r);
}

Test(preflight, unwritable_data_dir_is_refused_with_the_owner_to_give_it)
{
    char data[PATH_MAX], exe[PATH_MAX];
    kt_run_t r;
    uid_t as = (uid_t)-1;

    s_path(data, sizeof data, "data");
    if (geteuid() == 0) {
        /* root writes anywhere: run the node as nobody, who may read the
         * config but not write root's data directory */
        struct passwd *pw = getpwnam("nobody");
        cr_assert(pw, "no user nobody");
        as = pw->pw_uid;
        cr_assert_eq(chmod(node.dir, 0755), 0);
        cr_assert_eq(chmod(node.conf, 0644), 0);
        cr_assert_eq(chmod(data, 0755), 0);
    } else {
        cr_assert_eq(chmod(data, 0500), 0);
    }
    S_FMT(exe, "%s/koop-node", kt_bin());
    char *argv[] = {exe, "-c", node.conf, NULL};
    cr_assert_eq(kt_exec_as(&r, argv, 30, as), 0);
    s_expect_refused(&r, "koop-node", "nie może pisać w katalogu danych", data, "chown -R", NULL);
    kt_run_free(&r);
    chmod(data, 0700);
}

Test(preflight, config_error_names_file_and_line)
{
    kt_run_t r;
    /* a key the file may not hold */
    FILE *f = fopen(node.conf, "a");
    cr_assert(f);
    fputs("[node]\nnazwa = Gmina\n", f);
    fclose(f);
    s_run(&r, "koop-node", 30);
    s_expect_refused(&r, "koop-node", "błąd konfiguracji", "koop.conf:", "nieznany klucz 'nazwa'", NULL);
    kt_run_free(&r);
    /* a service started alone says the same */
    s_run(&r, "koop-registry", 30);
    s_expect_refused(&r, "koop-registry", "nieznany klucz 'nazwa'", NULL);
    kt_run_free(&r);
}

Test(preflight, second_instance_of_a_service_leaves_and_the_node_goes_on)
{
    kt_run_t r;
    char *id;
    cr_assert_eq(kt_node_start(&node, 30), 0);
    s_run(&r, "koop-registry", 30);
    s_expect_refused(&r, "a second koop-registry", "usługa registry węzła gmina-2013032 już działa",
                     "service.lock", NULL);
    kt_run_free(&r);
    /* the node's own registry kept its socket */
    id = kt_ctl_id(&node, "institution", "add", "--name", "OPS Kobylin-Borzymy", "--sector", "social_assistance",
                   "--level", "gmina", NULL);
    cr_expect(id, "the node's registry stopped answering after the second instance");
    free(id);
    cr_assert_eq(kt_ctl(&r, &node, "status", NULL), 0);
    cr_expect_eq(r.code, 0, "status after the second instance: %s", r.out);
    kt_run_free(&r);
}

Test(preflight, second_koop_node_of_the_same_node_is_refused)
{
    kt_run_t r;
    cr_assert_eq(kt_node_start(&node, 30), 0);
    s_run(&r, "koop-node", 30);
    s_expect_refused(&r, "a second koop-node", "węzeł gmina-2013032 już działa", "node.lock", NULL);
    kt_run_free(&r);
    cr_assert_eq(kt_ctl(&r, &node, "status", NULL), 0);
    cr_expect_eq(r.code, 0, "status after the second koop-node: %s", r.out);
    kt_run_free(&r);
}

Test(preflight, changed_node_id_is_refused_and_the_old_one_starts_again)
{
    kt_run_t r;
    s_first_start();
    s_conf_set("id", "gmina-inna");
    s_run(&r, "koop-node", 60);
    s_expect_refused(&r, "koop-node", "należą do węzła gmina-2013032", "id = gmina-inna",
                     "przywróć id = gmina-2013032", NULL);
    cr_expect(strstr(r.err, "zatrzymuję węzeł"), "koop-node does not say it stops:\n%s", r.err);
    kt_run_free(&r);
    s_conf_set("id", "gmina-2013032");
    cr_expect_eq(kt_node_start(&node, 30), 0, "the node with its own id does not start again");
}

static int
s_write_format(MDB_txn *txn, void *ctx)
{
    return koop_store_put_str(txn, *(MDB_dbi *)ctx, "format", "2", 1);
}

Test(preflight, store_of_a_newer_format_is_refused)
{
    char dir[PATH_MAX];
    koop_store_t *store;
    MDB_dbi dbi;
    kt_run_t r;

    s_first_start();
    s_path(dir, sizeof dir, "data/cases");
    cr_assert_eq(koop_store_open(&store, dir, NULL), 0);
    dbi = koop_store_dbi(store, "store_meta");
    cr_assert_eq(koop_store_write(store, s_write_format, &dbi), 0);
    koop_store_destroy(&store);
    s_run(&r, "koop-node", 60);
    s_expect_refused(&r, "koop-node", "mają format 2", "zna format najwyżej 1", dir, NULL);
    kt_run_free(&r);
}

/* A service that fails the same way at every start: koop-node restarts it
 * GIVE_UP_AFTER (5) times, then stops the node and exits 1 (it used to
 * restart it for ever). The programs are those under test, beside a
 * koop-cases that always exits 3. */
Test(preflight, service_failing_the_same_way_stops_the_node)
{
    char bin[PATH_MAX], exe[PATH_MAX], target[PATH_MAX];
    kt_run_t r;
    FILE *f;

    s_path(bin, sizeof bin, "bin");
    cr_assert_eq(mkdir(bin, 0755), 0);
    S_FMT(target, "%s/koop-node", kt_bin());
    S_FMT(exe, "%s/koop-node", bin);
    char *cp[] = {"/bin/cp", target, exe, NULL};
    cr_assert_eq(kt_exec(&r, cp), 0);
    cr_assert_eq(r.code, 0);
    kt_run_free(&r);
    for (size_t i = 0; i < KOOP_SVC_COUNT; i++) { /* every other service as it is */
        char link[PATH_MAX];
        if (strcmp(koop_services[i].name, "cases") == 0)
            continue;
        S_FMT(target, "%s/koop-%s", kt_bin(), koop_services[i].name);
        S_FMT(link, "%s/koop-%s", bin, koop_services[i].name);
        cr_assert_eq(symlink(target, link), 0);
    }
    S_FMT(target, "%s/koop-cases", bin);
    f = fopen(target, "w");
    cr_assert(f);
    fputs("#!/bin/sh\necho 'koop-cases: awaria przy starcie' >&2\nexit 3\n", f);
    fclose(f);
    cr_assert_eq(chmod(target, 0755), 0);

    char *argv[] = {exe, "-c", node.conf, NULL};
    cr_assert_eq(kt_exec_for(&r, argv, 60), 0);
    cr_expect_eq(r.code, 1, "koop-node: exit %d (want 1; 124 = still restarting)\n%s", r.code, r.err);
    cr_expect(strstr(r.err, "usługa cases zawodzi tak samo przy każdym starcie (kod 3, 5 razy z rzędu)"),
              "no give-up message:\n%s", r.err);
    cr_expect_eq(s_count(r.err, "awaria przy starcie"), 5, "koop-cases was started %d times, want 5",
                 s_count(r.err, "awaria przy starcie"));
    kt_run_free(&r);
}

/* kill -9 from outside is not a failure of the service: koop-node restarts
 * it however often it comes. */
Test(preflight, service_killed_from_outside_is_always_restarted)
{
    kt_run_t r;
    cr_assert_eq(kt_node_start(&node, 30), 0);
    for (int i = 0; i < 7; i++) {
        pid_t pid = 0;
        for (int w = 0; w < 100 && pid == 0; w++) {
            pid = kt_child_pid(node.pid, "koop-registry");
            if (!pid)
                kt_sleep_ms(100);
        }
        cr_assert(pid > 0, "koop-registry did not come back after kill %d", i);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        kt_sleep_ms(50);
    }
    for (int w = 0; w < 100; w++) {
        cr_assert_eq(kt_ctl(&r, &node, "--timeout", "500", "status", NULL), 0);
        if (r.code == 0)
            break;
        kt_run_free(&r);
        kt_sleep_ms(200);
    }
    cr_expect_eq(r.code, 0, "the node did not recover after 7 kills: %s", r.out);
    kt_run_free(&r);
    cr_expect_eq(waitpid(node.pid, NULL, WNOHANG), 0, "koop-node gave up on a service killed from outside");
}

Test(preflight, open_runtime_dir_is_refused_by_the_node_and_by_a_service_that_takes_a_person)
{
    char run[PATH_MAX];
    kt_run_t r;
    s_path(run, sizeof run, "run");
    cr_assert_eq(chmod(run, 0755), 0);
    s_run(&r, "koop-node", 30);
    s_expect_refused(&r, "koop-node", "ma tryb 0755", "chmod 0700", run, NULL);
    kt_run_free(&r);
    s_run(&r, "koop-cases", 30);
    s_expect_refused(&r, "koop-cases alone", "ma tryb 0755", NULL);
    kt_run_free(&r);
    /* reporting takes no person: it serves (and is stopped by the timeout) */
    s_run(&r, "koop-reporting", 3);
    cr_expect_eq(r.code, 124, "koop-reporting refused an open runtime dir: exit %d\n%s", r.code, r.err);
    kt_run_free(&r);
}

Test(preflight, person_service_on_a_non_loopback_tcp_endpoint_is_refused)
{
    char ep[64];
    kt_run_t r;
    int port = 20000 + (int)(getpid() % 20000);

    S_FMT(ep, "tcp://0.0.0.0:%d", port);
    s_conf_set("cases", ep);
    s_run(&r, "koop-node", 30);
    s_expect_refused(&r, "koop-node", "usługa cases przyjmuje osobę działającą", ep, "usługa cases odmówiła startu",
                     NULL);
    kt_run_free(&r);
    /* loopback is fine */
    S_FMT(ep, "tcp://127.0.0.1:%d", port);
    s_conf_set("cases", ep);
    cr_expect_eq(kt_node_start(&node, 30), 0, "the node does not start with cases on %s", ep);
}

/* node init never falls back to TCP: a socket path that is too long is a
 * refusal that creates nothing, and --runtime-dir is the way out. */
Test(preflight, node_init_refuses_a_socket_path_too_long_instead_of_tcp)
{
    char dir[PATH_MAX], exe[PATH_MAX], run[PATH_MAX];
    kt_run_t r;
    struct stat st;

    S_FMT(dir, "%s/%0*d", node.dir, 90, 0);
    S_FMT(exe, "%s/koopctl", kt_bin());
    char *argv[] = {exe, "node", "init", dir, "--role", "gmina", "--teryt", "2013032", "--name", "Długa", NULL};
    cr_assert_eq(kt_exec(&r, argv), 0);
    cr_expect_neq(r.code, 0, "node init accepted a socket path over 100 bytes");
    cr_expect(strstr(r.err, "--runtime-dir") && strstr(r.err, "nic nie utworzono"), "%s", r.err);
    cr_expect_neq(stat(dir, &st), 0, "node init created %s before refusing", dir);
    kt_run_free(&r);

    s_path(run, sizeof run, "r");
    char *argv2[] = {exe,       "node",   "init",  dir,           "--role", "gmina", "--teryt",
                     "2013032", "--name", "Długa", "--runtime-dir", run,    NULL};
    cr_assert_eq(kt_exec(&r, argv2), 0);
    cr_expect_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
}

/* sd_notify: READY=1 comes once every service answers; the services do not
 * inherit NOTIFY_SOCKET; STOPPING=1 when the stop begins. */
Test(preflight, systemd_is_told_ready_when_every_service_answers)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    static char environ_text[1 << 16];
    char buf[512], exe[PATH_MAX], log[PATH_MAX], env[32];
    struct pollfd pfd;
    kt_run_t r;
    ssize_t n;
    pid_t reg;
    int fd;

    S_FMT(sa.sun_path, "%s/notify", node.dir);
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    cr_assert(fd >= 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
    S_FMT(exe, "%s/koop-node", kt_bin());
    s_path(log, sizeof log, "node.log");
    node.pid = fork();
    cr_assert(node.pid >= 0);
    if (node.pid == 0) {
        if (!freopen(log, "a", stderr))
            _exit(127);
        execl(exe, exe, "-c", node.conf, (char *)NULL);
        _exit(127);
    }
    pfd = (struct pollfd){fd, POLLIN, 0};
    cr_assert_eq(poll(&pfd, 1, 30000), 1, "no READY=1 within 30 s");
    n = recv(fd, buf, sizeof buf - 1, 0);
    cr_assert(n > 0);
    buf[n] = '\0';
    cr_expect(strstr(buf, "READY=1"), "first message is '%s'", buf);
    /* ready means every service answers now */
    cr_assert_eq(kt_ctl(&r, &node, "--timeout", "2000", "status", NULL), 0);
    cr_expect_eq(r.code, 0, "READY=1 came before every service answered: %s", r.out);
    kt_run_free(&r);

    reg = kt_child_pid(node.pid, "koop-registry");
    cr_assert(reg > 0);
    S_FMT(env, "%d", (int)reg);
    cr_assert_eq(kt_proc_text(env, "environ", '\n', environ_text, sizeof environ_text), 0);
    cr_expect(strstr(environ_text, "KOOP_NODE_PID="), "not the environment of a service of the node");
    cr_expect(!strstr(environ_text, "NOTIFY_SOCKET="), "a service inherited NOTIFY_SOCKET");

    cr_assert_eq(kill(node.pid, SIGTERM), 0);
    cr_assert_eq(poll(&pfd, 1, 10000), 1, "no STOPPING=1 after SIGTERM");
    n = recv(fd, buf, sizeof buf - 1, 0);
    cr_assert(n > 0);
    buf[n] = '\0';
    cr_expect(strstr(buf, "STOPPING=1"), "message after SIGTERM is '%s'", buf);
    close(fd);
}

/* A node that syncs needs its key pair and the hub's key: without them it
 * would run on without a link, so it refuses and names the file. */
Test(preflight, a_missing_key_of_the_link_is_refused_naming_the_file)
{
    char key[PATH_MAX];
    kt_run_t r;
    cr_assert_eq(kt_conf_set(node.conf, "sync", "hub", "tcp://127.0.0.1:9"), 0);
    cr_assert_eq(kt_conf_set(node.conf, "sync", "hub_key", "keys/hub-nie-ma.pub"), 0);
    s_run(&r, "koop-node", 30);
    s_expect_refused(&r, "koop-node without the hub's key", "nie można wczytać klucza huba", "hub_key",
                     "keys show --file", NULL);
    kt_run_free(&r);
    cr_assert_eq(kt_conf_set(node.conf, "sync", "hub_key", "keys/node.pub"), 0);
    s_path(key, sizeof key, "keys/node.key");
    cr_assert_eq(unlink(key), 0);
    s_run(&r, "koop-node", 30);
    s_expect_refused(&r, "koop-node without its own key", "nie można wczytać klucza węzła", "keys generate", NULL);
    kt_run_free(&r);
}

/* An address another program listens on: said in Polish, and the node stops
 * after the same failure at every start (it does not restart for ever). */
Test(preflight, an_address_taken_by_another_program_is_said_and_the_node_gives_up)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    char ep[64];
    kt_run_t r;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 1), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    S_FMT(ep, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    s_conf_set("reporting", ep);
    s_run(&r, "koop-node", 60);
    cr_expect_eq(r.code, 1, "koop-node: exit %d (want 1; 124 = restarting for ever)\n%s", r.code, r.err);
    cr_expect(strstr(r.err, "usługa nie może słuchać na") && strstr(r.err, ep), "%s", r.err);
    cr_expect(strstr(r.err, "usługa reporting zawodzi tak samo"), "%s", r.err);
    kt_run_free(&r);
    close(fd);
}
