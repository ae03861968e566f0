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
 * over ten years, 2015-2024: per IPW about 17 events (opened, 2 ZZK members,
 * activated, 2 goals and 2 reviews, 3 tasks added and done, a referral sent
 * and answered, closed), a PZK with members every 2,000 IPWs, households
 * coming back for a second programme now and then.
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

/* ---- generated events ---- */

typedef struct {
    uint64_t n;         /* events made so far */
    uint64_t ipws;      /* IPWs started */
    uint8_t buf[4096];  /* the payload of the current event */
    size_t len;
    const char *stream;
    const char *type;
    /* the IPW being written: its steps, one event at a time */
    int step;
    char ipw[37], hh[37], goal[2][37], task[3][37], ref[37];
    int32_t opened;     /* day */
    int outcome;
} s_gen;

static void
s_id(char out[37], unsigned kind, uint64_t n)
{
    snprintf(out, 37, "%08x-0000-7000-8000-%012llx", kind & 0xfffffffu, (unsigned long long)(n & 0xffffffffffffull));
}

static void
s_date(int32_t day, char out[11])
{
    rep_day_format(day, out);
}

static void
s_pack(s_gen *g, const ProtobufCMessage *m, const char *stream, const char *type)
{
    g->len = protobuf_c_message_pack(m, g->buf);
    g->stream = stream;
    g->type = type;
}

/* The next event of the history. Days of 2015-01-01 .. 2024-12-31. */
static void
s_next(s_gen *g)
{
    static const int32_t first = 16436; /* 2015-01-01 */
    char d1[11], d2[11];
    g->n++;
    if (g->step == 0 && g->ipws % 2000 == 0) {
        /* a PZK of 12 institutions every 2,000 IPWs (an occasional registry event) */
        Koop__Reg__Pzk p = KOOP__REG__PZK__INIT;
        Koop__Reg__PzkMember m[12], *mp[12];
        char pid[37], inst[12][37];
        s_id(pid, 2, g->ipws);
        s_date(first + (int32_t)(g->ipws / 2000 * 97 % 3000), d1);
        for (int i = 0; i < 12; i++) {
            koop__reg__pzk_member__init(&m[i]);
            s_id(inst[i], 1, (g->ipws / 2000 * 5 + (uint64_t)i) % 400); /* shared across PZKs */
            m[i].institution = inst[i];
            m[i].joined = d1;
            mp[i] = &m[i];
        }
        p.id = pid;
        p.formed = d1;
        p.teryt = "2013032";
        p.n_members = 12;
        p.members = mp;
        g->step = -1; /* the IPW comes next */
        s_pack(g, &p.base, "registry", "pzk.joined");
        return;
    }
    if (g->step <= 0) {
        Koop__Cases__IpwFacts f = KOOP__CASES__IPW_FACTS__INIT;
        uint64_t k = g->ipws++;
        s_id(g->ipw, 3, k);
        /* one household in 8 comes back for a second programme */
        s_id(g->hh, 4, k % 8 == 7 ? k - 7 : k);
        for (int i = 0; i < 2; i++)
            s_id(g->goal[i], 5, k * 2 + (uint64_t)i);
        for (int i = 0; i < 3; i++)
            s_id(g->task[i], 6, k * 3 + (uint64_t)i);
        s_id(g->ref, 7, k);
        g->opened = first + (int32_t)((k * 7919) % 3287);
        g->outcome = (int)(k % 5 == 4 ? KOOP__CASES__OUTCOME__OUTCOME_NO_SUCCESS : KOOP__CASES__OUTCOME__OUTCOME_SUCCESS);
        s_date(g->opened, d1);
        f.ipw = g->ipw;
        f.household = g->hh;
        f.opened = d1;
        f.date = d1;
        f.has_household_size = 1;
        f.household_size = 1 + (uint32_t)(k % 5);
        g->step = 1;
        s_pack(g, &f.base, "cases", "ipw.opened");
        return;
    }
    switch (g->step++) {
    case 1:
    case 2: {
        Koop__Cases__MemberFacts f = KOOP__CASES__MEMBER_FACTS__INIT;
        char mid[37];
        s_id(mid, 9, g->ipws * 2 + (uint64_t)g->step);
        s_date(g->opened, d1);
        f.ipw = g->ipw;
        f.member = mid;
        f.has_sector = 1;
        f.sector = (Koop__Reg__Sector)(1 + (g->ipws + (uint64_t)g->step) % 12);
        f.date = d1;
        s_pack(g, &f.base, "cases", "ipw.member_added");
        return;
    }
    case 3: {
        Koop__Cases__IpwFacts f = KOOP__CASES__IPW_FACTS__INIT;
        s_date(g->opened + 7, d1);
        f.ipw = g->ipw;
        f.household = g->hh;
        f.date = d1;
        s_pack(g, &f.base, "cases", "ipw.activated");
        return;
    }
    case 4:
    case 5:
    case 6:
    case 7: {
        Koop__Cases__GoalFacts f = KOOP__CASES__GOAL_FACTS__INIT;
        int i = (g->step - 5) % 2, scaled = g->step > 6;
        s_date(g->opened + (scaled ? 90 + 30 * i : 7), d1);
        f.goal = g->goal[i];
        f.ipw = g->ipw;
        f.has_area = f.has_baseline = 1;
        f.area = (Koop__Cases__Area)(1 + (g->ipws + (uint64_t)i) % 10);
        f.baseline = 3;
        f.has_value = scaled;
        f.value = 3 + (int)(g->ipws % 5);
        f.date = d1;
        s_pack(g, &f.base, "cases", scaled ? "goal.scaled" : "goal.added");
        return;
    }
    case 8:
    case 9:
    case 10:
    case 11:
    case 12:
    case 13: {
        Koop__Cases__TaskFacts f = KOOP__CASES__TASK_FACTS__INIT;
        int i = (g->step - 9) % 3, done = g->step > 11;
        s_date(g->opened + 30 + 20 * i, d1);            /* due */
        s_date(g->opened + (done ? 25 + 27 * i : 8), d2); /* the step's day: two of three late */
        f.task = g->task[i];
        f.ipw = g->ipw;
        f.due = d1;
        f.date = d2;
        f.has_owner_sector = 1;
        f.owner_sector = (Koop__Reg__Sector)(1 + (g->ipws + (uint64_t)i) % 12);
        s_pack(g, &f.base, "cases", done ? "task.done" : "task.added");
        return;
    }
    case 14:
    case 15: {
        Koop__Cases__ReferralFacts f = KOOP__CASES__REFERRAL_FACTS__INIT;
        s_date(g->opened + (g->step == 15 ? 20 : 20 + (int32_t)(g->ipws % 14)), d1);
        f.referral = g->ref;
        f.ipw = g->ipw;
        f.date = d1;
        s_pack(g, &f.base, "cases", g->step == 15 ? "referral.sent" : "referral.accepted");
        return;
    }
    default: {
        Koop__Cases__IpwFacts f = KOOP__CASES__IPW_FACTS__INIT;
        s_date(g->opened + 300 + (int32_t)(g->ipws % 90), d1);
        f.ipw = g->ipw;
        f.household = g->hh;
        f.date = d1;
        f.has_outcome = 1;
        f.outcome = (Koop__Cases__Outcome)g->outcome;
        g->step = 0;
        s_pack(g, &f.base, "cases", "ipw.closed");
        return;
    }
    }
}

