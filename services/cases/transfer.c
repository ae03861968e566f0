/*
 * transfer.c - a family moving to another gmina: the household and its
 * open IPW handed over, end-to-end encrypted to the receiving gmina.
 *
 * Sender (household.transfer, by those who may change the household, with
 * the family's consent in force):
 *
 *   the receiver's key <- the node's sync service (transfer.key: the key its
 *   hub passed down, see docs/SYNC.md "Transfers"); unknown: the call is
 *   deferred until the answer, then refused (transfer.no_key); a
 *   --fingerprint given must match it (transfer.fingerprint)
 *   -> TransferPackage (household, IPW with goals, tasks, meetings,
 *   referrals, timeline) sealed with crypto_box_seal to that key -> a
 *   Transfer record PENDING; household and IPW locked (transfer.pending)
 *   -> SHARED household.transfer_offered (ids and nodes only)
 *
 * The sync service takes PENDING offers and unanswered answers from
 * transfer.outbox, relays them (koop.sync.Relay: the sealed bytes and
 * routing in the clear) and says transfer.relayed once its hub holds them.
 * What comes down for this node arrives with transfer.receive.
 *
 *   Sender                            Receiver
 *   PENDING --offer--> relay -------> PENDING (incoming, still sealed)
 *                                       | transfer accept (coordinator):
 *                                       | opened with the node's secret key,
 *                                       | records made here (same ids, a new
 *                                       | IPW number), SHARED
 *                                       | household.transferred_in
 *                                       | transfer decline: DECLINED
 *   ACCEPTED: read-only copy  <-answer--+  (the sealed bytes are dropped)
 *   (household.transferred_out)
 *   DECLINED: unlocked (household.transfer_declined)
 *
 * Names. The other gmina is named by what it calls itself ([node] name):
 * the sync service gives it with the key (transfer.key) and with what
 * transfer.receive delivers, from its directory (docs/SYNC.md); the last
 * one given is kept in table "node_name" (node -> name) for the replies
 * (names.c: from_node_name, to_node_name, transferred_*_name).
 *
 * The receiver checks the fingerprint the offer names against its own key:
 * an offer sealed to another key is answered key_mismatch at once (the
 * sender's coordinator sees why). No personal data and no free text ever
 * leaves the node outside the sealed box: the answer carries a code only.
 */
#include "cases.h"
#include "cert.h"
#include "clock.h"
#include "config.h"
#include "id.h"
#include "say.h"
#include "sync.pb-c.h"
#include "text.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TR(x) KOOP__CASES__TRANSFER_STATE__TRANSFER_##x
#define KEYS_MAX 64
#define KEY_FRESH_MS 60000   /* a key the sync service gave is used this long */
#define KEY_MISSING_MS 1000  /* that it had none (or a key without a name), this long: the directory may come any moment */
#define OUTBOX_MAX 16        /* relays per transfer.outbox answer */
#define OUTBOX_BYTES (2 * 1024 * 1024)

/* Keys of other gminas as the sync service gave them (or that it had none). */
struct cases_keys {
    struct {
        char node[64];
        uint8_t key[32];
        char fingerprint[40];
        char name[KOOP_MAX_NODE_NAME + 1]; /* "" unknown */
        int known;
        uint64_t at_mono;
    } e[KEYS_MAX];
    size_t n;
    int asking;
    char asking_node[64];   /* the node asked about (one request at a time) */
};

void
cases_transfer_stop(cases_t *c)
{
    free(c->keys);
    c->keys = NULL;
}

static int
s_key_slot(struct cases_keys *k, const char *node)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->e[i].node, node) == 0)
            return (int)i;
    return -1;
}

static void
s_on_key(void *ctx, const koop_reply_t *reply)
{
    cases_t *c = ctx;
    Koop__Sync__KeyReply *r = NULL;
    int i;
    if (c->keys) {
        c->keys->asking = 0;
        i = s_key_slot(c->keys, c->keys->asking_node);
        if (i < 0) {
            i = c->keys->n < KEYS_MAX ? (int)c->keys->n++ : 0; /* full: the oldest slot goes */
            snprintf(c->keys->e[i].node, sizeof c->keys->e[i].node, "%s", c->keys->asking_node);
        }
        c->keys->e[i].known = 0;
        c->keys->e[i].at_mono = koop_clock_mono_ms();
        c->keys->e[i].name[0] = '\0';
        if (reply->status == KOOP_OK && (r = koop__sync__key_reply__unpack(NULL, reply->len, reply->payload)) &&
            koop_key_from_z85(r->key, c->keys->e[i].key) == 0) {
            koop_key_fingerprint(c->keys->e[i].key, c->keys->e[i].fingerprint);
            c->keys->e[i].known = 1;
            if (koop_text_node_name(r->name))
                snprintf(c->keys->e[i].name, sizeof c->keys->e[i].name, "%s", r->name);
        }
        if (r)
            koop__sync__key_reply__free_unpacked(r, NULL);
    }
    koop_service_retry_deferred(c->svc, 0);
}

/* What the cache says of slot i: the key (and name) when the sync service
 * gave one, else transfer.no_key. */
static int
s_cached_key(koop_call_t *call, const struct cases_keys *k, int i, const char *node, uint8_t key[32],
             char fingerprint[40], char name[KOOP_MAX_NODE_NAME + 1])
{
    if (i < 0 || !k->e[i].known)
        return koop_fail(call, TRANSFER_NO_KEY, "to", node);
    memcpy(key, k->e[i].key, 32);
    memcpy(fingerprint, k->e[i].fingerprint, 40);
    memcpy(name, k->e[i].name, sizeof k->e[i].name);
    return KOOP_OK;
}

/* The key of node (and its name, "" unknown): KOOP_OK with it, or the call
 * deferred while the sync service is asked, or refused (transfer.no_key).
 * A key given without a name is asked for again after KEY_MISSING_MS (the
 * name may follow the key through the hubs), and is used as it is when the
 * sync service does not answer. */
