#include "check.h"
#include "clock.h"
#include "pbjson.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

int
koop_check_text(koop_call_t *call, const char *field, const char *value, int required, size_t max)
{
    if (!value || !*value) {
        if (required)
            return koop_fail(call, FIELD_REQUIRED, field);
        return KOOP_OK;
    }
    if (!koop_text_valid(value, max))
        return koop_fail(call, FIELD_TEXT, field, KOOP_NUM(max));
    return KOOP_OK;
}

int
koop_check_name(koop_call_t *call, const char *field, const char *value, int required, size_t max)
{
    char cp[16];
    uint32_t bad;
    if (!value || !*value) {
        if (required)
            return koop_fail(call, FIELD_REQUIRED, field);
        return KOOP_OK;
    }
    switch (koop_text_name_rule(value, max, &bad)) {
    case KOOP_TEXT_OK: return KOOP_OK;
    case KOOP_TEXT_BAD_UTF8: return koop_fail(call, FIELD_NOT_UTF8, field);
    case KOOP_TEXT_TOO_LONG: return koop_fail(call, TEXT_TOO_LONG, field, KOOP_NUM(max));
    case KOOP_TEXT_BLANK: return koop_fail(call, TEXT_BLANK, field);
    case KOOP_TEXT_NEWLINE: return koop_fail(call, TEXT_NEWLINE, field);
    case KOOP_TEXT_BIDI:
        snprintf(cp, sizeof cp, "U+%04X", (unsigned)bad);
        return koop_fail(call, TEXT_BIDI, field, cp);
    default:
        snprintf(cp, sizeof cp, "U+%04X", (unsigned)bad);
        return koop_fail(call, TEXT_CONTROL, field, cp);
    }
}

int
koop_check_date(koop_call_t *call, const char *field, const char *value, int required)
{
    if (!value || !*value) {
        if (required)
            return koop_fail(call, DATE_REQUIRED, field);
        return KOOP_OK;
    }
    switch (koop_date_check(value)) {
    case KOOP_DATE_OK:
        return KOOP_OK;
    case KOOP_DATE_NO_SUCH_DAY:
        return koop_fail(call, DATE_NO_SUCH_DAY, field, value);
    case KOOP_DATE_YEAR:
        return koop_fail(call, DATE_YEAR, field, value);
    default:
        return koop_fail(call, DATE_INVALID, field, value);
    }
}

int
koop_check_phone(koop_call_t *call, const char *field, const char *value)
{
    int rc;
    if ((rc = koop_check_text(call, field, value, 0, 40)) != KOOP_OK)
        return rc;
    if (value)
        for (const char *p = value; *p; p++)
            if (!strchr("+0123456789 -()", *p))
                return koop_fail(call, PHONE_INVALID, field, value);
    return KOOP_OK;
}

/* The highest value of e. */
static int
s_enum_last(const ProtobufCEnumDescriptor *e)
{
    int last = 0;
    for (unsigned i = 0; i < e->n_values; i++)
        if (e->values[i].value > last)
            last = e->values[i].value;
    return last;
}

/* The name of value in e, or its number when e has none. */
static void
s_enum_name(const ProtobufCEnumDescriptor *e, int value, char out[64])
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(e, value);
    if (v)
        koop_pbjson_enum_name(v, out, 64);
    else
        snprintf(out, 64, "%d", value);
}

/* Refuses value (outside first..last) as field.enum. */
static int
s_enum_refuse(koop_call_t *call, const char *field, int value, const ProtobufCEnumDescriptor *e, int first,
              int last)
{
    char names[KOOP_ERR_ARG_MAX], given[64];
    koop_pbjson_enum_range(e, first, last, names, sizeof names);
    s_enum_name(e, value, given);
    return koop_fail(call, FIELD_ENUM, field, given, names);
}

int
koop_check_enum(koop_call_t *call, const char *field, int has, int value, const ProtobufCEnumDescriptor *e,
                int first, int last, int required)
{
    char names[KOOP_ERR_ARG_MAX];
    if (!last)
        last = s_enum_last(e);
    if (!has || value == 0) {
        if (!required)
            return KOOP_OK;
        koop_pbjson_enum_range(e, first, last, names, sizeof names);
        return koop_fail(call, FIELD_ENUM_REQUIRED, field, names);
    }
    if (value < first || value > last)
        return s_enum_refuse(call, field, value, e, first, last);
    return KOOP_OK;
}

int
koop_check_enum_list(koop_call_t *call, const char *field, const void *values, size_t n, size_t max,
                     const ProtobufCEnumDescriptor *e, int first, int last, int required)
{
    const int *v = values;
    char name[64];
    if (!last)
        last = s_enum_last(e);
    if (n == 0)
        return koop_check_enum(call, field, 0, 0, e, first, last, required);
    if (max && n > max)
        return koop_fail(call, LIST_TOO_LONG, field, KOOP_NUM(max));
    for (size_t i = 0; i < n; i++) {
        if (v[i] < first || v[i] > last)
            return s_enum_refuse(call, field, v[i], e, first, last);
        for (size_t j = 0; j < i; j++)
            if (v[i] == v[j]) {
                s_enum_name(e, v[i], name);
                return koop_fail(call, LIST_DUPLICATE, field, name);
            }
    }
    return KOOP_OK;
}
