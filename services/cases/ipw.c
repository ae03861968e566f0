/*
 * ipw.c - the IPW (Indywidualny Program Współpracy) and its ZZK.
 *
 * Lifecycle:
 *
 *            open(opened)
 *                 |
 *                 v        activate(date)          suspend(date)
 *              DRAFT ---------------------> ACTIVE ------------> SUSPENDED
 *                 |                          |  ^                  |
 *                 |                          |  +---- resume ------+
 *                 | close(discontinued)      | close(outcome)      | close(outcome)
 *                 +------------------------> CLOSED <--------------+
 *
 *   outcome: NONE until closed; then SUCCESS, NO_SUCCESS or DISCONTINUED
 *   (a DRAFT was never carried out, so it closes only as DISCONTINUED).
 *
 * Invariants:
 *   - CLOSED is final: no transition, and no change to the IPW or anything in
 *     it (goals, tasks, members, meetings, referrals) is accepted afterwards;
 *   - every step has the caller's date (history can be entered), and a
 *     step's date is never before the previous step's (history is in order);
 *     `signed` is the date of the first activation, `closed` of the close;
 *   - the coordinator is a ZZK member from the start and cannot be removed;
 *   - a household has at most one IPW that is not CLOSED;
 *   - numbers IPW/<year of opened>/<seq> are unique per gmina: the sequence
 *     is per year, assigned in the order IPWs are entered.
 * An illegal transition is refused with state.illegal_transition
 * (KOOP_CONFLICT): the programme, its state, the step asked for and the
 * states that step needs.
 */
#include "cases.h"
#include "clock.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST(x) KOOP__CASES__IPW_STATUS__IPW_##x
#define BIT(x) (1u << ST(x))

/* The state as a word of errors.def, for refusals. */
static const char *
s_state_word(Koop__Cases__IpwStatus st)
{
    switch (st) {
    case ST(DRAFT): return "ipw_draft";
    case ST(ACTIVE): return "ipw_active";
    case ST(SUSPENDED): return "ipw_suspended";
    case ST(CLOSED): return "ipw_closed";
    default: return "?";
    }
}

static const char *
s_last_date(const Koop__Cases__Ipw *ipw)
{
    return ipw->n_history ? ipw->history[ipw->n_history - 1]->date : ipw->opened;
}

static const char *
s_coordinator_institution(const Koop__Cases__Ipw *ipw, Koop__Reg__Sector *sector)
{
    for (size_t i = 0; i < ipw->n_members; i++)
        if (ipw->members[i]->coordinator) {
            *sector = ipw->members[i]->sector;
            return ipw->members[i]->institution;
        }
    *sector = KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    return NULL;
}

/* Records an IPW step: the IPW record (LOCAL) and its facts (SHARED). The
 * household's size and age bands go with ipw.opened (as of opened). */
static int
s_ipw_change(koop_call_t *call, const Koop__Cases__Ipw *ipw, const char *type, const char *date,
             Koop__Cases__IpwStatus previous, const Koop__Cases__Household *h, const char *summary)
{
    Koop__Cases__IpwFacts f = KOOP__CASES__IPW_FACTS__INIT;
    Koop__Cases__AgeBand bands[CASES_MAX_HOUSEHOLD_SIZE + 1];
    cases_change_t ch = {type, &ipw->base, &f.base, ipw->id, date, ipw->id, summary};
    Koop__Reg__Sector sector;

    f.ipw = ipw->id;
    f.household = ipw->household;
    f.has_status = 1;
    f.status = ipw->status;
    f.has_outcome = 1;
    f.outcome = ipw->outcome;
    f.date = (char *)date;
    f.opened = ipw->opened;
    f.coordinator_institution = (char *)s_coordinator_institution(ipw, &sector);
    f.has_coordinator_sector = sector != KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    f.coordinator_sector = sector;
    if (previous != ST(UNSPECIFIED)) {
        f.has_previous = 1;
        f.previous = previous;
    }
    if (h) {
        f.has_household_size = 1;
        f.household_size = h->size;
        f.n_age_bands = cases_household_bands(h, ipw->opened, bands);
        f.age_bands = bands;
    }
    return cases_record_change(call, &ch);
}

