/*
 * ready - koop-node and systemd: when the node is ready, telling systemd,
 * and how long a stop may take.
 *
 * node_probe: every PROBE_TICK_MS, on the node's loop and without blocking
 * it, koop-node's DEALER per service sends sys.ping (again after
 * PROBE_RESEND_MS without an answer) and takes what has arrived; once every
 * service has answered OK it calls on_ready once and closes its sockets.
 *
 * node_notify: the sd_notify datagram protocol (systemd's sd_notify(3)),
 * written here rather than linked from libsystemd (docs/DEPENDENCIES.md):
 * one AF_UNIX datagram "READY=1" / "STOPPING=1" / "STATUS=..." to the socket
 * named by $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).
 * node_notify_init reads and unsets the variable, so the services that
 * koop-node starts do not inherit it (only the main process speaks to
 * systemd: NotifyAccess=main).
 */
#ifndef KOOP_NODE_READY_H
#define KOOP_NODE_READY_H

#include <uv.h>

/* koop-node gives its services this long to stop after SIGTERM, then
 * SIGKILLs them; the unit's TimeoutStopSec must be longer (tests/deploy). */
#define NODE_STOP_GRACE_MS 8000

typedef struct node_probe node_probe_t;

/* Starts probing the n endpoints (borrowed until destroy). Returns NULL on
 * failure (out of memory, no ZeroMQ context). */
node_probe_t *node_probe_start(uv_loop_t *loop, const char *const *endpoints, int n,
                               void (*on_ready)(void *data), void *data);
/* Stops probing; the memory is freed once the timer handle has closed (the
 * loop must run on). Accepts NULL; nulls the caller's pointer. */
void node_probe_destroy(node_probe_t **self_p);

/* Takes $NOTIFY_SOCKET for node_notify and removes it from the environment. */
void node_notify_init(void);
/* Sends one state datagram to systemd. Returns 0 (also when not under
 * systemd) or -errno. */
int node_notify(const char *state);

#endif
