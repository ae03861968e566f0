/*
 * suppress.c - which figures a report made above a gmina does not show.
 *
 * Primary: a count of 1 or 2 is hidden, and so is an average over such a
 * count (rep_cell_t kinds COUNT and RATIO).
 *
 * Complementary: a hidden count must not come back by subtraction. Counts
 * are linked by equations, total = part + part + ...:
 *   - within one report (s_sums): a figure and its breakdown (IPWs closed =
 *     by outcome; partners = by sector; goals = by area; tasks done on time,
 *     late, overdue = by owner sector; IPWs running = by sectors in the
 *     ZZK; active list entries = by category), tasks due = on time + late +
 *     overdue + not yet due + cancelled, list entries = active + inactive,
 *     IPWs with success = the "success" outcome of IPWs closed;
 *   - across units (rep_suppress_family): a hub's count = the same count
 *     of each unit right below it + the hub's own part.
 * A part no report shows (IPWs closed without an outcome, inactive entries,
 * a hub's own part) is a remainder, total minus the parts, always hidden.
 * A reader knows only that a hidden count is at least 1. So an equation
 * gives a hidden count away when it is its only hidden term, or when the
 * total is shown and the hidden parts add up to exactly as many as there
 * are of them (then each is 1). A hidden total with a hidden part leaves
 * both open. An equation that gives one away hides one term more: the
 * smallest part shown (not zero), else the total.
 *
 * Across units, the rows of gminas may take such extra hidden counts: a
 * gmina's figures above it are shown only by its hub and the hubs above,
 * and each computes the same family (the hub and every unit right below
 * it) the same way. A hub's row is shown by that hub too, which does not
 * know its siblings: a family never hides more in the row of a hub below
 * its top. Equations are made safe one by one and again until nothing
 * changes (not as one linear system: docs/REPORTING.md "Small counts").
 *
 * A percentage (SHARE) is hidden when its part or its whole is hidden, or
 * when the part or the rest (whole - part) is 1 or 2 (75 % of 4 tells the
 * one family without success).
 *
 * Cost of a family of k kids with rows of n cells: the kids' cell of every
 * count of the parent is found once (s_family_map, O(n k) where the rows
 * share their order, as rows of report.c do), not per pass (O(n^2 k): 10^8
 * string compares per pass for 2,500 gminas); after a pass only the rows it
 * hid something in are passed over again.
 */
#include "reporting.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_PARTS 8

/* The equations within one report. parts_of: every dimension of that key
 * is a part; else the parts are listed, "key" (its total) or "key:dim". */
static const struct {
    const char *total;
    const char *parts_of;
    const char *parts[S_MAX_PARTS];
} s_sums[] = {
    {"partner_entities", "partner_entities", {NULL}},
    {"ipw_closed", "ipw_closed", {NULL}},
    {"goals_added", "goals_added", {NULL}},
    {"tasks_on_time", "tasks_on_time", {NULL}},
    {"tasks_late", "tasks_late", {NULL}},
    {"tasks_overdue", "tasks_overdue", {NULL}},
    {"ipw_active", "ipw_by_zzk_sectors", {NULL}},
    {"catalogue_active", "catalogue_by_category", {NULL}},
    {"tasks_due", NULL, {"tasks_on_time", "tasks_late", "tasks_overdue", "tasks_not_yet_due", "tasks_cancelled", NULL}},
    {"catalogue_entries", NULL, {"catalogue_active", NULL}},
    {"ipw_success", NULL, {"ipw_closed:success", NULL}},
};

/* Percentages: the part, and what its whole is (a figure, or part + rest). */
static const struct {
    const char *share, *part, *whole, *rest;
} s_shares[] = {
    {"ipw_success_rate", "ipw_success", "ipw_closed", NULL},
    {"tasks_on_time_rate", "tasks_on_time", NULL, "tasks_late"},
};

static int
s_small(int64_t n)
{
    return n >= 1 && n <= 2;
}

static rep_cell_t *
s_find(rep_cell_t *row, size_t n, const char *key, const char *dim)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(row[i].key, key) == 0 && strcmp(row[i].dim, dim) == 0)
            return &row[i];
    return NULL;
}