/* ---- stores ---- */

typedef struct {
    char dir[64];
    koop_store_t *store;
    rep_proj_t *proj;
    koop_log_t *log;
    s_gen gen;
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
    s_gen start;
    uint64_t count;
} s_batch;

static int
s_apply_batch(MDB_txn *txn, void *ctx)
{
    s_batch *bt = ctx;
    s_gen *g = &bt->b->gen;
    int rc = 0;
    *g = bt->start;
    for (uint64_t i = 0; i < bt->count && rc == 0; i++) {
        Koop__Event ev = KOOP__EVENT__INIT;
        s_next(g);
        ev.node = "gmina-2013032";
        ev.stream = (char *)g->stream;
        ev.has_seq = ev.has_scope = ev.has_payload = 1;
        ev.seq = g->n;
        ev.scope = KOOP__SCOPE__SCOPE_SHARED;
        ev.type = (char *)g->type;
        ev.payload.data = g->buf;
        ev.payload.len = g->len;
        if (bt->b->log)
            rc = koop_log_append(bt->b->log, txn, g->type, KOOP__SCOPE__SCOPE_SHARED, "", g->buf, g->len, NULL);
        else
            rc = rep_apply(txn, &ev, bt->b->proj);
    }
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
    uint64_t t[S_REPEAT];
    Koop__Rep__ReportQuery q = KOOP__REP__REPORT_QUERY__INIT;
    q.from = (char *)from;
    q.to = (char *)to;
    q.as_of = "2025-06-30";
    for (int i = 0; i < S_REPEAT; i++) {
        Koop__Rep__Report *r = NULL;
        MDB_txn *txn;
        koop_error_t err;
        uint64_t t0 = koop_clock_mono_us();
        int st;
        if (koop_store_read(b->store, &txn) != 0)
            return -1;
        st = rep_report(b->proj, txn, &q, evaluation, &r, &err);
        mdb_txn_abort(txn);
        t[i] = koop_clock_mono_us() - t0;
        if (st != 0) {
            fprintf(stderr, "bench_reporting: report failed: %s\n", err.code);
            return -1;
        }
        for (size_t f = 0; ipw_opened && f < r->n_figures; f++)
            if (!strcmp(r->figures[f]->key, "ipw_opened") && !r->figures[f]->dim[0])
                *ipw_opened = r->figures[f]->value;
        rep_report_free(&r);
    }
    qsort(t, S_REPEAT, sizeof t[0], s_cmp_u64);
    return (double)t[S_REPEAT / 2];
}

int
bench_reporting(void)
{
    static const uint64_t sizes[] = {1000, 100000, 10000000};
    s_bench raw, proj;
    double raw_rate, ingest_rate = 0, build_rate = 0, lat[3][3], opened[3];
    uint64_t t_start = koop_clock_mono_us();
    int rc = 1;

    memset(&raw, 0, sizeof raw);
    memset(&proj, 0, sizeof proj);
    printf("reporting: report latency against history length; projection ingest vs raw LMDB append\n");
    fflush(stdout);

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
    rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "bench_reporting: failed\n");
    if (raw.store)
        s_close(&raw);
    if (proj.store)
        s_close(&proj);
    return rc;
}
