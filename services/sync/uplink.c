/*
 * uplink.c - the gmina's end of the link to its hub (docs/SYNC.md).
 *
 *   OFF         no [sync] hub: nothing is sent; status still counts pending
 *   WAIT        --backoff passed--> CONNECTING: a new DEALER (CURVE client,
 *               this node's key pair, the hub's public key); feed.stat on every
 *               stream to learn the producers' log ids
 *   CONNECTING  --log ids known and HELLO queued on a live connection--> HELLO_SENT
 *               --no live connection within SYNC_DEAD_MS--> WAIT (backoff x2)
 *   HELLO_SENT  --WELCOME--> READY: sent = acked = the hub's stored position
 *                            per stream; backoff reset
 *               --REFUSE DENIED / VERSION--> WAIT;  --silence SYNC_DEAD_MS--> WAIT
 *   READY       per stream: fetch SHARED events after `sent` from the producer
 *               (long poll) while fewer than the window are unacknowledged,
 *               at most batch_max at a time (both: ours, or the lower values
 *               the hub's WELCOME advertised; sync_link_limits),
 *               send each reply as one BATCH (prev = sent), sent = its last seq
 *               --ACK--> acked = seq (cumulative; persisted after each drain)
 *               --REFUSE GAP--> rewind the stream to the hub's position
 *               --REFUSE MALFORMED naming an event (the hub's check)--> the
 *                         stream is held until koop-sync restarts (its bytes
 *                         never change, so sending it again is refused again)
 *               --REFUSE NO_SESSION--> HELLO_SENT (the hub restarted under us)
 *               --no ack progress for SYNC_RETRANSMIT_MS--> rewind to acked
 *               --DOWN--> registry remote.apply --> DOWN_ACK (the position the
 *                         registry reports, right or wrong: the hub goes on from there);
 *                         refused by the registry's check: no DOWN_ACK, and
 *                         every DOWN of that down log is dropped until restart
 *               --silence for SYNC_DEAD_MS--> WAIT; a Ping after SYNC_HEARTBEAT_MS idle
 *
 * Invariants: this side keeps no events, only positions: everything not yet
 * acknowledged is still in its producer's log and is fetched again after a
 * rewind, a reconnect or a restart. `acked` only takes values the hub said
 * it durably holds. Each BATCH continues the previous one (prev), so the hub
 * tells a duplicate from a gap. Replies of fetches started before a rewind
 * or a new HELLO are dropped (per-stream generation).
 */
#include "sync.h"
#include "clock.h"
#include "loop.h"
#include "client.h"
#include "registry.pb-c.h"
#include "client.h"
#include "say.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define TICK_MS 100
#define FETCH_WAIT_MS 1000
#define REHELLO_MS 30000
#define FLIGHT_MAX 64

enum { UP_OFF, UP_WAIT, UP_CONNECTING, UP_HELLO_SENT, UP_READY };

typedef struct {
    uint64_t batch_no;
    uint64_t last;
    uint32_t n;
} s_flight;

typedef struct {
    sync_uplink_t *up;
    char name[SYNC_MAX_STREAM + 1];
    const char *endpoint;
    int own;                         /* this process's own log (a hub's merged stream) */
    sync_local_t *reader;
    uint64_t gen;                    /* bumped by every rewind and HELLO */
    uint64_t fetch_gen;              /* gen of the fetch in flight */
    char log_id[SYNC_MAX_NAME + 1];  /* the producer's, "" until known */
    uint64_t acked;                  /* persisted, with acked_log_id */
    char acked_log_id[SYNC_MAX_NAME + 1];
    int dirty;
    uint64_t sent;
    uint64_t inflight;
    s_flight flight[FLIGHT_MAX];
    size_t nflight;
    uint64_t rewind_batch_no;
    uint64_t progress_mono;
    int held;                        /* the hub refused it: no batches until the next HELLO */
    int refused;                     /* the hub's check refused an event of it: held until restart */
    char refusal[400];               /* why (the hub's code rendered), for the status */
    uint64_t held_ms;                /* real ms since it is held for a reason that stays (s_note_held) */
    char state[700];
    uint64_t fetch_mono_us;          /* when the fetch in flight was sent (debug timing) */
    uint64_t status_pending;         /* last known, when the producer does not answer */
    uint64_t status_last;
    int status_asking;               /* a status feed.stat is in flight */
} s_stream;

struct sync_uplink {
    sync_t *sync;
    const koop_config_t *cfg;
    koop_store_t *store;
    uv_loop_t *loop;
    void *zctx;
    int state;
    sync_keypair_t keys;
    uint8_t hub_key[32];
    void *sock;
    koop_zwatch_t *watch;
    void *mon;                       /* socket monitor (handshake failures) */
    koop_zwatch_t *mon_watch;
    unsigned mon_seq;
    uv_timer_t *tick;
    s_stream streams[SYNC_MAX_STREAMS];
    size_t nstreams;
    sync_local_t *registry;          /* down-flow */
    /* sync.status: every stream's producer is asked (feed.stat) without
     * blocking; a status call defers until a round started after it ends */
    uint64_t status_round;           /* rounds started */
    uint64_t status_done;            /* last round that ended */
    size_t status_waiting;           /* answers the round in flight still waits for */
    int status_again;                /* start another round when this one ends */
    char hub_node[SYNC_MAX_NAME + 1];
    char down_log_id[SYNC_MAX_NAME + 1];
    uint64_t down_seq;
    uint64_t next_batch_no;
    sync_limits_t limits;            /* of this link (the last WELCOME) */
    uint32_t clamp_window, clamp_batch; /* the out-of-bounds limits last logged */
    int clamp_logged;
    uint64_t backoff_ms;
    uint64_t next_attempt_mono;
    uint64_t phase_mono;             /* when CONNECTING / HELLO_SENT began */
    uint64_t last_rx_mono;
    uint64_t last_tx_mono;
    uint64_t last_contact_ms;        /* real time */
    uint64_t rehello_mono;           /* 0 = none planned */
    uint64_t down_dropped;
    uint64_t down_refused;           /* Downs the node's registry refused */
    char down_held[SYNC_MAX_NAME + 1]; /* the down log whose Downs are dropped (refused) */
    char down_asked[SYNC_MAX_NAME + 1];  /* the down log of the Down at the registry */
    char down_state[400];
    char last_error[900];
    sync_verifier_t *verifier;       /* sync verify (verify.c) */
};

static void s_on_readable(koop_zwatch_t *w);
static void s_pump(s_stream *st);

/* ---- persistence: uplink_pos stream -> acked + log id; uplink_meta ---- */