static int
s_peer_key(koop_call_t *call, const char *node, uint8_t key[32], char fingerprint[40],
           char name[KOOP_MAX_NODE_NAME + 1])
{
    cases_t *c = cases_of(call);
    const char *ep = koop_config_endpoint(koop_service_config(call->svc), "sync");
    Koop__Sync__KeyQuery q = KOOP__SYNC__KEY_QUERY__INIT;
    uint64_t age;
    int i, usable;

    if (!c->keys && !(c->keys = calloc(1, sizeof *c->keys)))
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    i = s_key_slot(c->keys, node);
    age = i >= 0 ? koop_clock_mono_ms() - c->keys->e[i].at_mono : UINT64_MAX;
    usable = i >= 0 && c->keys->e[i].known && age < KEY_FRESH_MS;
    if (i >= 0 && age < (usable && c->keys->e[i].name[0] ? KEY_FRESH_MS : KEY_MISSING_MS))
        return s_cached_key(call, c->keys, i, node, key, fingerprint, name);
    if (!ep || call->final)
        return s_cached_key(call, c->keys, usable ? i : -1, node, key, fingerprint, name);
    if (!c->keys->asking) {
        snprintf(c->keys->asking_node, sizeof c->keys->asking_node, "%s", node);
        q.node = c->keys->asking_node;
        c->keys->asking = koop_client_call(koop_service_client(call->svc), ep, NULL, "transfer.key", &q.base, 1500,
                                           s_on_key, c, NULL) == 0;
    }
    /* the answer runs it again (the key then known or known to be missing);
     * no answer: the last run after KOOP_DEFER_MAX_MS takes the key the
     * cache still has, or refuses */
    if (koop_call_defer(call, UINT64_MAX) == KOOP_DEFERRED)
        return KOOP_DEFERRED;
    return s_cached_key(call, c->keys, usable ? i : -1, node, key, fingerprint, name);
}

/* This node's key pair (DIR/keys/node.key). */
static int
s_own_keys(koop_call_t *call, uint8_t pk[32], uint8_t sk[32])
{
    const koop_config_t *cfg = koop_service_config(call->svc);
    char path[PATH_MAX + 32], err[300];
    snprintf(path, sizeof path, "%s/keys/node.key", cfg->dir);
    if (koop_cert_load(path, 1, pk, sk, err, sizeof err) != 0)
        return koop_fail(call, INTERNAL_KEYS, NULL, err);
    return KOOP_OK;
}

/* 1 when s is a node id (docs/SYNC.md: 1..63 of [A-Za-z0-9_-]). */
static int
s_node_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= 63 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

static int
s_transfer_save(koop_call_t *call, const Koop__Cases__Transfer *t)
{
    return cases_save(call, "transfer", t->id, &t->base);
}

/* Keeps name as what node calls itself (a name the sync service gave: it is
 * checked again, as anything from outside; "" or a bad one changes nothing). */
static int
s_node_name_put(koop_call_t *call, const char *node, const char *name)
{
    MDB_val v;
    int rc;
    if (!s_node_name(node) || !koop_text_node_name(name))
        return KOOP_OK;
    rc = koop_store_get_str(call->txn, cases_dbi(call, "node_name"), node, &v);
    if (rc == 0 && v.mv_size == strlen(name) && memcmp(v.mv_data, name, v.mv_size) == 0)
        return KOOP_OK;
    if ((rc != 0 && rc != MDB_NOTFOUND) ||
        (rc = koop_store_put_str(call->txn, cases_dbi(call, "node_name"), node, name, strlen(name))) != 0)
        return koop_call_store_error(call, rc);
    return KOOP_OK;
}

