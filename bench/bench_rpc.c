/* bench_rpc.c - one request to a service, for the benchmarks' set-up steps. */
#include "bench.h"
#include "client.h"

#include <stdio.h>
#include <string.h>

int
bench_call(koop_rpc_client_t *c, const char *caller, const char *method, const ProtobufCMessage *req,
           const ProtobufCMessageDescriptor *reply_desc, char id[40])
{
    koop_reply_t r;
    int rc = koop_rpc_call(c, caller, method, req, 10000, &r);
    if (rc != 0 || r.status != 0) {
        fprintf(stderr, "bench: %s failed: %s\n", method, rc ? strerror(-rc) : r.err.code);
        koop_reply_clear(&r);
        return -1;
    }
    if (reply_desc && id) {
        ProtobufCMessage *m = protobuf_c_message_unpack(reply_desc, NULL, r.len, r.payload);
        const ProtobufCFieldDescriptor *f = m ? protobuf_c_message_descriptor_get_field_by_name(reply_desc, "id") : NULL;
        const char *v = f ? *(const char **)((const char *)m + f->offset) : NULL;
        snprintf(id, 40, "%s", v ? v : "");
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
    }
    koop_reply_clear(&r);
    return 0;
}
