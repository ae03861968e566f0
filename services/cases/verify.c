/*
 * verify.c - what events.verify checks in the cases service, and the chain
 * of the audit log (docs/ACCOUNTABILITY.md).
 *
 * Records. An IPW, goal, task, meeting or referral is the record its last
 * LOCAL event carries. A household is its last household event's record
 * with what later events add to it without a household event of their own:
 * each consent as its last consent event has it (recorded or withdrawn), and
 * the id of each IPW opened for it; its updated_ms is not compared (no event
 * carries it). The consent index (consent id -> household id) is checked
 * byte for byte. A record removed as entered by mistake is its last record
 * with the removal's date and reason (local.record.removed). A transfer is
 * the record its last transfer event carries, less its delivery state; at
 * the sender the household and IPW carry the transfer while it is offered
 * and the hand-over once it is done (without a household event of their
 * own); at the receiver every record is as local.household.transferred_in's
 * package has it, and the accepted transfer is local.transfer.accepted's. A record that retention erased is the stub its
 * retention.erased event carries, and every entry whose payload retention
 * removed must be listed by such an event.
 *
 * Audit chain. Each audit entry n (table "audit", be64 seq -> AuditEntry)
 * has A(n) = B(A(n-1) || entry bytes) in "audit_chain", written in the
 * batch transaction with the entry (cases_audit_chain, called by
 * cases_after_write). A(0) = B("koop.audit\0"), or, after retention removed
 * the oldest entries, the link of the last removed entry, kept in "meta"
 * ("audit_base": be64 seq + link) and in the retention.run event that
 * removed them (so the base is chained too). audit.verify walks it.
 */
#include "cases.h"
#include "chain.h"
#include "say.h"

#include <stdlib.h>
#include <string.h>

/* ---- records ---- */

static void
s_household_normalize(ProtobufCMessage *stored, ProtobufCMessage *expected)
{
    Koop__Cases__Household *s = (Koop__Cases__Household *)stored, *e = (Koop__Cases__Household *)expected;
    e->has_updated_ms = s->has_updated_ms;
    e->updated_ms = s->updated_ms;
}

/* Replaces the expected household `id` by h (packed). */
static int
s_expect_household(koop_verify_t *v, uint64_t seq, const Koop__Cases__Household *h)
{
    return cases_verify_expect_record(v, "household", seq, &h->base);
}

/* The household expected so far (caller frees), or NULL. */
static Koop__Cases__Household *
s_household(koop_verify_t *v, const char *id)
{
    size_t len;
    const uint8_t *b = id ? koop_verify_expected(v, "household", id, &len, NULL) : NULL;
    return b ? koop__cases__household__unpack(NULL, len, b) : NULL;
}

/* A consent event: the household holds the consent as the event has it. */
static int
s_on_consent(koop_verify_t *v, uint64_t seq, const Koop__Cases__Consent *c)
{
    Koop__Cases__Household *h = s_household(v, c->household);
    Koop__Cases__Consent **slot = NULL, *copy;
    int rc;
    if (!c->id || !c->household)
        return 0;
    rc = koop_verify_expect(v, "consent", c->id, seq, (const uint8_t *)c->household, strlen(c->household));
    if (rc != 0 || !h)
        return rc; /* a consent of an unknown household: the record check names it */
    for (size_t i = 0; i < h->n_consents; i++)
        if (h->consents[i]->id && strcmp(h->consents[i]->id, c->id) == 0)
            slot = &h->consents[i];
    copy = (Koop__Cases__Consent *)koop_record_dup(&c->base);
    if (!copy) {
        koop__cases__household__free_unpacked(h, NULL);
        return -ENOMEM;
    }
    if (slot) {
        koop__cases__consent__free_unpacked(*slot, NULL);
        *slot = copy;
    } else {
        Koop__Cases__Consent **g = realloc(h->consents, (h->n_consents + 1) * sizeof *g);
        if (!g) {
            koop__cases__consent__free_unpacked(copy, NULL);
            koop__cases__household__free_unpacked(h, NULL);
            return -ENOMEM;
        }
        h->consents = g;
        h->consents[h->n_consents++] = copy;
    }
    rc = s_expect_household(v, seq, h);
    koop__cases__household__free_unpacked(h, NULL);
    return rc;
}

