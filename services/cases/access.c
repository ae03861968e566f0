/*
 * access.c - who may see and do what with case data, and the audit log.
 *
 * The role table (docs/CASES.md has it for people; each row is a rule here
 * and a test in tests/integration/test_case_roles.c). The gmina's OPS is
 * the controller of this data (DOMAIN.md):
 *   - every request names its caller (envelope `caller`, koopctl --as); a
 *     request without one, or naming a person the registry does not know or
 *     has made inactive, is refused (access.no_caller, access.caller_*);
 *   - LEADS of an IPW are its coordinator and the gmina's coordinators
 *     (registry role `coordinator`): they open, activate, suspend, resume,
 *     review, close, reopen and correct it, change its ZZK, goals, tasks,
 *     meetings and referrals, remove entries made by mistake and hand the
 *     household to another gmina (access.denied.case_lead);
 *   - ZZK MEMBERS whose membership has not ended see the IPW and its
 *     household, scale goals, add notes, and start and finish the tasks
 *     they own (access.denied.task_owner) - while the family's consent
 *     names their institution (access.denied.no_consent: a withdrawal
 *     cuts them off at once) and for CASES_CLOSED_ACCESS_DAYS after the
 *     IPW closed (access.denied.closed); leads keep access;
 *   - RECIPIENTS of a referral - the provider's PZK representatives and the
 *     people named on the referral - see that referral and the case number
 *     only, and accept, decline and complete it (access.denied.referral);
 *   - a household is for the coordinators, the person who registered it,
 *     and those who may read one of its IPWs (access.denied.household); its
 *     data is changed by its registrar, the coordinators of its IPWs and
 *     the gmina's coordinators (access.denied.household_change);
 *   - the audit log, raw LOCAL events and transfers between gminas are for
 *     the gmina's coordinators (access.denied.coordinator_only,
 *     access.denied.coordinator_action).
 *
 * Audit. Every method of the service is a write method, so every call runs
 * in the batch's write transaction; after the call's own nested transaction
 * ended (committed or, for a refused or failed call, aborted) the runtime
 * calls cases_after_write, which appends one entry - who, when, which method,
 * which household/IPW/record, allowed or refused, the result - to the
 * "audit" table in the batch transaction. So the entry commits with the
 * batch, a refused attempt is recorded although its own changes were rolled
 * back, and a reply is never sent for a call whose audit entry is not
 * durable. The caller is stored as it came only when it is an id; any other
 * caller (refused) is stored escaped and cut to 80 bytes, so a refused
 * request cannot grow the store by more than one small entry (the runtime
 * already refuses callers over KOOP_MAX_CALLER before any handler runs).
 * Handlers say what a call is about with cases_audit_note() before
 * checking access, so refused attempts name the case too. A coordinator's
 * read of raw LOCAL events (feed.fetch) is audited the same way.
 */
#include "cases.h"
#include "clock.h"
#include "id.h"
#include "say.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cases_audit_reset(koop_call_t *call)
{
    cases_t *c = cases_of(call);
    c->note_household[0] = c->note_ipw[0] = c->note_ref[0] = '\0';
}

void
cases_audit_note(koop_call_t *call, const char *household, const char *ipw, const char *ref)
{
    cases_t *c = cases_of(call);
    if (household && koop_id_valid(household))
        memcpy(c->note_household, household, KOOP_ID_LEN);
    if (ipw && koop_id_valid(ipw))
        memcpy(c->note_ipw, ipw, KOOP_ID_LEN);
    if (ref && koop_id_valid(ref))
        memcpy(c->note_ref, ref, KOOP_ID_LEN);
}

int
cases_caller(koop_call_t *call, cases_person_t *who)
{
    int rc;
    memset(who, 0, sizeof *who);
    if (!call->caller || !*call->caller)
        return koop_fail(call, ACCESS_NO_CALLER, "as", "case_data");
    if (!koop_id_valid(call->caller))
        return koop_fail(call, ACCESS_CALLER_INVALID, "as", call->caller);
    rc = cases_person(call, "as", call->caller, who);
    if (rc == KOOP_NOT_FOUND)
        return koop_fail(call, ACCESS_CALLER_UNKNOWN, "as", call->caller);
    if (rc != KOOP_OK)
        return rc;
    if (!who->active)
        return koop_fail(call, ACCESS_CALLER_INACTIVE, "as", call->caller);
    return KOOP_OK;
}

