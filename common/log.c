#include "log.h"
#include "clock.h"
#include "id.h"
#include "log_chain.h"
#include "envelope.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct koop_log {
    koop_store_t *store;
    MDB_dbi dbi_log, dbi_shared, dbi_meta;
    char node[64];
    char stream[64];
    char log_id[KOOP_ID_LEN];
    koop_log_chain_t chain;
};

typedef struct {
    koop_log_t *log;
} s_init_ctx;

static int
s_ensure_id(MDB_txn *txn, void *ctx)
{
    koop_log_t *self = ((s_init_ctx *)ctx)->log;
    MDB_val v;
    int rc = koop_store_get_str(txn, self->dbi_meta, "log_id", &v);
    if (rc == 0) {
        if (v.mv_size >= sizeof self->log_id)
            return -EINVAL;
        memcpy(self->log_id, v.mv_data, v.mv_size);
        self->log_id[v.mv_size] = '\0';
        return 0;
    }
    if (rc != MDB_NOTFOUND)
        return rc;
    if ((rc = koop_id_new(self->log_id)) != 0)
        return -rc;
    return koop_store_put_str(txn, self->dbi_meta, "log_id", self->log_id, strlen(self->log_id));
}

int
koop_log_open(koop_log_t **out, koop_store_t *store, const char *node, const char *stream)
{
    koop_log_t *self = calloc(1, sizeof *self);
    s_init_ctx ctx = {self};
    int rc;

    *out = NULL;
    if (!self)
        return -ENOMEM;
    if (strlen(node) >= sizeof self->node || strlen(stream) >= sizeof self->stream) {
        free(self);
        return -EINVAL;
    }
    self->store = store;
    strcpy(self->node, node);
    strcpy(self->stream, stream);
    self->dbi_log = koop_store_dbi(store, "log");
    self->dbi_shared = koop_store_dbi(store, "log_shared");
    self->dbi_meta = koop_store_dbi(store, "log_meta");
    if ((rc = koop_store_write(store, s_ensure_id, &ctx)) != 0 ||
        (rc = koop_log_chain_open(&self->chain, store, self->log_id)) != 0) {
        free(self);
        return rc;
    }
    *out = self;
    return 0;
}

void
koop_log_destroy(koop_log_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

const char *
koop_log_id(const koop_log_t *self)
{
    return self->log_id;
}

int
koop_log_stored_id(koop_store_t *store, MDB_txn *txn, char *id, size_t size)
{
    MDB_val v;
    int rc = koop_store_get_str(txn, koop_store_dbi(store, "log_meta"), "log_id", &v);
    if (rc != 0)
        return rc;
    if (v.mv_size >= size)
        return -EINVAL;
    memcpy(id, v.mv_data, v.mv_size);
    id[v.mv_size] = '\0';
    return 0;
}

int
koop_log_renew_id(koop_store_t *store, MDB_txn *txn, const char *new_id)
{
    MDB_dbi meta = koop_store_dbi(store, "log_meta");
    char old[KOOP_ID_LEN];
    int rc = koop_log_stored_id(store, txn, old, sizeof old);
    if (rc == 0)
        rc = koop_store_put_str(txn, meta, "restored_from", old, strlen(old));
    else if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc == 0)
        rc = koop_store_put_str(txn, meta, "log_id", new_id, strlen(new_id));
    /* a new history: its chains start from the new identity's genesis */
    return rc != 0 ? rc : koop_log_chain_rebase(store, txn, new_id);
}

const char *
koop_log_stream(const koop_log_t *self)
{
    return self->stream;
}

const char *
koop_log_node(const koop_log_t *self)
{
    return self->node;
}

const koop_log_chain_t *
koop_log_chain_of(const koop_log_t *self)
{
    return &self->chain;
}

int
koop_log_last_in(MDB_txn *txn, MDB_dbi dbi, uint64_t *last)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = koop_mdb_rc(mdb_cursor_open(txn, dbi, &cur));
    if (rc != 0)
        return rc;
    rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_LAST));
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        *last = 0;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (k.mv_size != 8)
        return MDB_CORRUPTED;
    *last = koop_be64_get(k.mv_data);
    return 0;
}

