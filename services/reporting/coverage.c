/*
 * coverage.c - distinct entities present at some time in a period: partner
 * institutions in PZKs (an institution in two PZKs, or in two gminas' PZKs,
 * counts once) and households in IPWs (a household with two programmes
 * counts once), in every unit of the chain, exactly, from month counters.
 *
 * An entity's coverage in a unit is a list of merged month spans
 * [s1,e1] < [s2,e2] < ... (disjoint, not adjacent; e = REP_OPEN while it
 * lasts), the union of what its sources give it there (a source: one PZK
 * for an institution, one IPW for a household). The entity is present in
 * [m1, m2] when a span overlaps it. Counting spans that overlap counts an
 * entity once per overlapping span; overlapping spans are consecutive, so
 *
 *   present(m1, m2) = #{spans with s <= m2} - #{spans with e < m1}
 *                     - #{gaps (e_k, s_k+1) with m1 <= e_k and s_k+1 <= m2}
 *
 * The first two are prefix sums of the month counters REP_F_*_START/END
 * (added at s and at e of every span); the gaps (an institution that left
 * every PZK of the unit and came back later, a household with a second IPW
 * after a pause) are few and kept in cov_gap, read by key range.
 *
 * Rows:
 *   cov      kind ID U      -> s_cov_hdr, eff spans (the merged coverage the
 *                              counters hold), frozen spans (from sources
 *                              that can no longer change)
 *   cov_src  kind ID source -> s_src_hdr (the chain of units), spans
 *   cov_src  'u' kind ID U source -> spans: the same spans once per unit
 *                              of the chain (the index by unit, in the same
 *                              table, its keys one byte longer), so that the
 *                              sources of (kind, ID) in U are one prefix
 *                              range: an institution in the PZKs of 2,500
 *                              gminas is walked for a gmina over that
 *                              gmina's PZKs only, not over every PZK
 *   cov_gap  U kind sector E S -> int64 count, int64 weight
 *   cov_gsum U kind N         -> the same by S, every sector in one row, as a
 *                              Fenwick tree over S (reports from the start)
 *
 * Invariant: the counters and gaps of (kind, ID, U) are exactly those of its
 * eff spans with its weight and sector; eff = merge(frozen + every source
 * whose chain holds U). The index holds a row ('u', kind, ID, U, source) for
 * exactly the units U of each cov_src row's chain, with its spans.
 */
#include "reporting.h"
#include "koop.h"
#include "say.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t weight;
    uint8_t sector;
    uint8_t pad;
    uint16_t n_eff;
    uint16_t n_frozen;
    uint16_t pad2;
} s_cov_hdr;

typedef struct {
    uint32_t chain[REP_MAX_DEPTH];
    uint8_t depth;
    uint8_t pad;
    uint16_t n;
} s_src_hdr;

typedef struct {
    s_cov_hdr h;
    rep_span_t eff[REP_MAX_SPANS];
    rep_span_t frozen[REP_MAX_SPANS];
} s_cov;

#define S_COV_KEY (1 + REP_ID + 4)
#define S_SRC_KEY (1 + REP_ID + REP_ID)
#define S_SRC_UNIT_TAG 'u' /* not a kind */
#define S_SRC_UNIT_KEY (1 + S_COV_KEY + REP_ID)
#define S_SRC_UNIT_PREFIX (1 + S_COV_KEY)

static void
s_cov_key(unsigned char key[S_COV_KEY], char kind, const char *id, uint32_t unit)
{
    key[0] = (unsigned char)kind;
    memcpy(key + 1, id, REP_ID);
    rep_be32_put(key + 1 + REP_ID, unit);
}

/* ('u', kind, id, unit, source): the index of sources by unit; source NULL:
 * the prefix of the unit's range. */
static void
s_src_unit_key(unsigned char key[S_SRC_UNIT_KEY], char kind, const char *id, uint32_t unit, const char *source)
{
    key[0] = S_SRC_UNIT_TAG;
    s_cov_key(key + 1, kind, id, unit);
    if (source)
        memcpy(key + S_SRC_UNIT_PREFIX, source, REP_ID);
}

