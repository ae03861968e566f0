/*
 * config - the node's INI file (one per node, written by `koopctl node init`).
 *
 *   [node]      id, name, role (gmina|hub), teryt, data_dir, runtime_dir
 *   [endpoints] one per service of common/services.def  (ipc:// or tcp://)
 *   [sync]      hub, hub_key, listen
 *   [notifier]  smtp_url, smtp_user, smtp_password_file, smtp_ca_file, from, web_url
 *
 * Relative paths are taken relative to the file's directory. An unknown
 * section or key, or a bad value, is an error that names file:line.
 */
#ifndef KOOP_CONFIG_H
#define KOOP_CONFIG_H

#include "services.h"

#include <limits.h>
#include <stddef.h>

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
    char smtp_url[KOOP_CONF_STR];
    char smtp_user[KOOP_CONF_STR];
    char smtp_password_file[PATH_MAX];
    char smtp_ca_file[PATH_MAX];   /* CA certificates the relay's TLS certificate is checked against */
    char mail_from[KOOP_CONF_STR];
    char web_url[KOOP_CONF_STR];
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

/* 1 when role is "hub". */
int koop_config_is_hub(const koop_config_t *cfg);

#define KOOP_MAX_SERVICES KOOP_SVC_COUNT
/* The services this node runs (those with an endpoint), in start order;
 * returns how many were written to out. */
int koop_config_services(const koop_config_t *cfg, const char *out[KOOP_MAX_SERVICES]);

#endif