int
koop_log_last(koop_log_t *self, MDB_txn *txn, int shared_only, uint64_t *last)
{
    return koop_log_last_in(txn, shared_only ? self->dbi_shared : self->dbi_log, last);
}

/* ---- the envelope, encoded by hand ----
 *
 * koop.Event as protobuf-c packs it (fields in number order; the strings
 * are always given, "" included, so each is a tag, a length and its bytes;
 * seq, time_ms and scope are varints; payload bytes): the same bytes its
 * generic packer makes (test_store_log.c compares them), written straight
 * into the reserved LMDB value without walking the message descriptor. */

static size_t
s_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *
s_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* tag of a field below 16 is one byte: field << 3 | wire type */
#define S_TAG(field, wire) ((uint8_t)((field) << 3 | (wire)))

static size_t
s_bytes_len(size_t n)
{
    return 1 + s_varint_len(n) + n;
}

static uint8_t *
s_bytes(uint8_t *p, unsigned field, const void *data, size_t n)
{
    *p++ = S_TAG(field, 2);
    p = s_varint(p, n);
    memcpy(p, data, n);
    return p + n;
}

typedef struct {
    const char *node, *stream, *id, *actor, *type;
    size_t node_len, stream_len, id_len, actor_len, type_len;
    uint64_t seq, time_ms;
    int scope;
    const uint8_t *payload;
    size_t payload_len;
} s_env;

static size_t
s_env_size(const s_env *e)
{
    return s_bytes_len(e->node_len) + s_bytes_len(e->stream_len) + 1 + s_varint_len(e->seq) +
           s_bytes_len(e->id_len) + 1 + s_varint_len(e->time_ms) + s_bytes_len(e->actor_len) + 1 +
           s_varint_len((uint64_t)(int64_t)e->scope) + s_bytes_len(e->type_len) + s_bytes_len(e->payload_len);
}

static void
s_env_pack(const s_env *e, uint8_t *p)
{
    p = s_bytes(p, 1, e->node, e->node_len);
    p = s_bytes(p, 2, e->stream, e->stream_len);
    *p++ = S_TAG(3, 0);
    p = s_varint(p, e->seq);
    p = s_bytes(p, 4, e->id, e->id_len);
    *p++ = S_TAG(5, 0);
    p = s_varint(p, e->time_ms);
    p = s_bytes(p, 6, e->actor, e->actor_len);
    *p++ = S_TAG(7, 0);
    p = s_varint(p, (uint64_t)(int64_t)e->scope); /* an enum: negative would be 10 bytes, as protobuf-c */
    p = s_bytes(p, 8, e->type, e->type_len);
    (void)s_bytes(p, 9, e->payload, e->payload_len);
}

/* ---- appending ---- */

int
koop_log_appender_begin(koop_log_appender_t *a, koop_log_t *self, MDB_txn *txn)
{
    int rc;
    memset(a, 0, sizeof *a);
    a->la_log = self;
    a->la_txn = txn;
    if ((rc = koop_log_last_in(txn, self->dbi_log, &a->la_last)) != 0)
        return rc;
    return koop_mdb_rc(mdb_cursor_open(txn, self->dbi_log, &a->la_cur));
}

void
koop_log_appender_end(koop_log_appender_t *a)
{
    if (!a)
        return;
    if (a->la_cur)
        mdb_cursor_close(a->la_cur);
    a->la_cur = NULL;
}

