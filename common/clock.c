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

/* n decimal digits at s (already checked to be digits) */
static int
s_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
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
    y = s_digits(s, 4);
    m = s_digits(s + 5, 2);
    d = s_digits(s + 8, 2);
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
    int y = s_digits(s, 4), m = s_digits(s + 5, 2), d = s_digits(s + 8, 2);
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

void
koop_date_from_days(int64_t z, char out[11])
{
    /* civil from days, H. Hinnant's algorithm */
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
    snprintf(out, 11, "%04d-%02u-%02u", (int)(y < 0 ? 0 : y > 9999 ? 9999 : y), m % 13u, d % 32u);
}
