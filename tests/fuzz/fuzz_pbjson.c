/*
 * fuzz_pbjson - JSON to protobuf through descriptors (common/pbjson.c), as
 * koopctl builds every request from its options (and the gateway will from
 * HTTP bodies). The first byte picks the request type of one method of a
 * service, the rest is the JSON text. Checked: no crash; a message that is
 * built packs and unpacks; shown as JSON (koop_pbjson_to_json, what --json
 * prints) and read back it is the same message again, after one round (the
 * first round drops what JSON cannot hold: NaN and infinities).
 */
#include "fuzz.h"
#include "pbjson.h"

static const ProtobufCMessageDescriptor *s_types[256];
static size_t s_ntypes;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    s_ntypes = fz_request_types(s_types, KOOP_ARRAY_LEN(s_types));
    return 0;
}

/* Packs m (caller frees). */
static uint8_t *
s_pack(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *b;
    *len = protobuf_c_message_get_packed_size(m);
    b = malloc(*len ? *len : 1);
    FZ_ASSERT(b != NULL);
    FZ_ASSERT(protobuf_c_message_pack(m, b) == *len);
    return b;
}

/* to_json then from_json; the message read back (caller frees). */
static ProtobufCMessage *
s_round(const ProtobufCMessage *m)
{
    koop_error_t err;
    json_t *j = koop_pbjson_to_json(m);
    ProtobufCMessage *back;
    FZ_ASSERT(j != NULL);
    fz_json_same(m);
    back = koop_pbjson_from_json(m->descriptor, j, &err);
    if (!back)
        fprintf(stderr, "read back: %s (%s)\n", err.code, err.field);
    FZ_ASSERT(back != NULL);
    json_decref(j);
    return back;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *d;
    json_error_t jerr;
    json_t *j;
    ProtobufCMessage *m, *once, *twice, *unpacked;
    uint8_t *a, *b;
    size_t alen, blen;
    koop_error_t err;

    if (s_ntypes == 0)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1)
        return 0;
    d = s_types[data[0] % s_ntypes];
    j = json_loadb((const char *)data + 1, size - 1, 0, &jerr);
    if (!j)
        return 0;
    koop_error_clear(&err);
    m = koop_pbjson_from_json(d, j, &err);
    json_decref(j);
    if (!m) {
        FZ_ASSERT(koop_err_find(err.code) != KOOP_ERR_NONE); /* a refusal says why, with a code */
        return 0;
    }
    a = s_pack(m, &alen);
    unpacked = protobuf_c_message_unpack(d, NULL, alen, a);
    FZ_ASSERT(unpacked != NULL);
    protobuf_c_message_free_unpacked(unpacked, NULL);
    free(a);

    once = s_round(m);
    twice = s_round(once);
    a = s_pack(once, &alen);
    b = s_pack(twice, &blen);
    FZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
    free(a);
    free(b);
    protobuf_c_message_free_unpacked(twice, NULL);
    protobuf_c_message_free_unpacked(once, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
