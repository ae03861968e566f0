/*
 * remove.c - a record entered by mistake (record.remove --id ID --reason).
 *
 * The record is marked removed (date, reason) and kept: lists, shows and
 * reports leave it out (cases_load refuses it as record.removed), the audit
 * log and the event log keep everything that was done with it, and the
 * SHARED record.removed event takes its contribution out of every report
 * above (reporting's projection). Who may: the leads of the IPW it belongs
 * to (an IPW itself: its leads); a household: its registrar or a
 * coordinator of the gmina, and only when no IPW of it is left. An IPW's
 * goals, tasks, meetings and referrals go with it.
 */
#include "cases.h"
#include "clock.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *table;
    const ProtobufCMessageDescriptor *desc;
    Koop__Cases__RecordKind kind;
    const char *what; /* for the timeline */
} s_kinds[] = {
    {"household", &koop__cases__household__descriptor, KOOP__CASES__RECORD_KIND__RECORD_HOUSEHOLD, "gospodarstwo"},
    {"ipw", &koop__cases__ipw__descriptor, KOOP__CASES__RECORD_KIND__RECORD_IPW, "program"},
    {"goal", &koop__cases__goal__descriptor, KOOP__CASES__RECORD_KIND__RECORD_GOAL, "cel"},
    {"task", &koop__cases__task__descriptor, KOOP__CASES__RECORD_KIND__RECORD_TASK, "zadanie"},
    {"meeting", &koop__cases__meeting__descriptor, KOOP__CASES__RECORD_KIND__RECORD_MEETING, "spotkanie"},
    {"referral", &koop__cases__referral__descriptor, KOOP__CASES__RECORD_KIND__RECORD_REFERRAL, "skierowanie"},
};

static int
s_count_ipw(koop_call_t *call, const Koop__Cases__Ipw *ipw, void *ctx)
{
    (void)call, (void)ipw;
    (*(int *)ctx)++;
    return KOOP_OK;
}

/* May who remove rec (of kind k)? *ipw gets the IPW it belongs to. */
static int
s_may_remove(koop_call_t *call, const cases_person_t *who, size_t k, ProtobufCMessage *rec, Koop__Cases__Ipw **ipw)
{
    int rc, left = 0;
    *ipw = NULL;
    if (s_kinds[k].kind == KOOP__CASES__RECORD_KIND__RECORD_HOUSEHOLD) {
        Koop__Cases__Household *h = (Koop__Cases__Household *)rec;
        cases_audit_note(call, h->id, NULL, NULL);
        if (!cases_is_coordinator(who) && !(h->created_by && strcmp(h->created_by, who->id) == 0))
            return koop_fail(call, ACCESS_DENIED_HOUSEHOLD_CHANGE, NULL, who->id, h->id, "household.remove");
        if ((rc = cases_check_owned(call, "household", h->id, h->transfer, h->transferred_to, h->transferred)) != KOOP_OK ||
            (rc = cases_each_ipw(call, h, s_count_ipw, &left)) != KOOP_OK)
            return rc;
        if (left)
            return koop_fail(call, RECORD_HAS_CHILDREN, "id", "household", h->id, KOOP_NUM(left), "ipws");
        return KOOP_OK;
    }
    if (s_kinds[k].kind == KOOP__CASES__RECORD_KIND__RECORD_IPW) {
        Koop__Cases__Ipw *w = (Koop__Cases__Ipw *)rec;
        cases_audit_note(call, w->household, w->id, NULL);
        if ((rc = cases_can_ipw(call, who, w)) != KOOP_OK || (rc = cases_can_lead(call, who, w, "record.remove")) != KOOP_OK)
            return rc;
        return cases_check_owned(call, "ipw", w->number, w->transfer, w->transferred_to, w->transferred);
    }
    if ((rc = cases_ipw_load(call, who, "id", koop_record_str(rec, "ipw"), 1, ipw)) != KOOP_OK)
        return rc;
    return cases_can_lead(call, who, *ipw, "record.remove");
}

