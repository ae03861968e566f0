/*
 * verify.c - sync verify (anti-entropy): each stream of a node compared with
 * its hub's copy by digests over seq ranges, narrowing down like a Merkle
 * tree, and the ranges that differ sent again (docs/ACCOUNTABILITY.md).
 *
 * The uplink runs it (koopctl sync verify, or when the hub asks: the hub
 * asks every node once a day), one stream after another, for the events up
 * to the position the hub acknowledged:
 *
 *   ROUND   DigestAsk{ranges} to the hub --Digest--> feed.digest{ranges}
 *           to the producer --reply--> compare each range (count, digest):
 *           equal: done; differing and longer than LEAF seqs: split in
 *           SPLIT parts, compared in a later round; else a differing leaf.
 *           The first round starts from [1, acked] in SPLIT parts and also
 *           brings the heads the hub witnessed (chain.c), compared with the
 *           log's own links at those seqs.
 *   REPAIR  per differing leaf: feed.fetch of its SHARED events from the
 *           producer --> Repair{items, S before, S at the last} --Repaired-->
 *           (the hub checks the chain over them and puts back what its copy
 *           lacks or holds differently)
 *   CONFIRM one more round over the leaves: the copies agree, or what still
 *           differs is reported (e.g. events the hub holds that the node
 *           does not: they are never removed by a repair)
 *
 * The result goes to the hub (VerifyResult: shown in its sync status, per
 * node, and counted) and answers sync.verify calls waiting for it. Each
 * step waits for one answer (SYNC_VERIFY_WAIT_MS at most); a lost link or a
 * silent hub ends the run with the reason.
 *
 * The hub's side is here too: digests of its copy of a (node, stream)
 * (hub_ingest's runs -> the merged log's envelopes -> the node's envelopes,
 * the bytes as received) and the repair, in a write transaction: each event
 * put back is a run of one in hub_ingest (of two copies of a seq, the later
 * counts here; `events list --node` shows both).
 */
#include "sync.h"
#include "chain.h"
#include "client.h"
#include "clock.h"
#include "log.h"
#include "say.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPLIT 16
#define LEAF 64
#define ROUND_MAX 64         /* ranges per DigestAsk (and feed.digest) */
#define WITNESSES_MAX 64
#define DIFFERING_MAX 64     /* ranges listed per stream in a result */
#define SYNC_VERIFY_WAIT_MS 15000

/* ---- the hub's side ---- */

/* hub_ingest key prefix: node \0 stream \0 be32 epoch; then be64 seq */
static size_t
s_ingest_prefix(unsigned char *out, size_t size, const char *node, const char *stream, uint32_t epoch)
{
    size_t a = strlen(node), b = strlen(stream);
    unsigned char tmp[8];
    if (a + b + 2 + 4 + 8 > size)
        return 0;
    memcpy(out, node, a + 1);
    memcpy(out + a + 1, stream, b + 1);
    koop_be64_put(tmp, (uint64_t)epoch << 32);
    memcpy(out + a + b + 2, tmp, 4);
    return a + b + 2 + 4;
}

/* The node's envelope the merged log holds at mseq (points into the txn's
 * pages) and its seq. */
static int
s_copy_at(MDB_txn *txn, MDB_dbi log, uint64_t mseq, const uint8_t **env, size_t *len, uint64_t *seq)
{
    unsigned char kb[8];
    MDB_val k = {8, kb}, v;
    sync_event_head_t h;
    size_t hlen;
    int rc;
    koop_be64_put(kb, mseq);
    if ((rc = mdb_get(txn, log, &k, &v)) != 0)
        return rc;
    if (koop_chain_split(v.mv_data, v.mv_size, &hlen, env, len) != 0 || sync_event_head(*env, *len, &h) != 0 ||
        !h.has_seq)
        return MDB_CORRUPTED;
    *seq = h.seq;
    return 0;
}

/* One hub_ingest entry (hub.c): a run of events one batch added, which lie
 * one after another in the merged log; key prefix + be64 seq of the first,
 * value be64 merged seq of the first, be64 seq of the last, be64 count (an
 * 8-byte value is a run of one). */
typedef struct {
    uint64_t first, last, merged, count;
} s_run;

static int
s_run_get(const MDB_val *k, const MDB_val *v, const unsigned char *prefix, size_t plen, s_run *run)
{
    if (k->mv_size != plen + 8 || memcmp(k->mv_data, prefix, plen) != 0)
        return -1;
    run->first = koop_be64_get((const unsigned char *)k->mv_data + plen);
    if (v->mv_size == 8) {
        run->merged = koop_be64_get(v->mv_data);
        run->last = run->first;
        run->count = 1;
    } else if (v->mv_size == 24) {
        run->merged = koop_be64_get(v->mv_data);
        run->last = koop_be64_get((const unsigned char *)v->mv_data + 8);
        run->count = koop_be64_get((const unsigned char *)v->mv_data + 16);
    } else {
        return -1;
    }
    return run->count > 0 && run->last >= run->first ? 0 : -1;
}

