/*
 * present_text.c - replies as people read them (see present.h).
 *
 * Read from the reply message through its descriptor (not its JSON), so
 * every value is written by its type:
 *   - an id field X with a name next to it (X_name, X_names, X_number;
 *     names.h) shows the name; the id only when no name is known;
 *   - an enum shows its label of labels.def (Polish, or English with
 *     --lang en), a bool tak/nie, a time in unix ms (X_ms) the node's local
 *     date and time, some strings a word of labels.def (the timeline's
 *     event types, the kinds of notification);
 *   - text is one line: a line break shows as "↵", any other control or
 *     bidirectional character as "�", so a name can never break a table
 *     or read backwards.
 * A record is "label  value" lines with the messages inside it (an IPW's
 * goals and tasks) one line each; a list is a table with a header, columns
 * chosen per message type (s_columns) and always the same, "–" for an
 * empty cell, and a count at the end.
 */
#include "present.h"
#include "api.h"
#include "clock.h"
#include "names.h"
#include "pbjson.h"
#include "text.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- labels of values ---- */

static const struct {
    const char *set, *value, *pl, *en;
} s_values[] = {
#define KOOP_LABEL(field, pl, en)
#define KOOP_VALUE(set, value, pl, en) {set, value, pl, en},
#include "labels.def"
#undef KOOP_VALUE
#undef KOOP_LABEL
};

/* A report asks for a word per figure and a list per cell: an open-
 * addressing table of the rows by (set, value), filled on first use (the
 * first row of a pair wins, as the search through the rows did). */
#define S_WORD_SLOTS 2048 /* power of two, > 4 x the rows */
_Static_assert(sizeof s_values / sizeof s_values[0] * 4 < S_WORD_SLOTS, "labels.def outgrew S_WORD_SLOTS");
static short s_word_slots[S_WORD_SLOTS]; /* row + 1; 0: empty */
static pthread_once_t s_word_once = PTHREAD_ONCE_INIT;

static uint32_t
s_word_hash(const char *set, const char *word)
{
    uint32_t h = 2166136261u;
    for (const char *p = set; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0xffu) * 16777619u; /* between the two: ("a", "bc") is not ("ab", "c") */
    for (const char *p = word; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h & (S_WORD_SLOTS - 1);
}

/* The slot of (set, word): its row's, or the empty one where it would go. */
static uint32_t
s_word_find(const char *set, const char *word)
{
    uint32_t h = s_word_hash(set, word);
    while (s_word_slots[h] && (strcmp(s_values[s_word_slots[h] - 1].set, set) != 0 ||
                               strcmp(s_values[s_word_slots[h] - 1].value, word) != 0))
        h = (h + 1) & (S_WORD_SLOTS - 1);
    return h;
}

static void
s_word_fill(void)
{
    for (size_t i = 0; i < sizeof s_values / sizeof s_values[0]; i++) {
        uint32_t h = s_word_find(s_values[i].set, s_values[i].value);
        if (!s_word_slots[h])
            s_word_slots[h] = (short)(i + 1);
    }
}

const char *
koop_present_word(const char *set, const char *word, koop_lang_t lang)
{
    uint32_t h;
    if (!set || !word)
        return NULL;
    pthread_once(&s_word_once, s_word_fill);
    h = s_word_find(set, word);
    if (!s_word_slots[h])
        return NULL;
    return lang == KOOP_LANG_EN ? s_values[s_word_slots[h] - 1].en : s_values[s_word_slots[h] - 1].pl;
}

size_t
koop_present_sentence(const char *set, const char *key, koop_lang_t lang, const char *const *args, size_t nargs,
                      char *out, size_t len)
{
    const char *t = koop_present_word(set, key, lang);
    if (!len)
        return 0;
    out[0] = '\0';
    return t ? koop_template_render(t, lang, NULL, args, nargs, out, len) : 0;
}

const char *
koop_present_enum(const ProtobufCEnumDescriptor *e, int value, koop_lang_t lang, char *buf, size_t len)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(e, value);
    const char *label;
    if (!v) {
        snprintf(buf, len, "%d", value);
        return buf;
    }
    koop_pbjson_enum_name(v, buf, len);
    label = koop_present_word(e->name, buf, lang);
    return label ? label : buf;
}

void
koop_present_local_time(uint64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms == 0 || !localtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%d %H:%M", &tm) == 0)
        out[0] = '\0';
}