int
koop_log_appender_add(koop_log_appender_t *a, const char *type, int scope, const char *actor,
                      const uint8_t *payload, size_t payload_len, uint64_t *seq_out)
{
    koop_log_t *self = a->la_log;
    char id[KOOP_ID_LEN];
    unsigned char key[8];
    MDB_val k = {8, key}, v;
    s_env e;
    int rc;

    if (!a->la_cur)
        return -EINVAL;
    if ((rc = koop_id_new(id)) != 0)
        return -rc;
    e.node = self->node;
    e.node_len = strlen(self->node);
    e.stream = self->stream;
    e.stream_len = strlen(self->stream);
    e.seq = a->la_last + 1;
    e.id = id;
    e.id_len = KOOP_ID_LEN - 1;
    e.time_ms = koop_clock_real_ms();
    e.actor = actor ? actor : "";
    e.actor_len = strlen(e.actor);
    e.scope = scope;
    e.type = type ? type : "";
    e.type_len = strlen(e.type);
    e.payload = payload;
    e.payload_len = payload_len;

    koop_be64_put(key, e.seq);
    v.mv_size = s_env_size(&e);
    /* reserve the value in the page and encode straight into it */
    if ((rc = koop_mdb_rc(mdb_cursor_put(a->la_cur, &k, &v, MDB_APPEND | MDB_RESERVE))) != 0)
        return rc;
    s_env_pack(&e, v.mv_data);
    {
        /* the payload field (tag, length, bytes) is the last one packed; the
         * shared chain's value in log_shared is its link (log_chain.h) */
        if ((rc = koop_log_chain_append(&self->chain, a->la_txn, e.seq, scope == KOOP__SCOPE__SCOPE_SHARED,
                                        v.mv_data, v.mv_size - s_bytes_len(payload_len), payload,
                                        payload_len)) != 0)
            return rc;
    }
    a->la_last = e.seq;
    if (seq_out)
        *seq_out = e.seq;
    return 0;
}

int
koop_log_append(koop_log_t *self, MDB_txn *txn, const char *type, int scope, const char *actor,
                const uint8_t *payload, size_t payload_len, uint64_t *seq_out)
{
    koop_log_appender_t a;
    int rc = koop_log_appender_begin(&a, self, txn);
    if (rc == 0)
        rc = koop_log_appender_add(&a, type, scope, actor, payload, payload_len, seq_out);
    koop_log_appender_end(&a);
    return rc;
}

int
koop_log_count_shared_after(koop_log_t *self, MDB_txn *txn, uint64_t after, uint64_t *count)
{
    MDB_cursor *cur;
    unsigned char key[8];
    MDB_val k = {8, key}, v;
    uint64_t n = 0;
    int rc;

    koop_be64_put(key, after + 1);
    if ((rc = koop_mdb_rc(mdb_cursor_open(txn, self->dbi_shared, &cur))) != 0)
        return rc;
    rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
    while (rc == 0) {
        n++;
        rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    *count = n;
    return 0;
}

/* Moves the log cursor lc to key k: a few steps forward when k follows
 * closely (SHARED events of a log are mostly next to each other or one
 * LOCAL event apart), a search from the root otherwise. */
static int
s_log_seek(MDB_cursor *lc, int positioned, const MDB_val *k, MDB_val *v)
{
    MDB_val lk;
    int rc;
    for (int step = 0; positioned && step < 4; step++) {
        if ((rc = koop_mdb_rc(mdb_cursor_get(lc, &lk, v, MDB_NEXT))) != 0)
            break;
        if (lk.mv_size == 8) {
            int c = memcmp(lk.mv_data, k->mv_data, 8);
            if (c == 0)
                return 0;
            if (c > 0)
                break;
        }
    }
    lk = *k;
    return koop_mdb_rc(mdb_cursor_get(lc, &lk, v, MDB_SET_KEY));
}

int
koop_log_read(koop_log_t *self, MDB_txn *txn, uint64_t after, uint32_t max, int shared_only,
              koop_log_visit_fn visit, void *ctx)
{
    MDB_cursor *cur, *lc = NULL;
    unsigned char key[8];
    MDB_val k = {8, key}, v;
    uint32_t n = 0;
    int rc;

    if (after == UINT64_MAX)
        return 0;
    koop_be64_put(key, after + 1);
    if ((rc = koop_mdb_rc(mdb_cursor_open(txn, shared_only ? self->dbi_shared : self->dbi_log, &cur))) != 0)
        return rc;
    if (shared_only && (rc = koop_mdb_rc(mdb_cursor_open(txn, self->dbi_log, &lc))) != 0) {
        mdb_cursor_close(cur);
        return rc;
    }
    rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
    while (rc == 0 && n < max) {
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (shared_only && (rc = s_log_seek(lc, n > 0, &k, &v)) != 0)
            break;
        if ((rc = visit(koop_be64_get(k.mv_data), v.mv_data, v.mv_size, ctx)) != 0)
            break;
        n++;
        rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
    }
    if (lc)
        mdb_cursor_close(lc);
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
