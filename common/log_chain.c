/* log_chain.c - the chains of an event log: append, links, verify, redact
 * (see log_chain.h and chain.h). */
#include "log_chain.h"
#include "log.h"
#include "envelope.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static MDB_val
s_key(unsigned char buf[8], uint64_t seq)
{
    MDB_val k = {8, buf};
    koop_be64_put(buf, seq);
    return k;
}

/* The 32-byte value of seq in dbi into out. 0, MDB_NOTFOUND, or
 * MDB_CORRUPTED for a value of another size. */
static int
s_get_link(MDB_txn *txn, MDB_dbi dbi, uint64_t seq, uint8_t out[KOOP_CHAIN_LEN])
{
    unsigned char kb[8];
    MDB_val k = s_key(kb, seq), v;
    int rc = koop_mdb_rc(mdb_get(txn, dbi, &k, &v));
    if (rc != 0)
        return rc;
    if (v.mv_size != KOOP_CHAIN_LEN)
        return MDB_CORRUPTED;
    memcpy(out, v.mv_data, KOOP_CHAIN_LEN);
    return 0;
}

static int
s_put_link(MDB_txn *txn, MDB_dbi dbi, uint64_t seq, const uint8_t link[KOOP_CHAIN_LEN], unsigned flags)
{
    unsigned char kb[8];
    MDB_val k = s_key(kb, seq), v = {KOOP_CHAIN_LEN, (void *)link};
    return koop_mdb_rc(mdb_put(txn, dbi, &k, &v, flags));
}

/* The value of the last key <= seq of dbi (genesis when none). */
static int
s_link_at(MDB_txn *txn, MDB_dbi dbi, uint64_t seq, const uint8_t genesis[KOOP_CHAIN_LEN],
          uint8_t out[KOOP_CHAIN_LEN])
{
    MDB_cursor *cur;
    unsigned char kb[8];
    MDB_val k, v;
    int rc;

    memcpy(out, genesis, KOOP_CHAIN_LEN);
    if (seq == 0)
        return 0;
    if ((rc = koop_mdb_rc(mdb_cursor_open(txn, dbi, &cur))) != 0)
        return rc;
    k = s_key(kb, seq);
    rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
    if (rc == 0 && koop_be64_get(k.mv_data) > seq)
        rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_PREV));
    else if (rc == MDB_NOTFOUND)
        rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_LAST));
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (k.mv_size != 8 || v.mv_size != KOOP_CHAIN_LEN)
        return MDB_CORRUPTED;
    memcpy(out, v.mv_data, KOOP_CHAIN_LEN);
    return 0;
}

int
koop_log_chain_append(koop_log_chain_t *c, MDB_txn *txn, uint64_t seq, int shared, const uint8_t *env,
                      size_t header_len, const uint8_t *payload, size_t payload_len)
{
    uint8_t ph[KOOP_CHAIN_LEN], prev[KOOP_CHAIN_LEN], prev_shared[KOOP_CHAIN_LEN], link[KOOP_CHAIN_LEN];
    int rc;

    if (seq > 1 && c->last_seq == seq - 1) {
        memcpy(prev, c->last_link, sizeof prev);
        memcpy(prev_shared, c->last_shared, sizeof prev_shared);
    } else {
        if (seq == 1)
            memcpy(prev, c->genesis, sizeof prev);
        else if ((rc = s_get_link(txn, c->chain, seq - 1, prev)) != 0)
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        if ((rc = s_link_at(txn, c->shared, seq - 1, c->genesis_shared, prev_shared)) != 0)
            return rc;
    }
    c->last_seq = 0; /* until this append is complete */
    koop_chain_hash(ph, payload, payload_len);
    koop_chain_link(link, prev, env, header_len, ph);
    if ((rc = s_put_link(txn, c->chain, seq, link, MDB_APPEND)) != 0)
        return rc;
    memcpy(c->last_link, link, sizeof link);
    if (shared) {
        koop_chain_link(prev_shared, prev_shared, env, header_len, ph);
        if ((rc = s_put_link(txn, c->shared, seq, prev_shared, MDB_APPEND)) != 0)
            return rc;
    }
    memcpy(c->last_shared, prev_shared, sizeof prev_shared);
    c->last_seq = seq;
    return 0;
}

/* ---- open: the chains of a log written before they existed ---- */

typedef struct {
    koop_log_chain_t *c;
} s_open_ctx;

