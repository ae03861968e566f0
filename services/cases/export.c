/*
 * export.c - the person's own copy (GDPR art. 15): household.export gives
 * everything this node holds about a household and its members - the
 * household with its members and consents, each IPW with its ZZK, goals,
 * tasks, meetings, referrals and timeline - and who read or changed any of
 * it and when (every access log entry naming the household, one of its IPWs
 * or one of their records), with the people named as the registry copy
 * knows them, and the history of the household record: every version a
 * LOCAL event of the log carried (its corrections; the IPWs' corrections
 * are in their timelines, with the old and the new value), and its
 * transfers to or from another gmina (transfer.c: offered, accepted,
 * declined; the sealed bytes never). A household
 * removed as entered by mistake, or handed to another gmina, is exported
 * too: this node still holds it. Coordinators only; the export is itself audited. koopctl
 * prints it as a document in Polish (common/present_export.c) or as JSON.
 */
#include "cases.h"
#include "clock.h"
#include "events.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Koop__Cases__HouseholdExport out;
    Koop__Cases__Household *h;
    char **ids; /* every id the audit may name about it */
    size_t n_ids;
    char **people;
    size_t n_people;
} s_export;

static int
s_has(char **list, size_t n, const char *id)
{
    for (size_t i = 0; id && i < n; i++)
        if (strcmp(list[i], id) == 0)
            return 1;
    return 0;
}

/* Adds id (a copy) to a list of distinct ids. */
static int
s_add(koop_call_t *call, char ***list, size_t *n, const char *id)
{
    if (!id || !*id || s_has(*list, *n, id))
        return KOOP_OK;
    return cases_append_str(call, list, n, id);
}

static int
s_attach(koop_call_t *call, char kind, const char *id, void *ctx)
{
    s_export *x = ctx;
    Koop__Cases__Ipw *ipw = x->out.ipws[x->out.n_ipws - 1];
    const char *table;
    const ProtobufCMessageDescriptor *desc;
    ProtobufCMessage *m;
    void *arr;
    size_t *n;
    int rc;
    if (cases_child_kind(kind, &table, &desc) != 0)
        return KOOP_OK;
    switch (kind) {
    case 'g': arr = &ipw->goals; n = &ipw->n_goals; break;
    case 't': arr = &ipw->tasks; n = &ipw->n_tasks; break;
    case 'm': arr = &ipw->meetings; n = &ipw->n_meetings; break;
    default: arr = &ipw->referrals; n = &ipw->n_referrals; break;
    }
    rc = koop_record_get(call->txn, cases_dbi(call, table), id, desc, &m);
    if (rc == MDB_NOTFOUND)
        return KOOP_OK;
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if ((rc = cases_append(call, arr, n, m)) != KOOP_OK) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    /* m is the IPW's now */
    if (kind == 't')
        rc = s_add(call, &x->people, &x->n_people, ((Koop__Cases__Task *)m)->owner);
    for (size_t i = 0; kind == 'm' && rc == KOOP_OK && i < ((Koop__Cases__Meeting *)m)->n_participants; i++)
        rc = s_add(call, &x->people, &x->n_people, ((Koop__Cases__Meeting *)m)->participants[i]);
    if (rc == KOOP_OK)
        rc = s_add(call, &x->ids, &x->n_ids, id);
    return rc;
}

static int
s_ipws(koop_call_t *call, s_export *x)
{
    for (size_t i = 0; i < x->h->n_ipws; i++) {
        Koop__Cases__Ipw *ipw = NULL;
        int rc = koop_record_get(call->txn, cases_dbi(call, "ipw"), x->h->ipws[i], &koop__cases__ipw__descriptor,
                                 (ProtobufCMessage **)&ipw);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return koop_call_store_error(call, rc);
        if ((rc = cases_append(call, &x->out.ipws, &x->out.n_ipws, ipw)) != KOOP_OK) {
            koop__cases__ipw__free_unpacked(ipw, NULL);
            return rc;
        }
        if ((rc = s_add(call, &x->ids, &x->n_ids, ipw->id)) != KOOP_OK ||
            (rc = s_add(call, &x->people, &x->n_people, ipw->coordinator)) != KOOP_OK ||
            (rc = s_add(call, &x->people, &x->n_people, ipw->created_by)) != KOOP_OK)
            return rc;
        for (size_t m = 0; m < ipw->n_members; m++)
            if ((rc = s_add(call, &x->people, &x->n_people, ipw->members[m]->person)) != KOOP_OK)
                return rc;
        if ((rc = cases_child_scan(call, ipw->id, s_attach, x)) != KOOP_OK)
            return rc;
    }
    return KOOP_OK;
}

