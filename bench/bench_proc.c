/*
 * bench_proc.c - processes under measurement: starting programs, reading
 * what the kernel says of them (/proc: CPU time, peak RSS, PSS), and whole
 * koop nodes of any role made with `koopctl node init` and run by
 * `koop-node` (bench_knode_*), as the sync, scale and memory sections need.
 *
 * Every child gets SIGTERM when the benchmark dies (PR_SET_PDEATHSIG), and
 * koop-node passes that on to its services, so a crashed benchmark leaves
 * nothing running.
 */
#include "bench.h"
#include "clock.h"
#include "envelope.pb-c.h"
#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *
bench_bin(void)
{
    const char *b = getenv("KOOP_BIN");
    return b && *b ? b : "bin";
}

static void
s_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int
bench_spawn(char *const argv[], const char *log, pid_t *pid)
{
    pid_t parent = getpid();
    int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int devnull, err;

    if (fd < 0) {
        err = -errno;
        fprintf(stderr, "koop-bench: cannot open %s: %s\n", log, strerror(errno));
        return err;
    }
    *pid = fork();
    if (*pid < 0) {
        err = -errno;
        fprintf(stderr, "koop-bench: fork: %s\n", strerror(errno));
        (void)close(fd);
        return err;
    }
    if (*pid == 0) {
        /* child: only async-signal-safe calls until exec */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(126);
        devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    (void)close(fd); /* the child holds its own copy */
    return 0;
}

int
bench_wait_exit(pid_t pid, unsigned timeout_ms, int *status)
{
    for (unsigned waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
        if (waited >= timeout_ms)
            return -ETIMEDOUT;
        s_sleep_ms(10);
    }
}

int
bench_run(const char *log, char *const argv[])
{
    pid_t pid;
    int status = 0, rc = bench_spawn(argv, log, &pid);
    if (rc != 0)
        return rc;
    if ((rc = bench_wait_exit(pid, 600000, &status)) != 0) {
        kill(pid, SIGKILL);
        (void)waitpid(pid, &status, 0);
        return rc;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int
bench_runf(const char *log, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return -E2BIG;
    {
        char *argv[] = {"/bin/sh", "-c", cmd, NULL};
        return bench_run(log, argv);
    }
}

int
bench_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    (void)close(fd);
    return port;
}

/* ---- /proc ---- */

int
bench_proc_cpu_us(uint32_t pid, uint64_t *us)
{
    char path[64], buf[1024], *p;
    unsigned long long utime, stime;
    long tick = sysconf(_SC_CLK_TCK);
    FILE *f;
    size_t n;
    int rc = 0;

    if (tick <= 0)
        return -EINVAL;
    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return -errno;
    n = fread(buf, 1, sizeof buf - 1, f);
    if (ferror(f))
        rc = -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc != 0)
        return rc;
    buf[n] = '\0';
    /* "pid (comm) state ppid ... utime stime": comm may hold spaces or ')',
     * so fields are counted from the last ')'; utime and stime are the 12th
     * and 13th after it */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
        fprintf(stderr, "koop-bench: cannot read the CPU time from %s\n", path);
        return -EIO;
    }
    *us = (uint64_t)(utime + stime) * 1000000u / (uint64_t)tick;
    return 0;
}

/* The value (kB) of the line `name` of a /proc file, or -1. */
static long
s_proc_kb(uint32_t pid, const char *file, const char *name)
{
    char path[64], line[256];
    size_t nl = strlen(name);
    long kb = -1;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%u/%s", pid, file);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, nl) == 0 && line[nl] == ':')
            kb = strtol(line + nl + 1, NULL, 10);
    (void)fclose(f); /* read only */
    return kb;
}

long
bench_proc_peak_rss_kb(uint32_t pid)
{
    return s_proc_kb(pid, "status", "VmHWM");
}

long
bench_proc_rss_kb(uint32_t pid)
{
    return s_proc_kb(pid, "status", "VmRSS");
}

long
bench_proc_pss_kb(uint32_t pid)
{
    return s_proc_kb(pid, "smaps_rollup", "Pss");
}

long
bench_proc_uss_kb(uint32_t pid)
{
    long clean = s_proc_kb(pid, "smaps_rollup", "Private_Clean"), dirty = s_proc_kb(pid, "smaps_rollup", "Private_Dirty");
    return clean < 0 || dirty < 0 ? -1 : clean + dirty;
}

/* ---- a whole node ---- */

int
bench_ping(const char *endpoint, int timeout_ms, uint32_t *pid)
{
    koop_rpc_client_t *c = koop_rpc_client_new(endpoint);
    koop_reply_t r;
    int rc = -ETIMEDOUT;
    if (c && koop_rpc_call(c, NULL, "sys.ping", NULL, timeout_ms, &r) == 0) {
        Koop__Pong *p = r.status == 0 ? koop__pong__unpack(NULL, r.len, r.payload) : NULL;
        rc = p ? 0 : -EIO;
        if (p) {
            if (pid)
                *pid = p->pid;
            koop__pong__free_unpacked(p, NULL);
        }
        koop_reply_clear(&r);
    }
    koop_rpc_client_destroy(&c);
    return rc;
}