int
cases_node_name(koop_call_t *call, const char *node, char *out, size_t len)
{
    const koop_config_t *cfg = koop_service_config(call->svc);
    MDB_val v;
    out[0] = '\0';
    if (!node || !*node)
        return 0;
    if (strcmp(node, cfg->node_id) == 0) {
        snprintf(out, len, "%s", cfg->name);
    } else if (koop_store_get_str(call->txn, cases_dbi(call, "node_name"), node, &v) == 0 &&
               v.mv_size <= KOOP_MAX_NODE_NAME) {
        snprintf(out, len, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
    }
    return out[0] != '\0';
}

/* A copy of t without the sealed bytes (replies, LOCAL events). */
static Koop__Cases__Transfer
s_public(const Koop__Cases__Transfer *t)
{
    Koop__Cases__Transfer p = *t;
    p.has_sealed = 0;
    p.sealed.len = 0;
    p.sealed.data = NULL;
    return p;
}

/* Frees t's sealed bytes (answered: they are no longer needed; or t is
 * about to be shown). */
static void
s_drop_sealed(Koop__Cases__Transfer *t)
{
    free(t->sealed.data);
    t->sealed.data = NULL;
    t->sealed.len = 0;
    t->has_sealed = 0;
}

/* The SHARED facts of a transfer (ids and node ids) and its LOCAL record. */
static int
s_transfer_change(koop_call_t *call, const Koop__Cases__Transfer *t, const char *type, const char *date,
                  Koop__Cases__TransferFacts *f, const ProtobufCMessage *record, const char *summary)
{
    Koop__Cases__Transfer pub = s_public(t);
    cases_change_t ch = {type, record ? record : &pub.base, &f->base, t->ipw, date, t->id, summary, NULL};
    f->transfer = t->id;
    f->household = t->household;
    f->ipw = t->ipw;
    f->from_node = t->from_node;
    f->to_node = t->to_node;
    f->date = (char *)date;
    return cases_record_change(call, &ch);
}

/* ---- the sender ---- */

static int
s_is_open(koop_call_t *call, const Koop__Cases__Ipw *ipw, void *ctx)
{
    (void)call;
    if (ipw->status == KOOP__CASES__IPW_STATUS__IPW_CLOSED)
        return KOOP_OK;
    snprintf(ctx, KOOP_ID_LEN, "%s", ipw->id);
    return -1; /* found: stop */
}

/* The household's IPW that is not closed (nor removed), loaded into *out. */
static int
s_open_ipw(koop_call_t *call, const Koop__Cases__Household *h, Koop__Cases__Ipw **out)
{
    char id[KOOP_ID_LEN] = "";
    int rc = cases_each_ipw(call, h, s_is_open, id);
    *out = NULL;
    if (rc != KOOP_OK && rc != -1)
        return rc;
    return id[0] ? cases_load(call, "ipw", &koop__cases__ipw__descriptor, "ipw", id, (ProtobufCMessage **)out) : KOOP_OK;
}

/* The package, packed and sealed to key into t->sealed. */
static int
s_seal(koop_call_t *call, Koop__Cases__Transfer *t, const Koop__Cases__Household *h, const Koop__Cases__Ipw *ipw,
       const uint8_t key[32])
{
    Koop__Cases__TransferPackage p = KOOP__CASES__TRANSFER_PACKAGE__INIT;
    Koop__Cases__TimelineEntry **tl = NULL;
    size_t ntl = 0, len;
    uint8_t *plain = NULL;
    int rc = KOOP_OK;

    if (ipw && (rc = cases_timeline_read(call, ipw->id, &tl, &ntl)) != KOOP_OK)
        return rc;
    p.transfer = t->id;
    p.from_node = t->from_node;
    p.to_node = t->to_node;
    p.date = t->date;
    p.household = (Koop__Cases__Household *)h;
    p.ipw = (Koop__Cases__Ipw *)ipw;
    p.n_timeline = ntl;
    p.timeline = tl;
    len = koop__cases__transfer_package__get_packed_size(&p);
    if (len + crypto_box_SEALBYTES > KOOP_MAX_MSG / 2) {
        rc = koop_fail(call, REPLY_TOO_LARGE, NULL, KOOP_NUM(len));
        goto done;
    }
    plain = malloc(len ? len : 1);
    t->sealed.data = malloc(len + crypto_box_SEALBYTES);
    if (!plain || !t->sealed.data) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    koop__cases__transfer_package__pack(&p, plain);
    if (crypto_box_seal(t->sealed.data, plain, len, key) != 0) {
        rc = koop_fail(call, INTERNAL_KEYS, NULL, "crypto_box_seal");
        goto done;
    }
    t->has_sealed = 1;
    t->sealed.len = len + crypto_box_SEALBYTES;
done:
    if (plain) {
        sodium_memzero(plain, len);
        free(plain);
    }
    for (size_t i = 0; i < ntl; i++)
        koop__cases__timeline_entry__free_unpacked(tl[i], NULL);
    free(tl);
    return rc;
}

int
cases_household_transfer(koop_call_t *call)
{
    const Koop__Cases__HouseholdTransfer *q = (const Koop__Cases__HouseholdTransfer *)call->req;
    Koop__Cases__Household *h = NULL;
    Koop__Cases__Ipw *ipw = NULL;
    Koop__Cases__Transfer t = KOOP__CASES__TRANSFER__INIT;
    Koop__Cases__TransferFacts f = KOOP__CASES__TRANSFER_FACTS__INIT;
    const char *self = koop_service_node(call->svc);
    cases_person_t who;
    uint8_t key[32];
    char id[KOOP_ID_LEN], date[11], fingerprint[40], summary[200], to_name[KOOP_MAX_NODE_NAME + 1];
    uint64_t seq = 0;
    int rc, any;

    cases_audit_note(call, q->household, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_check_id(call, "household", q->household, 1)) != KOOP_OK ||
        (rc = koop_check_text(call, "fingerprint", q->fingerprint, 0, 60)) != KOOP_OK ||
        (rc = cases_step_date(call, "date", q->date, NULL, date)) != KOOP_OK)
        return rc;
    if (!q->to || !*q->to)
        return koop_fail(call, FIELD_REQUIRED, "to");
    if (!s_node_name(q->to))
        return koop_fail(call, FIELD_INVALID, "to", q->to);
    if (strcmp(q->to, self) == 0)
        return koop_fail(call, TRANSFER_SELF, "to", q->to);
    rc = cases_load(call, "household", &koop__cases__household__descriptor, "household", q->household,
                    (ProtobufCMessage **)&h);
    if (rc != KOOP_OK)
        return rc;
    if ((rc = cases_can_household(call, &who, h)) != KOOP_OK ||
        (rc = cases_can_change_household(call, &who, h, "household.transfer")) != KOOP_OK ||
        (rc = cases_check_owned(call, "household", h->id, h->transfer, h->transferred_to, h->transferred)) != KOOP_OK)
        goto done;
    cases_consent_covers(h, NULL, &any);
    if (!any) {
        rc = koop_fail(call, TRANSFER_NO_CONSENT, "household", h->id);
        goto done;
    }
    if ((rc = s_open_ipw(call, h, &ipw)) != KOOP_OK)
        goto done;
    if (ipw) {
        cases_audit_note(call, NULL, ipw->id, NULL);
        if ((rc = cases_can_lead(call, &who, ipw, "household.transfer")) != KOOP_OK ||
            (rc = cases_check_owned(call, "ipw", ipw->number, ipw->transfer, ipw->transferred_to, ipw->transferred)) != KOOP_OK ||
            (rc = cases_ipw_attach_children(call, ipw)) != KOOP_OK)
            goto done;
    }
    if ((rc = s_peer_key(call, q->to, key, fingerprint, to_name)) != KOOP_OK ||
        (rc = s_node_name_put(call, q->to, to_name)) != KOOP_OK)
        goto done;
    if (q->fingerprint && *q->fingerprint && strcmp(q->fingerprint, fingerprint) != 0) {
        rc = koop_fail(call, TRANSFER_FINGERPRINT, "fingerprint", q->to, fingerprint, q->fingerprint);
        goto done;
    }
    if ((rc = cases_new_id(call, id)) != KOOP_OK)
        goto done;
    cases_audit_note(call, NULL, NULL, id);
    t.id = id;
    t.has_incoming = 1;
    t.household = h->id;
    t.ipw = ipw ? ipw->id : NULL;
    t.from_node = (char *)self;
    t.to_node = q->to;
    t.has_state = 1;
    t.state = TR(PENDING);
    t.date = date;
    t.fingerprint = fingerprint;
    t.by = who.id;
    if ((rc = s_seal(call, &t, h, ipw, key)) != KOOP_OK)
        goto done;
    /* the records stay as they are, locked until the answer */
    if ((rc = cases_set(call, &h->transfer, id)) != KOOP_OK || (rc = cases_save(call, "household", h->id, &h->base)) != KOOP_OK)
        goto done;
    if (ipw) {
        Koop__Cases__Ipw *stored = NULL;
        if ((rc = cases_load(call, "ipw", &koop__cases__ipw__descriptor, "ipw", ipw->id, (ProtobufCMessage **)&stored)) != KOOP_OK)
            goto done;
        rc = cases_set(call, &stored->transfer, id);
        if (rc == KOOP_OK)
            rc = cases_save(call, "ipw", stored->id, &stored->base);
        koop__cases__ipw__free_unpacked(stored, NULL);
        if (rc != KOOP_OK)
            goto done;
    }
    snprintf(summary, sizeof summary, "przekazanie sprawy do gminy %.63s (czeka na jej odpowiedź)", q->to);
    if ((rc = s_transfer_change(call, &t, "household.transfer_offered", date, &f, NULL, summary)) != KOOP_OK)
        goto done;
    if ((rc = koop_log_last(koop_service_log(call->svc), call->txn, 1, &seq)) != 0) {
        rc = koop_call_store_error(call, rc);
        goto done;
    }
    t.has_sender_seq = 1;
    t.sender_seq = seq; /* the hub stores our events up to here before it passes the offer on */
    if ((rc = s_transfer_save(call, &t)) != KOOP_OK)
        goto done;
    {
        Koop__Cases__Transfer pub = s_public(&t);
        rc = koop_call_reply(call, &pub.base);
    }
done:
    free(t.sealed.data);
    sodium_memzero(key, sizeof key);
    if (ipw)
        koop__cases__ipw__free_unpacked(ipw, NULL);
    if (h)
        koop__cases__household__free_unpacked(h, NULL);
    return rc;
}