/* ---- one line of text ---- */

/* Appends s to out (a buffer of len bytes, *used so far) as one line. */
static void
s_put(char *out, size_t len, size_t *used, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p && *used + 4 < len) {
        size_t n = 1;
        uint32_t cp = *p;
        const char *repl = NULL;
        if (cp >= 0x80) {
            /* the sequence's length and code point; invalid bytes are replaced */
            if ((cp & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
                n = 2;
                cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
            } else if ((cp & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
                n = 3;
                cp = (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
            } else if ((cp & 0xf8) == 0xf0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                       (p[3] & 0xc0) == 0x80) {
                n = 4;
                cp = 0x10000;
            } else {
                repl = "\xef\xbf\xbd";
            }
        }
        if (cp == '\n' || cp == '\r' || cp == 0x2028 || cp == 0x2029 || cp == 0x85)
            repl = "\xe2\x86\xb5"; /* ↵ */
        else if (cp == '\t')
            repl = " ";
        else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x200e || cp == 0x200f || cp == 0x61c ||
                 (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
            repl = "\xef\xbf\xbd"; /* � */
        if (repl) {
            size_t rl = strlen(repl);
            if (*used + rl >= len)
                break;
            memcpy(out + *used, repl, rl);
            *used += rl;
        } else {
            memcpy(out + *used, p, n);
            *used += n;
        }
        p += n;
    }
    out[*used] = '\0';
}

/* ---- fields ---- */

#define S_AT(m, off, type) ((type const *)((const char *)(m) + (off)))

/* Fields people do not read (they stay in --json). */
static const char *const s_hidden[] = {
    "owner", "updated_ms", "link", "event", "koop.cases.TimelineEntry.seq", "koop.cases.TimelineEntry.ref",
    "koop.notif.InboxEntry.person", "koop.notif.InboxEntry.ipw", "koop.notif.InboxEntry.kind",
};

/* Strings shown as a word of a set of labels.def, or (set NULL) of the
 * words table of errors.def: a transfer's answer is a code ("key_mismatch"). */
static const struct {
    const char *field, *set;
} s_word_fields[] = {
    {"koop.cases.TimelineEntry.type", "event"},
    {"koop.notif.InboxEntry.kind", "notice"},
    {"koop.cases.AuditEntry.result", "result"},
    {"koop.cases.Transfer.answer", NULL},
    {"koop.rep.UnitInfo.level", "report.level"},
};

/* The word of `set` (NULL: errors.def's words) for s; for a step dated
 * after today (an event of the timeline), its ".future" word first: a
 * meeting planned is not held. */
static const char *
s_word(const ProtobufCMessage *m, const char *set, const char *s, koop_lang_t lang)
{
    const ProtobufCFieldDescriptor *df = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "date");
    const char *w = NULL;
    if (!set) {
        w = koop_err_word(s, lang);
        return w ? w : s;
    }
    if (df && df->type == PROTOBUF_C_TYPE_STRING) {
        const char *date = *S_AT(m, df->offset, const char *);
        char today[11], future[160];
        koop_date_today(today);
        snprintf(future, sizeof future, "%s.future", s);
        if (date && strcmp(date, today) > 0)
            w = koop_present_word(set, future, lang);
    }
    if (!w)
        w = koop_present_word(set, s, lang);
    return w ? w : s;
}

/* Whether the qualified name "Type.field" or the field's name is in list. */
static int
s_named(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f, const char *name)
{
    size_t dl = strlen(d->name);
    if (strcmp(name, f->name) == 0)
        return 1;
    return strncmp(name, d->name, dl) == 0 && name[dl] == '.' && strcmp(name + dl + 1, f->name) == 0;
}

static int
s_is_hidden(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f)
{
    for (size_t i = 0; i < sizeof s_hidden / sizeof s_hidden[0]; i++)
        if (s_named(d, f, s_hidden[i]))
            return 1;
    return koop_names_field(d, f, NULL); /* shown in place of the id */
}

const char *
koop_present_field_label(const ProtobufCMessageDescriptor *d, const char *field, koop_lang_t lang)
{
    char q[200];
    const char *l;
    snprintf(q, sizeof q, "%s.%s", d ? d->name : "", field);
    l = koop_present_label(q, lang);
    return strcmp(l, q) == 0 ? koop_present_label(field, lang) : l;
}

/* The name field next to id field f (X_name / X_names / X_number), or NULL. */
static const ProtobufCFieldDescriptor *
s_name_field(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f)
{
    static const char *const suffixes[] = {"_name", "_names", "_number", "_numbers"};
    char name[160];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        const ProtobufCFieldDescriptor *nf;
        snprintf(name, sizeof name, "%s%s", f->name, suffixes[i]);
        if ((nf = protobuf_c_message_descriptor_get_field_by_name(d, name)) && koop_names_field(d, nf, NULL))
            return nf;
    }
    return NULL;
}

/* 1 when the non-repeated field f of m holds a value. */
static int
s_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const void *p = *S_AT(m, f->offset, void *);
        return p && (f->type != PROTOBUF_C_TYPE_STRING || *(const char *)p);
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
        return *S_AT(m, f->quantifier_offset, protobuf_c_boolean);
    return 1;
}

