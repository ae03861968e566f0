#include "cert.h"
#include "keyprint.h"

#include <czmq.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int
koop_cert_load(const char *path, int secret, uint8_t public_key[32], uint8_t secret_key[32], char *err, size_t errlen)
{
    static const uint8_t zero[32];
    zcert_t *cert;
    int rc = 0;

    memset(public_key, 0, 32);
    memset(secret_key, 0, 32);
    if (!path || !*path) {
        snprintf(err, errlen, "brak ścieżki certyfikatu");
        return -EINVAL;
    }
    cert = zcert_load(path);
    if (!cert) {
        snprintf(err, errlen, "nie można odczytać certyfikatu %s", path);
        return -ENOENT;
    }
    memcpy(public_key, zcert_public_key(cert), 32);
    memcpy(secret_key, zcert_secret_key(cert), 32);
    if (memcmp(public_key, zero, 32) == 0 || (secret && memcmp(secret_key, zero, 32) == 0)) {
        snprintf(err, errlen, "certyfikat %s nie zawiera %s", path, secret ? "klucza tajnego" : "klucza publicznego");
        rc = -EINVAL;
    }
    zcert_destroy(&cert);
    return rc;
}

void
koop_key_fingerprint(const uint8_t public_key[32], char out[40])
{
    /* one fingerprint for people everywhere: the one keys show prints */
    koop_keyprint(public_key, out);
}

int
koop_key_from_z85(const char *z85, uint8_t out[32])
{
    if (!z85 || strlen(z85) != 40 || !zmq_z85_decode(out, z85))
        return -EINVAL;
    return 0;
}
