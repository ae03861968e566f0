/*
 * transfer.c - relaying transfers of households between gminas, and the
 * directory of nodes' keys that sealing them needs (docs/SYNC.md,
 * "Transfers").
 *
 * What travels is a koop.sync.Relay: an OFFER (the household sealed to the
 * receiving gmina's key, services/cases/transfer.c) or an ANSWER (accepted
 * or declined: a code). Hubs see node ids, a fingerprint and ciphertext;
 * they cannot open it, and they keep it only until the next hop has it.
 *
 * Each hop is store-and-forward with an ack:
 *
 *   gmina:  transfer.outbox (cases) --RELAY--> hub; RELAY_ACK --> transfer.relayed
 *           RELAY from the hub --> transfer.receive (cases) --> RELAY_ACK
 *   hub:    RELAY from a child or from above --stored in "relay" (one txn)--> RELAY_ACK
 *           each tick, every held relay goes to its next hop:
 *             the receiver is a child            --> down to it
 *             a child has it below (its PEERS)   --> down to that child
 *             else, with a hub above             --> up
 *             else                               --> held; after RELAY_UNKNOWN_MS an
 *                                                    OFFER is answered unknown_node
 *           RELAY_ACK from the next hop --> the held relay is deleted
 *   A hop that gets no ack sends again after RELAY_RESEND_MS; duplicates
 *   are acked and ignored (key: kind + id).
 *
 * Order. A hub holds an OFFER from a child until it has stored that
 * child's stream `after_stream` up to `after_seq` (the gmina's cases
 * events up to the offer; a powiat hub's merged stream up to where it
 * forwarded it): every event of the sender before the transfer is counted
 * at every hub before the receiver can say it took the family over, so no
 * report above the gminas counts the family twice or loses it.
 *
 * Keys. The hub that delivers an OFFER to its own child checks the
 * fingerprint against the key it enrolled for that child; a mismatch (the
 * gmina was re-keyed) is answered key_mismatch at once. PEERS frames carry
 * the directory: up, the sender's own name ([node] name) and, from a hub,
 * its bound children (node, Z85 key, the name each told it) and what its
 * children reported below them; down, everything the hub knows, so every
 * gmina can find every other gmina's key (transfer.key) and name (given to
 * the cases service with the key, and with what transfer.receive delivers).
 * A hub keeps its children's names in table "names" (node -> name), a
 * gmina the last directory in table "peers" (node -> key and name; it works
 * while the hub is away). A name from another node is checked as any name
 * from outside (koop_text_node_name); one that fails is dropped, the key kept.
 *
 * Checks. A relay from a child must come from that child or from a node it
 * reported below it, name a valid receiver, and fit in KOOP_MAX_MSG / 2;
 * anything else is dropped and counted as malformed in the log.
 */
#include "sync.h"
#include "cert.h"
#include "clock.h"
#include "id.h"
#include "say.h"
#include "text.h"
#include "cases.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELAY_TICK_MS 500
#define RELAY_RESEND_MS 10000
#define RELAY_UNKNOWN_MS (24ULL * 3600 * 1000)
#define OUTBOX_POLL_MS 1000
#define PEERS_MS 30000
#define PEERS_MAX 20000
#define FLIGHT_MAX 256
#define KEY_LEN (1 + KOOP_ID_LEN - 1)

typedef struct {
    char node[SYNC_MAX_NAME + 1];
    char key[41];
    char name[SYNC_MAX_LABEL + 1]; /* "" unknown */
} s_peer;

/* A child of this hub: the name it gave itself and what it reported below it. */
typedef struct {
    char child[SYNC_MAX_NAME + 1];
    char name[SYNC_MAX_LABEL + 1];
    int name_dirty;                /* not in table "names" yet */
    s_peer *below;
    size_t n;
} s_below;

/* A relay sent and not acked yet: when, and to whom ("": up). */
typedef struct {
    unsigned char key[KEY_LEN];
    char to[SYNC_MAX_NAME + 1];
    uint64_t sent_mono;
} s_flight;

struct sync_relay {
    sync_t *sync;
    koop_store_t *store;
    MDB_dbi dbi_relay, dbi_peers, dbi_names;
    uv_timer_t *tick;
    const char *self;
    /* a gmina: its cases service */
    sync_local_t *outbox, *relayed, *receive;
    uint64_t outbox_mono;
    Koop__Sync__Relay *receiving; /* what transfer.receive is taking now */
    /* a hub: what each child reported below it, and its name */
    s_below *below;
    size_t nbelow;
    int names_dirty;              /* a child's name to write */
    /* the directory from above (and what this node last sent) */
    s_peer *dir;
    size_t ndir;
    uint64_t peers_mono;
    s_flight flight[FLIGHT_MAX];
    size_t nflight;
};

