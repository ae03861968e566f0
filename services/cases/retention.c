/*
 * retention.c - the retention schedule of case data (docs/ACCOUNTABILITY.md).
 *
 * Rules ([retention] in the node's config):
 *   case_years       a household all of whose IPWs are closed: its personal
 *                    data goes case_years (10) after the last closure;
 *   household_years  a household that never had an IPW: household_years
 *                    (10) after it was registered;
 *   audit_years      an access log entry: audit_years (5) after it was made.
 *
 * What "goes" means. The records stay as pseudonymous stubs, so counts,
 * dates, states and outcomes - everything reports need - remain: the
 * household keeps its id, size, targets, dates, its IPWs and its consents'
 * dates and institutions, and loses name, PESEL, birth date, sex, address,
 * phone, the members and the consents' purposes; IPWs lose their reasons
 * (also those kept with each step),
 * goals their descriptions, tasks their titles and reasons, meetings their
 * topics and decisions, referrals their notes and reasons; every record
 * its reason of removal (record.remove); timeline summaries, ZZK notes and
 * the household's entries in the PESEL index go. An IPW counts as ended
 * when it closed, was handed to another gmina (transfer.c: the copy here
 * is read-only) or was removed as entered by mistake. Every LOCAL log entry that carried one of these records
 * loses its payload (koop_log_redact: the hash stays, so the chain still
 * verifies). SHARED events hold no personal data and are never touched, so
 * every figure reporting computes, for any year, is the same before and
 * after (also after a rebuild). Audit entries past their time are removed
 * from the start of the access log; the chain's new base is kept.
 *
 * What was removed is itself logged, in the same transaction: one LOCAL
 * retention.erased event per household (its stubs and the seqs of the
 * entries that lost their payload; events.verify checks the stubs are what
 * the tables hold and that every payload-less entry is listed), and one
 * LOCAL retention.run event (the rules, the day, the households, the audit
 * entries removed and the new base of the audit chain).
 *
 * retention.run is called by koopctl (an administrator on the server, no
 * person; or a coordinator) and by the service itself once a day
 * ([retention] timer = daily).
 */
#include "cases.h"
#include "chain.h"
#include "clock.h"
#include "id.h"
#include "log.h"
#include "say.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETENTION_CASE_YEARS 10
#define RETENTION_HOUSEHOLD_YEARS 10
#define RETENTION_AUDIT_YEARS 5
#define RETENTION_MAX_HOUSEHOLDS 1000 /* per run; the next run takes the rest */
#define RETENTION_FIRST_MS (60 * 1000)
#define RETENTION_EVERY_MS (24 * 3600 * 1000)

/* ---- one household to erase ---- */

typedef struct {
    Koop__Cases__Household *h;
    char rule[24];
    char since[11];
    Koop__Cases__Ipw **ipws;
    size_t n_ipws;
    ProtobufCMessage **children; /* goals, tasks, meetings, referrals */
    char *kinds;
    size_t n_children;
    uint64_t *redacted;
    size_t n_redacted;
} s_erase;

typedef struct {
    koop_call_t *call;
    const char *as_of;
    int case_years, household_years, audit_years;
    s_erase *e;
    size_t n;
    /* id -> index of its household in e (sorted for bsearch) */
    struct s_owner {
        char id[KOOP_ID_LEN];
        size_t idx;
    } *owners;
    size_t n_owners, cap_owners;
} s_run;

static void
s_erase_free(s_erase *e)
{
    if (e->h)
        koop__cases__household__free_unpacked(e->h, NULL);
    for (size_t i = 0; i < e->n_ipws; i++)
        koop__cases__ipw__free_unpacked(e->ipws[i], NULL);
    for (size_t i = 0; i < e->n_children; i++)
        protobuf_c_message_free_unpacked(e->children[i], NULL);
    free(e->ipws);
    free(e->children);
    free(e->kinds);
    free(e->redacted);
}

static void
s_run_free(s_run *r)
{
    for (size_t i = 0; i < r->n; i++)
        s_erase_free(&r->e[i]);
    free(r->e);
    free(r->owners);
}

static int
s_owner_add(s_run *r, const char *id, size_t idx)
{
    if (!id || !koop_id_valid(id))
        return 0;
    if (r->n_owners == r->cap_owners) {
        size_t cap = r->cap_owners ? r->cap_owners * 2 : 256;
        struct s_owner *g = realloc(r->owners, cap * sizeof *g);
        if (!g)
            return -ENOMEM;
        r->owners = g;
        r->cap_owners = cap;
    }
    memcpy(r->owners[r->n_owners].id, id, KOOP_ID_LEN);
    r->owners[r->n_owners++].idx = idx;
    return 0;
}

