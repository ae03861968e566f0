/*
 * bench_scale.c - a country on one machine (`make bench-scale`, section
 * "scale" of koop-bench; docs/SYNC.md has the figures).
 *
 * Two trees of real hubs (koop-node, role hub: registry, reporting, sync,
 * each its own LMDB, durable commits), fed by the fleet simulator
 * (tools/fleet): simulated gmina uplinks in this process, each with its own
 * CURVE key enrolled on its hub, its own node id and log identities, and the
 * SHARED events of its cases and registry services.
 *
 *   flat         one powiat-role hub with KOOP_SCALE_FLAT (2,500) gminas
 *                connected straight to it; it is the top
 *   voivodeship  mazowieckie at full size: KOOP_SCALE_POWIATS (42) powiat
 *                hubs with KOOP_SCALE_GMINAS (314) gminas among them, one
 *                voivodeship hub above them, a national hub above that
 *
 * For each tree, in this order:
 *   connect   every gmina connects and says HELLO at once (CURVE handshake,
 *             ZAP, the HELLO's write transaction): until all are READY
 *   day       each gmina writes KOOP_SCALE_EVENTS (200) events, in 10 slices
 *             over KOOP_SCALE_DAY_S (10) seconds; then: the time from the last
 *             write to the top's `report evaluation` counting every event
 *             (its `events`, the events applied to the top's projection)
 *   one write idle tree: one gmina writes one more case (17 events); the
 *             time until the top's report counts them
 *   monday    a third of the gminas go offline, write a day each, and come
 *             back at once: until all are READY again, and until the top's
 *             report counts everything
 *   report    latency of `report evaluation` at the top (whole area), median
 *             and p99 of 50
 *   count     every event at the top exactly once: the top's merged stream
 *             read from the start, every envelope unwrapped to the gmina's,
 *             each (node, stream, seq) counted against what the fleet wrote
 * Per level (national, voivodeship, powiat): events ingested, events/s
 * (events / from the phase's start to the level's last commit), ingest
 * rate inside the write transactions, CPU per event of koop-sync and of
 * koop-reporting (/proc, clock ticks), peak RSS of both (VmHWM, the
 * largest hub of the level).
 *
 * KOOP_SCALE_ONLY=flat|voivodeship runs one tree. Timing never fails the
 * run; an event missing or doubled at the top does (exit code 1).
 */
#include "bench.h"
#include "../tools/fleet/fleet.h"
#include "clock.h"
#include "envelope.pb-c.h"
#include "reporting.pb-c.h"
#include "client.h"
#include "sync.pb-c.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int bench_scale(void);

#define S_LEVELS 3          /* national, voivodeship, powiat */
#define S_SLICES 10
#define S_REPORTS 50
#define S_CASE_EVENTS 17    /* one IPW from opening to closing (facts.h) */

static const char *const s_level_names[S_LEVELS] = {"national", "voivodeship", "powiat"};

typedef struct {
    uint64_t events, ingest_us;   /* the hub's counters since it started */
    uint64_t stored_ms;           /* its latest commit of any stream (real time) */
    uint64_t cpu_sync, cpu_rep;   /* microseconds */
} s_sample;

typedef struct {
    const char *name;
    bench_knode_t *hubs;          /* [0] is the top */
    int *level;                   /* of each hub */
    int nhubs;
    fleet_t *fleet;
    unsigned ngminas;
    uint64_t expected;            /* events the fleet wrote */
    /* results */
    double connect_s;
    double day_latency_s, one_latency_ms;
    double monday_ready_s, monday_top_s;
    double day_rate[S_LEVELS], monday_rate[S_LEVELS], txn_rate[S_LEVELS];
    uint64_t day_events[S_LEVELS], monday_events[S_LEVELS];
    double cpu_sync[S_LEVELS], cpu_rep[S_LEVELS];  /* µs per event, day + monday */
    long rss_sync[S_LEVELS], rss_rep[S_LEVELS];    /* kB, largest of the level */
    int hubs_at[S_LEVELS];        /* hubs of each level (0: the tree has none) */
    double report_p50_ms, report_p99_ms;
    uint64_t counted, missing, doubled, other;
    uint64_t applied, rejected;
    fleet_stats_t fleet_end;
    /* key directories (PEERS) the gminas received, and the fleet's
     * reconnects: in the connect storm (online .. the day's start), over
     * the day (its wall time), on Monday */
    uint64_t dir_frames[3], dir_bytes[3], reconnects[3];
    double dir_day_s;
} s_tree;

enum { S_DIR_STORM, S_DIR_DAY, S_DIR_MONDAY };

