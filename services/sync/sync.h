/*
 * koop-sync - gmina -> hub sync (docs/SYNC.md), one program on every node,
 * answering on the node's `sync` endpoint:
 *
 *   uplink.c  on a gmina, and on a hub that has a higher hub ([sync] hub):
 *             sends the node's SHARED events up, applies hub-owned records
 *             coming down;
 *   hub.c     on a hub ([node] role = hub, [sync] listen): takes its
 *             gminas' streams in, serves them as its own merged stream
 *             "sync", sends its registry records down;
 *   keys.c    CURVE key pairs (CZMQ certificates), the hub's allow-list of
 *             enrolled gmina keys, and its ZAP handler;
 *   sessions.c the hub's sessions, by key and by node id (hash tables);
 *   local.c   asynchronous requests to the node's own services (feeds,
 *             registry) on the loop;
 *   wire.c    packing/sending frames, names and bounds shared by both sides;
 *   chain.c   the hub's check of each node's SHARED chain, heads and witnesses;
 *   verify.c  sync verify: a stream compared with the hub's copy by range
 *             digests, differing ranges sent again (anti-entropy).
 *
 * Both sides run on the service runtime's loop and store (service.h): one
 * thread, one LMDB environment DATA_DIR/sync. The runtime's own log is the
 * hub's merged stream ("sync"); on a gmina it stays empty.
 */
#ifndef SYNC_SYNC_H
#define SYNC_SYNC_H

#include "koop.h"
#include "service.h"
#include "store.h"
#include "envelope.pb-c.h"
#include "sync.pb-c.h"

#include <uv.h>

#define SYNC_VERSION 1
#define SYNC_MAX_NAME 63           /* node ids, log ids, stream names */
#define SYNC_MAX_STREAM 32         /* stream names: [a-z0-9_], 1..32 */
#define SYNC_MAX_STREAMS 16        /* per node */
#define SYNC_MAX_LABEL KOOP_MAX_NODE_NAME /* what a node calls itself ([node] name) */
#define SYNC_BATCH_MAX 2000        /* events in one Batch */
#define SYNC_BATCH_BYTES (1024 * 1024)
#define SYNC_WINDOW 20000          /* unacknowledged events per stream */
#define SYNC_HEARTBEAT_MS 1000     /* a Ping when nothing was sent for this long */
#define SYNC_DEAD_MS 5000          /* nothing heard for this long: the link is down */
#define SYNC_RETRANSMIT_MS 4000    /* no ack progress for this long: resend from the ack */
#define SYNC_BACKOFF_MIN_MS 250
#define SYNC_BACKOFF_MAX_MS 10000
#define SYNC_DOWN_STALL_MS 10000   /* a Down not acknowledged for this long is sent again */
#define SYNC_DOWN_MAX 500          /* records in one Down */
#define SYNC_PEERS_MS 30000        /* a node tells its hub what it has (PEERS up) at least this often */
#define SYNC_DIR_DIGEST 16         /* bytes of a key directory's digest (Peers.digest / have) */

typedef struct sync_uplink sync_uplink_t;
typedef struct sync_hub sync_hub_t;
typedef struct sync_relay sync_relay_t;

/* The service's state (koop_service_user). */
typedef struct {
    koop_service_t *svc;
    sync_uplink_t *uplink;   /* NULL when [sync] hub is not set */
    sync_hub_t *hub;         /* NULL on a gmina */
    sync_relay_t *relay;     /* transfers of households between gminas */
} sync_t;

/* ---- wire.c ---- */

/* 1 when s is a node id or log id (1..63 of [A-Za-z0-9_-]). */
int sync_valid_name(const char *s);
/* 1 when s is a stream name (1..32 of [a-z0-9_]). */
int sync_valid_stream(const char *s);
/* Packs frame; caller frees *out. 0 or -ENOMEM / -E2BIG (over KOOP_MAX_MSG). */
int sync_frame_pack(const Koop__Sync__Frame *frame, uint8_t **out, size_t *len);
/* Sends frame on a DEALER (rid NULL) or to rid on a ROUTER, never blocking.
 * 0, or -errno (EAGAIN: no connection / queue full; EHOSTUNREACH: peer gone). */