/* ---- between the cases service and the sync service ---- */

int
cases_transfer_outbox(koop_call_t *call)
{
    Koop__Cases__TransferOutbox out = KOOP__CASES__TRANSFER_OUTBOX__INIT;
    Koop__Sync__Relay relays[OUTBOX_MAX], *ptrs[OUTBOX_MAX];
    Koop__Cases__Transfer *held[OUTBOX_MAX];
    size_t bytes = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "transfer"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    while (out.n_items < OUTBOX_MAX && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Koop__Cases__Transfer *t = koop__cases__transfer__unpack(NULL, v.mv_size, v.mv_data);
        Koop__Sync__Relay *r = &relays[out.n_items];
        int offer, answer;
        if (!t) {
            rc = MDB_CORRUPTED;
            break;
        }
        offer = !t->incoming && t->state == TR(PENDING) && !t->handed && t->has_sealed;
        answer = t->incoming && t->state != TR(PENDING) && !t->handed;
        if ((!offer && !answer) || (out.n_items && bytes + t->sealed.len > OUTBOX_BYTES)) {
            koop__cases__transfer__free_unpacked(t, NULL);
            continue;
        }
        koop__sync__relay__init(r);
        r->id = t->id;
        r->has_kind = 1;
        r->kind = offer ? KOOP__SYNC__RELAY_KIND__RELAY_OFFER : KOOP__SYNC__RELAY_KIND__RELAY_ANSWER;
        r->from_node = offer ? t->from_node : t->to_node;
        r->to_node = offer ? t->to_node : t->from_node;
        r->fingerprint = t->fingerprint;
        if (offer) {
            r->has_sealed = 1;
            r->sealed = t->sealed;
            r->after_stream = "cases";
            r->has_after_seq = 1;
            r->after_seq = t->sender_seq;
            bytes += t->sealed.len;
        } else {
            r->has_accepted = 1;
            r->accepted = t->state == TR(ACCEPTED);
            r->answer = t->answer;
        }
        held[out.n_items] = t;
        ptrs[out.n_items] = r;
        out.n_items++;
    }
    mdb_cursor_close(cur);
    if (rc == 0 || rc == MDB_NOTFOUND) {
        out.items = ptrs;
        rc = koop_call_reply(call, &out.base);
    } else {
        rc = koop_call_store_error(call, rc);
    }
    for (size_t i = 0; i < out.n_items; i++)
        koop__cases__transfer__free_unpacked(held[i], NULL);
    return rc;
}

int
cases_transfer_relayed(koop_call_t *call)
{
    const Koop__Cases__TransferRelayed *q = (const Koop__Cases__TransferRelayed *)call->req;
    Koop__Cases__Transfer *t = NULL;
    Koop__Empty empty = KOOP__EMPTY__INIT;
    int rc;
    if ((rc = cases_load(call, "transfer", &koop__cases__transfer__descriptor, "id", q->id, (ProtobufCMessage **)&t)) !=
        KOOP_OK)
        return rc;
    t->has_handed = 1;
    t->handed = 1;
    rc = s_transfer_save(call, t);
    koop__cases__transfer__free_unpacked(t, NULL);
    return rc == KOOP_OK ? koop_call_reply(call, &empty.base) : rc;
}

/* Answer of the receiving gmina to one of our offers. */
static int
s_answer(koop_call_t *call, const Koop__Sync__Relay *r)
{
    Koop__Cases__Transfer *t = NULL;
    Koop__Cases__TransferFacts f = KOOP__CASES__TRANSFER_FACTS__INIT;
    Koop__Cases__Household *h = NULL;
    Koop__Cases__Ipw *ipw = NULL;
    char today[11], summary[200];
    int rc = koop_record_get(call->txn, cases_dbi(call, "transfer"), r->id, &koop__cases__transfer__descriptor,
                             (ProtobufCMessage **)&t);
    if (rc == MDB_NOTFOUND)
        return KOOP_OK; /* not ours (or forgotten): nothing to do */
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if (t->incoming || t->state != TR(PENDING) || !t->to_node || !r->from_node || strcmp(t->to_node, r->from_node) != 0)
        goto done; /* answered already, or not from the gmina we asked */
    cases_today(today);
    t->state = r->accepted ? TR(ACCEPTED) : TR(DECLINED);
    if ((rc = cases_set(call, &t->answered, today)) != KOOP_OK ||
        (rc = cases_set(call, &t->answer, r->answer && s_node_name(r->answer) ? r->answer : (r->accepted ? "accepted" : "declined"))) != KOOP_OK)
        goto done;
    s_drop_sealed(t);
    if ((rc = cases_load_any(call, "household", &koop__cases__household__descriptor, "household", t->household,
                             (ProtobufCMessage **)&h)) != KOOP_OK)
        goto done;
    if (t->ipw && (rc = cases_load_any(call, "ipw", &koop__cases__ipw__descriptor, "ipw", t->ipw, (ProtobufCMessage **)&ipw)) != KOOP_OK)
        goto done;
    if ((rc = cases_set(call, &h->transfer, NULL)) != KOOP_OK || (ipw && (rc = cases_set(call, &ipw->transfer, NULL)) != KOOP_OK))
        goto done;
    if (r->accepted && ((rc = cases_set(call, &h->transferred_to, t->to_node)) != KOOP_OK ||
                        (rc = cases_set(call, &h->transferred, today)) != KOOP_OK ||
                        (ipw && ((rc = cases_set(call, &ipw->transferred_to, t->to_node)) != KOOP_OK ||
                                 (rc = cases_set(call, &ipw->transferred, today)) != KOOP_OK))))
        goto done;
    if ((rc = cases_pesel_index(call, h, !r->accepted)) != KOOP_OK || (rc = cases_save(call, "household", h->id, &h->base)) != KOOP_OK ||
        (ipw && (rc = cases_save(call, "ipw", ipw->id, &ipw->base)) != KOOP_OK) || (rc = s_transfer_save(call, t)) != KOOP_OK)
        goto done;
    snprintf(summary, sizeof summary, r->accepted ? "gmina %.63s przyjęła sprawę: ta kopia jest tylko do odczytu"
                                                  : "gmina %.63s nie przyjęła sprawy: prowadzimy ją dalej",
             t->to_node);
    rc = s_transfer_change(call, t, r->accepted ? "household.transferred_out" : "household.transfer_declined", today, &f,
                           NULL, summary);
done:
    if (h)
        koop__cases__household__free_unpacked(h, NULL);
    if (ipw)
        koop__cases__ipw__free_unpacked(ipw, NULL);
    koop__cases__transfer__free_unpacked(t, NULL);
    return rc;
}

