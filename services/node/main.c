/*
 * koop-node - runs a whole node in the foreground: one process per service
 * of the node's role (koop-<service> -c CONF, beside this program), each
 * restarted when it dies, all stopped cleanly on SIGTERM/SIGINT.
 *
 *   child states: STARTING -> RUNNING --exit--> WAITING (backoff timer) -> STARTING
 *                 any --SIGTERM to node--> STOPPING --exit--> DONE
 *   backoff: 100 ms, doubling to 5 s; back to 100 ms after 10 s of uptime.
 *   stop: SIGTERM to every child; SIGKILL to those still there after 8 s.
 *   give up (the node stops every service and exits non-zero):
 *     - a child exits KOOP_EXIT_REFUSED: one of its start-up checks refused
 *       (preflight.h); the node exits KOOP_EXIT_REFUSED too;
 *     - a child fails the same way (same exit code, crash signal or spawn
 *       error) GIVE_UP_AFTER times in a row, each within 10 s of its start:
 *       the node exits 1. Killed from outside (SIGKILL, SIGTERM) is not a
 *       failure of the service and is simply restarted.
 *   ready: once every service answers sys.ping (ready.h), "READY=1" to
 *   systemd (Type=notify); "STOPPING=1" when the stop begins.
 *
 * Before anything starts, koop_preflight_node checks the data and runtime
 * directories (the node's exit code is then KOOP_EXIT_REFUSED), and a lock
 * file in the runtime directory keeps a second koop-node off the same node.
 */
#include "clock.h"
#include "config.h"
#include "koop.h"
#include "loop.h"
#include "preflight.h"
#include "ready.h"
#include "say.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STABLE_MS 10000
#define GIVE_UP_AFTER 5
#define FAIL_SPAWN (-1000) /* failure code of a child that could not be started */

typedef struct s_node s_node;

typedef struct {
    s_node *node;
    const char *name;
    char exe[PATH_MAX + 32];
    uv_process_t proc;
    uv_timer_t restart;
    int running;
    uint64_t started_ms;
    unsigned backoff_ms;
    unsigned restarts;
    int fail_code;      /* how it failed last: exit code, -signal or FAIL_SPAWN */
    unsigned fails;     /* failures in a row with fail_code, each soon after start */
} s_child;

struct s_node {
    uv_loop_t loop;
    koop_config_t cfg;
    char conf[PATH_MAX];
    s_child children[KOOP_MAX_SERVICES];
    int nchildren;
    int stopping;
    int exit_code;
    uv_timer_t kill_timer;
    koop_signals_t signals;
    node_probe_t *probe;
};

static void s_start_child(s_child *c);
static void s_on_restart(uv_timer_t *t);
static void s_on_stop(void *data);

/* Stops the node (every service); main then returns exit_code. */
static void
s_give_up(s_node *n, int exit_code)
{
    if (n->stopping)
        return;
    n->exit_code = exit_code;
    s_on_stop(n);
}

/* Counts a failure of c soon after its start; 1 when the node gave up. */
static int
s_count_failure(s_child *c, int code, const char *how)
{
    if (c->fails > 0 && c->fail_code == code) {
        c->fails++;
    } else {
        c->fail_code = code;
        c->fails = 1;
    }
    if (c->fails < GIVE_UP_AFTER)
        return 0;
    koop_error("usługa %s zawodzi tak samo przy każdym starcie (%s, %u razy z rzędu): zatrzymuję węzeł %s; "
               "przyczyna jest w komunikatach usługi powyżej (journalctl -u koop-node@...)",
               c->name, how, c->fails, c->node->cfg.node_id);
    node_notify("STATUS=usługa nie startuje; zobacz dziennik");
    s_give_up(c->node, 1);
    return 1;
}

