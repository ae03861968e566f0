/*
 * bench_node.c - a real node to measure: made, started and stopped the way an
 * administrator does it.
 *
 *   koopctl node init DIR --role gmina ...  (must exit 0)
 *   koop-node -c DIR/koop.conf              (a child of the benchmark; it
 *                                            spawns koop-registry)
 *   sys.ping answers                        -> READY (the registry's pid noted)
 *   ... the benchmark's load ...
 *   sys.ping answers with the same pid      (the registry was not restarted)
 *   SIGTERM to koop-node, exit status 0     -> STOPPED
 *
 * Both programs write to DIR/node.log, whose tail is printed when a step
 * fails. The node gets SIGTERM too if the benchmark dies (PR_SET_PDEATHSIG),
 * so a crashed benchmark leaves no node running.
 *
 * Commits are counted from the registry's LMDB meta page (its last
 * transaction id), through a read-only environment handle that never begins
 * a transaction: the benchmark reads no data of the service, only how many
 * write transactions it has made.
 */
#include "bench.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "koop.h"
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NODE_INIT_TIMEOUT_MS 30000
#define NODE_READY_TIMEOUT_MS 15000
#define NODE_STOP_TIMEOUT_MS 20000 /* koop-node itself SIGKILLs a child after 8 s */
#define NODE_LOG_TAIL 25

struct bench_node {
    char bn_dir[PATH_MAX];
    char bn_conf[PATH_MAX + 16];
    char bn_log[PATH_MAX + 16];
    char bn_endpoint[KOOP_CONF_STR];
    pid_t bn_pid;               /* koop-node; 0 when not running */
    uint32_t bn_registry_pid;   /* as sys.ping reported it when ready */
};

static void
s_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Prints the last lines of the node's log on stderr (best effort). */
static void
s_log_tail(const bench_node_t *self)
{
    FILE *f = fopen(self->bn_log, "r");
    char *lines[NODE_LOG_TAIL] = {0};
    char buf[1024];
    size_t n = 0;

    if (!f) {
        fprintf(stderr, "koop-bench: (no log at %s)\n", self->bn_log);
        return;
    }
    while (fgets(buf, sizeof buf, f)) {
        char *copy = strdup(buf);
        if (!copy)
            break;
        free(lines[n % NODE_LOG_TAIL]);
        lines[n % NODE_LOG_TAIL] = copy;
        n++;
    }
    (void)fclose(f); /* read only: nothing to lose */
    fprintf(stderr, "koop-bench: last lines of %s:\n", self->bn_log);
    for (size_t i = n > NODE_LOG_TAIL ? n - NODE_LOG_TAIL : 0; i < n; i++)
        fprintf(stderr, "  | %s", lines[i % NODE_LOG_TAIL]);
    for (size_t i = 0; i < NODE_LOG_TAIL; i++)
        free(lines[i]);
}

static int
s_describe_exit(const char *what, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        fprintf(stderr, "koop-bench: %s exited with code %d\n", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, "koop-bench: %s was killed by signal %d\n", what, WTERMSIG(status));
    else
        fprintf(stderr, "koop-bench: %s ended with status %d\n", what, status);
    return -ECHILD;
}

static int
s_init_node(bench_node_t *self, const char *bindir)
{
    char exe[PATH_MAX + 16];
    char *argv[] = {exe, "node", "init", self->bn_dir, "--role", "gmina", "--teryt", "2013032",
                    "--name", "Benchmark", NULL};
    pid_t pid;
    int status, rc;

    if (snprintf(exe, sizeof exe, "%s/koopctl", bindir) >= (int)sizeof exe)
        return -ENAMETOOLONG;
    if ((rc = bench_spawn(argv, self->bn_log, &pid)) != 0)
        return rc;
    if ((rc = bench_wait_exit(pid, NODE_INIT_TIMEOUT_MS, &status)) != 0) {
        fprintf(stderr, "koop-bench: koopctl node init did not finish: %s\n", strerror(-rc));
        if (kill(pid, SIGKILL) == 0)
            (void)waitpid(pid, &status, 0);
        return rc;
    }
    return s_describe_exit("koopctl node init", status);
}

