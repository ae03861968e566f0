/*
 * pbjson_write.c - a message straight to JSON text (see pbjson.h).
 *
 * The bytes are those of json_dumps(koop_pbjson_to_json(msg),
 * KOOP_PBJSON_DUMP_FLAGS) - the same mapping (pbjson.c), the same layout as
 * jansson's dump (two-space indent, ": " after a key, ",\n" between
 * members, "{}" and "[]" when empty), the same escapes (\" \\ \b \f \n \r \t,
 * \uXXXX below 0x20, everything else as it is), "%.12g" reals with ".0"
 * when they would read back as integers, and what jansson cannot hold left
 * out as json_object_set_new / json_array_append_new leave it out (a string
 * that is not valid UTF-8, a real that is not finite) - but written into one
 * growing buffer instead of a tree of allocations that is built, printed and
 * freed again. A reply of a gateway is mostly that (make bench, section
 * gateway). tests/fuzz/fuzz_pbjson.c checks, for every input, that the two
 * give the same bytes.
 */
#include "pbjson.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER(m, f) ((const void *)((const char *)(m) + (f)->offset))
#define QUANT(m, f) ((const void *)((const char *)(m) + (f)->quantifier_offset))
#define INDENT 2

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} s_buf;

/* Room for n more bytes and the final NUL. 0, or -1 (b->oom set). */
static int
s_grow(s_buf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 4096;
    char *p;
    if (b->oom)
        return -1;
    while (cap - b->len < n + 1)
        cap *= 2;
    if (!(p = realloc(b->p, cap))) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline void
s_put(s_buf *b, const char *s, size_t n)
{
    if (b->cap - b->len < n + 1 && s_grow(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void
s_puts(s_buf *b, const char *s)
{
    s_put(b, s, strlen(s));
}

/* A newline and the indentation of depth (jansson's dump_indent). */
static void
s_indent(s_buf *b, int depth)
{
    static const char line[] = "\n                                                                ";
    size_t n = (size_t)depth * INDENT;
    if (n < sizeof line - 1) {
        s_put(b, line, n + 1);
        return;
    }
    s_put(b, line, 1);
    for (; n > 0;) {
        size_t k = n < sizeof line - 2 ? n : sizeof line - 2;
        s_put(b, line + 1, k);
        n -= k;
    }
}

/* Whether s is UTF-8 as jansson takes it (utf8_check_string: no overlong
 * forms, no surrogates, nothing past U+10FFFF). */
static int
s_utf8(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s, n, cp;
        if (c < 0x80) {
            s++;
            continue;
        }
        if (c < 0xC2 || c > 0xF4)
            return 0;
        n = c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
        cp = c & (0x3F >> n);
        for (unsigned i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        s += n + 1;
    }
    return 1;
}

/* 1 for the bytes a JSON string escapes (and the NUL that ends it). */
static const unsigned char s_special[256] = {
    [0] = 1, [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1, [8] = 1, [9] = 1, [10] = 1, [11] = 1,
    [12] = 1, [13] = 1, [14] = 1, [15] = 1, [16] = 1, [17] = 1, [18] = 1, [19] = 1, [20] = 1, [21] = 1, [22] = 1,
    [23] = 1, [24] = 1, [25] = 1, [26] = 1, [27] = 1, [28] = 1, [29] = 1, [30] = 1, [31] = 1, ['"'] = 1, ['\\'] = 1,
};

static void
s_string(s_buf *b, const char *s)
{
    const char *run = s;
    s_put(b, "\"", 1);
    for (;; s++) {
        unsigned char c;
        const char *esc = NULL;
        char u[8];
        while (!s_special[(unsigned char)*s])
            s++;
        if (!(c = (unsigned char)*s))
            break;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            snprintf(u, sizeof u, "\\u%04X", c);
            esc = u;
        }
        s_put(b, run, (size_t)(s - run));
        s_puts(b, esc);
        run = s + 1;
    }
    s_put(b, run, (size_t)(s - run));
    s_put(b, "\"", 1);
}

/* jansson's jsonp_dtostr at precision 12 (the C locale's '.'). */
static void
s_real(s_buf *b, double v)
{
    char num[64], *e;
    int n = snprintf(num, sizeof num, "%.12g", v);
    if (n < 0 || (size_t)n >= sizeof num - 3)
        return;
    if (!strchr(num, '.') && !strchr(num, 'e'))
        strcat(num, ".0");
    if ((e = strchr(num, 'e')) != NULL) {
        /* no '+' and no leading zeros in the exponent */
        char *start = e + 1, *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        memmove(start, end, strlen(end) + 1);
    }
    s_puts(b, num);
}

static void s_message(s_buf *b, const ProtobufCMessage *m, int depth);

/* Whether the value at p would be a member of the tree (pbjson.c's
 * s_scalar_to_json gives a value jansson keeps). */
static int
s_writable(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return !s || s_utf8((const unsigned char *)s);
    }
    case PROTOBUF_C_TYPE_FLOAT:
        return isfinite(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return isfinite(*(const double *)p);
    default:
        return 1;
    }
}

static void
s_scalar(s_buf *b, const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
    char num[32];
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        if (*(char *const *)p)
            s_string(b, *(char *const *)p);
        else
            s_puts(b, "null");
        return;
    case PROTOBUF_C_TYPE_BOOL:
        s_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
        return;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(num, sizeof num, "%lld", (long long)*(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(num, sizeof num, "%lld", (long long)*(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(num, sizeof num, "%lld", (long long)*(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t v = *(const uint64_t *)p;
        if (v <= (uint64_t)INT64_MAX) {
            snprintf(num, sizeof num, "%lld", (long long)v);
            break;
        }
        snprintf(num, sizeof num, "\"%llu\"", (unsigned long long)v);
        break;
    }
    case PROTOBUF_C_TYPE_FLOAT:
        s_real(b, *(const float *)p);
        return;
    case PROTOBUF_C_TYPE_DOUBLE:
        s_real(b, *(const double *)p);
        return;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
        char name[64];
        if (!v) {
            snprintf(num, sizeof num, "%d", *(const int *)p);
            break;
        }
        koop_pbjson_enum_name(v, name, sizeof name);
        s_string(b, name);
        return;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        s_message(b, *(ProtobufCMessage *const *)p, depth);
        return;
    case PROTOBUF_C_TYPE_BYTES: {
        static const char hex[] = "0123456789abcdef";
        const ProtobufCBinaryData *d = p;
        s_put(b, "\"", 1);
        for (size_t i = 0; i < d->len; i++) {
            char two[2] = {hex[d->data[i] >> 4], hex[d->data[i] & 15]};
            s_put(b, two, 2);
        }
        s_put(b, "\"", 1);
        return;
    }
    default:
        s_puts(b, "null");
        return;
    }
    s_puts(b, num);
}

/* A repeated field as an array, at depth. */
static void
s_array(s_buf *b, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, int depth)
{
    size_t n = *(const size_t *)QUANT(m, f), elem = koop_pbjson_elem_size(f), written = 0;
    const char *arr = *(char *const *)MEMBER(m, f);
    s_put(b, "[", 1);
    for (size_t k = 0; k < n; k++) {
        const void *p = arr + k * elem;
        if (!s_writable(f, p))
            continue;
        if (written++)
            s_put(b, ",", 1);
        s_indent(b, depth + 1);
        s_scalar(b, f, p, depth + 1);
    }
    if (written)
        s_indent(b, depth);
    s_put(b, "]", 1);
}

static void
s_message(s_buf *b, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    size_t written = 0;
    s_put(b, "{", 1);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            if (!koop_pbjson_member(m, f) || !s_writable(f, MEMBER(m, f)))
                continue;
        }
        if (written++)
            s_put(b, ",", 1);
        s_indent(b, depth + 1);
        s_string(b, f->name);
        s_put(b, ": ", 2);
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            s_array(b, m, f, depth + 1);
        else
            s_scalar(b, f, MEMBER(m, f), depth + 1);
    }
    if (written)
        s_indent(b, depth);
    s_put(b, "}", 1);
}

char *
koop_pbjson_dumps(const ProtobufCMessage *msg, const char *field, size_t *len)
{
    s_buf b = {0};
    if (!field) {
        s_message(&b, msg, 0);
    } else {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, field);
        if (f && f->label == PROTOBUF_C_LABEL_REPEATED)
            s_array(&b, msg, f, 0);
        else if (f && koop_pbjson_member(msg, f) && s_writable(f, MEMBER(msg, f)))
            s_scalar(&b, f, MEMBER(msg, f), 0);
        else
            s_puts(&b, "[]");
    }
    if (b.oom || (b.cap - b.len < 1 && s_grow(&b, 0) != 0)) {
        free(b.p);
        return NULL;
    }
    b.p[b.len] = '\0';
    if (len)
        *len = b.len;
    return b.p;
}
