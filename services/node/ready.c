/* ready.c - readiness probe and sd_notify (see ready.h). */
#include "ready.h"
#include "clock.h"
#include "koop.h"
#include "rpc.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#define PROBE_TICK_MS 100
#define PROBE_RESEND_MS 1000
#define PROBE_MAX 8

typedef struct {
    void *sock;
    uint64_t request_id; /* the ping in flight */
    uint64_t sent_ms;
    int ready;
} s_target;

struct node_probe {
    uv_timer_t timer;
    void *zctx;
    s_target targets[PROBE_MAX];
    int n;
    uint64_t next_id;
    void (*on_ready)(void *data);
    void *data;
};

static void
s_send_ping(node_probe_t *p, s_target *t)
{
    uint8_t *buf;
    size_t len;
    uint64_t id = ++p->next_id;
    if (koop_rpc_pack_request(id, NULL, "sys.ping", NULL, &buf, &len) != 0)
        return;
    /* not yet connected: ZeroMQ queues it for the connection to come */
    if (zmq_send(t->sock, buf, len, ZMQ_DONTWAIT) == (int)len) {
        t->request_id = id;
        t->sent_ms = koop_clock_mono_ms();
    }
    free(buf);
}

/* Takes every reply that has arrived; a reply to an older ping is dropped. */
static void
s_take_replies(s_target *t)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (zmq_msg_recv(&msg, t->sock, ZMQ_DONTWAIT) >= 0) {
        koop_reply_t reply;
        uint64_t id;
        if (koop_rpc_unpack_reply(zmq_msg_data(&msg), zmq_msg_size(&msg), &id, &reply) == 0) {
            if (id == t->request_id && reply.status == KOOP_OK)
                t->ready = 1;
            koop_reply_clear(&reply);
        }
    }
    zmq_msg_close(&msg);
}

static void
s_close_sockets(node_probe_t *p)
{
    for (int i = 0; i < p->n; i++)
        if (p->targets[i].sock) {
            zmq_close(p->targets[i].sock);
            p->targets[i].sock = NULL;
        }
    if (p->zctx) {
        zmq_ctx_term(p->zctx);
        p->zctx = NULL;
    }
}

static void
s_on_tick(uv_timer_t *timer)
{
    node_probe_t *p = timer->data;
    uint64_t now = koop_clock_mono_ms();
    int all = 1;

    for (int i = 0; i < p->n; i++) {
        s_target *t = &p->targets[i];
        if (t->ready)
            continue;
        s_take_replies(t);
        if (!t->ready && (t->request_id == 0 || now - t->sent_ms >= PROBE_RESEND_MS))
            s_send_ping(p, t);
        all &= t->ready;
    }
    if (all) {
        uv_timer_stop(&p->timer);
        s_close_sockets(p);
        p->on_ready(p->data);
    }
}

node_probe_t *
node_probe_start(uv_loop_t *loop, const char *const *endpoints, int n, void (*on_ready)(void *data), void *data)
{
    node_probe_t *p = n <= PROBE_MAX ? calloc(1, sizeof *p) : NULL;
    if (!p)
        return NULL;
    p->on_ready = on_ready;
    p->data = data;
    p->zctx = zmq_ctx_new();
    if (!p->zctx)
        goto fail;
    for (int i = 0; i < n; i++) {
        p->targets[i].sock = koop_rpc_dealer_new(p->zctx, endpoints[i]);
        p->n++;
        if (!p->targets[i].sock)
            goto fail;
    }
    if (uv_timer_init(loop, &p->timer) != 0)
        goto fail;
    p->timer.data = p;
    uv_timer_start(&p->timer, s_on_tick, PROBE_TICK_MS, PROBE_TICK_MS);
    return p;
fail:
    s_close_sockets(p);
    free(p);
    return NULL;
}

static void
s_on_closed(uv_handle_t *h)
{
    free(h->data);
}

void
node_probe_destroy(node_probe_t **self_p)
{
    node_probe_t *p;
    if (!self_p || !*self_p)
        return;
    p = *self_p;
    *self_p = NULL;
    s_close_sockets(p);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, s_on_closed);
}

/* ---- sd_notify ---- */

static char s_notify_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

void
node_notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path && strlen(path) < sizeof s_notify_path)
        strcpy(s_notify_path, path);
    unsetenv("NOTIFY_SOCKET");
}

int
node_notify(const char *state)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(s_notify_path);
    ssize_t sent;
    int fd, e;

    if (len == 0)
        return 0;
    if (s_notify_path[0] != '/' && s_notify_path[0] != '@')
        return -EAFNOSUPPORT; /* vsock:... is for virtual machines, not for a node */
    memcpy(sa.sun_path, s_notify_path, len);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    e = errno;
    close(fd);
    return sent == (ssize_t)strlen(state) ? 0 : -(sent < 0 ? e : EMSGSIZE);
}