/* An IPW opened: its household lists it. */
static int
s_on_ipw_opened(koop_verify_t *v, uint64_t seq, const Koop__Cases__Ipw *ipw)
{
    Koop__Cases__Household *h = s_household(v, ipw->household);
    char **g, *id;
    int rc;
    if (!h)
        return 0;
    for (size_t i = 0; i < h->n_ipws; i++)
        if (strcmp(h->ipws[i], ipw->id) == 0) {
            koop__cases__household__free_unpacked(h, NULL);
            return 0;
        }
    g = realloc(h->ipws, (h->n_ipws + 1) * sizeof *g);
    id = strdup(ipw->id);
    if (!g || !id) {
        free(id);
        if (g)
            h->ipws = g;
        koop__cases__household__free_unpacked(h, NULL);
        return -ENOMEM;
    }
    h->ipws = g;
    h->ipws[h->n_ipws++] = id;
    rc = s_expect_household(v, seq, h);
    koop__cases__household__free_unpacked(h, NULL);
    return rc;
}

/* The record expected so far of (table, id) (caller frees), or NULL. */
static ProtobufCMessage *
s_expected(koop_verify_t *v, const char *table, const ProtobufCMessageDescriptor *desc, const char *id)
{
    size_t len;
    const uint8_t *b = id && *id ? koop_verify_expected(v, table, id, &len, NULL) : NULL;
    return b ? protobuf_c_message_unpack(desc, NULL, len, b) : NULL;
}

