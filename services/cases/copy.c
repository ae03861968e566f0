/*
 * copy.c - the cases service's read-only copy of the registry.
 *
 * The service needs, for access rules and derived fields, each person's
 * institution, role and active flag, each institution's sector, and each
 * catalogue entry's provider. It keeps them in its own tables (copy_person,
 * copy_institution, copy_service), filled from the registry's event feed
 * (feed.h: every batch applied together with the cursor in one transaction),
 * so case work goes on while the registry is down or restarting.
 *
 * Catching up. The feed runs behind the registry by up to one round trip:
 * a person added a moment ago may not be in the copy yet when the first
 * request naming them arrives (scripts do exactly this). A handler cannot
 * wait for the feed (the loop would stop), so on an id the copy does not
 * know, the handler asks the registry itself ("person.show", ...; 1.5 s at
 * most) and stores the answer in the copy in the request's own transaction.
 * Only when the registry does not answer is the request refused, with
 * KOOP_UNAVAILABLE and a message saying to try again; after such a timeout
 * the registry is not asked again for 2 s (or until the feed brings events
 * from it again), so a burst of requests while it is down fails fast instead
 * of stalling the service. Ids the copy does know
 * never cause a call: nothing that works offline depends on the registry.
 *
 * Order. Records carry the registry's updated_ms; an older version (a feed
 * event behind an answer fetched directly) never replaces a newer one.
 */
#include "cases.h"
#include "clock.h"
#include "config.h"
#include "id.h"
#include "say.h"

#include <string.h>

#define LOOKUP_TIMEOUT_MS 1500
#define LOOKUP_BACKOFF_MS 2000

/* ---- storing copy records ---- */

/* Stores rec under id unless the copy holds a newer version. */
static int
s_put_if_newer(MDB_txn *txn, MDB_dbi dbi, const char *id, const ProtobufCMessage *rec,
               const ProtobufCMessageDescriptor *desc, uint64_t updated_ms)
{
    ProtobufCMessage *old = NULL;
    int rc = koop_record_get(txn, dbi, id, desc, &old);
    if (rc == 0) {
        uint64_t old_ms = 0;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, "updated_ms");
        old_ms = *(const uint64_t *)((const char *)old + f->offset);
        protobuf_c_message_free_unpacked(old, NULL);
        if (old_ms > updated_ms)
            return 0;
    } else if (rc != MDB_NOTFOUND && rc != MDB_CORRUPTED) {
        return rc;
    }
    return koop_record_put(txn, dbi, id, rec);
}

static int
s_put_person(MDB_txn *txn, MDB_dbi dbi, const Koop__Reg__Person *p)
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
    return s_put_if_newer(txn, dbi, p->id, &c.base, &koop__cases__copy_person__descriptor, p->updated_ms);
}

static int
s_put_institution(MDB_txn *txn, MDB_dbi dbi, const Koop__Reg__Institution *i)
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
    return s_put_if_newer(txn, dbi, i->id, &c.base, &koop__cases__copy_institution__descriptor, i->updated_ms);
}

static int
s_put_service(MDB_txn *txn, MDB_dbi dbi, const Koop__Reg__CatalogueEntry *e)
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
    return s_put_if_newer(txn, dbi, e->id, &c.base, &koop__cases__copy_service__descriptor, e->updated_ms);
}

/* ---- the feed ---- */