/* ---- small helpers ---- */

static void
s_key(unsigned char out[KEY_LEN], int kind, const char *id)
{
    out[0] = (unsigned char)kind;
    memcpy(out + 1, id, KOOP_ID_LEN - 1);
}

static s_flight *
s_flight_find(sync_relay_t *r, const unsigned char key[KEY_LEN])
{
    for (size_t i = 0; i < r->nflight; i++)
        if (memcmp(r->flight[i].key, key, KEY_LEN) == 0)
            return &r->flight[i];
    return NULL;
}

/* 1 when the relay may be sent (again) to `to` now; records it. */
static int
s_flight_due(sync_relay_t *r, const unsigned char key[KEY_LEN], const char *to)
{
    uint64_t now = koop_clock_mono_ms();
    s_flight *f = s_flight_find(r, key);
    if (f && strcmp(f->to, to) == 0 && now - f->sent_mono < RELAY_RESEND_MS)
        return 0;
    if (!f) {
        if (r->nflight == FLIGHT_MAX)
            return 0; /* the others first */
        f = &r->flight[r->nflight++];
        memcpy(f->key, key, KEY_LEN);
    }
    snprintf(f->to, sizeof f->to, "%s", to);
    f->sent_mono = now;
    return 1;
}

static void
s_flight_drop(sync_relay_t *r, const unsigned char key[KEY_LEN])
{
    s_flight *f = s_flight_find(r, key);
    if (f)
        *f = r->flight[--r->nflight];
}

/* A relay that may be taken in: sane ids and sizes. */
static int
s_relay_valid(const Koop__Sync__Relay *rl)
{
    return rl->id && koop_id_valid(rl->id) &&
           (rl->kind == KOOP__SYNC__RELAY_KIND__RELAY_OFFER || rl->kind == KOOP__SYNC__RELAY_KIND__RELAY_ANSWER) &&
           sync_valid_name(rl->from_node) && sync_valid_name(rl->to_node) &&
           (!rl->after_stream || sync_valid_stream(rl->after_stream)) && rl->sealed.len <= KOOP_MAX_MSG / 2 &&
           (!rl->fingerprint || strlen(rl->fingerprint) < 40) && (!rl->answer || sync_valid_name(rl->answer)) &&
           (rl->kind != KOOP__SYNC__RELAY_KIND__RELAY_OFFER || rl->has_sealed);
}

static int
s_send_ack(sync_relay_t *r, const char *to, int kind, const char *id)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__RelayAck a = KOOP__SYNC__RELAY_ACK__INIT;
    a.id = (char *)id;
    a.has_kind = 1;
    a.kind = kind;
    f.body_case = KOOP__SYNC__FRAME__BODY_RELAY_ACK;
    f.relay_ack = &a;
    return to ? sync_hub_send_node(r->sync->hub, to, &f) : sync_uplink_send_frame(r->sync->uplink, &f);
}

static int
s_send_relay(sync_relay_t *r, const char *to, const Koop__Sync__Relay *rl)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    f.body_case = KOOP__SYNC__FRAME__BODY_RELAY;
    f.relay = (Koop__Sync__Relay *)rl;
    return to ? sync_hub_send_node(r->sync->hub, to, &f) : sync_uplink_send_frame(r->sync->uplink, &f);
}

/* ---- the directory ---- */

static const s_below *
s_below_of(const sync_relay_t *r, const char *child)
{
    for (size_t i = 0; i < r->nbelow; i++)
        if (strcmp(r->below[i].child, child) == 0)
            return &r->below[i];
    return NULL;
}

static int
s_in(const s_peer *list, size_t n, const char *node)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].node, node) == 0)
            return 1;
    return 0;
}

typedef struct {
    s_peer *list;
    size_t n, cap;
} s_peer_list;

/* Adds node (its key, and its name or NULL) unless the list has it: what
 * comes first wins. Slots are zeroed, so lists compare with memcmp. */
static int
s_peer_add(s_peer_list *l, const char *node, const char *key, const char *name)
{
    s_peer *p;
    if (s_in(l->list, l->n, node) || l->n >= PEERS_MAX)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        s_peer *grown = realloc(l->list, cap * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        l->list = grown;
        l->cap = cap;
    }
    p = &l->list[l->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->node, sizeof p->node, "%s", node);
    snprintf(p->key, sizeof p->key, "%s", key);
    snprintf(p->name, sizeof p->name, "%s", name ? name : "");
    return 0;
}

static int
s_child_visit(const char *node, const char *key, void *ctx)
{
    return s_peer_add(ctx, node, key, NULL);
}

typedef struct {
    sync_relay_t *r;
    s_peer_list *l;
} s_named_ctx;

