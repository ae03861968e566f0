#include "record.h"
#include "store.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int
koop_record_get(MDB_txn *txn, MDB_dbi dbi, const char *id, const ProtobufCMessageDescriptor *desc,
                ProtobufCMessage **out)
{
    MDB_val v;
    int rc;
    *out = NULL;
    if (!id || !*id)
        return MDB_NOTFOUND;
    if ((rc = koop_store_get_str(txn, dbi, id, &v)) != 0)
        return rc;
    *out = protobuf_c_message_unpack(desc, NULL, v.mv_size, v.mv_data);
    return *out ? 0 : MDB_CORRUPTED;
}

int
koop_record_put(MDB_txn *txn, MDB_dbi dbi, const char *id, const ProtobufCMessage *msg)
{
    MDB_val k = {strlen(id), (void *)id}, v;
    int rc;
    v.mv_size = protobuf_c_message_get_packed_size(msg);
    if ((rc = koop_mdb_rc(mdb_put(txn, dbi, &k, &v, MDB_RESERVE))) != 0)
        return rc;
    protobuf_c_message_pack(msg, v.mv_data);
    return 0;
}

int
koop_record_exists(MDB_txn *txn, MDB_dbi dbi, const char *id)
{
    MDB_val v;
    return id && *id && koop_store_get_str(txn, dbi, id, &v) == 0;
}

uint8_t *
koop_record_pack(const ProtobufCMessage *msg, size_t *len)
{
    uint8_t *buf;
    *len = protobuf_c_message_get_packed_size(msg);
    if ((buf = malloc(*len ? *len : 1)))
        protobuf_c_message_pack(msg, buf);
    return buf;
}

ProtobufCMessage *
koop_record_dup(const ProtobufCMessage *msg)
{
    size_t len;
    uint8_t *buf = koop_record_pack(msg, &len);
    ProtobufCMessage *out = buf ? protobuf_c_message_unpack(msg->descriptor, NULL, len, buf) : NULL;
    free(buf);
    return out;
}

/* The count field of a repeated field (protobuf-c keeps it at quantifier_offset). */
static size_t *
s_count(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    return (size_t *)((char *)m + f->quantifier_offset);
}

ProtobufCMessage *
koop_record_merge(const ProtobufCMessage *base, const ProtobufCMessage *patch)
{
    const ProtobufCMessageDescriptor *d = base->descriptor;
    size_t saved[64];
    size_t lb, lp;
    uint8_t *buf;
    ProtobufCMessage *out;

    if (d->n_fields > 64)
        return NULL;
    /* a repeated field given in the patch replaces the base's list: hide the
     * base's elements while packing, then put the count back */
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        saved[i] = 0;
        if (f->label == PROTOBUF_C_LABEL_REPEATED && *s_count((ProtobufCMessage *)patch, f) > 0) {
            saved[i] = *s_count((ProtobufCMessage *)base, f);
            *s_count((ProtobufCMessage *)base, f) = 0;
        }
    }
    lb = protobuf_c_message_get_packed_size(base);
    lp = protobuf_c_message_get_packed_size(patch);
    buf = malloc(lb + lp + 1);
    if (buf) {
        protobuf_c_message_pack(base, buf);
        protobuf_c_message_pack(patch, buf + lb);
    }
    for (unsigned i = 0; i < d->n_fields; i++)
        if (saved[i])
            *s_count((ProtobufCMessage *)base, &d->fields[i]) = saved[i];
    if (!buf)
        return NULL;
    out = protobuf_c_message_unpack(d, NULL, lb + lp, buf);
    free(buf);
    return out;
}

int
koop_record_scan(MDB_txn *txn, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc,
                 koop_record_visit_fn visit, void *ctx)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = koop_mdb_rc(mdb_cursor_open(txn, dbi, &cur));
    if (rc != 0)
        return rc;
    while ((rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) == 0) {
        ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, v.mv_size, v.mv_data);
        if (!m) {
            rc = MDB_CORRUPTED;
            break;
        }
        rc = visit(m, ctx);
        protobuf_c_message_free_unpacked(m, NULL);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static const ProtobufCFieldDescriptor *
s_field(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    return f;
}

const char *
koop_record_str(const ProtobufCMessage *m, const char *field)
{
    const ProtobufCFieldDescriptor *f = s_field(m, field);
    if (!f || f->type != PROTOBUF_C_TYPE_STRING)
        return NULL;
    return *(char *const *)((const char *)m + f->offset);
}

void
koop_record_set_str(ProtobufCMessage *m, const char *field, const char *value)
{
    const ProtobufCFieldDescriptor *f = s_field(m, field);
    if (f && f->type == PROTOBUF_C_TYPE_STRING)
        *(const char **)((char *)m + f->offset) = value;
}

void
koop_record_set_u64(ProtobufCMessage *m, const char *field, uint64_t value)
{
    const ProtobufCFieldDescriptor *f = s_field(m, field);
    if (!f || f->type != PROTOBUF_C_TYPE_UINT64)
        return;
    *(uint64_t *)((char *)m + f->offset) = value;
    if (f->quantifier_offset)
        *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
}

void
koop_record_default_bool(ProtobufCMessage *m, const char *field, int value)
{
    const ProtobufCFieldDescriptor *f = s_field(m, field);
    protobuf_c_boolean *has;
    if (!f || f->type != PROTOBUF_C_TYPE_BOOL || !f->quantifier_offset)
        return;
    has = (protobuf_c_boolean *)((char *)m + f->quantifier_offset);
    if (!*has) {
        *has = 1;
        *(protobuf_c_boolean *)((char *)m + f->offset) = value ? 1 : 0;
    }
}

int
koop_record_name(MDB_txn *txn, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc, const char *id, char *out,
                 size_t len)
{
    ProtobufCMessage *m = NULL;
    const char *name;
    out[0] = '\0';
    if (koop_record_get(txn, dbi, id, desc, &m) != 0)
        return 0;
    name = koop_record_str(m, "name");
    snprintf(out, len, "%s", name ? name : "");
    protobuf_c_message_free_unpacked(m, NULL);
    return out[0] != '\0';
}
