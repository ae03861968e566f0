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
 * Every event of a call is decoded in full and checked before anything of
 * it is kept; one that fails refuses the whole call (MALFORMED, code
 * remote.event naming the event and why; nothing applied, the position does
 * not move, counted in sys.ping's events_refused): an undecodable event, a
 * type that is not a hub-owned kind (people never come down), a record
 * whose owner is not the node that wrote the event, a record owned by this
 * node, or one that would change a record another node owns. The uplink
 * then holds the down-flow (docs/SYNC.md).
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

/* Checks one event of a Down (decoded: koop_event_decode's result). Sets
 * *why to "" when it may be applied (and *kind_out), or to a token of the
 * words table saying why not. Returns 0, or an LMDB error. */
static int
s_check_one(koop_call_t *call, const Koop__Event *ev, const koop_event_type_t *t, int decoded,
            const ProtobufCMessage *rec, const reg_kind_t **kind_out, const char **why)
{
    const char *self = koop_service_node(call->svc), *id, *owner, *old_owner;
    const reg_kind_t *kind;
    ProtobufCMessage *old = NULL;
    int rc, other;

    *why = "";
    *kind_out = NULL;
    if (!ev || decoded == -ENOENT || decoded == -EBADMSG) {
        *why = "down_undecodable";
        return 0;
    }
    if (decoded == 0 && t->id == KOOP_EV_NODE_DESCRIBED)
        return 0; /* the hub naming itself: not a record, nothing to keep here */
    if (decoded != 0 || !(kind = s_kind_of(t))) {
        *why = "down_kind";
        return 0;
    }
    id = koop_record_str(rec, "id");
    owner = koop_record_str(rec, "owner");
    /* only the record's owner may change it: the hub's own records, or
     * those of a hub above it (checked by each hub on the way down) */
    if (!koop_id_valid(id) || !s_valid_name(owner) || !ev->node || strcmp(owner, ev->node) != 0) {
        *why = "down_owner";
        return 0;
    }
    if (strcmp(owner, self) == 0) {
        *why = "down_self";
        return 0;
    }
    rc = koop_record_get(call->txn, reg_dbi(call, kind), id, kind->desc, &old);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    old_owner = old ? koop_record_str(old, "owner") : NULL;
    other = old_owner && *old_owner && strcmp(old_owner, owner) != 0;
    if (other)
        *why = strcmp(old_owner, self) == 0 ? "down_self" : "down_other";
    if (old)
        protobuf_c_message_free_unpacked(old, NULL);
    *kind_out = kind;
    return 0;
}

/* Checks and applies event i of the call. Returns KOOP_OK, or the status
 * the call already failed with (a refusal naming the event, or storage). */
static int
s_apply_one(koop_call_t *call, size_t i, const ProtobufCBinaryData *bytes)
{
    Koop__Event *ev = NULL;
    ProtobufCMessage *rec = NULL;
    const reg_kind_t *kind = NULL;
    const koop_event_type_t *t = NULL;
    const char *why;
    char type[160], at[24];
    int rc = -EBADMSG;

    if (bytes->len > 0 && bytes->len <= KOOP_MAX_MSG && (ev = koop__event__unpack(NULL, bytes->len, bytes->data)))
        rc = koop_event_decode(ev, &t, &rec);
    if ((rc = s_check_one(call, ev, t, rc, rec, &kind, &why)) != 0) {
        rc = koop_call_store_error(call, rc);
        goto done;
    }
    if (*why) {
        snprintf(at, sizeof at, "%zu", i + 1);
        koop_warn("remote.apply: zdarzenie %s (%.100s) z węzła nadrzędnego odrzucone (%s): nic z tej paczki "
                  "nie zapisano", ev && ev->id ? ev->id : "?", ev && ev->type ? ev->type : "?", why);
        rc = koop_fail(call, REMOTE_EVENT, "events", at, t ? t->type : "?", why);
        goto done;
    }
    if (!kind) { /* accepted, nothing to store (node.described) */
        rc = KOOP_OK;
        goto done;
    }
    if ((rc = koop_record_put(call->txn, reg_dbi(call, kind), koop_record_str(rec, "id"), rec)) != 0) {
        rc = koop_call_store_error(call, rc);
        goto done;
    }
    snprintf(type, sizeof type, "remote.%s", ev->type);
    rc = koop_call_emit_raw(call, type, KOOP__SCOPE__SCOPE_LOCAL, bytes->data, bytes->len);
done:
    if (rec)
        protobuf_c_message_free_unpacked(rec, NULL);
    if (ev)
        koop__event__free_unpacked(ev, NULL);
    return rc;
}

int
reg_remote_apply(koop_call_t *call)
{
    const Koop__Reg__RemoteApply *q = (const Koop__Reg__RemoteApply *)call->req;
    Koop__Reg__RemotePosition out = KOOP__REG__REMOTE_POSITION__INIT;
    s_position pos;
    uint32_t applied = 0, skipped = 0; /* skipped: none since every event is checked (kept in the reply) */
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
        /* a refusal aborts the call's transaction: nothing of it is kept */
        for (size_t i = 0; i < q->n_events; i++) {
            if ((rc = s_apply_one(call, i, &q->events[i])) != KOOP_OK)
                return rc; /* counted by the uplink, which holds the down-flow */
            applied++;
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