/* The timeline of each IPW, in key order (the order it was written). */
static int
s_timeline(koop_call_t *call, s_export *x)
{
    for (size_t i = 0; i < x->out.n_ipws; i++) {
        const Koop__Cases__Ipw *ipw = x->out.ipws[i];
        Koop__Cases__ExportTimeline *tl = calloc(1, sizeof *tl);
        unsigned char key[KOOP_ID_LEN - 1];
        MDB_val k = {sizeof key, key}, v;
        MDB_cursor *cur;
        int rc;
        if (!tl)
            return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        koop__cases__export_timeline__init(tl);
        if ((rc = cases_append(call, &x->out.timeline, &x->out.n_timeline, tl)) != KOOP_OK) {
            free(tl);
            return rc;
        }
        if ((rc = cases_set(call, &tl->ipw, ipw->id)) != KOOP_OK || (rc = cases_set(call, &tl->number, ipw->number)) != KOOP_OK)
            return rc;
        memcpy(key, ipw->id, sizeof key);
        if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "timeline"), &cur)) != 0)
            return koop_call_store_error(call, rc);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (rc == 0 && k.mv_size > sizeof key && memcmp(k.mv_data, ipw->id, sizeof key) == 0) {
            Koop__Cases__TimelineEntry *e = koop__cases__timeline_entry__unpack(NULL, v.mv_size, v.mv_data);
            if (!e) {
                rc = MDB_CORRUPTED;
                break;
            }
            if (cases_append(call, &tl->entries, &tl->n_entries, e) != KOOP_OK) {
                koop__cases__timeline_entry__free_unpacked(e, NULL);
                mdb_cursor_close(cur);
                return call->status;
            }
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (rc != 0 && rc != MDB_NOTFOUND) /* 0: the next key is another IPW's */
            return koop_call_store_error(call, rc);
    }
    return KOOP_OK;
}

typedef struct {
    koop_call_t *call;
    s_export *x;
} s_history_ctx;

static int
s_history_visit(uint64_t seq, const uint8_t *bytes, size_t len, void *ctx)
{
    s_history_ctx *c = ctx;
    Koop__Event *ev = koop__event__unpack(NULL, len, bytes);
    const koop_event_type_t *t;
    ProtobufCMessage *p = NULL;
    Koop__Cases__ExportVersion *ver;
    int rc = 0;
    if (!ev)
        return 0;
    if (ev->scope != KOOP__SCOPE__SCOPE_LOCAL || !ev->has_payload || koop_event_decode(ev, &t, &p) != 0)
        goto done;
    if (p->descriptor == &koop__cases__transfer_package__descriptor) {
        /* a household that came from another gmina: its record as it came */
        Koop__Cases__TransferPackage *tp = (Koop__Cases__TransferPackage *)p;
        Koop__Cases__Household *h = tp->household;
        if (!h || !h->id || strcmp(h->id, c->x->h->id) != 0)
            goto done;
        tp->household = NULL;
        protobuf_c_message_free_unpacked(p, NULL);
        p = &h->base;
    }
    if (p->descriptor != &koop__cases__household__descriptor ||
        strcmp(((Koop__Cases__Household *)p)->id ? ((Koop__Cases__Household *)p)->id : "", c->x->h->id) != 0)
        goto done;
    if (!(ver = calloc(1, sizeof *ver))) {
        rc = -ENOMEM;
        goto done;
    }
    koop__cases__export_version__init(ver);
    ver->has_seq = ver->has_time_ms = 1;
    ver->seq = seq;
    ver->time_ms = ev->time_ms;
    ver->type = ev->type;
    ver->actor = ev->actor;
    ev->type = ev->actor = NULL; /* the version's now */
    ver->household = (Koop__Cases__Household *)p;
    p = NULL;
    if (cases_append(c->call, &c->x->out.history, &c->x->out.n_history, ver) != KOOP_OK) {
        protobuf_c_message_free_unpacked(&ver->base, NULL);
        rc = -ENOMEM;
    } else if (s_add(c->call, &c->x->people, &c->x->n_people, ver->actor) != KOOP_OK) {
        rc = -ENOMEM;
    }
done:
    if (p)
        protobuf_c_message_free_unpacked(p, NULL);
    koop__event__free_unpacked(ev, NULL);
    return rc;
}

