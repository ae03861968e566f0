/* records.c - add / update / show shared by every registry record type. */
#include "registry.h"
#include "clock.h"
#include "id.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A shallow, writable copy of an unpacked request (pointers still borrowed). */
static ProtobufCMessage *
s_shallow_copy(const ProtobufCMessage *m)
{
    ProtobufCMessage *c = malloc(m->descriptor->sizeof_message);
    if (c)
        memcpy(c, m, m->descriptor->sizeof_message);
    return c;
}

int
reg_store(koop_call_t *call, const reg_kind_t *kind, const ProtobufCMessage *rec, const char *type)
{
    const char *id = koop_record_str(rec, "id");
    int rc = koop_record_put(call->txn, reg_dbi(call, kind), id, rec);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if ((rc = koop_call_emit(call, type, kind->scope, rec)) != KOOP_OK)
        return rc;
    return koop_call_reply(call, rec);
}

int
reg_add(koop_call_t *call, const reg_kind_t *kind)
{
    ProtobufCMessage *rec = s_shallow_copy(call->req);
    char id[KOOP_ID_LEN];
    int rc;

    if (!rec)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    if (koop_id_new(id) != 0) {
        free(rec);
        return koop_fail(call, INTERNAL_ID, NULL);
    }
    koop_names_forget(rec); /* names are for replies: never stored */
    koop_record_set_str(rec, "id", id);
    koop_record_set_str(rec, "owner", koop_service_node(call->svc));
    koop_record_set_u64(rec, "updated_ms", koop_clock_real_ms());
    koop_record_default_bool(rec, "active", 1);
    rc = kind->check(call, rec);
    if (rc == KOOP_OK)
        rc = reg_store(call, kind, rec, kind->ev_added);
    free(rec);
    return rc;
}

int
reg_load_owned(koop_call_t *call, const reg_kind_t *kind, const char *field, const char *id,
               ProtobufCMessage **out)
{
    const char *owner;
    int rc;
    *out = NULL;
    if (!id || !*id)
        return koop_fail(call, FIELD_REQUIRED, field);
    rc = koop_record_get(call->txn, reg_dbi(call, kind), id, kind->desc, out);
    if (rc == MDB_NOTFOUND)
        return koop_fail(call, RECORD_NOT_FOUND, field, kind->what, id);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    owner = koop_record_str(*out, "owner");
    if (owner && *owner && strcmp(owner, koop_service_node(call->svc)) != 0) {
        /* the error first: owner (and maybe id) point into the record */
        koop_fail(call, RECORD_NOT_OWNER, field, kind->what, id, owner);
        protobuf_c_message_free_unpacked(*out, NULL);
        *out = NULL;
        return KOOP_DENIED;
    }
    return KOOP_OK;
}

int
reg_update(koop_call_t *call, const reg_kind_t *kind)
{
    ProtobufCMessage *old = NULL, *merged = NULL, *patch = NULL;
    const char *id = koop_record_str(call->req, "id");
    int rc;

    if ((rc = reg_load_owned(call, kind, "id", id, &old)) != KOOP_OK)
        return rc;
    patch = s_shallow_copy(call->req);
    if (!patch) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    /* the id, the owner and the time are not the caller's to change */
    koop_record_set_str(patch, "id", NULL);
    koop_record_set_str(patch, "owner", NULL);
    koop_names_forget(patch);
    merged = koop_record_merge(old, patch);
    if (!merged) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    koop_record_set_u64(merged, "updated_ms", koop_clock_real_ms());
    rc = kind->check(call, merged);
    if (rc == KOOP_OK)
        rc = reg_store(call, kind, merged, kind->ev_updated);
done:
    free(patch);
    if (merged)
        protobuf_c_message_free_unpacked(merged, NULL);
    protobuf_c_message_free_unpacked(old, NULL);
    return rc;
}

int
reg_show(koop_call_t *call, const reg_kind_t *kind)
{
    const Koop__Reg__ById *q = (const Koop__Reg__ById *)call->req;
    ProtobufCMessage *rec;
    int rc;
    if (!q->id || !*q->id)
        return koop_fail(call, FIELD_REQUIRED, "id");
    rc = koop_record_get(call->txn, reg_dbi(call, kind), q->id, kind->desc, &rec);
    if (rc == MDB_NOTFOUND)
        return koop_fail(call, RECORD_NOT_FOUND, "id", kind->what, q->id);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    rc = koop_call_reply(call, rec);
    protobuf_c_message_free_unpacked(rec, NULL);
    return rc;
}

int
reg_list(koop_call_t *call, const reg_kind_t *kind, reg_match_fn match,
         const ProtobufCMessageDescriptor *list_desc)
{
    const ProtobufCFieldDescriptor *items_f =
        protobuf_c_message_descriptor_get_field_by_name(list_desc, "items");
    ProtobufCMessage **items = NULL, *list = NULL;
    size_t n = 0, cap = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_cursor_open(call->txn, reg_dbi(call, kind), &cur)) != 0)
        return koop_call_store_error(call, rc);
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        ProtobufCMessage *m = protobuf_c_message_unpack(kind->desc, NULL, v.mv_size, v.mv_data);
        if (!m) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (!match(call, m, call->req)) {
            protobuf_c_message_free_unpacked(m, NULL);
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            ProtobufCMessage **g = realloc(items, ncap * sizeof *g);
            if (!g) {
                protobuf_c_message_free_unpacked(m, NULL);
                rc = ENOMEM;
                break;
            }
            items = g;
            cap = ncap;
        }
        items[n++] = m;
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        list = calloc(1, list_desc->sizeof_message);
        if (list) {
            protobuf_c_message_init(list_desc, list);
            *(size_t *)((char *)list + items_f->quantifier_offset) = n;
            *(ProtobufCMessage ***)((char *)list + items_f->offset) = items;
            rc = koop_call_reply(call, list);
            free(list);
        } else {
            rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        }
    } else {
        rc = rc == ENOMEM ? koop_fail(call, INTERNAL_NO_MEMORY, NULL) : koop_call_store_error(call, rc);
    }
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(items[i], NULL);
    free(items);
    return rc;
}

/* The kinds whose records have a name, in the order an id is looked for
 * (ids are global: one id is in one table at most). */
static const reg_kind_t *const s_named_kinds[] = {&reg_person_kind, &reg_institution_kind, &reg_catalogue_kind};

int
reg_names(void *ctx, const char *field, const char *id, koop_names_kind_t kind, char *out, size_t len)
{
    koop_call_t *call = ctx;
    (void)field;
    if (kind != KOOP_NAMES_NAME)
        return 0;
    for (size_t i = 0; i < sizeof s_named_kinds / sizeof s_named_kinds[0]; i++)
        if (koop_record_name(call->txn, reg_dbi(call, s_named_kinds[i]), s_named_kinds[i]->desc, id, out, len))
            return 1;
    return 0;
}