/* An offer for this node: kept sealed until a coordinator decides. */
static int
s_offer(koop_call_t *call, const Koop__Sync__Relay *r)
{
    Koop__Cases__Transfer t = KOOP__CASES__TRANSFER__INIT;
    uint8_t pk[32], sk[32];
    char own[40], today[11];
    int rc;

    if (koop_record_exists(call->txn, cases_dbi(call, "transfer"), r->id))
        return KOOP_OK; /* a duplicate of the relay */
    if ((rc = s_own_keys(call, pk, sk)) != KOOP_OK)
        return rc;
    sodium_memzero(sk, sizeof sk);
    koop_key_fingerprint(pk, own);
    cases_today(today);
    t.id = r->id;
    t.has_incoming = t.incoming = 1;
    t.from_node = r->from_node;
    t.to_node = r->to_node;
    t.has_state = 1;
    t.state = TR(PENDING);
    t.date = today;
    t.fingerprint = r->fingerprint;
    if (!r->fingerprint || strcmp(r->fingerprint, own) != 0 || !r->has_sealed) {
        /* sealed to another key: it cannot be opened here - say so at once */
        t.state = TR(DECLINED);
        t.answer = "key_mismatch";
        t.answered = today;
    } else {
        t.has_sealed = 1;
        t.sealed = r->sealed;
    }
    if ((rc = s_transfer_save(call, &t)) != KOOP_OK)
        return rc;
    {
        Koop__Cases__Transfer pub = s_public(&t);
        cases_change_t ch = {"transfer.received", &pub.base, NULL, NULL, today, t.id, NULL, NULL};
        return cases_record_change(call, &ch);
    }
}

int
cases_transfer_receive(koop_call_t *call)
{
    const Koop__Cases__TransferDelivery *d = (const Koop__Cases__TransferDelivery *)call->req;
    const Koop__Sync__Relay *r = d->relay;
    Koop__Empty empty = KOOP__EMPTY__INIT;
    int rc;
    if (!r)
        return koop_fail(call, FIELD_REQUIRED, "relay");
    if (!r->id || !koop_id_valid(r->id) || !s_node_name(r->from_node) || !r->to_node ||
        strcmp(r->to_node, koop_service_node(call->svc)) != 0)
        return koop_fail(call, FIELD_INVALID, "to_node", r->to_node ? r->to_node : "");
    if ((rc = s_node_name_put(call, r->from_node, d->from_name)) != KOOP_OK)
        return rc;
    rc = r->kind == KOOP__SYNC__RELAY_KIND__RELAY_OFFER ? s_offer(call, r)
         : r->kind == KOOP__SYNC__RELAY_KIND__RELAY_ANSWER ? s_answer(call, r)
                                                            : koop_fail(call, FIELD_INVALID, "kind", "?");
    return rc == KOOP_OK ? koop_call_reply(call, &empty.base) : rc;
}

/* ---- the receiver ---- */

int
cases_transfer_collect(koop_call_t *call, int (*keep)(const Koop__Cases__Transfer *t, const void *ctx), const void *ctx,
                       void *items, size_t *n)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "transfer"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Koop__Cases__Transfer *t = koop__cases__transfer__unpack(NULL, v.mv_size, v.mv_data);
        if (!t) {
            rc = MDB_CORRUPTED;
            break;
        }
        s_drop_sealed(t);
        if (keep && !keep(t, ctx)) {
            koop__cases__transfer__free_unpacked(t, NULL);
            continue;
        }
        if (cases_append(call, items, n, t) != KOOP_OK) {
            koop__cases__transfer__free_unpacked(t, NULL);
            mdb_cursor_close(cur);
            return call->status;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? KOOP_OK : koop_call_store_error(call, rc);
}

static int
s_in_state(const Koop__Cases__Transfer *t, const void *ctx)
{
    const Koop__Cases__TransferQuery *q = ctx;
    return !q->has_state || !q->state || t->state == q->state;
}

int
cases_transfer_list(koop_call_t *call)
{
    const Koop__Cases__TransferQuery *q = (const Koop__Cases__TransferQuery *)call->req;
    ProtobufCMessage **items = NULL;
    size_t n = 0;
    cases_person_t who;
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if (!cases_is_coordinator(&who))
        return koop_fail(call, ACCESS_DENIED_COORDINATOR_ONLY, NULL, "transfers");
    rc = cases_transfer_collect(call, s_in_state, q, &items, &n);
    return cases_list_done(call, rc, &koop__cases__transfer_list__descriptor, items, n);
}

