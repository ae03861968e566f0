/*
 * check - validation of request fields shared by the services. Each check
 * returns KOOP_OK or fails the call (koop_call_fail) with a Polish message
 * that names the option (`--field`), so the person at the keyboard knows
 * what to change.
 */
#ifndef KOOP_CHECK_H
#define KOOP_CHECK_H

#include "service.h"

/* Valid UTF-8 of at most max bytes without control characters; required
 * means it must be present and non-empty. */
int koop_check_text(koop_call_t *call, const char *field, const char *value, int required, size_t max);
/* A real calendar date YYYY-MM-DD. */
int koop_check_date(koop_call_t *call, const char *field, const char *value, int required);
/* A phone number: digits, spaces, + - ( ), at most 40 bytes; optional. */
int koop_check_phone(koop_call_t *call, const char *field, const char *value);

#endif
