/*
 * hub.c - the hub's end of its gminas' uplinks (docs/SYNC.md).
 *
 * One ROUTER, CURVE server, bound at [sync] listen only after the ZAP
 * handler runs (keys.c); every message carries User-Id = the sender's Z85
 * key, which was enrolled when the connection was made.
 *
 * Per connection (ROUTER peer):
 *   (no session) --HELLO: key enrolled, node id bound to this key--> READY
 *                 (WELCOME: the hub's stored position per stream, or a verdict)
 *   (no session) --BATCH / PING / DOWN_ACK--> REFUSE NO_SESSION (say HELLO)
 *   READY --BATCH--> checked, appended in the drain's write txn --commit--> ACK
 *         --PING--> PONG;  --DOWN_ACK--> next DOWN (down-flow)
 *   A HELLO of the same key on a new connection replaces the old connection.
 *   Silence for SYNC_DEAD_MS: shown as not connected; positions stay.
 *
 * Ingest (all HELLOs and BATCHes of one drain of the socket in ONE write
 * transaction, acknowledged only after its commit returned):
 *   - a batch continues the stored stream: prev == stored position (or the
 *     stored position is prev or one of the batch's seqs: the overlap is
 *     duplicates, skipped); prev beyond it is a GAP (refused, nothing kept,
 *     the uplink rewinds to `expected`);
 *   - every event is decoded and must name this node and stream, carry the
 *     item's seq, and be SHARED; otherwise the whole batch is refused;
 *   - the batch must continue the node's SHARED chain as the hub holds it,
 *     and its events must be the bytes the node chained (chain.c); else
 *     REFUSE CHAIN, nothing kept;
 *   - each new event is appended to the hub's merged log ("sync" stream, a
 *     "sync.event" whose payload is the received envelope, bytes as received)
 *     and indexed under (node, stream, epoch, seq) -> merged seq.
 *   - a new log identity for a (node, stream) that holds events is refused
 *     (VERDICT_LOG_CHANGED) until the node's certificate is enrolled again
 *     after the stream was first accepted; then a new epoch starts at 0:
 *     the old events stay, nothing is spliced.
 *
 * Binding: a key serves one node id. A certificate enrolled with node-id
 * metadata binds that id (and re-binding an id to a new key needs exactly
 * that); a certificate without it binds the id of its first HELLO. A HELLO
 * with another id is refused (CODE_DENIED), as is one with the hub's own id.
 *
 * Down-flow: the hub reads its own registry's log (all of it) and keeps the
 * hub-owned records in "down_log" (seq -> the record event's envelope, bytes
 * as written; for records from a hub above, the envelope that came from
 * there) and "down_rec" (record id -> its latest seq). A node whose position
 * is in another down log (or nowhere) gets a snapshot (every latest record,
 * from_seq 0, the last chunk moving it to the end), then updates; one Down in
 * flight per node, sent again after SYNC_DOWN_STALL_MS without a DownAck.
 */
#include "sync.h"
#include "clock.h"
#include "id.h"
#include "loop.h"
#include "events.h"
#include "record.h"
#include "registry.pb-c.h"
#include "say.h"
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define TICK_MS 200
#define ALLOW_CHECK_MS 1000        /* how often the tick looks for allow-list changes */
#define LISTEN_BACKLOG 4096        /* a Monday morning: thousands of gminas connect at once */
#define DRAIN_MAX 256
#define DOWN_BYTES (512 * 1024)
#define EVENTS_MAX 10000
#define EVENTS_BYTES (KOOP_MAX_MSG / 2)

/* ---- stored state of one (node, stream) ---- */

typedef struct {
    uint32_t epoch;
    uint64_t last_seq;
    uint64_t events;
    uint64_t enrolled_at;      /* enrolment under which the log id was accepted */
    uint64_t stored_ms;        /* when events of it were last stored */
    char log_id[SYNC_MAX_NAME + 1];
} s_stream_state;

/* stored as: be32 epoch, be64 last_seq, be64 events, be64 enrolled_at,
 * be64 stored_ms, log id */
#define STATE_HEAD (4 + 8 + 8 + 8 + 8)

static size_t
s_state_key(char *out, size_t size, const char *node, const char *stream)
{
    int n = snprintf(out, size, "%s%c%s", node, '\0', stream);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

static int
s_state_get(MDB_txn *txn, MDB_dbi dbi, const char *node, const char *stream, s_stream_state *st)
{
    char key[2 * SYNC_MAX_NAME + 4];
    MDB_val k, v;
    int rc;
    memset(st, 0, sizeof *st);
    k.mv_size = s_state_key(key, sizeof key, node, stream);
    k.mv_data = key;
    if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
        return rc;
    if (v.mv_size < STATE_HEAD || v.mv_size - STATE_HEAD > SYNC_MAX_NAME)
        return MDB_CORRUPTED;
    {
        const unsigned char *p = v.mv_data;
        st->epoch = (uint32_t)(koop_be64_get(p) >> 32);
        st->last_seq = koop_be64_get(p + 4);
        st->events = koop_be64_get(p + 12);
        st->enrolled_at = koop_be64_get(p + 20);
        st->stored_ms = koop_be64_get(p + 28);
        memcpy(st->log_id, p + STATE_HEAD, v.mv_size - STATE_HEAD);
        st->log_id[v.mv_size - STATE_HEAD] = '\0';
    }
    return 0;
}

static int
s_state_put(MDB_txn *txn, MDB_dbi dbi, const char *node, const char *stream, const s_stream_state *st)
{
    char key[2 * SYNC_MAX_NAME + 4];
    unsigned char val[STATE_HEAD + SYNC_MAX_NAME + 8];
    unsigned char tmp[8];
    size_t n = strlen(st->log_id);
    MDB_val k, v;
    k.mv_size = s_state_key(key, sizeof key, node, stream);
    k.mv_data = key;
    koop_be64_put(tmp, (uint64_t)st->epoch << 32);
    memcpy(val, tmp, 4);
    koop_be64_put(val + 4, st->last_seq);
    koop_be64_put(val + 12, st->events);
    koop_be64_put(val + 20, st->enrolled_at);
    koop_be64_put(val + 28, st->stored_ms);
    memcpy(val + STATE_HEAD, st->log_id, n);
    v.mv_size = STATE_HEAD + n;
    v.mv_data = val;
    return mdb_put(txn, dbi, &k, &v, 0);
}

/* hub_ingest: where in the merged log a node's events are, one entry per
 * run of events one batch added (they follow one another there):
 *   key   node \0 stream \0 be32 epoch be64 seq of the run's first event
 *   value be64 merged seq of the first, be64 seq of the last, be64 count
 * An 8-byte value (an older hub: one entry per event) is a run of one. */
#define INGEST_RUN 24
static size_t
s_ingest_key(unsigned char *out, size_t size, const char *node, const char *stream, uint32_t epoch,
             uint64_t seq)
{
    size_t a = strlen(node), b = strlen(stream), n = a + 1 + b + 1 + 12;
    unsigned char tmp[8];
    if (n > size)
        return 0;
    memcpy(out, node, a + 1);
    memcpy(out + a + 1, stream, b + 1);
    koop_be64_put(tmp, (uint64_t)epoch << 32);
    memcpy(out + a + b + 2, tmp, 4);
    koop_be64_put(out + a + b + 6, seq);
    return n;
}

/* One HELLO or BATCH of a drain, with what to answer after the commit. */
enum { OUT_NONE, OUT_WELCOME, OUT_ACK, OUT_REFUSE };

typedef struct {
    uint8_t rid[SYNC_RID_MAX];
    size_t rid_len;
    char key[41];
    Koop__Sync__Frame *f;
    int out;
    int code;
    uint64_t seq;
    uint64_t batch_no;
    char stream[SYNC_MAX_STREAM + 1];
    char reason[300];
    int refused_event;             /* REFUSE for an event: `why` says which and why */
    sync_check_why_t why;
    Koop__Sync__StreamPos pos[SYNC_MAX_STREAMS];
    char pos_stream[SYNC_MAX_STREAMS][SYNC_MAX_STREAM + 1];
    char pos_log[SYNC_MAX_STREAMS][SYNC_MAX_NAME + 1];
    size_t npos;
} s_work;

struct sync_hub {
    sync_t *sync;
    const koop_config_t *cfg;
    koop_store_t *store;
    koop_log_t *log;
    uv_loop_t *loop;
    void *zctx;
    MDB_dbi dbi_streams, dbi_ingest, dbi_bind, dbi_meta, dbi_down_log, dbi_down_rec;
    sync_keypair_t keys;
    sync_allow_t *allow;
    sync_zap_t *zap;
    void *sock;
    koop_zwatch_t *watch;
    uv_timer_t *tick;
    sync_sessions_t *sessions;
    unsigned allow_gen;        /* the allow-list's generation the sessions were checked against */
    uint64_t allow_checked_mono;
    s_work *work;
    size_t nwork;
    koop_log_appender_t appender;   /* the merged log, during a drain's txn */
    sync_check_t *check;            /* every event of a batch, before any is stored */
    /* down-flow */
    sync_local_t *down_reader;
    char down_log_id[SYNC_MAX_NAME + 1];
    char down_src_log[SYNC_MAX_NAME + 1];   /* the registry's log id the cursor belongs to */
    uint64_t down_cursor;                   /* last registry seq looked at */
    uint64_t down_last;                     /* last key of down_log */
    uint64_t malformed;
    uint64_t events_refused;        /* batches refused for an event that failed the check */
    uint64_t down_out;              /* registry events kept out of the down-flow */
    uint64_t unsent;
    uint64_t ingest_commits, ingest_events, ingest_us, drain_events; /* metrics since start */
    uint64_t verify_results, verify_differing, verify_repaired;       /* sync verify (verify.c) */
};

static void s_down_pump(sync_hub_t *hub, sync_session_t *s);
static uint64_t s_verify_delay(sync_hub_t *hub, const char *node);

static void
s_snap_free(sync_session_t *s)
{
    for (size_t i = 0; i < s->nsnap; i++)
        free(s->snap[i]);
    free(s->snap);
    free(s->snap_len);
    s->snap = NULL;
    s->snap_len = NULL;
    s->nsnap = s->snap_next = 0;
}

static int
s_session_live(const sync_session_t *s, uint64_t now)
{
    return s->ready && now - s->last_rx_mono <= SYNC_DEAD_MS;
}

/* ---- sending ---- */

static int
s_send_to(sync_hub_t *hub, const uint8_t *rid, size_t rid_len, const Koop__Sync__Frame *f)
{
    int rc;
    if (!hub->sock) {
        /* in process (sync_hub_open): the answer is built, then dropped */
        uint8_t *buf;
        size_t len;
        rc = sync_frame_pack(f, &buf, &len);
        free(buf);
        return rc;
    }
    rc = sync_frame_send(hub->sock, rid, rid_len, f);
    if (rc != 0)
        hub->unsent++; /* peer gone or its queue full: it retransmits or says HELLO again */
    return rc;
}

/* A REFUSE; why (may be NULL) names the event of the batch that failed the check. */
static void
s_send_refuse(sync_hub_t *hub, const uint8_t *rid, size_t rid_len, int code, const char *stream,
              uint64_t expected, uint64_t batch_no, const char *reason, const sync_check_why_t *why)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Refuse r = KOOP__SYNC__REFUSE__INIT;
    char *args[SYNC_CHECK_ARGS];
    r.has_code = r.has_expected = r.has_batch_no = 1;
    r.code = (Koop__Sync__Code)code;
    r.stream = (char *)(stream && *stream ? stream : NULL);
    r.expected = expected;
    r.batch_no = batch_no;
    r.reason = (char *)(reason && *reason ? reason : NULL);
    if (why) {
        for (size_t i = 0; i < why->nargs; i++)
            args[i] = (char *)why->args[i];
        r.error = (char *)koop_err_code(why->err);
        r.error_args = args;
        r.n_error_args = why->nargs;
        r.has_event_seq = 1;
        r.event_seq = why->seq;
    }
    f.body_case = KOOP__SYNC__FRAME__BODY_REFUSE;
    f.refuse = &r;
    (void)s_send_to(hub, rid, rid_len, &f);
}

