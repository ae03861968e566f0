/* names.c - names next to ids in replies (see names.h). */
#include "names.h"

#include <errno.h>
#include <stdio.h>
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

/* What filling a message type takes, worked out once per type (every reply
 * asks): its name fields with their id fields, and the fields holding
 * messages that have names inside. */
#define S_PLAN_MAX 24
typedef struct {
    const ProtobufCMessageDescriptor *desc;
    int wanted;
    size_t nnames, nsubs;
    struct {
        const ProtobufCFieldDescriptor *f, *base;
        koop_names_kind_t kind;
    } names[S_PLAN_MAX];
    const ProtobufCFieldDescriptor *subs[S_PLAN_MAX];
} s_plan_t;

static const s_plan_t *
s_plan(const ProtobufCMessageDescriptor *desc)
{
    static s_plan_t plans[64];
    static unsigned next;
    s_plan_t *p;
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++)
        if (plans[i].desc == desc)
            return &plans[i];
    p = &plans[next++ % (sizeof plans / sizeof plans[0])];
    memset(p, 0, sizeof *p);
    p->desc = desc;
    p->wanted = s_wanted(desc, 0);
    for (unsigned i = 0; p->wanted && i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i], *b;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && s_wanted(f->descriptor, 1) && p->nsubs < S_PLAN_MAX)
            p->subs[p->nsubs++] = f;
        else if (koop_names_field(desc, f, &b) && p->nnames < S_PLAN_MAX) {
            p->names[p->nnames].f = f;
            p->names[p->nnames].base = b;
            s_suffix(f, &p->names[p->nnames].kind);
            p->nnames++;
        }
    }
    return p;
}

int
koop_names_wanted(const ProtobufCMessageDescriptor *desc)
{
    return desc && s_plan(desc)->wanted;
}

#define S_AT(m, off, type) ((type *)((char *)(m) + (off)))

/* What one fill found: a reply names the same people again and again (an
 * IPW's coordinator, its members, who entered it). */
#define S_MEMO 32
typedef struct {
    koop_names_fn fn;
    void *ctx;
    struct {
        char id[40];
        koop_names_kind_t kind;
        int found;
        char name[200];
    } e[S_MEMO];
    unsigned n;
    koop_names_undo_t *undo;  /* filling a message in place: what to put back */
} s_memo;

/* What koop_names_fill_in_place set, to put back. */
struct koop_names_undo {
    struct {
        char **slot;        /* an optional string set ... */
        char *prev;         /* ... over this */
        size_t *count;      /* or a repeated one: count and array */
        char ***array;
    } *e;
    size_t n, cap;
};

static int
s_undo_add(koop_names_undo_t *u, char **slot, char *prev, size_t *count, char ***array)
{
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 16;
        void *g = realloc(u->e, cap * sizeof *u->e);
        if (!g)
            return -ENOMEM;
        u->e = g;
        u->cap = cap;
    }
    u->e[u->n].slot = slot;
    u->e[u->n].prev = prev;
    u->e[u->n].count = count;
    u->e[u->n].array = array;
    u->n++;
    return 0;
}

static int
s_lookup(s_memo *m, const char *field, const char *id, koop_names_kind_t kind, char *out, size_t len)
{
    size_t idlen = strlen(id);
    unsigned slot;
    int found;
    for (unsigned i = 0; i < m->n && i < S_MEMO; i++)
        if (m->e[i].kind == kind && strcmp(m->e[i].id, id) == 0 && strcmp(field, "household") != 0) {
            snprintf(out, len, "%s", m->e[i].name);
            return m->e[i].found;
        }
    found = m->fn(m->ctx, field, id, kind, out, len);
    if (idlen >= sizeof m->e[0].id || strlen(out) >= sizeof m->e[0].name)
        return found;
    slot = m->n++ % S_MEMO;
    memcpy(m->e[slot].id, id, idlen + 1);
    m->e[slot].kind = kind;
    m->e[slot].found = found;
    snprintf(m->e[slot].name, sizeof m->e[slot].name, "%s", found ? out : "");
    return found;
}

