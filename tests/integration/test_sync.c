/*
 * Gmina -> hub sync with real processes: hubs and gminas (koop-node with
 * koop-registry and koop-sync) on loopback TCP, driven through koopctl and
 * the services' sockets. Suite "sync" is the behaviour; suite "sync_faults"
 * kills and freezes processes (slower; run only the fast ones with
 * --filter 'sync/<star>').
 */
#include "kt_link.h"
#include "kt_ops.h"
#include "kt_sync.h"
#include "chain.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "id.h"
#include "registry.pb-c.h"
#include "sync.pb-c.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* AddressSanitizer makes every registry write slow (LMDB allocates ~2.5 MB
 * per nested transaction, which ASan maps and unmaps each time): the same
 * scenarios run with fewer events there. */
#ifdef __SANITIZE_ADDRESS__
#define SCALE 10
#else
#define SCALE 1
#endif

#define MAX_NODES 4
static kt_node_t nodes[MAX_NODES];
static int nnodes;

static kt_node_t *
s_new(void)
{
    cr_assert(nnodes < MAX_NODES);
    return &nodes[nnodes++];
}

static void s_play_stop(void);

static void
s_fini(void)
{
    s_play_stop();
    for (int i = 0; i < nnodes; i++)
        kt_node_destroy(&nodes[i]);
    nnodes = 0;
}

TestSuite(sync, .fini = s_fini, .timeout = 120);
TestSuite(sync_faults, .fini = s_fini, .timeout = 180);

/* A hub and one enrolled gmina (not started). */
static void
s_pair(kt_node_t **hub, kt_node_t **g, int *port)
{
    *port = 0;
    *hub = s_new();
    *g = s_new();
    cr_assert_eq(kt_hub_init(*hub, "2013", "Powiat wysokomazowiecki", port), 0);
    cr_assert_eq(kt_gmina_init(*g, "2013032", "Kobylin-Borzymy", *port, *hub), 0);
    cr_assert_eq(kt_enrol(*hub, *g), 0);
}


static void
s_assert_exact(kt_node_t *g, kt_node_t *hub, uint64_t expect_at_least)
{
    uint64_t n = 0;
    json_t *gs, *hs;
    cr_assert_eq(kt_compare_streams(g, hub, "registry", &n), 0, "the hub's copy differs from the gmina's SHARED events");
    cr_assert_geq(n, expect_at_least, "only %llu events compared", (unsigned long long)n);
    gs = kt_sync_status(g);
    hs = kt_sync_status(hub);
    cr_assert(gs && hs);
    {
        /* as the acceptance check does, but for this gmina's entry on the hub */
        json_t *hn = kt_hub_node(hs, json_string_value(json_object_get(gs, "node")));
        cr_assert_not_null(hn);
        cr_assert_eq(kt_acked_sum(gs), kt_acked_sum(hn), "acked positions disagree: gmina %llu, hub %llu",
                     (unsigned long long)kt_acked_sum(gs), (unsigned long long)kt_acked_sum(hn));
    }
    json_decref(gs);
    json_decref(hs);
}

/* ---- behaviour ---- */

Test(sync, catch_up_after_hub_outage_is_exact)
{
    kt_node_t *hub, *g;
    int port;
    json_t *st;
    char *gops;

    s_pair(&hub, &g, &port);
    cr_assert_eq(kt_node_start(g, 20), 0);
    /* the hub is down for the whole write: the gmina keeps working */
    gops = kt_ctl_id(g, "institution", "add", "--name", "GOPS", "--sector", "social_assistance", "--level", "gmina", NULL);
    cr_assert_not_null(gops);
    cr_assert_eq(kt_add_institutions(g, 3000 / SCALE, "Szkoła"), 3000 / SCALE);
    cr_assert_eq(kt_add_people(g, 300 / SCALE, "Pracownik", "600", gops), 300 / SCALE);
    cr_assert_eq(kt_add_institutions(g, 1000 / SCALE, "Przedszkole"), 1000 / SCALE);
    st = kt_sync_status(g);
    cr_assert_not_null(st);
    cr_assert(json_is_false(json_object_get(st, "connected")));
    /* + the GOPS, + node.described (the gmina names itself to its hub) */
    cr_assert_eq(json_integer_value(json_object_get(st, "pending")), 4000 / SCALE + 2, "pending %s",
                 json_dumps(st, JSON_COMPACT));
    json_decref(st);

    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_eq(kt_wait_synced(g, 60), 0, "the gmina did not catch up");
    s_assert_exact(g, hub, 4000 / SCALE + 2);
    /* the hub also says how many it holds (no LOCAL event among them) */
    st = kt_sync_status(hub);
    {
        json_t *n = kt_hub_node(st, "gmina-2013032");
        cr_assert_not_null(n);
        cr_assert(json_is_true(json_object_get(n, "connected")));
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(n, "streams"), "registry"),
                                                        "events")),
                     4000 / SCALE + 2);
    }
    json_decref(st);
    free(gops);
}

/* ---- a hub played by the test: what the uplink does with a WELCOME's limits ---- */

/* A CURVE ROUTER with the keys of a hub node (made, never started) that
 * answers HELLO with a WELCOME of `window` and `batch_max`, Ping with Pong,
 * and keeps count of the gmina's registry stream as it comes. */
typedef struct {
    zsock_t *sock;
    zframe_t *rid;
    uint32_t window, batch_max;
    uint64_t acked;        /* what this hub says it holds of the registry stream */
    uint64_t got;          /* the last seq of it received in order */
    uint64_t unacked_max;  /* the most events of it seen unacknowledged at once */
    size_t batch_seen;     /* the largest batch of it */
    int hellos;
} s_play;