static int
s_run_put(MDB_txn *txn, MDB_dbi dbi, unsigned char *key, size_t plen, const s_run *run)
{
    unsigned char val[24];
    MDB_val k = {plen + 8, key}, v = {sizeof val, val};
    koop_be64_put(key + plen, run->first);
    koop_be64_put(val, run->merged);
    koop_be64_put(val + 8, run->last);
    koop_be64_put(val + 16, run->count);
    return mdb_put(txn, dbi, &k, &v, 0);
}

/* The events of the hub's copy with from <= seq <= to: seq and merged seq,
 * sorted by seq; of two copies of one seq (a repair of an event held
 * differently) the later one. *out is malloc'd (caller frees). */
typedef struct {
    uint64_t seq, mseq;
} s_held;

static int
s_held_cmp(const void *a, const void *b)
{
    const s_held *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->mseq < y->mseq ? -1 : x->mseq > y->mseq;
}

static int
s_copy_range(MDB_txn *txn, koop_store_t *store, unsigned char *key, size_t plen, uint64_t from, uint64_t to,
             s_held **out, size_t *n_out)
{
    MDB_dbi log = koop_store_dbi(store, "log");
    MDB_cursor *cur;
    MDB_val k = {plen + 8, key}, v;
    s_held *h = NULL;
    size_t n = 0, cap = 0, w = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    if ((rc = mdb_cursor_open(txn, koop_store_dbi(store, "hub_ingest"), &cur)) != 0)
        return rc;
    koop_be64_put(key + plen, from);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    {
        /* the run that begins before `from` may go on past it */
        s_run run;
        int r = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
                : rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
                                     : rc;
        if (r == 0 && s_run_get(&k, &v, key, plen, &run) == 0 && run.last >= from) {
            rc = 0;
        } else {
            k.mv_size = plen + 8;
            k.mv_data = key;
            koop_be64_put(key + plen, from);
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        }
    }
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        s_run run;
        if (s_run_get(&k, &v, key, plen, &run) != 0 || run.first > to)
            break; /* past this stream's entries, or the range */
        if (run.last < from)
            continue;
        for (uint64_t j = 0; j < run.count && rc == 0; j++) {
            const uint8_t *env;
            size_t len;
            uint64_t seq;
            if ((rc = s_copy_at(txn, log, run.merged + j, &env, &len, &seq)) != 0)
                break;
            if (seq < from || seq > to)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 256;
                s_held *g = realloc(h, ncap * sizeof *g);
                if (!g) {
                    rc = -ENOMEM;
                    break;
                }
                h = g;
                cap = ncap;
            }
            h[n++] = (s_held){seq, run.merged + j};
        }
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        free(h);
        return rc;
    }
    if (n)
        qsort(h, n, sizeof *h, s_held_cmp);
    for (size_t i = 0; i < n; i++) {
        if (w && h[w - 1].seq == h[i].seq)
            w--; /* the later copy wins */
        h[w++] = h[i];
    }
    *out = h;
    *n_out = w;
    return 0;
}

typedef struct {
    Koop__Sync__Witness w[WITNESSES_MAX];
    uint8_t links[WITNESSES_MAX][2 * KOOP_CHAIN_LEN];
    size_t n, total;
} s_witnesses;

static int
s_keep_witness(void *ctx, uint64_t seq, const uint8_t *links)
{
    s_witnesses *ws = ctx;
    size_t i = ws->total++ % WITNESSES_MAX; /* the last ones */
    koop__sync__witness__init(&ws->w[i]);
    memcpy(ws->links[i], links, 2 * KOOP_CHAIN_LEN);
    ws->w[i].has_seq = ws->w[i].has_link = ws->w[i].has_shared_link = 1;
    ws->w[i].seq = seq;
    ws->w[i].link = (ProtobufCBinaryData){KOOP_CHAIN_LEN, ws->links[i]};
    ws->w[i].shared_link = (ProtobufCBinaryData){KOOP_CHAIN_LEN, ws->links[i] + KOOP_CHAIN_LEN};
    if (ws->n < WITNESSES_MAX)
        ws->n++;
    return 0;
}

struct sync_digest {
    Koop__Sync__Digest msg;
    Koop__Sync__Range ranges[ROUND_MAX], *rp[ROUND_MAX];
    uint8_t hashes[ROUND_MAX][KOOP_CHAIN_LEN];
    s_witnesses ws;
    Koop__Sync__Witness *wp[WITNESSES_MAX];
};

