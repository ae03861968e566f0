/*
 * config - the node's INI file (one per node, written by `koopctl node init`).
 *
 *   [node]      id, name, role (gmina|hub), teryt, data_dir, runtime_dir
 *   [endpoints] one per service of common/services.def  (ipc:// or tcp://)
 *   [sync]      hub, hub_key, listen, alert_after
 *   [retention] case_years, household_years, audit_years, timer (docs/ACCOUNTABILITY.md)
 *   [reporting] publish (approved | provisional)
 *   [notifier]  smtp_url, smtp_user, smtp_password_file, smtp_ca_file, from, web_url
 *   [gateway]   listen (HOST:PORT), tls, trusted_proxy, origin, require_totp_for,
 *               web_dir and the limits (docs/GATEWAY.md); numbers are kept as
 *               their digits (koop_config_num), checked here
 *
 * Relative paths are taken relative to the file's directory. An unknown
 * section or key, or a bad value, is an error that names file:line.
 */
#ifndef KOOP_CONFIG_H
#define KOOP_CONFIG_H

#include "services.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define KOOP_CONF_STR 256

typedef struct koop_config {
    char path[PATH_MAX];
    char dir[PATH_MAX]; /* directory of the file */
    char node_id[64];
    char name[KOOP_CONF_STR];
    char role[16];
    char teryt[16];
    char data_dir[PATH_MAX];
    char runtime_dir[PATH_MAX];
    char endpoints[KOOP_SVC_COUNT][KOOP_CONF_STR]; /* [endpoints], by services.def */
    char sync_hub[KOOP_CONF_STR];
    char sync_hub_key[PATH_MAX];
    char sync_listen[KOOP_CONF_STR];
    char sync_alert_after[16];   /* "1h": koopctl status alerts on a link down longer */
    char smtp_url[KOOP_CONF_STR];
    char smtp_user[KOOP_CONF_STR];
    char smtp_password_file[PATH_MAX];
    char smtp_ca_file[PATH_MAX];   /* CA certificates the relay's TLS certificate is checked against */
    char mail_from[KOOP_CONF_STR];
    char web_url[KOOP_CONF_STR];
    /* [retention]: years as digits ("" = the default of docs/ACCOUNTABILITY.md) */
    char retention_case_years[4];
    char retention_household_years[4];
    char retention_audit_years[4];
    char retention_timer[8];   /* daily (default) | off */
    char reporting_publish[16]; /* provisional (default) | approved */
    char gw_listen[KOOP_CONF_STR];
    char gw_tls[8];               /* on | off */
    char gw_trusted_proxy[64];    /* address whose X-Forwarded-* headers count */
    char gw_origin[KOOP_CONF_STR];/* the public origin, https://koop.example */
    char gw_require_totp_for[16]; /* coordinator | none */
    char gw_web_dir[PATH_MAX];
    char gw_session_idle_min[12], gw_session_max_hours[12], gw_max_body_kib[12], gw_max_header_kib[12],
        gw_max_connections[12], gw_per_ip_connections[12], gw_request_timeout_s[12], gw_idle_timeout_s[12],
        gw_password_ops[12], gw_password_mem_mib[12], gw_hash_workers[12];
} koop_config_t;

/* Loads `path` into *cfg. On error returns -1 and writes a Polish message
 * naming file:line into err (errlen bytes). */
int koop_config_load(koop_config_t *cfg, const char *path, char *err, size_t errlen);

/* The endpoint of a service by name ("registry", "cases", ...); NULL if unknown
 * or not configured. */
const char *koop_config_endpoint(const koop_config_t *cfg, const char *service);

/* The i-th key a node's file may hold, in file order: its section and name.
 * Returns 1, or 0 when i is past the last key. */
int koop_config_key(size_t i, const char **section, const char **key);
/* A number key's value (digits checked at load), or dflt when not set. */
unsigned long koop_config_num(const char *value, unsigned long dflt);

/* A duration written N followed by s, m, h or d ("90s", "30m", "1h", "2d")
 * in milliseconds; 0 when it is not one (or is zero). */
uint64_t koop_config_duration_ms(const char *value);

/* [sync] alert_after in ms: how long the link to the hub (or, on a hub, to
 * a gmina) may be down before `koopctl status` says so. */
#define KOOP_ALERT_AFTER_DEFAULT_MS (3600ull * 1000)
uint64_t koop_config_alert_after_ms(const koop_config_t *cfg);

/* A [retention] number of years, or dflt when the key is not set. */
int koop_config_years(const char *value, int dflt);

/* 1 when role is "hub". */
int koop_config_is_hub(const koop_config_t *cfg);

#define KOOP_MAX_SERVICES KOOP_SVC_COUNT
/* The services this node runs (those with an endpoint), in start order;
 * returns how many were written to out. */
int koop_config_services(const koop_config_t *cfg, const char *out[KOOP_MAX_SERVICES]);

#endif