/* Loads an incoming transfer that waits for a decision. */
static int
s_incoming(koop_call_t *call, const cases_person_t *who, const char *id, const char *action, Koop__Cases__Transfer **t)
{
    int rc;
    cases_audit_note(call, NULL, NULL, id);
    if ((rc = cases_can_coordinate(call, who, action)) != KOOP_OK)
        return rc;
    if ((rc = cases_load(call, "transfer", &koop__cases__transfer__descriptor, "transfer", id, (ProtobufCMessage **)t)) !=
        KOOP_OK)
        return rc;
    if (!(*t)->incoming) {
        rc = koop_fail(call, RECORD_NOT_FOUND, "transfer", "transfer", id);
    } else if ((*t)->state != TR(PENDING)) {
        rc = koop_fail(call, TRANSFER_ANSWERED, "transfer", id, (*t)->answer ? (*t)->answer : "declined");
    } else {
        cases_audit_note(call, (*t)->household, (*t)->ipw, NULL);
        return KOOP_OK;
    }
    koop__cases__transfer__free_unpacked(*t, NULL);
    *t = NULL;
    return rc;
}

/* A record of the package may take the place of one here only when this
 * node handed it away before (it came back). */
static int
s_free_id(koop_call_t *call, const char *table, const ProtobufCMessageDescriptor *desc, const char *id)
{
    ProtobufCMessage *old = NULL;
    const char *away;
    int rc = koop_record_get(call->txn, cases_dbi(call, table), id, desc, &old), ok;
    if (rc == MDB_NOTFOUND)
        return KOOP_OK;
    if (rc != 0)
        return koop_call_store_error(call, rc);
    away = protobuf_c_message_descriptor_get_field_by_name(desc, "transferred_to") ? koop_record_str(old, "transferred_to")
                                                                                   : "child";
    ok = away && *away;
    protobuf_c_message_free_unpacked(old, NULL);
    return ok ? KOOP_OK : koop_fail(call, TRANSFER_CONFLICT, "transfer", table, id);
}

/* The children of the package's IPW, stored here with their index. */
static int
s_import_children(koop_call_t *call, const Koop__Cases__Ipw *ipw)
{
    struct {
        char kind;
        const char *table;
        ProtobufCMessage **items;
        size_t n;
    } lists[] = {
        {'g', "goal", (ProtobufCMessage **)ipw->goals, ipw->n_goals},
        {'t', "task", (ProtobufCMessage **)ipw->tasks, ipw->n_tasks},
        {'m', "meeting", (ProtobufCMessage **)ipw->meetings, ipw->n_meetings},
        {'r', "referral", (ProtobufCMessage **)ipw->referrals, ipw->n_referrals},
    };
    int rc;
    for (size_t l = 0; l < KOOP_ARRAY_LEN(lists); l++)
        for (size_t i = 0; i < lists[l].n; i++) {
            const char *id = koop_record_str(lists[l].items[i], "id");
            if (!koop_id_valid(id) || strcmp(koop_record_str(lists[l].items[i], "ipw") ? koop_record_str(lists[l].items[i], "ipw") : "", ipw->id) != 0)
                return koop_fail(call, TRANSFER_UNREADABLE, "transfer", ipw->id, lists[l].table);
            if ((rc = cases_save(call, lists[l].table, id, lists[l].items[i])) != KOOP_OK ||
                (rc = cases_child_add(call, ipw->id, lists[l].kind, id)) != KOOP_OK)
                return rc;
        }
    return KOOP_OK;
}

/* The facts of everything that moved, for the hubs above (reporting). */
static int
s_transferred_in(koop_call_t *call, Koop__Cases__Transfer *t, Koop__Cases__TransferPackage *p, const char *today)
{
    Koop__Cases__TransferFacts f = KOOP__CASES__TRANSFER_FACTS__INIT;
    Koop__Cases__HouseholdFacts hf;
    Koop__Cases__IpwFacts wf;
    Koop__Cases__AgeBand bands[CASES_MAX_HOUSEHOLD_SIZE + 1], ipw_bands[CASES_MAX_HOUSEHOLD_SIZE + 1];
    Koop__Cases__GoalFacts *g = NULL, **gp = NULL;
    Koop__Cases__TaskFacts *tk = NULL, **tp = NULL;
    Koop__Cases__ReferralFacts *rf = NULL, **rp = NULL;
    Koop__Cases__MeetingFacts *mf = NULL, **mp = NULL;
    Koop__Cases__MemberFacts *mb = NULL, **bp = NULL;
    char **inst = NULL;
    size_t nmb = 0;
    char summary[200];
    const Koop__Cases__Ipw *ipw = p->ipw;
    int rc = KOOP_OK;

    cases_household_facts(p->household, today, &hf, bands);
    f.household_facts = &hf;
    if (ipw) {
        size_t ng = ipw->n_goals, nt = ipw->n_tasks, nr = ipw->n_referrals, nm = ipw->n_meetings;
        cases_ipw_facts(ipw, today, &wf);
        wf.has_household_size = 1;
        wf.household_size = p->household->size;
        wf.n_age_bands = cases_household_bands(p->household, ipw->opened, ipw_bands);
        wf.age_bands = ipw_bands;
        f.ipw_facts = &wf;
        g = calloc(ng + 1, sizeof *g), gp = calloc(ng + 1, sizeof *gp);
        tk = calloc(nt + 1, sizeof *tk), tp = calloc(nt + 1, sizeof *tp);
        rf = calloc(nr + 1, sizeof *rf), rp = calloc(nr + 1, sizeof *rp);
        mf = calloc(nm + 1, sizeof *mf), mp = calloc(nm + 1, sizeof *mp);
        bp = calloc(ipw->n_members + 1, sizeof *bp);
        inst = calloc((nm + 1) * CASES_MAX_LIST, sizeof *inst);
        if (!g || !gp || !tk || !tp || !rf || !rp || !mf || !mp || !bp || !inst ||
            cases_member_facts(call, ipw, &mb, &nmb) != KOOP_OK) {
            rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
            goto done;
        }
        for (size_t i = 0; i < ng; i++) {
            const Koop__Cases__Goal *gl = ipw->goals[i];
            cases_goal_facts(gl, gl->added, &g[i]);
            gp[i] = &g[i];
            g[i].scaling_values = calloc(gl->n_scalings + 1, sizeof *g[i].scaling_values);
            g[i].scaling_dates = calloc(gl->n_scalings + 1, sizeof *g[i].scaling_dates);
            if (!g[i].scaling_values || !g[i].scaling_dates) {
                rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
                goto done;
            }
            for (size_t k = 0; k < gl->n_scalings; k++) {
                g[i].scaling_values[k] = gl->scalings[k]->value;
                g[i].scaling_dates[k] = gl->scalings[k]->date;
            }
            g[i].n_scaling_values = g[i].n_scaling_dates = gl->n_scalings;
        }
        for (size_t i = 0; i < nt; i++) {
            const Koop__Cases__Task *tt = ipw->tasks[i];
            /* the date of its state: added, done or cancelled */
            cases_task_facts(tt, tt->done && *tt->done ? tt->done : tt->cancelled && *tt->cancelled ? tt->cancelled : tt->added,
                             &tk[i]);
            tp[i] = &tk[i];
        }
        for (size_t i = 0; i < nr; i++)
            cases_referral_facts(ipw->referrals[i], ipw->referrals[i]->sent, &rf[i]), rp[i] = &rf[i];
        for (size_t i = 0; i < nm; i++)
            cases_meeting_facts(ipw->meetings[i], ipw, &mf[i], inst + i * CASES_MAX_LIST), mp[i] = &mf[i];
        for (size_t i = 0; i < nmb; i++)
            bp[i] = &mb[i];
        f.n_goals = ng, f.goals = gp;
        f.n_tasks = nt, f.tasks = tp;
        f.n_referrals = nr, f.referrals = rp;
        f.n_meetings = nm, f.meetings = mp;
        f.n_zzk = nmb, f.zzk = bp;
    }
    snprintf(summary, sizeof summary, "przyjęto sprawę z gminy %.63s%s%s", t->from_node,
             ipw && ipw->previous_number ? " (tam " : "", ipw && ipw->previous_number ? ipw->previous_number : "");
    if (ipw && ipw->previous_number)
        strncat(summary, ")", sizeof summary - strlen(summary) - 1);
    rc = s_transfer_change(call, t, "household.transferred_in", today, &f, &p->base, summary);
done:
    for (size_t i = 0; g && ipw && i < ipw->n_goals; i++) {
        free(g[i].scaling_values);
        free(g[i].scaling_dates);
    }
    free(g), free(gp), free(tk), free(tp), free(rf), free(rp), free(mf), free(mp), free(mb), free(bp), free(inst);
    return rc;
}

