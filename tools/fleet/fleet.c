/* fleet.c - simulated gmina uplinks on one loop (see fleet.h). */
#include "fleet.h"
#include "facts.h"
#include "../../services/sync/sync.h"
#include "chain.h"
#include "clock.h"
#include "enrol.h"
#include "id.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>
#include <zmq.h>

#define TICK_MS 100
#define FLIGHT_MAX 64
#define RETRY_MS 1000     /* after a refusal */
#define REG_EVERY 4       /* IPWs per registry event in a gmina's day */

static const char *const s_stream_names[FLEET_STREAMS] = {"registry", "cases", "notifier", "reporting"};

typedef struct {
    char log_id[KOOP_ID_LEN];
    uint8_t *bytes;               /* envelopes, one after another */
    size_t nbytes, capbytes;
    size_t *end;                  /* end[i]: where the envelope of seq i+1 ends */
    uint8_t *links;               /* S (common/chain.h) after seq i+1: KOOP_CHAIN_LEN bytes each */
    uint64_t n, capn;
    uint64_t sent, acked;
    uint64_t flight[FLIGHT_MAX];  /* last seq of each batch in flight, oldest first */
    size_t nflight;
    uint64_t progress_ms;
    uint64_t rewind_batch_no;     /* refusals of older batches are stale */
} s_stream;

typedef struct s_gmina s_gmina;

typedef struct {
    uv_poll_t poll;
    s_gmina *g;
} s_watch;

struct s_gmina {
    fleet_t *fleet;
    unsigned index;
    int hub;
    char node[SYNC_MAX_NAME + 1];
    char teryt[8];
    char actor[KOOP_ID_LEN];      /* the social worker who writes */
    uint8_t pub[32], sec[32];
    char key[41];
    s_stream streams[FLEET_STREAMS];
    fleet_facts_t facts;
    void *sock;
    s_watch *watch;
    int state;
    int online;                   /* what the caller asked for */
    int queued;                   /* on the recheck list */
    uint64_t phase_ms;            /* when the socket was made / HELLO sent */
    uint64_t retry_ms;            /* no socket before this */
    uint64_t backoff_ms;          /* as the uplink's: doubling from SYNC_BACKOFF_MIN_MS */
    uint64_t last_rx_ms, last_tx_ms;
    uint64_t batch_no;
    char down_log_id[SYNC_MAX_NAME + 1];
    uint64_t down_seq;
    uint64_t denied;
    char name[32];                /* what it calls itself ([node] name) */
    int has_dir;                  /* a key directory from the hub, with its digest */
    uint8_t dir_digest[SYNC_DIR_DIGEST];
    int peers_due;                /* PEERS up at the next tick */
    uint64_t peers_ms;            /* when PEERS last went up */
};

typedef struct {
    int kind; /* 0 online, 1 offline, 2 write */
    unsigned from, to, events;
} s_cmd;

typedef struct {
    char endpoint[256];
    uint8_t key[32];
} s_hub;

