/*
 * meeting.c - ZZK meetings and referrals of the family to listed services.
 *
 * Meeting: a date, the participants (people of the ZZK, present or former),
 * a topic and decisions (LOCAL text). SHARED facts: the date, how many took
 * part and which institutions were there.
 *
 * Referral lifecycle:
 *
 *   send --> SENT --accept--> ACCEPTED --done--> DONE
 *              |
 *              +---decline--> DECLINED
 *
 * DONE and DECLINED are final; each step's date is not before the previous
 * one. The service is an entry of the registry's list of activities and
 * services; its provider (and sector) is taken from the registry copy.
 */
#include "cases.h"
#include "clock.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RS(x) KOOP__CASES__REFERRAL_STATUS__REFERRAL_##x

/* The membership (current or former) of person in ipw, or NULL. */
static const Koop__Cases__ZzkMember *
s_ever_member(const Koop__Cases__Ipw *ipw, const char *person)
{
    for (size_t i = 0; i < ipw->n_members; i++)
        if (ipw->members[i]->person && strcmp(ipw->members[i]->person, person) == 0)
            return ipw->members[i];
    return NULL;
}

int
cases_meeting_add(koop_call_t *call)
{
    const Koop__Cases__MeetingAdd *q = (const Koop__Cases__MeetingAdd *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Meeting m = KOOP__CASES__MEETING__INIT;
    Koop__Cases__MeetingFacts f = KOOP__CASES__MEETING_FACTS__INIT;
    char *institutions[CASES_MAX_LIST];
    cases_person_t who;
    char id[KOOP_ID_LEN], date[11], summary[200];
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK ||
        (rc = koop_check_text(call, "topic", q->topic, 0, 300)) != KOOP_OK ||
        (rc = koop_check_text(call, "decisions", q->decisions, 0, KOOP_MAX_TEXT)) != KOOP_OK)
        return rc;
    if (q->n_participants > CASES_MAX_LIST)
        return koop_fail(call, LIST_TOO_LONG, "participants", KOOP_NUM(CASES_MAX_LIST));
    for (size_t i = 0; i < q->n_participants; i++) {
        if ((rc = cases_check_id(call, "participants", q->participants[i], 1)) != KOOP_OK)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(q->participants[i], q->participants[j]) == 0)
                return koop_fail(call, LIST_DUPLICATE, "participants", q->participants[i]);
    }
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK)
        return rc;
    for (size_t i = 0; i < q->n_participants; i++) {
        const Koop__Cases__ZzkMember *zm = s_ever_member(ipw, q->participants[i]);
        size_t k;
        if (!zm) {
            rc = koop_fail(call, ZZK_MEMBER_REQUIRED, "participants", q->participants[i], ipw->number);
            goto done;
        }
        if (!zm->institution || !*zm->institution)
            continue;
        for (k = 0; k < f.n_institutions; k++)
            if (strcmp(institutions[k], zm->institution) == 0)
                break;
        if (k == f.n_institutions)
            institutions[f.n_institutions++] = zm->institution;
    }
    if ((rc = cases_ipw_date(call, ipw, q->date, date)) != KOOP_OK ||
        (rc = cases_check_children(call, ipw->id)) != KOOP_OK || (rc = cases_new_id(call, id)) != KOOP_OK)
        goto done;
    cases_audit_note(call, NULL, NULL, id);
    m.id = id;
    m.ipw = ipw->id;
    m.date = date;
    m.n_participants = q->n_participants;
    m.participants = q->participants;
    m.topic = q->topic;
    m.decisions = q->decisions;
    f.meeting = id;
    f.ipw = ipw->id;
    f.date = date;
    f.has_participants = 1;
    f.participants = (uint32_t)q->n_participants;
    f.institutions = institutions;
    {
        /* a meeting dated later is planned, not held */
        char today[11];
        koop_date_today(today);
        snprintf(summary, sizeof summary, "%s, %zu %s%s%.120s",
                 strcmp(date, today) > 0 ? "zaplanowane spotkanie ZZK" : "spotkanie ZZK", q->n_participants,
                 koop_plural_word((long long)q->n_participants, "osoba", "osoby", "osób"),
                 q->topic && *q->topic ? ": " : "", q->topic ? q->topic : "");
    }
    {
        cases_change_t ch = {"meeting.held", &m.base, &f.base, ipw->id, date, id, summary};
        if ((rc = cases_save(call, "meeting", id, &m.base)) != KOOP_OK ||
            (rc = cases_child_add(call, ipw->id, 'm', id)) != KOOP_OK || (rc = cases_record_change(call, &ch)) != KOOP_OK)
            goto done;
    }
    rc = koop_call_reply(call, &m.base);
done:
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* ---- referrals ---- */

static int
s_referral_change(koop_call_t *call, const Koop__Cases__Referral *r, const char *type, const char *date,
                  const char *summary)
{
    Koop__Cases__ReferralFacts f = KOOP__CASES__REFERRAL_FACTS__INIT;
    cases_change_t ch = {type, &r->base, &f.base, r->ipw, date, r->id, summary};
    f.referral = r->id;
    f.ipw = r->ipw;
    f.service = r->service;
    f.provider = r->provider;
    f.has_provider_sector = r->has_provider_sector;
    f.provider_sector = r->provider_sector;
    f.has_status = 1;
    f.status = r->status;
    f.date = (char *)date;
    return cases_record_change(call, &ch);
}