sync_digest_t *
sync_verify_digest(MDB_txn *txn, koop_store_t *store, const char *node, uint32_t epoch, uint64_t stored,
                   const Koop__Sync__DigestAsk *a)
{
    sync_digest_t *d = calloc(1, sizeof *d);
    unsigned char key[2 * SYNC_MAX_NAME + 24];
    size_t plen = s_ingest_prefix(key, sizeof key, node, a->stream, epoch), n = a->n_ranges;
    uint64_t last = 0;
    int rc = 0;

    if (!d || !plen) {
        free(d);
        return NULL;
    }
    koop__sync__digest__init(&d->msg);
    if (n > ROUND_MAX)
        n = ROUND_MAX;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const Koop__Sync__Range *in = a->ranges[i];
        MDB_dbi log = koop_store_dbi(store, "log");
        koop_digest_t dg;
        s_held *h = NULL;
        size_t nh = 0;
        koop_digest_init(&dg);
        if ((rc = s_copy_range(txn, store, key, plen, in->from, in->to, &h, &nh)) != 0)
            break;
        for (size_t j = 0; j < nh && rc == 0; j++) {
            const uint8_t *env;
            size_t len;
            uint64_t seq;
            if ((rc = s_copy_at(txn, log, h[j].mseq, &env, &len, &seq)) == 0)
                koop_digest_add(&dg, seq, env, len);
        }
        free(h);
        if (rc != 0)
            break;
        koop_digest_final(&dg, d->hashes[i]);
        koop__sync__range__init(&d->ranges[i]);
        d->ranges[i].has_from = d->ranges[i].has_to = d->ranges[i].has_count = d->ranges[i].has_hash = 1;
        d->ranges[i].from = in->from;
        d->ranges[i].to = in->to;
        d->ranges[i].count = dg.count;
        d->ranges[i].hash = (ProtobufCBinaryData){KOOP_CHAIN_LEN, d->hashes[i]};
        d->rp[i] = &d->ranges[i];
        if (in->to > last)
            last = in->to;
    }
    if (rc == 0 && a->witnesses)
        rc = sync_chain_witnesses(txn, store, node, a->stream, epoch, last, s_keep_witness, &d->ws);
    if (rc != 0) {
        koop_warn("hub: sync verify %s/%s: nie można policzyć skrótów: %s", node, a->stream, koop_strerror(rc));
        free(d);
        return NULL;
    }
    for (size_t i = 0; i < d->ws.n; i++)
        d->wp[i] = &d->ws.w[i];
    d->msg.stream = a->stream;
    d->msg.has_id = d->msg.has_stored = 1;
    d->msg.id = a->id;
    d->msg.stored = stored;
    d->msg.n_ranges = n;
    d->msg.ranges = d->rp;
    d->msg.n_witnesses = d->ws.n;
    d->msg.witnesses = d->wp;
    return d;
}

const Koop__Sync__Digest *
sync_digest_msg(const sync_digest_t *d)
{
    return &d->msg;
}

void
sync_digest_free(sync_digest_t **d)
{
    if (d) {
        free(*d);
        *d = NULL;
    }
}

