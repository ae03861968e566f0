/* present.c - replies as JSON and text (see present.h). */
#include "present.h"
#include "events.h"
#include "pbjson.h"

#include <stdlib.h>
#include <string.h>

static const char *const s_labels[][3] = {
#define KOOP_LABEL(field, pl, en) {field, pl, en},
#define KOOP_VALUE(set, value, pl, en)
#include "labels.def"
#undef KOOP_VALUE
#undef KOOP_LABEL
};

const char *
koop_present_label(const char *field, koop_lang_t lang)
{
    for (size_t i = 0; field && i < sizeof s_labels / sizeof s_labels[0]; i++)
        if (strcmp(s_labels[i][0], field) == 0)
            return s_labels[i][lang == KOOP_LANG_EN ? 2 : 1];
    return field ? field : "";
}

void
koop_present_dump(json_t *value, FILE *out)
{
    json_dumpf(value, out, KOOP_PBJSON_DUMP_FLAGS);
    fputc('\n', out);
    fflush(out);
}

/* ---- JSON ---- */

/* Whose JSON a reply is: composed here (a report, sync.status), or the
 * message's own (pbjson). */
enum { S_JSON_OWN, S_JSON_REPORT, S_JSON_SYNC };

static int
s_json_kind(const koop_api_method_t *m, const ProtobufCMessage *reply)
{
    if (m && (m->flags & KOOP_API_REPORT))
        return S_JSON_REPORT;
    return reply->descriptor == koop_api_find("sync.status")->reply ? S_JSON_SYNC : S_JSON_OWN;
}

json_t *
koop_present_json(const koop_api_method_t *m, const ProtobufCMessage *reply, koop_lang_t lang)
{
    json_t *out, *items;
    int kind = s_json_kind(m, reply);
    if (kind == S_JSON_REPORT)
        return koop_present_report_json(m, reply, lang);
    if (kind == S_JSON_SYNC)
        return koop_present_sync_json(reply);
    out = koop_pbjson_to_json(reply);
    if (!out || !m || !(m->flags & KOOP_API_LIST))
        return out;
    items = json_object_get(out, "items");
    items = items ? json_incref(items) : json_array();
    json_decref(out);
    return items;
}

char *
koop_present_json_text(const koop_api_method_t *m, const ProtobufCMessage *reply, koop_lang_t lang, size_t *len)
{
    json_t *tree;
    char *text;
    if (s_json_kind(m, reply) == S_JSON_OWN)
        return koop_pbjson_dumps(reply, m && (m->flags & KOOP_API_LIST) ? "items" : NULL, len);
    if (!(tree = koop_present_json(m, reply, lang)))
        return NULL;
    text = json_dumps(tree, KOOP_PBJSON_DUMP_FLAGS);
    json_decref(tree);
    if (text && len)
        *len = strlen(text);
    return text;
}

json_t *
koop_present_error(const koop_error_t *e, koop_lang_t lang, const char *field_label)
{
    char msg[1024];
    json_t *o = json_object(), *inner = json_object();
    koop_error_render(e, lang, field_label, msg, sizeof msg);
    json_object_set_new(inner, "code", json_string(e->code[0] ? e->code : "unknown"));
    if (e->field[0])
        json_object_set_new(inner, "field", json_string(e->field));
    json_object_set_new(inner, "message", json_string(msg));
    json_object_set_new(o, "error", inner);
    return o;
}

/* ---- text ---- */

static void
s_scalar(FILE *out, json_t *v, koop_lang_t lang)
{
    if (json_is_string(v))
        fputs(json_string_value(v), out);
    else if (json_is_true(v))
        fputs(lang == KOOP_LANG_EN ? "yes" : "tak", out);
    else if (json_is_false(v))
        fputs(lang == KOOP_LANG_EN ? "no" : "nie", out);
    else if (json_is_integer(v))
        fprintf(out, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        fprintf(out, "%.1f", json_real_value(v));
    else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                fputs(", ", out);
            s_scalar(out, json_array_get(v, i), lang);
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach(v, k, x) {
            fprintf(out, "%s%s=", first ? "" : " ", k);
            s_scalar(out, x, lang);
            first = 0;
        }
    }
}

void
koop_present_padded(FILE *out, const char *s, int width)
{
    int chars = 0;
    for (const char *p = s; *p; p++)
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    fputs(s, out);
    for (; chars < width; chars++)
        fputc(' ', out);
}

static void
s_object(FILE *out, json_t *obj, int indent, koop_lang_t lang)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        fprintf(out, "%*s", indent, "");
        koop_present_padded(out, koop_present_label(key, lang), 18);
        fputc(' ', out);
        if (json_is_array(v) && json_array_size(v) && json_is_object(json_array_get(v, 0))) {
            fputc('\n', out);
            for (size_t i = 0; i < json_array_size(v); i++) {
                fprintf(out, "%*s- ", indent + 2, "");
                s_scalar(out, json_array_get(v, i), lang);
                fputc('\n', out);
            }
            continue;
        }
        s_scalar(out, v, lang);
        fputc('\n', out);
    }
}

