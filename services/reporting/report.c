/*
 * report.c - the figures of one unit and period, read from the projection.
 *
 * Periods are whole months: --from is the 1st of a month (or YYYY, YYYY-MM,
 * YYYY-Qn), --to the last day of one; the report day T (as_of, default
 * today) bounds what is "so far" (open PZKs' working time, overdue tasks,
 * entries not verified for a year).
 *
 * Cost: one cursor pass over the unit's month rows up to the period's end
 * (at most REP_MONTHS, in practice the months since the data began),
 * whatever the number of events; plus small side tables: gaps of coverage,
 * open tasks due in the month of T, answer times of referrals in the period,
 * the list of services' categories and verification days, and the list of
 * units. Sums over months before the period give the "active in the period"
 * figures (opened by the end minus closed before the start).
 *
 * Definitions (docs/REPORTING.md):
 *   partner_entities  distinct institutions member of a PZK of the unit at
 *                     some time in the period (coverage.c), by sector
 *   pzk_count         PZKs working at some time in the period;
 *   pzk_avg_months    their mean working time, formed -> dissolved or the end
 *                     of the period (T if earlier), in months of 30.44 days
 *   ipw_success_rate  closed with SUCCESS / all closed in the period, percent
 *   households        distinct households with an IPW running in the period;
 *                     persons: their sizes (as of their latest IPW opening)
 *   tasks             tasks due in the period: done on time / late / open
 *                     and overdue at T / open not yet due / cancelled
 *   psr_avg_change    mean of (last review as of the period's end - baseline)
 *                     over goals reviewed by then
 * Above a gmina (the report is made on a hub) a count of 1 or 2, a ratio or
 * average over such a count, a percentage whose part or rest is 1 or 2, and
 * every count that would tell one of them by subtraction are not given
 * (suppress.c; s_suppress below picks the family of units it looks at).
 */
#include "reporting.h"
#include "clock.h"
#include "koop.h"
#include "present.h"
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_DAYS_PER_MONTH 30.44

/* ---- names ---- */

static const char *const s_sector_key[REP_SECTORS] = {
    "unknown", "social_assistance", "family_support", "labour_office", "police", "court", "education",
    "health", "housing", "ngo", "culture_sport", "church", "other",
};

static const char *const s_area_key[REP_AREAS] = {
    "unknown", "work", "housing", "health", "addiction", "parenting", "education", "finances", "relations", "legal", "other",
};

static const char *const s_target_key[REP_TARGETS] = {
    "unknown", "children_youth", "adults", "families", "seniors", "pzk_members",
};

static const char *const s_outcome_key[REP_OUTCOMES] = {"unknown", "none", "success", "no_success", "discontinued"};

/* ---- building the reply ---- */

typedef struct {
    Koop__Rep__Report rep;        /* first: what rep_report returns */
    Koop__Rep__Figure *figs;
    rep_cell_t *cells;            /* cells[i]: figs[i] as suppression sees it */
    Koop__Rep__Figure **ptrs;
    size_t n, cap;
    size_t nsup;                  /* cells[0 .. nsup-1]: those of every row of a
                                     family (then only never-hidden counts of units) */
    char **strs;                  /* strings the reply owns */
    size_t nstrs, capstrs;
    int suppress;                 /* made above a gmina */
    int failed;                   /* out of memory */
} s_out;

static char *
s_keep(s_out *o, const char *s)
{
    char *c;
    if (o->nstrs == o->capstrs) {
        size_t cap = o->capstrs ? o->capstrs * 2 : 32;
        char **g = realloc(o->strs, cap * sizeof *g);
        if (!g) {
            o->failed = 1;
            return NULL;
        }
        o->strs = g;
        o->capstrs = cap;
    }
    if (!(c = strdup(s))) {
        o->failed = 1;
        return NULL;
    }
    o->strs[o->nstrs++] = c;
    return c;
}

/* Rounds half away from zero (no libm). */
static int64_t
s_round(double x)
{
    return (int64_t)(x + (x >= 0 ? 0.5 : -0.5));
}

static double
s_round1(double x)
{
    return (double)s_round(x * 10.0) / 10.0;
}

/* Adds a figure with its raw value (has_value 0: none, no denominator);
 * kind, n and whole say what suppression needs (rep_cell_t). Its label and
 * its dimension's are labels.def's, in Polish: "indicator" by its key (split
 * by dim: "indicator.by"), dim by the set dim_set names (NULL: dim is text
 * of its own, a category); the presentation says them in the reader's
 * language from the same rows. */
static Koop__Rep__Figure *
s_figure(s_out *o, const char *group, const char *key, const char *dim_set, const char *dim, double value,
         int has_value, unsigned decimals, rep_cell_kind_t kind, int64_t n, int64_t whole)
{
    const char *label = koop_present_word(dim ? "indicator.by" : "indicator", key, KOOP_LANG_PL);
    const char *dim_label = dim && dim_set ? koop_present_word(dim_set, dim, KOOP_LANG_PL) : dim;
    Koop__Rep__Figure *f;
    rep_cell_t *c;
    if (o->failed)
        return NULL;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 128;
        Koop__Rep__Figure *g = realloc(o->figs, cap * sizeof *g);
        rep_cell_t *gc;
        if (g)
            o->figs = g;
        gc = g ? realloc(o->cells, cap * sizeof *gc) : NULL;
        if (!gc) {
            o->failed = 1;
            return NULL;
        }
        o->cells = gc;
        o->cap = cap;
    }
    c = &o->cells[o->n];
    f = &o->figs[o->n++];
    koop__rep__figure__init(f);
    f->key = (char *)key;
    f->group = (char *)group;
    f->dim = (char *)(dim ? dim : "");
    f->label = (char *)(label ? label : key);
    f->dim_label = (char *)(dim_label ? dim_label : dim ? dim : "");
    f->dim_set = (char *)(dim && dim_set ? dim_set : "");
    f->has_decimals = 1;
    f->decimals = decimals;
    if (has_value) {
        f->has_value = 1;
        f->value = decimals ? s_round1(value) : value;
    }
    c->key = f->key;
    c->dim = f->dim;
    c->kind = kind;
    c->n = n;
    c->whole = whole;
    c->hidden = 0;
    return f;
}

static void
s_count(s_out *o, const char *group, const char *key, int64_t n)
{
    s_figure(o, group, key, NULL, NULL, (double)n, 1, 0, REP_CELL_COUNT, n, 0);
}