int sync_frame_send(void *sock, const void *rid, size_t rid_len, const Koop__Sync__Frame *frame);
/* The same with a frame packed already (buf[0..len), borrowed): one packing
 * sent to many. */
int sync_frame_send_bytes(void *sock, const void *rid, size_t rid_len, const uint8_t *buf, size_t len);
/* Socket options of both ends of the link: limits, linger, TCP keepalive
 * (no ZMTP heartbeats: see wire.c). */
int sync_link_sockopts(void *sock);
/* What an uplink may have in flight on one link: its own SYNC_WINDOW and
 * SYNC_BATCH_MAX, each lowered to what the hub's WELCOME advertises. */
typedef struct {
    uint32_t window;    /* events unacknowledged per stream: 1..SYNC_WINDOW */
    uint32_t batch_max; /* events in one Batch: 1..min(SYNC_BATCH_MAX, window) */
} sync_limits_t;
/* Fills *out from the WELCOME w (NULL, or a field it lacks: our own
 * limit): min(ours, the hub's) for each, a hub's 0 taken as 1 (nothing
 * would ever be sent), a batch never above the window. Returns 1 when a
 * value the hub advertised was outside 1..ours (0, or more than this side
 * would ever use) and was clamped, else 0. */
int sync_link_limits(const Koop__Sync__Welcome *w, sync_limits_t *out);
/* Reads a be64 + string value ("seq, log id"); 0 or MDB_CORRUPTED. */
int sync_pos_decode(const MDB_val *v, uint64_t *seq, char *log_id, size_t log_id_size);
int sync_pos_put(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t seq, const char *log_id);

/* The fields of a koop.Event envelope the link checks, read in place
 * (node and stream point into the bytes, not NUL-terminated). */
typedef struct {
    const char *node;
    size_t node_len;
    const char *stream;
    size_t stream_len;
    uint64_t seq;
    int has_seq;
    int scope;      /* -1 when absent */
} sync_event_head_t;
/* Scans an envelope's fields without allocating; every length is checked
 * against the buffer. 0, or -EBADMSG for bytes that are not a valid
 * message (truncated, bad varint, wrong wire type for a known field). */
int sync_event_head(const uint8_t *buf, size_t len, sync_event_head_t *out);

/* ---- check.c: the hub's check of one event from a node ---- */

#define SYNC_CHECK_ARGS 6      /* arguments of a refusal's message */
#define SYNC_CHECK_ARG 140     /* bytes of one */
#define SYNC_CHECK_DEPTH 6     /* envelopes inside one another (a tree of hubs) */

typedef struct sync_check sync_check_t;
/* Why an event was refused: a code of common/errors.def (sync.event_*) and
 * its arguments ({1} the event's seq, {2} its stream, then the code's own). */
typedef struct {
    koop_err_t err;
    uint64_t seq;
    size_t nargs;
    char args[SYNC_CHECK_ARGS][SYNC_CHECK_ARG];
} sync_check_why_t;
/* A checker with its decoding arena; NULL when out of memory. */
sync_check_t *sync_check_new(void);
void sync_check_destroy(sync_check_t **self_p);
/* Checks the envelope buf[0..len) that `node` sent as item `seq` of its
 * stream `stream`, for the hub `self`: decoded in full (envelope, payload by
 * its type in events.def, and the envelopes a sync.event carries), it names
 * node, stream and seq, is SHARED, of a known type of this stream, its
 * payload decodes as that type's message, a registry record names `node`
 * as its owner, and an envelope carried by a hub's stream is of a node
 * below it (not the hub that sent it, not this one). Returns 0 when it
 * passes, 1 with *why when it is refused, -ENOMEM (nothing said about the
 * event). Allocates nothing that outlives the call. */
