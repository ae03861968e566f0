/* koop-cases - the cases service of a gmina node (see cases.h). */
#include "cases.h"

/* Every method is a write method: reads of case data are audited, and the
 * audit entry must commit with the batch (see access.c). Each handler starts
 * with no audit notes of an earlier call (a batch retried after the map grew
 * runs the calls again). */
#define H(name)                                                                                    \
    static int s_##name(koop_call_t *call)                                                         \
    {                                                                                              \
        cases_audit_reset(call);                                                                   \
        return cases_##name(call);                                                                 \
    }
H(household_add)
H(household_show)
H(household_list)
H(household_member_add)
H(consent_record)
H(consent_withdraw)
H(ipw_open)
H(ipw_show)
H(ipw_list)
H(ipw_activate)
H(ipw_suspend)
H(ipw_resume)
H(ipw_review)
H(ipw_close)
H(ipw_timeline)
H(member_add)
H(member_remove)
H(goal_add)
H(goal_scale)
H(task_add)
H(task_start)
H(task_done)
H(task_cancel)
H(task_mine)
H(meeting_add)
H(referral_send)
H(referral_accept)
H(referral_decline)
H(referral_done)
H(audit_show)
#undef H

#define M(method, req, fn) {method, &koop__cases__##req##__descriptor, s_##fn, KOOP_METHOD_WRITE}
static const koop_method_t s_methods[] = {
    M("household.add", household_add, household_add),
    M("household.show", household_ref, household_show),
    M("household.list", household_query, household_list),
    M("household.member.add", household_member_add, household_member_add),
    M("consent.record", consent_record, consent_record),
    M("consent.withdraw", consent_withdraw, consent_withdraw),
    M("ipw.open", ipw_open, ipw_open),
    M("ipw.show", ipw_ref, ipw_show),
    M("ipw.list", ipw_query, ipw_list),
    M("ipw.activate", ipw_step, ipw_activate),
    M("ipw.suspend", ipw_step, ipw_suspend),
    M("ipw.resume", ipw_step, ipw_resume),
    M("ipw.review", ipw_step, ipw_review),
    M("ipw.close", ipw_close, ipw_close),
    M("ipw.timeline", ipw_ref, ipw_timeline),
    M("ipw.member.add", member_change, member_add),
    M("ipw.member.remove", member_change, member_remove),
    M("goal.add", goal_add, goal_add),
    M("goal.scale", goal_scale, goal_scale),
    M("task.add", task_add, task_add),
    M("task.start", task_step, task_start),
    M("task.done", task_step, task_done),
    M("task.cancel", task_step, task_cancel),
    M("task.mine", task_query, task_mine),
    M("meeting.add", meeting_add, meeting_add),
    M("referral.send", referral_send, referral_send),
    M("referral.accept", referral_step, referral_accept),
    M("referral.decline", referral_step, referral_decline),
    M("referral.done", referral_step, referral_done),
    M("audit.show", audit_query, audit_show),
};
#undef M

static const char *const s_tables[] = {
    "household", "consent", "ipw", "ipw_child", "goal", "task", "task_owner", "meeting", "referral",
    "timeline", "meta", "audit", "copy_person", "copy_institution", "copy_service", NULL,
};

static int
s_start(koop_service_t *svc)
{
    cases_t *c = koop_service_user(svc);
    c->svc = svc;
    return cases_copy_start(c);
}

static void
s_stop(koop_service_t *svc)
{
    cases_copy_stop(koop_service_user(svc));
}

static const koop_service_def_t s_cases = {
    .name = "cases",
    .tables = s_tables,
    .methods = s_methods,
    .nmethods = KOOP_ARRAY_LEN(s_methods),
    .start = s_start,
    .stop = s_stop,
    .after_write = cases_after_write,
};

/* The definition, for in-process drivers (tests/fuzz). */
const koop_service_def_t *
cases_service_def(void)
{
    return &s_cases;
}

int
main(int argc, char **argv)
{
    static cases_t cases;
    return koop_service_main(&s_cases, argc, argv, &cases);
}