/* Computes both chains of the whole log from c's genesis links, replacing
 * what the chain tables hold (a removed payload counts by its hash in
 * log_redacted), and marks the chains as made. */
static int
s_relink(MDB_txn *txn, const koop_log_chain_t *c)
{
    uint8_t prev[KOOP_CHAIN_LEN], prev_shared[KOOP_CHAIN_LEN], link[KOOP_CHAIN_LEN], red[KOOP_CHAIN_LEN];
    MDB_cursor *cur;
    MDB_val k, v, mark = {1, "1"}, mk = {5, "chain"};
    int rc;

    memcpy(prev, c->genesis, sizeof prev);
    memcpy(prev_shared, c->genesis_shared, sizeof prev_shared);
    if ((rc = koop_mdb_rc(mdb_cursor_open(txn, c->log, &cur))) != 0)
        return rc;
    while ((rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) == 0) {
        Koop__Event *ev;
        uint64_t seq;
        int shared, r;
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        seq = koop_be64_get(k.mv_data);
        ev = koop__event__unpack(NULL, v.mv_size, v.mv_data);
        if (!ev) {
            rc = MDB_CORRUPTED;
            break;
        }
        shared = ev->has_scope && ev->scope == KOOP__SCOPE__SCOPE_SHARED;
        koop__event__free_unpacked(ev, NULL);
        r = s_get_link(txn, c->redacted, seq, red);
        if (r != 0 && r != MDB_NOTFOUND) {
            rc = r;
            break;
        }
        if ((rc = koop_chain_entry(link, prev, v.mv_data, v.mv_size, r == 0 ? red : NULL)) != 0 ||
            (rc = s_put_link(txn, c->chain, seq, link, 0)) != 0)
            break;
        memcpy(prev, link, sizeof prev);
        if (shared) {
            if ((rc = koop_chain_entry(link, prev_shared, v.mv_data, v.mv_size, NULL)) != 0 ||
                (rc = s_put_link(txn, c->shared, seq, link, 0)) != 0)
                break;
            memcpy(prev_shared, link, sizeof prev_shared);
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc < 0 ? rc : MDB_CORRUPTED;
    return koop_mdb_rc(mdb_put(txn, c->meta, &mk, &mark, 0));
}

static int
s_backfill(MDB_txn *txn, void *ctx)
{
    koop_log_chain_t *c = ((s_open_ctx *)ctx)->c;
    MDB_val v, mk = {5, "chain"};
    int rc = koop_mdb_rc(mdb_get(txn, c->meta, &mk, &v));

    if (rc != MDB_NOTFOUND)
        return rc;
    return s_relink(txn, c);
}

static void
s_chain_init(koop_log_chain_t *c, koop_store_t *store, const char *log_id)
{
    c->log = koop_store_dbi(store, "log");
    c->shared = koop_store_dbi(store, "log_shared");
    c->chain = koop_store_dbi(store, "log_chain");
    c->redacted = koop_store_dbi(store, "log_redacted");
    c->meta = koop_store_dbi(store, "log_meta");
    koop_chain_genesis(c->genesis, "koop.log", log_id);
    koop_chain_genesis(c->genesis_shared, "koop.shared", log_id);
    c->last_seq = 0;
}

int
koop_log_chain_rebase(koop_store_t *store, MDB_txn *txn, const char *log_id)
{
    koop_log_chain_t c;
    s_chain_init(&c, store, log_id);
    return s_relink(txn, &c);
}

int
koop_log_chain_open(koop_log_chain_t *c, koop_store_t *store, const char *log_id)
{
    s_open_ctx ctx = {c};
    s_chain_init(c, store, log_id);
    return koop_store_write(store, s_backfill, &ctx);
}

/* ---- reading links ---- */

int
koop_log_links(koop_log_t *self, MDB_txn *txn, uint64_t seq, uint8_t link[KOOP_CHAIN_LEN],
               uint8_t shared[KOOP_CHAIN_LEN])
{
    const koop_log_chain_t *c = koop_log_chain_of(self);
    int rc = 0;
    if (link && (rc = s_link_at(txn, c->chain, seq, c->genesis, link)) != 0)
        return rc;
    if (shared)
        rc = s_link_at(txn, c->shared, seq, c->genesis_shared, shared);
    return rc;
}

/* ---- verify ---- */

typedef struct {
    const koop_log_walk_t *walk;
    koop_log_check_t *out;
} s_verify;

static void
s_problem(s_verify *w, uint64_t seq, koop_err_t code, const char *const *args)
{
    w->out->problems++;
    if (w->walk->problem)
        w->walk->problem(w->walk->ctx, seq, code, args);
}

#define PROBLEM(w, seq, ID, ...) s_problem((w), (seq), KOOP_ERR_##ID, (const char *const[]){__VA_ARGS__ __VA_OPT__(, ) NULL})

/* An envelope that names this log's node and stream and seq. */
static int
s_in_place(koop_log_t *self, const Koop__Event *ev, uint64_t seq)
{
    return ev->has_seq && ev->seq == seq && ev->node && strcmp(ev->node, koop_log_node(self)) == 0 && ev->stream &&
           strcmp(ev->stream, koop_log_stream(self)) == 0;
}

/* Checks one stored link against the computed one; *prev becomes the stored
 * one (so one changed entry is one finding), else the computed. */
static int
s_check_link(s_verify *w, MDB_txn *txn, MDB_dbi dbi, uint64_t seq, const uint8_t computed[KOOP_CHAIN_LEN],
             uint8_t prev[KOOP_CHAIN_LEN], koop_err_t missing, koop_err_t changed)
{
    uint8_t stored[KOOP_CHAIN_LEN];
    char num[24];
    int rc = s_get_link(txn, dbi, seq, stored);
    koop_num_str(num, (long long)seq);
    if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED) {
        s_problem(w, seq, missing, (const char *const[]){num, NULL});
        memcpy(prev, computed, KOOP_CHAIN_LEN);
        return 0;
    }
    if (rc != 0)
        return rc;
    if (memcmp(stored, computed, KOOP_CHAIN_LEN) != 0)
        s_problem(w, seq, changed, (const char *const[]){num, NULL});
    memcpy(prev, stored, KOOP_CHAIN_LEN);
    return 0;
}

/* The last key of dbi after `last` (0 when none): links of entries removed
 * from the end of the log. */
static int
s_trailing(MDB_txn *txn, MDB_dbi dbi, uint64_t last, uint64_t *end)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = koop_mdb_rc(mdb_cursor_open(txn, dbi, &cur));
    if (rc != 0)
        return rc;
    rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_LAST));
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (k.mv_size == 8 && koop_be64_get(k.mv_data) > last && koop_be64_get(k.mv_data) > *end)
        *end = koop_be64_get(k.mv_data);
    return 0;
}