int sync_check_event(sync_check_t *c, const char *self, const uint8_t *buf, size_t len, const char *node,
                     const char *stream, uint64_t seq, sync_check_why_t *why);

/* ---- local.c: one request at a time to a local service (over the client) ---- */

typedef struct sync_local sync_local_t;
/* status is a koop status, or -ETIMEDOUT / -EIO when no reply came. */
typedef void (*sync_local_cb)(void *ctx, int status, const char *error, const uint8_t *payload,
                              size_t len);
struct koop_client;
sync_local_t *sync_local_new(struct koop_client *client, const char *endpoint);
/* Stops; a pending callback is not called. */
void sync_local_destroy(sync_local_t **self_p);
/* Sends one request; cb runs once, with the reply or after timeout_ms.
 * Returns 0, -EBUSY while a request is in flight, or -errno (cb not called). */
int sync_local_call(sync_local_t *self, const char *method, const ProtobufCMessage *req,
                    uint32_t timeout_ms, sync_local_cb cb, void *ctx);
int sync_local_busy(const sync_local_t *self);

/* ---- keys.c ---- */

typedef struct {
    uint8_t public_key[32];
    uint8_t secret_key[32];
} sync_keypair_t;

/* Loads a certificate written by `koopctl node init` (CZMQ format). With
 * secret, the secret key is required too. 0 or -errno; err gets a Polish
 * message. */
int sync_cert_load(const char *path, int secret, sync_keypair_t *out, char *err, size_t errlen);

/* The hub's allow-list: the certificates in DIR/keys/enrolled (written by
 * `koopctl enrol`), reread whenever the directory changes. */
typedef struct sync_allow sync_allow_t;
typedef struct {
    char key[41];        /* Z85 public key */
    char node[SYNC_MAX_NAME + 1]; /* node id from the certificate, "" when none */
    uint64_t enrolled_at; /* unix ms of the (last) enrolment */
} sync_allow_entry_t;
sync_allow_t *sync_allow_new(const char *dir);
void sync_allow_destroy(sync_allow_t **self_p);
/* Looks a Z85 key up (rereading the directory when it changed). Returns the
 * entry (borrowed until the next lookup) or NULL. */
const sync_allow_entry_t *sync_allow_find(sync_allow_t *self, const char *z85);
/* Rereads the directory when it changed; returns a number that changes
 * with every reread (so a caller knows when to check its sessions again). */
unsigned sync_allow_generation(sync_allow_t *self);

/* ZAP handler (RFC 27) on inproc://zeromq.zap.01 of zctx: CURVE clients
 * whose key is in the allow-list are accepted with User-Id = their Z85 key;
 * everyone else is refused. Must be started before any CURVE server binds. */
typedef struct sync_zap sync_zap_t;
sync_zap_t *sync_zap_start(uv_loop_t *loop, void *zctx, sync_allow_t *allow);
void sync_zap_stop(sync_zap_t **self_p);

/* ---- chain.c: the hub's heads of its nodes' chains ---- */

typedef struct {
    int known;
    uint32_t epoch;
    uint64_t seq;
    uint8_t shared[32]; /* S(seq) */
    uint8_t link[32];   /* L(seq), as the node said */
} sync_head_t;
/* The last accepted head of (node, stream): 0, MDB_NOTFOUND or an error. */
int sync_chain_head(MDB_txn *txn, koop_store_t *store, const char *node, const char *stream, sync_head_t *out);
/* Checks that batch b continues the stored chain of (node, stream) (stored
 * position `stored` in `epoch` of log `log_id`) and that its items are the
 * chained bytes. 0 ok; 1 refused (reason filled, Polish); or an LMDB error. */
