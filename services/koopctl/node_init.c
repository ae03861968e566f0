/*
 * node_init.c - `koopctl node init DIR ...`: one command makes a node.
 *
 * Creates DIR/koop.conf (commented), DIR/data, DIR/run (0700) and the node's
 * CURVE key pair DIR/keys/node.pub + DIR/keys/node.key (0600, CZMQ
 * certificate format). With --hub-key, a copy of the hub's public
 * certificate goes to DIR/keys/hub.pub, so the node's directory holds all
 * it reads. Refuses to overwrite an existing node.
 * --data-dir and --runtime-dir put the data and the sockets elsewhere (an
 * installed node: /var/lib/koop/NAME and /run/koop/NAME, see
 * docs/OPERATIONS.md). Every service listens on an ipc:// socket in the
 * runtime directory; when that path would be too long for a unix socket,
 * node init refuses (it never falls back to TCP, which any local user
 * could reach).
 */
#include "koopctl.h"
#include "cert.h"
#include "koop.h"
#include "keyprint.h"
#include "preflight.h"
#include "present.h"
#include "text.h"

#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* A unix socket path holds at most 107 bytes; ZeroMQ's ipc:// wants fewer. */
#define SOCKET_PATH_MAX 100

int
kc_absolute(const char *path, char *out, size_t size)
{
    char cwd[PATH_MAX];
    int n;
    if (path[0] == '/')
        n = snprintf(out, size, "%s", path);
    else if (getcwd(cwd, sizeof cwd))
        n = snprintf(out, size, "%s/%s", cwd, path);
    else
        return -1;
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* dir/sub, made 0700 (dir/keys exists). */
static int
s_mkdirs_in(const char *dir, const char *sub)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* The hub's public certificate, copied into dir/keys/hub.pub (0644). */
static int
s_save_hub_key(const char *dir, zcert_t *cert)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/keys/hub.pub", dir);
    return zcert_save_public(cert, path) == 0 && chmod(path, 0644) == 0 ? 0 : -1;
}

/* Where the data and the sockets of the node in dir go: the options as
 * given (made absolute), else dir/data and dir/run. */
static int
s_node_paths(const char *dir, const char *data_arg, const char *run_arg, char *data_dir, char *run_dir,
             size_t size)
{
    int n1 = data_arg ? kc_absolute(data_arg, data_dir, size) : snprintf(data_dir, size, "%s/data", dir) >= (int)size;
    int n2 = run_arg ? kc_absolute(run_arg, run_dir, size) : snprintf(run_dir, size, "%s/run", dir) >= (int)size;
    return n1 || n2 ? -1 : 0;
}

/* A TERYT code of the role's kind of area: a gmina 7 digits, a hub 4 (a
 * powiat) or 2 (a voivodeship). */
static int
s_teryt_fits(const char *s, const char *role)
{
    size_t n = s ? strlen(s) : 0;
    if (strcmp(role, "gmina") == 0 ? n != 7 : n != 4 && n != 2)
        return 0;
    return strspn(s, "0123456789") == n;
}

static const char *
s_opt(json_t *opts, const char *key)
{
    json_t *v = json_object_get(opts, key);
    return v ? json_string_value(v) : NULL;
}

/* The key pair; the public certificate names the node (node-id, role,
 * teryt), so `koopctl enrol` on the hub binds the key to this node id. */
int
kc_write_keys(const char *dir, const char *node_id, const char *role, const char *teryt)
{
    char keys[PATH_MAX + 16], pub[PATH_MAX + 32], sec[PATH_MAX + 32];
    zcert_t *cert;
    int rc = -1;

    snprintf(keys, sizeof keys, "%s/keys", dir);
    if (mkdir(keys, 0700) != 0 && errno != EEXIST)
        return -1;
    snprintf(pub, sizeof pub, "%s/node.pub", keys);
    snprintf(sec, sizeof sec, "%s/node.key", keys);
    cert = zcert_new();
    if (!cert)
        return -1;
    zcert_set_meta(cert, "node-id", "%s", node_id);
    zcert_set_meta(cert, "role", "%s", role);
    zcert_set_meta(cert, "teryt", "%s", teryt);
    umask(077);
    if (zcert_save_public(cert, pub) == 0 && zcert_save_secret(cert, sec) == 0 && chmod(sec, 0600) == 0 &&
        chmod(pub, 0644) == 0)
        rc = 0;
    zcert_destroy(&cert);
    return rc;
}

/* The file given as the hub's key: a public certificate of a hub (not of a
 * gmina, not this node's own, not one holding a secret key). *out is it. */
