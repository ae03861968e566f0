/* keyprint.c - short fingerprints of node keys (see keyprint.h). */
#include "keyprint.h"

#include <czmq.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* what is hashed before the key, so the fingerprint is of nothing else */
static const char s_domain[] = "koop node key fingerprint v1";

void
koop_keyprint(const uint8_t public_key[32], char out[KOOP_KEYPRINT_LEN])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    crypto_generichash_state st;
    unsigned char h[16];
    char raw[20];
    unsigned acc = 0, bits = 0;
    size_t k = 0, o = 0;

    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)s_domain, sizeof s_domain - 1);
    crypto_generichash_update(&st, public_key, 32);
    crypto_generichash_final(&st, h, sizeof h);
    for (size_t n = 0; n < sizeof raw; n++) {
        if (bits < 5) {
            acc = (acc << 8) | h[k++];
            bits += 8;
        }
        raw[n] = alphabet[(acc >> (bits - 5)) & 31];
        bits -= 5;
    }
    for (size_t n = 0; n < sizeof raw; n++) {
        if (n && n % 4 == 0)
            out[o++] = ' ';
        out[o++] = raw[n];
    }
    out[o] = '\0';
}

int
koop_keyprint_is_cert(const char *path)
{
    char line[512];
    int curve = 0, key = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f) && !key) {
        const char *p = line + strspn(line, " \t");
        if (line[0] != ' ' && line[0] != '\t' && line[0] != '#')
            curve = strncmp(line, "curve", 5) == 0;
        else if (curve && strncmp(p, "public-key", 10) == 0)
            key = 1;
    }
    fclose(f);
    if (!key)
        errno = EINVAL;
    return key;
}

int
koop_keyprint_file(const char *path, char out[KOOP_KEYPRINT_LEN], char *z85, size_t z85_size)
{
    static const uint8_t zero[32];
    zcert_t *cert = koop_keyprint_is_cert(path) ? zcert_load(path) : NULL;
    int rc = 0;
    if (!cert)
        return -ENOENT;
    if (memcmp(zcert_public_key(cert), zero, 32) == 0) {
        rc = -EINVAL;
    } else {
        koop_keyprint(zcert_public_key(cert), out);
        if (z85)
            snprintf(z85, z85_size, "%s", zcert_public_txt(cert));
    }
    zcert_destroy(&cert);
    return rc;
}
