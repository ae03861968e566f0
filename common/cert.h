/*
 * cert - the node's CURVE key pair (CZMQ certificates written by `koopctl
 * node init`: DIR/keys/node.pub, DIR/keys/node.key 0600) and what a key is
 * shown as to people.
 *
 * A CURVE key of ZeroMQ is a Curve25519 (X25519) key - the same kind of key
 * libsodium's crypto_box uses - so a node's public key seals data for it
 * with crypto_box_seal as it is, without any conversion (a conversion is
 * needed only from Ed25519 signing keys, which koop does not use).
 */
#ifndef KOOP_CERT_H
#define KOOP_CERT_H

#include <stddef.h>
#include <stdint.h>

/* Loads a certificate; with secret, the secret key is required too.
 * Returns 0 or -errno; err gets a Polish message. */
int koop_cert_load(const char *path, int secret, uint8_t public_key[32], uint8_t secret_key[32], char *err,
                   size_t errlen);

/* The fingerprint people compare by phone (keyprint.h: the one `koopctl
 * keys show` prints): out needs 40 bytes. */
void koop_key_fingerprint(const uint8_t public_key[32], char out[40]);

/* A Z85 key (40 characters) into 32 bytes; 0 or -EINVAL. */
int koop_key_from_z85(const char *z85, uint8_t out[32]);

#endif