static void
s_count_dim(s_out *o, const char *group, const char *key, const char *dim_set, const char *dim, int64_t n)
{
    if (n != 0)
        s_figure(o, group, key, dim_set, dim, (double)n, 1, 0, REP_CELL_COUNT, n, 0);
}

static void
s_ratio(s_out *o, const char *group, const char *key, double num, int64_t den, double scale)
{
    s_figure(o, group, key, NULL, NULL, den ? num * scale / (double)den : 0, den != 0, 1, REP_CELL_RATIO, den, 0);
}

/* A percentage of two counts (suppress.c hides it also when the part, or
 * the rest, is 1 or 2: 66.7 % of 3 would tell the 2 and the 1). */
static void
s_share(s_out *o, const char *group, const char *key, int64_t part, int64_t whole)
{
    s_figure(o, group, key, NULL, NULL, whole ? (double)part * 100.0 / (double)whole : 0, whole != 0, 1,
             REP_CELL_SHARE, part, whole);
}

/* ---- the period ---- */

static int
s_parse_bound(const char *s, int is_to, int32_t *day, koop_error_t *err)
{
    int y, m = 0, q = 0;
    char tail;
    size_t n = strlen(s);
    if (n == 4 && sscanf(s, "%4d%c", &y, &tail) == 1) {
        m = is_to ? 12 : 1;
    } else if (n == 7 && s[4] == '-' && s[5] == 'Q' && sscanf(s, "%4d-Q%1d%c", &y, &q, &tail) == 2 && q >= 1 && q <= 4) {
        m = is_to ? q * 3 : q * 3 - 2;
    } else if (n == 7 && sscanf(s, "%4d-%2d%c", &y, &m, &tail) == 2) {
        /* month checked below */
    } else if (n == 10) {
        int32_t d;
        if (rep_day_parse(s, &d) != 0)
            goto bad;
        if (!is_to && d != rep_month_first(rep_month_of(d))) {
            koop_error_fill(err, REPORT_WHOLE_MONTHS, "from", s, "first_day");
            return -1;
        }
        if (is_to && d != rep_month_last(rep_month_of(d))) {
            koop_error_fill(err, REPORT_WHOLE_MONTHS, "to", s, "last_day");
            return -1;
        }
        *day = d;
        return 0;
    } else {
        goto bad;
    }
    if (y < 1900 || y > 2199 || m < 1 || m > 12)
        goto bad;
    {
        uint16_t month = (uint16_t)((y - 1900) * 12 + m - 1);
        *day = is_to ? rep_month_last(month) : rep_month_first(month);
    }
    return 0;
bad:
    koop_error_fill(err, REPORT_PERIOD, is_to ? "to" : "from", s);
    return -1;
}

/* ---- reading the projection ---- */

typedef struct {
    int64_t cum[REP_F_COUNT];    /* months up to the end of the period */
    int64_t before[REP_F_COUNT]; /* months before its start */
    int64_t in[REP_F_COUNT];     /* months of the period */
    int64_t now[REP_F_COUNT];    /* REP_MONTH_NOW */
    int64_t overdue[REP_SECTORS];
} s_sums;

