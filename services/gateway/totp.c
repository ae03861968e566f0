/*
 * totp.c - time-based one-time passwords (RFC 6238 over RFC 4226's HOTP):
 * HMAC-SHA1 of the 30-second step, dynamic truncation, 6 digits; the
 * parameters every authenticator app takes from an otpauth:// URI.
 * HMAC-SHA1 is OpenSSL's (libsodium has no SHA-1).
 */
#include "gateway.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned
gw_totp_code(const uint8_t *secret, size_t len, uint64_t step)
{
    uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0, off, bin;
    for (int i = 7; i >= 0; i--, step >>= 8)
        msg[i] = (uint8_t)(step & 0xff);
    if (!HMAC(EVP_sha1(), secret, (int)len, msg, sizeof msg, mac, &maclen) || maclen < 20)
        return 1000000; /* never a code */
    off = mac[maclen - 1] & 0x0f;
    bin = ((unsigned)(mac[off] & 0x7f) << 24) | ((unsigned)mac[off + 1] << 16) | ((unsigned)mac[off + 2] << 8) |
          mac[off + 3];
    return bin % 1000000;
}

int
gw_totp_check(const uint8_t *secret, size_t len, const char *code, uint64_t now_s, uint64_t last_step,
              uint64_t *step_out)
{
    uint64_t now_step = now_s / GW_TOTP_STEP_S;
    unsigned want;
    if (!code || strlen(code) != 6 || strspn(code, "0123456789") != 6)
        return 0;
    want = (unsigned)strtoul(code, NULL, 10);
    /* one step either side: a clock a little off, a code typed at the turn */
    for (uint64_t s = now_step ? now_step - 1 : 0; s <= now_step + 1; s++) {
        if (s > last_step && gw_totp_code(secret, len, s) == want) {
            *step_out = s;
            return 1;
        }
    }
    return 0;
}

void
gw_base32(const uint8_t *data, size_t len, char *out, size_t outlen)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    size_t o = 0;
    unsigned buf = 0;
    int bits = 0;
    for (size_t i = 0; i < len && o + 1 < outlen; i++) {
        buf = (buf << 8) | data[i];
        bits += 8;
        while (bits >= 5 && o + 1 < outlen) {
            out[o++] = alphabet[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0 && o + 1 < outlen)
        out[o++] = alphabet[(buf << (5 - bits)) & 31];
    out[o] = '\0';
}
