/*
 * password - Argon2id password hashes (libsodium crypto_pwhash_str), with
 * the node's parameters, for koopctl (which hashes the password it reads on
 * standard input, so the password itself never leaves koopctl) and the
 * gateway (which verifies at login, off its loop, and rehashes a password
 * whose hash was made with other parameters).
 */
#ifndef KOOP_PASSWORD_H
#define KOOP_PASSWORD_H

#include "config.h"

#include <sodium.h>
#include <stddef.h>
#include <stdio.h>

/* Shortest password accepted (characters, not bytes), longest (bytes). */
#define KOOP_PASSWORD_MIN_CHARS 10
#define KOOP_PASSWORD_MAX 1024
#define KOOP_PASSWORD_HASH_MAX crypto_pwhash_STRBYTES

typedef struct {
    unsigned long long ops; /* Argon2id passes */
    size_t mem;             /* bytes */
} koop_pwparams_t;

/* The parameters of the node ([gateway] password_ops, password_mem_mib;
 * defaults: libsodium's INTERACTIVE, 2 passes and 64 MiB). */
void koop_password_params(const koop_config_t *cfg, koop_pwparams_t *out);
/* Hashes pw into out. Returns 0, or -ENOMEM (libsodium could not get the
 * memory) / -EINVAL (libsodium not initialised). */
int koop_password_hash(const char *pw, size_t len, const koop_pwparams_t *p, char out[KOOP_PASSWORD_HASH_MAX]);
/* 1 when pw matches hash, 0 when not (or hash is not a valid string). */
int koop_password_verify(const char *hash, const char *pw, size_t len);
/* 1 when hash was made with other parameters than p, 0 when not, -1 when
 * hash is not an Argon2id string. */
int koop_password_needs_rehash(const char *hash, const koop_pwparams_t *p);
/* Reads one line (the password) from in into out (without the newline).
 * Returns its length, -EINVAL when too long or empty, -EIO at end of input. */
int koop_password_read(FILE *in, char *out, size_t outlen);
/* Characters (UTF-8 code points) of s. */
size_t koop_password_chars(const char *s);

#endif
