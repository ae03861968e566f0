/*
 * copy.c - the cases service's read-only copy of the registry.
 *
 * The service needs, for access rules and derived fields, each person's
 * institution, role and active flag, each institution's sector, each
 * catalogue entry's provider, and who represents which institution in a
 * PZK (the recipients of referrals); and, to show names in replies instead
 * of ids (names.c), the names of people, institutions and entries (staff
 * and institutions of this node: no contacts are copied). It keeps them in
 * its own tables (copy_person, copy_institution, copy_service, copy_rep),
 * filled from the registry's event feed
 * (feed.h: every batch applied together with the cursor in one transaction),
 * so case work goes on while the registry is down or restarting.
 *
 * Catching up. The feed runs behind the registry by up to one round trip:
 * a person added a moment ago may not be in the copy yet when the first
 * request naming them arrives (scripts do exactly this). A handler never
 * waits for the registry: on an id the copy does not know, it pokes the feed
 * (a fetch that answers at once) and defers the call (service.h); the
 * feed's answers run deferred calls again, and the answer to a fetch sent
 * after the deferral, with the copy caught up, decides: the id is unknown to
 * the registry (NOT_FOUND). When the registry does not answer, the call runs
 * for the last time after KOOP_DEFER_MAX_MS and is refused as UNAVAILABLE,
 * with a message saying to try again. Ids the copy does know never cause a
 * request: nothing that works offline depends on the registry.
 *
 * Order. Records carry the registry's updated_ms; an older version never
 * replaces a newer one.
 *
 * Format. meta "copy_format" says what the copy holds; a copy of an older
 * format (before names were kept: none) is filled again from the start of
 * the registry's log at start (the cursor is forgotten; the same versions
 * replace themselves, now with names).
 */
#include "cases.h"
#include "clock.h"
#include "config.h"
#include "id.h"
#include "events.h"
#include "say.h"

#include <string.h>


/* ---- storing copy records ---- */

/* Stores rec under id unless the copy holds a newer version. A record the
 * copy holds for another owner is not this event's to change: nothing is
 * stored, and *foreign is set. */
static int
s_put_if_newer(MDB_txn *txn, MDB_dbi dbi, const char *id, const ProtobufCMessage *rec,
               const ProtobufCMessageDescriptor *desc, uint64_t updated_ms, int *foreign)
{
    ProtobufCMessage *old = NULL;
    int rc = koop_record_get(txn, dbi, id, desc, &old);
    *foreign = 0;
    if (rc == 0) {
        uint64_t old_ms = 0;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, "updated_ms");
        const char *was = koop_record_str(old, "owner"), *now = koop_record_str(rec, "owner");
        old_ms = *(const uint64_t *)((const char *)old + f->offset);
        /* a copy made before owners were kept has none: it takes this one */
        *foreign = was && *was && (!now || strcmp(was, now) != 0);
        protobuf_c_message_free_unpacked(old, NULL);
        if (*foreign || old_ms > updated_ms)
            return 0;
    } else if (rc != MDB_NOTFOUND && rc != MDB_CORRUPTED) {
        return rc;
    }
    return koop_record_put(txn, dbi, id, rec);
}

static int
s_put_person(MDB_txn *txn, MDB_dbi dbi, const Koop__Reg__Person *p, int *foreign)
{
    Koop__Cases__CopyPerson c = KOOP__CASES__COPY_PERSON__INIT;
    if (!koop_id_valid(p->id))
        return 0;
    c.id = p->id;
    c.institution = p->institution;
    c.has_role = 1;
    c.role = p->role;
    c.has_active = 1;
    c.active = p->has_active ? p->active : 1;
    c.has_updated_ms = 1;
    c.updated_ms = p->updated_ms;
    c.owner = p->owner;
    c.name = p->name;
    return s_put_if_newer(txn, dbi, p->id, &c.base, &koop__cases__copy_person__descriptor, p->updated_ms, foreign);
}

