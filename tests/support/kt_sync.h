/*
 * kt_sync - helpers for the sync tests: hubs and gminas wired together,
 * bulk writes over the registry's socket, byte-exact comparison of a gmina's
 * SHARED events with the hub's copy, a recording TCP proxy, file scans.
 */
#ifndef KT_SYNC_H
#define KT_SYNC_H

#include "koop_test.h"

#include <stdint.h>

/* A free loopback TCP port (racy but good enough for tests). */
int kt_free_port(void);

/* A hub listening on tcp://127.0.0.1:port (port 0: a free one; *port_out set). */
int kt_hub_init(kt_node_t *hub, const char *teryt, const char *name, int *port_out);
/* A gmina whose uplink goes to endpoint (tcp://127.0.0.1:PORT) with hub's key. */
int kt_gmina_init(kt_node_t *g, const char *teryt, const char *name, int hub_port, const kt_node_t *hub);
/* koopctl -c hub enrol g/keys/node.pub */
int kt_enrol(kt_node_t *hub, const kt_node_t *g);

/* Adds count institutions (SHARED events) over the registry socket,
 * pipelined; names are "<prefix> <i>". Returns how many were acknowledged. */
int kt_add_institutions(kt_node_t *n, int count, const char *prefix);
/* Adds count people (LOCAL events) with name "<prefix> <i>", phone and
 * e-mail built from `tag`, working at `institution`. Returns how many. */
int kt_add_people(kt_node_t *n, int count, const char *prefix, const char *tag, const char *institution);

/* `koopctl --json sync status`, parsed (caller decrefs), or NULL. */
json_t *kt_sync_status(kt_node_t *n);
/* Waits until the gmina is connected with nothing pending. 0 or -1. */
int kt_wait_synced(kt_node_t *g, int timeout_s);
/* The entry of `node` in a hub's status (borrowed from it), or NULL. */
json_t *kt_hub_node(json_t *hub_status, const char *node);
/* Sum of every "acked" in a status (as the acceptance check does). */
uint64_t kt_acked_sum(json_t *status);

/* Compares the gmina's SHARED events of `stream` with the hub's copy: the
 * same envelopes, byte for byte, in the same order, none missing or extra.
 * Returns 0 and the count, or -1 with a reason printed. */
int kt_compare_streams(kt_node_t *g, kt_node_t *hub, const char *stream, uint64_t *count);

/* The pid of a node's koop-sync child, or 0. */
pid_t kt_sync_pid(kt_node_t *n);
/* kill -9 of the node's koop-sync; waits (10 s) until koop-node has started
 * it again: its new pid, or 0 (none was running, or none came). */
pid_t kt_sync_kill9(kt_node_t *n);

/* 1 when some file under dir contains needle (bytes). */
int kt_dir_contains(const char *dir, const char *needle);

/* 1 when `mdb_dump -a` of some LMDB environment under dir (every
 * directory holding a data.mdb) shows needle's bytes in a key or value;
 * *envs (may be NULL) counts the environments dumped. */
int kt_lmdb_contains(const char *dir, const char *needle, int *envs);

/* A TCP proxy process: listens on 127.0.0.1:listen_port, forwards to
 * 127.0.0.1:target_port and appends every byte both ways to capture. */
pid_t kt_proxy_start(int listen_port, int target_port, const char *capture);
void kt_proxy_stop(pid_t pid);

#endif