static s_play *s_playing; /* closed by the suite's fini, however the test ends */

static void
s_play_open(s_play *p, const kt_node_t *hub, int port)
{
    char path[PATH_MAX + 32];
    zcert_t *cert;
    memset(p, 0, sizeof *p);
    s_playing = p;
    snprintf(path, sizeof path, "%s/keys/node.key", hub->dir);
    cert = zcert_load(path);
    cr_assert_not_null(cert);
    p->sock = zsock_new(ZMQ_ROUTER);
    cr_assert_not_null(p->sock);
    zcert_apply(cert, p->sock);
    zcert_destroy(&cert);
    zsock_set_curve_server(p->sock, 1);
    zsock_set_rcvtimeo(p->sock, 50);
    cr_assert_eq(zsock_bind(p->sock, "tcp://127.0.0.1:%d", port), port);
}

static void
s_play_stop(void)
{
    if (!s_playing)
        return;
    zframe_destroy(&s_playing->rid);
    zsock_destroy(&s_playing->sock);
    s_playing = NULL;
}

static void
s_play_send(s_play *p, const Koop__Sync__Frame *f)
{
    size_t n = koop__sync__frame__get_packed_size(f);
    uint8_t *buf = malloc(n ? n : 1);
    zframe_t *rid = zframe_dup(p->rid);
    cr_assert(buf && rid);
    koop__sync__frame__pack(f, buf);
    cr_assert_eq(zframe_send(&rid, p->sock, ZFRAME_MORE), 0);
    cr_assert_eq(zsock_send(p->sock, "b", buf, n), 0);
    free(buf);
}

static void
s_play_welcome(s_play *p, const Koop__Sync__Hello *h)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Welcome w = KOOP__SYNC__WELCOME__INIT;
    Koop__Sync__StreamPos pos[16], *ptrs[16];
    size_t n = 0;
    for (size_t i = 0; i < h->n_streams && n < 16; i++, n++) {
        koop__sync__stream_pos__init(&pos[n]);
        pos[n].stream = h->streams[i]->stream;
        pos[n].log_id = h->streams[i]->log_id;
        pos[n].has_seq = pos[n].has_verdict = pos[n].has_epoch = 1;
        pos[n].seq = strcmp(h->streams[i]->stream, "registry") == 0 ? p->acked : h->streams[i]->seq;
        pos[n].verdict = KOOP__SYNC__VERDICT__VERDICT_OK;
        pos[n].epoch = 1;
        ptrs[n] = &pos[n];
    }
    w.hub = "hub-2013";
    w.streams = ptrs;
    w.n_streams = n;
    w.has_heartbeat_ms = w.has_window = w.has_batch_max = 1;
    w.heartbeat_ms = 1000;
    w.window = p->window;
    w.batch_max = p->batch_max;
    f.body_case = KOOP__SYNC__FRAME__BODY_WELCOME;
    f.welcome = &w;
    s_play_send(p, &f);
    p->hellos++;
}

/* Takes what the gmina sends for ms milliseconds. */
static void
s_play_pump(s_play *p, int ms)
{
    int64_t end = zclock_mono() + ms;
    while (zclock_mono() < end) {
        zmsg_t *m = zmsg_recv(p->sock);
        zframe_t *rid, *data;
        Koop__Sync__Frame *f;
        if (!m)
            continue;
        rid = zmsg_pop(m);
        data = zmsg_pop(m);
        f = data ? koop__sync__frame__unpack(NULL, zframe_size(data), zframe_data(data)) : NULL;
        zframe_destroy(&p->rid);
        p->rid = rid;
        if (f && f->body_case == KOOP__SYNC__FRAME__BODY_HELLO) {
            s_play_welcome(p, f->hello);
        } else if (f && f->body_case == KOOP__SYNC__FRAME__BODY_PING) {
            Koop__Sync__Frame pf = KOOP__SYNC__FRAME__INIT;
            Koop__Sync__Pong pong = KOOP__SYNC__PONG__INIT;
            pong.has_time_ms = 1;
            pong.time_ms = f->ping->time_ms;
            pf.body_case = KOOP__SYNC__FRAME__BODY_PONG;
            pf.pong = &pong;
            s_play_send(p, &pf);
        } else if (f && f->body_case == KOOP__SYNC__FRAME__BODY_BATCH && !strcmp(f->batch->stream, "registry")) {
            const Koop__Sync__Batch *b = f->batch;
            if (b->n_items > p->batch_seen)
                p->batch_seen = b->n_items;
            for (size_t i = 0; i < b->n_items; i++)
                if (b->items[i]->seq == p->got + 1)
                    p->got++; /* an overlap after a rewind is no news */
            if (p->got - p->acked > p->unacked_max)
                p->unacked_max = p->got - p->acked;
        }
        if (f)
            koop__sync__frame__free_unpacked(f, NULL);
        zframe_destroy(&data);
        zmsg_destroy(&m);
    }
}

static void
s_play_ack(s_play *p)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Ack a = KOOP__SYNC__ACK__INIT;
    a.stream = "registry";
    a.has_seq = 1;
    a.seq = p->got;
    f.body_case = KOOP__SYNC__FRAME__BODY_ACK;
    f.ack = &a;
    s_play_send(p, &f);
    p->acked = p->got;
}