/* One scalar element (index i of a repeated field, or the field) as text. */
static void
s_scalar(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const void *at, koop_lang_t lang,
         char *out, size_t len, size_t *used)
{
    char buf[64];
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)at;
        for (size_t i = 0; s && i < sizeof s_word_fields / sizeof s_word_fields[0]; i++)
            if (s_named(m->descriptor, f, s_word_fields[i].field))
                s = s_word(m, s_word_fields[i].set, s, lang);
        s_put(out, len, used, s ? s : "");
        return;
    }
    case PROTOBUF_C_TYPE_BOOL:
        s_put(out, len, used, *(const protobuf_c_boolean *)at ? (lang == KOOP_LANG_EN ? "yes" : "tak")
                                                               : (lang == KOOP_LANG_EN ? "no" : "nie"));
        return;
    case PROTOBUF_C_TYPE_ENUM:
        s_put(out, len, used, koop_present_enum(f->descriptor, *(const int *)at, lang, buf, sizeof buf));
        return;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t v = *(const uint64_t *)at;
        size_t fl = strlen(f->name);
        if (fl > 3 && strcmp(f->name + fl - 3, "_ms") == 0 && v >= 100000000000ull)
            koop_present_local_time(v, buf); /* a time (after 1973), not a duration */
        else if (fl > 3 && strcmp(f->name + fl - 3, "_ms") == 0)
            snprintf(buf, sizeof buf, "%llu ms", (unsigned long long)v);
        else
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
        break;
    }
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "%lld", (long long)*(const int64_t *)at);
        break;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, sizeof buf, "%u", *(const uint32_t *)at);
        break;
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, sizeof buf, "%d", *(const int32_t *)at);
        break;
    case PROTOBUF_C_TYPE_DOUBLE: {
        char *dot;
        snprintf(buf, sizeof buf, "%.1f", *(const double *)at);
        if (lang != KOOP_LANG_EN && (dot = strchr(buf, '.')))
            *dot = ',';
        break;
    }
    default:
        buf[0] = '\0';
    }
    s_put(out, len, used, buf);
}

static size_t s_elem_size(const ProtobufCFieldDescriptor *f);
static void s_inline(const ProtobufCMessage *m, koop_lang_t lang, char *out, size_t len, size_t *used);

/* The value of field f of m as one line into out (empty: nothing). Names
 * stand for ids; repeated values are joined with ", "; messages inside are
 * written inline, or counted when `count` (a table's cell). */
static void
s_value(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, koop_lang_t lang, int count, char *out,
        size_t len)
{
    const ProtobufCFieldDescriptor *nf = s_name_field(m->descriptor, f);
    size_t used = 0;
    out[0] = '\0';
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *S_AT(m, f->quantifier_offset, size_t);
        const char *base = *S_AT(m, f->offset, const char *);
        const char *const *names = nf ? *S_AT(m, nf->offset, const char *const *) : NULL;
        size_t nn = nf ? *S_AT(m, nf->quantifier_offset, size_t) : 0;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && count) {
            if (n)
                snprintf(out, len, "%zu", n);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            if (i)
                s_put(out, len, &used, ", ");
            if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                s_inline(((ProtobufCMessage *const *)base)[i], lang, out, len, &used);
            else if (names && nn == n && names[i] && *names[i])
                s_put(out, len, &used, names[i]);
            else
                s_scalar(m, f, base + i * s_elem_size(f), lang, out, len, &used);
        }
        return;
    }
    if (!s_present(m, f))
        return;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        s_inline(*(ProtobufCMessage *const *)((const char *)m + f->offset), lang, out, len, &used);
        return;
    }
    if (nf) {
        const char *name = *S_AT(m, nf->offset, const char *);
        if (name && *name) {
            s_put(out, len, &used, name);
            return;
        }
    }
    s_scalar(m, f, (const char *)m + f->offset, lang, out, len, &used);
}