/* ---- HELLO (inside the drain's write txn) ---- */

static void
s_refuse_work(s_work *w, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void
s_refuse_work(s_work *w, int code, const char *fmt, ...)
{
    va_list ap;
    w->out = OUT_REFUSE;
    w->code = code;
    va_start(ap, fmt);
    vsnprintf(w->reason, sizeof w->reason, fmt, ap);
    va_end(ap);
}

static int
s_bind(sync_hub_t *hub, MDB_txn *txn, s_work *w, const sync_allow_entry_t *entry, const char *node)
{
    char kkey[48], nkey[SYNC_MAX_NAME + 4];
    MDB_val v;
    int rc;

    snprintf(kkey, sizeof kkey, "k:%s", w->key);
    snprintf(nkey, sizeof nkey, "n:%s", node);
    rc = koop_store_get_str(txn, hub->dbi_bind, kkey, &v);
    if (rc == 0 && (v.mv_size != strlen(node) || memcmp(v.mv_data, node, v.mv_size) != 0)) {
        s_refuse_work(w, KOOP__SYNC__CODE__CODE_DENIED, "ten klucz należy do węzła %.*s, nie do %s",
                      (int)(v.mv_size > 63 ? 63 : v.mv_size), (const char *)v.mv_data, node);
        return 0;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    rc = koop_store_get_str(txn, hub->dbi_bind, nkey, &v);
    if (rc == 0 && (v.mv_size != strlen(w->key) || memcmp(v.mv_data, w->key, v.mv_size) != 0)) {
        char old[48];
        MDB_val ok;
        if (!entry->node[0]) {
            s_refuse_work(w, KOOP__SYNC__CODE__CODE_DENIED,
                          "węzeł %s jest już związany z innym kluczem: odmowa", node);
            return 0;
        }
        /* the operator enrolled this certificate for this very node id: re-key */
        snprintf(old, sizeof old, "k:%.*s", (int)(v.mv_size > 40 ? 40 : v.mv_size), (const char *)v.mv_data);
        ok.mv_size = strlen(old);
        ok.mv_data = old;
        if ((rc = mdb_del(txn, hub->dbi_bind, &ok, NULL)) != 0 && rc != MDB_NOTFOUND)
            return rc;
        koop_warn("hub: węzeł %s ma nowy klucz (zapisany przez operatora)", node);
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    if ((rc = koop_store_put_str(txn, hub->dbi_bind, kkey, node, strlen(node))) != 0)
        return rc;
    return koop_store_put_str(txn, hub->dbi_bind, nkey, w->key, strlen(w->key));
}

static int
s_hello(sync_hub_t *hub, MDB_txn *txn, s_work *w)
{
    const Koop__Sync__Hello *h = w->f->hello;
    const sync_allow_entry_t *entry;
    sync_allow_entry_t e;
    int rc;

    if (!h->has_version || h->version != SYNC_VERSION) {
        s_refuse_work(w, KOOP__SYNC__CODE__CODE_VERSION, "nieobsługiwana wersja protokołu %u (hub: %d)",
                      h->version, SYNC_VERSION);
        return 0;
    }
    if (!sync_valid_name(h->node) || h->n_streams > SYNC_MAX_STREAMS) {
        s_refuse_work(w, KOOP__SYNC__CODE__CODE_MALFORMED, "nieprawidłowe HELLO");
        return 0;
    }
    entry = sync_allow_find(hub->allow, w->key);
    if (!entry) {
        s_refuse_work(w, KOOP__SYNC__CODE__CODE_DENIED, "klucz nie jest zapisany w hubie");
        return 0;
    }
    e = *entry; /* the allow-list may be reread below */
    if (e.node[0] && strcmp(e.node, h->node) != 0) {
        s_refuse_work(w, KOOP__SYNC__CODE__CODE_DENIED, "ten klucz zapisano dla węzła %s, nie %s", e.node,
                      h->node);
        return 0;
    }
    if (strcmp(h->node, hub->cfg->node_id) == 0) {
        s_refuse_work(w, KOOP__SYNC__CODE__CODE_DENIED, "węzeł podaje identyfikator huba");
        return 0;
    }
    if ((rc = s_bind(hub, txn, w, &e, h->node)) != 0 || w->out == OUT_REFUSE)
        return rc;

    w->npos = 0;
    for (size_t i = 0; i < h->n_streams; i++) {
        const Koop__Sync__StreamPos *p = h->streams[i];
        Koop__Sync__StreamPos *o = &w->pos[w->npos];
        s_stream_state st;
        int dup = 0, verdict = KOOP__SYNC__VERDICT__VERDICT_OK;

        if (!sync_valid_stream(p->stream))
            continue; /* cannot even name it back */
        for (size_t j = 0; j < w->npos; j++)
            dup |= strcmp(w->pos_stream[j], p->stream) == 0;
        if (dup)
            continue;
        koop__sync__stream_pos__init(o);
        snprintf(w->pos_stream[w->npos], sizeof w->pos_stream[0], "%s", p->stream);
        o->stream = w->pos_stream[w->npos];
        o->log_id = w->pos_log[w->npos];
        o->has_seq = o->has_verdict = o->has_epoch = 1;
        if (!sync_valid_name(p->log_id)) {
            o->verdict = KOOP__SYNC__VERDICT__VERDICT_BAD_STREAM;
            w->npos++;
            continue;
        }
        rc = s_state_get(txn, hub->dbi_streams, h->node, p->stream, &st);
        if (rc == MDB_NOTFOUND) {
            memset(&st, 0, sizeof st);
            st.epoch = 1;
            st.enrolled_at = e.enrolled_at;
            snprintf(st.log_id, sizeof st.log_id, "%s", p->log_id);
            if ((rc = s_state_put(txn, hub->dbi_streams, h->node, p->stream, &st)) != 0)
                return rc;
        } else if (rc != 0) {
            return rc;
        } else if (strcmp(st.log_id, p->log_id) != 0) {
            if (st.last_seq == 0) {
                /* nothing stored under the old identity: nothing to splice */
                snprintf(st.log_id, sizeof st.log_id, "%s", p->log_id);
                st.enrolled_at = e.enrolled_at;
            } else if (e.enrolled_at > st.enrolled_at) {
                koop_warn("hub: węzeł %s, strumień %s: nowa tożsamość dziennika %s po ponownym zapisaniu "
                          "węzła: nowa epoka %u (poprzednie %llu zdarzeń zostają)",
                          h->node, p->stream, p->log_id, st.epoch + 1, (unsigned long long)st.events);
                st.epoch++;
                st.last_seq = 0;
                st.events = 0;
                st.enrolled_at = e.enrolled_at;
                snprintf(st.log_id, sizeof st.log_id, "%s", p->log_id);
            } else {
                verdict = KOOP__SYNC__VERDICT__VERDICT_LOG_CHANGED;
                koop_warn("hub: węzeł %s, strumień %s: nowa tożsamość dziennika (%s, było %s) – odmowa do "
                          "czasu ponownego zapisania węzła (koopctl enrol)",
                          h->node, p->stream, p->log_id, st.log_id);
            }
            if (verdict == KOOP__SYNC__VERDICT__VERDICT_OK &&
                (rc = s_state_put(txn, hub->dbi_streams, h->node, p->stream, &st)) != 0)
                return rc;
        }
        o->verdict = (Koop__Sync__Verdict)verdict;
        /* the uplink matches a verdict by the log id it sent */
        snprintf(w->pos_log[w->npos], sizeof w->pos_log[0], "%s",
                 verdict == KOOP__SYNC__VERDICT__VERDICT_OK ? st.log_id : p->log_id);
        o->seq = st.last_seq;
        o->epoch = st.epoch;
        w->npos++;
    }
    w->out = OUT_WELCOME;
    return 0;
}

/* ---- BATCH (inside the drain's write txn) ---- */

static int
s_held(const sync_session_t *s, const char *stream)
{
    for (size_t i = 0; i < s->nheld; i++)
        if (strcmp(s->held[i], stream) == 0)
            return 1;
    return 0;
}

static int
s_batch(sync_hub_t *hub, MDB_txn *txn, s_work *w)
{
    const Koop__Sync__Batch *b = w->f->batch;
    sync_session_t *s = sync_sessions_by_key(hub->sessions, w->key);
    s_stream_state st;
    uint64_t chain, first_mseq = 0;
    size_t start = 0;
    int rc;

    w->batch_no = b->batch_no;
    snprintf(w->stream, sizeof w->stream, "%s", sync_valid_stream(b->stream) ? b->stream : "");
    if (!s || !s->ready || s->rid_len != w->rid_len || memcmp(s->rid, w->rid, w->rid_len) != 0) {
        s_refuse_work(w, KOOP__SYNC__CODE__CODE_NO_SESSION, "brak sesji: najpierw HELLO");
        return 0;
    }
    if (!w->stream[0] || b->n_items == 0 || b->n_items > SYNC_BATCH_MAX) {
        hub->malformed++;
        s_refuse_work(w, KOOP__SYNC__CODE__CODE_MALFORMED, "nieprawidłowa paczka");
        return 0;
    }
    if (s_held(s, w->stream)) {
        s_refuse_work(w, KOOP__SYNC__CODE__CODE_STREAM, "strumień %s wstrzymany (zob. WELCOME)", w->stream);
        return 0;
    }
    rc = s_state_get(txn, hub->dbi_streams, s->node, w->stream, &st);
    if (rc == MDB_NOTFOUND) {
        s_refuse_work(w, KOOP__SYNC__CODE__CODE_STREAM, "strumienia %s nie zgłoszono w HELLO", w->stream);
        return 0;
    }
    if (rc != 0)
        return rc;
    if (b->prev > st.last_seq) {
        w->out = OUT_REFUSE;
        w->code = KOOP__SYNC__CODE__CODE_GAP;
        w->seq = st.last_seq;
        snprintf(w->reason, sizeof w->reason, "luka: hub ma %llu, paczka zaczyna się po %llu",
                 (unsigned long long)st.last_seq, (unsigned long long)b->prev);
        return 0;
    }
    /* every event first, decoded in full (check.c): a refused batch keeps nothing */
    chain = b->prev;
    for (size_t i = 0; i < b->n_items; i++) {
        const Koop__Sync__Item *it = b->items[i];
        if (!it->has_seq || it->seq <= chain || !it->has_event || it->event.len == 0)
            goto malformed;
        rc = sync_check_event(hub->check, hub->cfg->node_id, it->event.data, it->event.len, s->node, w->stream,
                              it->seq, &w->why);
        if (rc < 0)
            return rc; /* out of memory: nothing is acknowledged, the uplink sends again */
        if (rc > 0)
            goto refused;
        chain = it->seq;
    }
    /* the node's SHARED chain must continue the head the hub holds (chain.c) */
    rc = sync_chain_check(txn, hub->store, s->node, w->stream, st.epoch, st.last_seq, st.log_id, b, w->reason,
                          sizeof w->reason);
    if (rc != 0 && rc != 1)
        return rc;
    if (rc == 1) {
        w->out = OUT_REFUSE;
        w->code = KOOP__SYNC__CODE__CODE_CHAIN;
        w->seq = st.last_seq;
        koop_warn("hub: węzeł %s, strumień %s: odrzucono paczkę %llu: %s", s->node, w->stream,
                  (unsigned long long)b->batch_no, w->reason);
        return 0;
    }
    /* overlap with what is stored: duplicates up to the stored position, which
     * must then be a point of the batch's chain (or beyond all of it) */
    if (st.last_seq > b->prev) {
        size_t i = 0;
        while (i < b->n_items && b->items[i]->seq < st.last_seq)
            i++;
        if (i < b->n_items && b->items[i]->seq != st.last_seq) {
            w->out = OUT_REFUSE;
            w->code = KOOP__SYNC__CODE__CODE_GAP;
            w->seq = st.last_seq;
            snprintf(w->reason, sizeof w->reason, "paczka nie pasuje do pozycji %llu",
                     (unsigned long long)st.last_seq);
            return 0;
        }
        start = i < b->n_items ? i + 1 : b->n_items;
    }
    /* the new events go to the merged log one after another: one index
     * entry says where this run of them begins */
    for (size_t i = start; i < b->n_items; i++) {
        const Koop__Sync__Item *it = b->items[i];
        uint64_t mseq;
        if ((rc = koop_log_appender_add(&hub->appender, "sync.event", KOOP__SCOPE__SCOPE_SHARED, "", it->event.data,
                                        it->event.len, &mseq)) != 0)
            return rc;
        if (i == start)
            first_mseq = mseq;
        st.events++;
        hub->drain_events++;
    }
    if (start < b->n_items) {
        unsigned char key[2 * SYNC_MAX_NAME + 24], val[INGEST_RUN];
        MDB_val k, v = {sizeof val, val};
        k.mv_size = s_ingest_key(key, sizeof key, s->node, w->stream, st.epoch, b->items[start]->seq);
        k.mv_data = key;
        koop_be64_put(val, first_mseq);
        koop_be64_put(val + 8, b->items[b->n_items - 1]->seq);
        koop_be64_put(val + 16, (uint64_t)(b->n_items - start));
        if ((rc = mdb_put(txn, hub->dbi_ingest, &k, &v, 0)) != 0)
            return rc;
    }
    if (start < b->n_items) {
        if ((rc = sync_chain_store(txn, hub->store, s->node, w->stream, st.epoch, st.last_seq, b)) != 0)
            return rc;
        st.last_seq = b->items[b->n_items - 1]->seq;
        st.stored_ms = koop_clock_real_ms();
        if ((rc = s_state_put(txn, hub->dbi_streams, s->node, w->stream, &st)) != 0)
            return rc;
    }
    w->out = OUT_ACK;
    w->seq = st.last_seq;
    return 0;
malformed:
    hub->malformed++;
    s_refuse_work(w, KOOP__SYNC__CODE__CODE_MALFORMED, "paczka bez numerów zdarzeń po kolei albo z pustym zdarzeniem");
    koop_warn("hub: węzeł %s, strumień %s: odrzucono paczkę %llu: %s", s->node, w->stream,
              (unsigned long long)b->batch_no, w->reason);
    return 0;
refused:
    /* nothing of the batch is kept; the uplink holds the stream at this event */
    {
        koop_error_t e;
        const char *args[SYNC_CHECK_ARGS + 1];
        for (size_t i = 0; i < w->why.nargs; i++)
            args[i] = w->why.args[i];
        args[w->why.nargs] = NULL;
        koop_error_set(&e, w->why.err, NULL, args);
        w->out = OUT_REFUSE;
        w->code = KOOP__SYNC__CODE__CODE_MALFORMED;
        w->refused_event = 1;
        koop_error_render(&e, KOOP_LANG_PL, NULL, w->reason, sizeof w->reason);
    }
    koop_warn("hub: węzeł %s, strumień %s: odrzucono całą paczkę %llu (%zu zdarzeń): %s", s->node, w->stream,
              (unsigned long long)b->batch_no, b->n_items, w->reason);
    return 0;
}

static int
s_drain_fn(MDB_txn *txn, void *ctx)
{
    sync_hub_t *hub = ctx;
    int rc;
    hub->drain_events = 0; /* this run of the txn (it may run again after a map resize) */
    if ((rc = koop_log_appender_begin(&hub->appender, hub->log, txn)) != 0) {
        koop_log_appender_end(&hub->appender);
        return rc;
    }
    for (size_t i = 0; i < hub->nwork && rc == 0; i++) {
        s_work *w = &hub->work[i];
        w->out = OUT_NONE;
        w->reason[0] = '\0';
        w->refused_event = 0;
        w->npos = 0;
        if (w->f->body_case == KOOP__SYNC__FRAME__BODY_HELLO)
            rc = s_hello(hub, txn, w);
        else
            rc = s_batch(hub, txn, w);
    }
    koop_log_appender_end(&hub->appender);
    return rc;
}

/* After the commit: install sessions, then answer. */
static void
s_install_session(sync_hub_t *hub, s_work *w)
{
    const Koop__Sync__Hello *h = w->f->hello;
    sync_session_t *s, *other = sync_sessions_by_node(hub->sessions, h->node);
    uint64_t now = koop_clock_mono_ms();

    /* another key's session for the same node (the node was re-keyed): it ends */
    if (other && strcmp(other->key, w->key) != 0)
        sync_sessions_remove(hub->sessions, other, s_snap_free);
    s = sync_sessions_add(hub->sessions, w->key);
    if (!s || sync_sessions_set_node(hub->sessions, s, h->node) != 0) {
        if (s && !s->node[0])
            sync_sessions_remove(hub->sessions, s, s_snap_free);
        s_refuse_work(w, KOOP__SYNC__CODE__CODE_INTERNAL, "brak pamięci w hubie: spróbuj ponownie");
        return;
    }
    memcpy(s->rid, w->rid, w->rid_len);
    s->rid_len = w->rid_len;
    s->ready = 1;
    s->last_rx_mono = now;
    s->last_contact_ms = s->hello_ms = koop_clock_real_ms();
    s->nheld = 0;
    for (size_t i = 0; i < w->npos; i++)
        if (w->pos[i].verdict != KOOP__SYNC__VERDICT__VERDICT_OK && s->nheld < SYNC_MAX_STREAMS)
            snprintf(s->held[s->nheld++], sizeof s->held[0], "%s", w->pos_stream[i]);
    snprintf(s->down_log_id, sizeof s->down_log_id, "%s",
             h->down_log_id && sync_valid_name(h->down_log_id) ? h->down_log_id : "");
    s->down_seq = h->down_seq;
    s->down_inflight = 0;
    s_snap_free(s);
    s->verify_due_mono = now + s_verify_delay(hub, s->node);
}

static void
s_answer(sync_hub_t *hub, s_work *w)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    switch (w->out) {
    case OUT_WELCOME: {
        Koop__Sync__Welcome wel = KOOP__SYNC__WELCOME__INIT;
        Koop__Sync__StreamPos *ptrs[SYNC_MAX_STREAMS];
        for (size_t i = 0; i < w->npos; i++)
            ptrs[i] = &w->pos[i];
        wel.hub = (char *)hub->cfg->node_id;
        wel.streams = ptrs;
        wel.n_streams = w->npos;
        wel.has_heartbeat_ms = wel.has_window = wel.has_batch_max = 1;
        wel.heartbeat_ms = SYNC_HEARTBEAT_MS;
        wel.window = SYNC_WINDOW;
        wel.batch_max = SYNC_BATCH_MAX;
        f.body_case = KOOP__SYNC__FRAME__BODY_WELCOME;
        f.welcome = &wel;
        (void)s_send_to(hub, w->rid, w->rid_len, &f);
        koop_info("hub: węzeł %s połączony (%zu strumień(e))", w->f->hello->node, w->npos);
        break;
    }
    case OUT_ACK: {
        Koop__Sync__Ack a = KOOP__SYNC__ACK__INIT;
        a.stream = w->stream;
        a.has_seq = a.has_batch_no = 1;
        a.seq = w->seq;
        a.batch_no = w->batch_no;
        f.body_case = KOOP__SYNC__FRAME__BODY_ACK;
        f.ack = &a;
        (void)s_send_to(hub, w->rid, w->rid_len, &f);
        break;
    }
    case OUT_REFUSE:
        if (w->f->body_case == KOOP__SYNC__FRAME__BODY_HELLO)
            koop_warn("hub: odmowa HELLO węzła %.63s: %s", w->f->hello->node ? w->f->hello->node : "?",
                      w->reason);
        s_send_refuse(hub, w->rid, w->rid_len, w->code, w->stream, w->seq, w->batch_no, w->reason,
                      w->refused_event ? &w->why : NULL);
        break;
    default:
        break;
    }
}

/* ---- the socket ---- */

static void
s_work_clear(sync_hub_t *hub)
{
    for (size_t i = 0; i < hub->nwork; i++) {
        if (hub->work[i].f)
            koop__sync__frame__free_unpacked(hub->work[i].f, NULL);
        hub->work[i].f = NULL;
    }
    hub->nwork = 0;
}

static void
s_on_down_ack(sync_hub_t *hub, sync_session_t *s, const Koop__Sync__DownAck *a)
{
    if (!s->down_inflight)
        return;
    s->down_inflight = 0;
    if (s->snap && ++s->snap_next < s->nsnap) {
        s_down_pump(hub, s);
        return;
    }
    s_snap_free(s);
    snprintf(s->down_log_id, sizeof s->down_log_id, "%s", a->log_id && sync_valid_name(a->log_id) ? a->log_id : "");
    s->down_seq = a->seq;
    s_down_pump(hub, s);
}

/* ---- sync verify (verify.c): digests, repairs, results, the daily ask ---- */

#define VERIFY_EVERY_MS (24ull * 3600 * 1000)
#define VERIFY_FIRST_MS (60ull * 1000)

/* How long until the node should be asked again: a day after its last
 * result, or soon after it connects when it has none as recent. */
static uint64_t
s_verify_delay(sync_hub_t *hub, const char *node)
{
    MDB_txn *txn;
    MDB_val v;
    uint64_t delay = VERIFY_FIRST_MS, now = koop_clock_real_ms();
    if (koop_store_read(hub->store, &txn) != 0)
        return delay;
    if (koop_store_get_str(txn, koop_store_dbi(hub->store, "hub_verify"), node, &v) == 0) {
        Koop__Sync__VerifyResult *r = koop__sync__verify_result__unpack(NULL, v.mv_size, v.mv_data);
        if (r && r->finished_ms && r->finished_ms + VERIFY_EVERY_MS > now)
            delay = r->finished_ms + VERIFY_EVERY_MS - now;
        if (r)
            koop__sync__verify_result__free_unpacked(r, NULL);
    }
    mdb_txn_abort(txn);
    return delay;
}

static int
s_send_verify_ask(sync_hub_t *hub, sync_session_t *s)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__VerifyAsk a = KOOP__SYNC__VERIFY_ASK__INIT;
    a.has_time_ms = 1;
    a.time_ms = koop_clock_real_ms();
    f.body_case = KOOP__SYNC__FRAME__BODY_VERIFY_ASK;
    f.verify_ask = &a;
    s->verify_due_mono = koop_clock_mono_ms() + VERIFY_EVERY_MS;
    return s_send_to(hub, s->rid, s->rid_len, &f);
}

size_t
sync_hub_verify_all(sync_hub_t *hub)
{
    uint64_t now = koop_clock_mono_ms();
    size_t n = 0;
    for (size_t i = 0; i < sync_sessions_count(hub->sessions); i++) {
        sync_session_t *s = sync_sessions_at(hub->sessions, i);
        if (s_session_live(s, now) && s_send_verify_ask(hub, s) == 0)
            n++;
    }
    return n;
}

typedef struct {
    sync_hub_t *hub;
    sync_session_t *s;
    const Koop__Sync__Frame *f;
    uint32_t put, same;
    int refused, refused_event;
    char reason[200];
} s_verify_ctx;

static int
s_verify_write_fn(MDB_txn *txn, void *ctx)
{
    s_verify_ctx *c = ctx;
    sync_hub_t *hub = c->hub;
    s_stream_state st;
    int rc;
    c->put = c->same = 0;
    c->refused = c->refused_event = 0;
    if (c->f->body_case == KOOP__SYNC__FRAME__BODY_VERIFY_RESULT) {
        const Koop__Sync__VerifyResult *r = c->f->verify_result;
        size_t len = koop__sync__verify_result__get_packed_size(r);
        MDB_val k = {strlen(c->s->node), c->s->node}, v = {len, NULL};
        if ((rc = mdb_put(txn, koop_store_dbi(hub->store, "hub_verify"), &k, &v, MDB_RESERVE)) != 0)
            return rc;
        koop__sync__verify_result__pack(r, v.mv_data);
        return 0;
    }
    if (!sync_valid_stream(c->f->repair->stream) ||
        (rc = s_state_get(txn, hub->dbi_streams, c->s->node, c->f->repair->stream, &st)) == MDB_NOTFOUND) {
        c->refused = 1;
        snprintf(c->reason, sizeof c->reason, "nieznany strumień");
        return 0;
    }
    if (rc != 0)
        return rc;
    rc = sync_verify_repair(txn, hub->store, hub->log, hub->check, hub->cfg->node_id, c->s->node, st.epoch,
                            st.last_seq, c->f->repair, &c->put, &c->same, &c->refused_event, c->reason,
                            sizeof c->reason);
    if (rc == 1) {
        c->refused = 1;
        return 0;
    }
    return rc;
}

static void
s_on_verify_frame(sync_hub_t *hub, sync_session_t *s, const Koop__Sync__Frame *f)
{
    s_verify_ctx c = {hub, s, f, 0, 0, 0, 0, ""};
    Koop__Sync__Frame out = KOOP__SYNC__FRAME__INIT;
    int rc;

    if (f->body_case == KOOP__SYNC__FRAME__BODY_DIGEST_ASK) {
        const Koop__Sync__DigestAsk *a = f->digest_ask;
        sync_digest_t *d = NULL;
        s_stream_state st;
        MDB_txn *txn;
        if (!sync_valid_stream(a->stream) || koop_store_read(hub->store, &txn) != 0)
            return;
        if (s_state_get(txn, hub->dbi_streams, s->node, a->stream, &st) == 0)
            d = sync_verify_digest(txn, hub->store, s->node, st.epoch, st.last_seq, a);
        mdb_txn_abort(txn);
        if (!d)
            return; /* the uplink's step times out and says so */
        out.body_case = KOOP__SYNC__FRAME__BODY_DIGEST;
        out.digest = (Koop__Sync__Digest *)sync_digest_msg(d);
        (void)s_send_to(hub, s->rid, s->rid_len, &out);
        sync_digest_free(&d);
        return;
    }
    rc = koop_store_write(hub->store, s_verify_write_fn, &c);
    if (f->body_case == KOOP__SYNC__FRAME__BODY_VERIFY_RESULT) {
        const Koop__Sync__VerifyResult *r = f->verify_result;
        if (rc != 0) {
            koop_error("hub: nie można zapisać wyniku sync verify węzła %s: %s", s->node, koop_strerror(rc));
            return;
        }
        hub->verify_results++;
        for (size_t i = 0; i < r->n_streams; i++) {
            hub->verify_differing += r->streams[i]->n_differing;
            hub->verify_repaired += r->streams[i]->repaired;
        }
        koop_info("hub: sync verify węzła %s: %s", s->node, r->state ? r->state : "?");
        return;
    }
    {
        Koop__Sync__Repaired rd = KOOP__SYNC__REPAIRED__INIT;
        rd.stream = f->repair->stream;
        rd.has_id = rd.has_stored = rd.has_same = 1;
        rd.id = f->repair->id;
        if (rc != 0) {
            koop_error("hub: naprawa strumienia %s węzła %s nie powiodła się: %s", f->repair->stream, s->node,
                       koop_strerror(rc));
            snprintf(c.reason, sizeof c.reason, "błąd zapisu w hubie");
            c.refused = 1;
            c.put = c.same = 0;
        } else if (c.refused_event) {
            /* an event of the repair failed the hub's check: counted as a batch's */
            hub->events_refused++;
            koop_service_note_refused(hub->sync->svc, 1);
            s->refused++;
            snprintf(s->last_refusal, sizeof s->last_refusal, "%s", c.reason);
            koop_warn("hub: sync verify węzła %s, strumień %s: %s", s->node, f->repair->stream, c.reason);
        } else if (c.put) {
            koop_warn("hub: sync verify węzła %s, strumień %s: przywrócono %u zdarzeń kopii", s->node,
                      f->repair->stream, c.put);
            koop_service_events_committed(hub->sync->svc);
        }
        rd.stored = c.put;
        rd.same = c.same;
        rd.refused = c.refused ? c.reason : NULL;
        out.body_case = KOOP__SYNC__FRAME__BODY_REPAIRED;
        out.repaired = &rd;
        (void)s_send_to(hub, s->rid, s->rid_len, &out);
    }
}

/* Takes one message of connection rid (authenticated as key uid): queues
 * HELLO/BATCH as work, answers the rest. */
static void
s_take(sync_hub_t *hub, const uint8_t *rid, size_t rid_len, const char *uid, const uint8_t *data, size_t len)
{
    Koop__Sync__Frame *f = koop__sync__frame__unpack(NULL, len, data);
    sync_session_t *s;

    if (!f) {
        hub->malformed++;
        s_send_refuse(hub, rid, rid_len, KOOP__SYNC__CODE__CODE_MALFORMED, NULL, 0, 0, "nieczytelna wiadomość", NULL);
        return;
    }
    s = sync_sessions_by_key(hub->sessions, uid);
    if (s && s->ready && s->rid_len == rid_len && memcmp(s->rid, rid, s->rid_len) == 0) {
        s->last_rx_mono = koop_clock_mono_ms();
        s->last_contact_ms = koop_clock_real_ms();
    } else {
        s = NULL;
    }
    switch (f->body_case) {
    case KOOP__SYNC__FRAME__BODY_HELLO:
    case KOOP__SYNC__FRAME__BODY_BATCH: {
        s_work *w = &hub->work[hub->nwork++];
        memcpy(w->rid, rid, rid_len);
        w->rid_len = rid_len;
        snprintf(w->key, sizeof w->key, "%s", uid);
        w->f = f;
        w->stream[0] = '\0';
        w->seq = w->batch_no = 0;
        f = NULL;
        break;
    }
    case KOOP__SYNC__FRAME__BODY_PING:
        if (!s) {
            s_send_refuse(hub, rid, rid_len, KOOP__SYNC__CODE__CODE_NO_SESSION, NULL, 0, 0,
                          "brak sesji: najpierw HELLO", NULL);
        } else {
            Koop__Sync__Frame pf = KOOP__SYNC__FRAME__INIT;
            Koop__Sync__Pong p = KOOP__SYNC__PONG__INIT;
            p.has_time_ms = 1;
            p.time_ms = f->ping->time_ms;
            pf.body_case = KOOP__SYNC__FRAME__BODY_PONG;
            pf.pong = &p;
            (void)s_send_to(hub, s->rid, s->rid_len, &pf);
        }
        break;
    case KOOP__SYNC__FRAME__BODY_DIGEST_ASK:
    case KOOP__SYNC__FRAME__BODY_REPAIR:
    case KOOP__SYNC__FRAME__BODY_VERIFY_RESULT:
        /* sync verify (verify.c) */
        if (s)
            s_on_verify_frame(hub, s, f);
        else
            s_send_refuse(hub, rid, rid_len, KOOP__SYNC__CODE__CODE_NO_SESSION, NULL, 0, 0,
                          "brak sesji: najpierw HELLO", NULL);
        break;
    case KOOP__SYNC__FRAME__BODY_DOWN_ACK:
        if (s)
            s_on_down_ack(hub, s, f->down_ack);
        else
            s_send_refuse(hub, rid, rid_len, KOOP__SYNC__CODE__CODE_NO_SESSION, NULL, 0, 0,
                          "brak sesji: najpierw HELLO", NULL);
        break;
    case KOOP__SYNC__FRAME__BODY_RELAY:
    case KOOP__SYNC__FRAME__BODY_RELAY_ACK:
    case KOOP__SYNC__FRAME__BODY_PEERS:
        /* transfers between gminas (transfer.c) */
        if (s)
            sync_relay_frame(hub->sync->relay, s->node, f);
        else
            s_send_refuse(hub, rid, rid_len, KOOP__SYNC__CODE__CODE_NO_SESSION, NULL, 0, 0,
                          "brak sesji: najpierw HELLO", NULL);
        break;
    default:
        /* frames only a hub sends, or an empty one */
        hub->malformed++;
        s_send_refuse(hub, rid, rid_len, KOOP__SYNC__CODE__CODE_MALFORMED, NULL, 0, 0, "nieoczekiwana wiadomość", NULL);
        break;
    }
    if (f)
        koop__sync__frame__free_unpacked(f, NULL);
}


/* Receives one message; queues HELLO/BATCH as work, answers the rest.
 * Returns 0 when there was a message, -1 when none. */
static int
s_recv_one(sync_hub_t *hub)
{
    zmq_msg_t rid, body;
    int more = 0;
    size_t ml = sizeof more;
    const char *uid;

    zmq_msg_init(&rid);
    if (zmq_msg_recv(&rid, hub->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rid);
        return -1;
    }
    zmq_getsockopt(hub->sock, ZMQ_RCVMORE, &more, &ml);
    if (!more || zmq_msg_size(&rid) == 0 || zmq_msg_size(&rid) > SYNC_RID_MAX) {
        hub->malformed++;
        while (more) {
            zmq_msg_t x;
            zmq_msg_init(&x);
            zmq_msg_recv(&x, hub->sock, 0);
            zmq_msg_close(&x);
            zmq_getsockopt(hub->sock, ZMQ_RCVMORE, &more, &ml);
        }
        zmq_msg_close(&rid);
        return 0;
    }
    zmq_msg_init(&body);
    zmq_msg_recv(&body, hub->sock, 0);
    zmq_getsockopt(hub->sock, ZMQ_RCVMORE, &more, &ml);
    if (more) {
        /* one frame per message: drain the rest, drop, count */
        while (more) {
            zmq_msg_t x;
            zmq_msg_init(&x);
            zmq_msg_recv(&x, hub->sock, 0);
            zmq_msg_close(&x);
            zmq_getsockopt(hub->sock, ZMQ_RCVMORE, &more, &ml);
        }
        hub->malformed++;
        s_send_refuse(hub, zmq_msg_data(&rid), zmq_msg_size(&rid), KOOP__SYNC__CODE__CODE_MALFORMED, NULL, 0, 0,
                      "jedna ramka na wiadomość", NULL);
        goto done;
    }
    uid = zmq_msg_gets(&body, "User-Id");
    if (!uid || strlen(uid) != 40) {
        /* not authenticated by our ZAP handler: never take anything from it */
        hub->malformed++;
        goto done;
    }
    s_take(hub, zmq_msg_data(&rid), zmq_msg_size(&rid), uid, zmq_msg_data(&body), zmq_msg_size(&body));

done:
    zmq_msg_close(&body);
    zmq_msg_close(&rid);
    return 0;
}

/* A batch refused for an event, counted once its drain ended (a drain's
 * transaction may run twice). */
static void
s_count_refusal(sync_hub_t *hub, const s_work *w)
{
    sync_session_t *s = sync_sessions_by_key(hub->sessions, w->key);
    hub->events_refused++;
    koop_service_note_refused(hub->sync->svc, 1);
    if (s) {
        s->refused++;
        snprintf(s->last_refusal, sizeof s->last_refusal, "%s", w->reason);
    }
}

static void
s_process_work(sync_hub_t *hub)
{
    uint64_t t0 = koop_clock_mono_us();
    int rc;
    if (hub->nwork == 0)
        return;
    rc = koop_store_write(hub->store, s_drain_fn, hub);
    koop_debug("hub: %zu wiadomości, %llu zdarzeń zapisanych w %.1f ms", hub->nwork,
               (unsigned long long)hub->drain_events, (double)(koop_clock_mono_us() - t0) / 1000.0);
    if (rc != 0) {
        koop_error("hub: zapis %zu wiadomości nie powiódł się: %s – nic nie potwierdzono", hub->nwork,
                   koop_strerror(rc));
        for (size_t i = 0; i < hub->nwork; i++) {
            s_work *w = &hub->work[i];
            w->out = OUT_REFUSE;
            w->code = KOOP__SYNC__CODE__CODE_INTERNAL;
            w->refused_event = 0;
            snprintf(w->reason, sizeof w->reason, "błąd zapisu w hubie: %s", koop_strerror(rc));
        }
    }
    for (size_t i = 0; i < hub->nwork; i++) {
        s_work *w = &hub->work[i];
        if (rc == 0 && w->out == OUT_WELCOME)
            s_install_session(hub, w);
        if (w->refused_event)
            s_count_refusal(hub, w);
        s_answer(hub, w);
    }
    if (rc == 0) {
        if (hub->drain_events) {
            hub->ingest_commits++;
            hub->ingest_events += hub->drain_events;
            hub->ingest_us += koop_clock_mono_us() - t0;
        }
        koop_service_events_committed(hub->sync->svc);
        for (size_t i = 0; i < hub->nwork; i++)
            if (hub->work[i].out == OUT_WELCOME) {
                sync_session_t *s = sync_sessions_by_key(hub->sessions, hub->work[i].key);
                if (s)
                    s_down_pump(hub, s);
                if (s && s->ready)
                    sync_relay_link_ready(hub->sync->relay, s->node);
            }
    }
    s_work_clear(hub);
}

static void
s_on_readable(koop_zwatch_t *w)
{
    sync_hub_t *hub = w->zw_data;
    while (hub->sock && koop_zwatch_readable(w)) {
        while (hub->nwork < DRAIN_MAX && s_recv_one(hub) == 0)
            ;
        s_process_work(hub);
    }
}

/* ---- down-flow: the hub's registry log -> down_log / down_rec ---- */

/* The kinds of record that go down: the SHARED records of a registry. */
static const ProtobufCMessageDescriptor *const s_kinds[] = {
    &koop__reg__institution__descriptor, &koop__reg__agreement__descriptor, &koop__reg__pzk__descriptor,
    &koop__reg__catalogue_entry__descriptor,
};

/* The record of a registry event that may go down: decoded by its type
 * (events.def), a SHARED registry record whose owner is the node that
 * wrote the event. Returns 1 with its id and owner, 0 when it is not one. */
static int
s_record(const Koop__Event *ev, char id[KOOP_ID_LEN], char owner[SYNC_MAX_NAME + 1])
{
    const koop_event_type_t *t;
    ProtobufCMessage *m;
    const char *rid, *own;
    int ok = 0;
    if (koop_event_decode(ev, &t, &m) != 0)
        return 0;
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_kinds) && !ok; i++)
        ok = t->payload == s_kinds[i] && t->scope == KOOP__SCOPE__SCOPE_SHARED;
    rid = ok ? koop_record_str(m, "id") : NULL;
    own = ok ? koop_record_str(m, "owner") : NULL;
    ok = rid && koop_id_valid(rid) && own && sync_valid_name(own) && ev->node && strcmp(own, ev->node) == 0;
    if (ok) {
        memcpy(id, rid, KOOP_ID_LEN); /* 36 chars + NUL */
        snprintf(owner, SYNC_MAX_NAME + 1, "%s", own);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return ok;
}

