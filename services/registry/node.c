/*
 * node.c - the node names itself to its hub: at start, when it has a hub
 * ([sync] hub) and the name or TERYT in the config differ from what the
 * registry last announced (meta "node"), it appends a SHARED node.described
 * event (koop.reg.NodeInfo). Hubs read it to name the gminas in their
 * reports; nothing else depends on it. A node without a hub has nobody to
 * tell (it names itself from its config).
 */
#include "registry.h"
#include "say.h"

#include <stdlib.h>
#include <string.h>

static int
s_describe(MDB_txn *txn, void *ctx)
{
    koop_service_t *svc = ctx;
    const koop_config_t *cfg = koop_service_config(svc);
    MDB_dbi meta = koop_store_dbi(koop_service_store(svc), "meta");
    Koop__Reg__NodeInfo info = KOOP__REG__NODE_INFO__INIT;
    uint8_t *buf;
    size_t len;
    MDB_val v;
    int rc;

    info.node = (char *)cfg->node_id;
    info.name = (char *)cfg->name;
    info.teryt = (char *)cfg->teryt;
    info.role = (char *)cfg->role;
    len = koop__reg__node_info__get_packed_size(&info);
    if (!(buf = malloc(len ? len : 1)))
        return ENOMEM;
    koop__reg__node_info__pack(&info, buf);
    rc = koop_store_get_str(txn, meta, "node", &v);
    if (rc == 0 && v.mv_size == len && memcmp(v.mv_data, buf, len) == 0)
        rc = 0; /* announced already */
    else if (rc != 0 && rc != MDB_NOTFOUND)
        ;
    else if ((rc = koop_log_append(koop_service_log(svc), txn, "node.described", KOOP__SCOPE__SCOPE_SHARED, "", buf,
                                   len, NULL)) == 0)
        rc = koop_store_put_str(txn, meta, "node", buf, len);
    free(buf);
    return rc;
}

int
reg_node_describe(koop_service_t *svc)
{
    int rc;
    if (!koop_service_config(svc)->sync_hub[0])
        return 0;
    rc = koop_store_write(koop_service_store(svc), s_describe, svc);
    if (rc != 0) {
        koop_error("cannot announce the node's name: %s", koop_strerror(rc));
        return -1;
    }
    koop_service_events_committed(svc);
    return 0;
}
