/* password.c - Argon2id hashes with the node's parameters (see password.h). */
#include "password.h"

#include <errno.h>
#include <string.h>

void
koop_password_params(const koop_config_t *cfg, koop_pwparams_t *out)
{
    out->ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    out->mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (cfg) {
        out->ops = koop_config_num(cfg->gw_password_ops, out->ops);
        out->mem = (size_t)koop_config_num(cfg->gw_password_mem_mib, out->mem >> 20) << 20;
    }
    /* libsodium's own bounds for Argon2id */
    if (out->ops < crypto_pwhash_OPSLIMIT_MIN)
        out->ops = crypto_pwhash_OPSLIMIT_MIN;
    if (out->mem < crypto_pwhash_MEMLIMIT_MIN)
        out->mem = crypto_pwhash_MEMLIMIT_MIN;
}

int
koop_password_hash(const char *pw, size_t len, const koop_pwparams_t *p, char out[KOOP_PASSWORD_HASH_MAX])
{
    if (sodium_init() < 0)
        return -EINVAL;
    if (crypto_pwhash_str_alg(out, pw, len, p->ops, p->mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return -ENOMEM;
    return 0;
}

int
koop_password_verify(const char *hash, const char *pw, size_t len)
{
    return strncmp(hash, crypto_pwhash_argon2id_STRPREFIX, strlen(crypto_pwhash_argon2id_STRPREFIX)) == 0 &&
           crypto_pwhash_str_verify(hash, pw, len) == 0;
}

int
koop_password_needs_rehash(const char *hash, const koop_pwparams_t *p)
{
    if (!hash || strnlen(hash, KOOP_PASSWORD_HASH_MAX) >= KOOP_PASSWORD_HASH_MAX ||
        strncmp(hash, crypto_pwhash_argon2id_STRPREFIX, strlen(crypto_pwhash_argon2id_STRPREFIX)) != 0)
        return -1;
    return crypto_pwhash_str_needs_rehash(hash, p->ops, p->mem);
}

int
koop_password_read(FILE *in, char *out, size_t outlen)
{
    size_t len;
    if (!fgets(out, (int)outlen, in))
        return -EIO;
    len = strlen(out);
    if (len && out[len - 1] == '\n')
        out[--len] = '\0';
    else if (len == outlen - 1)
        return -EINVAL; /* longer than the buffer */
    if (len && out[len - 1] == '\r')
        out[--len] = '\0';
    return len ? (int)len : -EINVAL;
}

size_t
koop_password_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}