int sync_chain_check(MDB_txn *txn, koop_store_t *store, const char *node, const char *stream, uint32_t epoch,
                     uint64_t stored, const char *log_id, const Koop__Sync__Batch *b, char *reason,
                     size_t reason_len);
/* Keeps the head after b (stored before at `before`), and a witness every
 * 1024 seqs. 0 or an LMDB error. */
int sync_chain_store(MDB_txn *txn, koop_store_t *store, const char *node, const char *stream, uint32_t epoch,
                     uint64_t before, const Koop__Sync__Batch *b);
/* Calls fn for each witness (seq <= upto) of (node, stream, epoch): its L
 * and S (link[0..31], link[32..63]). */
typedef int (*sync_witness_fn)(void *ctx, uint64_t seq, const uint8_t *links);
int sync_chain_witnesses(MDB_txn *txn, koop_store_t *store, const char *node, const char *stream, uint32_t epoch,
                         uint64_t upto, sync_witness_fn fn, void *ctx);

/* ---- verify.c: sync verify (anti-entropy) ---- */

/* The hub's side: the Digest answering a (the node's copy in `epoch`,
 * stored up to `stored`), or NULL (logged). Free with sync_digest_free. */
typedef struct sync_digest sync_digest_t;
sync_digest_t *sync_verify_digest(MDB_txn *txn, koop_store_t *store, const char *node, uint32_t epoch,
                                  uint64_t stored, const Koop__Sync__DigestAsk *a);
const Koop__Sync__Digest *sync_digest_msg(const sync_digest_t *d);
void sync_digest_free(sync_digest_t **d);
/* Puts back, in txn, the events of r the copy lacks or holds differently
 * (appended to the merged log again and indexed). Every event of r passes
 * the hub's check (check.c, with `check` for the hub `self`) and the chain
 * first, as a batch does. 0 with *put and *same; 1 refused (reason filled,
 * *refused_event set when an event failed the check: nothing kept); or an
 * error code. */
int sync_verify_repair(MDB_txn *txn, koop_store_t *store, koop_log_t *log, sync_check_t *check, const char *self,
                       const char *node, uint32_t epoch, uint64_t stored, const Koop__Sync__Repair *r, uint32_t *put,
                       uint32_t *same, int *refused_event, char *reason, size_t reason_len);

/* The node's side: runs of sync verify over the uplink's streams. */
typedef struct sync_verifier sync_verifier_t;
struct koop_client;
sync_verifier_t *sync_verifier_new(sync_uplink_t *up, struct koop_client *client);
void sync_verifier_destroy(sync_verifier_t **self_p);
/* Starts a run unless one is running; returns the run's number (when it
 * ends, deferred calls with a tag up to it are retried). */
uint64_t sync_verifier_start(sync_verifier_t *v);
/* Takes the frames of a run (Digest, Repaired, VerifyAsk): 1 when taken. */
int sync_verifier_on_frame(sync_verifier_t *v, const Koop__Sync__Frame *f);
/* Timeouts (the uplink's tick). */
void sync_verifier_tick(sync_verifier_t *v);
/* The result of the last run (or of the one running: *running); *run its
 * number (0: none yet). Valid until the next call. */
const Koop__Sync__VerifyResult *sync_verifier_result(sync_verifier_t *v, uint64_t *run, int *running);

/* ---- uplink.c ---- */

sync_uplink_t *sync_uplink_start(sync_t *sync);
void sync_uplink_stop(sync_uplink_t **self_p);
/* In process (tests, fuzzing): the uplink's state over sync->svc's store,
 * with no socket or timer, as if its HELLO had gone. sync_uplink_take
 * handles one frame from the hub as if it had arrived (answers to the hub
 * go nowhere; requests to the node's services are sent by the service's
 * client); sync_uplink_learn gives a stream's log identity as its
 * producer's feed.stat would. */