/* NO_SESSION: the uplink says HELLO again (as to a hub that restarted). */
static void
s_play_forget(s_play *p)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Refuse r = KOOP__SYNC__REFUSE__INIT;
    int hellos = p->hellos;
    r.has_code = 1;
    r.code = KOOP__SYNC__CODE__CODE_NO_SESSION;
    f.body_case = KOOP__SYNC__FRAME__BODY_REFUSE;
    f.refuse = &r;
    s_play_send(p, &f);
    for (int i = 0; i < 100 && p->hellos == hellos; i++)
        s_play_pump(p, 100);
    cr_assert_gt(p->hellos, hellos, "no HELLO after NO_SESSION");
}

/* Acks what came until `want` events of the registry stream are in. */
static void
s_play_until(s_play *p, uint64_t want)
{
    for (int i = 0; i < 300 && p->acked < want; i++) {
        s_play_pump(p, 100);
        if (p->got > p->acked)
            s_play_ack(p);
    }
    cr_assert_eq(p->acked, want, "got %llu of %llu", (unsigned long long)p->acked, (unsigned long long)want);
}

Test(sync, the_uplink_keeps_to_the_window_and_batch_size_its_hub_advertises)
{
    kt_node_t *hub = s_new(), *g = s_new();
    int port = 0;
    static s_play p;

    cr_assert_eq(kt_hub_init(hub, "2013", "Powiat", &port), 0);
    cr_assert_eq(kt_gmina_init(g, "2013032", "Kobylin-Borzymy", port, hub), 0);
    s_play_open(&p, hub, port);
    p.window = 5;
    p.batch_max = 2;
    cr_assert_eq(kt_node_start(g, 30), 0);
    cr_assert_eq(kt_add_institutions(g, 20, "Szkoła"), 20); /* with node.described: 21 events */
    for (int i = 0; i < 100 && !p.hellos; i++)
        s_play_pump(&p, 100);
    cr_assert_eq(p.hellos, 1, "the gmina never said HELLO");
    /* nothing acknowledged: the window fills and stays full, in batches of 2 */
    s_play_pump(&p, 1500);
    cr_assert_eq(p.got, 5, "%llu events sent without an ack (window 5)", (unsigned long long)p.got);
    cr_assert_eq(p.batch_seen, 2, "batches of %zu (batch_max 2)", p.batch_seen);
    s_play_until(&p, 21);
    cr_assert_leq(p.unacked_max, 5);
    cr_assert_eq(p.batch_seen, 2);

    /* a hub saying 0 would stall the link: one event at a time, and said once */
    p.window = p.batch_max = 0;
    p.unacked_max = p.batch_seen = 0;
    s_play_forget(&p);
    cr_assert_eq(kt_add_institutions(g, 3, "Przedszkole"), 3);
    s_play_pump(&p, 1000);
    cr_assert_eq(p.got, 22, "window 0 is taken as 1: %llu", (unsigned long long)p.got);
    s_play_until(&p, 24);
    cr_assert_eq(p.unacked_max, 1);
    cr_assert_eq(p.batch_seen, 1);
    s_play_forget(&p);
    s_play_pump(&p, 500);
    cr_assert_eq(kt_node_log_lines(g, "poza granicami"), 1, "the clamp is logged once, not at every WELCOME");
}

Test(sync, unknown_key_is_refused_and_writes_nothing)
{
    kt_node_t *hub = s_new(), *x = s_new();
    int port = 0;
    json_t *st;
    cr_assert_eq(kt_hub_init(hub, "2013", "Powiat", &port), 0);
    cr_assert_eq(kt_gmina_init(x, "2013042", "Intruz", port, hub), 0);
    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_eq(kt_node_start(x, 20), 0);
    cr_assert_eq(kt_add_institutions(x, 50, "Obca"), 50, "an unenrolled gmina must still work locally");
    kt_sleep_ms(4000);
    st = kt_sync_status(x);
    cr_assert(json_is_false(json_object_get(st, "connected")));
    cr_assert_eq(json_integer_value(json_object_get(st, "pending")), 51); /* and node.described */
    cr_assert(strstr(json_string_value(json_object_get(st, "last_error")) ?: "", "nie jest zapisany"),
              "the gmina should say why: %s", json_dumps(st, JSON_COMPACT));
    json_decref(st);
    st = kt_sync_status(hub);
    cr_assert_eq(json_array_size(json_object_get(st, "nodes")), 0, "the hub knows the intruder: %s",
                 json_dumps(st, JSON_COMPACT));
    json_decref(st);
    kt_node_stop(hub);
    cr_assert_not(kt_dir_contains(hub->dir, "Obca 1"), "an intruder's event reached the hub's files");
    cr_assert_not(kt_dir_contains(hub->dir, "gmina-2013042"), "the intruder's node id reached the hub's files");
}

Test(sync, gmina_claiming_another_nodes_id_is_refused)
{
    kt_node_t *hub, *a, *b = NULL;
    int port;
    json_t *st;
    char conf[PATH_MAX + 128];
    s_pair(&hub, &a, &port);
    b = s_new();
    cr_assert_eq(kt_gmina_init(b, "2013042", "Sąsiednia", port, hub), 0);
    cr_assert_eq(kt_enrol(hub, b), 0);
    /* b's operator edits its config to pose as a */
    snprintf(conf, sizeof conf, "sed -i 's/^id = gmina-2013042$/id = gmina-2013032/' %s", b->conf);
    cr_assert_eq(system(conf), 0);
    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_eq(kt_node_start(a, 20), 0);
    cr_assert_eq(kt_node_start(b, 20), 0);
    cr_assert_eq(kt_add_institutions(a, 20, "Prawdziwa"), 20);
    cr_assert_eq(kt_add_institutions(b, 20, "Podszyta"), 20);
    cr_assert_eq(kt_wait_synced(a, 30), 0);
    kt_sleep_ms(2500);
    st = kt_sync_status(b);
    cr_assert(json_is_false(json_object_get(st, "connected")), "the impostor is connected: %s",
              json_dumps(st, JSON_COMPACT));
    cr_assert(strstr(json_string_value(json_object_get(st, "last_error")) ?: "", "odmówił"), "%s",
              json_dumps(st, JSON_COMPACT));
    json_decref(st);
    s_assert_exact(a, hub, 20);
    kt_node_stop(hub);
    cr_assert_not(kt_dir_contains(hub->dir, "Podszyta"), "the impostor's events reached the hub");
}

