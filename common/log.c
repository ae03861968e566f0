#include "log.h"
#include "clock.h"
#include "id.h"
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
    if ((rc = koop_store_write(store, s_ensure_id, &ctx)) != 0) {
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
    if (rc != 0)
        return rc;
    return koop_store_put_str(txn, meta, "log_id", new_id, strlen(new_id));
}

const char *
koop_log_stream(const koop_log_t *self)
{
    return self->stream;
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

int
koop_log_append(koop_log_t *self, MDB_txn *txn, const char *type, int scope, const char *actor,
                const uint8_t *payload, size_t payload_len, uint64_t *seq_out)
{
    Koop__Event ev = KOOP__EVENT__INIT;
    char id[KOOP_ID_LEN];
    unsigned char key[8];
    uint64_t last;
    MDB_val k = {8, key}, v;
    int rc;

    if ((rc = koop_log_last_in(txn, self->dbi_log, &last)) != 0)
        return rc;
    if ((rc = koop_id_new(id)) != 0)
        return -rc;
    ev.node = self->node;
    ev.stream = self->stream;
    ev.has_seq = 1;
    ev.seq = last + 1;
    ev.id = id;
    ev.has_time_ms = 1;
    ev.time_ms = koop_clock_real_ms();
    ev.actor = (char *)(actor ? actor : "");
    ev.has_scope = 1;
    ev.scope = (Koop__Scope)scope;
    ev.type = (char *)type;
    ev.has_payload = 1;
    ev.payload.data = (uint8_t *)payload;
    ev.payload.len = payload_len;

    koop_be64_put(key, ev.seq);
    v.mv_size = koop__event__get_packed_size(&ev);
    /* reserve the value in the page and encode straight into it */
    if ((rc = koop_mdb_rc(mdb_put(txn, self->dbi_log, &k, &v, MDB_APPEND | MDB_RESERVE))) != 0)
        return rc;
    koop__event__pack(&ev, v.mv_data);
    if (scope == KOOP__SCOPE__SCOPE_SHARED) {
        MDB_val empty = {0, ""};
        if ((rc = koop_mdb_rc(mdb_put(txn, self->dbi_shared, &k, &empty, MDB_APPEND))) != 0)
            return rc;
    }
    if (seq_out)
        *seq_out = ev.seq;
    return 0;
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

int
koop_log_read(koop_log_t *self, MDB_txn *txn, uint64_t after, uint32_t max, int shared_only,
              koop_log_visit_fn visit, void *ctx)
{
    MDB_cursor *cur;
    unsigned char key[8];
    MDB_val k = {8, key}, v;
    uint32_t n = 0;
    int rc;

    if (after == UINT64_MAX)
        return 0;
    koop_be64_put(key, after + 1);
    if ((rc = koop_mdb_rc(mdb_cursor_open(txn, shared_only ? self->dbi_shared : self->dbi_log, &cur))) != 0)
        return rc;
    rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
    while (rc == 0 && n < max) {
        if (shared_only && (rc = koop_mdb_rc(mdb_get(txn, self->dbi_log, &k, &v))) != 0)
            break;
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        if ((rc = visit(koop_be64_get(k.mv_data), v.mv_data, v.mv_size, ctx)) != 0)
            break;
        n++;
        rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
