/* services.c - the services of services.def (see services.h). */
#include "services.h"

#include <string.h>

const koop_service_info_t koop_services[KOOP_SVC_COUNT] = {
#define KOOP_SERVICE(name, roles, flags) {KOOP_SVC_ID_##name, #name, (roles), (flags)},
#include "services.def"
#undef KOOP_SERVICE
};

const koop_service_info_t *
koop_service_info(const char *name)
{
    for (size_t i = 0; name && i < KOOP_SVC_COUNT; i++)
        if (strcmp(koop_services[i].name, name) == 0)
            return &koop_services[i];
    return NULL;
}

int
koop_service_runs_on(const koop_service_info_t *svc, const char *role)
{
    unsigned r = role && strcmp(role, "hub") == 0 ? KOOP_SVC_HUB : KOOP_SVC_GMINA;
    return svc && (svc->roles & r) != 0;
}
