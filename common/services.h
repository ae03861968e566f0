/*
 * services - the one table of a node's services (common/services.def).
 */
#ifndef KOOP_SERVICES_H
#define KOOP_SERVICES_H

#include <stddef.h>

#define KOOP_SVC_GMINA 1u
#define KOOP_SVC_HUB 2u

#define KOOP_SVC_PERSON 1u
#define KOOP_SVC_FEED 2u
#define KOOP_SVC_STREAM 4u
#define KOOP_SVC_HUB_STREAM 8u

typedef enum {
#define KOOP_SERVICE(name, roles, flags) KOOP_SVC_ID_##name,
#include "services.def"
#undef KOOP_SERVICE
    KOOP_SVC_COUNT
} koop_svc_id_t;

typedef struct {
    koop_svc_id_t id;
    const char *name;     /* "registry": program koop-registry, [endpoints] registry */
    unsigned roles;       /* KOOP_SVC_GMINA | KOOP_SVC_HUB */
    unsigned flags;       /* KOOP_SVC_PERSON ... */
} koop_service_info_t;

extern const koop_service_info_t koop_services[KOOP_SVC_COUNT];

/* The row of a service name (NULL when none). */
const koop_service_info_t *koop_service_info(const char *name);
/* 1 when a node of role ("gmina"/"hub") runs the service. */
int koop_service_runs_on(const koop_service_info_t *svc, const char *role);

#endif