/* A bound child with the name it gave itself. */
static int
s_child_named_visit(const char *node, const char *key, void *ctx)
{
    s_named_ctx *c = ctx;
    const s_below *b = s_below_of(c->r, node);
    return s_peer_add(c->l, node, key, b ? b->name : NULL);
}

/* What this hub can reach below it: its bound children and what they
 * reported below them; with_dir, also the directory from above. Each with
 * its name where it is known (this hub's own children first). */
static int
s_reachable(sync_relay_t *r, int with_dir, s_peer_list *out)
{
    MDB_txn *txn;
    int rc;
    memset(out, 0, sizeof *out);
    if (r->sync->hub) {
        s_named_ctx c = {r, out};
        if ((rc = koop_store_read(r->store, &txn)) != 0)
            return rc;
        rc = sync_hub_each_child(r->sync->hub, txn, s_child_named_visit, &c);
        mdb_txn_abort(txn);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < r->nbelow; i++)
            for (size_t k = 0; k < r->below[i].n; k++) {
                const s_peer *p = &r->below[i].below[k];
                if ((rc = s_peer_add(out, p->node, p->key, p->name)) != 0)
                    return rc;
            }
    }
    for (size_t i = 0; with_dir && i < r->ndir; i++)
        if ((rc = s_peer_add(out, r->dir[i].node, r->dir[i].key, r->dir[i].name)) != 0)
            return rc;
    return 0;
}

/* This node's own name as it goes to its hub (NULL: none that may go). */
static const char *
s_own_name(const sync_relay_t *r)
{
    const char *name = koop_service_config(r->sync->svc)->name;
    return koop_text_node_name(name) ? name : NULL;
}

/* PEERS to child `to`, or up (to NULL: with this node's own name). */
static void
s_send_peers(sync_relay_t *r, const char *to, const s_peer_list *l)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Peers p = KOOP__SYNC__PEERS__INIT;
    Koop__Sync__Peer *items = calloc(l->n ? l->n : 1, sizeof *items), **ptrs = calloc(l->n ? l->n : 1, sizeof *ptrs);
    if (items && ptrs) {
        for (size_t i = 0; i < l->n; i++) {
            koop__sync__peer__init(&items[i]);
            items[i].node = (char *)l->list[i].node;
            items[i].key = (char *)l->list[i].key;
            items[i].name = l->list[i].name[0] ? (char *)l->list[i].name : NULL;
            ptrs[i] = &items[i];
        }
        p.peers = ptrs;
        p.n_peers = l->n;
        p.name = to ? NULL : (char *)s_own_name(r);
        f.body_case = KOOP__SYNC__FRAME__BODY_PEERS;
        f.peers = &p;
        (void)(to ? sync_hub_send_node(r->sync->hub, to, &f) : sync_uplink_send_frame(r->sync->uplink, &f));
    }
    free(items);
    free(ptrs);
}

/* Up: this node's name and, a hub, what is below it; down to `child`
 * (NULL: every live child): everything known. */
static void
s_peers_out(sync_relay_t *r, const char *child)
{
    s_peer_list l;
    if (!r->sync->hub) {
        memset(&l, 0, sizeof l);
        if (sync_uplink_is_ready(r->sync->uplink))
            s_send_peers(r, NULL, &l); /* a gmina: its name */
        return;
    }
    if (!child && sync_uplink_is_ready(r->sync->uplink) && s_reachable(r, 0, &l) == 0) {
        s_send_peers(r, NULL, &l);
        free(l.list);
    }
    if (s_reachable(r, 1, &l) != 0)
        return;
    if (child) {
        s_send_peers(r, child, &l);
    } else {
        MDB_txn *txn;
        s_peer_list kids;
        memset(&kids, 0, sizeof kids);
        if (koop_store_read(r->store, &txn) == 0) {
            (void)sync_hub_each_child(r->sync->hub, txn, s_child_visit, &kids);
            mdb_txn_abort(txn);
        }
        for (size_t i = 0; i < kids.n; i++)
            s_send_peers(r, kids.list[i].node, &l);
        free(kids.list);
    }
    free(l.list);
}

/* Table "peers": node -> its Z85 key (40 bytes), then its name (none in
 * a directory saved before names came). */
static int
s_dir_save_fn(MDB_txn *txn, void *ctx)
{
    sync_relay_t *r = ctx;
    int rc = mdb_drop(txn, r->dbi_peers, 0);
    for (size_t i = 0; rc == 0 && i < r->ndir; i++) {
        char v[40 + SYNC_MAX_LABEL];
        size_t nl = strlen(r->dir[i].name);
        memcpy(v, r->dir[i].key, 40);
        memcpy(v + 40, r->dir[i].name, nl);
        rc = koop_store_put_str(txn, r->dbi_peers, r->dir[i].node, v, 40 + nl);
    }
    return rc;
}