/* Makes the package's records this node's: same ids, this node the owner,
 * the IPW a number of this gmina, its ZZK the acceptor (earlier members
 * stay as former ones). */
static int
s_import(koop_call_t *call, const cases_person_t *who, Koop__Cases__Transfer *t, Koop__Cases__TransferPackage *p,
         const char *today)
{
    Koop__Cases__Household *h = p->household;
    Koop__Cases__Ipw *ipw = p->ipw;
    const char *self = koop_service_node(call->svc);
    char number[32], mid[KOOP_ID_LEN];
    int rc;

    if ((rc = s_free_id(call, "household", &koop__cases__household__descriptor, h->id)) != KOOP_OK ||
        (ipw && (rc = s_free_id(call, "ipw", &koop__cases__ipw__descriptor, ipw->id)) != KOOP_OK))
        return rc;
    if ((rc = cases_set(call, &h->owner, self)) != KOOP_OK || (rc = cases_set(call, &h->transfer, NULL)) != KOOP_OK ||
        (rc = cases_set(call, &h->transferred_to, NULL)) != KOOP_OK || (rc = cases_set(call, &h->transferred, NULL)) != KOOP_OK ||
        (rc = cases_set(call, &h->transferred_from, t->from_node)) != KOOP_OK ||
        (rc = cases_set(call, &h->created_by, who->id)) != KOOP_OK)
        return rc;
    for (size_t i = 0; i < h->n_ipws; i++)
        free(h->ipws[i]);
    h->n_ipws = 0;
    for (size_t i = 0; i < h->n_linked; i++)
        free(h->linked[i]);
    h->n_linked = 0;
    if (ipw && (rc = cases_append_str(call, &h->ipws, &h->n_ipws, ipw->id)) != KOOP_OK)
        return rc;
    h->has_updated_ms = 1;
    h->updated_ms = koop_clock_real_ms();
    for (size_t i = 0; i < h->n_consents; i++) {
        MDB_val k = {KOOP_ID_LEN - 1, h->consents[i]->id}, v = {KOOP_ID_LEN - 1, h->id};
        if (!koop_id_valid(h->consents[i]->id) || (rc = mdb_put(call->txn, cases_dbi(call, "consent"), &k, &v, 0)) != 0)
            return rc ? koop_call_store_error(call, rc) : koop_fail(call, TRANSFER_UNREADABLE, "transfer", t->id, "consent");
    }
    if ((rc = cases_save(call, "household", h->id, &h->base)) != KOOP_OK || (rc = cases_pesel_index(call, h, 1)) != KOOP_OK)
        return rc;
    if (!ipw)
        return KOOP_OK;
    if ((rc = cases_ipw_next_number(call, today, number, sizeof number)) != KOOP_OK ||
        (rc = cases_set(call, &ipw->previous_number, ipw->number)) != KOOP_OK ||
        (rc = cases_set(call, &ipw->number, number)) != KOOP_OK || (rc = cases_set(call, &ipw->owner, self)) != KOOP_OK ||
        (rc = cases_set(call, &ipw->transfer, NULL)) != KOOP_OK || (rc = cases_set(call, &ipw->transferred_to, NULL)) != KOOP_OK ||
        (rc = cases_set(call, &ipw->transferred, NULL)) != KOOP_OK ||
        (rc = cases_set(call, &ipw->transferred_from, t->from_node)) != KOOP_OK ||
        (rc = cases_set(call, &ipw->coordinator, who->id)) != KOOP_OK)
        return rc;
    for (size_t i = 0; i < ipw->n_members; i++) {
        ipw->members[i]->coordinator = 0;
        if ((!ipw->members[i]->removed || !*ipw->members[i]->removed) &&
            (rc = cases_set(call, &ipw->members[i]->removed, today)) != KOOP_OK)
            return rc;
    }
    {
        Koop__Cases__ZzkMember *m;
        if ((rc = cases_new_id(call, mid)) != KOOP_OK)
            return rc;
        if (!(m = cases_zzk_member_new(mid, who, today, 1)))
            return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        if ((rc = cases_append(call, &ipw->members, &ipw->n_members, m)) != KOOP_OK) {
            koop__cases__zzk_member__free_unpacked(m, NULL);
            return rc;
        }
    }
    ipw->has_updated_ms = 1;
    ipw->updated_ms = koop_clock_real_ms();
    if ((rc = s_import_children(call, ipw)) != KOOP_OK)
        return rc;
    {
        /* the IPW record is stored without its children (they have tables of their own) */
        Koop__Cases__Ipw stored = *ipw;
        stored.n_goals = stored.n_tasks = stored.n_meetings = stored.n_referrals = 0;
        if ((rc = cases_save(call, "ipw", ipw->id, &stored.base)) != KOOP_OK ||
            (rc = cases_ipw_number_put(call, number, ipw->id)) != KOOP_OK)
            return rc;
    }
    /* the history as the sender's timeline had it, in its order */
    if ((rc = cases_timeline_drop(call, ipw->id)) != KOOP_OK)
        return rc;
    for (size_t i = 0; i < p->n_timeline; i++) {
        p->timeline[i]->has_seq = 1;
        p->timeline[i]->seq = (UINT64_C(1) << 63) | i; /* apart from this node's own seqs */
        if ((rc = cases_timeline_put(call, ipw->id, p->timeline[i])) != KOOP_OK)
            return rc;
    }
    for (size_t i = 0; i < ipw->n_tasks; i++)
        if ((rc = cases_owner_index(call, ipw->tasks[i]->owner, ipw->tasks[i]->id, 1)) != KOOP_OK)
            return rc;
    return cases_set(call, &t->number, number);
}