int
sync_verify_repair(MDB_txn *txn, koop_store_t *store, koop_log_t *log, sync_check_t *check, const char *self,
                   const char *node, uint32_t epoch, uint64_t stored, const Koop__Sync__Repair *r, uint32_t *put,
                   uint32_t *same, int *refused_event, char *reason, size_t reason_len)
{
    unsigned char key[2 * SYNC_MAX_NAME + 24];
    size_t plen = s_ingest_prefix(key, sizeof key, node, r->stream, epoch);
    uint8_t s[KOOP_CHAIN_LEN];
    uint64_t prev = 0;
    int rc;

    *put = *same = 0;
    *refused_event = 0;
    reason[0] = '\0';
    if (!plen || r->n_items == 0 || r->n_items > SYNC_BATCH_MAX || r->prev_link.len != KOOP_CHAIN_LEN ||
        r->link.len != KOOP_CHAIN_LEN) {
        snprintf(reason, reason_len, "nieprawidłowa naprawa");
        return 1;
    }
    /* the node's events, in order, within what the hub acknowledged, each
     * decoded in full and checked as a batch's are (check.c: its node,
     * stream, seq, scope, type, payload and owner) */
    for (size_t i = 0; i < r->n_items; i++) {
        const Koop__Sync__Item *it = r->items[i];
        sync_check_why_t why;
        if (!it->has_seq || it->seq <= prev || it->seq > stored || !it->has_event || it->event.len == 0) {
            snprintf(reason, reason_len, "zdarzenie %llu naprawy jest nieprawidłowe", (unsigned long long)it->seq);
            return 1;
        }
        rc = sync_check_event(check, self, it->event.data, it->event.len, node, r->stream, it->seq, &why);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            koop_error_t e;
            const char *args[SYNC_CHECK_ARGS + 1];
            char msg[160];
            for (size_t j = 0; j < why.nargs; j++)
                args[j] = why.args[j];
            args[why.nargs] = NULL;
            koop_error_set(&e, why.err, NULL, args);
            koop_error_render(&e, KOOP_LANG_PL, NULL, msg, sizeof msg);
            snprintf(reason, reason_len, "naprawa odrzucona: %s", msg);
            *refused_event = 1;
            return 1;
        }
        prev = it->seq;
    }
    /* then the bytes the node chained (S over them from S before them) */
    memcpy(s, r->prev_link.data, sizeof s);
    for (size_t i = 0; i < r->n_items; i++) {
        const Koop__Sync__Item *it = r->items[i];
        if (koop_chain_entry(s, s, it->event.data, it->event.len, NULL) != 0) {
            snprintf(reason, reason_len, "zdarzenie %llu naprawy jest nieprawidłowe", (unsigned long long)it->seq);
            return 1;
        }
    }
    if (memcmp(s, r->link.data, sizeof s) != 0) {
        snprintf(reason, reason_len, "zdarzenia naprawy nie zgadzają się z łańcuchem dziennika węzła");
        return 1;
    }
    for (size_t i = 0; i < r->n_items; i++) {
        const Koop__Sync__Item *it = r->items[i];
        MDB_dbi ingest = koop_store_dbi(store, "hub_ingest"), mlog = koop_store_dbi(store, "log");
        MDB_val k = {plen + 8, key}, v;
        s_held *h = NULL;
        size_t nh = 0;
        s_run one;
        uint64_t mseq;
        if ((rc = s_copy_range(txn, store, key, plen, it->seq, it->seq, &h, &nh)) != 0)
            return rc;
        if (nh) {
            const uint8_t *env;
            size_t len;
            uint64_t seq;
            int held = s_copy_at(txn, mlog, h[0].mseq, &env, &len, &seq) == 0 && len == it->event.len &&
                       memcmp(env, it->event.data, len) == 0;
            free(h);
            if (held) {
                (*same)++;
                continue;
            }
        }
        /* missing from the copy, or held differently: the node's bytes
         * again, as a run of one (a later copy of a seq counts) */
        if ((rc = koop_log_append(log, txn, "sync.event", KOOP__SCOPE__SCOPE_SHARED, "", it->event.data, it->event.len,
                                  &mseq)) != 0)
            return rc;
        koop_be64_put(key + plen, it->seq);
        rc = mdb_get(txn, ingest, &k, &v);
        if (rc == 0) {
            /* a run begins at this seq: it goes on after it, the new copy takes the seq */
            s_run run;
            if (s_run_get(&k, &v, key, plen, &run) == 0 && run.count > 1) {
                const uint8_t *env;
                size_t len;
                uint64_t next;
                if ((rc = s_copy_at(txn, mlog, run.merged + 1, &env, &len, &next)) != 0)
                    return rc;
                run.first = next;
                run.merged++;
                run.count--;
                if ((rc = s_run_put(txn, ingest, key, plen, &run)) != 0)
                    return rc;
            }
        } else if (rc != MDB_NOTFOUND) {
            return rc;
        }
        one = (s_run){it->seq, it->seq, mseq, 1};
        if ((rc = s_run_put(txn, ingest, key, plen, &one)) != 0)
            return rc;
        (*put)++;
    }
    return 0;
}

/* ---- the node's side: the run ---- */

typedef struct {
    uint64_t from, to;
    uint64_t count;         /* local count (leaves: what to fetch) */
} s_range;

typedef struct {
    s_range *a;
    size_t n, cap;
} s_ranges;

static int
s_push(s_ranges *r, uint64_t from, uint64_t to, uint64_t count)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        s_range *g = realloc(r->a, cap * sizeof *g);
        if (!g)
            return -ENOMEM;
        r->a = g;
        r->cap = cap;
    }
    r->a[r->n++] = (s_range){from, to, count};
    return 0;
}

/* [from, to] in up to `parts` ranges, pushed in order. */
static int
s_split(s_ranges *r, uint64_t from, uint64_t to, unsigned parts)
{
    uint64_t len = to - from + 1, step = (len + parts - 1) / parts;
    if (step == 0)
        step = 1;
    for (uint64_t a = from; a <= to; a += step) {
        uint64_t b = a + step - 1 > to ? to : a + step - 1;
        if (s_push(r, a, b, 0) != 0)
            return -ENOMEM;
        if (b == to)
            break;
    }
    return 0;
}

enum { V_IDLE, V_LINK, V_HUB, V_LOCAL, V_FETCH, V_REPAIR };

