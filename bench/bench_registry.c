/*
 * bench_registry.c - write load on a running registry: institution.add.
 *
 * Every write is a new institution (name, sector, level, TERYT, address:
 * about 150 bytes as a record, about 250 as its event). A reply with status
 * OK means the write is durable: the registry answers only after the group
 * commit that holds it has returned (service.h). Any other status, a reply
 * that matches no request, or no reply within REPLY_TIMEOUT_MS is a failure
 * of the benchmark, never a slow figure.
 *
 * Three ways of loading it:
 *
 *  sequential   one client, one request in flight (koop_rpc_call): the
 *               latency of a lone write, which is one durable commit plus
 *               the round trip; batches are of 1.
 *  throughput   `clients` threads, each with its own DEALER (koop_rpc_client)
 *               keeping `window` requests in flight with koop_rpc_send /
 *               koop_rpc_recv: closed loop, as fast as the registry goes;
 *               whatever waits when a batch ends makes the next batch.
 *  open loop    one DEALER sending on a fixed schedule (request i at
 *               t0 + i/rate) whatever the replies do; latency is taken from
 *               the scheduled time, so a stall counts for every request it
 *               held back (no coordinated omission). The schedule is kept
 *               with a timerfd polled together with the socket by zmq_poll,
 *               which koop_rpc_recv cannot do (it polls its socket only, in
 *               whole milliseconds); so this mode builds its messages with
 *               koop_rpc_pack_request / koop_rpc_unpack_reply on a socket
 *               from koop_rpc_dealer_new.
 */
#include "bench.h"
#include "clock.h"
#include "client.h"
#include "envelope.pb-c.h"
#include "registry.pb-c.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define REPLY_TIMEOUT_MS 10000
#define SETUP_TIMEOUT_MS 5000
#define METHOD "institution.add"
#define SENT_NONE UINT64_MAX /* a request slot whose reply came (or that was never sent) */

/* ---- the request ---- */

typedef struct {
    Koop__Reg__Institution sr_inst;
    char sr_name[96];
} s_request;

static void
s_request_fill(s_request *r, unsigned client, uint64_t n)
{
    Koop__Reg__Institution init = KOOP__REG__INSTITUTION__INIT;
    r->sr_inst = init;
    snprintf(r->sr_name, sizeof r->sr_name, "Punkt wsparcia rodziny nr %u/%06llu", client,
             (unsigned long long)n);
    r->sr_inst.name = r->sr_name;
    r->sr_inst.has_sector = 1;
    r->sr_inst.sector = KOOP__REG__SECTOR__SECTOR_FAMILY_SUPPORT;
    r->sr_inst.has_level = 1;
    r->sr_inst.level = KOOP__REG__LEVEL__LEVEL_GMINA;
    r->sr_inst.teryt = "2013032";
    r->sr_inst.address = "ul. Piłsudskiego 12, 16-100 Sokółka";
}

/* Describes a non-OK reply on stderr. */
static int
s_refused(const char *mode, const koop_reply_t *reply)
{
    fprintf(stderr, "koop-bench: %s: %s refused: status %d (%s)%s%s\n", mode, METHOD, reply->status,
            koop_status_name(reply->status), reply->err.code[0] ? ": " : "", reply->err.code);
    return -EPROTO;
}

void
bench_run_clear(bench_run_t *run)
{
    if (!run)
        return;
    bench_lat_clear(&run->br_lat);
    memset(run, 0, sizeof *run);
}

/* ---- ping ---- */

int
bench_registry_ping(const char *endpoint, int timeout_ms, uint32_t *pid)
{
    koop_rpc_client_t *client = koop_rpc_client_new(endpoint);
    koop_reply_t reply = {0};
    Koop__Pong *pong = NULL;
    int rc;

    if (!client)
        return errno ? -errno : -ENOMEM;
    rc = koop_rpc_call(client, "", "sys.ping", NULL, timeout_ms, &reply);
    if (rc != 0)
        goto fail;
    if (reply.status != KOOP_OK) {
        fprintf(stderr, "koop-bench: sys.ping: status %d (%s)\n", reply.status,
                koop_status_name(reply.status));
        rc = -EIO;
        goto fail;
    }
    pong = koop__pong__unpack(NULL, reply.len, reply.payload);
    if (!pong || !pong->service || strcmp(pong->service, "registry") != 0 || !pong->has_pid) {
        fprintf(stderr, "koop-bench: sys.ping: the answer is not a registry's Pong\n");
        rc = -EIO;
        goto fail;
    }
    *pid = pong->pid;
    rc = 0;
fail:
    if (pong)
        koop__pong__free_unpacked(pong, NULL);
    koop_reply_clear(&reply);
    koop_rpc_client_destroy(&client);
    return rc;
}