static int
s_check_hub_key(kc_ctx_t *ctx, const char *path, const char *node_id, zcert_t **out)
{
    static const uint8_t zero[32];
    const char *role, *owner;
    zcert_t *cert;
    if (access(path, R_OK) != 0)
        return kc_error(ctx, KC_USAGE, CLI_IO, NULL, path, strerror(errno));
    if (!koop_keyprint_is_cert(path) || !(cert = zcert_load(path)) ||
        memcmp(zcert_public_key(cert), zero, 32) == 0) {
        zcert_destroy(&cert);
        return kc_error(ctx, KC_USAGE, CLI_KEY_FILE, NULL, path);
    }
    *out = cert;
    role = zcert_meta(cert, "role");
    owner = zcert_meta(cert, "node-id");
    if (memcmp(zcert_secret_key(cert), zero, 32) != 0)
        return kc_error(ctx, KC_USAGE, CLI_INIT_HUB_KEY_SECRET, "hub_key", path);
    if ((role && strcmp(role, "hub") != 0) || (owner && strcmp(owner, node_id) == 0))
        return kc_error(ctx, KC_USAGE, CLI_INIT_HUB_KEY_ROLE, "hub_key", path, owner ? owner : "?",
                        role ? role : "?");
    return KC_OK;
}

int
kc_node_init(kc_ctx_t *ctx, int argc, char **argv)
{
    const char *dir_arg, *role, *teryt, *name, *hub, *hub_key, *listen, *smtp, *id, *data_arg, *run_arg, *http;
    zcert_t *hub_cert = NULL;
    char dir[PATH_MAX], conf[PATH_MAX + 16], node_id[64], data_dir[PATH_MAX + 16], run_dir[PATH_MAX + 16];
    json_t *opts;
    FILE *f;
    int rc = KC_USAGE;

    if (argc < 1 || argv[0][0] == '-')
        return kc_error(ctx, KC_USAGE, CLI_INIT_USAGE, NULL);
    dir_arg = argv[0];
    opts = kc_parse_options(ctx, argc - 1, argv + 1);
    if (!opts)
        return KC_USAGE;
    role = s_opt(opts, "role");
    teryt = s_opt(opts, "teryt");
    name = s_opt(opts, "name");
    hub = s_opt(opts, "hub");
    hub_key = s_opt(opts, "hub_key");
    listen = s_opt(opts, "listen");
    smtp = s_opt(opts, "smtp");
    id = s_opt(opts, "id");
    data_arg = s_opt(opts, "data_dir");
    run_arg = s_opt(opts, "runtime_dir");
    http = s_opt(opts, "http");
    {
        const char *known[] = {"role", "teryt", "name", "hub", "hub_key", "listen", "smtp", "id",
                               "data_dir", "runtime_dir", "http"};
        const char *key;
        json_t *v;
        json_object_foreach(opts, key, v) {
            int ok = 0;
            for (size_t i = 0; i < KOOP_ARRAY_LEN(known); i++)
                ok |= strcmp(key, known[i]) == 0;
            if (!ok) {
                kc_error(ctx, KC_USAGE, FIELD_UNKNOWN, key);
                goto done;
            }
        }
    }
    if (!role) {
        kc_error(ctx, KC_USAGE, FIELD_ENUM_REQUIRED, "role", "gmina, hub");
        goto done;
    }
    if (strcmp(role, "gmina") != 0 && strcmp(role, "hub") != 0) {
        kc_error(ctx, KC_USAGE, FIELD_ENUM, "role", role, "gmina, hub");
        goto done;
    }
    if (!teryt) {
        kc_error(ctx, KC_USAGE, FIELD_REQUIRED, "teryt");
        goto done;
    }
    if (!s_teryt_fits(teryt, role)) {
        kc_error(ctx, KC_USAGE, CLI_INIT_TERYT_ROLE, "teryt", teryt, role);
        goto done;
    }
    /* the rules of every name: other nodes take it only so (docs/SYNC.md, Transfers) */
    if (!koop_text_node_name(name)) {
        kc_error(ctx, KC_USAGE, CLI_INIT_NAME, "name");
        goto done;
    }
    if (hub && strncmp(hub, "tcp://", 6) != 0 && strncmp(hub, "ipc://", 6) != 0) {
        kc_error(ctx, KC_USAGE, CLI_INIT_ADDRESS, "hub", hub);
        goto done;
    }
    if (listen && strncmp(listen, "tcp://", 6) != 0 && strncmp(listen, "ipc://", 6) != 0) {
        kc_error(ctx, KC_USAGE, CLI_INIT_ADDRESS, "listen", listen);
        goto done;
    }
    /* a hub without a listening address can never take a gmina */
    if (strcmp(role, "hub") == 0 && !listen) {
        kc_error(ctx, KC_USAGE, CLI_INIT_LISTEN, "listen");
        goto done;
    }
    if (http) {
        const char *colon = strrchr(http, ':');
        long port = colon ? strtol(colon + 1, NULL, 10) : 0;
        if (!colon || colon == http || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
            port < 1 || port > 65535 || strlen(http) > 200) {
            kc_error(ctx, KC_USAGE, CLI_INIT_HTTP, "http", http);
            goto done;
        }
    }
    if (!!hub != !!hub_key) {
        kc_error(ctx, KC_USAGE, CLI_INIT_HUB_PAIR, NULL);
        goto done;
    }
    if (id) {
        if (!*id || strlen(id) >= sizeof node_id || strspn(id, "abcdefghijklmnopqrstuvwxyz"
                                                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != strlen(id)) {
            kc_error(ctx, KC_USAGE, CLI_INIT_ID, "id", id);
            goto done;
        }
        snprintf(node_id, sizeof node_id, "%s", id);
    } else {
        snprintf(node_id, sizeof node_id, "%s-%s", role, teryt);
    }
    if (hub_key && (rc = s_check_hub_key(ctx, hub_key, node_id, &hub_cert)) != KC_OK)
        goto done;
    rc = KC_USAGE;
    /* every path is known before anything is created: a refusal changes nothing */
    if (kc_absolute(dir_arg, dir, sizeof dir) != 0 ||
        s_node_paths(dir, data_arg, run_arg, data_dir, run_dir, sizeof data_dir) != 0) {
        kc_error(ctx, KC_USAGE, CLI_INIT_PATH_LONG, NULL, dir_arg);
        goto done;
    }
    for (size_t i = 0; i < KOOP_SVC_COUNT; i++) {
        size_t len = strlen(run_dir) + 1 + strlen(koop_services[i].name) + strlen(".sock");
        if (!koop_service_runs_on(&koop_services[i], role))
            continue;
        if (len > SOCKET_PATH_MAX) {
            char sock[PATH_MAX + 64];
            snprintf(sock, sizeof sock, "%s/%s.sock", run_dir, koop_services[i].name);
            rc = kc_error(ctx, KC_REFUSED, CLI_INIT_SOCKET_LONG, NULL, sock, KOOP_NUM(len), KOOP_NUM(SOCKET_PATH_MAX));
            goto done;
        }
    }
    if (koop_preflight_mkdirs(dir_arg, 0700) != 0 || !realpath(dir_arg, dir)) {
        rc = kc_error(ctx, KC_REFUSED, CLI_IO, NULL, dir_arg, strerror(errno));
        goto done;
    }
    snprintf(conf, sizeof conf, "%s/koop.conf", dir);
    if (access(conf, F_OK) == 0) {
        rc = kc_error(ctx, KC_REFUSED, CLI_INIT_EXISTS, NULL, conf);
        goto done;
    }
    if (s_node_paths(dir, data_arg, run_arg, data_dir, run_dir, sizeof data_dir) != 0 ||
        koop_preflight_mkdirs(data_dir, 0700) != 0 || koop_preflight_mkdirs(run_dir, 0700) != 0) {
        rc = kc_error(ctx, KC_REFUSED, CLI_IO, NULL, data_dir, strerror(errno));
        goto done;
    }
    if (kc_write_keys(dir, node_id, role, teryt) != 0 ||
        /* a hub's allow-list (koopctl enrol): made now, so that it has the
         * node directory's owner (chown -R koop: in docs/OPERATIONS.md) */
        (strcmp(role, "hub") == 0 && s_mkdirs_in(dir, "keys/enrolled") != 0) ||
        (hub_cert && s_save_hub_key(dir, hub_cert) != 0)) {
        char keys[PATH_MAX + 16];
        snprintf(keys, sizeof keys, "%s/keys", dir);
        rc = kc_error(ctx, KC_REFUSED, CLI_IO, NULL, keys, strerror(errno));
        goto done;
    }
    f = fopen(conf, "wx");
    if (!f) {
        rc = kc_error(ctx, KC_REFUSED, CLI_IO, NULL, conf, strerror(errno));
        goto done;
    }
    fprintf(f,
            "# koop node configuration, written by `koopctl node init`.\n"
            "# Start the node with: koop-node -c %s\n\n"
            "[node]\n"
            "# unique across the whole tree of nodes; never change it after the first start\n"
            "id = %s\n"
            "name = %s\n"
            "# gmina: a social assistance centre's node; hub: a powiat (or higher) hub\n"
            "role = %s\n"
            "# TERYT code of the area: 7 digits for a gmina, 4 for a powiat\n"
            "teryt = %s\n"
            "# LMDB files of every service (back this directory up); it must exist\n"
            "data_dir = %s\n"
            "# sockets of the services: mode 0700, owned by the user the node runs as\n"
            "runtime_dir = %s\n\n"
            "[endpoints]\n"
            "# where each service of this node listens (ipc:// in runtime_dir; tcp:// only on\n"
            "# 127.0.0.1 for registry, cases and notifier, which act for a person)\n",
            conf, node_id, name, role, teryt, data_arg ? data_dir : "data", run_arg ? run_dir : "run");
    for (size_t i = 0; i < KOOP_SVC_COUNT; i++)
        if (koop_service_runs_on(&koop_services[i], role))
            fprintf(f, "%s = ipc://%s/%s.sock\n", koop_services[i].name, run_dir, koop_services[i].name);
    fprintf(f, "\n[sync]\n# uplink of a gmina to its hub (CURVE-encrypted)\n");
    fprintf(f, "%shub = %s\n", hub ? "" : "# ", hub ? hub : "tcp://HUB-HOST:7700");
    fprintf(f, "# the hub's public certificate (compare its fingerprint with the hub by phone)\n");
    fprintf(f, "%shub_key = keys/hub.pub\n", hub_key ? "" : "# ");
    fprintf(f, "# where a hub listens for its gminas' uplinks\n%slisten = %s\n", listen ? "" : "# ",
            listen ? listen : "tcp://0.0.0.0:7700");
    fprintf(f, "# koopctl status alerts (exit 4) when the link has been down this long (s, m, h, d)\n"
               "# alert_after = 1h\n");
    fprintf(f, "\n[retention]\n# how long personal data is kept (docs/ACCOUNTABILITY.md); the defaults:\n"
               "# years after a household's last IPW closed\n# case_years = 10\n"
               "# years after registering a household that never had an IPW\n# household_years = 10\n"
               "# years an access log entry is kept\n# audit_years = 5\n"
               "# daily: the cases service applies the schedule once a day; off: only koopctl retention run\n"
               "# timer = daily\n");
    fprintf(f, "\n[reporting]\n# reports above a gmina: approved (only periods the gmina approved) or\n"
               "# provisional (every period, unapproved ones marked as provisional)\n# publish = provisional\n");
    fprintf(f, "\n[gateway]\n# HTTP of the web UI and its JSON API, behind nginx for TLS (docs/GATEWAY.md)\n");
    fprintf(f, "%slisten = %s\n", http ? "" : "# ", http ? http : "127.0.0.1:8080");
    fprintf(f, "# tls = on                  (served over https: Secure __Host- cookie)\n"
               "# trusted_proxy = 127.0.0.1 (whose X-Forwarded-For/-Proto count)\n"
               "# origin = https://koop.ops.example.gov.pl\n"
               "# require_totp_for = coordinator\n"
               "# web_dir = /usr/share/koop/web (default: beside the program, docs/GATEWAY.md)\n");

    fprintf(f, "\n[notifier]\n# e-mail relay for notifications (no personal data is ever mailed)\n");
    fprintf(f, "%ssmtp_url = %s\n", smtp ? "" : "# ", smtp ? smtp : "smtp://127.0.0.1:25");
    fprintf(f, "# smtp_user = koop\n# smtp_password_file = /etc/koop/smtp.pass\n"
               "# CA certificates (PEM) for the relay's TLS certificate (default: the system's)\n"
               "# smtp_ca_file = /etc/koop/smtp-ca.pem\n"
               "# from = koop@ops.example.gov.pl\n# web_url = http://koop.ops.local/\n");
    if (fclose(f) != 0) {
        rc = kc_error(ctx, KC_REFUSED, CLI_IO, NULL, conf, strerror(errno));
        goto done;
    }
    {
        char pub[PATH_MAX + 32], print[KOOP_KEYPRINT_LEN] = "?";
        snprintf(pub, sizeof pub, "%s/keys/node.pub", dir);
        (void)koop_keyprint_file(pub, print, NULL, 0);
        kc_say(ctx, "init", "created", KOOP_ARGS(node_id, role, name, dir, pub, print));
        if (hub_cert) {
            koop_keyprint(zcert_public_key(hub_cert), print);
            kc_say(ctx, "init", "hub_key", KOOP_ARGS(dir, print));
        }
        kc_say(ctx, "init", "start", KOOP_ARGS(conf));
    }
    rc = KC_OK;
done:
    zcert_destroy(&hub_cert);
    json_decref(opts);
    return rc;
}
