/*
 * bench_reporting.c - the reporting projection: report latency against the
 * length of the history, and the projection's ingest rate as a ratio to the
 * raw LMDB append rate measured in the same run.
 *
 * Events are generated in process and applied straight into a projection
 * store with rep_apply in write transactions of S_BATCH events (what the
 * feed does with a batch), without the producers' logs, sockets and the
 * service in between: that is how 10^7 events fit in a short run. They are
 * the SHARED facts of the cases service (and registry records) of one gmina
 * over ten years, 2015-2024, made by the fleet simulator's generator
 * (tools/fleet/facts.h): per IPW 17 events (opened, 2 ZZK members,
 * activated, 2 goals and 2 reviews, 3 tasks added and done, a referral sent
 * and answered, closed), a registry event (a PZK with members, or an
 * institution) every 2,000 IPWs, households coming back for a second
 * programme now and then.
 *
 *   raw append   koop_log_append of the same payloads into a log (the
 *                producer's side of the outbox), same batch size;
 *   ingest       rep_apply of those events; ratio = ingest / raw;
 *   latency      rep_report (evaluation, and all indicators) on all time
 *                and on one year, median of S_REPEAT runs, at 10^3, 10^5
 *                and 10^7 events.
 *
 * A report reads month rows (bounded by the calendar, here 120 months) and
 * small side tables, so its latency should not grow with the events.
 */
#include "../services/reporting/reporting.h"
#include "../tools/fleet/facts.h"
#include "bench.h"
#include "cases.pb-c.h"
#include "clock.h"
#include "log.h"
#include "registry.pb-c.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BATCH 2000
#define S_REPEAT 25
#define S_RAW_EVENTS 200000

/* Aims (issue 16) */
#define AIM_INGEST 0.7
#define AIM_FLAT 1.5

/* ---- the events, made before they are timed ----
 *
 * The first S_RAW_EVENTS events of the history are generated once into
 * memory, so the raw append and the projection's ingest, whose rates are
 * compared, spend their time on nothing but their own work; the rest of
 * the 10^7 are generated as they go. */

typedef struct {
    uint8_t *bytes;        /* payloads one after another */
    size_t *end;           /* end[i]: where payload i ends */
    const char **stream, **type;
    uint64_t n;
    fleet_facts_t after;   /* the generator once it has made them */
} s_made;

static s_made s_events;

static int
s_make_events(uint64_t n)
{
    fleet_facts_t g;
    size_t cap = 1 << 20, used = 0;
    fleet_facts_init(&g, 0, "2013032", 16436, 3287, 2000);
    snprintf(g.owner, sizeof g.owner, "gmina-2013032");
    s_events.bytes = malloc(cap);
    s_events.end = calloc(n, sizeof *s_events.end);
    s_events.stream = calloc(n, sizeof *s_events.stream);
    s_events.type = calloc(n, sizeof *s_events.type);
    if (!s_events.bytes || !s_events.end || !s_events.stream || !s_events.type)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        fleet_facts_next(&g);
        if (used + g.len > cap) {
            uint8_t *grown = realloc(s_events.bytes, cap * 2);
            if (!grown)
                return -1;
            s_events.bytes = grown;
            cap *= 2;
        }
        memcpy(s_events.bytes + used, g.buf, g.len);
        used += g.len;
        s_events.end[i] = used;
        s_events.stream[i] = g.stream; /* static strings */
        s_events.type[i] = g.type;
    }
    s_events.n = n;
    s_events.after = g;
    return 0;
}

static void
s_free_events(void)
{
    free(s_events.bytes);
    free(s_events.end);
    free(s_events.stream);
    free(s_events.type);
    memset(&s_events, 0, sizeof s_events);
}

/* ---- stores ---- */

typedef struct {
    char dir[64];
    koop_store_t *store;
    rep_proj_t *proj;
    koop_log_t *log;
    fleet_facts_t gen;
    uint64_t target;
    uint64_t done;
    uint64_t batch;     /* events per write transaction */
} s_bench;