struct fleet {
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick;
    uv_check_t check;
    pthread_t thread;
    int started;
    void *zctx;
    s_hub *hubs;
    unsigned nhubs;
    s_gmina *g;
    unsigned n, cap;
    unsigned *recheck;            /* gminas to look at after the loop's callbacks */
    unsigned *round;              /* the list being worked through */
    size_t nrecheck;
    Koop__Sync__Item *items;      /* scratch for one batch */
    Koop__Sync__Item **ptrs;
    /* shared with the caller's thread, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    s_cmd *cmds;
    size_t ncmds, capcmds;
    uint64_t cmds_posted;
    int stopping;
    fleet_stats_t st;
};

static void s_on_readable(uv_poll_t *p, int status, int events);
static void s_pump(s_gmina *g);

/* ---- counters (the caller reads them while the loop runs) ---- */

#define S_COUNT(f, field, v)                                                                                       \
    do {                                                                                                           \
        pthread_mutex_lock(&(f)->mu);                                                                              \
        (f)->st.field += (v);                                                                                      \
        pthread_mutex_unlock(&(f)->mu);                                                                            \
    } while (0)

static void
s_set_state(s_gmina *g, int state)
{
    fleet_t *f = g->fleet;
    if (g->state == state)
        return;
    pthread_mutex_lock(&f->mu);
    if (g->state == FLEET_READY)
        f->st.ready--;
    if (state == FLEET_READY)
        f->st.ready++;
    pthread_mutex_unlock(&f->mu);
    g->state = state;
}

/* ---- the link ---- */

static void
s_watch_closed(uv_handle_t *h)
{
    free(h);
}

static void
s_close(s_gmina *g)
{
    if (g->watch) {
        uv_poll_stop(&g->watch->poll);
        uv_close((uv_handle_t *)&g->watch->poll, s_watch_closed);
        g->watch = NULL;
    }
    if (g->sock) {
        zmq_close(g->sock);
        g->sock = NULL;
    }
    for (int i = 0; i < FLEET_STREAMS; i++) {
        g->streams[i].sent = g->streams[i].acked;
        g->streams[i].nflight = 0;
    }
}

static int
s_open(s_gmina *g)
{
    fleet_t *f = g->fleet;
    int one = 1, ivl = 250, ivl_max = 2000, fd;
    size_t fdlen = sizeof fd;

    g->sock = zmq_socket(f->zctx, ZMQ_DEALER);
    if (!g->sock)
        return -errno;
    if (sync_link_sockopts(g->sock) != 0 || zmq_setsockopt(g->sock, ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
        zmq_setsockopt(g->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(g->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0 ||
        zmq_setsockopt(g->sock, ZMQ_CURVE_SERVERKEY, f->hubs[g->hub].key, 32) != 0 ||
        zmq_setsockopt(g->sock, ZMQ_CURVE_PUBLICKEY, g->pub, 32) != 0 ||
        zmq_setsockopt(g->sock, ZMQ_CURVE_SECRETKEY, g->sec, 32) != 0 ||
        zmq_connect(g->sock, f->hubs[g->hub].endpoint) != 0 ||
        zmq_getsockopt(g->sock, ZMQ_FD, &fd, &fdlen) != 0)
        goto fail;
    g->watch = calloc(1, sizeof *g->watch);
    if (!g->watch)
        goto fail;
    g->watch->g = g;
    if (uv_poll_init(&f->loop, &g->watch->poll, fd) != 0) {
        free(g->watch);
        g->watch = NULL;
        goto fail;
    }
    uv_poll_start(&g->watch->poll, UV_READABLE, s_on_readable);
    g->phase_ms = koop_clock_mono_ms();
    g->last_rx_ms = g->last_tx_ms = g->phase_ms;
    s_set_state(g, FLEET_CONNECTING);
    return 0;
fail:
    {
        int e = errno ? errno : EIO;
        s_close(g);
        return -e;
    }
}

/* Looks at g's socket again after the loop's callbacks: ZMQ_FD is
 * edge-triggered, and a send may have consumed the edge of a reply. */
static void
s_recheck(s_gmina *g)
{
    fleet_t *f = g->fleet;
    if (g->queued)
        return;
    g->queued = 1;
    f->recheck[f->nrecheck++] = g->index;
}

static int
s_send(s_gmina *g, const Koop__Sync__Frame *frame)
{
    int rc;
    if (!g->sock)
        return -ENOTCONN;
    rc = sync_frame_send(g->sock, NULL, 0, frame);
    if (rc == 0) {
        g->last_tx_ms = koop_clock_mono_ms();
        s_recheck(g);
    }
    return rc;
}

/* Drops the link and makes a new one after at least pause_ms and the
 * backoff, which doubles up to SYNC_BACKOFF_MAX_MS as the uplink's does
 * (a WELCOME resets it). */
static void
s_reconnect(s_gmina *g, uint64_t pause_ms)
{
    s_close(g);
    s_set_state(g, FLEET_OFF);
    if (g->backoff_ms < SYNC_BACKOFF_MIN_MS)
        g->backoff_ms = SYNC_BACKOFF_MIN_MS;
    g->retry_ms = koop_clock_mono_ms() + (pause_ms > g->backoff_ms ? pause_ms : g->backoff_ms);
    g->backoff_ms = g->backoff_ms * 2 > SYNC_BACKOFF_MAX_MS ? SYNC_BACKOFF_MAX_MS : g->backoff_ms * 2;
    S_COUNT(g->fleet, reconnects, 1);
}

static void
s_hello(s_gmina *g)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Hello h = KOOP__SYNC__HELLO__INIT;
    Koop__Sync__StreamPos pos[FLEET_STREAMS], *ptrs[FLEET_STREAMS];
    for (int i = 0; i < FLEET_STREAMS; i++) {
        koop__sync__stream_pos__init(&pos[i]);
        pos[i].stream = (char *)s_stream_names[i];
        pos[i].log_id = g->streams[i].log_id;
        pos[i].has_seq = 1;
        pos[i].seq = g->streams[i].acked;
        ptrs[i] = &pos[i];
    }
    h.has_version = h.has_down_seq = 1;
    h.version = SYNC_VERSION;
    h.node = g->node;
    h.streams = ptrs;
    h.n_streams = FLEET_STREAMS;
    h.down_log_id = g->down_log_id;
    h.down_seq = g->down_seq;
    f.body_case = KOOP__SYNC__FRAME__BODY_HELLO;
    f.hello = &h;
    if (s_send(g, &f) == 0) {
        s_set_state(g, FLEET_HELLO_SENT);
        g->phase_ms = koop_clock_mono_ms();
    }
}

/* ---- batches ---- */

static void
s_rewind(s_gmina *g, s_stream *st, uint64_t pos)
{
    st->sent = pos;
    st->nflight = 0;
    st->rewind_batch_no = g->batch_no + 1;
    st->progress_ms = koop_clock_mono_ms();
}

/* S at seq (the genesis of the stream's log id at 0) into out. */
static void
s_link_at(const s_stream *st, uint64_t seq, uint8_t out[KOOP_CHAIN_LEN])
{
    if (seq == 0)
        koop_chain_genesis(out, "koop.shared", st->log_id);
    else
        memcpy(out, st->links + (seq - 1) * KOOP_CHAIN_LEN, KOOP_CHAIN_LEN);
}

static const uint8_t *
s_event(const s_stream *st, uint64_t seq, size_t *len)
{
    size_t from = seq > 1 ? st->end[seq - 2] : 0;
    *len = st->end[seq - 1] - from;
    return st->bytes + from;
}

/* One batch of st after st->sent. Returns 0, or -EAGAIN when nothing can go now. */
static int
s_send_batch(s_gmina *g, int si)
{
    fleet_t *f = g->fleet;
    s_stream *st = &g->streams[si];
    Koop__Sync__Frame frame = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Batch b = KOOP__SYNC__BATCH__INIT;
    uint8_t before[KOOP_CHAIN_LEN], after[KOOP_CHAIN_LEN];
    uint64_t room, seq = st->sent;
    size_t n = 0, bytes = 0;
    int rc;

    if (st->sent >= st->n || st->nflight >= FLIGHT_MAX || st->sent - st->acked >= SYNC_WINDOW)
        return -EAGAIN;
    room = SYNC_WINDOW - (st->sent - st->acked);
    while (seq < st->n && n < SYNC_BATCH_MAX && n < room) {
        size_t len;
        const uint8_t *ev = s_event(st, seq + 1, &len);
        if (n > 0 && bytes + len > SYNC_BATCH_BYTES)
            break;
        koop__sync__item__init(&f->items[n]);
        f->items[n].has_seq = f->items[n].has_event = 1;
        f->items[n].seq = ++seq;
        f->items[n].event.data = (uint8_t *)ev;
        f->items[n].event.len = len;
        f->ptrs[n] = &f->items[n];
        bytes += len;
        n++;
    }
    b.stream = (char *)s_stream_names[si];
    b.has_prev = b.has_batch_no = 1;
    b.prev = st->sent;
    b.batch_no = ++g->batch_no;
    b.items = f->ptrs;
    b.n_items = n;
    /* the chain's links, as an uplink sends them (docs/ACCOUNTABILITY.md) */
    s_link_at(st, st->sent, before);
    s_link_at(st, seq, after);
    b.has_prev_link = b.has_link = 1;
    b.prev_link = (ProtobufCBinaryData){KOOP_CHAIN_LEN, before};
    b.link = (ProtobufCBinaryData){KOOP_CHAIN_LEN, after};
    frame.body_case = KOOP__SYNC__FRAME__BODY_BATCH;
    frame.batch = &b;
    if ((rc = s_send(g, &frame)) != 0) {
        g->batch_no--;
        return -EAGAIN; /* the queue is full or the link went: later */
    }
    if (st->nflight == 0)
        st->progress_ms = koop_clock_mono_ms();
    st->flight[st->nflight++] = seq;
    st->sent = seq;
    S_COUNT(f, batches, 1);
    return 0;
}

static void
s_pump(s_gmina *g)
{
    if (g->state != FLEET_READY)
        return;
    for (int i = 0; i < FLEET_STREAMS; i++)
        while (s_send_batch(g, i) == 0)
            ;
}

/* ---- frames from the hub ---- */

static s_stream *
s_find(s_gmina *g, const char *name, int *si)
{
    for (int i = 0; name && i < FLEET_STREAMS; i++)
        if (strcmp(s_stream_names[i], name) == 0) {
            if (si)
                *si = i;
            return &g->streams[i];
        }
    return NULL;
}

static void
s_on_welcome(s_gmina *g, const Koop__Sync__Welcome *w)
{
    if (g->state != FLEET_HELLO_SENT)
        return;
    for (size_t i = 0; i < w->n_streams; i++) {
        const Koop__Sync__StreamPos *p = w->streams[i];
        s_stream *st = s_find(g, p->stream, NULL);
        if (!st || !p->log_id || strcmp(p->log_id, st->log_id) != 0 || p->verdict != KOOP__SYNC__VERDICT__VERDICT_OK)
            continue;
        if (p->seq > st->acked && p->seq <= st->n) {
            S_COUNT(g->fleet, acked, p->seq - st->acked);
            st->acked = p->seq;
        } else if (p->seq < st->acked) {
            /* the hub holds less than it acknowledged: send again from there */
            S_COUNT(g->fleet, acked, -(st->acked - p->seq));
            st->acked = p->seq;
        }
        s_rewind(g, st, st->acked);
    }
    s_set_state(g, FLEET_READY);
    g->backoff_ms = SYNC_BACKOFF_MIN_MS;
    g->peers_due = 1;
    S_COUNT(g->fleet, welcomes, 1);
}

static void
s_on_ack(s_gmina *g, const Koop__Sync__Ack *a)
{
    s_stream *st = s_find(g, a->stream, NULL);
    size_t k = 0;
    if (!st || a->seq <= st->acked || a->seq > st->sent)
        return;
    S_COUNT(g->fleet, acked, a->seq - st->acked);
    st->acked = a->seq;
    st->progress_ms = koop_clock_mono_ms();
    while (k < st->nflight && st->flight[k] <= a->seq)
        k++;
    memmove(st->flight, st->flight + k, (st->nflight - k) * sizeof st->flight[0]);
    st->nflight -= k;
}

static void
s_on_refuse(s_gmina *g, const Koop__Sync__Refuse *r)
{
    s_stream *st = s_find(g, r->stream, NULL);
    switch (r->code) {
    case KOOP__SYNC__CODE__CODE_GAP:
        if (!st || r->batch_no < st->rewind_batch_no || r->expected > st->n)
            return;
        S_COUNT(g->fleet, gaps, 1);
        if (r->expected != st->acked) {
            S_COUNT(g->fleet, acked, (int64_t)r->expected - (int64_t)st->acked);
            st->acked = r->expected;
        }
        s_rewind(g, st, r->expected);
        break;
    case KOOP__SYNC__CODE__CODE_NO_SESSION:
        if (g->state == FLEET_READY)
            s_set_state(g, FLEET_CONNECTING); /* HELLO again on the tick */
        break;
    case KOOP__SYNC__CODE__CODE_DENIED:
    case KOOP__SYNC__CODE__CODE_VERSION:
        g->denied++;
        S_COUNT(g->fleet, denied, 1);
        s_reconnect(g, RETRY_MS);
        break;
    default:
        S_COUNT(g->fleet, errors, 1);
        break;
    }
}

static void
s_on_down(s_gmina *g, const Koop__Sync__Down *d)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__DownAck a = KOOP__SYNC__DOWN_ACK__INIT;
    if (!d->log_id || !sync_valid_name(d->log_id))
        return;
    /* a simulated registry takes every record as it comes */
    snprintf(g->down_log_id, sizeof g->down_log_id, "%s", d->log_id);
    g->down_seq = d->to_seq;
    a.log_id = g->down_log_id;
    a.has_seq = 1;
    a.seq = g->down_seq;
    f.body_case = KOOP__SYNC__FRAME__BODY_DOWN_ACK;
    f.down_ack = &a;
    (void)s_send(g, &f);
}

/* PEERS up, as transfer.c sends it from a gmina: its name and the digest
 * of the directory it holds. */
static void
s_say_peers(s_gmina *g)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Peers p = KOOP__SYNC__PEERS__INIT;
    p.name = g->name;
    p.has_have = g->has_dir;
    p.have.data = g->dir_digest;
    p.have.len = g->has_dir ? SYNC_DIR_DIGEST : 0;
    f.body_case = KOOP__SYNC__FRAME__BODY_PEERS;
    f.peers = &p;
    if (s_send(g, &f) == 0) {
        g->peers_due = 0;
        g->peers_ms = koop_clock_mono_ms();
    }
}

/* The hub's key directory (len bytes on the wire): a simulated gmina keeps
 * only its digest (the hubs are measured, not its copy) and says it back. */
static void
s_on_peers(s_gmina *g, const Koop__Sync__Peers *p, size_t len)
{
    pthread_mutex_lock(&g->fleet->mu);
    g->fleet->st.dir_frames++;
    g->fleet->st.dir_bytes += len;
    pthread_mutex_unlock(&g->fleet->mu);
    g->has_dir = p->has_digest && p->digest.len == SYNC_DIR_DIGEST;
    if (g->has_dir) {
        memcpy(g->dir_digest, p->digest.data, SYNC_DIR_DIGEST);
        g->peers_due = 1;
    }
}

static void
s_on_frame(s_gmina *g, const uint8_t *data, size_t len)
{
    Koop__Sync__Frame *f = koop__sync__frame__unpack(NULL, len, data);
    if (!f) {
        S_COUNT(g->fleet, errors, 1);
        return;
    }
    g->last_rx_ms = koop_clock_mono_ms();
    switch (f->body_case) {
    case KOOP__SYNC__FRAME__BODY_WELCOME:
        s_on_welcome(g, f->welcome);
        break;
    case KOOP__SYNC__FRAME__BODY_ACK:
        s_on_ack(g, f->ack);
        break;
    case KOOP__SYNC__FRAME__BODY_REFUSE:
        s_on_refuse(g, f->refuse);
        break;
    case KOOP__SYNC__FRAME__BODY_DOWN:
        s_on_down(g, f->down);
        break;
    case KOOP__SYNC__FRAME__BODY_PEERS:
        s_on_peers(g, f->peers, len);
        break;
    default:
        break;
    }
    koop__sync__frame__free_unpacked(f, NULL);
}

/* Receives everything waiting on g's socket. */
static void
s_drain(s_gmina *g)
{
    for (;;) {
        uint32_t events = 0;
        size_t elen = sizeof events;
        zmq_msg_t msg;
        if (!g->sock || zmq_getsockopt(g->sock, ZMQ_EVENTS, &events, &elen) != 0 || !(events & ZMQ_POLLIN))
            break;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, g->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        if (!zmq_msg_more(&msg))
            s_on_frame(g, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
    }
    s_pump(g);
}

static void
s_on_readable(uv_poll_t *p, int status, int events)
{
    s_watch *w = (s_watch *)p;
    (void)status;
    (void)events;
    s_drain(w->g);
}

static void
s_on_check(uv_check_t *c)
{
    fleet_t *f = c->data;
    /* draining may send and queue gminas again: in rounds, each gmina at
     * most once per list (its flag), so neither list outgrows the fleet */
    while (f->nrecheck) {
        size_t n = f->nrecheck;
        memcpy(f->round, f->recheck, n * sizeof *f->round);
        f->nrecheck = 0;
        for (size_t i = 0; i < n; i++) {
            s_gmina *g = &f->g[f->round[i]];
            g->queued = 0;
            s_drain(g);
        }
    }
}

/* ---- the tick: connecting, heartbeats, retransmits, silence ---- */

static void
s_tick_one(s_gmina *g, uint64_t now)
{
    if (!g->online)
        return;
    switch (g->state) {
    case FLEET_OFF:
        if (now >= g->retry_ms && s_open(g) != 0)
            g->retry_ms = now + RETRY_MS;
        if (g->state != FLEET_CONNECTING)
            return;
        /* fall through */
    case FLEET_CONNECTING:
        s_hello(g); /* ZeroMQ takes it once the connection is up (ZMQ_IMMEDIATE) */
        if (g->state == FLEET_CONNECTING && now > g->phase_ms + SYNC_DEAD_MS)
            s_reconnect(g, RETRY_MS);
        return;
    case FLEET_HELLO_SENT:
        if (now > g->phase_ms + SYNC_DEAD_MS)
            s_reconnect(g, RETRY_MS);
        return;
    default:
        break;
    }
    if (now > g->last_rx_ms + SYNC_DEAD_MS) {
        s_reconnect(g, 0);
        return;
    }
    if (now >= g->last_tx_ms + SYNC_HEARTBEAT_MS) {
        Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
        Koop__Sync__Ping p = KOOP__SYNC__PING__INIT;
        p.has_time_ms = p.has_down_seq = 1;
        p.time_ms = koop_clock_real_ms();
        p.down_seq = g->down_seq;
        f.body_case = KOOP__SYNC__FRAME__BODY_PING;
        f.ping = &p;
        (void)s_send(g, &f);
    }
    if (g->peers_due || now >= g->peers_ms + SYNC_PEERS_MS)
        s_say_peers(g);
    for (int i = 0; i < FLEET_STREAMS; i++) {
        s_stream *st = &g->streams[i];
        if (st->nflight && now > st->progress_ms + SYNC_RETRANSMIT_MS) {
            S_COUNT(g->fleet, retransmits, 1);
            s_rewind(g, st, st->acked);
        }
    }
    s_pump(g);
}

static void
s_on_tick(uv_timer_t *t)
{
    fleet_t *f = t->data;
    uint64_t now = koop_clock_mono_ms();
    for (unsigned i = 0; i < f->n; i++)
        s_tick_one(&f->g[i], now);
}

/* ---- writing: a gmina's services append events to their logs ---- */

static int
s_append(s_gmina *g, s_stream *st, const char *stream, const char *type, const uint8_t *payload, size_t len)
{
    Koop__Event ev = KOOP__EVENT__INIT;
    char id[KOOP_ID_LEN];
    size_t size;
    if (koop_id_new(id) != 0)
        return -EIO;
    ev.node = g->node;
    ev.stream = (char *)stream;
    ev.has_seq = ev.has_time_ms = ev.has_scope = ev.has_payload = 1;
    ev.seq = st->n + 1;
    ev.id = id;
    ev.time_ms = koop_clock_real_ms();
    ev.actor = g->actor;
    ev.scope = KOOP__SCOPE__SCOPE_SHARED;
    ev.type = (char *)type;
    ev.payload.data = (uint8_t *)payload;
    ev.payload.len = len;
    size = koop__event__get_packed_size(&ev);
    if (st->nbytes + size > st->capbytes) {
        size_t cap = st->capbytes ? st->capbytes * 2 : 64 * 1024;
        uint8_t *b;
        while (cap < st->nbytes + size)
            cap *= 2;
        if (!(b = realloc(st->bytes, cap)))
            return -ENOMEM;
        st->bytes = b;
        st->capbytes = cap;
    }
    if (st->n == st->capn) {
        uint64_t cap = st->capn ? st->capn * 2 : 256;
        size_t *e = realloc(st->end, cap * sizeof *e);
        uint8_t *l;
        if (!e)
            return -ENOMEM;
        st->end = e;
        if (!(l = realloc(st->links, cap * KOOP_CHAIN_LEN)))
            return -ENOMEM;
        st->links = l;
        st->capn = cap;
    }
    {
        /* the SHARED chain over the envelopes, as the gmina's log keeps it */
        size_t from = st->nbytes;
        uint8_t *link = st->links + st->n * KOOP_CHAIN_LEN;
        st->nbytes += koop__event__pack(&ev, st->bytes + st->nbytes);
        s_link_at(st, st->n, link);
        if (koop_chain_entry(link, link, st->bytes + from, st->nbytes - from, NULL) != 0)
            return -EINVAL;
    }
    st->end[st->n++] = st->nbytes;
    return 0;
}

static int
s_write(s_gmina *g, unsigned events)
{
    int rc;
    for (unsigned i = 0; i < events; i++) {
        int si = 0;
        fleet_facts_next(&g->facts);
        s_find(g, g->facts.stream, &si);
        if ((rc = s_append(g, &g->streams[si], g->facts.stream, g->facts.type, g->facts.buf, g->facts.len)) != 0)
            return rc;
    }
    S_COUNT(g->fleet, written, events);
    s_pump(g);
    return 0;
}

/* ---- commands from the caller's thread ---- */

static void
s_on_wake(uv_async_t *a)
{
    fleet_t *f = a->data;
    for (;;) {
        s_cmd c;
        int stop;
        pthread_mutex_lock(&f->mu);
        stop = f->stopping;
        if (f->ncmds == 0 || stop) {
            pthread_mutex_unlock(&f->mu);
            if (stop) {
                uv_stop(&f->loop);
            }
            return;
        }
        c = f->cmds[0];
        memmove(f->cmds, f->cmds + 1, (f->ncmds - 1) * sizeof *f->cmds);
        f->ncmds--;
        pthread_mutex_unlock(&f->mu);
        for (unsigned i = c.from; i < c.to && i < f->n; i++) {
            s_gmina *g = &f->g[i];
            if (c.kind == 0) {
                g->online = 1;
                g->retry_ms = 0;
                s_tick_one(g, koop_clock_mono_ms());
            } else if (c.kind == 1) {
                g->online = 0;
                s_close(g);
                s_set_state(g, FLEET_OFF);
            } else if (s_write(g, c.events) != 0) {
                S_COUNT(f, errors, 1);
            }
        }
        pthread_mutex_lock(&f->mu);
        if (c.kind == 2)
            f->st.last_write_us = koop_clock_mono_us();
        f->st.commands_done++;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
    }
}

static int
s_post(fleet_t *f, int kind, unsigned from, unsigned to, unsigned events)
{
    int rc = 0;
    pthread_mutex_lock(&f->mu);
    if (f->ncmds == f->capcmds) {
        size_t cap = f->capcmds ? f->capcmds * 2 : 16;
        s_cmd *c = realloc(f->cmds, cap * sizeof *c);
        if (!c) {
            rc = -ENOMEM;
            goto done;
        }
        f->cmds = c;
        f->capcmds = cap;
    }
    f->cmds[f->ncmds++] = (s_cmd){kind, from, to, events};
    f->cmds_posted++;
done:
    pthread_mutex_unlock(&f->mu);
    if (rc == 0 && f->started)
        uv_async_send(&f->wake);
    return rc;
}

int
fleet_online(fleet_t *self, unsigned from, unsigned to, int online)
{
    return s_post(self, online ? 0 : 1, from, to, 0);
}

int
fleet_write(fleet_t *self, unsigned from, unsigned to, unsigned events)
{
    return s_post(self, 2, from, to, events);
}

int
fleet_sync(fleet_t *self, unsigned timeout_ms)
{
    struct timespec until;
    int rc = 0;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&self->mu);
    while (rc == 0 && self->st.commands_done < self->cmds_posted)
        if (pthread_cond_timedwait(&self->cv, &self->mu, &until) == ETIMEDOUT)
            rc = -ETIMEDOUT;
    pthread_mutex_unlock(&self->mu);
    return rc;
}

void
fleet_stats(fleet_t *self, fleet_stats_t *out)
{
    pthread_mutex_lock(&self->mu);
    *out = self->st;
    pthread_mutex_unlock(&self->mu);
}

int
fleet_gmina(fleet_t *self, unsigned i, fleet_gmina_info_t *out)
{
    s_gmina *g;
    if (i >= self->n)
        return -ENOENT;
    g = &self->g[i];
    /* the loop thread writes these; a reader between commands sees a
     * moment's values (the bench reads them once the fleet is quiet) */
    pthread_mutex_lock(&self->mu);
    out->node = g->node;
    out->key = g->key;
    out->state = g->state;
    out->denied = g->denied;
    for (int s = 0; s < FLEET_STREAMS; s++) {
        out->streams[s].name = s_stream_names[s];
        out->streams[s].log_id = g->streams[s].log_id;
        out->streams[s].written = g->streams[s].n;
        out->streams[s].acked = g->streams[s].acked;
    }
    pthread_mutex_unlock(&self->mu);
    return 0;
}

/* ---- set-up ---- */

/* Frees the fleet's memory (its loop, sockets and lock already gone). */
static void
s_free(fleet_t *f)
{
    free(f->cmds);
    free(f->hubs);
    free(f->g);
    free(f->recheck);
    free(f->round);
    free(f->items);
    free(f->ptrs);
    free(f);
}

fleet_t *
fleet_new(unsigned max_gminas)
{
    fleet_t *f = calloc(1, sizeof *f);
    struct rlimit rl;
    if (!f)
        return NULL;
    /* a DEALER is two file descriptors (its mailbox and its TCP connection) */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl); /* what it can be; too few shows as failed sockets */
    }
    f->cap = max_gminas ? max_gminas : 1;
    f->g = calloc(f->cap, sizeof *f->g);
    f->recheck = calloc(f->cap, sizeof *f->recheck);
    f->round = calloc(f->cap, sizeof *f->round);
    f->items = calloc(SYNC_BATCH_MAX, sizeof *f->items);
    f->ptrs = calloc(SYNC_BATCH_MAX, sizeof *f->ptrs);
    f->zctx = zmq_ctx_new();
    if (!f->g || !f->recheck || !f->round || !f->items || !f->ptrs || !f->zctx)
        goto fail;
    if (zmq_ctx_set(f->zctx, ZMQ_MAX_SOCKETS, (int)f->cap + 64) != 0 || zmq_ctx_set(f->zctx, ZMQ_IO_THREADS, 1) != 0)
        goto fail;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (uv_loop_init(&f->loop) != 0)
        goto fail_sync;
    uv_async_init(&f->loop, &f->wake, s_on_wake);
    f->wake.data = f;
    uv_timer_init(&f->loop, &f->tick);
    f->tick.data = f;
    uv_check_init(&f->loop, &f->check);
    f->check.data = f;
    return f;
