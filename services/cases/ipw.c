/*
 * ipw.c - the IPW (Indywidualny Program Współpracy) and its ZZK.
 *
 * Lifecycle:
 *
 *            open(opened)
 *                 |
 *                 v        activate(date)          suspend(date, reason)
 *              DRAFT ---------------------> ACTIVE ------------> SUSPENDED
 *                 |                          |  ^                  |
 *                 |                          |  +---- resume ------+
 *                 | close(discontinued)      | close(outcome)      | close(outcome)
 *                 +------------------------> CLOSED <--------------+
 *                                              |
 *                 reopen(reason): back to the state it was closed from
 *
 *   outcome: NONE until closed; then SUCCESS, NO_SUCCESS or DISCONTINUED
 *   (a DRAFT was never carried out, so it closes only as DISCONTINUED).
 *
 * Invariants:
 *   - nothing in a CLOSED IPW (goals, tasks, members, meetings, referrals)
 *     changes; only its leads may reopen it (with a reason), and then only
 *     when its household has no other open IPW;
 *   - it closes only when no task is open and no meeting lies after the
 *     closing day, or with cancel_open, which cancels them with the
 *     closing reason (ipw.open_items lists them otherwise);
 *   - every step has the caller's date (history can be entered), never in
 *     the future (CASES_FUTURE_DAYS), never before the previous step's;
 *     `signed` is the date of the first activation, `closed` of the close;
 *     the last step's date can be corrected (ipw.correct, with a reason:
 *     the transition keeps the first date in corrected_from);
 *   - the reason of a suspension ends with the resume (it stays in the
 *     history);
 *   - the coordinator is a ZZK member from the start and cannot be removed;
 *   - it opens only with a consent (or other recorded legal basis) in force
 *     for its household; a person whose institution that consent does not
 *     name cannot join the ZZK;
 *   - a household has at most one IPW that is not CLOSED;
 *   - numbers IPW/<year of opened>/<seq> are unique per gmina: the sequence
 *     is per year, assigned in the order IPWs are entered; the number finds
 *     the IPW wherever its id does (table ipw_number).
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
s_state_word(int st)
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
        if (ipw->members[i]->coordinator && (!ipw->members[i]->removed || !*ipw->members[i]->removed)) {
            *sector = ipw->members[i]->sector;
            return ipw->members[i]->institution;
        }
    *sector = KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    return NULL;
}

void
cases_ipw_facts(const Koop__Cases__Ipw *ipw, const char *date, Koop__Cases__IpwFacts *f)
{
    Koop__Reg__Sector sector;
    koop__cases__ipw_facts__init(f);
    f->ipw = ipw->id;
    f->household = ipw->household;
    f->has_status = 1;
    f->status = ipw->status;
    f->has_outcome = 1;
    f->outcome = ipw->outcome;
    f->date = (char *)date;
    f->opened = ipw->opened;
    f->signed_ = ipw->signed_;
    f->closed = ipw->status == ST(CLOSED) ? ipw->closed : NULL;
    f->coordinator_institution = (char *)s_coordinator_institution(ipw, &sector);
    f->has_coordinator_sector = sector != KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    f->coordinator_sector = sector;
}

/* Records an IPW step: the IPW record (LOCAL) and its facts (SHARED). The
 * household's size and age bands go with ipw.opened (as of opened). */
