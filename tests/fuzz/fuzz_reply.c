/*
 * fuzz_reply - what a client does with a reply from a service socket
 * (koopctl, the feeds, the uplink's local calls): the reply envelope
 * (common/rpc.c koop_rpc_unpack_reply), then its payload as the reply type
 * the caller expects (the first byte picks one of fz_reply_types) shown as JSON as koopctl
 * --json does, and a FeedBatch's events decoded one by one as
 * `koopctl events list` does. Checked: no crash; what decodes can be shown,
 * and the direct JSON writer gives the tree's bytes (fz_json_same).
 */
#include "fuzz.h"
#include "envelope.pb-c.h"
#include "pbjson.h"
#include "rpc.h"

static void
s_show(const ProtobufCMessage *m)
{
    fz_json_same(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *d;
    koop_reply_t r;
    uint64_t id;
    ProtobufCMessage *m;

    if (size < 1)
        return 0;
    d = fz_reply_types[data[0] % fz_nreply_types].reply;
    if (koop_rpc_unpack_reply(data + 1, size - 1, &id, &r) != 0)
        return 0;
    FZ_ASSERT(r.len == 0 || r.payload != NULL);
    m = protobuf_c_message_unpack(d, NULL, r.len, r.payload);
    if (m) {
        s_show(m);
        if (d == &koop__feed_batch__descriptor) {
            const Koop__FeedBatch *b = (const Koop__FeedBatch *)m;
            for (size_t i = 0; i < b->n_events; i++) {
                Koop__Event *ev = koop__event__unpack(NULL, b->events[i].len, b->events[i].data);
                if (ev) {
                    s_show(&ev->base);
                    koop__event__free_unpacked(ev, NULL);
                }
            }
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    koop_reply_clear(&r);
    return 0;
}