/* The owner of the record whose latest event in down_log is the entry of
 * down_rec for id ("" when there is none). */
static int
s_down_owner(sync_hub_t *hub, MDB_txn *txn, const char *id, char owner[SYNC_MAX_NAME + 1])
{
    MDB_val rk = {strlen(id), (void *)id}, rv, v;
    Koop__Event *ev;
    char rid[KOOP_ID_LEN];
    int rc;
    owner[0] = '\0';
    if ((rc = mdb_get(txn, hub->dbi_down_rec, &rk, &rv)) != 0 || rv.mv_size != 8)
        return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
    if ((rc = mdb_get(txn, hub->dbi_down_log, &rv, &v)) != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    if ((ev = koop__event__unpack(NULL, v.mv_size, v.mv_data)) != NULL) {
        if (!s_record(ev, rid, owner))
            owner[0] = '\0';
        koop__event__free_unpacked(ev, NULL);
    }
    return 0;
}

typedef struct {
    sync_hub_t *hub;
    Koop__FeedBatch *b;
    int reset;                /* the registry's log changed: start a new down log */
    char new_log_id[KOOP_ID_LEN];
    uint64_t cursor, last;
    uint64_t out;             /* record events kept out of the down-flow */
} s_down_ctx;

static int
s_drop_table(MDB_txn *txn, MDB_dbi dbi)
{
    return mdb_drop(txn, dbi, 0);
}

static int
s_down_apply_fn(MDB_txn *txn, void *ctx)
{
    s_down_ctx *d = ctx;
    sync_hub_t *hub = d->hub;
    const char *self = hub->cfg->node_id;
    uint64_t cursor = hub->down_cursor, last = hub->down_last;
    int rc;

    d->out = 0;
    if (d->reset) {
        if ((rc = s_drop_table(txn, hub->dbi_down_log)) != 0 || (rc = s_drop_table(txn, hub->dbi_down_rec)) != 0)
            return rc;
        if ((rc = koop_store_put_str(txn, hub->dbi_meta, "down_log_id", d->new_log_id, strlen(d->new_log_id))) != 0)
            return rc;
        cursor = last = 0;
    }
    /* after a reset the batch belongs to the old cursor: fetched again from 0 */
    for (size_t i = 0; !d->reset && i < d->b->n_events; i++) {
        const ProtobufCBinaryData *raw = &d->b->events[i];
        Koop__Event *ev = koop__event__unpack(NULL, raw->len, raw->data), *inner = NULL;
        const uint8_t *bytes = NULL;
        size_t len = 0;
        char id[KOOP_ID_LEN], owner[SYNC_MAX_NAME + 1];
        int out = 0;
        if (!ev) {
            /* never decodable: moved past when its position is given */
            if (i >= d->b->n_seqs || d->b->seqs[i] <= cursor)
                return MDB_CORRUPTED;
            koop_warn("hub: zdarzenie %llu rejestru huba jest nieczytelne: pominięte",
                      (unsigned long long)d->b->seqs[i]);
            cursor = d->b->seqs[i];
            continue;
        }
        if (ev->seq <= cursor) {
            koop__event__free_unpacked(ev, NULL);
            continue;
        }
        cursor = ev->seq;
        /* only what is the hub's to send goes down: its own records, and
         * records of the hubs above that its registry took (remote.*); a
         * record keeps its one owner */
        if (ev->scope == KOOP__SCOPE__SCOPE_SHARED && s_record(ev, id, owner)) {
            bytes = raw->data; /* this hub's own record */
            len = raw->len;
            out = strcmp(owner, self) != 0;
        } else if (ev->scope == KOOP__SCOPE__SCOPE_LOCAL && ev->type && strncmp(ev->type, "remote.", 7) == 0) {
            /* a record from the hub above: forward its envelope as it came */
            inner = koop__event__unpack(NULL, ev->payload.len, ev->payload.data);
            if (inner && s_record(inner, id, owner)) {
                bytes = ev->payload.data;
                len = ev->payload.len;
                out = strcmp(owner, self) == 0;
            } else {
                out = 1;
            }
        } else if (ev->scope == KOOP__SCOPE__SCOPE_SHARED) {
            const koop_event_type_t *t = koop_event_type(ev->type);
            /* a SHARED record event that is not a proper record of this hub */
            for (size_t k = 0; t && k < KOOP_ARRAY_LEN(s_kinds); k++)
                out |= t->payload == s_kinds[k];
        }
        if (bytes && !out) {
            char was[SYNC_MAX_NAME + 1];
            if ((rc = s_down_owner(hub, txn, id, was)) != 0) {
                if (inner)
                    koop__event__free_unpacked(inner, NULL);
                koop__event__free_unpacked(ev, NULL);
                return rc;
            }
            out = was[0] && strcmp(was, owner) != 0;
        }
        if (out) {
            koop_warn("hub: zdarzenie %llu rejestru huba (%.60s) nie idzie w dół: rekord nie jest huba %s ani "
                      "huba nad nim albo zmieniłby właściciela", (unsigned long long)ev->seq, ev->type ? ev->type : "?",
                      self);
            d->out++;
            bytes = NULL;
        }
        if (bytes) {
            unsigned char key[8];
            MDB_val k = {8, key}, v = {len, (void *)bytes}, rk = {strlen(id), id}, rv = {8, key};
            koop_be64_put(key, ev->seq);
            if ((rc = mdb_put(txn, hub->dbi_down_log, &k, &v, MDB_APPEND)) != 0 ||
                (rc = mdb_put(txn, hub->dbi_down_rec, &rk, &rv, 0)) != 0) {
                if (inner)
                    koop__event__free_unpacked(inner, NULL);
                koop__event__free_unpacked(ev, NULL);
                return rc;
            }
            last = ev->seq;
        }
        if (inner)
            koop__event__free_unpacked(inner, NULL);
        koop__event__free_unpacked(ev, NULL);
    }
    if ((rc = sync_pos_put(txn, hub->dbi_meta, "down_cursor", cursor,
                           d->b->log_id ? d->b->log_id : "")) != 0)
        return rc;
    d->cursor = cursor;
    d->last = last;
    return 0;
}

static void s_down_fetch(sync_hub_t *hub);

static void
s_on_down_fetch(void *ctx, int status, const char *error, const uint8_t *payload, size_t len)
{
    sync_hub_t *hub = ctx;
    s_down_ctx d = {hub, NULL, 0, "", 0, 0, 0};
    int rc;

    if (status != KOOP_OK) {
        if (status != -ETIMEDOUT)
            koop_warn("hub: rejestr nie odpowiada (%s): dane w dół później", error ? error : "?");
        return; /* the tick asks again */
    }
    d.b = koop__feed_batch__unpack(NULL, len, payload);
    if (!d.b)
        return;
    if (d.b->log_id && sync_valid_name(d.b->log_id) && hub->down_src_log[0] &&
        strcmp(d.b->log_id, hub->down_src_log) != 0) {
        koop_warn("hub: dziennik rejestru huba ma nową tożsamość (%s, było %s): nowy dziennik danych w dół, "
                  "gminy dostaną pełną migawkę", d.b->log_id, hub->down_src_log);
        d.reset = 1;
        if (koop_id_new(d.new_log_id) != 0)
            goto done;
        hub->down_cursor = 0;
        hub->down_last = 0;
        snprintf(hub->down_src_log, sizeof hub->down_src_log, "%s", d.b->log_id);
    }
    if (d.b->n_events == 0 && !d.reset)
        goto again;
    rc = koop_store_write(hub->store, s_down_apply_fn, &d);
    if (rc != 0) {
        koop_error("hub: nie można zapisać danych w dół: %s", koop_strerror(rc));
        goto done;
    }
    if (d.reset) {
        snprintf(hub->down_log_id, sizeof hub->down_log_id, "%s", d.new_log_id);
        for (size_t i = 0; i < sync_sessions_count(hub->sessions); i++) {
            sync_session_t *s = sync_sessions_at(hub->sessions, i);
            s->down_inflight = 0;
            s_snap_free(s);
        }
    }
    hub->down_cursor = d.cursor;
    hub->down_out += d.out;
    koop_service_note_refused(hub->sync->svc, d.out);
    if (d.b->log_id && sync_valid_name(d.b->log_id))
        snprintf(hub->down_src_log, sizeof hub->down_src_log, "%s", d.b->log_id);
    if (d.last != hub->down_last) {
        hub->down_last = d.last;
        for (size_t i = 0; i < sync_sessions_count(hub->sessions); i++)
            s_down_pump(hub, sync_sessions_at(hub->sessions, i));
    }
again:
    koop__feed_batch__free_unpacked(d.b, NULL);
    s_down_fetch(hub);
    return;
done:
    koop__feed_batch__free_unpacked(d.b, NULL);
}

static void
s_down_fetch(sync_hub_t *hub)
{
    Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
    if (!hub->down_reader || sync_local_busy(hub->down_reader))
        return;
    q.stream = "registry";
    q.has_after_seq = q.has_max = q.has_wait_ms = 1;
    q.after_seq = hub->down_cursor;
    q.max = 1000;
    q.wait_ms = 1000;
    (void)sync_local_call(hub->down_reader, "feed.fetch", &q.base, 6000, s_on_down_fetch, hub);
}

/* ---- down-flow: to one node ---- */

static int
s_seq_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Packs one Down of items[from..to) into the snapshot list. */
static int
s_snap_add(sync_session_t *s, const char *log_id, Koop__Sync__Item **items, size_t n, uint64_t to_seq)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Down d = KOOP__SYNC__DOWN__INIT;
    uint8_t **snap = realloc(s->snap, (s->nsnap + 1) * sizeof *snap);
    size_t *lens;
    if (!snap)
        return -ENOMEM;
    s->snap = snap;
    lens = realloc(s->snap_len, (s->nsnap + 1) * sizeof *lens);
    if (!lens)
        return -ENOMEM;
    s->snap_len = lens;
    d.log_id = (char *)log_id;
    d.has_from_seq = d.has_to_seq = 1;
    d.from_seq = 0;
    d.to_seq = to_seq;
    d.items = items;
    d.n_items = n;
    f.body_case = KOOP__SYNC__FRAME__BODY_DOWN;
    f.down = &d;
    if (sync_frame_pack(&f, &s->snap[s->nsnap], &s->snap_len[s->nsnap]) != 0)
        return -ENOMEM;
    s->nsnap++;
    return 0;
}