static int
s_owner_cmp(const void *a, const void *b)
{
    return strcmp(((const struct s_owner *)a)->id, ((const struct s_owner *)b)->id);
}

/* The erased household an id belongs to, or -1. */
static long
s_owner_of(const s_run *r, const char *id)
{
    struct s_owner key, *hit;
    if (!id || strlen(id) != KOOP_ID_LEN - 1 || !r->n_owners)
        return -1;
    memcpy(key.id, id, KOOP_ID_LEN);
    hit = bsearch(&key, r->owners, r->n_owners, sizeof key, s_owner_cmp);
    return hit ? (long)hit->idx : -1;
}

/* "since + years <= as_of": the day `years` before as_of, as text. */
static int
s_expired(const char *since, int years, const char *as_of)
{
    char cutoff[16];
    if (!since || !koop_date_valid(since))
        return 0;
    snprintf(cutoff, sizeof cutoff, "%04d%s", atoi(as_of) - years, as_of + 4);
    return strcmp(since, cutoff) <= 0;
}

/* ---- stubs: the records without personal data ---- */

static void
s_clear(char **field)
{
    free(*field);
    *field = NULL;
}

static void
s_stub_household(Koop__Cases__Household *h, const char *date, const char *rule)
{
    s_clear(&h->name);
    s_clear(&h->pesel);
    s_clear(&h->birth);
    s_clear(&h->address);
    s_clear(&h->phone);
    h->has_sex = 0;
    h->sex = KOOP__CASES__SEX__SEX_UNSPECIFIED;
    for (size_t i = 0; i < h->n_members; i++)
        koop__cases__household_member__free_unpacked(h->members[i], NULL);
    free(h->members);
    h->members = NULL;
    h->n_members = 0;
    for (size_t i = 0; i < h->n_consents; i++)
        s_clear(&h->consents[i]->purpose);
    s_clear(&h->removed_reason);
    s_clear(&h->erased);
    s_clear(&h->erased_rule);
    h->erased = strdup(date);
    h->erased_rule = strdup(rule);
}

static void
s_stub_child(ProtobufCMessage *m)
{
    char **why = cases_str_field(m, "removed_reason");
    if (why)
        s_clear(why);
    if (m->descriptor == &koop__cases__goal__descriptor) {
        s_clear(&((Koop__Cases__Goal *)m)->description);
    } else if (m->descriptor == &koop__cases__task__descriptor) {
        s_clear(&((Koop__Cases__Task *)m)->title);
        s_clear(&((Koop__Cases__Task *)m)->reason);
    } else if (m->descriptor == &koop__cases__meeting__descriptor) {
        s_clear(&((Koop__Cases__Meeting *)m)->topic);
        s_clear(&((Koop__Cases__Meeting *)m)->decisions);
    } else if (m->descriptor == &koop__cases__referral__descriptor) {
        s_clear(&((Koop__Cases__Referral *)m)->note);
        s_clear(&((Koop__Cases__Referral *)m)->reason);
    }
}

int
cases_child_kind(char kind, const char **table, const ProtobufCMessageDescriptor **desc)
{
    switch (kind) {
    case 'g': *table = "goal"; *desc = &koop__cases__goal__descriptor; return 0;
    case 't': *table = "task"; *desc = &koop__cases__task__descriptor; return 0;
    case 'm': *table = "meeting"; *desc = &koop__cases__meeting__descriptor; return 0;
    case 'r': *table = "referral"; *desc = &koop__cases__referral__descriptor; return 0;
    default: return -1;
    }
}

typedef struct {
    s_run *r;
    size_t idx;
} s_child_ctx;

static int
s_collect_child(koop_call_t *call, char kind, const char *id, void *ctx)
{
    s_child_ctx *c = ctx;
    s_erase *e = &c->r->e[c->idx];
    const ProtobufCMessageDescriptor *desc;
    const char *table;
    ProtobufCMessage *m = NULL, **g;
    char *gk;
    int rc;
    if (cases_child_kind(kind, &table, &desc) != 0)
        return KOOP_OK;
    rc = koop_record_get(call->txn, cases_dbi(call, table), id, desc, &m);
    if (rc == MDB_NOTFOUND)
        return KOOP_OK;
    if (rc != 0)
        return koop_call_store_error(call, rc);
    g = realloc(e->children, (e->n_children + 1) * sizeof *g);
    if (g)
        e->children = g;
    gk = realloc(e->kinds, e->n_children + 1);
    if (gk)
        e->kinds = gk;
    if (!g || !gk || s_owner_add(c->r, id, c->idx) != 0) {
        protobuf_c_message_free_unpacked(m, NULL);
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    }
    e->children[e->n_children] = m;
    e->kinds[e->n_children++] = kind;
    return KOOP_OK;
}