/* Every version of the household record in the log (retention removed the
 * payloads of an erased household's: none is left then). */
static int
s_history(koop_call_t *call, s_export *x)
{
    s_history_ctx c = {call, x};
    int rc = koop_log_read(koop_service_log(call->svc), call->txn, 0, UINT32_MAX, 0, s_history_visit, &c);
    if (rc == -ENOMEM)
        return call->status != KOOP_OK ? call->status : koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    return rc != 0 ? koop_call_store_error(call, rc) : KOOP_OK;
}

static int
s_audit(koop_call_t *call, s_export *x)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "audit"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Koop__Cases__AuditEntry *e = koop__cases__audit_entry__unpack(NULL, v.mv_size, v.mv_data);
        if (!e) {
            rc = MDB_CORRUPTED;
            break;
        }
        if ((e->household && strcmp(e->household, x->h->id) == 0) || s_has(x->ids, x->n_ids, e->ipw) ||
            s_has(x->ids, x->n_ids, e->ref)) {
            if (cases_append(call, &x->out.audit, &x->out.n_audit, e) != KOOP_OK) {
                koop__cases__audit_entry__free_unpacked(e, NULL);
                mdb_cursor_close(cur);
                return call->status;
            }
            if (s_add(call, &x->people, &x->n_people, e->caller) != KOOP_OK) {
                mdb_cursor_close(cur);
                return call->status;
            }
        } else {
            koop__cases__audit_entry__free_unpacked(e, NULL);
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? KOOP_OK : koop_call_store_error(call, rc);
}

/* The people named, as the registry copy knows them (no names: the copy
 * keeps none; the document names them by id, role and institution). */
static int
s_people(koop_call_t *call, s_export *x)
{
    for (size_t i = 0; i < x->n_people; i++) {
        Koop__Cases__CopyPerson *p = NULL;
        Koop__Cases__CopyInstitution *ci = NULL;
        Koop__Cases__ExportPerson *o = calloc(1, sizeof *o);
        int rc;
        if (!o)
            return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        koop__cases__export_person__init(o);
        if ((rc = cases_append(call, &x->out.people, &x->out.n_people, o)) != KOOP_OK) {
            free(o);
            return rc;
        }
        if ((rc = cases_set(call, &o->id, x->people[i])) != KOOP_OK)
            return rc;
        rc = koop_record_get(call->txn, cases_dbi(call, "copy_person"), x->people[i],
                             &koop__cases__copy_person__descriptor, (ProtobufCMessage **)&p);
        if (rc == MDB_NOTFOUND)
            continue; /* the id alone */
        if (rc != 0)
            return koop_call_store_error(call, rc);
        o->has_role = 1;
        o->role = p->role;
        rc = cases_set(call, &o->institution, p->institution);
        if (rc == KOOP_OK && p->institution &&
            koop_record_get(call->txn, cases_dbi(call, "copy_institution"), p->institution,
                            &koop__cases__copy_institution__descriptor, (ProtobufCMessage **)&ci) == 0) {
            o->has_sector = 1;
            o->sector = ci->sector;
            koop__cases__copy_institution__free_unpacked(ci, NULL);
        }
        koop__cases__copy_person__free_unpacked(p, NULL);
        if (rc != KOOP_OK)
            return rc;
    }
    return KOOP_OK;
}

static int
s_of_household(const Koop__Cases__Transfer *t, const void *ctx)
{
    return t->household && strcmp(t->household, ctx) == 0;
}

