/* events.c - the event types of events.def (see events.h). */
#include "events.h"

#include "cases.pb-c.h"
#include "registry.pb-c.h"

#include <errno.h>
#include <string.h>

const koop_event_type_t koop_event_types[] = {
#define KOOP_EVENT(id, type, stream, scope, payload)                                               \
    {KOOP_EV_##id, type, #stream, KOOP__SCOPE__SCOPE_##scope, &payload##__descriptor},
#include "events.def"
#undef KOOP_EVENT
};
const size_t koop_event_ntypes = sizeof koop_event_types / sizeof koop_event_types[0];

const koop_event_type_t *
koop_event_type(const char *type)
{
    for (size_t i = 0; type && i < koop_event_ntypes; i++)
        if (strcmp(koop_event_types[i].type, type) == 0)
            return &koop_event_types[i];
    return NULL;
}

const koop_event_type_t *
koop_event_type_of(koop_ev_t id)
{
    return id > KOOP_EV_NONE && id < KOOP_EV_COUNT ? &koop_event_types[id - 1] : NULL;
}

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
    *payload = protobuf_c_message_unpack(t->payload, NULL, ev->payload.len, ev->payload.data);
    return *payload ? 0 : -EBADMSG;
}

const char *
koop_event_decode_error(int rc)
{
    switch (rc) {
    case 0: return "ok";
    case -ENOENT: return "nieznany typ zdarzenia";
    case -EPROTO: return "strumień lub zakres nie zgadza się z typem zdarzenia";
    case -EBADMSG: return "treści zdarzenia nie można odczytać";
    default: return "błąd";
    }
}
