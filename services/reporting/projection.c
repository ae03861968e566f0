/*
 * projection.c - the reporting projection: the model's indicators kept as
 * counters, built from events only, in the reporting service's own LMDB and
 * changed in the feed's write transaction (the one that moves the cursor,
 * feed.c), so each event counts exactly once across crashes.
 *
 * UNITS. An event belongs to a chain of units: the node that wrote it, then
 * every node above it up to this one. On a gmina that is [gmina]. On a
 * powiat hub the merged stream "sync" carries each gmina's envelope inside
 * an envelope of the hub (payload = the gmina's bytes as stored), so its
 * events are [gmina, hub]; the hub's own registry gives [hub]; one more
 * level per hub above. Counters are kept for every unit of the chain: a
 * powiat's figure is read, not summed over gminas, and a distinct count (an
 * institution in two gminas' PZKs) stays distinct at the powiat.
 *
 * TABLES (keys big-endian; U = unit number u32; M = month u16, see
 * reporting.h; D = day i32 biased to sort; ID = a 36-char UUID):
 *   month     U N            -> rep_month_t: a Fenwick tree over the months
 *                               (node N = 1..REP_FEN holds the sum of months
 *                               N - (N & -N) .. N - 1), so a report reads
 *                               the counters of any span of months in at
 *                               most 2 x 12 rows, whatever the history;
 *                               N = REP_MONTH_NOW: the list of services today
 *   unit      node id        -> rep_unit_t (number, parent, hub flag, TERYT)
 *   unit_no   U              -> node id
 *   unit_name node id        -> the name the node gave itself (node.described)
 *   cov       kind ID U      -> coverage of a distinct entity (coverage.c)
 *   cov_src   kind ID source -> spans one source gives it, and the same by
 *             unit: 'u' kind ID U source (coverage.c)
 *   cov_gap   U kind sector E S -> gaps between covered spans (coverage.c)
 *   open_due  U D            -> int64[13]: open tasks due on D, by owner sector
 *   answer    U N            -> answers to referrals by days taken: a Fenwick
 *                               tree over the months like `month`, each node
 *                               a sorted list (be16 days, int64 count)
 *   category  U text         -> active list entries of the category
 *   verified  U D            -> active list entries last verified on D
 *   institution ID -> sector;  agreement, pzk, catalogue, ipw, goal, task,
 *   referral  ID             -> the entity's state (structs below)
 *   ipw_child ID kind ID     -> "" (goals/tasks/referrals of an IPW)
 *   meta      "format" u32, "next_unit" u32, "stats" rep_stats_t
 *
 * INVARIANT. For every entity the counters hold exactly contrib(state) of its
 * current state. Applying an event loads the state, subtracts contrib(old),
 * adds contrib(new) (coalesced in a rep_acc_t, written once per unit and
 * month) and stores the new state. So updates, late sectors and reviews
 * entered out of date order land where they belong, and any interleaving of
 * the feeds gives the same figures (what `rebuild` relies on). Entity rows
 * exist only while a further event can change the entity: a closed IPW and
 * its goals, tasks and referrals, a done or cancelled task, a declined or
 * done referral are forgotten (their contribution stays). The tables thus
 * grow with the open work and the number of partners and households, not
 * with the length of the history; a report reads month rows (bounded by the
 * calendar) and small side tables (report.c).
 *
 * Rows are C structs copied as bytes: the projection can always be rebuilt
 * from the logs, and a store written by a build with another REP_FORMAT is
 * cleared at start (rep_proj_init) and refilled by the feeds.
 *
 * A malformed or inconsistent event (bad id or date, an unknown IPW) is
 * counted as rejected and skipped - it must not stop the feed; every check is
 * made before the first write of that event.
 */
#include "reporting.h"
#include "cases.pb-c.h"
#include "clock.h"
#include "events.h"
#include "id.h"
#include "koop.h"
#include "registry.pb-c.h"
#include "say.h"
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REP_FORMAT 8u /* 6: registry rows begin with their owner unit (cases rows keep theirs); 7: unit names;
                         8: coverage sources indexed by unit (coverage.c) */

const char *const rep_tables[] = {
    "month", "unit", "unit_no", "cov", "cov_src", "cov_gap", "cov_gsum", "open_due", "answer", "category", "verified",
    "institution", "pzk", "agreement", "catalogue", "ipw", "goal", "task", "referral", "ipw_child", "meta",
    "meeting", "unit_name", NULL,
};

/* A month row held during a batch. */
typedef struct {
    uint64_t key;    /* unit << 16 | month; 0: free (units start at 1) */
    int existed;     /* it was in the table when the batch first read it */
    rep_month_t row;
} s_mrow;

#define S_ROWS_CAP 2048 /* slots; written back when half are used */

struct rep_proj {
    koop_store_t *store;
    rep_self_t self;
    uint32_t self_no;
    MDB_dbi month, unit, unit_no, meta, unit_name;
    MDB_dbi institution, pzk, agreement, catalogue, ipw, goal, task, referral, ipw_child, meeting;
    MDB_dbi open_due, answer, category, verified;
    rep_acc_t acc;   /* one event's pending counter changes */
    uint64_t warned; /* rejected events logged so far (rate limit) */
    uint64_t refused; /* rejected or not owned, since the last rep_proj_take_refused */
    uint64_t batch_refused; /* of the batch under way (added at its end) */
    /* a batch (rep_apply_begin .. rep_apply_end, in one write txn): the
     * month rows and the stats its events change, kept here and written
     * once at its end */
    MDB_txn *batch_txn;
    s_mrow *rows;     /* open addressing by (unit, month), S_ROWS_CAP slots */
    uint32_t *used;   /* the slots in use, S_ROWS_CAP / 2 at most */
    size_t nrows;
    rep_stats_t stats;
    rep_family_cache_t *families; /* report.c's */
};

/* ---- calendar ---- */

static int32_t
s_days_from_civil(int y, int m, int d)
{
    int era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + (int)doe - 719468);
}

static void
s_civil_from_days(int32_t z, int *y, int *m, int *d)
{
    int era;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)yoe + era * 400 + (*m <= 2);
}

int
rep_day_parse(const char *s, int32_t *day)
{
    if (!koop_date_valid(s))
        return -1;
    *day = (int32_t)koop_date_days(s);
    return 0;
}