/* ---- sequential ---- */

int
bench_registry_sequential(const char *endpoint, double seconds, unsigned max, bench_run_t *out)
{
    koop_rpc_client_t *client = NULL;
    koop_reply_t reply = {0};
    s_request req;
    uint64_t t0, ts, te = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (max == 0)
        return -EINVAL;
    if ((rc = bench_lat_init(&out->br_lat, max)) != 0)
        return rc;
    client = koop_rpc_client_new(endpoint);
    if (!client) {
        rc = errno ? -errno : -ENOMEM;
        goto fail;
    }
    t0 = koop_clock_mono_us();
    for (unsigned n = 0; n < max; n++) {
        s_request_fill(&req, 0, n);
        ts = koop_clock_mono_us();
        rc = koop_rpc_call(client, "", METHOD, &req.sr_inst.base, REPLY_TIMEOUT_MS, &reply);
        if (rc != 0) {
            fprintf(stderr, "koop-bench: sequential: %s: %s\n", METHOD, strerror(-rc));
            goto fail;
        }
        te = koop_clock_mono_us();
        if (reply.status != KOOP_OK) {
            rc = s_refused("sequential", &reply);
            goto fail;
        }
        koop_reply_clear(&reply);
        if ((rc = bench_lat_add(&out->br_lat, te - ts)) != 0)
            goto fail;
        out->br_writes++;
        if ((double)(te - t0) >= seconds * 1e6)
            break;
    }
    out->br_seconds = (double)(te - t0) / 1e6;
    out->br_rate = out->br_seconds > 0 ? (double)out->br_writes / out->br_seconds : 0;
    koop_rpc_client_destroy(&client);
    return 0;
fail:
    koop_reply_clear(&reply);
    koop_rpc_client_destroy(&client);
    bench_run_clear(out);
    return rc;
}

/* ---- throughput: pipelined clients on threads ---- */

/* All workers connect and ping first, then start together. */
typedef struct {
    pthread_mutex_t ss_mu;
    pthread_cond_t ss_cv;
    unsigned ss_ready;
    int ss_go; /* 0 wait, 1 run, -1 give up */
} s_start;

typedef struct {
    const char *sw_endpoint;
    unsigned sw_index, sw_window, sw_quota;
    s_start *sw_start;
    bench_lat_t sw_lat;
    uint64_t sw_t0_us, sw_end_us;
    uint64_t sw_writes;
    int sw_rc;
} s_worker;

/* Locking a default mutex fails only on a programmer error. */
static void
s_check_pthread(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "koop-bench: %s: %s\n", what, strerror(rc));
        abort();
    }
}

/* Says this worker is ready (or failed) and waits for the start. Returns 1 to
 * run, 0 to give up. */
static int
s_worker_wait_start(s_worker *w)
{
    s_start *st = w->sw_start;
    int go;
    s_check_pthread(pthread_mutex_lock(&st->ss_mu), "pthread_mutex_lock");
    st->ss_ready++;
    s_check_pthread(pthread_cond_broadcast(&st->ss_cv), "pthread_cond_broadcast");
    while (st->ss_go == 0)
        s_check_pthread(pthread_cond_wait(&st->ss_cv, &st->ss_mu), "pthread_cond_wait");
    go = st->ss_go;
    s_check_pthread(pthread_mutex_unlock(&st->ss_mu), "pthread_mutex_unlock");
    return go > 0;
}

