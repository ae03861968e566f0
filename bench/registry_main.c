/*
 * koop-bench - how fast the registry writes durably, against raw LMDB on the
 * same machine in the same run (`make bench`; KOOP_BIN names the directory
 * of koopctl and koop-node, default ./bin).
 *
 * Phases (about 15 s on 2 cores):
 *   1. baseline   raw LMDB appends at 1, 16, 64 and 256 records per commit
 *   2. node       koopctl node init + koop-node in a mkdtemp dir under /tmp
 *   3. warm-up    a few hundred writes, not reported
 *   4. batched    8 clients x 32 requests in flight, 20,000 writes in all
 *   5. baseline   raw LMDB at the mean batch phase 4 reached, measured at once
 *                 so that both see the machine in the same state
 *   6. open loop  1,000 writes/s on a fixed schedule for 5 s
 *   7. sequential one request in flight, for 1.5 s
 *   8. stop       SIGTERM to the node (it must exit 0, registry never restarted)
 * The mean batch of each registry run is its writes divided by the write
 * transactions its store committed meanwhile (bench_node_commits).
 *
 * Output: the figures of every phase, then the registry's figures as ratios
 * to the baseline, then whether each aim of the issue is met - as
 * information: the exit code is 0 whatever the timings, 1 when something
 * broke (details on stderr).
 */
#include "bench.h"
#include "clock.h"
#include "koop.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define RAW_SECONDS 1.0
#define BATCH_CLIENTS 8
#define BATCH_WINDOW 32
#define BATCH_TOTAL 20000
#define OPEN_RATE 1000
#define OPEN_SECONDS 5.0
#define SEQ_SECONDS 1.5
#define SEQ_MAX 5000
#define WARMUP_WRITES 400

/* The aims of the issue. */
#define AIM_BATCHED_RATIO 0.5
#define AIM_P99_MS 5.0

static const unsigned s_raw_batches[] = {1, 16, 64, 256};

/* Writes of the batched run: BATCH_TOTAL, or KOOP_BENCH_REG_WRITES (a longer
 * run, e.g. to profile the registry under it). */
static unsigned
s_batch_total(void)
{
    const char *v = getenv("KOOP_BENCH_REG_WRITES");
    unsigned n = v && *v ? (unsigned)strtoul(v, NULL, 10) : 0;
    return n >= BATCH_CLIENTS ? n : BATCH_TOTAL;
}

/* A registry run with the commits its store made and the CPU time used
 * (by the registry, and by this process: the load generator) during it. */
typedef struct {
    char rr_name[48];
    bench_run_t rr_run;
    uint64_t rr_commits;
    uint64_t rr_wall_us;
    uint64_t rr_reg_cpu_us;
    uint64_t rr_self_cpu_us;
    uint64_t rr_machine_cpu_us;   /* every CPU of the machine */
} s_reg_run;

static double
s_mean_batch(const s_reg_run *r)
{
    return r->rr_commits ? (double)r->rr_run.br_writes / (double)r->rr_commits : 0.0;
}

static void
s_print_raw(const bench_lmdb_result_t *r)
{
    char rate[32], commits[32];
    printf("  %14u  %12s  %11.3f  %9s  %14.1f\n", r->bm_batch, bench_fmt_count(rate, sizeof rate, r->bm_rate),
           r->bm_commit_ms, bench_fmt_count(commits, sizeof commits, (double)r->bm_commits), r->bm_cpu_us);
}

static void
s_print_reg_header(void)
{
    printf("  %-34s %7s %9s %6s %7s %7s %7s %7s\n", "run", "writes", "writes/s", "batch", "p50 ms",
           "p95 ms", "p99 ms", "max ms");
}

static void
s_print_reg(s_reg_run *r)
{
    char writes[32], rate[32];
    bench_lat_t *l = &r->rr_run.br_lat;
    printf("  %-34s %7s %9s %6.1f %7.2f %7.2f %7.2f %7.2f\n", r->rr_name,
           bench_fmt_count(writes, sizeof writes, (double)r->rr_run.br_writes),
           bench_fmt_count(rate, sizeof rate, r->rr_run.br_rate), s_mean_batch(r),
           bench_lat_pct_ms(l, 50), bench_lat_pct_ms(l, 95), bench_lat_pct_ms(l, 99),
           bench_lat_pct_ms(l, 100));
    fflush(stdout);
}

