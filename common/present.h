/*
 * present - replies as people and scripts see them: the one place that
 * turns a method's reply into JSON (koopctl --json and the gateway's API
 * send the same bytes) and into readable text (koopctl; the web UI shows
 * the same names and values).
 *
 *   present.c         dispatch by method, the generic shapes (a record, a
 *                     list), text of records and lists, labels, errors
 *   present_report.c  report figures: JSON with suppression marks, CSV, text
 *   present_sync.c    the sync status of a gmina and of a hub
 *   present_event.c   event envelopes, payloads decoded by events.def
 *   present_check.c   the report of a check (events.verify, audit.verify)
 *   present_export.c  the person's own copy (household.export) as a document
 *
 * JSON keeps ids and field names as in the .proto files; text uses the
 * labels of labels.def and Polish (or English) words.
 */
#ifndef KOOP_PRESENT_H
#define KOOP_PRESENT_H

#include "api.h"
#include "errors.h"
#include "envelope.pb-c.h"

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>

/* Output formats of koop_present_text. */
typedef enum { KOOP_FMT_TEXT = 0, KOOP_FMT_CSV = 1 } koop_fmt_t;

/* The reply of method m as JSON (a LIST method: its items array), what is
 * for people in it (a report's labels) in lang. Caller decrefs; NULL on
 * lack of memory. */
json_t *koop_present_json(const koop_api_method_t *m, const ProtobufCMessage *reply, koop_lang_t lang);
/* The same as the text koopctl --json prints and the gateway answers (no
 * trailing newline): written straight from the message (koop_pbjson_dumps)
 * where the JSON is the message's own, printed from koop_present_json's tree
 * where it is composed (reports, sync.status). A malloc'd string (*len its
 * length), or NULL on lack of memory. */
char *koop_present_json_text(const koop_api_method_t *m, const ProtobufCMessage *reply, koop_lang_t lang,
                             size_t *len);
/* Writes the reply of m for people (or as CSV, for reports). */
void koop_present_text(const koop_api_method_t *m, const ProtobufCMessage *reply, koop_fmt_t fmt,
                       koop_lang_t lang, FILE *out);

/* Prints any JSON value as koopctl --json does (2-space indent, key order
 * kept, one trailing newline). */
void koop_present_dump(json_t *value, FILE *out);
/* Prints a JSON value for people: an object as "label  value" lines, an
 * array as one line per item. */
void koop_present_value_text(json_t *value, koop_lang_t lang, FILE *out);

/* {"error": {"code", "field" (when there is one), "message"}}; the message
 * in lang with {field} written as field_label (NULL: the field's name). */
json_t *koop_present_error(const koop_error_t *e, koop_lang_t lang, const char *field_label);

/* Writes s padded to width characters (not bytes: Polish UTF-8). */
void koop_present_padded(FILE *out, const char *s, int width);

/* The label of a field for people ("name" -> "nazwa"); the field itself
 * when it has none. */
const char *koop_present_label(const char *field, koop_lang_t lang);

/* ---- present_text.c ---- */
/* A reply message for people: one "label  value" line per field (names for
 * ids, labels for enums, local times for unix ms, one line each, messages
 * inside one line each). */
void koop_present_message_text(const ProtobufCMessage *msg, koop_lang_t lang, FILE *out);
/* Messages of one type as a table: a header, the type's columns whatever
 * is empty ("–"), one line per message, the count. */
void koop_present_list_text(const ProtobufCMessage *const *items, size_t n, koop_lang_t lang, FILE *out);
/* The label of value of enum e ("social_assistance" -> "pomoc społeczna"),
 * or its JSON name (into buf) when it has none. */
const char *koop_present_enum(const ProtobufCEnumDescriptor *e, int value, koop_lang_t lang, char *buf,
                              size_t len);
/* The label of a word of a set of labels.def ("event", "task.done"), or NULL. */
const char *koop_present_word(const char *set, const char *word, koop_lang_t lang);
/* Word `key` of set of labels.def as a template (errors.def's syntax) in
 * lang with args[0..nargs) as {1}.. into out (always NUL-terminated; empty
 * when there is no such word); returns the length written. KOOP_ARGS(a,
 * b, ...) gives args and nargs. */
size_t koop_present_sentence(const char *set, const char *key, koop_lang_t lang, const char *const *args,
                             size_t nargs, char *out, size_t len);
#define KOOP_ARGS(...)                                                                                             \
    (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)
/* The label of field of messages of d: "Type.field" first, then "field". */
const char *koop_present_field_label(const ProtobufCMessageDescriptor *d, const char *field, koop_lang_t lang);
/* "2026-01-10 14:03" (the node's local time) of unix ms; "" for 0. */
void koop_present_local_time(uint64_t ms, char out[32]);

/* One event envelope as JSON: the envelope's fields, its payload decoded by
 * its type (events.def) under "data", an envelope carried inside (a hub's
 * merged stream, records from a hub) under "event", else "payload_hex". */
json_t *koop_present_event(const Koop__Event *ev);
/* One event as a line of text. */
void koop_present_event_line(json_t *event, FILE *out);

/* ---- present_report.c, present_sync.c ---- */
json_t *koop_present_report_json(const koop_api_method_t *m, const ProtobufCMessage *reply, koop_lang_t lang);
void koop_present_report_text(const koop_api_method_t *m, const ProtobufCMessage *reply, koop_fmt_t fmt,
                              koop_lang_t lang, FILE *out);
/* The evaluation's summary in the model's words, made from the figures of
 * report (a koop.rep.Report; a withheld one says why it has none), in lang.
 * Caller frees; NULL on lack of memory. */
char *koop_present_summary(const ProtobufCMessage *report, koop_lang_t lang);
json_t *koop_present_sync_json(const ProtobufCMessage *reply);
/* present_check.c: a koop.VerifyReport; present_export.c: the document of
 * koop.cases.HouseholdExport (Polish). */
void koop_present_verify_text(const ProtobufCMessage *reply, koop_lang_t lang, FILE *out);
void koop_present_export_text(const ProtobufCMessage *reply, FILE *out);
void koop_present_sync_text(const ProtobufCMessage *reply, koop_lang_t lang, FILE *out);
/* The result of sync verify (koop.sync.VerifyResult). */
void koop_present_sync_verify_text(const ProtobufCMessage *reply, koop_lang_t lang, FILE *out);
/* ISO 8601 UTC ("2026-12-01T10:00:00.000Z") of unix ms, null when 0. */
json_t *koop_present_time(uint64_t ms);

#endif