static void *
s_worker_main(void *arg)
{
    s_worker *w = arg;
    koop_rpc_client_t *client = NULL;
    koop_reply_t reply = {0};
    uint64_t *sent_at = NULL, first_id = 0, id, now;
    unsigned sent = 0, inflight = 0;
    s_request req;
    int rc, ready = 0;

    if ((rc = bench_lat_init(&w->sw_lat, w->sw_quota)) != 0)
        goto setup_done;
    sent_at = malloc((w->sw_quota ? w->sw_quota : 1) * sizeof *sent_at);
    if (!sent_at) {
        rc = -ENOMEM;
        goto setup_done;
    }
    client = koop_rpc_client_new(w->sw_endpoint);
    if (!client) {
        rc = errno ? -errno : -ENOMEM;
        goto setup_done;
    }
    /* a ping makes sure the connection is up before the clock starts; it
     * also leaves ZMQ_SNDTIMEO set on the client's socket (koop_rpc_call sets
     * it), so a send that cannot go out fails instead of hanging */
    rc = koop_rpc_call(client, "", "sys.ping", NULL, SETUP_TIMEOUT_MS, &reply);
    if (rc == 0 && reply.status != KOOP_OK)
        rc = -EIO;
    koop_reply_clear(&reply);
    if (rc == 0)
        ready = 1;
    else
        fprintf(stderr, "koop-bench: throughput client %u: sys.ping: %s\n", w->sw_index, strerror(-rc));
setup_done:
    if (!s_worker_wait_start(w) || !ready) {
        if (rc == 0)
            rc = -ECANCELED;
        goto fail;
    }

    w->sw_t0_us = koop_clock_mono_us();
    while (w->sw_writes < w->sw_quota) {
        unsigned idx;
        while (inflight < w->sw_window && sent < w->sw_quota) {
            s_request_fill(&req, w->sw_index + 1, sent);
            if ((rc = koop_rpc_send(client, "", METHOD, &req.sr_inst.base, &id)) != 0) {
                fprintf(stderr, "koop-bench: throughput client %u: send: %s\n", w->sw_index,
                        strerror(-rc));
                goto fail;
            }
            if (sent == 0)
                first_id = id;
            if (id - first_id != sent) { /* the client numbers its requests 1, 2, 3 ... */
                fprintf(stderr, "koop-bench: throughput client %u: request ids not consecutive\n",
                        w->sw_index);
                rc = -EPROTO;
                goto fail;
            }
            sent_at[sent++] = koop_clock_mono_us();
            inflight++;
        }
        rc = koop_rpc_recv(client, REPLY_TIMEOUT_MS, &id, &reply);
        now = koop_clock_mono_us();
        if (rc != 0) {
            fprintf(stderr, "koop-bench: throughput client %u: %s after %llu of %u replies\n",
                    w->sw_index, rc == -ETIMEDOUT ? "no reply within the timeout" : strerror(-rc),
                    (unsigned long long)w->sw_writes, w->sw_quota);
            goto fail;
        }
        idx = (unsigned)(id - first_id);
        if (id < first_id || idx >= sent || sent_at[idx] == SENT_NONE) {
            fprintf(stderr, "koop-bench: throughput client %u: a reply to no pending request (id %llu)\n",
                    w->sw_index, (unsigned long long)id);
            rc = -EPROTO;
            goto fail;
        }
        if (reply.status != KOOP_OK) {
            rc = s_refused("throughput", &reply);
            goto fail;
        }
        koop_reply_clear(&reply);
        if ((rc = bench_lat_add(&w->sw_lat, now - sent_at[idx])) != 0)
            goto fail;
        sent_at[idx] = SENT_NONE;
        w->sw_writes++;
        inflight--;
    }
    w->sw_end_us = koop_clock_mono_us();
    rc = 0;
fail:
    koop_reply_clear(&reply);
    koop_rpc_client_destroy(&client);
    free(sent_at);
    w->sw_rc = rc;
    return NULL;
}

