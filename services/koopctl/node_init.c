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
#include "koop.h"
#include "preflight.h"

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

/* An absolute form of path (relative to the working directory), to measure
 * and to write into the config before the directory exists. */
static int
s_absolute(const char *path, char *out, size_t size)
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
    int n1 = data_arg ? s_absolute(data_arg, data_dir, size) : snprintf(data_dir, size, "%s/data", dir) >= (int)size;
    int n2 = run_arg ? s_absolute(run_arg, run_dir, size) : snprintf(run_dir, size, "%s/run", dir) >= (int)size;
    return n1 || n2 ? -1 : 0;
}

static int
s_valid_digits(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n != 2 && n != 4 && n != 7)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static const char *
s_opt(json_t *opts, const char *key)
{
    json_t *v = json_object_get(opts, key);
    return v ? json_string_value(v) : NULL;
}

/* The key pair; the public certificate names the node (node-id, role,
 * teryt), so `koopctl enrol` on the hub binds the key to this node id. */
static int
s_write_keys(const char *dir, const char *node_id, const char *role, const char *teryt)
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

int
kc_node_init(kc_ctx_t *ctx, int argc, char **argv)
{
    const char *dir_arg, *role, *teryt, *name, *hub, *hub_key, *listen, *smtp, *id, *data_arg, *run_arg;
    zcert_t *hub_cert = NULL;
    char dir[PATH_MAX], conf[PATH_MAX + 16], node_id[64], data_dir[PATH_MAX + 16], run_dir[PATH_MAX + 16];
    json_t *opts;
    FILE *f;
    int rc = KC_USAGE;

    if (argc < 1 || argv[0][0] == '-') {
        fprintf(stderr, "użycie: koopctl node init KATALOG --role gmina|hub --teryt KOD --name NAZWA "
                        "[--hub ADRES --hub-key PLIK --listen ADRES --smtp URL --id ID --data-dir KATALOG "
                        "--runtime-dir KATALOG]\n");
        return KC_USAGE;
    }
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
    {
        const char *known[] = {"role", "teryt", "name", "hub", "hub_key", "listen", "smtp", "id",
                               "data_dir", "runtime_dir"};
        const char *key;
        json_t *v;
        json_object_foreach(opts, key, v) {
            int ok = 0;
            for (size_t i = 0; i < KOOP_ARRAY_LEN(known); i++)
                ok |= strcmp(key, known[i]) == 0;
            if (!ok) {
                fprintf(stderr, "błąd: nieznana opcja --%s polecenia node init\n", key);
                goto done;
            }
        }
    }
    if (!role || (strcmp(role, "gmina") != 0 && strcmp(role, "hub") != 0)) {
        fprintf(stderr, "błąd: --role musi być gmina albo hub\n");
        goto done;
    }
    if (!s_valid_digits(teryt)) {
        fprintf(stderr, "błąd: --teryt musi być kodem TERYT (7 cyfr gminy, 4 powiatu, 2 województwa)\n");
        goto done;
    }
    if (!name || !*name || strlen(name) > 200 || strpbrk(name, "\n\r")) {
        fprintf(stderr, "błąd: podaj nazwę węzła: --name NAZWA (jedna linia, do 200 znaków)\n");
        goto done;
    }
    for (const char *ep_check[] = {hub, listen}, **p = ep_check; p < ep_check + 2; p++)
        if (*p && strncmp(*p, "tcp://", 6) != 0 && strncmp(*p, "ipc://", 6) != 0) {
            fprintf(stderr, "błąd: adres '%s' musi mieć postać tcp://HOST:PORT\n", *p);
            goto done;
        }
    if (!!hub != !!hub_key) {
        fprintf(stderr, "błąd: --hub i --hub-key podaje się razem (adres huba i plik jego klucza publicznego)\n");
        goto done;
    }
    if (hub_key && access(hub_key, R_OK) != 0) {
        fprintf(stderr, "błąd: nie można odczytać klucza huba %s: %s\n", hub_key, strerror(errno));
        goto done;
    }
    if (hub_key && !(hub_cert = zcert_load(hub_key))) {
        fprintf(stderr, "błąd: %s nie jest certyfikatem huba (oczekiwano pliku keys/node.pub huba)\n", hub_key);
        goto done;
    }
    if (id) {
        if (!*id || strlen(id) >= sizeof node_id || strspn(id, "abcdefghijklmnopqrstuvwxyz"
                                                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != strlen(id)) {
            fprintf(stderr, "błąd: --id może mieć tylko litery, cyfry, - i _\n");
            goto done;
        }
        snprintf(node_id, sizeof node_id, "%s", id);
    } else {
        snprintf(node_id, sizeof node_id, "%s-%s", role, teryt);
    }
    /* every path is known before anything is created: a refusal changes nothing */
    if (s_absolute(dir_arg, dir, sizeof dir) != 0 ||
        s_node_paths(dir, data_arg, run_arg, data_dir, run_dir, sizeof data_dir) != 0) {
        fprintf(stderr, "błąd: za długa ścieżka katalogu węzła\n");
        goto done;
    }
    for (size_t i = 0; i < KOOP_SVC_COUNT; i++) {
        size_t len = strlen(run_dir) + 1 + strlen(koop_services[i].name) + strlen(".sock");
        if (!koop_service_runs_on(&koop_services[i], role))
            continue;
        if (len > SOCKET_PATH_MAX) {
            fprintf(stderr,
                    "błąd: gniazdo %s/%s.sock miałoby %zu bajtów (najwyżej %d): wybierz krótszy katalog węzła "
                    "albo podaj krótszy --runtime-dir (np. /run/koop/NAZWA); nic nie utworzono\n",
                    run_dir, koop_services[i].name, len, SOCKET_PATH_MAX);
            rc = KC_REFUSED;
            goto done;
        }
    }
    if (koop_preflight_mkdirs(dir_arg, 0700) != 0) {
        fprintf(stderr, "błąd: nie można utworzyć katalogu %s: %s\n", dir_arg, strerror(errno));
        rc = KC_REFUSED;
        goto done;
    }
    if (!realpath(dir_arg, dir)) {
        fprintf(stderr, "błąd: %s: %s\n", dir_arg, strerror(errno));
        rc = KC_REFUSED;
        goto done;
    }
    snprintf(conf, sizeof conf, "%s/koop.conf", dir);
    if (access(conf, F_OK) == 0) {
        fprintf(stderr, "błąd: %s już istnieje – węzeł jest już założony (nic nie zmieniono)\n", conf);
        rc = KC_REFUSED;
        goto done;
    }
    if (s_node_paths(dir, data_arg, run_arg, data_dir, run_dir, sizeof data_dir) != 0 ||
        koop_preflight_mkdirs(data_dir, 0700) != 0 || koop_preflight_mkdirs(run_dir, 0700) != 0) {
        fprintf(stderr, "błąd: nie można utworzyć katalogów %s i %s: %s\n", data_dir, run_dir, strerror(errno));
        rc = KC_REFUSED;
        goto done;
    }
    if (s_write_keys(dir, node_id, role, teryt) != 0 ||
        /* a hub's allow-list (koopctl enrol): made now, so that it has the
         * node directory's owner (chown -R koop: in docs/OPERATIONS.md) */
        (strcmp(role, "hub") == 0 && s_mkdirs_in(dir, "keys/enrolled") != 0) ||
        (hub_cert && s_save_hub_key(dir, hub_cert) != 0)) {
        fprintf(stderr, "błąd: nie można zapisać kluczy węzła w %s/keys\n", dir);
        rc = KC_REFUSED;
        goto done;
    }
    f = fopen(conf, "wx");
    if (!f) {
        fprintf(stderr, "błąd: nie można zapisać %s: %s\n", conf, strerror(errno));
        rc = KC_REFUSED;
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
    fprintf(f, "\n[notifier]\n# e-mail relay for notifications (no personal data is ever mailed)\n");
    fprintf(f, "%ssmtp_url = %s\n", smtp ? "" : "# ", smtp ? smtp : "smtp://127.0.0.1:25");
    fprintf(f, "# smtp_user = koop\n# smtp_password_file = /etc/koop/smtp.pass\n"
               "# CA certificates (PEM) for the relay's TLS certificate (default: the system's)\n"
               "# smtp_ca_file = /etc/koop/smtp-ca.pem\n"
               "# from = koop@ops.example.gov.pl\n# web_url = http://koop.ops.local/\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "błąd: zapis %s nie powiódł się\n", conf);
        rc = KC_REFUSED;
        goto done;
    }
    printf("Utworzono węzeł %s (%s, %s) w %s\nUruchom: koop-node -c %s\n", node_id, role, name, dir, conf);
    rc = KC_OK;
done:
    zcert_destroy(&hub_cert);
    json_decref(opts);
    return rc;
}

/* `koopctl -c NODE.conf keys generate [--force]`: a new CURVE key pair for the
 * node (keys/node.pub, keys/node.key 0600, named with the node's id). An
 * existing pair is kept unless --force, which keeps the old one as *.old; the
 * hub must then enrol the new public certificate. */
int
kc_keys(kc_ctx_t *ctx, int argc, char **argv)
{
    char pub[PATH_MAX + 32], sec[PATH_MAX + 32], old[PATH_MAX + 48];
    int force = argc == 2 && strcmp(argv[1], "--force") == 0, rc;

    if (argc < 1 || strcmp(argv[0], "generate") != 0 || (argc == 2 && !force) || argc > 2) {
        fprintf(stderr, "użycie: koopctl -c WĘZEŁ.conf keys generate [--force]\n");
        return KC_USAGE;
    }
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    snprintf(pub, sizeof pub, "%s/keys/node.pub", ctx->cfg.dir);
    snprintf(sec, sizeof sec, "%s/keys/node.key", ctx->cfg.dir);
    if (access(sec, F_OK) == 0) {
        if (!force) {
            fprintf(stderr, "błąd: węzeł ma już parę kluczy (%s); nowa wymaga --force i ponownego "
                            "zapisania klucza w hubie (koopctl enrol)\n", sec);
            return KC_REFUSED;
        }
        snprintf(old, sizeof old, "%s.old", sec);
        if (rename(sec, old) != 0) {
            fprintf(stderr, "błąd: nie można zachować starego klucza: %s\n", strerror(errno));
            return KC_REFUSED;
        }
        snprintf(old, sizeof old, "%s.old", pub);
        rename(pub, old);
    }
    if (s_write_keys(ctx->cfg.dir, ctx->cfg.node_id, ctx->cfg.role, ctx->cfg.teryt) != 0) {
        fprintf(stderr, "błąd: nie można zapisać kluczy w %s/keys\n", ctx->cfg.dir);
        return KC_REFUSED;
    }
    printf("Nowa para kluczy węzła %s: %s (publiczny), %s (tajny, 0600)\n", ctx->cfg.node_id, pub, sec);
    if (force)
        printf("Zapisz nowy klucz publiczny w hubie: koopctl -c HUB.conf enrol %s\n", pub);
    return KC_OK;
}