static void
s_print_cpu_header(void)
{
    printf("  %-34s %9s %9s %9s %9s\n", "CPU during each run", "reg us/w", "registry", "client",
           "the rest");
}

/* CPU per write of the registry, then cores busy: the registry, this process
 * (the load generator), and everything else (koop-node, the kernel's
 * journal and block threads doing the fsyncs, and any other work). The
 * kernel counts in ticks of usually 10 ms, so small figures are coarse. */
static void
s_print_cpu(const s_reg_run *r)
{
    double wall = r->rr_wall_us ? (double)r->rr_wall_us : 1.0;
    double rest = (double)r->rr_machine_cpu_us - (double)r->rr_reg_cpu_us - (double)r->rr_self_cpu_us;
    printf("  %-34s %9.1f %9.2f %9.2f %9.2f\n", r->rr_name,
           r->rr_run.br_writes ? (double)r->rr_reg_cpu_us / (double)r->rr_run.br_writes : 0.0,
           (double)r->rr_reg_cpu_us / wall, (double)r->rr_self_cpu_us / wall, (rest > 0 ? rest : 0) / wall);
}

/* CPU time all CPUs of the machine have spent busy (not idle, not waiting
 * for I/O), from the first line of /proc/stat, in microseconds. */
static int
s_machine_cpu(uint64_t *us)
{
    unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
    long tick = sysconf(_SC_CLK_TCK);
    FILE *f = fopen("/proc/stat", "r");
    int n, rc = 0;

    if (!f || tick <= 0) {
        rc = f ? -EINVAL : -errno;
        fprintf(stderr, "koop-bench: /proc/stat: %s\n", strerror(-rc));
        if (f)
            (void)fclose(f);
        return rc;
    }
    n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait,
               &irq, &softirq, &steal);
    (void)fclose(f); /* read only */
    if (n != 8) {
        fprintf(stderr, "koop-bench: /proc/stat: unexpected format\n");
        return -EIO;
    }
    *us = (uint64_t)(user + nice + sys + irq + softirq + steal) * 1000000u / (uint64_t)tick;
    return 0;
}

/* Other work on the machine shows in every figure: say how busy it is
 * before the benchmark starts (a 0.5 s sample). */
static int
s_print_idle_load(void)
{
    struct timespec pause = {0, 500000000L};
    uint64_t c0, c1, t0;
    double cores;
    int rc;
    if ((rc = s_machine_cpu(&c0)) != 0)
        return rc;
    t0 = koop_clock_mono_us();
    while (nanosleep(&pause, &pause) != 0)
        if (errno != EINTR)
            return -errno;
    if ((rc = s_machine_cpu(&c1)) != 0)
        return rc;
    cores = (double)(c1 - c0) / (double)(koop_clock_mono_us() - t0);
    printf("  busy before the run: %.2f cores%s\n", cores,
           cores >= 0.2 ? " (other work is running: expect noisy figures)" : "");
    return 0;
}

/* CPU time of this whole process (every thread) in microseconds. */
static int
s_self_cpu(uint64_t *us)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        int err = errno;
        fprintf(stderr, "koop-bench: getrusage: %s\n", strerror(err));
        return -err;
    }
    *us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
          (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    return 0;
}

typedef enum { PHASE_SEQUENTIAL, PHASE_BATCHED, PHASE_OPEN_LOOP } s_phase;

