#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t
koop_clock_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t
koop_clock_now_ms(void)
{
    static int loaded;
    static int64_t offset;
    if (!loaded) {
        const char *e = getenv("KOOP_CLOCK_OFFSET_MS");
        offset = e ? strtoll(e, NULL, 10) : 0;
        loaded = 1;
    }
    return (uint64_t)((int64_t)koop_clock_real_ms() + offset);
}

uint64_t
koop_clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
koop_clock_mono_ms(void)
{
    return koop_clock_mono_us() / 1000u;
}

static int
s_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

koop_date_kind_t
koop_date_check(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return KOOP_DATE_FORMAT;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return KOOP_DATE_FORMAT;
    y = atoi(s);
    m = atoi(s + 5);
    d = atoi(s + 8);
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && s_leap(y)))
        return KOOP_DATE_NO_SUCH_DAY;
    if (y < 1900 || y > 2199)
        return KOOP_DATE_YEAR;
    return KOOP_DATE_OK;
}

int
koop_date_valid(const char *s)
{
    return koop_date_check(s) == KOOP_DATE_OK;
}

int64_t
koop_date_days(const char *s)
{
    /* days from civil, H. Hinnant's algorithm */
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + (int64_t)doe - 719468;
}

void
koop_date_today(char out[11])
{
    time_t t = (time_t)(koop_clock_now_ms() / 1000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}
