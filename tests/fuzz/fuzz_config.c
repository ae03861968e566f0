/*
 * fuzz_config - the node's INI file (common/config.c): the input is written
 * as DIR/koop.conf and loaded. Checked: no crash; a config that loads has
 * what its users rely on (a valid node id, role, TERYT, absolute data and
 * runtime dirs, ipc:// or tcp:// endpoints, a registry endpoint); an error
 * names the file.
 */
#include "fuzz.h"

#include <errno.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512], err[600];
    const char *svcs[KOOP_MAX_SERVICES];
    koop_config_t cfg;
    FILE *f;
    int n;

    fz_init();
    snprintf(path, sizeof path, "%s/koop.conf", fz_scratch());
    f = fopen(path, "wb");
    FZ_ASSERT(f != NULL);
    FZ_ASSERT(fwrite(data, 1, size, f) == size);
    FZ_ASSERT(fclose(f) == 0);
    err[0] = '\0';
    if (koop_config_load(&cfg, path, err, sizeof err) != 0) {
        FZ_ASSERT(strncmp(err, path, strlen(path)) == 0);
        return 0;
    }
    FZ_ASSERT(cfg.node_id[0] && strspn(cfg.node_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
                                    strlen(cfg.node_id));
    FZ_ASSERT(strcmp(cfg.role, "gmina") == 0 || strcmp(cfg.role, "hub") == 0);
    FZ_ASSERT(strlen(cfg.teryt) == 2 || strlen(cfg.teryt) == 4 || strlen(cfg.teryt) == 7);
    FZ_ASSERT(cfg.data_dir[0] == '/' && cfg.runtime_dir[0] == '/');
    FZ_ASSERT(koop_config_endpoint(&cfg, "registry") != NULL);
    n = koop_config_services(&cfg, svcs);
    FZ_ASSERT(n >= 1 && n <= KOOP_MAX_SERVICES);
    for (int i = 0; i < n; i++) {
        const char *ep = koop_config_endpoint(&cfg, svcs[i]);
        FZ_ASSERT(ep && (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "tcp://", 6) == 0));
    }
    return 0;
}
