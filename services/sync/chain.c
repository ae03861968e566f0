/*
 * chain.c - the hub checks each node's SHARED chain on ingest and keeps the
 * heads it has seen (docs/ACCOUNTABILITY.md, common/chain.h).
 *
 * A batch carries S(prev), S(last) and L(last) of the node's log. The hub
 * holds, per (node, stream), the head it accepted last: (epoch, seq, S, L)
 * in "hub_chain". A batch is taken only when
 *   - it continues that head: S(prev) is the stored S when prev is the
 *     stored position (the genesis of the stream's log id at 0), and in an
 *     overlap the chain recomputed from S(prev) passes through the stored S
 *     at the stored position - so a node's database restored from an old
 *     copy (same log id) that wrote a different history is refused instead
 *     of being spliced;
 *   - recomputing S over the items from S(prev) gives S(last): every event
 *     is the bytes its producer chained when it wrote them - an entry edited
 *     in the node's log before it was sent is refused.
 * Otherwise REFUSE CHAIN, nothing kept. After the commit the new head is
 * (epoch, last, S(last), L(last)); L cannot be checked here (LOCAL entries
 * never come), it is a witness: every 1024 seqs one head is also kept in
 * "hub_witness" (node, stream, epoch, seq -> L, S), and sync verify compares
 * the node's log with those, so a history rewritten on the node with every
 * link recomputed is found too.
 */
#include "sync.h"
#include "chain.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

#define WITNESS_EVERY 1024

/* hub_chain value: be32 epoch, be64 seq, S, L */
#define HEAD_LEN (4 + 8 + 2 * KOOP_CHAIN_LEN)

