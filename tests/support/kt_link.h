/*
 * kt_link - a test speaking the sync link to a real hub with a node's own
 * keys (the node's certificate, enrolled on the hub): what a hostile or
 * broken gmina could send. Frames are built with the generated code, sent
 * on a CURVE DEALER like the uplink's, and each call waits for the hub's
 * next frame (3 s).
 */
#ifndef KT_LINK_H
#define KT_LINK_H

#include "koop_test.h"
#include "sync.pb-c.h"

#include <stddef.h>
#include <stdint.h>

typedef struct kt_link kt_link_t;

/* Connects to hub (its sync listener on loopback port) as node `as`. NULL
 * when the keys cannot be read or the socket not made. */
kt_link_t *kt_link_open(const kt_node_t *as, const kt_node_t *hub, int port);
void kt_link_close(kt_link_t **self_p);
/* The underlying zsock_t * (for odd sends). */
void *kt_link_sock(kt_link_t *self);

/* Sends bytes as one frame; the hub's answer (caller frees with
 * koop__sync__frame__free_unpacked), NULL when none came or it did not
 * decode. DOWN frames met on the way (the hub's records) are dropped. */
Koop__Sync__Frame *kt_link_call(kt_link_t *self, const void *data, size_t len);
Koop__Sync__Frame *kt_link_frame(kt_link_t *self, const Koop__Sync__Frame *f);

/* HELLO as node with one stream at acked position seq of log log_id;
 * returns the answer (WELCOME or REFUSE). */
Koop__Sync__Frame *kt_link_hello(kt_link_t *self, const char *node, const char *stream, const char *log_id,
                                 uint64_t seq);
/* One BATCH of stream continuing prev: events[i] is item prev + 1 + i,
 * with the SHARED chain's links (S at prev: the HELLO's log genesis at 0,
 * the last acknowledged batch's, or else read from the link's node's own
 * log, which must be stopped; S over the events after it). */
Koop__Sync__Frame *kt_link_batch(kt_link_t *self, const char *stream, uint64_t prev, const uint8_t *const *events,
                                 const size_t *lens, size_t n);

/* Packs an event envelope (node, stream, seq, a new id, scope, type, and
 * payload's packed bytes; payload NULL: none) into out (cap bytes); returns
 * its length, 0 when it does not fit. */
size_t kt_link_event(uint8_t *out, size_t cap, const char *node, const char *stream, uint64_t seq, int scope,
                     const char *type, const ProtobufCMessage *payload);

/* The hub's stored position and log id of (node, stream), from its
 * `sync status` (log_id at least 64 bytes). 0, or -1 when it has none. */
int kt_link_position(kt_node_t *hub, const char *node, const char *stream, uint64_t *seq, char *log_id);

/* Appends an event to the log of `service` of the stopped node n, as its
 * producer would (the node's id, the next seq): what a broken or hostile
 * producer, or a disk edited behind the node's back, leaves there.
 * payload/len are the payload's bytes. 0 and *seq, or -1. */
int kt_log_inject(kt_node_t *n, const char *service, const char *type, int scope, const uint8_t *payload,
                  size_t len, uint64_t *seq);

#endif