/* Open tasks due on days [from, to] (in one month) by sector. */
static int
s_open_due(rep_proj_t *p, MDB_txn *txn, uint32_t unit, int32_t from, int32_t to, int64_t *by_sector)
{
    unsigned char key[8];
    MDB_cursor *cur;
    MDB_val k = {sizeof key, key}, v;
    uint32_t last = (uint32_t)to ^ 0x80000000u;
    int rc;
    if (to < from)
        return 0;
    key[0] = (unsigned char)(unit >> 24);
    key[1] = (unsigned char)(unit >> 16);
    key[2] = (unsigned char)(unit >> 8);
    key[3] = (unsigned char)unit;
    {
        uint32_t f = (uint32_t)from ^ 0x80000000u;
        key[4] = (unsigned char)(f >> 24);
        key[5] = (unsigned char)(f >> 16);
        key[6] = (unsigned char)(f >> 8);
        key[7] = (unsigned char)f;
    }
    if ((rc = mdb_cursor_open(txn, rep_dbi(p, "open_due"), &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *kb = k.mv_data;
        int64_t counts[REP_SECTORS];
        uint32_t day;
        if (k.mv_size != 8 || memcmp(kb, key, 4) != 0)
            break;
        day = (uint32_t)kb[4] << 24 | (uint32_t)kb[5] << 16 | (uint32_t)kb[6] << 8 | kb[7];
        if (day > last)
            break;
        if (v.mv_size != sizeof counts) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(counts, v.mv_data, sizeof counts);
        for (int s = 0; s < REP_SECTORS; s++)
            by_sector[s] += counts[s];
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The counters of unit before, in and up to the end of months m1..m2, and
 * the open tasks due in the period that are overdue on day t: from the
 * Fenwick tree of the month table (projection.c), a few rows whatever the
 * length of the history. */
static int
s_read_months(rep_proj_t *p, MDB_txn *txn, uint32_t unit, uint16_t m1, uint16_t m2, int32_t t, s_sums *s)
{
    rep_month_t before, cum, due, now;
    uint16_t mt = rep_month_of(t);
    int rc;

    memset(s, 0, sizeof *s);
    if ((rc = rep_month_prefix(p, txn, unit, (int)m1 - 1, &before)) != 0 ||
        (rc = rep_month_prefix(p, txn, unit, m2, &cum)) != 0)
        return rc;
    for (int f = 0; f < REP_F_COUNT; f++) {
        s->before[f] = before.v[f];
        s->cum[f] = cum.v[f];
        s->in[f] = cum.v[f] - before.v[f];
    }
    /* open tasks due in a month of the period that ended before t are overdue */
    {
        int last_full = (int)mt - 1 < (int)m2 ? (int)mt - 1 : (int)m2;
        if (last_full >= (int)m1) {
            if ((rc = rep_month_prefix(p, txn, unit, last_full, &due)) != 0)
                return rc;
            for (int sct = 0; sct < REP_SECTORS; sct++)
                s->overdue[sct] += due.v[REP_F_TASK_OPEN + sct] - before.v[REP_F_TASK_OPEN + sct];
        }
    }
    /* ... and in the month of t, those due before t */
    if (mt >= m1 && mt <= m2 && rep_month_first(mt) < t &&
        (rc = s_open_due(p, txn, unit, rep_month_first(mt), t - 1, s->overdue)) != 0)
        return rc;
    if ((rc = rep_month_get(p, txn, unit, REP_MONTH_NOW, &now)) != 0)
        return rc;
    memcpy(s->now, now.v, sizeof s->now);
    return 0;
}

/* Adds (sign +1) or takes away (-1) the answers of months 0 .. month of
 * unit (the nodes of its answer tree, projection.c) to hist, grown as the
 * largest time taken needs. */
static int
s_answer_prefix(rep_proj_t *p, MDB_txn *txn, uint32_t unit, int month, int sign, int64_t **hist, size_t *nhist,
                int64_t *total)
{
    MDB_dbi dbi = rep_dbi(p, "answer");
    for (unsigned node = month < 0 ? 0 : (unsigned)month + 1; node > 0; node -= node & -node) {
        unsigned char key[6];
        MDB_val k = {sizeof key, key}, v;
        int rc;
        rep_be32_put(key, unit);
        rep_be16_put(key + 4, (uint16_t)node);
        rc = mdb_get(txn, dbi, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return rc;
        if (v.mv_size % REP_ANSWER_ENTRY != 0)
            return MDB_CORRUPTED;
        for (size_t i = 0; i < v.mv_size / REP_ANSWER_ENTRY; i++) {
            const unsigned char *e = (const unsigned char *)v.mv_data + i * REP_ANSWER_ENTRY;
            uint16_t days = rep_be16_get(e);
            int64_t count;
            memcpy(&count, e + 2, sizeof count);
            if (days >= *nhist) {
                size_t n = *nhist ? *nhist : 128;
                int64_t *g;
                while (n <= days)
                    n *= 2;
                if (!(g = realloc(*hist, n * sizeof *g)))
                    return ENOMEM;
                memset(g + *nhist, 0, (n - *nhist) * sizeof *g);
                *hist = g;
                *nhist = n;
            }
            (*hist)[days] += sign * count;
            *total += sign * count;
        }
    }
    return 0;
}

/* The median time to answer a referral (days), answers in months m1..m2:
 * the histogram of months 0..m2 less that of 0..m1-1, each from at most 12
 * nodes of the unit's answer tree, then its running sum. */
static int
s_answer_median(rep_proj_t *p, MDB_txn *txn, uint32_t unit, uint16_t m1, uint16_t m2, double *median, int64_t *total)
{
    int64_t *hist = NULL;
    size_t nhist = 0;
    int rc;

    *median = 0;
    *total = 0;
    if ((rc = s_answer_prefix(p, txn, unit, m2, 1, &hist, &nhist, total)) == 0)
        rc = s_answer_prefix(p, txn, unit, (int)m1 - 1, -1, &hist, &nhist, total);
    if (rc == 0 && *total > 0) {
        int64_t lo = (*total - 1) / 2, hi = *total / 2, seen = 0;
        double vlo = 0, vhi = 0;
        for (size_t d = 0; d < nhist; d++) {
            if (lo >= seen && lo < seen + hist[d])
                vlo = (double)d;
            if (hi >= seen && hi < seen + hist[d])
                vhi = (double)d;
            seen += hist[d];
        }
        *median = (vlo + vhi) / 2.0;
    }
    free(hist);
    return rc;
}

/* Active entries of the list not verified for a year before t. */
static int
s_unverified(rep_proj_t *p, MDB_txn *txn, uint32_t unit, int32_t t, int64_t *out)
{
    unsigned char key[8];
    MDB_cursor *cur;
    MDB_val k = {sizeof key, key}, v;
    uint32_t limit = (uint32_t)(t - 365) ^ 0x80000000u;
    int rc;

    key[0] = (unsigned char)(unit >> 24);
    key[1] = (unsigned char)(unit >> 16);
    key[2] = (unsigned char)(unit >> 8);
    key[3] = (unsigned char)unit;
    key[4] = key[5] = key[6] = key[7] = 0;
    if ((rc = mdb_cursor_open(txn, rep_dbi(p, "verified"), &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *kb = k.mv_data;
        int64_t count;
        if (k.mv_size != 8 || memcmp(kb, key, 4) != 0)
            break;
        if (((uint32_t)kb[4] << 24 | (uint32_t)kb[5] << 16 | (uint32_t)kb[6] << 8 | kb[7]) >= limit)
            break;
        if (v.mv_size != sizeof count) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(&count, v.mv_data, sizeof count);
        *out += count;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
s_categories(rep_proj_t *p, MDB_txn *txn, uint32_t unit, s_out *o)
{
    unsigned char key[4];
    MDB_cursor *cur;
    MDB_val k = {sizeof key, key}, v;
    int rc;
    key[0] = (unsigned char)(unit >> 24);
    key[1] = (unsigned char)(unit >> 16);
    key[2] = (unsigned char)(unit >> 8);
    key[3] = (unsigned char)unit;
    if ((rc = mdb_cursor_open(txn, rep_dbi(p, "category"), &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char name[101];
        int64_t count;
        const char *kept;
        if (k.mv_size < 4 || k.mv_size > 4 + 100 || memcmp(k.mv_data, key, 4) != 0)
            break;
        if (v.mv_size != sizeof count) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(&count, v.mv_data, sizeof count);
        memcpy(name, (char *)k.mv_data + 4, k.mv_size - 4);
        name[k.mv_size - 4] = '\0';
        if (!(kept = s_keep(o, name[0] ? name : "(bez kategorii)")))
            break;
        s_count_dim(o, "catalogue", "catalogue_by_category", NULL, kept, count);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

typedef struct {
    rep_proj_t *p;
    MDB_txn *txn;
    uint32_t unit;
    uint16_t m2;        /* the period's last month */
    int32_t t;
    const char *want;   /* TERYT wanted */
    uint32_t found;
    int64_t gminas, gminas_agreed, powiats_agreed;
    int rc;
} s_units_ctx;

static int
s_find_teryt(const char *node, const rep_unit_t *u, void *ctx)
{
    s_units_ctx *c = ctx;
    (void)node;
    if (strcmp(u->teryt, c->want) == 0 && !c->found) {
        c->found = u->no;
        return 1;
    }
    return 0;
}

/* Counts the gminas within c->unit that sent data, and the gminas and
 * powiats within it (itself included) with an agreement signed by the end
 * of the period (an agreement of a gmina counts for its powiat too). */
static int
s_count_units(const char *node, const rep_unit_t *u, void *ctx)
{
    s_units_ctx *c = ctx;
    s_sums *sums;
    int within, powiat = u->hub && strlen(u->teryt) == 4;
    (void)node;
    if ((c->rc = rep_unit_within(c->p, c->txn, u->no, c->unit, &within)) != 0)
        return 1;
    if (!within || (u->hub && !powiat))
        return 0;
    c->gminas += !u->hub;
    if (!(sums = malloc(sizeof *sums))) {
        c->rc = ENOMEM;
        return 1;
    }
    if ((c->rc = s_read_months(c->p, c->txn, u->no, 0, c->m2, c->t, sums)) == 0 &&
        sums->cum[REP_F_AGR_SIGNED] > 0) {
        c->gminas_agreed += !u->hub;
        c->powiats_agreed += powiat;
    }
    free(sums);
    return c->rc != 0;
}

static const char *
s_level(const rep_unit_t *u)
{
    switch (strlen(u->teryt)) {
    case 7: return "gmina";
    case 4: return "powiat";
    case 2: return "województwo";
    default: return u->hub ? "jednostka nadrzędna" : "gmina"; /* a node id without a TERYT in it */
    }
}

/* ---- the figures ---- */

static void
s_figures_pzk(s_out *o, const s_sums *s, int32_t end, int64_t partners_by_sector[REP_SECTORS])
{
    int64_t partners = 0, dissolved = s->in[REP_F_PZK_DISSOLVED];
    /* working in the period: dissolved in it, or formed by its end and not dissolved by then */
    int64_t running = s->cum[REP_F_PZK_FORMED] - s->cum[REP_F_PZK_DISSOLVED];
    double days = (double)(s->in[REP_F_PZK_DISSOLVED_DAYS] - s->in[REP_F_PZK_DISSOLVED_FORMED_DAYS]) +
                  (double)running * end -
                  (double)(s->cum[REP_F_PZK_FORMED_DAYS] - s->cum[REP_F_PZK_DISSOLVED_FORMED_DAYS]);
    for (int i = 0; i < REP_SECTORS; i++)
        partners += partners_by_sector[i];
    s_count(o, "pzk", "partner_entities", partners);
    for (int i = 0; i < REP_SECTORS; i++)
        s_count_dim(o, "pzk", "partner_entities", "koop.reg.Sector", s_sector_key[i], partners_by_sector[i]);
    s_count(o, "pzk", "pzk_count", dissolved + running);
    s_ratio(o, "pzk", "pzk_avg_months", days, dissolved + running, 1.0 / S_DAYS_PER_MONTH);
    s_count(o, "pzk", "pzk_formed", s->in[REP_F_PZK_FORMED]);
    s_count(o, "pzk", "pzk_dissolved", dissolved);
    s_count(o, "pzk", "agreements", s->in[REP_F_AGR_SIGNED]);
    s_ratio(o, "pzk", "agreement_avg_parties", (double)s->in[REP_F_AGR_PARTIES], s->in[REP_F_AGR_SIGNED], 1.0);
}

static void
s_figures_ipw(s_out *o, const s_sums *s, int64_t households, int64_t persons)
{
    int64_t closed = 0, active;
    for (int i = 0; i < REP_OUTCOMES; i++)
        closed += s->in[REP_F_IPW_CLOSED + i];
    active = s->cum[REP_F_IPW_OPENED];
    for (int i = 0; i < REP_OUTCOMES; i++)
        active -= s->before[REP_F_IPW_CLOSED + i];
    s_count(o, "ipw", "ipw_opened", s->in[REP_F_IPW_OPENED]);
    s_count(o, "ipw", "ipw_signed", s->in[REP_F_IPW_SIGNED]);
    s_count(o, "ipw", "ipw_active", active);
    s_count(o, "ipw", "ipw_closed", closed);
    for (int i = 2; i < REP_OUTCOMES; i++)
        s_count_dim(o, "ipw", "ipw_closed", "koop.cases.Outcome", s_outcome_key[i], s->in[REP_F_IPW_CLOSED + i]);
    s_count(o, "ipw", "ipw_success", s->in[REP_F_IPW_CLOSED + 2]);
    s_share(o, "ipw", "ipw_success_rate", s->in[REP_F_IPW_CLOSED + 2], closed);
    s_ratio(o, "ipw", "ipw_avg_months", (double)s->in[REP_F_IPW_CLOSED_DAYS], closed, 1.0 / S_DAYS_PER_MONTH);
    s_count(o, "ipw", "households", households);
    s_count(o, "ipw", "persons", persons);
    s_count(o, "ipw", "households_registered", s->in[REP_F_HH_REGISTERED]);
}

static void
s_figures_rest(s_out *o, const s_sums *s, double median, int64_t answers)
{
    int64_t goals = 0, active, zzk, sect, due = 0, on_time = 0, late = 0, open = 0, overdue = 0, cancelled = 0;
    static const char *const hist_key[REP_HIST] = {"0", "1", "2", "3", "4", "5", "6+"};

    /* goals */
    for (int a = 0; a < REP_AREAS; a++)
        goals += s->in[REP_F_GOAL_ADDED + a];
    s_count(o, "goals", "goals_added", goals);
    for (int a = 0; a < REP_AREAS; a++)
        s_count_dim(o, "goals", "goals_added", "koop.cases.Area", s_area_key[a], s->in[REP_F_GOAL_ADDED + a]);
    s_count(o, "goals", "psr_goals_reviewed", s->cum[REP_F_PSR_FIRST]);
    s_ratio(o, "goals", "psr_avg_change", (double)s->cum[REP_F_PSR_DELTA], s->cum[REP_F_PSR_FIRST], 1.0);

    /* tasks due in the period */
    for (int i = 0; i < REP_SECTORS; i++) {
        on_time += s->in[REP_F_TASK_ON_TIME + i];
        late += s->in[REP_F_TASK_LATE + i];
        open += s->in[REP_F_TASK_OPEN + i];
        cancelled += s->in[REP_F_TASK_CANCELLED + i];
        overdue += s->overdue[i];
    }
    due = on_time + late + open + cancelled;
    s_count(o, "tasks", "tasks_due", due);
    s_count(o, "tasks", "tasks_on_time", on_time);
    for (int i = 0; i < REP_SECTORS; i++)
        s_count_dim(o, "tasks", "tasks_on_time", "koop.reg.Sector", s_sector_key[i], s->in[REP_F_TASK_ON_TIME + i]);
    s_count(o, "tasks", "tasks_late", late);
    for (int i = 0; i < REP_SECTORS; i++)
        s_count_dim(o, "tasks", "tasks_late", "koop.reg.Sector", s_sector_key[i], s->in[REP_F_TASK_LATE + i]);
    s_count(o, "tasks", "tasks_overdue", overdue);
    for (int i = 0; i < REP_SECTORS; i++)
        s_count_dim(o, "tasks", "tasks_overdue", "koop.reg.Sector", s_sector_key[i], s->overdue[i]);
    s_count(o, "tasks", "tasks_not_yet_due", open - overdue);
    s_count(o, "tasks", "tasks_cancelled", cancelled);
    s_share(o, "tasks", "tasks_on_time_rate", on_time, on_time + late);

    /* referrals */
    s_count(o, "referrals", "referrals_sent", s->in[REP_F_REF_SENT]);
    s_count(o, "referrals", "referrals_accepted", s->in[REP_F_REF_ACCEPTED]);
    s_count(o, "referrals", "referrals_declined", s->in[REP_F_REF_DECLINED]);
    s_count(o, "referrals", "referrals_done", s->in[REP_F_REF_DONE]);
    s_figure(o, "referrals", "referral_median_answer_days", NULL, NULL, median, answers > 0, 1, REP_CELL_RATIO,
             answers, 0);

    /* ZZK of the IPWs running in the period */
    active = s->cum[REP_F_IPW_OPENED];
    for (int i = 0; i < REP_OUTCOMES; i++)
        active -= s->before[REP_F_IPW_CLOSED + i];
    zzk = s->cum[REP_F_IPW_OPENED_ZZK] - s->before[REP_F_IPW_CLOSED_ZZK];
    sect = s->cum[REP_F_IPW_OPENED_SECT] - s->before[REP_F_IPW_CLOSED_SECT];
    s_ratio(o, "zzk", "zzk_avg_size", (double)zzk, active, 1.0);
    s_ratio(o, "zzk", "zzk_avg_sectors", (double)sect, active, 1.0);
    for (int h = 0; h < REP_HIST; h++)
        s_count_dim(o, "zzk", "ipw_by_zzk_sectors", "indicator.zzk_sectors", hist_key[h],
                    s->cum[REP_F_IPW_OPENED_HIST + h] - s->before[REP_F_IPW_CLOSED_HIST + h]);
    s_count(o, "zzk", "meetings", s->in[REP_F_MEETINGS]);

}

/* The list of services as of today (REP_MONTH_NOW and the side tables). */
static int
s_figures_catalogue(rep_proj_t *p, MDB_txn *txn, uint32_t unit, s_out *o, const s_sums *s, int64_t unverified)
{
    int rc;
    s_count(o, "catalogue", "catalogue_entries", s->now[REP_F_CAT_ENTRIES]);
    s_count(o, "catalogue", "catalogue_active", s->now[REP_F_CAT_ACTIVE]);
    for (int t = 1; t < REP_TARGETS; t++)
        s_count_dim(o, "catalogue", "catalogue_by_target", "koop.reg.Target", s_target_key[t], s->now[REP_F_CAT_TARGET + t]);
    if ((rc = s_categories(p, txn, unit, o)) != 0)
        return rc;
    s_count(o, "catalogue", "catalogue_unverified", s->now[REP_F_CAT_NEVER_VERIFIED] + unverified);
    return 0;
}

static void
s_free_out(s_out *o)
{
    for (size_t i = 0; i < o->nstrs; i++)
        free(o->strs[i]);
    free(o->strs);
    free(o->figs);
    free(o->cells);
    free(o->ptrs);
    free(o->rep.summary);
    free(o);
}

void
rep_report_free(Koop__Rep__Report **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_free_out((s_out *)*self_p);
    *self_p = NULL;
}

/* The period of a report: months m1..m2, the report day t, and the day the
 * period ends for "so far" figures (end = min(to, t)). */
typedef struct {
    uint16_t m1, m2;
    int32_t t, end;
} s_period;

/* Every figure of unit (none hidden yet) into o; with_units: also the
 * counts of units below it (not needed to decide what a hub hides). */
static int
s_compute(rep_proj_t *p, MDB_txn *txn, uint32_t unit_no, const s_period *pd, int with_units, s_out *o)
{
    s_sums *s = malloc(sizeof *s);
    uint16_t m1 = pd->m1, m2 = pd->m2;
    int32_t t = pd->t;
    int64_t partners[REP_SECTORS], households, persons, gaps_n, gaps_w, answers = 0, unverified = 0;
    double median = 0;
    s_units_ctx uc;
    rep_unit_t unit;
    int rc;

    if (!s)
        return ENOMEM;
    unit.no = unit_no;
    /* the counters */
    if ((rc = s_read_months(p, txn, unit.no, m1, m2, t, s)) != 0)
        goto done;
    if (m1 == 0) { /* from the start: the trees over S, every sector at once */
        int64_t gn[REP_SECTORS], gw[REP_SECTORS];
        if ((rc = rep_cov_gaps_from_start(p, txn, unit.no, REP_KIND_INSTITUTION, m2, gn, gw)) != 0)
            goto done;
        for (int i = 0; i < REP_SECTORS; i++)
            partners[i] = s->cum[REP_F_INST_START + i] - s->before[REP_F_INST_END + i] - gn[i];
        if ((rc = rep_cov_gaps_from_start(p, txn, unit.no, REP_KIND_HOUSEHOLD, m2, gn, gw)) != 0)
            goto done;
        gaps_n = gn[0];
        gaps_w = gw[0];
    } else {
        for (int i = 0; i < REP_SECTORS; i++) {
            if ((rc = rep_cov_gaps(p, txn, unit.no, REP_KIND_INSTITUTION, i, m1, m2, &gaps_n, &gaps_w)) != 0)
                goto done;
            partners[i] = s->cum[REP_F_INST_START + i] - s->before[REP_F_INST_END + i] - gaps_n;
        }
        if ((rc = rep_cov_gaps(p, txn, unit.no, REP_KIND_HOUSEHOLD, 0, m1, m2, &gaps_n, &gaps_w)) != 0)
            goto done;
    }
    households = s->cum[REP_F_HH_START] - s->before[REP_F_HH_END] - gaps_n;
    persons = s->cum[REP_F_HH_START_W] - s->before[REP_F_HH_END_W] - gaps_w;
    if ((rc = s_answer_median(p, txn, unit.no, m1, m2, &median, &answers)) != 0 ||
        (rc = s_unverified(p, txn, unit.no, t, &unverified)) != 0)
        goto done;

    /* the figures: all of them for either report, so that both hide the same */
    s_figures_pzk(o, s, pd->end, partners);
    s_figures_ipw(o, s, households, persons);
    s_figures_rest(o, s, median, answers);
    if ((rc = s_figures_catalogue(p, txn, unit.no, o, s, unverified)) != 0)
        goto done;
    o->nsup = o->n;
    if (!with_units)
        goto done;
    memset(&uc, 0, sizeof uc);
    uc.p = p;
    uc.txn = txn;
    uc.unit = unit.no;
    uc.m2 = m2;
    uc.t = t;
    if ((rc = rep_unit_each(p, txn, s_count_units, &uc)) != 0 && rc != 1)
        goto done;
    if ((rc = uc.rc) != 0)
        goto done;
    s_figure(o, "units", "gminas", NULL, NULL, (double)uc.gminas, 1, 0, REP_CELL_PLAIN, 0, 0);
    s_figure(o, "units", "gminas_with_agreements", NULL, NULL, (double)uc.gminas_agreed, 1, 0, REP_CELL_PLAIN, 0, 0);
    s_figure(o, "units", "powiats_with_agreements", NULL, NULL, (double)uc.powiats_agreed, 1, 0, REP_CELL_PLAIN, 0, 0);
done:
    free(s);
    return rc == 0 && o->failed ? ENOMEM : rc;
}

typedef struct {
    rep_proj_t *p;
    MDB_txn *txn;
    uint32_t parent;
    const s_period *pd;
    s_out *me;           /* the report's own figures, when its unit is below parent */
    uint32_t me_no;
    s_out **kids;
    int *movable;        /* a gmina's row may take more hidden figures; a hub's not */
    uint32_t *nos;       /* the kids' unit numbers */
    size_t n, cap;
    int rc;
} s_family;

/* Adds a unit right below c->parent to the family with its figures (as its
 * own report hides them). */
static int
s_collect_kid(const char *node, const rep_unit_t *u, void *ctx)
{
    s_family *c = ctx;
    s_out *k;
    (void)node;
    if (u->parent != c->parent || u->no == c->parent)
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        s_out **g = realloc(c->kids, cap * sizeof *g);
        int *gm = g ? realloc(c->movable, cap * sizeof *gm) : NULL;
        uint32_t *gn = gm ? realloc(c->nos, cap * sizeof *gn) : NULL;
        if (g)
            c->kids = g;
        if (gm)
            c->movable = gm;
        if (!gn) {
            c->rc = ENOMEM;
            return 1;
        }
        c->nos = gn;
        c->cap = cap;
    }
    c->movable[c->n] = !u->hub;
    c->nos[c->n] = u->no;
    if (c->me && u->no == c->me_no) {
        c->kids[c->n++] = c->me;
        return 0;
    }
    if (!(k = calloc(1, sizeof *k))) {
        c->rc = ENOMEM;
        return 1;
    }
    c->kids[c->n++] = k;
    if ((c->rc = s_compute(c->p, c->txn, u->no, c->pd, 0, k)) != 0)
        return 1;
    rep_suppress_row(k->cells, k->n);
    return 0;
}

/* ---- the families suppressed, per snapshot ----
 *
 * Deciding what a hub's report hides needs the figures of every unit right
 * below it (rep_suppress_family): 2,500 reports for a hub with 2,500
 * gminas straight below it. What it decides - which cells of the hub's row
 * and of each kid's row are hidden - is a function of the projection's
 * state, the family's top and the period only, so it is kept per LMDB
 * snapshot: a report read in the same snapshot (no write committed since)
 * takes the hidden cells of its unit's row from here, exactly what
 * computing the family again would give. Any commit makes a new snapshot
 * id, so whatever was applied since is never missed. Only read-only
 * transactions use it: a write txn's id is the next snapshot's, and it may
 * still change or be aborted (and its id taken by the next one). One
 * thread (the service's loop) uses a projection's cache. */

#define S_FAMILIES 4

typedef struct {
    uint64_t snapshot;   /* mdb_txn_id of the read txn that filled it; 0: empty */
    uint64_t used;       /* rep_family_cache.clock when last filled or read */
    uint32_t parent;     /* the family's top */
    s_period pd;
    size_t nrows;        /* rows: [0] the top, then its kids */
    uint32_t *nos;       /* each row's unit */
    size_t *ncells;      /* its cells (s_out.nsup) */
    size_t *at;          /* where its flags begin in hidden */
    uint8_t *hidden;
} s_family_entry;

struct rep_family_cache {
    s_family_entry e[S_FAMILIES];
    uint64_t clock, hits;
    int off;
};

rep_family_cache_t *
rep_family_cache_new(void)
{
    return calloc(1, sizeof(rep_family_cache_t));
}

static void
s_entry_clear(s_family_entry *e)
{
    free(e->nos);
    free(e->ncells);
    free(e->at);
    free(e->hidden);
    memset(e, 0, sizeof *e);
}

void
rep_family_cache_destroy(rep_family_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int i = 0; i < S_FAMILIES; i++)
        s_entry_clear(&(*self_p)->e[i]);
    free(*self_p);
    *self_p = NULL;
}

void
rep_family_cache_use(rep_family_cache_t *c, int on)
{
    c->off = !on;
    for (int i = 0; !on && i < S_FAMILIES; i++)
        s_entry_clear(&c->e[i]);
}

uint64_t
rep_family_cache_hits(const rep_family_cache_t *c)
{
    return c->hits;
}

/* The snapshot txn reads, in *id: 1 when txn is read-only (its id is a
 * committed snapshot's, never above the last commit), 0 for a write txn
 * (its id is the last commit's + 1 until it commits). */
static int
s_snapshot(MDB_txn *txn, uint64_t *id)
{
    MDB_envinfo info;
    *id = (uint64_t)mdb_txn_id(txn);
    if (mdb_env_info(mdb_txn_env(txn), &info) != 0)
        return 0;
    return *id > 0 && *id <= (uint64_t)info.me_last_txnid;
}

static s_family_entry *
s_family_find(rep_family_cache_t *c, uint64_t snapshot, uint32_t parent, const s_period *pd)
{
    for (int i = 0; i < S_FAMILIES; i++) {
        s_family_entry *e = &c->e[i];
        if (e->snapshot == snapshot && e->parent == parent && e->pd.m1 == pd->m1 && e->pd.m2 == pd->m2 &&
            e->pd.t == pd->t && e->pd.end == pd->end)
            return e;
    }
    return NULL;
}

/* Sets o's hidden cells from the family's row of unit `no`; 0 when the
 * cache has none for it (o unchanged). */
static int
s_family_take(rep_family_cache_t *c, uint64_t snapshot, uint32_t parent, uint32_t no, const s_period *pd, s_out *o)
{
    s_family_entry *e = s_family_find(c, snapshot, parent, pd);
    size_t r = 0;
    if (!e)
        return 0;
    while (r < e->nrows && e->nos[r] != no)
        r++;
    if (r == e->nrows || e->ncells[r] != o->nsup)
        return 0; /* cannot be (the same snapshot gives the same cells): compute it */
    for (size_t i = 0; i < o->n; i++)
        o->cells[i].hidden = i < o->nsup ? e->hidden[e->at[r] + i] : 0; /* the counts of units: never */
    e->used = ++c->clock;
    c->hits++;
    return 1;
}

/* Keeps what the family of top (unit parent) and c's kids hid. Without
 * memory it keeps nothing (the next report computes it again). */
static void
s_family_keep(rep_family_cache_t *fc, uint64_t snapshot, uint32_t parent, const s_period *pd, const s_out *top,
              const s_family *c)
{
    s_family_entry *e = &fc->e[0], fresh;
    size_t cells = top->nsup;
    for (int i = 1; i < S_FAMILIES; i++) /* an empty one, else the one read longest ago */
        if (fc->e[i].used < e->used)
            e = &fc->e[i];
    for (size_t j = 0; j < c->n; j++)
        cells += c->kids[j]->nsup;
    memset(&fresh, 0, sizeof fresh);
    fresh.nrows = c->n + 1;
    fresh.nos = malloc(fresh.nrows * sizeof *fresh.nos);
    fresh.ncells = malloc(fresh.nrows * sizeof *fresh.ncells);
    fresh.at = malloc(fresh.nrows * sizeof *fresh.at);
    fresh.hidden = malloc(cells ? cells : 1);
    if (!fresh.nos || !fresh.ncells || !fresh.at || !fresh.hidden) {
        s_entry_clear(&fresh);
        return;
    }
    cells = 0;
    for (size_t r = 0; r < fresh.nrows; r++) {
        const s_out *row = r == 0 ? top : c->kids[r - 1];
        fresh.nos[r] = r == 0 ? parent : c->nos[r - 1];
        fresh.ncells[r] = row->nsup;
        fresh.at[r] = cells;
        for (size_t i = 0; i < row->nsup; i++)
            fresh.hidden[cells++] = (uint8_t)row->cells[i].hidden;
    }
    fresh.snapshot = snapshot;
    fresh.parent = parent;
    fresh.pd = *pd;
    fresh.used = ++fc->clock;
    s_entry_clear(e);
    *e = fresh;
}

/* Decides what a report of `unit` made above a gmina hides (suppress.c):
 * the unit's small counts and what tells them, then what would tell them
 * or those of its family - a hub and the units right below it: the
 * report's own unit's family when it is a hub, its hub's when it is a
 * gmina (every hub computes the same family, so a gmina reads the same
 * everywhere). A read-only txn takes it from the cache of families when the
 * family was decided in the same snapshot, and keeps it there otherwise. */
static int
s_suppress(rep_proj_t *p, MDB_txn *txn, const rep_unit_t *unit, const s_period *pd, s_out *o)
{
    s_family c = {p, txn, unit->no, pd, NULL, 0, NULL, NULL, NULL, 0, 0, 0};
    rep_family_cache_t *fc = rep_proj_families(p);
    s_out *top = o;
    rep_cell_t **rows = NULL;
    size_t *lens = NULL;
    uint64_t snapshot = 0;
    int rc = 0, cached = !fc->off && s_snapshot(txn, &snapshot);
    if (!unit->hub && !unit->parent) {
        rep_suppress_row(o->cells, o->n);
        goto done;
    }
    if (!unit->hub)
        c.parent = unit->parent; /* a gmina: the family of its hub */
    if (cached && s_family_take(fc, snapshot, c.parent, unit->no, pd, o))
        goto done;
    rep_suppress_row(o->cells, o->n);
    if (!unit->hub) {
        if (!(top = calloc(1, sizeof *top)))
            return ENOMEM;
        c.me = o;
        c.me_no = unit->no;
        if ((rc = s_compute(p, txn, unit->parent, pd, 0, top)) != 0)
            goto done;
        rep_suppress_row(top->cells, top->n);
    }
    rc = rep_unit_each(p, txn, s_collect_kid, &c);
    if (rc == 1 || rc == 0)
        rc = c.rc;
    if (rc == 0 && c.n) {
        rows = malloc(c.n * sizeof *rows);
        lens = malloc(c.n * sizeof *lens);
        if (!rows || !lens) {
            rc = ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < c.n; i++) {
            rows[i] = c.kids[i]->cells;
            lens[i] = c.kids[i]->n;
        }
        rep_suppress_family(top->cells, top->n, rows, lens, c.movable, c.n);
    }
    if (rc == 0 && cached)
        s_family_keep(fc, snapshot, c.parent, pd, top, &c);
done:
    for (size_t i = 0; i < c.n; i++)
        if (c.kids[i] != o)
            s_free_out(c.kids[i]);
    free(c.kids);
    free(c.movable);
    free(c.nos);
    free(rows);
    free(lens);
    if (top != o)
        s_free_out(top);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < o->n; i++)
        if (o->cells[i].hidden) {
            o->figs[i].has_value = 0;
            o->figs[i].has_suppressed = o->figs[i].suppressed = 1;
        }
    return 0;
}

/* The evaluation keeps these figures of all (in this order, totals only). */
static const char *const s_evaluation_keys[] = {
    "partner_entities", "pzk_count", "pzk_avg_months", "agreements", "ipw_opened", "ipw_active",
    "ipw_closed", "ipw_success", "ipw_success_rate", "ipw_avg_months", "households", "persons",
};

static void
s_keep_evaluation(s_out *o)
{
    size_t k = 0;
    for (size_t i = 0; i < o->n; i++) {
        int keep = 0;
        for (size_t j = 0; !keep && j < sizeof s_evaluation_keys / sizeof s_evaluation_keys[0]; j++)
            keep = !o->figs[i].dim[0] && strcmp(o->figs[i].key, s_evaluation_keys[j]) == 0;
        if (keep) {
            o->figs[k] = o->figs[i];
            o->cells[k] = o->cells[i];
            k++;
        }
    }
    o->n = k;
}

int
rep_report(rep_proj_t *p, MDB_txn *txn, const Koop__Rep__ReportQuery *q, int evaluation, Koop__Rep__Report **out,
           koop_error_t *err)
{
    const rep_self_t *self = rep_proj_self(p);
    s_out *o = calloc(1, sizeof *o);
    rep_unit_t unit;
    char node[64], from_s[11] = "", to_s[11] = "", asof_s[11], name[REP_NAME_MAX];
    int32_t from = REP_NO_DAY, to = REP_NO_DAY, t;
    s_period pd;
    rep_stats_t st;
    s_units_ctx uc;
    int rc;

    *out = NULL;
    koop_error_clear(err);
    if (!o) {
        koop_error_fill(err, INTERNAL_NO_MEMORY, NULL);
        goto fail;
    }
    koop__rep__report__init(&o->rep);
    o->suppress = self->hub;

    /* the period and the report day */
    if (q->as_of && *q->as_of) {
        if (rep_day_parse(q->as_of, &t) != 0) {
            koop_error_fill(err, DATE_INVALID, "as_of", q->as_of);
            goto fail;
        }
    } else {
        char today[11];
        koop_date_today(today);
        if (rep_day_parse(today, &t) != 0) {
            koop_error_fill(err, INTERNAL_CLOCK, NULL);
            goto fail;
        }
    }
    if (q->from && *q->from && s_parse_bound(q->from, 0, &from, err) != 0)
        goto fail;
    if (q->to && *q->to && s_parse_bound(q->to, 1, &to, err) != 0)
        goto fail;
    if (from != REP_NO_DAY && to != REP_NO_DAY && to < from) {
        koop_error_fill(err, DATE_ORDER, "to", q->to, "period_start", q->from);
        goto fail;
    }
    pd.t = t;
    pd.m1 = from == REP_NO_DAY ? 0 : rep_month_of(from);
    pd.m2 = to == REP_NO_DAY ? rep_month_of(t) : rep_month_of(to);
    pd.end = to == REP_NO_DAY || to > t ? t : to;
    if (from != REP_NO_DAY)
        rep_day_format(from, from_s);
    if (to != REP_NO_DAY)
        rep_day_format(to, to_s);
    rep_day_format(t, asof_s);

    /* the unit: a node id, or a TERYT code */
    if (!q->unit || !*q->unit) {
        rc = rep_unit_by_node(p, txn, self->node, &unit);
    } else {
        if (strlen(q->unit) > 63) {
            koop_error_fill(err, FIELD_TEXT, "unit", "63");
            goto fail;
        }
        rc = rep_unit_by_node(p, txn, q->unit, &unit);
        if (rc == MDB_NOTFOUND) {
            memset(&uc, 0, sizeof uc);
            uc.want = q->unit;
            if ((rc = rep_unit_each(p, txn, s_find_teryt, &uc)) != 0 && rc != 1)
                goto store_fail;
            rc = uc.found ? rep_unit_node(p, txn, uc.found, node, &unit) : MDB_NOTFOUND;
        }
    }
    if (rc == MDB_NOTFOUND) {
        koop_error_fill(err, REPORT_UNIT_UNKNOWN, "unit", q->unit ? q->unit : "");
        goto fail;
    }
    if (rc != 0)
        goto store_fail;
    if ((rc = rep_unit_node(p, txn, unit.no, node, NULL)) != 0)
        goto store_fail;

    /* the evaluation shows no counts of units (each reads every unit below) */
    if ((rc = s_compute(p, txn, unit.no, &pd, !evaluation, o)) != 0)
        goto store_fail;
    if (o->suppress && (rc = s_suppress(p, txn, &unit, &pd, o)) != 0)
        goto store_fail;
    if (evaluation)
        s_keep_evaluation(o);
    if ((rc = rep_proj_stats(p, txn, &st)) != 0)
        goto store_fail;
    if (o->failed || !(o->ptrs = malloc((o->n ? o->n : 1) * sizeof *o->ptrs))) {
        koop_error_fill(err, INTERNAL_NO_MEMORY, NULL);
        goto fail;
    }
    for (size_t i = 0; i < o->n; i++)
        o->ptrs[i] = &o->figs[i];
    o->rep.n_figures = o->n;
    o->rep.figures = o->ptrs;
    if (evaluation && !(o->rep.summary = koop_present_summary(&o->rep.base, KOOP_LANG_PL))) {
        koop_error_fill(err, INTERNAL_NO_MEMORY, NULL);
        goto fail;
    }
    if (strcmp(node, self->node) == 0)
        snprintf(name, sizeof name, "%s", self->name);
    else if ((rc = rep_unit_name(p, txn, node, name)) != 0)
        goto store_fail;
    o->rep.unit = s_keep(o, node);
    o->rep.unit_name = s_keep(o, name);
    o->rep.teryt = s_keep(o, unit.teryt);
    o->rep.level = (char *)s_level(&unit);
    o->rep.from = s_keep(o, from_s);
    o->rep.to = s_keep(o, to_s);
    o->rep.as_of = s_keep(o, asof_s);
    o->rep.has_small_counts_suppressed = 1;
    o->rep.small_counts_suppressed = o->suppress;
    o->rep.has_events = 1;
    o->rep.events = st.applied;
    if (o->failed) {
        koop_error_fill(err, INTERNAL_NO_MEMORY, NULL);
        goto fail;
    }
    *out = &o->rep;
    return KOOP_OK;
store_fail:
    if (rc == ENOMEM || rc == -ENOMEM)
        koop_error_fill(err, INTERNAL_NO_MEMORY, NULL);
    else
        koop_error_fill(err, INTERNAL_READ, NULL, koop_strerror(rc));
fail:
    if (o)
        s_free_out(o);
    return err->status;
}