/* Takes household h (owned now) when its time is up; loads its IPWs and
 * their records. Returns a koop status. */
static int
s_consider(s_run *r, Koop__Cases__Household *h)
{
    koop_call_t *call = r->call;
    s_erase e;
    int rc;

    memset(&e, 0, sizeof e);
    e.h = h;
    if (h->erased && *h->erased)
        goto skip;
    if (h->n_ipws == 0) {
        if (!s_expired(h->registered, r->household_years, r->as_of))
            goto skip;
        snprintf(e.rule, sizeof e.rule, "household_years");
        snprintf(e.since, sizeof e.since, "%s", h->registered);
    } else {
        snprintf(e.rule, sizeof e.rule, "case_years");
        if (!(e.ipws = calloc(h->n_ipws, sizeof *e.ipws)))
            goto nomem;
        for (size_t i = 0; i < h->n_ipws; i++) {
            Koop__Cases__Ipw *ipw = NULL;
            rc = koop_record_get(call->txn, cases_dbi(call, "ipw"), h->ipws[i], &koop__cases__ipw__descriptor,
                                 (ProtobufCMessage **)&ipw);
            if (rc == MDB_NOTFOUND)
                continue;
            if (rc != 0) {
                s_erase_free(&e);
                return koop_call_store_error(call, rc);
            }
            e.ipws[e.n_ipws++] = ipw;
            {
                /* ended: closed, handed to another gmina (this copy is
                 * read-only), or removed as entered by mistake */
                const char *end = ipw->status == KOOP__CASES__IPW_STATUS__IPW_CLOSED && ipw->closed ? ipw->closed
                                  : ipw->transferred && *ipw->transferred                        ? ipw->transferred
                                  : ipw->removed && *ipw->removed                                ? ipw->removed
                                                                                                 : NULL;
                if (!end)
                    goto skip; /* still running: nothing goes */
                if (strcmp(end, e.since) > 0)
                    snprintf(e.since, sizeof e.since, "%s", end);
            }
        }
        if (!s_expired(e.since, r->case_years, r->as_of))
            goto skip;
    }
    {
        s_erase *g = realloc(r->e, (r->n + 1) * sizeof *g);
        if (!g)
            goto nomem;
        r->e = g;
        r->e[r->n] = e;
        if (s_owner_add(r, h->id, r->n) != 0)
            goto nomem_taken;
        for (size_t i = 0; i < e.n_ipws; i++) {
            s_child_ctx cc = {r, r->n};
            if (s_owner_add(r, e.ipws[i]->id, r->n) != 0)
                goto nomem_taken;
            if ((rc = cases_child_scan(call, e.ipws[i]->id, s_collect_child, &cc)) != KOOP_OK) {
                r->n++;
                return rc;
            }
        }
        for (size_t i = 0; i < h->n_consents; i++)
            if (s_owner_add(r, h->consents[i]->id, r->n) != 0)
                goto nomem_taken;
        r->n++;
    }
    return KOOP_OK;
nomem_taken:
    r->n++;
    return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
nomem:
    s_erase_free(&e);
    return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
skip:
    s_erase_free(&e);
    return KOOP_OK;
}

static int
s_find_households(s_run *r)
{
    koop_call_t *call = r->call;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, st = KOOP_OK;
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "household"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    while (st == KOOP_OK && r->n < RETENTION_MAX_HOUSEHOLDS && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Koop__Cases__Household *h = koop__cases__household__unpack(NULL, v.mv_size, v.mv_data);
        if (!h) {
            rc = MDB_CORRUPTED;
            break;
        }
        st = s_consider(r, h);
    }
    mdb_cursor_close(cur);
    if (st != KOOP_OK)
        return st;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return koop_call_store_error(call, rc);
    if (r->n_owners)
        qsort(r->owners, r->n_owners, sizeof *r->owners, s_owner_cmp);
    return KOOP_OK;
}

/* ---- the log: LOCAL entries that carried an erased household's records ---- */

