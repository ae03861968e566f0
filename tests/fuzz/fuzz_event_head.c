/*
 * fuzz_event_head - the hub's in-place scanner of a koop.Event envelope
 * (services/sync/wire.c sync_event_head), against protobuf-c's full
 * decoding of the same bytes. The hub decides from the scanner's answer
 * whether an event is this node's, this stream's, at this seq and SHARED,
 * so the two must never disagree on an envelope that decodes: every
 * envelope koop__event__unpack accepts without unknown fields (what a
 * producer writes), the scanner accepts too, with the same node, stream and
 * seq, and SHARED only when it is SHARED.
 */
#include "fuzz.h"
#include "sync.h"

/* The scanner's (bytes, len) and the decoded C string name the same text
 * (both absent, or equal; bytes with a NUL cannot be compared as C text). */
static int
s_same(const char *bytes, size_t len, const char *str)
{
    if (!bytes)
        return str == NULL;
    if (memchr(bytes, 0, len))
        return str != NULL;
    return str && strlen(str) == len && memcmp(str, bytes, len) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sync_event_head_t h;
    int rc = sync_event_head(data, size, &h);
    Koop__Event *ev = koop__event__unpack(NULL, size, data);

    if (rc == 0) {
        /* what the scanner points at lies inside the buffer */
        FZ_ASSERT(!h.node || ((const uint8_t *)h.node >= data && (const uint8_t *)h.node + h.node_len <= data + size));
        FZ_ASSERT(!h.stream ||
                  ((const uint8_t *)h.stream >= data && (const uint8_t *)h.stream + h.stream_len <= data + size));
    }
    if (!ev)
        return 0;
    if (ev->base.n_unknown_fields > 0 && rc != 0) {
        /* protobuf-c keeps fields a producer never writes (field 0, unknown
         * numbers); refusing those too is the scanner's right */
        koop__event__free_unpacked(ev, NULL);
        return 0;
    }
    FZ_ASSERT(rc == 0);
    FZ_ASSERT(h.has_seq == (int)ev->has_seq);
    FZ_ASSERT(!h.has_seq || h.seq == ev->seq);
    FZ_ASSERT(s_same(h.node, h.node_len, ev->node));
    FZ_ASSERT(s_same(h.stream, h.stream_len, ev->stream));
    if (h.scope == KOOP__SCOPE__SCOPE_SHARED)
        FZ_ASSERT(ev->has_scope && ev->scope == KOOP__SCOPE__SCOPE_SHARED);
    if (h.scope == -1)
        FZ_ASSERT(!ev->has_scope);
    koop__event__free_unpacked(ev, NULL);
    return 0;
}