/* Adds the key directories received and the reconnects since *from (then
 * sets *from to now). */
static void
s_dir_count(s_tree *t, int phase, fleet_stats_t *from)
{
    fleet_stats_t now;
    fleet_stats(t->fleet, &now);
    t->dir_frames[phase] += now.dir_frames - from->dir_frames;
    t->dir_bytes[phase] += now.dir_bytes - from->dir_bytes;
    t->reconnects[phase] += now.reconnects - from->reconnects;
    *from = now;
}

static unsigned
s_env(const char *name, unsigned def)
{
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

/* ---- the hubs ---- */

/* Makes hub i of the tree (its parent p, -1 for the top). */
static int
s_hub_init(s_tree *t, int i, int p, const char *dir, const char *teryt, const char *name, const char *id)
{
    char listen[64], key[PATH_MAX + 32], path[PATH_MAX + 16];
    const char *args[16];
    int a = 0;
    snprintf(path, sizeof path, "%s", dir);
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", bench_free_port());
    args[a++] = "--role";
    args[a++] = "hub";
    args[a++] = "--teryt";
    args[a++] = teryt;
    args[a++] = "--name";
    args[a++] = name;
    args[a++] = "--listen";
    args[a++] = listen;
    if (id) {
        args[a++] = "--id";
        args[a++] = id;
    }
    if (p >= 0) {
        snprintf(key, sizeof key, "%s/keys/node.pub", t->hubs[p].dir);
        args[a++] = "--hub";
        args[a++] = t->hubs[p].cfg.sync_listen;
        args[a++] = "--hub-key";
        args[a++] = key;
    }
    args[a] = NULL;
    if (bench_knode_init(&t->hubs[i], path, args) != 0)
        return -1;
    if (p >= 0 && bench_runf(NULL, "'%s/koopctl' -c '%s' enrol '%s/keys/node.pub'", bench_bin(), t->hubs[p].conf,
                             t->hubs[i].dir) != 0) {
        fprintf(stderr, "bench scale: koopctl enrol of %s failed\n", t->hubs[i].dir);
        return -1;
    }
    return 0;
}

static int
s_hubs_start(s_tree *t)
{
    for (int i = 0; i < t->nhubs; i++)
        if (bench_knode_spawn(&t->hubs[i]) != 0)
            return -1;
    for (int i = 0; i < t->nhubs; i++)
        if (bench_knode_wait(&t->hubs[i], 60000) != 0)
            return -1;
    return 0;
}

/* The hub's sync counters and its processes' CPU time. */
static int
s_sample_hub(bench_knode_t *h, s_sample *s)
{
    koop_rpc_client_t *c = koop_rpc_client_new(koop_config_endpoint(&h->cfg, "sync"));
    koop_reply_t r;
    int rc = -1;
    memset(s, 0, sizeof *s);
    if (c && koop_rpc_call(c, NULL, "sync.status", NULL, 20000, &r) == 0) {
        Koop__Sync__Status *st = r.status == 0 ? koop__sync__status__unpack(NULL, r.len, r.payload) : NULL;
        if (st) {
            s->events = st->ingest_events;
            s->ingest_us = st->ingest_us;
            for (size_t i = 0; i < st->n_nodes; i++)
                for (size_t j = 0; j < st->nodes[i]->n_streams; j++)
                    if (st->nodes[i]->streams[j]->stored_ms > s->stored_ms)
                        s->stored_ms = st->nodes[i]->streams[j]->stored_ms;
            koop__sync__status__free_unpacked(st, NULL);
            rc = 0;
        }
        koop_reply_clear(&r);
    }
    koop_rpc_client_destroy(&c);
    (void)bench_proc_cpu_us(bench_knode_pid(h, "sync"), &s->cpu_sync);
    (void)bench_proc_cpu_us(bench_knode_pid(h, "reporting"), &s->cpu_rep);
    return rc;
}

static int
s_sample_all(s_tree *t, s_sample *out)
{
    for (int i = 0; i < t->nhubs; i++)
        if (s_sample_hub(&t->hubs[i], &out[i]) != 0) {
            fprintf(stderr, "bench scale: %s does not answer sync.status\n", t->hubs[i].cfg.node_id);
            return -1;
        }
    return 0;
}

/* Per level between two samples: events, events/s since start_ms (to the
 * level's last commit), CPU per event. */
static void
s_levels(s_tree *t, const s_sample *a, const s_sample *b, uint64_t start_ms, uint64_t events[S_LEVELS],
         double rate[S_LEVELS], double cpu_sync[S_LEVELS], double cpu_rep[S_LEVELS])
{
    for (int l = 0; l < S_LEVELS; l++) {
        uint64_t ev = 0, last = 0, cs = 0, cr = 0;
        for (int i = 0; i < t->nhubs; i++) {
            if (t->level[i] != l)
                continue;
            ev += b[i].events - a[i].events;
            cs += b[i].cpu_sync - a[i].cpu_sync;
            cr += b[i].cpu_rep - a[i].cpu_rep;
            if (b[i].stored_ms > last)
                last = b[i].stored_ms;
        }
        events[l] = ev;
        rate[l] = ev && last > start_ms ? (double)ev / ((double)(last - start_ms) / 1e3) : 0;
        cpu_sync[l] += (double)cs;
        cpu_rep[l] += (double)cr;
    }
}

/* ---- the top's report ---- */

/* report.evaluation at the top (whole area): the events its projection has
 * applied; the call's round trip in *us. */
static int
s_report(koop_rpc_client_t *c, uint64_t *applied, uint64_t *us)
{
    Koop__Rep__ReportQuery q = KOOP__REP__REPORT_QUERY__INIT;
    koop_reply_t r;
    uint64_t t0 = koop_clock_mono_us();
    int rc = -1;
    if (koop_rpc_call(c, NULL, "report.evaluation", &q.base, 20000, &r) != 0)
        return -1;
    if (us)
        *us = koop_clock_mono_us() - t0;
    if (r.status == 0) {
        Koop__Rep__Report *rep = koop__rep__report__unpack(NULL, r.len, r.payload);
        if (rep) {
            *applied = rep->events;
            koop__rep__report__free_unpacked(rep, NULL);
            rc = 0;
        }
    }
    koop_reply_clear(&r);
    return rc;
}

/* Polls the top's report until it counts `want` events; returns the mono
 * time (µs) it first did, or 0 after timeout_s. */
static uint64_t
s_wait_report(s_tree *t, uint64_t want, unsigned timeout_s)
{
    koop_rpc_client_t *c = koop_rpc_client_new(koop_config_endpoint(&t->hubs[0].cfg, "reporting"));
    uint64_t until = koop_clock_mono_us() + (uint64_t)timeout_s * 1000000u, done = 0;
    while (c && !done && koop_clock_mono_us() < until) {
        uint64_t applied = 0;
        if (s_report(c, &applied, NULL) == 0 && applied >= want)
            done = koop_clock_mono_us();
        else
            usleep(5000);
    }
    koop_rpc_client_destroy(&c);
    if (!done)
        fprintf(stderr, "bench scale: the top's report did not reach %llu events in %u s\n",
                (unsigned long long)want, timeout_s);
    return done;
}

static int
s_wait_ready(s_tree *t, unsigned want, unsigned timeout_s)
{
    uint64_t until = koop_clock_mono_ms() + timeout_s * 1000u;
    fleet_stats_t st;
    do {
        fleet_stats(t->fleet, &st);
        if (st.ready == want)
            return 0;
        usleep(20000);
    } while (koop_clock_mono_ms() < until);
    fprintf(stderr, "bench scale: %u of %u gminas ready after %u s (%llu denied, %llu reconnects)\n", st.ready, want,
            timeout_s, (unsigned long long)st.denied, (unsigned long long)st.reconnects);
    return -1;
}

/* ---- counting at the top ---- */

typedef struct {
    const char *node;
    unsigned index;
} s_name;

static int
s_name_cmp(const void *a, const void *b)
{
    return strcmp(((const s_name *)a)->node, ((const s_name *)b)->node);
}

/* Reads the top's merged stream from seq 1 and counts each gmina event. */
static int
s_count(s_tree *t)
{
    koop_rpc_client_t *c = koop_rpc_client_new(koop_config_endpoint(&t->hubs[0].cfg, "sync"));
    s_name *names = calloc(t->ngminas, sizeof *names);
    uint8_t *seen[FLEET_STREAMS];
    fleet_gmina_info_t *info = calloc(t->ngminas, sizeof *info);
    uint64_t after = 0, *base[FLEET_STREAMS];
    int rc = -1;

    for (int s = 0; s < FLEET_STREAMS; s++) {
        base[s] = calloc(t->ngminas + 1, sizeof *base[s]);
        seen[s] = NULL;
    }
    if (!c || !names || !info)
        goto done;
    for (unsigned i = 0; i < t->ngminas; i++) {
        fleet_gmina(t->fleet, i, &info[i]);
        names[i].node = info[i].node;
        names[i].index = i;
        for (int s = 0; s < FLEET_STREAMS; s++)
            base[s][i + 1] = base[s][i] + info[i].streams[s].written;
    }
    for (int s = 0; s < FLEET_STREAMS; s++)
        if (!(seen[s] = calloc(base[s][t->ngminas] + 1, 1)))
            goto done;
    qsort(names, t->ngminas, sizeof *names, s_name_cmp);
    t->counted = t->missing = t->doubled = t->other = 0;
    for (;;) {
        Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
        Koop__FeedBatch *b;
        koop_reply_t r;
        q.stream = "sync";
        q.has_after_seq = q.has_max = 1;
        q.after_seq = after;
        q.max = 10000;
        if (koop_rpc_call(c, NULL, "feed.fetch", &q.base, 30000, &r) != 0 || r.status != 0)
            goto done;
        b = koop__feed_batch__unpack(NULL, r.len, r.payload);
        koop_reply_clear(&r);
        if (!b)
            goto done;
        for (size_t i = 0; i < b->n_events; i++) {
            Koop__Event *ev = koop__event__unpack(NULL, b->events[i].len, b->events[i].data);
            s_name key, *hit;
            int s = -1;
            if (!ev)
                goto bad;
            after = ev->seq;
            while (ev->stream && strcmp(ev->stream, "sync") == 0) { /* a hub's wrapper */
                Koop__Event *inner = koop__event__unpack(NULL, ev->payload.len, ev->payload.data);
                koop__event__free_unpacked(ev, NULL);
                if (!(ev = inner))
                    goto bad;
            }
            key.node = ev->node ? ev->node : "";
            hit = bsearch(&key, names, t->ngminas, sizeof *names, s_name_cmp);
            for (int k = 0; hit && k < FLEET_STREAMS; k++)
                if (ev->stream && strcmp(ev->stream, info[hit->index].streams[k].name) == 0)
                    s = k;
            if (!hit || s < 0 || ev->seq == 0 || ev->seq > info[hit->index].streams[s].written)
                t->other++;
            else if (seen[s][base[s][hit->index] + ev->seq - 1]++)
                t->doubled++;
            else
                t->counted++;
            koop__event__free_unpacked(ev, NULL);
        }
        {
            size_t got = b->n_events;
            koop__feed_batch__free_unpacked(b, NULL);
            if (got == 0)
                break;
            continue;
        }
    bad:
        koop__feed_batch__free_unpacked(b, NULL);
        fprintf(stderr, "bench scale: an unreadable envelope in the top's stream after %llu\n",
                (unsigned long long)after);
        goto done;
    }
    t->missing = t->expected - t->counted;
    rc = 0;
done:
    koop_rpc_client_destroy(&c);
    for (int s = 0; s < FLEET_STREAMS; s++) {
        free(seen[s]);
        free(base[s]);
    }
    free(names);
    free(info);
    return rc;
}

/* report.status at the top: applied and rejected. */
static void
s_report_status(s_tree *t)
{
    koop_rpc_client_t *c = koop_rpc_client_new(koop_config_endpoint(&t->hubs[0].cfg, "reporting"));
    Koop__Empty e = KOOP__EMPTY__INIT;
    koop_reply_t r;
    if (c && koop_rpc_call(c, NULL, "report.status", &e.base, 20000, &r) == 0) {
        Koop__Rep__Status *st = r.status == 0 ? koop__rep__status__unpack(NULL, r.len, r.payload) : NULL;
        if (st) {
            t->applied = st->applied;
            t->rejected = st->rejected;
            koop__rep__status__free_unpacked(st, NULL);
        }
        koop_reply_clear(&r);
    }
    koop_rpc_client_destroy(&c);
}

/* ---- the phases ---- */

static int
s_run_tree(s_tree *t, unsigned events)
{
    s_sample *a = calloc((size_t)t->nhubs, sizeof *a), *b = calloc((size_t)t->nhubs, sizeof *b);
    double day_s = (double)s_env("KOOP_SCALE_DAY_S", 10);
    unsigned third = t->ngminas / 3, per_slice = events / S_SLICES;
    uint64_t t0, t0_ms, t0_dir, done;
    int rc = -1;
    fleet_stats_t st, dir;

    if (!a || !b)
        goto done;
    /* connect: all at once */
    fleet_stats(t->fleet, &dir);
    t0 = koop_clock_mono_us();
    if (fleet_online(t->fleet, 0, t->ngminas, 1) != 0 || s_wait_ready(t, t->ngminas, 300) != 0)
        goto done;
    t->connect_s = (double)(koop_clock_mono_us() - t0) / 1e6;
    s_dir_count(t, S_DIR_STORM, &dir);
    printf("    connect: %u gminas HELLO -> READY in %.1f s\n", t->ngminas, t->connect_s);
    fflush(stdout);

    /* the day, in slices */
    if (s_sample_all(t, a) != 0)
        goto done;
    t0_ms = koop_clock_real_ms();
    t0_dir = koop_clock_mono_us();
    s_dir_count(t, S_DIR_STORM, &dir); /* the storm's rounds until the day starts */
    for (int s = 0; s < S_SLICES; s++) {
        unsigned n = s == S_SLICES - 1 ? events - per_slice * (S_SLICES - 1) : per_slice;
        if (fleet_write(t->fleet, 0, t->ngminas, n) != 0 || fleet_sync(t->fleet, 600000) != 0)
            goto done;
        t->expected += (uint64_t)n * t->ngminas;
        if (s < S_SLICES - 1)
            usleep((useconds_t)(day_s * 1e6 / S_SLICES));
    }
    fleet_stats(t->fleet, &st);
    if (!(done = s_wait_report(t, t->expected, 600)))
        goto done;
    t->day_latency_s = (double)(done - st.last_write_us) / 1e6;
    t->dir_day_s = (double)(koop_clock_mono_us() - t0_dir) / 1e6;
    s_dir_count(t, S_DIR_DAY, &dir);
    if (s_sample_all(t, b) != 0)
        goto done;
    s_levels(t, a, b, t0_ms, t->day_events, t->day_rate, t->cpu_sync, t->cpu_rep);
    printf("    day: %llu events over %.0f s; last write -> top report %.2f s\n", (unsigned long long)t->expected,
           day_s, t->day_latency_s);
    fflush(stdout);

    /* one write on a quiet tree */
    sleep(2);
    if (fleet_write(t->fleet, 0, 1, S_CASE_EVENTS) != 0 || fleet_sync(t->fleet, 60000) != 0)
        goto done;
    t->expected += S_CASE_EVENTS;
    fleet_stats(t->fleet, &st);
    if (!(done = s_wait_report(t, t->expected, 120)))
        goto done;
    t->one_latency_ms = (double)(done - st.last_write_us) / 1e3;
    printf("    one case written on a quiet tree -> top report %.0f ms\n", t->one_latency_ms);
    fflush(stdout);

    /* Monday morning: a third were offline for a day */
    if (fleet_online(t->fleet, 0, third, 0) != 0 || fleet_write(t->fleet, 0, third, events) != 0 ||
        fleet_sync(t->fleet, 600000) != 0)
        goto done;
    t->expected += (uint64_t)events * third;
    sleep((unsigned)(6)); /* past SYNC_DEAD_MS: the hubs see them gone */
    if (s_sample_all(t, a) != 0)
        goto done;
    t0 = koop_clock_mono_us();
    t0_ms = koop_clock_real_ms();
    fleet_stats(t->fleet, &dir);
    if (fleet_online(t->fleet, 0, third, 1) != 0 || s_wait_ready(t, t->ngminas, 300) != 0)
        goto done;
    t->monday_ready_s = (double)(koop_clock_mono_us() - t0) / 1e6;
    if (!(done = s_wait_report(t, t->expected, 600)))
        goto done;
    s_dir_count(t, S_DIR_MONDAY, &dir);
    t->monday_top_s = (double)(done - t0) / 1e6;
    if (s_sample_all(t, b) != 0)
        goto done;
    s_levels(t, a, b, t0_ms, t->monday_events, t->monday_rate, t->cpu_sync, t->cpu_rep);
    printf("    monday: %u gminas back with %u events each: all READY in %.1f s, top report counts all %.1f s\n"
           "      after they came back\n",
           third, events, t->monday_ready_s, t->monday_top_s);
    fflush(stdout);

    /* per level: CPU per event over both phases, ingest inside txns, RSS */
    for (int l = 0; l < S_LEVELS; l++) {
        uint64_t ev = t->day_events[l] + t->monday_events[l], ius = 0, iev = 0;
        t->rss_sync[l] = t->rss_rep[l] = 0;
        for (int i = 0; i < t->nhubs; i++) {
            long rs, rr;
            if (t->level[i] != l)
                continue;
            t->hubs_at[l]++;
            iev += b[i].events;
            ius += b[i].ingest_us;
            rs = bench_proc_peak_rss_kb(bench_knode_pid(&t->hubs[i], "sync"));
            rr = bench_proc_peak_rss_kb(bench_knode_pid(&t->hubs[i], "reporting"));
            t->rss_sync[l] = rs > t->rss_sync[l] ? rs : t->rss_sync[l];
            t->rss_rep[l] = rr > t->rss_rep[l] ? rr : t->rss_rep[l];
        }
        t->cpu_sync[l] = ev ? t->cpu_sync[l] / (double)ev : 0;
        t->cpu_rep[l] = ev ? t->cpu_rep[l] / (double)ev : 0;
        t->txn_rate[l] = ius ? (double)iev / ((double)ius / 1e6) : 0;
    }

    /* the national report's latency */
    {
        koop_rpc_client_t *c = koop_rpc_client_new(koop_config_endpoint(&t->hubs[0].cfg, "reporting"));
        bench_lat_t lat;
        if (!c || bench_lat_init(&lat, S_REPORTS) != 0) {
            koop_rpc_client_destroy(&c);
            goto done;
        }
        for (int i = 0; i < S_REPORTS; i++) {
            uint64_t applied, us;
            if (s_report(c, &applied, &us) == 0)
                (void)bench_lat_add(&lat, us);
        }
        t->report_p50_ms = bench_lat_pct_ms(&lat, 50);
        t->report_p99_ms = bench_lat_pct_ms(&lat, 99);
        bench_lat_clear(&lat);
        koop_rpc_client_destroy(&c);
    }
    s_report_status(t);
    fleet_stats(t->fleet, &t->fleet_end);
    if (s_count(t) != 0)
        goto done;
    printf("    at the top: %llu of %llu events exactly once, %llu missing, %llu twice, %llu others; report:\n"
           "      %llu applied, %llu rejected\n",
           (unsigned long long)t->counted, (unsigned long long)t->expected, (unsigned long long)t->missing,
           (unsigned long long)t->doubled, (unsigned long long)t->other, (unsigned long long)t->applied,
           (unsigned long long)t->rejected);
    fflush(stdout);
    rc = t->missing == 0 && t->doubled == 0 ? 0 : -1;
done:
    if (rc != 0)
        fleet_stats(t->fleet, &t->fleet_end); /* what the fleet saw until the failure */
    free(a);
    free(b);
    return rc;
}

/* ---- the two trees ---- */

/* The hub's public key from its certificate. */
static int
s_hub_key(const bench_knode_t *h, uint8_t key[32])
{
    char path[PATH_MAX + 32];
    zcert_t *cert;
    snprintf(path, sizeof path, "%s/keys/node.pub", h->dir);
    cert = zcert_load(path);
    if (!cert)
        return -1;
    memcpy(key, zcert_public_key(cert), 32);
    zcert_destroy(&cert);
    return 0;
}

/* Days since 1970-01-01, 800 days ago: every generated date is in the past. */
static int32_t
s_first_day(void)
{
    return (int32_t)(koop_clock_real_ms() / 86400000u) - 800;
}

static int
s_add_gminas(s_tree *t, int hub_index, int fleet_hub, unsigned count, unsigned *next, const char *powiat)
{
    for (unsigned k = 0; k < count; k++) {
        char node[48], teryt[16];
        if (powiat) /* a TERYT-like code: powiat, gmina number, type (2: rural) */
            snprintf(teryt, sizeof teryt, "%s%02u2", powiat, k + 1);
        else
            snprintf(teryt, sizeof teryt, "9%06u", *next);
        snprintf(node, sizeof node, "gmina-%s", teryt);
        if (fleet_add(t->fleet, fleet_hub, node, teryt, s_first_day(), t->hubs[hub_index].dir) < 0) {
            fprintf(stderr, "bench scale: cannot add gmina %s\n", node);
            return -1;
        }
        (*next)++;
    }
    return 0;
}

static int
s_fleet_hub(s_tree *t, int i)
{
    uint8_t key[32];
    if (s_hub_key(&t->hubs[i], key) != 0)
        return -1;
    return fleet_hub(t->fleet, t->hubs[i].cfg.sync_listen, key);
}

static int
s_build_flat(s_tree *t, const char *tmp, unsigned ngminas)
{
    char dir[PATH_MAX];
    unsigned next = 0;
    int fh;
    t->name = "flat";
    t->nhubs = 1;
    t->hubs = calloc(1, sizeof *t->hubs);
    t->level = calloc(1, sizeof *t->level);
    if (!t->hubs || !t->level)
        return -1;
    t->level[0] = 2; /* a powiat-role hub */
    snprintf(dir, sizeof dir, "%s/flat-hub", tmp);
    if (s_hub_init(t, 0, -1, dir, "1465", "Powiat (2 500 gmin)", NULL) != 0 || s_hubs_start(t) != 0)
        return -1;
    if (!(t->fleet = fleet_new(ngminas)) || (fh = s_fleet_hub(t, 0)) < 0)
        return -1;
    if (s_add_gminas(t, 0, fh, ngminas, &next, NULL) != 0)
        return -1;
    t->ngminas = ngminas;
    return fleet_start(t->fleet);
}

static int
s_build_voivodeship(s_tree *t, const char *tmp, unsigned npowiats, unsigned ngminas)
{
    char dir[PATH_MAX], teryt[16], name[64];
    unsigned next = 0;
    t->name = "voivodeship";
    t->nhubs = 2 + (int)npowiats;
    t->hubs = calloc((size_t)t->nhubs, sizeof *t->hubs);
    t->level = calloc((size_t)t->nhubs, sizeof *t->level);
    if (!t->hubs || !t->level)
        return -1;
    snprintf(dir, sizeof dir, "%s/national", tmp);
    if (s_hub_init(t, 0, -1, dir, "00", "Polska", "hub-pl") != 0)
        return -1;
    t->level[0] = 0;
    snprintf(dir, sizeof dir, "%s/voivodeship", tmp);
    if (s_hub_init(t, 1, 0, dir, "14", "Województwo mazowieckie", NULL) != 0)
        return -1;
    t->level[1] = 1;
    for (unsigned p = 0; p < npowiats; p++) {
        /* TERYT-like codes as in mazowieckie: land powiats from 1401, cities from 1461 */
        unsigned code = p < 37 ? 1401 + p : 1461 + (p - 37);
        snprintf(teryt, sizeof teryt, "%04u", code);
        snprintf(dir, sizeof dir, "%s/powiat-%s", tmp, teryt);
        snprintf(name, sizeof name, "Powiat %s", teryt);
        if (s_hub_init(t, 2 + (int)p, 1, dir, teryt, name, NULL) != 0)
            return -1;
        t->level[2 + p] = 2;
    }
    if (s_hubs_start(t) != 0)
        return -1;
    if (!(t->fleet = fleet_new(ngminas)))
        return -1;
    for (unsigned p = 0; p < npowiats; p++) {
        /* the gminas spread evenly: 314 = 20 powiats of 8 and 22 of 7 */
        unsigned count = ngminas / npowiats + (p < ngminas % npowiats);
        int fh = s_fleet_hub(t, 2 + (int)p);
        if (fh < 0 || s_add_gminas(t, 2 + (int)p, fh, count, &next, t->hubs[2 + p].cfg.teryt) != 0)
            return -1;
    }
    t->ngminas = ngminas;
    return fleet_start(t->fleet);
}

static void
s_tree_free(s_tree *t)
{
    fleet_destroy(&t->fleet);
    for (int i = t->nhubs - 1; t->hubs && i >= 0; i--)
        (void)bench_knode_stop(&t->hubs[i]);
    free(t->hubs);
    free(t->level);
    t->hubs = NULL;
    t->level = NULL;
}

/* ---- the table ---- */

static void
s_print_tree(const s_tree *t)
{
    printf("\n  %s: %u gminas, %d hub(s)\n", t->name, t->ngminas, t->nhubs);
    printf("  %-12s %5s %9s %11s %9s %11s %11s %8s %8s %8s %8s\n", "level", "hubs", "day ev", "day ev/s", "mon ev",
           "mon ev/s", "txn ev/s", "sync us", "rep us", "sync MB", "rep MB");
    for (int l = 0; l < S_LEVELS; l++) {
        char n1[32], n2[32], n3[32], n4[32], n5[32];
        if (!t->hubs_at[l])
            continue;
        printf("  %-12s %5d %9s %11s %9s %11s %11s %8.1f %8.1f %8.1f %8.1f\n", s_level_names[l], t->hubs_at[l],
               bench_fmt_count(n1, sizeof n1, (double)t->day_events[l]), bench_fmt_count(n2, sizeof n2, t->day_rate[l]),
               bench_fmt_count(n3, sizeof n3, (double)t->monday_events[l]),
               bench_fmt_count(n4, sizeof n4, t->monday_rate[l]), bench_fmt_count(n5, sizeof n5, t->txn_rate[l]),
               t->cpu_sync[l], t->cpu_rep[l], (double)t->rss_sync[l] / 1024.0, (double)t->rss_rep[l] / 1024.0);
    }
    printf("  connect storm (all gminas at once, HELLO -> READY)     %8.1f s\n", t->connect_s);
    printf("  day: last gmina write -> top report including it       %8.2f s\n", t->day_latency_s);
    printf("  one case on a quiet tree -> top report                 %8.0f ms\n", t->one_latency_ms);
    printf("  monday: a third back after a day offline -> all READY  %8.1f s\n", t->monday_ready_s);
    printf("  monday: ... -> top report including every event        %8.1f s\n", t->monday_top_s);
    printf("  top report latency (report evaluation, whole area)     %8.2f ms p50, %.2f ms p99\n", t->report_p50_ms,
           t->report_p99_ms);
    printf("  exactly once at the top: %llu of %llu (%llu missing, %llu twice); report applied %llu, rejected %llu\n",
           (unsigned long long)t->counted, (unsigned long long)t->expected, (unsigned long long)t->missing,
           (unsigned long long)t->doubled, (unsigned long long)t->applied, (unsigned long long)t->rejected);
    printf("  fleet: %llu batches, %llu reconnects, %llu gaps, %llu retransmits, %llu refusals, %llu errors\n",
           (unsigned long long)t->fleet_end.batches, (unsigned long long)t->fleet_end.reconnects,
           (unsigned long long)t->fleet_end.gaps, (unsigned long long)t->fleet_end.retransmits,
           (unsigned long long)t->fleet_end.denied, (unsigned long long)t->fleet_end.errors);
    printf("  key directory down (PEERS the gminas got): storm %llu frames %.1f MB; day %llu frames %.1f MB in %.0f s;\n"
           "    monday %llu frames %.1f MB; whole run %llu frames %.1f MB\n"
           "  fleet reconnects: storm %llu, day %llu, monday %llu\n",
           (unsigned long long)t->dir_frames[S_DIR_STORM], (double)t->dir_bytes[S_DIR_STORM] / 1e6,
           (unsigned long long)t->dir_frames[S_DIR_DAY], (double)t->dir_bytes[S_DIR_DAY] / 1e6, t->dir_day_s,
           (unsigned long long)t->dir_frames[S_DIR_MONDAY], (double)t->dir_bytes[S_DIR_MONDAY] / 1e6,
           (unsigned long long)t->fleet_end.dir_frames, (double)t->fleet_end.dir_bytes / 1e6,
           (unsigned long long)t->reconnects[S_DIR_STORM], (unsigned long long)t->reconnects[S_DIR_DAY],
           (unsigned long long)t->reconnects[S_DIR_MONDAY]);
}

int
bench_scale(void)
{
    char tmp[] = "/tmp/koop-bench-scale.XXXXXX";
    const char *only = getenv("KOOP_SCALE_ONLY");
    unsigned events = s_env("KOOP_SCALE_EVENTS", 200), flat = s_env("KOOP_SCALE_FLAT", 2500);
    unsigned powiats = s_env("KOOP_SCALE_POWIATS", 42), gminas = s_env("KOOP_SCALE_GMINAS", 314);
    s_tree trees[2];
    int ntrees = 0, rc = 0;
    uint64_t started = koop_clock_mono_us();

    memset(trees, 0, sizeof trees);
    if (!mkdtemp(tmp))
        return -1;
    if (events < S_SLICES)
        events = S_SLICES;
    printf("scale: simulated gminas (tools/fleet) against real hubs, %u SHARED events per gmina per day\n", events);
    fflush(stdout);
    if (!only || strcmp(only, "flat") == 0) {
        s_tree *t = &trees[ntrees++];
        printf("  flat: one powiat-role hub, %u gminas connected to it\n", flat);
        fflush(stdout);
        if (s_build_flat(t, tmp, flat) != 0 || s_run_tree(t, events) != 0)
            rc = -1;
        s_tree_free(t);
    }
    if (!only || strcmp(only, "voivodeship") == 0) {
        s_tree *t = &trees[ntrees++];
        printf("  voivodeship: %u powiat hubs, %u gminas, a voivodeship hub and a national hub\n", powiats, gminas);
        fflush(stdout);
        if (s_build_voivodeship(t, tmp, powiats, gminas) != 0 || s_run_tree(t, events) != 0)
            rc = -1;
        s_tree_free(t);
    }
    printf("\nscale: the table (events/s: events ingested at the level / from the phase's start to its last\n"
           "commit; txn ev/s: inside the hubs' write transactions; CPU per event of koop-sync and\n"
           "koop-reporting over both phases; MB: peak RSS of the largest hub of the level)\n");
    for (int i = 0; i < ntrees; i++)
        s_print_tree(&trees[i]);
    printf("\n  total run time %.0f s\n", (double)(koop_clock_mono_us() - started) / 1e6);
    if (!getenv("KOOP_BENCH_KEEP"))
        bench_runf(NULL, "rm -rf '%s'", tmp);
    fflush(stdout);
    return rc;
}
