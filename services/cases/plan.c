/*
 * plan.c - the plan of an IPW: goals with PSR scaling, and tasks (actions).
 *
 * Goal: an area, a description (LOCAL text), PSR scaling 0-10 at baseline,
 * the target, and every later review (value + date, in entry order).
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
 * the task is added. The optional service is an entry of the registry's list
 * of activities and services. Step dates are the caller's (history can be
 * entered); a task is never done or cancelled before it started.
 *
 * Task owners find their tasks through the index "task_owner": key = owner
 * person id + task id.
 */
#include "cases.h"
#include "present.h"

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

static int
s_goal_change(koop_call_t *call, const Koop__Cases__Goal *g, const char *type, const char *date, int has_value,
              int32_t value, const char *summary)
{
    Koop__Cases__GoalFacts f = KOOP__CASES__GOAL_FACTS__INIT;
    cases_change_t ch = {type, &g->base, &f.base, g->ipw, date, g->id, summary};
    f.goal = g->id;
    f.ipw = g->ipw;
    f.has_area = 1;
    f.area = g->area;
    f.has_baseline = 1;
    f.baseline = g->baseline;
    f.has_target = 1;
    f.target = g->target;
    f.has_value = has_value;
    f.value = value;
    f.date = (char *)date;
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
        (rc = koop_check_text(call, "description", q->description, 0, KOOP_MAX_TEXT)) != KOOP_OK ||
        (rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_date(call, ipw, q->date, date)) != KOOP_OK ||
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
    if ((rc = cases_load(call, "goal", &koop__cases__goal__descriptor, "goal", q->goal, (ProtobufCMessage **)&g)) !=
        KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", g->ipw, 1, &ipw)) != KOOP_OK)
        goto done;
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

static int
s_task_change(koop_call_t *call, const Koop__Cases__Task *t, const char *type, const char *date, const char *summary)
{
    Koop__Cases__TaskFacts f = KOOP__CASES__TASK_FACTS__INIT;
    cases_change_t ch = {type, &t->base, &f.base, t->ipw, date, t->id, summary};
    f.task = t->id;
    f.ipw = t->ipw;
    f.goal = t->goal;
    f.has_status = 1;
    f.status = t->status;
    f.due = t->due;
    f.date = (char *)date;
    f.owner_institution = t->owner_institution;
    f.has_owner_sector = t->has_owner_sector;
    f.owner_sector = t->owner_sector;
    f.service = t->service;
    f.service_provider = t->service_provider;
    return cases_record_change(call, &ch);
}

static int
s_owner_index(koop_call_t *call, const char *owner, const char *task)
{
    unsigned char key[2 * (KOOP_ID_LEN - 1)];
    MDB_val k = {sizeof key, key}, v = {0, ""};
    int rc;
    memcpy(key, owner, KOOP_ID_LEN - 1);
    memcpy(key + KOOP_ID_LEN - 1, task, KOOP_ID_LEN - 1);
    if ((rc = mdb_put(call->txn, cases_dbi(call, "task_owner"), &k, &v, 0)) != 0)
        return koop_call_store_error(call, rc);
    return KOOP_OK;
}

int
cases_task_add(koop_call_t *call)
{
    const Koop__Cases__TaskAdd *q = (const Koop__Cases__TaskAdd *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Goal *goal = NULL;
    Koop__Cases__Task t = KOOP__CASES__TASK__INIT;
    cases_person_t who, owner;
    Koop__Reg__Sector provider_sector = KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    char id[KOOP_ID_LEN], provider[KOOP_ID_LEN] = "", date[11], summary[200];
    int rc;

    cases_audit_note(call, NULL, q->ipw, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_check_id(call, "owner", q->owner, 1)) != KOOP_OK ||
        (rc = koop_check_date(call, "due", q->due, 1)) != KOOP_OK ||
        (rc = koop_check_text(call, "title", q->title, 1, 300)) != KOOP_OK ||
        (rc = cases_check_id(call, "goal", q->goal, 0)) != KOOP_OK ||
        (rc = cases_check_id(call, "service", q->service, 0)) != KOOP_OK ||
        (rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", q->ipw, 1, &ipw)) != KOOP_OK)
        return rc;
    if (q->goal && *q->goal && (rc = s_goal_of(call, "goal", q->goal, ipw->id, &goal)) != KOOP_OK)
        goto done;
    if ((rc = cases_person(call, "owner", q->owner, &owner)) != KOOP_OK)
        goto done;
    if (!cases_member(ipw, owner.id)) {
        rc = koop_fail(call, ZZK_MEMBER_REQUIRED, "owner", owner.id, ipw->number);
        goto done;
    }
    if (q->service && *q->service && (rc = cases_catalogue(call, "service", q->service, provider, &provider_sector)) != KOOP_OK)
        goto done;
    if ((rc = cases_ipw_date(call, ipw, q->date, date)) != KOOP_OK ||
        (rc = cases_check_children(call, ipw->id)) != KOOP_OK || (rc = cases_new_id(call, id)) != KOOP_OK)
        goto done;
    cases_audit_note(call, NULL, NULL, id);
    t.id = id;
    t.ipw = ipw->id;
    t.goal = q->goal && *q->goal ? q->goal : NULL;
    t.title = q->title;
    t.owner = owner.id;
    t.owner_institution = owner.institution[0] ? owner.institution : NULL;
    t.has_owner_sector = owner.sector != KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    t.owner_sector = owner.sector;
    t.service = q->service && *q->service ? q->service : NULL;
    t.service_provider = provider[0] ? provider : NULL;
    t.due = q->due;
    t.has_status = 1;
    t.status = TS(PLANNED);
    t.added = date;
    snprintf(summary, sizeof summary, "zadanie: %.120s (termin %s)", q->title, q->due);
    if ((rc = cases_save(call, "task", id, &t.base)) != KOOP_OK || (rc = cases_child_add(call, ipw->id, 't', id)) != KOOP_OK ||
        (rc = s_owner_index(call, owner.id, id)) != KOOP_OK || (rc = s_task_change(call, &t, "task.added", date, summary)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &t.base);
done:
    if (goal)
        koop__cases__goal__free_unpacked(goal, NULL);
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

typedef struct {
    const char *method;  /* the step asked for, a word of errors.def */
    unsigned from;
    const char *needs;   /* the states of `from`, a word */
    Koop__Cases__TaskStatus to;
    const char *type;
    const char *summary;
} s_task_step_t;

static const s_task_step_t s_start = {"task.start", 1u << TS(PLANNED), "task_planned", TS(IN_PROGRESS),
                                      "task.started", "rozpoczęto"};
static const s_task_step_t s_done = {"task.done", 1u << TS(PLANNED) | 1u << TS(IN_PROGRESS), "task_open", TS(DONE),
                                     "task.done", "wykonano"};
static const s_task_step_t s_cancel = {"task.cancel", 1u << TS(PLANNED) | 1u << TS(IN_PROGRESS), "task_open",
                                       TS(CANCELLED), "task.cancelled", "anulowano"};

/* The state as a word of errors.def, for refusals. */
static const char *
s_task_state_word(Koop__Cases__TaskStatus st)
{
    switch (st) {
    case TS(PLANNED): return "task_planned";
    case TS(IN_PROGRESS): return "task_in_progress";
    case TS(DONE): return "task_done";
    case TS(CANCELLED): return "task_cancelled";
    default: return "?";
    }
}

static int
s_task_step(koop_call_t *call, const s_task_step_t *s)
{
    const Koop__Cases__TaskStep *q = (const Koop__Cases__TaskStep *)call->req;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Task *t = NULL;
    cases_person_t who;
    const char *floor;
    char date[11], summary[200];
    int rc;

    cases_audit_note(call, NULL, NULL, q->task);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_date(call, "date", q->date, 0)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 0, 1000)) != KOOP_OK)
        return rc;
    if ((rc = cases_load(call, "task", &koop__cases__task__descriptor, "task", q->task, (ProtobufCMessage **)&t)) !=
        KOOP_OK)
        return rc;
    if ((rc = cases_ipw_load(call, &who, "ipw", t->ipw, 1, &ipw)) != KOOP_OK)
        goto done;
    if (!(s->from & (1u << t->status))) {
        rc = koop_fail(call, STATE_ILLEGAL_TRANSITION, NULL, t->id, s_task_state_word(t->status), s->method, s->needs);
        goto done;
    }
    floor = t->started && *t->started ? t->started : ipw->opened;
    if ((rc = cases_step_date(call, "date", q->date, floor, date)) != KOOP_OK)
        goto done;
    if (cases_date_before(date, floor)) {
        rc = koop_fail(call, DATE_ORDER, "date", date, floor == ipw->opened ? "ipw_opened" : "task_started", floor);
        goto done;
    }
    t->status = s->to;
    if (s == &s_start)
        rc = cases_set(call, &t->started, date);
    else if (s == &s_done)
        rc = cases_set(call, &t->done, date);
    else
        rc = cases_set(call, &t->cancelled, date);
    if (rc == KOOP_OK && q->reason && *q->reason)
        rc = cases_set(call, &t->reason, q->reason);
    if (rc != KOOP_OK)
        goto done;
    snprintf(summary, sizeof summary, "%s zadanie: %.120s", s->summary, t->title ? t->title : "");
    if ((rc = cases_save(call, "task", t->id, &t->base)) != KOOP_OK ||
        (rc = s_task_change(call, t, s->type, date, summary)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &t->base);
done:
    koop__cases__task__free_unpacked(t, NULL);
    if (ipw)
        koop__cases__ipw__free_unpacked(ipw, NULL);
    return rc;
}

int cases_task_start(koop_call_t *call) { return s_task_step(call, &s_start); }
int cases_task_done(koop_call_t *call) { return s_task_step(call, &s_done); }
int cases_task_cancel(koop_call_t *call) { return s_task_step(call, &s_cancel); }

/* The caller's tasks (as owner) in programmes they can still see, by due date. */
static int
s_cmp_due(const void *a, const void *b)
{
    const Koop__Cases__Task *x = *(Koop__Cases__Task *const *)a, *y = *(Koop__Cases__Task *const *)b;
    int c = strcmp(x->due ? x->due : "", y->due ? y->due : "");
    return c ? c : strcmp(x->id, y->id);
}

int
cases_task_mine(koop_call_t *call)
{
    const Koop__Cases__TaskQuery *q = (const Koop__Cases__TaskQuery *)call->req;
    ProtobufCMessage **items = NULL;
    size_t n = 0;
    cases_person_t who;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "task_owner"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    k.mv_size = KOOP_ID_LEN - 1;
    k.mv_data = who.id;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == 2 * (KOOP_ID_LEN - 1) && memcmp(k.mv_data, who.id, KOOP_ID_LEN - 1) == 0) {
        char tid[KOOP_ID_LEN];
        Koop__Cases__Task *t = NULL;
        Koop__Cases__Ipw *ipw = NULL;
        int keep;
        memcpy(tid, (char *)k.mv_data + KOOP_ID_LEN - 1, KOOP_ID_LEN - 1);
        tid[KOOP_ID_LEN - 1] = '\0';
        rc = koop_record_get(call->txn, cases_dbi(call, "task"), tid, &koop__cases__task__descriptor,
                             (ProtobufCMessage **)&t);
        if (rc == 0)
            rc = koop_record_get(call->txn, cases_dbi(call, "ipw"), t->ipw, &koop__cases__ipw__descriptor,
                                 (ProtobufCMessage **)&ipw);
        if (rc != 0) {
            /* index and records are written together: a miss is damage, not the end */
            if (rc == MDB_NOTFOUND)
                rc = MDB_CORRUPTED;
            if (t)
                koop__cases__task__free_unpacked(t, NULL);
            break;
        }
        keep = cases_ipw_visible(&who, ipw) && (!q->has_status || !q->status || t->status == q->status);
        koop__cases__ipw__free_unpacked(ipw, NULL);
        if (!keep) {
            koop__cases__task__free_unpacked(t, NULL);
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