static size_t
s_key(char *out, size_t size, const char *node, const char *stream)
{
    int n = snprintf(out, size, "%s%c%s", node, '\0', stream);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

int
sync_chain_head(MDB_txn *txn, koop_store_t *store, const char *node, const char *stream, sync_head_t *out)
{
    char key[2 * SYNC_MAX_NAME + 4];
    MDB_val k, v;
    int rc;
    memset(out, 0, sizeof *out);
    k.mv_size = s_key(key, sizeof key, node, stream);
    k.mv_data = key;
    if ((rc = mdb_get(txn, koop_store_dbi(store, "hub_chain"), &k, &v)) != 0)
        return rc;
    if (v.mv_size != HEAD_LEN)
        return MDB_CORRUPTED;
    {
        const unsigned char *p = v.mv_data;
        out->epoch = (uint32_t)(koop_be64_get(p) >> 32);
        out->seq = koop_be64_get(p + 4);
        memcpy(out->shared, p + 12, KOOP_CHAIN_LEN);
        memcpy(out->link, p + 12 + KOOP_CHAIN_LEN, KOOP_CHAIN_LEN);
    }
    out->known = 1;
    return 0;
}

int
sync_chain_check(MDB_txn *txn, koop_store_t *store, const char *node, const char *stream, uint32_t epoch,
                 uint64_t stored, const char *log_id, const Koop__Sync__Batch *b, char *reason, size_t reason_len)
{
    uint8_t s[KOOP_CHAIN_LEN];
    sync_head_t head;
    int rc = sync_chain_head(txn, store, node, stream, &head);

    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (head.known && head.epoch != epoch)
        head.known = 0; /* a new epoch starts from its own genesis */
    if (!b->has_prev_link || b->prev_link.len != KOOP_CHAIN_LEN || !b->has_link || b->link.len != KOOP_CHAIN_LEN) {
        snprintf(reason, reason_len, "paczka bez ogniw łańcucha (węzeł w starszej wersji?)");
        return 1;
    }
    if (b->prev == 0) {
        uint8_t g[KOOP_CHAIN_LEN];
        koop_chain_genesis(g, "koop.shared", log_id);
        if (memcmp(g, b->prev_link.data, KOOP_CHAIN_LEN) != 0) {
            snprintf(reason, reason_len, "łańcuch paczki nie zaczyna się od początku dziennika %s", log_id);
            return 1;
        }
    }
    if (head.known && head.seq == stored && b->prev == stored &&
        memcmp(head.shared, b->prev_link.data, KOOP_CHAIN_LEN) != 0) {
        snprintf(reason, reason_len, "łańcuch nie jest ciągiem dalszym tego, co hub ma po %llu (inna historia "
                                     "dziennika węzła: odtworzona kopia?)",
                 (unsigned long long)stored);
        return 1;
    }
    memcpy(s, b->prev_link.data, sizeof s);
    for (size_t i = 0; i < b->n_items; i++) {
        const Koop__Sync__Item *it = b->items[i];
        if (koop_chain_entry(s, s, it->event.data, it->event.len, NULL) != 0) {
            snprintf(reason, reason_len, "zdarzenie %llu nie jest kopertą w postaci dziennika",
                     (unsigned long long)it->seq);
            return 1;
        }
        if (head.known && it->seq == head.seq && head.seq == stored && memcmp(s, head.shared, sizeof s) != 0) {
            snprintf(reason, reason_len, "łańcuch paczki nie przechodzi przez ogniwo, które hub ma przy %llu "
                                         "(inna historia dziennika węzła: odtworzona kopia?)",
                     (unsigned long long)stored);
            return 1;
        }
    }
    if (memcmp(s, b->link.data, sizeof s) != 0) {
        snprintf(reason, reason_len, "zdarzenia paczki nie zgadzają się z łańcuchem dziennika węzła (wpis zmieniony "
                                     "po zapisaniu?)");
        return 1;
    }
    return 0;
}

int
sync_chain_store(MDB_txn *txn, koop_store_t *store, const char *node, const char *stream, uint32_t epoch,
                 uint64_t before, const Koop__Sync__Batch *b)
{
    char key[2 * SYNC_MAX_NAME + 4];
    unsigned char val[HEAD_LEN], tmp[8];
    uint64_t last = b->items[b->n_items - 1]->seq;
    static const uint8_t none[KOOP_CHAIN_LEN];
    const uint8_t *link = b->has_head && b->head.len == KOOP_CHAIN_LEN ? b->head.data : none;
    MDB_val k, v = {sizeof val, val};
    int rc;

    k.mv_size = s_key(key, sizeof key, node, stream);
    k.mv_data = key;
    koop_be64_put(tmp, (uint64_t)epoch << 32);
    memcpy(val, tmp, 4);
    koop_be64_put(val + 4, last);
    memcpy(val + 12, b->link.data, KOOP_CHAIN_LEN);
    memcpy(val + 12 + KOOP_CHAIN_LEN, link, KOOP_CHAIN_LEN);
    if ((rc = mdb_put(txn, koop_store_dbi(store, "hub_chain"), &k, &v, 0)) != 0)
        return rc;
    if (before && last / WITNESS_EVERY == before / WITNESS_EVERY)
        return 0;
    {
        /* a witness: node \0 stream \0 be32 epoch be64 seq -> L, S */
        unsigned char wkey[2 * SYNC_MAX_NAME + 24], wval[2 * KOOP_CHAIN_LEN];
        size_t a = strlen(node), s = strlen(stream);
        MDB_val wk = {a + s + 2 + 12, wkey}, wv = {sizeof wval, wval};
        if (wk.mv_size > sizeof wkey)
            return 0;
        memcpy(wkey, node, a + 1);
        memcpy(wkey + a + 1, stream, s + 1);
        memcpy(wkey + a + s + 2, tmp, 4);
        koop_be64_put(wkey + a + s + 6, last);
        memcpy(wval, link, KOOP_CHAIN_LEN);
        memcpy(wval + KOOP_CHAIN_LEN, b->link.data, KOOP_CHAIN_LEN);
        return mdb_put(txn, koop_store_dbi(store, "hub_witness"), &wk, &wv, 0);
    }
}

int
sync_chain_witnesses(MDB_txn *txn, koop_store_t *store, const char *node, const char *stream, uint32_t epoch,
                     uint64_t upto, sync_witness_fn fn, void *ctx)
{
    unsigned char key[2 * SYNC_MAX_NAME + 24], tmp[8];
    size_t a = strlen(node), s = strlen(stream), plen = a + s + 2 + 4;
    MDB_val k = {plen + 8, key}, v;
    MDB_cursor *cur;
    int rc;
    if (plen + 8 > sizeof key)
        return 0;
    memcpy(key, node, a + 1);
    memcpy(key + a + 1, stream, s + 1);
    koop_be64_put(tmp, (uint64_t)epoch << 32);
    memcpy(key + a + s + 2, tmp, 4);
    koop_be64_put(key + plen, 0);
    if ((rc = mdb_cursor_open(txn, koop_store_dbi(store, "hub_witness"), &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == plen + 8 && memcmp(k.mv_data, key, plen) == 0 && v.mv_size == 2 * KOOP_CHAIN_LEN) {
        uint64_t seq = koop_be64_get((const unsigned char *)k.mv_data + plen);
        if (seq > upto)
            break;
        if ((rc = fn(ctx, seq, v.mv_data)) != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