static void
s_backoff(s_child *c)
{
    uv_timer_start(&c->restart, s_on_restart, c->backoff_ms, 0);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void
s_maybe_finish(s_node *n)
{
    if (!n->stopping)
        return;
    for (int i = 0; i < n->nchildren; i++)
        if (n->children[i].running)
            return;
    uv_timer_stop(&n->kill_timer);
    uv_close((uv_handle_t *)&n->kill_timer, NULL);
    for (int i = 0; i < n->nchildren; i++)
        uv_close((uv_handle_t *)&n->children[i].restart, NULL);
}

static void
s_on_exit(uv_process_t *p, int64_t status, int term_signal)
{
    s_child *c = p->data;
    s_node *n = c->node;
    uint64_t up = koop_clock_mono_ms() - c->started_ms;

    c->running = 0;
    uv_close((uv_handle_t *)p, NULL);
    if (n->stopping) {
        koop_info("%s stopped", c->name);
        s_maybe_finish(n);
        return;
    }
    if (!term_signal && status == KOOP_EXIT_REFUSED) {
        koop_error("usługa %s odmówiła startu (powód powyżej): zatrzymuję węzeł %s; popraw to i uruchom węzeł "
                   "ponownie", c->name, n->cfg.node_id);
        node_notify("STATUS=usługa odmówiła startu; zobacz dziennik");
        s_give_up(n, KOOP_EXIT_REFUSED);
        return;
    }
    if (up >= STABLE_MS) {
        c->backoff_ms = BACKOFF_MIN_MS;
        c->fails = 0;
    } else if (term_signal != SIGKILL && term_signal != SIGTERM && (term_signal || status != 0)) {
        char how[32];
        snprintf(how, sizeof how, "%s %d", term_signal ? "sygnał" : "kod", term_signal ? term_signal : (int)status);
        if (s_count_failure(c, term_signal ? -term_signal : (int)status, how))
            return;
    }
    koop_warn("usługa %s zakończyła się (%s %d) po %llu ms; ponowne uruchomienie za %u ms", c->name,
              term_signal ? "sygnał" : "kod", term_signal ? term_signal : (int)status,
              (unsigned long long)up, c->backoff_ms);
    s_backoff(c);
}

static void
s_on_restart(uv_timer_t *t)
{
    s_child *c = t->data;
    if (!c->node->stopping) {
        c->restarts++;
        s_start_child(c);
    }
}

static void
s_start_child(s_child *c)
{
    char *args[] = {c->exe, "-c", c->node->conf, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE}, {.flags = UV_INHERIT_FD, .data.fd = 1}, {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t opt = {
        .exit_cb = s_on_exit, .file = c->exe, .args = args, .stdio_count = 3, .stdio = stdio};
    int rc;

    c->proc.data = c;
    c->started_ms = koop_clock_mono_ms();
    rc = uv_spawn(&c->node->loop, &c->proc, &opt);
    if (rc != 0) {
        koop_error("nie można uruchomić %s: %s; ponowna próba za %u ms", c->exe, uv_strerror(rc), c->backoff_ms);
        uv_close((uv_handle_t *)&c->proc, NULL);
        if (!s_count_failure(c, FAIL_SPAWN, uv_strerror(rc)))
            s_backoff(c);
        return;
    }
    c->running = 1;
    koop_info("uruchomiono %s (pid %d)", c->name, c->proc.pid);
}

static void
s_on_kill_timer(uv_timer_t *t)
{
    s_node *n = t->data;
    for (int i = 0; i < n->nchildren; i++)
        if (n->children[i].running) {
            koop_warn("%s did not stop in %d ms: SIGKILL", n->children[i].name, NODE_STOP_GRACE_MS);
            uv_process_kill(&n->children[i].proc, SIGKILL);
        }
}

static void
s_on_stop(void *data)
{
    s_node *n = data;
    koop_info("zatrzymywanie węzła %s", n->cfg.node_id);
    n->stopping = 1;
    node_notify("STOPPING=1");
    node_probe_destroy(&n->probe);
    koop_signals_stop(&n->signals);
    for (int i = 0; i < n->nchildren; i++) {
        s_child *c = &n->children[i];
        uv_timer_stop(&c->restart);
        if (c->running)
            uv_process_kill(&c->proc, SIGTERM);
    }
    uv_timer_start(&n->kill_timer, s_on_kill_timer, NODE_STOP_GRACE_MS, 0);
    s_maybe_finish(n);
}

static void
s_on_ready(void *data)
{
    s_node *n = data;
    char status[160];
    node_probe_destroy(&n->probe);
    koop_info("węzeł %s gotowy: wszystkie usługi (%d) odpowiadają", n->cfg.node_id, n->nchildren);
    snprintf(status, sizeof status, "READY=1\nSTATUS=węzeł %s: %d usług działa", n->cfg.node_id, n->nchildren);
    node_notify(status);
}

static int
s_lock(const koop_config_t *cfg)
{
    char path[PATH_MAX + 16], pid[24];
    int fd;
    snprintf(path, sizeof path, "%s/node.lock", cfg->runtime_dir);
    if ((fd = koop_preflight_lock(path, pid, sizeof pid)) >= 0)
        return fd; /* held until the process ends */
    if (errno == EWOULDBLOCK)
        koop_error("węzeł %s już działa (pid %s, zablokowany %s): nie uruchamiaj go drugi raz; zatrzymaj działający "
                   "(systemctl stop koop-node@NAZWA albo SIGTERM do jego koop-node)", cfg->node_id, pid, path);
    else
        koop_error("nie można otworzyć %s: %s", path, strerror(errno));
    return -1;
}

/* A hub keeps one TCP connection per gmina (2,500 on a flat hub) and a
 * distribution's default soft limit is often 1024 descriptors: the services
 * inherit the hard limit instead. */
static void
s_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        koop_warn("nie można podnieść limitu otwartych plików do %llu: %s", (unsigned long long)rl.rlim_max,
                  strerror(errno));
}

int
main(int argc, char **argv)
{
    static s_node node;
    s_node *n = &node;
    const char *names[KOOP_MAX_SERVICES], *endpoints[KOOP_MAX_SERVICES];
    char err[600], self[PATH_MAX], *bindir;
    const char *conf = NULL;
    ssize_t len;
    int opt, count, lockfd;

    if (koop_version_asked(argc, argv))
        return 0;
    koop_say_init("koop-node");
    node_notify_init();
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        if (opt == 'c')
            conf = optarg;
        else {
            fprintf(stderr, "użycie: koop-node -c WĘZEŁ/koop.conf\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (!conf) {
        fprintf(stderr, "użycie: koop-node -c WĘZEŁ/koop.conf\n");
        return 2;
    }
    if (!realpath(conf, n->conf)) {
        koop_error("plik konfiguracji %s: %s: podaj plik węzła (koopctl node init go tworzy)", conf, strerror(errno));
        return KOOP_EXIT_REFUSED;
    }
    if (koop_config_load(&n->cfg, n->conf, err, sizeof err) != 0) {
        koop_error("błąd konfiguracji: %s", err);
        return KOOP_EXIT_REFUSED;
    }
    if (koop_preflight_node(&n->cfg, 1) != 0)
        return KOOP_EXIT_REFUSED;
    if ((lockfd = s_lock(&n->cfg)) < 0)
        return KOOP_EXIT_REFUSED;
    len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        koop_error("nie można odczytać ścieżki własnego programu (/proc/self/exe): %s", strerror(errno));
        return 1;
    }
    self[len] = '\0';
    bindir = dirname(self);
    s_raise_nofile();
    if (uv_loop_init(&n->loop) != 0)
        return 1;
    {
        /* the services ask the kernel to stop them when this process dies */
        char pid[24];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        setenv("KOOP_NODE_PID", pid, 1);
    }
    count = koop_config_services(&n->cfg, names);
    for (int i = 0; i < count; i++)
        endpoints[i] = koop_config_endpoint(&n->cfg, names[i]);
    for (int i = 0; i < count; i++) {
        s_child *c = &n->children[n->nchildren++];
        c->node = n;
        c->name = names[i];
        c->backoff_ms = BACKOFF_MIN_MS;
        snprintf(c->exe, sizeof c->exe, "%s/koop-%s", bindir, names[i]);
        uv_timer_init(&n->loop, &c->restart);
        c->restart.data = c;
    }
    uv_timer_init(&n->loop, &n->kill_timer);
    n->kill_timer.data = n;
    if (koop_signals_start(&n->loop, &n->signals, s_on_stop, n) != 0)
        return 1;
    koop_info("node %s (%s, TERYT %s): %d service(s)", n->cfg.node_id, n->cfg.role, n->cfg.teryt, count);
    n->probe = node_probe_start(&n->loop, endpoints, count, s_on_ready, n);
    if (!n->probe)
        koop_warn("nie można sprawdzać gotowości usług: systemd nie dostanie READY=1");
    for (int i = 0; i < n->nchildren; i++)
        s_start_child(&n->children[i]);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    uv_loop_close(&n->loop);
    close(lockfd);
    koop_info("węzeł zatrzymany%s", n->exit_code ? " z błędem" : "");
    return n->exit_code;
}
