/*
 * The projection's batches (rep_apply_begin .. rep_apply_end, as the feed
 * drives it) must leave exactly the tables that applying each event on its
 * own leaves: the same events (a powiat hub's merged stream of 40 gminas'
 * SHARED facts, made by the fleet simulator's generator) go into two
 * projections, one event per transaction and in batches of several sizes,
 * some past the 1,024 month rows a batch holds in memory; then every table
 * of the two stores is compared byte for byte. An aborted batch leaves
 * nothing behind for the next one.
 */
#include "../../services/reporting/reporting.h"
#include "../../tools/fleet/facts.h"
#include "envelope.pb-c.h"
#include "store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_GMINAS 40
#define S_EVENTS 30000

typedef struct {
    char dir[64];
    koop_store_t *store;
    rep_proj_t *proj;
} s_side;

static s_side a, b;
static uint8_t *s_env[S_EVENTS];
static size_t s_len[S_EVENTS];

static void
s_open(s_side *s)
{
    rep_self_t self;
    MDB_txn *txn;
    int cleared;
    memset(&self, 0, sizeof self);
    snprintf(self.node, sizeof self.node, "hub-1465");
    snprintf(self.teryt, sizeof self.teryt, "1465");
    self.hub = 1;
    snprintf(s->dir, sizeof s->dir, "/tmp/krepb.XXXXXX");
    cr_assert_not_null(mkdtemp(s->dir));
    cr_assert_eq(koop_store_open(&s->store, s->dir, rep_tables), 0);
    cr_assert_eq(mdb_env_set_flags(koop_store_env(s->store), MDB_NOSYNC, 1), 0);
    cr_assert_eq(rep_proj_new(&s->proj, s->store, &self), 0);
    cr_assert_eq(mdb_txn_begin(koop_store_env(s->store), NULL, 0, &txn), 0);
    cr_assert_eq(rep_proj_init(s->proj, txn, &cleared), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
}

static void
s_close(s_side *s)
{
    char cmd[128];
    rep_proj_destroy(&s->proj);
    koop_store_destroy(&s->store);
    snprintf(cmd, sizeof cmd, "rm -rf %s", s->dir);
    cr_assert_eq(system(cmd), 0);
}

/* The hub's merged stream: each gmina's envelope inside one of the hub's. */
static void
s_make(void)
{
    fleet_facts_t g[S_GMINAS];
    uint64_t gseq[S_GMINAS] = {0};
    for (int i = 0; i < S_GMINAS; i++) {
        char teryt[16];
        snprintf(teryt, sizeof teryt, "1465%02d2", (i + 1) % 100);
        /* cases over ten years: many months per gmina, so many month rows */
        fleet_facts_init(&g[i], (uint32_t)i + 1, teryt, 16436, 3650, 3);
        snprintf(g[i].owner, sizeof g[i].owner, "gmina-%s", teryt);
    }
    for (int e = 0; e < S_EVENTS; e++) {
        int i = (e * 7) % S_GMINAS;
        char node[32];
        Koop__Event in = KOOP__EVENT__INIT, out = KOOP__EVENT__INIT;
        uint8_t *inner;
        size_t ilen;
        fleet_facts_next(&g[i]);
        snprintf(node, sizeof node, "gmina-%s", g[i].teryt);
        in.node = node;
        in.stream = (char *)g[i].stream;
        in.has_seq = in.has_scope = in.has_payload = 1;
        in.seq = ++gseq[i];
        in.scope = KOOP__SCOPE__SCOPE_SHARED;
        in.type = (char *)g[i].type;
        in.payload.data = g[i].buf;
        in.payload.len = g[i].len;
        inner = malloc(koop__event__get_packed_size(&in));
        cr_assert_not_null(inner);
        ilen = koop__event__pack(&in, inner);
        out.node = "hub-1465";
        out.stream = "sync";
        out.has_seq = out.has_scope = out.has_payload = 1;
        out.seq = (uint64_t)e + 1;
        out.scope = KOOP__SCOPE__SCOPE_SHARED;
        out.type = "sync.event";
        out.payload.data = inner;
        out.payload.len = ilen;
        s_env[e] = malloc(koop__event__get_packed_size(&out));
        cr_assert_not_null(s_env[e]);
        s_len[e] = koop__event__pack(&out, s_env[e]);
        free(inner);
    }
}

static void
s_setup(void)
{
    s_make();
    s_open(&a);
    s_open(&b);
}

static void
s_teardown(void)
{
    s_close(&a);
    s_close(&b);
    for (int e = 0; e < S_EVENTS; e++)
        free(s_env[e]);
}

TestSuite(reporting_batch, .init = s_setup, .fini = s_teardown, .timeout = 120);

typedef struct {
    rep_proj_t *proj;
    int from, to;
    int batched;
    int fail_after; /* a storage error after this many events (-1: none) */
} s_run;

static int
s_apply_fn(MDB_txn *txn, void *ctx)
{
    s_run *r = ctx;
    int rc = r->batched ? rep_apply_begin(txn, r->proj) : 0;
    for (int e = r->from; e < r->to && rc == 0; e++) {
        Koop__Event *ev = koop__event__unpack(NULL, s_len[e], s_env[e]);
        cr_assert_not_null(ev);
        if (r->fail_after >= 0 && e - r->from == r->fail_after)
            rc = MDB_PANIC; /* as if a put had failed: the txn is aborted */
        else
            rc = rep_apply(txn, ev, r->proj);
        koop__event__free_unpacked(ev, NULL);
    }
    if (rc == 0 && r->batched)
        rc = rep_apply_end(txn, r->proj);
    return rc;
}

static void
s_apply(rep_proj_t *p, int from, int to, int batched)
{
    s_run r = {p, from, to, batched, -1};
    cr_assert_eq(koop_store_write(rep_proj_store(p), s_apply_fn, &r), 0);
}

/* Every table of both stores, key by key, value by value. */
static void
s_assert_same(void)
{
    MDB_txn *ta, *tb;
    cr_assert_eq(koop_store_read(a.store, &ta), 0);
    cr_assert_eq(koop_store_read(b.store, &tb), 0);
    for (int t = 0; rep_tables[t]; t++) {
        MDB_cursor *ca, *cb;
        MDB_val ka, va, kb, vb;
        int ra, rb;
        size_t rows = 0;
        cr_assert_eq(mdb_cursor_open(ta, koop_store_dbi(a.store, rep_tables[t]), &ca), 0);
        cr_assert_eq(mdb_cursor_open(tb, koop_store_dbi(b.store, rep_tables[t]), &cb), 0);
        for (;;) {
            ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
            rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
            cr_assert_eq(ra, rb, "table %s: one store has more rows than the other (after %zu)", rep_tables[t], rows);
            if (ra != 0)
                break;
            cr_assert(ka.mv_size == kb.mv_size && memcmp(ka.mv_data, kb.mv_data, ka.mv_size) == 0,
                      "table %s: row %zu has different keys", rep_tables[t], rows);
            cr_assert(va.mv_size == vb.mv_size && memcmp(va.mv_data, vb.mv_data, va.mv_size) == 0,
                      "table %s: row %zu has different values", rep_tables[t], rows);
            rows++;
        }
        cr_assert_eq(ra, MDB_NOTFOUND);
        mdb_cursor_close(ca);
        mdb_cursor_close(cb);
    }
    mdb_txn_abort(ta);
    mdb_txn_abort(tb);
}

Test(reporting_batch, batches_leave_exactly_what_single_events_leave)
{
    static const int sizes[] = {1, 7, 500, 3000, 12000};
    int done = 0;
    rep_stats_t sa, sb;
    MDB_txn *txn;
    for (int e = 0; e < S_EVENTS; e++)
        s_apply(a.proj, e, e + 1, 0);
    for (int i = 0; done < S_EVENTS; i = (i + 1) % 5) {
        int to = done + sizes[i] < S_EVENTS ? done + sizes[i] : S_EVENTS;
        s_apply(b.proj, done, to, 1);
        done = to;
    }
    s_assert_same();
    cr_assert_eq(koop_store_read(a.store, &txn), 0);
    cr_assert_eq(rep_proj_stats(a.proj, txn, &sa), 0);
    mdb_txn_abort(txn);
    cr_assert_eq(koop_store_read(b.store, &txn), 0);
    cr_assert_eq(rep_proj_stats(b.proj, txn, &sb), 0);
    mdb_txn_abort(txn);
    cr_assert_eq(sa.applied + sa.ignored + sa.rejected, S_EVENTS);
    cr_assert_eq(sa.rejected, 0, "the generated events are all valid");
    cr_assert(sa.applied == sb.applied && sa.ignored == sb.ignored && sa.rejected == sb.rejected);
}

Test(reporting_batch, an_aborted_batch_leaves_nothing_for_the_next)
{
    s_run bad = {b.proj, 0, 5000, 1, 4000};
    for (int e = 0; e < 10000; e++)
        s_apply(a.proj, e, e + 1, 0);
    /* 4,000 events held in memory, then the transaction fails */
    cr_assert_eq(koop_store_write(b.store, s_apply_fn, &bad), MDB_PANIC);
    s_apply(b.proj, 0, 10000, 1);
    s_assert_same();
}

/* A report from the start reads the gaps from the tree over S; it must give
 * what scanning every gap gives, for every unit, sector and end month. */
Test(reporting_batch, gaps_from_the_start_are_the_scans_totals)
{
    MDB_txn *txn;
    int checked = 0;
    s_apply(b.proj, 0, S_EVENTS, 1);
    cr_assert_eq(koop_store_read(b.store, &txn), 0);
    for (uint32_t unit = 1; unit <= S_GMINAS + 1; unit++)
        for (int kind = 0; kind < 2; kind++) {
            char k = kind ? REP_KIND_HOUSEHOLD : REP_KIND_INSTITUTION;
            for (uint16_t m2 = 1380; m2 < 1460; m2 += 7) { /* 2015 .. 2021 */
                int64_t gn[REP_SECTORS], gw[REP_SECTORS];
                cr_assert_eq(rep_cov_gaps_from_start(b.proj, txn, unit, k, m2, gn, gw), 0);
                for (int sct = 0; sct < (kind ? 1 : REP_SECTORS); sct++) {
                    int64_t n, w;
                    cr_assert_eq(rep_cov_gaps(b.proj, txn, unit, k, sct, 0, m2, &n, &w), 0);
                    cr_assert(n == gn[sct] && w == gw[sct], "unit %u kind %c sector %d to month %u: scan %lld/%lld, tree %lld/%lld",
                              unit, k, sct, m2, (long long)n, (long long)w, (long long)gn[sct], (long long)gw[sct]);
                    checked += n != 0;
                }
            }
        }
    mdb_txn_abort(txn);
    cr_assert_gt(checked, 100, "too few gaps to compare (%d)", checked);
}