int
cases_is_coordinator(const cases_person_t *who)
{
    return who->role == KOOP__REG__ROLE__ROLE_COORDINATOR;
}

Koop__Cases__ZzkMember *
cases_member(const Koop__Cases__Ipw *ipw, const char *person)
{
    for (size_t i = 0; i < ipw->n_members; i++) {
        Koop__Cases__ZzkMember *m = ipw->members[i];
        if (m->person && strcmp(m->person, person) == 0 && (!m->removed || !*m->removed))
            return m;
    }
    return NULL;
}

int
cases_is_lead(const cases_person_t *who, const Koop__Cases__Ipw *ipw)
{
    return cases_is_coordinator(who) || (ipw->coordinator && strcmp(ipw->coordinator, who->id) == 0);
}

int
cases_can_lead(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Ipw *ipw, const char *action)
{
    if (cases_is_lead(who, ipw))
        return KOOP_OK;
    return koop_fail(call, ACCESS_DENIED_CASE_LEAD, NULL, who->id, ipw->number ? ipw->number : ipw->id, action);
}

int
cases_can_coordinate(koop_call_t *call, const cases_person_t *who, const char *action)
{
    if (cases_is_coordinator(who))
        return KOOP_OK;
    return koop_fail(call, ACCESS_DENIED_COORDINATOR_ACTION, NULL, who->id, action);
}

int
cases_consent_covers(const Koop__Cases__Household *h, const char *institution, int *any)
{
    int covered = 0;
    if (any)
        *any = 0;
    for (size_t i = 0; i < h->n_consents; i++) {
        const Koop__Cases__Consent *c = h->consents[i];
        if (c->withdrawn && *c->withdrawn)
            continue;
        if (any)
            *any = 1;
        for (size_t k = 0; institution && k < c->n_share_with; k++)
            covered |= strcmp(c->share_with[k], institution) == 0;
    }
    return covered;
}

/* Whether a member's reading of ipw is over: closed (or handed to another
 * gmina) more than CASES_CLOSED_ACCESS_DAYS ago. */
static const char *
s_access_ended(const Koop__Cases__Ipw *ipw)
{
    const char *end = ipw->status == KOOP__CASES__IPW_STATUS__IPW_CLOSED && ipw->closed && *ipw->closed
                          ? ipw->closed
                          : (ipw->transferred && *ipw->transferred ? ipw->transferred : NULL);
    char today[11];
    if (!end)
        return NULL;
    cases_today(today);
    return cases_days_between(end, today) > CASES_CLOSED_ACCESS_DAYS ? end : NULL;
}

int
cases_ipw_visible(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Ipw *ipw,
                  const Koop__Cases__Household *h, int *visible, koop_err_t *reason)
{
    Koop__Cases__Household *own = NULL;
    const Koop__Cases__ZzkMember *m;
    int rc;

    *visible = 1;
    *reason = KOOP_ERR_UNKNOWN_CODE;
    if (cases_is_lead(who, ipw))
        return KOOP_OK;
    *visible = 0;
    if (!(m = cases_member(ipw, who->id))) {
        *reason = KOOP_ERR_ACCESS_DENIED_NOT_IN_ZZK;
        return KOOP_OK;
    }
    if (s_access_ended(ipw)) {
        *reason = KOOP_ERR_ACCESS_DENIED_CLOSED;
        return KOOP_OK;
    }
    if (!h) {
        rc = koop_record_get(call->txn, cases_dbi(call, "household"), ipw->household,
                             &koop__cases__household__descriptor, (ProtobufCMessage **)&own);
        if (rc == MDB_NOTFOUND) {
            *reason = KOOP_ERR_ACCESS_DENIED_NO_CONSENT;
            return KOOP_OK;
        }
        if (rc != 0)
            return koop_call_store_error(call, rc);
        h = own;
    }
    if (!cases_consent_covers(h, m->institution, NULL))
        *reason = KOOP_ERR_ACCESS_DENIED_NO_CONSENT;
    else
        *visible = 1;
    if (own)
        koop__cases__household__free_unpacked(own, NULL);
    return KOOP_OK;
}