typedef struct {
    Koop__Sync__StreamVerify sv;
    Koop__Sync__Range diff[DIFFERING_MAX], *diffp[DIFFERING_MAX];
    char name[SYNC_MAX_STREAM + 1];
    char state[200];
} s_result;

struct sync_verifier {
    sync_uplink_t *up;
    koop_client_t *client;
    uint64_t run;            /* runs started */
    uint64_t done;           /* the last run that ended */
    int running;
    uint64_t started_ms, finished_ms;
    s_result res[SYNC_MAX_STREAMS];
    Koop__Sync__StreamVerify *resp[SYNC_MAX_STREAMS];
    size_t nres;
    char state[200];
    int ok;
    Koop__Sync__VerifyResult result; /* what sync_verifier_result gives */
    /* the stream being compared */
    size_t si;
    const char *endpoint;
    sync_local_t *local;
    uint64_t upto;
    s_ranges queue, leaves;
    s_range round[ROUND_MAX];
    size_t nround;
    uint8_t hub_hash[ROUND_MAX][KOOP_CHAIN_LEN];
    uint64_t hub_count[ROUND_MAX];
    uint64_t wseq[WITNESSES_MAX];
    uint8_t wlink[WITNESSES_MAX][KOOP_CHAIN_LEN];
    size_t nw;
    int first, confirming;
    size_t leaf_i;
    int phase;
    uint64_t req_id, next_id, sent_mono;
};

sync_verifier_t *
sync_verifier_new(sync_uplink_t *up, koop_client_t *client)
{
    sync_verifier_t *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->up = up;
    v->client = client;
    snprintf(v->state, sizeof v->state, "nie sprawdzano");
    return v;
}

void
sync_verifier_destroy(sync_verifier_t **self_p)
{
    sync_verifier_t *v;
    if (!self_p || !*self_p)
        return;
    v = *self_p;
    sync_local_destroy(&v->local);
    free(v->queue.a);
    free(v->leaves.a);
    free(v);
    *self_p = NULL;
}

static void s_next_stream(sync_verifier_t *v);
static void s_round(sync_verifier_t *v);

static s_result *
s_cur(sync_verifier_t *v)
{
    return &v->res[v->nres - 1];
}

static void
s_finish(sync_verifier_t *v, const char *why)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    const Koop__Sync__VerifyResult *r;
    sync_local_destroy(&v->local);
    v->phase = V_IDLE;
    v->running = 0;
    v->finished_ms = koop_clock_real_ms();
    v->done = v->run;
    v->ok = !why;
    for (size_t i = 0; i < v->nres; i++)
        v->ok &= v->res[i].sv.ok;
    snprintf(v->state, sizeof v->state, "%s", why ? why : v->ok ? "zgodne" : "niezgodne");
    r = sync_verifier_result(v, NULL, NULL);
    koop_info("sync verify: %s (%zu strumień(e))", v->state, v->nres);
    f.body_case = KOOP__SYNC__FRAME__BODY_VERIFY_RESULT;
    f.verify_result = (Koop__Sync__VerifyResult *)r;
    (void)sync_uplink_send_frame(v->up, &f); /* the hub also shows it; lost: the node still has it */
    koop_service_retry_deferred(sync_uplink_service(v->up), v->done);
}

static void
s_stream_end(sync_verifier_t *v, const char *why)
{
    s_result *r = s_cur(v);
    if (why)
        snprintf(r->state, sizeof r->state, "%s", why);
    r->sv.state = r->state[0] ? r->state : NULL;
    r->sv.ok = !why && r->sv.ok;
    sync_local_destroy(&v->local);
    v->phase = V_IDLE;
    v->si++;
    s_next_stream(v);
}

static void
s_send_ask(sync_verifier_t *v)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__DigestAsk a = KOOP__SYNC__DIGEST_ASK__INIT;
    Koop__Sync__Range rs[ROUND_MAX], *rp[ROUND_MAX];
    for (size_t i = 0; i < v->nround; i++) {
        koop__sync__range__init(&rs[i]);
        rs[i].has_from = rs[i].has_to = 1;
        rs[i].from = v->round[i].from;
        rs[i].to = v->round[i].to;
        rp[i] = &rs[i];
    }
    a.stream = s_cur(v)->name;
    a.has_id = a.has_witnesses = 1;
    a.id = v->req_id = ++v->next_id;
    a.witnesses = v->first;
    a.ranges = rp;
    a.n_ranges = v->nround;
    f.body_case = KOOP__SYNC__FRAME__BODY_DIGEST_ASK;
    f.digest_ask = &a;
    if (sync_uplink_send_frame(v->up, &f) != 0) {
        s_finish(v, "brak połączenia z hubem");
        return;
    }
    v->phase = V_HUB;
    v->sent_mono = koop_clock_mono_ms();
}

