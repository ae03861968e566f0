/*
 * keyprint - the fingerprint of a node's public key, short enough to read
 * out over the phone: 20 characters of base32 (RFC 4648, lower case, no
 * 0/1/8/9 to mix up with letters) of a BLAKE2b hash of the 32-byte CURVE
 * key, in five groups of four, e.g. "q4zt h2mc 6wdk 3nre yv7a" (100 bits:
 * no one can make a key with the fingerprint of another).
 *
 * The two people who exchange a key file (a hub and a gmina) each run
 * `koopctl keys show --file FILE` on the file they have and compare
 * (docs/OPERATIONS.md); `keys show`, `node init` and `enrol` print it too.
 */
#ifndef KOOP_KEYPRINT_H
#define KOOP_KEYPRINT_H

#include <stddef.h>
#include <stdint.h>

#define KOOP_KEYPRINT_LEN 25 /* 5 x 4 characters, 4 spaces, NUL */

void koop_keyprint(const uint8_t public_key[32], char out[KOOP_KEYPRINT_LEN]);

/* 1 when path reads as a CZMQ certificate (a `curve` section with a
 * `public-key`), else 0 (errno says why when it cannot be read). Asked
 * before zcert_load, which prints a syntax error to stderr and leaks its
 * file object on anything else (koopctl --json keeps stderr to one object). */
int koop_keyprint_is_cert(const char *path);

/* The fingerprint of the public key in a certificate file (a node.pub, or
 * a node.key, whose public half it takes); the key in Z85 into z85 (41
 * bytes) when not NULL. Returns 0, or -ENOENT (no such readable
 * certificate) / -EINVAL (no public key in it). */
int koop_keyprint_file(const char *path, char out[KOOP_KEYPRINT_LEN], char *z85, size_t z85_size);

#endif
