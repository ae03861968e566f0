/* events.c - the event types of events.def (see events.h). */
#include "events.h"

#include "cases.pb-c.h"
#include "gateway.pb-c.h"
#include "registry.pb-c.h"
#include "reporting.pb-c.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

const koop_event_type_t koop_event_types[] = {
#define KOOP_EVENT(id, type, stream, scope, payload)                                               \
    {KOOP_EV_##id, type, #stream, KOOP__SCOPE__SCOPE_##scope, &payload##__descriptor},
#include "events.def"
#undef KOOP_EVENT
};
const size_t koop_event_ntypes = sizeof koop_event_types / sizeof koop_event_types[0];

/* Type lookup is on every consumer's hot path: an open-addressing table of
 * the rows, filled on first use (FNV-1a of the type string). */
#define SLOTS 512 /* power of two, > 4 x the number of types */
static const koop_event_type_t *s_slots[SLOTS];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static uint32_t
s_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void
s_fill(void)
{
    for (size_t i = 0; i < koop_event_ntypes; i++) {
        uint32_t h = s_hash(koop_event_types[i].type) & (SLOTS - 1);
        while (s_slots[h])
            h = (h + 1) & (SLOTS - 1);
        s_slots[h] = &koop_event_types[i];
    }
}

const koop_event_type_t *
koop_event_type(const char *type)
{
    uint32_t h;
    if (!type)
        return NULL;
    pthread_once(&s_once, s_fill);
    for (h = s_hash(type) & (SLOTS - 1); s_slots[h]; h = (h + 1) & (SLOTS - 1))
        if (strcmp(s_slots[h]->type, type) == 0)
            return s_slots[h];
    return NULL;
}

const koop_event_type_t *
koop_event_type_of(koop_ev_t id)
{
    return id > KOOP_EV_NONE && id < KOOP_EV_COUNT ? &koop_event_types[id - 1] : NULL;
}

_Static_assert(KOOP_EV_COUNT - 1 < SLOTS / 4, "events.def outgrew the lookup table: raise SLOTS");

int
koop_event_decode(const Koop__Event *ev, const koop_event_type_t **type, ProtobufCMessage **payload)
{
    const koop_event_type_t *t = koop_event_type(ev->type);
    *payload = NULL;
    *type = t;
    if (!t)
        return -ENOENT;
    if (!ev->stream || strcmp(ev->stream, t->stream) != 0 || (int)ev->scope != t->scope)
        return -EPROTO;
    if (!ev->has_payload)
        return -ENODATA; /* retention removed it (log.h koop_log_redact) */
    *payload = protobuf_c_message_unpack(t->payload, NULL, ev->payload.len, ev->payload.data);
    return *payload ? 0 : -EBADMSG;
}

const char *
koop_event_owner(const koop_event_type_t *t, const ProtobufCMessage *m, int *has)
{
    const ProtobufCFieldDescriptor *f;
    *has = 0;
    if (!t || !m || strcmp(t->stream, "registry") != 0 ||
        !(f = protobuf_c_message_descriptor_get_field_by_name(t->payload, "owner")) ||
        f->type != PROTOBUF_C_TYPE_STRING)
        return NULL;
    *has = 1;
    return *(char *const *)((const char *)m + f->offset);
}

const char *
koop_event_decode_error(int rc)
{
    switch (rc) {
    case 0: return "ok";
    case -ENOENT: return "nieznany typ zdarzenia";
    case -EPROTO: return "strumień lub zakres nie zgadza się z typem zdarzenia";
    case -EBADMSG: return "treści zdarzenia nie można odczytać";
    case -ENODATA: return "treść zdarzenia usunięta po okresie przechowywania";
    default: return "błąd";
    }
}