static void
s_on_local_digest(void *ctx, int status, const char *error, const uint8_t *payload, size_t len)
{
    sync_verifier_t *v = ctx;
    s_result *r = s_cur(v);
    Koop__FeedDigestReply *d = status == KOOP_OK ? koop__feed_digest_reply__unpack(NULL, len, payload) : NULL;
    if (v->phase != V_LOCAL)
        goto done;
    if (!d || d->n_ranges != v->nround) {
        char why[200];
        snprintf(why, sizeof why, "usługa %s nie podała skrótów (%s)", r->name, error ? error : "?");
        s_stream_end(v, why);
        goto done;
    }
    for (size_t i = 0; i < v->nw && i < d->n_links; i++) {
        r->sv.witnesses++;
        if (d->links[i].len != KOOP_CHAIN_LEN || memcmp(d->links[i].data, v->wlink[i], KOOP_CHAIN_LEN) != 0)
            r->sv.witnesses_differing++;
    }
    v->nw = 0;
    v->first = 0;
    r->sv.rounds++;
    for (size_t i = 0; i < v->nround; i++) {
        const Koop__SeqRange *lr = d->ranges[i];
        s_range *x = &v->round[i];
        int same = lr->count == v->hub_count[i] && lr->hash.len == KOOP_CHAIN_LEN &&
                   memcmp(lr->hash.data, v->hub_hash[i], KOOP_CHAIN_LEN) == 0;
        if (!v->confirming)
            r->sv.events += lr->count;
        if (same)
            continue;
        if (v->confirming) {
            r->sv.ok = 0;
            continue;
        }
        if (x->to - x->from + 1 > LEAF) {
            if (s_split(&v->queue, x->from, x->to, SPLIT) != 0)
                goto nomem;
        } else {
            if (s_push(&v->leaves, x->from, x->to, lr->count) != 0)
                goto nomem;
            if (r->sv.n_differing < DIFFERING_MAX) {
                Koop__Sync__Range *o = &r->diff[r->sv.n_differing];
                koop__sync__range__init(o);
                o->has_from = o->has_to = o->has_count = 1;
                o->from = x->from;
                o->to = x->to;
                o->count = lr->count;
                r->diffp[r->sv.n_differing++] = o;
            }
        }
    }
    s_round(v);
    goto done;
nomem:
    s_stream_end(v, "brak pamięci");
done:
    if (d)
        koop__feed_digest_reply__free_unpacked(d, NULL);
}

static void s_repair_next(sync_verifier_t *v);

static void
s_on_fetch(void *ctx, int status, const char *error, const uint8_t *payload, size_t len)
{
    sync_verifier_t *v = ctx;
    Koop__FeedBatch *b = status == KOOP_OK ? koop__feed_batch__unpack(NULL, len, payload) : NULL;
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Repair rp = KOOP__SYNC__REPAIR__INIT;
    Koop__Sync__Item *items = NULL, **ptrs = NULL;
    const s_range *leaf = &v->leaves.a[v->leaf_i];
    size_t n = 0;
    if (v->phase != V_FETCH)
        goto done;
    if (!b) {
        char why[200];
        snprintf(why, sizeof why, "usługa %s nie wydała zdarzeń (%s)", s_cur(v)->name, error ? error : "?");
        s_stream_end(v, why);
        goto done;
    }
    items = calloc(b->n_events + 1, sizeof *items);
    ptrs = calloc(b->n_events + 1, sizeof *ptrs);
    if (!items || !ptrs) {
        s_stream_end(v, "brak pamięci");
        goto done;
    }
    for (size_t i = 0; i < b->n_events; i++) {
        sync_event_head_t h;
        if (sync_event_head(b->events[i].data, b->events[i].len, &h) != 0 || !h.has_seq || h.seq < leaf->from ||
            h.seq > leaf->to)
            continue;
        koop__sync__item__init(&items[n]);
        items[n].has_seq = items[n].has_event = 1;
        items[n].seq = h.seq;
        items[n].event = b->events[i];
        ptrs[n] = &items[n];
        n++;
    }
    if (n != b->n_events || n == 0) {
        /* the producer's log moved under the leaf: compared again in the confirming round */
        v->leaf_i++;
        s_repair_next(v);
        goto done;
    }
    rp.stream = s_cur(v)->name;
    rp.has_id = rp.has_prev_link = rp.has_link = 1;
    rp.id = v->req_id = ++v->next_id;
    rp.items = ptrs;
    rp.n_items = n;
    rp.prev_link = b->prev_shared_link;
    rp.link = b->shared_link;
    f.body_case = KOOP__SYNC__FRAME__BODY_REPAIR;
    f.repair = &rp;
    if (sync_uplink_send_frame(v->up, &f) != 0) {
        s_finish(v, "brak połączenia z hubem");
        goto done;
    }
    v->phase = V_REPAIR;
    v->sent_mono = koop_clock_mono_ms();
done:
    free(items);
    free(ptrs);
    if (b)
        koop__feed_batch__free_unpacked(b, NULL);
}

