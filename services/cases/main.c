/* koop-cases - the cases service of a gmina node (see cases.h). */
#include "cases.h"


/* Every method is a write method (api.def): reads of case data are
 * audited, and the audit entry must commit with the batch (see access.c). */
static const koop_method_t s_methods[] = {
#define KOOP_API_cases(fn, name, ...) {name, fn},
#include "api_rows.h"
#undef KOOP_API_cases
};

static const char *const s_tables[] = {
    "household", "consent", "ipw", "ipw_child", "goal", "task", "task_owner", "meeting", "referral",
    "timeline", "meta", "audit", "audit_chain", "copy_person", "copy_institution", "copy_service", "copy_rep",
    "ipw_number", "pesel", "transfer", "node_name", NULL,
};

static int
s_start(koop_service_t *svc)
{
    cases_t *c = koop_service_user(svc);
    c->svc = svc;
    if (cases_retention_start(c) != 0)
        return -1;
    return cases_copy_start(c);
}

static void
s_stop(koop_service_t *svc)
{
    cases_retention_stop(koop_service_user(svc));
    cases_copy_stop(koop_service_user(svc));
    cases_transfer_stop(koop_service_user(svc));
}

static const koop_service_def_t s_cases = {
    .name = "cases",
    .tables = s_tables,
    .methods = s_methods,
    .nmethods = KOOP_ARRAY_LEN(s_methods),
    .start = s_start,
    .stop = s_stop,
    .after_write = cases_after_write,
    /* each handler starts with no audit notes of an earlier call (a batch
     * retried after the map grew runs the calls again) */
    .before_call = cases_audit_reset,
    .verify = &cases_verify_def,
    .names = cases_names,
    /* raw LOCAL events for a person: coordinators only, audited (access.c) */
    .feed_local = cases_feed_local,
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