Test(sync, link_is_encrypted)
{
    kt_node_t *hub = s_new(), *g = s_new();
    int port = 0, pport = kt_free_port();
    char capture[PATH_MAX + 32];
    const char *marker = "JAWNY-TEKST-NA-LACZU-7431";
    pid_t proxy;
    kt_run_t r;
    cr_assert_eq(kt_hub_init(hub, "2013", "Powiat", &port), 0);
    /* the gmina talks to the hub through a recording proxy */
    cr_assert_eq(kt_gmina_init(g, "2013032", "Kobylin-Borzymy", pport, hub), 0);
    cr_assert_eq(kt_enrol(hub, g), 0);
    snprintf(capture, sizeof capture, "%s/capture.bin", hub->dir);
    proxy = kt_proxy_start(pport, port, capture);
    cr_assert_gt(proxy, 0);
    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    cr_assert_eq(kt_add_institutions(g, 200, marker), 200);
    cr_assert_eq(kt_wait_synced(g, 30), 0);
    kt_proxy_stop(proxy);
    /* it did cross the link, and arrived */
    kt_ctl(&r, hub, "--json", "events", "list", "--stream", "registry", "--node", "gmina-2013032", "--limit", "2", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, marker), "the hub did not get the events"); /* the first is node.described */
    kt_run_free(&r);
    {
        struct stat sb;
        cr_assert_eq(stat(capture, &sb), 0);
        cr_assert_gt(sb.st_size, 200 * 40, "too little traffic captured (%lld bytes)", (long long)sb.st_size);
    }
    cr_assert_not(kt_dir_contains(hub->dir, "NIE-MA-TAKIEGO") , "scan sanity");
    {
        /* nothing readable on the wire: neither the names nor the node id */
        char cmd[PATH_MAX + 128];
        snprintf(cmd, sizeof cmd, "grep -qa '%s' %s", marker, capture);
        cr_assert_neq(system(cmd), 0, "a plaintext field value is visible on the wire");
        snprintf(cmd, sizeof cmd, "grep -qa 'gmina-2013032' %s", capture);
        cr_assert_neq(system(cmd), 0, "the node id is visible on the wire");
        snprintf(cmd, sizeof cmd, "grep -qa 'institution.added' %s", capture);
        cr_assert_neq(system(cmd), 0, "event types are visible on the wire");
    }
}

Test(sync, no_person_data_reaches_the_hub)
{
    kt_node_t *hub, *g;
    int port;
    char *gops;
    s_pair(&hub, &g, &port);
    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    gops = kt_ctl_id(g, "institution", "add", "--name", "GOPS", "--sector", "social_assistance", "--level", "gmina", NULL);
    cr_assert_not_null(gops);
    cr_assert_eq(kt_add_people(g, 100, "Brzęczyszczykiewicz", "777", gops), 100);
    cr_assert_eq(kt_add_institutions(g, 100, "Świetlica"), 100);
    cr_assert_eq(kt_wait_synced(g, 30), 0);
    s_assert_exact(g, hub, 101);
    kt_node_stop(hub);
    kt_node_stop(g);
    cr_assert(kt_dir_contains(g->dir, "Brzęczyszczykiewicz 1"), "scan sanity: the gmina holds the person");
    cr_assert(kt_dir_contains(hub->dir, "Świetlica 1"), "scan sanity: the hub holds the institutions");
    cr_assert_not(kt_dir_contains(hub->dir, "Brzęczyszczykiewicz"), "a person's name is in the hub's files");
    cr_assert_not(kt_dir_contains(hub->dir, "777.1@example.org"), "a person's e-mail is in the hub's files");
    cr_assert_not(kt_dir_contains(hub->dir, "+48 777 0001"), "a person's phone is in the hub's files");
    free(gops);
}