sync_uplink_t *sync_uplink_open(sync_t *sync);
void sync_uplink_take(sync_uplink_t *up, const uint8_t *data, size_t len);
void sync_uplink_learn(sync_uplink_t *up, const char *stream, const char *log_id);
/* sync.status first asks every producer of the node how far it is, without
 * blocking: 1 when the answers are in (or the call runs for the last time),
 * 0 when the call was deferred until they are (return KOOP_DEFERRED). */
int sync_uplink_status_ready(sync_uplink_t *self, koop_call_t *call);
/* Fills st (strings borrowed from the uplink or allocated in st's arena,
 * freed by sync_uplink_status_free) from the last answers. */
int sync_uplink_status(sync_uplink_t *self, koop_call_t *call, Koop__Sync__UplinkStatus *st);
void sync_uplink_status_free(Koop__Sync__UplinkStatus *st);
/* For sync verify (verify.c): the streams with the position the hub
 * acknowledged (why: NULL, or why it is not sent now), the node, the
 * service; frames go with sync_uplink_send_frame (below). */
size_t sync_uplink_nstreams(const sync_uplink_t *up);
void sync_uplink_stream(const sync_uplink_t *up, size_t i, const char **name, const char **endpoint,
                        uint64_t *acked, const char **why);
const char *sync_uplink_node(const sync_uplink_t *up);
koop_service_t *sync_uplink_service(const sync_uplink_t *up);
sync_verifier_t *sync_uplink_verifier(sync_uplink_t *up);

/* ---- sessions.c: the hub's sessions by key and by node id ---- */

#define SYNC_RID_MAX 255           /* ROUTER routing ids */

/* One enrolled key that said HELLO (hub.c fills everything but ss_index). */
typedef struct sync_session {
    char key[41];                  /* Z85 public key */
    char node[SYNC_MAX_NAME + 1];  /* bound node id ("" until set) */
    uint8_t rid[SYNC_RID_MAX];     /* the connection it last said HELLO on */
    size_t rid_len;
    int ready;
    uint64_t last_rx_mono;
    uint64_t last_contact_ms;
    uint64_t hello_ms;
    char held[SYNC_MAX_STREAMS][SYNC_MAX_STREAM + 1];
    size_t nheld;
    char down_log_id[SYNC_MAX_NAME + 1];
    uint64_t down_seq;
    int down_inflight;
    uint64_t down_sent_mono;
    uint64_t verify_due_mono;      /* when to ask it for sync verify (daily, hub.c) */
    uint8_t **snap;                /* packed Down frames of a snapshot in progress */
    size_t *snap_len;
    size_t nsnap, snap_next;
    uint64_t refused;              /* batches refused for an event (hub.c) */
    char last_refusal[300];
    size_t ss_index;               /* sessions.c: position in the list */
} sync_session_t;

typedef struct sync_sessions sync_sessions_t;
sync_sessions_t *sync_sessions_new(void);
/* Frees every session (on_free, which may be NULL, first) and the table;
 * accepts NULL and sets *self_p NULL. */
void sync_sessions_destroy(sync_sessions_t **self_p, void (*on_free)(sync_session_t *));
/* The session of a Z85 key / bound to a node id, or NULL (borrowed). */
sync_session_t *sync_sessions_by_key(const sync_sessions_t *self, const char *key);
sync_session_t *sync_sessions_by_node(const sync_sessions_t *self, const char *node);
/* The session of key; a new one (zeroed, no node) when there is none.
 * NULL and errno (EINVAL, ENOMEM) on failure. */
sync_session_t *sync_sessions_add(sync_sessions_t *self, const char *key);
/* Binds s to node ("" unbinds). 0, -EEXIST when another session holds that
 * node id (remove it first), -EINVAL, -ENOMEM; on failure s is unchanged. */
int sync_sessions_set_node(sync_sessions_t *self, sync_session_t *s, const char *node);
/* Removes s (on_free first) and frees it; s is invalid afterwards. The last
 * session of the list takes its place, so a loop that removes walks down. */
