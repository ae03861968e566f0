/*
 * loop - ZeroMQ sockets on a libuv loop.
 *
 * ZMQ_FD is edge-triggered and only says "look at ZMQ_EVENTS": it may stay
 * quiet after a zmq_send/recv consumed the edge while messages wait. So a
 * watch (1) polls the fd for readability and (2) checks ZMQ_EVENTS once per
 * loop iteration (uv_prepare, before the loop blocks); either calls
 * on_readable, which must drain the socket until ZMQ_EVENTS has no POLLIN
 * (koop_zwatch_readable() tells).
 */
#ifndef KOOP_LOOP_H
#define KOOP_LOOP_H

#include <uv.h>

typedef struct koop_zwatch koop_zwatch_t;
typedef void (*koop_zwatch_cb)(koop_zwatch_t *watch);

struct koop_zwatch {
    uv_poll_t zw_poll;
    uv_prepare_t zw_prepare;
    void *zw_sock;
    koop_zwatch_cb zw_cb;
    void *zw_data; /* the owner's */
    int zw_active;
    int zw_open_handles;
    void (*zw_on_closed)(koop_zwatch_t *w);
};

/* Starts watching sock. Returns 0 or a libuv/-errno error. */
int koop_zwatch_start(uv_loop_t *loop, koop_zwatch_t *w, void *sock, koop_zwatch_cb cb,
                      void *data);
/* Stops and closes the handles (the socket stays open: the owner closes it).
 * on_closed (may be NULL) runs once both handles are closed: only then may
 * the memory of w be freed or reused. */
void koop_zwatch_stop(koop_zwatch_t *w, void (*on_closed)(koop_zwatch_t *w));
/* 1 when a message can be received now. */
int koop_zwatch_readable(koop_zwatch_t *w);

/* Stops the loop cleanly on SIGTERM/SIGINT: calls on_stop(data) once. */
typedef struct {
    uv_signal_t ks_term, ks_int;
    void (*ks_on_stop)(void *data);
    void *ks_data;
} koop_signals_t;
int koop_signals_start(uv_loop_t *loop, koop_signals_t *s, void (*on_stop)(void *), void *data);
void koop_signals_stop(koop_signals_t *s);

#endif
