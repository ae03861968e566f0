/*
 * meeting.c - ZZK meetings, notes of ZZK members, and referrals of the
 * family to listed services.
 *
 * Meeting: a date (a planned meeting may lie ahead; closing the IPW cancels
 * those after its closing day only with cancel_open), the participants
 * (people of the ZZK, present or former), a topic and decisions (LOCAL
 * text). SHARED facts: the date, how many took part and which institutions
 * were there. Leads record and correct meetings.
 *
 * Note: a ZZK member's note in the timeline (LOCAL only).
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
 * Leads send and correct referrals. The RECIPIENTS - the provider's PZK
 * representatives and the people of the provider named on the referral -
 * see that referral with the case number only, name further people of
 * their institution, and accept, decline and complete it (the leads may
 * record those answers too).
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

void
cases_meeting_facts(const Koop__Cases__Meeting *m, const Koop__Cases__Ipw *ipw, Koop__Cases__MeetingFacts *f,
                    char **institutions)
{
    koop__cases__meeting_facts__init(f);
    f->meeting = m->id;
    f->ipw = m->ipw;
    f->date = m->date;
    f->has_participants = 1;
    f->participants = (uint32_t)m->n_participants;
    f->institutions = institutions;
    for (size_t i = 0; ipw && i < m->n_participants; i++) {
        const Koop__Cases__ZzkMember *zm = s_ever_member(ipw, m->participants[i]);
        size_t k;
        if (!zm || !zm->institution || !*zm->institution)
            continue;
        for (k = 0; k < f->n_institutions; k++)
            if (strcmp(institutions[k], zm->institution) == 0)
                break;
        if (k == f->n_institutions && f->n_institutions < CASES_MAX_LIST)
            institutions[f->n_institutions++] = zm->institution;
    }
}

static int
s_meeting_change(koop_call_t *call, const Koop__Cases__Meeting *m, const Koop__Cases__Ipw *ipw, const char *type,
                 const char *date, const char *summary)
{
    Koop__Cases__MeetingFacts f;
    char *institutions[CASES_MAX_LIST];
    cases_change_t ch = {type, &m->base, &f.base, ipw->id, date, m->id, summary, NULL};
    cases_meeting_facts(m, ipw, &f, institutions);
    return cases_record_change(call, &ch);
}

/* Participants: ids, none twice, each a present or former ZZK member. */
static int
s_check_participants(koop_call_t *call, const Koop__Cases__Ipw *ipw, char *const *p, size_t n)
{
    int rc;
    if (n > CASES_MAX_LIST)
        return koop_fail(call, LIST_TOO_LONG, "participants", KOOP_NUM(CASES_MAX_LIST));
    for (size_t i = 0; i < n; i++) {
        if ((rc = cases_check_id(call, "participants", p[i], 1)) != KOOP_OK)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(p[i], p[j]) == 0)
                return koop_fail(call, LIST_DUPLICATE, "participants", p[i]);
        if (ipw && !s_ever_member(ipw, p[i]))
            return koop_fail(call, ZZK_MEMBER_REQUIRED, "participants", p[i], ipw->number);
    }
    return KOOP_OK;
}

static void
s_meeting_summary(char *out, size_t len, const Koop__Cases__Meeting *m)
{
    /* a meeting dated later is planned, not held */
    char today[11];
    koop_date_today(today);
    snprintf(out, len, "%s, %zu %s%s%.120s",
             m->date && strcmp(m->date, today) > 0 ? "zaplanowane spotkanie ZZK" : "spotkanie ZZK", m->n_participants,
             koop_plural_word((long long)m->n_participants, "osoba", "osoby", "osób"),
             m->topic && *m->topic ? ": " : "", m->topic ? m->topic : "");
}

