/* koop-registry - the registry service of a node (see registry.h). */
#include "registry.h"

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

static const koop_method_t s_methods[] = {
#define KOOP_API_registry(fn, name, ...) {name, fn},
#include "api_rows.h"
#undef KOOP_API_registry
};

static const char *const s_tables[] = {"institution", "person", "agreement", "pzk", "catalogue",
                                       "remote", "meta", NULL};

static const koop_service_def_t s_registry = {
    .name = "registry",
    .tables = s_tables,
    .methods = s_methods,
    .nmethods = KOOP_ARRAY_LEN(s_methods),
    .start = reg_node_describe,
    .names = reg_names,
};

int
main(int argc, char **argv)
{
    return koop_service_main(&s_registry, argc, argv, NULL);
}