int
cases_referral_send(koop_call_t *call)
{
    const Koop__Cases__ReferralSend *q = (const Koop__Cases__ReferralSend *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Goal *goal = NULL;
    Koop__Cases__Referral r = KOOP__CASES__REFERRAL__INIT;
    Koop__Reg__Sector sector = KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    cases_person_t who;
    char id[KOOP_ID_LEN], provider[KOOP_ID_LEN] = "", date[11], summary[200];
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_check_id(call, "service", q->service, 1)) != KOOP_OK ||
        (rc = cases_check_id(call, "goal", q->goal, 0)) != KOOP_OK ||
        (rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK ||
        (rc = koop_check_text(call, "note", q->note, 0, KOOP_MAX_TEXT)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK)
        return rc;
    if (q->goal && *q->goal) {
        rc = cases_load(call, "goal", &koop__cases__goal__descriptor, "goal", q->goal, (ProtobufCMessage **)&goal);
        if (rc != KOOP_OK)
            goto done;
        if (!goal->ipw || strcmp(goal->ipw, ipw->id) != 0) {
            rc = koop_fail(call, GOAL_OTHER_IPW, "goal", q->goal);
            goto done;
        }
    }
    if ((rc = cases_catalogue(call, "service", q->service, provider, &sector)) != KOOP_OK)
        goto done;
    if ((rc = cases_ipw_date(call, ipw, q->date, date)) != KOOP_OK ||
        (rc = cases_check_children(call, ipw->id)) != KOOP_OK || (rc = cases_new_id(call, id)) != KOOP_OK)
        goto done;
    cases_audit_note(call, NULL, NULL, id);
    r.id = id;
    r.ipw = ipw->id;
    r.goal = q->goal && *q->goal ? q->goal : NULL;
    r.service = q->service;
    r.provider = provider[0] ? provider : NULL;
    r.has_provider_sector = sector != KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    r.provider_sector = sector;
    r.has_status = 1;
    r.status = RS(SENT);
    r.sent = date;
    r.note = q->note;
    snprintf(summary, sizeof summary, "skierowanie do usługi z listy%s%.120s", q->note && *q->note ? ": " : "",
             q->note ? q->note : "");
    if ((rc = cases_save(call, "referral", id, &r.base)) != KOOP_OK ||
        (rc = cases_child_add(call, ipw->id, 'r', id)) != KOOP_OK ||
        (rc = s_referral_change(call, &r, "referral.sent", date, summary)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &r.base);
done:
    if (goal)
        koop__cases__goal__free_unpacked(goal, NULL);
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

typedef struct {
    const char *method;  /* the step asked for, a word of errors.def */
    Koop__Cases__ReferralStatus from, to;
    const char *type;
    const char *summary;
} s_referral_step_t;

static const s_referral_step_t s_accept = {"referral.accept", RS(SENT), RS(ACCEPTED), "referral.accepted",
                                           "skierowanie przyjęte"};
static const s_referral_step_t s_decline = {"referral.decline", RS(SENT), RS(DECLINED), "referral.declined",
                                            "skierowanie odrzucone"};
static const s_referral_step_t s_finish = {"referral.done", RS(ACCEPTED), RS(DONE), "referral.done",
                                           "usługa zrealizowana"};

/* The state as a word of errors.def, for refusals. */
static const char *
s_referral_state_word(Koop__Cases__ReferralStatus st)
{
    switch (st) {
    case RS(SENT): return "referral_sent";
    case RS(ACCEPTED): return "referral_accepted";
    case RS(DECLINED): return "referral_declined";
    case RS(DONE): return "referral_done";
    default: return "?";
    }
}

static int
s_referral_step(koop_call_t *call, const s_referral_step_t *s)
{
    const Koop__Cases__ReferralStep *q = (const Koop__Cases__ReferralStep *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Referral *r = NULL;
    cases_person_t who;
    const char *last;
    char date[11], summary[200];
    int rc;

    cases_audit_note(call, NULL, NULL, q->referral);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 0, 1000)) != KOOP_OK)
        return rc;
    if ((rc = cases_load(call, "referral", &koop__cases__referral__descriptor, "referral", q->referral,
                         (ProtobufCMessage **)&r)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", r->ipw, 1, &ipw)) != KOOP_OK)
        goto done;
    if (r->status != s->from) {
        rc = koop_fail(call, STATE_ILLEGAL_TRANSITION, NULL, r->id, s_referral_state_word(r->status), s->method,
                       s_referral_state_word(s->from));
        goto done;
    }
    last = r->status == RS(ACCEPTED) && r->accepted ? r->accepted : r->sent;
    if ((rc = cases_step_date(call, "date", q->date, last, date)) != KOOP_OK)
        goto done;
    if (last && cases_date_before(date, last)) {
        rc = koop_fail(call, DATE_ORDER, "date", date, "referral_last_step", last);
        goto done;
    }
    r->status = s->to;
    if (s == &s_accept)
        rc = cases_set(call, &r->accepted, date);
    else if (s == &s_decline)
        rc = cases_set(call, &r->declined, date);
    else
        rc = cases_set(call, &r->done, date);
    if (rc == KOOP_OK && q->reason && *q->reason)
        rc = cases_set(call, &r->reason, q->reason);
    if (rc != KOOP_OK)
        goto done;
    snprintf(summary, sizeof summary, "%s%s%.120s", s->summary, q->reason && *q->reason ? ": " : "",
             q->reason ? q->reason : "");
    if ((rc = cases_save(call, "referral", r->id, &r->base)) != KOOP_OK ||
        (rc = s_referral_change(call, r, s->type, date, summary)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &r->base);
done:
    koop__cases__referral__free_unpacked(r, NULL);
    if (ipw)
        koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

int cases_referral_accept(koop_call_t *call) { return s_referral_step(call, &s_accept); }
int cases_referral_decline(koop_call_t *call) { return s_referral_step(call, &s_decline); }
int cases_referral_done(koop_call_t *call) { return s_referral_step(call, &s_finish); }