/* Writes (n > 0) or deletes (n = 0) the index row of source in unit. */
static int
s_src_unit_set(rep_proj_t *p, MDB_txn *txn, char kind, const char *id, uint32_t unit, const char *source,
               const rep_span_t *sp, int n)
{
    unsigned char key[S_SRC_UNIT_KEY];
    MDB_val k = {sizeof key, key}, v = {(size_t)n * sizeof *sp, (void *)sp};
    int rc;
    s_src_unit_key(key, kind, id, unit, source);
    if (n > 0)
        return mdb_put(txn, rep_dbi(p, "cov_src"), &k, &v, 0);
    rc = mdb_del(txn, rep_dbi(p, "cov_src"), &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static uint32_t
s_key_unit(const unsigned char *in)
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

static int
s_cmp_span(const void *a, const void *b)
{
    const rep_span_t *x = a, *y = b;
    if (x->s != y->s)
        return x->s < y->s ? -1 : 1;
    return x->e < y->e ? -1 : x->e > y->e;
}

/* Sorts and merges spans in place (overlapping or adjacent months join);
 * returns the new count. */
static int
s_merge(rep_span_t *sp, int n)
{
    int out = 0;
    if (n <= 0)
        return 0;
    qsort(sp, (size_t)n, sizeof *sp, s_cmp_span);
    for (int i = 1; i < n; i++) {
        rep_span_t *last = &sp[out];
        if (last->e == REP_OPEN || (uint32_t)sp[i].s <= (uint32_t)last->e + 1) {
            if (sp[i].e == REP_OPEN || (last->e != REP_OPEN && sp[i].e > last->e))
                last->e = sp[i].e;
        } else {
            sp[++out] = sp[i];
        }
    }
    return out + 1;
}

/* Keeps at most max merged spans: the last two are joined while too many
 * (never met in practice: a household has at most 100 IPWs). */
static int
s_cap(rep_span_t *sp, int n, int max)
{
    if (n > max)
        koop_warn("coverage: %d spans of one entity, joining the last ones", n);
    while (n > max) {
        sp[n - 2].e = sp[n - 1].e;
        n--;
    }
    return n;
}

static int
s_cov_get(rep_proj_t *p, MDB_txn *txn, char kind, const char *id, uint32_t unit, s_cov *out, int *found)
{
    unsigned char key[S_COV_KEY];
    MDB_val k = {sizeof key, key}, v;
    int rc;
    s_cov_key(key, kind, id, unit);
    memset(&out->h, 0, sizeof out->h);
    *found = 0;
    rc = mdb_get(txn, rep_dbi(p, "cov"), &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (v.mv_size < sizeof out->h)
        return MDB_CORRUPTED;
    memcpy(&out->h, v.mv_data, sizeof out->h);
    if (out->h.n_eff > REP_MAX_SPANS || out->h.n_frozen > REP_MAX_SPANS ||
        v.mv_size != sizeof out->h + ((size_t)out->h.n_eff + out->h.n_frozen) * sizeof(rep_span_t))
        return MDB_CORRUPTED;
    memcpy(out->eff, (char *)v.mv_data + sizeof out->h, out->h.n_eff * sizeof(rep_span_t));
    memcpy(out->frozen, (char *)v.mv_data + sizeof out->h + out->h.n_eff * sizeof(rep_span_t),
           out->h.n_frozen * sizeof(rep_span_t));
    *found = 1;
    return 0;
}

static int
s_cov_put(rep_proj_t *p, MDB_txn *txn, char kind, const char *id, uint32_t unit, const s_cov *c)
{
    unsigned char key[S_COV_KEY];
    MDB_val k = {sizeof key, key}, v;
    size_t ne = c->h.n_eff * sizeof(rep_span_t), nf = c->h.n_frozen * sizeof(rep_span_t);
    int rc;
    s_cov_key(key, kind, id, unit);
    if (c->h.n_eff == 0 && c->h.n_frozen == 0) {
        rc = mdb_del(txn, rep_dbi(p, "cov"), &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    v.mv_size = sizeof c->h + ne + nf;
    if ((rc = mdb_put(txn, rep_dbi(p, "cov"), &k, &v, MDB_RESERVE)) != 0)
        return rc;
    memcpy(v.mv_data, &c->h, sizeof c->h);
    memcpy((char *)v.mv_data + sizeof c->h, c->eff, ne);
    memcpy((char *)v.mv_data + sizeof c->h + ne, c->frozen, nf);
    return 0;
}

/* The gaps of a unit and kind by their second month S, as a Fenwick tree
 * over S with every sector in one row (cov_gsum): a report from the start
 * (every gap with S <= m2) reads at most 12 rows per kind instead of every
 * gap of the history. */
typedef struct {
    int64_t count[REP_SECTORS];
    int64_t weight[REP_SECTORS];
} s_gsum;

static int
s_gsum_add(rep_proj_t *p, MDB_txn *txn, uint32_t unit, char kind, int sector, uint16_t s, int64_t count,
           int64_t weight)
{
    MDB_dbi dbi = rep_dbi(p, "cov_gsum");
    if (s >= REP_MONTHS || sector < 0 || sector >= REP_SECTORS)
        return 0; /* not a calendar month: only the scan of cov_gap counts it */
    for (unsigned node = (unsigned)s + 1; node <= REP_FEN; node += node & -node) {
        unsigned char key[7];
        MDB_val k = {sizeof key, key}, v;
        s_gsum g;
        int rc, nonzero = 0;
        rep_be32_put(key, unit);
        key[4] = (unsigned char)kind;
        rep_be16_put(key + 5, (uint16_t)node);
        rc = mdb_get(txn, dbi, &k, &v);
        if (rc == 0 && v.mv_size == sizeof g)
            memcpy(&g, v.mv_data, sizeof g);
        else if (rc == 0)
            return MDB_CORRUPTED;
        else if (rc == MDB_NOTFOUND)
            memset(&g, 0, sizeof g);
        else
            return rc;
        g.count[sector] += count;
        g.weight[sector] += weight;
        for (int i = 0; i < REP_SECTORS && !nonzero; i++)
            nonzero = g.count[i] != 0 || g.weight[i] != 0;
        if (!nonzero)
            rc = rc == 0 ? mdb_del(txn, dbi, &k, NULL) : 0;
        else {
            v.mv_size = sizeof g;
            v.mv_data = &g;
            rc = mdb_put(txn, dbi, &k, &v, 0);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
rep_cov_gaps_from_start(rep_proj_t *p, MDB_txn *txn, uint32_t unit, char kind, uint16_t m2,
                        int64_t count[REP_SECTORS], int64_t weight[REP_SECTORS])
{
    MDB_dbi dbi = rep_dbi(p, "cov_gsum");
    memset(count, 0, REP_SECTORS * sizeof *count);
    memset(weight, 0, REP_SECTORS * sizeof *weight);
    if (m2 >= REP_MONTHS)
        m2 = REP_MONTHS - 1;
    for (unsigned node = (unsigned)m2 + 1; node > 0; node -= node & -node) {
        unsigned char key[7];
        MDB_val k = {sizeof key, key}, v;
        s_gsum g;
        int rc;
        rep_be32_put(key, unit);
        key[4] = (unsigned char)kind;
        rep_be16_put(key + 5, (uint16_t)node);
        rc = mdb_get(txn, dbi, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return rc;
        if (v.mv_size != sizeof g)
            return MDB_CORRUPTED;
        memcpy(&g, v.mv_data, sizeof g);
        for (int i = 0; i < REP_SECTORS; i++) {
            count[i] += g.count[i];
            weight[i] += g.weight[i];
        }
    }
    return 0;
}

static int
s_gap_add(rep_proj_t *p, MDB_txn *txn, uint32_t unit, char kind, int sector, uint16_t e, uint16_t s, int64_t count,
          int64_t weight)
{
    unsigned char key[10];
    MDB_val k = {sizeof key, key}, v;
    int64_t val[2] = {0, 0};
    MDB_dbi dbi = rep_dbi(p, "cov_gap");
    int rc;
    rep_be32_put(key, unit);
    key[4] = (unsigned char)kind;
    key[5] = (unsigned char)sector;
    rep_be16_put(key + 6, e);
    rep_be16_put(key + 8, s);
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0 && v.mv_size == sizeof val)
        memcpy(val, v.mv_data, sizeof val);
    else if (rc == 0)
        return MDB_CORRUPTED;
    else if (rc != MDB_NOTFOUND)
        return rc;
    val[0] += count;
    val[1] += weight;
    if (val[0] == 0 && val[1] == 0)
        rc = rc == 0 ? mdb_del(txn, dbi, &k, NULL) : 0;
    else {
        v.mv_size = sizeof val;
        v.mv_data = val;
        rc = mdb_put(txn, dbi, &k, &v, 0);
    }
    return rc == 0 ? s_gsum_add(p, txn, unit, kind, sector, s, count, weight) : rc;
}

/* Adds (sign +1) or takes away (-1) the counters of spans in unit. */
static int
s_contrib(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc, uint32_t unit, char kind, int sector, int64_t weight,
          const rep_span_t *sp, int n, int sign)
{
    int start, end, rc = 0;
    int64_t w = kind == REP_KIND_HOUSEHOLD ? weight : 0;
    if (kind == REP_KIND_INSTITUTION) {
        start = REP_F_INST_START + sector;
        end = REP_F_INST_END + sector;
    } else {
        start = REP_F_HH_START;
        end = REP_F_HH_END;
        sector = 0;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        rc = rep_acc_add(p, txn, acc, unit, sp[i].s, start, sign);
        if (rc == 0 && w)
            rc = rep_acc_add(p, txn, acc, unit, sp[i].s, REP_F_HH_START_W, sign * w);
        if (rc == 0 && sp[i].e != REP_OPEN) {
            rc = rep_acc_add(p, txn, acc, unit, sp[i].e, end, sign);
            if (rc == 0 && w)
                rc = rep_acc_add(p, txn, acc, unit, sp[i].e, REP_F_HH_END_W, sign * w);
        }
        if (rc == 0 && i + 1 < n)
            rc = s_gap_add(p, txn, unit, kind, sector, sp[i].e, sp[i + 1].s, sign, sign * w);
    }
    return rc;
}

static int
s_chain_has(const s_src_hdr *h, uint32_t unit)
{
    for (int i = 0; i < h->depth && i < REP_MAX_DEPTH; i++)
        if (h->chain[i] == unit)
            return 1;
    return 0;
}

static int
s_src_decode(const MDB_val *v, s_src_hdr *h, const rep_span_t **spans)
{
    if (v->mv_size < sizeof *h)
        return MDB_CORRUPTED;
    memcpy(h, v->mv_data, sizeof *h);
    if (h->depth > REP_MAX_DEPTH || h->n > REP_MAX_SPANS || v->mv_size != sizeof *h + h->n * sizeof(rep_span_t))
        return MDB_CORRUPTED;
    *spans = (const rep_span_t *)((const char *)v->mv_data + sizeof *h); /* read with memcpy only */
    return 0;
}

/* Recomputes the coverage of (kind, id) in unit from its frozen spans and
 * the sources whose chain holds unit (their prefix range in the index); a
 * new row takes def_weight and def_sector. */
static int
s_recompute(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc, char kind, const char *id, uint32_t unit, int64_t def_weight,
            int def_sector)
{
    s_cov *old = NULL, *cov = NULL;
    rep_span_t *all = NULL;
    unsigned char prefix[S_SRC_UNIT_KEY];
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc, found, n = 0, cap = 2 * REP_MAX_SPANS;

    old = malloc(sizeof *old);
    cov = malloc(sizeof *cov);
    all = malloc((size_t)cap * sizeof *all);
    if (!old || !cov || !all) {
        rc = ENOMEM;
        goto fail;
    }
    if ((rc = s_cov_get(p, txn, kind, id, unit, old, &found)) != 0)
        goto fail;
    memcpy(all, old->frozen, old->h.n_frozen * sizeof *all);
    n = old->h.n_frozen;
    s_src_unit_key(prefix, kind, id, unit, NULL);
    if ((rc = mdb_cursor_open(txn, rep_dbi(p, "cov_src"), &cur)) != 0)
        goto fail;
    k.mv_size = S_SRC_UNIT_PREFIX;
    k.mv_data = prefix;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        int ns = (int)(v.mv_size / sizeof *all);
        if (k.mv_size != S_SRC_UNIT_KEY || memcmp(k.mv_data, prefix, S_SRC_UNIT_PREFIX) != 0)
            break;
        if (v.mv_size % sizeof *all != 0 || ns < 1 || ns > REP_MAX_SPANS) {
            rc = MDB_CORRUPTED;
            goto fail;
        }
        if (n + ns > cap) {
            n = s_cap(all, s_merge(all, n), REP_MAX_SPANS);
            if (n + ns > cap) {
                rc = MDB_CORRUPTED;
                goto fail;
            }
        }
        memcpy(all + n, v.mv_data, (size_t)ns * sizeof *all);
        n += ns;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto fail;
    n = s_cap(all, s_merge(all, n), REP_MAX_SPANS);
    cov->h = old->h;
    if (!found) {
        cov->h.weight = def_weight < 0 ? 0 : def_weight;
        cov->h.sector = (uint8_t)(def_sector < 0 || def_sector >= REP_SECTORS ? 0 : def_sector);
    }
    cov->h.n_eff = (uint16_t)n;
    memcpy(cov->eff, all, (size_t)n * sizeof *all);
    memcpy(cov->frozen, old->frozen, old->h.n_frozen * sizeof *all);
    if (found && old->h.n_eff == cov->h.n_eff && memcmp(old->eff, cov->eff, (size_t)n * sizeof *all) == 0) {
        rc = 0; /* nothing counted changes */
        goto fail;
    }
    if ((rc = s_contrib(p, txn, acc, unit, kind, old->h.sector, old->h.weight, old->eff, old->h.n_eff, -1)) != 0 ||
        (rc = s_contrib(p, txn, acc, unit, kind, cov->h.sector, cov->h.weight, cov->eff, cov->h.n_eff, +1)) != 0)
        goto fail;
    rc = s_cov_put(p, txn, kind, id, unit, cov);
fail:
    if (cur)
        mdb_cursor_close(cur);
    free(old);
    free(cov);
    free(all);
    return rc;
}

int
rep_cov_source(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc, char kind, const char *id, const char *source,
               const rep_chain_t *chain, const rep_span_t *spans, int n, int64_t weight, int sector)
{
    unsigned char key[S_SRC_KEY];
    MDB_val k = {sizeof key, key}, v;
    MDB_dbi dbi = rep_dbi(p, "cov_src");
    s_src_hdr old, h;
    uint32_t units[2 * REP_MAX_DEPTH];
    rep_span_t sp[REP_MAX_SPANS];
    int nunits = 0, had, rc;

    if (n < 0 || n > REP_MAX_SPANS || chain->n < 1 || chain->n > REP_MAX_DEPTH)
        return EINVAL;
    if (n > 0) /* n = 0 (spans may be NULL) removes the source */
        memcpy(sp, spans, (size_t)n * sizeof *sp);
    n = s_merge(sp, n);
    key[0] = (unsigned char)kind;
    memcpy(key + 1, id, REP_ID);
    memcpy(key + 1 + REP_ID, source, REP_ID);
    memset(&h, 0, sizeof h);
    for (int i = 0; i < chain->n; i++)
        h.chain[i] = chain->unit[i];
    h.depth = (uint8_t)chain->n;
    h.n = (uint16_t)n;

    rc = mdb_get(txn, dbi, &k, &v);
    had = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (had) {
        const rep_span_t *osp;
        if ((rc = s_src_decode(&v, &old, &osp)) != 0)
            return rc;
        if (n > 0 && memcmp(&old, &h, sizeof h) == 0 && memcmp(osp, sp, (size_t)n * sizeof *sp) == 0)
            return 0; /* the same spans: nothing to do */
        for (int i = 0; i < old.depth; i++)
            units[nunits++] = old.chain[i];
    } else if (n == 0) {
        return 0;
    }
    for (int i = 0; i < chain->n; i++) {
        int seen = 0;
        for (int j = 0; j < nunits; j++)
            seen |= units[j] == chain->unit[i];
        if (!seen)
            units[nunits++] = chain->unit[i];
    }
    if (n == 0) {
        if ((rc = mdb_del(txn, dbi, &k, NULL)) != 0)
            return rc;
    } else {
        v.mv_size = sizeof h + (size_t)n * sizeof *sp;
        if ((rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE)) != 0)
            return rc;
        memcpy(v.mv_data, &h, sizeof h);
        memcpy((char *)v.mv_data + sizeof h, sp, (size_t)n * sizeof *sp);
    }
    /* the index: the new spans in the units of the new chain, none in those
     * only the old one had */
    for (int i = 0; i < nunits; i++)
        if ((rc = s_src_unit_set(p, txn, kind, id, units[i], source, sp, s_chain_has(&h, units[i]) ? n : 0)) != 0 ||
            (rc = s_recompute(p, txn, acc, kind, id, units[i], weight, sector)) != 0)
            return rc;
    return 0;
}

int
rep_cov_freeze(rep_proj_t *p, MDB_txn *txn, char kind, const char *id, const char *source)
{
    unsigned char key[S_SRC_KEY];
    MDB_val k = {sizeof key, key}, v;
    MDB_dbi dbi = rep_dbi(p, "cov_src");
    s_src_hdr h;
    const rep_span_t *sp;
    rep_span_t spans[REP_MAX_SPANS];
    s_cov *cov;
    int rc, found;

    key[0] = (unsigned char)kind;
    memcpy(key + 1, id, REP_ID);
    memcpy(key + 1 + REP_ID, source, REP_ID);
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if ((rc = s_src_decode(&v, &h, &sp)) != 0)
        return rc;
    memcpy(spans, sp, h.n * sizeof *spans);
    if (!(cov = malloc(sizeof *cov)))
        return ENOMEM;
    for (int i = 0; i < h.depth && rc == 0; i++) {
        rep_span_t all[2 * REP_MAX_SPANS];
        int n;
        if ((rc = s_src_unit_set(p, txn, kind, id, h.chain[i], source, NULL, 0)) != 0 ||
            (rc = s_cov_get(p, txn, kind, id, h.chain[i], cov, &found)) != 0)
            break;
        if (!found)
            continue; /* cannot be: the source is counted where its chain goes */
        memcpy(all, cov->frozen, cov->h.n_frozen * sizeof *all);
        memcpy(all + cov->h.n_frozen, spans, h.n * sizeof *all);
        n = s_cap(all, s_merge(all, cov->h.n_frozen + h.n), REP_MAX_SPANS);
        memcpy(cov->frozen, all, (size_t)n * sizeof *all);
        cov->h.n_frozen = (uint16_t)n;
        rc = s_cov_put(p, txn, kind, id, h.chain[i], cov);
    }
    free(cov);
    if (rc == 0)
        rc = mdb_del(txn, dbi, &k, NULL);
    return rc;
}

int
rep_cov_outside(rep_proj_t *p, MDB_txn *txn, char kind, const char *id, const rep_chain_t *chain, uint32_t *unit)
{
    unsigned char prefix[1 + REP_ID];
    unsigned char own[S_COV_KEY];
    MDB_cursor *cur;
    MDB_val k = {sizeof own, own}, v;
    int rc;

    *unit = 0;
    if (chain->n > 0) { /* covered in the chain's own unit: one lookup */
        s_cov_key(own, kind, id, chain->unit[0]);
        rc = mdb_get(txn, rep_dbi(p, "cov"), &k, &v);
        if (rc != MDB_NOTFOUND)
            return rc;
    }
    /* the first unit by number that is not the chain's: at most chain->n
     * rows of the chain's units come before it */
    prefix[0] = (unsigned char)kind;
    memcpy(prefix + 1, id, REP_ID);
    if ((rc = mdb_cursor_open(txn, rep_dbi(p, "cov"), &cur)) != 0)
        return rc;
    k.mv_size = sizeof prefix;
    k.mv_data = prefix;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && !*unit;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *kb = k.mv_data;
        uint32_t u;
        int in = 0;
        if (k.mv_size != S_COV_KEY || memcmp(kb, prefix, sizeof prefix) != 0)
            break;
        u = s_key_unit(kb + 1 + REP_ID);
        for (int i = 0; i < chain->n; i++)
            in |= chain->unit[i] == u;
        if (!in)
            *unit = u;
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

int
rep_cov_attr(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc, char kind, const char *id, int64_t weight, int sector)
{
    unsigned char prefix[1 + REP_ID];
    uint32_t units[64];
    MDB_cursor *cur;
    MDB_val k, v;
    s_cov *cov;
    int n = 0, rc, found;

    prefix[0] = (unsigned char)kind;
    memcpy(prefix + 1, id, REP_ID);
    if ((rc = mdb_cursor_open(txn, rep_dbi(p, "cov"), &cur)) != 0)
        return rc;
    k.mv_size = sizeof prefix;
    k.mv_data = prefix;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && n < 64; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != S_COV_KEY || memcmp(k.mv_data, prefix, sizeof prefix) != 0)
            break;
        const unsigned char *kb = k.mv_data;
        units[n++] = s_key_unit(kb + 1 + REP_ID);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (!(cov = malloc(sizeof *cov)))
        return ENOMEM;
    rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        s_cov_hdr was;
        if ((rc = s_cov_get(p, txn, kind, id, units[i], cov, &found)) != 0 || !found)
            break;
        was = cov->h;
        if (weight >= 0)
            cov->h.weight = weight;
        if (sector >= 0 && sector < REP_SECTORS)
            cov->h.sector = (uint8_t)sector;
        if (was.weight == cov->h.weight && was.sector == cov->h.sector)
            continue;
        if ((rc = s_contrib(p, txn, acc, units[i], kind, was.sector, was.weight, cov->eff, cov->h.n_eff, -1)) != 0 ||
            (rc = s_contrib(p, txn, acc, units[i], kind, cov->h.sector, cov->h.weight, cov->eff, cov->h.n_eff, +1)) != 0)
            break;
        rc = s_cov_put(p, txn, kind, id, units[i], cov);
    }
    free(cov);
    return rc;
}

int
rep_cov_gaps(rep_proj_t *p, MDB_txn *txn, uint32_t unit, char kind, int sector, uint16_t m1, uint16_t m2,
             int64_t *count, int64_t *weight)
{
    unsigned char key[10];
    MDB_cursor *cur;
    MDB_val k = {sizeof key, key}, v;
    int rc;

    *count = *weight = 0;
    rep_be32_put(key, unit);
    key[4] = (unsigned char)kind;
    key[5] = (unsigned char)sector;
    rep_be16_put(key + 6, m1);
    rep_be16_put(key + 8, 0);
    if ((rc = mdb_cursor_open(txn, rep_dbi(p, "cov_gap"), &cur)) != 0)
        return rc;
    /* gaps are sorted by their first month E; one with E > m2 cannot end by m2 */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *kb = k.mv_data;
        int64_t val[2];
        if (k.mv_size != 10 || memcmp(kb, key, 6) != 0 || rep_be16_get(kb + 6) > m2)
            break;
        if (v.mv_size != sizeof val) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (rep_be16_get(kb + 8) <= m2) {
            memcpy(val, v.mv_data, sizeof val);
            *count += val[0];
            *weight += val[1];
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
