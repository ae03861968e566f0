/*
 * node_init.c - `koopctl node init DIR ...`: one command makes a node.
 *
 * Creates DIR/koop.conf (commented), DIR/data, DIR/run (0700) and the node's
 * CURVE key pair DIR/keys/node.pub + DIR/keys/node.key (0600, CZMQ
 * certificate format). Refuses to overwrite an existing node.
 */
#include "koopctl.h"
#include "koop.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>


static int
s_free_tcp_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
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
    const char *dir_arg, *role, *teryt, *name, *hub, *hub_key, *listen, *smtp, *id, *http;
    char dir[PATH_MAX], conf[PATH_MAX + 16], sub[PATH_MAX + 16], node_id[64];
    json_t *opts;
    FILE *f;
    int rc = KC_USAGE;

    if (argc < 1 || argv[0][0] == '-') {
        fprintf(stderr, "użycie: koopctl node init KATALOG --role gmina|hub --teryt KOD --name NAZWA "
                        "[--hub ADRES --hub-key PLIK --listen ADRES --smtp URL --http HOST:PORT --id ID]\n");
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
    http = s_opt(opts, "http");
    {
        const char *known[] = {"role", "teryt", "name", "hub", "hub_key", "listen", "smtp", "id", "http"};
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
    if (http) {
        const char *colon = strrchr(http, ':');
        long port = colon ? strtol(colon + 1, NULL, 10) : 0;
        if (!colon || colon == http || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
            port < 1 || port > 65535 || strlen(http) > 200) {
            fprintf(stderr, "błąd: --http musi mieć postać HOST:PORT (np. 127.0.0.1:8080)\n");
            goto done;
        }
    }
    if (!!hub != !!hub_key) {
        fprintf(stderr, "błąd: --hub i --hub-key podaje się razem (adres huba i plik jego klucza publicznego)\n");
        goto done;
    }
    if (hub_key && access(hub_key, R_OK) != 0) {
        fprintf(stderr, "błąd: nie można odczytać klucza huba %s: %s\n", hub_key, strerror(errno));
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
    if (mkdir(dir_arg, 0700) != 0 && errno != EEXIST) {
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
    snprintf(sub, sizeof sub, "%s/data", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/run", dir);
    mkdir(sub, 0700);
    if (s_write_keys(dir, node_id, role, teryt) != 0) {
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
            "# LMDB files of every service (back this directory up)\n"
            "data_dir = data\n"
            "# sockets of the services (mode 0700)\n"
            "runtime_dir = run\n\n"
            "[endpoints]\n"
            "# where each service of this node listens (ipc:// in runtime_dir, or tcp://127.0.0.1:PORT)\n",
            conf, node_id, name, role, teryt);
    for (size_t i = 0; i < KOOP_SVC_COUNT; i++) {
        char ep[PATH_MAX + 64];
        if (!koop_service_runs_on(&koop_services[i], role))
            continue;
        snprintf(ep, sizeof ep, "ipc://%s/run/%s.sock", dir, koop_services[i].name);
        if (strlen(ep) > 100) /* a unix socket path is at most 107 bytes */
            snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", s_free_tcp_port());
        fprintf(f, "%s = %s\n", koop_services[i].name, ep);
    }
    fprintf(f, "\n[sync]\n# uplink of a gmina to its hub (CURVE-encrypted)\n");
    fprintf(f, "%shub = %s\n", hub ? "" : "# ", hub ? hub : "tcp://HUB-HOST:7700");
    if (hub_key) {
        char kp[PATH_MAX];
        fprintf(f, "hub_key = %s\n", realpath(hub_key, kp) ? kp : hub_key);
    } else {
        fprintf(f, "# hub_key = /path/to/hub/keys/node.pub\n");
    }
    fprintf(f, "# where a hub listens for its gminas' uplinks\n%slisten = %s\n", listen ? "" : "# ",
            listen ? listen : "tcp://0.0.0.0:7700");
    fprintf(f, "\n[gateway]\n# HTTP of the web UI and its JSON API, behind nginx for TLS (docs/GATEWAY.md)\n");
    fprintf(f, "%slisten = %s\n", http ? "" : "# ", http ? http : "127.0.0.1:8080");
    fprintf(f, "# tls = on                  (served over https: Secure __Host- cookie)\n"
               "# trusted_proxy = 127.0.0.1 (whose X-Forwarded-For/-Proto count)\n"
               "# origin = https://koop.ops.example.gov.pl\n"
               "# require_totp_for = coordinator\n");
    fprintf(f, "\n[notifier]\n# e-mail relay for notifications (no personal data is ever mailed)\n");
    fprintf(f, "%ssmtp_url = %s\n", smtp ? "" : "# ", smtp ? smtp : "smtp://127.0.0.1:25");
    fprintf(f, "# smtp_user = koop\n# smtp_password_file = /etc/koop/smtp.pass\n"
               "# from = koop@ops.example.gov.pl\n# web_url = http://koop.ops.local/\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "błąd: zapis %s nie powiódł się\n", conf);
        rc = KC_REFUSED;
        goto done;
    }
    printf("Utworzono węzeł %s (%s, %s) w %s\nUruchom: koop-node -c %s\n", node_id, role, name, dir, conf);
    rc = KC_OK;
done:
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