int
bench_registry_throughput(const char *endpoint, unsigned clients, unsigned window, unsigned total,
                          bench_run_t *out)
{
    s_start start = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    s_worker *workers = NULL;
    pthread_t *threads = NULL;
    unsigned created = 0;
    uint64_t t0 = UINT64_MAX, end = 0;
    int rc = 0, err;

    memset(out, 0, sizeof *out);
    if (clients == 0 || window == 0 || total < clients)
        return -EINVAL;
    workers = calloc(clients, sizeof *workers);
    threads = calloc(clients, sizeof *threads);
    if (!workers || !threads || bench_lat_init(&out->br_lat, total) != 0) {
        rc = -ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < clients; i++) {
        s_worker *w = &workers[i];
        w->sw_endpoint = endpoint;
        w->sw_index = i;
        w->sw_window = window;
        w->sw_quota = total / clients + (i < total % clients);
        w->sw_start = &start;
        if ((err = pthread_create(&threads[i], NULL, s_worker_main, w)) != 0) {
            fprintf(stderr, "koop-bench: pthread_create: %s\n", strerror(err));
            rc = -err;
            break;
        }
        created++;
    }
    /* start together, or tell those that exist to give up */
    s_check_pthread(pthread_mutex_lock(&start.ss_mu), "pthread_mutex_lock");
    while (start.ss_ready < created)
        s_check_pthread(pthread_cond_wait(&start.ss_cv, &start.ss_mu), "pthread_cond_wait");
    start.ss_go = created == clients ? 1 : -1;
    s_check_pthread(pthread_cond_broadcast(&start.ss_cv), "pthread_cond_broadcast");
    s_check_pthread(pthread_mutex_unlock(&start.ss_mu), "pthread_mutex_unlock");

    for (unsigned i = 0; i < created; i++) {
        s_worker *w = &workers[i];
        if ((err = pthread_join(threads[i], NULL)) != 0) {
            fprintf(stderr, "koop-bench: pthread_join: %s\n", strerror(err));
            if (rc == 0)
                rc = -err;
            continue;
        }
        if (w->sw_rc != 0 && rc == 0)
            rc = w->sw_rc;
        if (w->sw_rc == 0) {
            int m = bench_lat_merge(&out->br_lat, &w->sw_lat);
            if (m != 0 && rc == 0)
                rc = m;
            out->br_writes += w->sw_writes;
            t0 = w->sw_t0_us < t0 ? w->sw_t0_us : t0;
            end = w->sw_end_us > end ? w->sw_end_us : end;
        }
    }
    if (rc != 0)
        goto fail;
    out->br_seconds = (double)(end - t0) / 1e6;
    out->br_rate = out->br_seconds > 0 ? (double)out->br_writes / out->br_seconds : 0;
    for (unsigned i = 0; i < clients; i++)
        bench_lat_clear(&workers[i].sw_lat);
    free(workers);
    free(threads);
    return 0;
fail:
    if (workers)
        for (unsigned i = 0; i < clients; i++)
            bench_lat_clear(&workers[i].sw_lat);
    free(workers);
    free(threads);
    bench_run_clear(out);
    return rc;
}

/* ---- open loop ---- */

static uint64_t
s_now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Arms the timerfd to fire once at the absolute monotonic time at_ns. */
static int
s_timer_at(int tfd, uint64_t at_ns)
{
    struct itimerspec its = {{0, 0}, {(time_t)(at_ns / 1000000000u), (long)(at_ns % 1000000000u)}};
    return timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0 ? 0 : -errno;
}

/* Sends one packed request without blocking. */
static int
s_send_request(void *sock, uint64_t request_id, const char *method, const ProtobufCMessage *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = koop_rpc_pack_request(request_id, "", method, msg, &buf, &len);
    if (rc != 0)
        return rc;
    rc = zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0 ? -errno : 0;
    free(buf);
    return rc;
}

/* Receives one reply if one is waiting: 0 and the reply, -EAGAIN when none. */
static int
s_recv_reply(void *sock, uint64_t *request_id, koop_reply_t *reply)
{
    zmq_msg_t msg;
    int rc;
    if (zmq_msg_init(&msg) != 0)
        return -errno;
    if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
        rc = -errno;
        (void)zmq_msg_close(&msg);
        return rc;
    }
    rc = koop_rpc_unpack_reply(zmq_msg_data(&msg), zmq_msg_size(&msg), request_id, reply);
    (void)zmq_msg_close(&msg);
    return rc;
}

#define PING_ID ((uint64_t)1 << 62)

/* One ping round trip on sock: the connection is up before the schedule
 * starts. */
static int
s_open_loop_ping(void *sock)
{
    koop_reply_t reply = {0};
    uint64_t id;
    int rc = s_send_request(sock, PING_ID, "sys.ping", NULL);
    if (rc != 0)
        return rc;
    for (;;) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, SETUP_TIMEOUT_MS);
        if (n < 0)
            return -errno;
        if (n == 0)
            return -ETIMEDOUT;
        rc = s_recv_reply(sock, &id, &reply);
        if (rc == -EAGAIN)
            continue;
        if (rc != 0)
            return rc;
        rc = id == PING_ID && reply.status == KOOP_OK ? 0 : -EPROTO;
        koop_reply_clear(&reply);
        return rc;
    }
}