void
rep_day_format(int32_t day, char out[11])
{
    int y, m, d;
    s_civil_from_days(day, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = 0;
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
}

uint16_t
rep_month_of(int32_t day)
{
    int y, m, d, idx;
    s_civil_from_days(day, &y, &m, &d);
    idx = (y - 1900) * 12 + m - 1;
    if (idx < 0)
        idx = 0;
    if (idx >= REP_MONTHS)
        idx = REP_MONTHS - 1;
    return (uint16_t)idx;
}

int32_t
rep_month_first(uint16_t month)
{
    return s_days_from_civil(1900 + month / 12, month % 12 + 1, 1);
}

int32_t
rep_month_last(uint16_t month)
{
    return rep_month_first((uint16_t)(month + 1)) - 1;
}

/* An optional date of an event: REP_NO_DAY when absent or empty; -1 when
 * given but not a date. */
static int
s_opt_day(const char *s, int32_t *day)
{
    *day = REP_NO_DAY;
    if (!s || !*s)
        return 0;
    return rep_day_parse(s, day);
}

/* ---- small helpers ---- */


/* Days keep their order as keys when biased. */
static uint32_t
s_day_key(int32_t day)
{
    return (uint32_t)day ^ 0x80000000u;
}

static int
s_sector(int has, int sector)
{
    return has && sector > 0 && sector < REP_SECTORS ? sector : 0;
}

static int
s_popcount(unsigned v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

MDB_dbi
rep_dbi(rep_proj_t *p, const char *table)
{
    return koop_store_dbi(p->store, table);
}

int
rep_counter_add(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, int64_t delta)
{
    MDB_val k = {klen, (void *)key}, v;
    int64_t value = 0;
    int rc;
    if (delta == 0)
        return 0;
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0 && v.mv_size == sizeof value)
        memcpy(&value, v.mv_data, sizeof value);
    else if (rc == 0)
        return MDB_CORRUPTED;
    else if (rc != MDB_NOTFOUND)
        return rc;
    value += delta;
    if (value == 0)
        return rc == 0 ? mdb_del(txn, dbi, &k, NULL) : 0;
    v.mv_size = sizeof value;
    v.mv_data = &value;
    return mdb_put(txn, dbi, &k, &v, 0);
}

/* ---- meta ---- */

static int
s_meta_get(MDB_txn *txn, MDB_dbi dbi, const char *key, void *out, size_t size)
{
    MDB_val v;
    int rc = koop_store_get_str(txn, dbi, key, &v);
    if (rc != 0)
        return rc;
    if (v.mv_size != size)
        return MDB_CORRUPTED;
    memcpy(out, v.mv_data, size);
    return 0;
}

int
rep_proj_stats(rep_proj_t *p, MDB_txn *txn, rep_stats_t *out)
{
    int rc;
    if (p->batch_txn && p->batch_txn == txn) {
        *out = p->stats;
        return 0;
    }
    rc = s_meta_get(txn, p->meta, "stats", out, sizeof *out);
    if (rc == MDB_NOTFOUND) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    return rc;
}

/* ---- month counters and the accumulator ---- */

static void
s_month_key(unsigned char key[6], uint32_t unit, uint16_t month)
{
    rep_be32_put(key, unit);
    key[4] = (unsigned char)(month >> 8);
    key[5] = (unsigned char)month;
}

/* The table's row (zeros when none); *existed says whether there was one. */
static int
s_month_read(rep_proj_t *p, MDB_txn *txn, uint32_t unit, uint16_t month, rep_month_t *out, int *existed)
{
    unsigned char key[6];
    MDB_val k = {sizeof key, key}, v;
    int rc;
    s_month_key(key, unit, month);
    memset(out, 0, sizeof *out);
    *existed = 0;
    rc = mdb_get(txn, p->month, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (v.mv_size != sizeof *out)
        return MDB_CORRUPTED;
    memcpy(out, v.mv_data, sizeof *out);
    *existed = 1;
    return 0;
}

/* Writes a row back: put, or delete when every counter is 0 again. */
static int
s_month_write(rep_proj_t *p, MDB_txn *txn, uint32_t unit, uint16_t month, const rep_month_t *rec, int existed)
{
    unsigned char key[6];
    MDB_val k = {sizeof key, key}, v = {sizeof *rec, (void *)rec};
    int nonzero = 0;
    for (int f = 0; f < REP_F_COUNT && !nonzero; f++)
        nonzero = rec->v[f] != 0;
    s_month_key(key, unit, month);
    if (!nonzero)
        return existed ? mdb_del(txn, p->month, &k, NULL) : 0;
    return mdb_put(txn, p->month, &k, &v, 0);
}

/* The batch's slot of (unit, month), or NULL when it holds none. */
static s_mrow *
s_mrow_find(rep_proj_t *p, uint64_t key)
{
    for (size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 53) & (S_ROWS_CAP - 1);; i = (i + 1) & (S_ROWS_CAP - 1)) {
        if (p->rows[i].key == key || p->rows[i].key == 0)
            return &p->rows[i];
    }
}

/* Writes every row the batch holds and forgets them. */
static int
s_mrows_write_back(rep_proj_t *p, MDB_txn *txn)
{
    int rc = 0;
    for (size_t i = 0; i < p->nrows; i++) {
        s_mrow *r = &p->rows[p->used[i]];
        if (rc == 0)
            rc = s_month_write(p, txn, (uint32_t)(r->key >> 16), (uint16_t)r->key, &r->row, r->existed);
        r->key = 0;
    }
    p->nrows = 0;
    return rc;
}

/* The batch's row of (unit, month), read from the table on first use. */
static int
s_mrow_get(rep_proj_t *p, MDB_txn *txn, uint32_t unit, uint16_t month, s_mrow **out)
{
    uint64_t key = (uint64_t)unit << 16 | month;
    s_mrow *r = s_mrow_find(p, key);
    int rc;
    if (r->key == 0) {
        if (p->nrows >= S_ROWS_CAP / 2) {
            if ((rc = s_mrows_write_back(p, txn)) != 0)
                return rc;
            r = s_mrow_find(p, key);
        }
        if ((rc = s_month_read(p, txn, unit, month, &r->row, &r->existed)) != 0)
            return rc;
        r->key = key;
        p->used[p->nrows++] = (uint32_t)(r - p->rows);
    }
    *out = r;
    return 0;
}

static int
s_in_batch(const rep_proj_t *p, MDB_txn *txn)
{
    return p->batch_txn && p->batch_txn == txn;
}

int
rep_month_get(rep_proj_t *p, MDB_txn *txn, uint32_t unit, uint16_t month, rep_month_t *out)
{
    int existed;
    if (s_in_batch(p, txn)) {
        s_mrow *r = s_mrow_find(p, (uint64_t)unit << 16 | month);
        if (r->key) {
            *out = r->row;
            return 0;
        }
    }
    return s_month_read(p, txn, unit, month, out, &existed);
}

int
rep_apply_begin(MDB_txn *txn, void *ctx)
{
    rep_proj_t *p = ctx;
    int rc;
    p->batch_txn = NULL;
    for (size_t i = 0; i < p->nrows; i++) /* what an aborted batch left */
        p->rows[p->used[i]].key = 0;
    p->nrows = 0;
    p->batch_refused = 0;
    if ((rc = rep_proj_stats(p, txn, &p->stats)) != 0)
        return rc;
    p->batch_txn = txn;
    return 0;
}

int
rep_apply_end(MDB_txn *txn, void *ctx)
{
    rep_proj_t *p = ctx;
    int rc;
    if (!s_in_batch(p, txn))
        return 0;
    rc = s_mrows_write_back(p, txn);
    if (rc == 0)
        rc = koop_store_put_str(txn, p->meta, "stats", &p->stats, sizeof p->stats);
    if (rc == 0)
        p->refused += p->batch_refused;
    p->batch_refused = 0;
    p->batch_txn = NULL;
    return rc;
}

/* Adds the deltas d[0..n) (field, delta) to the stored row (unit, key): in
 * the batch's rows during a batch, straight to the table otherwise. */
static int
s_row_add(rep_proj_t *p, MDB_txn *txn, uint32_t unit, uint16_t key, const uint16_t *field, const int64_t *delta,
          int n)
{
    rep_month_t own, *rec = &own;
    s_mrow *row;
    int rc, existed = 0, batch = s_in_batch(p, txn);
    if (batch) {
        if ((rc = s_mrow_get(p, txn, unit, key, &row)) != 0)
            return rc;
        rec = &row->row;
    } else if ((rc = s_month_read(p, txn, unit, key, &own, &existed)) != 0) {
        return rc;
    }
    for (int j = 0; j < n; j++)
        rec->v[field[j]] += delta[j];
    return batch ? 0 : s_month_write(p, txn, unit, key, &own, existed);
}

int
rep_acc_flush(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc)
{
    uint16_t field[REP_ACC_MAX];
    int64_t delta[REP_ACC_MAX];
    int rc = 0;
    /* entries of one (unit, month) are gathered by a pass per first-seen pair */
    for (int i = 0; i < acc->n && rc == 0; i++) {
        uint32_t unit = acc->d[i].unit;
        uint16_t month = acc->d[i].month;
        int n = 0;
        if (acc->d[i].field == UINT16_MAX)
            continue; /* already written with an earlier entry */
        for (int j = i; j < acc->n; j++)
            if (acc->d[j].field != UINT16_MAX && acc->d[j].unit == unit && acc->d[j].month == month) {
                if (acc->d[j].delta != 0) {
                    field[n] = acc->d[j].field;
                    delta[n++] = acc->d[j].delta;
                }
                acc->d[j].field = UINT16_MAX;
            }
        if (n == 0)
            continue;
        if (month == REP_MONTH_NOW) {
            rc = s_row_add(p, txn, unit, month, field, delta, n);
            continue;
        }
        /* a calendar month: into every Fenwick node that covers it */
        for (unsigned node = (unsigned)month + 1; node <= REP_FEN && rc == 0; node += node & -node)
            rc = s_row_add(p, txn, unit, (uint16_t)node, field, delta, n);
    }
    acc->n = 0;
    return rc;
}

int
rep_month_prefix(rep_proj_t *p, MDB_txn *txn, uint32_t unit, int month, rep_month_t *out)
{
    memset(out, 0, sizeof *out);
    if (month >= REP_MONTHS)
        month = REP_MONTHS - 1;
    for (unsigned node = month < 0 ? 0 : (unsigned)month + 1; node > 0; node -= node & -node) {
        rep_month_t rec;
        int rc = rep_month_get(p, txn, unit, (uint16_t)node, &rec);
        if (rc != 0)
            return rc;
        for (int f = 0; f < REP_F_COUNT; f++)
            out->v[f] += rec.v[f];
    }
    return 0;
}

int
rep_acc_add(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc, uint32_t unit, uint16_t month, int field, int64_t delta)
{
    int rc;
    if (delta == 0)
        return 0;
    for (int i = acc->n - 1; i >= 0; i--)
        if (acc->d[i].unit == unit && acc->d[i].month == month && acc->d[i].field == field) {
            acc->d[i].delta += delta;
            return 0;
        }
    if (acc->n == REP_ACC_MAX && (rc = rep_acc_flush(p, txn, acc)) != 0)
        return rc;
    acc->d[acc->n].unit = unit;
    acc->d[acc->n].month = month;
    acc->d[acc->n].field = (uint16_t)field;
    acc->d[acc->n].delta = delta;
    acc->n++;
    return 0;
}

int
rep_acc_chain(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc, const rep_chain_t *chain, uint16_t month, int field,
              int64_t delta)
{
    int rc = 0;
    for (int i = 0; i < chain->n && rc == 0; i++)
        rc = rep_acc_add(p, txn, acc, chain->unit[i], month, field, delta);
    return rc;
}

/* ---- units ---- */

static int
s_valid_node(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

static int
s_teryt_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return (n == 2 || n == 4 || n == 7) && strspn(s, "0123456789") == n;
}

/* The TERYT in a node id made by `koopctl node init` ("gmina-2013032"). */
static void
s_teryt_of_node(const char *node, char teryt[8])
{
    const char *dash = strrchr(node, '-');
    teryt[0] = '\0';
    if (dash && s_teryt_valid(dash + 1))
        snprintf(teryt, 8, "%s", dash + 1);
}

int
rep_unit_by_node(rep_proj_t *p, MDB_txn *txn, const char *node, rep_unit_t *out)
{
    MDB_val v;
    int rc = koop_store_get_str(txn, p->unit, node, &v);
    if (rc != 0)
        return rc;
    if (v.mv_size != sizeof *out)
        return MDB_CORRUPTED;
    memcpy(out, v.mv_data, sizeof *out);
    return 0;
}

int
rep_unit_node(rep_proj_t *p, MDB_txn *txn, uint32_t no, char node[64], rep_unit_t *out)
{
    unsigned char key[4];
    MDB_val k = {sizeof key, key}, v;
    int rc;
    rep_be32_put(key, no);
    if ((rc = mdb_get(txn, p->unit_no, &k, &v)) != 0)
        return rc;
    if (v.mv_size == 0 || v.mv_size > 63)
        return MDB_CORRUPTED;
    memcpy(node, v.mv_data, v.mv_size);
    node[v.mv_size] = '\0';
    return out ? rep_unit_by_node(p, txn, node, out) : 0;
}

int
rep_unit_name(rep_proj_t *p, MDB_txn *txn, const char *node, char out[REP_NAME_MAX])
{
    MDB_val v;
    int rc = koop_store_get_str(txn, p->unit_name, node, &v);
    out[0] = '\0';
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (v.mv_size >= REP_NAME_MAX)
        return MDB_CORRUPTED;
    memcpy(out, v.mv_data, v.mv_size);
    out[v.mv_size] = '\0';
    return 0;
}

int
rep_unit_each(rep_proj_t *p, MDB_txn *txn, rep_unit_fn fn, void *ctx)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;
    if ((rc = mdb_cursor_open(txn, p->unit, &cur)) != 0)
        return rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        char node[64];
        rep_unit_t u;
        if (k.mv_size == 0 || k.mv_size > 63 || v.mv_size != sizeof u) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(node, k.mv_data, k.mv_size);
        node[k.mv_size] = '\0';
        memcpy(&u, v.mv_data, sizeof u);
        if ((rc = fn(node, &u, ctx)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
rep_unit_within(rep_proj_t *p, MDB_txn *txn, uint32_t unit, uint32_t ancestor, int *within)
{
    char node[64];
    rep_unit_t u;
    int rc;
    *within = 0;
    for (int depth = 0; unit != 0 && depth <= REP_MAX_DEPTH; depth++) {
        if (unit == ancestor) {
            *within = 1;
            return 0;
        }
        if ((rc = rep_unit_node(p, txn, unit, node, &u)) != 0)
            return rc == MDB_NOTFOUND ? 0 : rc;
        unit = u.parent;
    }
    return 0;
}

static int
s_unit_put(rep_proj_t *p, MDB_txn *txn, const char *node, const rep_unit_t *u)
{
    return koop_store_put_str(txn, p->unit, node, u, sizeof *u);
}

/* The unit of node, made when first seen. parent (0: none) and hub are what
 * this event says; an existing unit keeps its parent and only gains the hub
 * flag. A node is in one subtree only: when the event says another parent
 * than the one stored, *moved is set and nothing is written. */
static int
s_unit_ensure(rep_proj_t *p, MDB_txn *txn, const char *node, uint32_t parent, int hub, rep_unit_t *out,
              int *moved)
{
    unsigned char key[4];
    MDB_val k = {sizeof key, key}, v;
    uint32_t next = 1;
    int rc = rep_unit_by_node(p, txn, node, out);
    *moved = 0;
    if (rc == 0) {
        int changed = 0;
        if (out->parent != 0 && parent != 0 && out->parent != parent) {
            *moved = 1;
            return 0;
        }
        if (out->parent == 0 && parent != 0 && parent != out->no && out->no != p->self_no) {
            out->parent = parent;
            changed = 1;
        }
        if (hub && !out->hub) {
            out->hub = 1;
            changed = 1;
        }
        return changed ? s_unit_put(p, txn, node, out) : 0;
    }
    if (rc != MDB_NOTFOUND)
        return rc;
    rc = s_meta_get(txn, p->meta, "next_unit", &next, sizeof next);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    memset(out, 0, sizeof *out);
    out->no = next;
    out->parent = parent;
    out->hub = hub ? 1 : 0;
    s_teryt_of_node(node, out->teryt);
    next++;
    if ((rc = koop_store_put_str(txn, p->meta, "next_unit", &next, sizeof next)) != 0)
        return rc;
    if ((rc = s_unit_put(p, txn, node, out)) != 0)
        return rc;
    rep_be32_put(key, out->no);
    v.mv_size = strlen(node);
    v.mv_data = (void *)node;
    return mdb_put(txn, p->unit_no, &k, &v, 0);
}

/* Learns a gmina's TERYT from one of its PZKs when the node id did not say it. */
static int
s_unit_learn_teryt(rep_proj_t *p, MDB_txn *txn, uint32_t unit, const char *teryt)
{
    char node[64];
    rep_unit_t u;
    int rc;
    if (!s_teryt_valid(teryt) || strlen(teryt) != 7)
        return 0;
    if ((rc = rep_unit_node(p, txn, unit, node, &u)) != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    if (u.teryt[0] || u.hub)
        return 0;
    memcpy(u.teryt, teryt, strlen(teryt) + 1); /* 7 digits */
    return s_unit_put(p, txn, node, &u);
}

/* ---- lifecycle ---- */

int
rep_proj_new(rep_proj_t **out, koop_store_t *store, const rep_self_t *self)
{
    rep_proj_t *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p || !(p->rows = calloc(S_ROWS_CAP, sizeof *p->rows)) ||
        !(p->used = calloc(S_ROWS_CAP / 2, sizeof *p->used)) || !(p->families = rep_family_cache_new())) {
        rep_proj_destroy(&p);
        return -ENOMEM;
    }
    p->store = store;
    p->self = *self;
    p->month = koop_store_dbi(store, "month");
    p->unit = koop_store_dbi(store, "unit");
    p->unit_no = koop_store_dbi(store, "unit_no");
    p->unit_name = koop_store_dbi(store, "unit_name");
    p->meta = koop_store_dbi(store, "meta");
    p->institution = koop_store_dbi(store, "institution");
    p->pzk = koop_store_dbi(store, "pzk");
    p->agreement = koop_store_dbi(store, "agreement");
    p->catalogue = koop_store_dbi(store, "catalogue");
    p->ipw = koop_store_dbi(store, "ipw");
    p->goal = koop_store_dbi(store, "goal");
    p->task = koop_store_dbi(store, "task");
    p->referral = koop_store_dbi(store, "referral");
    p->ipw_child = koop_store_dbi(store, "ipw_child");
    p->meeting = koop_store_dbi(store, "meeting");
    p->open_due = koop_store_dbi(store, "open_due");
    p->answer = koop_store_dbi(store, "answer");
    p->category = koop_store_dbi(store, "category");
    p->verified = koop_store_dbi(store, "verified");
    *out = p;
    return 0;
}

void
rep_proj_destroy(rep_proj_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->rows);
    free((*self_p)->used);
    rep_family_cache_destroy(&(*self_p)->families);
    free(*self_p);
    *self_p = NULL;
}

uint64_t
rep_proj_take_refused(rep_proj_t *p)
{
    uint64_t n = p->refused;
    p->refused = 0;
    return n;
}

const rep_self_t *
rep_proj_self(const rep_proj_t *p)
{
    return &p->self;
}

koop_store_t *
rep_proj_store(const rep_proj_t *p)
{
    return p->store;
}

rep_family_cache_t *
rep_proj_families(rep_proj_t *p)
{
    return p->families;
}

static int
s_prepare(rep_proj_t *p, MDB_txn *txn)
{
    uint32_t format = REP_FORMAT;
    rep_unit_t u;
    int rc, moved;
    if ((rc = koop_store_put_str(txn, p->meta, "format", &format, sizeof format)) != 0)
        return rc;
    if ((rc = s_unit_ensure(p, txn, p->self.node, 0, p->self.hub, &u, &moved)) != 0)
        return rc;
    p->self_no = u.no;
    if (s_teryt_valid(p->self.teryt) && strcmp(u.teryt, p->self.teryt) != 0) {
        memcpy(u.teryt, p->self.teryt, strlen(p->self.teryt) + 1); /* 2, 4 or 7 digits */
        rc = s_unit_put(p, txn, p->self.node, &u);
    }
    return rc;
}

int
rep_proj_reset(rep_proj_t *p, MDB_txn *txn, uint64_t *dropped)
{
    rep_stats_t st;
    int rc;
    if ((rc = rep_proj_stats(p, txn, &st)) != 0)
        return rc;
    if (dropped)
        *dropped = st.applied;
    for (int i = 0; rep_tables[i]; i++)
        if ((rc = mdb_drop(txn, koop_store_dbi(p->store, rep_tables[i]), 0)) != 0)
            return rc;
    return s_prepare(p, txn);
}

int
rep_proj_init(rep_proj_t *p, MDB_txn *txn, int *cleared)
{
    uint32_t format = 0;
    int rc = s_meta_get(txn, p->meta, "format", &format, sizeof format);
    *cleared = 0;
    if (rc != 0 && rc != MDB_NOTFOUND && rc != MDB_CORRUPTED)
        return rc;
    if (rc == 0 && format == REP_FORMAT)
        return s_prepare(p, txn);
    if (rc != MDB_NOTFOUND) {
        koop_warn("projection format %u is not this build's (%u): clearing it; the feeds replay the logs",
                  (unsigned)format, REP_FORMAT);
        *cleared = 1;
    }
    return rep_proj_reset(p, txn, NULL);
}

/* What applying one event did. */
enum { S_APPLIED, S_IGNORED, S_REJECTED, S_NOT_OWNED };
/* A handler's result: the event would change another unit's row (above
 * every errno; LMDB's codes are negative). */
#define S_NOT_OWNER 0x10000

typedef struct {
    rep_proj_t *p;
    MDB_txn *txn;
    rep_acc_t *acc;
    const rep_chain_t *chain;    /* where contributions go now (s_at) */
    const Koop__Event *ev;
    int verdict;
    const char *why; /* for the log when rejected */
    const rep_chain_t *ev_chain; /* the chain of the event's writer */
    rep_chain_t at;              /* a row's chain (s_at) */
    uint32_t owner;  /* S_NOT_OWNED: the unit that owns what the event would change */
} s_ctx;

static int
s_reject(s_ctx *c, const char *why)
{
    c->verdict = S_REJECTED;
    c->why = why;
    return 0;
}

/* The event would change a record of unit `owner`: refused (s_dispatch
 * makes the verdict; nothing of the event has been written). */
static int
s_owner_refused(s_ctx *c, uint32_t owner)
{
    c->owner = owner;
    return S_NOT_OWNER;
}

/* ---- entity rows ----
 *
 * Only the node that owns a record may change or end its row (an enrolled
 * gmina must not move another gmina's or the hub's institution to another
 * sector in their figures, nor close another's IPW). The rows of cases
 * records keep the unit they are counted in (`unit`, which a transfer
 * changes: below); a registry row begins with its owner, the unit (be32) of
 * the node whose event made it (s_owned_get / s_owned_put). Another unit's
 * row makes the event's handler return S_NOT_OWNER before it writes
 * anything, and s_dispatch counts the event as not owned. */

#define S_OWNER 4

static int
s_row_get(MDB_txn *txn, MDB_dbi dbi, const char *id, void *out, size_t size, size_t *got)
{
    MDB_val k = {REP_ID, (void *)id}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc != 0)
        return rc;
    if (got ? (v.mv_size > size) : (v.mv_size != size))
        return MDB_CORRUPTED;
    memcpy(out, v.mv_data, v.mv_size);
    if (got)
        *got = v.mv_size;
    return 0;
}

static int
s_row_put(MDB_txn *txn, MDB_dbi dbi, const char *id, const void *row, size_t size)
{
    MDB_val k = {REP_ID, (void *)id}, v = {size, (void *)row};
    return mdb_put(txn, dbi, &k, &v, 0);
}

static int
s_row_exists(MDB_txn *txn, MDB_dbi dbi, const char *id)
{
    MDB_val k = {REP_ID, (void *)id}, v;
    return mdb_get(txn, dbi, &k, &v) == 0;
}

/* Reads a registry row (without its owner, given in *owner when not NULL);
 * got NULL: exactly size bytes, else at most size (*got = how many). */
static int
s_owned_read(MDB_txn *txn, MDB_dbi dbi, const char *id, void *out, size_t size, size_t *got, uint32_t *owner)
{
    MDB_val k = {REP_ID, (void *)id}, v;
    const unsigned char *b;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc != 0)
        return rc;
    if (v.mv_size < S_OWNER || (got ? (v.mv_size - S_OWNER > size) : (v.mv_size - S_OWNER != size)))
        return MDB_CORRUPTED;
    b = v.mv_data;
    if (owner)
        *owner = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    memcpy(out, b + S_OWNER, v.mv_size - S_OWNER);
    if (got)
        *got = v.mv_size - S_OWNER;
    return 0;
}

