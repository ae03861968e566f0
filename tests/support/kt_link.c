#include "kt_link.h"
#include "kt_sync.h"
#include "envelope.pb-c.h"
#include "chain.h"
#include "config.h"
#include "id.h"
#include "log.h"
#include "store.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

/* The SHARED chain (common/chain.h) of the stream the link speaks for, as
 * far as the link knows it: from the HELLO's log id at 0, then the link at
 * the last batch the hub acknowledged. */
struct kt_link {
    zsock_t *sock;
    const kt_node_t *as;
    char log_id[128], stream[64];
    uint64_t seq;
    int known;
    uint8_t shared[KOOP_CHAIN_LEN];
};

kt_link_t *
kt_link_open(const kt_node_t *as, const kt_node_t *hub, int port)
{
    char path[PATH_MAX + 32];
    zcert_t *mine, *srv;
    kt_link_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    snprintf(path, sizeof path, "%s/keys/node.key", as->dir);
    mine = zcert_load(path);
    snprintf(path, sizeof path, "%s/keys/node.pub", hub->dir);
    srv = zcert_load(path);
    l->as = as;
    if (mine && srv)
        l->sock = zsock_new(ZMQ_DEALER);
    if (l->sock) {
        zcert_apply(mine, l->sock);
        zsock_set_curve_serverkey_bin(l->sock, zcert_public_key(srv));
        zsock_set_rcvtimeo(l->sock, 3000);
        zsock_set_maxmsgsize(l->sock, 8 * 1024 * 1024);
        if (zsock_connect(l->sock, "tcp://127.0.0.1:%d", port) != 0)
            zsock_destroy(&l->sock);
    }
    zcert_destroy(&mine);
    zcert_destroy(&srv);
    if (!l->sock) {
        free(l);
        return NULL;
    }
    return l;
}

void
kt_link_close(kt_link_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy(&(*self_p)->sock);
    free(*self_p);
    *self_p = NULL;
}

void *
kt_link_sock(kt_link_t *self)
{
    return self->sock;
}

Koop__Sync__Frame *
kt_link_call(kt_link_t *self, const void *data, size_t len)
{
    zframe_t *f;
    Koop__Sync__Frame *out;
    if (zsock_send(self->sock, "b", data, len) != 0)
        return NULL;
    for (;;) {
        f = zframe_recv(self->sock);
        if (!f)
            return NULL;
        out = koop__sync__frame__unpack(NULL, zframe_size(f), zframe_data(f));
        zframe_destroy(&f);
        if (!out || (out->body_case != KOOP__SYNC__FRAME__BODY_DOWN && out->body_case != KOOP__SYNC__FRAME__BODY_PEERS))
            return out;
        /* the hub's records or its key directory, sent when it has them: not an answer */
        koop__sync__frame__free_unpacked(out, NULL);
    }
}

Koop__Sync__Frame *
kt_link_frame(kt_link_t *self, const Koop__Sync__Frame *f)
{
    size_t n = koop__sync__frame__get_packed_size(f);
    uint8_t *buf = malloc(n ? n : 1);
    Koop__Sync__Frame *out;
    if (!buf)
        return NULL;
    koop__sync__frame__pack(f, buf);
    out = kt_link_call(self, buf, n);
    free(buf);
    return out;
}

Koop__Sync__Frame *
kt_link_hello(kt_link_t *self, const char *node, const char *stream, const char *log_id, uint64_t seq)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Hello h = KOOP__SYNC__HELLO__INIT;
    Koop__Sync__StreamPos p = KOOP__SYNC__STREAM_POS__INIT, *pp = &p;
    p.stream = (char *)stream;
    p.log_id = (char *)log_id;
    p.has_seq = 1;
    p.seq = seq;
    h.has_version = 1;
    h.version = 1;
    h.node = (char *)node;
    h.streams = &pp;
    h.n_streams = 1;
    f.body_case = KOOP__SYNC__FRAME__BODY_HELLO;
    f.hello = &h;
    snprintf(self->log_id, sizeof self->log_id, "%s", log_id ? log_id : "");
    snprintf(self->stream, sizeof self->stream, "%s", stream ? stream : "");
    self->known = seq == 0;
    self->seq = 0;
    if (self->known)
        koop_chain_genesis(self->shared, "koop.shared", self->log_id);
    return kt_link_frame(self, &f);
}

/* S at seq of the stream of the link's node, read from that (stopped)
 * node's own log. 0 or -1. */