Test(sync, hub_records_come_down_read_only_and_newcomers_get_a_snapshot)
{
    kt_node_t *hub, *g, *late;
    int port;
    kt_run_t r;
    char *pcpr, *svc;
    s_pair(&hub, &g, &port);
    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    pcpr = kt_ctl_id(hub, "institution", "add", "--name", "PCPR Wysokie Mazowieckie", "--sector", "family_support",
                     "--level", "powiat", NULL);
    svc = kt_ctl_id(hub, "service", "add", "--name", "Poradnictwo rodzinne", "--provider", pcpr, "--target",
                    "families", "--category", "counselling", NULL);
    cr_assert(pcpr && svc);
    /* staff of the hub are people: they never go down */
    free(kt_ctl_id(hub, "person", "add", "--name", "Jan Animator", "--institution", pcpr, "--role", "animator", NULL));
    int ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        kt_ctl(&r, g, "--json", "service", "search", "--target", "families", NULL);
        ok = r.code == 0 && json_array_size(r.json) == 1;
        kt_run_free(&r);
        if (!ok)
            kt_sleep_ms(100);
    }
    cr_assert(ok, "the hub's catalogue entry did not come down");
    kt_ctl(&r, g, "--json", "institution", "show", "--id", pcpr, NULL);
    cr_assert_eq(r.code, 0);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "owner")), "hub-2013");
    kt_run_free(&r);
    kt_ctl(&r, g, "--json", "person", "list", NULL);
    cr_assert_eq(json_array_size(r.json), 0, "a hub person came down: %s", r.out);
    kt_run_free(&r);
    /* read-only at the gmina */
    kt_ctl(&r, g, "--json", "institution", "update", "--id", pcpr, "--name", "Przejęte", NULL);
    kt_refused(&r, 1, "record.not_owner", "id", "institution", pcpr, "hub-2013", NULL);
    /* the owner changes it: the change comes down */
    kt_ctl(&r, hub, "institution", "update", "--id", pcpr, "--name", "PCPR w Wysokiem Mazowieckiem", NULL);
    cr_assert_eq(r.code, 0);
    kt_run_free(&r);
    ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        kt_ctl(&r, g, "--json", "institution", "show", "--id", pcpr, NULL);
        ok = r.code == 0 && strcmp(json_string_value(json_object_get(r.json, "name")), "PCPR w Wysokiem Mazowieckiem") == 0;
        kt_run_free(&r);
        if (!ok)
            kt_sleep_ms(100);
    }
    cr_assert(ok, "the update did not come down");
    /* a gmina that joins later gets the current state */
    late = s_new();
    cr_assert_eq(kt_gmina_init(late, "2013042", "Nowa", port, hub), 0);
    cr_assert_eq(kt_enrol(hub, late), 0);
    cr_assert_eq(kt_node_start(late, 20), 0);
    ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        kt_ctl(&r, late, "--json", "institution", "show", "--id", pcpr, NULL);
        ok = r.code == 0 && strcmp(json_string_value(json_object_get(r.json, "name")), "PCPR w Wysokiem Mazowieckiem") == 0;
        kt_run_free(&r);
        if (!ok)
            kt_sleep_ms(100);
    }
    cr_assert(ok, "the newcomer did not get the snapshot");
    kt_ctl(&r, late, "--json", "service", "show", "--id", svc, NULL);
    cr_assert_eq(r.code, 0, "the newcomer lacks the catalogue entry");
    kt_run_free(&r);
    free(pcpr);
    free(svc);
}

