/*
 * plan.c - the plan of an IPW: goals with PSR scaling, and tasks (actions).
 *
 * Goal: an area, a description (LOCAL text), PSR scaling 0-10 at baseline,
 * the target (above the baseline: higher is better), and every later
 * review (value + date, in entry order). Leads add and correct goals; ZZK
 * members scale them (at meetings).
 *
 * Task lifecycle:
 *
 *   PLANNED --start--> IN_PROGRESS --done--> DONE
 *      |                   |
 *      +------done---------|----------------> DONE
 *      +------cancel-------+----------------> CANCELLED
 *
 * DONE and CANCELLED are final. The owner is a person in the IPW's ZZK; the
 * owner's institution (and its sector) is taken from the registry copy when
 * the task is added or reassigned. The optional service is an entry of the
 * registry's list of activities and services. Step dates are the caller's
 * (history can be entered, not the future); a task is never done or
 * cancelled before it started, and never due before its IPW opened. Leads
 * plan, correct and cancel tasks; the owner (and the leads) start and
 * finish them.
 *
 * Task owners find their tasks through the index "task_owner": key = owner
 * person id + task id.
 */
#include "cases.h"
#include "present.h"
#include "clock.h"
#include "id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(x) KOOP__CASES__TASK_STATUS__TASK_##x

/* The goal area as people read it (labels.def, the same words everywhere). */
static const char *
s_area_name(Koop__Cases__Area a, char buf[64])
{
    return koop_present_enum(&koop__cases__area__descriptor, a, KOOP_LANG_PL, buf, 64);
}

/* Loads the goal `id` (request field `field`) and checks it belongs to ipw. */
static int
s_goal_of(koop_call_t *call, const char *field, const char *id, const char *ipw, Koop__Cases__Goal **out)
{
    int rc = cases_load(call, "goal", &koop__cases__goal__descriptor, field, id, (ProtobufCMessage **)out);
    if (rc != KOOP_OK)
        return rc;
    if (!(*out)->ipw || strcmp((*out)->ipw, ipw) != 0) {
        koop__cases__goal__free_unpacked(*out, NULL);
        *out = NULL;
        return koop_fail(call, GOAL_OTHER_IPW, field, id);
    }
    return KOOP_OK;
}

typedef struct {
    size_t n;
} s_count_ctx;

static int
s_count_child(koop_call_t *call, char kind, const char *id, void *ctx)
{
    (void)call;
    (void)kind;
    (void)id;
    ((s_count_ctx *)ctx)->n++;
    return KOOP_OK;
}

/* Refuses a new child when the IPW has CASES_MAX_CHILDREN already. */
int
cases_check_children(koop_call_t *call, const char *ipw)
{
    s_count_ctx c = {0};
    int rc = cases_child_scan(call, ipw, s_count_child, &c);
    if (rc != KOOP_OK)
        return rc;
    if (c.n >= CASES_MAX_CHILDREN)
        return koop_fail(call, RECORD_LIMIT, "ipw", "ipw", KOOP_NUM(CASES_MAX_CHILDREN), "children");
    return KOOP_OK;
}

void
cases_goal_facts(const Koop__Cases__Goal *g, const char *date, Koop__Cases__GoalFacts *f)
{
    koop__cases__goal_facts__init(f);
    f->goal = g->id;
    f->ipw = g->ipw;
    f->has_area = 1;
    f->area = g->area;
    f->has_baseline = 1;
    f->baseline = g->baseline;
    f->has_target = 1;
    f->target = g->target;
    f->date = (char *)date;
}

static int
s_goal_change(koop_call_t *call, const Koop__Cases__Goal *g, const char *type, const char *date, int has_value,
              int32_t value, const char *summary)
{
    Koop__Cases__GoalFacts f;
    cases_change_t ch = {type, &g->base, &f.base, g->ipw, date, g->id, summary, NULL};
    cases_goal_facts(g, date, &f);
    f.has_value = has_value;
    f.value = value;
    return cases_record_change(call, &ch);
}