static int
s_node_shared(kt_link_t *self, const char *stream, uint64_t seq, uint8_t out[KOOP_CHAIN_LEN])
{
    static const char *const none[] = {NULL};
    koop_config_t cfg;
    char err[600], dir[PATH_MAX + 32];
    koop_store_t *store = NULL;
    koop_log_t *log = NULL;
    MDB_txn *txn = NULL;
    int rc = -1;
    if (!self->as || koop_config_load(&cfg, self->as->conf, err, sizeof err) != 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/%s", cfg.data_dir, stream);
    if (koop_store_open(&store, dir, none) == 0 && koop_log_open(&log, store, cfg.node_id, stream) == 0 &&
        koop_store_read(store, &txn) == 0) {
        rc = koop_log_links(log, txn, seq, NULL, out) == 0 ? 0 : -1;
        mdb_txn_abort(txn);
    }
    koop_log_destroy(&log);
    koop_store_destroy(&store);
    return rc;
}

Koop__Sync__Frame *
kt_link_batch(kt_link_t *self, const char *stream, uint64_t prev, const uint8_t *const *events, const size_t *lens,
              size_t n)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT, *out;
    Koop__Sync__Batch b = KOOP__SYNC__BATCH__INIT;
    Koop__Sync__Item *items = calloc(n ? n : 1, sizeof *items), **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    if (!items || !ptrs) {
        free(items);
        free(ptrs);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        koop__sync__item__init(&items[i]);
        items[i].has_seq = items[i].has_event = 1;
        items[i].seq = prev + 1 + i;
        items[i].event.data = (uint8_t *)events[i];
        items[i].event.len = lens[i];
        ptrs[i] = &items[i];
    }
    b.stream = (char *)stream;
    b.has_prev = b.has_batch_no = 1;
    b.prev = prev;
    b.batch_no = prev + 1;
    b.items = ptrs;
    b.n_items = n;
    /* the chain's links, as the node's uplink sends them: S before the
     * items (known to the link, else from the node's log) and S after */
    {
        uint8_t before[KOOP_CHAIN_LEN], after[KOOP_CHAIN_LEN];
        int have = 0;
        if (self->known && self->seq == prev && strcmp(self->stream, stream) == 0) {
            memcpy(before, self->shared, sizeof before);
            have = 1;
        } else if (prev == 0) {
            koop_chain_genesis(before, "koop.shared", self->log_id);
            have = 1;
        } else {
            have = s_node_shared(self, stream, prev, before) == 0;
        }
        memcpy(after, before, sizeof after);
        for (size_t i = 0; have && i < n; i++)
            if (koop_chain_entry(after, after, events[i], lens[i], NULL) != 0)
                have = 0;
        if (have) {
            b.has_prev_link = b.has_link = 1;
            b.prev_link = (ProtobufCBinaryData){KOOP_CHAIN_LEN, before};
            b.link = (ProtobufCBinaryData){KOOP_CHAIN_LEN, after};
        }
        f.body_case = KOOP__SYNC__FRAME__BODY_BATCH;
        f.batch = &b;
        out = kt_link_frame(self, &f);
        if (have && out && out->body_case == KOOP__SYNC__FRAME__BODY_ACK && n && out->ack->seq == prev + n) {
            memcpy(self->shared, after, sizeof after);
            self->seq = prev + n;
            self->known = 1;
            snprintf(self->stream, sizeof self->stream, "%s", stream);
        }
    }
    free(items);
    free(ptrs);
    return out;
}

size_t
kt_link_event(uint8_t *out, size_t cap, const char *node, const char *stream, uint64_t seq, int scope,
              const char *type, const ProtobufCMessage *payload)
{
    Koop__Event ev = KOOP__EVENT__INIT;
    char id[KOOP_ID_LEN];
    uint8_t *bytes = NULL;
    size_t n;
    if (koop_id_new(id) != 0)
        return 0;
    ev.node = (char *)node;
    ev.stream = (char *)stream;
    ev.has_seq = ev.has_scope = ev.has_time_ms = 1;
    ev.seq = seq;
    ev.scope = (Koop__Scope)scope;
    ev.time_ms = 1767225600000ull;
    ev.id = id;
    ev.type = (char *)type;
    if (payload) {
        bytes = malloc(protobuf_c_message_get_packed_size(payload) + 1);
        if (!bytes)
            return 0;
        ev.has_payload = 1;
        ev.payload.len = protobuf_c_message_pack(payload, bytes);
        ev.payload.data = bytes;
    }
    n = koop__event__get_packed_size(&ev);
    if (n <= cap)
        koop__event__pack(&ev, out);
    free(bytes);
    return n <= cap ? n : 0;
}

int
kt_link_position(kt_node_t *hub, const char *node, const char *stream, uint64_t *seq, char *log_id)
{
    json_t *st = kt_sync_status(hub), *n = st ? kt_hub_node(st, node) : NULL;
    json_t *s = n ? json_object_get(json_object_get(n, "streams"), stream) : NULL;
    int rc = -1;
    if (s && json_is_string(json_object_get(s, "log_id"))) {
        *seq = (uint64_t)json_integer_value(json_object_get(s, "acked"));
        snprintf(log_id, 64, "%s", json_string_value(json_object_get(s, "log_id")));
        rc = 0;
    }
    json_decref(st);
    return rc;
}

typedef struct {
    koop_log_t *log;
    const char *type;
    int scope;
    const uint8_t *payload;
    size_t len;
    uint64_t seq;
} s_inject;

static int
s_inject_fn(MDB_txn *txn, void *ctx)
{
    s_inject *i = ctx;
    return koop_log_append(i->log, txn, i->type, i->scope, "", i->payload, i->len, &i->seq);
}

int
kt_log_inject(kt_node_t *n, const char *service, const char *type, int scope, const uint8_t *payload, size_t len,
              uint64_t *seq)
{
    static const char *const none[] = {NULL};
    koop_config_t cfg;
    char err[600], dir[PATH_MAX + 32];
    koop_store_t *store = NULL;
    s_inject i = {NULL, type, scope, payload, len, 0};
    int rc = -1;
    if (koop_config_load(&cfg, n->conf, err, sizeof err) != 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/%s", cfg.data_dir, service);
    if (koop_store_open(&store, dir, none) == 0 && koop_log_open(&i.log, store, cfg.node_id, service) == 0 &&
        koop_store_write(store, s_inject_fn, &i) == 0) {
        *seq = i.seq;
        rc = 0;
    }
    koop_log_destroy(&i.log);
    koop_store_destroy(&store);
    return rc;
}
