#include "id.h"
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* Random bytes are taken from the kernel 4 KiB at a time: one getrandom per
 * ~400 ids instead of one per id (it was a seventh of a write's CPU). Each
 * process has its own pool; a forked child must not share it (koop never
 * forks after making ids). */
static uint8_t s_pool[4096];
static size_t s_pool_left;

static int
s_random(uint8_t *out, size_t len)
{
    if (s_pool_left < len) {
        size_t got = 0;
        while (got < sizeof s_pool) {
            ssize_t n = getrandom(s_pool + got, sizeof s_pool - got, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return n < 0 ? -errno : -EIO;
            got += (size_t)n;
        }
        s_pool_left = sizeof s_pool;
    }
    memcpy(out, s_pool + sizeof s_pool - s_pool_left, len);
    /* used bytes are wiped so they cannot be handed out twice */
    memset(s_pool + sizeof s_pool - s_pool_left, 0, len);
    s_pool_left -= len;
    return 0;
}

static const char s_hex[] = "0123456789abcdef";

int
koop_id_new(char out[KOOP_ID_LEN])
{
    uint8_t b[16];
    uint64_t ms = koop_clock_real_ms();
    int rc = s_random(b + 6, 10);

    if (rc != 0)
        return rc;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f)); /* version 7 */
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f)); /* variant 10 */
    for (int i = 0, k = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = s_hex[b[i] >> 4];
        out[k++] = s_hex[b[i] & 15];
    }
    out[36] = '\0';
    return 0;
}

int
koop_id_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return 1;
}