int
cases_goal_add(koop_call_t *call)
{
    const Koop__Cases__GoalAdd *q = (const Koop__Cases__GoalAdd *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Goal g = KOOP__CASES__GOAL__INIT;
    cases_person_t who;
    char id[KOOP_ID_LEN], date[11], summary[240], area[64];
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_enum(call, "area", q->has_area, q->area, &koop__cases__area__descriptor, 1, 0, 1)) != KOOP_OK ||
        (rc = cases_check_psr(call, "baseline", q->has_baseline, q->baseline)) != KOOP_OK ||
        (rc = cases_check_psr(call, "target", q->has_target, q->target)) != KOOP_OK ||
        (rc = cases_check_target(call, q->baseline, q->target)) != KOOP_OK ||
        (rc = koop_check_text(call, "description", q->description, 0, KOOP_MAX_TEXT)) != KOOP_OK ||
        (rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK)
        return rc;
    if ((rc = cases_can_lead(call, &who, ipw, "goal.add")) != KOOP_OK ||
        (rc = cases_ipw_date(call, ipw, q->date, date)) != KOOP_OK ||
        (rc = cases_check_children(call, ipw->id)) != KOOP_OK || (rc = cases_new_id(call, id)) != KOOP_OK)
        goto done;
    cases_audit_note(call, NULL, NULL, id);
    g.id = id;
    g.ipw = ipw->id;
    g.has_area = 1;
    g.area = q->area;
    g.description = q->description;
    g.has_baseline = 1;
    g.baseline = q->baseline;
    g.has_target = 1;
    g.target = q->target;
    g.added = date;
    snprintf(summary, sizeof summary, "cel w obszarze „%s”: wartość wyjściowa %d, docelowa %d%s%.100s",
             s_area_name(q->area, area), (int)q->baseline, (int)q->target, q->description && *q->description ? " – " : "", q->description ? q->description : "");
    if ((rc = cases_save(call, "goal", id, &g.base)) != KOOP_OK || (rc = cases_child_add(call, ipw->id, 'g', id)) != KOOP_OK ||
        (rc = s_goal_change(call, &g, "goal.added", date, 0, 0, summary)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &g.base);
done:
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* Loads a goal and its IPW (for a change) for who. */
static int
s_goal_load(koop_call_t *call, const cases_person_t *who, const char *id, Koop__Cases__Goal **g, Koop__Cases__Ipw **ipw)
{
    int rc;
    *ipw = NULL;
    if ((rc = cases_load(call, "goal", &koop__cases__goal__descriptor, "goal", id, (ProtobufCMessage **)g)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, who, "ipw", (*g)->ipw, 1, ipw)) != KOOP_OK) {
        koop__cases__goal__free_unpacked(*g, NULL);
        *g = NULL;
    }
    return rc;
}

static int
s_goal_updated(koop_call_t *call, const ProtobufCMessage *rec, const void *ctx, const char *date, const char *summary)
{
    (void)ctx;
    return s_goal_change(call, (const Koop__Cases__Goal *)rec, "goal.updated", date, 0, 0, summary);
}

int
cases_goal_update(koop_call_t *call)
{
    static const char *const skip[] = {"goal", "reason", NULL};
    const Koop__Cases__GoalUpdate *q = (const Koop__Cases__GoalUpdate *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Goal *g = NULL;
    cases_person_t who;
    char changes[600];
    int rc, changed;

    cases_audit_note(call, NULL, NULL, q->goal);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_enum(call, "area", q->has_area, q->area, &koop__cases__area__descriptor, 1, 0, 0)) != KOOP_OK ||
        (q->has_baseline && (rc = cases_check_psr(call, "baseline", 1, q->baseline)) != KOOP_OK) ||
        (q->has_target && (rc = cases_check_psr(call, "target", 1, q->target)) != KOOP_OK) ||
        (rc = koop_check_text(call, "description", q->description, 0, KOOP_MAX_TEXT)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 0, 1000)) != KOOP_OK)
        return rc;
    if (!q->has_area && !q->has_baseline && !q->has_target && !q->description)
        return koop_fail(call, UPDATE_EMPTY, NULL);
    if ((rc = s_goal_load(call, &who, q->goal, &g, &ipw)) != KOOP_OK)
        return rc;
    if ((rc = cases_can_lead(call, &who, ipw, "goal.update")) != KOOP_OK ||
        (rc = cases_update_fields(call, &q->base, &g->base, skip, &changed, changes, sizeof changes)) != KOOP_OK ||
        (rc = cases_check_target(call, g->baseline, g->target)) != KOOP_OK)
        goto done;
    rc = cases_correction_done(call, "goal", &g->base, changed, "cel", changes, q->reason, s_goal_updated, NULL);
done:
    koop__cases__goal__free_unpacked(g, NULL);
    if (ipw)
        koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* Scaling at a meeting: every ZZK member who reads the case may record it. */
