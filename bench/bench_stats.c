/*
 * bench_stats.c - latency samples and how they are summarised.
 *
 * Measures nothing itself: it keeps every sample (microseconds, from the
 * monotonic clock) so percentiles are exact (nearest rank over the sorted
 * samples), not estimated from buckets. A run of a few tens of thousands of
 * requests needs a few hundred kilobytes.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
bench_lat_init(bench_lat_t *lat, size_t cap)
{
    memset(lat, 0, sizeof *lat);
    lat->bl_us = malloc((cap ? cap : 1) * sizeof *lat->bl_us);
    if (!lat->bl_us)
        return -ENOMEM;
    lat->bl_cap = cap;
    return 0;
}

void
bench_lat_clear(bench_lat_t *lat)
{
    if (!lat)
        return;
    free(lat->bl_us);
    memset(lat, 0, sizeof *lat);
}

int
bench_lat_add(bench_lat_t *lat, uint64_t us)
{
    if (lat->bl_n == lat->bl_cap)
        return -ENOBUFS;
    lat->bl_us[lat->bl_n++] = us;
    lat->bl_sorted = 0;
    return 0;
}

int
bench_lat_merge(bench_lat_t *to, bench_lat_t *from)
{
    if (to->bl_n + from->bl_n > to->bl_cap) {
        size_t cap = to->bl_n + from->bl_n;
        uint64_t *grown = realloc(to->bl_us, (cap ? cap : 1) * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        to->bl_us = grown;
        to->bl_cap = cap;
    }
    if (from->bl_n)
        memcpy(to->bl_us + to->bl_n, from->bl_us, from->bl_n * sizeof *from->bl_us);
    to->bl_n += from->bl_n;
    to->bl_sorted = 0;
    from->bl_n = 0;
    return 0;
}

static int
s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double
bench_lat_pct_ms(bench_lat_t *lat, double p)
{
    size_t rank;
    if (lat->bl_n == 0)
        return 0.0;
    if (!lat->bl_sorted) {
        qsort(lat->bl_us, lat->bl_n, sizeof *lat->bl_us, s_cmp_u64);
        lat->bl_sorted = 1;
    }
    {
        double x = p / 100.0 * (double)lat->bl_n; /* ceil without libm */
        rank = (size_t)x;
        if ((double)rank < x)
            rank++;
    }
    if (rank < 1)
        rank = 1;
    if (rank > lat->bl_n)
        rank = lat->bl_n;
    return (double)lat->bl_us[rank - 1] / 1000.0;
}

double
bench_lat_mean_ms(const bench_lat_t *lat)
{
    double sum = 0;
    if (lat->bl_n == 0)
        return 0.0;
    for (size_t i = 0; i < lat->bl_n; i++)
        sum += (double)lat->bl_us[i];
    return sum / (double)lat->bl_n / 1000.0;
}

const char *
bench_fmt_count(char *buf, size_t size, double v)
{
    char digits[32];
    unsigned long long n = v <= 0 ? 0ULL : (unsigned long long)(v + 0.5);
    int len = snprintf(digits, sizeof digits, "%llu", n);
    size_t o = 0;

    for (int i = 0; i < len && o + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    if (size)
        buf[o < size ? o : size - 1] = '\0';
    return buf;
}