/* Sets the optional string at f of m to a copy of value (when m has none). */
static int
s_set(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const char *value, s_memo *memo)
{
    char **slot = S_AT(m, f->offset, char *), *copy;
    if (*slot && **slot)
        return 0;
    if (!(copy = strdup(value)))
        return -ENOMEM;
    if (memo->undo) {
        if (s_undo_add(memo->undo, slot, *slot, NULL, NULL) != 0) {
            free(copy);
            return -ENOMEM;
        }
    } else if (*slot && *slot != f->default_value) {
        free(*slot);
    }
    *slot = copy;
    return 0;
}

static int
s_fill(ProtobufCMessage *m, s_memo *memo, int depth)
{
    const s_plan_t *plan = s_plan(m->descriptor);
    char out[512];
    if (depth > S_DEPTH)
        return 0;
    for (size_t i = 0; i < plan->nsubs; i++) {
        const ProtobufCFieldDescriptor *f = plan->subs[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *S_AT(m, f->quantifier_offset, size_t);
            ProtobufCMessage **items = *S_AT(m, f->offset, ProtobufCMessage **);
            for (size_t k = 0; k < n; k++)
                if (items[k] && s_fill(items[k], memo, depth + 1) != 0)
                    return -ENOMEM;
        } else {
            ProtobufCMessage *sub = *S_AT(m, f->offset, ProtobufCMessage *);
            if (sub && s_fill(sub, memo, depth + 1) != 0)
                return -ENOMEM;
        }
    }
    for (size_t i = 0; i < plan->nnames; i++) {
        const ProtobufCFieldDescriptor *f = plan->names[i].f, *b = plan->names[i].base;
        koop_names_kind_t kind = plan->names[i].kind;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            const char *id = *S_AT(m, b->offset, char *);
            if (id && *id && s_lookup(memo, b->name, id, kind, out, sizeof out) && s_set(m, f, out, memo) != 0)
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
                int found = ids[k] && s_lookup(memo, b->name, ids[k], kind, out, sizeof out);
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
            if (!any || (memo->undo && s_undo_add(memo->undo, NULL, NULL, nn, names) != 0)) {
                /* nothing known (no list of empty names), or no room to undo it */
                for (size_t k = 0; k < n; k++)
                    free((*names)[k]);
                free(*names);
                *names = NULL;
                *nn = 0;
                if (any)
                    return -ENOMEM;
            }
        }
    }
    return 0;
}

static int
s_fill_with(ProtobufCMessage *msg, koop_names_fn fn, void *ctx, koop_names_undo_t *undo)
{
    s_memo *memo;
    int rc;
    if (!msg || !fn)
        return 0;
    if (!(memo = malloc(sizeof *memo)))
        return -ENOMEM;
    memo->fn = fn;
    memo->ctx = ctx;
    memo->n = 0;
    memo->undo = undo;
    rc = s_fill(msg, memo, 0);
    free(memo);
    return rc;
}

int
koop_names_fill(ProtobufCMessage *msg, koop_names_fn fn, void *ctx)
{
    return s_fill_with(msg, fn, ctx, NULL);
}

int
koop_names_fill_in_place(ProtobufCMessage *msg, koop_names_fn fn, void *ctx, koop_names_undo_t **undo)
{
    *undo = calloc(1, sizeof **undo);
    if (!*undo)
        return -ENOMEM;
    return s_fill_with(msg, fn, ctx, *undo);
}

void
koop_names_undo(koop_names_undo_t **undo)
{
    koop_names_undo_t *u = undo ? *undo : NULL;
    if (!u)
        return;
    for (size_t i = u->n; i-- > 0;) {
        if (u->e[i].slot) {
            free(*u->e[i].slot);
            *u->e[i].slot = u->e[i].prev;
        } else {
            for (size_t k = 0; k < *u->e[i].count; k++)
                free((*u->e[i].array)[k]);
            free(*u->e[i].array);
            *u->e[i].array = NULL;
            *u->e[i].count = 0;
        }
    }
    free(u->e);
    free(u);
    *undo = NULL;
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