Test(sync, new_log_identity_is_refused_until_reenrolled)
{
    kt_node_t *hub, *g;
    int port;
    json_t *st, *n;
    char cmd[PATH_MAX + 64];
    s_pair(&hub, &g, &port);
    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    cr_assert_eq(kt_add_institutions(g, 30, "Przed"), 30);
    cr_assert_eq(kt_wait_synced(g, 30), 0);
    /* the gmina's registry database is lost and started afresh: a new log */
    kt_node_stop(g);
    snprintf(cmd, sizeof cmd, "rm -rf %s/data/registry", g->dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    cr_assert_eq(kt_add_institutions(g, 5, "Po"), 5);
    kt_sleep_ms(3000);
    st = kt_sync_status(g);
    /* 5 and node.described: the new registry names the node again */
    cr_assert_eq(json_integer_value(json_object_get(st, "pending")), 6, "%s", json_dumps(st, JSON_COMPACT));
    cr_assert(strstr(json_string_value(json_object_get(json_object_get(json_object_get(st, "streams"), "registry"),
                                                       "state")) ?: "", "enrol"), "%s", json_dumps(st, JSON_COMPACT));
    json_decref(st);
    st = kt_sync_status(hub);
    n = json_object_get(json_object_get(kt_hub_node(st, "gmina-2013032"), "streams"), "registry");
    cr_assert_eq(json_integer_value(json_object_get(n, "acked")), 31, "the old stream was touched"); /* + node.described */
    cr_assert_eq(json_integer_value(json_object_get(n, "epoch")), 1);
    json_decref(st);
    /* the operator enrols it again: a new epoch, the old events stay */
    kt_sleep_ms(20); /* a later enrolment time */
    cr_assert_eq(kt_enrol(hub, g), 0);
    cr_assert_eq(kt_wait_synced(g, 45), 0, "not accepted after re-enrolment");
    st = kt_sync_status(hub);
    n = json_object_get(json_object_get(kt_hub_node(st, "gmina-2013032"), "streams"), "registry");
    cr_assert_eq(json_integer_value(json_object_get(n, "epoch")), 2);
    cr_assert_eq(json_integer_value(json_object_get(n, "acked")), 6);
    json_decref(st);
    s_assert_exact(g, hub, 6);
    kt_node_stop(hub);
    cr_assert(kt_dir_contains(hub->dir, "Przed 1"), "the first epoch's events were dropped");
}

static Koop__Sync__Frame *
s_answer(Koop__Sync__Frame *rep)
{
    cr_assert_not_null(rep, "the hub did not answer");
    return rep;
}

/* An institution.added envelope of `node` (its own record), as a registry writes it. */
static void
s_event(uint8_t *out, size_t *len, const char *node, const char *stream, uint64_t seq, int scope)
{
    Koop__Reg__Institution in = KOOP__REG__INSTITUTION__INIT;
    char id[KOOP_ID_LEN];
    koop_id_new(id);
    in.id = id;
    in.owner = (char *)node;
    in.name = "Szkoła";
    *len = kt_link_event(out, 512, node, stream, seq, scope, "institution.added", &in.base);
    cr_assert_gt(*len, 0);
}

Test(sync, malformed_or_forged_frames_are_refused_and_counted)
{
    kt_node_t *hub, *g, *raw_g;
    int port;
    kt_link_t *c;
    Koop__Sync__Frame *rep, f = KOOP__SYNC__FRAME__INIT;
    json_t *st;
    s_pair(&hub, &g, &port);
    raw_g = s_new();
    cr_assert_eq(kt_gmina_init(raw_g, "2013042", "Surowa", port, hub), 0);
    cr_assert_eq(kt_enrol(hub, raw_g), 0);
    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_not_null(c = kt_link_open(raw_g, hub, port));

    /* garbage */
    rep = s_answer(kt_link_call(c, "\xff\x01\x02garbage", 10));
    cr_assert_eq(rep->body_case, KOOP__SYNC__FRAME__BODY_REFUSE);
    cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_MALFORMED);
    koop__sync__frame__free_unpacked(rep, NULL);
    /* two frames in one message */
    cr_assert_eq(zsock_send(kt_link_sock(c), "ss", "a", "b"), 0);
    {
        zframe_t *fr = zframe_recv(kt_link_sock(c));
        cr_assert_not_null(fr);
        zframe_destroy(&fr);
    }
    /* a batch without HELLO */
    {
        Koop__Sync__Batch b = KOOP__SYNC__BATCH__INIT;
        b.stream = "registry";
        f.body_case = KOOP__SYNC__FRAME__BODY_BATCH;
        f.batch = &b;
        rep = s_answer(kt_link_frame(c, &f));
        cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_NO_SESSION);
        koop__sync__frame__free_unpacked(rep, NULL);
    }
    /* HELLO as another node */
    {
        Koop__Sync__Hello h = KOOP__SYNC__HELLO__INIT;
        h.has_version = 1;
        h.version = 1;
        h.node = "gmina-2013032";
        f.body_case = KOOP__SYNC__FRAME__BODY_HELLO;
        f.hello = &h;
        rep = s_answer(kt_link_frame(c, &f));
        cr_assert_eq(rep->body_case, KOOP__SYNC__FRAME__BODY_REFUSE);
        cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_DENIED);
        koop__sync__frame__free_unpacked(rep, NULL);
        /* a wrong protocol version */
        h.node = "gmina-2013042";
        h.version = 99;
        rep = s_answer(kt_link_frame(c, &f));
        cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_VERSION);
        koop__sync__frame__free_unpacked(rep, NULL);
    }
    /* a proper HELLO, then forged batches */
    {
        Koop__Sync__Hello h = KOOP__SYNC__HELLO__INIT;
        Koop__Sync__StreamPos p = KOOP__SYNC__STREAM_POS__INIT, *pp = &p;
        Koop__Sync__Batch b = KOOP__SYNC__BATCH__INIT;
        Koop__Sync__Item it = KOOP__SYNC__ITEM__INIT, *itp = &it;
        uint8_t ev[512];
        size_t evlen;
        p.stream = "registry";
        p.log_id = "log-surowy";
        h.has_version = 1;
        h.version = 1;
        h.node = "gmina-2013042";
        h.streams = &pp;
        h.n_streams = 1;
        f.body_case = KOOP__SYNC__FRAME__BODY_HELLO;
        f.hello = &h;
        rep = s_answer(kt_link_frame(c, &f));
        cr_assert_eq(rep->body_case, KOOP__SYNC__FRAME__BODY_WELCOME);
        koop__sync__frame__free_unpacked(rep, NULL);

        b.stream = "registry";
        b.has_prev = 1;
        b.items = &itp;
        b.n_items = 1;
        it.has_seq = it.has_event = 1;
        f.body_case = KOOP__SYNC__FRAME__BODY_BATCH;
        f.batch = &b;
        /* a LOCAL event */
        s_event(ev, &evlen, "gmina-2013042", "registry", 1, KOOP__SCOPE__SCOPE_LOCAL);
        it.seq = 1;
        it.event.data = ev;
        it.event.len = evlen;
        rep = s_answer(kt_link_frame(c, &f));
        cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_MALFORMED, "a LOCAL event was taken");
        cr_assert_str_eq(rep->refuse->error, "sync.event_local");
        cr_assert_eq(rep->refuse->event_seq, 1);
        koop__sync__frame__free_unpacked(rep, NULL);
        /* another node's event */
        s_event(ev, &evlen, "gmina-2013032", "registry", 1, KOOP__SCOPE__SCOPE_SHARED);
        it.event.len = evlen;
        rep = s_answer(kt_link_frame(c, &f));
        cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_MALFORMED, "a forged node was taken");
        cr_assert_str_eq(rep->refuse->error, "sync.event_head");
        koop__sync__frame__free_unpacked(rep, NULL);
        /* seq in the envelope differs from the item's */
        s_event(ev, &evlen, "gmina-2013042", "registry", 7, KOOP__SCOPE__SCOPE_SHARED);
        it.event.len = evlen;
        rep = s_answer(kt_link_frame(c, &f));
        cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_MALFORMED);
        cr_assert_str_eq(rep->refuse->error, "sync.event_head");
        koop__sync__frame__free_unpacked(rep, NULL);
        /* a gap */
        s_event(ev, &evlen, "gmina-2013042", "registry", 5, KOOP__SCOPE__SCOPE_SHARED);
        it.seq = 5;
        it.event.len = evlen;
        b.prev = 4;
        rep = s_answer(kt_link_frame(c, &f));
        cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_GAP);
        cr_assert_eq(rep->refuse->expected, 0);
        koop__sync__frame__free_unpacked(rep, NULL);
        /* a good one, then the same again (a duplicate: acked, ignored) */
        s_event(ev, &evlen, "gmina-2013042", "registry", 2, KOOP__SCOPE__SCOPE_SHARED);
        it.seq = 2;
        it.event.len = evlen;
        b.prev = 0;
        /* without the chain's links: refused */
        rep = s_answer(kt_link_frame(c, &f));
        cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_CHAIN, "a batch without chain links was taken");
        koop__sync__frame__free_unpacked(rep, NULL);
        {
            uint8_t gen[32], l2[32], wrong[32] = {1};
            koop_chain_genesis(gen, "koop.shared", "log-surowy");
            cr_assert_eq(koop_chain_entry(l2, gen, ev, evlen, NULL), 0);
            b.has_prev_link = b.has_link = 1;
            b.prev_link = (ProtobufCBinaryData){32, gen};
            /* a link the events do not give (an entry changed after it was chained) */
            b.link = (ProtobufCBinaryData){32, wrong};
            rep = s_answer(kt_link_frame(c, &f));
            cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_CHAIN);
            koop__sync__frame__free_unpacked(rep, NULL);
            /* not starting at the log's genesis */
            b.prev_link = (ProtobufCBinaryData){32, wrong};
            b.link = (ProtobufCBinaryData){32, l2};
            rep = s_answer(kt_link_frame(c, &f));
            cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_CHAIN);
            koop__sync__frame__free_unpacked(rep, NULL);
            b.prev_link = (ProtobufCBinaryData){32, gen};
            for (int i = 0; i < 2; i++) {
                rep = s_answer(kt_link_frame(c, &f));
                cr_assert_eq(rep->body_case, KOOP__SYNC__FRAME__BODY_ACK);
                cr_assert_eq(rep->ack->seq, 2);
                koop__sync__frame__free_unpacked(rep, NULL);
            }
            /* the next batch must continue S(2): one from another history is refused */
            s_event(ev, &evlen, "gmina-2013042", "registry", 3, KOOP__SCOPE__SCOPE_SHARED);
            it.seq = 3;
            it.event.len = evlen;
            b.prev = 2;
            b.prev_link = (ProtobufCBinaryData){32, wrong};
            {
                uint8_t l3[32];
                cr_assert_eq(koop_chain_entry(l3, wrong, ev, evlen, NULL), 0);
                b.link = (ProtobufCBinaryData){32, l3};
                rep = s_answer(kt_link_frame(c, &f));
                cr_assert_eq(rep->refuse->code, KOOP__SYNC__CODE__CODE_CHAIN, "a chain that does not continue");
                koop__sync__frame__free_unpacked(rep, NULL);
                cr_assert_eq(koop_chain_entry(l3, l2, ev, evlen, NULL), 0);
                b.prev_link = (ProtobufCBinaryData){32, l2};
                b.link = (ProtobufCBinaryData){32, l3};
                rep = s_answer(kt_link_frame(c, &f));
                cr_assert_eq(rep->body_case, KOOP__SYNC__FRAME__BODY_ACK, "the chain continued");
                cr_assert_eq(rep->ack->seq, 3);
                koop__sync__frame__free_unpacked(rep, NULL);
            }
        }
    }
    /* too big for the socket: zmq drops the connection, the hub goes on */
    {
        size_t big = 5 * 1024 * 1024;
        char *junk = calloc(1, big);
        zsock_send(kt_link_sock(c), "b", junk, big);
        free(junk);
    }
    kt_link_close(&c);

    /* a real gmina still syncs */
    cr_assert_eq(kt_node_start(g, 20), 0);
    cr_assert_eq(kt_add_institutions(g, 10, "Dobra"), 10);
    cr_assert_eq(kt_wait_synced(g, 30), 0);
    s_assert_exact(g, hub, 10);
    st = kt_sync_status(hub);
    cr_assert_geq(json_integer_value(json_object_get(st, "malformed")), 2, "%s", json_dumps(st, JSON_COMPACT));
    cr_assert_eq(json_integer_value(json_object_get(st, "events_refused")), 3, "%s", json_dumps(st, JSON_COMPACT));
    {
        json_t *n = kt_hub_node(st, "gmina-2013042");
        cr_assert_eq(json_integer_value(json_object_get(n, "refused")), 3);
        cr_assert(strstr(json_string_value(json_object_get(n, "last_refusal")), "zdarzenie nr 1 strumienia registry"),
                  "%s", json_string_value(json_object_get(n, "last_refusal")));
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(n, "streams"), "registry"), "events")),
                     2, "only the two good events are kept");
    }
    json_decref(st);
}