/* Sets string field `name` of rec to value (NULL: unset). */
static int
s_set(ProtobufCMessage *rec, const char *name, const char *value)
{
    char **field = cases_str_field(rec, name), *copy = NULL;
    if (!field)
        return 0;
    if (value && *value && !(copy = strdup(value)))
        return -ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

static const struct {
    Koop__Cases__RecordKind kind;
    const char *table;
    const ProtobufCMessageDescriptor *desc;
} s_kinds[] = {
    {KOOP__CASES__RECORD_KIND__RECORD_HOUSEHOLD, "household", &koop__cases__household__descriptor},
    {KOOP__CASES__RECORD_KIND__RECORD_IPW, "ipw", &koop__cases__ipw__descriptor},
    {KOOP__CASES__RECORD_KIND__RECORD_GOAL, "goal", &koop__cases__goal__descriptor},
    {KOOP__CASES__RECORD_KIND__RECORD_TASK, "task", &koop__cases__task__descriptor},
    {KOOP__CASES__RECORD_KIND__RECORD_MEETING, "meeting", &koop__cases__meeting__descriptor},
    {KOOP__CASES__RECORD_KIND__RECORD_REFERRAL, "referral", &koop__cases__referral__descriptor},
};

/* A record entered by mistake (remove.c): kept, marked removed. */
static int
s_on_removed(koop_verify_t *v, uint64_t seq, const Koop__Cases__RecordRemoved *r)
{
    for (size_t k = 0; k < KOOP_ARRAY_LEN(s_kinds); k++) {
        ProtobufCMessage *m;
        int rc;
        if (!r->has_kind || r->kind != s_kinds[k].kind)
            continue;
        if (!(m = s_expected(v, s_kinds[k].table, s_kinds[k].desc, r->id)))
            return 0; /* a removal of an unknown record: the record check names it */
        rc = s_set(m, "removed", r->removed);
        if (rc == 0)
            rc = s_set(m, "removed_reason", r->reason);
        if (rc == 0)
            rc = cases_verify_expect_record(v, s_kinds[k].table, seq, m);
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    return 0;
}

/* The sender's side of a transfer (transfer.c): the household and its IPW
 * are locked while it is offered, and read-only copies once it is done. */
static int
s_on_transfer(koop_verify_t *v, uint64_t seq, int type, const Koop__Cases__Transfer *t)
{
    const char *ids[2] = {t->household, t->ipw};
    static const char *const tables[2] = {"household", "ipw"};
    const ProtobufCMessageDescriptor *descs[2] = {&koop__cases__household__descriptor, &koop__cases__ipw__descriptor};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        ProtobufCMessage *m = s_expected(v, tables[i], descs[i], ids[i]);
        if (!m)
            continue;
        rc = s_set(m, "transfer", type == KOOP_EV_LOCAL_TRANSFER_OFFERED ? t->id : NULL);
        if (rc == 0 && type == KOOP_EV_LOCAL_TRANSFERRED_OUT &&
            (rc = s_set(m, "transferred_to", t->to_node)) == 0)
            rc = s_set(m, "transferred", t->answered);
        if (rc == 0)
            rc = cases_verify_expect_record(v, tables[i], seq, m);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return rc;
}

/* The receiver's side: the records as the package had them once made this
 * node's (transfer.c s_import), the IPW without its children (they have
 * tables of their own), and the consent index. */
static int
s_on_transferred_in(koop_verify_t *v, uint64_t seq, const Koop__Cases__TransferPackage *p)
{
    const Koop__Cases__Household *h = p->household;
    int rc;
    if (!h || !h->id)
        return 0;
    if ((rc = cases_verify_expect_record(v, "household", seq, &h->base)) != 0)
        return rc;
    for (size_t i = 0; i < h->n_consents; i++)
        if (h->consents[i]->id &&
            (rc = koop_verify_expect(v, "consent", h->consents[i]->id, seq, (const uint8_t *)h->id, strlen(h->id))) != 0)
            return rc;
    if (p->ipw) {
        Koop__Cases__Ipw stored = *p->ipw;
        const Koop__Cases__Ipw *w = p->ipw;
        stored.n_goals = stored.n_tasks = stored.n_meetings = stored.n_referrals = 0;
        if ((rc = cases_verify_expect_record(v, "ipw", seq, &stored.base)) != 0)
            return rc;
        for (size_t i = 0; rc == 0 && i < w->n_goals; i++)
            rc = cases_verify_expect_record(v, "goal", seq, &w->goals[i]->base);
        for (size_t i = 0; rc == 0 && i < w->n_tasks; i++)
            rc = cases_verify_expect_record(v, "task", seq, &w->tasks[i]->base);
        for (size_t i = 0; rc == 0 && i < w->n_meetings; i++)
            rc = cases_verify_expect_record(v, "meeting", seq, &w->meetings[i]->base);
        for (size_t i = 0; rc == 0 && i < w->n_referrals; i++)
            rc = cases_verify_expect_record(v, "referral", seq, &w->referrals[i]->base);
    }
    return rc;
}

static int
s_on_event(koop_verify_t *v, uint64_t seq, const Koop__Event *ev, const koop_event_type_t *t,
           const ProtobufCMessage *payload, int redacted)
{
    (void)ev;
    if (redacted || !payload || !t)
        return cases_retention_verify_event(v, seq, t, payload, redacted);
    switch (t->id) {
    case KOOP_EV_LOCAL_CONSENT_RECORDED:
    case KOOP_EV_LOCAL_CONSENT_WITHDRAWN:
        return s_on_consent(v, seq, (const Koop__Cases__Consent *)payload);
    case KOOP_EV_LOCAL_IPW_OPENED:
        return s_on_ipw_opened(v, seq, (const Koop__Cases__Ipw *)payload);
    case KOOP_EV_LOCAL_RECORD_REMOVED:
        return s_on_removed(v, seq, (const Koop__Cases__RecordRemoved *)payload);
    case KOOP_EV_LOCAL_TRANSFER_OFFERED:
    case KOOP_EV_LOCAL_TRANSFER_DECLINED:
    case KOOP_EV_LOCAL_TRANSFERRED_OUT:
        return s_on_transfer(v, seq, t->id, (const Koop__Cases__Transfer *)payload);
    case KOOP_EV_LOCAL_TRANSFERRED_IN:
        return s_on_transferred_in(v, seq, (const Koop__Cases__TransferPackage *)payload);
    default:
        return cases_retention_verify_event(v, seq, t, payload, 0);
    }
}

/* A transfer's delivery state, which no event carries: the sealed package
 * (never logged: it is for the other gmina's key only), the log position of
 * the offer event itself, and whether the relay is with the hub yet. */
static void
s_transfer_normalize(ProtobufCMessage *stored, ProtobufCMessage *expected)
{
    Koop__Cases__Transfer *s = (Koop__Cases__Transfer *)stored, *e = (Koop__Cases__Transfer *)expected;
    e->has_sender_seq = s->has_sender_seq;
    e->sender_seq = s->sender_seq;
    e->has_handed = s->has_handed;
    e->handed = s->handed;
    free(s->sealed.data);
    s->sealed.data = NULL;
    s->sealed.len = 0;
    s->has_sealed = 0;
}

static const koop_verify_table_t s_tables[] = {
    {"household", &koop__cases__household__descriptor, s_household_normalize},
    {"consent", NULL, NULL},
    {"ipw", &koop__cases__ipw__descriptor, NULL},
    {"goal", &koop__cases__goal__descriptor, NULL},
    {"task", &koop__cases__task__descriptor, NULL},
    {"meeting", &koop__cases__meeting__descriptor, NULL},
    {"referral", &koop__cases__referral__descriptor, NULL},
    {"transfer", &koop__cases__transfer__descriptor, s_transfer_normalize},
};

const koop_verify_def_t cases_verify_def = {s_tables, KOOP_ARRAY_LEN(s_tables), s_on_event,
                                            cases_retention_verify_done};

int
cases_verify_expect_record(koop_verify_t *v, const char *table, uint64_t seq, const ProtobufCMessage *rec)
{
    size_t len;
    uint8_t *buf = koop_record_pack(rec, &len);
    int rc;
    if (!buf)
        return -ENOMEM;
    rc = koop_verify_expect(v, table, koop_record_str(rec, "id"), seq, buf, len);
    free(buf);
    return rc;
}

/* ---- the audit chain ---- */

/* The base of the audit chain: after entry *seq (0: from the start), link. */
static int
s_audit_base(MDB_txn *txn, MDB_dbi meta, uint64_t *seq, uint8_t link[KOOP_CHAIN_LEN])
{
    MDB_val v;
    int rc = koop_store_get_str(txn, meta, "audit_base", &v);
    if (rc == MDB_NOTFOUND) {
        *seq = 0;
        koop_chain_genesis(link, "koop.audit", NULL);
        return 0;
    }
    if (rc != 0)
        return rc;
    if (v.mv_size != 8 + KOOP_CHAIN_LEN)
        return MDB_CORRUPTED;
    *seq = koop_be64_get(v.mv_data);
    memcpy(link, (const uint8_t *)v.mv_data + 8, KOOP_CHAIN_LEN);
    return 0;
}

int
cases_audit_next_seq(koop_call_t *call, MDB_txn *txn, uint64_t *seq)
{
    uint8_t link[KOOP_CHAIN_LEN];
    uint64_t base, last = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;
    if ((rc = s_audit_base(txn, cases_dbi(call, "meta"), &base, link)) != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, cases_dbi(call, "audit"), &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8)
        last = koop_be64_get(k.mv_data);
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    *seq = (last > base ? last : base) + 1;
    return 0;
}

int
cases_audit_chain(koop_call_t *call, MDB_txn *txn, uint64_t seq, const void *entry, size_t len)
{
    MDB_dbi chain = cases_dbi(call, "audit_chain");
    uint8_t prev[KOOP_CHAIN_LEN], link[KOOP_CHAIN_LEN];
    unsigned char key[8];
    MDB_val k = {8, key}, v;
    uint64_t base;
    int rc;

    if ((rc = s_audit_base(txn, cases_dbi(call, "meta"), &base, prev)) != 0)
        return rc;
    if (seq > base + 1) {
        koop_be64_put(key, seq - 1);
        if ((rc = mdb_get(txn, chain, &k, &v)) != 0)
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        if (v.mv_size != KOOP_CHAIN_LEN)
            return MDB_CORRUPTED;
        memcpy(prev, v.mv_data, KOOP_CHAIN_LEN);
    }
    koop_chain_next(link, prev, entry, len);
    koop_be64_put(key, seq);
    v.mv_size = KOOP_CHAIN_LEN;
    v.mv_data = link;
    return mdb_put(txn, chain, &k, &v, MDB_APPEND);
}

/* Walks the audit chain into r. */
static int
s_audit_walk(koop_call_t *call, koop_verify_report_t *r, uint64_t *entries)
{
    MDB_dbi audit = cases_dbi(call, "audit"), chain = cases_dbi(call, "audit_chain");
    uint8_t prev[KOOP_CHAIN_LEN], link[KOOP_CHAIN_LEN];
    uint64_t base, expect;
    MDB_cursor *cur;
    MDB_val k, v;
    char a[24], b[24];
    int rc;

    if ((rc = s_audit_base(call->txn, cases_dbi(call, "meta"), &base, prev)) != 0)
        return rc;
    if ((rc = cases_retention_audit_base_check(call, r, base, prev)) != 0)
        return rc;
    expect = base + 1;
    if ((rc = mdb_cursor_open(call->txn, audit, &cur)) != 0)
        return rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        unsigned char key[8];
        MDB_val ck = {8, key}, cv;
        uint64_t seq;
        if (k.mv_size != 8)
            continue;
        seq = koop_be64_get(k.mv_data);
        (*entries)++;
        if (seq != expect) {
            koop_verify_report_add(r, expect, KOOP_ERR_VERIFY_AUDIT_MISSING,
                                   (const char *const[]){koop_num_str(a, (long long)expect),
                                                         koop_num_str(b, (long long)(seq - 1)), NULL});
            koop_be64_put(key, seq - 1);
            if (mdb_get(call->txn, chain, &ck, &cv) == 0 && cv.mv_size == KOOP_CHAIN_LEN)
                memcpy(prev, cv.mv_data, KOOP_CHAIN_LEN);
        }
        expect = seq + 1;
        koop_chain_next(link, prev, v.mv_data, v.mv_size);
        koop_be64_put(key, seq);
        if ((rc = mdb_get(call->txn, chain, &ck, &cv)) != 0 || cv.mv_size != KOOP_CHAIN_LEN) {
            if (rc != 0 && rc != MDB_NOTFOUND)
                break;
            koop_verify_report_add(r, seq, KOOP_ERR_VERIFY_AUDIT_LINK,
                                   (const char *const[]){koop_num_str(a, (long long)seq), NULL});
            memcpy(prev, link, KOOP_CHAIN_LEN);
            rc = 0;
            continue;
        }
        if (memcmp(cv.mv_data, link, KOOP_CHAIN_LEN) != 0)
            koop_verify_report_add(r, seq, KOOP_ERR_VERIFY_AUDIT_CHANGED,
                                   (const char *const[]){koop_num_str(a, (long long)seq), NULL});
        memcpy(prev, cv.mv_data, KOOP_CHAIN_LEN);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    /* links past the last entry: entries removed from the end */
    if ((rc = mdb_cursor_open(call->txn, chain, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == 0 && k.mv_size == 8 && koop_be64_get(k.mv_data) >= expect)
        koop_verify_report_add(r, expect, KOOP_ERR_VERIFY_AUDIT_MISSING,
                               (const char *const[]){koop_num_str(a, (long long)expect),
                                                     koop_num_str(b, (long long)koop_be64_get(k.mv_data)), NULL});
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
cases_audit_verify(koop_call_t *call)
{
    cases_person_t who;
    koop_verify_report_t *r;
    Koop__VerifyReport *msg;
    uint64_t entries = 0;
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if (!cases_is_coordinator(&who))
        return koop_fail(call, ACCESS_DENIED_COORDINATOR_ONLY, NULL, "audit_log");
    if (!(r = koop_verify_report_new("audit")))
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    if ((rc = s_audit_walk(call, r, &entries)) != 0) {
        koop_verify_report_destroy(&r);
        return koop_call_store_error(call, rc);
    }
    msg = koop_verify_report_msg(r);
    msg->has_entries = 1;
    msg->entries = entries;
    if (!msg->ok)
        koop_warn("audit.verify: %llu niezgodności, pierwsza: %s", (unsigned long long)msg->found,
                  msg->n_problems ? msg->problems[0]->message : "?");
    rc = koop_call_reply(call, &msg->base);
    koop_verify_report_destroy(&r);
    return rc;
}
