#include "pbjson.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER(m, f) ((void *)((char *)(m) + (f)->offset))
#define QUANT(m, f) ((void *)((char *)(m) + (f)->quantifier_offset))

void
koop_pbjson_enum_name(const ProtobufCEnumValue *v, char *out, size_t outlen)
{
    const char *us = strchr(v->name, '_');
    const char *src = us ? us + 1 : v->name;
    size_t i = 0;
    for (; src[i] && i + 1 < outlen; i++)
        out[i] = (char)tolower((unsigned char)src[i]);
    out[i] = '\0';
}

void
koop_pbjson_enum_range(const ProtobufCEnumDescriptor *e, int first, int last, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < e->n_values; i++) {
        char name[64];
        if (e->values[i].value < first || e->values[i].value > last)
            continue;
        koop_pbjson_enum_name(&e->values[i], name, sizeof name);
        int n = snprintf(out + used, outlen - used, "%s%s", used ? " " : "", name);
        if (n < 0 || (size_t)n >= outlen - used)
            break;
        used += (size_t)n;
    }
}

void
koop_pbjson_enum_names(const ProtobufCEnumDescriptor *e, char *out, size_t outlen)
{
    koop_pbjson_enum_range(e, 1, INT_MAX, out, outlen);
}

/* Whether a non-repeated field is present in msg. */
static int
s_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return 1;
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void **)MEMBER(m, f) != NULL;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
        return *(protobuf_c_boolean *)QUANT(m, f) != 0;
    return 1; /* proto3 scalar */
}

int
koop_pbjson_member(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    return s_present(m, f) && !(f->type == PROTOBUF_C_TYPE_ENUM && *(const int *)MEMBER(m, f) == 0);
}

static json_t *
s_scalar_to_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return *(char *const *)p ? json_string(*(char *const *)p) : json_null();
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        /* JSON integers here are signed 64-bit: larger values as a decimal
         * string (which reads back), never as a negative number */
        uint64_t v = *(const uint64_t *)p;
        char num[24];
        if (v <= (uint64_t)INT64_MAX)
            return json_integer((json_int_t)v);
        snprintf(num, sizeof num, "%llu", (unsigned long long)v);
        return json_string(num);
    }
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
        char name[64];
        if (!v)
            return json_integer(*(const int *)p);
        koop_pbjson_enum_name(v, name, sizeof name);
        return json_string(name);
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return koop_pbjson_to_json(*(ProtobufCMessage *const *)p);
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        char *hex = malloc(b->len * 2 + 1);
        json_t *j;
        if (!hex)
            return NULL;
        for (size_t i = 0; i < b->len; i++)
            sprintf(hex + 2 * i, "%02x", b->data[i]);
        hex[b->len * 2] = '\0';
        j = json_string(hex);
        free(hex);
        return j;
    }
    }
    return json_null();
}

size_t
koop_pbjson_elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    }
    return 0;
}

json_t *
koop_pbjson_to_json(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        json_t *val;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(size_t *)QUANT(msg, f);
            const char *arr = *(char *const *)MEMBER(msg, f);
            val = json_array();
            for (size_t k = 0; val && k < n; k++)
                json_array_append_new(val, s_scalar_to_json(f, arr + k * koop_pbjson_elem_size(f)));
        } else {
            if (!koop_pbjson_member(msg, f))
                continue;
            val = s_scalar_to_json(f, MEMBER(msg, f));
        }
        if (val)
            json_object_set_new(obj, f->name, val);
    }
    return obj;
}

/* ---- from JSON ---- */

static int
s_parse_enum(const ProtobufCFieldDescriptor *f, const char *s, int *out)
{
    const ProtobufCEnumDescriptor *e = f->descriptor;
    for (unsigned i = 0; i < e->n_values; i++) {
        char name[64];
        if (e->values[i].value == 0)
            continue;
        koop_pbjson_enum_name(&e->values[i], name, sizeof name);
        if (strcmp(name, s) == 0) {
            *out = e->values[i].value;
            return 0;
        }
    }
    return -1;
}