static int
s_member_change(koop_call_t *call, const Koop__Cases__Ipw *ipw, const Koop__Cases__ZzkMember *m, const char *type,
                const char *date, const char *summary)
{
    Koop__Cases__MemberFacts f = KOOP__CASES__MEMBER_FACTS__INIT;
    char line[400], name[256];
    cases_change_t ch = {type, &ipw->base, &f.base, ipw->id, date, m->person, summary};
    /* the timeline says who (a name of staff: LOCAL like the summary) */
    if (cases_copy_name(call, "person", m->person, name, sizeof name)) {
        snprintf(line, sizeof line, "%s: %s", summary, name);
        ch.summary = line;
    }
    f.ipw = ipw->id;
    f.member = m->id;
    f.institution = m->institution;
    f.has_sector = m->sector != KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    f.sector = m->sector;
    f.date = (char *)date;
    return cases_record_change(call, &ch);
}

static Koop__Cases__ZzkMember *
s_new_member(const char *id, const cases_person_t *p, const char *date, int coordinator)
{
    Koop__Cases__ZzkMember *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    koop__cases__zzk_member__init(m);
    m->id = strdup(id);
    m->person = strdup(p->id);
    m->institution = strdup(p->institution);
    m->added = strdup(date);
    m->has_sector = 1;
    m->sector = p->sector;
    m->has_coordinator = 1;
    m->coordinator = coordinator ? 1 : 0;
    if (!m->id || !m->person || !m->institution || !m->added) {
        koop__cases__zzk_member__free_unpacked(m, NULL);
        return NULL;
    }
    return m;
}

static int
s_push_transition(koop_call_t *call, Koop__Cases__Ipw *ipw, Koop__Cases__IpwStatus st, const char *date)
{
    Koop__Cases__Transition *t = calloc(1, sizeof *t);
    int rc;
    if (!t)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    koop__cases__transition__init(t);
    t->has_status = 1;
    t->status = st;
    if ((rc = cases_set(call, &t->date, date)) != KOOP_OK ||
        (rc = cases_append(call, &ipw->history, &ipw->n_history, t)) != KOOP_OK) {
        koop__cases__transition__free_unpacked(t, NULL);
        return rc;
    }
    return KOOP_OK;
}

/* The next number of the year: meta key "ipw_seq/YYYY" = be32. */
static int
s_next_number(koop_call_t *call, const char *opened, char *out, size_t outlen)
{
    char key[16];
    unsigned char val[4];
    MDB_val k, v;
    uint32_t seq = 0;
    int rc;

    snprintf(key, sizeof key, "ipw_seq/%.4s", opened);
    rc = koop_store_get_str(call->txn, cases_dbi(call, "meta"), key, &v);
    if (rc == 0 && v.mv_size == 4) {
        const unsigned char *p = v.mv_data;
        seq = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    } else if (rc != MDB_NOTFOUND) {
        return koop_call_store_error(call, rc ? rc : MDB_CORRUPTED);
    }
    seq++;
    val[0] = (unsigned char)(seq >> 24);
    val[1] = (unsigned char)(seq >> 16);
    val[2] = (unsigned char)(seq >> 8);
    val[3] = (unsigned char)seq;
    k.mv_size = strlen(key);
    k.mv_data = key;
    v.mv_size = 4;
    v.mv_data = val;
    if ((rc = mdb_put(call->txn, cases_dbi(call, "meta"), &k, &v, 0)) != 0)
        return koop_call_store_error(call, rc);
    snprintf(out, outlen, "IPW/%.4s/%04u", opened, seq);
    return KOOP_OK;
}

