#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <zmq.h>

int
koop_zwatch_readable(koop_zwatch_t *w)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(w->zw_sock, ZMQ_EVENTS, &events, &len) != 0)
        return 0;
    return (events & ZMQ_POLLIN) != 0;
}

static void
s_on_poll(uv_poll_t *h, int status, int events)
{
    koop_zwatch_t *w = h->data;
    (void)events;
    if (status < 0 || !w->zw_active)
        return;
    if (koop_zwatch_readable(w))
        w->zw_cb(w);
}

static void
s_on_prepare(uv_prepare_t *h)
{
    koop_zwatch_t *w = h->data;
    if (w->zw_active && koop_zwatch_readable(w))
        w->zw_cb(w);
}

int
koop_zwatch_start(uv_loop_t *loop, koop_zwatch_t *w, void *sock, koop_zwatch_cb cb, void *data)
{
    int fd, rc;
    size_t len = sizeof fd;

    memset(w, 0, sizeof *w);
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0)
        return -errno;
    w->zw_sock = sock;
    w->zw_cb = cb;
    w->zw_data = data;
    if ((rc = uv_poll_init(loop, &w->zw_poll, fd)) != 0)
        return rc;
    w->zw_poll.data = w;
    if ((rc = uv_prepare_init(loop, &w->zw_prepare)) != 0) {
        uv_close((uv_handle_t *)&w->zw_poll, NULL); /* w must outlive this close */
        return rc;
    }
    w->zw_prepare.data = w;
    w->zw_active = 1;
    if ((rc = uv_poll_start(&w->zw_poll, UV_READABLE, s_on_poll)) != 0 ||
        (rc = uv_prepare_start(&w->zw_prepare, s_on_prepare)) != 0) {
        koop_zwatch_stop(w, NULL);
        return rc;
    }
    return 0;
}

static void
s_on_handle_closed(uv_handle_t *h)
{
    koop_zwatch_t *w = h->data;
    if (--w->zw_open_handles == 0 && w->zw_on_closed)
        w->zw_on_closed(w);
}

void
koop_zwatch_stop(koop_zwatch_t *w, void (*on_closed)(koop_zwatch_t *w))
{
    if (!w->zw_active)
        return;
    w->zw_active = 0;
    w->zw_on_closed = on_closed;
    w->zw_open_handles = 2;
    uv_poll_stop(&w->zw_poll);
    uv_prepare_stop(&w->zw_prepare);
    uv_close((uv_handle_t *)&w->zw_poll, s_on_handle_closed);
    uv_close((uv_handle_t *)&w->zw_prepare, s_on_handle_closed);
}

static void
s_on_signal(uv_signal_t *h, int signum)
{
    koop_signals_t *s = h->data;
    (void)signum;
    if (s->ks_on_stop) {
        void (*fn)(void *) = s->ks_on_stop;
        s->ks_on_stop = NULL;
        fn(s->ks_data);
    }
}

int
koop_signals_start(uv_loop_t *loop, koop_signals_t *s, void (*on_stop)(void *), void *data)
{
    int rc;
    memset(s, 0, sizeof *s);
    s->ks_on_stop = on_stop;
    s->ks_data = data;
    signal(SIGPIPE, SIG_IGN);
    if ((rc = uv_signal_init(loop, &s->ks_term)) != 0)
        return rc;
    if ((rc = uv_signal_init(loop, &s->ks_int)) != 0) {
        uv_close((uv_handle_t *)&s->ks_term, NULL);
        return rc;
    }
    s->ks_term.data = s->ks_int.data = s;
    if ((rc = uv_signal_start(&s->ks_term, s_on_signal, SIGTERM)) != 0 ||
        (rc = uv_signal_start(&s->ks_int, s_on_signal, SIGINT)) != 0) {
        koop_signals_stop(s);
        return rc;
    }
    return 0;
}

void
koop_signals_stop(koop_signals_t *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->ks_term))
        uv_close((uv_handle_t *)&s->ks_term, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->ks_int))
        uv_close((uv_handle_t *)&s->ks_int, NULL);
}