static const char *
s_owner_field(const ProtobufCMessage *m)
{
    if (m->descriptor == &koop__cases__household__descriptor)
        return ((const Koop__Cases__Household *)m)->id;
    if (m->descriptor == &koop__cases__consent__descriptor)
        return ((const Koop__Cases__Consent *)m)->household;
    if (m->descriptor == &koop__cases__ipw__descriptor)
        return ((const Koop__Cases__Ipw *)m)->household;
    if (m->descriptor == &koop__cases__goal__descriptor || m->descriptor == &koop__cases__task__descriptor ||
        m->descriptor == &koop__cases__meeting__descriptor || m->descriptor == &koop__cases__referral__descriptor)
        return koop_record_str(m, "ipw");
    if (m->descriptor == &koop__cases__note__descriptor)
        return ((const Koop__Cases__Note *)m)->ipw;
    if (m->descriptor == &koop__cases__record_removed__descriptor) {
        /* the reason is text: an IPW's or its records' by the IPW, a household's by itself */
        const Koop__Cases__RecordRemoved *rr = (const Koop__Cases__RecordRemoved *)m;
        return rr->ipw && *rr->ipw ? rr->ipw : rr->id;
    }
    if (m->descriptor == &koop__cases__transfer_package__descriptor) {
        const Koop__Cases__TransferPackage *p = (const Koop__Cases__TransferPackage *)m;
        return p->household ? p->household->id : NULL;
    }
    /* a transfer (ids, node ids, dates) holds no personal data: kept */
    return NULL;
}

static int
s_visit(uint64_t seq, const uint8_t *bytes, size_t len, void *ctx)
{
    s_run *r = ctx;
    Koop__Event *ev = koop__event__unpack(NULL, len, bytes);
    const koop_event_type_t *t;
    ProtobufCMessage *p = NULL;
    long idx;
    if (!ev)
        return 0;
    if (ev->scope != KOOP__SCOPE__SCOPE_LOCAL || !ev->has_payload || !ev->type || strncmp(ev->type, "local.", 6) != 0 ||
        koop_event_decode(ev, &t, &p) != 0) {
        koop__event__free_unpacked(ev, NULL);
        return 0;
    }
    idx = s_owner_of(r, s_owner_field(p));
    if (idx >= 0) {
        s_erase *e = &r->e[idx];
        uint64_t *g = realloc(e->redacted, (e->n_redacted + 1) * sizeof *g);
        if (!g) {
            protobuf_c_message_free_unpacked(p, NULL);
            koop__event__free_unpacked(ev, NULL);
            return -ENOMEM;
        }
        e->redacted = g;
        e->redacted[e->n_redacted++] = seq;
    }
    protobuf_c_message_free_unpacked(p, NULL);
    koop__event__free_unpacked(ev, NULL);
    return 0;
}

/* ---- writing ---- */

/* The timeline of an IPW without its summaries (text for people). */
static int
s_timeline_clear(koop_call_t *call, const char *ipw)
{
    MDB_dbi dbi = cases_dbi(call, "timeline");
    unsigned char key[KOOP_ID_LEN - 1 + 8];
    MDB_val k = {KOOP_ID_LEN - 1, key}, v;
    MDB_cursor *cur;
    uint64_t *seqs = NULL;
    size_t n = 0;
    int rc, st = KOOP_OK;

    memcpy(key, ipw, KOOP_ID_LEN - 1);
    if ((rc = mdb_cursor_open(call->txn, dbi, &cur)) != 0)
        return koop_call_store_error(call, rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == sizeof key && memcmp(k.mv_data, ipw, KOOP_ID_LEN - 1) == 0) {
        uint64_t *g = realloc(seqs, (n + 1) * sizeof *g);
        if (!g) {
            rc = ENOMEM;
            break;
        }
        seqs = g;
        seqs[n++] = koop_be64_get((const unsigned char *)k.mv_data + KOOP_ID_LEN - 1);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) { /* 0: the next key is another IPW's */
        free(seqs);
        return rc == ENOMEM ? koop_fail(call, INTERNAL_NO_MEMORY, NULL) : koop_call_store_error(call, rc);
    }
    for (size_t i = 0; st == KOOP_OK && i < n; i++) {
        Koop__Cases__TimelineEntry *te;
        MDB_val tk = {sizeof key, key}, tv;
        koop_be64_put(key + KOOP_ID_LEN - 1, seqs[i]);
        if ((rc = mdb_get(call->txn, dbi, &tk, &tv)) != 0 ||
            !(te = koop__cases__timeline_entry__unpack(NULL, tv.mv_size, tv.mv_data))) {
            st = koop_call_store_error(call, rc ? rc : MDB_CORRUPTED);
            break;
        }
        s_clear(&te->summary);
        tv.mv_size = koop__cases__timeline_entry__get_packed_size(te);
        if ((rc = mdb_put(call->txn, dbi, &tk, &tv, MDB_RESERVE)) == 0)
            koop__cases__timeline_entry__pack(te, tv.mv_data);
        else
            st = koop_call_store_error(call, rc);
        koop__cases__timeline_entry__free_unpacked(te, NULL);
    }
    free(seqs);
    return st;
}

