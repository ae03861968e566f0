/*
 * keys.c - the node's key pair and a hub's allow-list (docs/OPERATIONS.md):
 *
 *   koopctl -c NODE.conf keys show          the public key and its fingerprint
 *   koopctl keys show --file FILE.pub       the same for a file received
 *   koopctl -c NODE.conf keys generate [--force]
 *   koopctl -c HUB.conf unenrol NODE_ID | CERT_FILE
 *
 * A fingerprint (keyprint.h) is what the two people who exchange a key file
 * read to each other over the phone: each computes it from the file they
 * have. Unenrol removes a node's keys from the hub's allow-list
 * (HUB/keys/enrolled, reread by the hub when it changes): the hub takes no
 * new connection with them.
 */
#include "koopctl.h"
#include "keyprint.h"
#include "present.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* keys show: the certificate's key, fingerprint and who it says it is. */
static int
s_show(kc_ctx_t *ctx, const char *path)
{
    static const uint8_t zero[32];
    char print[KOOP_KEYPRINT_LEN];
    const char *node, *role, *teryt;
    zcert_t *cert = NULL;

    if (access(path, R_OK) != 0)
        return kc_error(ctx, KC_REFUSED, CLI_IO, NULL, path, strerror(errno));
    if (!koop_keyprint_is_cert(path) || !(cert = zcert_load(path)) ||
        memcmp(zcert_public_key(cert), zero, 32) == 0) {
        zcert_destroy(&cert);
        return kc_error(ctx, KC_REFUSED, CLI_KEY_FILE, NULL, path);
    }
    koop_keyprint(zcert_public_key(cert), print);
    node = zcert_meta(cert, "node-id");
    role = zcert_meta(cert, "role");
    teryt = zcert_meta(cert, "teryt");
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(path));
        json_object_set_new(o, "node", node ? json_string(node) : json_null());
        json_object_set_new(o, "role", role ? json_string(role) : json_null());
        json_object_set_new(o, "teryt", teryt ? json_string(teryt) : json_null());
        json_object_set_new(o, "key", json_string(zcert_public_txt(cert)));
        json_object_set_new(o, "fingerprint", json_string(print));
        kc_print(ctx, o);
        json_decref(o);
    } else {
        char whose[400] = "", meta[160] = "";
        if (node)
            koop_present_sentence("keys", "of_node", ctx->lang, KOOP_ARGS(node), whose, sizeof whose);
        if (role && teryt)
            snprintf(meta, sizeof meta, " (%s, TERYT %s)", role, teryt);
        else if (role || teryt)
            snprintf(meta, sizeof meta, role ? " (%s)" : " (TERYT %s)", role ? role : teryt);
        strncat(whose, meta, sizeof whose - strlen(whose) - 1);
        kc_say(ctx, "keys", "show", KOOP_ARGS(whose, path, zcert_public_txt(cert), print));
    }
    zcert_destroy(&cert);
    return KC_OK;
}

/* keys generate: a new pair (keys/node.pub, keys/node.key 0600, named with
 * the node's id); an existing one is kept unless --force, which keeps the
 * old pair as *.old. The hub must then enrol the new public certificate. */
static int
s_generate(kc_ctx_t *ctx, int force)
{
    char pub[PATH_MAX + 32], sec[PATH_MAX + 32], old[PATH_MAX + 48], print[KOOP_KEYPRINT_LEN] = "?";
    int rc;
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    snprintf(pub, sizeof pub, "%s/keys/node.pub", ctx->cfg.dir);
    snprintf(sec, sizeof sec, "%s/keys/node.key", ctx->cfg.dir);
    if (access(sec, F_OK) == 0) {
        if (!force)
            return kc_error(ctx, KC_REFUSED, CLI_KEYS_EXIST, NULL, sec);
        snprintf(old, sizeof old, "%s.old", sec);
        if (rename(sec, old) != 0)
            return kc_error(ctx, KC_REFUSED, CLI_IO, NULL, old, strerror(errno));
        snprintf(old, sizeof old, "%s.old", pub);
        (void)rename(pub, old);
    }
    if (kc_write_keys(ctx->cfg.dir, ctx->cfg.node_id, ctx->cfg.role, ctx->cfg.teryt) != 0)
        return kc_error(ctx, KC_REFUSED, CLI_IO, NULL, sec, strerror(errno));
    (void)koop_keyprint_file(pub, print, NULL, 0);
    kc_say(ctx, "keys", "generated", KOOP_ARGS(ctx->cfg.node_id, pub, print, sec));
    if (force)
        kc_say(ctx, "keys", "enrol_again", KOOP_ARGS(pub));
    return KC_OK;
}

