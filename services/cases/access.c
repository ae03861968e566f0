/*
 * access.c - who may see and change case data, and the audit log.
 *
 * Rules (the gmina's OPS is the controller of this data; see DOMAIN.md):
 *   - every request names its caller (envelope `caller`, koopctl --as); a
 *     request without one, or naming a person the registry does not know or
 *     has made inactive, is refused;
 *   - an IPW and everything in it (goals, tasks, meetings, referrals,
 *     timeline) is for the IPW's ZZK members whose membership has not ended,
 *     and for the gmina's coordinators (registry role `coordinator`);
 *   - a household is for the coordinators, for the person who registered it,
 *     and for the ZZK members of any of its IPWs;
 *   - the audit log is for coordinators.
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
 * already refuses callers over KOOP_MAX_CALLER before any handler runs). Handlers say what a call is about with cases_audit_note() before
 * checking access, so refused attempts name the case too.
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
cases_ipw_visible(const cases_person_t *who, const Koop__Cases__Ipw *ipw)
{
    return cases_is_coordinator(who) || cases_member(ipw, who->id) != NULL;
}

int
cases_can_ipw(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Ipw *ipw)
{
    if (cases_ipw_visible(who, ipw))
        return KOOP_OK;
    return koop_fail(call, ACCESS_DENIED_NOT_IN_ZZK, NULL, who->id, ipw->number ? ipw->number : ipw->id);
}

int
cases_household_visible(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Household *h,
                        int *visible)
{
    *visible = 1;
    if (cases_is_coordinator(who) || (h->created_by && strcmp(h->created_by, who->id) == 0))
        return KOOP_OK;
    for (size_t i = 0; i < h->n_ipws; i++) {
        Koop__Cases__Ipw *ipw = NULL;
        int rc = koop_record_get(call->txn, cases_dbi(call, "ipw"), h->ipws[i], &koop__cases__ipw__descriptor,
                                 (ProtobufCMessage **)&ipw);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return koop_call_store_error(call, rc);
        rc = cases_member(ipw, who->id) != NULL;
        koop__cases__ipw__free_unpacked(ipw, NULL);
        if (rc)
            return KOOP_OK;
    }
    *visible = 0;
    return KOOP_OK;
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
cases_ipw_load(koop_call_t *call, const cases_person_t *who, const char *field, const char *id, int for_change,
               Koop__Cases__Ipw **out)
{
    int rc;
    cases_audit_note(call, NULL, id, NULL);
    rc = cases_load(call, "ipw", &koop__cases__ipw__descriptor, field, id, (ProtobufCMessage **)out);
    if (rc != KOOP_OK)
        return rc;
    cases_audit_note(call, (*out)->household, NULL, NULL);
    if ((rc = cases_can_ipw(call, who, *out)) != KOOP_OK)
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