/* One line per list item: id, then name/title, then the other short fields. */
static void
s_list(FILE *out, json_t *arr, koop_lang_t lang)
{
    if (json_array_size(arr) == 0) {
        fputs(lang == KOOP_LANG_EN ? "(no results)\n" : "(brak wyników)\n", out);
        return;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i), *v;
        const char *key;
        if (!json_is_object(o)) {
            s_scalar(out, o, lang);
            fputc('\n', out);
            continue;
        }
        s_scalar(out, json_object_get(o, "id"), lang);
        json_object_foreach(o, key, v) {
            /* technical fields stay in --json only */
            if (!strcmp(key, "id") || !strcmp(key, "owner") || !strcmp(key, "updated_ms") ||
                !strcmp(key, "link") || !strcmp(key, "event") || !strcmp(key, "person") ||
                !strcmp(key, "time_ms") || (!strcmp(key, "ipw") && json_object_get(o, "number")) ||
                json_is_object(v) || (json_is_array(v) && json_array_size(v) &&
                                      json_is_object(json_array_get(v, 0))))
                continue;
            fputs("  ", out);
            s_scalar(out, v, lang);
        }
        fputc('\n', out);
    }
}

void
koop_present_value_text(json_t *value, koop_lang_t lang, FILE *out)
{
    if (json_is_array(value))
        s_list(out, value, lang);
    else if (json_is_object(value))
        s_object(out, value, 0, lang);
    else {
        s_scalar(out, value, lang);
        fputc('\n', out);
    }
    fflush(out);
}

/* A list reply: its items as a table, then its other fields (a count of
 * unread entries) as "label: value" lines. */
static void
s_list_text(const ProtobufCMessage *reply, koop_lang_t lang, FILE *out)
{
    const ProtobufCMessageDescriptor *d = reply->descriptor;
    const ProtobufCFieldDescriptor *items = protobuf_c_message_descriptor_get_field_by_name(d, "items");
    if (!items || items->type != PROTOBUF_C_TYPE_MESSAGE) {
        koop_present_message_text(reply, lang, out);
        return;
    }
    koop_present_list_text(*(const ProtobufCMessage *const *const *)((const char *)reply + items->offset),
                           *(const size_t *)((const char *)reply + items->quantifier_offset), lang, out);
    if (d->n_fields > 1) {
        /* the rest of the reply, without the items */
        ProtobufCMessage *rest = malloc(d->sizeof_message);
        if (!rest)
            return;
        memcpy(rest, reply, d->sizeof_message);
        *(size_t *)((char *)rest + items->quantifier_offset) = 0;
        koop_present_message_text(rest, lang, out);
        free(rest);
    }
}

void
koop_present_text(const koop_api_method_t *m, const ProtobufCMessage *reply, koop_fmt_t fmt, koop_lang_t lang,
                  FILE *out)
{
    if (m && (m->flags & KOOP_API_REPORT)) {
        koop_present_report_text(m, reply, fmt, lang, out);
        return;
    }
    if (reply->descriptor == koop_api_find("sync.status")->reply) {
        koop_present_sync_text(reply, lang, out);
        return;
    }
    if (reply->descriptor == koop_api_find("sync.verify")->reply) {
        koop_present_sync_verify_text(reply, lang, out);
        return;
    }
    if (reply->descriptor == &koop__verify_report__descriptor) {
        koop_present_verify_text(reply, lang, out);
        return;
    }
    if (reply->descriptor == koop_api_find("household.export")->reply) {
        koop_present_export_text(reply, out);
        return;
    }
    if (m && (m->flags & KOOP_API_LIST)) {
        s_list_text(reply, lang, out);
        return;
    }
    koop_present_message_text(reply, lang, out);
}

/* ---- events ---- */

json_t *
koop_present_event(const Koop__Event *ev)
{
    json_t *o = json_object();
    const koop_event_type_t *t;
    ProtobufCMessage *p = NULL;
    int rc = koop_event_decode(ev, &t, &p);
    json_object_set_new(o, "node", json_string(ev->node ? ev->node : ""));
    json_object_set_new(o, "stream", json_string(ev->stream ? ev->stream : ""));
    json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
    json_object_set_new(o, "id", json_string(ev->id ? ev->id : ""));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)ev->time_ms));
    json_object_set_new(o, "actor", json_string(ev->actor ? ev->actor : ""));
    json_object_set_new(o, "scope", json_string(ev->scope == KOOP__SCOPE__SCOPE_SHARED ? "shared" : "local"));
    json_object_set_new(o, "type", json_string(ev->type ? ev->type : ""));
    if (rc == 0 && t->payload == &koop__event__descriptor) {
        json_object_set_new(o, "event", koop_present_event((const Koop__Event *)p));
    } else if (rc == 0) {
        json_object_set_new(o, "data", koop_pbjson_to_json(p));
    } else {
        char *hex = malloc(ev->payload.len * 2 + 1);
        json_object_set_new(o, "undecoded", json_string(koop_event_decode_error(rc)));
        if (hex) {
            for (size_t i = 0; i < ev->payload.len; i++)
                sprintf(hex + 2 * i, "%02x", ev->payload.data[i]);
            hex[ev->payload.len * 2] = '\0';
            json_object_set_new(o, "payload_hex", json_string(hex));
            free(hex);
        }
    }
    if (p)
        protobuf_c_message_free_unpacked(p, NULL);
    return o;
}

void
koop_present_event_line(json_t *e, FILE *out)
{
    const char *undecoded = json_string_value(json_object_get(e, "undecoded"));
    fprintf(out, "%6lld  %-6s  %-22s  %s%s%s\n", (long long)json_integer_value(json_object_get(e, "seq")),
            json_string_value(json_object_get(e, "scope")), json_string_value(json_object_get(e, "type")),
            json_string_value(json_object_get(e, "id")), undecoded ? "  – " : "", undecoded ? undecoded : "");
}
