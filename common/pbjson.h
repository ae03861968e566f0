/*
 * pbjson - protobuf messages to and from JSON, driven by protobuf-c's
 * descriptors, so every message koopctl (and later the gateway) shows or
 * builds needs no hand-written conversion.
 *
 * Mapping: field names are the JSON keys; enums are the value name without
 * its prefix, in lower case (SECTOR_SOCIAL_ASSISTANCE -> "social_assistance";
 * the *_UNSPECIFIED zero value is omitted); repeated fields are arrays;
 * proto2 fields that are not present are omitted.
 *
 * From JSON, a value may also be a string for any scalar ("3", "true"), and a
 * repeated field may be one comma-separated string ("families,seniors"), so
 * command-line options map straight onto fields.
 */
#ifndef KOOP_PBJSON_H
#define KOOP_PBJSON_H

#include "errors.h"

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* A new JSON object for msg (caller decrefs). NULL on allocation failure. */
json_t *koop_pbjson_to_json(const ProtobufCMessage *msg);

/* How koop's JSON is printed (koopctl --json, the gateway's bodies). */
#define KOOP_PBJSON_DUMP_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12))

/* msg as JSON text: the bytes json_dumps(koop_pbjson_to_json(msg),
 * KOOP_PBJSON_DUMP_FLAGS) gives, written straight from the message without
 * the tree (pbjson_write.c). field: NULL for the whole message, or one of
 * its fields whose value alone is written ("items" of a list reply; "[]"
 * when msg has no such value). A malloc'd NUL-terminated string (*len its
 * length, len may be NULL), or NULL when out of memory. */
char *koop_pbjson_dumps(const ProtobufCMessage *msg, const char *field, size_t *len);

/* Whether the non-repeated field f of m is a member of its JSON object:
 * present (proto2 has_, a set pointer; proto3 scalars always) and not an
 * enum's zero (*_UNSPECIFIED) value. */
int koop_pbjson_member(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);
/* The size of one element of a repeated field of f's type. */
size_t koop_pbjson_elem_size(const ProtobufCFieldDescriptor *f);

/* Builds a message of type desc from a JSON object. Unknown keys and bad
 * values are errors, set in *err (code, the key as field, the value).
 * Returns the message (free with protobuf_c_message_free_unpacked(m, NULL))
 * or NULL. */
ProtobufCMessage *koop_pbjson_from_json(const ProtobufCMessageDescriptor *desc, json_t *obj, koop_error_t *err);

/* The JSON name of an enum value ("social_assistance"), into out. */
void koop_pbjson_enum_name(const ProtobufCEnumValue *v, char *out, size_t outlen);

/* Lists the allowed names of an enum into out, space-separated: every value
 * but 0 (unspecified; the enums here have no negative values). */
void koop_pbjson_enum_names(const ProtobufCEnumDescriptor *e, char *out, size_t outlen);
/* The same for the values first..last only (a field that takes some of
 * them: an IPW closes with an outcome from success on). */
void koop_pbjson_enum_range(const ProtobufCEnumDescriptor *e, int first, int last, char *out, size_t outlen);

#endif
