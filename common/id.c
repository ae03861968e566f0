#include "id.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* Random bytes are drawn from the kernel a block at a time: one getrandom
 * per id was a fifth of a hub's ingest time (a hub makes an id per event it
 * stores). A forked child starts with an empty pool, so parent and child
 * never hand out the same bytes. Processes are single-threaded (one loop). */
#define POOL_SIZE 4096
static uint8_t s_pool[POOL_SIZE];
static size_t s_pool_left;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_forget_pool(void)
{
    s_pool_left = 0;
}

static void
s_register_atfork(void)
{
    (void)pthread_atfork(NULL, NULL, s_forget_pool);
}

static int
s_random(uint8_t *out, size_t n)
{
    (void)pthread_once(&s_once, s_register_atfork);
    if (s_pool_left < n) {
        size_t got = 0;
        while (got < POOL_SIZE) {
            ssize_t r = getrandom(s_pool + got, POOL_SIZE - got, 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                s_pool_left = 0;
                return -errno;
            }
            got += (size_t)r;
        }
        s_pool_left = POOL_SIZE;
    }
    memcpy(out, s_pool + POOL_SIZE - s_pool_left, n);
    memset(s_pool + POOL_SIZE - s_pool_left, 0, n); /* used bytes do not linger */
    s_pool_left -= n;
    return 0;
}

int
koop_id_new(char out[KOOP_ID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    uint64_t ms = koop_clock_real_ms();
    char *p = out;
    int rc = s_random(b + 6, 10);

    if (rc != 0)
        return rc;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f)); /* version 7 */
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f)); /* variant 10 */
    /* 8-4-4-4-12 hex digits */
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 0x0f];
    }
    *p = '\0';
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