/* Parses one scalar from j (a JSON value or a string) into p. */
static int
s_scalar_from_json(const ProtobufCFieldDescriptor *f, json_t *j, void *p, koop_error_t *err)
{
    const char *s = json_is_string(j) ? json_string_value(j) : NULL;
    char *end;

    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        if (!s)
            goto bad;
        *(char **)p = strdup(s);
        return *(char **)p ? 0 : -1;
    case PROTOBUF_C_TYPE_BOOL:
        if (json_is_boolean(j))
            *(protobuf_c_boolean *)p = json_is_true(j);
        else if (s && (!strcmp(s, "true") || !strcmp(s, "tak") || !strcmp(s, "1") || !strcmp(s, "yes")))
            *(protobuf_c_boolean *)p = 1;
        else if (s && (!strcmp(s, "false") || !strcmp(s, "nie") || !strcmp(s, "0") || !strcmp(s, "no")))
            *(protobuf_c_boolean *)p = 0;
        else
            goto bad;
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        int v;
        if (!s || s_parse_enum(f, s, &v) != 0) {
            char names[512];
            koop_pbjson_enum_names(f->descriptor, names, sizeof names);
            koop_error_set(err, KOOP_ERR_FIELD_ENUM, f->name, (const char *const[]){s ? s : "?", names, NULL});
            return -1;
        }
        *(int *)p = v;
        return 0;
    }
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64: {
        long long v;
        if (json_is_integer(j))
            v = json_integer_value(j);
        else if (s && *s) {
            errno = 0;
            v = strtoll(s, &end, 10);
            if (errno || *end)
                goto bad;
        } else
            goto bad;
        if (koop_pbjson_elem_size(f) == 4) {
            if (v < INT32_MIN || v > INT32_MAX)
                goto bad;
            *(int32_t *)p = (int32_t)v;
        } else {
            *(int64_t *)p = v;
        }
        return 0;
    }
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: {
        unsigned long long v;
        if (json_is_integer(j) && json_integer_value(j) >= 0)
            v = (unsigned long long)json_integer_value(j);
        else if (s && *s && *s != '-') {
            errno = 0;
            v = strtoull(s, &end, 10);
            if (errno || *end)
                goto bad;
        } else
            goto bad;
        if (koop_pbjson_elem_size(f) == 4) {
            if (v > UINT32_MAX)
                goto bad;
            *(uint32_t *)p = (uint32_t)v;
        } else {
            *(uint64_t *)p = v;
        }
        return 0;
    }
    case PROTOBUF_C_TYPE_FLOAT: case PROTOBUF_C_TYPE_DOUBLE: {
        double v;
        if (json_is_number(j))
            v = json_number_value(j);
        else if (s && *s) {
            v = strtod(s, &end);
            if (*end)
                goto bad;
        } else
            goto bad;
        if (f->type == PROTOBUF_C_TYPE_FLOAT)
            *(float *)p = (float)v;
        else
            *(double *)p = v;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        if (!json_is_object(j))
            goto bad;
        *(ProtobufCMessage **)p = koop_pbjson_from_json(f->descriptor, j, err);
        return *(ProtobufCMessage **)p ? 0 : -1;
    case PROTOBUF_C_TYPE_BYTES:
        goto bad;
    }
bad:
    {
        const char *what = s ? s : json_is_number(j) ? "liczba" : "?";
        switch (f->type) {
        case PROTOBUF_C_TYPE_BOOL:
            koop_error_set(err, KOOP_ERR_FIELD_BOOL, f->name, (const char *const[]){what, NULL});
            break;
        case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE: case PROTOBUF_C_TYPE_BYTES:
            koop_error_set(err, KOOP_ERR_FIELD_INVALID, f->name, (const char *const[]){what, NULL});
            break;
        default:
            koop_error_set(err, KOOP_ERR_FIELD_NUMBER, f->name, (const char *const[]){what, NULL});
        }
    }
    return -1;
}

/* Splits "a,b,c" into a JSON array of strings (empty parts dropped). */
static json_t *
s_split(const char *s)
{
    json_t *arr = json_array();
    const char *p = s;
    while (arr && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len && isspace((unsigned char)p[len - 1]))
            len--;
        if (len)
            json_array_append_new(arr, json_stringn(p, len));
        p += (comma ? (size_t)(comma - p) + 1 : strlen(p));
    }
    return arr;
}

ProtobufCMessage *
koop_pbjson_from_json(const ProtobufCMessageDescriptor *desc, json_t *obj, koop_error_t *err)
{
    ProtobufCMessage *m;
    const char *key;
    json_t *val;

    if (!json_is_object(obj)) {
        koop_error_set(err, KOOP_ERR_FIELD_OBJECT, NULL, NULL);
        return NULL;
    }
    m = calloc(1, desc->sizeof_message);
    if (!m) {
        koop_error_set(err, KOOP_ERR_INTERNAL_NO_MEMORY, NULL, NULL);
        return NULL;
    }
    protobuf_c_message_init(desc, m);
    json_object_foreach(obj, key, val) {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
        if (!f) {
            koop_error_set(err, KOOP_ERR_FIELD_UNKNOWN, key, NULL);
            goto fail;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            json_t *arr = json_is_string(val) ? s_split(json_string_value(val)) : json_incref(val);
            size_t n = json_is_array(arr) ? json_array_size(arr) : 0, es = koop_pbjson_elem_size(f);
            char *items;
            if (!json_is_array(arr)) {
                json_decref(arr);
                koop_error_set(err, KOOP_ERR_LIST_EXPECTED, f->name, NULL);
                goto fail;
            }
            if (n > 10000) {
                json_decref(arr);
                koop_error_set(err, KOOP_ERR_LIST_TOO_LONG, f->name, (const char *const[]){"10000", NULL});
                goto fail;
            }
            items = calloc(n ? n : 1, es);
            if (!items) {
                json_decref(arr);
                koop_error_set(err, KOOP_ERR_INTERNAL_NO_MEMORY, NULL, NULL);
                goto fail;
            }
            *(char **)MEMBER(m, f) = items;
            for (size_t k = 0; k < n; k++) {
                if (s_scalar_from_json(f, json_array_get(arr, k), items + k * es, err) != 0) {
                    json_decref(arr);
                    goto fail;
                }
                *(size_t *)QUANT(m, f) = k + 1;
            }
            json_decref(arr);
        } else {
            if (s_scalar_from_json(f, val, MEMBER(m, f), err) != 0)
                goto fail;
            if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
                f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
                *(protobuf_c_boolean *)QUANT(m, f) = 1;
        }
    }
    return m;
fail:
    protobuf_c_message_free_unpacked(m, NULL);
    return NULL;
}
