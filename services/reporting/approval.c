/*
 * approval.c - approved reporting periods (docs/ACCOUNTABILITY.md; the
 * model is DHIS2's data approval: per unit and period, lower levels first,
 * unapproved data hidden from the levels above).
 *
 *   (none) --report.approve by a coordinator--> APPROVED
 *   APPROVED --a change makes the period's figures differ from those
 *              approved (reason figures_changed), or (a hub) a unit below
 *              is no longer approved (unit_reopened; the unit is named
 *              among what changed)--> REOPENED --report.approve--> APPROVED
 *
 * A coordinator of the node (registry role `coordinator`, asked of the
 * registry without blocking: the call is deferred until it answers)
 * approves a month (YYYY-MM) or a quarter (YYYY-Qn) that has ended, after
 * checking its figures. The approval keeps those figures - every indicator
 * of the unit for the period as of its last day, but the list of services,
 * which is today's state - and their digest, and is the SHARED event
 * report.approved of this node's reporting stream, so it goes up with the
 * node's other streams. A hub approves a period only when every unit below
 * it has (lower levels first).
 *
 * Nothing is locked: a gmina keeps entering past data (offline, late). So
 * once a second (when the projection applied something since), the node
 * computes the figures of each period it approved; when they differ from
 * the approved ones the period is REOPENED with the reason and the figures
 * that changed (report.reopened, SHARED: the hub sees the same reason).
 * Figures that count tasks due in the period by outcome change when such a
 * task is done later: approving after the period's tasks are settled avoids
 * that reopening.
 *
 * A hub keeps the states of its units' approvals from those events (table
 * "approval", unit \0 period -> koop.rep.Approval) and marks each report
 * (rep_approval_mark): "approved" when every month of it lies in a period
 * the unit approved and has not reopened; otherwise "provisional", or, with
 * [reporting] publish = approved, "withheld" (the figures are not given).
 * The table is not part of the projection: a rebuild keeps this node's own
 * approvals (its reporting log is not one of its feeds) and replays those
 * of the units below.
 */
#include "reporting.h"
#include "chain.h"
#include "client.h"
#include "clock.h"
#include "events.h"
#include "id.h"
#include "record.h"
#include "registry.pb-c.h"
#include "present.h"
#include "say.h"
#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_MS 1000
#define PERSON_FRESH_MS 10000
#define PEOPLE_MAX 64
#define CHANGED_MAX 20

static struct {
    koop_service_t *svc;
    rep_proj_t *proj;
    uv_timer_t timer;
    int timer_on;
    uint64_t checked_applied;
    int dirty;                 /* an approval of a unit below changed */
    struct {
        char id[KOOP_ID_LEN];
        int coordinator, active;
        uint64_t tag;          /* the ask in flight, 0: none */
        uint64_t answered_ms;  /* mono ms of the answer, 0: none */
    } people[PEOPLE_MAX];
    size_t npeople;
    uint64_t asks;
} s_ap;

/* ---- the table ---- */

static size_t
s_key(char *out, size_t size, const char *unit, const char *period)
{
    int n = snprintf(out, size, "%s%c%s", unit, '\0', period ? period : "");
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

static int
s_get(MDB_txn *txn, MDB_dbi dbi, const char *unit, const char *period, Koop__Rep__Approval **out)
{
    char key[160];
    MDB_val k = {s_key(key, sizeof key, unit, period), key}, v;
    int rc;
    *out = NULL;
    if (!k.mv_size)
        return MDB_NOTFOUND;
    if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
        return rc;
    *out = koop__rep__approval__unpack(NULL, v.mv_size, v.mv_data);
    return *out ? 0 : MDB_CORRUPTED;
}

static int
s_put(MDB_txn *txn, MDB_dbi dbi, const Koop__Rep__Approval *a)
{
    char key[160];
    MDB_val k = {s_key(key, sizeof key, a->unit, a->period), key}, v;
    int rc;
    if (!k.mv_size)
        return EINVAL;
    v.mv_size = koop__rep__approval__get_packed_size(a);
    if ((rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE)) != 0)
        return rc;
    koop__rep__approval__pack(a, v.mv_data);
    return 0;
}