/* Runs one registry phase and counts the commits and the CPU time it took. */
static int
s_reg_phase(bench_node_t *node, s_phase kind, s_reg_run *r)
{
    const char *ep = bench_node_endpoint(node);
    uint64_t c0, c1, reg0, reg1, self0, self1, all0, all1, t0;
    int rc;

    if ((rc = bench_node_commits(node, &c0)) != 0 || (rc = bench_node_registry_cpu(node, &reg0)) != 0 ||
        (rc = s_self_cpu(&self0)) != 0 || (rc = s_machine_cpu(&all0)) != 0)
        return rc;
    t0 = koop_clock_mono_us();
    if (kind == PHASE_SEQUENTIAL)
        rc = bench_registry_sequential(ep, SEQ_SECONDS, SEQ_MAX, &r->rr_run);
    else if (kind == PHASE_BATCHED)
        rc = bench_registry_throughput(ep, BATCH_CLIENTS, BATCH_WINDOW, s_batch_total(), &r->rr_run);
    else
        rc = bench_registry_open_loop(ep, OPEN_RATE, OPEN_SECONDS, &r->rr_run);
    if (rc != 0)
        return rc;
    r->rr_wall_us = koop_clock_mono_us() - t0;
    if ((rc = bench_node_commits(node, &c1)) != 0 || (rc = bench_node_registry_cpu(node, &reg1)) != 0 ||
        (rc = s_self_cpu(&self1)) != 0 || (rc = s_machine_cpu(&all1)) != 0)
        return rc;
    r->rr_commits = c1 - c0;
    r->rr_reg_cpu_us = reg1 - reg0;
    r->rr_self_cpu_us = self1 - self0;
    r->rr_machine_cpu_us = all1 - all0;
    return 0;
}