int
kc_keys(kc_ctx_t *ctx, int argc, char **argv)
{
    char pub[PATH_MAX + 32];
    int rc;
    if (argc >= 1 && strcmp(argv[0], "generate") == 0 && argc <= 2) {
        if (argc == 2 && strcmp(argv[1], "--force") != 0)
            return kc_error(ctx, KC_USAGE, CLI_KEYS_USAGE, NULL);
        return s_generate(ctx, argc == 2);
    }
    if (argc == 3 && strcmp(argv[0], "show") == 0 && strcmp(argv[1], "--file") == 0)
        return s_show(ctx, argv[2]);
    /* `keys fingerprint`: the same, as a coordinator asks for it before a
     * transfer (household transfer --fingerprint) */
    if (argc == 1 && (strcmp(argv[0], "show") == 0 || strcmp(argv[0], "fingerprint") == 0)) {
        if ((rc = kc_load_config(ctx)) != KC_OK)
            return rc;
        snprintf(pub, sizeof pub, "%s/keys/node.pub", ctx->cfg.dir);
        return s_show(ctx, pub);
    }
    return kc_error(ctx, KC_USAGE, CLI_KEYS_USAGE, NULL);
}

/* unenrol: removes every allow-list file of the node named (by its id, or
 * by the key in a certificate file). */
int
kc_unenrol(kc_ctx_t *ctx, int argc, char **argv)
{
    static const uint8_t zero[32];
    char dir[PATH_MAX + 32], key[41] = "";
    json_t *removed = json_array();
    const char *who;
    struct dirent *e;
    zcert_t *given = NULL;
    DIR *d;
    int rc;

    if (argc != 1 || argv[0][0] == '-') {
        rc = kc_error(ctx, KC_USAGE, CLI_UNENROL_USAGE, NULL);
        goto done;
    }
    who = argv[0];
    if ((rc = kc_load_config(ctx)) != KC_OK)
        goto done;
    if (!koop_config_is_hub(&ctx->cfg)) {
        rc = kc_error(ctx, KC_USAGE, CLI_HUB_ONLY, NULL, ctx->conf_path);
        goto done;
    }
    /* a readable certificate names a key; anything else a node id */
    if (strchr(who, '/') || access(who, R_OK) == 0) {
        if (!koop_keyprint_is_cert(who) || !(given = zcert_load(who)) ||
            memcmp(zcert_public_key(given), zero, 32) == 0) {
            rc = kc_error(ctx, KC_USAGE, CLI_KEY_FILE, NULL, who);
            goto done;
        }
        snprintf(key, sizeof key, "%s", zcert_public_txt(given));
    }
    snprintf(dir, sizeof dir, "%s/keys/enrolled", ctx->cfg.dir);
    if (!(d = opendir(dir))) {
        rc = kc_error(ctx, KC_REFUSED, CLI_UNENROL_NONE, NULL, ctx->cfg.node_id, who, dir);
        goto done;
    }
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        char path[PATH_MAX + 320];
        const char *node;
        zcert_t *cert;
        int match;
        if (len < 5 || strcmp(e->d_name + len - 4, ".pub") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!(cert = zcert_load(path)))
            continue;
        node = zcert_meta(cert, "node-id");
        match = key[0] ? strcmp(zcert_public_txt(cert), key) == 0 : node && strcmp(node, who) == 0;
        if (match && unlink(path) == 0) {
            json_t *o = json_object();
            json_object_set_new(o, "node", node ? json_string(node) : json_null());
            json_object_set_new(o, "key", json_string(zcert_public_txt(cert)));
            json_object_set_new(o, "file", json_string(path));
            json_array_append_new(removed, o);
        } else if (match) {
            rc = kc_error(ctx, KC_REFUSED, CLI_IO, NULL, path, strerror(errno));
            zcert_destroy(&cert);
            closedir(d);
            goto done;
        }
        zcert_destroy(&cert);
    }
    closedir(d);
    if (json_array_size(removed) == 0) {
        rc = kc_error(ctx, KC_REFUSED, CLI_UNENROL_NONE, NULL, ctx->cfg.node_id, who, dir);
        goto done;
    }
    if (ctx->json) {
        kc_print(ctx, removed);
    } else {
        for (size_t i = 0; i < json_array_size(removed); i++) {
            json_t *o = json_array_get(removed, i);
            const char *node = json_string_value(json_object_get(o, "node"));
            char whose[400] = "";
            if (node)
                koop_present_sentence("keys", "of_node", ctx->lang, KOOP_ARGS(node), whose, sizeof whose);
            kc_say(ctx, "keys", "removed", KOOP_ARGS(ctx->cfg.node_id, json_string_value(json_object_get(o, "key")), whose));
        }
        kc_say(ctx, "keys", "removed_note", KOOP_ARGS(""));
    }
    rc = KC_OK;
done:
    zcert_destroy(&given);
    json_decref(removed);
    return rc;
}
