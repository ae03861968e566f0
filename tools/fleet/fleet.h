/*
 * fleet - many simulated gmina uplinks in one process, against real hubs
 * (docs/SYNC.md, "A country on one machine").
 *
 * Each simulated gmina has what a real one has on the link: its own CURVE
 * key pair (enrolled on its hub the way `koopctl enrol` does it, through
 * koop_enrol_write), its node id, a log identity per stream (registry,
 * cases, notifier, reporting, as a gmina node's uplink announces them) and
 * the SHARED events its services would have written (facts.h), packed as
 * koop.Event envelopes (node, stream, seq, UUIDv7 id, time, actor, scope,
 * type, payload). It speaks the sync protocol as uplink.c does, with the
 * same frames and socket options (wire.c): HELLO on every (re)connect,
 * batches of up to SYNC_BATCH_MAX events within SYNC_WINDOW unacknowledged,
 * cumulative acks, rewind on GAP, HELLO again on NO_SESSION, retransmit
 * after SYNC_RETRANSMIT_MS without progress, a Ping after SYNC_HEARTBEAT_MS
 * of silence, reconnect after SYNC_DEAD_MS without a word from the hub,
 * DownAck for the hub's records, PEERS up (its name and the digest of the
 * key directory it holds) at READY, every SYNC_PEERS_MS and after each
 * directory the hub sends. Unlike a real gmina it keeps its events in
 * memory instead of in LMDB logs: what is measured is the hubs.
 *
 * All gminas live on one libuv loop in a thread of their own (one ZeroMQ
 * context, one DEALER per gmina), so the caller can poll the hubs while the
 * fleet keeps its links alive. Gminas are added before fleet_start; then
 * commands (online/offline, write) are queued to the loop and run in order.
 *
 * Per gmina:
 *   OFF --online--> CONNECTING (socket made; HELLO tried every tick until
 *   ZeroMQ takes it) --> HELLO_SENT --WELCOME--> READY
 *   HELLO_SENT or READY --no word for SYNC_DEAD_MS--> CONNECTING (new socket)
 *   any --offline--> OFF (socket closed; events written meanwhile wait)
 *   REFUSE DENIED / VERSION --> CONNECTING again after a second (counted)
 *
 * Functions return 0 or a negative -errno unless said otherwise.
 */
#ifndef FLEET_FLEET_H
#define FLEET_FLEET_H

#include <stddef.h>
#include <stdint.h>

#define FLEET_STREAMS 4 /* registry, cases, notifier, reporting */

typedef struct fleet fleet_t;

enum { FLEET_OFF, FLEET_CONNECTING, FLEET_HELLO_SENT, FLEET_READY };

typedef struct {
    unsigned gminas;
    unsigned ready;           /* in READY now */
    uint64_t written;         /* events written, all gminas and streams */
    uint64_t acked;           /* of them, acknowledged by the hubs (durable there) */
    uint64_t last_write_us;   /* koop_clock_mono_us() when the last write command ended */
    uint64_t welcomes;        /* WELCOMEs received */
    uint64_t reconnects;      /* sockets made again after silence or a refusal */
    uint64_t denied;          /* REFUSE DENIED / VERSION */
    uint64_t gaps;            /* REFUSE GAP (rewinds) */
    uint64_t retransmits;     /* rewinds after SYNC_RETRANSMIT_MS without progress */
    uint64_t errors;          /* REFUSE MALFORMED / STREAM / INTERNAL, unreadable frames */
    uint64_t batches;         /* batches sent */
    uint64_t dir_frames;      /* key directories (PEERS) received from the hubs */
    uint64_t dir_bytes;       /* their bytes */
    uint64_t commands_done;   /* commands the loop has run */
} fleet_stats_t;

typedef struct {
    const char *node;                     /* borrowed from the fleet */
    const char *key;                      /* Z85 public key */
    int state;
    uint64_t denied;
    struct {
        const char *name;
        const char *log_id;
        uint64_t written;                 /* its last seq */
        uint64_t acked;
    } streams[FLEET_STREAMS];
} fleet_gmina_info_t;

/* A fleet with its own ZeroMQ context (ZMQ_MAX_SOCKETS raised for
 * max_gminas) and loop; raises this process's RLIMIT_NOFILE to its hard
 * limit. NULL and errno on failure. */
fleet_t *fleet_new(unsigned max_gminas);
/* Stops the loop thread (if started), closes every socket, frees all;
 * accepts NULL and sets *self_p NULL. */
void fleet_destroy(fleet_t **self_p);

/* A hub the gminas may connect to: its sync endpoint (tcp://...) and its
 * public key (32 bytes). Returns the hub's index (>= 0). */
int fleet_hub(fleet_t *self, const char *endpoint, const uint8_t key[32]);
/* A gmina of hub `hub`: node id, its TERYT, the first day its cases open
 * (days since 1970-01-01; they open over the 365 days from there). Makes
 * its key pair and log ids; enrols the key on the hub whose node directory
 * is hub_dir (NULL: not enrolled - a stranger). Only before fleet_start.
 * Returns the gmina's index (>= 0). */
int fleet_add(fleet_t *self, int hub, const char *node, const char *teryt, int32_t first_day, const char *hub_dir);

/* Starts the loop thread. */
int fleet_start(fleet_t *self);
/* Queues: gminas [from, to) go online / offline. */
int fleet_online(fleet_t *self, unsigned from, unsigned to, int online);
/* Queues: each gmina of [from, to) writes its next `events` events. */
int fleet_write(fleet_t *self, unsigned from, unsigned to, unsigned events);
/* Waits until every queued command has run (up to timeout_ms): 0 or -ETIMEDOUT. */
int fleet_sync(fleet_t *self, unsigned timeout_ms);

/* A consistent copy of the counters. */
void fleet_stats(fleet_t *self, fleet_stats_t *out);
/* Gmina i as of now (strings borrowed until fleet_destroy). */
int fleet_gmina(fleet_t *self, unsigned i, fleet_gmina_info_t *out);

#endif