int
cases_meeting_add(koop_call_t *call)
{
    const Koop__Cases__MeetingAdd *q = (const Koop__Cases__MeetingAdd *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Meeting m = KOOP__CASES__MEETING__INIT;
    cases_person_t who;
    char id[KOOP_ID_LEN], date[11], summary[200];
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK ||
        (rc = koop_check_name(call, "topic", q->topic, 0, 300)) != KOOP_OK ||
        (rc = koop_check_text(call, "decisions", q->decisions, 0, KOOP_MAX_TEXT)) != KOOP_OK ||
        (rc = s_check_participants(call, NULL, q->participants, q->n_participants)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK)
        return rc;
    if ((rc = cases_can_lead(call, &who, ipw, "meeting.add")) != KOOP_OK ||
        (rc = s_check_participants(call, ipw, q->participants, q->n_participants)) != KOOP_OK ||
        (rc = cases_ipw_plan_date(call, ipw, q->date, date)) != KOOP_OK ||
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
    s_meeting_summary(summary, sizeof summary, &m);
    if ((rc = cases_save(call, "meeting", id, &m.base)) != KOOP_OK ||
        (rc = cases_child_add(call, ipw->id, 'm', id)) != KOOP_OK ||
        (rc = s_meeting_change(call, &m, ipw, "meeting.held", date, summary)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &m.base);
done:
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

static int
s_meeting_updated(koop_call_t *call, const ProtobufCMessage *rec, const void *ipw, const char *date, const char *summary)
{
    return s_meeting_change(call, (const Koop__Cases__Meeting *)rec, ipw, "meeting.updated", date, summary);
}

int
cases_meeting_update(koop_call_t *call)
{
    static const char *const skip[] = {"meeting", "reason", NULL};
    const Koop__Cases__MeetingUpdate *q = (const Koop__Cases__MeetingUpdate *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Meeting *m = NULL;
    cases_person_t who;
    char changes[700];
    int rc, changed;

    cases_audit_note(call, NULL, NULL, q->meeting);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK ||
        (rc = koop_check_name(call, "topic", q->topic, 0, 300)) != KOOP_OK ||
        (rc = koop_check_text(call, "decisions", q->decisions, 0, KOOP_MAX_TEXT)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 0, 1000)) != KOOP_OK ||
        (rc = s_check_participants(call, NULL, q->participants, q->n_participants)) != KOOP_OK)
        return rc;
    if (!q->date && !q->topic && !q->decisions && !q->n_participants)
        return koop_fail(call, UPDATE_EMPTY, NULL);
    if ((rc = cases_load(call, "meeting", &koop__cases__meeting__descriptor, "meeting", q->meeting,
                         (ProtobufCMessage **)&m)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", m->ipw, 1, &ipw)) != KOOP_OK ||
        (rc = cases_can_lead(call, &who, ipw, "meeting.update")) != KOOP_OK ||
        (rc = s_check_participants(call, ipw, q->participants, q->n_participants)) != KOOP_OK)
        goto done;
    if (q->date && *q->date && cases_date_before(q->date, ipw->opened)) {
        rc = koop_fail(call, DATE_ORDER, "date", q->date, "ipw_opened", ipw->opened);
        goto done;
    }
    if ((rc = cases_update_fields(call, &q->base, &m->base, skip, &changed, changes, sizeof changes)) != KOOP_OK)
        goto done;
    rc = cases_correction_done(call, "meeting", &m->base, changed, "spotkanie", changes, q->reason, s_meeting_updated,
                               ipw);
done:
    koop__cases__meeting__free_unpacked(m, NULL);
    if (ipw)
        koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* A note of anyone who reads the case (its ZZK and leads), in the timeline. */
int
cases_note_add(koop_call_t *call)
{
    const Koop__Cases__NoteAdd *q = (const Koop__Cases__NoteAdd *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Note n = KOOP__CASES__NOTE__INIT;
    cases_person_t who;
    char id[KOOP_ID_LEN], date[11], summary[200];
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_text(call, "text", q->text, 1, KOOP_MAX_TEXT)) != KOOP_OK ||
        (rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK ||
        (rc = cases_ipw_date(call, ipw, q->date, date)) != KOOP_OK || (rc = cases_new_id(call, id)) != KOOP_OK)
        goto done;
    n.id = id;
    n.ipw = ipw->id;
    n.date = date;
    n.text = q->text;
    n.author = who.id;
    snprintf(summary, sizeof summary, "notatka: %.150s%s", q->text, strlen(q->text) > 150 ? "…" : "");
    {
        cases_change_t ch = {"note.added", &n.base, NULL, ipw->id, date, id, summary, NULL};
        if ((rc = cases_record_change(call, &ch)) != KOOP_OK)
            goto done;
    }
    rc = koop_call_reply(call, &n.base);
done:
    if (ipw)
        koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* ---- referrals ---- */

void
cases_referral_facts(const Koop__Cases__Referral *r, const char *date, Koop__Cases__ReferralFacts *f)
{
    koop__cases__referral_facts__init(f);
    f->referral = r->id;
    f->ipw = r->ipw;
    f->service = r->service;
    f->provider = r->provider;
    f->has_provider_sector = r->has_provider_sector;
    f->provider_sector = r->provider_sector;
    f->has_status = 1;
    f->status = r->status;
    f->date = (char *)date;
    f->sent = r->sent;
    f->accepted = r->accepted;
    f->declined = r->declined;
    f->done = r->done;
}

static int
s_referral_change(koop_call_t *call, const Koop__Cases__Referral *r, const char *type, const char *date,
                  const char *summary)
{
    Koop__Cases__ReferralFacts f;
    cases_change_t ch = {type, &r->base, &f.base, r->ipw, date, r->id, summary, NULL};
    cases_referral_facts(r, date, &f);
    return cases_record_change(call, &ch);
}

/* Recipients named on a referral: people of its provider, none twice. */
static int
s_check_recipients(koop_call_t *call, const char *provider, char *const *p, size_t n)
{
    int rc;
    if (n > CASES_MAX_LIST)
        return koop_fail(call, LIST_TOO_LONG, "recipients", KOOP_NUM(CASES_MAX_LIST));
    for (size_t i = 0; i < n; i++) {
        cases_person_t who;
        if ((rc = cases_person(call, "recipients", p[i], &who)) != KOOP_OK)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(p[i], p[j]) == 0)
                return koop_fail(call, LIST_DUPLICATE, "recipients", p[i]);
        if (!provider || strcmp(who.institution, provider) != 0)
            return koop_fail(call, REFERRAL_RECIPIENT, "recipients", p[i]);
    }
    return KOOP_OK;
}

/* 1 when who handles referral r for its provider. */
static int
s_recipient(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Referral *r)
{
    for (size_t i = 0; i < r->n_recipients; i++)
        if (strcmp(r->recipients[i], who->id) == 0)
            return 1;
    return r->provider && strcmp(who->institution, r->provider) == 0 && cases_represents(call, who->id, r->provider);
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
    if ((rc = cases_can_lead(call, &who, ipw, "referral.send")) != KOOP_OK)
        goto done;
    if (q->goal && *q->goal) {
        rc = cases_load(call, "goal", &koop__cases__goal__descriptor, "goal", q->goal, (ProtobufCMessage **)&goal);
        if (rc != KOOP_OK)
            goto done;
        if (!goal->ipw || strcmp(goal->ipw, ipw->id) != 0) {
            rc = koop_fail(call, GOAL_OTHER_IPW, "goal", q->goal);
            goto done;
        }
    }
    if ((rc = cases_catalogue(call, "service", q->service, provider, &sector)) != KOOP_OK ||
        (rc = s_check_recipients(call, provider, q->recipients, q->n_recipients)) != KOOP_OK)
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
    r.n_recipients = q->n_recipients;
    r.recipients = q->recipients;
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

/* Loads a referral and its IPW (no access check: s_referral_access). */
static int
s_referral_load(koop_call_t *call, const char *id, int for_change, Koop__Cases__Referral **r, Koop__Cases__Ipw **ipw)
{
    int rc;
    *ipw = NULL;
    cases_audit_note(call, NULL, NULL, id);
    if ((rc = cases_load(call, "referral", &koop__cases__referral__descriptor, "referral", id,
                         (ProtobufCMessage **)r)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, NULL, "ipw", (*r)->ipw, for_change, ipw)) != KOOP_OK) {
        koop__cases__referral__free_unpacked(*r, NULL);
        *r = NULL;
    }
    return rc;
}

/* The recipients, and those who read the case, see the referral. */
static int
s_referral_readable(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Referral *r,
                    const Koop__Cases__Ipw *ipw)
{
    if (s_recipient(call, who, r))
        return KOOP_OK;
    return cases_can_ipw(call, who, ipw);
}

int
cases_referral_show(koop_call_t *call)
{
    const Koop__Cases__ReferralRef *q = (const Koop__Cases__ReferralRef *)call->req;
    Koop__Cases__Referral *r = NULL;
    Koop__Cases__Ipw *ipw = NULL;
    cases_person_t who;
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK ||
        (rc = s_referral_load(call, q->referral && *q->referral ? q->referral : q->id, 0, &r, &ipw)) != KOOP_OK)
        return rc;
    if ((rc = s_referral_readable(call, &who, r, ipw)) == KOOP_OK && (rc = cases_set(call, &r->ipw_number, ipw->number)) == KOOP_OK)
        rc = koop_call_reply(call, &r->base);
    koop__cases__referral__free_unpacked(r, NULL);
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

static int
s_referral_updated(koop_call_t *call, const ProtobufCMessage *rec, const void *ctx, const char *date,
                   const char *summary)
{
    (void)ctx;
    return s_referral_change(call, (const Koop__Cases__Referral *)rec, "referral.updated", date, summary);
}

/* The note: the leads; the recipients named: the leads and the provider's
 * representatives. */
int
cases_referral_update(koop_call_t *call)
{
    static const char *const skip[] = {"referral", "reason", NULL};
    const Koop__Cases__ReferralUpdate *q = (const Koop__Cases__ReferralUpdate *)call->req;
    Koop__Cases__Referral *r = NULL;
    Koop__Cases__Ipw *ipw = NULL;
    cases_person_t who;
    char changes[600];
    int rc, changed;

    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_text(call, "note", q->note, 0, KOOP_MAX_TEXT)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 0, 1000)) != KOOP_OK)
        return rc;
    if (!q->note && !q->n_recipients)
        return koop_fail(call, UPDATE_EMPTY, NULL);
    if ((rc = s_referral_load(call, q->referral, 1, &r, &ipw)) != KOOP_OK)
        return rc;
    if (q->note || !cases_represents(call, who.id, r->provider))
        rc = cases_can_lead(call, &who, ipw, "referral.update");
    if (rc != KOOP_OK || (rc = s_check_recipients(call, r->provider, q->recipients, q->n_recipients)) != KOOP_OK ||
        (rc = cases_update_fields(call, &q->base, &r->base, skip, &changed, changes, sizeof changes)) != KOOP_OK)
        goto done;
    rc = cases_correction_done(call, "referral", &r->base, changed, "skierowanie", changes, q->reason,
                               s_referral_updated, NULL);
done:
    koop__cases__referral__free_unpacked(r, NULL);
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* ---- referral steps (step.c runs them) ---- */

/* The state as a word of errors.def, for refusals. */
static const char *
s_referral_state_word(int st)
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
s_may_referral(koop_call_t *call, const cases_step_ctx_t *x)
{
    const Koop__Cases__Referral *r = (const Koop__Cases__Referral *)x->rec;
    if (s_recipient(call, x->who, r) || cases_is_lead(x->who, x->ipw))
        return KOOP_OK;
    return koop_fail(call, ACCESS_DENIED_REFERRAL, NULL, x->who->id, r->id);
}

static const char *
s_referral_floor(const cases_step_ctx_t *x, const char **word)
{
    const Koop__Cases__Referral *r = (const Koop__Cases__Referral *)x->rec;
    *word = "referral_last_step";
    return r->status == RS(ACCEPTED) && r->accepted ? r->accepted : r->sent;
}

static int
s_emit_referral(koop_call_t *call, cases_step_ctx_t *x)
{
    return s_referral_change(call, (const Koop__Cases__Referral *)x->rec, x->step->type, x->date, x->summary);
}

#define REFERRAL_STEP .table = "referral", .desc = &koop__cases__referral__descriptor, .may = s_may_referral, \
                      .floor = s_referral_floor, .state_word = s_referral_state_word, .emit = s_emit_referral, \
                      .reason_field = "reason", .own_access = 1

static const cases_step_t s_accept = {"referral.accept", REFERRAL_STEP, .from = 1u << RS(SENT),
                                      .needs = "referral_sent", .to = RS(ACCEPTED), .date_field = "accepted",
                                      .type = "referral.accepted", .summary = "skierowanie przyjęte"};
static const cases_step_t s_decline = {"referral.decline", REFERRAL_STEP, .from = 1u << RS(SENT),
                                       .needs = "referral_sent", .to = RS(DECLINED), .date_field = "declined",
                                       .type = "referral.declined", .summary = "skierowanie odrzucone"};
static const cases_step_t s_finish = {"referral.done", REFERRAL_STEP, .from = 1u << RS(ACCEPTED),
                                      .needs = "referral_accepted", .to = RS(DONE), .date_field = "done",
                                      .type = "referral.done", .summary = "usługa zrealizowana"};

CASES_STEP_METHOD(cases_referral_accept, s_accept, Koop__Cases__ReferralStep, referral)
CASES_STEP_METHOD(cases_referral_decline, s_decline, Koop__Cases__ReferralStep, referral)
CASES_STEP_METHOD(cases_referral_done, s_finish, Koop__Cases__ReferralStep, referral)