/* gmina -> powiat hub -> voivodeship hub: events go up two levels, records
 * of both hubs come down to the gmina. */
Test(sync, tree_forwards_up_and_down_two_levels)
{
    kt_node_t *v = s_new(), *p = s_new(), *g = s_new();
    int vport = 0, pport = kt_free_port();
    char ep[64], key[PATH_MAX + 32], listen[64];
    char *vi, *pi;
    kt_run_t r;
    int ok = 0;
    uint64_t n = 0;

    cr_assert_eq(kt_hub_init(v, "20", "Województwo podlaskie", &vport), 0);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", vport);
    snprintf(key, sizeof key, "%s/keys/node.pub", v->dir);
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", pport);
    cr_assert_eq(kt_node_init(p, "hub", "2013", "Powiat wysokomazowiecki", "--listen", listen, "--hub", ep, "--hub-key",
                              key, NULL), 0);
    cr_assert_eq(kt_gmina_init(g, "2013032", "Kobylin-Borzymy", pport, p), 0);
    cr_assert_eq(kt_enrol(v, p), 0);
    cr_assert_eq(kt_enrol(p, g), 0);
    cr_assert_eq(kt_node_start(v, 20), 0);
    cr_assert_eq(kt_node_start(p, 20), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    vi = kt_ctl_id(v, "institution", "add", "--name", "ROPS Białystok", "--sector", "social_assistance", "--level",
                   "voivodeship", NULL);
    pi = kt_ctl_id(p, "institution", "add", "--name", "PCPR", "--sector", "family_support", "--level", "powiat", NULL);
    cr_assert(vi && pi);
    cr_assert_eq(kt_add_institutions(g, 100, "Szkoła"), 100);
    cr_assert_eq(kt_wait_synced(g, 30), 0);
    cr_assert_eq(kt_compare_streams(g, p, "registry", &n), 0);
    cr_assert_eq(n, 101); /* and node.described */
    /* the powiat hub forwards its merged stream (the gmina's events inside) */
    for (int i = 0; i < 150 && !ok; i++) {
        kt_ctl(&r, v, "--json", "events", "list", "--stream", "sync", "--node", "hub-2013", "--limit", "1000", NULL);
        ok = r.code == 0 && json_array_size(r.json) == 101; /* node.described first */
        if (ok) {
            json_t *last = json_array_get(r.json, 100);
            json_t *inner = json_object_get(last, "event");
            cr_assert_str_eq(json_string_value(json_object_get(inner, "node")), "gmina-2013032");
            cr_assert_str_eq(json_string_value(json_object_get(json_object_get(inner, "data"), "name")), "Szkoła 99");
        }
        kt_run_free(&r);
        if (!ok)
            kt_sleep_ms(100);
    }
    cr_assert(ok, "the voivodeship hub did not get the gmina's events through the powiat hub");
    /* and the powiat hub's own registry */
    kt_ctl(&r, v, "--json", "events", "list", "--stream", "registry", "--node", "hub-2013", NULL);
    cr_assert_eq(json_array_size(r.json), 2); /* node.described and the PCPR */
    kt_run_free(&r);
    /* both hubs' records reach the gmina, owned by their hubs */
    ok = 0;
    for (int i = 0; i < 150 && !ok; i++) {
        kt_run_t a, b;
        kt_ctl(&a, g, "--json", "institution", "show", "--id", vi, NULL);
        kt_ctl(&b, g, "--json", "institution", "show", "--id", pi, NULL);
        ok = a.code == 0 && b.code == 0 &&
             strcmp(json_string_value(json_object_get(a.json, "owner")), "hub-20") == 0 &&
             strcmp(json_string_value(json_object_get(b.json, "owner")), "hub-2013") == 0;
        kt_run_free(&a);
        kt_run_free(&b);
        if (!ok)
            kt_sleep_ms(100);
    }
    cr_assert(ok, "the hubs' records did not come down to the gmina");
    free(vi);
    free(pi);
}

/* ---- faults ---- */

static pid_t
s_writer(kt_node_t *g, int rounds, int per_round)
{
    pid_t pid = fork();
    if (pid == 0) {
        char prefix[32];
        for (int i = 0; i < rounds; i++) {
            snprintf(prefix, sizeof prefix, "W%d", i);
            kt_add_institutions(g, per_round, prefix);
            kt_sleep_ms(50);
        }
        _exit(0);
    }
    return pid;
}

Test(sync_faults, kill9_of_uplink_and_hub_during_transfer_loses_and_doubles_nothing)
{
    kt_node_t *hub, *g;
    int port, status;
    pid_t writer;
    unsigned seed = (unsigned)getpid();

    s_pair(&hub, &g, &port);
    cr_assert_eq(kt_node_start(g, 20), 0);
    cr_assert_eq(kt_add_institutions(g, 20000 / SCALE, "Zaległe"), 20000 / SCALE); /* a backlog */
    cr_assert_eq(kt_node_start(hub, 20), 0);
    writer = s_writer(g, 40, 200 / SCALE); /* and the gmina goes on writing */
    for (int round = 0; round < 10; round++) {
        kt_node_t *victim = rand_r(&seed) % 2 ? hub : g;
        kt_sleep_ms(50 + (int)(rand_r(&seed) % 400));
        cr_assert_gt(kt_sync_kill9(victim), 0, "no koop-sync under %s, or koop-node did not restart it", victim->dir);
    }
    waitpid(writer, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(kt_wait_synced(g, 90), 0, "no catch-up after the kills");
    s_assert_exact(g, hub, 20000 / SCALE + 40 * (200 / SCALE));
}

Test(sync_faults, frozen_hub_link_recovers_by_itself)
{
    kt_node_t *hub, *g;
    int port, was_down = 0;
    pid_t hs;
    s_pair(&hub, &g, &port);
    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    cr_assert_eq(kt_add_institutions(g, 100, "Przed"), 100);
    cr_assert_eq(kt_wait_synced(g, 30), 0);
    /* the network cut: the hub is frozen, no process dies */
    hs = kt_sync_pid(hub);
    cr_assert_gt(hs, 0);
    kill(hs, SIGSTOP);
    cr_assert_eq(kt_add_institutions(g, 500, "W trakcie"), 500);
    for (int i = 0; i < 40 && !was_down; i++) {
        json_t *st = kt_sync_status(g);
        was_down = st && json_is_false(json_object_get(st, "connected"));
        json_decref(st);
        kt_sleep_ms(250);
    }
    kill(hs, SIGCONT);
    cr_assert(was_down, "the gmina never noticed the frozen hub");
    cr_assert_eq(kt_add_institutions(g, 100, "Po"), 100);
    cr_assert_eq(kt_wait_synced(g, 40), 0, "the link did not come back after the cut healed");
    cr_assert_eq(kt_sync_pid(hub), hs, "the hub process was replaced: this was to be a cut, not a crash");
    s_assert_exact(g, hub, 700);
}
