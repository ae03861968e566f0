/*
 * check - validation of request fields shared by the services. Each check
 * returns KOOP_OK or fails the call with a code of the catalogue
 * (errors.def) naming the field by its request name, which the client
 * renders (koopctl as `--field`, the web as the form label).
 */
#ifndef KOOP_CHECK_H
#define KOOP_CHECK_H

#include "service.h"

/* Valid UTF-8 of at most max bytes without control characters; required
 * means it must be present and non-empty. */
int koop_check_text(koop_call_t *call, const char *field, const char *value, int required, size_t max);
/* A name or another one-line text people read in lists (names of
 * institutions, people, households and services, categories, titles):
 * the rules of text.h's koop_text_name_rule, each refused with its own
 * code so the message says which rule failed - text.too_long,
 * field.encoding, text.blank (only spaces), text.newline, text.control,
 * text.bidi (U+202E and the like; these two name the character). required:
 * absent or "" is field.required. */
int koop_check_name(koop_call_t *call, const char *field, const char *value, int required, size_t max);
/* A date YYYY-MM-DD: date.invalid when not written so, date.no_such_day
 * for "2026-02-30" or "2026-13-01", date.year outside 1900..2199. */
int koop_check_date(koop_call_t *call, const char *field, const char *value, int required);
/* A phone number: digits, spaces, + - ( ), at most 40 bytes; optional. */
int koop_check_phone(koop_call_t *call, const char *field, const char *value);
/* An enum field whose allowed values are first..last of e (0 for last: the
 * enum's highest). Absent (has 0 or the value 0) is refused when required
 * (field.enum_required); a value outside first..last is refused
 * (field.enum). The allowed names (as the JSON and the command line write
 * them) are the message's argument. */
int koop_check_enum(koop_call_t *call, const char *field, int has, int value, const ProtobufCEnumDescriptor *e,
                    int first, int last, int required);
/* A repeated enum field: at least one value when required, at most max
 * (0: no bound), each as koop_check_enum, none twice (list.duplicate).
 * values points at the field's array (protobuf-c enums are int-sized). */
int koop_check_enum_list(koop_call_t *call, const char *field, const void *values, size_t n, size_t max,
                         const ProtobufCEnumDescriptor *e, int first, int last, int required);

#endif