/* The cell named "key" or "key:dim". */
static rep_cell_t *
s_find_named(rep_cell_t *row, size_t n, const char *name)
{
    const char *colon = strchr(name, ':');
    char key[64];
    if (!colon)
        return s_find(row, n, name, "");
    snprintf(key, sizeof key, "%.*s", (int)(colon - name), name);
    return s_find(row, n, key, colon + 1);
}

/* 1 when total = parts[0] + ... + parts[np-1] + remainder gives no hidden
 * count away (see the top of the file). */
static int
s_safe(const rep_cell_t *total, rep_cell_t *const *parts, size_t np, int64_t remainder)
{
    int64_t unknown = remainder != 0, sum = remainder;
    for (size_t i = 0; i < np; i++)
        if (parts[i]->hidden) {
            unknown++;
            sum += parts[i]->n;
        }
    if (total->hidden)
        return unknown > 0;
    return unknown == 0 || (unknown >= 2 && sum != unknown);
}

/* Makes the equation safe by hiding more of it: the smallest part shown
 * whose row may change (movable NULL: every part), else the total when
 * total_ok. Returns 1 when it hid something. */
static int
s_protect(rep_cell_t *total, rep_cell_t **parts, const int *movable, size_t np, int64_t remainder, int total_ok)
{
    int changed = 0;
    if (remainder < 0)
        return 0; /* not an exact sum (distinct counts): nothing to subtract */
    while (!s_safe(total, parts, np, remainder)) {
        rep_cell_t *pick = NULL;
        for (size_t i = 0; i < np; i++)
            if ((!movable || movable[i]) && !parts[i]->hidden && parts[i]->n > 0 && (!pick || parts[i]->n < pick->n))
                pick = parts[i];
        if (!pick && total_ok && !total->hidden && total->n > 0)
            pick = total;
        if (!pick)
            return changed; /* nothing left that may be hidden */
        pick->hidden = 1;
        changed = 1;
    }
    return changed;
}

/* One pass over the equations of a report; 1 when anything changed. */
static int
s_row_pass(rep_cell_t *row, size_t n)
{
    rep_cell_t *parts[REP_MAX_CELLS];
    int changed = 0;
    for (size_t e = 0; e < sizeof s_sums / sizeof s_sums[0]; e++) {
        rep_cell_t *total = s_find(row, n, s_sums[e].total, "");
        int64_t rest;
        size_t np = 0;
        if (!total || total->kind != REP_CELL_COUNT)
            continue;
        if (s_sums[e].parts_of) {
            for (size_t i = 0; i < n && np < REP_MAX_CELLS; i++)
                if (row[i].dim[0] && strcmp(row[i].key, s_sums[e].parts_of) == 0)
                    parts[np++] = &row[i];
        } else {
            for (size_t k = 0; k < S_MAX_PARTS && s_sums[e].parts[k]; k++) {
                rep_cell_t *c = s_find_named(row, n, s_sums[e].parts[k]);
                if (c)
                    parts[np++] = c;
            }
        }
        rest = total->n;
        for (size_t i = 0; i < np; i++)
            rest -= parts[i]->n;
        changed |= s_protect(total, parts, NULL, np, rest, 1);
    }
    return changed;
}

/* Hides the percentages that would tell a hidden or small count. */
static void
s_shares_hide(rep_cell_t *row, size_t n)
{
    for (size_t i = 0; i < sizeof s_shares / sizeof s_shares[0]; i++) {
        rep_cell_t *sh = s_find(row, n, s_shares[i].share, ""), *part = s_find(row, n, s_shares[i].part, "");
        rep_cell_t *whole = s_shares[i].whole ? s_find(row, n, s_shares[i].whole, "") : NULL;
        rep_cell_t *rest = s_shares[i].rest ? s_find(row, n, s_shares[i].rest, "") : NULL;
        if (!sh || sh->kind != REP_CELL_SHARE)
            continue;
        if (s_small(sh->n) || s_small(sh->whole - sh->n) || (part && part->hidden) || (whole && whole->hidden) ||
            (rest && rest->hidden))
            sh->hidden = 1;
    }
}

void
rep_suppress_row(rep_cell_t *row, size_t n)
{
    for (size_t i = 0; i < n; i++)
        row[i].hidden = (row[i].kind == REP_CELL_COUNT || row[i].kind == REP_CELL_RATIO) && s_small(row[i].n);
    while (s_row_pass(row, n))
        ;
    s_shares_hide(row, n);
}