/* Polls sys.ping until it answers, the node dies, or the time is up. */
static int
s_wait_ready(bench_node_t *self)
{
    for (unsigned waited = 0;; waited += 50) {
        int status, rc;
        pid_t r = waitpid(self->bn_pid, &status, WNOHANG);
        if (r == self->bn_pid) {
            self->bn_pid = 0;
            (void)s_describe_exit("koop-node", status);
            return -ECHILD;
        }
        if (r < 0 && errno != EINTR)
            return -errno;
        rc = bench_registry_ping(self->bn_endpoint, 250, &self->bn_registry_pid);
        if (rc == 0)
            return 0;
        if (rc != -ETIMEDOUT)
            return rc;
        if (waited >= NODE_READY_TIMEOUT_MS) {
            fprintf(stderr, "koop-bench: the registry did not answer sys.ping within %d ms\n",
                    NODE_READY_TIMEOUT_MS);
            return -ETIMEDOUT;
        }
        s_sleep_ms(50);
    }
}

int
bench_node_start(bench_node_t **out, const char *bindir, const char *tmpdir)
{
    bench_node_t *self = calloc(1, sizeof *self);
    koop_config_t *cfg = calloc(1, sizeof *cfg);
    char exe[PATH_MAX + 16], err[600];
    char *argv[] = {exe, "-c", NULL, NULL};
    const char *ep;
    int rc;

    *out = NULL;
    if (!self || !cfg) {
        rc = -ENOMEM;
        goto fail;
    }
    if (snprintf(self->bn_dir, sizeof self->bn_dir, "%s/node", tmpdir) >= (int)sizeof self->bn_dir ||
        snprintf(exe, sizeof exe, "%s/koop-node", bindir) >= (int)sizeof exe) {
        rc = -ENAMETOOLONG;
        goto fail;
    }
    snprintf(self->bn_conf, sizeof self->bn_conf, "%s/koop.conf", self->bn_dir);
    /* the log sits beside the node's directory: node init wants DIR new */
    snprintf(self->bn_log, sizeof self->bn_log, "%s/node.log", tmpdir);
    if ((rc = s_init_node(self, bindir)) != 0)
        goto fail_log;
    if (koop_config_load(cfg, self->bn_conf, err, sizeof err) != 0) {
        fprintf(stderr, "koop-bench: %s\n", err);
        rc = -EINVAL;
        goto fail;
    }
    ep = koop_config_endpoint(cfg, "registry");
    if (!ep || snprintf(self->bn_endpoint, sizeof self->bn_endpoint, "%s", ep) >=
                   (int)sizeof self->bn_endpoint) {
        fprintf(stderr, "koop-bench: %s has no usable registry endpoint\n", self->bn_conf);
        rc = -EINVAL;
        goto fail;
    }

    argv[2] = self->bn_conf;
    if ((rc = bench_spawn(argv, self->bn_log, &self->bn_pid)) != 0)
        goto fail;
    if ((rc = s_wait_ready(self)) != 0)
        goto fail_log;

    free(cfg);
    *out = self;
    return 0;
fail_log:
    if (self)
        s_log_tail(self);
fail:
    free(cfg);
    if (self && self->bn_pid > 0) {
        if (bench_node_stop(&self) != 0)
            fprintf(stderr, "koop-bench: the node did not stop cleanly either\n");
    }
    free(self);
    return rc;
}

const char *
bench_node_endpoint(const bench_node_t *self)
{
    return self->bn_endpoint;
}

int
bench_node_commits(bench_node_t *self, uint64_t *txnid)
{
    /* the registry's own count of LMDB commits, from sys.ping: the bench
     * never opens a service's files */
    koop_rpc_client_t *c = koop_rpc_client_new(self->bn_endpoint);
    koop_reply_t r;
    Koop__Pong *p = NULL;
    int rc = -EIO;
    if (c && koop_rpc_call(c, NULL, "sys.ping", NULL, 5000, &r) == 0) {
        if (r.status == KOOP_OK)
            p = koop__pong__unpack(NULL, r.len, r.payload);
        if (p && p->has_commits) {
            *txnid = p->commits;
            rc = 0;
        }
        if (p)
            koop__pong__free_unpacked(p, NULL);
        koop_reply_clear(&r);
    }
    koop_rpc_client_destroy(&c);
    if (rc != 0)
        fprintf(stderr, "koop-bench: sys.ping gave no commit count\n");
    return rc;
}