static int
s_open(s_bench *b, int with_log)
{
    rep_self_t self;
    MDB_txn *txn;
    int cleared, rc;
    memset(&self, 0, sizeof self);
    snprintf(self.node, sizeof self.node, "gmina-2013032");
    snprintf(self.teryt, sizeof self.teryt, "2013032");
    snprintf(b->dir, sizeof b->dir, "/tmp/koop-bench-rep.XXXXXX");
    if (!mkdtemp(b->dir))
        return -1;
    if ((rc = koop_store_open(&b->store, b->dir, rep_tables)) != 0)
        return rc;
    /* the benchmark's store needs no durability: one fsync per batch would
     * measure the disk, not the projection */
    if ((rc = mdb_env_set_flags(koop_store_env(b->store), MDB_NOSYNC, 1)) != 0)
        return rc;
    if (with_log)
        return koop_log_open(&b->log, b->store, "gmina-2013032", "cases");
    if ((rc = rep_proj_new(&b->proj, b->store, &self)) != 0)
        return rc;
    if ((rc = mdb_txn_begin(koop_store_env(b->store), NULL, 0, &txn)) != 0)
        return rc;
    if ((rc = rep_proj_init(b->proj, txn, &cleared)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

static void
s_close(s_bench *b)
{
    char cmd[128];
    rep_proj_destroy(&b->proj);
    koop_log_destroy(&b->log);
    koop_store_destroy(&b->store);
    snprintf(cmd, sizeof cmd, "rm -rf %s", b->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_reporting: could not remove %s\n", b->dir);
}

/* One batch: the generator is copied first, so a retry after MDB_MAP_FULL
 * makes the same events again. */
typedef struct {
    s_bench *b;
    fleet_facts_t start;
    uint64_t count;
} s_batch;

static int
s_apply_batch(MDB_txn *txn, void *ctx)
{
    s_batch *bt = ctx;
    fleet_facts_t *g = &bt->b->gen;
    int rc = 0;
    *g = bt->start;
    /* the projection as its feed drives it: one batch per transaction */
    if (bt->b->proj && (rc = rep_apply_begin(txn, bt->b->proj)) != 0)
        return rc;
    for (uint64_t i = 0; i < bt->count && rc == 0; i++) {
        Koop__Event ev = KOOP__EVENT__INIT;
        uint64_t k = g->n; /* index of this event in the history */
        ev.node = "gmina-2013032";
        ev.has_seq = ev.has_scope = ev.has_payload = 1;
        ev.seq = k + 1;
        ev.scope = KOOP__SCOPE__SCOPE_SHARED;
        if (k < s_events.n) { /* made before the clock started */
            size_t from = k ? s_events.end[k - 1] : 0;
            ev.stream = (char *)s_events.stream[k];
            ev.type = (char *)s_events.type[k];
            ev.payload.data = s_events.bytes + from;
            ev.payload.len = s_events.end[k] - from;
            g->n = k + 1;
            if (g->n == s_events.n)
                *g = s_events.after; /* from here on made as they go */
        } else {
            fleet_facts_next(g);
            ev.stream = (char *)g->stream;
            ev.type = (char *)g->type;
            ev.payload.data = g->buf;
            ev.payload.len = g->len;
        }
        if (bt->b->log)
            rc = koop_log_append(bt->b->log, txn, ev.type, KOOP__SCOPE__SCOPE_SHARED, "", ev.payload.data,
                                 ev.payload.len, NULL);
        else
            rc = rep_apply(txn, &ev, bt->b->proj);
    }
    if (rc == 0 && bt->b->proj)
        rc = rep_apply_end(txn, bt->b->proj);
    return rc;
}

/* Feeds events until b->target; returns events/s or -1. */
static double
s_feed(s_bench *b)
{
    uint64_t t0 = koop_clock_mono_us(), n0 = b->done;
    while (b->done < b->target) {
        s_batch bt = {b, b->gen, b->target - b->done < b->batch ? b->target - b->done : b->batch};
        int rc = koop_store_write(b->store, s_apply_batch, &bt);
        if (rc != 0) {
            fprintf(stderr, "bench_reporting: batch failed: %s\n", koop_strerror(rc));
            return -1;
        }
        b->done += bt.count;
    }
    return (double)(b->done - n0) * 1e6 / (double)(koop_clock_mono_us() - t0 + 1);
}

static int
s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median latency (µs) of a report; -1 on failure. */
static double
s_latency(s_bench *b, int evaluation, const char *from, const char *to, double *ipw_opened)
{
    /* KOOP_BENCH_REP_REPEAT: more runs (to profile the reports) */
    int repeat = getenv("KOOP_BENCH_REP_REPEAT") ? atoi(getenv("KOOP_BENCH_REP_REPEAT")) : S_REPEAT;
    uint64_t *t;
    Koop__Rep__ReportQuery q = KOOP__REP__REPORT_QUERY__INIT;
    q.from = (char *)from;
    q.to = (char *)to;
    q.as_of = "2025-06-30";
    if (repeat < 1)
        repeat = S_REPEAT;
    if (!(t = calloc((size_t)repeat, sizeof *t)))
        return -1;
    for (int i = 0; i < repeat; i++) {
        Koop__Rep__Report *r = NULL;
        MDB_txn *txn;
        koop_error_t err;
        uint64_t t0 = koop_clock_mono_us();
        int st;
        if (koop_store_read(b->store, &txn) != 0) {
            free(t);
            return -1;
        }
        st = rep_report(b->proj, txn, &q, evaluation, &r, &err);
        mdb_txn_abort(txn);
        t[i] = koop_clock_mono_us() - t0;
        if (st != 0) {
            fprintf(stderr, "bench_reporting: report failed: %s\n", err.code);
            free(t);
            return -1;
        }
        for (size_t f = 0; ipw_opened && f < r->n_figures; f++)
            if (!strcmp(r->figures[f]->key, "ipw_opened") && !r->figures[f]->dim[0])
                *ipw_opened = r->figures[f]->value;
        rep_report_free(&r);
    }
    qsort(t, (size_t)repeat, sizeof t[0], s_cmp_u64);
    {
        double median = (double)t[repeat / 2];
        free(t);
        return median;
    }
}

int
bench_reporting(void)
{
    /* KOOP_BENCH_REP_MAX: the largest history (default 10^7; smaller to profile) */
    uint64_t sizes[] = {1000, 100000, getenv("KOOP_BENCH_REP_MAX") ? strtoull(getenv("KOOP_BENCH_REP_MAX"), NULL, 10) : 10000000};
    s_bench raw, proj;
    double raw_rate, ingest_rate = 0, build_rate = 0, lat[3][3], opened[3];
    uint64_t t_start = koop_clock_mono_us();
    int rc = 1;

    memset(&raw, 0, sizeof raw);
    memset(&proj, 0, sizeof proj);
    /* one gmina, IPWs opened over 2015-01-01 .. 2023-12-31, a registry event every 2,000 IPWs */
    fleet_facts_init(&raw.gen, 0, "2013032", 16436, 3287, 2000);
    snprintf(raw.gen.owner, sizeof raw.gen.owner, "gmina-2013032");
    proj.gen = raw.gen;
    printf("reporting: report latency against history length; projection ingest vs raw LMDB append\n");
    fflush(stdout);

    if (s_make_events(S_RAW_EVENTS) != 0)
        goto done;
    /* raw append of the same events: the baseline */
    if (s_open(&raw, 1) != 0)
        goto done;
    raw.target = S_RAW_EVENTS;
    raw.batch = S_BATCH;
    if ((raw_rate = s_feed(&raw)) < 0)
        goto done;

    /* one projection growing to 10^3, 10^5, 10^7 events; latency at each */
    if (s_open(&proj, 0) != 0)
        goto done;
    for (int i = 0; i < 3; i++) {
        double rate;
        proj.target = sizes[i];
        /* up to 10^5 in feed-sized batches (the ingest rate compared with the
         * raw append); the rest of the 10^7 in batches of 20,000 to keep the
         * run short (fewer commits rewriting the same month rows) */
        proj.batch = i < 2 ? S_BATCH : 10 * S_BATCH;
        if ((rate = s_feed(&proj)) < 0)
            goto done;
        if (i == 1)
            ingest_rate = rate;
        if (i == 2)
            build_rate = rate;
        if ((lat[i][0] = s_latency(&proj, 1, NULL, NULL, &opened[i])) < 0 ||
            (lat[i][1] = s_latency(&proj, 0, NULL, NULL, NULL)) < 0 ||
            (lat[i][2] = s_latency(&proj, 0, "2020", "2020", NULL)) < 0)
            goto done;
        printf("  %9llu events (%7.0f IPWs): evaluation %7.0f µs, all indicators %7.0f µs, one year %7.0f µs\n",
               (unsigned long long)proj.done, opened[i], lat[i][0], lat[i][1], lat[i][2]);
        fflush(stdout);
    }
    printf("  raw LMDB append (koop_log_append, %d events/txn): %.0f events/s\n", S_BATCH, raw_rate);
    printf("  projection ingest (rep_apply, %d events/txn):     %.0f events/s = %.2f x raw append\n", S_BATCH,
           ingest_rate, ingest_rate / raw_rate);
    printf("  (10^5 -> 10^7 applied at %.0f events/s in transactions of %d)\n", build_rate, 10 * S_BATCH);
    printf("  latency 10^7 / 10^5 events: evaluation %.2f x, all indicators %.2f x, one year %.2f x (flat = 1)\n",
           lat[2][0] / lat[1][0], lat[2][1] / lat[1][1], lat[2][2] / lat[1][2]);
    printf("  latency 10^7 / 10^3 events: evaluation %.2f x, all indicators %.2f x, one year %.2f x\n",
           lat[2][0] / lat[0][0], lat[2][1] / lat[0][1], lat[2][2] / lat[0][2]);
    printf("  run time %.1f s\n", (double)(koop_clock_mono_us() - t_start) / 1e6);
    printf("\nAims (information only)\n");
    bench_aim(ingest_rate / raw_rate >= AIM_INGEST, "projection ingest >= %.1f x raw append (%d events/txn): %.2f x",
              AIM_INGEST, S_BATCH, ingest_rate / raw_rate);
    {
        static const char *const names[3] = {"evaluation", "all indicators", "one year"};
        for (int r = 0; r < 3; r++) {
            /* flat: the slowest of the three history lengths against the fastest */
            double lo = lat[0][r], hi = lat[0][r];
            for (int i = 1; i < 3; i++) {
                lo = lat[i][r] < lo ? lat[i][r] : lo;
                hi = lat[i][r] > hi ? lat[i][r] : hi;
            }
            bench_aim(hi <= AIM_FLAT * lo, "%s latency flat within %.1f x from 10^3 to 10^7 events: %.2f x (%.0f .. %.0f µs)",
                      names[r], AIM_FLAT, hi / lo, lo, hi);
        }
    }
    rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "bench_reporting: failed\n");
    if (raw.store)
        s_close(&raw);
    if (proj.store)
        s_close(&proj);
    s_free_events();
    return rc;
}
