/*
 * chain - hash chains that make append-only tables tamper-evident
 * (docs/ACCOUNTABILITY.md has the reasoning; log.h the tables of a log).
 *
 * B(x) is BLAKE2b-256 (libsodium crypto_generichash). An event log keeps
 * two chains beside its envelopes, which stay exactly the bytes written:
 *
 *   L(n) = B(L(p) || header(n) || B(payload(n)))   p: the entry before n
 *   S(n) = B(S(q) || header(n) || B(payload(n)))   n, q: SHARED entries only
 *   L(0) = B("koop.log\0" || log id),  S(0) = B("koop.shared\0" || log id)
 *
 * header(n) is the envelope's bytes before its payload field (protobuf-c
 * writes fields in number order and the payload, field 9, is the last one),
 * so the chain hashes the payload only through its own hash: retention can
 * drop a payload (keeping B(payload) in log_redacted) and the chain still
 * verifies, while every header (seq, id, time, actor, scope, type) stays
 * covered. The SHARED chain is what a hub, which receives only the SHARED
 * entries, can recompute from the bytes it is sent.
 *
 * Other chained tables (the cases audit log) chain whole values:
 *   A(n) = B(A(p) || value(n)),  A(0) = B("koop.<name>\0").
 */
#ifndef KOOP_CHAIN_H
#define KOOP_CHAIN_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define KOOP_CHAIN_LEN 32

/* koop_chain_split: the envelope has no payload field (its payload was removed). */
#define KOOP_CHAIN_NO_PAYLOAD 1

/* B(data). */
void koop_chain_hash(uint8_t out[KOOP_CHAIN_LEN], const void *data, size_t len);
/* The first link of a chain: B(name \0 id); id may be NULL. */
void koop_chain_genesis(uint8_t out[KOOP_CHAIN_LEN], const char *name, const char *id);
/* B(prev || header || payload_hash): a link of L or S. */
void koop_chain_link(uint8_t out[KOOP_CHAIN_LEN], const uint8_t prev[KOOP_CHAIN_LEN], const uint8_t *header,
                     size_t header_len, const uint8_t payload_hash[KOOP_CHAIN_LEN]);
/* B(prev || value): a link of a chained table. */
void koop_chain_next(uint8_t out[KOOP_CHAIN_LEN], const uint8_t prev[KOOP_CHAIN_LEN], const void *value,
                     size_t len);

/* Finds the payload field of an envelope's bytes without decoding them.
 * Returns 0 with *header_len (the bytes before the field) and the payload;
 * KOOP_CHAIN_NO_PAYLOAD when there is none (*header_len = len); -EBADMSG when
 * the bytes are not a message or a field follows the payload (not the form
 * a log writes). Every length is checked against len. */
int koop_chain_split(const uint8_t *env, size_t len, size_t *header_len, const uint8_t **payload,
                     size_t *payload_len);

/* The link of an envelope after prev: split, hash the payload (or take
 * redacted_hash when the payload was removed; NULL then is -ENODATA), link.
 * 0 or a koop_chain_split error. */
int koop_chain_entry(uint8_t out[KOOP_CHAIN_LEN], const uint8_t prev[KOOP_CHAIN_LEN], const uint8_t *env,
                     size_t len, const uint8_t *redacted_hash);

/* Lower-case hex of a link into out (2 * KOOP_CHAIN_LEN + 1). */
void koop_chain_hex(char out[2 * KOOP_CHAIN_LEN + 1], const uint8_t link[KOOP_CHAIN_LEN]);

/* A digest of a range of a stream, for comparing two copies (sync verify):
 * B over (be64 seq, be32 length, envelope bytes) of each entry in order. */
typedef struct {
    crypto_generichash_state state;
    uint64_t count;
} koop_digest_t;
void koop_digest_init(koop_digest_t *d);
void koop_digest_add(koop_digest_t *d, uint64_t seq, const uint8_t *env, size_t len);
void koop_digest_final(koop_digest_t *d, uint8_t out[KOOP_CHAIN_LEN]);

#endif