int
bench_node_registry_cpu(bench_node_t *self, uint64_t *us)
{
    return bench_proc_cpu_us(self->bn_registry_pid, us);
}

/* 1 when pid is a koop-registry started with this node's config (read from
 * /proc/PID/cmdline, so a reused pid is never taken for it). */
static int
s_is_our_registry(const bench_node_t *self, uint32_t pid)
{
    char path[64], buf[2 * PATH_MAX];
    const char *exe;
    size_t n;
    int ours = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%u/cmdline", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    if (fclose(f) != 0)
        return 0;
    buf[n] = '\0';
    exe = strrchr(buf, '/');
    exe = exe ? exe + 1 : buf;
    if (strcmp(exe, "koop-registry") != 0)
        return 0;
    /* the arguments follow argv[0], each ended by a NUL */
    for (size_t i = strlen(buf) + 1; i < n; i += strlen(buf + i) + 1)
        if (strcmp(buf + i, self->bn_conf) == 0)
            ours = 1;
    return ours;
}

/* koop-node does not take its services with it when it is killed (they are
 * not told of their parent's death), so a registry it left behind is stopped
 * here. Returns 0 when there was none, -ECHILD when one had to be stopped. */
static int
s_stop_orphan(bench_node_t *self)
{
    uint32_t pid = self->bn_registry_pid;
    if (!pid || !s_is_our_registry(self, pid))
        return 0;
    fprintf(stderr, "koop-bench: koop-node left its registry (pid %u) running: SIGTERM\n", pid);
    if (kill((pid_t)pid, SIGTERM) != 0)
        return errno == ESRCH ? 0 : -errno;
    for (unsigned waited = 0; s_is_our_registry(self, pid); waited += 10) {
        if (waited >= NODE_STOP_TIMEOUT_MS) {
            fprintf(stderr, "koop-bench: the registry (pid %u) did not stop: SIGKILL\n", pid);
            if (kill((pid_t)pid, SIGKILL) != 0 && errno != ESRCH)
                return -errno;
            break;
        }
        s_sleep_ms(10);
    }
    return -ECHILD;
}

int
bench_node_stop(bench_node_t **self_p)
{
    bench_node_t *self;
    uint32_t pid_now = 0;
    int rc = 0, r, status;

    if (!self_p || !*self_p)
        return 0;
    self = *self_p;
    if (self->bn_pid > 0) {
        if (self->bn_registry_pid) {
            r = bench_registry_ping(self->bn_endpoint, 5000, &pid_now);
            if (r != 0) {
                fprintf(stderr, "koop-bench: the registry does not answer before stop: %s\n",
                        strerror(-r));
                rc = r;
            } else if (pid_now != self->bn_registry_pid) {
                fprintf(stderr, "koop-bench: the registry was restarted during the run (pid %u, now %u)\n",
                        self->bn_registry_pid, pid_now);
                rc = -ECHILD;
            }
        }
        if (kill(self->bn_pid, SIGTERM) != 0) {
            r = -errno;
            fprintf(stderr, "koop-bench: kill koop-node: %s\n", strerror(errno));
            if (rc == 0)
                rc = r;
        }
        r = bench_wait_exit(self->bn_pid, NODE_STOP_TIMEOUT_MS, &status);
        if (r == -ETIMEDOUT) {
            fprintf(stderr, "koop-bench: koop-node did not stop within %d ms: SIGKILL\n",
                    NODE_STOP_TIMEOUT_MS);
            if (kill(self->bn_pid, SIGKILL) == 0)
                (void)waitpid(self->bn_pid, &status, 0);
        } else if (r == 0) {
            r = s_describe_exit("koop-node", status);
        }
        if (r != 0 && rc == 0)
            rc = r;
        self->bn_pid = 0;
        if ((r = s_stop_orphan(self)) != 0 && rc == 0)
            rc = r;
    }
    if (rc != 0)
        s_log_tail(self);
    free(self);
    *self_p = NULL;
    return rc;
}

static int
s_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) == 0 ? 0 : errno; /* non-zero stops the walk; nftw returns it */
}

int
bench_rmtree(const char *path)
{
    int rc = nftw(path, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc < 0)
        return -errno; /* nftw's own failure */
    return -rc;        /* 0, or the errno that s_rm_entry met */
}