void sync_sessions_remove(sync_sessions_t *self, sync_session_t *s, void (*on_free)(sync_session_t *));
size_t sync_sessions_count(const sync_sessions_t *self);
/* The i-th session (0 <= i < count), NULL past the end. */
sync_session_t *sync_sessions_at(const sync_sessions_t *self, size_t i);

/* Hooks of transfer.c (and verify.c) in the uplink: frames it takes (the rest are the
 * uplink's), a frame sent up (0, or -ENOTCONN when not READY), whether the
 * link is READY, and what the hub acknowledged of a stream. */
int sync_uplink_send_frame(sync_uplink_t *up, const Koop__Sync__Frame *f);
int sync_uplink_is_ready(const sync_uplink_t *up);
uint64_t sync_uplink_acked(const sync_uplink_t *up, const char *stream);

/* ---- hub.c ---- */

sync_hub_t *sync_hub_start(sync_t *sync);
/* In process (tests, fuzzing): the hub's state over sync->svc's store and
 * its allow-list (DIR/keys/enrolled), with no socket, timer or down-flow
 * reader. sync_hub_take handles one message of connection rid from the
 * enrolled key `key` (Z85) as if it had arrived, and runs its drain (one
 * write transaction); answers are built and dropped. */
sync_hub_t *sync_hub_open(sync_t *sync);
void sync_hub_take(sync_hub_t *hub, const char *key, const uint8_t *rid, size_t rid_len, const uint8_t *msg,
                   size_t len);
void sync_hub_stop(sync_hub_t **self_p);
int sync_hub_status(sync_hub_t *self, koop_call_t *call, Koop__Sync__Status *st);
/* Asks every connected node to run sync verify now; returns how many. */
size_t sync_hub_verify_all(sync_hub_t *self);
void sync_hub_status_free(Koop__Sync__Status *st);
/* "hub.events": the hub's copy of one node's stream (inner envelopes). */
int sync_hub_events(sync_hub_t *self, koop_call_t *call);
/* Hooks of transfer.c in the hub: a frame sent to a child node with a live
 * session (0, or -ENOTCONN); the position stored of (node, stream); each
 * bound child with its Z85 key (fn returns non-zero to stop). */
int sync_hub_send_node(sync_hub_t *hub, const char *node, const Koop__Sync__Frame *f);
/* The same with a frame packed already (buf[0..len), borrowed). */
int sync_hub_send_node_bytes(sync_hub_t *hub, const char *node, const uint8_t *buf, size_t len);
int sync_hub_stored(sync_hub_t *hub, MDB_txn *txn, const char *node, const char *stream, uint64_t *seq);
typedef int (*sync_child_fn)(const char *node, const char *key, void *ctx);
int sync_hub_each_child(sync_hub_t *hub, MDB_txn *txn, sync_child_fn fn, void *ctx);

/* ---- transfer.c: the relay of transfers and the directory of keys ---- */

sync_relay_t *sync_relay_start(sync_t *sync);
void sync_relay_stop(sync_relay_t **self_p);
/* A RELAY, RELAY_ACK or PEERS frame from the child `node` (hub) or from
 * the hub above (uplink: node NULL). */
void sync_relay_frame(sync_relay_t *self, const char *node, const Koop__Sync__Frame *f);
/* The link to `node` (a child; NULL: the hub above) became READY. */
void sync_relay_link_ready(sync_relay_t *self, const char *node);
/* A hub's key directories sent down since start: frames and bytes. */
void sync_relay_dir_sent(const sync_relay_t *self, uint64_t *frames, uint64_t *bytes);
/* transfer.key: another node's key as the hub passed it down. */
int sync_transfer_key(koop_call_t *call);

/* main.c: the service's definition, for in-process drivers (tests/fuzz,
 * built with main renamed). */
const koop_service_def_t *sync_service_def(void);

#endif