fail_sync:
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
fail:
    if (f->zctx)
        zmq_ctx_term(f->zctx);
    s_free(f);
    return NULL;
}

int
fleet_hub(fleet_t *self, const char *endpoint, const uint8_t key[32])
{
    s_hub *h = realloc(self->hubs, (self->nhubs + 1) * sizeof *h);
    if (!h)
        return -ENOMEM;
    self->hubs = h;
    h = &self->hubs[self->nhubs];
    if (snprintf(h->endpoint, sizeof h->endpoint, "%s", endpoint) >= (int)sizeof h->endpoint)
        return -ENAMETOOLONG;
    memcpy(h->key, key, 32);
    return (int)self->nhubs++;
}

int
fleet_add(fleet_t *self, int hub, const char *node, const char *teryt, int32_t first_day, const char *hub_dir)
{
    char secret[41];
    s_gmina *g;
    int rc;
    if (self->started || self->n == self->cap || hub < 0 || (unsigned)hub >= self->nhubs || !sync_valid_name(node))
        return -EINVAL;
    g = &self->g[self->n];
    memset(g, 0, sizeof *g);
    g->fleet = self;
    g->index = self->n;
    g->hub = hub;
    snprintf(g->node, sizeof g->node, "%s", node);
    snprintf(g->teryt, sizeof g->teryt, "%s", teryt);
    snprintf(g->name, sizeof g->name, "Gmina %s", g->teryt);
    if (zmq_curve_keypair(g->key, secret) != 0 || !zmq_z85_decode(g->pub, g->key) ||
        !zmq_z85_decode(g->sec, secret) || koop_id_new(g->actor) != 0)
        return -EIO;
    for (int i = 0; i < FLEET_STREAMS; i++)
        if (koop_id_new(g->streams[i].log_id) != 0)
            return -EIO;
    fleet_facts_init(&g->facts, self->n + 1, teryt, first_day, 365, REG_EVERY);
    snprintf(g->facts.owner, sizeof g->facts.owner, "%s", node); /* as its registry names them */
    if (hub_dir && (rc = koop_enrol_write(hub_dir, g->pub, node, "gmina", NULL, 0)) != 0)
        return rc;
    self->st.gminas = ++self->n;
    return (int)g->index;
}

