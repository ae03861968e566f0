/*
 * A real hub (koop-node: registry, reporting, sync) under hundreds of
 * gminas at once, simulated by the fleet (tools/fleet): each has its own
 * CURVE key enrolled on the hub, its own node id and log identities, and
 * writes SHARED cases and registry events. The hub's session table must
 * find every one of them (by key, by node id), keep reconnecting gminas on
 * their sessions without a second copy of anything, and drop the session
 * of a key that leaves the allow-list.
 */
#include "kt_sync.h"
#include "../../tools/fleet/fleet.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "client.h"
#include "sync.pb-c.h"
#include "clock.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#define S_GMINAS 90
#else
#define S_GMINAS 300
#endif
#define S_EVENTS 40

static kt_node_t hub;
static koop_config_t cfg;
static fleet_t *fleet;

static void
s_setup(void)
{
    char err[600], path[PATH_MAX + 32];
    int port = 0, fh;
    zcert_t *cert;
    cr_assert_eq(kt_hub_init(&hub, "1465", "Powiat testowy", &port), 0);
    cr_assert_eq(koop_config_load(&cfg, hub.conf, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kt_node_start(&hub, 30), 0);
    fleet = fleet_new(S_GMINAS);
    cr_assert_not_null(fleet);
    snprintf(path, sizeof path, "%s/keys/node.pub", hub.dir);
    cert = zcert_load(path);
    cr_assert_not_null(cert);
    fh = fleet_hub(fleet, cfg.sync_listen, zcert_public_key(cert));
    zcert_destroy(&cert);
    cr_assert_geq(fh, 0);
    for (unsigned i = 0; i < S_GMINAS; i++) {
        char node[48], teryt[16];
        snprintf(teryt, sizeof teryt, "14%05u", i % 100000);
        snprintf(node, sizeof node, "gmina-%s", teryt);
        cr_assert_eq(fleet_add(fleet, fh, node, teryt, 19000, hub.dir), (int)i);
    }
    cr_assert_eq(fleet_start(fleet), 0);
}

static void
s_teardown(void)
{
    fleet_destroy(&fleet);
    kt_node_destroy(&hub);
}

TestSuite(sync_fleet, .init = s_setup, .fini = s_teardown, .timeout = 180);

/* Waits until the fleet's counters satisfy ready == want_ready and acked ==
 * written (or timeout_s passes). */
static int
s_wait(unsigned want_ready, int timeout_s)
{
    uint64_t until = koop_clock_mono_ms() + (uint64_t)timeout_s * 1000u;
    fleet_stats_t st;
    do {
        fleet_stats(fleet, &st);
        if (st.ready == want_ready && st.acked == st.written)
            return 0;
        kt_sleep_ms(50);
    } while (koop_clock_mono_ms() < until);
    fprintf(stderr, "fleet: %u ready (want %u), %llu of %llu acked, %llu denied, %llu reconnects\n", st.ready,
            want_ready, (unsigned long long)st.acked, (unsigned long long)st.written, (unsigned long long)st.denied,
            (unsigned long long)st.reconnects);
    return -1;
}

/* hub.events of one gmina's stream after `after`: the seqs, checked to
 * follow one another from after + 1. Returns how many came. */
static size_t
s_hub_events(const char *node, const char *stream, uint64_t after, uint64_t last)
{
    koop_rpc_client_t *c = koop_rpc_client_new(koop_config_endpoint(&cfg, "sync"));
    Koop__Sync__NodeEvents q = KOOP__SYNC__NODE_EVENTS__INIT;
    koop_reply_t r;
    Koop__FeedBatch *b;
    size_t n;
    cr_assert_not_null(c);
    q.node = (char *)node;
    q.stream = (char *)stream;
    q.has_after_seq = 1;
    q.after_seq = after;
    cr_assert_eq(koop_rpc_call(c, NULL, "hub.events", &q.base, 10000, &r), 0);
    cr_assert_eq(r.status, 0, "hub.events %s/%s: %s", node, stream, r.err.code[0] ? r.err.code : "");
    b = koop__feed_batch__unpack(NULL, r.len, r.payload);
    cr_assert_not_null(b);
    for (size_t i = 0; i < b->n_events; i++) {
        Koop__Event *ev = koop__event__unpack(NULL, b->events[i].len, b->events[i].data);
        cr_assert_not_null(ev);
        cr_assert_str_eq(ev->node, node);
        cr_assert_str_eq(ev->stream, stream);
        cr_assert_eq(ev->seq, after + 1 + i, "%s/%s: event %zu after %llu has seq %llu", node, stream, i,
                     (unsigned long long)after, (unsigned long long)ev->seq);
        koop__event__free_unpacked(ev, NULL);
    }
    n = b->n_events;
    cr_assert_eq(after + n, last, "%s/%s: the hub gives %zu events after %llu, the gmina wrote up to %llu", node,
                 stream, n, (unsigned long long)after, (unsigned long long)last);
    koop__feed_batch__free_unpacked(b, NULL);
    koop_reply_clear(&r);
    koop_rpc_client_destroy(&c);
    return n;
}

/* The hub holds each gmina's streams exactly: every stream from its start,
 * and from the middle of its first batch (one entry per batch run). */
static void
s_assert_exact(unsigned from, unsigned to)
{
    for (unsigned i = from; i < to; i++) {
        fleet_gmina_info_t g;
        cr_assert_eq(fleet_gmina(fleet, i, &g), 0);
        for (int s = 0; s < 2; s++) { /* registry, cases */
            uint64_t w = g.streams[s].written;
            cr_assert_eq(g.streams[s].acked, w);
            s_hub_events(g.node, g.streams[s].name, 0, w);
            if (w > 2)
                s_hub_events(g.node, g.streams[s].name, w / 2, w);
        }
    }
}


Test(sync_fleet, hundreds_of_gminas_reconnects_and_removal)
{
    const unsigned third = S_GMINAS / 3, gone = 10;
    fleet_stats_t st;
    json_t *hs;

    /* all at once */
    cr_assert_eq(fleet_online(fleet, 0, S_GMINAS, 1), 0);
    cr_assert_eq(fleet_write(fleet, 0, S_GMINAS, S_EVENTS), 0);
    cr_assert_eq(s_wait(S_GMINAS, 90), 0, "not every gmina got its events acknowledged");
    hs = kt_sync_status(&hub);
    cr_assert_not_null(hs);
    cr_assert_eq(json_array_size(json_object_get(hs, "nodes")), S_GMINAS);
    {
        size_t i, connected = 0;
        json_t *n;
        json_array_foreach(json_object_get(hs, "nodes"), i, n)
            connected += json_is_true(json_object_get(n, "connected"));
        cr_assert_eq(connected, S_GMINAS, "the hub sees %zu of %d sessions", connected, S_GMINAS);
    }
    json_decref(hs);
    s_assert_exact(0, S_GMINAS);

    /* a third go away, write, and come back at once on new connections */
    cr_assert_eq(fleet_online(fleet, 0, third, 0), 0);
    cr_assert_eq(fleet_write(fleet, 0, third, S_EVENTS), 0);
    cr_assert_eq(fleet_sync(fleet, 10000), 0);
    kt_sleep_ms(500);
    cr_assert_eq(fleet_online(fleet, 0, third, 1), 0);
    cr_assert_eq(s_wait(S_GMINAS, 90), 0, "the reconnected gminas' events were not all acknowledged");
    s_assert_exact(0, S_GMINAS);
    fleet_stats(fleet, &st);
    cr_assert_eq(st.denied, 0);

    /* some keys leave the allow-list: their sessions go, they get nothing in */
    {
        DIR *d;
        struct dirent *e;
        char dir[PATH_MAX + 32], path[PATH_MAX + 320];
        unsigned removed = 0;
        snprintf(dir, sizeof dir, "%s/keys/enrolled", hub.dir);
        for (unsigned i = S_GMINAS - gone; i < S_GMINAS; i++) {
            fleet_gmina_info_t g;
            uint8_t pub[32];
            char hex[65];
            cr_assert_eq(fleet_gmina(fleet, i, &g), 0);
            cr_assert_not_null(zmq_z85_decode(pub, g.key));
            for (int b = 0; b < 32; b++)
                snprintf(hex + 2 * b, 3, "%02x", pub[b]);
            snprintf(path, sizeof path, "%s/%s.pub", dir, hex);
            cr_assert_eq(unlink(path), 0, "no enrolled certificate %s", path);
            removed++;
        }
        cr_assert_eq(removed, gone);
        d = opendir(dir);
        cr_assert_not_null(d);
        removed = 0;
        while ((e = readdir(d)) != NULL)
            removed += strstr(e->d_name, ".pub") != NULL;
        closedir(d);
        cr_assert_eq(removed, S_GMINAS - gone);
    }
    kt_sleep_ms(2500); /* the hub looks at its allow-list every second */
    cr_assert_eq(fleet_write(fleet, S_GMINAS - gone, S_GMINAS, 5), 0);
    cr_assert_eq(fleet_write(fleet, 0, S_GMINAS - gone, 5), 0);
    cr_assert_eq(fleet_sync(fleet, 10000), 0);
    {
        uint64_t until = koop_clock_mono_ms() + 60000;
        unsigned ok = 0;
        while (koop_clock_mono_ms() < until) {
            ok = 0;
            for (unsigned i = 0; i < S_GMINAS - gone; i++) {
                fleet_gmina_info_t g;
                fleet_gmina(fleet, i, &g);
                ok += g.streams[1].acked == g.streams[1].written && g.streams[0].acked == g.streams[0].written;
            }
            fleet_stats(fleet, &st);
            if (ok == S_GMINAS - gone && st.denied >= gone)
                break;
            kt_sleep_ms(100);
        }
        cr_assert_eq(ok, S_GMINAS - gone, "the enrolled gminas go on");
        cr_assert_geq(st.denied, gone, "the removed keys were not refused (%llu)", (unsigned long long)st.denied);
    }
    hs = kt_sync_status(&hub);
    cr_assert_not_null(hs);
    for (unsigned i = S_GMINAS - gone; i < S_GMINAS; i++) {
        fleet_gmina_info_t g;
        json_t *n;
        fleet_gmina(fleet, i, &g);
        cr_assert_lt(g.streams[1].acked, g.streams[1].written, "a removed key's events were taken");
        n = kt_hub_node(hs, g.node);
        cr_assert_not_null(n, "its stored streams stay listed");
        cr_assert(json_is_false(json_object_get(n, "connected")), "%s still has a session", g.node);
        s_hub_events(g.node, "cases", 0, g.streams[1].acked);
    }
    json_decref(hs);
    s_assert_exact(0, S_GMINAS - gone);
}