int
cases_can_ipw(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Ipw *ipw)
{
    const char *number = ipw->number ? ipw->number : ipw->id;
    koop_err_t why;
    int visible, rc = cases_ipw_visible(call, who, ipw, NULL, &visible, &why);
    if (rc != KOOP_OK || visible)
        return rc;
    switch (why) {
    case KOOP_ERR_ACCESS_DENIED_CLOSED:
        return koop_fail(call, ACCESS_DENIED_CLOSED, NULL, number, s_access_ended(ipw),
                         KOOP_NUM(CASES_CLOSED_ACCESS_DAYS));
    case KOOP_ERR_ACCESS_DENIED_NO_CONSENT:
        return koop_fail(call, ACCESS_DENIED_NO_CONSENT, NULL, who->id);
    default:
        return koop_fail(call, ACCESS_DENIED_NOT_IN_ZZK, NULL, who->id, number);
    }
}

int
cases_each_ipw(koop_call_t *call, const Koop__Cases__Household *h, cases_ipw_fn fn, void *ctx)
{
    for (size_t i = 0; i < h->n_ipws; i++) {
        Koop__Cases__Ipw *ipw = NULL;
        int rc = koop_record_get(call->txn, cases_dbi(call, "ipw"), h->ipws[i], &koop__cases__ipw__descriptor,
                                 (ProtobufCMessage **)&ipw);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return koop_call_store_error(call, rc);
        rc = cases_removed(&ipw->base) ? 0 : fn(call, ipw, ctx);
        koop__cases__ipw__free_unpacked(ipw, NULL);
        if (rc)
            return rc;
    }
    return KOOP_OK;
}

typedef struct {
    const cases_person_t *who;
    const Koop__Cases__Household *h;
    int yes;
} s_who_ctx;

static int
s_reads_ipw(koop_call_t *call, const Koop__Cases__Ipw *ipw, void *ctx)
{
    s_who_ctx *w = ctx;
    koop_err_t why;
    int rc = cases_ipw_visible(call, w->who, ipw, w->h, &w->yes, &why);
    return rc != KOOP_OK ? rc : w->yes ? -1 : 0;
}

static int
s_leads_ipw(koop_call_t *call, const Koop__Cases__Ipw *ipw, void *ctx)
{
    s_who_ctx *w = ctx;
    (void)call;
    w->yes = cases_is_lead(w->who, ipw);
    return w->yes ? -1 : 0;
}

int
cases_household_visible(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Household *h,
                        int *visible)
{
    s_who_ctx w = {who, h, 0};
    int rc;
    *visible = 1;
    if (cases_is_coordinator(who) || (h->created_by && strcmp(h->created_by, who->id) == 0))
        return KOOP_OK;
    rc = cases_each_ipw(call, h, s_reads_ipw, &w);
    *visible = w.yes;
    return rc == -1 ? KOOP_OK : rc;
}

int
cases_can_household(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Household *h)
{
    int visible, rc = cases_household_visible(call, who, h, &visible);
    if (rc != KOOP_OK || visible)
        return rc;
    return koop_fail(call, ACCESS_DENIED_HOUSEHOLD, NULL, h->id);
}

int
cases_can_change_household(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Household *h,
                           const char *action)
{
    s_who_ctx w = {who, h, 0};
    int rc;
    if (cases_is_coordinator(who) || (h->created_by && strcmp(h->created_by, who->id) == 0))
        return KOOP_OK;
    rc = cases_each_ipw(call, h, s_leads_ipw, &w);
    if (rc == -1)
        return KOOP_OK;
    if (rc != KOOP_OK)
        return rc;
    return koop_fail(call, ACCESS_DENIED_HOUSEHOLD_CHANGE, NULL, who->id, h->id, action);
}

int
cases_check_owned(koop_call_t *call, const char *kind, const char *id, const char *transfer,
                  const char *transferred_to, const char *transferred)
{
    if (transferred_to && *transferred_to)
        return koop_fail(call, RECORD_TRANSFERRED, NULL, kind, id, transferred_to, transferred ? transferred : "");
    if (transfer && *transfer)
        return koop_fail(call, TRANSFER_PENDING, NULL, kind, id, transfer);
    return KOOP_OK;
}

/* ---- IPW numbers: table "ipw_number", key = the number, value = the id ---- */

int
cases_ipw_number_put(koop_call_t *call, const char *number, const char *id)
{
    int rc = koop_store_put_str(call->txn, cases_dbi(call, "ipw_number"), number, id, KOOP_ID_LEN - 1);
    return rc == 0 ? KOOP_OK : koop_call_store_error(call, rc);
}