int
cases_record_remove(koop_call_t *call)
{
    const Koop__Cases__RecordRemove *q = (const Koop__Cases__RecordRemove *)call->req;
    Koop__Cases__RecordRemoved out = KOOP__CASES__RECORD_REMOVED__INIT;
    Koop__Cases__RemovedFacts f = KOOP__CASES__REMOVED_FACTS__INIT;
    ProtobufCMessage *rec = NULL;
    Koop__Cases__Ipw *ipw = NULL;
    cases_person_t who;
    char today[11], summary[240];
    size_t k;
    int rc = MDB_NOTFOUND;

    cases_audit_note(call, NULL, NULL, q->id);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_check_id(call, "id", q->id, 1)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 1, 1000)) != KOOP_OK)
        return rc;
    for (k = 0; k < KOOP_ARRAY_LEN(s_kinds); k++) {
        rc = koop_record_get(call->txn, cases_dbi(call, s_kinds[k].table), q->id, s_kinds[k].desc, &rec);
        if (rc != MDB_NOTFOUND)
            break;
    }
    if (rc == MDB_NOTFOUND)
        return koop_fail(call, RECORD_NOT_FOUND, "id", "record", q->id);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if (cases_removed(rec)) {
        rc = koop_fail(call, RECORD_REMOVED, "id", s_kinds[k].table, q->id, koop_record_str(rec, "removed"));
        goto done;
    }
    if ((rc = s_may_remove(call, &who, k, rec, &ipw)) != KOOP_OK)
        goto done;
    cases_today(today);
    if ((rc = cases_set(call, cases_str_field(rec, "removed"), today)) != KOOP_OK ||
        (rc = cases_set(call, cases_str_field(rec, "removed_reason"), q->reason)) != KOOP_OK ||
        (rc = cases_save(call, s_kinds[k].table, q->id, rec)) != KOOP_OK)
        goto done;
    if (s_kinds[k].kind == KOOP__CASES__RECORD_KIND__RECORD_HOUSEHOLD)
        rc = cases_pesel_index(call, (Koop__Cases__Household *)rec, 0);
    else if (s_kinds[k].kind == KOOP__CASES__RECORD_KIND__RECORD_TASK)
        rc = cases_owner_index(call, koop_record_str(rec, "owner"), q->id, 0);
    if (rc != KOOP_OK)
        goto done;
    out.has_kind = f.has_kind = 1;
    out.kind = f.kind = s_kinds[k].kind;
    out.id = f.id = q->id;
    out.removed = f.date = today;
    out.reason = q->reason;
    out.ipw = f.ipw = s_kinds[k].kind == KOOP__CASES__RECORD_KIND__RECORD_IPW ? q->id
                      : ipw                                                  ? ipw->id
                                                                             : NULL;
    f.household = s_kinds[k].kind == KOOP__CASES__RECORD_KIND__RECORD_HOUSEHOLD ? q->id
                  : s_kinds[k].kind == KOOP__CASES__RECORD_KIND__RECORD_IPW     ? ((Koop__Cases__Ipw *)rec)->household
                  : ipw                                                         ? ipw->household
                                                                                : NULL;
    if (s_kinds[k].kind == KOOP__CASES__RECORD_KIND__RECORD_HOUSEHOLD)
        f.registered = ((Koop__Cases__Household *)rec)->registered;
    snprintf(summary, sizeof summary, "usunięto wpis omyłkowy (%s): %.150s", s_kinds[k].what, q->reason);
    {
        cases_change_t ch = {"record.removed", &out.base, &f.base, out.ipw, today, q->id, summary, NULL};
        if ((rc = cases_record_change(call, &ch)) != KOOP_OK)
            goto done;
    }
    rc = koop_call_reply(call, &out.base);
done:
    protobuf_c_message_free_unpacked(rec, NULL);
    if (ipw)
        koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}