static int
s_put_institution(MDB_txn *txn, MDB_dbi dbi, const Koop__Reg__Institution *i, int *foreign)
{
    Koop__Cases__CopyInstitution c = KOOP__CASES__COPY_INSTITUTION__INIT;
    if (!koop_id_valid(i->id))
        return 0;
    c.id = i->id;
    c.has_sector = 1;
    c.sector = i->sector;
    c.has_active = 1;
    c.active = i->has_active ? i->active : 1;
    c.has_updated_ms = 1;
    c.updated_ms = i->updated_ms;
    c.owner = i->owner;
    c.name = i->name;
    return s_put_if_newer(txn, dbi, i->id, &c.base, &koop__cases__copy_institution__descriptor, i->updated_ms,
                          foreign);
}

static int
s_put_service(MDB_txn *txn, MDB_dbi dbi, const Koop__Reg__CatalogueEntry *e, int *foreign)
{
    Koop__Cases__CopyService c = KOOP__CASES__COPY_SERVICE__INIT;
    if (!koop_id_valid(e->id))
        return 0;
    c.id = e->id;
    c.provider = e->provider;
    c.has_active = 1;
    c.active = e->has_active ? e->active : 1;
    c.has_updated_ms = 1;
    c.updated_ms = e->updated_ms;
    c.owner = e->owner;
    c.name = e->name;
    return s_put_if_newer(txn, dbi, e->id, &c.base, &koop__cases__copy_service__descriptor, e->updated_ms, foreign);
}

/* PZK representatives: copy_rep key = pzk id + institution id + person id
 * (every current representative of a team that is not dissolved), and
 * under the pzk id alone the team's owner (the node whose registry keeps
 * it). An event of the team replaces its rows; one from another owner than
 * the row's changes nothing and sets *foreign. */
#define REP_KEY (3 * (KOOP_ID_LEN - 1))

static int
s_put_pzk(MDB_txn *txn, MDB_dbi dbi, const Koop__Reg__Pzk *p, int *foreign)
{
    unsigned char key[REP_KEY];
    MDB_val k = {KOOP_ID_LEN - 1, key}, v = {0, ""};
    MDB_cursor *cur;
    int rc;

    *foreign = 0;
    if (!koop_id_valid(p->id))
        return 0;
    memcpy(key, p->id, KOOP_ID_LEN - 1);
    /* a copy made before owners were kept has no owner row: it takes this one */
    if ((rc = mdb_get(txn, dbi, &k, &v)) == 0) {
        size_t n = p->owner ? strlen(p->owner) : 0;
        if (!p->owner || v.mv_size != n || memcmp(v.mv_data, p->owner, n) != 0) {
            *foreign = 1;
            return 0;
        }
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if ((k.mv_size != REP_KEY && k.mv_size != KOOP_ID_LEN - 1) || memcmp(k.mv_data, p->id, KOOP_ID_LEN - 1) != 0)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    k.mv_size = KOOP_ID_LEN - 1;
    k.mv_data = key;
    v.mv_size = p->owner ? strlen(p->owner) : 0;
    v.mv_data = p->owner ? p->owner : "";
    if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
        return rc;
    if (p->dissolved && *p->dissolved)
        return 0;
    for (size_t i = 0; i < p->n_members; i++) {
        const Koop__Reg__PzkMember *m = p->members[i];
        if ((m->left && *m->left) || !koop_id_valid(m->institution) || !koop_id_valid(m->representative))
            continue;
        memcpy(key + KOOP_ID_LEN - 1, m->institution, KOOP_ID_LEN - 1);
        memcpy(key + 2 * (KOOP_ID_LEN - 1), m->representative, KOOP_ID_LEN - 1);
        k.mv_size = REP_KEY;
        k.mv_data = key;
        v.mv_size = 0;
        v.mv_data = "";
        if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
            return rc;
    }
    return 0;
}

int
cases_represents(koop_call_t *call, const char *person, const char *institution)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, found = 0;
    if (!person || !institution || mdb_cursor_open(call->txn, cases_dbi(call, "copy_rep"), &cur) != 0)
        return 0;
    while (!found && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        const char *key = k.mv_data;
        found = k.mv_size == REP_KEY && memcmp(key + KOOP_ID_LEN - 1, institution, KOOP_ID_LEN - 1) == 0 &&
                memcmp(key + 2 * (KOOP_ID_LEN - 1), person, KOOP_ID_LEN - 1) == 0;
    }
    mdb_cursor_close(cur);
    return found;
}