int
cases_transfer_accept(koop_call_t *call)
{
    const Koop__Cases__TransferRef *q = (const Koop__Cases__TransferRef *)call->req;
    Koop__Cases__Transfer *t = NULL;
    Koop__Cases__TransferPackage *p = NULL;
    cases_person_t who;
    uint8_t pk[32], sk[32], *plain = NULL;
    size_t len = 0;
    char today[11];
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK || (rc = s_incoming(call, &who, q->transfer, "transfer.accept", &t)) != KOOP_OK)
        return rc;
    if ((rc = s_own_keys(call, pk, sk)) != KOOP_OK)
        goto done;
    len = t->sealed.len > crypto_box_SEALBYTES ? t->sealed.len - crypto_box_SEALBYTES : 0;
    if (!len || !(plain = malloc(len))) {
        rc = len ? koop_fail(call, INTERNAL_NO_MEMORY, NULL) : koop_fail(call, TRANSFER_UNREADABLE, "transfer", t->id, "?");
        goto done;
    }
    if (crypto_box_seal_open(plain, t->sealed.data, t->sealed.len, pk, sk) != 0) {
        rc = koop_fail(call, TRANSFER_UNREADABLE, "transfer", t->id, t->fingerprint ? t->fingerprint : "?");
        goto done;
    }
    p = koop__cases__transfer_package__unpack(NULL, len, plain);
    if (!p || !p->transfer || strcmp(p->transfer, t->id) != 0 || !p->from_node || strcmp(p->from_node, t->from_node) != 0 ||
        !p->household || !koop_id_valid(p->household->id) ||
        (p->ipw && (!koop_id_valid(p->ipw->id) || !p->ipw->household || strcmp(p->ipw->household, p->household->id) != 0))) {
        rc = koop_fail(call, TRANSFER_UNREADABLE, "transfer", t->id, t->fingerprint ? t->fingerprint : "?");
        goto done;
    }
    cases_audit_note(call, p->household->id, p->ipw ? p->ipw->id : NULL, NULL);
    cases_today(today);
    if ((rc = s_import(call, &who, t, p, today)) != KOOP_OK)
        goto done;
    t->state = TR(ACCEPTED);
    s_drop_sealed(t);
    t->has_handed = 1;
    t->handed = 0;
    if ((rc = cases_set(call, &t->household, p->household->id)) != KOOP_OK ||
        (rc = cases_set(call, &t->ipw, p->ipw ? p->ipw->id : NULL)) != KOOP_OK ||
        (rc = cases_set(call, &t->answered, today)) != KOOP_OK || (rc = cases_set(call, &t->answer, "accepted")) != KOOP_OK ||
        (rc = cases_set(call, &t->by, who.id)) != KOOP_OK || (rc = s_transfer_save(call, t)) != KOOP_OK ||
        (rc = s_transferred_in(call, t, p, today)) != KOOP_OK)
        goto done;
    {
        /* the accepted record itself (events.verify: the record its last event carries) */
        cases_change_t ch = {"transfer.accepted", &t->base, NULL, NULL, today, t->id, NULL, NULL};
        if ((rc = cases_record_change(call, &ch)) != KOOP_OK)
            goto done;
    }
    rc = koop_call_reply(call, &t->base);
done:
    sodium_memzero(sk, sizeof sk);
    if (plain) {
        sodium_memzero(plain, len);
        free(plain);
    }
    if (p)
        koop__cases__transfer_package__free_unpacked(p, NULL);
    koop__cases__transfer__free_unpacked(t, NULL);
    return rc;
}

int
cases_transfer_decline(koop_call_t *call)
{
    const Koop__Cases__TransferRef *q = (const Koop__Cases__TransferRef *)call->req;
    Koop__Cases__Transfer *t = NULL;
    cases_person_t who;
    char today[11];
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 0, 1000)) != KOOP_OK ||
        (rc = s_incoming(call, &who, q->transfer, "transfer.decline", &t)) != KOOP_OK)
        return rc;
    cases_today(today);
    t->state = TR(DECLINED);
    s_drop_sealed(t);
    if ((rc = cases_set(call, &t->answered, today)) != KOOP_OK || (rc = cases_set(call, &t->answer, "declined")) != KOOP_OK ||
        (rc = cases_set(call, &t->by, who.id)) != KOOP_OK || (rc = s_transfer_save(call, t)) != KOOP_OK)
        goto done;
    {
        cases_change_t ch = {"transfer.refused", &t->base, NULL, NULL, today, t->id, NULL, NULL};
        if ((rc = cases_record_change(call, &ch)) != KOOP_OK)
            goto done;
    }
    rc = koop_call_reply(call, &t->base);
done:
    koop__cases__transfer__free_unpacked(t, NULL);
    return rc;
}