static void *
s_thread(void *arg)
{
    fleet_t *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

int
fleet_start(fleet_t *self)
{
    int rc;
    uv_timer_start(&self->tick, s_on_tick, TICK_MS, TICK_MS);
    uv_check_start(&self->check, s_on_check);
    if ((rc = pthread_create(&self->thread, NULL, s_thread, self)) != 0)
        return -rc;
    self->started = 1;
    uv_async_send(&self->wake); /* commands queued before the start */
    return 0;
}

static void
s_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_POLL ? s_watch_closed : NULL);
}

void
fleet_destroy(fleet_t **self_p)
{
    fleet_t *f;
    if (!self_p || !*self_p)
        return;
    f = *self_p;
    if (f->started) {
        pthread_mutex_lock(&f->mu);
        f->stopping = 1;
        pthread_mutex_unlock(&f->mu);
        uv_async_send(&f->wake);
        pthread_join(f->thread, NULL);
    }
    for (unsigned i = 0; i < f->n; i++) {
        s_gmina *g = &f->g[i];
        if (g->sock)
            zmq_close(g->sock);
        g->watch = NULL; /* closed with every other handle below */
        for (int s = 0; s < FLEET_STREAMS; s++) {
            free(g->streams[s].bytes);
            free(g->streams[s].end);
            free(g->streams[s].links);
        }
    }
    uv_walk(&f->loop, s_walk_close, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&f->loop);
    zmq_ctx_term(f->zctx);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    s_free(f);
    *self_p = NULL;
}
