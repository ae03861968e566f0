/*
 * remote.c - hub-owned records that come down from the hub (docs/SYNC.md).
 *
 * The uplink hands the hub's registry events to "remote.apply"; each carries
 * a whole record (institution, agreement, PZK or catalogue entry) whose owner
 * is the hub (or a hub above it). The record is stored as it is, read-only
 * here: reg_load_owned refuses every local change to it. Each applied record
 * is also announced in this registry's log as a LOCAL event
 * "remote.<hub's type>" whose payload is the hub's envelope, bytes as
 * received (LOCAL: it is the hub's data, it never goes back up; a hub that
 * has gminas of its own forwards it down from there).
 *
 * The position in the hub's down log (table "remote": source -> be64 seq +
 * log id) moves in the same transaction as the records, so a batch takes
 * effect once. A snapshot chunk (from_seq 0) applies whatever the position;
 * an update (from_seq > 0) applies only at exactly that position, otherwise
 * nothing changes and the reply tells where this node is.
 *
 * Refused without stopping the rest (counted in `skipped`, logged): an
 * undecodable event, a type that is not a hub-owned kind (people never come
 * down), a record without an owner, owned by this node, or overwriting a
 * record this node owns.
 */
#include "registry.h"
#include "events.h"
#include "id.h"
#include "say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REMOTE_MAX_EVENTS 10000
#define REMOTE_MAX_ID 63

/* The kinds of record a hub may send down: its SHARED registry records. */
static const reg_kind_t *const s_kinds[] = {&reg_institution_kind, &reg_agreement_kind, &reg_pzk_kind,
                                            &reg_catalogue_kind};

/* The record kind of an event type (events.def), NULL when it is not a
 * SHARED registry record. */
static const reg_kind_t *
s_kind_of(const koop_event_type_t *t)
{
    if (!t || strcmp(t->stream, "registry") != 0 || t->scope != KOOP__SCOPE__SCOPE_SHARED)
        return NULL;
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_kinds); i++)
        if (s_kinds[i]->desc == t->payload)
            return s_kinds[i];
    return NULL;
}

/* A node id or log id: 1..63 of letters, digits, '-', '_'. */
static int
s_valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > REMOTE_MAX_ID)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

typedef struct {
    char log_id[REMOTE_MAX_ID + 1];
    uint64_t seq;
} s_position;

static int
s_position_get(koop_call_t *call, const char *source, s_position *pos)
{
    MDB_dbi dbi = koop_store_dbi(koop_service_store(call->svc), "remote");
    MDB_val v;
    int rc = koop_store_get_str(call->txn, dbi, source, &v);
    memset(pos, 0, sizeof *pos);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (v.mv_size < 8 || v.mv_size - 8 > REMOTE_MAX_ID)
        return MDB_CORRUPTED;
    pos->seq = koop_be64_get(v.mv_data);
    memcpy(pos->log_id, (const char *)v.mv_data + 8, v.mv_size - 8);
    pos->log_id[v.mv_size - 8] = '\0';
    return 0;
}

static int
s_position_put(koop_call_t *call, const char *source, const char *log_id, uint64_t seq)
{
    MDB_dbi dbi = koop_store_dbi(koop_service_store(call->svc), "remote");
    unsigned char val[8 + REMOTE_MAX_ID];
    size_t n = strlen(log_id);
    koop_be64_put(val, seq);
    memcpy(val + 8, log_id, n);
    return koop_store_put_str(call->txn, dbi, source, val, 8 + n);
}

/* Applies one event. Returns 1 applied, 0 skipped (logged), or a negative
 * value when the call already failed (storage). */