/* ---- the feed ---- */

/* Applies one registry record event (the envelope as the registry wrote
 * it, or at depth 1 a hub's envelope carried by remote.*). Only a record's
 * owner may change it: the record must name the node of the event that
 * brings it as its owner, this node's registry writes only this node's
 * events (depth 0) and brings only other nodes' records down (depth 1), and
 * a record the copy holds keeps its owner. Returns 0, KOOP_FEED_REFUSED
 * (reported; the feed counts it and moves on), or a storage error. */
static int
s_apply(MDB_txn *txn, cases_t *c, const Koop__Event *ev, int depth)
{
    koop_store_t *store = koop_service_store(c->svc);
    const char *self = koop_service_node(c->svc);
    const koop_event_type_t *t;
    ProtobufCMessage *m = NULL;
    const char *owner;
    int rc = koop_event_decode(ev, &t, &m), foreign = 0;

    if (rc != 0) {
        /* skipping is safer than stalling the copy forever on one event */
        koop_warn("zdarzenie rejestru %llu (%.60s) pominięte: %s", (unsigned long long)ev->seq,
                  ev->type ? ev->type : "?", koop_event_decode_error(rc));
        return KOOP_FEED_REFUSED;
    }
    if (!ev->node || (depth == 0) != (strcmp(ev->node, self) == 0)) {
        koop_warn("zdarzenie rejestru %llu (%s) pominięte: napisane przez węzeł %.60s", (unsigned long long)ev->seq,
                  t->type, ev->node ? ev->node : "?");
        rc = KOOP_FEED_REFUSED;
        goto done;
    }
    if (t->payload == &koop__event__descriptor) {
        rc = depth == 0 ? s_apply(txn, c, (const Koop__Event *)m, 1) : KOOP_FEED_REFUSED;
        goto done;
    }
    owner = koop_record_str(m, "owner");
    if (t->payload != &koop__reg__person__descriptor && t->payload != &koop__reg__institution__descriptor &&
        t->payload != &koop__reg__catalogue_entry__descriptor && t->payload != &koop__reg__pzk__descriptor)
        goto done; /* agreements: not needed here */
    if (!owner || !ev->node || strcmp(owner, ev->node) != 0) {
        koop_warn("zdarzenie rejestru %llu (%s) pominięte: rekord węzła %.60s zmieniany przez węzeł %.60s",
                  (unsigned long long)ev->seq, t->type, owner ? owner : "?", ev->node ? ev->node : "?");
        rc = KOOP_FEED_REFUSED;
        goto done;
    }
    if (t->payload == &koop__reg__person__descriptor)
        rc = s_put_person(txn, koop_store_dbi(store, "copy_person"), (Koop__Reg__Person *)m, &foreign);
    else if (t->payload == &koop__reg__institution__descriptor)
        rc = s_put_institution(txn, koop_store_dbi(store, "copy_institution"), (Koop__Reg__Institution *)m,
                               &foreign);
    else if (t->payload == &koop__reg__pzk__descriptor)
        rc = s_put_pzk(txn, koop_store_dbi(store, "copy_rep"), (Koop__Reg__Pzk *)m, &foreign);
    else
        rc = s_put_service(txn, koop_store_dbi(store, "copy_service"), (Koop__Reg__CatalogueEntry *)m, &foreign);
    if (rc == 0 && foreign) {
        koop_warn("zdarzenie rejestru %llu (%s) pominięte: węzeł %.60s zmieniałby rekord innego węzła",
                  (unsigned long long)ev->seq, t->type, ev->node);
        rc = KOOP_FEED_REFUSED;
    }
done:
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int
cases_copy_apply(MDB_txn *txn, const Koop__Event *ev, void *ctx)
{
    return s_apply(txn, ctx, ev, 0);
}

/* Every answer of the registry's feed: deferred calls try again; those
 * deferred before the fetch that just caught up get their final answer. */
static void
s_feed_replied(void *ctx, uint64_t fetch, int caught_up)
{
    cases_t *c = ctx;
    koop_service_retry_deferred(c->svc, caught_up ? fetch : 0);
}

#define S_COPY_FORMAT 2u /* 2: names kept */

/* Forgets the registry feed's cursor when the copy is of an older format. */
static int
s_copy_format(MDB_txn *txn, void *ctx)
{
    cases_t *c = ctx;
    koop_store_t *store = koop_service_store(c->svc);
    MDB_dbi meta = koop_store_dbi(store, "meta");
    unsigned char have[4] = {0}, want[4] = {0, 0, 0, S_COPY_FORMAT};
    MDB_val v;
    int rc = koop_store_get_str(txn, meta, "copy_format", &v);
    if (rc == 0 && v.mv_size == 4)
        memcpy(have, v.mv_data, 4);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (memcmp(have, want, 4) == 0)
        return 0;
    koop_info("the registry copy is filled again from the start (copy format %u)", S_COPY_FORMAT);
    if ((rc = koop_feed_cursor_reset(store, txn, "registry")) != 0)
        return rc;
    return koop_store_put_str(txn, meta, "copy_format", want, 4);
}

int
cases_copy_start(cases_t *c)
{
    const char *ep = koop_config_endpoint(koop_service_config(c->svc), "registry");
    koop_feed_opts_t o = {0};
    if (!ep) {
        koop_warn("no registry endpoint in the config: the registry copy stays as it is");
        return 0;
    }
    if (koop_store_write(koop_service_store(c->svc), s_copy_format, c) != 0) {
        koop_error("cannot check the format of the registry copy");
        return -1;
    }
    o.loop = koop_service_loop(c->svc);
    o.client = koop_service_client(c->svc);
    o.store = koop_service_store(c->svc);
    o.endpoint = ep;
    o.stream = "registry";
    o.apply = cases_copy_apply;
    o.replied = s_feed_replied;
    o.ctx = c;
    o.svc = c->svc;
    c->feed = koop_feed_start(&o);
    if (!c->feed) {
        koop_error("cannot start the registry feed");
        return -1;
    }
    return 0;
}

void
cases_copy_stop(cases_t *c)
{
    koop_feed_destroy(&c->feed);
}

/* ---- lookups ---- */

/* An id the copy does not hold (yet): defer until the feed tells, then
 * refuse. kind is the record's kind ("person") for the message. */
static int
s_missing(koop_call_t *call, const char *field, const char *kind, const char *id)
{
    cases_t *c = cases_of(call);
    if (c->feed && koop_call_defer(call, koop_feed_poke(c->feed, call->received_ms)) == KOOP_DEFERRED)
        return KOOP_DEFERRED;
    if (c->feed && koop_feed_current(c->feed))
        return koop_fail(call, RECORD_NOT_FOUND, field, kind, id);
    return koop_fail(call, REGISTRY_COPY_BEHIND, field, kind, id);
}

/* Loads copy record id from table (kind names it in messages). */
static int
s_lookup(koop_call_t *call, const char *field, const char *id, const char *table,
         const ProtobufCMessageDescriptor *copy_desc, const char *kind, ProtobufCMessage **out)
{
    int rc;
    *out = NULL;
    if ((rc = cases_check_id(call, field, id, 1)) != KOOP_OK)
        return rc;
    rc = koop_record_get(call->txn, cases_dbi(call, table), id, copy_desc, out);
    if (rc == 0)
        return KOOP_OK;
    if (rc != MDB_NOTFOUND)
        return koop_call_store_error(call, rc);
    return s_missing(call, field, kind, id);
}

static int
s_institution(koop_call_t *call, const char *field, const char *id, Koop__Reg__Sector *sector)
{
    ProtobufCMessage *m;
    int rc = s_lookup(call, field, id, "copy_institution", &koop__cases__copy_institution__descriptor,
                      "institution", &m);
    if (rc != KOOP_OK)
        return rc;
    *sector = ((Koop__Cases__CopyInstitution *)m)->sector;
    protobuf_c_message_free_unpacked(m, NULL);
    return KOOP_OK;
}

int
cases_person(koop_call_t *call, const char *field, const char *id, cases_person_t *out)
{
    Koop__Cases__CopyPerson *p;
    int rc;

    memset(out, 0, sizeof *out);
    rc = s_lookup(call, field, id, "copy_person", &koop__cases__copy_person__descriptor, "person",
                  (ProtobufCMessage **)&p);
    if (rc != KOOP_OK)
        return rc;
    snprintf(out->id, sizeof out->id, "%s", p->id);
    snprintf(out->institution, sizeof out->institution, "%s", p->institution ? p->institution : "");
    out->role = p->role;
    out->active = p->active;
    koop__cases__copy_person__free_unpacked(p, NULL);
    if (out->institution[0])
        return s_institution(call, field, out->institution, &out->sector);
    return KOOP_OK;
}

int
cases_catalogue(koop_call_t *call, const char *field, const char *id, char provider[KOOP_ID_LEN],
                Koop__Reg__Sector *sector)
{
    Koop__Cases__CopyService *s;
    int rc = s_lookup(call, field, id, "copy_service", &koop__cases__copy_service__descriptor, "catalogue",
                      (ProtobufCMessage **)&s);
    if (rc != KOOP_OK)
        return rc;
    snprintf(provider, KOOP_ID_LEN, "%s", s->provider ? s->provider : "");
    koop__cases__copy_service__free_unpacked(s, NULL);
    *sector = KOOP__REG__SECTOR__SECTOR_UNSPECIFIED;
    if (provider[0])
        return s_institution(call, field, provider, sector);
    return KOOP_OK;
}

int
cases_institution(koop_call_t *call, const char *field, const char *id, Koop__Reg__Sector *sector)
{
    return s_institution(call, field, id, sector);
}

int
cases_copy_name(koop_call_t *call, const char *field, const char *id, char *out, size_t len)
{
    static const struct {
        const char *table;
        const ProtobufCMessageDescriptor *desc;
    } tables[] = {{"copy_person", &koop__cases__copy_person__descriptor},
                  {"copy_institution", &koop__cases__copy_institution__descriptor},
                  {"copy_service", &koop__cases__copy_service__descriptor}};
    /* the table the field's ids are most likely in first (ids are global:
     * one id is in one table at most) */
    size_t first = strstr(field, "institution") || strstr(field, "provider") || !strcmp(field, "share_with") ? 1
                   : !strcmp(field, "service")                                                            ? 2
                                                                                                          : 0;
    for (size_t k = 0; k < KOOP_ARRAY_LEN(tables); k++) {
        size_t i = (first + k) % KOOP_ARRAY_LEN(tables);
        if (koop_record_name(call->txn, cases_dbi(call, tables[i].table), tables[i].desc, id, out, len))
            return 1;
    }
    return 0;
}

int
cases_copy_caller(koop_call_t *call, cases_person_t *who)
{
    Koop__Cases__CopyPerson *p = NULL;
    memset(who, 0, sizeof *who);
    if (!call->caller || !koop_id_valid(call->caller) ||
        koop_record_get(call->txn, cases_dbi(call, "copy_person"), call->caller,
                        &koop__cases__copy_person__descriptor, (ProtobufCMessage **)&p) != 0)
        return 0;
    snprintf(who->id, sizeof who->id, "%s", p->id ? p->id : call->caller);
    snprintf(who->institution, sizeof who->institution, "%s", p->institution ? p->institution : "");
    who->role = p->role;
    who->active = p->active;
    koop__cases__copy_person__free_unpacked(p, NULL);
    return who->active;
}
