/* chain.c - BLAKE2b links and the envelope's payload field (see chain.h). */
#include "chain.h"

#include <errno.h>
#include <string.h>

/* sodium_init picks the fastest BLAKE2b for this CPU; it is idempotent, the
 * flag only spares its lock on every hash. */
static void
s_ready(void)
{
    static volatile int ready;
    if (!ready) {
        /* 1: already done; -1 leaves the portable code, which is as correct */
        ready = sodium_init() >= 0 ? 1 : 2;
    }
}

void
koop_chain_hash(uint8_t out[KOOP_CHAIN_LEN], const void *data, size_t len)
{
    s_ready();
    crypto_generichash(out, KOOP_CHAIN_LEN, data, len, NULL, 0);
}

void
koop_chain_genesis(uint8_t out[KOOP_CHAIN_LEN], const char *name, const char *id)
{
    crypto_generichash_state st;
    s_ready();
    crypto_generichash_init(&st, NULL, 0, KOOP_CHAIN_LEN);
    crypto_generichash_update(&st, (const unsigned char *)name, strlen(name) + 1);
    if (id)
        crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
    crypto_generichash_final(&st, out, KOOP_CHAIN_LEN);
}

void
koop_chain_link(uint8_t out[KOOP_CHAIN_LEN], const uint8_t prev[KOOP_CHAIN_LEN], const uint8_t *header,
                size_t header_len, const uint8_t payload_hash[KOOP_CHAIN_LEN])
{
    crypto_generichash_state st;
    s_ready();
    crypto_generichash_init(&st, NULL, 0, KOOP_CHAIN_LEN);
    crypto_generichash_update(&st, prev, KOOP_CHAIN_LEN);
    crypto_generichash_update(&st, header, header_len);
    crypto_generichash_update(&st, payload_hash, KOOP_CHAIN_LEN);
    crypto_generichash_final(&st, out, KOOP_CHAIN_LEN);
}

void
koop_chain_next(uint8_t out[KOOP_CHAIN_LEN], const uint8_t prev[KOOP_CHAIN_LEN], const void *value, size_t len)
{
    crypto_generichash_state st;
    s_ready();
    crypto_generichash_init(&st, NULL, 0, KOOP_CHAIN_LEN);
    crypto_generichash_update(&st, prev, KOOP_CHAIN_LEN);
    crypto_generichash_update(&st, value, len);
    crypto_generichash_final(&st, out, KOOP_CHAIN_LEN);
}

/* Reads a varint at *p (< end). 0, or -EBADMSG. */
static int
s_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -EBADMSG;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -EBADMSG;
}

#define S_PAYLOAD_FIELD 9 /* koop.Event.payload */

int
koop_chain_split(const uint8_t *env, size_t len, size_t *header_len, const uint8_t **payload, size_t *payload_len)
{
    const uint8_t *p = env, *end = env + len;
    *header_len = len;
    *payload = NULL;
    *payload_len = 0;
    while (p < end) {
        const uint8_t *field = p;
        uint64_t tag, n;
        if (s_varint(&p, end, &tag) != 0 || (tag >> 3) == 0)
            return -EBADMSG;
        switch (tag & 7) {
        case 0:
            if (s_varint(&p, end, &n) != 0)
                return -EBADMSG;
            break;
        case 1:
            if (end - p < 8)
                return -EBADMSG;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return -EBADMSG;
            p += 4;
            break;
        case 2:
            if (s_varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
                return -EBADMSG;
            if ((tag >> 3) == S_PAYLOAD_FIELD) {
                if (p + n != end)
                    return -EBADMSG; /* the payload is the last field of what a log writes */
                *header_len = (size_t)(field - env);
                *payload = p;
                *payload_len = (size_t)n;
                return 0;
            }
            p += n;
            break;
        default:
            return -EBADMSG;
        }
    }
    return KOOP_CHAIN_NO_PAYLOAD;
}

int
koop_chain_entry(uint8_t out[KOOP_CHAIN_LEN], const uint8_t prev[KOOP_CHAIN_LEN], const uint8_t *env, size_t len,
                 const uint8_t *redacted_hash)
{
    uint8_t ph[KOOP_CHAIN_LEN];
    const uint8_t *payload;
    size_t hlen, plen;
    int rc = koop_chain_split(env, len, &hlen, &payload, &plen);
    if (rc < 0)
        return rc;
    if (rc == KOOP_CHAIN_NO_PAYLOAD) {
        if (!redacted_hash)
            return -ENODATA;
        memcpy(ph, redacted_hash, sizeof ph);
    } else {
        koop_chain_hash(ph, payload, plen);
    }
    koop_chain_link(out, prev, env, hlen, ph);
    return 0;
}

void
koop_chain_hex(char out[2 * KOOP_CHAIN_LEN + 1], const uint8_t link[KOOP_CHAIN_LEN])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < KOOP_CHAIN_LEN; i++) {
        out[2 * i] = hex[link[i] >> 4];
        out[2 * i + 1] = hex[link[i] & 15];
    }
    out[2 * KOOP_CHAIN_LEN] = '\0';
}

void
koop_digest_init(koop_digest_t *d)
{
    s_ready();
    crypto_generichash_init(&d->state, NULL, 0, KOOP_CHAIN_LEN);
    d->count = 0;
}

void
koop_digest_add(koop_digest_t *d, uint64_t seq, const uint8_t *env, size_t len)
{
    uint8_t head[12];
    for (int i = 0; i < 8; i++)
        head[i] = (uint8_t)(seq >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        head[8 + i] = (uint8_t)((uint64_t)len >> (24 - 8 * i));
    crypto_generichash_update(&d->state, head, sizeof head);
    crypto_generichash_update(&d->state, env, len);
    d->count++;
}

void
koop_digest_final(koop_digest_t *d, uint8_t out[KOOP_CHAIN_LEN])
{
    crypto_generichash_final(&d->state, out, KOOP_CHAIN_LEN);
}