static int
s_apply_one(koop_call_t *call, const ProtobufCBinaryData *bytes)
{
    const char *self = koop_service_node(call->svc);
    Koop__Event *ev = NULL;
    ProtobufCMessage *rec = NULL, *old = NULL;
    const reg_kind_t *kind;
    const koop_event_type_t *t;
    const char *id, *owner;
    char type[160];
    int rc, result = 0;

    if (bytes->len == 0 || bytes->len > KOOP_MAX_MSG)
        goto skip;
    ev = koop__event__unpack(NULL, bytes->len, bytes->data);
    if (!ev || koop_event_decode(ev, &t, &rec) != 0)
        goto skip;
    if (t->id == KOOP_EV_NODE_DESCRIBED)
        goto done; /* the hub naming itself: not a record, nothing to keep here */
    if (!(kind = s_kind_of(t)))
        goto skip;
    id = koop_record_str(rec, "id");
    owner = koop_record_str(rec, "owner");
    /* only the record's owner may change it: the hub's own records, or
     * those of a node below it (checked by the hub on the way in) */
    if (!koop_id_valid(id) || !s_valid_name(owner) || strcmp(owner, self) == 0 || !ev->node ||
        strcmp(owner, ev->node) != 0)
        goto skip;
    rc = koop_record_get(call->txn, reg_dbi(call, kind), id, kind->desc, &old);
    if (rc == 0) {
        const char *old_owner = koop_record_str(old, "owner");
        if (old_owner && strcmp(old_owner, self) == 0)
            goto skip; /* never overwrite what this node owns */
    } else if (rc != MDB_NOTFOUND) {
        koop_call_store_error(call, rc);
        result = -1;
        goto done;
    }
    if ((rc = koop_record_put(call->txn, reg_dbi(call, kind), id, rec)) != 0) {
        koop_call_store_error(call, rc);
        result = -1;
        goto done;
    }
    snprintf(type, sizeof type, "remote.%s", ev->type);
    if (koop_call_emit_raw(call, type, KOOP__SCOPE__SCOPE_LOCAL, bytes->data, bytes->len) != KOOP_OK) {
        result = -1;
        goto done;
    }
    result = 1;
    goto done;
skip:
    koop_warn("remote.apply: pominięto zdarzenie %s (%s) z węzła nadrzędnego: nieprawidłowe lub "
              "dotyczy rekordu tego węzła",
              ev && ev->id ? ev->id : "?", ev && ev->type && strlen(ev->type) <= 100 ? ev->type : "?");
    result = 0;
done:
    if (old)
        protobuf_c_message_free_unpacked(old, NULL);
    if (rec)
        protobuf_c_message_free_unpacked(rec, NULL);
    if (ev)
        koop__event__free_unpacked(ev, NULL);
    return result;
}

int
reg_remote_apply(koop_call_t *call)
{
    const Koop__Reg__RemoteApply *q = (const Koop__Reg__RemoteApply *)call->req;
    Koop__Reg__RemotePosition out = KOOP__REG__REMOTE_POSITION__INIT;
    s_position pos;
    uint32_t applied = 0, skipped = 0;
    int rc;

    if (!s_valid_name(q->source) || strcmp(q->source, koop_service_node(call->svc)) == 0)
        return koop_fail(call, REMOTE_SOURCE, "source", q->source ? q->source : "");
    if (!s_valid_name(q->log_id))
        return koop_fail(call, FIELD_INVALID, "log_id", q->log_id ? q->log_id : "");
    if (q->n_events > REMOTE_MAX_EVENTS)
        return koop_fail(call, REMOTE_TOO_MANY, "events", KOOP_NUM(REMOTE_MAX_EVENTS));
    if ((rc = s_position_get(call, q->source, &pos)) != 0)
        return koop_call_store_error(call, rc);
    /* an update applies only where this node is; otherwise say where that is */
    if (q->from_seq == 0 || (strcmp(pos.log_id, q->log_id) == 0 && pos.seq == q->from_seq)) {
        for (size_t i = 0; i < q->n_events; i++) {
            int r = s_apply_one(call, &q->events[i]);
            if (r < 0)
                return call->status;
            if (r > 0)
                applied++;
            else
                skipped++;
        }
        if (q->to_seq != 0) {
            if ((rc = s_position_put(call, q->source, q->log_id, q->to_seq)) != 0)
                return koop_call_store_error(call, rc);
            snprintf(pos.log_id, sizeof pos.log_id, "%s", q->log_id);
            pos.seq = q->to_seq;
        }
    }
    out.source = q->source;
    out.log_id = pos.log_id;
    out.has_seq = out.has_applied = out.has_skipped = 1;
    out.seq = pos.seq;
    out.applied = applied;
    out.skipped = skipped;
    return koop_call_reply(call, &out.base);
}

int
reg_remote_position(koop_call_t *call)
{
    const Koop__Reg__RemotePosition *q = (const Koop__Reg__RemotePosition *)call->req;
    Koop__Reg__RemotePosition out = KOOP__REG__REMOTE_POSITION__INIT;
    s_position pos;
    int rc;
    if (!s_valid_name(q->source))
        return koop_fail(call, REMOTE_SOURCE, "source", q->source ? q->source : "");
    if ((rc = s_position_get(call, q->source, &pos)) != 0)
        return koop_call_store_error(call, rc);
    out.source = q->source;
    out.log_id = pos.log_id;
    out.has_seq = 1;
    out.seq = pos.seq;
    return koop_call_reply(call, &out.base);
}