static int
s_save_stubs(s_run *r, s_erase *e)
{
    koop_call_t *call = r->call;
    int rc;
    /* the PESEL index names the household by its PESELs: they go first */
    if ((rc = cases_pesel_index(call, e->h, 0)) != KOOP_OK)
        return rc;
    s_stub_household(e->h, r->as_of, e->rule);
    if (!e->h->erased || !e->h->erased_rule)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    if ((rc = cases_save(call, "household", e->h->id, &e->h->base)) != KOOP_OK)
        return rc;
    for (size_t i = 0; i < e->n_ipws; i++) {
        Koop__Cases__Ipw *ipw = e->ipws[i];
        s_clear(&ipw->reason);
        s_clear(&ipw->removed_reason);
        for (size_t h = 0; h < ipw->n_history; h++)
            s_clear(&ipw->history[h]->reason); /* the reasons given with its steps */
        if ((rc = cases_save(call, "ipw", ipw->id, &ipw->base)) != KOOP_OK)
            return rc;
        if ((rc = s_timeline_clear(call, ipw->id)) != KOOP_OK)
            return rc;
    }
    for (size_t i = 0; i < e->n_children; i++) {
        ProtobufCMessage *m = e->children[i];
        const ProtobufCMessageDescriptor *desc;
        const char *table;
        s_stub_child(m);
        if (cases_child_kind(e->kinds[i], &table, &desc) != 0)
            continue;
        if ((rc = cases_save(call, table, koop_record_str(m, "id"), m)) != KOOP_OK)
            return rc;
    }
    return KOOP_OK;
}