int
bench_knode_init(bench_knode_t *n, const char *dir, const char *const *args)
{
    char exe[PATH_MAX + 16], log[PATH_MAX + 16], err[600];
    char *argv[32];
    int argc = 0, rc;

    memset(n, 0, sizeof *n);
    if (snprintf(n->dir, sizeof n->dir, "%s", dir) >= (int)sizeof n->dir)
        return -ENAMETOOLONG;
    snprintf(n->conf, sizeof n->conf, "%s/koop.conf", n->dir);
    snprintf(exe, sizeof exe, "%s/koopctl", bench_bin());
    snprintf(log, sizeof log, "%s.init.log", n->dir);
    argv[argc++] = exe;
    argv[argc++] = "node";
    argv[argc++] = "init";
    argv[argc++] = n->dir;
    for (int i = 0; args[i] && argc < 31; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    if ((rc = bench_run(log, argv)) != 0) {
        fprintf(stderr, "koop-bench: koopctl node init %s failed (%d; see %s)\n", n->dir, rc, log);
        return rc < 0 ? rc : -EIO;
    }
    if (koop_config_load(&n->cfg, n->conf, err, sizeof err) != 0) {
        fprintf(stderr, "koop-bench: %s\n", err);
        return -EINVAL;
    }
    return 0;
}

int
bench_knode_spawn(bench_knode_t *n)
{
    char exe[PATH_MAX + 16], log[PATH_MAX + 16];
    char *argv[] = {exe, "-c", n->conf, NULL};
    snprintf(exe, sizeof exe, "%s/koop-node", bench_bin());
    snprintf(log, sizeof log, "%s/node.log", n->dir);
    return bench_spawn(argv, log, &n->pid);
}

int
bench_knode_wait(bench_knode_t *n, unsigned timeout_ms)
{
    char log[PATH_MAX + 16];
    const char *names[KOOP_MAX_SERVICES];
    int ns = koop_config_services(&n->cfg, names);
    uint64_t until = koop_clock_mono_ms() + timeout_ms;

    snprintf(log, sizeof log, "%s/node.log", n->dir);
    /* ready when every service of the node answers */
    for (int i = 0; i < ns; i++) {
        const char *ep = koop_config_endpoint(&n->cfg, names[i]);
        while (bench_ping(ep, 250, &n->pids[i]) != 0) {
            int status;
            if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
                fprintf(stderr, "koop-bench: koop-node of %s ended (see %s)\n", n->dir, log);
                n->pid = 0;
                return -ECHILD;
            }
            if (koop_clock_mono_ms() > until) {
                fprintf(stderr, "koop-bench: %s of %s does not answer (see %s)\n", names[i], n->dir, log);
                return -ETIMEDOUT;
            }
            s_sleep_ms(20);
        }
        n->service[i] = names[i];
    }
    n->nservices = ns;
    return 0;
}

int
bench_knode_start(bench_knode_t *n, unsigned timeout_ms)
{
    int rc = bench_knode_spawn(n);
    return rc != 0 ? rc : bench_knode_wait(n, timeout_ms);
}

uint32_t
bench_knode_pid(const bench_knode_t *n, const char *service)
{
    for (int i = 0; i < n->nservices; i++)
        if (strcmp(n->service[i], service) == 0)
            return n->pids[i];
    return 0;
}

int
bench_knode_stop(bench_knode_t *n)
{
    int status = 0, rc;
    if (n->pid <= 0)
        return 0;
    kill(n->pid, SIGTERM);
    rc = bench_wait_exit(n->pid, 20000, &status);
    if (rc == -ETIMEDOUT) {
        fprintf(stderr, "koop-bench: koop-node of %s did not stop: SIGKILL\n", n->dir);
        kill(n->pid, SIGKILL);
        (void)waitpid(n->pid, &status, 0);
    }
    n->pid = 0;
    return rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/* ---- aims ---- */

#define AIMS_MAX 64
static char s_aims[AIMS_MAX][200];
static int s_naims;

void
bench_aim(int met, const char *fmt, ...)
{
    char text[180];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    printf("  %s %s\n", met ? "[met]    " : "[NOT MET]", text);
    if (s_naims < AIMS_MAX)
        snprintf(s_aims[s_naims++], sizeof s_aims[0], "%s %s", met ? "[met]    " : "[NOT MET]", text);
    fflush(stdout);
}

void
bench_aims_summary(void)
{
    if (s_naims == 0)
        return;
    printf("\n######## aims of this run (ratios to baselines measured in the same run)\n");
    for (int i = 0; i < s_naims; i++)
        printf("  %s\n", s_aims[i]);
}
