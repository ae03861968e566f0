/*
 * names - names next to ids in replies.
 *
 * People read names, not ids; scripts want both. A reply message that
 * holds an id in field X may also have a field X_name (a repeated X:
 * X_names, one name per id, "" where unknown; an IPW id: X_number, its case
 * number, X_numbers for a repeated X). Those fields are never stored or put in events: the service
 * fills them in the reply (koop_call_reply runs its koop_service_def_t
 * `names` hook through koop_names_fill), so koopctl --json, the gateway's
 * JSON and the text of common/present all carry the same names with no
 * further request. The registry fills them from its own tables; the cases
 * service from its copy of the registry and its own households and IPWs
 * (docs/FOUNDATION.md "Names in replies").
 */
#ifndef KOOP_NAMES_H
#define KOOP_NAMES_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef enum { KOOP_NAMES_NAME = 0, KOOP_NAMES_NUMBER = 1 } koop_names_kind_t;

/* Finds what to show for `id`, the value of field `field` (the id field's
 * name: "coordinator", "parties"): a name, or with KOOP_NAMES_NUMBER a case
 * number. Writes it into out (len bytes) and returns 1, or returns 0 when
 * the id is unknown or the caller may not see it. One fill asks once per id
 * and kind (ids are global: a name does not depend on the field holding the
 * id), except for field "household", asked each time. */
typedef int (*koop_names_fn)(void *ctx, const char *field, const char *id, koop_names_kind_t kind, char *out,
                             size_t len);

/* 1 when messages of desc (or a message inside them) have name fields. */
int koop_names_wanted(const ProtobufCMessageDescriptor *desc);
/* Fills every empty name field of msg and of the messages inside it, by
 * fn. msg must own its strings (unpacked by protobuf-c: the names are
 * malloc'd and freed with it). Returns 0 or -ENOMEM (msg stays valid). */
int koop_names_fill(ProtobufCMessage *msg, koop_names_fn fn, void *ctx);
/* The same on a message whatever owns its strings (a handler's reply): the
 * names it sets are recorded in *undo (made here), and koop_names_undo
 * frees them and puts every field it set back as it was (NULL undo: does
 * nothing). A fill that fails half-way can be undone the same way. */
typedef struct koop_names_undo koop_names_undo_t;
int koop_names_fill_in_place(ProtobufCMessage *msg, koop_names_fn fn, void *ctx, koop_names_undo_t **undo);
void koop_names_undo(koop_names_undo_t **undo);
/* Forgets the name fields of msg itself (not of messages inside it) without
 * freeing them: for a shallow copy of a request about to be stored, whose
 * strings belong to the request. */
void koop_names_forget(ProtobufCMessage *msg);
/* 1 when field f of desc is a name field (X_name, X_names, X_number next to
 * an id field X); *base gets X's descriptor. */
int koop_names_field(const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *f,
                     const ProtobufCFieldDescriptor **base);

#endif
