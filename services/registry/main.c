/* koop-registry - the registry service of a node (see registry.h). */
#include "registry.h"
#include "api.h"

static int s_institution_add(koop_call_t *c) { return reg_add(c, &reg_institution_kind); }
static int s_institution_update(koop_call_t *c) { return reg_update(c, &reg_institution_kind); }
static int s_institution_show(koop_call_t *c) { return reg_show(c, &reg_institution_kind); }
static int s_person_add(koop_call_t *c) { return reg_add(c, &reg_person_kind); }
static int s_person_update(koop_call_t *c) { return reg_update(c, &reg_person_kind); }
static int s_person_show(koop_call_t *c) { return reg_show(c, &reg_person_kind); }
static int s_agreement_add(koop_call_t *c) { return reg_add(c, &reg_agreement_kind); }
static int s_pzk_show(koop_call_t *c) { return reg_show(c, &reg_pzk_kind); }
static int s_catalogue_update(koop_call_t *c) { return reg_update(c, &reg_catalogue_kind); }
static int s_catalogue_show(koop_call_t *c) { return reg_show(c, &reg_catalogue_kind); }

/* Who may change the registry. A call that names a person (the web
 * gateway passes the one logged in) is a change only a coordinator, an
 * animator or a model expert of this registry may make; a call without one
 * comes from the node's own user on the server (koopctl, the trust boundary
 * of docs/FOUNDATION.md) or from another service, and is trusted as before.
 * Reads are open to every caller. */
static int
s_may_write(koop_call_t *call, unsigned flags)
{
    Koop__Reg__Person *p = NULL;
    int rc;
    if (!(flags & KOOP_API_WRITE) || (flags & KOOP_API_INTERNAL) || !call->caller || !*call->caller)
        return KOOP_OK;
    rc = koop_record_get(call->txn, reg_dbi(call, &reg_person_kind), call->caller, &koop__reg__person__descriptor,
                         (ProtobufCMessage **)&p);
    if (rc == MDB_NOTFOUND)
        return koop_fail(call, ACCESS_CALLER_UNKNOWN, NULL, call->caller);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if (p->has_active && !p->active)
        rc = koop_fail(call, ACCESS_CALLER_INACTIVE, NULL, call->caller);
    else if (p->role != KOOP__REG__ROLE__ROLE_COORDINATOR && p->role != KOOP__REG__ROLE__ROLE_ANIMATOR &&
             p->role != KOOP__REG__ROLE__ROLE_MODEL_EXPERT)
        rc = koop_fail(call, ACCESS_DENIED_REGISTRY, NULL);
    else
        rc = KOOP_OK;
    koop__reg__person__free_unpacked(p, NULL);
    return rc;
}

/* Every row's handler behind s_may_write (one check for every write). */
#define KOOP_API_registry(fn, name, req, rep, flags, ...)                                          \
    static int s_checked_##fn(koop_call_t *c)                                                      \
    {                                                                                              \
        int rc = s_may_write(c, (flags));                                                          \
        return rc == KOOP_OK ? fn(c) : rc;                                                         \
    }
#include "api_rows.h"
#undef KOOP_API_registry

static const koop_method_t s_methods[] = {
#define KOOP_API_registry(fn, name, ...) {name, s_checked_##fn},
#include "api_rows.h"
#undef KOOP_API_registry
};

static const char *const s_tables[] = {"institution", "person", "agreement", "pzk", "catalogue",
                                       "remote", "meta", NULL};

/* events.verify: every record is the record its last event carries (for
 * a hub's record, the payload of the hub's envelope in remote.*); the
 * node's description (meta "node", node.c) is the payload of its last
 * node.described, byte for byte. */
static const koop_verify_table_t s_verify_tables[] = {
    {"institution", &koop__reg__institution__descriptor, NULL},
    {"person", &koop__reg__person__descriptor, NULL},
    {"agreement", &koop__reg__agreement__descriptor, NULL},
    {"pzk", &koop__reg__pzk__descriptor, NULL},
    {"catalogue", &koop__reg__catalogue_entry__descriptor, NULL},
    {"meta", NULL, NULL},
};

static int
s_verify_event(koop_verify_t *v, uint64_t seq, const Koop__Event *ev, const koop_event_type_t *type,
               const ProtobufCMessage *payload, int redacted)
{
    (void)payload;
    if (redacted || !type || type->id != KOOP_EV_NODE_DESCRIBED)
        return 0;
    return koop_verify_expect(v, "meta", "node", seq, ev->payload.data, ev->payload.len);
}

static const koop_verify_def_t s_verify = {s_verify_tables, KOOP_ARRAY_LEN(s_verify_tables), s_verify_event, NULL};

static const koop_service_def_t s_registry = {
    .name = "registry",
    .tables = s_tables,
    .methods = s_methods,
    .nmethods = KOOP_ARRAY_LEN(s_methods),
    .verify = &s_verify,
    .start = reg_node_describe,
    .names = reg_names,
};

/* The definition, for in-process drivers (tests/fuzz). */
const koop_service_def_t *
reg_service_def(void)
{
    return &s_registry;
}

int
main(int argc, char **argv)
{
    return koop_service_main(&s_registry, argc, argv, NULL);
}