int
cases_goal_scale(koop_call_t *call)
{
    const Koop__Cases__GoalScale *q = (const Koop__Cases__GoalScale *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Goal *g = NULL;
    Koop__Cases__Scaling *s = NULL;
    cases_person_t who;
    char date[11], summary[200], area[64];
    int rc;

    cases_audit_note(call, NULL, NULL, q->goal);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_check_psr(call, "value", q->has_value, q->value)) != KOOP_OK ||
        (rc = koop_check_date(call, "date", q->date, 1)) != KOOP_OK)
        return rc;
    if ((rc = s_goal_load(call, &who, q->goal, &g, &ipw)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_date(call, ipw, q->date, date)) != KOOP_OK)
        goto done;
    if (g->n_scalings >= CASES_MAX_SCALINGS) {
        rc = koop_fail(call, RECORD_LIMIT, "goal", "goal", KOOP_NUM(CASES_MAX_SCALINGS), "scalings");
        goto done;
    }
    if (!(s = calloc(1, sizeof *s))) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    koop__cases__scaling__init(s);
    s->has_value = 1;
    s->value = q->value;
    if ((rc = cases_set(call, &s->date, date)) != KOOP_OK ||
        (rc = cases_append(call, &g->scalings, &g->n_scalings, s)) != KOOP_OK) {
        koop__cases__scaling__free_unpacked(s, NULL);
        goto done;
    }
    snprintf(summary, sizeof summary, "ocena celu w obszarze „%s”: %d (wartość docelowa %d)", s_area_name(g->area, area),
             (int)q->value, (int)g->target);
    if ((rc = cases_save(call, "goal", g->id, &g->base)) != KOOP_OK ||
        (rc = s_goal_change(call, g, "goal.scaled", date, 1, q->value, summary)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &g->base);
done:
    koop__cases__goal__free_unpacked(g, NULL);
    if (ipw)
        koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* ---- tasks ---- */

void
cases_task_facts(const Koop__Cases__Task *t, const char *date, Koop__Cases__TaskFacts *f)
{
    koop__cases__task_facts__init(f);
    f->task = t->id;
    f->ipw = t->ipw;
    f->goal = t->goal;
    f->has_status = 1;
    f->status = t->status;
    f->due = t->due;
    f->date = (char *)date;
    f->owner_institution = t->owner_institution;
    f->has_owner_sector = t->has_owner_sector;
    f->owner_sector = t->owner_sector;
    f->service = t->service;
    f->service_provider = t->service_provider;
}

static int
s_task_change(koop_call_t *call, const Koop__Cases__Task *t, const char *type, const char *date, const char *summary)
{
    Koop__Cases__TaskFacts f;
    cases_change_t ch = {type, &t->base, &f.base, t->ipw, date, t->id, summary, NULL};
    cases_task_facts(t, date, &f);
    return cases_record_change(call, &ch);
}

int
cases_owner_index(koop_call_t *call, const char *owner, const char *task, int add)
{
    unsigned char key[2 * (KOOP_ID_LEN - 1)];
    MDB_val k = {sizeof key, key}, v = {0, ""};
    int rc;
    if (!owner || !koop_id_valid(owner))
        return KOOP_OK;
    memcpy(key, owner, KOOP_ID_LEN - 1);
    memcpy(key + KOOP_ID_LEN - 1, task, KOOP_ID_LEN - 1);
    rc = add ? mdb_put(call->txn, cases_dbi(call, "task_owner"), &k, &v, 0)
             : mdb_del(call->txn, cases_dbi(call, "task_owner"), &k, NULL);
    if (rc != 0 && !(rc == MDB_NOTFOUND && !add))
        return koop_call_store_error(call, rc);
    return KOOP_OK;
}

/* The owner of a task: a ZZK member of ipw; sets the task's owner fields. */
static int
s_set_owner(koop_call_t *call, const Koop__Cases__Ipw *ipw, Koop__Cases__Task *t, const char *owner_id)
{
    cases_person_t owner;
    int rc;
    if ((rc = cases_person(call, "owner", owner_id, &owner)) != KOOP_OK)
        return rc;
    if (!cases_member(ipw, owner.id))
        return koop_fail(call, ZZK_MEMBER_REQUIRED, "owner", owner.id, ipw->number);
    if ((rc = cases_set(call, &t->owner, owner.id)) != KOOP_OK ||
        (rc = cases_set(call, &t->owner_institution, owner.institution)) != KOOP_OK)
        return rc;
    t->has_owner_sector = owner.sector != KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    t->owner_sector = owner.sector;
    return KOOP_OK;
}

/* A task's service, from the list of services: its provider comes with it. */
static int
s_set_service(koop_call_t *call, Koop__Cases__Task *t, const char *service)
{
    Koop__Reg__Sector sector;
    char provider[KOOP_ID_LEN] = "";
    int rc;
    if (service && *service && (rc = cases_catalogue(call, "service", service, provider, &sector)) != KOOP_OK)
        return rc;
    if ((rc = cases_set(call, &t->service, service)) != KOOP_OK)
        return rc;
    return cases_set(call, &t->service_provider, provider);
}

/* A due date: a date, not before the IPW opened. */
static int
s_check_due(koop_call_t *call, const Koop__Cases__Ipw *ipw, const char *due, int required)
{
    int rc = koop_check_date(call, "due", due, required);
    if (rc == KOOP_OK && due && *due && cases_date_before(due, ipw->opened))
        rc = koop_fail(call, DATE_ORDER, "due", due, "ipw_opened", ipw->opened);
    return rc;
}

int
cases_task_add(koop_call_t *call)
{
    const Koop__Cases__TaskAdd *q = (const Koop__Cases__TaskAdd *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Goal *goal = NULL;
    Koop__Cases__Task *t = NULL;
    cases_person_t who;
    char id[KOOP_ID_LEN], date[11], summary[200];
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_check_id(call, "owner", q->owner, 1)) != KOOP_OK ||
        (rc = koop_check_date(call, "due", q->due, 1)) != KOOP_OK ||
        (rc = koop_check_name(call, "title", q->title, 1, 300)) != KOOP_OK ||
        (rc = cases_check_id(call, "goal", q->goal, 0)) != KOOP_OK ||
        (rc = cases_check_id(call, "service", q->service, 0)) != KOOP_OK ||
        (rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK)
        return rc;
    if (!(t = calloc(1, sizeof *t))) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    koop__cases__task__init(t);
    if ((rc = cases_can_lead(call, &who, ipw, "task.add")) != KOOP_OK || (rc = s_check_due(call, ipw, q->due, 1)) != KOOP_OK)
        goto done;
    if (q->goal && *q->goal && (rc = s_goal_of(call, "goal", q->goal, ipw->id, &goal)) != KOOP_OK)
        goto done;
    if ((rc = s_set_owner(call, ipw, t, q->owner)) != KOOP_OK || (rc = s_set_service(call, t, q->service)) != KOOP_OK)
        goto done;
    if ((rc = cases_ipw_date(call, ipw, q->date, date)) != KOOP_OK ||
        (rc = cases_check_children(call, ipw->id)) != KOOP_OK || (rc = cases_new_id(call, id)) != KOOP_OK)
        goto done;
    cases_audit_note(call, NULL, NULL, id);
    if ((rc = cases_set(call, &t->id, id)) != KOOP_OK || (rc = cases_set(call, &t->ipw, ipw->id)) != KOOP_OK ||
        (rc = cases_set(call, &t->goal, q->goal)) != KOOP_OK || (rc = cases_set(call, &t->title, q->title)) != KOOP_OK ||
        (rc = cases_set(call, &t->due, q->due)) != KOOP_OK || (rc = cases_set(call, &t->added, date)) != KOOP_OK)
        goto done;
    t->has_status = 1;
    t->status = TS(PLANNED);
    snprintf(summary, sizeof summary, "zadanie: %.120s (termin %s)", q->title, q->due);
    if ((rc = cases_save(call, "task", id, &t->base)) != KOOP_OK || (rc = cases_child_add(call, ipw->id, 't', id)) != KOOP_OK ||
        (rc = cases_owner_index(call, t->owner, id, 1)) != KOOP_OK ||
        (rc = s_task_change(call, t, "task.added", date, summary)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &t->base);
done:
    if (t)
        koop__cases__task__free_unpacked(t, NULL);
    if (goal)
        koop__cases__goal__free_unpacked(goal, NULL);
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

static int
s_task_updated(koop_call_t *call, const ProtobufCMessage *rec, const void *ctx, const char *date, const char *summary)
{
    (void)ctx;
    return s_task_change(call, (const Koop__Cases__Task *)rec, "task.updated", date, summary);
}

/* Corrections of a task: text, due date, goal, service, and reassignment
 * to another ZZK member (the owner index moves with it). Any task of an IPW
 * that is not closed, also a finished one (its due day decides whether it
 * was on time). */
int
cases_task_update(koop_call_t *call)
{
    static const char *const skip[] = {"task", "owner", "service", "reason", NULL};
    const Koop__Cases__TaskUpdate *q = (const Koop__Cases__TaskUpdate *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Goal *goal = NULL;
    Koop__Cases__Task *t = NULL;
    cases_person_t who;
    char changes[600], old_owner[KOOP_ID_LEN] = "";
    size_t used;
    int rc, changed;

    cases_audit_note(call, NULL, NULL, q->task);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_check_id(call, "owner", q->owner, 0)) != KOOP_OK ||
        (rc = koop_check_date(call, "due", q->due, 0)) != KOOP_OK ||
        (q->title && (rc = koop_check_name(call, "title", q->title, 1, 300)) != KOOP_OK) ||
        (rc = cases_check_id(call, "goal", q->goal, 0)) != KOOP_OK ||
        (rc = cases_check_id(call, "service", q->service, 0)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 0, 1000)) != KOOP_OK)
        return rc;
    if (!q->owner && !q->due && !q->title && !q->goal && !q->service)
        return koop_fail(call, UPDATE_EMPTY, NULL);
    if ((rc = cases_load(call, "task", &koop__cases__task__descriptor, "task", q->task, (ProtobufCMessage **)&t)) !=
        KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", t->ipw, 1, &ipw)) != KOOP_OK ||
        (rc = cases_can_lead(call, &who, ipw, "task.update")) != KOOP_OK || (rc = s_check_due(call, ipw, q->due, 0)) != KOOP_OK)
        goto done;
    if (q->goal && *q->goal && (rc = s_goal_of(call, "goal", q->goal, ipw->id, &goal)) != KOOP_OK)
        goto done;
    if ((rc = cases_update_fields(call, &q->base, &t->base, skip, &changed, changes, sizeof changes)) != KOOP_OK)
        goto done;
    used = strlen(changes);
    if (q->owner && *q->owner && strcmp(q->owner, t->owner ? t->owner : "") != 0) {
        snprintf(old_owner, sizeof old_owner, "%s", t->owner ? t->owner : "");
        if ((rc = s_set_owner(call, ipw, t, q->owner)) != KOOP_OK)
            goto done;
        used += (size_t)snprintf(changes + used, sizeof changes - used, "%swykonawca: %s → %s", used ? "; " : "",
                                 old_owner[0] ? old_owner : "–", t->owner);
        changed++;
    }
    if (used < sizeof changes && q->service && strcmp(q->service, t->service ? t->service : "") != 0) {
        if ((rc = s_set_service(call, t, q->service)) != KOOP_OK)
            goto done;
        snprintf(changes + used, sizeof changes - used, "%susługa: %s", used ? "; " : "", *q->service ? q->service : "–");
        changed++;
    }
    if (old_owner[0] && ((rc = cases_owner_index(call, old_owner, t->id, 0)) != KOOP_OK ||
                         (rc = cases_owner_index(call, t->owner, t->id, 1)) != KOOP_OK))
        goto done;
    rc = cases_correction_done(call, "task", &t->base, changed, "zadanie", changes, q->reason, s_task_updated, NULL);
done:
    if (goal)
        koop__cases__goal__free_unpacked(goal, NULL);
    koop__cases__task__free_unpacked(t, NULL);
    if (ipw)
        koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* ---- task steps (step.c runs them) ---- */

/* The state as a word of errors.def, for refusals. */
static const char *
s_task_state_word(int st)
{
    switch (st) {
    case TS(PLANNED): return "task_planned";
    case TS(IN_PROGRESS): return "task_in_progress";
    case TS(DONE): return "task_done";
    case TS(CANCELLED): return "task_cancelled";
    default: return "?";
    }
}

/* Start and done: the owner and the leads; cancel: the leads. */
static int
s_may_task(koop_call_t *call, const cases_step_ctx_t *x)
{
    const Koop__Cases__Task *t = (const Koop__Cases__Task *)x->rec;
    int owner = t->owner && strcmp(t->owner, x->who->id) == 0;
    if (cases_is_lead(x->who, x->ipw) || (owner && x->step->to != TS(CANCELLED)))
        return KOOP_OK;
    if (x->step->to == TS(CANCELLED))
        return cases_can_lead(call, x->who, x->ipw, x->step->method);
    return koop_fail(call, ACCESS_DENIED_TASK_OWNER, NULL, x->who->id, t->id, x->step->method);
}

static const char *
s_task_floor(const cases_step_ctx_t *x, const char **word)
{
    const Koop__Cases__Task *t = (const Koop__Cases__Task *)x->rec;
    if (t->started && *t->started) {
        *word = "task_started";
        return t->started;
    }
    *word = "ipw_opened";
    return x->ipw->opened;
}

static int
s_emit_task(koop_call_t *call, cases_step_ctx_t *x)
{
    const Koop__Cases__Task *t = (const Koop__Cases__Task *)x->rec;
    char summary[300];
    snprintf(summary, sizeof summary, "%s zadanie: %.120s%s%.100s", x->step->summary, t->title ? t->title : "",
             x->reason ? " – " : "", x->reason ? x->reason : "");
    return s_task_change(call, t, x->step->type, x->date, summary);
}

#define TASK_STEP .table = "task", .desc = &koop__cases__task__descriptor, .may = s_may_task, \
                  .floor = s_task_floor, .state_word = s_task_state_word, .emit = s_emit_task, \
                  .reason_field = "reason"

static const cases_step_t s_start = {"task.start", TASK_STEP, .from = 1u << TS(PLANNED), .needs = "task_planned",
                                     .to = TS(IN_PROGRESS), .date_field = "started", .type = "task.started",
                                     .summary = "rozpoczęto"};
static const cases_step_t s_done = {"task.done", TASK_STEP, .from = 1u << TS(PLANNED) | 1u << TS(IN_PROGRESS),
                                    .needs = "task_open", .to = TS(DONE), .date_field = "done", .type = "task.done",
                                    .summary = "wykonano"};
static const cases_step_t s_cancel = {"task.cancel", TASK_STEP, .from = 1u << TS(PLANNED) | 1u << TS(IN_PROGRESS),
                                      .needs = "task_open", .to = TS(CANCELLED), .date_field = "cancelled",
                                      .type = "task.cancelled", .summary = "anulowano"};

CASES_STEP_METHOD(cases_task_start, s_start, Koop__Cases__TaskStep, task)
CASES_STEP_METHOD(cases_task_done, s_done, Koop__Cases__TaskStep, task)
CASES_STEP_METHOD(cases_task_cancel, s_cancel, Koop__Cases__TaskStep, task)

/* ---- closing cleanly: open tasks and later meetings ---- */

typedef struct {
    const Koop__Cases__Ipw *ipw;
    const char *date, *reason;
    int cancel;
    int tasks, meetings;
    char task_list[KOOP_ERR_ARG_MAX], meeting_list[KOOP_ERR_ARG_MAX];
} s_open_ctx;

static void
s_list_add(char *list, const char *id, const char *date)
{
    size_t used = strlen(list);
    if (used + 52 < KOOP_ERR_ARG_MAX)
        snprintf(list + used, KOOP_ERR_ARG_MAX - used, "%s%s (%s)", used ? ", " : "", id, date ? date : "?");
    else if (used + 4 < KOOP_ERR_ARG_MAX && strcmp(list + used - 3, "…") != 0)
        snprintf(list + used, KOOP_ERR_ARG_MAX - used, ", …");
}

static int
s_open_item(koop_call_t *call, char kind, const char *id, void *ctx)
{
    s_open_ctx *o = ctx;
    const ProtobufCMessageDescriptor *desc;
    const char *table = cases_child_table(kind, &desc);
    ProtobufCMessage *m;
    char summary[240];
    int rc, open = 0;

    if (kind != 't' && kind != 'm')
        return KOOP_OK;
    rc = koop_record_get(call->txn, cases_dbi(call, table), id, desc, &m);
    if (rc == MDB_NOTFOUND)
        return KOOP_OK;
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if (kind == 't') {
        Koop__Cases__Task *t = (Koop__Cases__Task *)m;
        open = !cases_removed(m) && (t->status == TS(PLANNED) || t->status == TS(IN_PROGRESS));
        if (open && !o->cancel) {
            o->tasks++;
            s_list_add(o->task_list, t->id, t->due);
        } else if (open) {
            t->status = TS(CANCELLED);
            snprintf(summary, sizeof summary, "anulowano zadanie przy zamknięciu programu: %.120s", t->title ? t->title : "");
            if ((rc = cases_set(call, &t->cancelled, o->date)) != KOOP_OK ||
                (rc = cases_set(call, &t->reason, o->reason ? o->reason : "zamknięcie programu")) != KOOP_OK ||
                (rc = cases_save(call, "task", t->id, m)) != KOOP_OK ||
                (rc = s_task_change(call, t, "task.cancelled", o->date, summary)) != KOOP_OK)
                goto done;
        }
    } else {
        Koop__Cases__Meeting *mt = (Koop__Cases__Meeting *)m;
        open = !cases_removed(m) && !(mt->cancelled && *mt->cancelled) && mt->date && cases_date_before(o->date, mt->date);
        if (open && !o->cancel) {
            o->meetings++;
            s_list_add(o->meeting_list, mt->id, mt->date);
        } else if (open) {
            Koop__Cases__MeetingFacts f;
            char *inst[CASES_MAX_LIST];
            cases_change_t ch = {"meeting.cancelled", m, &f.base, mt->ipw, o->date, mt->id,
                                 "odwołano spotkanie przy zamknięciu programu", NULL};
            if ((rc = cases_set(call, &mt->cancelled, o->date)) != KOOP_OK || (rc = cases_save(call, "meeting", mt->id, m)) != KOOP_OK)
                goto done;
            cases_meeting_facts(mt, o->ipw, &f, inst);
            rc = cases_record_change(call, &ch);
        }
    }
done:
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int
cases_close_open_items(koop_call_t *call, Koop__Cases__Ipw *ipw, const char *date, const char *reason, int cancel)
{
    s_open_ctx o;
    int rc;
    memset(&o, 0, sizeof o);
    o.ipw = ipw;
    o.date = date;
    o.reason = reason;
    o.cancel = cancel;
    if ((rc = cases_child_scan(call, ipw->id, s_open_item, &o)) != KOOP_OK)
        return rc;
    if (o.tasks || o.meetings)
        return koop_fail(call, IPW_OPEN_ITEMS, NULL, ipw->number, KOOP_NUM(o.tasks), o.tasks ? o.task_list : "–",
                         KOOP_NUM(o.meetings), o.meetings ? o.meeting_list : "–");
    return KOOP_OK;
}

/* ---- lists of tasks ---- */

static int
s_cmp_due(const void *a, const void *b)
{
    const Koop__Cases__Task *x = *(Koop__Cases__Task *const *)a, *y = *(Koop__Cases__Task *const *)b;
    int c = strcmp(x->due ? x->due : "", y->due ? y->due : "");
    return c ? c : strcmp(x->id, y->id);
}

static int
s_open(const Koop__Cases__Task *t)
{
    return t->status == TS(PLANNED) || t->status == TS(IN_PROGRESS);
}

/* The filters of task.mine and task.week on one task. */
static int
s_task_wanted(const Koop__Cases__TaskQuery *q, const Koop__Cases__Task *t, const char *today)
{
    if (cases_removed(&t->base))
        return 0;
    if (q->has_status && q->status && t->status != q->status)
        return 0;
    return !q->overdue || (s_open(t) && t->due && cases_date_before(t->due, today));
}

/* Whether the caller can see an IPW, for the IPWs of one task.mine: a
 * person's tasks are mostly in a few programmes, and seeing one depends only
 * on (caller, IPW) within a call, so each IPW (and its household, for the
 * consent) is read and judged once. */
#define S_SEEN_MAX 16
typedef struct {
    char ipw[KOOP_ID_LEN];
    int keep;
} s_seen_ipw;

typedef struct {
    s_seen_ipw e[S_SEEN_MAX];
    unsigned n;
} s_seen;

/* Sets *keep for the IPW `id`: 1 when it is not removed and who may see it.
 * KOOP_OK or the call's failure. */
static int
s_ipw_seen(koop_call_t *call, const cases_person_t *who, s_seen *seen, const char *id, int *keep)
{
    Koop__Cases__Ipw *ipw = NULL;
    koop_err_t why;
    unsigned slot;
    int rc;
    for (unsigned i = 0; i < seen->n && i < S_SEEN_MAX; i++)
        if (strcmp(seen->e[i].ipw, id) == 0) {
            *keep = seen->e[i].keep;
            return KOOP_OK;
        }
    *keep = 0;
    rc = koop_record_get(call->txn, cases_dbi(call, "ipw"), id, &koop__cases__ipw__descriptor, (ProtobufCMessage **)&ipw);
    if (rc != 0) /* index and records are written together: a miss is damage */
        return koop_call_store_error(call, rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc);
    rc = cases_removed(&ipw->base) ? KOOP_OK : cases_ipw_visible(call, who, ipw, NULL, keep, &why);
    koop__cases__ipw__free_unpacked(ipw, NULL);
    if (rc != KOOP_OK)
        return rc;
    if (strlen(id) < sizeof seen->e[0].ipw) {
        slot = seen->n++ % S_SEEN_MAX;
        snprintf(seen->e[slot].ipw, sizeof seen->e[slot].ipw, "%s", id);
        seen->e[slot].keep = *keep;
    }
    return KOOP_OK;
}

/* The caller's tasks (as owner) in programmes they can still see, by due date. */
int
cases_task_mine(koop_call_t *call)
{
    const Koop__Cases__TaskQuery *q = (const Koop__Cases__TaskQuery *)call->req;
    ProtobufCMessage **items = NULL;
    size_t n = 0;
    cases_person_t who;
    MDB_cursor *cur = NULL;
    MDB_dbi tasks = cases_dbi(call, "task");
    MDB_val k, v;
    s_seen seen = {.n = 0};
    char today[11];
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    cases_today(today);
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "task_owner"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    k.mv_size = KOOP_ID_LEN - 1;
    k.mv_data = who.id;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == 2 * (KOOP_ID_LEN - 1) && memcmp(k.mv_data, who.id, KOOP_ID_LEN - 1) == 0) {
        char tid[KOOP_ID_LEN];
        Koop__Cases__Task *t = NULL;
        int keep = 0;
        memcpy(tid, (char *)k.mv_data + KOOP_ID_LEN - 1, KOOP_ID_LEN - 1);
        tid[KOOP_ID_LEN - 1] = '\0';
        rc = koop_record_get(call->txn, tasks, tid, &koop__cases__task__descriptor, (ProtobufCMessage **)&t);
        if (rc != 0) {
            /* index and records are written together: a miss is damage, not the end */
            if (rc == MDB_NOTFOUND)
                rc = MDB_CORRUPTED;
            break;
        }
        if (s_task_wanted(q, t, today))
            rc = s_ipw_seen(call, &who, &seen, t->ipw, &keep);
        if (rc != KOOP_OK || !keep) {
            koop__cases__task__free_unpacked(t, NULL);
            if (rc != KOOP_OK)
                break;
        } else if ((rc = cases_append(call, &items, &n, t)) != KOOP_OK) {
            koop__cases__task__free_unpacked(t, NULL);
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (n > 1)
        qsort(items, n, sizeof *items, s_cmp_due);
    return cases_list_done(call, rc, &koop__cases__task_list__descriptor, items, n);
}

typedef struct {
    const Koop__Cases__TaskQuery *q;
    const char *today, *monday, *sunday;
    ProtobufCMessage **items;
    size_t n;
} s_week_ctx;

static int
s_week_task(koop_call_t *call, char kind, const char *id, void *ctx)
{
    s_week_ctx *w = ctx;
    Koop__Cases__Task *t;
    int rc, keep;
    if (kind != 't')
        return KOOP_OK;
    rc = koop_record_get(call->txn, cases_dbi(call, "task"), id, &koop__cases__task__descriptor, (ProtobufCMessage **)&t);
    if (rc == MDB_NOTFOUND)
        return KOOP_OK;
    if (rc != 0)
        return koop_call_store_error(call, rc);
    keep = s_open(t) && s_task_wanted(w->q, t, w->today) && t->due &&
           (w->q->overdue || (!cases_date_before(t->due, w->monday) && !cases_date_before(w->sunday, t->due)));
    if (!keep) {
        koop__cases__task__free_unpacked(t, NULL);
        return KOOP_OK;
    }
    if ((rc = cases_append(call, &w->items, &w->n, t)) != KOOP_OK)
        koop__cases__task__free_unpacked(t, NULL);
    return rc;
}

/* Open tasks of every programme the caller leads or works in (not only
 * their own), due this week (Monday to Sunday), by due date; with overdue,
 * those past their due day instead. */
int
cases_task_week(koop_call_t *call)
{
    const Koop__Cases__TaskQuery *q = (const Koop__Cases__TaskQuery *)call->req;
    s_week_ctx w = {q, NULL, NULL, NULL, NULL, 0};
    cases_person_t who;
    MDB_cursor *cur;
    MDB_val k, v;
    char today[11], monday[11], sunday[11];
    int64_t days;
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    cases_today(today);
    days = koop_date_days(today);
    /* 1970-01-01 was a Thursday: Monday is day 0 of (days + 3) % 7 */
    koop_date_from_days(days - ((days + 3) % 7 + 7) % 7, monday);
    koop_date_from_days(days - ((days + 3) % 7 + 7) % 7 + 6, sunday);
    w.today = today;
    w.monday = monday;
    w.sunday = sunday;
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "ipw"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Koop__Cases__Ipw *ipw = koop__cases__ipw__unpack(NULL, v.mv_size, v.mv_data);
        koop_err_t why;
        int mine = 0;
        if (!ipw) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (ipw->status != KOOP__CASES__IPW_STATUS__IPW_CLOSED && !cases_removed(&ipw->base) &&
            !(ipw->transferred_to && *ipw->transferred_to) &&
            (ipw->coordinator && strcmp(ipw->coordinator, who.id) == 0 ? (mine = 1)
                                                                        : (cases_member(ipw, who.id) != NULL)))
            rc = mine ? KOOP_OK : cases_ipw_visible(call, &who, ipw, NULL, &mine, &why);
        if (rc == KOOP_OK && mine)
            rc = cases_child_scan(call, ipw->id, s_week_task, &w);
        koop__cases__ipw__free_unpacked(ipw, NULL);
        if (rc != KOOP_OK)
            break;
    }
    mdb_cursor_close(cur);
    if (w.n > 1)
        qsort(w.items, w.n, sizeof *w.items, s_cmp_due);
    return cases_list_done(call, rc, &koop__cases__task_list__descriptor, w.items, w.n);
}
