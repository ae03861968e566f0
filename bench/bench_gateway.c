/*
 * bench_gateway - GET /api/tasks/mine through the gateway under load from
 * wrk (100 connections), against the raw RPC of the same call (task.mine)
 * to the cases service measured alongside (100 requests in flight on one
 * DEALER), on a real node in a temporary directory; and the login rate
 * with Argon2id (the node's default parameters).
 *
 * Aim (issue 11): the gateway reaches at least 0.5x the raw RPC rate, with
 * p99 under 20 ms at 100 connections. Printed as met / NOT MET; timing
 * never fails the section, only a breakage does.
 */
#include "bench.h"
#include "cases.pb-c.h"
#include "client.h"
#include "clock.h"
#include "config.h"
#include "gateway.pb-c.h"
#include "password.h"
#include "registry.pb-c.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_S 5
#define WINDOW 100
#define TASKS 20
#define LOGINS 16
#define LOGIN_THREADS 2

int bench_gateway_run(void);

static const char *
s_bin(void)
{
    const char *b = getenv("KOOP_BIN");
    return b && *b ? b : "bin";
}

static int
s_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Runs argv with stdout into out (may be NULL: dropped). Exit code or -1. */
static int
s_run(char *const argv[], char *out, size_t outlen)
{
    int p[2], st;
    size_t n = 0;
    ssize_t k;
    pid_t pid;
    if (pipe(p) != 0)
        return -1;
    if ((pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(p[1], 1);
        if (fd >= 0)
            dup2(fd, 2);
        close(p[0]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    while ((k = read(p[0], out ? out + n : (char[256]){0}, out ? outlen - 1 - n : 256)) > 0)
        if (out)
            n += (size_t)k;
    close(p[0]);
    if (out)
        out[n] = '\0';
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct {
    char *buf;
    size_t len;
} s_body;

static size_t
s_collect(char *d, size_t sz, size_t n, void *ctx)
{
    s_body *b = ctx;
    char *g = realloc(b->buf, b->len + sz * n + 1);
    if (!g)
        return 0;
    b->buf = g;
    memcpy(g + b->len, d, sz * n);
    b->len += sz * n;
    g[b->len] = '\0';
    return sz * n;
}

/* POST /api/session; the cookie ("koop=...") into cookie. 0 or -1. */
static int
s_login(int port, char *cookie, size_t cookielen)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    s_body hdr = {NULL, 0}, body = {NULL, 0};
    char url[80];
    long code = 0;
    int rc = -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/session", port);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"login\":\"bench\",\"password\":\"Haslo-Benchmarku-1\"}");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s_collect);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    if (curl_easy_perform(h) == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
        code == 200 && hdr.buf) {
        const char *c = strstr(hdr.buf, "Set-Cookie: koop=");
        if (c && cookie) {
            size_t n = strcspn(c + 12, ";");
            if (n < cookielen) {
                snprintf(cookie, cookielen, "%.*s", (int)n, c + 12);
                rc = 0;
            }
        } else if (c) {
            rc = 0;
        }
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    free(hdr.buf);
    free(body.buf);
    return rc;
}

typedef struct {
    int port, n, failed;
} s_login_arg;

static void *
s_login_thread(void *p)
{
    s_login_arg *a = p;
    for (int i = 0; i < a->n; i++)
        a->failed += s_login(a->port, NULL, 0) != 0;
    return NULL;
}

/* wrk's "50%  1.23ms" style value of its latency distribution in ms (after
 * "Latency Distribution": the thread stats above it have percentages too). */
static double
s_wrk_ms(const char *out, const char *key)
{
    const char *dist = strstr(out, "Latency Distribution");
    const char *p = dist ? strstr(dist, key) : NULL;
    double v;
    char unit[8] = "";
    if (!p || sscanf(p + strlen(key), " %lf%7s", &v, unit) != 2)
        return -1;
    if (strcmp(unit, "us") == 0)
        return v / 1000;
    if (strcmp(unit, "s") == 0)
        return v * 1000;
    if (strcmp(unit, "m") == 0)
        return v * 60000;
    return v;
}

/* CPU used so far (µs) by the cases service and the gateway. */
static int
s_cpu(uint32_t cases_pid, uint32_t gw_pid, uint64_t out[2])
{
    return bench_proc_cpu_us(cases_pid, &out[0]) == 0 && bench_proc_cpu_us(gw_pid, &out[1]) == 0 ? 0 : -1;
}

/* µs of CPU per request of a RUN_S run at rate requests/s. */
static double
s_per(uint64_t us, double rate)
{
    return rate > 0 ? (double)us / (rate * RUN_S) : 0;
}

/* The raw RPC baseline: task.mine with WINDOW requests in flight. */
static int
s_raw(koop_rpc_client_t *c, const char *sw, double *rate, double *p50, double *p99)
{
    Koop__Cases__TaskQuery q = KOOP__CASES__TASK_QUERY__INIT;
    bench_lat_t lat = {0};
    uint64_t *sent = calloc(WINDOW, sizeof *sent), *ids = calloc(WINDOW, sizeof *ids);
    uint64_t t0 = koop_clock_mono_us(), end = t0 + RUN_S * 1000000ull, n = 0;
    int rc = -1, inflight = 0;
    if (!sent || !ids || bench_lat_init(&lat, 4000000) != 0)
        goto done;
    for (int i = 0; i < WINDOW; i++, inflight++) {
        if (koop_rpc_send(c, sw, "task.mine", &q.base, &ids[i]) != 0)
            goto done;
        sent[i] = koop_clock_mono_us();
    }
    while (inflight) {
        koop_reply_t r;
        uint64_t id, now;
        int i;
        if (koop_rpc_recv(c, 10000, &id, &r) != 0)
            goto done;
        now = koop_clock_mono_us();
        for (i = 0; i < WINDOW && ids[i] != id; i++)
            ;
        if (i == WINDOW || r.status != KOOP_OK) {
            koop_reply_clear(&r);
            goto done;
        }
        koop_reply_clear(&r);
        bench_lat_add(&lat, now - sent[i]);
        n++;
        inflight--;
        if (now < end) {
            if (koop_rpc_send(c, sw, "task.mine", &q.base, &ids[i]) != 0)
                goto done;
            sent[i] = koop_clock_mono_us();
            inflight++;
        }
    }
    *rate = (double)n / ((double)(koop_clock_mono_us() - t0) / 1e6);
    *p50 = bench_lat_pct_ms(&lat, 50);
    *p99 = bench_lat_pct_ms(&lat, 99);
    rc = 0;
done:
    bench_lat_clear(&lat);
    free(sent);
    free(ids);
    return rc;
}

int
bench_gateway_run(void)
{
    char dir[] = "/tmp/koop-bench-gw.XXXXXX", nodedir[64], conf[96], exe[PATH_MAX], err[600], http[32];
    char gops[40], sw[40], hh[40], ipw[40], id[40], cookie[96], hdr[128], url[96], out[8192];
    koop_config_t cfg;
    koop_rpc_client_t *reg = NULL, *cases = NULL, *gw = NULL;
    double raw_rate = 0, raw_p50 = 0, raw_p99 = 0, gw_rate, gw_p50, gw_p99, ratio;
    uint32_t cases_pid = 0, gw_pid = 0;
    uint64_t cpu0[2], cpu1[2], cpu2[2];
    pid_t node = -1;
    int port = s_free_port(), rc = 1, ready = 0;

    if (!mkdtemp(dir) || port < 0)
        return 1;
    snprintf(nodedir, sizeof nodedir, "%s/node", dir);
    snprintf(conf, sizeof conf, "%s/koop.conf", nodedir);
    snprintf(http, sizeof http, "127.0.0.1:%d", port);
    snprintf(exe, sizeof exe, "%s/koopctl", s_bin());
    {
        char *argv[] = {exe, "node", "init", nodedir, "--role", "gmina", "--teryt", "2013032", "--name", "Bench",
                        "--http", http, NULL};
        if (s_run(argv, NULL, 0) != 0 || koop_config_load(&cfg, conf, err, sizeof err) != 0) {
            fprintf(stderr, "bench gateway: node init failed\n");
            goto done;
        }
    }
    if ((node = fork()) == 0) {
        int fd = open("/dev/null", O_WRONLY);
        snprintf(exe, sizeof exe, "%s/koop-node", s_bin());
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(exe, exe, "-c", conf, (char *)NULL);
        _exit(127);
    }
    reg = koop_rpc_client_new(koop_config_endpoint(&cfg, "registry"));
    cases = koop_rpc_client_new(koop_config_endpoint(&cfg, "cases"));
    gw = koop_rpc_client_new(koop_config_endpoint(&cfg, "gateway"));
    if (!reg || !cases || !gw)
        goto done;
    for (int i = 0; i < 100 && !ready; i++) {
        koop_reply_t r1 = {0}, r2 = {0}, r3 = {0};
        ready = koop_rpc_call(cases, NULL, "sys.ping", NULL, 200, &r1) == 0 &&
                koop_rpc_call(reg, NULL, "sys.ping", NULL, 200, &r2) == 0 &&
                koop_rpc_call(gw, NULL, "sys.ping", NULL, 200, &r3) == 0;
        koop_reply_clear(&r1);
        koop_reply_clear(&r2);
        koop_reply_clear(&r3);
    }
    if (!ready) {
        fprintf(stderr, "bench gateway: node did not start\n");
        goto done;
    }
    {
        Koop__Reg__Institution inst = KOOP__REG__INSTITUTION__INIT;
        Koop__Reg__Person p = KOOP__REG__PERSON__INIT;
        Koop__Cases__HouseholdAdd h = KOOP__CASES__HOUSEHOLD_ADD__INIT;
        Koop__Cases__IpwOpen o = KOOP__CASES__IPW_OPEN__INIT;
        Koop__Gw__AccountCreate a = KOOP__GW__ACCOUNT_CREATE__INIT;
        koop_pwparams_t pw;
        char hash[KOOP_PASSWORD_HASH_MAX];
        inst.name = "GOPS";
        inst.has_sector = 1, inst.sector = KOOP__REG__SECTOR__SECTOR_SOCIAL_ASSISTANCE;
        inst.has_level = 1, inst.level = KOOP__REG__LEVEL__LEVEL_GMINA;
        if (bench_call(reg, NULL, "institution.add", &inst.base, &koop__reg__institution__descriptor, gops) != 0)
            goto done;
        p.name = "Anna Nowak", p.institution = gops, p.has_role = 1, p.role = KOOP__REG__ROLE__ROLE_SOCIAL_WORKER;
        if (bench_call(reg, NULL, "person.add", &p.base, &koop__reg__person__descriptor, sw) != 0)
            goto done;
        koop_password_params(&cfg, &pw);
        if (koop_password_hash("Haslo-Benchmarku-1", 18, &pw, hash) != 0)
            goto done;
        a.person = sw, a.login = "bench", a.password_hash = hash;
        for (int i = 0; i < 50; i++) { /* the registry copy of the gateway's check may lag a moment */
            if (bench_call(gw, NULL, "account.create", &a.base, NULL, NULL) == 0)
                break;
            if (i == 49)
                goto done;
            usleep(100000);
        }
        h.name = "Rodzina Benchmarkowa", h.has_size = 1, h.size = 4;
        for (int i = 0; i < 50 && bench_call(cases, sw, "household.add", &h.base, &koop__cases__household__descriptor, hh) != 0; i++)
            usleep(100000); /* until the cases copy of the registry has the person */
        {
            /* an IPW needs the family's consent (docs/CASES.md) */
            Koop__Cases__ConsentRecord cr = KOOP__CASES__CONSENT_RECORD__INIT;
            char *share[1] = {gops};
            cr.household = hh, cr.purpose = "Zgoda na współpracę", cr.date = "2026-01-10";
            cr.n_share_with = 1, cr.share_with = share;
            if (bench_call(cases, sw, "consent.record", &cr.base, NULL, NULL) != 0)
                goto done;
        }
        o.household = hh, o.coordinator = sw, o.opened = "2026-01-10";
        if (bench_call(cases, sw, "ipw.open", &o.base, &koop__cases__ipw__descriptor, ipw) != 0)
            goto done;
        for (int i = 0; i < TASKS; i++) {
            Koop__Cases__TaskAdd t = KOOP__CASES__TASK_ADD__INIT;
            t.ipw = ipw, t.owner = sw, t.due = "2031-02-01", t.title = "Zadanie benchmarku";
            if (bench_call(cases, sw, "task.add", &t.base, &koop__cases__task__descriptor, id) != 0)
                goto done;
        }
    }
    if (s_login(port, cookie, sizeof cookie) != 0) {
        fprintf(stderr, "bench gateway: login failed\n");
        goto done;
    }
    if (bench_ping(koop_config_endpoint(&cfg, "cases"), 2000, &cases_pid) != 0 ||
        bench_ping(koop_config_endpoint(&cfg, "gateway"), 2000, &gw_pid) != 0 || s_cpu(cases_pid, gw_pid, cpu0) != 0) {
        fprintf(stderr, "bench gateway: no pid of cases or gateway\n");
        goto done;
    }
    if (s_raw(cases, sw, &raw_rate, &raw_p50, &raw_p99) != 0 || s_cpu(cases_pid, gw_pid, cpu1) != 0) {
        fprintf(stderr, "bench gateway: raw task.mine failed\n");
        goto done;
    }
    snprintf(hdr, sizeof hdr, "Cookie: %s", cookie);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/tasks/mine", port);
    {
        char *argv[] = {"wrk", "-t2", "-c100", "-d" "5s", "--latency", "-H", hdr, url, NULL};
        if (s_run(argv, out, sizeof out) != 0 || !strstr(out, "Requests/sec:")) {
            fprintf(stderr, "bench gateway: wrk failed (is it installed?)\n%s", out);
            goto done;
        }
        if (strstr(out, "Non-2xx")) {
            fprintf(stderr, "bench gateway: wrk saw errors:\n%s", out);
            goto done;
        }
        gw_rate = strtod(strstr(out, "Requests/sec:") + 13, NULL);
        if (s_cpu(cases_pid, gw_pid, cpu2) != 0)
            goto done;
        gw_p50 = s_wrk_ms(out, "50%");
        gw_p99 = s_wrk_ms(out, "99%");
    }
    ratio = raw_rate > 0 ? gw_rate / raw_rate : 0;
    printf("GET /api/tasks/mine (%d tasks), %d s each:\n", TASKS, RUN_S);
    printf("  raw RPC task.mine, %d in flight:   %9.0f req/s   p50 %6.2f ms   p99 %6.2f ms\n", WINDOW, raw_rate,
           raw_p50, raw_p99);
    printf("  gateway, wrk 100 connections:      %9.0f req/s   p50 %6.2f ms   p99 %6.2f ms\n", gw_rate, gw_p50,
           gw_p99);
    /* what each request costs the two services: the bound of both rates and
     * of the latency at 100 in flight on two cores shared with the load */
    printf("  CPU per request: raw RPC cases %.0f us; gateway run cases %.0f us + gateway %.0f us\n",
           s_per(cpu1[0] - cpu0[0], raw_rate), s_per(cpu2[0] - cpu1[0], gw_rate), s_per(cpu2[1] - cpu1[1], gw_rate));
    printf("\nAims (information only)\n");
    bench_aim(ratio >= 0.5, "gateway >= 0.5 x the raw RPC of the same call: %.2f x", ratio);
    bench_aim(gw_p99 >= 0 && gw_p99 < 20, "gateway p99 < 20 ms at 100 connections: %.2f ms (the raw RPC's own p99 at "
              "%d in flight: %.2f ms)", gw_p99, WINDOW, raw_p99);
    {
        pthread_t th[LOGIN_THREADS];
        s_login_arg args[LOGIN_THREADS];
        uint64_t t0 = koop_clock_mono_us();
        double secs;
        int failed = 0;
        for (int i = 0; i < LOGIN_THREADS; i++) {
            args[i] = (s_login_arg){port, LOGINS / LOGIN_THREADS, 0};
            pthread_create(&th[i], NULL, s_login_thread, &args[i]);
        }
        for (int i = 0; i < LOGIN_THREADS; i++) {
            pthread_join(th[i], NULL);
            failed += args[i].failed;
        }
        secs = (double)(koop_clock_mono_us() - t0) / 1e6;
        printf("logins (Argon2id, %llu passes, %zu MiB), %d by %d clients: %.1f logins/s, %.0f ms each%s\n",
               (unsigned long long)crypto_pwhash_OPSLIMIT_INTERACTIVE, (size_t)crypto_pwhash_MEMLIMIT_INTERACTIVE >> 20,
               LOGINS, LOGIN_THREADS, LOGINS / secs, secs * 1000 * LOGIN_THREADS / LOGINS,
               failed ? " (some FAILED)" : "");
        if (failed)
            goto done;
    }
    rc = 0;
done:
    koop_rpc_client_destroy(&reg);
    koop_rpc_client_destroy(&cases);
    koop_rpc_client_destroy(&gw);
    if (node > 0) {
        kill(node, SIGTERM);
        waitpid(node, NULL, 0);
    }
    {
        char *argv[] = {"rm", "-rf", dir, NULL};
        s_run(argv, NULL, 0);
    }
    return rc;
}