static int
s_ipw_change(koop_call_t *call, const Koop__Cases__Ipw *ipw, const char *type, const char *date,
             Koop__Cases__IpwStatus previous, const Koop__Cases__Household *h, const char *summary)
{
    Koop__Cases__IpwFacts f;
    Koop__Cases__AgeBand bands[CASES_MAX_HOUSEHOLD_SIZE + 1];
    cases_change_t ch = {type, &ipw->base, &f.base, ipw->id, date, ipw->id, summary, NULL};

    cases_ipw_facts(ipw, date, &f);
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

static void
s_member_fact(const Koop__Cases__Ipw *ipw, const Koop__Cases__ZzkMember *m, const char *date,
              Koop__Cases__MemberFacts *f)
{
    koop__cases__member_facts__init(f);
    f->ipw = ipw->id;
    f->member = m->id;
    f->institution = m->institution;
    f->has_sector = m->sector != KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    f->sector = m->sector;
    f->date = (char *)date;
}

int
cases_member_facts(koop_call_t *call, const Koop__Cases__Ipw *ipw, Koop__Cases__MemberFacts **out, size_t *n)
{
    *n = 0;
    *out = calloc(ipw->n_members ? ipw->n_members : 1, sizeof **out);
    if (!*out)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    for (size_t i = 0; i < ipw->n_members; i++)
        s_member_fact(ipw, ipw->members[i], ipw->members[i]->added, &(*out)[(*n)++]);
    return KOOP_OK;
}

static int
s_member_change(koop_call_t *call, const Koop__Cases__Ipw *ipw, const Koop__Cases__ZzkMember *m, const char *type,
                const char *date, const char *summary)
{
    Koop__Cases__MemberFacts f;
    char line[400], name[256];
    cases_change_t ch = {type, &ipw->base, &f.base, ipw->id, date, m->person, summary, NULL};
    /* the timeline says who (a name of staff: LOCAL like the summary) */
    if (cases_copy_name(call, "person", m->person, name, sizeof name)) {
        snprintf(line, sizeof line, "%s: %s", summary, name);
        ch.summary = line;
    }
    s_member_fact(ipw, m, date, &f);
    return cases_record_change(call, &ch);
}

Koop__Cases__ZzkMember *
cases_zzk_member_new(const char *id, const cases_person_t *p, const char *date, int coordinator)
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
s_push_transition(koop_call_t *call, Koop__Cases__Ipw *ipw, Koop__Cases__IpwStatus st, const char *date,
                  const char *reason)
{
    Koop__Cases__Transition *t = calloc(1, sizeof *t);
    int rc;
    if (!t)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    koop__cases__transition__init(t);
    t->has_status = 1;
    t->status = st;
    if (ipw->n_history >= CASES_MAX_HISTORY) {
        koop__cases__transition__free_unpacked(t, NULL);
        return koop_fail(call, RECORD_LIMIT, "ipw", "ipw", KOOP_NUM(CASES_MAX_HISTORY), "status_changes");
    }
    if ((rc = cases_set(call, &t->date, date)) != KOOP_OK || (rc = cases_set(call, &t->reason, reason)) != KOOP_OK ||
        (rc = cases_append(call, &ipw->history, &ipw->n_history, t)) != KOOP_OK) {
        koop__cases__transition__free_unpacked(t, NULL);
        return rc;
    }
    return KOOP_OK;
}

/* The next number of the year: meta key "ipw_seq/YYYY" = be32. */
int
cases_ipw_next_number(koop_call_t *call, const char *opened, char *out, size_t outlen)
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

/* Refuses when the household has an IPW other than `self` that is open. */
static int
s_no_other_open(koop_call_t *call, const Koop__Cases__Household *h, const char *self)
{
    for (size_t i = 0; i < h->n_ipws; i++) {
        Koop__Cases__Ipw *other = NULL;
        int st, rc = KOOP_OK;
        if (self && strcmp(h->ipws[i], self) == 0)
            continue;
        st = koop_record_get(call->txn, cases_dbi(call, "ipw"), h->ipws[i], &koop__cases__ipw__descriptor,
                             (ProtobufCMessage **)&other);
        if (st == MDB_NOTFOUND)
            continue;
        if (st != 0)
            return koop_call_store_error(call, st);
        if (other->status != ST(CLOSED) && !cases_removed(&other->base) && !(other->transferred_to && *other->transferred_to))
            rc = koop_fail(call, IPW_ALREADY_OPEN, "household", other->number, s_state_word(other->status));
        koop__cases__ipw__free_unpacked(other, NULL);
        if (rc != KOOP_OK)
            return rc;
    }
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
    int rc, any;

    cases_audit_note(call, q->household, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_date(call, "opened", q->opened, 1)) != KOOP_OK ||
        (rc = cases_check_past(call, "opened", q->opened)) != KOOP_OK ||
        (rc = cases_check_id(call, "coordinator", q->coordinator, 1)) != KOOP_OK)
        return rc;
    rc = cases_load(call, "household", &koop__cases__household__descriptor, "household", q->household,
                    (ProtobufCMessage **)&h);
    if (rc != KOOP_OK)
        return rc;
    if ((rc = cases_can_household(call, &who, h)) != KOOP_OK ||
        (rc = cases_check_owned(call, "household", h->id, h->transfer, h->transferred_to, h->transferred)) != KOOP_OK)
        goto done;
    /* the coordinator named opens it, or a coordinator of the gmina for them */
    if (strcmp(q->coordinator, who.id) != 0 && !cases_is_coordinator(&who)) {
        rc = koop_fail(call, ACCESS_DENIED_CASE_LEAD, NULL, who.id, h->id, "ipw.open");
        goto done;
    }
    cases_consent_covers(h, NULL, &any);
    if (!any) {
        rc = koop_fail(call, IPW_NO_CONSENT, "household", h->id);
        goto done;
    }
    if ((rc = cases_person(call, "coordinator", q->coordinator, &cp)) != KOOP_OK)
        goto done;
    if (!cp.active) {
        rc = koop_fail(call, PERSON_INACTIVE, "coordinator", cp.id);
        goto done;
    }
    if ((rc = s_no_other_open(call, h, NULL)) != KOOP_OK)
        goto done;
    if (h->n_ipws >= 100) {
        rc = koop_fail(call, RECORD_LIMIT, "household", "household", "100", "ipws");
        goto done;
    }
    if ((rc = cases_new_id(call, id)) != KOOP_OK || (rc = cases_new_id(call, mid)) != KOOP_OK ||
        (rc = cases_ipw_next_number(call, q->opened, number, sizeof number)) != KOOP_OK)
        goto done;
    cases_audit_note(call, NULL, id, NULL);
    if (!(coord = cases_zzk_member_new(mid, &cp, q->opened, 1))) {
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
    if ((rc = cases_save(call, "ipw", id, &ipw.base)) != KOOP_OK || (rc = cases_ipw_number_put(call, number, id)) != KOOP_OK)
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

/* ---- steps (step.c runs them) ---- */

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

static int
s_may_lead(koop_call_t *call, const cases_step_ctx_t *x)
{
    return cases_can_lead(call, x->who, x->ipw, x->step->method);
}

static const char *
s_floor_last(const cases_step_ctx_t *x, const char **word)
{
    *word = "ipw_last_step";
    return s_last_date(x->ipw);
}

static const char *
s_floor_signed(const cases_step_ctx_t *x, const char **word)
{
    *word = "ipw_signed";
    return x->ipw->signed_;
}

static const char *
s_floor_closed(const cases_step_ctx_t *x, const char **word)
{
    *word = "ipw_closed_on";
    return x->ipw->closed;
}

static int
s_emit_ipw(koop_call_t *call, cases_step_ctx_t *x)
{
    return s_ipw_change(call, x->ipw, x->step->type, x->date, (Koop__Cases__IpwStatus)x->previous, NULL, x->summary);
}

/* Every state change: the transition in the history, the stamp. */
static int
s_transition(koop_call_t *call, cases_step_ctx_t *x)
{
    x->ipw->updated_ms = koop_clock_real_ms();
    return s_push_transition(call, x->ipw, x->ipw->status, x->date, x->reason);
}

static int
s_apply_activate(koop_call_t *call, cases_step_ctx_t *x)
{
    int rc = s_transition(call, x);
    if (rc == KOOP_OK && (!x->ipw->signed_ || !*x->ipw->signed_))
        rc = cases_set(call, &x->ipw->signed_, x->date);
    return rc;
}

/* The reason of a suspension ends with the resume (the history keeps it). */
static int
s_apply_resume(koop_call_t *call, cases_step_ctx_t *x)
{
    int rc = s_transition(call, x);
    if (rc == KOOP_OK)
        rc = cases_set(call, &x->ipw->reason, x->reason);
    return rc;
}

static int
s_apply_close(koop_call_t *call, cases_step_ctx_t *x)
{
    const Koop__Cases__IpwClose *q = (const Koop__Cases__IpwClose *)x->req;
    Koop__Cases__Ipw *ipw = x->ipw;
    int rc;
    /* none is the outcome of a programme not closed yet */
    if ((rc = koop_check_enum(call, "outcome", q->has_outcome, q->outcome, &koop__cases__outcome__descriptor,
                              KOOP__CASES__OUTCOME__OUTCOME_SUCCESS, 0, 1)) != KOOP_OK)
        return rc;
    if (x->previous == ST(DRAFT) && q->outcome != KOOP__CASES__OUTCOME__OUTCOME_DISCONTINUED)
        return koop_fail(call, IPW_CLOSE_DRAFT, "outcome", ipw->number, "discontinued");
    if ((rc = cases_close_open_items(call, ipw, x->date, x->reason, q->cancel_open)) != KOOP_OK ||
        (rc = s_transition(call, x)) != KOOP_OK)
        return rc;
    ipw->outcome = q->outcome;
    snprintf(x->summary, sizeof x->summary, "program zamknięty: %s%s%.120s", s_outcome_name(q->outcome),
             x->reason ? " – " : "", x->reason ? x->reason : "");
    return cases_set(call, &ipw->closed, x->date);
}

static int
s_apply_review(koop_call_t *call, cases_step_ctx_t *x)
{
    Koop__Cases__Ipw *ipw = x->ipw;
    if (ipw->n_reviews >= CASES_MAX_REVIEWS)
        return koop_fail(call, RECORD_LIMIT, "ipw", "ipw", KOOP_NUM(CASES_MAX_REVIEWS), "reviews");
    ipw->updated_ms = koop_clock_real_ms();
    return cases_append_str(call, &ipw->reviews, &ipw->n_reviews, x->date);
}

/* Reopening: back to the state it was closed from. */
static int
s_apply_reopen(koop_call_t *call, cases_step_ctx_t *x)
{
    Koop__Cases__Ipw *ipw = x->ipw;
    Koop__Cases__Household *h = NULL;
    int rc;
    if (!x->reason)
        return koop_fail(call, FIELD_REQUIRED, "reason");
    rc = cases_load(call, "household", &koop__cases__household__descriptor, "household", ipw->household,
                    (ProtobufCMessage **)&h);
    if (rc == KOOP_OK)
        rc = s_no_other_open(call, h, ipw->id);
    if (h)
        koop__cases__household__free_unpacked(h, NULL);
    if (rc != KOOP_OK)
        return rc;
    ipw->status = ipw->n_history >= 2 ? ipw->history[ipw->n_history - 2]->status : ST(DRAFT);
    ipw->outcome = KOOP__CASES__OUTCOME__OUTCOME_NONE;
    if ((rc = cases_set(call, &ipw->closed, NULL)) != KOOP_OK || (rc = cases_set(call, &ipw->reason, NULL)) != KOOP_OK)
        return rc;
    return s_transition(call, x);
}

#define IPW_STEP .table = "ipw", .desc = &koop__cases__ipw__descriptor, .may = s_may_lead, \
                 .state_word = s_state_word, .emit = s_emit_ipw

static const cases_step_t s_activate = {"ipw.activate", IPW_STEP, .from = BIT(DRAFT), .needs = "ipw_draft",
                                        .to = ST(ACTIVE), .date_required = 1, .type = "ipw.activated",
                                        .summary = "program podpisany i realizowany", .floor = s_floor_last,
                                        .apply = s_apply_activate};
static const cases_step_t s_suspend = {"ipw.suspend", IPW_STEP, .from = BIT(ACTIVE), .needs = "ipw_active",
                                       .to = ST(SUSPENDED), .reason_field = "reason", .date_required = 1,
                                       .type = "ipw.suspended", .summary = "program zawieszony", .floor = s_floor_last,
                                       .apply = s_transition};
static const cases_step_t s_resume = {"ipw.resume", IPW_STEP, .from = BIT(SUSPENDED), .needs = "ipw_suspended",
                                      .to = ST(ACTIVE), .date_required = 1, .type = "ipw.resumed",
                                      .summary = "program wznowiony", .floor = s_floor_last, .apply = s_apply_resume};
static const cases_step_t s_close = {"ipw.close", IPW_STEP, .from = BIT(DRAFT) | BIT(ACTIVE) | BIT(SUSPENDED),
                                     .needs = "ipw_open", .to = ST(CLOSED), .reason_field = "reason",
                                     .date_required = 1, .type = "ipw.closed", .summary = "program zamknięty",
                                     .floor = s_floor_last, .apply = s_apply_close};
static const cases_step_t s_review = {"ipw.review", IPW_STEP, .from = BIT(ACTIVE) | BIT(SUSPENDED),
                                      .needs = "ipw_running", .date_required = 1, .type = "ipw.reviewed",
                                      .summary = "przegląd programu", .floor = s_floor_signed, .apply = s_apply_review};
static const cases_step_t s_reopen = {"ipw.reopen", IPW_STEP, .from = BIT(CLOSED), .needs = "ipw_closed",
                                      .type = "ipw.reopened", .summary = "program ponownie otwarty",
                                      .floor = s_floor_closed, .apply = s_apply_reopen};

CASES_STEP_METHOD(cases_ipw_activate, s_activate, Koop__Cases__IpwStep, ipw)
CASES_STEP_METHOD(cases_ipw_suspend, s_suspend, Koop__Cases__IpwStep, ipw)
CASES_STEP_METHOD(cases_ipw_resume, s_resume, Koop__Cases__IpwStep, ipw)
CASES_STEP_METHOD(cases_ipw_review, s_review, Koop__Cases__IpwStep, ipw)
CASES_STEP_METHOD(cases_ipw_close, s_close, Koop__Cases__IpwClose, ipw)
CASES_STEP_METHOD(cases_ipw_reopen, s_reopen, Koop__Cases__IpwStep, ipw)

/* ---- corrections ---- */

typedef struct {
    const char *first; /* the earliest date of a goal, task, meeting or referral */
    char buf[11];
} s_first_ctx;

static int
s_first_child(koop_call_t *call, char kind, const char *id, void *ctx)
{
    s_first_ctx *x = ctx;
    const ProtobufCMessageDescriptor *desc;
    const char *table = cases_child_table(kind, &desc), *d;
    ProtobufCMessage *m;
    int rc;
    if (!table)
        return KOOP_OK;
    rc = koop_record_get(call->txn, cases_dbi(call, table), id, desc, &m);
    if (rc == MDB_NOTFOUND)
        return KOOP_OK;
    if (rc != 0)
        return koop_call_store_error(call, rc);
    d = koop_record_str(m, kind == 'm' ? "date" : kind == 'r' ? "sent" : "added");
    if (!cases_removed(m) && d && koop_date_valid(d) && (!x->first || cases_date_before(d, x->first))) {
        snprintf(x->buf, sizeof x->buf, "%s", d);
        x->first = x->buf;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return KOOP_OK;
}

/* A new opening date: not in the future, not after the next step or the
 * first entry of the programme. The number keeps its year. */
static int
s_set_opened(koop_call_t *call, Koop__Cases__Ipw *ipw, const char *field, const char *opened)
{
    s_first_ctx first = {NULL, ""};
    int rc;
    if ((rc = koop_check_date(call, field, opened, 1)) != KOOP_OK || (rc = cases_check_past(call, field, opened)) != KOOP_OK)
        return rc;
    if (ipw->n_history > 1 && cases_date_before(ipw->history[1]->date, opened))
        return koop_fail(call, DATE_AFTER, field, opened, "next_step", ipw->history[1]->date);
    if ((rc = cases_child_scan(call, ipw->id, s_first_child, &first)) != KOOP_OK)
        return rc;
    if (first.first && cases_date_before(first.first, opened))
        return koop_fail(call, DATE_AFTER, field, opened, "first_entry", first.first);
    for (size_t i = 0; i < ipw->n_members; i++)
        if (ipw->members[i]->added && strcmp(ipw->members[i]->added, ipw->opened) == 0 &&
            (rc = cases_set(call, &ipw->members[i]->added, opened)) != KOOP_OK)
            return rc;
    if (ipw->n_history && (rc = cases_set(call, &ipw->history[0]->date, opened)) != KOOP_OK)
        return rc;
    return cases_set(call, &ipw->opened, opened);
}

static int
s_ipw_corrected(koop_call_t *call, const ProtobufCMessage *rec, const void *ctx, const char *date, const char *summary)
{
    (void)ctx;
    return s_ipw_change(call, (const Koop__Cases__Ipw *)rec, "ipw.corrected", date, ST(UNSPECIFIED), NULL, summary);
}

static int
s_ipw_updated(koop_call_t *call, const ProtobufCMessage *rec, const void *ctx, const char *date, const char *summary)
{
    (void)ctx;
    return s_ipw_change(call, (const Koop__Cases__Ipw *)rec, "ipw.updated", date, ST(UNSPECIFIED), NULL, summary);
}

int
cases_ipw_update(koop_call_t *call)
{
    const Koop__Cases__IpwUpdate *q = (const Koop__Cases__IpwUpdate *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    cases_person_t who, cp;
    char changes[400] = "";
    size_t used = 0;
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_check_id(call, "coordinator", q->coordinator, 0)) != KOOP_OK ||
        (rc = koop_check_date(call, "opened", q->opened, 0)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 0, 1000)) != KOOP_OK)
        return rc;
    if ((!q->coordinator || !*q->coordinator) && (!q->opened || !*q->opened))
        return koop_fail(call, UPDATE_EMPTY, NULL);
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK)
        return rc;
    if ((rc = cases_can_lead(call, &who, ipw, "ipw.update")) != KOOP_OK)
        goto done;
    if (q->opened && *q->opened && strcmp(q->opened, ipw->opened) != 0) {
        used += (size_t)snprintf(changes, sizeof changes, "otwarto: %s → %s", ipw->opened, q->opened);
        if ((rc = s_set_opened(call, ipw, "opened", q->opened)) != KOOP_OK)
            goto done;
    }
    if (q->coordinator && *q->coordinator && strcmp(q->coordinator, ipw->coordinator) != 0) {
        Koop__Cases__ZzkMember *m;
        if ((rc = cases_person(call, "coordinator", q->coordinator, &cp)) != KOOP_OK)
            goto done;
        if (!cp.active) {
            rc = koop_fail(call, PERSON_INACTIVE, "coordinator", cp.id);
            goto done;
        }
        if (!(m = cases_member(ipw, cp.id))) {
            rc = koop_fail(call, ZZK_MEMBER_REQUIRED, "coordinator", cp.id, ipw->number);
            goto done;
        }
        for (size_t i = 0; i < ipw->n_members; i++)
            ipw->members[i]->coordinator = ipw->members[i] == m;
        if (used < sizeof changes)
            snprintf(changes + used, sizeof changes - used, "%skoordynator: %s → %s", used ? "; " : "",
                     ipw->coordinator, cp.id);
        if ((rc = cases_set(call, &ipw->coordinator, cp.id)) != KOOP_OK)
            goto done;
    }
    if (changes[0])
        ipw->updated_ms = koop_clock_real_ms();
    rc = cases_correction_done(call, "ipw", &ipw->base, changes[0] != '\0', "program", changes, q->reason,
                               s_ipw_updated, NULL);
done:
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* The date of the last step (its transition, and what it set: opened,
 * signed, closed), with a reason. */
int
cases_ipw_correct(koop_call_t *call)
{
    const Koop__Cases__IpwCorrect *q = (const Koop__Cases__IpwCorrect *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Transition *last;
    cases_person_t who;
    char was[11], changes[100];
    int rc, first_activation = 1;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_date(call, "date", q->date, 1)) != KOOP_OK ||
        (rc = cases_check_past(call, "date", q->date)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 1, 1000)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 0, &ipw)) != KOOP_OK)
        return rc;
    if ((rc = cases_can_lead(call, &who, ipw, "ipw.correct")) != KOOP_OK ||
        (rc = cases_check_owned(call, "ipw", ipw->number, ipw->transfer, ipw->transferred_to, ipw->transferred)) != KOOP_OK)
        goto done;
    last = ipw->history[ipw->n_history - 1];
    snprintf(was, sizeof was, "%s", last->date);
    if (ipw->n_history == 1) {
        if ((rc = s_set_opened(call, ipw, "date", q->date)) != KOOP_OK)
            goto done;
    } else {
        const char *prev = ipw->history[ipw->n_history - 2]->date;
        if (cases_date_before(q->date, prev)) {
            rc = koop_fail(call, DATE_ORDER, "date", q->date, "previous_step", prev);
            goto done;
        }
        for (size_t i = 0; i + 1 < ipw->n_history; i++)
            first_activation &= ipw->history[i]->status != ST(ACTIVE);
        if (last->status == ST(ACTIVE) && first_activation) {
            for (size_t i = 0; i < ipw->n_reviews; i++)
                if (cases_date_before(ipw->reviews[i], q->date)) {
                    rc = koop_fail(call, DATE_AFTER, "date", q->date, "ipw_last_step", ipw->reviews[i]);
                    goto done;
                }
            rc = cases_set(call, &ipw->signed_, q->date);
        } else if (last->status == ST(CLOSED)) {
            rc = cases_set(call, &ipw->closed, q->date);
        }
        if (rc == KOOP_OK)
            rc = cases_set(call, &last->date, q->date);
        if (rc != KOOP_OK)
            goto done;
    }
    if ((!last->corrected_from || !*last->corrected_from) && (rc = cases_set(call, &last->corrected_from, was)) != KOOP_OK)
        goto done;
    ipw->updated_ms = koop_clock_real_ms();
    snprintf(changes, sizeof changes, "data kroku „%s”: %s → %s", s_state_word(last->status) + 4, was, q->date);
    rc = cases_correction_done(call, "ipw", &ipw->base, 1, "program", changes, q->reason, s_ipw_corrected, NULL);
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
    Koop__Cases__Household *h = NULL;
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
    if ((rc = cases_can_lead(call, &who, ipw, "ipw.member.add")) != KOOP_OK)
        goto done;
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
    if ((rc = cases_load(call, "household", &koop__cases__household__descriptor, "household", ipw->household,
                         (ProtobufCMessage **)&h)) != KOOP_OK)
        goto done;
    if (!cases_consent_covers(h, p.institution, NULL)) {
        rc = koop_fail(call, CONSENT_NOT_COVERED, "person", p.id);
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
    if (!(m = cases_zzk_member_new(mid, &p, date, 0))) {
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
    if (h)
        koop__cases__household__free_unpacked(h, NULL);
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
    if (t->owner && strcmp(t->owner, o->person) == 0 && !cases_removed(&t->base) &&
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
    if ((rc = cases_can_lead(call, &who, ipw, "ipw.member.remove")) != KOOP_OK)
        goto done;
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

static int
s_attach_child(koop_call_t *call, char kind, const char *id, void *ctx)
{
    Koop__Cases__Ipw *ipw = ctx;
    const ProtobufCMessageDescriptor *desc;
    const char *table = cases_child_table(kind, &desc);
    void *arr;
    size_t *n;
    ProtobufCMessage *m;
    int rc;

    switch (kind) {
    case 'g': arr = &ipw->goals; n = &ipw->n_goals; break;
    case 't': arr = &ipw->tasks; n = &ipw->n_tasks; break;
    case 'm': arr = &ipw->meetings; n = &ipw->n_meetings; break;
    case 'r': arr = &ipw->referrals; n = &ipw->n_referrals; break;
    default: return KOOP_OK;
    }
    rc = koop_record_get(call->txn, cases_dbi(call, table), id, desc, &m);
    if (rc == MDB_NOTFOUND)
        return KOOP_OK;
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if (cases_removed(m)) {
        protobuf_c_message_free_unpacked(m, NULL);
        return KOOP_OK;
    }
    if ((rc = cases_append(call, arr, n, m)) != KOOP_OK)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int
cases_ipw_attach_children(koop_call_t *call, Koop__Cases__Ipw *ipw)
{
    return cases_child_scan(call, ipw->id, s_attach_child, ipw);
}

int
cases_ipw_show(koop_call_t *call)
{
    const Koop__Cases__IpwRef *q = (const Koop__Cases__IpwRef *)call->req;
    const char *ref = q->ipw && *q->ipw ? q->ipw : q->id;
    Koop__Cases__Ipw *ipw = NULL;
    cases_person_t who;
    int rc;

    cases_audit_note(call, NULL, ref, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK || (rc = cases_ipw_load(call, &who, "ipw", ref, 0, &ipw)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_attach_children(call, ipw)) == KOOP_OK)
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

    if ((rc = cases_caller(call, &who)) != KOOP_OK || (rc = cases_check_id(call, "household", q->household, 0)) != KOOP_OK ||
        (rc = cases_check_id(call, "coordinator", q->coordinator, 0)) != KOOP_OK ||
        (rc = koop_check_text(call, "text", q->text, 0, 40)) != KOOP_OK)
        return rc;
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "ipw"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Koop__Cases__Ipw *ipw = koop__cases__ipw__unpack(NULL, v.mv_size, v.mv_data);
        koop_err_t why;
        int keep;
        if (!ipw) {
            rc = MDB_CORRUPTED;
            break;
        }
        keep = !cases_removed(&ipw->base) && (!q->has_status || !q->status || ipw->status == q->status) &&
               (!q->household || !*q->household || strcmp(ipw->household, q->household) == 0) &&
               (!q->coordinator || !*q->coordinator || strcmp(ipw->coordinator, q->coordinator) == 0) &&
               (!q->text || !*q->text || koop_text_contains(ipw->number, q->text));
        if (keep && (rc = cases_ipw_visible(call, &who, ipw, NULL, &keep, &why)) != KOOP_OK) {
            koop__cases__ipw__free_unpacked(ipw, NULL);
            break;
        }
        if (!keep) {
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
    const char *ref = q->ipw && *q->ipw ? q->ipw : q->id;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__TimelineEntry **items = NULL;
    size_t n = 0;
    cases_person_t who;
    int rc;

    cases_audit_note(call, NULL, ref, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK || (rc = cases_ipw_load(call, &who, "ipw", ref, 0, &ipw)) != KOOP_OK)
        return rc;
    rc = cases_timeline_read(call, ipw->id, &items, &n);
    koop__cases__ipw__free_unpacked(ipw, NULL);
    if (rc != KOOP_OK)
        return rc;
    if (n > 1)
        qsort(items, n, sizeof *items, s_cmp_entries);
    return cases_list_done(call, 0, &koop__cases__timeline_list__descriptor, (ProtobufCMessage **)items, n);
}