static void
s_repair_next(sync_verifier_t *v)
{
    Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
    while (v->leaf_i < v->leaves.n && v->leaves.a[v->leaf_i].count == 0)
        v->leaf_i++; /* nothing of the node's there: events only the hub has are not removed */
    if (v->leaf_i >= v->leaves.n) {
        /* confirm: the leaves compared once more */
        v->confirming = 1;
        v->queue.n = 0;
        for (size_t i = 0; i < v->leaves.n; i++)
            if (s_push(&v->queue, v->leaves.a[i].from, v->leaves.a[i].to, 0) != 0) {
                s_stream_end(v, "brak pamięci");
                return;
            }
        v->leaves.n = 0;
        s_round(v);
        return;
    }
    q.stream = s_cur(v)->name;
    q.has_after_seq = q.has_max = q.has_shared_only = 1;
    q.after_seq = v->leaves.a[v->leaf_i].from - 1;
    q.max = (uint32_t)v->leaves.a[v->leaf_i].count;
    q.shared_only = 1;
    if (sync_local_call(v->local, "feed.fetch", &q.base, SYNC_VERIFY_WAIT_MS, s_on_fetch, v) != 0) {
        s_stream_end(v, "usługa nie odpowiada");
        return;
    }
    v->phase = V_FETCH;
}

static void
s_round(sync_verifier_t *v)
{
    s_result *r = s_cur(v);
    if (v->queue.n == 0) {
        if (!v->confirming && v->leaves.n) {
            v->leaf_i = 0;
            s_repair_next(v);
            return;
        }
        r->sv.ok = r->sv.ok && r->sv.witnesses_differing == 0;
        if (r->sv.witnesses_differing)
            snprintf(r->state, sizeof r->state,
                     "dziennik różni się od ogniw poświadczonych przez hub (historia zmieniona przed nimi)");
        else if (!r->sv.ok)
            snprintf(r->state, sizeof r->state, "zakresy nadal różne po naprawie (hub ma zdarzenia, których węzeł nie ma?)");
        s_stream_end(v, NULL);
        return;
    }
    /* the oldest ranges first, ROUND_MAX at a time */
    v->nround = v->queue.n < ROUND_MAX ? v->queue.n : ROUND_MAX;
    memcpy(v->round, v->queue.a, v->nround * sizeof *v->round);
    memmove(v->queue.a, v->queue.a + v->nround, (v->queue.n - v->nround) * sizeof *v->queue.a);
    v->queue.n -= v->nround;
    s_send_ask(v);
}

static void
s_next_stream(sync_verifier_t *v)
{
    while (v->si < sync_uplink_nstreams(v->up)) {
        const char *name, *endpoint, *why;
        uint64_t acked;
        s_result *r;
        sync_uplink_stream(v->up, v->si, &name, &endpoint, &acked, &why);
        r = &v->res[v->nres++];
        memset(r, 0, sizeof *r);
        koop__sync__stream_verify__init(&r->sv);
        snprintf(r->name, sizeof r->name, "%s", name);
        r->sv.stream = r->name;
        r->sv.has_upto = r->sv.has_events = r->sv.has_rounds = r->sv.has_repaired = r->sv.has_witnesses = 1;
        r->sv.has_witnesses_differing = r->sv.has_ok = 1;
        r->sv.differing = r->diffp;
        r->sv.upto = acked;
        r->sv.ok = 1;
        v->resp[v->nres - 1] = &r->sv;
        if (why || acked == 0) {
            snprintf(r->state, sizeof r->state, "%s", why ? why : "nic jeszcze nie potwierdzone");
            r->sv.state = r->state;
            r->sv.ok = why == NULL;
            v->si++;
            continue;
        }
        v->endpoint = endpoint;
        v->upto = acked;
        v->queue.n = v->leaves.n = 0;
        v->first = 1;
        v->confirming = 0;
        v->nw = 0;
        if (!(v->local = sync_local_new(v->client, endpoint)) || s_split(&v->queue, 1, acked, SPLIT) != 0) {
            s_stream_end(v, "brak pamięci");
            return;
        }
        s_round(v);
        return;
    }
    s_finish(v, NULL);
}

uint64_t
sync_verifier_start(sync_verifier_t *v)
{
    if (v->running)
        return v->run;
    v->run++;
    v->running = 1;
    v->nres = 0;
    v->si = 0;
    v->started_ms = koop_clock_real_ms();
    v->finished_ms = 0;
    snprintf(v->state, sizeof v->state, "w toku");
    if (!sync_uplink_is_ready(v->up)) {
        /* (re)connecting: wait for the link a while (sync_verifier_tick) */
        v->phase = V_LINK;
        v->sent_mono = koop_clock_mono_ms();
        return v->run;
    }
    s_next_stream(v);
    return v->run;
}