/* 1 when a and b are the same figure (key and dimension). */
static int
s_same(const rep_cell_t *a, const rep_cell_t *b)
{
    return (a->key == b->key || strcmp(a->key, b->key) == 0) && (a->dim == b->dim || strcmp(a->dim, b->dim) == 0);
}

/* The cell of every count of parent in every kid's row, found once:
 * map[i * k + j] is s_find(kids[j], parent[i]'s key and dim), NULL when the
 * kid has none (or parent[i] is not a count). The rows come from the same
 * code, so a kid's cells are mostly the parent's in the same order: where
 * a kid's first `same` cells are the parent's, a figure whose first place in
 * the parent's row is below `same` is at that place in the kid's (and no
 * earlier), and one whose first place is not is not among them either: only
 * the rest of the kid's row is searched. */
static void
s_family_map(const rep_cell_t *parent, size_t n, rep_cell_t *const *kids, const size_t *nkids, size_t k,
             size_t *first, rep_cell_t **map)
{
    for (size_t i = 0; i < n; i++) {
        first[i] = i;
        for (size_t f = 0; f < i; f++)
            if (s_same(&parent[f], &parent[i])) {
                first[i] = f;
                break;
            }
    }
    for (size_t j = 0; j < k; j++) {
        size_t m = n < nkids[j] ? n : nkids[j], same = 0;
        while (same < m && s_same(&kids[j][same], &parent[same]))
            same++;
        for (size_t i = 0; i < n; i++)
            map[i * k + j] = parent[i].kind != REP_CELL_COUNT ? NULL
                             : first[i] < same ? &kids[j][first[i]]
                                               : s_find(kids[j] + same, nkids[j] - same, parent[i].key, parent[i].dim);
    }
}

void
rep_suppress_family(rep_cell_t *parent, size_t n, rep_cell_t *const *kids, const size_t *nkids, const int *movable,
                    size_t k)
{
    rep_cell_t **parts = malloc((k ? k : 1) * sizeof *parts);
    rep_cell_t **map = malloc((n && k ? n * k : 1) * sizeof *map);
    size_t *first = malloc((n ? n : 1) * sizeof *first);
    unsigned char *was = malloc(k ? k : 1), *dirty = calloc(k ? k : 1, 1);
    rep_cell_t zero = {"", "", REP_CELL_COUNT, 0, 0, 0}; /* a unit that does not show a count has none of it */
    int changed = 1;
    if (!parts || !map || !first || !was || !dirty) {
        /* no memory: hide every count rather than risk telling one */
        for (size_t i = 0; i < n; i++)
            parent[i].hidden |= parent[i].kind == REP_CELL_COUNT || parent[i].kind == REP_CELL_SHARE;
        for (size_t j = 0; j < k; j++)
            for (size_t i = 0; movable[j] && i < nkids[j]; i++)
                kids[j][i].hidden |= kids[j][i].kind == REP_CELL_COUNT || kids[j][i].kind == REP_CELL_SHARE;
        goto done;
    }
    s_family_map(parent, n, kids, nkids, k, first, map);
    while (changed) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t rest = parent[i].n;
            if (parent[i].kind != REP_CELL_COUNT)
                continue;
            for (size_t j = 0; j < k; j++) {
                parts[j] = map[i * k + j] ? map[i * k + j] : &zero;
                was[j] = (unsigned char)parts[j]->hidden;
                rest -= parts[j]->n;
            }
            if (s_protect(&parent[i], parts, movable, k, rest, 1)) {
                changed = 1;
                for (size_t j = 0; j < k; j++)
                    dirty[j] |= !was[j] && parts[j]->hidden;
            }
        }
        if (!changed)
            break;
        /* what the family hid may leave an equation of a row with one hidden
         * term; a kid's row nothing was hidden in is where its passes left it
         * (a pass over it would change nothing) */
        while (s_row_pass(parent, n))
            ;
        for (size_t j = 0; j < k; j++)
            if (dirty[j]) {
                while (s_row_pass(kids[j], nkids[j]))
                    ;
                dirty[j] = 0;
            }
    }
    s_shares_hide(parent, n);
    for (size_t j = 0; j < k; j++)
        if (movable[j])
            s_shares_hide(kids[j], nkids[j]);
done:
    free(parts);
    free(map);
    free(first);
    free(was);
    free(dirty);
}