/* The registry row of an entity the event is about: 0, MDB_NOTFOUND,
 * S_NOT_OWNER when another unit's node made it, or an LMDB error. */
static int
s_owned_get(s_ctx *c, MDB_dbi dbi, const char *id, void *out, size_t size, size_t *got)
{
    uint32_t owner;
    int rc = s_owned_read(c->txn, dbi, id, out, size, got, &owner);
    return rc == 0 && owner != c->ev_chain->unit[0] ? s_owner_refused(c, owner) : rc;
}

/* Stores a registry row as the event's node's. */
static int
s_owned_put(s_ctx *c, MDB_dbi dbi, const char *id, const void *row, size_t size)
{
    MDB_val k = {REP_ID, (void *)id}, v = {S_OWNER + size, NULL};
    int rc = mdb_put(c->txn, dbi, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return rc;
    rep_be32_put(v.mv_data, c->ev_chain->unit[0]);
    memcpy((unsigned char *)v.mv_data + S_OWNER, row, size);
    return 0;
}

static int
s_add(s_ctx *c, uint16_t month, int field, int64_t delta)
{
    return rep_acc_chain(c->p, c->txn, c->acc, c->chain, month, field, delta);
}

/* ---- registry: institutions, agreements, PZKs, the list of services ---- */

static int
s_institution(s_ctx *c, const Koop__Reg__Institution *r)
{
    uint8_t old = 0, sector;
    int rc, known;
    if (!koop_id_valid(r->id))
        return s_reject(c, "identyfikator instytucji");
    sector = (uint8_t)s_sector(r->has_sector, r->sector);
    rc = s_owned_get(c, c->p->institution, r->id, &old, sizeof old, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    known = rc == 0;
    if (known && old == sector)
        return 0;
    if ((rc = s_owned_put(c, c->p->institution, r->id, &sector, sizeof sector)) != 0)
        return rc;
    /* it may already be counted in PZKs (joined before its sector was known) */
    return rep_cov_attr(c->p, c->txn, c->acc, REP_KIND_INSTITUTION, r->id, -1, sector);
}

typedef struct {
    int32_t signed_day;
    int32_t parties;
} s_agreement_row;

static int
s_agreement_contrib(s_ctx *c, const s_agreement_row *a, int sign)
{
    uint16_t m = rep_month_of(a->signed_day);
    int rc = s_add(c, m, REP_F_AGR_SIGNED, sign);
    return rc ? rc : s_add(c, m, REP_F_AGR_PARTIES, (int64_t)sign * a->parties);
}

static int
s_agreement(s_ctx *c, const Koop__Reg__Agreement *r)
{
    s_agreement_row old, row = {0, 0};
    int rc;
    if (!koop_id_valid(r->id))
        return s_reject(c, "identyfikator porozumienia");
    if (rep_day_parse(r->signed_, &row.signed_day) != 0)
        return s_reject(c, "data podpisania porozumienia");
    row.parties = r->n_parties > 10000 ? 10000 : (int32_t)r->n_parties;
    rc = s_owned_get(c, c->p->agreement, r->id, &old, sizeof old, NULL);
    if (rc == 0 && (rc = s_agreement_contrib(c, &old, -1)) != 0)
        return rc;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if ((rc = s_agreement_contrib(c, &row, +1)) != 0)
        return rc;
    return s_owned_put(c, c->p->agreement, r->id, &row, sizeof row);
}

/* pzk row: header, then the ids of the institutions that were ever members */
typedef struct {
    int32_t formed;
    int32_t dissolved;
    uint32_t n;
} s_pzk_hdr;

typedef struct {
    s_pzk_hdr h;
    char inst[REP_MAX_PZK_MEMBERS][REP_ID];
} s_pzk_row;

static int
s_pzk_contrib(s_ctx *c, const s_pzk_hdr *h, int sign)
{
    uint16_t m = rep_month_of(h->formed);
    int rc;
    if ((rc = s_add(c, m, REP_F_PZK_FORMED, sign)) != 0 ||
        (rc = s_add(c, m, REP_F_PZK_FORMED_DAYS, (int64_t)sign * h->formed)) != 0)
        return rc;
    if (h->dissolved == REP_NO_DAY)
        return 0;
    m = rep_month_of(h->dissolved);
    if ((rc = s_add(c, m, REP_F_PZK_DISSOLVED, sign)) != 0 ||
        (rc = s_add(c, m, REP_F_PZK_DISSOLVED_DAYS, (int64_t)sign * h->dissolved)) != 0)
        return rc;
    return s_add(c, m, REP_F_PZK_DISSOLVED_FORMED_DAYS, (int64_t)sign * h->formed);
}

/* The months institution `inst` was a member of team r (every membership). */
static int
s_pzk_spans(const Koop__Reg__Pzk *r, const s_pzk_hdr *h, const char *inst, rep_span_t *spans)
{
    int n = 0;
    for (size_t i = 0; i < r->n_members && n < REP_MAX_SPANS; i++) {
        const Koop__Reg__PzkMember *m = r->members[i];
        int32_t joined, left, end;
        if (!m->institution || strcmp(m->institution, inst) != 0)
            continue;
        if (rep_day_parse(m->joined, &joined) != 0)
            joined = h->formed;
        if (s_opt_day(m->left, &left) != 0)
            left = REP_NO_DAY;
        end = left;
        if (h->dissolved != REP_NO_DAY && (end == REP_NO_DAY || end > h->dissolved))
            end = h->dissolved;
        if (end != REP_NO_DAY && end < joined)
            end = joined;
        spans[n].s = rep_month_of(joined);
        spans[n].e = end == REP_NO_DAY ? REP_OPEN : rep_month_of(end);
        n++;
    }
    return n;
}

static int
s_pzk(s_ctx *c, const Koop__Reg__Pzk *r)
{
    s_pzk_row *old = NULL, *row = NULL;
    rep_span_t spans[REP_MAX_SPANS];
    size_t got;
    int rc, had;

    if (!koop_id_valid(r->id))
        return s_reject(c, "identyfikator PZK");
    if (r->n_members > REP_MAX_PZK_MEMBERS)
        return s_reject(c, "za dużo członków PZK");
    for (size_t i = 0; i < r->n_members; i++)
        if (!r->members[i] || !koop_id_valid(r->members[i]->institution))
            return s_reject(c, "identyfikator instytucji członka PZK");
    old = malloc(sizeof *old);
    row = calloc(1, sizeof *row);
    if (!old || !row) {
        rc = ENOMEM;
        goto fail;
    }
    if (rep_day_parse(r->formed, &row->h.formed) != 0 || s_opt_day(r->dissolved, &row->h.dissolved) != 0) {
        rc = s_reject(c, "data utworzenia lub rozwiązania PZK");
        goto fail;
    }
    if (row->h.dissolved != REP_NO_DAY && row->h.dissolved < row->h.formed)
        row->h.dissolved = row->h.formed;
    for (size_t i = 0; i < r->n_members; i++) {
        const char *id = r->members[i]->institution;
        uint32_t k;
        for (k = 0; k < row->h.n; k++)
            if (memcmp(row->inst[k], id, REP_ID) == 0)
                break;
        if (k == row->h.n)
            memcpy(row->inst[row->h.n++], id, REP_ID);
    }
    rc = s_owned_get(c, c->p->pzk, r->id, old, sizeof *old, &got);
    had = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto fail;
    if (had && (got < sizeof old->h || got != sizeof old->h + (size_t)old->h.n * REP_ID)) {
        rc = MDB_CORRUPTED;
        goto fail;
    }
    if (had && (rc = s_pzk_contrib(c, &old->h, -1)) != 0)
        goto fail;
    if ((rc = s_pzk_contrib(c, &row->h, +1)) != 0)
        goto fail;
    /* memberships: every institution of the new record, and those that left the record */
    for (uint32_t k = 0; k < row->h.n; k++) {
        char id[KOOP_ID_LEN];
        uint8_t sector = 0;
        int n;
        memcpy(id, row->inst[k], REP_ID);
        id[REP_ID] = '\0';
        rc = s_owned_read(c->txn, c->p->institution, id, &sector, sizeof sector, NULL, NULL); /* whoever's it is */
        if (rc != 0 && rc != MDB_NOTFOUND)
            goto fail;
        n = s_pzk_spans(r, &row->h, id, spans);
        if ((rc = rep_cov_source(c->p, c->txn, c->acc, REP_KIND_INSTITUTION, id, r->id, c->chain, spans, n, 1,
                                 sector)) != 0)
            goto fail;
    }
    for (uint32_t k = 0; had && k < old->h.n; k++) {
        char id[KOOP_ID_LEN];
        uint32_t j;
        for (j = 0; j < row->h.n; j++)
            if (memcmp(row->inst[j], old->inst[k], REP_ID) == 0)
                break;
        if (j < row->h.n)
            continue;
        memcpy(id, old->inst[k], REP_ID);
        id[REP_ID] = '\0';
        if ((rc = rep_cov_source(c->p, c->txn, c->acc, REP_KIND_INSTITUTION, id, r->id, c->chain, NULL, 0, -1,
                                 -1)) != 0)
            goto fail;
    }
    if ((rc = s_unit_learn_teryt(c->p, c->txn, c->chain->unit[0], r->teryt)) != 0)
        goto fail;
    rc = s_owned_put(c, c->p->pzk, r->id, row, sizeof row->h + (size_t)row->h.n * REP_ID);
fail:
    free(old);
    free(row);
    return rc;
}

typedef struct {
    int32_t verified;
    uint8_t active;
    uint8_t targets;   /* bit t: koop.reg.Target t */
    uint8_t catlen;
    char category[101];
} s_catalogue_row;

static int
s_day_table_add(MDB_txn *txn, MDB_dbi dbi, uint32_t unit, int32_t day, int64_t delta)
{
    unsigned char key[8];
    rep_be32_put(key, unit);
    rep_be32_put(key + 4, s_day_key(day));
    return rep_counter_add(txn, dbi, key, sizeof key, delta);
}

static int
s_catalogue_contrib(s_ctx *c, const s_catalogue_row *e, int sign)
{
    int rc;
    for (int i = 0; i < c->chain->n; i++) {
        uint32_t u = c->chain->unit[i];
        unsigned char key[4 + 100];
        if ((rc = rep_acc_add(c->p, c->txn, c->acc, u, REP_MONTH_NOW, REP_F_CAT_ENTRIES, sign)) != 0)
            return rc;
        if (!e->active)
            continue;
        if ((rc = rep_acc_add(c->p, c->txn, c->acc, u, REP_MONTH_NOW, REP_F_CAT_ACTIVE, sign)) != 0)
            return rc;
        for (int t = 1; t < REP_TARGETS; t++)
            if ((e->targets & (1u << t)) &&
                (rc = rep_acc_add(c->p, c->txn, c->acc, u, REP_MONTH_NOW, REP_F_CAT_TARGET + t, sign)) != 0)
                return rc;
        if (e->verified == REP_NO_DAY)
            rc = rep_acc_add(c->p, c->txn, c->acc, u, REP_MONTH_NOW, REP_F_CAT_NEVER_VERIFIED, sign);
        else
            rc = s_day_table_add(c->txn, c->p->verified, u, e->verified, sign);
        if (rc != 0)
            return rc;
        rep_be32_put(key, u);
        memcpy(key + 4, e->category, e->catlen);
        if ((rc = rep_counter_add(c->txn, c->p->category, key, 4 + (size_t)e->catlen, sign)) != 0)
            return rc;
    }
    return 0;
}

static int
s_catalogue(s_ctx *c, const Koop__Reg__CatalogueEntry *r)
{
    s_catalogue_row old, row;
    size_t got, len;
    int rc;
    if (!koop_id_valid(r->id))
        return s_reject(c, "identyfikator pozycji listy usług");
    memset(&row, 0, sizeof row);
    if (s_opt_day(r->verified, &row.verified) != 0)
        return s_reject(c, "data weryfikacji pozycji listy");
    row.active = r->has_active ? (r->active != 0) : 1;
    for (size_t i = 0; i < r->n_target; i++)
        if (r->target[i] > 0 && r->target[i] < REP_TARGETS)
            row.targets |= (uint8_t)(1u << r->target[i]);
    len = r->category ? strlen(r->category) : 0;
    if (len > 100)
        return s_reject(c, "kategoria pozycji listy dłuższa niż 100 bajtów");
    row.catlen = (uint8_t)len;
    memcpy(row.category, r->category ? r->category : "", len);
    memset(&old, 0, sizeof old);
    rc = s_owned_get(c, c->p->catalogue, r->id, &old, sizeof old, &got);
    if (rc == 0 && got != sizeof old)
        return MDB_CORRUPTED;
    if (rc == 0 && (rc = s_catalogue_contrib(c, &old, -1)) != 0)
        return rc;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if ((rc = s_catalogue_contrib(c, &row, +1)) != 0)
        return rc;
    return s_owned_put(c, c->p->catalogue, r->id, &row, sizeof row);
}

/* ---- cases: IPWs, their households, goals, tasks, meetings, referrals ----
 *
 * Every row remembers the unit it is counted in (the node that owns the
 * record), and its contribution is made to that unit's chain, not to the
 * chain of the event at hand: so a record corrected, removed or handed to
 * another gmina (household.transferred_in: a hub that saw the sender moves
 * the counts, one that did not takes them from the facts) is counted once,
 * where it is. Only the owner's events change a row (others are rejected);
 * a transfer changes the owner. Rows stay after a close (an IPW may be
 * reopened or corrected); a removed one (record.removed) counts nothing.
 */

enum { S_LIVE = 0, S_REMOVED = 1, S_AWAY = 2 };

/* The chain of units from `unit` up to this node into c->at, made c's
 * chain for the contributions that follow. -1 when unit is not below this
 * node (a broken tree): the event is then rejected. */
static int
s_at(s_ctx *c, uint32_t unit)
{
    rep_chain_t *ch = &c->at;
    char node[64];
    rep_unit_t u;
    if (unit == c->ev_chain->unit[0]) {
        c->chain = c->ev_chain;
        return 0;
    }
    ch->n = 0;
    while (unit != 0 && ch->n < REP_MAX_DEPTH) {
        ch->unit[ch->n++] = unit;
        if (unit == c->p->self_no) {
            c->chain = ch;
            return 0;
        }
        if (rep_unit_node(c->p, c->txn, unit, node, &u) != 0)
            break;
        unit = u.parent;
    }
    return -1;
}

/* The unit of the event's writer. */
static uint32_t
s_writer(const s_ctx *c)
{
    return c->ev_chain->unit[0];
}

typedef struct {
    int32_t opened, closed, signed_day;
    uint16_t zzk;       /* ZZK memberships ever */
    uint16_t sectors;   /* bit s: a member from sector s */
    uint32_t hh_size;
    uint8_t outcome;
    uint8_t state;      /* S_LIVE, S_REMOVED, S_AWAY (handed to a gmina outside this view) */
    uint8_t offered;    /* its owner offered it to another gmina */
    uint8_t pad;
    uint32_t unit;
    char household[REP_ID];
} s_ipw_row;

static int
s_ipw_contrib(s_ctx *c, const s_ipw_row *w, int sign)
{
    int pc = s_popcount(w->sectors), hist = pc < REP_HIST - 1 ? pc : REP_HIST - 1, rc;
    uint16_t m = rep_month_of(w->opened);
    if (w->state != S_LIVE)
        return 0;
    if (s_at(c, w->unit) != 0)
        return s_reject(c, "jednostka spoza drzewa tego węzła");
    if ((rc = s_add(c, m, REP_F_IPW_OPENED, sign)) != 0 || (rc = s_add(c, m, REP_F_IPW_OPENED_ZZK, sign * w->zzk)) != 0 ||
        (rc = s_add(c, m, REP_F_IPW_OPENED_SECT, sign * pc)) != 0 ||
        (rc = s_add(c, m, REP_F_IPW_OPENED_HIST + hist, sign)) != 0)
        return rc;
    if (w->signed_day != REP_NO_DAY && (rc = s_add(c, rep_month_of(w->signed_day), REP_F_IPW_SIGNED, sign)) != 0)
        return rc;
    if (w->closed == REP_NO_DAY)
        return 0;
    m = rep_month_of(w->closed);
    if ((rc = s_add(c, m, REP_F_IPW_CLOSED + w->outcome, sign)) != 0 ||
        (rc = s_add(c, m, REP_F_IPW_CLOSED_DAYS, (int64_t)sign * (w->closed - w->opened))) != 0 ||
        (rc = s_add(c, m, REP_F_IPW_CLOSED_ZZK, sign * w->zzk)) != 0 ||
        (rc = s_add(c, m, REP_F_IPW_CLOSED_SECT, sign * pc)) != 0)
        return rc;
    return s_add(c, m, REP_F_IPW_CLOSED_HIST + hist, sign);
}

/* The household's months in this IPW, as a coverage source (none when the
 * IPW counts nothing here). */
static int
s_ipw_household(s_ctx *c, const s_ipw_row *w, const char *ipw)
{
    char hh[KOOP_ID_LEN];
    rep_span_t span;
    int rc;
    memcpy(hh, w->household, REP_ID);
    hh[REP_ID] = '\0';
    if (w->state != S_LIVE) {
        /* keep the chain of the source as it is: n = 0 only removes it */
        return rep_cov_source(c->p, c->txn, c->acc, REP_KIND_HOUSEHOLD, hh, ipw, c->ev_chain, NULL, 0, -1, -1);
    }
    if (s_at(c, w->unit) != 0)
        return s_reject(c, "jednostka spoza drzewa tego węzła");
    span.s = rep_month_of(w->opened);
    span.e = w->closed == REP_NO_DAY ? REP_OPEN : rep_month_of(w->closed);
    /* the household's size as of this programme's opening */
    if ((rc = rep_cov_attr(c->p, c->txn, c->acc, REP_KIND_HOUSEHOLD, hh, w->hh_size, -1)) != 0)
        return rc;
    return rep_cov_source(c->p, c->txn, c->acc, REP_KIND_HOUSEHOLD, hh, ipw, c->chain, &span, 1, w->hh_size, 0);
}

static int
s_ipw_child_add(s_ctx *c, const char *ipw, char kind, const char *child)
{
    char key[2 * REP_ID + 1];
    MDB_val k = {sizeof key, key}, v = {0, ""};
    memcpy(key, ipw, REP_ID);
    key[REP_ID] = kind;
    memcpy(key + REP_ID + 1, child, REP_ID);
    return mdb_put(c->txn, c->p->ipw_child, &k, &v, 0);
}

/* A goal, task, meeting or referral may name only an IPW of its own node:
 * 0 when the IPW is its node's or not known (not here yet), S_NOT_OWNER
 * when it is another unit's. Before any write. */
static int
s_ipw_child_check(s_ctx *c, const char *ipw)
{
    s_ipw_row w;
    int rc;
    if (!koop_id_valid(ipw))
        return 0;
    rc = s_row_get(c->txn, c->p->ipw, ipw, &w, sizeof w, NULL);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    return w.unit != s_writer(c) ? s_owner_refused(c, w.unit) : 0;
}

/* Stores an IPW row after a change: contrib(old) out, contrib(new) in, the
 * household's coverage when its months may have changed. */
static int
s_ipw_store(s_ctx *c, const char *ipw, const s_ipw_row *old, const s_ipw_row *row)
{
    int rc;
    if (old && memcmp(old, row, sizeof *row) == 0)
        return 0; /* suspended / resumed / reviewed: nothing counted changes */
    if (old && (rc = s_ipw_contrib(c, old, -1)) != 0)
        return rc;
    if (c->verdict == S_REJECTED || (rc = s_ipw_contrib(c, row, +1)) != 0)
        return rc;
    if (!old || old->opened != row->opened || old->closed != row->closed || old->state != row->state ||
        old->unit != row->unit || old->hh_size != row->hh_size)
        if ((rc = s_ipw_household(c, row, ipw)) != 0)
            return rc;
    return c->verdict == S_REJECTED ? 0 : s_row_put(c->txn, c->p->ipw, ipw, row, sizeof *row);
}

/* The state of an IPW after an event, from its facts. Facts written since
 * corrections exist carry the whole state (opened, signed, closed); older
 * ones are read the way they were written: the step's date. */
static int
s_ipw_state(s_ctx *c, const char *type, const Koop__Cases__IpwFacts *f, int32_t date, s_ipw_row *row)
{
    int32_t day;
    if (f->opened && *f->opened) {
        if (rep_day_parse(f->opened, &day) != 0)
            return s_reject(c, "data otwarcia IPW");
        row->opened = day;
    }
    if (f->signed_ && *f->signed_) {
        if (rep_day_parse(f->signed_, &day) != 0)
            return s_reject(c, "data podpisania IPW");
        row->signed_day = day;
    } else if (strcmp(type, "ipw.activated") == 0 && row->signed_day == REP_NO_DAY) {
        row->signed_day = date;
    }
    if (f->has_status ? f->status == KOOP__CASES__IPW_STATUS__IPW_CLOSED : strcmp(type, "ipw.closed") == 0) {
        int outcome = f->has_outcome && f->outcome >= 0 && f->outcome < REP_OUTCOMES ? (int)f->outcome : 0;
        day = date;
        if (f->closed && *f->closed && rep_day_parse(f->closed, &day) != 0)
            return s_reject(c, "data zamknięcia IPW");
        row->closed = day < row->opened ? row->opened : day;
        row->outcome = (uint8_t)outcome;
    } else if (f->has_status || strcmp(type, "ipw.reopened") == 0) {
        row->closed = REP_NO_DAY;
        row->outcome = 0;
    }
    return 0;
}

/* A new IPW row from its facts (ipw.opened, or a transfer in). */
static int
s_ipw_new(s_ctx *c, const Koop__Cases__IpwFacts *f, int32_t date, s_ipw_row *row)
{
    memset(row, 0, sizeof *row);
    if (!koop_id_valid(f->household))
        return s_reject(c, "identyfikator gospodarstwa");
    row->opened = date;
    row->closed = row->signed_day = REP_NO_DAY;
    row->hh_size = f->has_household_size && f->household_size <= 1000 ? f->household_size : 1;
    if (row->hh_size == 0)
        row->hh_size = 1;
    row->unit = s_writer(c);
    memcpy(row->household, f->household, REP_ID);
    return 0;
}

static int
s_ipw(s_ctx *c, const char *type, const Koop__Cases__IpwFacts *f)
{
    s_ipw_row old, row;
    int32_t date;
    int rc, had, opened = strcmp(type, "ipw.opened") == 0;

    if (!koop_id_valid(f->ipw))
        return s_reject(c, "identyfikator IPW");
    if (rep_day_parse(f->date, &date) != 0)
        return s_reject(c, "data kroku IPW");
    rc = s_row_get(c->txn, c->p->ipw, f->ipw, &old, sizeof old, NULL);
    had = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (!had && !opened)
        return s_reject(c, "nieznany IPW (brak ipw.opened)");
    if (had && old.unit != s_writer(c))
        return s_owner_refused(c, old.unit);
    if (opened && !had) {
        /* the household of another node's programmes is that node's (unless
         * it is this one's too: handed to it by a transfer) */
        uint32_t other;
        if (!koop_id_valid(f->household))
            return s_reject(c, "identyfikator gospodarstwa");
        if ((rc = rep_cov_outside(c->p, c->txn, REP_KIND_HOUSEHOLD, f->household, c->ev_chain, &other)) != 0)
            return rc;
        if (other)
            return s_owner_refused(c, other);
    }
    if (opened) {
        if ((rc = s_ipw_new(c, f, date, &row)) != 0 || c->verdict == S_REJECTED)
            return rc;
        if (had) { /* the same IPW opened again: keep what its ZZK already holds */
            row.zzk = old.zzk;
            row.sectors = old.sectors;
        }
    } else {
        row = old;
    }
    if ((rc = s_ipw_state(c, type, f, date, &row)) != 0 || c->verdict == S_REJECTED)
        return rc;
    return s_ipw_store(c, f->ipw, had ? &old : NULL, &row);
}

static int
s_ipw_member(s_ctx *c, const char *type, const Koop__Cases__MemberFacts *f)
{
    s_ipw_row old, row;
    int rc, sector;
    if (!koop_id_valid(f->ipw))
        return s_reject(c, "identyfikator IPW");
    if (strcmp(type, "ipw.member_added") != 0)
        return 0; /* a member who leaves still worked on the case: ZZK size counts members ever */
    rc = s_row_get(c->txn, c->p->ipw, f->ipw, &old, sizeof old, NULL);
    if (rc == MDB_NOTFOUND)
        return s_reject(c, "nieznany IPW");
    if (rc != 0)
        return rc;
    if (old.unit != s_writer(c))
        return s_owner_refused(c, old.unit);
    row = old;
    if (row.zzk < UINT16_MAX)
        row.zzk++;
    sector = s_sector(f->has_sector, f->sector);
    if (sector)
        row.sectors |= (uint16_t)(1u << sector);
    return s_ipw_store(c, f->ipw, &old, &row);
}

static int
s_household(s_ctx *c, const char *type, const Koop__Cases__HouseholdFacts *f)
{
    char hh[KOOP_ID_LEN];
    int32_t date;
    if (!koop_id_valid(f->household) || rep_day_parse(f->date, &date) != 0)
        return s_reject(c, "identyfikator lub data gospodarstwa");
    if (strcmp(type, "household.updated") == 0 && f->has_size && f->size > 0 && f->size <= 1000) {
        /* a corrected size: every programme of the household counts it */
        snprintf(hh, sizeof hh, "%s", f->household);
        return rep_cov_attr(c->p, c->txn, c->acc, REP_KIND_HOUSEHOLD, hh, f->size, -1);
    }
    if (strcmp(type, "household.registered") != 0) {
        c->verdict = S_IGNORED;
        return 0;
    }
    return s_add(c, rep_month_of(date), REP_F_HH_REGISTERED, 1);
}

/* Stores a child row after a change: contrib(old) out, contrib(new) in
 * (each contrib takes the row it was given), the row written. */
typedef int (*s_contrib_fn)(s_ctx *c, const void *row, int sign);

static int
s_store(s_ctx *c, MDB_dbi dbi, const char *id, const void *old, const void *row, size_t size, s_contrib_fn contrib)
{
    int rc;
    if (old && (rc = contrib(c, old, -1)) != 0)
        return rc;
    if (c->verdict == S_REJECTED || (rc = contrib(c, row, +1)) != 0 || c->verdict == S_REJECTED)
        return rc;
    return s_row_put(c->txn, dbi, id, row, size);
}

/* ---- goals with PSR scaling ---- */

typedef struct {
    int32_t day;
    int32_t value;
} s_scaling;

typedef struct {
    int32_t added;
    int32_t area;
    int32_t baseline;
    uint32_t unit;
    uint8_t state;
    uint8_t pad[3];
    uint32_t n;
    s_scaling sc[REP_MAX_SCALINGS]; /* by date; equal dates in the order entered */
} s_goal_row;

#define S_GOAL_SIZE(g) (offsetof(s_goal_row, sc) + (size_t)(g)->n * sizeof(s_scaling))

/* The telescoping sum: each review adds (value - previous value) in its
 * month, the first one (value - baseline) and one reviewed goal; so the sum
 * over months up to M is, for each goal reviewed by M, its last value as of
 * M minus its baseline. */
static int
s_goal_contrib(s_ctx *c, const void *row, int sign)
{
    const s_goal_row *g = row;
    int32_t prev = g->baseline;
    int rc;
    if (g->state != S_LIVE)
        return 0;
    if (s_at(c, g->unit) != 0)
        return s_reject(c, "jednostka spoza drzewa tego węzła");
    rc = s_add(c, rep_month_of(g->added), REP_F_GOAL_ADDED + g->area, sign);
    for (uint32_t i = 0; i < g->n && rc == 0; i++) {
        uint16_t m = rep_month_of(g->sc[i].day);
        if (i == 0)
            rc = s_add(c, m, REP_F_PSR_FIRST, sign);
        if (rc == 0)
            rc = s_add(c, m, REP_F_PSR_DELTA, (int64_t)sign * (g->sc[i].value - prev));
        prev = g->sc[i].value;
    }
    return rc;
}

/* One scaling into the row, in date order (equal dates: in entry order). */
static int
s_goal_scaled(s_ctx *c, s_goal_row *row, int32_t date, int32_t value)
{
    uint32_t at;
    if (row->n >= REP_MAX_SCALINGS)
        return s_reject(c, "za dużo ocen jednego celu");
    for (at = row->n; at > 0 && row->sc[at - 1].day > date; at--)
        row->sc[at] = row->sc[at - 1];
    row->sc[at].day = date;
    row->sc[at].value = value;
    row->n++;
    return 0;
}

static void
s_goal_attrs(const Koop__Cases__GoalFacts *f, s_goal_row *row)
{
    row->area = f->has_area && f->area > 0 && f->area < REP_AREAS ? (int32_t)f->area : 0;
    row->baseline = f->has_baseline && f->baseline >= 0 && f->baseline <= 10 ? f->baseline : 0;
}

static int
s_goal_store(s_ctx *c, const char *id, const s_goal_row *old, const s_goal_row *row)
{
    return s_store(c, c->p->goal, id, old, row, S_GOAL_SIZE(row), s_goal_contrib);
}

static int
s_goal_get(s_ctx *c, const char *id, s_goal_row *row, int *had)
{
    size_t got;
    int rc = s_row_get(c->txn, c->p->goal, id, row, sizeof *row, &got);
    *had = rc == 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (got < offsetof(s_goal_row, sc) || row->n > REP_MAX_SCALINGS || got != S_GOAL_SIZE(row))
        return MDB_CORRUPTED;
    return 0;
}

static int
s_goal(s_ctx *c, const char *type, const Koop__Cases__GoalFacts *f)
{
    s_goal_row *old = NULL, *row = NULL;
    int32_t date;
    int rc, had, added = strcmp(type, "goal.added") == 0, scaled = strcmp(type, "goal.scaled") == 0;

    if (!koop_id_valid(f->goal) || rep_day_parse(f->date, &date) != 0)
        return s_reject(c, "identyfikator lub data celu");
    if (!added && !scaled && strcmp(type, "goal.updated") != 0) {
        c->verdict = S_IGNORED;
        return 0;
    }
    if (scaled && (!f->has_value || f->value < 0 || f->value > 10))
        return s_reject(c, "ocena celu spoza skali 0-10");
    old = malloc(sizeof *old);
    row = calloc(1, sizeof *row);
    if (!old || !row) {
        rc = ENOMEM;
        goto fail;
    }
    if ((rc = s_goal_get(c, f->goal, old, &had)) != 0)
        goto fail;
    if (!had && !added) {
        rc = s_reject(c, "nieznany cel (brak goal.added)");
        goto fail;
    }
    if (had && old->unit != s_writer(c)) {
        rc = s_owner_refused(c, old->unit);
        goto fail;
    }
    if (added && !had && (rc = s_ipw_child_check(c, f->ipw)) != 0)
        goto fail;
    if (had)
        memcpy(row, old, S_GOAL_SIZE(old));
    if (added) {
        row->added = date;
        row->unit = s_writer(c);
        s_goal_attrs(f, row);
    } else if (scaled) {
        if ((rc = s_goal_scaled(c, row, date, f->value)) != 0 || c->verdict == S_REJECTED)
            goto fail;
    } else {
        s_goal_attrs(f, row);
    }
    if ((rc = s_goal_store(c, f->goal, had ? old : NULL, row)) != 0 || c->verdict == S_REJECTED)
        goto fail;
    if (added && !had && koop_id_valid(f->ipw))
        rc = s_ipw_child_add(c, f->ipw, 'g', f->goal);
fail:
    free(old);
    free(row);
    return rc;
}

/* ---- tasks ---- */

enum { S_TASK_OPEN, S_TASK_DONE, S_TASK_CANCELLED };

typedef struct {
    int32_t due;
    int32_t done;
    uint8_t sector;
    uint8_t step;       /* S_TASK_* */
    uint8_t state;      /* S_LIVE, ... */
    uint8_t pad;
    uint32_t unit;
} s_task_row;

static int
s_open_due_add(s_ctx *c, uint32_t unit, int32_t due, int sector, int64_t delta)
{
    unsigned char key[8];
    MDB_val k = {sizeof key, key}, v;
    int64_t counts[REP_SECTORS];
    int rc, any = 0;
    rep_be32_put(key, unit);
    rep_be32_put(key + 4, s_day_key(due));
    memset(counts, 0, sizeof counts);
    rc = mdb_get(c->txn, c->p->open_due, &k, &v);
    if (rc == 0 && v.mv_size == sizeof counts)
        memcpy(counts, v.mv_data, sizeof counts);
    else if (rc == 0)
        return MDB_CORRUPTED;
    else if (rc != MDB_NOTFOUND)
        return rc;
    counts[sector] += delta;
    for (int i = 0; i < REP_SECTORS; i++)
        any |= counts[i] != 0;
    if (!any)
        return rc == 0 ? mdb_del(c->txn, c->p->open_due, &k, NULL) : 0;
    v.mv_size = sizeof counts;
    v.mv_data = counts;
    return mdb_put(c->txn, c->p->open_due, &k, &v, 0);
}

static int
s_task_contrib(s_ctx *c, const void *row, int sign)
{
    const s_task_row *t = row;
    int field, rc;
    if (t->state != S_LIVE)
        return 0;
    if (s_at(c, t->unit) != 0)
        return s_reject(c, "jednostka spoza drzewa tego węzła");
    switch (t->step) {
    case S_TASK_DONE: field = t->done <= t->due ? REP_F_TASK_ON_TIME : REP_F_TASK_LATE; break;
    case S_TASK_CANCELLED: field = REP_F_TASK_CANCELLED; break;
    default: field = REP_F_TASK_OPEN; break;
    }
    if ((rc = s_add(c, rep_month_of(t->due), field + t->sector, sign)) != 0)
        return rc;
    if (t->step != S_TASK_OPEN)
        return 0;
    for (int i = 0; i < c->chain->n; i++)
        if ((rc = s_open_due_add(c, c->chain->unit[i], t->due, t->sector, sign)) != 0)
            return rc;
    return 0;
}

static int
s_task_store(s_ctx *c, const char *id, const s_task_row *old, const s_task_row *row)
{
    return s_store(c, c->p->task, id, old, row, sizeof *row, s_task_contrib);
}

/* A task row as its facts say (a transfer in, task.added). */
static int
s_task_new(s_ctx *c, const Koop__Cases__TaskFacts *f, int32_t date, s_task_row *row)
{
    memset(row, 0, sizeof *row);
    if (rep_day_parse(f->due, &row->due) != 0)
        return s_reject(c, "termin zadania");
    row->done = REP_NO_DAY;
    row->sector = (uint8_t)s_sector(f->has_owner_sector, f->owner_sector);
    row->step = S_TASK_OPEN;
    row->unit = s_writer(c);
    if (f->has_status && (f->status == KOOP__CASES__TASK_STATUS__TASK_DONE ||
                          f->status == KOOP__CASES__TASK_STATUS__TASK_CANCELLED)) {
        row->step = f->status == KOOP__CASES__TASK_STATUS__TASK_DONE ? S_TASK_DONE : S_TASK_CANCELLED;
        row->done = date;
    }
    return 0;
}

static int
s_task(s_ctx *c, const char *type, const Koop__Cases__TaskFacts *f)
{
    s_task_row old, row;
    int32_t date;
    int rc, had;
    int added = strcmp(type, "task.added") == 0, done = strcmp(type, "task.done") == 0,
        cancelled = strcmp(type, "task.cancelled") == 0, updated = strcmp(type, "task.updated") == 0;

    if (!koop_id_valid(f->task) || rep_day_parse(f->date, &date) != 0)
        return s_reject(c, "identyfikator lub data zadania");
    if (!added && !done && !cancelled && !updated)
        return 0; /* task.started: still open */
    rc = s_row_get(c->txn, c->p->task, f->task, &old, sizeof old, NULL);
    had = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (!had && !added)
        return s_reject(c, "nieznane zadanie (brak task.added)");
    if (had && old.unit != s_writer(c))
        return s_owner_refused(c, old.unit);
    if (added && !had && (rc = s_ipw_child_check(c, f->ipw)) != 0)
        return rc;
    if (added) {
        if ((rc = s_task_new(c, f, date, &row)) != 0 || c->verdict == S_REJECTED)
            return rc;
    } else if (updated) {
        row = old;
        if (rep_day_parse(f->due, &row.due) != 0)
            return s_reject(c, "termin zadania");
        row.sector = (uint8_t)s_sector(f->has_owner_sector, f->owner_sector);
    } else {
        row = old;
        row.step = done ? S_TASK_DONE : S_TASK_CANCELLED;
        row.done = date;
    }
    if ((rc = s_task_store(c, f->task, had ? &old : NULL, &row)) != 0 || c->verdict == S_REJECTED)
        return rc;
    if (added && !had && koop_id_valid(f->ipw))
        return s_ipw_child_add(c, f->ipw, 't', f->task);
    return 0;
}

/* ---- meetings and referrals ---- */

typedef struct {
    int32_t day;
    uint8_t state;      /* S_LIVE; cancelled ones count nothing either */
    uint8_t cancelled;
    uint8_t pad[2];
    uint32_t unit;
} s_meeting_row;

static int
s_meeting_contrib(s_ctx *c, const void *row, int sign)
{
    const s_meeting_row *m = row;
    if (m->state != S_LIVE || m->cancelled)
        return 0;
    if (s_at(c, m->unit) != 0)
        return s_reject(c, "jednostka spoza drzewa tego węzła");
    return s_add(c, rep_month_of(m->day), REP_F_MEETINGS, sign);
}

static int
s_meeting_store(s_ctx *c, const char *id, const s_meeting_row *old, const s_meeting_row *row)
{
    return s_store(c, c->p->meeting, id, old, row, sizeof *row, s_meeting_contrib);
}

static int
s_meeting(s_ctx *c, const char *type, const Koop__Cases__MeetingFacts *f)
{
    s_meeting_row old, row;
    int32_t date;
    int rc, had;
    if (rep_day_parse(f->date, &date) != 0)
        return s_reject(c, "data spotkania");
    if (!koop_id_valid(f->meeting))
        return s_reject(c, "identyfikator spotkania");
    rc = s_row_get(c->txn, c->p->meeting, f->meeting, &old, sizeof old, NULL);
    had = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (had && old.unit != s_writer(c))
        return s_owner_refused(c, old.unit);
    if (!had && strcmp(type, "meeting.held") != 0)
        return s_reject(c, "nieznane spotkanie (brak meeting.held)");
    if (!had && (rc = s_ipw_child_check(c, f->ipw)) != 0)
        return rc;
    if (had) {
        row = old;
    } else {
        memset(&row, 0, sizeof row);
        row.unit = s_writer(c);
    }
    row.day = date;
    if (strcmp(type, "meeting.cancelled") == 0)
        row.cancelled = 1;
    if ((rc = s_meeting_store(c, f->meeting, had ? &old : NULL, &row)) != 0 || c->verdict == S_REJECTED)
        return rc;
    if (!had && koop_id_valid(f->ipw))
        return s_ipw_child_add(c, f->ipw, 'm', f->meeting);
    return 0;
}

typedef struct {
    int32_t sent, accepted, declined, done;
    uint32_t unit;
    uint8_t state;
    uint8_t pad[3];
} s_referral_row;

/* Adds sign answers after `days` to node `node` of the unit's answer tree:
 * a value of REP_ANSWER_ENTRY-byte entries (be16 days, int64 count) sorted
 * by days, an entry gone when its count is 0, the row gone when empty. */
static int
s_answer_add(MDB_txn *txn, MDB_dbi dbi, uint32_t unit, uint16_t node, uint16_t days, int64_t sign)
{
    unsigned char key[6], *out;
    MDB_val k = {sizeof key, key}, v;
    size_t n = 0, lo = 0, hi, at;
    int rc, found = 0;
    int64_t count = 0;

    rep_be32_put(key, unit);
    key[4] = (unsigned char)(node >> 8);
    key[5] = (unsigned char)node;
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0) {
        if (v.mv_size % REP_ANSWER_ENTRY != 0)
            return MDB_CORRUPTED;
        n = v.mv_size / REP_ANSWER_ENTRY;
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    hi = n;
    while (lo < hi) { /* the first entry with days >= the answer's */
        size_t mid = lo + (hi - lo) / 2;
        if (rep_be16_get((const unsigned char *)v.mv_data + mid * REP_ANSWER_ENTRY) < days)
            lo = mid + 1;
        else
            hi = mid;
    }
    at = lo;
    if (at < n && rep_be16_get((const unsigned char *)v.mv_data + at * REP_ANSWER_ENTRY) == days) {
        found = 1;
        memcpy(&count, (const unsigned char *)v.mv_data + at * REP_ANSWER_ENTRY + 2, sizeof count);
    }
    count += sign;
    {
        size_t m = n + (found ? 0 : 1) - (count == 0 ? 1 : 0);
        if (m == 0)
            return rc == 0 ? mdb_del(txn, dbi, &k, NULL) : 0;
        if (!(out = malloc(m * REP_ANSWER_ENTRY)))
            return ENOMEM;
        /* the entries before, this one (unless 0), the ones after */
        if (at) /* v.mv_data is NULL for a new key */
            memcpy(out, v.mv_data, at * REP_ANSWER_ENTRY);
        if (count != 0) {
            rep_be16_put(out + at * REP_ANSWER_ENTRY, days);
            memcpy(out + at * REP_ANSWER_ENTRY + 2, &count, sizeof count);
        }
        if (n - at - found)
            memcpy(out + (at + (count != 0)) * REP_ANSWER_ENTRY,
                   (const unsigned char *)v.mv_data + (at + found) * REP_ANSWER_ENTRY,
                   (n - at - found) * REP_ANSWER_ENTRY);
        v.mv_size = m * REP_ANSWER_ENTRY;
        v.mv_data = out;
        rc = mdb_put(txn, dbi, &k, &v, 0);
        free(out);
        return rc;
    }
}

static int
s_referral_contrib(s_ctx *c, const void *row, int sign)
{
    const s_referral_row *r = row;
    int32_t answer = r->accepted != REP_NO_DAY ? r->accepted : r->declined;
    int rc;
    if (r->state != S_LIVE)
        return 0;
    if (s_at(c, r->unit) != 0)
        return s_reject(c, "jednostka spoza drzewa tego węzła");
    rc = s_add(c, rep_month_of(r->sent), REP_F_REF_SENT, sign);
    if (rc == 0 && r->accepted != REP_NO_DAY)
        rc = s_add(c, rep_month_of(r->accepted), REP_F_REF_ACCEPTED, sign);
    if (rc == 0 && r->declined != REP_NO_DAY)
        rc = s_add(c, rep_month_of(r->declined), REP_F_REF_DECLINED, sign);
    if (rc == 0 && r->done != REP_NO_DAY)
        rc = s_add(c, rep_month_of(r->done), REP_F_REF_DONE, sign);
    if (rc != 0 || answer == REP_NO_DAY)
        return rc;
    {
        int32_t days = answer < r->sent ? 0 : answer - r->sent;
        uint16_t m = rep_month_of(answer);
        if ((rc = s_add(c, m, REP_F_REF_ANSWERED, sign)) != 0 || (rc = s_add(c, m, REP_F_REF_ANSWER_DAYS, (int64_t)sign * days)) != 0)
            return rc;
        if (days > UINT16_MAX)
            days = UINT16_MAX;
        for (int i = 0; i < c->chain->n; i++)
            for (unsigned node = (unsigned)m + 1; node <= REP_FEN; node += node & -node)
                if ((rc = s_answer_add(c->txn, c->p->answer, c->chain->unit[i], (uint16_t)node, (uint16_t)days,
                                       sign)) != 0)
                    return rc;
    }
    return 0;
}

static int
s_referral_store(s_ctx *c, const char *id, const s_referral_row *old, const s_referral_row *row)
{
    return s_store(c, c->p->referral, id, old, row, sizeof *row, s_referral_contrib);
}

/* The dates a referral's facts carry (a transfer in): -1 on a bad one. */
static int
s_referral_dates(const Koop__Cases__ReferralFacts *f, s_referral_row *row)
{
    if (rep_day_parse(f->sent, &row->sent) != 0 || s_opt_day(f->accepted, &row->accepted) != 0 ||
        s_opt_day(f->declined, &row->declined) != 0 || s_opt_day(f->done, &row->done) != 0)
        return -1;
    return 0;
}

static int
s_referral(s_ctx *c, const char *type, const Koop__Cases__ReferralFacts *f)
{
    s_referral_row old, row;
    int32_t date;
    int rc, had, sent = strcmp(type, "referral.sent") == 0;

    if (!koop_id_valid(f->referral) || rep_day_parse(f->date, &date) != 0)
        return s_reject(c, "identyfikator lub data skierowania");
    rc = s_row_get(c->txn, c->p->referral, f->referral, &old, sizeof old, NULL);
    had = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (!had && !sent)
        return s_reject(c, "nieznane skierowanie (brak referral.sent)");
    if (had && old.unit != s_writer(c))
        return s_owner_refused(c, old.unit);
    if (sent && !had && (rc = s_ipw_child_check(c, f->ipw)) != 0)
        return rc;
    if (sent) {
        memset(&row, 0, sizeof row);
        row.sent = date;
        row.accepted = row.declined = row.done = REP_NO_DAY;
        row.unit = s_writer(c);
    } else {
        row = old;
        if (strcmp(type, "referral.accepted") == 0)
            row.accepted = date;
        else if (strcmp(type, "referral.declined") == 0)
            row.declined = date;
        else if (strcmp(type, "referral.done") == 0)
            row.done = date;
        else if (strcmp(type, "referral.updated") != 0)
            return s_reject(c, "nieznany krok skierowania");
    }
    if ((rc = s_referral_store(c, f->referral, had ? &old : NULL, &row)) != 0 || c->verdict == S_REJECTED)
        return rc;
    if (sent && !had && koop_id_valid(f->ipw))
        return s_ipw_child_add(c, f->ipw, 'r', f->referral);
    return 0;
}

/* ---- the rows of an IPW's children, together ---- */

/* Calls fn for every child of ipw (kind 'g', 't', 'm', 'r'). */
static int
s_each_child(s_ctx *c, const char *ipw, int (*fn)(s_ctx *c, char kind, const char *id, void *ctx), void *ctx)
{
    MDB_cursor *cur;
    MDB_val k = {REP_ID, (void *)ipw}, v;
    int rc;
    if ((rc = mdb_cursor_open(c->txn, c->p->ipw_child, &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *key = k.mv_data;
        char id[KOOP_ID_LEN];
        if (k.mv_size != 2 * REP_ID + 1 || memcmp(key, ipw, REP_ID) != 0)
            break;
        memcpy(id, key + REP_ID + 1, REP_ID);
        id[REP_ID] = '\0';
        if ((rc = fn(c, key[REP_ID], id, ctx)) != 0 || c->verdict == S_REJECTED)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

typedef struct {
    int state;       /* the state to give (S_LIVE, S_REMOVED, S_AWAY) */
    uint32_t unit;   /* the unit to count it in */
} s_move;

/* The fixed-size child rows, moved alike: where each keeps its state and
 * unit, and how it is stored after a change. */
typedef union {
    s_task_row t;
    s_meeting_row m;
    s_referral_row r;
} s_child_row;

static const struct {
    char kind;
    size_t size, state, unit;
    s_contrib_fn contrib;
} s_children[] = {
    {'t', sizeof(s_task_row), offsetof(s_task_row, state), offsetof(s_task_row, unit), s_task_contrib},
    {'m', sizeof(s_meeting_row), offsetof(s_meeting_row, state), offsetof(s_meeting_row, unit), s_meeting_contrib},
    {'r', sizeof(s_referral_row), offsetof(s_referral_row, state), offsetof(s_referral_row, unit), s_referral_contrib},
};

static MDB_dbi
s_child_dbi(const s_ctx *c, char kind)
{
    return kind == 't' ? c->p->task : kind == 'm' ? c->p->meeting : c->p->referral;
}

/* A child row's state and unit changed (an IPW removed, away, or moved). */
static int
s_child_move(s_ctx *c, char kind, const char *id, void *ctx)
{
    const s_move *mv = ctx;
    s_child_row old, row;
    int rc, had;
    if (kind == 'g') {
        s_goal_row *g_old = malloc(sizeof *g_old), *g_row = malloc(sizeof *g_row);
        rc = !g_old || !g_row ? ENOMEM : s_goal_get(c, id, g_old, &had);
        if (rc == 0 && had && g_old->state != S_REMOVED) {
            memcpy(g_row, g_old, S_GOAL_SIZE(g_old));
            g_row->state = (uint8_t)mv->state;
            g_row->unit = mv->unit;
            rc = s_goal_store(c, id, g_old, g_row);
        }
        free(g_old);
        free(g_row);
        return rc;
    }
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_children); i++) {
        if (s_children[i].kind != kind)
            continue;
        rc = s_row_get(c->txn, s_child_dbi(c, kind), id, &old, s_children[i].size, NULL);
        if (rc != 0 || ((const uint8_t *)&old)[s_children[i].state] == S_REMOVED)
            return rc == MDB_NOTFOUND ? 0 : rc;
        row = old;
        ((uint8_t *)&row)[s_children[i].state] = (uint8_t)mv->state;
        memcpy((char *)&row + s_children[i].unit, &mv->unit, sizeof mv->unit);
        return s_store(c, s_child_dbi(c, kind), id, &old, &row, s_children[i].size, s_children[i].contrib);
    }
    return 0;
}

/* The unit a child row is counted in (*had = 0: no such row). */
static int
s_child_unit(s_ctx *c, char kind, const char *id, uint32_t *unit, int *had)
{
    s_child_row row;
    int rc;
    *had = 0;
    if (kind == 'g') {
        s_goal_row *g = malloc(sizeof *g);
        rc = g ? s_goal_get(c, id, g, had) : ENOMEM;
        if (rc == 0 && *had)
            *unit = g->unit;
        free(g);
        return rc;
    }
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_children); i++) {
        if (s_children[i].kind != kind)
            continue;
        rc = s_row_get(c->txn, s_child_dbi(c, kind), id, &row, s_children[i].size, NULL);
        if (rc != 0)
            return rc == MDB_NOTFOUND ? 0 : rc;
        memcpy(unit, (const char *)&row + s_children[i].unit, sizeof *unit);
        *had = 1;
    }
    return 0;
}

/* An IPW and its children get state/unit (record.removed, a transfer). */
static int
s_ipw_move(s_ctx *c, const char *ipw, const s_ipw_row *old, int state, uint32_t unit)
{
    s_ipw_row row = *old;
    s_move mv = {state, unit};
    int rc;
    row.state = (uint8_t)state;
    row.unit = unit;
    row.offered = 0;
    if ((rc = s_ipw_store(c, ipw, old, &row)) != 0 || c->verdict == S_REJECTED)
        return rc;
    return s_each_child(c, ipw, s_child_move, &mv);
}

/* ---- record.removed: a record entered by mistake counts nothing ---- */

static int
s_removed(s_ctx *c, const Koop__Cases__RemovedFacts *f)
{
    s_move gone = {S_REMOVED, s_writer(c)};
    char kind;
    uint32_t unit = 0;
    int rc, had;
    if (!koop_id_valid(f->id))
        return s_reject(c, "identyfikator usuniętego wpisu");
    switch (f->kind) {
    case KOOP__CASES__RECORD_KIND__RECORD_HOUSEHOLD: {
        int32_t day;
        if (rep_day_parse(f->registered, &day) != 0)
            return s_reject(c, "data rejestracji usuniętego gospodarstwa");
        return s_add(c, rep_month_of(day), REP_F_HH_REGISTERED, -1);
    }
    case KOOP__CASES__RECORD_KIND__RECORD_IPW: {
        s_ipw_row old;
        rc = s_row_get(c->txn, c->p->ipw, f->id, &old, sizeof old, NULL);
        if (rc == MDB_NOTFOUND)
            return s_reject(c, "nieznany IPW");
        if (rc != 0)
            return rc;
        if (old.unit != s_writer(c))
            return s_owner_refused(c, old.unit);
        return s_ipw_move(c, f->id, &old, S_REMOVED, old.unit);
    }
    case KOOP__CASES__RECORD_KIND__RECORD_GOAL: kind = 'g'; break;
    case KOOP__CASES__RECORD_KIND__RECORD_TASK: kind = 't'; break;
    case KOOP__CASES__RECORD_KIND__RECORD_MEETING: kind = 'm'; break;
    case KOOP__CASES__RECORD_KIND__RECORD_REFERRAL: kind = 'r'; break;
    default: return s_reject(c, "nieznany rodzaj usuniętego wpisu");
    }
    if ((rc = s_child_unit(c, kind, f->id, &unit, &had)) != 0)
        return rc;
    if (had && unit != s_writer(c))
        return s_owner_refused(c, unit);
    return s_child_move(c, kind, f->id, &gone);
}

/* ---- a household handed to another gmina ---- */

/* The rows of the children a transfer's facts describe, made when this
 * node never saw them (a hub above the receiver only). */
static int
s_transfer_children(s_ctx *c, const Koop__Cases__TransferFacts *f)
{
    const char *ipw = f->ipw;
    int rc = 0, had;
    int32_t date;
    for (size_t i = 0; rc == 0 && i < f->n_goals && c->verdict != S_REJECTED; i++) {
        const Koop__Cases__GoalFacts *g = f->goals[i];
        s_goal_row *row;
        if (!koop_id_valid(g->goal) || rep_day_parse(g->date, &date) != 0 || g->n_scaling_values != g->n_scaling_dates)
            return s_reject(c, "cel w przekazaniu");
        if (s_row_exists(c->txn, c->p->goal, g->goal))
            continue;
        if (!(row = calloc(1, sizeof *row)))
            return ENOMEM;
        row->added = date;
        row->unit = s_writer(c);
        s_goal_attrs(g, row);
        for (size_t k = 0; rc == 0 && k < g->n_scaling_values && c->verdict != S_REJECTED; k++) {
            int32_t day;
            if (rep_day_parse(g->scaling_dates[k], &day) != 0 || g->scaling_values[k] < 0 || g->scaling_values[k] > 10)
                rc = s_reject(c, "ocena celu w przekazaniu");
            else
                rc = s_goal_scaled(c, row, day, g->scaling_values[k]);
        }
        if (rc == 0 && c->verdict != S_REJECTED && (rc = s_goal_store(c, g->goal, NULL, row)) == 0 && c->verdict != S_REJECTED)
            rc = s_ipw_child_add(c, ipw, 'g', g->goal);
        free(row);
    }
    for (size_t i = 0; rc == 0 && i < f->n_tasks && c->verdict != S_REJECTED; i++) {
        const Koop__Cases__TaskFacts *t = f->tasks[i];
        s_task_row row, old;
        if (!koop_id_valid(t->task) || rep_day_parse(t->date, &date) != 0)
            return s_reject(c, "zadanie w przekazaniu");
        had = s_row_get(c->txn, c->p->task, t->task, &old, sizeof old, NULL) == 0;
        if (!had && (rc = s_task_new(c, t, date, &row)) == 0 && c->verdict != S_REJECTED &&
            (rc = s_task_store(c, t->task, NULL, &row)) == 0 && c->verdict != S_REJECTED)
            rc = s_ipw_child_add(c, ipw, 't', t->task);
    }
    for (size_t i = 0; rc == 0 && i < f->n_meetings && c->verdict != S_REJECTED; i++) {
        const Koop__Cases__MeetingFacts *m = f->meetings[i];
        s_meeting_row row;
        if (!koop_id_valid(m->meeting) || rep_day_parse(m->date, &date) != 0)
            return s_reject(c, "spotkanie w przekazaniu");
        if (s_row_exists(c->txn, c->p->meeting, m->meeting))
            continue;
        memset(&row, 0, sizeof row);
        row.day = date;
        row.unit = s_writer(c);
        if ((rc = s_meeting_store(c, m->meeting, NULL, &row)) == 0 && c->verdict != S_REJECTED)
            rc = s_ipw_child_add(c, ipw, 'm', m->meeting);
    }
    for (size_t i = 0; rc == 0 && i < f->n_referrals && c->verdict != S_REJECTED; i++) {
        const Koop__Cases__ReferralFacts *r = f->referrals[i];
        s_referral_row row;
        if (!koop_id_valid(r->referral))
            return s_reject(c, "skierowanie w przekazaniu");
        if (s_row_exists(c->txn, c->p->referral, r->referral))
            continue;
        memset(&row, 0, sizeof row);
        if (s_referral_dates(r, &row) != 0)
            return s_reject(c, "daty skierowania w przekazaniu");
        row.unit = s_writer(c);
        if ((rc = s_referral_store(c, r->referral, NULL, &row)) == 0 && c->verdict != S_REJECTED)
            rc = s_ipw_child_add(c, ipw, 'r', r->referral);
    }
    return rc;
}

/* Every child fact of a transfer is sane (checked before the first write). */
static int
s_transfer_valid(const Koop__Cases__TransferFacts *f)
{
    int32_t d;
    s_referral_row r;
    for (size_t i = 0; i < f->n_goals; i++) {
        const Koop__Cases__GoalFacts *g = f->goals[i];
        if (!koop_id_valid(g->goal) || rep_day_parse(g->date, &d) != 0 || g->n_scaling_values != g->n_scaling_dates ||
            g->n_scaling_values > REP_MAX_SCALINGS)
            return -1;
        for (size_t k = 0; k < g->n_scaling_values; k++)
            if (rep_day_parse(g->scaling_dates[k], &d) != 0 || g->scaling_values[k] < 0 || g->scaling_values[k] > 10)
                return -1;
    }
    for (size_t i = 0; i < f->n_tasks; i++)
        if (!koop_id_valid(f->tasks[i]->task) || rep_day_parse(f->tasks[i]->date, &d) != 0 ||
            rep_day_parse(f->tasks[i]->due, &d) != 0)
            return -1;
    for (size_t i = 0; i < f->n_meetings; i++)
        if (!koop_id_valid(f->meetings[i]->meeting) || rep_day_parse(f->meetings[i]->date, &d) != 0)
            return -1;
    for (size_t i = 0; i < f->n_referrals; i++)
        if (!koop_id_valid(f->referrals[i]->referral) || s_referral_dates(f->referrals[i], &r) != 0)
            return -1;
    return 0;
}

/* household.transferred_in: the receiver now owns the IPW. A hub that
 * counted it for the sender moves it (once: a row already moved, or made
 * away by the sender's transferred_out, is taken as it is); one that never
 * saw it takes it from the facts. */
static int
s_transfer_in(s_ctx *c, const Koop__Cases__TransferFacts *f)
{
    const Koop__Cases__IpwFacts *wf = f->ipw_facts;
    s_ipw_row old, row;
    int32_t date;
    int rc, had;
    if (!f->ipw || !*f->ipw)
        return 0; /* a household without an open programme: nothing counted moves */
    if (!koop_id_valid(f->ipw) || !wf || !wf->ipw || strcmp(wf->ipw, f->ipw) != 0 || rep_day_parse(wf->opened, &date) != 0 ||
        s_transfer_valid(f) != 0)
        return s_reject(c, "IPW w przekazaniu");
    rc = s_row_get(c->txn, c->p->ipw, f->ipw, &old, sizeof old, NULL);
    had = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (had) {
        if (old.unit != s_writer(c) && old.state == S_LIVE && !old.offered)
            return s_owner_refused(c, old.unit); /* its owner did not offer it */
        if ((rc = s_ipw_move(c, f->ipw, &old, S_LIVE, s_writer(c))) != 0)
            return rc;
    } else {
        if ((rc = s_ipw_new(c, wf, date, &row)) != 0 || c->verdict == S_REJECTED ||
            (rc = s_ipw_state(c, "ipw.transferred", wf, date, &row)) != 0 || c->verdict == S_REJECTED)
            return rc;
        for (size_t i = 0; i < f->n_zzk; i++) {
            int sector = s_sector(f->zzk[i]->has_sector, f->zzk[i]->sector);
            if (row.zzk < UINT16_MAX)
                row.zzk++;
            if (sector)
                row.sectors |= (uint16_t)(1u << sector);
        }
        if ((rc = s_ipw_store(c, f->ipw, NULL, &row)) != 0)
            return rc;
    }
    return c->verdict == S_REJECTED ? 0 : s_transfer_children(c, f);
}

/* The sender's side: an offer marks the IPW (the receiver may take it
 * over), a decline unmarks it, transferred_out takes it out of the sender's
 * figures here unless the receiver's transferred_in already moved it. */
static int
s_transfer(s_ctx *c, const char *type, const Koop__Cases__TransferFacts *f)
{
    s_ipw_row old, row;
    int rc;
    if (!koop_id_valid(f->transfer) || !koop_id_valid(f->household))
        return s_reject(c, "identyfikator przekazania");
    if (strcmp(type, "household.transferred_in") == 0)
        return s_transfer_in(c, f);
    if (!f->ipw || !*f->ipw)
        return 0;
    rc = s_row_get(c->txn, c->p->ipw, f->ipw, &old, sizeof old, NULL);
    if (rc == MDB_NOTFOUND)
        return s_reject(c, "nieznany IPW");
    if (rc != 0)
        return rc;
    if (old.unit != s_writer(c))
        return 0; /* the receiver has it already: nothing of the sender's counts here */
    row = old;
    if (strcmp(type, "household.transfer_offered") == 0)
        row.offered = 1;
    else if (strcmp(type, "household.transfer_declined") == 0)
        row.offered = 0;
    else
        return s_ipw_move(c, f->ipw, &old, S_AWAY, old.unit);
    return s_row_put(c->txn, c->p->ipw, f->ipw, &row, sizeof row);
}

/* ---- nodes ---- */

/* A node's name (and TERYT when its unit has none): only the node itself
 * may say what it is called. */
static int
s_node_described(s_ctx *c, const Koop__Reg__NodeInfo *r)
{
    char node[64];
    rep_unit_t u;
    int rc;
    if (!r->node || !c->ev->node || strcmp(r->node, c->ev->node) != 0 || !s_valid_node(r->node))
        return s_reject(c, "węzeł opisuje inny węzeł");
    if (!r->name || koop_text_name_rule(r->name, REP_NAME_MAX - 1, NULL) != KOOP_TEXT_OK)
        return s_reject(c, "nazwa węzła");
    if ((rc = koop_store_put_str(c->txn, c->p->unit_name, r->node, r->name, strlen(r->name))) != 0)
        return rc;
    if (!s_teryt_valid(r->teryt) || strlen(r->teryt) >= sizeof u.teryt)
        return 0;
    if ((rc = rep_unit_node(c->p, c->txn, c->chain->unit[0], node, &u)) != 0)
        return rc;
    if (u.teryt[0] || strcmp(node, r->node) != 0)
        return 0;
    memcpy(u.teryt, r->teryt, strlen(r->teryt) + 1);
    return s_unit_put(c->p, c->txn, node, &u);
}

/* ---- dispatch ---- */

/* Decodes the event by its type (common/events.def) and applies it: an
 * event of a type the table does not know, or whose payload does not match
 * its type, is rejected and counted, never passed over in silence. */
static int
s_dispatch(s_ctx *c)
{
    const koop_event_type_t *t;
    ProtobufCMessage *m;
    int rc = koop_event_decode(c->ev, &t, &m);

    if (rc != 0)
        return s_reject(c, koop_event_decode_error(rc));
    {
        /* a record names its owner: the node that wrote the event */
        int has;
        const char *owner = koop_event_owner(t, m, &has);
        if (has && (!owner || !c->ev->node || strcmp(owner, c->ev->node) != 0)) {
            protobuf_c_message_free_unpacked(m, NULL);
            c->verdict = S_NOT_OWNED;
            return 0;
        }
    }
    switch (t->id) {
    case KOOP_EV_INSTITUTION_ADDED: case KOOP_EV_INSTITUTION_UPDATED:
        rc = s_institution(c, (Koop__Reg__Institution *)m);
        break;
    case KOOP_EV_AGREEMENT_ADDED: case KOOP_EV_AGREEMENT_UPDATED:
        rc = s_agreement(c, (Koop__Reg__Agreement *)m);
        break;
    case KOOP_EV_PZK_CREATED: case KOOP_EV_PZK_UPDATED: case KOOP_EV_PZK_JOINED: case KOOP_EV_PZK_LEFT:
    case KOOP_EV_PZK_DISSOLVED:
        rc = s_pzk(c, (Koop__Reg__Pzk *)m);
        break;
    case KOOP_EV_CATALOGUE_ADDED: case KOOP_EV_CATALOGUE_UPDATED:
        rc = s_catalogue(c, (Koop__Reg__CatalogueEntry *)m);
        break;
    case KOOP_EV_NODE_DESCRIBED:
        rc = s_node_described(c, (Koop__Reg__NodeInfo *)m);
        break;
    case KOOP_EV_IPW_MEMBER_ADDED: case KOOP_EV_IPW_MEMBER_REMOVED:
        rc = s_ipw_member(c, t->type, (Koop__Cases__MemberFacts *)m);
        break;
    case KOOP_EV_IPW_OPENED: case KOOP_EV_IPW_ACTIVATED: case KOOP_EV_IPW_SUSPENDED:
    case KOOP_EV_IPW_RESUMED: case KOOP_EV_IPW_REVIEWED: case KOOP_EV_IPW_CLOSED:
    case KOOP_EV_IPW_UPDATED: case KOOP_EV_IPW_CORRECTED: case KOOP_EV_IPW_REOPENED:
        rc = s_ipw(c, t->type, (Koop__Cases__IpwFacts *)m);
        break;
    case KOOP_EV_HOUSEHOLD_REGISTERED: case KOOP_EV_HOUSEHOLD_MEMBER_ADDED: case KOOP_EV_HOUSEHOLD_UPDATED:
        rc = s_household(c, t->type, (Koop__Cases__HouseholdFacts *)m);
        break;
    case KOOP_EV_GOAL_ADDED: case KOOP_EV_GOAL_SCALED: case KOOP_EV_GOAL_UPDATED:
        rc = s_goal(c, t->type, (Koop__Cases__GoalFacts *)m);
        break;
    case KOOP_EV_TASK_ADDED: case KOOP_EV_TASK_STARTED: case KOOP_EV_TASK_DONE: case KOOP_EV_TASK_CANCELLED:
    case KOOP_EV_TASK_UPDATED:
        rc = s_task(c, t->type, (Koop__Cases__TaskFacts *)m);
        break;
    case KOOP_EV_MEETING_HELD: case KOOP_EV_MEETING_UPDATED: case KOOP_EV_MEETING_CANCELLED:
        rc = s_meeting(c, t->type, (Koop__Cases__MeetingFacts *)m);
        break;
    case KOOP_EV_REFERRAL_SENT: case KOOP_EV_REFERRAL_ACCEPTED: case KOOP_EV_REFERRAL_DECLINED:
    case KOOP_EV_REFERRAL_DONE: case KOOP_EV_REFERRAL_UPDATED:
        rc = s_referral(c, t->type, (Koop__Cases__ReferralFacts *)m);
        break;
    case KOOP_EV_REPORT_APPROVED: case KOOP_EV_REPORT_REOPENED:
        rc = rep_approval_apply(c->p, c->txn, c->ev->node, (Koop__Rep__Approval *)m); /* approval.c */
        c->verdict = S_IGNORED; /* no indicator counts it */
        break;
    case KOOP_EV_RECORD_REMOVED:
        rc = s_removed(c, (Koop__Cases__RemovedFacts *)m);
        break;
    case KOOP_EV_TRANSFER_OFFERED: case KOOP_EV_TRANSFER_DECLINED: case KOOP_EV_TRANSFERRED_OUT:
    case KOOP_EV_TRANSFERRED_IN:
        rc = s_transfer(c, t->type, (Koop__Cases__TransferFacts *)m);
        break;
    default:
        c->verdict = S_IGNORED; /* consent, other services' events: not an indicator */
        rc = 0;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    if (rc == S_NOT_OWNER) {
        c->verdict = S_NOT_OWNED;
        rc = 0;
    }
    return rc;
}

/* A hub-owned institution applied by this node's registry (a LOCAL
 * remote.institution.* event of its own log, carrying the hub's SHARED
 * envelope): its sector counts where it is a partner here. Counted as
 * applied; every other LOCAL event is not read. */
static int
s_is_remote_institution(const Koop__Event *ev, int wrapped)
{
    return !wrapped && ev->type &&
           (strcmp(ev->type, "remote.institution.added") == 0 || strcmp(ev->type, "remote.institution.updated") == 0);
}

static int
s_remote_institution(s_ctx *c)
{
    const koop_event_type_t *t, *it;
    ProtobufCMessage *m = NULL, *rec = NULL;
    const Koop__Reg__Institution *inst;
    const Koop__Event *inner;
    int rc;
    if (koop_event_decode(c->ev, &t, &m) != 0 || t->payload != &koop__event__descriptor) {
        rc = s_reject(c, "koperta instytucji z huba");
        goto done;
    }
    inner = (const Koop__Event *)m;
    if (koop_event_decode(inner, &it, &rec) != 0 || it->payload != &koop__reg__institution__descriptor) {
        rc = s_reject(c, "instytucja z huba");
        goto done;
    }
    inst = (const Koop__Reg__Institution *)rec;
    if (!inst->owner || !inner->node || strcmp(inst->owner, inner->node) != 0)
        rc = s_reject(c, "instytucja z huba zmieniana nie przez swój węzeł");
    else
        rc = s_institution(c, inst);
done:
    if (rec)
        protobuf_c_message_free_unpacked(rec, NULL);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* The chain of units of an event whose envelopes, outermost first, were
 * written by nodes[0..n). This node is the top of every chain. *ok = 0: the
 * nodes do not make a path of this tree (a bad id, a loop, too deep);
 * *moved = 1: a node of the path is already known below another node (a
 * hub's stream carries only its own subtree). */
static int
s_chain(rep_proj_t *p, MDB_txn *txn, const char *const *nodes, int n, rep_chain_t *chain, int *ok, int *moved)
{
    const char *path[REP_MAX_DEPTH];
    int np = 0, rc;
    uint32_t parent = 0;

    *ok = 0;
    *moved = 0;
    chain->n = 0;
    if (n < 1 || !nodes[0] || strcmp(nodes[0], p->self.node) != 0)
        return 0; /* the feeds are this node's: its own events, or its hub's merged stream */
    if (n == 1) {
        chain->unit[0] = p->self_no; /* this node's own feeds */
        chain->n = 1;
        *ok = 1;
        return 0;
    }
    path[np++] = p->self.node;
    for (int i = 0; i < n; i++) {
        if (!s_valid_node(nodes[i]))
            return 0;
        if (strcmp(nodes[i], path[np - 1]) == 0)
            continue;
        for (int j = 0; j < np; j++)
            if (strcmp(nodes[i], path[j]) == 0)
                return 0; /* a loop: not a tree */
        if (np == REP_MAX_DEPTH)
            return 0;
        path[np++] = nodes[i];
    }
    /* a refused path leaves no unit behind: the stored parents first */
    for (int i = 1; i < np; i++) {
        rep_unit_t u, up;
        if ((rc = rep_unit_by_node(p, txn, path[i], &u)) == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return rc;
        if ((rc = rep_unit_by_node(p, txn, path[i - 1], &up)) != 0 && rc != MDB_NOTFOUND)
            return rc;
        if (u.parent != 0 && (rc == MDB_NOTFOUND || u.parent != up.no)) {
            *moved = 1;
            return 0;
        }
    }
    for (int i = 0; i < np; i++) {
        rep_unit_t u;
        int mv;
        if ((rc = s_unit_ensure(p, txn, path[i], parent, i + 1 < np, &u, &mv)) != 0)
            return rc;
        if (mv) {
            *moved = 1;
            return 0;
        }
        chain->unit[np - 1 - i] = u.no;
        parent = u.no;
    }
    chain->n = np;
    *ok = 1;
    return 0;
}

static int
s_count(rep_proj_t *p, MDB_txn *txn, int verdict)
{
    rep_stats_t own, *st = s_in_batch(p, txn) ? &p->stats : &own;
    int rc;
    if (st == &own && (rc = rep_proj_stats(p, txn, &own)) != 0)
        return rc;
    if (verdict == S_APPLIED)
        st->applied++;
    else if (verdict == S_IGNORED)
        st->ignored++;
    else if (verdict == S_NOT_OWNED)
        st->not_owned++;
    else
        st->rejected++;
    return st == &own ? koop_store_put_str(txn, p->meta, "stats", &own, sizeof own) : 0;
}

int
rep_apply(MDB_txn *txn, const Koop__Event *event, void *ctx)
{
    rep_proj_t *p = ctx;
    Koop__Event *inner[REP_MAX_DEPTH];
    const char *nodes[REP_MAX_DEPTH];
    const Koop__Event *cur = event;
    int ninner = 0, nn = 0, rc = 0, ok, moved;
    rep_chain_t chain;
    s_ctx c = {p, txn, &p->acc, &chain, NULL, S_APPLIED, NULL, &chain, {{0}, 0}, 0};

    p->acc.n = 0;
    /* a hub's merged stream: each envelope carries the envelope of a node below */
    while (cur->stream && strcmp(cur->stream, "sync") == 0) {
        if (ninner == REP_MAX_DEPTH - 1) {
            s_reject(&c, "za głęboko zagnieżdżone koperty");
            goto done;
        }
        nodes[nn++] = cur->node;
        inner[ninner] = koop__event__unpack(NULL, cur->payload.len, cur->payload.data);
        if (!inner[ninner]) {
            s_reject(&c, "koperta z huba nie daje się odczytać");
            goto done;
        }
        cur = inner[ninner++];
    }
    nodes[nn++] = cur->node;
    c.ev = cur;
    if (cur->scope != KOOP__SCOPE__SCOPE_SHARED && !s_is_remote_institution(cur, ninner)) {
        c.verdict = S_IGNORED; /* never counted: gmina and hub figures come from the same facts */
        goto done;
    }
    if ((rc = s_chain(p, txn, nodes, nn, &chain, &ok, &moved)) != 0)
        goto done;
    if (!ok) {
        s_reject(&c, "nieprawidłowy identyfikator węzła w kopercie");
        goto done;
    }
    if (moved) {
        c.verdict = S_NOT_OWNED; /* a hub's stream with a node of another subtree */
        goto done;
    }
    if ((rc = cur->scope == KOOP__SCOPE__SCOPE_SHARED ? s_dispatch(&c) : s_remote_institution(&c)) != 0)
        goto done;
    if (c.verdict != S_REJECTED && c.verdict != S_NOT_OWNED) /* a refused event changes no counter */
        rc = rep_acc_flush(p, txn, &p->acc);
done:
    if (rc == 0 && c.verdict == S_REJECTED && p->warned++ < 20)
        koop_warn("zdarzenie %s seq %llu (%s, węzeł %s) pominięte: %s", c.ev && c.ev->type ? c.ev->type : "?",
                  (unsigned long long)event->seq, event->stream ? event->stream : "?",
                  c.ev && c.ev->node ? c.ev->node : "?", c.why ? c.why : "?");
    if (rc == 0 && c.verdict == S_NOT_OWNED && p->warned++ < 20) {
        char owner[64] = "?";
        rep_unit_t u;
        if (c.owner && rep_unit_node(p, txn, c.owner, owner, &u) != 0)
            snprintf(owner, sizeof owner, "?");
        koop_warn("zdarzenie %.60s seq %llu (%s, węzeł %.63s) odrzucone: %s", c.ev && c.ev->type ? c.ev->type : "?",
                  (unsigned long long)event->seq, event->stream ? event->stream : "?",
                  c.ev && c.ev->node ? c.ev->node : "?",
                  c.owner ? "zmieniałoby rekord innego węzła" : "węzeł spoza poddrzewa huba, który je przysłał");
        if (c.owner)
            koop_warn("  (rekord należy do węzła %s)", owner);
    }
    if (rc == 0 && (c.verdict == S_REJECTED || c.verdict == S_NOT_OWNED))
        (void)(s_in_batch(p, txn) ? p->batch_refused++ : p->refused++);
    if (rc == 0)
        rc = s_count(p, txn, c.verdict);
    for (int i = 0; i < ninner; i++)
        koop__event__free_unpacked(inner[i], NULL);
    p->acc.n = 0;
    return rc;
}