int
cases_ipw_open(koop_call_t *call)
{
    const Koop__Cases__IpwOpen *q = (const Koop__Cases__IpwOpen *)call->req;
    Koop__Cases__Household *h = NULL;
    Koop__Cases__Ipw ipw = KOOP__CASES__IPW__INIT;
    Koop__Cases__ZzkMember *coord = NULL;
    Koop__Cases__Transition draft = KOOP__CASES__TRANSITION__INIT, *history[1] = {&draft};
    cases_person_t who, cp;
    char id[KOOP_ID_LEN], mid[KOOP_ID_LEN], number[32], summary[160];
    int rc;

    cases_audit_note(call, q->household, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_date(call, "opened", q->opened, 1)) != KOOP_OK ||
        (rc = cases_check_id(call, "coordinator", q->coordinator, 1)) != KOOP_OK)
        return rc;
    rc = cases_load(call, "household", &koop__cases__household__descriptor, "household", q->household,
                    (ProtobufCMessage **)&h);
    if (rc != KOOP_OK)
        return rc;
    if ((rc = cases_can_household(call, &who, h)) != KOOP_OK)
        goto done;
    if ((rc = cases_person(call, "coordinator", q->coordinator, &cp)) != KOOP_OK)
        goto done;
    if (!cp.active) {
        rc = koop_fail(call, PERSON_INACTIVE, "coordinator", cp.id);
        goto done;
    }
    for (size_t i = 0; i < h->n_ipws; i++) {
        Koop__Cases__Ipw *other = NULL;
        int st = koop_record_get(call->txn, cases_dbi(call, "ipw"), h->ipws[i], &koop__cases__ipw__descriptor,
                                 (ProtobufCMessage **)&other);
        if (st == MDB_NOTFOUND)
            continue;
        if (st != 0) {
            rc = koop_call_store_error(call, st);
            goto done;
        }
        if (other->status != ST(CLOSED)) {
            rc = koop_fail(call, IPW_ALREADY_OPEN, "household", other->number, s_state_word(other->status));
            koop__cases__ipw__free_unpacked(other, NULL);
            goto done;
        }
        koop__cases__ipw__free_unpacked(other, NULL);
    }
    if (h->n_ipws >= 100) {
        rc = koop_fail(call, RECORD_LIMIT, "household", "household", "100", "ipws");
        goto done;
    }
    if ((rc = cases_new_id(call, id)) != KOOP_OK || (rc = cases_new_id(call, mid)) != KOOP_OK ||
        (rc = s_next_number(call, q->opened, number, sizeof number)) != KOOP_OK)
        goto done;
    cases_audit_note(call, NULL, id, NULL);
    if (!(coord = s_new_member(mid, &cp, q->opened, 1))) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    draft.has_status = 1;
    draft.status = ST(DRAFT);
    draft.date = q->opened;
    ipw.id = id;
    ipw.number = number;
    ipw.household = h->id;
    ipw.coordinator = cp.id;
    ipw.has_status = 1;
    ipw.status = ST(DRAFT);
    ipw.has_outcome = 1;
    ipw.outcome = KOOP__CASES__OUTCOME__OUTCOME_NONE;
    ipw.opened = q->opened;
    ipw.n_members = 1;
    ipw.members = &coord;
    ipw.n_history = 1;
    ipw.history = history;
    ipw.created_by = who.id;
    ipw.owner = (char *)koop_service_node(call->svc);
    ipw.has_updated_ms = 1;
    ipw.updated_ms = koop_clock_real_ms();
    if ((rc = cases_save(call, "ipw", id, &ipw.base)) != KOOP_OK)
        goto done;
    if ((rc = cases_append_str(call, &h->ipws, &h->n_ipws, id)) != KOOP_OK)
        goto done;
    h->updated_ms = koop_clock_real_ms();
    if ((rc = cases_save(call, "household", h->id, &h->base)) != KOOP_OK)
        goto done;
    snprintf(summary, sizeof summary, "otwarto program %s", number);
    if ((rc = s_ipw_change(call, &ipw, "ipw.opened", q->opened, ST(UNSPECIFIED), h, summary)) != KOOP_OK)
        goto done;
    if ((rc = s_member_change(call, &ipw, coord, "ipw.member_added", q->opened,
                              "koordynator programu w ZZK")) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &ipw.base);
done:
    if (coord)
        koop__cases__zzk_member__free_unpacked(coord, NULL);
    if (h)
        koop__cases__household__free_unpacked(h, NULL);
    return rc;
}

/* ---- transitions ---- */

typedef struct {
    const char *method;    /* the step asked for, a word of errors.def */
    unsigned from;         /* allowed current states */
    Koop__Cases__IpwStatus to;
    const char *type;
    const char *summary;
    const char *needs;     /* the states the step needs (a word), for the refusal */
} s_transition_t;

static const s_transition_t s_activate = {"ipw.activate", BIT(DRAFT), ST(ACTIVE), "ipw.activated",
                                          "program podpisany i realizowany", "ipw_draft"};
