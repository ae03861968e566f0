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

#define W KOOP_METHOD_WRITE
static const koop_method_t s_methods[] = {
    {"institution.add", &koop__reg__institution__descriptor, s_institution_add, W},
    {"institution.update", &koop__reg__institution__descriptor, s_institution_update, W},
    {"institution.show", &koop__reg__by_id__descriptor, s_institution_show, 0},
    {"institution.list", &koop__reg__institution_query__descriptor, reg_institution_list, 0},
    {"person.add", &koop__reg__person__descriptor, s_person_add, W},
    {"person.update", &koop__reg__person__descriptor, s_person_update, W},
    {"person.show", &koop__reg__by_id__descriptor, s_person_show, 0},
    {"person.list", &koop__reg__person_query__descriptor, reg_person_list, 0},
    {"agreement.add", &koop__reg__agreement__descriptor, s_agreement_add, W},
    {"agreement.list", &koop__reg__agreement_query__descriptor, reg_agreement_list, 0},
    {"pzk.create", &koop__reg__pzk__descriptor, reg_pzk_create, W},
    {"pzk.join", &koop__reg__pzk_change__descriptor, reg_pzk_join, W},
    {"pzk.leave", &koop__reg__pzk_change__descriptor, reg_pzk_leave, W},
    {"pzk.dissolve", &koop__reg__pzk_change__descriptor, reg_pzk_dissolve, W},
    {"pzk.show", &koop__reg__by_id__descriptor, s_pzk_show, 0},
    {"pzk.list", &koop__reg__pzk_query__descriptor, reg_pzk_list, 0},
    {"service.add", &koop__reg__catalogue_entry__descriptor, reg_catalogue_add, W},
    {"service.update", &koop__reg__catalogue_entry__descriptor, s_catalogue_update, W},
    {"service.show", &koop__reg__by_id__descriptor, s_catalogue_show, 0},
    {"service.search", &koop__reg__catalogue_query__descriptor, reg_catalogue_search, 0},
    {"remote.apply", &koop__reg__remote_apply__descriptor, reg_remote_apply, W},
    {"remote.position", &koop__reg__remote_position__descriptor, reg_remote_position, 0},
};
#undef W

static const char *const s_tables[] = {"institution", "person", "agreement", "pzk", "catalogue",
                                       "remote", NULL};

static const koop_service_def_t s_registry = {
    .name = "registry",
    .tables = s_tables,
    .methods = s_methods,
    .nmethods = KOOP_ARRAY_LEN(s_methods),
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
