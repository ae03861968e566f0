/* names.c - names next to ids in replies (see names.h). */
#include "names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_DEPTH 8 /* messages inside messages; the protos nest 2 deep */

/* The suffix of a name field and its kind; NULL when f is none. */
static const char *
s_suffix(const ProtobufCFieldDescriptor *f, koop_names_kind_t *kind)
{
    static const struct {
        const char *suffix;
        koop_names_kind_t kind;
        int repeated;
    } forms[] = {{"_names", KOOP_NAMES_NAME, 1},
                 {"_name", KOOP_NAMES_NAME, 0},
                 {"_numbers", KOOP_NAMES_NUMBER, 1},
                 {"_number", KOOP_NAMES_NUMBER, 0}};
    size_t len = strlen(f->name);
    if (f->type != PROTOBUF_C_TYPE_STRING)
        return NULL;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        size_t sl = strlen(forms[i].suffix);
        if (len > sl && strcmp(f->name + len - sl, forms[i].suffix) == 0 &&
            (f->label == PROTOBUF_C_LABEL_REPEATED) == forms[i].repeated) {
            *kind = forms[i].kind;
            return forms[i].suffix;
        }
    }
    return NULL;
}

int
koop_names_field(const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *f,
                 const ProtobufCFieldDescriptor **base)
{
    koop_names_kind_t kind;
    const char *suffix = s_suffix(f, &kind);
    char name[128];
    size_t blen;
    const ProtobufCFieldDescriptor *b;
    if (!suffix)
        return 0;
    blen = strlen(f->name) - strlen(suffix);
    if (blen >= sizeof name)
        return 0;
    memcpy(name, f->name, blen);
    name[blen] = '\0';
    b = protobuf_c_message_descriptor_get_field_by_name(desc, name);
    if (!b || b->type != PROTOBUF_C_TYPE_STRING || (b->label == PROTOBUF_C_LABEL_REPEATED) !=
                                                       (f->label == PROTOBUF_C_LABEL_REPEATED))
        return 0;
    if (base)
        *base = b;
    return 1;
}

static int
s_wanted(const ProtobufCMessageDescriptor *desc, int depth)
{
    if (depth > S_DEPTH)
        return 0;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && s_wanted(f->descriptor, depth + 1))
            return 1;
        if (koop_names_field(desc, f, NULL))
            return 1;
    }
    return 0;
}

int
koop_names_wanted(const ProtobufCMessageDescriptor *desc)
{
    return desc && s_wanted(desc, 0);
}

#define S_AT(m, off, type) ((type *)((char *)(m) + (off)))

/* Sets the optional string at f of m to a copy of value (when m has none). */
static int
s_set(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const char *value)
{
    char **slot = S_AT(m, f->offset, char *);
    if (*slot && **slot)
        return 0;
    if (*slot && *slot != f->default_value)
        free(*slot);
    if (!(*slot = strdup(value)))
        return -ENOMEM;
    return 0;
}

static int
s_fill(ProtobufCMessage *m, koop_names_fn fn, void *ctx, int depth)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    char out[512];
    if (depth > S_DEPTH)
        return 0;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i], *b;
        koop_names_kind_t kind;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t n = *S_AT(m, f->quantifier_offset, size_t);
                ProtobufCMessage **items = *S_AT(m, f->offset, ProtobufCMessage **);
                for (size_t k = 0; k < n; k++)
                    if (items[k] && s_fill(items[k], fn, ctx, depth + 1) != 0)
                        return -ENOMEM;
            } else {
                ProtobufCMessage *sub = *S_AT(m, f->offset, ProtobufCMessage *);
                if (sub && s_fill(sub, fn, ctx, depth + 1) != 0)
                    return -ENOMEM;
            }
            continue;
        }
        if (!koop_names_field(desc, f, &b))
            continue;
        s_suffix(f, &kind);
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            const char *id = *S_AT(m, b->offset, char *);
            if (id && *id && fn(ctx, b->name, id, kind, out, sizeof out) && s_set(m, f, out) != 0)
                return -ENOMEM;
            continue;
        }
        {
            size_t n = *S_AT(m, b->quantifier_offset, size_t), *nn = S_AT(m, f->quantifier_offset, size_t);
            char **ids = *S_AT(m, b->offset, char **), ***names = S_AT(m, f->offset, char **);
            int any = 0;
            if (n == 0 || *nn != 0)
                continue;
            if (!(*names = calloc(n, sizeof **names)))
                return -ENOMEM;
            for (size_t k = 0; k < n; k++) {
                int found = ids[k] && fn(ctx, b->name, ids[k], kind, out, sizeof out);
                any |= found;
                if (!((*names)[k] = strdup(found ? out : ""))) {
                    for (size_t j = 0; j < k; j++)
                        free((*names)[j]);
                    free(*names);
                    *names = NULL;
                    return -ENOMEM;
                }
            }
            *nn = n;
            if (!any) { /* nothing known: no list of empty names */
                for (size_t k = 0; k < n; k++)
                    free((*names)[k]);
                free(*names);
                *names = NULL;
                *nn = 0;
            }
        }
    }
    return 0;
}

int
koop_names_fill(ProtobufCMessage *msg, koop_names_fn fn, void *ctx)
{
    return msg && fn ? s_fill(msg, fn, ctx, 0) : 0;
}

void
koop_names_forget(ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!koop_names_field(desc, f, NULL))
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            *S_AT(msg, f->quantifier_offset, size_t) = 0;
            *S_AT(msg, f->offset, char **) = NULL;
        } else {
            *S_AT(msg, f->offset, char *) = NULL;
        }
    }
}
