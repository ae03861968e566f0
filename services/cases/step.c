/*
 * step.c - the one runner of lifecycle steps: an IPW's activate, suspend,
 * resume, review, close and reopen (ipw.c), a task's start, done and cancel
 * (plan.c), a referral's accept, decline and done (meeting.c).
 *
 * Every step goes the same way; a cases_step_t says what differs:
 *
 *   caller -> date and reason checked -> the record (and its IPW) loaded:
 *   readable by the caller, not closed, this node's to change -> may the
 *   caller take the step (s->may) -> is it allowed from the record's state
 *   (s->from, else state.illegal_transition) -> its date: given (not in
 *   the future, date.future) or today, never before s->floor (date.order)
 *   -> the state and s->date_field set, the reason kept -> s->apply -> the
 *   record saved -> s->emit (events, timeline) -> the reply: the record.
 *
 * Refusals change nothing (the runtime aborts the call's transaction) and
 * are audited like every call.
 */
#include "cases.h"

#include <stdio.h>
#include <string.h>

/* The record's status as an int (every stepped record has one). */
static int *
s_status(ProtobufCMessage *rec)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(rec->descriptor, "status");
    return (int *)((char *)rec + f->offset);
}

/* Loads the record of the step and the IPW it belongs to into x. */
static int
s_load(koop_call_t *call, const cases_step_t *s, const char *id, cases_step_ctx_t *x)
{
    int rc;
    if (s->desc == &koop__cases__ipw__descriptor) {
        /* a closed IPW is refused by its state (s->from), not as closed */
        if ((rc = cases_ipw_load(call, x->who, "ipw", id, 0, &x->ipw)) != KOOP_OK)
            return rc;
        x->rec = &x->ipw->base;
        return cases_check_owned(call, "ipw", x->ipw->number, x->ipw->transfer, x->ipw->transferred_to,
                                 x->ipw->transferred);
    }
    cases_audit_note(call, NULL, NULL, id);
    if ((rc = cases_load(call, s->table, s->desc, s->table, id, &x->rec)) != KOOP_OK)
        return rc;
    return cases_ipw_load(call, s->own_access ? NULL : x->who, "ipw", koop_record_str(x->rec, "ipw"), 1, &x->ipw);
}

int
cases_step_run(koop_call_t *call, const cases_step_t *s, const char *id, const char *date, const char *reason)
{
    cases_person_t who;
    cases_step_ctx_t x;
    const char *floor, *floor_word = NULL;
    int rc, *status;

    memset(&x, 0, sizeof x);
    x.step = s;
    x.who = &who;
    x.req = call->req;
    x.reason = reason && *reason ? reason : NULL;
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_date(call, "date", date, s->date_required)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", reason, 0, 1000)) != KOOP_OK)
        return rc;
    if ((rc = s_load(call, s, id, &x)) != KOOP_OK)
        goto done;
    if ((rc = s->may(call, &x)) != KOOP_OK)
        goto done;
    status = s_status(x.rec);
    x.previous = *status;
    if (!(s->from & (1u << *status))) {
        rc = koop_fail(call, STATE_ILLEGAL_TRANSITION, NULL, s->desc == &koop__cases__ipw__descriptor ? x.ipw->number
                                                                                                    : koop_record_str(x.rec, "id"),
                       s->state_word(*status), s->method, s->needs);
        goto done;
    }
    floor = s->floor(&x, &floor_word);
    if ((rc = cases_step_date(call, "date", date, floor, x.date)) != KOOP_OK)
        goto done;
    if (floor && *floor && cases_date_before(x.date, floor)) {
        rc = koop_fail(call, DATE_ORDER, "date", x.date, floor_word, floor);
        goto done;
    }
    if (s->to)
        *status = s->to;
    if (s->date_field && (rc = cases_set(call, cases_str_field(x.rec, s->date_field), x.date)) != KOOP_OK)
        goto done;
    if (x.reason && s->reason_field && (rc = cases_set(call, cases_str_field(x.rec, s->reason_field), x.reason)) != KOOP_OK)
        goto done;
    snprintf(x.summary, sizeof x.summary, "%s%s%.120s", s->summary, x.reason ? " – " : "", x.reason ? x.reason : "");
    if (s->apply && (rc = s->apply(call, &x)) != KOOP_OK)
        goto done;
    if ((rc = cases_save(call, s->table, koop_record_str(x.rec, "id"), x.rec)) != KOOP_OK ||
        (rc = s->emit(call, &x)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, x.rec);
done:
    if (x.rec && (!x.ipw || x.rec != &x.ipw->base))
        protobuf_c_message_free_unpacked(x.rec, NULL);
    if (x.ipw)
        koop__cases__ipw__free_unpacked(x.ipw, NULL);
    return rc;
}