/* The household's transfers, with who offered or answered them; the audit
 * entries about a transfer name it. */
static int
s_transfers(koop_call_t *call, s_export *x)
{
    int rc = cases_transfer_collect(call, s_of_household, x->h->id, &x->out.transfers, &x->out.n_transfers);
    for (size_t i = 0; rc == KOOP_OK && i < x->out.n_transfers; i++)
        if ((rc = s_add(call, &x->ids, &x->n_ids, x->out.transfers[i]->id)) == KOOP_OK)
            rc = s_add(call, &x->people, &x->n_people, x->out.transfers[i]->by);
    return rc;
}

/* Frees what the copy holds (every element malloc'd, as unpacked records). */
static void
s_export_free(s_export *x)
{
    Koop__Cases__HouseholdExport *o = &x->out;
    for (size_t i = 0; i < o->n_ipws; i++)
        protobuf_c_message_free_unpacked(&o->ipws[i]->base, NULL);
    for (size_t i = 0; i < o->n_timeline; i++)
        protobuf_c_message_free_unpacked(&o->timeline[i]->base, NULL);
    for (size_t i = 0; i < o->n_audit; i++)
        protobuf_c_message_free_unpacked(&o->audit[i]->base, NULL);
    for (size_t i = 0; i < o->n_people; i++)
        protobuf_c_message_free_unpacked(&o->people[i]->base, NULL);
    for (size_t i = 0; i < o->n_history; i++)
        protobuf_c_message_free_unpacked(&o->history[i]->base, NULL);
    for (size_t i = 0; i < o->n_transfers; i++)
        protobuf_c_message_free_unpacked(&o->transfers[i]->base, NULL);
    free(o->history);
    free(o->transfers);
    free(o->ipws);
    free(o->timeline);
    free(o->audit);
    free(o->people);
    if (x->h)
        koop__cases__household__free_unpacked(x->h, NULL);
    for (size_t i = 0; i < x->n_ids; i++)
        free(x->ids[i]);
    free(x->ids);
    for (size_t i = 0; i < x->n_people; i++)
        free(x->people[i]);
    free(x->people);
}

int
cases_household_export(koop_call_t *call)
{
    const Koop__Cases__HouseholdRef *q = (const Koop__Cases__HouseholdRef *)call->req;
    cases_person_t who;
    s_export x;
    int rc;

    memset(&x, 0, sizeof x);
    koop__cases__household_export__init(&x.out);
    cases_audit_note(call, q->household, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if (!cases_is_coordinator(&who))
        return koop_fail(call, ACCESS_DENIED_COORDINATOR_ONLY, NULL, "household_export");
    if ((rc = cases_load_any(call, "household", &koop__cases__household__descriptor, "household", q->household,
                             (ProtobufCMessage **)&x.h)) != KOOP_OK)
        return rc;
    if ((rc = s_add(call, &x.ids, &x.n_ids, x.h->id)) != KOOP_OK ||
        (rc = s_add(call, &x.people, &x.n_people, x.h->created_by)) != KOOP_OK)
        goto done;
    for (size_t i = 0; i < x.h->n_consents; i++)
        if ((rc = s_add(call, &x.ids, &x.n_ids, x.h->consents[i]->id)) != KOOP_OK ||
            (rc = s_add(call, &x.people, &x.n_people, x.h->consents[i]->recorded_by)) != KOOP_OK)
            goto done;
    if ((rc = s_ipws(call, &x)) != KOOP_OK || (rc = s_timeline(call, &x)) != KOOP_OK ||
        (rc = s_history(call, &x)) != KOOP_OK || (rc = s_transfers(call, &x)) != KOOP_OK ||
        (rc = s_audit(call, &x)) != KOOP_OK ||
        (rc = s_people(call, &x)) != KOOP_OK)
        goto done;
    x.out.node = (char *)koop_service_node(call->svc);
    x.out.has_made_ms = 1;
    x.out.made_ms = koop_clock_real_ms();
    x.out.made_by = who.id;
    x.out.household = x.h;
    rc = koop_call_reply(call, &x.out.base);
done:
    s_export_free(&x);
    return rc;
}