int
cases_copy_apply(MDB_txn *txn, const Koop__Event *ev, void *ctx)
{
    cases_t *c = ctx;
    koop_store_t *store = koop_service_store(c->svc);
    const char *type = ev->type ? ev->type : "";
    ProtobufCMessage *m = NULL;
    int rc = 0;

    if (strncmp(type, "person.", 7) == 0) {
        m = protobuf_c_message_unpack(&koop__reg__person__descriptor, NULL, ev->payload.len, ev->payload.data);
        if (m)
            rc = s_put_person(txn, koop_store_dbi(store, "copy_person"), (Koop__Reg__Person *)m);
    } else if (strncmp(type, "institution.", 12) == 0) {
        m = protobuf_c_message_unpack(&koop__reg__institution__descriptor, NULL, ev->payload.len,
                                      ev->payload.data);
        if (m)
            rc = s_put_institution(txn, koop_store_dbi(store, "copy_institution"), (Koop__Reg__Institution *)m);
    } else if (strncmp(type, "catalogue.", 10) == 0) {
        m = protobuf_c_message_unpack(&koop__reg__catalogue_entry__descriptor, NULL, ev->payload.len,
                                      ev->payload.data);
        if (m)
            rc = s_put_service(txn, koop_store_dbi(store, "copy_service"), (Koop__Reg__CatalogueEntry *)m);
    } else {
        return 0; /* agreements, PZKs: not needed here */
    }
    if (!m) {
        /* skipping is safer than stalling the copy forever on one event */
        koop_warn("registry event %llu (%s) cannot be decoded; skipped", (unsigned long long)ev->seq, type);
        return 0;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* The feed got events from the registry: it is answering again. */
static void
s_feed_committed(void *ctx)
{
    ((cases_t *)ctx)->registry_down_until = 0;
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
    o.loop = koop_service_loop(c->svc);
    o.zctx = koop_service_zctx(c->svc);
    o.store = koop_service_store(c->svc);
    o.endpoint = ep;
    o.stream = "registry";
    o.apply = cases_copy_apply;
    o.committed = s_feed_committed;
    o.ctx = c;
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
    koop_rpc_client_destroy(&c->registry);
}

/* ---- catching up: asking the registry directly ---- */

/* Asks the registry for record id with method. Returns KOOP_OK and *out
 * (caller frees), KOOP_NOT_FOUND, or KOOP_UNAVAILABLE. */
static int
s_fetch(cases_t *c, const char *method, const char *id, const ProtobufCMessageDescriptor *desc,
        ProtobufCMessage **out)
{
    const char *ep = koop_config_endpoint(koop_service_config(c->svc), "registry");
    Koop__Reg__ById q = KOOP__REG__BY_ID__INIT;
    koop_reply_t reply;
    int rc, st;

    *out = NULL;
    if (!ep || koop_clock_mono_ms() < c->registry_down_until)
        return KOOP_UNAVAILABLE;
    if (!c->registry && !(c->registry = koop_rpc_client_new(ep)))
        return KOOP_UNAVAILABLE;
    q.id = (char *)id;
    rc = koop_rpc_call(c->registry, NULL, method, &q.base, LOOKUP_TIMEOUT_MS, &reply);
    if (rc != 0) {
        koop_warn("registry does not answer %s (%s); not asking again for %d ms", method, ep, LOOKUP_BACKOFF_MS);
        c->registry_down_until = koop_clock_mono_ms() + LOOKUP_BACKOFF_MS;
        return KOOP_UNAVAILABLE;
    }
    st = reply.status;
    if (st == KOOP_OK) {
        *out = protobuf_c_message_unpack(desc, NULL, reply.len, reply.payload);
        if (!*out)
            st = KOOP_UNAVAILABLE;
    } else if (st != KOOP_NOT_FOUND) {
        koop_warn("registry refused %s: %s", method, reply.error ? reply.error : "?");
        st = KOOP_UNAVAILABLE;
    }
    koop_reply_clear(&reply);
    return st;
}

static int
s_unavailable(koop_call_t *call, const char *what, const char *id)
{
    return koop_call_fail(call, KOOP_UNAVAILABLE,
                          "rejestr nie odpowiada, a %s %s nie ma jeszcze w kopii rejestru usługi spraw: "
                          "spróbuj ponownie za chwilę",
                          what, id);
}

/* Loads copy record id from table; on a miss fetches it from the registry
 * with method and stores it through put. */
static int
s_lookup(koop_call_t *call, const char *field, const char *id, const char *table,
         const ProtobufCMessageDescriptor *copy_desc, const char *method,
         const ProtobufCMessageDescriptor *reg_desc, int (*put)(MDB_txn *, MDB_dbi, const void *),
         const char *what, ProtobufCMessage **out)
{
    MDB_dbi dbi = cases_dbi(call, table);
    ProtobufCMessage *fetched = NULL;
    int rc;

    *out = NULL;
    if ((rc = cases_check_id(call, field, id, 1)) != KOOP_OK)
        return rc;
    rc = koop_record_get(call->txn, dbi, id, copy_desc, out);
    if (rc == 0)
        return KOOP_OK;
    if (rc != MDB_NOTFOUND)
        return koop_call_store_error(call, rc);
    switch (s_fetch(cases_of(call), method, id, reg_desc, &fetched)) {
    case KOOP_OK:
        break;
    case KOOP_NOT_FOUND:
        return koop_call_fail(call, KOOP_NOT_FOUND, "pole --%s: w rejestrze nie ma takiego rekordu (%s: %s)",
                              field, what, id);
    default:
        return s_unavailable(call, what, id);
    }
    rc = put(call->txn, dbi, fetched);
    protobuf_c_message_free_unpacked(fetched, NULL);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    rc = koop_record_get(call->txn, dbi, id, copy_desc, out);
    if (rc != 0)
        return koop_call_store_error(call, rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc);
    return KOOP_OK;
}

static int s_put_person_v(MDB_txn *t, MDB_dbi d, const void *m) { return s_put_person(t, d, m); }
static int s_put_institution_v(MDB_txn *t, MDB_dbi d, const void *m) { return s_put_institution(t, d, m); }
static int s_put_service_v(MDB_txn *t, MDB_dbi d, const void *m) { return s_put_service(t, d, m); }

static int
s_institution(koop_call_t *call, const char *field, const char *id, Koop__Reg__Sector *sector)
{
    ProtobufCMessage *m;
    int rc = s_lookup(call, field, id, "copy_institution", &koop__cases__copy_institution__descriptor,
                      "institution.show", &koop__reg__institution__descriptor, s_put_institution_v, "instytucja", &m);
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
    rc = s_lookup(call, field, id, "copy_person", &koop__cases__copy_person__descriptor, "person.show",
                  &koop__reg__person__descriptor, s_put_person_v, "osoba", (ProtobufCMessage **)&p);
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
    int rc = s_lookup(call, field, id, "copy_service", &koop__cases__copy_service__descriptor, "service.show",
                      &koop__reg__catalogue_entry__descriptor, s_put_service_v, "usługa z listy",
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