/* The retention.erased event of one household. */
static int
s_emit_erasure(s_run *r, s_erase *e)
{
    Koop__Cases__Erasure ev = KOOP__CASES__ERASURE__INIT;
    size_t ng = 0, nt = 0, nm = 0, nr = 0;
    Koop__Cases__Goal **g = calloc(e->n_children + 1, sizeof *g);
    Koop__Cases__Task **t = calloc(e->n_children + 1, sizeof *t);
    Koop__Cases__Meeting **m = calloc(e->n_children + 1, sizeof *m);
    Koop__Cases__Referral **rf = calloc(e->n_children + 1, sizeof *rf);
    int rc;
    if (!g || !t || !m || !rf) {
        rc = koop_fail(r->call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    for (size_t i = 0; i < e->n_children; i++) {
        switch (e->kinds[i]) {
        case 'g': g[ng++] = (Koop__Cases__Goal *)e->children[i]; break;
        case 't': t[nt++] = (Koop__Cases__Task *)e->children[i]; break;
        case 'm': m[nm++] = (Koop__Cases__Meeting *)e->children[i]; break;
        default: rf[nr++] = (Koop__Cases__Referral *)e->children[i]; break;
        }
    }
    ev.rule = e->rule;
    ev.date = (char *)r->as_of;
    ev.since = e->since;
    ev.household = e->h;
    ev.n_ipws = e->n_ipws;
    ev.ipws = e->ipws;
    ev.n_goals = ng;
    ev.goals = g;
    ev.n_tasks = nt;
    ev.tasks = t;
    ev.n_meetings = nm;
    ev.meetings = m;
    ev.n_referrals = nr;
    ev.referrals = rf;
    ev.n_redacted = e->n_redacted;
    ev.redacted = e->redacted;
    rc = koop_call_emit(r->call, "retention.erased", KOOP__SCOPE__SCOPE_LOCAL, &ev.base);
done:
    free(g);
    free(t);
    free(m);
    free(rf);
    return rc;
}

/* Removes the access log entries older than audit_years (all before the
 * first newer one: the log is in time order); fills the report. */
static int
s_audit_expire(s_run *r, Koop__Cases__RetentionReport *rep, char cutoff[11], uint8_t base_link[KOOP_CHAIN_LEN])
{
    koop_call_t *call = r->call;
    MDB_dbi audit = cases_dbi(call, "audit"), chain = cases_dbi(call, "audit_chain");
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t cutoff_ms, first = 0, last = 0;
    int rc;

    snprintf(cutoff, 11, "%04d%s", atoi(r->as_of) - r->audit_years, r->as_of + 4);
    if (!koop_date_valid(cutoff)) /* 29 February of a year that has none */
        memcpy(cutoff + 8, "28", 2);
    cutoff_ms = (uint64_t)koop_date_days(cutoff) * 86400000ull;
    rep->audit_cutoff = cutoff;
    if ((rc = mdb_cursor_open(call->txn, audit, &cur)) != 0)
        return koop_call_store_error(call, rc);
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0 && k.mv_size == 8) {
        Koop__Cases__AuditEntry *e = koop__cases__audit_entry__unpack(NULL, v.mv_size, v.mv_data);
        int old = e && e->time_ms < cutoff_ms;
        if (e)
            koop__cases__audit_entry__free_unpacked(e, NULL);
        if (!old)
            break;
        last = koop_be64_get(k.mv_data);
        if (!first)
            first = last;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return koop_call_store_error(call, rc);
    if (!last)
        return KOOP_OK;
    rep->has_audit_removed_from = rep->has_audit_removed_to = 1;
    rep->audit_removed_from = first;
    rep->audit_removed_to = last;
    if (rep->dry_run)
        return KOOP_OK;
    for (uint64_t seq = first; seq <= last; seq++) {
        unsigned char kb[8];
        MDB_val dk = {8, kb}, cv;
        koop_be64_put(kb, seq);
        if (seq == last && (rc = mdb_get(call->txn, chain, &dk, &cv)) == 0 && cv.mv_size == KOOP_CHAIN_LEN)
            memcpy(base_link, cv.mv_data, KOOP_CHAIN_LEN);
        else if (seq == last)
            return koop_call_store_error(call, rc ? rc : MDB_CORRUPTED);
        if (((rc = mdb_del(call->txn, audit, &dk, NULL)) != 0 && rc != MDB_NOTFOUND) ||
            ((rc = mdb_del(call->txn, chain, &dk, NULL)) != 0 && rc != MDB_NOTFOUND))
            return koop_call_store_error(call, rc);
    }
    {
        unsigned char val[8 + KOOP_CHAIN_LEN];
        koop_be64_put(val, last);
        memcpy(val + 8, base_link, KOOP_CHAIN_LEN);
        if ((rc = koop_store_put_str(call->txn, cases_dbi(call, "meta"), "audit_base", val, sizeof val)) != 0)
            return koop_call_store_error(call, rc);
    }
    rep->has_audit_base_link = 1;
    rep->audit_base_link.data = base_link;
    rep->audit_base_link.len = KOOP_CHAIN_LEN;
    return KOOP_OK;
}

int
cases_retention_run(koop_call_t *call)
{
    const Koop__Cases__RetentionQuery *q = (const Koop__Cases__RetentionQuery *)call->req;
    const koop_config_t *cfg = koop_service_config(call->svc);
    Koop__Cases__RetentionReport rep = KOOP__CASES__RETENTION_REPORT__INIT;
    Koop__Cases__RetentionHousehold *hs = NULL, **hp = NULL;
    char as_of[11], cutoff[11];
    uint8_t base_link[KOOP_CHAIN_LEN];
    s_run r;
    int rc;

    memset(&r, 0, sizeof r);
    r.call = call;
    if (call->caller && *call->caller) {
        /* a person: a coordinator; no person: the node's administrator or its timer */
        cases_person_t who;
        if ((rc = cases_caller(call, &who)) != KOOP_OK)
            return rc;
        if (!cases_is_coordinator(&who))
            return koop_fail(call, ACCESS_DENIED_COORDINATOR_ACTION, NULL, who.id, "retention.run");
    }
    if ((rc = cases_step_date(call, "as_of", q->as_of, NULL, as_of)) != KOOP_OK)
        return rc;
    {
        /* never ahead of the calendar: that would remove what is still due */
        char today[11];
        koop_date_today(today);
        if (strcmp(as_of, today) > 0)
            return koop_fail(call, DATE_AFTER, "as_of", as_of, "today", today);
    }
    r.as_of = as_of;
    r.case_years = koop_config_years(cfg->retention_case_years, RETENTION_CASE_YEARS);
    r.household_years = koop_config_years(cfg->retention_household_years, RETENTION_HOUSEHOLD_YEARS);
    r.audit_years = koop_config_years(cfg->retention_audit_years, RETENTION_AUDIT_YEARS);
    rep.date = as_of;
    rep.has_dry_run = rep.has_case_years = rep.has_household_years = rep.has_audit_years = 1;
    rep.dry_run = q->dry_run;
    rep.case_years = (uint32_t)r.case_years;
    rep.household_years = (uint32_t)r.household_years;
    rep.audit_years = (uint32_t)r.audit_years;

    if ((rc = s_find_households(&r)) != KOOP_OK)
        goto done;
    if (r.n && (rc = koop_log_read(koop_service_log(call->svc), call->txn, 0, UINT32_MAX, 0, s_visit, &r)) != 0) {
        rc = rc == -ENOMEM ? koop_fail(call, INTERNAL_NO_MEMORY, NULL) : koop_call_store_error(call, rc);
        goto done;
    }
    hs = calloc(r.n + 1, sizeof *hs);
    hp = calloc(r.n + 1, sizeof *hp);
    if (!hs || !hp) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    for (size_t i = 0; i < r.n; i++) {
        s_erase *e = &r.e[i];
        koop__cases__retention_household__init(&hs[i]);
        hs[i].household = e->h->id;
        hs[i].rule = e->rule;
        hs[i].since = e->since;
        hs[i].has_records = hs[i].has_events = 1;
        hs[i].records = (uint32_t)(1 + e->n_ipws + e->n_children);
        hs[i].events = (uint32_t)e->n_redacted;
        hp[i] = &hs[i];
        if (q->dry_run)
            continue;
        for (size_t j = 0; j < e->n_redacted; j++)
            if ((rc = koop_log_redact(koop_service_log(call->svc), call->txn, e->redacted[j])) != 0) {
                rc = koop_call_store_error(call, rc);
                goto done;
            }
        if ((rc = s_save_stubs(&r, e)) != KOOP_OK || (rc = s_emit_erasure(&r, e)) != KOOP_OK)
            goto done;
        koop_info("retencja: dane osobowe gospodarstwa %s usunięte (%s, od %s; %zu wpisów dziennika)", e->h->id,
                  e->rule, e->since, e->n_redacted);
    }
    rep.n_households = r.n;
    rep.households = hp;
    if ((rc = s_audit_expire(&r, &rep, cutoff, base_link)) != KOOP_OK)
        goto done;
    if (!q->dry_run && (r.n || rep.audit_removed_to) &&
        (rc = koop_call_emit(call, "retention.run", KOOP__SCOPE__SCOPE_LOCAL, &rep.base)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &rep.base);
done:
    s_run_free(&r);
    free(hs);
    free(hp);
    return rc;
}

/* ---- the daily timer: the service asks itself, as the administrator would ---- */

static void
s_on_ran(void *ctx, const koop_reply_t *reply)
{
    (void)ctx;
    if (reply->status != KOOP_OK)
        koop_warn("retencja: przebieg dzienny nie powiódł się (%s)", reply->err.code);
}

static void
s_on_timer(uv_timer_t *t)
{
    cases_t *c = t->data;
    Koop__Cases__RetentionQuery q = KOOP__CASES__RETENTION_QUERY__INIT;
    const char *ep = koop_config_endpoint(koop_service_config(c->svc), "cases");
    if (koop_client_call(koop_service_client(c->svc), ep, "", "retention.run", &q.base, 60000, s_on_ran, c, NULL) != 0)
        koop_warn("retencja: nie można uruchomić przebiegu dziennego");
}

int
cases_retention_start(cases_t *c)
{
    const koop_config_t *cfg = koop_service_config(c->svc);
    if (strcmp(cfg->retention_timer, "off") == 0)
        return 0;
    if (uv_timer_init(koop_service_loop(c->svc), &c->retention_timer) != 0)
        return -1;
    c->retention_timer.data = c;
    c->retention_timer_on = 1;
    return uv_timer_start(&c->retention_timer, s_on_timer, RETENTION_FIRST_MS, RETENTION_EVERY_MS);
}

void
cases_retention_stop(cases_t *c)
{
    if (!c->retention_timer_on)
        return;
    uv_timer_stop(&c->retention_timer);
    uv_close((uv_handle_t *)&c->retention_timer, NULL);
    c->retention_timer_on = 0;
}

/* ---- events.verify and audit.verify: what retention did is as it says ---- */

typedef struct {
    uint64_t *listed, *seen;
    size_t n_listed, n_seen, cap_listed, cap_seen;
} s_vstate;

static int
s_push(uint64_t **a, size_t *n, size_t *cap, uint64_t x)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        uint64_t *g = realloc(*a, nc * sizeof *g);
        if (!g)
            return -ENOMEM;
        *a = g;
        *cap = nc;
    }
    (*a)[(*n)++] = x;
    return 0;
}

static s_vstate *
s_vstate_of(koop_verify_t *v)
{
    void **slot = koop_verify_user(v);
    if (!*slot)
        *slot = calloc(1, sizeof(s_vstate));
    return *slot;
}

int
cases_retention_verify_event(koop_verify_t *v, uint64_t seq, const koop_event_type_t *t,
                             const ProtobufCMessage *payload, int redacted)
{
    s_vstate *st = s_vstate_of(v);
    const Koop__Cases__Erasure *e;
    int rc = 0;
    if (!st)
        return -ENOMEM;
    if (redacted)
        return s_push(&st->seen, &st->n_seen, &st->cap_seen, seq);
    if (!t || t->id != KOOP_EV_RETENTION_ERASED || !payload)
        return 0;
    e = (const Koop__Cases__Erasure *)payload;
    for (size_t i = 0; rc == 0 && i < e->n_redacted; i++)
        rc = s_push(&st->listed, &st->n_listed, &st->cap_listed, e->redacted[i]);
    if (rc == 0 && e->household) {
        rc = cases_verify_expect_record(v, "household", seq, &e->household->base);
        /* the consent index: its consents still name it */
        for (size_t i = 0; rc == 0 && i < e->household->n_consents; i++)
            if (e->household->consents[i]->id && e->household->id)
                rc = koop_verify_expect(v, "consent", e->household->consents[i]->id, seq,
                                        (const uint8_t *)e->household->id, strlen(e->household->id));
    }
    for (size_t i = 0; rc == 0 && i < e->n_ipws; i++)
        rc = cases_verify_expect_record(v, "ipw", seq, &e->ipws[i]->base);
    for (size_t i = 0; rc == 0 && i < e->n_goals; i++)
        rc = cases_verify_expect_record(v, "goal", seq, &e->goals[i]->base);
    for (size_t i = 0; rc == 0 && i < e->n_tasks; i++)
        rc = cases_verify_expect_record(v, "task", seq, &e->tasks[i]->base);
    for (size_t i = 0; rc == 0 && i < e->n_meetings; i++)
        rc = cases_verify_expect_record(v, "meeting", seq, &e->meetings[i]->base);
    for (size_t i = 0; rc == 0 && i < e->n_referrals; i++)
        rc = cases_verify_expect_record(v, "referral", seq, &e->referrals[i]->base);
    return rc;
}

static int
s_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int
cases_retention_verify_done(koop_verify_t *v, MDB_txn *txn)
{
    s_vstate *st = *koop_verify_user(v);
    if (!st)
        return 0;
    if (txn) {
        if (st->n_listed)
            qsort(st->listed, st->n_listed, sizeof *st->listed, s_u64_cmp);
        for (size_t i = 0; i < st->n_seen; i++)
            if (!st->n_listed || !bsearch(&st->seen[i], st->listed, st->n_listed, sizeof *st->listed, s_u64_cmp))
                koop_verify_fail(v, st->seen[i], VERIFY_REDACTED_UNLISTED, KOOP_NUM(st->seen[i]));
    }
    free(st->listed);
    free(st->seen);
    free(st);
    *koop_verify_user(v) = NULL;
    return 0;
}

/* The base the last retention.run that removed audit entries named. */
typedef struct {
    uint64_t seq;
    uint8_t link[KOOP_CHAIN_LEN];
    int found;
} s_base;

static int
s_base_visit(uint64_t seq, const uint8_t *bytes, size_t len, void *ctx)
{
    s_base *b = ctx;
    Koop__Event *ev = koop__event__unpack(NULL, len, bytes);
    const koop_event_type_t *t;
    ProtobufCMessage *p;
    (void)seq;
    if (!ev)
        return 0;
    if (ev->type && strcmp(ev->type, "retention.run") == 0 && koop_event_decode(ev, &t, &p) == 0) {
        const Koop__Cases__RetentionReport *r = (const Koop__Cases__RetentionReport *)p;
        if (r->audit_removed_to && r->audit_base_link.len == KOOP_CHAIN_LEN) {
            b->found = 1;
            b->seq = r->audit_removed_to;
            memcpy(b->link, r->audit_base_link.data, KOOP_CHAIN_LEN);
        }
        protobuf_c_message_free_unpacked(p, NULL);
    }
    koop__event__free_unpacked(ev, NULL);
    return 0;
}

int
cases_retention_audit_base_check(koop_call_t *call, koop_verify_report_t *r, uint64_t base,
                                 const uint8_t link[KOOP_CHAIN_LEN])
{
    s_base b = {0, {0}, 0};
    int rc = koop_log_read(koop_service_log(call->svc), call->txn, 0, UINT32_MAX, 0, s_base_visit, &b);
    if (rc != 0)
        return rc;
    if (b.found ? (b.seq != base || memcmp(b.link, link, KOOP_CHAIN_LEN) != 0) : base != 0)
        koop_verify_report_add(r, base, KOOP_ERR_VERIFY_AUDIT_BASE, (const char *const[]){KOOP_NUM(base), NULL});
    return 0;
}