int
bench_registry_open_loop(const char *endpoint, unsigned rate, double seconds, bench_run_t *out)
{
    void *zctx = NULL, *sock = NULL;
    int tfd = -1, rc;
    uint64_t total = (uint64_t)((double)rate * seconds), sent = 0, done = 0;
    uint64_t t0, last_reply = 0, last_progress;
    koop_reply_t reply = {0};
    uint8_t *answered = NULL; /* answered[i]: the reply to request i came */
    s_request req;

    memset(out, 0, sizeof *out);
    if (rate == 0 || total == 0)
        return -EINVAL;
    if ((rc = bench_lat_init(&out->br_lat, total)) != 0)
        return rc;
    answered = calloc(total, 1);
    if (!answered) {
        rc = -ENOMEM;
        goto fail;
    }
    zctx = zmq_ctx_new();
    if (!zctx) {
        rc = -errno;
        goto fail;
    }
    sock = koop_rpc_dealer_new(zctx, endpoint);
    if (!sock) {
        rc = -errno;
        fprintf(stderr, "koop-bench: open loop: connect %s: %s\n", endpoint, zmq_strerror(errno));
        goto fail;
    }
    if ((rc = s_open_loop_ping(sock)) != 0) {
        fprintf(stderr, "koop-bench: open loop: sys.ping: %s\n", strerror(-rc));
        goto fail;
    }
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0) {
        rc = -errno;
        fprintf(stderr, "koop-bench: timerfd_create: %s\n", strerror(errno));
        goto fail;
    }

/* scheduled send time of request i (0-based) */
#define SCHED(i) (t0 + (uint64_t)(i) * 1000000000u / rate)
    t0 = s_now_ns() + 5000000u; /* 5 ms from now */
    last_progress = t0;
    if ((rc = s_timer_at(tfd, SCHED(0))) != 0)
        goto fail;
    while (done < total) {
        zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, {NULL, tfd, ZMQ_POLLIN, 0}};
        uint64_t now, ticks, id;
        int n = zmq_poll(items, 2, 1000);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            fprintf(stderr, "koop-bench: open loop: zmq_poll: %s\n", zmq_strerror(errno));
            goto fail;
        }
        if ((items[1].revents & ZMQ_POLLIN) && read(tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN) {
            rc = -errno;
            goto fail;
        }
        /* everything that is due goes out now, late or not */
        now = s_now_ns();
        if (sent < total && SCHED(sent) <= now) {
            double lag_ms = (double)(now - SCHED(sent)) / 1e6;
            if (lag_ms > out->br_lag_max_ms)
                out->br_lag_max_ms = lag_ms; /* the oldest due request is the latest */
            while (sent < total && SCHED(sent) <= now) {
                s_request_fill(&req, 0, sent);
                if ((rc = s_send_request(sock, sent + 1, METHOD, &req.sr_inst.base)) != 0) {
                    fprintf(stderr, "koop-bench: open loop: send: %s\n", strerror(-rc));
                    goto fail;
                }
                sent++;
            }
            if (sent < total && (rc = s_timer_at(tfd, SCHED(sent))) != 0)
                goto fail;
        }
        /* then every reply that is waiting */
        while ((rc = s_recv_reply(sock, &id, &reply)) == 0) {
            uint64_t at = s_now_ns();
            if (id == 0 || id > sent || answered[id - 1]) {
                fprintf(stderr, "koop-bench: open loop: a reply to no pending request (id %llu)\n",
                        (unsigned long long)id);
                rc = -EPROTO;
                goto fail;
            }
            if (reply.status != KOOP_OK) {
                rc = s_refused("open loop", &reply);
                goto fail;
            }
            koop_reply_clear(&reply);
            if ((rc = bench_lat_add(&out->br_lat, (at - SCHED(id - 1)) / 1000u)) != 0)
                goto fail;
            answered[id - 1] = 1;
            done++;
            last_reply = last_progress = at;
        }
        if (rc != -EAGAIN) {
            fprintf(stderr, "koop-bench: open loop: receive: %s\n", strerror(-rc));
            goto fail;
        }
        if (s_now_ns() > last_progress + (uint64_t)REPLY_TIMEOUT_MS * 1000000u && sent > done) {
            fprintf(stderr, "koop-bench: open loop: no reply for %d ms (%llu of %llu answered)\n",
                    REPLY_TIMEOUT_MS, (unsigned long long)done, (unsigned long long)total);
            rc = -ETIMEDOUT;
            goto fail;
        }
    }
#undef SCHED
    out->br_writes = done;
    out->br_seconds = (double)(last_reply - t0) / 1e9;
    out->br_rate = out->br_seconds > 0 ? (double)done / out->br_seconds : 0;
    rc = 0;
fail:
    if (rc != 0)
        bench_run_clear(out);
    free(answered);
    koop_reply_clear(&reply);
    if (tfd >= 0)
        (void)close(tfd);
    if (sock)
        (void)zmq_close(sock); /* linger 0: nothing to wait for */
    if (zctx)
        (void)zmq_ctx_term(zctx);
    return rc;
}