int
koop_log_verify(koop_log_t *self, MDB_txn *txn, const koop_log_walk_t *walk, koop_log_check_t *out)
{
    const koop_log_chain_t *c = koop_log_chain_of(self);
    s_verify w = {walk, out};
    uint8_t prev[KOOP_CHAIN_LEN], prev_shared[KOOP_CHAIN_LEN], link[KOOP_CHAIN_LEN], red[KOOP_CHAIN_LEN];
    uint64_t expect = 1, last = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    char num[24], num2[24];
    int rc;

    memset(out, 0, sizeof *out);
    memcpy(prev, c->genesis, sizeof prev);
    memcpy(prev_shared, c->genesis_shared, sizeof prev_shared);
    if ((rc = koop_mdb_rc(mdb_cursor_open(txn, c->log, &cur))) != 0)
        return rc;
    while ((rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) == 0) {
        Koop__Event *ev = NULL;
        uint64_t seq;
        int redacted = 0, shared = 0, in_shared, r;

        if (k.mv_size != 8) {
            PROBLEM(&w, expect, VERIFY_ENTRY_FORM, koop_num_str(num, (long long)expect));
            continue;
        }
        seq = koop_be64_get(k.mv_data);
        koop_num_str(num, (long long)seq);
        out->entries++;
        if (seq != expect) {
            /* a gap: entries removed; go on from the stored link before seq */
            PROBLEM(&w, expect, VERIFY_ENTRY_MISSING, koop_num_str(num2, (long long)expect), KOOP_NUM(seq - 1));
            if (s_get_link(txn, c->chain, seq - 1, prev) != 0)
                (void)s_get_link(txn, c->chain, seq, prev); /* then seq itself cannot be checked */
            (void)s_link_at(txn, c->shared, seq - 1, c->genesis_shared, prev_shared);
        }
        expect = seq + 1;
        last = seq;
        r = s_get_link(txn, c->redacted, seq, red);
        if (r != 0 && r != MDB_NOTFOUND && r != MDB_CORRUPTED) {
            rc = r;
            break;
        }
        r = koop_chain_entry(link, prev, v.mv_data, v.mv_size, r == 0 ? red : NULL);
        if (r == -ENODATA)
            PROBLEM(&w, seq, VERIFY_PAYLOAD_GONE, num);
        else if (r != 0)
            PROBLEM(&w, seq, VERIFY_ENTRY_FORM, num);
        ev = koop__event__unpack(NULL, v.mv_size, v.mv_data);
        if (r == 0) {
            if (!ev || !s_in_place(self, ev, seq))
                PROBLEM(&w, seq, VERIFY_ENTRY_PLACE, num);
            redacted = ev && !ev->has_payload;
            shared = ev && ev->has_scope && ev->scope == KOOP__SCOPE__SCOPE_SHARED;
            if ((rc = s_check_link(&w, txn, c->chain, seq, link, prev, KOOP_ERR_VERIFY_LINK_MISSING,
                                   KOOP_ERR_VERIFY_ENTRY_CHANGED)) != 0)
                break;
        } else {
            /* the entry cannot be linked: go on from its stored link */
            (void)s_get_link(txn, c->chain, seq, prev);
        }
        {
            unsigned char kb[8];
            MDB_val sk = s_key(kb, seq), sv;
            in_shared = mdb_get(txn, c->shared, &sk, &sv) == 0;
        }
        if (shared) {
            out->shared++;
            if (koop_chain_entry(link, prev_shared, v.mv_data, v.mv_size, NULL) == 0 &&
                (rc = s_check_link(&w, txn, c->shared, seq, link, prev_shared, KOOP_ERR_VERIFY_SHARED_MISSING,
                                   KOOP_ERR_VERIFY_SHARED_CHANGED)) != 0)
                break;
        } else if (in_shared && ev) {
            /* a LOCAL entry marked as one that may leave the node */
            PROBLEM(&w, seq, VERIFY_SHARED_EXTRA, num);
        }
        if (redacted) {
            out->redacted++;
            if (shared)
                PROBLEM(&w, seq, VERIFY_PAYLOAD_GONE, num);
        }
        if (ev)
            koop__event__free_unpacked(ev, NULL);
        if (walk->entry && (rc = walk->entry(walk->ctx, seq, v.mv_data, v.mv_size, redacted)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    out->last_seq = last;
    {
        uint64_t end = 0;
        if ((rc = s_trailing(txn, c->chain, last, &end)) != 0 || (rc = s_trailing(txn, c->shared, last, &end)) != 0)
            return rc;
        if (end)
            PROBLEM(&w, last + 1, VERIFY_ENTRY_MISSING, koop_num_str(num, (long long)(last + 1)),
                    koop_num_str(num2, (long long)end));
    }
    if ((rc = s_link_at(txn, c->chain, last, c->genesis, out->head)) != 0 ||
        (rc = s_link_at(txn, c->shared, last, c->genesis_shared, out->shared_head)) != 0)
        return rc == MDB_CORRUPTED ? 0 : rc;
    return 0;
}

/* ---- retention ---- */

int
koop_log_redact(koop_log_t *self, MDB_txn *txn, uint64_t seq)
{
    const koop_log_chain_t *c = koop_log_chain_of(self);
    unsigned char kb[8];
    MDB_val k = s_key(kb, seq), v, sv;
    uint8_t ph[KOOP_CHAIN_LEN], *header;
    const uint8_t *payload;
    size_t hlen, plen;
    int rc = koop_mdb_rc(mdb_get(txn, c->shared, &k, &sv));

    if (rc == 0)
        return -EPERM; /* SHARED entries hold no personal data and may have left the node */
    if (rc != MDB_NOTFOUND)
        return rc;
    if ((rc = koop_mdb_rc(mdb_get(txn, c->log, &k, &v))) != 0)
        return rc;
    rc = koop_chain_split(v.mv_data, v.mv_size, &hlen, &payload, &plen);
    if (rc == KOOP_CHAIN_NO_PAYLOAD)
        return 0;
    if (rc != 0)
        return MDB_CORRUPTED;
    koop_chain_hash(ph, payload, plen);
    if (!(header = malloc(hlen ? hlen : 1)))
        return -ENOMEM;
    memcpy(header, v.mv_data, hlen); /* v points into the page the put replaces */
    if ((rc = s_put_link(txn, c->redacted, seq, ph, 0)) == 0) {
        MDB_val nv = {hlen, header};
        rc = koop_mdb_rc(mdb_put(txn, c->log, &k, &nv, 0));
    }
    free(header);
    return rc;
}