/* IPW/YYYY/NNNN (any number of digits after the year's slash). */
static int
s_is_number(const char *s)
{
    size_t n = strlen(s);
    return n >= 10 && n < 32 && strncmp(s, "IPW/", 4) == 0 && strspn(s + 4, "0123456789") == 4 && s[8] == '/' &&
           strspn(s + 9, "0123456789") == n - 9;
}

typedef struct {
    const char *number;
    char id[KOOP_ID_LEN];
} s_number_ctx;

static int
s_number_visit(const ProtobufCMessage *m, void *ctx)
{
    const Koop__Cases__Ipw *ipw = (const Koop__Cases__Ipw *)m;
    s_number_ctx *x = ctx;
    if (ipw->number && strcmp(ipw->number, x->number) == 0 && ipw->id && koop_id_valid(ipw->id)) {
        snprintf(x->id, sizeof x->id, "%s", ipw->id);
        return 1;
    }
    return 0;
}

int
cases_ipw_resolve(koop_call_t *call, const char *field, const char *ref, char out[KOOP_ID_LEN])
{
    MDB_val v;
    int rc;
    if (!ref || !*ref)
        return koop_fail(call, FIELD_REQUIRED, field);
    if (koop_id_valid(ref)) {
        snprintf(out, KOOP_ID_LEN, "%s", ref);
        return KOOP_OK;
    }
    if (!s_is_number(ref))
        return koop_fail(call, ID_INVALID, field, ref);
    rc = koop_store_get_str(call->txn, cases_dbi(call, "ipw_number"), ref, &v);
    if (rc == 0 && v.mv_size == KOOP_ID_LEN - 1) {
        memcpy(out, v.mv_data, KOOP_ID_LEN - 1);
        out[KOOP_ID_LEN - 1] = '\0';
        return KOOP_OK;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return koop_call_store_error(call, rc);
    {
        /* IPWs entered before the index existed */
        s_number_ctx x = {ref, ""};
        rc = koop_record_scan(call->txn, cases_dbi(call, "ipw"), &koop__cases__ipw__descriptor, s_number_visit, &x);
        if (rc != 0 && rc != 1)
            return koop_call_store_error(call, rc);
        if (!x.id[0])
            return koop_fail(call, RECORD_NOT_FOUND, field, "ipw", ref);
        snprintf(out, KOOP_ID_LEN, "%s", x.id);
    }
    return KOOP_OK;
}

int
cases_ipw_load(koop_call_t *call, const cases_person_t *who, const char *field, const char *ref, int for_change,
               Koop__Cases__Ipw **out)
{
    char id[KOOP_ID_LEN];
    int rc;
    *out = NULL;
    cases_audit_note(call, NULL, ref, NULL);
    if ((rc = cases_ipw_resolve(call, field, ref, id)) != KOOP_OK)
        return rc;
    cases_audit_note(call, NULL, id, NULL);
    rc = cases_load(call, "ipw", &koop__cases__ipw__descriptor, field, id, (ProtobufCMessage **)out);
    if (rc != KOOP_OK)
        return rc;
    cases_audit_note(call, (*out)->household, NULL, NULL);
    if (who && (rc = cases_can_ipw(call, who, *out)) != KOOP_OK)
        goto fail;
    if (for_change && (rc = cases_check_owned(call, "ipw", (*out)->number, (*out)->transfer, (*out)->transferred_to,
                                              (*out)->transferred)) != KOOP_OK)
        goto fail;
    if (for_change && (*out)->status == KOOP__CASES__IPW_STATUS__IPW_CLOSED) {
        rc = koop_fail(call, IPW_CLOSED, field, (*out)->number, (*out)->closed ? (*out)->closed : "");
        goto fail;
    }
    return KOOP_OK;
fail:
    koop__cases__ipw__free_unpacked(*out, NULL);
    *out = NULL;
    return rc;
}

/* ---- raw LOCAL events (feed.fetch by a person) ---- */

int
cases_feed_local(koop_call_t *call)
{
    cases_person_t who;
    int rc;
    cases_audit_reset(call);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if (!cases_is_coordinator(&who))
        return koop_fail(call, ACCESS_DENIED_COORDINATOR_ONLY, NULL, "local_events_log");
    return KOOP_OK;
}

/* ---- the audit log: key = be64 seq, value = AuditEntry ---- */

int
cases_after_write(koop_call_t *call, MDB_txn *txn)
{
    cases_t *c = cases_of(call);
    Koop__Cases__AuditEntry e = KOOP__CASES__AUDIT_ENTRY__INIT;
    MDB_dbi dbi = cases_dbi(call, "audit");
    MDB_cursor *cur;
    MDB_val k, v;
    unsigned char key[8];
    char message[512];
    uint64_t last = 0;
    char caller[80];
    int rc;

    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        goto done;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8)
        last = koop_be64_get(k.mv_data);
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto done;
    e.has_seq = 1;
    e.seq = last + 1;
    e.has_time_ms = 1;
    e.time_ms = koop_clock_real_ms();
    /* an id as it is; anything else (a refused caller) bounded and escaped */
    e.caller = (char *)(!call->caller ? "" : !*call->caller || koop_id_valid(call->caller)
                                              ? call->caller
                                              : koop_text_escape(call->caller, caller, sizeof caller));
    e.method = (char *)call->method;
    e.household = c->note_household[0] ? c->note_household : NULL;
    e.ipw = c->note_ipw[0] ? c->note_ipw : NULL;
    e.ref = c->note_ref[0] ? c->note_ref : NULL;
    e.has_allowed = 1;
    e.allowed = call->status != KOOP_DENIED;
    e.result = (char *)(call->status == KOOP_OK ? "ok" : koop_status_name(call->status));
    if (call->status != KOOP_OK && call->err.code[0]) {
        koop_error_render(&call->err, KOOP_LANG_PL, NULL, message, sizeof message);
        e.error = message;
        e.code = call->err.code;
    }
    koop_be64_put(key, e.seq);
    k.mv_size = 8;
    k.mv_data = key;
    v.mv_size = koop__cases__audit_entry__get_packed_size(&e);
    if ((rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND | MDB_RESERVE)) != 0)
        goto done;
    koop__cases__audit_entry__pack(&e, v.mv_data);
