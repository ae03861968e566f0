/*
 * sync.c - `koopctl enrol CERT` (a hub's allow-list), see docs/SYNC.md.
 * (`sync status` is a method of api.def, printed by common/present_sync.c.)
 *
 */
#include "koopctl.h"
#include "keyprint.h"
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
    const char *node = NULL, *cert_path;
    zcert_t *in = NULL, *out = NULL;
    struct timeval tv;
    int rc;

    if (argc != 1 && !(argc == 3 && strcmp(argv[1], "--node") == 0)) {
        fprintf(stderr, "użycie: koopctl -c HUB.conf enrol PLIK_CERTYFIKATU_PUBLICZNEGO [--node ID_WĘZŁA]\n");
        return KC_USAGE;
    }
    cert_path = argv[0];
    if (argc == 3)
        node = argv[2];
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    if (!koop_config_is_hub(&ctx->cfg)) {
        fprintf(stderr, "błąd: %s nie jest konfiguracją huba (role = hub): węzły zapisuje się w hubie\n",
                ctx->conf_path);
        return KC_USAGE;
    }
    in = zcert_load(cert_path);
    if (!in || memcmp(zcert_public_key(in), zero, 32) == 0) {
        fprintf(stderr, "błąd: %s nie jest certyfikatem węzła (oczekiwano KATALOG_WĘZŁA/keys/node.pub)\n",
                cert_path);
        rc = KC_USAGE;
        goto done;
    }
    /* a --node that contradicts the certificate's own node-id binds the key
     * to the wrong node: refused (the certificate says who made it) */
    if (node && zcert_meta(in, "node-id") && strcmp(node, zcert_meta(in, "node-id")) != 0) {
        rc = kc_error(ctx, KC_REFUSED, CLI_ENROL_NODE_CONFLICT, "node", cert_path, zcert_meta(in, "node-id"), node);
        goto done;
    }
    if (!node)
        node = zcert_meta(in, "node-id");
    if (node && !s_valid_id(node)) {
        fprintf(stderr, "błąd: nieprawidłowy identyfikator węzła '%s'\n", node);
        rc = KC_USAGE;
        goto done;
    }
    if (node && strcmp(node, ctx->cfg.node_id) == 0) {
        fprintf(stderr, "błąd: to klucz samego huba %s\n", node);
        rc = KC_REFUSED;
        goto done;
    }
    /* only the public key goes to the hub, with who it is and when it was enrolled */
    out = zcert_new_from(zcert_public_key(in), zero);
    if (!out) {
        rc = KC_REFUSED;
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
        fprintf(stderr, "błąd: nie można utworzyć %s: %s\n", dir, strerror(errno));
        rc = KC_REFUSED;
        goto done;
    }
    snprintf(path, sizeof path, "%s/%s.pub", dir, hex);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, hex);
    /* write and rename: the hub rereads the directory when it changes, and
     * never sees half a file */
    if (zcert_save_public(out, tmp) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "błąd: nie można zapisać %s: %s\n", path, strerror(errno));
        unlink(tmp);
        rc = KC_REFUSED;
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
        printf("Zapisano w hubie %s klucz węzła %s (odcisk %s)\n", ctx->cfg.node_id,
               node ? node : "(bez identyfikatora: przypisze go pierwsze połączenie)", print);
    }
    rc = KC_OK;
done:
    zcert_destroy(&in);
    zcert_destroy(&out);
    return rc;
}
