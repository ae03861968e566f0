/*
 * clock - time for the whole process, and calendar dates.
 *
 * koop_clock_now_ms() is the time services use for business decisions
 * (reminders, "overdue"); tests can shift it with KOOP_CLOCK_OFFSET_MS in
 * the environment (an injectable clock). koop_clock_real_ms() is never shifted
 * (ids, timeouts).
 */
#ifndef KOOP_CLOCK_H
#define KOOP_CLOCK_H

#include <stdint.h>

uint64_t koop_clock_real_ms(void);
uint64_t koop_clock_now_ms(void);
/* Monotonic milliseconds, for latencies and timeouts. */
uint64_t koop_clock_mono_ms(void);
uint64_t koop_clock_mono_us(void);

/* What is wrong with a date written YYYY-MM-DD: nothing; not that form
 * ("2026-2-3", "jutro"); the form, but no such day ("2026-02-30",
 * "2026-13-01"); a real day outside the years koop accepts (1900..2199). */
typedef enum { KOOP_DATE_OK = 0, KOOP_DATE_FORMAT, KOOP_DATE_NO_SUCH_DAY, KOOP_DATE_YEAR } koop_date_kind_t;
koop_date_kind_t koop_date_check(const char *s);
/* 1 when s is a real calendar date written YYYY-MM-DD (1900..2199). */
int koop_date_valid(const char *s);
/* Days since 1970-01-01 of a valid date; undefined for invalid ones. */
int64_t koop_date_days(const char *s);
/* Today's date (UTC, shifted clock) into out[11]. */
void koop_date_today(char out[11]);
/* The date `days` after 1970-01-01 into out[11] (koop_date_days backwards). */
void koop_date_from_days(int64_t days, char out[11]);

#endif