/* The approval table of p's store; -ENOENT when it has none (the
 * projection alone, in tests and the benchmark). */
static int
s_dbi(rep_proj_t *p, MDB_dbi *dbi)
{
    return koop_store_dbi_find(rep_proj_store(p), "approval", dbi);
}

/* Calls fn for every approval of unit (every unit when NULL). */
typedef int (*s_each_fn)(Koop__Rep__Approval *a, void *ctx);
static int
s_each(MDB_txn *txn, MDB_dbi dbi, const char *unit, s_each_fn fn, void *ctx)
{
    char key[80];
    size_t plen = unit ? s_key(key, sizeof key, unit, "") : 0;
    MDB_cursor *cur;
    MDB_val k = {plen, key}, v;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0 && (!plen || (k.mv_size >= plen && memcmp(k.mv_data, key, plen) == 0))) {
        Koop__Rep__Approval *a = koop__rep__approval__unpack(NULL, v.mv_size, v.mv_data);
        if (!a) {
            rc = MDB_CORRUPTED;
            break;
        }
        rc = fn(a, ctx);
        koop__rep__approval__free_unpacked(a, NULL);
        if (rc != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- periods ---- */

/* "YYYY-MM" or "YYYY-Qn" -> its first and last day (YYYY-MM-DD). */
static int
s_period(const char *s, char from[11], char to[11])
{
    int y, q = 0, m = 0;
    size_t n = s ? strlen(s) : 0;
    if (n != 7 || s[4] != '-' || strspn(s, "0123456789") != 4)
        return -1;
    y = atoi(s);
    if (s[5] == 'Q' && s[6] >= '1' && s[6] <= '4')
        q = s[6] - '0';
    else if (strspn(s + 5, "0123456789") == 2 && (m = atoi(s + 5)) >= 1 && m <= 12)
        q = 0;
    else
        return -1;
    if (y < 1900 || y > 2199)
        return -1;
    {
        int m1 = q ? (q - 1) * 3 + 1 : m, m2 = q ? m1 + 2 : m;
        uint16_t a = (uint16_t)((y - 1900) * 12 + m1 - 1), b = (uint16_t)((y - 1900) * 12 + m2 - 1);
        rep_day_format(rep_month_first(a), from);
        rep_day_format(rep_month_last(b), to);
    }
    return 0;
}

/* ---- the figures approved ---- */

/* The figures of unit for [from, to] as of `to`: what an approval keeps (the
 * list of services is today's state, not the period's). Caller frees *rep. */
static int
s_figures(rep_proj_t *p, MDB_txn *txn, const char *unit, const char *from, const char *to, Koop__Rep__Report **rep,
          koop_error_t *err)
{
    Koop__Rep__ReportQuery q = KOOP__REP__REPORT_QUERY__INIT;
    q.unit = (char *)unit;
    q.from = (char *)from;
    q.to = (char *)to;
    q.as_of = (char *)to;
    return rep_report(p, txn, &q, 0, rep, err);
}

static int
s_kept(const Koop__Rep__Figure *f)
{
    return !f->group || (strcmp(f->group, "catalogue") != 0 && strcmp(f->group, "units") != 0);
}

static void
s_digest(const Koop__Rep__Report *rep, uint8_t out[KOOP_CHAIN_LEN], uint32_t *count)
{
    koop_digest_t d;
    koop_digest_init(&d);
    *count = 0;
    for (size_t i = 0; i < rep->n_figures; i++) {
        const Koop__Rep__Figure *f = rep->figures[i];
        char line[256];
        int n;
        if (!s_kept(f))
            continue;
        n = snprintf(line, sizeof line, "%s\t%s\t%s%.6f", f->key ? f->key : "", f->dim ? f->dim : "",
                     f->suppressed ? "s" : f->has_value ? "v" : "-", f->has_value ? f->value : 0.0);
        koop_digest_add(&d, (*count)++, (const uint8_t *)line, n > 0 ? (size_t)n : 0);
    }
    koop_digest_final(&d, out);
}

static int
s_same_figure(const Koop__Rep__Figure *a, const Koop__Rep__Figure *b)
{
    return a->suppressed == b->suppressed && a->has_value == b->has_value && (!a->has_value || a->value == b->value);
}

static int
s_match(const Koop__Rep__Figure *a, const Koop__Rep__Figure *b)
{
    return !strcmp(a->key ? a->key : "", b->key ? b->key : "") && !strcmp(a->dim ? a->dim : "", b->dim ? b->dim : "");
}

/* The figures (key or key:dim) that differ between what was approved and
 * now, into changed (at most CHANGED_MAX, owned by the caller). */
static size_t
s_changed(const Koop__Rep__Approval *a, const Koop__Rep__Report *now, char **changed)
{
    size_t n = 0;
    for (size_t i = 0; i < now->n_figures && n < CHANGED_MAX; i++) {
        const Koop__Rep__Figure *f = now->figures[i], *was = NULL;
        if (!s_kept(f))
            continue;
        for (size_t j = 0; j < a->n_approved_figures && !was; j++)
            if (s_match(a->approved_figures[j], f))
                was = a->approved_figures[j];
        if (!was || !s_same_figure(was, f)) {
            char name[160];
            snprintf(name, sizeof name, "%s%s%s", f->key ? f->key : "", f->dim && *f->dim ? ":" : "",
                     f->dim ? f->dim : "");
            if (!(changed[n] = strdup(name)))
                break;
            n++;
        }
    }
    for (size_t j = 0; j < a->n_approved_figures && n < CHANGED_MAX; j++) {
        int there = 0;
        for (size_t i = 0; i < now->n_figures && !there; i++)
            there = s_kept(now->figures[i]) && s_match(a->approved_figures[j], now->figures[i]);
        if (!there && (changed[n] = strdup(a->approved_figures[j]->key ? a->approved_figures[j]->key : "?")))
            n++;
    }
    return n;
}

/* ---- months covered ---- */

typedef struct {
    int32_t from, to;
    uint8_t *covered; /* months from..to as indexes */
    int32_t m0;
    size_t n;
} s_cover;

static int
s_cover_fn(Koop__Rep__Approval *a, void *ctx)
{
    s_cover *c = ctx;
    int32_t f, t;
    if (a->state != KOOP__REP__APPROVAL_STATE__APPROVAL_APPROVED || rep_day_parse(a->from, &f) != 0 ||
        rep_day_parse(a->to, &t) != 0)
        return 0;
    for (uint16_t m = rep_month_of(f); m <= rep_month_of(t); m++) {
        int32_t i = (int32_t)m - c->m0;
        if (i >= 0 && (size_t)i < c->n)
            c->covered[i] = 1;
    }
    return 0;
}

/* 1 when every month of [from, to] (YYYY-MM-DD) is in an approved period of unit. */
static int
s_covered(MDB_txn *txn, MDB_dbi dbi, const char *unit, const char *from, const char *to, int *all)
{
    s_cover c;
    int32_t f, t;
    int rc;
    *all = 0;
    if (rep_day_parse(from, &f) != 0 || rep_day_parse(to, &t) != 0 || t < f)
        return 0;
    c.m0 = rep_month_of(f);
    c.n = (size_t)(rep_month_of(t) - c.m0 + 1);
    if (!(c.covered = calloc(c.n, 1)))
        return ENOMEM;
    rc = s_each(txn, dbi, unit, s_cover_fn, &c);
    *all = 1;
    for (size_t i = 0; i < c.n; i++)
        *all &= c.covered[i];
    free(c.covered);
    return rc;
}

/* The units directly below this node (a hub's gminas, a voivodeship's powiats). */
typedef struct {
    uint32_t self_no;
    char (*nodes)[64];
    size_t n, cap;
} s_below;

static int
s_below_fn(const char *node, const rep_unit_t *u, void *ctx)
{
    s_below *b = ctx;
    if (u->parent != b->self_no || u->no == b->self_no)
        return 0;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        char (*g)[64] = realloc(b->nodes, cap * sizeof *g);
        if (!g)
            return ENOMEM;
        b->nodes = g;
        b->cap = cap;
    }
    snprintf(b->nodes[b->n++], 64, "%s", node);
    return 0;
}

static int
s_units_below(rep_proj_t *p, MDB_txn *txn, s_below *b)
{
    rep_unit_t self;
    int rc;
    memset(b, 0, sizeof *b);
    if ((rc = rep_unit_by_node(p, txn, rep_proj_self(p)->node, &self)) != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    b->self_no = self.no;
    return rep_unit_each(p, txn, s_below_fn, b);
}

/* The first unit below that has not approved every month of [from, to]
 * into who (NULL: none), and how many. */
static int
s_below_missing(rep_proj_t *p, MDB_txn *txn, MDB_dbi dbi, const char *from, const char *to, char who[64],
                size_t *missing)
{
    s_below b;
    int rc = s_units_below(p, txn, &b);
    *missing = 0;
    who[0] = '\0';
    for (size_t i = 0; rc == 0 && i < b.n; i++) {
        int all;
        if ((rc = s_covered(txn, dbi, b.nodes[i], from, to, &all)) == 0 && !all) {
            if (!(*missing)++)
                snprintf(who, 64, "%s", b.nodes[i]);
        }
    }
    free(b.nodes);
    return rc;
}

/* ---- events of units below (rep_apply) ---- */

int
rep_approval_apply(rep_proj_t *p, MDB_txn *txn, const char *writer, const Koop__Rep__Approval *a)
{
    MDB_dbi dbi;
    Koop__Rep__Approval copy;
    if (s_dbi(p, &dbi) != 0 || !writer || !a->unit || strcmp(a->unit, writer) != 0 || !a->period)
        return 0; /* only a node approves its own unit */
    if (strcmp(writer, rep_proj_self(p)->node) == 0)
        return 0; /* this node's own: written where it approved */
    copy = *a;
    copy.n_approved_figures = 0;
    s_ap.dirty = 1;
    return s_put(txn, dbi, &copy);
}

/* ---- report.approve ---- */

static void
s_on_person(void *ctx, const koop_reply_t *reply)
{
    uint64_t tag = (uint64_t)(uintptr_t)ctx;
    Koop__Reg__Person *p = reply->status == KOOP_OK ? koop__reg__person__unpack(NULL, reply->len, reply->payload) : NULL;
    for (size_t i = 0; i < s_ap.npeople; i++) {
        if (s_ap.people[i].tag != tag)
            continue;
        s_ap.people[i].tag = 0;
        if (p || reply->status == KOOP_NOT_FOUND) { /* an answer; no such person is no coordinator */
            s_ap.people[i].coordinator = p && p->has_role && p->role == KOOP__REG__ROLE__ROLE_COORDINATOR;
            s_ap.people[i].active = p && (!p->has_active || p->active);
            s_ap.people[i].answered_ms = koop_clock_mono_ms();
        }
    }
    if (p)
        koop__reg__person__free_unpacked(p, NULL);
    koop_service_retry_deferred(s_ap.svc, tag);
}

/* Whether the caller is an active coordinator, as the registry says now:
 * KOOP_OK (*ok set), KOOP_DEFERRED until the registry answers, or the
 * status of a refusal. */
static int
s_coordinator(koop_call_t *call, int *ok)
{
    Koop__Reg__ById q = KOOP__REG__BY_ID__INIT;
    size_t i;
    for (i = 0; i < s_ap.npeople; i++)
        if (strcmp(s_ap.people[i].id, call->caller) == 0)
            break;
    if (i < s_ap.npeople && s_ap.people[i].answered_ms &&
        koop_clock_mono_ms() - s_ap.people[i].answered_ms < PERSON_FRESH_MS) {
        *ok = s_ap.people[i].coordinator && s_ap.people[i].active;
        return KOOP_OK;
    }
    if (call->final)
        return koop_fail(call, APPROVAL_NO_PERSON, "as", call->caller);
    if (i == s_ap.npeople) {
        if (s_ap.npeople == PEOPLE_MAX)
            s_ap.npeople = 0; /* forget the answers kept (asked again when needed) */
        i = s_ap.npeople++;
        memset(&s_ap.people[i], 0, sizeof s_ap.people[i]);
        snprintf(s_ap.people[i].id, sizeof s_ap.people[i].id, "%s", call->caller);
    }
    if (s_ap.people[i].tag) {
        /* asked already: wait for that answer (a call run again before it
         * came must not ask again, or each answer would find its ask
         * replaced by a newer one) */
        if (koop_call_defer(call, s_ap.people[i].tag) != KOOP_DEFERRED)
            return koop_fail(call, APPROVAL_NO_PERSON, "as", call->caller);
        return KOOP_DEFERRED;
    }
    q.id = (char *)call->caller;
    s_ap.people[i].tag = ++s_ap.asks;
    if (koop_client_call(koop_service_client(call->svc), koop_config_endpoint(koop_service_config(call->svc), "registry"),
                         NULL, "person.show", &q.base, KOOP_DEFER_MAX_MS / 2, s_on_person,
                         (void *)(uintptr_t)s_ap.asks, NULL) != 0 ||
        koop_call_defer(call, s_ap.asks) != KOOP_DEFERRED)
        return koop_fail(call, APPROVAL_NO_PERSON, "as", call->caller);
    return KOOP_DEFERRED;
}

int
rep_approve(koop_call_t *call)
{
    const Koop__Rep__ApproveQuery *q = (const Koop__Rep__ApproveQuery *)call->req;
    rep_proj_t *p = s_ap.proj;
    const char *self = rep_proj_self(p)->node;
    Koop__Rep__Approval a = KOOP__REP__APPROVAL__INIT, *old = NULL;
    Koop__Rep__Report *rep = NULL;
    koop_error_t err;
    char from[11], to[11], today[11], who[64];
    uint8_t digest[KOOP_CHAIN_LEN];
    uint32_t count;
    size_t missing;
    MDB_dbi dbi;
    int rc, ok = 0;

    if (!call->caller || !*call->caller)
        return koop_fail(call, ACCESS_NO_CALLER, "as", "report.approve");
    if (!koop_id_valid(call->caller))
        return koop_fail(call, ACCESS_CALLER_INVALID, "as", call->caller);
    if ((rc = s_coordinator(call, &ok)) != KOOP_OK)
        return rc;
    if (!ok)
        return koop_fail(call, ACCESS_DENIED_COORDINATOR_ACTION, NULL, call->caller, "report.approve");
    if (!q->period || !*q->period)
        return koop_fail(call, FIELD_REQUIRED, "period");
    if (s_period(q->period, from, to) != 0)
        return koop_fail(call, APPROVAL_PERIOD, "period", q->period);
    koop_date_today(today);
    if (strcmp(to, today) >= 0)
        return koop_fail(call, APPROVAL_NOT_ENDED, "period", q->period, to);
    if (s_dbi(p, &dbi) != 0)
        return koop_call_store_error(call, -ENOENT);
    rc = s_get(call->txn, dbi, self, q->period, &old);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return koop_call_store_error(call, rc);
    if (old && old->state == KOOP__REP__APPROVAL_STATE__APPROVAL_APPROVED) {
        char when[11];
        rep_day_format((int32_t)(old->approved_ms / 86400000ull), when);
        rc = koop_fail(call, APPROVAL_ALREADY, "period", q->period, when);
        goto done;
    }
    /* lower levels first */
    if ((rc = s_below_missing(p, call->txn, dbi, from, to, who, &missing)) != 0) {
        rc = koop_call_store_error(call, rc);
        goto done;
    }
    if (missing) {
        rc = koop_fail(call, APPROVAL_BELOW, "period", q->period, who, KOOP_NUM(missing - 1));
        goto done;
    }
    if (s_figures(p, call->txn, self, from, to, &rep, &err) != KOOP_OK) {
        rc = koop_call_fail_error(call, &err);
        goto done;
    }
    s_digest(rep, digest, &count);
    a.unit = (char *)self;
    a.period = q->period;
    a.from = from;
    a.to = to;
    a.has_state = a.has_approved_ms = a.has_digest = a.has_figures = a.has_round = 1;
    a.state = KOOP__REP__APPROVAL_STATE__APPROVAL_APPROVED;
    a.approved_by = (char *)call->caller;
    a.approved_ms = koop_clock_real_ms();
    a.digest = (ProtobufCBinaryData){KOOP_CHAIN_LEN, digest};
    a.figures = count;
    a.round = old ? old->round + 1 : 1;
    {
        /* the approving node keeps the figures themselves, to tell what changed */
        Koop__Rep__Figure **kept = calloc(rep->n_figures + 1, sizeof *kept);
        if (!kept) {
            rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
            goto done;
        }
        for (size_t i = 0; i < rep->n_figures; i++)
            if (s_kept(rep->figures[i]))
                kept[a.n_approved_figures++] = rep->figures[i];
        a.approved_figures = kept;
        rc = s_put(call->txn, dbi, &a);
        free(kept);
        a.approved_figures = NULL;
        a.n_approved_figures = 0;
    }
    if (rc != 0) {
        rc = koop_call_store_error(call, rc);
        goto done;
    }
    if ((rc = koop_call_emit(call, "report.approved", KOOP__SCOPE__SCOPE_SHARED, &a.base)) != KOOP_OK)
        goto done;
    koop_info("okres %s zatwierdzony przez %s (%u wskaźników)", q->period, call->caller, count);
    rc = koop_call_reply(call, &a.base);
done:
    if (old)
        koop__rep__approval__free_unpacked(old, NULL);
    rep_report_free(&rep);
    return rc;
}

/* ---- report.approvals ---- */

typedef struct {
    koop_call_t *call;
    ProtobufCMessage **items;
    size_t n;
} s_list;

static int
s_list_fn(Koop__Rep__Approval *a, void *ctx)
{
    s_list *l = ctx;
    Koop__Rep__Approval copy = *a, *dup;
    ProtobufCMessage **g;
    copy.n_approved_figures = 0; /* listed without the figures themselves */
    dup = (Koop__Rep__Approval *)koop_record_dup(&copy.base);
    g = realloc(l->items, (l->n + 1) * sizeof *g);
    if (!dup || !g) {
        if (dup)
            koop__rep__approval__free_unpacked(dup, NULL);
        if (g)
            l->items = g;
        return ENOMEM;
    }
    l->items = g;
    l->items[l->n++] = &dup->base;
    return 0;
}

int
rep_approvals(koop_call_t *call)
{
    const Koop__Rep__ApprovalQuery *q = (const Koop__Rep__ApprovalQuery *)call->req;
    Koop__Rep__ApprovalList out = KOOP__REP__APPROVAL_LIST__INIT;
    s_list l = {call, NULL, 0};
    MDB_dbi dbi;
    int rc;
    if (s_dbi(s_ap.proj, &dbi) != 0)
        return koop_call_store_error(call, -ENOENT);
    rc = s_each(call->txn, dbi, q->unit && *q->unit ? q->unit : NULL, s_list_fn, &l);
    if (rc == 0) {
        out.n_items = l.n;
        out.items = (Koop__Rep__Approval **)l.items;
        rc = koop_call_reply(call, &out.base);
    } else {
        rc = rc == ENOMEM ? koop_fail(call, INTERNAL_NO_MEMORY, NULL) : koop_call_store_error(call, rc);
    }
    for (size_t i = 0; i < l.n; i++)
        protobuf_c_message_free_unpacked(l.items[i], NULL);
    free(l.items);
    return rc;
}

/* ---- reopening ---- */

typedef struct {
    rep_proj_t *p;
    MDB_txn *txn;
    MDB_dbi dbi;
    koop_log_t *log;
    int appended;
} s_check;

static int
s_check_fn(Koop__Rep__Approval *a, void *ctx)
{
    s_check *c = ctx;
    Koop__Rep__Report *rep = NULL;
    koop_error_t err;
    char *changed[CHANGED_MAX], who[64];
    size_t nchanged = 0, missing = 0;
    const char *reason = NULL;
    int rc = 0;

    if (a->state != KOOP__REP__APPROVAL_STATE__APPROVAL_APPROVED)
        return 0;
    if (s_figures(c->p, c->txn, a->unit, a->from, a->to, &rep, &err) != KOOP_OK)
        return 0; /* the unit is no longer known: nothing to compare */
    nchanged = s_changed(a, rep, changed);
    rep_report_free(&rep);
    if (nchanged)
        reason = "figures_changed";
    /* a hub's: a unit below no longer approved (named among what changed) */
    if ((rc = s_below_missing(c->p, c->txn, c->dbi, a->from, a->to, who, &missing)) != 0) {
        for (size_t i = 0; i < nchanged; i++)
            free(changed[i]);
        return rc;
    }
    if (missing && nchanged < CHANGED_MAX && (changed[nchanged] = strdup(who))) {
        nchanged++;
        if (!reason)
            reason = "unit_reopened";
    }
    if (!reason)
        return 0;
    {
        /* a copy: a is s_each's, freed there */
        Koop__Rep__Approval r = *a;
        r.state = KOOP__REP__APPROVAL_STATE__APPROVAL_REOPENED;
        r.reason = (char *)reason;
        r.n_changed = nchanged;
        r.changed = changed;
        r.has_reopened_ms = 1;
        r.reopened_ms = koop_clock_real_ms();
        rc = s_put(c->txn, c->dbi, &r);
        if (rc == 0) {
            size_t len;
            uint8_t *buf;
            r.n_approved_figures = 0; /* the event: without the figures themselves */
            if (!(buf = koop_record_pack(&r.base, &len))) {
                rc = ENOMEM;
            } else {
                rc = koop_log_append(c->log, c->txn, "report.reopened", KOOP__SCOPE__SCOPE_SHARED, "", buf, len, NULL);
                free(buf);
                c->appended |= rc == 0;
            }
            koop_warn("okres %s otwarty ponownie (%s: %s%s)", a->period, reason, changed[0], nchanged > 1 ? " i inne" : "");
        }
    }
    for (size_t i = 0; i < nchanged; i++)
        free(changed[i]);
    return rc;
}

static int
s_check_write(MDB_txn *txn, void *ctx)
{
    s_check *c = ctx;
    c->txn = txn;
    c->appended = 0;
    return s_each(txn, c->dbi, rep_proj_self(c->p)->node, s_check_fn, c);
}

static void
s_on_timer(uv_timer_t *t)
{
    rep_proj_t *p = s_ap.proj;
    s_check c = {p, NULL, 0, koop_service_log(s_ap.svc), 0};
    rep_stats_t st;
    MDB_txn *txn;
    int rc;
    (void)t;
    if (s_dbi(p, &c.dbi) != 0 || koop_store_read(rep_proj_store(p), &txn) != 0)
        return;
    rc = rep_proj_stats(p, txn, &st);
    mdb_txn_abort(txn);
    if (rc != 0 || (st.applied == s_ap.checked_applied && !s_ap.dirty))
        return;
    s_ap.dirty = 0;
    if ((rc = koop_store_write(rep_proj_store(p), s_check_write, &c)) != 0) {
        koop_error("zatwierdzone okresy: sprawdzenie nie powiodło się: %s", koop_strerror(rc));
        return;
    }
    s_ap.checked_applied = st.applied;
    if (c.appended)
        koop_service_events_committed(s_ap.svc);
}

int
rep_approvals_start(koop_service_t *svc, rep_proj_t *p)
{
    s_ap.svc = svc;
    s_ap.proj = p;
    s_ap.checked_applied = UINT64_MAX; /* check once at start: a change may have come in while stopped */
    if (uv_timer_init(koop_service_loop(svc), &s_ap.timer) != 0)
        return -1;
    s_ap.timer_on = 1;
    return uv_timer_start(&s_ap.timer, s_on_timer, CHECK_MS, CHECK_MS);
}

void
rep_approvals_stop(void)
{
    if (!s_ap.timer_on)
        return;
    uv_timer_stop(&s_ap.timer);
    uv_close((uv_handle_t *)&s_ap.timer, NULL);
    s_ap.timer_on = 0;
}

/* ---- marking reports ---- */

struct rep_marks {
    Koop__Rep__Approval **items;
    size_t n;
};

int
rep_approval_mark(rep_proj_t *p, MDB_txn *txn, int withhold, Koop__Rep__Report *rep, rep_marks_t **marks)
{
    s_list l = {NULL, NULL, 0};
    MDB_dbi dbi;
    int all = 0, rc;
    *marks = NULL;
    if (s_dbi(p, &dbi) != 0 || !rep->unit)
        return 0;
    if ((rc = s_each(txn, dbi, rep->unit, s_list_fn, &l)) != 0)
        goto fail;
    if (rep->from && *rep->from && rep->to && *rep->to && (rc = s_covered(txn, dbi, rep->unit, rep->from, rep->to, &all)) != 0)
        goto fail;
    if (!(*marks = calloc(1, sizeof **marks))) {
        rc = ENOMEM;
        goto fail;
    }
    /* only the approvals overlapping the report */
    for (size_t i = 0; i < l.n; i++) {
        Koop__Rep__Approval *a = (Koop__Rep__Approval *)l.items[i];
        int overlaps = (!rep->to || !*rep->to || strcmp(a->from, rep->to) <= 0) &&
                       (!rep->from || !*rep->from || strcmp(a->to, rep->from) >= 0);
        if (overlaps)
            l.items[(*marks)->n++] = l.items[i];
        else
            protobuf_c_message_free_unpacked(l.items[i], NULL);
    }
    (*marks)->items = (Koop__Rep__Approval **)l.items;
    rep->approvals = (*marks)->items;
    rep->n_approvals = (*marks)->n;
    if (all)
        rep->approval = "approved";
    else if (!withhold || !rep_proj_self(p)->hub)
        rep->approval = "provisional";
    else {
        /* above the unit and not approved: the figures are not published */
        rep->approval = "withheld";
        rep->n_figures = 0;
        free(rep->summary);
        rep->summary = koop_present_summary(&rep->base, KOOP_LANG_PL); /* says why there are none */
    }
    return 0;
fail:
    for (size_t i = 0; i < l.n; i++)
        protobuf_c_message_free_unpacked(l.items[i], NULL);
    free(l.items);
    return rc;
}

void
rep_marks_free(rep_marks_t **marks)
{
    if (!marks || !*marks)
        return;
    for (size_t i = 0; i < (*marks)->n; i++)
        protobuf_c_message_free_unpacked(&(*marks)->items[i]->base, NULL);
    free((*marks)->items);
    free(*marks);
    *marks = NULL;
}