static size_t
s_elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE: case PROTOBUF_C_TYPE_BYTES:
        return f->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData) : sizeof(void *);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    default:
        return 4;
    }
}

/* ---- columns of each kind of record ---- */

static const struct {
    const char *type;
    const char *columns;
} s_columns[] = {
    {"koop.reg.Institution", "id name sector level teryt active"},
    {"koop.reg.Person", "id name institution role email active"},
    {"koop.reg.Agreement", "id signed until parties text"},
    {"koop.reg.Pzk", "id name teryt formed dissolved members"},
    {"koop.reg.PzkMember", "institution joined left representative"},
    {"koop.reg.CatalogueEntry", "id name provider category target active verified"},
    {"koop.cases.Household", "id number name size registered"},
    {"koop.cases.HouseholdMember", "name birth sex relation"},
    {"koop.cases.Consent", "date purpose share_with recorded_by withdrawn id"},
    {"koop.cases.Ipw", "number id household coordinator status opened outcome"},
    {"koop.cases.ZzkMember", "person institution sector added removed coordinator"},
    {"koop.cases.Transition", "date status"},
    {"koop.cases.Scaling", "date value"},
    {"koop.cases.Goal", "area baseline target scalings description id"},
    {"koop.cases.Task", "ipw due status owner owner_institution title id"},
    {"koop.cases.Meeting", "date participants topic id"},
    {"koop.cases.Referral", "service provider status sent note id"},
    {"koop.cases.TimelineEntry", "date type actor summary"},
    {"koop.cases.AuditEntry", "time_ms caller method ipw allowed result code"},
    {"koop.cases.Transfer", "id incoming from_node to_node household state date answered answer by number"},
    {"koop.notif.InboxEntry", "time_ms read number id text"},
    {"koop.notif.Delivery", "time_ms to ok attempt error"},
    {"koop.rep.FeedStatus", "stream position failed endpoint"},
    {"koop.rep.UnitInfo", "node name teryt level parent self"},
};

/* The columns of d into cols (at most max), in order; returns how many. */
static size_t
s_cols(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor **cols, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof s_columns / sizeof s_columns[0]; i++) {
        const char *p;
        if (strcmp(s_columns[i].type, d->name) != 0)
            continue;
        for (p = s_columns[i].columns; *p && n < max;) {
            char name[64];
            size_t k = strcspn(p, " ");
            const ProtobufCFieldDescriptor *f;
            snprintf(name, sizeof name, "%.*s", (int)k, p);
            if ((f = protobuf_c_message_descriptor_get_field_by_name(d, name)))
                cols[n++] = f;
            p += k;
            p += strspn(p, " ");
        }
        return n;
    }
    /* a type without its columns: every field people read, in order */
    for (unsigned i = 0; i < d->n_fields && n < max; i++)
        if (!s_is_hidden(d, &d->fields[i]))
            cols[n++] = &d->fields[i];
    return n;
}

#define S_MAX_COLS 16
#define S_CELL 512

/* A message inside another, on one line: "label: value; label: value". */
static void
s_inline(const ProtobufCMessage *m, koop_lang_t lang, char *out, size_t len, size_t *used)
{
    const ProtobufCFieldDescriptor *cols[S_MAX_COLS];
    size_t n = s_cols(m->descriptor, cols, S_MAX_COLS);
    int first = 1;
    char v[S_CELL];
    for (size_t i = 0; i < n; i++) {
        const char *label = koop_present_field_label(m->descriptor, cols[i]->name, lang);
        int flag = cols[i]->type == PROTOBUF_C_TYPE_BOOL && cols[i]->label != PROTOBUF_C_LABEL_REPEATED;
        if (flag && !(s_present(m, cols[i]) && *S_AT(m, cols[i]->offset, protobuf_c_boolean)))
            continue; /* a flag that is off says nothing */
        if (!flag) {
            s_value(m, cols[i], lang, 1, v, sizeof v);
            if (!v[0])
                continue;
        }
        if (!first)
            s_put(out, len, used, "; ");
        s_put(out, len, used, label);
        if (!flag) {
            s_put(out, len, used, ": ");
            s_put(out, len, used, v);
        }
        first = 0;
    }
}