static int
s_load_fn(MDB_txn *txn, void *ctx)
{
    sync_uplink_t *up = ctx;
    MDB_dbi pos = koop_store_dbi(up->store, "uplink_pos"), meta = koop_store_dbi(up->store, "uplink_meta");
    MDB_val v;
    int rc;
    for (size_t i = 0; i < up->nstreams; i++) {
        s_stream *st = &up->streams[i];
        rc = koop_store_get_str(txn, pos, st->name, &v);
        if (rc == 0)
            rc = sync_pos_decode(&v, &st->acked, st->acked_log_id, sizeof st->acked_log_id);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    rc = koop_store_get_str(txn, meta, "hub_node", &v);
    if (rc == 0 && v.mv_size < sizeof up->hub_node) {
        memcpy(up->hub_node, v.mv_data, v.mv_size);
        up->hub_node[v.mv_size] = '\0';
    } else if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    rc = koop_store_get_str(txn, meta, "down", &v);
    if (rc == 0)
        rc = sync_pos_decode(&v, &up->down_seq, up->down_log_id, sizeof up->down_log_id);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
s_save_fn(MDB_txn *txn, void *ctx)
{
    sync_uplink_t *up = ctx;
    MDB_dbi pos = koop_store_dbi(up->store, "uplink_pos"), meta = koop_store_dbi(up->store, "uplink_meta");
    int rc;
    for (size_t i = 0; i < up->nstreams; i++) {
        s_stream *st = &up->streams[i];
        if (st->dirty && (rc = sync_pos_put(txn, pos, st->name, st->acked, st->acked_log_id)) != 0)
            return rc;
    }
    if ((rc = koop_store_put_str(txn, meta, "hub_node", up->hub_node, strlen(up->hub_node))) != 0)
        return rc;
    return sync_pos_put(txn, meta, "down", up->down_seq, up->down_log_id);
}

static void
s_save(sync_uplink_t *up)
{
    int any = 0, rc;
    for (size_t i = 0; i < up->nstreams; i++)
        any |= up->streams[i].dirty;
    if (!any)
        return;
    rc = koop_store_write(up->store, s_save_fn, up);
    if (rc != 0) {
        koop_error("uplink: nie można zapisać pozycji: %s", koop_strerror(rc));
        return; /* still dirty: tried again after the next ack */
    }
    for (size_t i = 0; i < up->nstreams; i++)
        up->streams[i].dirty = 0;
}

static void
s_save_meta(sync_uplink_t *up)
{
    int rc = koop_store_write(up->store, s_save_fn, up);
    if (rc != 0)
        koop_error("uplink: nie można zapisać pozycji: %s", koop_strerror(rc));
    else
        for (size_t i = 0; i < up->nstreams; i++)
            up->streams[i].dirty = 0;
}

/* ---- connection ---- */

static void
s_free_watch(koop_zwatch_t *w)
{
    free(w);
}

static void
s_set_error(sync_uplink_t *up, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
s_set_error(sync_uplink_t *up, const char *fmt, ...)
{
    char msg[sizeof up->last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (strcmp(msg, up->last_error) != 0)
        koop_warn("uplink: %s", msg);
    memcpy(up->last_error, msg, sizeof msg);
}

/* When the link works but the hub holds streams back, last_error says so
 * and what to do: the operator's first look (sync status, koopctl status)
 * must not read "no error" while events are not delivered. */
/* Held for a reason that does not pass by itself (not a producer or a hub
 * that has not answered yet). */
static int
s_really_held(const s_stream *st)
{
    return st->held && st->state[0] && strncmp(st->state, "hub nie odpowiedział", 20) != 0 &&
           strncmp(st->state, "usługa ", 7) != 0;
}

static void
s_note_held(sync_uplink_t *up)
{
    char names[160] = "";
    const char *why = NULL;
    size_t used = 0;
    for (size_t i = 0; i < up->nstreams; i++) {
        s_stream *st = &up->streams[i];
        if (!s_really_held(st)) {
            st->held_ms = 0;
            continue;
        }
        if (!st->held_ms)
            st->held_ms = koop_clock_real_ms();
        used += (size_t)snprintf(names + used, used < sizeof names ? sizeof names - used : 0, "%s%s",
                                 used ? ", " : "", st->name);
        if (!why)
            why = st->state;
    }
    if (why)
        s_set_error(up, "strumienie %s: %s", names, why);
}

static void
s_close_socket(sync_uplink_t *up)
{
    if (up->mon_watch) {
        koop_zwatch_stop(up->mon_watch, s_free_watch);
        up->mon_watch = NULL;
    }
    if (up->watch) {
        koop_zwatch_stop(up->watch, s_free_watch);
        up->watch = NULL;
    }
    if (up->sock) {
        zmq_socket_monitor(up->sock, NULL, 0);
        zmq_close(up->sock);
        up->sock = NULL;
    }
    if (up->mon) {
        zmq_close(up->mon);
        up->mon = NULL;
    }
}

static void
s_reset_streams(sync_uplink_t *up)
{
    for (size_t i = 0; i < up->nstreams; i++) {
        s_stream *st = &up->streams[i];
        st->gen++;
        st->inflight = 0;
        st->nflight = 0;
    }
}

/* Drops the connection; the next attempt after the backoff. */
static void
s_disconnect(sync_uplink_t *up)
{
    uint64_t now = koop_clock_mono_ms();
    s_close_socket(up);
    s_reset_streams(up);
    up->state = UP_WAIT;
    up->next_attempt_mono = now + up->backoff_ms;
    up->backoff_ms = up->backoff_ms * 2 > SYNC_BACKOFF_MAX_MS ? SYNC_BACKOFF_MAX_MS : up->backoff_ms * 2;
}

static void
s_on_monitor(koop_zwatch_t *w)
{
    sync_uplink_t *up = w->zw_data;
    while (up->mon && up->mon_watch == w && koop_zwatch_readable(w)) {
        uint8_t head[6];
        char addr[256];
        int more = 0, n;
        size_t ml = sizeof more;
        uint16_t event;
        uint32_t value;
        n = zmq_recv(up->mon, head, sizeof head, ZMQ_DONTWAIT);
        if (n < 0)
            break;
        zmq_getsockopt(up->mon, ZMQ_RCVMORE, &more, &ml);
        addr[0] = '\0';
        if (more) {
            int a = zmq_recv(up->mon, addr, sizeof addr - 1, 0);
            addr[a < 0 ? 0 : (a > (int)sizeof addr - 1 ? (int)sizeof addr - 1 : a)] = '\0';
        }
        if (n != 6)
            continue;
        memcpy(&event, head, 2);
        memcpy(&value, head + 2, 4);
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            s_set_error(up, "hub %s odrzucił klucz tego węzła (kod %u): węzeł nie jest zapisany w hubie "
                            "(koopctl -c HUB.conf enrol %s/keys/node.pub)",
                        up->cfg->sync_hub, value, up->cfg->dir);
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            s_set_error(up, "nieudane uzgodnienie szyfrowania z hubem %s (zły klucz huba w [sync] hub_key?)",
                        up->cfg->sync_hub);
    }
}

static int
s_connect(sync_uplink_t *up)
{
    /* ZeroMQ's own reconnect (while this socket lives) stays short: after a
     * long outage the hub is found again within ~2 s of coming back */
    int one = 1, ivl = 250, ivl_max = 2000;
    char mon_ep[64];

    up->sock = zmq_socket(up->zctx, ZMQ_DEALER);
    if (!up->sock)
        return -errno;
    if (sync_link_sockopts(up->sock) != 0 || zmq_setsockopt(up->sock, ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
        zmq_setsockopt(up->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(up->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0 ||
        zmq_setsockopt(up->sock, ZMQ_CURVE_SERVERKEY, up->hub_key, 32) != 0 ||
        zmq_setsockopt(up->sock, ZMQ_CURVE_PUBLICKEY, up->keys.public_key, 32) != 0 ||
        zmq_setsockopt(up->sock, ZMQ_CURVE_SECRETKEY, up->keys.secret_key, 32) != 0)
        goto fail;
    /* handshake failures say why the link does not come up (not needed to work) */
    snprintf(mon_ep, sizeof mon_ep, "inproc://sync-uplink-monitor-%u", ++up->mon_seq);
    if (zmq_socket_monitor(up->sock, mon_ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0) {
        up->mon = zmq_socket(up->zctx, ZMQ_PAIR);
        if (up->mon && zmq_connect(up->mon, mon_ep) == 0) {
            up->mon_watch = calloc(1, sizeof *up->mon_watch);
            if (up->mon_watch && koop_zwatch_start(up->loop, up->mon_watch, up->mon, s_on_monitor, up) != 0)
                up->mon_watch = NULL; /* leaked if it was allocated: its handles may be closing */
        }
    }
    if (zmq_connect(up->sock, up->cfg->sync_hub) != 0)
        goto fail;
    up->watch = calloc(1, sizeof *up->watch);
    if (!up->watch)
        goto fail;
    if (koop_zwatch_start(up->loop, up->watch, up->sock, s_on_readable, up) != 0) {
        up->watch = NULL;
        goto fail;
    }
    return 0;
fail:
    {
        int e = errno;
        s_set_error(up, "nie można połączyć się z hubem %s: %s", up->cfg->sync_hub, zmq_strerror(e));
        s_close_socket(up);
        return -e;
    }
}

static int
s_send(sync_uplink_t *up, const Koop__Sync__Frame *f)
{
    int rc;
    if (!up->sock)
        return -ENOTCONN;
    rc = sync_frame_send(up->sock, NULL, 0, f);
    if (rc == 0)
        up->last_tx_mono = koop_clock_mono_ms();
    return rc;
}

/* ---- producers' log ids (feed.stat) ---- */

static void
s_learn_log_id(s_stream *st, const char *log_id)
{
    sync_uplink_t *up = st->up;
    if (!log_id || !sync_valid_name(log_id))
        return;
    if (strcmp(st->log_id, log_id) == 0)
        return;
    if (st->acked_log_id[0] && strcmp(st->acked_log_id, log_id) != 0) {
        koop_warn("uplink: strumień %s: nowa tożsamość dziennika (%s, było %s) – baza usługi została "
                  "wyzerowana lub odtworzona; hub przyjmie ją dopiero po ponownym zapisaniu węzła",
                  st->name, log_id, st->acked_log_id);
        st->acked = 0;
        st->dirty = 1;
    }
    snprintf(st->acked_log_id, sizeof st->acked_log_id, "%s", log_id);
    snprintf(st->log_id, sizeof st->log_id, "%s", log_id);
    /* the hub must hear about it before anything of this log is sent */
    if (up->state == UP_READY || up->state == UP_HELLO_SENT)
        up->rehello_mono = koop_clock_mono_ms();
}

static void
s_on_stat(void *ctx, int status, const char *error, const uint8_t *payload, size_t len)
{
    s_stream *st = ctx;
    Koop__FeedStat *s;
    if (status != KOOP_OK) {
        snprintf(st->state, sizeof st->state, "usługa %s nie odpowiada (%s)", st->name, error ? error : "?");
        return;
    }
    s = koop__feed_stat__unpack(NULL, len, payload);
    if (!s)
        return;
    s_learn_log_id(st, s->log_id);
    koop__feed_stat__free_unpacked(s, NULL);
    s_pump(st);
}

static void
s_ask_log_id(s_stream *st)
{
    Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
    if (st->own) {
        s_learn_log_id(st, koop_log_id(koop_service_log(st->up->sync->svc)));
        return;
    }
    if (sync_local_busy(st->reader))
        return;
    q.stream = st->name;
    if (sync_local_call(st->reader, "feed.stat", &q.base, 3000, s_on_stat, st) != 0)
        snprintf(st->state, sizeof st->state, "usługa %s nie odpowiada", st->name);
}

/* ---- HELLO ---- */

static int
s_send_hello(sync_uplink_t *up)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Hello h = KOOP__SYNC__HELLO__INIT;
    Koop__Sync__StreamPos pos[SYNC_MAX_STREAMS], *ptrs[SYNC_MAX_STREAMS];
    size_t n = 0;
    int rc;

    for (size_t i = 0; i < up->nstreams; i++) {
        s_stream *st = &up->streams[i];
        if (!st->log_id[0])
            continue; /* not known yet: said in a later HELLO */
        koop__sync__stream_pos__init(&pos[n]);
        pos[n].stream = st->name;
        pos[n].log_id = st->log_id;
        pos[n].has_seq = 1;
        pos[n].seq = st->acked;
        ptrs[n] = &pos[n];
        n++;
    }
    h.has_version = 1;
    h.version = SYNC_VERSION;
    h.node = (char *)up->cfg->node_id;
    h.streams = ptrs;
    h.n_streams = n;
    h.down_log_id = up->down_log_id;
    h.has_down_seq = 1;
    h.down_seq = up->down_seq;
    f.body_case = KOOP__SYNC__FRAME__BODY_HELLO;
    f.hello = &h;
    rc = s_send(up, &f);
    if (rc == 0) {
        up->state = UP_HELLO_SENT;
        up->phase_mono = koop_clock_mono_ms();
        up->rehello_mono = 0;
        s_reset_streams(up);
    }
    return rc;
}

static int
s_all_known(sync_uplink_t *up)
{
    for (size_t i = 0; i < up->nstreams; i++)
        if (!up->streams[i].log_id[0])
            return 0;
    return 1;
}

/* ---- sending batches ---- */

static void
s_rewind(s_stream *st, uint64_t pos)
{
    sync_uplink_t *up = st->up;
    st->sent = pos;
    st->inflight = 0;
    st->nflight = 0;
    st->gen++;
    st->rewind_batch_no = up->next_batch_no;
    st->progress_mono = koop_clock_mono_ms();
}

/* A fetch reply: one BATCH to the hub. */
static void
s_on_fetch(void *ctx, int status, const char *error, const uint8_t *payload, size_t len)
{
    s_stream *st = ctx;
    sync_uplink_t *up = st->up;
    Koop__FeedBatch *b = NULL;
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Batch batch = KOOP__SYNC__BATCH__INIT;
    Koop__Sync__Item *items = NULL, **ptrs = NULL;
    uint64_t prev = st->sent, last = st->sent;
    size_t n = 0;
    int rc;

    if (st->fetch_gen != st->gen || up->state != UP_READY || st->held)
        goto again; /* started before a rewind or HELLO: the positions moved */
    if (status != KOOP_OK) {
        snprintf(st->state, sizeof st->state, "usługa %s nie odpowiada (%s)", st->name, error ? error : "?");
        goto done; /* the tick asks again */
    }
    b = koop__feed_batch__unpack(NULL, len, payload);
    if (!b)
        goto done;
    if (b->log_id && strcmp(b->log_id, st->log_id) != 0) {
        s_learn_log_id(st, b->log_id);
        goto done;
    }
    if (b->has_last_seq && b->last_seq < st->sent) {
        /* the hub holds (or this side sent) seqs of this very log that the
         * producer no longer has: its data were put back without a new
         * identity; fetching on would skip what it writes at those seqs */
        st->held = 1;
        snprintf(st->state, sizeof st->state,
                 "dziennik kończy się na zdarzeniu %llu, a hub ma już zdarzenia do %llu z tego samego dziennika: "
                 "dane usługi cofnięto bez nowej tożsamości (pliki skopiowane ręcznie?); wstrzymano, nic nie "
                 "pominięto – odtwórz cały węzeł z kopii zrobionej przez koopctl backup (koopctl restore nadaje "
                 "dziennikom nową tożsamość), potem zapisz go ponownie w hubie (koopctl enrol)",
                 (unsigned long long)b->last_seq, (unsigned long long)st->sent);
        koop_error("uplink: strumień %s: %s", st->name, st->state);
        s_note_held(up);
        goto done;
    }
    if (b->n_events == 0)
        goto again;
    items = calloc(b->n_events, sizeof *items);
    ptrs = calloc(b->n_events, sizeof *ptrs);
    if (!items || !ptrs)
        goto done;
    for (size_t i = 0; i < b->n_events; i++) {
        /* read in place, as the hub does: this node's, this stream's, SHARED, in order */
        sync_event_head_t h;
        int ok = sync_event_head(b->events[i].data, b->events[i].len, &h) == 0 && h.has_seq && h.seq > last &&
                 h.scope == KOOP__SCOPE__SCOPE_SHARED && h.node_len == strlen(up->cfg->node_id) &&
                 memcmp(h.node, up->cfg->node_id, h.node_len) == 0 && h.stream_len == strlen(st->name) &&
                 memcmp(h.stream, st->name, h.stream_len) == 0;
        uint64_t seq = h.seq;
        if (!ok) {
            st->held = 1;
            snprintf(st->state, sizeof st->state,
                     "zdarzenie po %llu w dzienniku %s jest nieprawidłowe: wstrzymano wysyłanie",
                     (unsigned long long)last, st->name);
            koop_error("uplink: %s", st->state);
            s_note_held(up);
            goto done;
        }
        koop__sync__item__init(&items[n]);
        items[n].has_seq = items[n].has_event = 1;
        items[n].seq = seq;
        items[n].event = b->events[i];
        ptrs[n] = &items[n];
        n++;
        last = seq;
    }
    batch.stream = st->name;
    batch.has_prev = batch.has_batch_no = 1;
    batch.prev = prev;
    /* the producer's chains as of prev and the last event (docs/ACCOUNTABILITY.md) */
    batch.has_prev_link = b->has_prev_shared_link;
    batch.prev_link = b->prev_shared_link;
    batch.has_link = b->has_shared_link;
    batch.link = b->shared_link;
    batch.has_head = b->has_link;
    batch.head = b->link;
    batch.batch_no = up->next_batch_no;
    batch.items = ptrs;
    batch.n_items = n;
    f.body_case = KOOP__SYNC__FRAME__BODY_BATCH;
    f.batch = &batch;
    rc = s_send(up, &f);
    if (rc != 0) {
        /* the connection's queue is full or it dropped: fetched again later */
        goto done;
    }
    koop_debug("uplink: %s: paczka %llu, %zu zdarzeń po %llu (pobranie %.1f ms), w drodze %llu",
               st->name, (unsigned long long)up->next_batch_no, n, (unsigned long long)prev,
               (double)(koop_clock_mono_us() - st->fetch_mono_us) / 1000.0, (unsigned long long)st->inflight + n);
    if (st->nflight == 0)
        st->progress_mono = koop_clock_mono_ms();
    st->flight[st->nflight].batch_no = up->next_batch_no++;
    st->flight[st->nflight].last = last;
    st->flight[st->nflight].n = (uint32_t)n;
    st->nflight++;
    st->inflight += n;
    st->sent = last;
    st->state[0] = '\0';
again:
    s_pump(st);
done:
    free(items);
    free(ptrs);
    if (b)
        koop__feed_batch__free_unpacked(b, NULL);
}

/* Starts a fetch for st when the link and the window allow. */
static void
s_pump(s_stream *st)
{
    sync_uplink_t *up = st->up;
    Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
    uint64_t room;
    if (up->state != UP_READY || st->held || sync_local_busy(st->reader) || st->nflight >= FLIGHT_MAX)
        return;
    if (st->inflight >= up->limits.window)
        return;
    room = up->limits.window - st->inflight;
    q.stream = st->name;
    q.has_after_seq = q.has_max = q.has_wait_ms = q.has_shared_only = 1;
    q.after_seq = st->sent;
    q.max = (uint32_t)(room < up->limits.batch_max ? room : up->limits.batch_max);
    q.wait_ms = FETCH_WAIT_MS;
    q.shared_only = 1;
    st->fetch_gen = st->gen;
    st->fetch_mono_us = koop_clock_mono_us();
    if (sync_local_call(st->reader, "feed.fetch", &q.base, FETCH_WAIT_MS + 5000, s_on_fetch, st) != 0)
        snprintf(st->state, sizeof st->state, "usługa %s nie odpowiada", st->name);
}

/* ---- frames from the hub ---- */

static s_stream *
s_find(sync_uplink_t *up, const char *name)
{
    for (size_t i = 0; name && i < up->nstreams; i++)
        if (strcmp(up->streams[i].name, name) == 0)
            return &up->streams[i];
    return NULL;
}

/* The link's window and batch size from the WELCOME; a hub's value out of
 * bounds is said once (per value), not at every reconnect. */
static void
s_take_limits(sync_uplink_t *up, const Koop__Sync__Welcome *w)
{
    if (!sync_link_limits(w, &up->limits))
        return;
    if (up->clamp_logged && up->clamp_window == w->window && up->clamp_batch == w->batch_max)
        return;
    up->clamp_logged = 1;
    up->clamp_window = w->window;
    up->clamp_batch = w->batch_max;
    koop_warn("uplink: hub podaje okno %u i partię %u zdarzeń – poza granicami 1..%d i 1..%d; używam %u i %u",
              w->window, w->batch_max, SYNC_WINDOW, SYNC_BATCH_MAX, up->limits.window, up->limits.batch_max);
}

static void
s_on_welcome(sync_uplink_t *up, const Koop__Sync__Welcome *w)
{
    if (up->state != UP_HELLO_SENT)
        return;
    s_take_limits(up, w);
    if (w->hub && sync_valid_name(w->hub) && strcmp(w->hub, up->hub_node) != 0) {
        snprintf(up->hub_node, sizeof up->hub_node, "%s", w->hub);
        s_save_meta(up);
    }
    for (size_t i = 0; i < up->nstreams; i++) {
        s_stream *st = &up->streams[i];
        st->held = 1;
        snprintf(st->state, sizeof st->state, "%s", st->log_id[0] ? "hub nie odpowiedział o ten strumień"
                                                                   : "usługa nie odpowiada");
    }
    for (size_t i = 0; i < w->n_streams; i++) {
        const Koop__Sync__StreamPos *p = w->streams[i];
        s_stream *st = s_find(up, p->stream);
        if (!st || !st->log_id[0] || !p->log_id || strcmp(p->log_id, st->log_id) != 0)
            continue;
        if (p->verdict == KOOP__SYNC__VERDICT__VERDICT_OK && st->refused) {
            if (p->seq != st->acked) {
                st->acked = p->seq;
                st->dirty = 1;
            }
            memcpy(st->state, st->refusal, sizeof st->refusal); /* state is the larger */
        } else if (p->verdict == KOOP__SYNC__VERDICT__VERDICT_OK) {
            if (p->seq < st->acked)
                koop_warn("uplink: hub ma w strumieniu %s mniej (%llu) niż potwierdził (%llu) – "
                          "odtworzony z kopii? wysyłam ponownie od %llu",
                          st->name, (unsigned long long)p->seq, (unsigned long long)st->acked,
                          (unsigned long long)p->seq);
            if (p->seq != st->acked) {
                st->acked = p->seq;
                st->dirty = 1;
            }
            st->held = 0;
            st->state[0] = '\0';
            s_rewind(st, p->seq);
        } else {
            if (p->verdict == KOOP__SYNC__VERDICT__VERDICT_LOG_CHANGED)
                snprintf(st->state, sizeof st->state,
                         "hub %.64s odmawia: dziennik ma nową tożsamość (dane węzła odtworzono z kopii albo "
                         "wyzerowano) – zapisz węzeł ponownie w hubie: koopctl -c HUB.conf enrol %.250s/keys/node.pub; "
                         "zdarzenia czekają w dziennikach, w ciągu 30 s od zapisania pójdą jako nowa epoka",
                         up->hub_node[0] ? up->hub_node : up->cfg->sync_hub, up->cfg->dir);
            else
                snprintf(st->state, sizeof st->state, "hub odmawia przyjęcia strumienia");
            koop_warn("uplink: strumień %s: %s", st->name, st->state);
            up->rehello_mono = koop_clock_mono_ms() + REHELLO_MS;
        }
    }
    s_save(up);
    up->state = UP_READY;
    up->backoff_ms = SYNC_BACKOFF_MIN_MS;
    up->last_error[0] = '\0';
    s_note_held(up);
    koop_info("uplink: połączono z hubem %s (%s)", up->hub_node, up->cfg->sync_hub);
    for (size_t i = 0; i < up->nstreams; i++)
        s_pump(&up->streams[i]);
    sync_relay_link_ready(up->sync->relay, NULL);
}

static void
s_on_ack(sync_uplink_t *up, const Koop__Sync__Ack *a)
{
    s_stream *st = s_find(up, a->stream);
    size_t k = 0;
    if (!st || a->seq <= st->acked || a->seq > st->sent)
        return;
    st->acked = a->seq;
    st->dirty = 1;
    st->progress_mono = koop_clock_mono_ms();
    while (k < st->nflight && st->flight[k].last <= a->seq)
        k++;
    memmove(st->flight, st->flight + k, (st->nflight - k) * sizeof st->flight[0]);
    st->nflight -= k;
    st->inflight = 0;
    for (size_t i = 0; i < st->nflight; i++)
        st->inflight += st->flight[i].n;
}

/* The hub's check refused event r->event_seq of st: nothing of its batch
 * was kept, and the same bytes would be refused again, so the stream stops
 * here (no HELLO will release it) until koop-sync restarts; status says
 * which event and why, in the hub's words from the error catalogue. */
static void
s_hold_refused(sync_uplink_t *up, s_stream *st, const Koop__Sync__Refuse *r)
{
    koop_error_t e;
    char msg[240];
    koop_error_set_code(&e, r->error, KOOP_MALFORMED, NULL, (const char *const *)r->error_args, r->n_error_args);
    koop_error_render(&e, KOOP_LANG_PL, NULL, msg, sizeof msg);
    st->held = 1;
    st->refused = 1;
    snprintf(st->refusal, sizeof st->refusal,
             "wstrzymany: hub odrzucił zdarzenie nr %llu (%.40s): %s; nic nie będzie wysyłane do restartu "
             "koop-sync",
             (unsigned long long)r->event_seq, e.code, msg);
    memcpy(st->state, st->refusal, sizeof st->refusal); /* state is the larger */
    s_rewind(st, st->acked);
    koop_error("uplink: strumień %s: %s", st->name, st->refusal);
    s_note_held(up); /* held for a reason that stays: alert_after counts from now */
}

static void
s_on_refuse(sync_uplink_t *up, const Koop__Sync__Refuse *r)
{
    s_stream *st = s_find(up, r->stream);
    const char *why = r->reason ? r->reason : "";
    switch (r->code) {
    case KOOP__SYNC__CODE__CODE_GAP:
        if (!st || r->batch_no < st->rewind_batch_no)
            return; /* about a batch sent before the last rewind */
        if (r->expected < st->acked)
            koop_warn("uplink: hub ma w strumieniu %s mniej (%llu) niż potwierdził (%llu)", st->name,
                      (unsigned long long)r->expected, (unsigned long long)st->acked);
        if (r->expected != st->acked) {
            st->acked = r->expected;
            st->dirty = 1;
        }
        s_rewind(st, r->expected);
        s_pump(st);
        break;
    case KOOP__SYNC__CODE__CODE_NO_SESSION:
        if (up->state == UP_READY) {
            koop_info("uplink: hub nie zna tego połączenia (restart huba?): HELLO");
            up->rehello_mono = koop_clock_mono_ms();
        }
        break;
    case KOOP__SYNC__CODE__CODE_DENIED:
    case KOOP__SYNC__CODE__CODE_VERSION:
        s_set_error(up, "hub odmówił: %.200s", why);
        s_disconnect(up);
        break;
    case KOOP__SYNC__CODE__CODE_MALFORMED:
        if (st && r->batch_no >= st->rewind_batch_no && r->has_event_seq && r->error) {
            s_hold_refused(up, st, r);
            break;
        }
        /* a frame the hub could not take: tried again after REHELLO_MS */
        /* fall through */
    case KOOP__SYNC__CODE__CODE_STREAM:
    case KOOP__SYNC__CODE__CODE_CHAIN:
        if (st && r->batch_no >= st->rewind_batch_no) {
            st->held = 1;
            snprintf(st->state, sizeof st->state, "hub odmówił przyjęcia: %.150s", why);
            koop_error("uplink: strumień %s: %s", st->name, st->state);
            up->rehello_mono = koop_clock_mono_ms() + REHELLO_MS;
        }
        break;
    default: /* INTERNAL: the retransmit timer sends again */
        koop_warn("uplink: hub nie zapisał paczki (%.200s); ponowię", why);
        break;
    }
}

static void
s_on_down_applied(void *ctx, int status, const char *error, const uint8_t *payload, size_t len)
{
    sync_uplink_t *up = ctx;
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__DownAck a = KOOP__SYNC__DOWN_ACK__INIT;
    Koop__Reg__RemotePosition *p;
    if (status == KOOP_MALFORMED) {
        /* the registry's check refused a record of it: the same Down would
         * be refused again, so the down-flow of that log stops here */
        snprintf(up->down_held, sizeof up->down_held, "%s", up->down_asked);
        snprintf(up->down_state, sizeof up->down_state,
                 "wstrzymane: rejestr odrzucił dane huba (%.200s); nic z huba nie będzie przyjmowane do restartu "
                 "koop-sync",
                 error ? error : "?");
        up->down_refused++;
        koop_service_note_refused(up->sync->svc, 1);
        koop_error("uplink: %s", up->down_state);
        return; /* no DownAck: the position stays where the registry is */
    }
    if (status != KOOP_OK) {
        koop_warn("uplink: rejestr nie przyjął danych huba: %s", error ? error : "?");
        return; /* the hub sends it again */
    }
    p = koop__reg__remote_position__unpack(NULL, len, payload);
    if (!p)
        return;
    if (p->skipped)
        koop_warn("uplink: rejestr pominął %u rekord(y) z huba (szczegóły w dzienniku rejestru)", p->skipped);
    snprintf(up->down_log_id, sizeof up->down_log_id, "%s", p->log_id && sync_valid_name(p->log_id) ? p->log_id : "");
    up->down_seq = p->seq;
    koop__reg__remote_position__free_unpacked(p, NULL);
    s_save_meta(up);
    a.log_id = up->down_log_id;
    a.has_seq = 1;
    a.seq = up->down_seq;
    f.body_case = KOOP__SYNC__FRAME__BODY_DOWN_ACK;
    f.down_ack = &a;
    (void)s_send(up, &f); /* lost: the hub sends again after its stall timeout */
}

static void
s_on_down(sync_uplink_t *up, const Koop__Sync__Down *d)
{
    Koop__Reg__RemoteApply q = KOOP__REG__REMOTE_APPLY__INIT;
    ProtobufCBinaryData *events;
    if (up->state != UP_READY || !up->hub_node[0] || !d->log_id || !sync_valid_name(d->log_id) ||
        d->n_items > SYNC_DOWN_MAX)
        return;
    if (up->down_held[0] && strcmp(up->down_held, d->log_id) == 0) {
        up->down_dropped++; /* refused before (s_on_down_applied) */
        return;
    }
    if (sync_local_busy(up->registry)) {
        up->down_dropped++; /* one at a time; the hub sends it again */
        return;
    }
    snprintf(up->down_asked, sizeof up->down_asked, "%s", d->log_id);
    events = calloc(d->n_items ? d->n_items : 1, sizeof *events);
    if (!events)
        return;
    for (size_t i = 0; i < d->n_items; i++)
        events[i] = d->items[i]->event;
    q.source = up->hub_node;
    q.log_id = d->log_id;
    q.has_from_seq = q.has_to_seq = 1;
    q.from_seq = d->from_seq;
    q.to_seq = d->to_seq;
    q.events = events;
    q.n_events = d->n_items;
    if (sync_local_call(up->registry, "remote.apply", &q.base, 10000, s_on_down_applied, up) != 0)
        koop_warn("uplink: rejestr tego węzła nie odpowiada: dane huba przyjdą ponownie");
    free(events);
}

static void
s_on_frame(sync_uplink_t *up, const uint8_t *data, size_t len)
{
    Koop__Sync__Frame *f = koop__sync__frame__unpack(NULL, len, data);
    if (!f) {
        koop_warn("uplink: nieczytelna wiadomość od huba (%zu bajtów) – pominięta", len);
        return;
    }
    up->last_rx_mono = koop_clock_mono_ms();
    up->last_contact_ms = koop_clock_real_ms();
    switch (f->body_case) {
    case KOOP__SYNC__FRAME__BODY_WELCOME:
        s_on_welcome(up, f->welcome);
        break;
    case KOOP__SYNC__FRAME__BODY_ACK:
        s_on_ack(up, f->ack);
        break;
    case KOOP__SYNC__FRAME__BODY_REFUSE:
        s_on_refuse(up, f->refuse);
        break;
    case KOOP__SYNC__FRAME__BODY_DOWN:
        s_on_down(up, f->down);
        break;
    case KOOP__SYNC__FRAME__BODY_PONG:
        break;
    case KOOP__SYNC__FRAME__BODY_RELAY:
    case KOOP__SYNC__FRAME__BODY_RELAY_ACK:
    case KOOP__SYNC__FRAME__BODY_PEERS:
        /* transfers between gminas (transfer.c) */
        if (up->state == UP_READY)
            sync_relay_frame(up->sync->relay, NULL, f);
        break;
    default:
        (void)sync_verifier_on_frame(up->verifier, f); /* Digest, Repaired, VerifyAsk */
        break;
    }
    koop__sync__frame__free_unpacked(f, NULL);
}

static void
s_on_readable(koop_zwatch_t *w)
{
    sync_uplink_t *up = w->zw_data;
    int n = 0;
    while (up->sock && up->watch == w && koop_zwatch_readable(w)) {
        zmq_msg_t msg;
        int more = 0;
        size_t ml = sizeof more;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, up->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        zmq_getsockopt(up->sock, ZMQ_RCVMORE, &more, &ml);
        if (more) {
            /* one frame per message: drain and drop the rest */
            while (more) {
                zmq_msg_t x;
                zmq_msg_init(&x);
                zmq_msg_recv(&x, up->sock, 0);
                zmq_msg_close(&x);
                zmq_getsockopt(up->sock, ZMQ_RCVMORE, &more, &ml);
            }
            zmq_msg_close(&msg);
            continue;
        }
        s_on_frame(up, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
        n++;
    }
    if (n)
        s_save(up);
    for (size_t i = 0; n && i < up->nstreams; i++)
        s_pump(&up->streams[i]);
}

/* ---- the tick: connection life, heartbeats, retransmits ---- */

static void
s_on_tick(uv_timer_t *t)
{
    sync_uplink_t *up = t->data;
    uint64_t now = koop_clock_mono_ms();

    sync_verifier_tick(up->verifier);

    switch (up->state) {
    case UP_OFF:
        return;
    case UP_WAIT:
        if (now < up->next_attempt_mono)
            return;
        if (s_connect(up) != 0) {
            s_disconnect(up);
            return;
        }
        up->state = UP_CONNECTING;
        up->phase_mono = now;
        for (size_t i = 0; i < up->nstreams; i++)
            s_ask_log_id(&up->streams[i]);
        /* fall through */
    case UP_CONNECTING:
        /* wait for the producers' log ids for a while, then go with what is known */
        if (s_all_known(up) || now - up->phase_mono > SYNC_DEAD_MS / 2) {
            int rc = s_send_hello(up);
            if (rc == 0)
                return;
            if (rc != -EAGAIN)
                s_set_error(up, "nie można wysłać HELLO: %s", strerror(-rc));
        }
        for (size_t i = 0; i < up->nstreams; i++)
            if (!up->streams[i].log_id[0])
                s_ask_log_id(&up->streams[i]);
        if (now - up->phase_mono > SYNC_DEAD_MS) {
            if (!up->last_error[0] || strncmp(up->last_error, "hub ", 4) != 0)
                s_set_error(up, "brak połączenia z hubem %s", up->cfg->sync_hub);
            s_disconnect(up);
        }
        return;
    case UP_HELLO_SENT:
        if (now - up->phase_mono > SYNC_DEAD_MS) {
            s_set_error(up, "hub %s nie odpowiedział na HELLO", up->cfg->sync_hub);
            s_disconnect(up);
        }
        return;
    case UP_READY:
        break;
    }
    if (now - up->last_rx_mono > SYNC_DEAD_MS) {
        s_set_error(up, "hub %s nie odpowiada od %llu ms: łączę ponownie", up->cfg->sync_hub,
                    (unsigned long long)(now - up->last_rx_mono));
        s_disconnect(up);
        return;
    }
    if (up->rehello_mono && now >= up->rehello_mono && s_all_known(up)) {
        if (s_send_hello(up) == 0)
            return;
    }
    if (now - up->last_tx_mono >= SYNC_HEARTBEAT_MS) {
        Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
        Koop__Sync__Ping p = KOOP__SYNC__PING__INIT;
        p.has_time_ms = p.has_down_seq = 1;
        p.time_ms = koop_clock_real_ms();
        p.down_seq = up->down_seq;
        f.body_case = KOOP__SYNC__FRAME__BODY_PING;
        f.ping = &p;
        (void)s_send(up, &f); /* a ping that cannot go is noticed by the silence check */
    }
    for (size_t i = 0; i < up->nstreams; i++) {
        s_stream *st = &up->streams[i];
        /* a producer that was down at HELLO: once it answers, HELLO again */
        if (!st->log_id[0])
            s_ask_log_id(st);
        if (st->nflight && now - st->progress_mono > SYNC_RETRANSMIT_MS) {
            koop_warn("uplink: strumień %s: brak potwierdzenia od %llu ms; wysyłam ponownie od %llu",
                      st->name, (unsigned long long)(now - st->progress_mono), (unsigned long long)st->acked);
            s_rewind(st, st->acked);
        }
        s_pump(st);
    }
}

/* ---- start / stop ---- */

/* The uplink's state over sync->svc's store: its streams, their readers
 * and the stored positions; nothing on the network yet. */
static sync_uplink_t *
s_uplink_new(sync_t *sync)
{
    sync_uplink_t *up = calloc(1, sizeof *up);
    const koop_config_t *cfg = koop_service_config(sync->svc);
    const char *names[KOOP_MAX_SERVICES];
    int n, rc;

    if (!up)
        return NULL;
    up->sync = sync;
    up->cfg = cfg;
    (void)sync_link_limits(NULL, &up->limits); /* ours, until a WELCOME says */
    up->store = koop_service_store(sync->svc);
    up->loop = koop_service_loop(sync->svc);
    up->zctx = koop_service_zctx(sync->svc);
    up->backoff_ms = SYNC_BACKOFF_MIN_MS;
    up->state = cfg->sync_hub[0] ? UP_WAIT : UP_OFF;
    /* the streams (services.def): every service of this node whose SHARED
     * events go up; a hub also forwards its own merged stream */
    n = koop_config_services(cfg, names);
    for (int i = 0; i < n && up->nstreams < SYNC_MAX_STREAMS; i++) {
        const koop_service_info_t *info = koop_service_info(names[i]);
        s_stream *st;
        if (!(info->flags & KOOP_SVC_STREAM) && !((info->flags & KOOP_SVC_HUB_STREAM) && koop_config_is_hub(cfg)))
            continue;
        st = &up->streams[up->nstreams++];
        st->up = up;
        snprintf(st->name, sizeof st->name, "%s", names[i]);
        st->endpoint = koop_config_endpoint(cfg, names[i]);
        st->own = strcmp(names[i], "sync") == 0;
        st->reader = sync_local_new(koop_service_client(up->sync->svc), st->endpoint);
        if (!st->reader)
            goto fail;
    }
    up->registry = sync_local_new(koop_service_client(up->sync->svc), koop_config_endpoint(cfg, "registry"));
    up->verifier = sync_verifier_new(up, koop_service_client(up->sync->svc));
    if (!up->registry || !up->verifier)
        goto fail;
    if ((rc = koop_store_write(up->store, s_load_fn, up)) != 0) {
        koop_error("uplink: nie można odczytać pozycji: %s", koop_strerror(rc));
        goto fail;
    }
    return up;
fail:
    sync_uplink_stop(&up);
    return NULL;
}

sync_uplink_t *
sync_uplink_open(sync_t *sync)
{
    sync_uplink_t *up = s_uplink_new(sync);
    if (up)
        up->state = UP_HELLO_SENT; /* as if a HELLO had gone: the hub's frames are taken */
    return up;
}

void
sync_uplink_learn(sync_uplink_t *up, const char *stream, const char *log_id)
{
    s_stream *st = s_find(up, stream);
    if (st)
        s_learn_log_id(st, log_id);
}

void
sync_uplink_take(sync_uplink_t *up, const uint8_t *data, size_t len)
{
    s_on_frame(up, data, len);
    s_save(up);
}

sync_uplink_t *
sync_uplink_start(sync_t *sync)
{
    sync_uplink_t *up = s_uplink_new(sync);
    const koop_config_t *cfg;
    char err[300], path[PATH_MAX + 32];

    if (!up)
        return NULL;
    cfg = up->cfg;
    if (up->state != UP_OFF) {
        snprintf(path, sizeof path, "%s/keys/node.key", cfg->dir);
        if (sync_cert_load(path, 1, &up->keys, err, sizeof err) != 0) {
            koop_error("uplink: %s: bez klucza węzła nie można połączyć się z hubem", err);
            snprintf(up->last_error, sizeof up->last_error, "%.250s", err);
            up->state = UP_OFF;
        } else {
            sync_keypair_t hub;
            if (sync_cert_load(cfg->sync_hub_key, 0, &hub, err, sizeof err) != 0) {
                koop_error("uplink: klucz huba ([sync] hub_key): %s", err);
                snprintf(up->last_error, sizeof up->last_error, "klucz huba: %.250s", err);
                up->state = UP_OFF;
            } else {
                memcpy(up->hub_key, hub.public_key, 32);
            }
        }
    }
    up->tick = calloc(1, sizeof *up->tick);
    if (!up->tick)
        goto fail;
    uv_timer_init(up->loop, up->tick);
    up->tick->data = up;
    uv_timer_start(up->tick, s_on_tick, 0, TICK_MS);
    if (up->state == UP_OFF && cfg->sync_hub[0] == '\0')
        koop_info("uplink: brak [sync] hub w konfiguracji: zdarzenia czekają w dziennikach");
    else if (up->state != UP_OFF)
        koop_info("uplink: hub %s, %zu strumień(e)", cfg->sync_hub, up->nstreams);
    return up;
fail:
    sync_uplink_stop(&up);
    return NULL;
}

static void
s_free_handle(uv_handle_t *h)
{
    free(h);
}

void
sync_uplink_stop(sync_uplink_t **self_p)
{
    sync_uplink_t *up;
    if (!self_p || !*self_p)
        return;
    up = *self_p;
    s_save(up);
    s_close_socket(up);
    for (size_t i = 0; i < up->nstreams; i++)
        sync_local_destroy(&up->streams[i].reader);
    sync_local_destroy(&up->registry);
    sync_verifier_destroy(&up->verifier);
    if (up->tick) {
        uv_timer_stop(up->tick);
        uv_close((uv_handle_t *)up->tick, s_free_handle);
    }
    free(up);
    *self_p = NULL;
}

/* ---- for sync verify (verify.c; sending and READY: the hooks below) ---- */

size_t
sync_uplink_nstreams(const sync_uplink_t *up)
{
    return up->nstreams;
}

void
sync_uplink_stream(const sync_uplink_t *up, size_t i, const char **name, const char **endpoint, uint64_t *acked,
                   const char **why)
{
    const s_stream *st = &up->streams[i];
    *name = st->name;
    *endpoint = st->endpoint;
    *acked = st->acked;
    *why = st->held ? (st->state[0] ? st->state : "wstrzymany") : NULL;
}

const char *
sync_uplink_node(const sync_uplink_t *up)
{
    return up->cfg->node_id;
}

koop_service_t *
sync_uplink_service(const sync_uplink_t *up)
{
    return up->sync->svc;
}

sync_verifier_t *
sync_uplink_verifier(sync_uplink_t *up)
{
    return up->verifier;
}

/* ---- status ---- */

static void s_status_round(sync_uplink_t *up);

static void
s_on_status_stat(void *ctx, const koop_reply_t *reply)
{
    s_stream *st = ctx;
    sync_uplink_t *up = st->up;
    Koop__FeedStat *fs = reply->status == KOOP_OK ? koop__feed_stat__unpack(NULL, reply->len, reply->payload) : NULL;
    st->status_asking = 0;
    if (fs) {
        /* acked of another log (reset database): everything is pending */
        if (fs->log_id && st->acked_log_id[0] && strcmp(fs->log_id, st->acked_log_id) != 0)
            st->status_pending = fs->last_shared_seq ? fs->shared_after : 0;
        else
            st->status_pending = fs->shared_after;
        st->status_last = fs->last_shared_seq;
        koop__feed_stat__free_unpacked(fs, NULL);
    }
    if (up->status_waiting && --up->status_waiting == 0) {
        up->status_done = up->status_round;
        koop_service_retry_deferred(up->sync->svc, up->status_done);
        if (up->status_again) {
            up->status_again = 0;
            s_status_round(up);
        }
    }
}

/* Asks every producer how much is after the acknowledged position. */
static void
s_status_round(sync_uplink_t *up)
{
    koop_client_t *client = koop_service_client(up->sync->svc);
    up->status_round++;
    up->status_waiting = 0;
    for (size_t i = 0; i < up->nstreams; i++) {
        s_stream *st = &up->streams[i];
        Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
        if (st->own || st->status_asking)
            continue;
        q.stream = st->name;
        q.has_after_seq = 1;
        q.after_seq = st->acked;
        if (koop_client_call(client, st->endpoint, NULL, "feed.stat", &q.base, KOOP_DEFER_MAX_MS * 3 / 4,
                             s_on_status_stat, st, NULL) == 0) {
            st->status_asking = 1;
            up->status_waiting++;
        }
    }
    if (!up->status_waiting)
        up->status_done = up->status_round;
}

/* The round whose end will tell the status as of now (starting one when
 * none is under way). */
static uint64_t
s_status_ask(sync_uplink_t *up)
{
    if (up->status_waiting) {
        up->status_again = 1; /* the round under way started before this call */
        return up->status_round + 1;
    }
    s_status_round(up);
    return up->status_round;
}

int
sync_uplink_status_ready(sync_uplink_t *up, koop_call_t *call)
{
    uint64_t round;
    if (call->final)
        return 1;
    round = s_status_ask(up);
    if (round <= up->status_done)
        return 1; /* nothing to ask (no producer of another process) */
    return koop_call_defer(call, round) == KOOP_DEFERRED ? 0 : 1;
}

int
sync_uplink_status(sync_uplink_t *up, koop_call_t *call, Koop__Sync__UplinkStatus *out)
{
    uint64_t now = koop_clock_mono_ms(), pending = 0;
    Koop__Sync__StreamStatus **list = calloc(up->nstreams ? up->nstreams : 1, sizeof *list);
    if (!list)
        return -ENOMEM;
    koop__sync__uplink_status__init(out);
    for (size_t i = 0; i < up->nstreams; i++) {
        s_stream *st = &up->streams[i];
        Koop__Sync__StreamStatus *s = calloc(1, sizeof *s);
        if (!s) {
            out->streams = list;
            out->n_streams = i;
            sync_uplink_status_free(out);
            return -ENOMEM;
        }
        koop__sync__stream_status__init(s);
        list[i] = s;
        if (st->own) {
            koop_log_t *log = koop_service_log(up->sync->svc);
            if (koop_log_last(log, call->txn, 1, &st->status_last) == 0)
                (void)koop_log_count_shared_after(log, call->txn, st->acked, &st->status_pending);
        } /* else: as the last status round found (sync_uplink_status_ready) */
        s->stream = st->name;
        s->log_id = st->log_id[0] ? st->log_id : st->acked_log_id;
        s->has_last_seq = s->has_acked = s->has_pending = 1;
        s->last_seq = st->status_last;
        s->acked = st->acked;
        s->pending = st->status_pending;
        s->state = st->state[0] ? st->state : (st->held ? "wstrzymany" : "ok");
        s->has_held_ms = 1;
        s->held_ms = st->held_ms;
        pending += st->status_pending;
    }
    out->streams = list;
    out->n_streams = up->nstreams;
    out->hub = (char *)up->cfg->sync_hub;
    out->has_connected = out->has_last_contact_ms = out->has_pending = out->has_down_seq = 1;
    out->connected = up->state == UP_READY && now - up->last_rx_mono <= SYNC_DEAD_MS;
    out->last_contact_ms = up->last_contact_ms;
    out->pending = pending;
    out->down_log_id = up->down_log_id;
    out->down_seq = up->down_seq;
    out->last_error = up->last_error[0] ? up->last_error : NULL;
    for (size_t i = 0; !out->last_error && i < up->nstreams; i++)
        if (up->streams[i].refused)
            out->last_error = up->streams[i].refusal; /* the link is up, but this stream stands */
    out->has_down_refused = 1;
    out->down_refused = up->down_refused;
    out->down_state = up->down_state[0] ? up->down_state : NULL;
    if (!out->last_error && up->down_state[0])
        out->last_error = up->down_state;
    out->hub_node = up->hub_node[0] ? up->hub_node : NULL;
    return 0;
}

void
sync_uplink_status_free(Koop__Sync__UplinkStatus *st)
{
    for (size_t i = 0; st && i < st->n_streams; i++)
        free(st->streams[i]);
    if (st)
        free(st->streams);
}

/* ---- hooks of transfer.c and verify.c ---- */

int
sync_uplink_send_frame(sync_uplink_t *up, const Koop__Sync__Frame *f)
{
    return up->state == UP_READY ? s_send(up, f) : -ENOTCONN;
}

int
sync_uplink_is_ready(const sync_uplink_t *up)
{
    return up && up->state == UP_READY;
}

uint64_t
sync_uplink_acked(const sync_uplink_t *up, const char *stream)
{
    for (size_t i = 0; i < up->nstreams; i++)
        if (strcmp(up->streams[i].name, stream) == 0)
            return up->streams[i].acked;
    return 0;
}