/* Builds the snapshot for s: every record's latest event, in log order. */
static int
s_snap_build(sync_hub_t *hub, sync_session_t *s)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t *seqs = NULL, last = 0;
    size_t n = 0, cap = 0, i = 0;
    Koop__Sync__Item *items = NULL, **ptrs = NULL;
    int rc;

    if ((rc = koop_store_read(hub->store, &txn)) != 0)
        goto fail;
    if ((rc = mdb_cursor_open(txn, hub->dbi_down_rec, &cur)) != 0)
        goto fail;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        if (v.mv_size != 8)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            uint64_t *g = realloc(seqs, ncap * sizeof *g);
            if (!g) {
                rc = ENOMEM;
                goto fail;
            }
            seqs = g;
            cap = ncap;
        }
        seqs[n++] = koop_be64_get(v.mv_data);
    }
    mdb_cursor_close(cur);
    cur = NULL;
    if (rc != MDB_NOTFOUND)
        goto fail;
    qsort(seqs, n, sizeof *seqs, s_seq_cmp);
    {
        MDB_cursor *c2;
        if ((rc = mdb_cursor_open(txn, hub->dbi_down_log, &c2)) != 0)
            goto fail;
        rc = mdb_cursor_get(c2, &k, &v, MDB_LAST);
        if (rc == 0 && k.mv_size == 8)
            last = koop_be64_get(k.mv_data);
        mdb_cursor_close(c2);
    }
    items = calloc(SYNC_DOWN_MAX, sizeof *items);
    ptrs = calloc(SYNC_DOWN_MAX, sizeof *ptrs);
    if (!items || !ptrs) {
        rc = ENOMEM;
        goto fail;
    }
    s_snap_free(s);
    while (i < n || s->nsnap == 0) {
        size_t m = 0, bytes = 0;
        while (i < n && m < SYNC_DOWN_MAX && bytes < DOWN_BYTES) {
            unsigned char key[8];
            MDB_val dk = {8, key};
            koop_be64_put(key, seqs[i]);
            if ((rc = mdb_get(txn, hub->dbi_down_log, &dk, &v)) == 0) {
                koop__sync__item__init(&items[m]);
                items[m].has_seq = items[m].has_event = 1;
                items[m].seq = seqs[i];
                items[m].event.data = v.mv_data; /* valid while txn lives */
                items[m].event.len = v.mv_size;
                ptrs[m] = &items[m];
                bytes += v.mv_size;
                m++;
            } else if (rc != MDB_NOTFOUND) {
                goto fail;
            }
            i++;
        }
        if ((rc = s_snap_add(s, hub->down_log_id, ptrs, m, i >= n ? last : 0)) != 0) {
            rc = ENOMEM;
            goto fail;
        }
    }
    rc = 0;