int
sync_verifier_on_frame(sync_verifier_t *v, const Koop__Sync__Frame *f)
{
    if (f->body_case == KOOP__SYNC__FRAME__BODY_VERIFY_ASK) {
        (void)sync_verifier_start(v);
        return 1;
    }
    if (f->body_case == KOOP__SYNC__FRAME__BODY_DIGEST) {
        const Koop__Sync__Digest *d = f->digest;
        Koop__FeedDigest q = KOOP__FEED_DIGEST__INIT;
        Koop__SeqRange rs[ROUND_MAX], *rp[ROUND_MAX];
        uint64_t at[WITNESSES_MAX];
        if (v->phase != V_HUB || d->id != v->req_id)
            return 1; /* an answer of an earlier step */
        if (d->n_ranges != v->nround) {
            s_stream_end(v, "hub podał skróty innych zakresów");
            return 1;
        }
        for (size_t i = 0; i < v->nround; i++) {
            v->hub_count[i] = d->ranges[i]->count;
            memset(v->hub_hash[i], 0, KOOP_CHAIN_LEN);
            if (d->ranges[i]->hash.len == KOOP_CHAIN_LEN)
                memcpy(v->hub_hash[i], d->ranges[i]->hash.data, KOOP_CHAIN_LEN);
            koop__seq_range__init(&rs[i]);
            rs[i].has_from = rs[i].has_to = 1;
            rs[i].from = v->round[i].from;
            rs[i].to = v->round[i].to;
            rp[i] = &rs[i];
        }
        v->nw = 0;
        for (size_t i = 0; i < d->n_witnesses && v->nw < WITNESSES_MAX; i++)
            if (d->witnesses[i]->link.len == KOOP_CHAIN_LEN) {
                v->wseq[v->nw] = at[v->nw] = d->witnesses[i]->seq;
                memcpy(v->wlink[v->nw], d->witnesses[i]->link.data, KOOP_CHAIN_LEN);
                v->nw++;
            }
        q.stream = s_cur(v)->name;
        q.ranges = rp;
        q.n_ranges = v->nround;
        q.links_at = at;
        q.n_links_at = v->nw;
        if (sync_local_call(v->local, "feed.digest", &q.base, SYNC_VERIFY_WAIT_MS, s_on_local_digest, v) != 0) {
            s_stream_end(v, "usługa nie odpowiada");
            return 1;
        }
        v->phase = V_LOCAL;
        return 1;
    }
    if (f->body_case == KOOP__SYNC__FRAME__BODY_REPAIRED) {
        const Koop__Sync__Repaired *rd = f->repaired;
        if (v->phase != V_REPAIR || rd->id != v->req_id)
            return 1;
        if (rd->refused && *rd->refused)
            koop_warn("sync verify: hub odmówił naprawy: %s", rd->refused);
        s_cur(v)->sv.repaired += rd->stored;
        v->leaf_i++;
        s_repair_next(v);
        return 1;
    }
    return 0;
}

void
sync_verifier_tick(sync_verifier_t *v)
{
    if (!v->running)
        return;
    if (v->phase == V_LINK) {
        if (sync_uplink_is_ready(v->up))
            s_next_stream(v);
        else if (koop_clock_mono_ms() - v->sent_mono > SYNC_VERIFY_WAIT_MS)
            s_finish(v, "brak połączenia z hubem");
        return;
    }
    if (!sync_uplink_is_ready(v->up)) {
        s_finish(v, "połączenie z hubem przerwane");
        return;
    }
    if ((v->phase == V_HUB || v->phase == V_REPAIR) && koop_clock_mono_ms() - v->sent_mono > SYNC_VERIFY_WAIT_MS)
        s_stream_end(v, "hub nie odpowiada");
}

const Koop__Sync__VerifyResult *
sync_verifier_result(sync_verifier_t *v, uint64_t *run, int *running)
{
    Koop__Sync__VerifyResult *r = &v->result;
    koop__sync__verify_result__init(r);
    r->node = (char *)sync_uplink_node(v->up);
    r->has_started_ms = r->has_finished_ms = r->has_ok = 1;
    r->started_ms = v->started_ms;
    r->finished_ms = v->finished_ms;
    r->ok = !v->running && v->ok && v->done > 0;
    r->state = v->state;
    r->n_streams = v->nres;
    r->streams = v->resp;
    if (run)
        *run = v->running ? v->run : v->done;
    if (running)
        *running = v->running;
    return r;
}