static const s_transition_t s_suspend = {"ipw.suspend", BIT(ACTIVE), ST(SUSPENDED), "ipw.suspended",
                                         "program zawieszony", "ipw_active"};
static const s_transition_t s_resume = {"ipw.resume", BIT(SUSPENDED), ST(ACTIVE), "ipw.resumed",
                                        "program wznowiony", "ipw_suspended"};
static const s_transition_t s_close = {"ipw.close", BIT(DRAFT) | BIT(ACTIVE) | BIT(SUSPENDED), ST(CLOSED),
                                       "ipw.closed", "program zamknięty", "ipw_open"};

static const char *
s_outcome_name(Koop__Cases__Outcome o)
{
    switch (o) {
    case KOOP__CASES__OUTCOME__OUTCOME_SUCCESS: return "sukces";
    case KOOP__CASES__OUTCOME__OUTCOME_NO_SUCCESS: return "bez sukcesu";
    case KOOP__CASES__OUTCOME__OUTCOME_DISCONTINUED: return "przerwany";
    default: return "brak";
    }
}

/* Runs transition t on the IPW `id` with `date`; for close, with outcome. */
static int
s_step(koop_call_t *call, const s_transition_t *t, const char *id, const char *date, const char *reason,
       int has_outcome, Koop__Cases__Outcome outcome)
{
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__IpwStatus previous;
    cases_person_t who;
    char summary[200];
    int rc;

    cases_audit_note(call, NULL, id, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_date(call, "date", date, 1)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", reason, 0, 1000)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", id, 0, &ipw)) != KOOP_OK)
        return rc;
    if (!(t->from & (1u << ipw->status))) {
        rc = koop_fail(call, STATE_ILLEGAL_TRANSITION, NULL, ipw->number, s_state_word(ipw->status), t->method,
                       t->needs);
        goto done;
    }
    if (t == &s_close) {
        /* none is the outcome of a programme not closed yet */
        if ((rc = koop_check_enum(call, "outcome", has_outcome, outcome, &koop__cases__outcome__descriptor,
                                  KOOP__CASES__OUTCOME__OUTCOME_SUCCESS, 0, 1)) != KOOP_OK)
            goto done;
        if (ipw->status == ST(DRAFT) && outcome != KOOP__CASES__OUTCOME__OUTCOME_DISCONTINUED) {
            rc = koop_fail(call, IPW_CLOSE_DRAFT, "outcome", ipw->number, "discontinued");
            goto done;
        }
    }
    if (cases_date_before(date, s_last_date(ipw))) {
        rc = koop_fail(call, DATE_ORDER, "date", date, "ipw_last_step", s_last_date(ipw));
        goto done;
    }
    if (ipw->n_history >= CASES_MAX_HISTORY) {
        rc = koop_fail(call, RECORD_LIMIT, "ipw", "ipw", KOOP_NUM(CASES_MAX_HISTORY), "status_changes");
        goto done;
    }
    previous = ipw->status;
    ipw->status = t->to;
    if ((rc = s_push_transition(call, ipw, t->to, date)) != KOOP_OK)
        goto done;
    if (t == &s_activate && (!ipw->signed_ || !*ipw->signed_) && (rc = cases_set(call, &ipw->signed_, date)) != KOOP_OK)
        goto done;
    if (t == &s_close) {
        ipw->outcome = outcome;
        if ((rc = cases_set(call, &ipw->closed, date)) != KOOP_OK)
            goto done;
    }
    if (reason && *reason && (rc = cases_set(call, &ipw->reason, reason)) != KOOP_OK)
        goto done;
    ipw->updated_ms = koop_clock_real_ms();
    if (t == &s_close)
        snprintf(summary, sizeof summary, "%s: %s%s%.120s", t->summary, s_outcome_name(outcome),
                 reason && *reason ? " – " : "", reason ? reason : "");
    else
        snprintf(summary, sizeof summary, "%s%s%.120s", t->summary, reason && *reason ? " – " : "",
                 reason ? reason : "");
    if ((rc = cases_save(call, "ipw", ipw->id, &ipw->base)) != KOOP_OK ||
        (rc = s_ipw_change(call, ipw, t->type, date, previous, NULL, summary)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &ipw->base);
done:
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

int
cases_ipw_activate(koop_call_t *call)
{
    const Koop__Cases__IpwStep *q = (const Koop__Cases__IpwStep *)call->req;
    return s_step(call, &s_activate, q->ipw, q->date, q->reason, 0, 0);
}

int
cases_ipw_suspend(koop_call_t *call)
{
    const Koop__Cases__IpwStep *q = (const Koop__Cases__IpwStep *)call->req;
    return s_step(call, &s_suspend, q->ipw, q->date, q->reason, 0, 0);
}

int
cases_ipw_resume(koop_call_t *call)
{
    const Koop__Cases__IpwStep *q = (const Koop__Cases__IpwStep *)call->req;
    return s_step(call, &s_resume, q->ipw, q->date, q->reason, 0, 0);
}

int
cases_ipw_close(koop_call_t *call)
{
    const Koop__Cases__IpwClose *q = (const Koop__Cases__IpwClose *)call->req;
    return s_step(call, &s_close, q->ipw, q->date, q->reason, q->has_outcome, q->outcome);
}

/* A review (przegląd) of a running programme: a date in `reviews`, no
 * change of state. */
int
cases_ipw_review(koop_call_t *call)
{
    const Koop__Cases__IpwStep *q = (const Koop__Cases__IpwStep *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    cases_person_t who;
    char summary[160];
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_date(call, "date", q->date, 1)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 0, 1000)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK)
        return rc;
    if (ipw->status != ST(ACTIVE) && ipw->status != ST(SUSPENDED)) {
        rc = koop_fail(call, STATE_ILLEGAL_TRANSITION, NULL, ipw->number, s_state_word(ipw->status), "ipw.review",
                       "ipw_running");
        goto done;
    }
    if (ipw->signed_ && cases_date_before(q->date, ipw->signed_)) {
        rc = koop_fail(call, DATE_ORDER, "date", q->date, "ipw_signed", ipw->signed_);
        goto done;
    }
    if (ipw->n_reviews >= CASES_MAX_REVIEWS) {
        rc = koop_fail(call, RECORD_LIMIT, "ipw", "ipw", KOOP_NUM(CASES_MAX_REVIEWS), "reviews");
        goto done;
    }
    if ((rc = cases_append_str(call, &ipw->reviews, &ipw->n_reviews, q->date)) != KOOP_OK)
        goto done;
    ipw->updated_ms = koop_clock_real_ms();
    snprintf(summary, sizeof summary, "przegląd programu%s%.120s", q->reason && *q->reason ? " – " : "",
             q->reason ? q->reason : "");
    if ((rc = cases_save(call, "ipw", ipw->id, &ipw->base)) != KOOP_OK ||
        (rc = s_ipw_change(call, ipw, "ipw.reviewed", q->date, ST(UNSPECIFIED), NULL, summary)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &ipw->base);
done:
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* ---- the ZZK ---- */

int
cases_member_add(koop_call_t *call)
{
    const Koop__Cases__MemberChange *q = (const Koop__Cases__MemberChange *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__ZzkMember *m = NULL;
    cases_person_t who, p;
    char mid[KOOP_ID_LEN], date[11];
    size_t active = 0;
    int rc;

    cases_audit_note(call, NULL, q->ipw, q->person);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_check_id(call, "person", q->person, 1)) != KOOP_OK ||
        (rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK)
        return rc;
    if ((rc = cases_person(call, "person", q->person, &p)) != KOOP_OK)
        goto done;
    if (!p.active) {
        rc = koop_fail(call, PERSON_INACTIVE, "person", p.id);
        goto done;
    }
    if (cases_member(ipw, p.id)) {
        rc = koop_fail(call, ZZK_ALREADY_MEMBER, "person", p.id, ipw->number);
        goto done;
    }
    for (size_t i = 0; i < ipw->n_members; i++)
        active += !ipw->members[i]->removed || !*ipw->members[i]->removed;
    if (active >= CASES_MAX_MEMBERS || ipw->n_members >= 4 * CASES_MAX_MEMBERS) {
        rc = koop_fail(call, RECORD_LIMIT, "ipw", "zzk", KOOP_NUM(CASES_MAX_MEMBERS), "members");
        goto done;
    }
    if ((rc = cases_ipw_date(call, ipw, q->date, date)) != KOOP_OK)
        goto done;
    if ((rc = cases_new_id(call, mid)) != KOOP_OK)
        goto done;
    if (!(m = s_new_member(mid, &p, date, 0))) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    if ((rc = cases_append(call, &ipw->members, &ipw->n_members, m)) != KOOP_OK) {
        koop__cases__zzk_member__free_unpacked(m, NULL);
        goto done;
    }
    ipw->updated_ms = koop_clock_real_ms();
    if ((rc = cases_save(call, "ipw", ipw->id, &ipw->base)) != KOOP_OK ||
        (rc = s_member_change(call, ipw, m, "ipw.member_added", date, "nowy członek ZZK")) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &ipw->base);
done:
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

typedef struct {
    const char *person;
    int open_tasks;
} s_open_tasks_ctx;

static int
s_count_open_tasks(koop_call_t *call, char kind, const char *id, void *ctx)
{
    s_open_tasks_ctx *o = ctx;
    Koop__Cases__Task *t;
    int rc;
    if (kind != 't')
        return KOOP_OK;
    rc = koop_record_get(call->txn, cases_dbi(call, "task"), id, &koop__cases__task__descriptor,
                         (ProtobufCMessage **)&t);
    if (rc == MDB_NOTFOUND)
        return KOOP_OK;
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if (t->owner && strcmp(t->owner, o->person) == 0 &&
        (t->status == KOOP__CASES__TASK_STATUS__TASK_PLANNED || t->status == KOOP__CASES__TASK_STATUS__TASK_IN_PROGRESS))
        o->open_tasks++;
    koop__cases__task__free_unpacked(t, NULL);
    return KOOP_OK;
}

int
cases_member_remove(koop_call_t *call)
{
    const Koop__Cases__MemberChange *q = (const Koop__Cases__MemberChange *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__ZzkMember *m;
    s_open_tasks_ctx open = {q->person, 0};
    cases_person_t who;
    char date[11];
    int rc;

    cases_audit_note(call, NULL, q->ipw, q->person);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_check_id(call, "person", q->person, 1)) != KOOP_OK ||
        (rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK)
        return rc;
    if (!(m = cases_member(ipw, q->person))) {
        rc = koop_fail(call, ZZK_NOT_MEMBER, "person", q->person, ipw->number);
        goto done;
    }
    if (m->coordinator) {
        rc = koop_fail(call, ZZK_COORDINATOR, "person", ipw->number);
        goto done;
    }
    if ((rc = cases_child_scan(call, ipw->id, s_count_open_tasks, &open)) != KOOP_OK)
        goto done;
    if (open.open_tasks) {
        rc = koop_fail(call, ZZK_OPEN_TASKS, "person", q->person, ipw->number, KOOP_NUM(open.open_tasks));
        goto done;
    }
    if ((rc = cases_step_date(call, "date", q->date, m->added, date)) != KOOP_OK)
        goto done;
    if (cases_date_before(date, m->added)) {
        rc = koop_fail(call, DATE_ORDER, "date", date, "zzk_added", m->added);
        goto done;
    }
    if ((rc = cases_set(call, &m->removed, date)) != KOOP_OK)
        goto done;
    ipw->updated_ms = koop_clock_real_ms();
    if ((rc = cases_save(call, "ipw", ipw->id, &ipw->base)) != KOOP_OK ||
        (rc = s_member_change(call, ipw, m, "ipw.member_removed", date, "członek odszedł z ZZK")) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &ipw->base);
done:
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* ---- reading ---- */

typedef struct {
    Koop__Cases__Ipw *ipw;
} s_show_ctx;

static int
s_attach_child(koop_call_t *call, char kind, const char *id, void *ctx)
{
    Koop__Cases__Ipw *ipw = ((s_show_ctx *)ctx)->ipw;
    const char *table;
    const ProtobufCMessageDescriptor *desc;
    void *arr;
    size_t *n;
    ProtobufCMessage *m;
    int rc;

    switch (kind) {
    case 'g': table = "goal"; desc = &koop__cases__goal__descriptor; arr = &ipw->goals; n = &ipw->n_goals; break;
    case 't': table = "task"; desc = &koop__cases__task__descriptor; arr = &ipw->tasks; n = &ipw->n_tasks; break;
    case 'm': table = "meeting"; desc = &koop__cases__meeting__descriptor; arr = &ipw->meetings; n = &ipw->n_meetings; break;
    case 'r': table = "referral"; desc = &koop__cases__referral__descriptor; arr = &ipw->referrals; n = &ipw->n_referrals; break;
    default: return KOOP_OK;
    }
    rc = koop_record_get(call->txn, cases_dbi(call, table), id, desc, &m);
    if (rc == MDB_NOTFOUND)
        return KOOP_OK;
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if ((rc = cases_append(call, arr, n, m)) != KOOP_OK)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int
cases_ipw_show(koop_call_t *call)
{
    const Koop__Cases__IpwRef *q = (const Koop__Cases__IpwRef *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    s_show_ctx ctx;
    cases_person_t who;
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK || (rc = cases_ipw_load(call, &who, "ipw", q->ipw, 0, &ipw)) != KOOP_OK)
        return rc;
    ctx.ipw = ipw;
    if ((rc = cases_child_scan(call, ipw->id, s_attach_child, &ctx)) == KOOP_OK)
        rc = koop_call_reply(call, &ipw->base);
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

int
cases_ipw_list(koop_call_t *call)
{
    const Koop__Cases__IpwQuery *q = (const Koop__Cases__IpwQuery *)call->req;
    ProtobufCMessage **items = NULL;
    size_t n = 0;
    cases_person_t who;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK || (rc = cases_check_id(call, "household", q->household, 0)) != KOOP_OK)
        return rc;
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "ipw"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Koop__Cases__Ipw *ipw = koop__cases__ipw__unpack(NULL, v.mv_size, v.mv_data);
        if (!ipw) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (!cases_ipw_visible(&who, ipw) || (q->has_status && q->status && ipw->status != q->status) ||
            (q->household && *q->household && strcmp(ipw->household, q->household) != 0)) {
            koop__cases__ipw__free_unpacked(ipw, NULL);
            continue;
        }
        if ((rc = cases_append(call, &items, &n, ipw)) != KOOP_OK) {
            koop__cases__ipw__free_unpacked(ipw, NULL);
            break;
        }
    }
    mdb_cursor_close(cur);
    return cases_list_done(call, rc, &koop__cases__ipw_list__descriptor, items, n);
}

static int
s_cmp_entries(const void *a, const void *b)
{
    const Koop__Cases__TimelineEntry *x = *(Koop__Cases__TimelineEntry *const *)a;
    const Koop__Cases__TimelineEntry *y = *(Koop__Cases__TimelineEntry *const *)b;
    int c = strcmp(x->date ? x->date : "", y->date ? y->date : "");
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Everything that happened in the programme, by the date of each step (and
 * in the order entered within a day). */
int
cases_ipw_timeline(koop_call_t *call)
{
    const Koop__Cases__IpwRef *q = (const Koop__Cases__IpwRef *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    ProtobufCMessage **items = NULL;
    size_t n = 0;
    cases_person_t who;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK || (rc = cases_ipw_load(call, &who, "ipw", q->ipw, 0, &ipw)) != KOOP_OK)
        return rc;
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "timeline"), &cur)) != 0) {
        koop__cases__ipw__free_unpacked(ipw, NULL);
        return koop_call_store_error(call, rc);
    }
    k.mv_size = KOOP_ID_LEN - 1;
    k.mv_data = ipw->id;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size > KOOP_ID_LEN - 1 && memcmp(k.mv_data, ipw->id, KOOP_ID_LEN - 1) == 0) {
        Koop__Cases__TimelineEntry *e = koop__cases__timeline_entry__unpack(NULL, v.mv_size, v.mv_data);
        if (!e) {
            rc = MDB_CORRUPTED;
            break;
        }
        if ((rc = cases_append(call, &items, &n, e)) != KOOP_OK) {
            koop__cases__timeline_entry__free_unpacked(e, NULL);
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    koop__cases__ipw__free_unpacked(ipw, NULL);
    if (n > 1)
        qsort(items, n, sizeof *items, s_cmp_entries);
    return cases_list_done(call, rc, &koop__cases__timeline_list__descriptor, items, n);
}