/* ---- records and lists ---- */

/* Characters of a UTF-8 string (not bytes). */
static int
s_width(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}


void
koop_present_message_text(const ProtobufCMessage *m, koop_lang_t lang, FILE *out)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    char v[4096];
    int width = 18;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (!s_is_hidden(d, &d->fields[i]) && s_width(koop_present_field_label(d, d->fields[i].name, lang)) > width)
            width = s_width(koop_present_field_label(d, d->fields[i].name, lang));
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (s_is_hidden(d, f))
            continue;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *S_AT(m, f->quantifier_offset, size_t);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)((const char *)m + f->offset);
            if (!n)
                continue;
            fprintf(out, "%s\n", koop_present_field_label(d, f->name, lang));
            for (size_t k = 0; k < n; k++) {
                size_t used = 0;
                v[0] = '\0';
                s_inline(items[k], lang, v, sizeof v, &used);
                fprintf(out, "  - %s\n", v);
            }
            continue;
        }
        s_value(m, f, lang, 0, v, sizeof v);
        if (!v[0])
            continue;
        koop_present_padded(out, koop_present_field_label(d, f->name, lang), width);
        fprintf(out, " %s\n", v);
    }
    fflush(out);
}

/* Cuts s to at most width characters, the last one "…" when cut. */
static void
s_cut(char *s, int width)
{
    int n = 0;
    for (char *p = s; *p; p++) {
        if (((unsigned char)*p & 0xc0) == 0x80)
            continue;
        if (n == width - 1 && s_width(p) > 1) {
            strcpy(p, "\xe2\x80\xa6");
            return;
        }
        n++;
    }
}

#define S_COL_MAX 40 /* characters of a column other than the last */

/* One line of a table: every cell padded to its column but the last. */
static void
s_table_row(FILE *out, const char *const *row, const int *width, size_t nc)
{
    for (size_t c = 0; c < nc; c++) {
        if (c + 1 < nc) {
            koop_present_padded(out, row[c], width[c]);
            fputs("  ", out);
        } else {
            fputs(row[c], out);
        }
    }
    fputc('\n', out);
}

void
koop_present_list_text(const ProtobufCMessage *const *items, size_t n, koop_lang_t lang, FILE *out)
{
    const ProtobufCFieldDescriptor *cols[S_MAX_COLS];
    const ProtobufCMessageDescriptor *d;
    size_t nc;
    int width[S_MAX_COLS];
    char *cells;

    if (n == 0) {
        fputs(lang == KOOP_LANG_EN ? "(no results)\n" : "(brak wyników)\n", out);
        fflush(out);
        return;
    }
    d = items[0]->descriptor;
    nc = s_cols(d, cols, S_MAX_COLS);
    cells = malloc(n * nc * S_CELL + 1);
    if (!cells) {
        fputs("(brak pamięci)\n", out);
        return;
    }
    for (size_t c = 0; c < nc; c++)
        width[c] = s_width(koop_present_field_label(d, cols[c]->name, lang));
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < nc; c++) {
            char *cell = cells + (r * nc + c) * S_CELL;
            s_value(items[r], cols[c], lang, 1, cell, S_CELL);
            if (!cell[0])
                strcpy(cell, "–");
            if (c + 1 < nc && strcmp(cols[c]->name, "id") != 0) /* an id is typed again: never cut */
                s_cut(cell, S_COL_MAX);
            if (s_width(cell) > width[c])
                width[c] = s_width(cell);
        }
    {
        const char *row[S_MAX_COLS];
        for (size_t c = 0; c < nc; c++)
            row[c] = koop_present_field_label(d, cols[c]->name, lang);
        s_table_row(out, row, width, nc);
        for (size_t r = 0; r < n; r++) {
            for (size_t c = 0; c < nc; c++)
                row[c] = cells + (r * nc + c) * S_CELL;
            s_table_row(out, row, width, nc);
        }
    }
    if (lang == KOOP_LANG_EN)
        fprintf(out, "(%zu %s)\n", n, n == 1 ? "result" : "results");
    else
        fprintf(out, "(%zu %s)\n", n, koop_plural_word((long long)n, "wynik", "wyniki", "wyników"));
    free(cells);
    fflush(out);
}
