/* koop-gateway - the node's HTTP/JSON API (see gateway.h, docs/GATEWAY.md). */
#include "gateway.h"
#include "say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw_t s_gw;

static const char *const s_tables[] = {"accounts", "account_by_person", "sessions", NULL};

static const koop_method_t s_methods[] = {
#define KOOP_API_gateway(fn, name, ...) {name, fn},
#include "api_rows.h"
#undef KOOP_API_gateway
};

/* The [gateway] section into gw->lim (values were checked by config.c). */
static void
s_limits(gw_t *gw, const koop_config_t *cfg)
{
    gw_limits_t *l = &gw->lim;
    const char *listen = cfg->gw_listen[0] ? cfg->gw_listen : "127.0.0.1:8080";
    const char *colon = strrchr(listen, ':');
    snprintf(l->host, sizeof l->host, "%.*s", (int)(colon - listen), listen);
    if (l->host[0] == '[') { /* [::1]:8080 */
        memmove(l->host, l->host + 1, strlen(l->host));
        l->host[strcspn(l->host, "]")] = '\0';
    }
    l->port = atoi(colon + 1);
    l->tls = strcmp(cfg->gw_tls, "on") == 0;
    snprintf(l->trusted_proxy, sizeof l->trusted_proxy, "%s", cfg->gw_trusted_proxy);
    snprintf(l->origin, sizeof l->origin, "%s", cfg->gw_origin);
    l->totp_for_coordinators = strcmp(cfg->gw_require_totp_for, "coordinator") == 0;
    l->idle_ms = koop_config_num(cfg->gw_session_idle_min, 30) * 60000ull;
    l->absolute_ms = koop_config_num(cfg->gw_session_max_hours, 12) * 3600000ull;
    l->max_body = koop_config_num(cfg->gw_max_body_kib, 1024) * 1024;
    l->max_header = koop_config_num(cfg->gw_max_header_kib, 32) * 1024;
    l->max_connections = (unsigned)koop_config_num(cfg->gw_max_connections, 512);
    l->per_ip_connections = (unsigned)koop_config_num(cfg->gw_per_ip_connections, 0);
    l->request_timeout_s = (unsigned)koop_config_num(cfg->gw_request_timeout_s, 30);
    l->idle_timeout_s = (unsigned)koop_config_num(cfg->gw_idle_timeout_s, 15);
    l->hash_workers = (unsigned)koop_config_num(cfg->gw_hash_workers, 2);
    if (l->hash_workers < 1)
        l->hash_workers = 1;
    if (l->max_header < 4096)
        l->max_header = 4096;
    koop_password_params(cfg, &l->pw);
}

static int
s_start(koop_service_t *svc)
{
    gw_t *gw = &s_gw;
    int rc;
    gw->svc = svc;
    gw->store = koop_service_store(svc);
    gw->client = koop_service_client(svc);
    gw->cfg = koop_service_config(svc);
    gw->dbi_accounts = koop_store_dbi(gw->store, "accounts");
    gw->dbi_by_person = koop_store_dbi(gw->store, "account_by_person");
    gw->dbi_sessions = koop_store_dbi(gw->store, "sessions");
    if (sodium_init() < 0)
        return -1;
    s_limits(gw, gw->cfg);
    gw_static_find_dir(gw);
    if ((rc = gw_routes_build(&gw->routes)) != 0) {
        koop_error("common/api.def: trasa, której brama nie obsłuży");
        return rc;
    }
    if ((rc = gw_login_init(gw)) != 0)
        return rc;
    if ((rc = gw_metrics_start(gw)) != 0)
        return rc;
    return gw_httpd_start(gw);
}

static void
s_stop(koop_service_t *svc)
{
    gw_t *gw = koop_service_user(svc);
    gw_httpd_stop(gw);
    gw_login_stop(gw);
    gw_metrics_stop(gw);
}

int
main(int argc, char **argv)
{
    static const koop_service_def_t def = {
        .name = "gateway",
        .tables = s_tables,
        .methods = s_methods,
        .nmethods = KOOP_ARRAY_LEN(s_methods),
        .start = s_start,
        .stop = s_stop,
    };
    int rc = koop_service_main(&def, argc, argv, &s_gw);
    gw_routes_free(&s_gw.routes);
    free(s_gw.buckets);
    return rc;
}