/* Calls fn for every entry of a table keyed by node id (a key that cannot
 * be one is passed over); fn returns non-zero to stop (returned). */
static int
s_each_node(MDB_txn *txn, MDB_dbi dbi, int (*fn)(const char *node, const MDB_val *v, void *ctx), void *ctx)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;
    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        return rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        char node[SYNC_MAX_NAME + 1];
        if (k.mv_size == 0 || k.mv_size > SYNC_MAX_NAME)
            continue;
        memcpy(node, k.mv_data, k.mv_size);
        node[k.mv_size] = '\0';
        if ((rc = fn(node, &v, ctx)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A value's name (bytes from..end) when it may stand as one, else NULL. */
static const char *
s_stored_name(const MDB_val *v, size_t from, char name[SYNC_MAX_LABEL + 1])
{
    if (v->mv_size < from || v->mv_size - from > SYNC_MAX_LABEL)
        return NULL;
    memcpy(name, (const char *)v->mv_data + from, v->mv_size - from);
    name[v->mv_size - from] = '\0';
    return koop_text_node_name(name) ? name : NULL;
}

static int
s_dir_entry(const char *node, const MDB_val *v, void *ctx)
{
    char key[41], name[SYNC_MAX_LABEL + 1];
    if (v->mv_size < 40)
        return 0;
    memcpy(key, v->mv_data, 40);
    key[40] = '\0';
    return s_peer_add(ctx, node, key, s_stored_name(v, 40, name));
}

static int
s_dir_load_fn(MDB_txn *txn, void *ctx)
{
    sync_relay_t *r = ctx;
    s_peer_list l = {NULL, 0, 0};
    int rc = s_each_node(txn, r->dbi_peers, s_dir_entry, &l);
    r->dir = l.list;
    r->ndir = l.n;
    return rc;
}

/* The entry of child, made (empty) when there is none; NULL: no memory. */
static s_below *
s_below_get(sync_relay_t *r, const char *child)
{
    s_below *b = (s_below *)s_below_of(r, child), *grown;
    if (b)
        return b;
    if (!(grown = realloc(r->below, (r->nbelow + 1) * sizeof *grown)))
        return NULL;
    r->below = grown;
    b = &r->below[r->nbelow++];
    memset(b, 0, sizeof *b);
    snprintf(b->child, sizeof b->child, "%s", child);
    return b;
}

/* PEERS from a child (its name, what is below it) or from above (the directory). */
static void
s_on_peers(sync_relay_t *r, const char *child, const Koop__Sync__Peers *p)
{
    s_peer_list l = {NULL, 0, 0};
    uint8_t key[32];
    for (size_t i = 0; i < p->n_peers && i < PEERS_MAX; i++) {
        const Koop__Sync__Peer *e = p->peers[i];
        if (sync_valid_name(e->node) && koop_key_from_z85(e->key, key) == 0 &&
            s_peer_add(&l, e->node, e->key, koop_text_node_name(e->name) ? e->name : NULL) != 0)
            break;
    }
    if (child) {
        s_below *b = s_below_get(r, child);
        if (!b) {
            free(l.list);
            return;
        }
        if (koop_text_node_name(p->name) && strcmp(b->name, p->name) != 0) {
            snprintf(b->name, sizeof b->name, "%s", p->name);
            b->name_dirty = r->names_dirty = 1;
            r->peers_mono = 0;
        }
        if (b->n != l.n || (l.n && memcmp(b->below, l.list, l.n * sizeof *l.list) != 0))
            r->peers_mono = 0; /* tell the others (and the hub above) soon */
        free(b->below);
        b->below = l.list;
        b->n = l.n;
        return;
    }
    if (l.n == r->ndir && (l.n == 0 || memcmp(l.list, r->dir, l.n * sizeof *l.list) == 0)) {
        free(l.list);
        return;
    }
    free(r->dir);
    r->dir = l.list;
    r->ndir = l.n;
    r->peers_mono = 0; /* pass it down */
    if (koop_store_write(r->store, s_dir_save_fn, r) != 0)
        koop_warn("przekazania: nie można zapisać katalogu kluczy węzłów");
}

/* Writes the children's names not in table "names" yet. */
static int
s_names_save_fn(MDB_txn *txn, void *ctx)
{
    sync_relay_t *r = ctx;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->nbelow; i++)
        if (r->below[i].name_dirty)
            rc = koop_store_put_str(txn, r->dbi_names, r->below[i].child, r->below[i].name, strlen(r->below[i].name));
    return rc;
}

static void
s_names_save(sync_relay_t *r)
{
    int rc;
    if (!r->names_dirty)
        return;
    if ((rc = koop_store_write(r->store, s_names_save_fn, r)) != 0) {
        koop_warn("przekazania: nie można zapisać nazw węzłów: %s (ponowię)", koop_strerror(rc));
        return;
    }
    for (size_t i = 0; i < r->nbelow; i++)
        r->below[i].name_dirty = 0;
    r->names_dirty = 0;
}

/* A hub: its children's names as they last gave them (table "names"). */
static int
s_names_entry(const char *node, const MDB_val *v, void *ctx)
{
    char name[SYNC_MAX_LABEL + 1];
    s_below *b;
    if (!sync_valid_name(node) || !s_stored_name(v, 0, name))
        return 0;
    if (!(b = s_below_get(ctx, node)))
        return ENOMEM;
    memcpy(b->name, name, sizeof b->name);
    return 0;
}

static int
s_names_load_fn(MDB_txn *txn, void *ctx)
{
    sync_relay_t *r = ctx;
    return s_each_node(txn, r->dbi_names, s_names_entry, r);
}

/* The directory's entry of node (from above), or NULL. */
static const s_peer *
s_dir_find(const sync_relay_t *r, const char *node)
{
    for (size_t i = 0; r && node && i < r->ndir; i++)
        if (strcmp(r->dir[i].node, node) == 0)
            return &r->dir[i];
    return NULL;
}

int
sync_transfer_key(koop_call_t *call)
{
    sync_t *sync = koop_service_user(call->svc);
    const Koop__Sync__KeyQuery *q = (const Koop__Sync__KeyQuery *)call->req;
    Koop__Sync__KeyReply out = KOOP__SYNC__KEY_REPLY__INIT;
    const s_peer *p;
    uint8_t key[32];
    char fp[40];
    if (!q->node || !sync_valid_name(q->node))
        return koop_fail(call, FIELD_INVALID, "node", q->node ? q->node : "");
    if (!(p = s_dir_find(sync->relay, q->node)) || koop_key_from_z85(p->key, key) != 0)
        return koop_fail(call, RECORD_NOT_FOUND, "node", "node", q->node);
    koop_key_fingerprint(key, fp);
    out.node = q->node;
    out.key = (char *)p->key;
    out.fingerprint = fp;
    out.name = p->name[0] ? (char *)p->name : NULL;
    return koop_call_reply(call, &out.base);
}

/* ---- a gmina: the cases service's outbox and inbox ---- */

static void
s_on_relayed(void *ctx, int status, const char *error, const uint8_t *payload, size_t len)
{
    (void)ctx, (void)payload, (void)len;
    if (status != KOOP_OK)
        koop_warn("przekazania: usługa spraw nie zapisała potwierdzenia huba: %s (hub potwierdzi ponownie)",
                  error ? error : "?");
}

static void
s_on_outbox(void *ctx, int status, const char *error, const uint8_t *payload, size_t len)
{
    sync_relay_t *r = ctx;
    Koop__Cases__TransferOutbox *o;
    (void)error;
    if (status != KOOP_OK || !(o = koop__cases__transfer_outbox__unpack(NULL, len, payload)))
        return;
    for (size_t i = 0; i < o->n_items; i++) {
        unsigned char key[KEY_LEN];
        if (!s_relay_valid(o->items[i]))
            continue;
        s_key(key, o->items[i]->kind, o->items[i]->id);
        if (s_flight_due(r, key, "") && s_send_relay(r, NULL, o->items[i]) != 0)
            s_flight_drop(r, key);
    }
    koop__cases__transfer_outbox__free_unpacked(o, NULL);
}

static void
s_on_received(void *ctx, int status, const char *error, const uint8_t *payload, size_t len)
{
    sync_relay_t *r = ctx;
    Koop__Sync__Relay *rl = r->receiving;
    (void)payload, (void)len;
    r->receiving = NULL;
    if (!rl)
        return;
    if (status == KOOP_OK)
        (void)s_send_ack(r, NULL, rl->kind, rl->id);
    else
        koop_warn("przekazania: usługa spraw nie przyjęła przekazania %s: %s (hub wyśle je ponownie)", rl->id,
                  error ? error : "?");
    koop__sync__relay__free_unpacked(rl, NULL);
}

/* A relay for this gmina: its cases service takes it, with the name the
 * directory gives its sender, then the hub hears. */
static void
s_deliver_here(sync_relay_t *r, const Koop__Sync__Relay *rl)
{
    Koop__Cases__TransferDelivery d = KOOP__CASES__TRANSFER_DELIVERY__INIT;
    const s_peer *from = s_dir_find(r, rl->from_node);
    uint8_t *buf;
    size_t len;
    if (!r->receive || sync_local_busy(r->receive))
        return; /* one at a time; the hub sends it again */
    len = koop__sync__relay__get_packed_size(rl);
    if (!(buf = malloc(len ? len : 1)))
        return;
    koop__sync__relay__pack(rl, buf);
    r->receiving = koop__sync__relay__unpack(NULL, len, buf);
    free(buf);
    d.relay = r->receiving;
    d.from_name = from && from->name[0] ? (char *)from->name : NULL;
    if (r->receiving && sync_local_call(r->receive, "transfer.receive", &d.base, 10000, s_on_received, r) != 0) {
        koop__sync__relay__free_unpacked(r->receiving, NULL);
        r->receiving = NULL;
    }
}

/* ---- a hub: relays held until the next hop has them ---- */

typedef struct {
    sync_relay_t *r;
    const Koop__Sync__Relay *rl;
    const char *came_from;
    int stored;
} s_hold_ctx;

static int
s_hold_fn(MDB_txn *txn, void *ctx)
{
    s_hold_ctx *h = ctx;
    Koop__Sync__RelayHeld held = KOOP__SYNC__RELAY_HELD__INIT;
    unsigned char key[KEY_LEN];
    MDB_val k = {KEY_LEN, key}, v;
    int rc;
    s_key(key, h->rl->kind, h->rl->id);
    rc = mdb_get(txn, h->r->dbi_relay, &k, &v);
    if (rc == 0)
        return 0; /* held already: a duplicate */
    if (rc != MDB_NOTFOUND)
        return rc;
    held.relay = (Koop__Sync__Relay *)h->rl;
    held.came_from = (char *)h->came_from;
    held.has_held_ms = 1;
    held.held_ms = koop_clock_real_ms();
    v.mv_size = koop__sync__relay_held__get_packed_size(&held);
    if ((rc = mdb_put(txn, h->r->dbi_relay, &k, &v, MDB_RESERVE)) != 0)
        return rc;
    koop__sync__relay_held__pack(&held, v.mv_data);
    h->stored = 1;
    return 0;
}

static int
s_hold(sync_relay_t *r, const Koop__Sync__Relay *rl, const char *came_from)
{
    s_hold_ctx h = {r, rl, came_from, 0};
    return koop_store_write(r->store, s_hold_fn, &h);
}

typedef struct {
    sync_relay_t *r;
    unsigned char key[KEY_LEN];
} s_drop_ctx;

static int
s_drop_fn(MDB_txn *txn, void *ctx)
{
    s_drop_ctx *d = ctx;
    MDB_val k = {KEY_LEN, d->key};
    int rc = mdb_del(txn, d->r->dbi_relay, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static void
s_acked(sync_relay_t *r, int kind, const char *id)
{
    s_drop_ctx d = {r, {0}};
    if (!id || !koop_id_valid(id))
        return;
    s_key(d.key, kind, id);
    s_flight_drop(r, d.key);
    if (r->sync->hub) {
        if (koop_store_write(r->store, s_drop_fn, &d) != 0)
            koop_warn("przekazania: nie można usunąć przekazanego %s", id);
    } else if (r->relayed && !sync_local_busy(r->relayed)) {
        Koop__Cases__TransferRelayed q = KOOP__CASES__TRANSFER_RELAYED__INIT;
        q.id = (char *)id;
        q.has_kind = 1;
        q.kind = kind;
        (void)sync_local_call(r->relayed, "transfer.relayed", &q.base, 5000, s_on_relayed, r);
    }
}

/* Whether this hub reaches node below it: the child to send to, or NULL. */
static const char *
s_child_for(sync_relay_t *r, MDB_txn *txn, const char *node, char out[SYNC_MAX_NAME + 1], char key[41])
{
    s_peer_list kids = {NULL, 0, 0};
    const char *found = NULL;
    key[0] = '\0';
    if (sync_hub_each_child(r->sync->hub, txn, s_child_visit, &kids) != 0)
        return NULL;
    for (size_t i = 0; i < kids.n && !found; i++)
        if (strcmp(kids.list[i].node, node) == 0) {
            snprintf(out, SYNC_MAX_NAME + 1, "%s", node);
            memcpy(key, kids.list[i].key, 41);
            found = out;
        }
    free(kids.list);
    for (size_t i = 0; !found && i < r->nbelow; i++)
        if (s_in(r->below[i].below, r->below[i].n, node)) {
            snprintf(out, SYNC_MAX_NAME + 1, "%s", r->below[i].child);
            found = out;
        }
    return found;
}

/* Replaces a held OFFER by the ANSWER `why` to its sender. */
static void
s_answer_back(sync_relay_t *r, const Koop__Sync__Relay *offer, const char *why)
{
    Koop__Sync__Relay a = KOOP__SYNC__RELAY__INIT;
    s_drop_ctx d = {r, {0}};
    koop_warn("przekazania: oferta %s dla %s odesłana do %s: %s", offer->id, offer->to_node, offer->from_node, why);
    a.id = offer->id;
    a.has_kind = 1;
    a.kind = KOOP__SYNC__RELAY_KIND__RELAY_ANSWER;
    a.from_node = offer->to_node;
    a.to_node = offer->from_node;
    a.fingerprint = offer->fingerprint;
    a.has_accepted = 1;
    a.accepted = 0;
    a.answer = (char *)why;
    if (s_hold(r, &a, "") != 0)
        return;
    s_key(d.key, offer->kind, offer->id);
    (void)koop_store_write(r->store, s_drop_fn, &d);
}

/* Sends one held relay on when its time has come. */
static void
s_route(sync_relay_t *r, MDB_txn *txn, const Koop__Sync__RelayHeld *h)
{
    const Koop__Sync__Relay *rl = h->relay;
    unsigned char key[KEY_LEN];
    char child[SYNC_MAX_NAME + 1], child_key[41];
    const char *to;

    if (!rl || !s_relay_valid(rl))
        return;
    /* the sender's events before it are stored first */
    if (h->came_from && *h->came_from && rl->after_stream && rl->has_after_seq) {
        uint64_t stored = 0;
        if (sync_hub_stored(r->sync->hub, txn, h->came_from, rl->after_stream, &stored) != 0 || stored < rl->after_seq)
            return;
    }
    s_key(key, rl->kind, rl->id);
    to = s_child_for(r, txn, rl->to_node, child, child_key);
    if (to && h->came_from && strcmp(to, h->came_from) == 0)
        return; /* would go back where it came from: wait for the directory */
    if (to && rl->kind == KOOP__SYNC__RELAY_KIND__RELAY_OFFER && child_key[0]) {
        uint8_t k[32];
        char fp[40];
        if (koop_key_from_z85(child_key, k) == 0) {
            koop_key_fingerprint(k, fp);
            if (!rl->fingerprint || strcmp(fp, rl->fingerprint) != 0) {
                s_answer_back(r, rl, "key_mismatch");
                return;
            }
        }
    }
    if (to) {
        if (s_flight_due(r, key, to) && s_send_relay(r, to, rl) != 0)
            s_flight_drop(r, key);
        return;
    }
    if (sync_uplink_is_ready(r->sync->uplink)) {
        Koop__Sync__Relay up = *rl;
        uint64_t last = 0;
        /* the hub above holds it until it stored this hub's stream up to here */
        (void)koop_log_last(koop_service_log(r->sync->svc), txn, 1, &last);
        up.after_stream = "sync";
        up.has_after_seq = 1;
        up.after_seq = last;
        if (s_flight_due(r, key, "") && s_send_relay(r, NULL, &up) != 0)
            s_flight_drop(r, key);
        return;
    }
    if (!r->sync->uplink && rl->kind == KOOP__SYNC__RELAY_KIND__RELAY_OFFER &&
        koop_clock_real_ms() - h->held_ms > RELAY_UNKNOWN_MS)
        s_answer_back(r, rl, "unknown_node");
}

static void
s_route_all(sync_relay_t *r)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    Koop__Sync__RelayHeld *list[64];
    size_t n = 0;
    int rc;
    if (koop_store_read(r->store, &txn) != 0)
        return;
    if (mdb_cursor_open(txn, r->dbi_relay, &cur) == 0) {
        while (n < KOOP_ARRAY_LEN(list) && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
            Koop__Sync__RelayHeld *h = koop__sync__relay_held__unpack(NULL, v.mv_size, v.mv_data);
            if (h)
                list[n++] = h;
        }
        mdb_cursor_close(cur);
    }
    /* routing may write (an answer back): LMDB lets this thread write while it reads */
    for (size_t i = 0; i < n; i++)
        s_route(r, txn, list[i]);
    mdb_txn_abort(txn);
    for (size_t i = 0; i < n; i++)
        koop__sync__relay_held__free_unpacked(list[i], NULL);
}

/* ---- frames ---- */

static void
s_on_relay(sync_relay_t *r, const char *child, const Koop__Sync__Relay *rl)
{
    s_peer_list reach;
    if (!s_relay_valid(rl)) {
        koop_warn("przekazania: nieprawidłowe przekazanie od %s – pominięte", child ? child : "huba");
        return;
    }
    if (child) {
        /* from a child: from that child, or from a node it reported below it */
        const s_below *b = s_below_of(r, child);
        if (strcmp(rl->from_node, child) != 0 && !(b && s_in(b->below, b->n, rl->from_node))) {
            koop_warn("przekazania: węzeł %s przesłał przekazanie od %.63s, którego nie ma pod nim – pominięte", child,
                      rl->from_node);
            return;
        }
        if (s_hold(r, rl, child) == 0)
            (void)s_send_ack(r, child, rl->kind, rl->id);
        return;
    }
    /* from above */
    if (strcmp(rl->to_node, r->self) == 0) {
        if (!r->sync->hub)
            s_deliver_here(r, rl);
        return;
    }
    if (!r->sync->hub || s_reachable(r, 0, &reach) != 0)
        return;
    if (s_in(reach.list, reach.n, rl->to_node) && s_hold(r, rl, "") == 0)
        (void)s_send_ack(r, NULL, rl->kind, rl->id);
    free(reach.list);
}

void
sync_relay_frame(sync_relay_t *r, const char *node, const Koop__Sync__Frame *f)
{
    if (!r)
        return;
    switch (f->body_case) {
    case KOOP__SYNC__FRAME__BODY_RELAY:
        s_on_relay(r, node, f->relay);
        break;
    case KOOP__SYNC__FRAME__BODY_RELAY_ACK:
        s_acked(r, f->relay_ack->kind, f->relay_ack->id);
        break;
    case KOOP__SYNC__FRAME__BODY_PEERS:
        s_on_peers(r, node, f->peers);
        break;
    default:
        break;
    }
}

void
sync_relay_link_ready(sync_relay_t *r, const char *node)
{
    if (!r)
        return;
    if (node) {
        /* a child (re)connected: every child's directory may have changed */
        r->peers_mono = 0;
    } else {
        r->peers_mono = 0; /* up: say what is below at once */
        r->outbox_mono = 0;
        r->nflight = 0;    /* the hub may have restarted: send again */
    }
}

/* ---- the tick ---- */

static void
s_on_tick(uv_timer_t *t)
{
    sync_relay_t *r = t->data;
    uint64_t now = koop_clock_mono_ms();
    if (r->sync->hub)
        s_route_all(r);
    if (!r->sync->hub && r->outbox && sync_uplink_is_ready(r->sync->uplink) && now - r->outbox_mono >= OUTBOX_POLL_MS &&
        !sync_local_busy(r->outbox)) {
        Koop__Empty q = KOOP__EMPTY__INIT;
        r->outbox_mono = now;
        (void)sync_local_call(r->outbox, "transfer.outbox", &q.base, 5000, s_on_outbox, r);
    }
    if (now - r->peers_mono >= PEERS_MS) {
        r->peers_mono = now;
        s_peers_out(r, NULL);
    }
    s_names_save(r);
}

/* ---- start / stop ---- */

sync_relay_t *
sync_relay_start(sync_t *sync)
{
    sync_relay_t *r = calloc(1, sizeof *r);
    const koop_config_t *cfg = koop_service_config(sync->svc);
    const char *cases = koop_config_endpoint(cfg, "cases");
    int rc;
    if (!r)
        return NULL;
    r->sync = sync;
    r->self = cfg->node_id;
    r->store = koop_service_store(sync->svc);
    r->dbi_relay = koop_store_dbi(r->store, "relay");
    r->dbi_peers = koop_store_dbi(r->store, "peers");
    r->dbi_names = koop_store_dbi(r->store, "names");
    if (!sync->hub && cases &&
        (!(r->outbox = sync_local_new(koop_service_client(sync->svc), cases)) ||
         !(r->relayed = sync_local_new(koop_service_client(sync->svc), cases)) ||
         !(r->receive = sync_local_new(koop_service_client(sync->svc), cases))))
        goto fail;
    if ((rc = koop_store_write(r->store, s_dir_load_fn, r)) != 0 ||
        (sync->hub && (rc = koop_store_write(r->store, s_names_load_fn, r)) != 0)) {
        koop_error("przekazania: nie można odczytać katalogu kluczy: %s", koop_strerror(rc));
        goto fail;
    }
    if (!(r->tick = calloc(1, sizeof *r->tick)))
        goto fail;
    uv_timer_init(koop_service_loop(sync->svc), r->tick);
    r->tick->data = r;
    uv_timer_start(r->tick, s_on_tick, RELAY_TICK_MS, RELAY_TICK_MS);
    return r;
fail:
    sync_relay_stop(&r);
    return NULL;
}

static void
s_free_handle(uv_handle_t *h)
{
    free(h);
}

void
sync_relay_stop(sync_relay_t **self_p)
{
    sync_relay_t *r;
    if (!self_p || !*self_p)
        return;
    r = *self_p;
    if (r->tick) {
        uv_timer_stop(r->tick);
        uv_close((uv_handle_t *)r->tick, s_free_handle);
    }
    sync_local_destroy(&r->outbox);
    sync_local_destroy(&r->relayed);
    sync_local_destroy(&r->receive);
    if (r->receiving)
        koop__sync__relay__free_unpacked(r->receiving, NULL);
    for (size_t i = 0; i < r->nbelow; i++)
        free(r->below[i].below);
    free(r->below);
    free(r->dir);
    free(r);
    *self_p = NULL;
}
