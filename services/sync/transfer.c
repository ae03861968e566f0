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
 * The directory down is sent only to a child that does not hold it:
 *
 *   hub:   its entries sorted by node, packed once, digest = BLAKE2b-128 of
 *          that packing; the frame (with the digest) packed once per change
 *   child: keeps the directory and its digest in one txn ("peers"), says
 *          the digest it holds in its PEERS up ("have") at each connect,
 *          every SYNC_PEERS_MS and after each directory it takes (the ack)
 *   hub:   a child's PEERS up --have != digest--> the directory to it now;
 *          the directory changed --quiet PEERS_QUIET_MS (at most
 *          PEERS_LATE_MS)--> a round to every live child whose have differs;
 *          a small round (the directory times the children at most
 *          PEERS_SMALL_BYTES: a powiat's dozen gminas) goes at once, without
 *          waiting for the next tick, so a gmina that has just connected can
 *          be sent a household a moment later; a child is sent nothing
 *          between its connect and its first PEERS (which says what it holds)
 *          every SYNC_PEERS_MS: built again, a round likewise. A child that
 *          never says `have` (an older node) is sent it every round, as
 *          before; nothing is sent twice to a child within SYNC_PEERS_MS
 *          unless it reconnected.
 *
 * Nothing of it is persisted at the hub: the digest is a function of the
 * directory, so a hub restarted with the same children, names and
 * directory from above has the same digest, and its children that hold it
 * are sent nothing; what a child holds it says again after any restart of
 * either (a child whose copy was lost says none and is sent it).
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
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELAY_TICK_MS 500
#define RELAY_RESEND_MS 10000
#define RELAY_UNKNOWN_MS (24ULL * 3600 * 1000)
#define OUTBOX_POLL_MS 1000
#define PEERS_QUIET_MS 1000
#define PEERS_LATE_MS 10000
#define PEERS_SMALL_BYTES (256 * 1024) /* a round this small is not held back (~60 children of ~60 entries) */
#define PEERS_ROUND_MAX 100 /* children sent the directory in one tick of a round (the rest at the next) */
#define PEERS_MAX 20000
#define DIGEST_KEY "#digest" /* table "peers": the directory's digest (no node id has '#') */
#define FLIGHT_MAX 256
#define KEY_LEN (1 + KOOP_ID_LEN - 1)

typedef struct {
    char node[SYNC_MAX_NAME + 1];
    char key[41];
    char name[SYNC_MAX_LABEL + 1]; /* "" unknown */
} s_peer;

/* A child of this hub: the name it gave itself, what it reported below it,
 * and which directory it holds (what it said) and was sent last. */
typedef struct {
    char child[SYNC_MAX_NAME + 1];
    char name[SYNC_MAX_LABEL + 1];
    int name_dirty;                /* not in table "names" yet */
    s_peer *below;
    size_t n;
    int heard;                     /* it sent PEERS since it (re)connected (or this hub started) */
    int has_have, has_sent;
    uint8_t have[SYNC_DIR_DIGEST], sent[SYNC_DIR_DIGEST];
    uint64_t sent_mono;
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
    /* a hub: what each child reported below it, and its name (sorted by child) */
    s_below *below;
    size_t nbelow;
    int names_dirty;              /* a child's name to write */
    /* the directory from above, and its digest */
    s_peer *dir;
    size_t ndir;
    int has_dir_digest;
    uint8_t dir_digest[SYNC_DIR_DIGEST];
    /* PEERS up: when last sent; due now */
    uint64_t up_mono;
    int up_due;
    /* a hub: its directory down, packed (a PEERS frame), and its digest */
    uint8_t *down;
    size_t down_len;
    uint8_t down_digest[SYNC_DIR_DIGEST];
    int down_dirty;               /* its inputs may have changed: build it at the next tick */
    int down_pending;             /* changed, its round not yet gone */
    int down_round_due;           /* a round at the next tick (a child asked meanwhile) */
    uint64_t down_built_mono, down_changed_mono, down_pending_mono, down_round_mono;
    uint64_t dir_sent, dir_bytes;
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

/* Where child is in r->below (sorted by child), or where it would go. */
static size_t
s_below_pos(const sync_relay_t *r, const char *child, int *found)
{
    size_t lo = 0, hi = r->nbelow;
    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->below[mid].child, child);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const s_below *
s_below_of(const sync_relay_t *r, const char *child)
{
    int found;
    size_t i = s_below_pos(r, child, &found);
    return found ? &r->below[i] : NULL;
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

/* Table "peers": node -> its Z85 key (40 bytes), then its name (none in
 * a directory saved before names came); DIGEST_KEY -> the directory's
 * digest as the hub gave it (none: it gave none), in the same txn. */
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
    if (rc == 0 && r->has_dir_digest)
        rc = koop_store_put_str(txn, r->dbi_peers, DIGEST_KEY, r->dir_digest, SYNC_DIR_DIGEST);
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
    if (v->mv_size < 40 || !sync_valid_name(node))
        return 0; /* DIGEST_KEY, or not an entry */
    memcpy(key, v->mv_data, 40);
    key[40] = '\0';
    return s_peer_add(ctx, node, key, s_stored_name(v, 40, name));
}

static int
s_dir_load_fn(MDB_txn *txn, void *ctx)
{
    sync_relay_t *r = ctx;
    s_peer_list l = {NULL, 0, 0};
    MDB_val v;
    int rc = s_each_node(txn, r->dbi_peers, s_dir_entry, &l);
    r->dir = l.list;
    r->ndir = l.n;
    if (rc == 0 && (rc = koop_store_get_str(txn, r->dbi_peers, DIGEST_KEY, &v)) == 0 && v.mv_size == SYNC_DIR_DIGEST) {
        memcpy(r->dir_digest, v.mv_data, SYNC_DIR_DIGEST);
        r->has_dir_digest = 1;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The entry of child, made (empty) in its place when there is none; NULL:
 * no memory. Entries move: a pointer holds until the next call. */
static s_below *
s_below_get(sync_relay_t *r, const char *child)
{
    int found;
    size_t i = s_below_pos(r, child, &found);
    s_below *b, *grown;
    if (found)
        return &r->below[i];
    if (!(grown = realloc(r->below, (r->nbelow + 1) * sizeof *grown)))
        return NULL;
    r->below = grown;
    memmove(&r->below[i + 1], &r->below[i], (r->nbelow - i) * sizeof *grown);
    r->nbelow++;
    b = &r->below[i];
    memset(b, 0, sizeof *b);
    snprintf(b->child, sizeof b->child, "%s", child);
    return b;
}

/* ---- PEERS frames: up (what this node has), down (the directory) ---- */

/* A PEERS frame over the entries of a list (borrowed by the frame: the
 * list outlives it). Fill p.name / digest / have, then pack or send f. */
typedef struct {
    Koop__Sync__Frame f;
    Koop__Sync__Peers p;
    Koop__Sync__Peer *items;
    Koop__Sync__Peer **ptrs;
} s_peers_msg;

/* 0 or -ENOMEM (then m holds nothing to free). m must not move after. */
static int
s_peers_msg_init(s_peers_msg *m, const s_peer_list *l)
{
    koop__sync__frame__init(&m->f);
    koop__sync__peers__init(&m->p);
    m->items = calloc(l->n ? l->n : 1, sizeof *m->items);
    m->ptrs = calloc(l->n ? l->n : 1, sizeof *m->ptrs);
    if (!m->items || !m->ptrs) {
        free(m->items);
        free(m->ptrs);
        return -ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++) {
        koop__sync__peer__init(&m->items[i]);
        m->items[i].node = (char *)l->list[i].node;
        m->items[i].key = (char *)l->list[i].key;
        m->items[i].name = l->list[i].name[0] ? (char *)l->list[i].name : NULL;
        m->ptrs[i] = &m->items[i];
    }
    m->p.peers = m->ptrs;
    m->p.n_peers = l->n;
    m->f.body_case = KOOP__SYNC__FRAME__BODY_PEERS;
    m->f.peers = &m->p;
    return 0;
}

static void
s_peers_msg_free(s_peers_msg *m)
{
    free(m->items);
    free(m->ptrs);
}

/* PEERS up: this node's name, a hub's what is below it, and the digest of
 * the directory it holds from above. 0 or -errno (-ENOTCONN: not READY). */
static int
s_report_up(sync_relay_t *r)
{
    s_peer_list l = {NULL, 0, 0};
    s_peers_msg m;
    int rc;
    if (!sync_uplink_is_ready(r->sync->uplink))
        return -ENOTCONN;
    if (r->sync->hub && (rc = s_reachable(r, 0, &l)) != 0) {
        free(l.list);
        return rc;
    }
    if ((rc = s_peers_msg_init(&m, &l)) == 0) {
        m.p.name = (char *)s_own_name(r);
        m.p.has_have = r->has_dir_digest;
        m.p.have.data = r->dir_digest;
        m.p.have.len = r->has_dir_digest ? SYNC_DIR_DIGEST : 0;
        rc = sync_uplink_send_frame(r->sync->uplink, &m.f);
        s_peers_msg_free(&m);
    }
    free(l.list);
    return rc;
}

static int
s_peer_cmp(const void *a, const void *b)
{
    return strcmp(((const s_peer *)a)->node, ((const s_peer *)b)->node);
}

/* Builds the directory down again (everything this hub knows, sorted by
 * node) and packs it with its digest; a different digest is a change (its
 * round waits for the directory to settle). 0 or -errno. */
static int
s_down_build(sync_relay_t *r, uint64_t now)
{
    s_peer_list l;
    s_peers_msg m;
    uint8_t *plain = NULL, *packed = NULL, digest[SYNC_DIR_DIGEST];
    size_t plain_len, packed_len;
    int rc;
    if ((rc = s_reachable(r, 1, &l)) != 0)
        goto done;
    if (l.n > 1)
        qsort(l.list, l.n, sizeof *l.list, s_peer_cmp);
    if ((rc = s_peers_msg_init(&m, &l)) != 0)
        goto done;
    if ((rc = sync_frame_pack(&m.f, &plain, &plain_len)) == 0) {
        crypto_generichash(digest, sizeof digest, plain, plain_len, NULL, 0);
        m.p.has_digest = 1;
        m.p.digest.data = digest;
        m.p.digest.len = sizeof digest;
        rc = sync_frame_pack(&m.f, &packed, &packed_len);
    }
    s_peers_msg_free(&m);
    if (rc != 0)
        goto done;
    r->down_built_mono = now;
    if (r->down && memcmp(r->down_digest, digest, sizeof digest) == 0)
        goto done; /* the same directory */
    free(r->down);
    r->down = packed;
    r->down_len = packed_len;
    packed = NULL;
    memcpy(r->down_digest, digest, sizeof digest);
    r->down_changed_mono = now;
    if (!r->down_pending) {
        r->down_pending = 1;
        r->down_pending_mono = now;
    }
    r->up_due = 1; /* what is below may have changed too */
done:
    free(plain);
    free(packed);
    free(l.list);
    return rc;
}

/* Sends the directory to child unless it holds it, or was sent it since it
 * connected less than SYNC_PEERS_MS ago (its ack is on the way). 1 when
 * it was sent, else 0. */
static int
s_down_offer(sync_relay_t *r, const char *child, uint64_t now)
{
    s_below *b = s_below_get(r, child);
    if (!b || !r->down || !b->heard || (b->has_have && memcmp(b->have, r->down_digest, SYNC_DIR_DIGEST) == 0))
        return 0; /* not heard since its connect: its PEERS, coming, says what it holds */
    if (b->has_sent && memcmp(b->sent, r->down_digest, SYNC_DIR_DIGEST) == 0 && now - b->sent_mono < SYNC_PEERS_MS)
        return 0;
    if (sync_hub_send_node_bytes(r->sync->hub, child, r->down, r->down_len) != 0)
        return 0; /* not connected: it says what it has when it comes */
    memcpy(b->sent, r->down_digest, SYNC_DIR_DIGEST);
    b->has_sent = 1;
    b->sent_mono = now;
    r->dir_sent++;
    r->dir_bytes += r->down_len;
    return 1;
}

typedef struct {
    sync_relay_t *r;
    uint64_t now;
    unsigned sent;
} s_round_ctx;

/* 1 (stop) once PEERS_ROUND_MAX children were sent it in this tick. */
static int
s_down_visit(const char *node, const char *key, void *ctx)
{
    s_round_ctx *c = ctx;
    (void)key;
    c->sent += (unsigned)s_down_offer(c->r, node, c->now);
    return c->sent >= PEERS_ROUND_MAX;
}

/* 1 when a round of the directory to every child is small enough to go at
 * once (no directory yet counts as small: it is built first). */
static int
s_down_small(const sync_relay_t *r)
{
    return (uint64_t)r->down_len * (r->nbelow + 1) <= PEERS_SMALL_BYTES;
}

/* A hub, each tick: the directory built again when its inputs may have
 * changed (and every SYNC_PEERS_MS), and a round to the children that do not
 * hold it once it has settled, when a child asked meanwhile, or every
 * SYNC_PEERS_MS; PEERS_ROUND_MAX children a tick (2,500 copies of a
 * 185 KB directory not in one burst), the round going on at the next tick. */
static void
s_down_tick(sync_relay_t *r, uint64_t now)
{
    MDB_txn *txn;
    s_round_ctx c = {r, now, 0};
    int rc;
    if (r->down_dirty || !r->down || now - r->down_built_mono >= SYNC_PEERS_MS) {
        if ((rc = s_down_build(r, now)) != 0) {
            koop_warn("przekazania: nie można zbudować katalogu kluczy: %s (ponowię)", koop_strerror(rc));
            return;
        }
        r->down_dirty = 0;
    }
    if (r->down_pending) {
        if (!s_down_small(r) && now - r->down_changed_mono < PEERS_QUIET_MS && now - r->down_pending_mono < PEERS_LATE_MS)
            return;
        r->down_pending = 0;
        r->down_round_due = 1;
    }
    if (!r->down_round_due && now - r->down_round_mono < SYNC_PEERS_MS)
        return;
    if ((rc = koop_store_read(r->store, &txn)) != 0) {
        koop_warn("przekazania: nie można odczytać węzłów huba: %s (ponowię)", koop_strerror(rc));
        return;
    }
    rc = sync_hub_each_child(r->sync->hub, txn, s_down_visit, &c);
    mdb_txn_abort(txn);
    if (rc != 0 && rc != 1)
        koop_warn("przekazania: katalog kluczy nie poszedł do wszystkich węzłów: %s (ponowię)", koop_strerror(rc));
    r->down_round_due = rc != 0; /* 1: PEERS_ROUND_MAX sent, the others at the next tick */
    r->down_round_mono = now;
}

/* A change of the directory: a small round goes now, not at the next tick
 * (a large one waits in s_down_tick for the directory to settle). */
static void
s_down_soon(sync_relay_t *r)
{
    if (s_down_small(r))
        s_down_tick(r, koop_clock_mono_ms());
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
            r->down_dirty = 1;
        }
        if (b->n != l.n || (l.n && memcmp(b->below, l.list, l.n * sizeof *l.list) != 0))
            r->down_dirty = 1; /* tell the others (and the hub above) soon */
        free(b->below);
        b->below = l.list;
        b->n = l.n;
        b->heard = 1;
        b->has_have = p->has_have && p->have.len == SYNC_DIR_DIGEST;
        if (b->has_have)
            memcpy(b->have, p->have.data, SYNC_DIR_DIGEST);
        if (r->down_dirty || r->down_pending || !r->down) {
            r->down_round_due = 1; /* the directory is changing: the round reaches it */
            s_down_soon(r);
        } else
            (void)s_down_offer(r, child, koop_clock_mono_ms());
        return;
    }
    /* from above: kept with its digest, and said back (the ack) */
    if (p->has_digest)
        r->up_due = 1;
    if (l.n == r->ndir && (l.n == 0 || memcmp(l.list, r->dir, l.n * sizeof *l.list) == 0) &&
        r->has_dir_digest == (p->has_digest && p->digest.len == SYNC_DIR_DIGEST) &&
        (!r->has_dir_digest || memcmp(r->dir_digest, p->digest.data, SYNC_DIR_DIGEST) == 0)) {
        free(l.list);
        return;
    }
    free(r->dir);
    r->dir = l.list;
    r->ndir = l.n;
    r->has_dir_digest = p->has_digest && p->digest.len == SYNC_DIR_DIGEST;
    if (r->has_dir_digest)
        memcpy(r->dir_digest, p->digest.data, SYNC_DIR_DIGEST);
    r->down_dirty = 1; /* pass it down */
    if (koop_store_write(r->store, s_dir_save_fn, r) != 0) {
        koop_warn("przekazania: nie można zapisać katalogu kluczy węzłów");
        r->has_dir_digest = 0; /* not kept: the hub sends it again */
    }
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
        /* a child (re)connected: it may be bound anew (the directory
         * changes), and what was sent to it before may be lost */
        s_below *b = (s_below *)s_below_of(r, node);
        if (b)
            b->has_sent = b->heard = 0;
        r->down_dirty = 1; /* its key to the others */
        s_down_soon(r);
    } else {
        r->up_due = 1;     /* up: say what is below, and what we hold, at once */
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
    if (r->sync->hub)
        s_down_tick(r, now);
    if (r->sync->uplink && (r->up_due || now - r->up_mono >= SYNC_PEERS_MS) && s_report_up(r) == 0) {
        r->up_due = 0;
        r->up_mono = now;
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
    free(r->down);
    free(r);
    *self_p = NULL;
}

void
sync_relay_dir_sent(const sync_relay_t *r, uint64_t *frames, uint64_t *bytes)
{
    *frames = r ? r->dir_sent : 0;
    *bytes = r ? r->dir_bytes : 0;
}