int
bench_registry_run(void)
{
    char tmpdir[] = "/tmp/koop-bench.XXXXXX", bindir[PATH_MAX], n1[32], n2[32], n3[32];
    const char *bin_env = getenv("KOOP_BIN");
    bench_lmdb_result_t raw[KOOP_ARRAY_LEN(s_raw_batches)] = {{0}}, matched = {0};
    const bench_lmdb_result_t *raw1 = &raw[0];
    s_reg_run seq = {.rr_name = "sequential, 1 in flight"};
    s_reg_run batched = {.rr_name = ""}, openloop = {.rr_name = ""}; /* named below */
    bench_run_t warmup = {0};
    bench_node_t *node = NULL;
    uint64_t started = koop_clock_mono_us();
    unsigned matched_batch;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int rc, made_tmp = 0, exit_code = 1;
    double ratio_batched, ratio_one, p99;

    if (!realpath(bin_env ? bin_env : "bin", bindir)) {
        fprintf(stderr, "koop-bench: KOOP_BIN %s: %s\n", bin_env ? bin_env : "bin", strerror(errno));
        return 1;
    }
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "koop-bench: mkdtemp %s: %s\n", tmpdir, strerror(errno));
        return 1;
    }
    made_tmp = 1;
    snprintf(batched.rr_name, sizeof batched.rr_name, "batched, %d clients x %d in flight", BATCH_CLIENTS,
             BATCH_WINDOW);
    snprintf(openloop.rr_name, sizeof openloop.rr_name, "open loop, %s/s offered for %.0f s",
             bench_fmt_count(n1, sizeof n1, OPEN_RATE), OPEN_SECONDS);

    printf("koop-bench: registry writes against raw LMDB, same machine, same run\n");
    printf("  %ld CPU(s); programs in %s; data in %s\n", ncpu, bindir, tmpdir);
    if ((rc = s_print_idle_load()) != 0)
        goto fail;
    printf("\n");

    /* 1. baseline */
    printf("Baseline: raw LMDB, %d-byte records, big-endian u64 keys, MDB_APPEND, durable commits\n",
           BENCH_RECORD_SIZE);
    printf("  %14s  %12s  %11s  %9s  %14s\n", "records/commit", "records/s", "commit ms", "commits",
           "CPU us/commit");
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_raw_batches); i++) {
        if ((rc = bench_lmdb_append(tmpdir, s_raw_batches[i], RAW_SECONDS, &raw[i])) != 0)
            goto fail;
        s_print_raw(&raw[i]);
        fflush(stdout);
    }

    /* 2..7. the registry; 5. the baseline at its batch, right after the
     * batched run, so both see the machine in the same state */
    printf("\nRegistry: koop-node (gmina), institution.add; an OK reply = a durable write\n");
    if ((rc = bench_node_start(&node, bindir, tmpdir)) != 0) {
        fprintf(stderr, "koop-bench: the node did not start\n");
        goto fail;
    }
    if ((rc = bench_registry_throughput(bench_node_endpoint(node), 4, 16, WARMUP_WRITES, &warmup)) != 0) {
        fprintf(stderr, "koop-bench: warm-up failed\n");
        goto fail;
    }
    s_print_reg_header();
    if ((rc = s_reg_phase(node, PHASE_BATCHED, &batched)) != 0)
        goto fail;
    s_print_reg(&batched);
    matched_batch = (unsigned)(s_mean_batch(&batched) + 0.5);
    if (matched_batch < 1)
        matched_batch = 1;
    if ((rc = bench_lmdb_append(tmpdir, matched_batch, RAW_SECONDS, &matched)) != 0)
        goto fail;
    if ((rc = s_reg_phase(node, PHASE_OPEN_LOOP, &openloop)) != 0)
        goto fail;
    s_print_reg(&openloop);
    if ((rc = s_reg_phase(node, PHASE_SEQUENTIAL, &seq)) != 0)
        goto fail;
    s_print_reg(&seq);
    if ((rc = bench_node_stop(&node)) != 0)
        goto fail; /* it said why */
    printf("  (batch: mean writes per LMDB commit of the registry; latency: send, or the\n"
           "   scheduled send in the open loop, to the reply; open loop sends left at most\n"
           "   %.2f ms after their scheduled time)\n", openloop.rr_run.br_lag_max_ms);
    printf("\n");
    s_print_cpu_header();
    s_print_cpu(&batched);
    s_print_cpu(&openloop);
    s_print_cpu(&seq);
    printf("\nBaseline at the batch the batched run reached (raw LMDB as above, measured\n"
           "right after that run)\n");
    s_print_raw(&matched);

    /* summary */
    ratio_batched = batched.rr_run.br_rate / matched.bm_rate;
    ratio_one = batched.rr_run.br_rate / raw1->bm_rate;
    p99 = bench_lat_pct_ms(&openloop.rr_run.br_lat, 99);
    printf("\nSummary (ratios to the baseline measured above)\n");
    printf("  registry batched:    %s writes/s = %.2f × raw LMDB (batch %u: %s records/s)\n",
           bench_fmt_count(n1, sizeof n1, batched.rr_run.br_rate), ratio_batched, matched.bm_batch,
           bench_fmt_count(n2, sizeof n2, matched.bm_rate));
    printf("                       %*s = %.2f × raw LMDB one record per commit (%s records/s)\n",
           (int)strlen(n1) + 9, "", ratio_one, bench_fmt_count(n3, sizeof n3, raw1->bm_rate));
    printf("  registry sequential: %.2f ms per write = %.2f × one raw durable commit (%.2f ms)\n",
           bench_lat_mean_ms(&seq.rr_run.br_lat), bench_lat_mean_ms(&seq.rr_run.br_lat) / raw1->bm_commit_ms,
           raw1->bm_commit_ms);
    printf("  open loop:           %s writes/s achieved of %s offered, p99 %.2f ms = %.2f × one raw "
           "durable commit\n",
           bench_fmt_count(n1, sizeof n1, openloop.rr_run.br_rate), bench_fmt_count(n2, sizeof n2, OPEN_RATE),
           p99, p99 / raw1->bm_commit_ms);
    printf("\nAims of the issue (information only: timing never fails this benchmark)\n");
    bench_aim(ratio_batched >= AIM_BATCHED_RATIO,
              "registry batched writes >= %.1f x raw LMDB at the same batch (%u): %.2f x", AIM_BATCHED_RATIO,
              matched.bm_batch, ratio_batched);
    bench_aim(p99 < AIM_P99_MS, "registry p99 < %.0f ms at %s writes/s (open loop): p99 %.2f ms = %.2f x the aim",
              AIM_P99_MS, bench_fmt_count(n1, sizeof n1, OPEN_RATE), p99, p99 / AIM_P99_MS);
    printf("\ntotal run time %.1f s\n", (double)(koop_clock_mono_us() - started) / 1e6);
    exit_code = 0;
fail:
    if (node)
        (void)bench_node_stop(&node); /* already failing; it says what else went wrong */
    bench_run_clear(&warmup);
    bench_run_clear(&batched.rr_run);
    bench_run_clear(&openloop.rr_run);
    bench_run_clear(&seq.rr_run);
    if (made_tmp && (rc = bench_rmtree(tmpdir)) != 0) {
        fprintf(stderr, "koop-bench: could not remove %s: %s\n", tmpdir, strerror(-rc));
        exit_code = 1;
    }
    if (exit_code != 0)
        fprintf(stderr, "koop-bench: FAILED (see the messages above)\n");
    return exit_code;
}
