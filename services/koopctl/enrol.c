/*
 * enrol.c - `koopctl enrol CERT` (a hub's allow-list), see docs/SYNC.md.
 * (`sync status` is a method of api.def, printed by common/present_sync.c.)
 * Errors are codes of errors.def (cli.*), printed by kc_error.
 */
#include "koopctl.h"
#include "koop.h"
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
    char dir[PATH_MAX + 32], path[PATH_MAX + 128], tmp[PATH_MAX + 160], hex[65];
    const char *node = NULL, *cert_path, *field;
    zcert_t *in = NULL, *out = NULL;
    struct timeval tv;
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
    out = zcert_new_from(zcert_public_key(in), zero);
    if (!out) {
        rc = kc_error(ctx, KC_REFUSED, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    if (node)
        zcert_set_meta(out, "node-id", "%s", node);
    if (zcert_meta(in, "role"))
        zcert_set_meta(out, "role", "%s", zcert_meta(in, "role"));
    gettimeofday(&tv, NULL);
    zcert_set_meta(out, "enrolled-at", "%llu",
                   (unsigned long long)tv.tv_sec * 1000ull + (unsigned long long)tv.tv_usec / 1000ull);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", zcert_public_key(in)[i]);
    snprintf(dir, sizeof dir, "%s/keys", ctx->cfg.dir);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/keys/enrolled", ctx->cfg.dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = kc_error(ctx, KC_REFUSED, CLI_FILE, NULL, dir, strerror(errno));
        goto done;
    }
    snprintf(path, sizeof path, "%s/%s.pub", dir, hex);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, hex);
    /* write and rename: the hub rereads the directory when it changes, and
     * never sees half a file */
    if (zcert_save_public(out, tmp) != 0 || rename(tmp, path) != 0) {
        rc = kc_error(ctx, KC_REFUSED, CLI_FILE, NULL, path, strerror(errno));
        unlink(tmp);
        goto done;
    }
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "key", json_string(zcert_public_txt(in)));
        json_object_set_new(o, "node", node ? json_string(node) : json_null());
        json_object_set_new(o, "file", json_string(path));
        kc_print(ctx, o);
        json_decref(o);
    } else {
        printf("Zapisano w hubie %s klucz węzła %s%s\n", ctx->cfg.node_id,
               node ? node : "(bez identyfikatora: przypisze go pierwsze połączenie)",
               node ? "" : "");
    }
    rc = KC_OK;
done:
    zcert_destroy(&in);
    zcert_destroy(&out);
    return rc;
}
