/*
 * enrol.c - `koopctl enrol CERT` (a hub's allow-list), see docs/SYNC.md.
 * (`sync status` is a method of api.def, printed by common/present_sync.c.)
 * Errors are codes of errors.def (cli.*), printed by kc_error; what it did
 * is labels.def's set "keys", in the reader's language.
 */
#include "koopctl.h"
#include "enrol.h"
#include "keyprint.h"
#include "koop.h"
#include "present.h"
#include "sync.pb-c.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- enrol ---- */

static int
s_valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

int
kc_enrol(kc_ctx_t *ctx, int argc, char **argv)
{
    static const uint8_t zero[32];
    char path[PATH_MAX + 128];
    const char *node = NULL, *cert_path, *field;
    zcert_t *in = NULL;
    int rc;

    if (argc != 1 && !(argc == 3 && strcmp(argv[1], "--node") == 0))
        return kc_error(ctx, KC_USAGE, CLI_ENROL_USAGE, NULL);
    cert_path = argv[0];
    if (argc == 3)
        node = argv[2];
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    if (!koop_config_is_hub(&ctx->cfg))
        return kc_error(ctx, KC_USAGE, CLI_NOT_HUB, NULL, ctx->conf_path);
    in = zcert_load(cert_path);
    if (!in || memcmp(zcert_public_key(in), zero, 32) == 0) {
        rc = kc_error(ctx, KC_USAGE, CLI_NOT_CERTIFICATE, NULL, cert_path);
        goto done;
    }
    /* a --node that contradicts the certificate's own node-id binds the key
     * to the wrong node: refused (the certificate says who made it) */
    if (node && zcert_meta(in, "node-id") && strcmp(node, zcert_meta(in, "node-id")) != 0) {
        rc = kc_error(ctx, KC_REFUSED, CLI_ENROL_NODE_CONFLICT, "node", cert_path, zcert_meta(in, "node-id"), node);
        goto done;
    }
    /* the node named by --node, else by the certificate */
    field = node ? "node" : NULL;
    if (!node)
        node = zcert_meta(in, "node-id");
    if (node && !s_valid_id(node)) {
        rc = kc_error(ctx, KC_USAGE, CLI_NODE_ID, field, node);
        goto done;
    }
    if (node && strcmp(node, ctx->cfg.node_id) == 0) {
        rc = kc_error(ctx, KC_REFUSED, CLI_OWN_KEY, field, node);
        goto done;
    }
    /* only the public key goes to the hub, with who it is and when it was enrolled */
    if ((rc = koop_enrol_write(ctx->cfg.dir, zcert_public_key(in), node, zcert_meta(in, "role"), path,
                               sizeof path)) != 0) {
        char where[PATH_MAX + 32];
        snprintf(where, sizeof where, "%s/keys/enrolled", ctx->cfg.dir);
        rc = kc_error(ctx, KC_REFUSED, CLI_FILE, NULL, where, strerror(-rc));
        goto done;
    }
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "key", json_string(zcert_public_txt(in)));
        json_object_set_new(o, "node", node ? json_string(node) : json_null());
        json_object_set_new(o, "file", json_string(path));
        {
            char print[KOOP_KEYPRINT_LEN];
            koop_keyprint(zcert_public_key(in), print);
            json_object_set_new(o, "fingerprint", json_string(print));
        }
        kc_print(ctx, o);
        json_decref(o);
    } else {
        char print[KOOP_KEYPRINT_LEN];
        koop_keyprint(zcert_public_key(in), print);
        if (node)
            kc_say(ctx, "keys", "enrolled", KOOP_ARGS(ctx->cfg.node_id, node, print));
        else
            kc_say(ctx, "keys", "enrolled_no_id", KOOP_ARGS(ctx->cfg.node_id, print));
    }
    rc = KC_OK;
done:
    zcert_destroy(&in);
    return rc;
}
