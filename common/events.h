/*
 * events - the one table of event types (common/events.def) and decoding
 * an event's payload by its type.
 */
#ifndef KOOP_EVENTS_H
#define KOOP_EVENTS_H

#include "envelope.pb-c.h"

#include <protobuf-c/protobuf-c.h>

typedef enum {
    KOOP_EV_NONE = 0,
#define KOOP_EVENT(id, type, stream, scope, payload) KOOP_EV_##id,
#include "events.def"
#undef KOOP_EVENT
    KOOP_EV_COUNT
} koop_ev_t;

typedef struct {
    koop_ev_t id;
    const char *type;                          /* "institution.added" */
    const char *stream;                        /* the owning stream */
    int scope;                                 /* KOOP__SCOPE__SCOPE_LOCAL / _SHARED */
    const ProtobufCMessageDescriptor *payload;
} koop_event_type_t;

extern const koop_event_type_t koop_event_types[];
extern const size_t koop_event_ntypes;

/* The row of a type string (NULL when the type is unknown). */
const koop_event_type_t *koop_event_type(const char *type);
/* The row of an id (NULL for a bad id). */
const koop_event_type_t *koop_event_type_of(koop_ev_t id);

/* Decodes ev's payload by its type, checking that the event's stream and
 * scope are those of its type. Returns 0 with *type and *payload (caller
 * frees it with protobuf_c_message_free_unpacked), or: -ENOENT the type is
 * not in the table, -EPROTO stream or scope do not match it, -EBADMSG the
 * payload does not decode as the type's message, -ENODATA retention removed
 * the payload (an envelope without one). *type is set whenever the
 * type is known. */
int koop_event_decode(const Koop__Event *ev, const koop_event_type_t **type, ProtobufCMessage **payload);

/* The owner a record event names: for a type of the registry stream whose
 * payload is a record with an `owner` (institutions, people, agreements,
 * PZKs, catalogue entries), *has = 1 and the owner's node id (borrowed
 * from m; NULL when absent). Other types: *has = 0, NULL. Only the owner's
 * events may change a record: consumers check it is the event's node. */
const char *koop_event_owner(const koop_event_type_t *t, const ProtobufCMessage *m, int *has);

/* A short Polish reason for a koop_event_decode result, for logs. */
const char *koop_event_decode_error(int rc);

#endif