done:
    if (rc != 0)
        koop_error("audit entry for %s cannot be written: %s", call->method, koop_strerror(rc));
    cases_audit_reset(call);
    return rc; /* non-zero fails the whole batch: nothing unaudited is acknowledged */
}

#define AUDIT_DEFAULT 1000
#define AUDIT_MAX 5000

static int
s_audit_match(const Koop__Cases__AuditEntry *e, const Koop__Cases__AuditQuery *q)
{
    if (q->ipw && *q->ipw && (!e->ipw || strcmp(e->ipw, q->ipw) != 0))
        return 0;
    if (q->person && *q->person && (!e->caller || strcmp(e->caller, q->person) != 0))
        return 0;
    return 1;
}

/* The newest `limit` matching entries, oldest first. */
int
cases_audit_show(koop_call_t *call)
{
    const Koop__Cases__AuditQuery *q = (const Koop__Cases__AuditQuery *)call->req;
    ProtobufCMessage **items = NULL;
    cases_person_t who;
    uint32_t limit = q->has_limit && q->limit ? q->limit : AUDIT_DEFAULT;
    size_t n = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if (!cases_is_coordinator(&who))
        return koop_fail(call, ACCESS_DENIED_COORDINATOR_ONLY, NULL, "audit_log");
    if ((rc = cases_check_id(call, "ipw", q->ipw, 0)) != KOOP_OK ||
        (rc = cases_check_id(call, "person", q->person, 0)) != KOOP_OK)
        return rc;
    if (limit > AUDIT_MAX)
        return koop_fail(call, FIELD_RANGE, "limit", KOOP_NUM(limit), "1", KOOP_NUM(AUDIT_MAX));
    items = calloc(limit, sizeof *items);
    if (!items)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "audit"), &cur)) != 0) {
        free(items);
        return koop_call_store_error(call, rc);
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    while (rc == 0 && n < limit) {
        Koop__Cases__AuditEntry *e = koop__cases__audit_entry__unpack(NULL, v.mv_size, v.mv_data);
        if (!e) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (s_audit_match(e, q))
            items[n++] = &e->base;
        else
            koop__cases__audit_entry__free_unpacked(e, NULL);
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cur);
    for (size_t i = 0; i < n / 2; i++) {
        ProtobufCMessage *t = items[i];
        items[i] = items[n - 1 - i];
        items[n - 1 - i] = t;
    }
    return cases_list_done(call, rc, &koop__cases__audit_list__descriptor, items, n);
}