fail:
    if (rc != 0) {
        koop_error("hub: nie można przygotować migawki dla %s: %s", s->node, koop_strerror(rc));
        s_snap_free(s);
    }
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    free(seqs);
    free(items);
    free(ptrs);
    return rc;
}

/* Sends the updates after s->down_seq. */
static int
s_down_updates(sync_hub_t *hub, sync_session_t *s)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Down d = KOOP__SYNC__DOWN__INIT;
    Koop__Sync__Item items[SYNC_DOWN_MAX], *ptrs[SYNC_DOWN_MAX];
    MDB_txn *txn;
    MDB_cursor *cur;
    unsigned char key[8];
    MDB_val k = {8, key}, v;
    size_t n = 0, bytes = 0;
    uint64_t to = s->down_seq;
    int rc;

    if ((rc = koop_store_read(hub->store, &txn)) != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, hub->dbi_down_log, &cur)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    koop_be64_put(key, s->down_seq + 1);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && n < SYNC_DOWN_MAX && bytes < DOWN_BYTES && k.mv_size == 8) {
        koop__sync__item__init(&items[n]);
        items[n].has_seq = items[n].has_event = 1;
        items[n].seq = koop_be64_get(k.mv_data);
        items[n].event.data = v.mv_data;
        items[n].event.len = v.mv_size;
        ptrs[n] = &items[n];
        to = items[n].seq;
        bytes += v.mv_size;
        n++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (n > 0) {
        d.log_id = hub->down_log_id;
        d.has_from_seq = d.has_to_seq = 1;
        d.from_seq = s->down_seq;
        d.to_seq = to;
        d.items = ptrs;
        d.n_items = n;
        f.body_case = KOOP__SYNC__FRAME__BODY_DOWN;
        f.down = &d;
        if (s_send_to(hub, s->rid, s->rid_len, &f) == 0) {
            s->down_inflight = 1;
            s->down_sent_mono = koop_clock_mono_ms();
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return 0;
}

static void
s_down_pump(sync_hub_t *hub, sync_session_t *s)
{
    if (!s->ready || s->down_inflight || hub->down_last == 0 || !hub->sock)
        return;
    if (!s->snap && (strcmp(s->down_log_id, hub->down_log_id) != 0 || s->down_seq > hub->down_last)) {
        if (s_snap_build(hub, s) != 0)
            return;
        koop_info("hub: węzeł %s dostaje migawkę danych huba (%zu część(i))", s->node, s->nsnap);
    }
    if (s->snap) {
        if (zmq_send(hub->sock, s->rid, s->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(hub->sock, s->snap[s->snap_next], s->snap_len[s->snap_next], ZMQ_DONTWAIT) < 0) {
            hub->unsent++;
            return; /* tried again on the tick */
        }
        s->down_inflight = 1;
        s->down_sent_mono = koop_clock_mono_ms();
        return;
    }
    if (s->down_seq < hub->down_last)
        (void)s_down_updates(hub, s);
}

/* ---- tick ---- */

/* After the allow-list changed: a key that is no longer enrolled loses its
 * session at once (its next message gets NO_SESSION, its next HELLO DENIED). */
static void
s_sweep_unenrolled(sync_hub_t *hub)
{
    unsigned gen = sync_allow_generation(hub->allow);
    if (gen == hub->allow_gen)
        return;
    hub->allow_gen = gen;
    for (size_t i = sync_sessions_count(hub->sessions); i > 0; i--) {
        sync_session_t *s = sync_sessions_at(hub->sessions, i - 1);
        if (sync_allow_find(hub->allow, s->key))
            continue;
        koop_warn("hub: klucz węzła %s nie jest już zapisany w hubie: sesja zamknięta", s->node);
        sync_sessions_remove(hub->sessions, s, s_snap_free);
    }
}

static void
s_on_tick(uv_timer_t *t)
{
    sync_hub_t *hub = t->data;
    uint64_t now = koop_clock_mono_ms();
    if (hub->allow && now >= hub->allow_checked_mono + ALLOW_CHECK_MS) {
        hub->allow_checked_mono = now;
        s_sweep_unenrolled(hub);
    }
    for (size_t i = 0; i < sync_sessions_count(hub->sessions); i++) {
        sync_session_t *s = sync_sessions_at(hub->sessions, i);
        if (!s->ready)
            continue;
        if (s->down_inflight && now - s->down_sent_mono > SYNC_DOWN_STALL_MS) {
            s->down_inflight = 0;
            s_snap_free(s); /* start the snapshot again if one was going */
        }
        if (s_session_live(s, now))
            s_down_pump(hub, s);
        if (s_session_live(s, now) && now >= s->verify_due_mono)
            (void)s_send_verify_ask(hub, s); /* the daily sync verify */
    }
    s_down_fetch(hub);
}

/* ---- start / stop ---- */

static int
s_load_meta_fn(MDB_txn *txn, void *ctx)
{
    sync_hub_t *hub = ctx;
    MDB_val v, k, dv;
    MDB_cursor *cur;
    int rc = koop_store_get_str(txn, hub->dbi_meta, "down_log_id", &v);
    if (rc == 0 && v.mv_size > 0 && v.mv_size <= SYNC_MAX_NAME) {
        memcpy(hub->down_log_id, v.mv_data, v.mv_size);
        hub->down_log_id[v.mv_size] = '\0';
    } else if (rc == 0 || rc == MDB_NOTFOUND) {
        if (koop_id_new(hub->down_log_id) != 0)
            return EIO;
        if ((rc = koop_store_put_str(txn, hub->dbi_meta, "down_log_id", hub->down_log_id,
                                     strlen(hub->down_log_id))) != 0)
            return rc;
    } else {
        return rc;
    }
    rc = koop_store_get_str(txn, hub->dbi_meta, "down_cursor", &v);
    if (rc == 0)
        rc = sync_pos_decode(&v, &hub->down_cursor, hub->down_src_log, sizeof hub->down_src_log);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if ((rc = mdb_cursor_open(txn, hub->dbi_down_log, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &dv, MDB_LAST);
    if (rc == 0 && k.mv_size == 8)
        hub->down_last = koop_be64_get(k.mv_data);
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* The hub's state over the service's store, without anything on the network. */
static sync_hub_t *
s_hub_new(sync_t *sync)
{
    sync_hub_t *hub = calloc(1, sizeof *hub);
    const koop_config_t *cfg = koop_service_config(sync->svc);
    int rc;

    if (!hub)
        return NULL;
    hub->sync = sync;
    hub->cfg = cfg;
    hub->store = koop_service_store(sync->svc);
    hub->log = koop_service_log(sync->svc);
    hub->loop = koop_service_loop(sync->svc);
    hub->zctx = koop_service_zctx(sync->svc);
    hub->dbi_streams = koop_store_dbi(hub->store, "hub_streams");
    hub->dbi_ingest = koop_store_dbi(hub->store, "hub_ingest");
    hub->dbi_bind = koop_store_dbi(hub->store, "hub_bind");
    hub->dbi_meta = koop_store_dbi(hub->store, "hub_meta");
    hub->dbi_down_log = koop_store_dbi(hub->store, "down_log");
    hub->dbi_down_rec = koop_store_dbi(hub->store, "down_rec");
    hub->sessions = sync_sessions_new();
    hub->work = calloc(DRAIN_MAX, sizeof *hub->work);
    hub->tick = calloc(1, sizeof *hub->tick);
    hub->check = sync_check_new();
    if (!hub->sessions || !hub->work || !hub->tick || !hub->check)
        goto fail;
    if ((rc = koop_store_write(hub->store, s_load_meta_fn, hub)) != 0) {
        koop_error("hub: nie można odczytać stanu: %s", koop_strerror(rc));
        goto fail;
    }
    return hub;
fail:
    sync_hub_stop(&hub);
    return NULL;
}

sync_hub_t *
sync_hub_open(sync_t *sync)
{
    sync_hub_t *hub = s_hub_new(sync);
    char path[PATH_MAX + 32];
    if (!hub)
        return NULL;
    snprintf(path, sizeof path, "%s/keys/enrolled", hub->cfg->dir);
    if (!(hub->allow = sync_allow_new(path)))
        sync_hub_stop(&hub);
    return hub;
}

void
sync_hub_take(sync_hub_t *hub, const char *key, const uint8_t *rid, size_t rid_len, const uint8_t *msg, size_t len)
{
    s_take(hub, rid, rid_len, key, msg, len);
    s_process_work(hub);
}

sync_hub_t *
sync_hub_start(sync_t *sync)
{
    sync_hub_t *hub = s_hub_new(sync);
    const koop_config_t *cfg;
    char path[PATH_MAX + 32], err[300];
    int one = 1, backlog = LISTEN_BACKLOG;

    if (!hub)
        return NULL;
    cfg = hub->cfg;
    uv_timer_init(hub->loop, hub->tick);
    hub->tick->data = hub;
    uv_timer_start(hub->tick, s_on_tick, TICK_MS, TICK_MS);
    hub->down_reader = sync_local_new(koop_service_client(hub->sync->svc), koop_config_endpoint(cfg, "registry"));
    if (!hub->down_reader)
        goto fail;
    s_down_fetch(hub);

    if (!cfg->sync_listen[0]) {
        koop_warn("hub: brak [sync] listen w konfiguracji: gminy nie mają gdzie się łączyć");
        return hub;
    }
    snprintf(path, sizeof path, "%s/keys/node.key", cfg->dir);
    if (sync_cert_load(path, 1, &hub->keys, err, sizeof err) != 0) {
        koop_error("hub: %s: bez klucza huba nie przyjmuję połączeń", err);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/keys/enrolled", cfg->dir);
    hub->allow = sync_allow_new(path);
    if (!hub->allow)
        goto fail;
    /* ZAP first: a CURVE server bound without it would let every key in */
    hub->zap = sync_zap_start(hub->loop, hub->zctx, hub->allow);
    if (!hub->zap)
        goto fail;
    hub->sock = zmq_socket(hub->zctx, ZMQ_ROUTER);
    if (!hub->sock || sync_link_sockopts(hub->sock) != 0 ||
        zmq_setsockopt(hub->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0 ||
        zmq_setsockopt(hub->sock, ZMQ_BACKLOG, &backlog, sizeof backlog) != 0 ||
        zmq_setsockopt(hub->sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(hub->sock, ZMQ_CURVE_SECRETKEY, hub->keys.secret_key, 32) != 0 ||
        zmq_setsockopt(hub->sock, ZMQ_ZAP_DOMAIN, "koop", 4) != 0) {
        koop_error("hub: nie można przygotować gniazda: %s", zmq_strerror(errno));
        goto fail;
    }
    if (zmq_bind(hub->sock, cfg->sync_listen) != 0) {
        koop_error("hub: nie można nasłuchiwać na %s: %s", cfg->sync_listen, zmq_strerror(errno));
        goto fail;
    }
    hub->watch = calloc(1, sizeof *hub->watch);
    if (!hub->watch)
        goto fail;
    if (koop_zwatch_start(hub->loop, hub->watch, hub->sock, s_on_readable, hub) != 0) {
        hub->watch = NULL;
        goto fail;
    }
    koop_info("hub: nasłuchuję na %s (CURVE, tylko zapisane węzły)", cfg->sync_listen);
    return hub;
fail:
    sync_hub_stop(&hub);
    return NULL;
}

static void
s_free_watch(koop_zwatch_t *w)
{
    free(w);
}

static void
s_free_handle(uv_handle_t *h)
{
    free(h);
}

void
sync_hub_stop(sync_hub_t **self_p)
{
    sync_hub_t *hub;
    if (!self_p || !*self_p)
        return;
    hub = *self_p;
    if (hub->watch)
        koop_zwatch_stop(hub->watch, s_free_watch);
    if (hub->sock)
        zmq_close(hub->sock);
    sync_zap_stop(&hub->zap);
    sync_allow_destroy(&hub->allow);
    sync_local_destroy(&hub->down_reader);
    if (hub->tick) {
        if (uv_is_active((uv_handle_t *)hub->tick) || hub->tick->loop) {
            uv_timer_stop(hub->tick);
            uv_close((uv_handle_t *)hub->tick, s_free_handle);
        } else {
            free(hub->tick);
        }
    }
    sync_sessions_destroy(&hub->sessions, s_snap_free);
    sync_check_destroy(&hub->check);
    if (hub->work)
        s_work_clear(hub);
    free(hub->work);
    free(hub);
    *self_p = NULL;
}

/* ---- status and events ---- */

/* Nodes of a status reply. The first `sorted` come from hub_streams, whose
 * keys begin with the node id, so they are in strcmp order and are found by
 * bisection; nodes with a session but no stream follow, unsorted (few). */
typedef struct {
    Koop__Sync__NodeStatus **nodes;
    size_t n, cap, sorted;
    int sorting;
} s_nodes;

static Koop__Sync__NodeStatus *
s_node_get(s_nodes *ns, const char *node)
{
    Koop__Sync__NodeStatus *n;
    size_t lo = 0, hi = ns->sorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ns->nodes[mid]->node, node);
        if (c == 0)
            return ns->nodes[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = ns->sorted; i < ns->n; i++)
        if (strcmp(ns->nodes[i]->node, node) == 0)
            return ns->nodes[i];
    if (ns->n == ns->cap) {
        size_t ncap = ns->cap ? ns->cap * 2 : 16;
        Koop__Sync__NodeStatus **g = realloc(ns->nodes, ncap * sizeof *g);
        if (!g)
            return NULL;
        ns->nodes = g;
        ns->cap = ncap;
    }
    n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    koop__sync__node_status__init(n);
    n->node = strdup(node);
    if (!n->node) {
        free(n);
        return NULL;
    }
    n->has_connected = n->has_last_contact_ms = 1;
    ns->nodes[ns->n++] = n;
    if (ns->sorting)
        ns->sorted = ns->n;
    return n;
}

int
sync_hub_status(sync_hub_t *hub, koop_call_t *call, Koop__Sync__Status *st)
{
    s_nodes ns = {NULL, 0, 0, 0, 1};
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t now = koop_clock_mono_ms();
    int rc;

    /* every (node, stream) the hub holds, connected or not */
    if ((rc = mdb_cursor_open(call->txn, hub->dbi_streams, &cur)) != 0)
        return rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        char key[2 * SYNC_MAX_NAME + 4];
        const char *node, *stream;
        s_stream_state ss;
        Koop__Sync__NodeStatus *n;
        Koop__Sync__StreamStatus *s, **g;
        if (k.mv_size >= sizeof key)
            continue;
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = '\0';
        node = key;
        if (strlen(node) + 1 >= k.mv_size)
            continue;
        stream = key + strlen(node) + 1;
        if (s_state_get(call->txn, hub->dbi_streams, node, stream, &ss) != 0)
            continue;
        n = s_node_get(&ns, node);
        s = calloc(1, sizeof *s);
        g = n ? realloc(n->streams, (n->n_streams + 1) * sizeof *g) : NULL;
        if (!s || !g) {
            free(s);
            rc = ENOMEM;
            break;
        }
        n->streams = g;
        koop__sync__stream_status__init(s);
        s->stream = strdup(stream);
        s->log_id = strdup(ss.log_id);
        s->has_acked = s->has_epoch = s->has_events = s->has_stored_ms = 1;
        s->stored_ms = ss.stored_ms;
        s->acked = ss.last_seq;
        s->epoch = ss.epoch;
        s->events = ss.events;
        n->streams[n->n_streams++] = s;
    }
    mdb_cursor_close(cur);
    ns.sorting = 0;
    if (rc != MDB_NOTFOUND && rc != 0)
        goto fail;
    for (size_t i = 0; i < sync_sessions_count(hub->sessions); i++) {
        sync_session_t *s = sync_sessions_at(hub->sessions, i);
        Koop__Sync__NodeStatus *n;
        if (!s->node[0])
            continue;
        n = s_node_get(&ns, s->node);
        if (!n) {
            rc = ENOMEM;
            goto fail;
        }
        n->connected = s_session_live(s, now);
        n->last_contact_ms = s->last_contact_ms;
        n->has_down_seq = n->has_hello_ms = 1;
        n->down_seq = s->down_seq;
        n->hello_ms = s->hello_ms;
        n->key = s->key;
        n->has_refused = 1;
        n->refused = s->refused;
        n->last_refusal = s->last_refusal[0] ? s->last_refusal : NULL;
        for (size_t j = 0; j < n->n_streams; j++)
            if (s_held(s, n->streams[j]->stream))
                n->streams[j]->state = "wstrzymany: nowa tożsamość dziennika (koopctl enrol)";
    }
    for (size_t i = 0; i < ns.n; i++) {
        /* each node's last sync verify */
        MDB_val vr;
        if (koop_store_get_str(call->txn, koop_store_dbi(hub->store, "hub_verify"), ns.nodes[i]->node, &vr) == 0)
            ns.nodes[i]->verify = koop__sync__verify_result__unpack(NULL, vr.mv_size, vr.mv_data);
    }
    st->nodes = ns.nodes;
    st->n_nodes = ns.n;
    st->listen = (char *)hub->cfg->sync_listen;
    st->has_verify_results = st->has_verify_differing = st->has_verify_repaired = 1;
    st->verify_results = hub->verify_results;
    st->verify_differing = hub->verify_differing;
    st->verify_repaired = hub->verify_repaired;
    st->has_malformed = st->has_down_seq = st->has_ingest_commits = st->has_ingest_events = 1;
    st->has_ingest_us = 1;
    st->ingest_commits = hub->ingest_commits;
    st->ingest_events = hub->ingest_events;
    st->ingest_us = hub->ingest_us;
    st->malformed = hub->malformed;
    st->has_events_refused = st->has_down_out = 1;
    st->events_refused = hub->events_refused;
    st->down_out = hub->down_out;
    st->down_seq = hub->down_last;
    return 0;
fail:
    st->nodes = ns.nodes;
    st->n_nodes = ns.n;
    sync_hub_status_free(st);
    return rc;
}

void
sync_hub_status_free(Koop__Sync__Status *st)
{
    for (size_t i = 0; i < st->n_nodes; i++) {
        Koop__Sync__NodeStatus *n = st->nodes[i];
        for (size_t j = 0; j < n->n_streams; j++) {
            free(n->streams[j]->stream);
            free(n->streams[j]->log_id);
            free(n->streams[j]);
        }
        free(n->streams);
        free(n->node);
        if (n->verify)
            koop__sync__verify_result__free_unpacked(n->verify, NULL);
        free(n);
    }
    free(st->nodes);
    st->nodes = NULL;
    st->n_nodes = 0;
}

/* One hub_ingest entry of the stream whose key prefix is prefix[0..plen). */
typedef struct {
    uint64_t first, last, merged, count;
} s_run;

static int
s_run_get(const MDB_val *k, const MDB_val *v, const unsigned char *prefix, size_t plen, s_run *run)
{
    if (k->mv_size != plen + 8 || memcmp(k->mv_data, prefix, plen) != 0)
        return -1;
    run->first = koop_be64_get((const unsigned char *)k->mv_data + plen);
    run->merged = koop_be64_get(v->mv_data);
    if (v->mv_size == 8) { /* one event (as older hubs stored them) */
        run->last = run->first;
        run->count = 1;
    } else if (v->mv_size == INGEST_RUN) {
        run->last = koop_be64_get((const unsigned char *)v->mv_data + 8);
        run->count = koop_be64_get((const unsigned char *)v->mv_data + 16);
    } else {
        return -1;
    }
    return run->count > 0 && run->count <= SYNC_BATCH_MAX && run->last >= run->first ? 0 : -1;
}

int
sync_hub_events(sync_hub_t *hub, koop_call_t *call)
{
    const Koop__Sync__NodeEvents *q = (const Koop__Sync__NodeEvents *)call->req;
    Koop__FeedBatch batch = KOOP__FEED_BATCH__INIT;
    Koop__Event **wrappers = NULL;
    s_stream_state ss;
    MDB_cursor *cur = NULL;
    unsigned char key[2 * SYNC_MAX_NAME + 24];
    size_t plen, n = 0, bytes = 0;
    uint32_t max = q->max && q->max <= EVENTS_MAX ? q->max : EVENTS_MAX;
    MDB_val k, v;
    int rc;

    if (!q->node || !*q->node)
        return koop_fail(call, FIELD_REQUIRED, "node");
    if (!sync_valid_name(q->node))
        return koop_fail(call, FIELD_INVALID, "node", q->node);
    if (!q->stream || !*q->stream)
        return koop_fail(call, FIELD_REQUIRED, "stream");
    if (!sync_valid_stream(q->stream))
        return koop_fail(call, FIELD_INVALID, "stream", q->stream);
    rc = s_state_get(call->txn, hub->dbi_streams, q->node, q->stream, &ss);
    if (rc == MDB_NOTFOUND)
        return koop_fail(call, SYNC_NO_STREAM, "stream", q->stream, q->node);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    plen = s_ingest_key(key, sizeof key, q->node, q->stream, ss.epoch, 0) - 8;
    wrappers = calloc(max, sizeof *wrappers);
    batch.events = calloc(max, sizeof *batch.events);
    batch.seqs = calloc(max, sizeof *batch.seqs);
    if (!wrappers || !batch.events || !batch.seqs) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    s_ingest_key(key, sizeof key, q->node, q->stream, ss.epoch, q->after_seq == UINT64_MAX ? q->after_seq : q->after_seq + 1);
    k.mv_size = plen + 8;
    k.mv_data = key;
    if ((rc = mdb_cursor_open(call->txn, hub->dbi_ingest, &cur)) != 0) {
        rc = koop_call_store_error(call, rc);
        goto done;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    /* the run that begins before after_seq + 1 may go on past it */
    {
        int r = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
        s_run run;
        if (r == 0 && s_run_get(&k, &v, key, plen, &run) == 0 && run.last > q->after_seq) {
            rc = 0;
        } else {
            k.mv_size = plen + 8;
            k.mv_data = key;
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        }
    }
    for (; rc == 0 && n < max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        s_run run;
        int full = 0;
        if (s_run_get(&k, &v, key, plen, &run) != 0)
            break; /* past this node's stream (or a bad entry: not ours to read) */
        for (uint64_t j = 0; j < run.count && n < max; j++) {
            unsigned char mkey[8];
            MDB_val mk = {8, mkey}, mv;
            sync_event_head_t h;
            koop_be64_put(mkey, run.merged + j);
            if ((rc = mdb_get(call->txn, koop_store_dbi(hub->store, "log"), &mk, &mv)) != 0)
                break;
            wrappers[n] = koop__event__unpack(NULL, mv.mv_size, mv.mv_data);
            if (!wrappers[n] || sync_event_head(wrappers[n]->payload.data, wrappers[n]->payload.len, &h) != 0) {
                /* a damaged copy: handed on as it is, at its position when
                 * the run has no gaps, so a reader reports it and moves on */
                if (run.count != run.last - run.first + 1) {
                    rc = MDB_CORRUPTED;
                    break;
                }
                if (wrappers[n])
                    koop__event__free_unpacked(wrappers[n], NULL);
                wrappers[n] = NULL;
                if (run.first + j <= q->after_seq)
                    continue;
                batch.events[n].data = mv.mv_data;
                batch.events[n].len = mv.mv_size;
                batch.seqs[n] = run.first + j;
                bytes += mv.mv_size;
                n++;
                continue;
            }
            if (h.seq <= q->after_seq || (n > 0 && bytes + wrappers[n]->payload.len > EVENTS_BYTES)) {
                full = h.seq > q->after_seq;
                koop__event__free_unpacked(wrappers[n], NULL);
                wrappers[n] = NULL;
                if (full)
                    break;
                continue;
            }
            batch.events[n] = wrappers[n]->payload; /* the node's envelope, bytes as received */
            batch.seqs[n] = h.seq;                  /* its seq in the node's stream */
            bytes += wrappers[n]->payload.len;
            n++;
        }
        if (rc != 0 || full)
            break;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        rc = koop_call_store_error(call, rc);
        goto done;
    }
    batch.n_events = batch.n_seqs = n;
    batch.has_last_seq = 1;
    batch.last_seq = ss.last_seq;
    batch.log_id = ss.log_id;
    rc = koop_call_reply(call, &batch.base);
done:
    if (cur)
        mdb_cursor_close(cur);
    for (size_t i = 0; wrappers && i < n; i++)
        koop__event__free_unpacked(wrappers[i], NULL);
    free(wrappers);
    free(batch.events);
    free(batch.seqs);
    return rc;
}

/* ---- hooks of transfer.c ---- */

int
sync_hub_send_node(sync_hub_t *hub, const char *node, const Koop__Sync__Frame *f)
{
    uint8_t *buf;
    size_t len;
    int rc = sync_frame_pack(f, &buf, &len);
    if (rc == 0)
        rc = sync_hub_send_node_bytes(hub, node, buf, len);
    free(buf);
    return rc;
}

int
sync_hub_send_node_bytes(sync_hub_t *hub, const char *node, const uint8_t *buf, size_t len)
{
    sync_session_t *s = sync_sessions_by_node(hub->sessions, node);
    int rc;
    if (!s || !s_session_live(s, koop_clock_mono_ms()))
        return -ENOTCONN;
    if (!hub->sock)
        return 0; /* in process (sync_hub_open): dropped */
    if ((rc = sync_frame_send_bytes(hub->sock, s->rid, s->rid_len, buf, len)) != 0)
        hub->unsent++; /* peer gone or its queue full */
    return rc;
}

int
sync_hub_stored(sync_hub_t *hub, MDB_txn *txn, const char *node, const char *stream, uint64_t *seq)
{
    s_stream_state st;
    int rc = s_state_get(txn, hub->dbi_streams, node, stream, &st);
    *seq = rc == 0 ? st.last_seq : 0;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
sync_hub_each_child(sync_hub_t *hub, MDB_txn *txn, sync_child_fn fn, void *ctx)
{
    MDB_cursor *cur;
    MDB_val k = {2, "n:"}, v;
    int rc;
    if ((rc = mdb_cursor_open(txn, hub->dbi_bind, &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char node[SYNC_MAX_NAME + 1], key[41];
        if (k.mv_size < 3 || memcmp(k.mv_data, "n:", 2) != 0)
            break;
        if (k.mv_size - 2 > SYNC_MAX_NAME || v.mv_size != 40)
            continue;
        memcpy(node, (char *)k.mv_data + 2, k.mv_size - 2);
        node[k.mv_size - 2] = '\0';
        memcpy(key, v.mv_data, 40);
        key[40] = '\0';
        if ((rc = fn(node, key, ctx)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
