/*
 * bench_sync.c - catch-up of a gmina's backlog by its hub, and through a
 * tree of hubs (docs/SYNC.md).
 *
 * What it measures, all in one run on the same disk:
 *   1. koop, gmina -> hub: a gmina writes N SHARED events (institution.add)
 *      while its hub is down; then the hub starts; the time until the hub
 *      holds all N durably (its stored position reaches the last one) and
 *      the gmina has recorded that acknowledgement durably (pending 0).
 *      Events/s from the gmina's HELLO to the last commit (both stamped by
 *      the hub), the hub's commits and events per commit, its peak RSS.
 *   2. raw LMDB: durable MDB_APPEND of N values of the same mean size, at the
 *      hub's mean events per commit and at the largest batch (SYNC_BATCH_MAX):
 *      the ceiling of any ingest that commits that often.
 *   3. the same backlog through three levels, gmina -> powiat hub ->
 *      voivodeship hub, both hubs started after the writes: from the gmina's
 *      HELLO at the powiat to the voivodeship's commit of the last event.
 *   4. PostgreSQL logical replication between two local clusters (Debian's
 *      postgresql), when installed: the source writes the same N events, one
 *      per transaction as a gmina would, into a table published through a
 *      replication slot made before the writes; then a subscription catches
 *      up from that slot, with the subscriber's synchronous_commit on (the
 *      same durability as koop's hub) and, in a second database, off.
 *      KOOP_BENCH_PG=0 skips it; KOOP_BENCH_PG_EVENTS sets its N.
 *
 * Aims (issues 4 and 16): hub ingest >= 50 % of raw LMDB at the same batch
 * size; catch-up >= 500,000 events/s; >= 10x PostgreSQL with the same
 * durability, >= 2x with the subscriber's durability off. Timing never
 * fails the run; only a breakage does.
 *
 *   bench_sync()      (also bench_sync_run(), koop-bench's section "sync";
 *                      make bench-sync runs that section alone)
 */
#include "bench.h"
#include "../services/sync/sync.h"
#include "clock.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "registry.pb-c.h"
#include "client.h"
#include "store.h"
#include "sync.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bench_sync(void);

#define EVENTS_DEFAULT 100000
#define AIM_INGEST_RATIO 0.5
#define AIM_CATCHUP_RATE 500000.0
#define AIM_PG_ON 10.0
#define AIM_PG_OFF 2.0

/* ---- the hub's check of one event, in process ---- */

#define CHECK_EVENTS 20000
#define CHECK_ROUNDS 5

typedef struct {
    double head_ns, full_ns, nested_ns; /* per event */
} s_check_cost;

/* Envelopes like the backlog's (institution.added of the gmina, owner set),
 * and each wrapped once in a hub's sync.event (what a voivodeship checks). */
static int
s_check_bench(s_check_cost *out)
{
    static uint8_t *ev[CHECK_EVENTS], *wr[CHECK_EVENTS];
    static size_t evlen[CHECK_EVENTS], wrlen[CHECK_EVENTS];
    sync_check_t *c = sync_check_new();
    sync_check_why_t why;
    sync_event_head_t h;
    uint64_t t0;
    int rc = -1, bad = 0;
    if (!c)
        return -1;
    for (int i = 0; i < CHECK_EVENTS; i++) {
        Koop__Reg__Institution in = KOOP__REG__INSTITUTION__INIT;
        Koop__Event e = KOOP__EVENT__INIT, w = KOOP__EVENT__INIT;
        uint8_t p[512];
        char id[40], eid[40], name[64];
        snprintf(id, sizeof id, "01900000-0000-7000-8000-%012d", i);
        snprintf(eid, sizeof eid, "01900000-0000-7000-9000-%012d", i);
        snprintf(name, sizeof name, "Szkoła Podstawowa nr %d", i);
        in.id = id;
        in.name = name;
        in.owner = "gmina-2013032";
        in.has_sector = in.has_level = in.has_active = in.has_updated_ms = 1;
        in.sector = KOOP__REG__SECTOR__SECTOR_EDUCATION;
        in.level = KOOP__REG__LEVEL__LEVEL_GMINA;
        in.active = 1;
        in.updated_ms = 1767225600000ull + (uint64_t)i;
        in.teryt = "2013032";
        e.node = "gmina-2013032";
        e.stream = "registry";
        e.has_seq = e.has_time_ms = e.has_scope = e.has_payload = 1;
        e.seq = (uint64_t)i + 1;
        e.id = eid;
        e.time_ms = in.updated_ms;
        e.actor = "";
        e.scope = KOOP__SCOPE__SCOPE_SHARED;
        e.type = "institution.added";
        e.payload.len = koop__reg__institution__pack(&in, p);
        e.payload.data = p;
        evlen[i] = koop__event__get_packed_size(&e);
        if (!(ev[i] = malloc(evlen[i])))
            goto done;
        koop__event__pack(&e, ev[i]);
        w = e;
        w.node = "hub-2013";
        w.stream = "sync";
        w.type = "sync.event";
        w.payload.data = ev[i];
        w.payload.len = evlen[i];
        wrlen[i] = koop__event__get_packed_size(&w);
        if (!(wr[i] = malloc(wrlen[i])))
            goto done;
        koop__event__pack(&w, wr[i]);
    }
    /* the best of CHECK_ROUNDS passes over the same events: the machine's
     * other load only ever adds */
    out->head_ns = out->full_ns = out->nested_ns = 1e30;
    for (int round = 0; round < CHECK_ROUNDS; round++) {
        double ns;
        t0 = koop_clock_mono_us();
        for (int i = 0; i < CHECK_EVENTS; i++)
            bad += sync_event_head(ev[i], evlen[i], &h) != 0 || h.seq != (uint64_t)i + 1;
        if ((ns = (double)(koop_clock_mono_us() - t0) * 1000.0 / CHECK_EVENTS) < out->head_ns)
            out->head_ns = ns;
        t0 = koop_clock_mono_us();
        for (int i = 0; i < CHECK_EVENTS; i++)
            bad += sync_check_event(c, "hub-2013", ev[i], evlen[i], "gmina-2013032", "registry", (uint64_t)i + 1,
                                    &why) != 0;
        if ((ns = (double)(koop_clock_mono_us() - t0) * 1000.0 / CHECK_EVENTS) < out->full_ns)
            out->full_ns = ns;
        t0 = koop_clock_mono_us();
        for (int i = 0; i < CHECK_EVENTS; i++)
            bad += sync_check_event(c, "hub-20", wr[i], wrlen[i], "hub-2013", "sync", (uint64_t)i + 1, &why) != 0;
        if ((ns = (double)(koop_clock_mono_us() - t0) * 1000.0 / CHECK_EVENTS) < out->nested_ns)
            out->nested_ns = ns;
    }
    rc = bad ? -1 : 0;
    if (bad)
        fprintf(stderr, "bench sync: %d events did not pass the hub's check\n", bad);
done:
    for (int i = 0; i < CHECK_EVENTS; i++) {
        free(ev[i]);
        free(wr[i]);
        ev[i] = wr[i] = NULL;
    }
    sync_check_destroy(&c);
    return rc;
}

/* ---- load and status ---- */

/* institution.add x count, up to 256 in flight. Returns the number acknowledged. */
static uint64_t
s_write(const char *endpoint, uint64_t count)
{
    koop_rpc_client_t *c = koop_rpc_client_new(endpoint);
    uint64_t sent = 0, done = 0, ok = 0;
    char name[64];
    if (!c)
        return 0;
    while (done < count) {
        while (sent < count && sent - done < 256) {
            Koop__Reg__Institution r = KOOP__REG__INSTITUTION__INIT;
            snprintf(name, sizeof name, "Szkoła Podstawowa nr %llu", (unsigned long long)sent);
            r.name = name;
            r.has_sector = r.has_level = 1;
            r.sector = KOOP__REG__SECTOR__SECTOR_EDUCATION;
            r.level = KOOP__REG__LEVEL__LEVEL_GMINA;
            r.teryt = "2013032";
            if (koop_rpc_send(c, NULL, "institution.add", &r.base, NULL) != 0)
                goto out;
            sent++;
        }
        koop_reply_t reply;
        uint64_t id;
        if (koop_rpc_recv(c, 30000, &id, &reply) != 0)
            goto out;
        ok += reply.status == 0;
        koop_reply_clear(&reply);
        done++;
    }
out:
    koop_rpc_client_destroy(&c);
    return ok;
}

/* sync.status over a client kept for the whole polling (a new client is a
 * new ZeroMQ context with its I/O thread: too heavy to make every 10 ms). */
static Koop__Sync__Status *
s_status_on(koop_rpc_client_t *c)
{
    Koop__Sync__Status *st = NULL;
    koop_reply_t r;
    if (c && koop_rpc_call(c, NULL, "sync.status", NULL, 5000, &r) == 0) {
        if (r.status == 0)
            st = koop__sync__status__unpack(NULL, r.len, r.payload);
        koop_reply_clear(&r);
    }
    return st;
}

static Koop__Sync__Status *
s_status(const char *endpoint)
{
    koop_rpc_client_t *c = koop_rpc_client_new(endpoint);
    Koop__Sync__Status *st = s_status_on(c);
    koop_rpc_client_destroy(&c);
    return st;
}

/* What a hub's status says of one (node, stream): NULL when nothing; the
 * node's entry in *node_out (may be NULL). */
static const Koop__Sync__StreamStatus *
s_hub_stream(const Koop__Sync__Status *st, const char *node, const char *stream,
             const Koop__Sync__NodeStatus **node_out)
{
    for (size_t i = 0; st && i < st->n_nodes; i++)
        if (strcmp(st->nodes[i]->node, node) == 0)
            for (size_t j = 0; j < st->nodes[i]->n_streams; j++)
                if (strcmp(st->nodes[i]->streams[j]->stream, stream) == 0) {
                    if (node_out)
                        *node_out = st->nodes[i];
                    return st->nodes[i]->streams[j];
                }
    return NULL;
}

/* Mean envelope size of the gmina's first events. */
static size_t
s_mean_event_size(const char *endpoint)
{
    koop_rpc_client_t *c = koop_rpc_client_new(endpoint);
    Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
    koop_reply_t r;
    size_t mean = 200;
    q.stream = "registry";
    q.has_max = 1;
    q.max = 1000;
    if (c && koop_rpc_call(c, NULL, "feed.fetch", &q.base, 5000, &r) == 0) {
        Koop__FeedBatch *b = r.status == 0 ? koop__feed_batch__unpack(NULL, r.len, r.payload) : NULL;
        if (b && b->n_events) {
            size_t sum = 0;
            for (size_t i = 0; i < b->n_events; i++)
                sum += b->events[i].len;
            mean = sum / b->n_events;
        }
        if (b)
            koop__feed_batch__free_unpacked(b, NULL);
        koop_reply_clear(&r);
    }
    koop_rpc_client_destroy(&c);
    return mean;
}

/* ---- raw LMDB baseline ---- */

/* events/s appending `count` values of `size` bytes, `batch` per durable commit. */
static double
s_lmdb_rate(const char *tmp, uint64_t count, unsigned batch, size_t size)
{
    char dir[PATH_MAX + 32];
    MDB_env *env = NULL;
    MDB_dbi dbi;
    MDB_txn *txn;
    unsigned char *value = calloc(1, size), key[8];
    uint64_t seq = 0, t0;
    double rate = -1;
    int rc;

    snprintf(dir, sizeof dir, "%s/lmdb-%u", tmp, batch);
    if (!value || mkdir(dir, 0700) != 0 || mdb_env_create(&env) != 0 ||
        mdb_env_set_mapsize(env, (size_t)4 << 30) != 0 || mdb_env_open(env, dir, 0, 0600) != 0)
        goto done;
    if (mdb_txn_begin(env, NULL, 0, &txn) != 0 || mdb_dbi_open(txn, NULL, 0, &dbi) != 0 || mdb_txn_commit(txn) != 0)
        goto done;
    t0 = koop_clock_mono_us();
    while (seq < count) {
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
            goto done;
        for (unsigned i = 0; i < batch && seq < count; i++) {
            MDB_val k = {8, key}, v = {size, value};
            koop_be64_put(key, ++seq);
            memcpy(value, key, size < 8 ? size : 8);
            if ((rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND)) != 0) {
                mdb_txn_abort(txn);
                goto done;
            }
        }
        if ((rc = mdb_txn_commit(txn)) != 0)
            goto done;
    }
    rate = (double)count / ((double)(koop_clock_mono_us() - t0) / 1e6);
done:
    if (env)
        mdb_env_close(env);
    free(value);
    bench_runf(NULL, "rm -rf '%s'", dir);
    return rate;
}

/* ---- PostgreSQL logical replication ---- */

#define PG_BIN "/usr/lib/postgresql/15/bin"

static int
s_psql(const char *sock, int port, const char *db, const char *sql, char *out, size_t outlen)
{
    char cmd[8192], file[PATH_MAX];
    FILE *f;
    int rc;
    snprintf(file, sizeof file, "%s/psql.out", sock);
    snprintf(cmd, sizeof cmd,
             "runuser -u postgres -- %s/psql -X -q -A -t -h %s -p %d -d %s -c \"%s\" > %s 2>&1", PG_BIN, sock,
             port, db, sql, file);
    rc = bench_runf(NULL, "%s", cmd);
    if (out) {
        out[0] = '\0';
        f = fopen(file, "r");
        if (f) {
            size_t n = fread(out, 1, outlen - 1, f);
            out[n] = '\0';
            while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
                out[--n] = '\0';
            fclose(f);
        }
    }
    return rc;
}

static int
s_pg_cluster(const char *base, const char *name, int port, const char *extra)
{
    char dir[PATH_MAX + 64], log[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    snprintf(log, sizeof log, "%s/%s.log", base, name);
    if (bench_runf(log, "runuser -u postgres -- %s/initdb -D %s -U postgres --auth=trust -E UTF8", PG_BIN, dir) != 0)
        return -1;
    if (bench_runf(log,
               "printf \"port = %d\\nunix_socket_directories = '%s'\\nlisten_addresses = ''\\n"
               "max_wal_senders = 10\\nmax_replication_slots = 10\\nshared_buffers = 128MB\\n%s\" >> %s/postgresql.conf",
               port, base, extra, dir) != 0)
        return -1;
    return bench_runf(log, "runuser -u postgres -- %s/pg_ctl -D %s -w -l %s/server.log start", PG_BIN, dir, dir);
}

static void
s_pg_stop(const char *base, const char *name)
{
    bench_runf(NULL, "runuser -u postgres -- %s/pg_ctl -D %s/%s -m fast -w stop", PG_BIN, base, name);
}

/* Waits until `db` on the subscriber has n rows. Returns the seconds from
 * the first applied row to the last (*startup_s: from t0 to the first row),
 * or -1. */
static double
s_pg_wait(const char *base, int port, const char *db, uint64_t n, uint64_t t0_us, int timeout_s, double *startup_s)
{
    char out[128];
    uint64_t first_us = 0;
    while ((koop_clock_mono_us() - t0_us) / 1000000 < (uint64_t)timeout_s) {
        if (s_psql(base, port, db, "SELECT count(*) FROM ev", out, sizeof out) == 0) {
            uint64_t c = strtoull(out, NULL, 10), now = koop_clock_mono_us();
            if (c > 0 && !first_us) {
                first_us = now;
                *startup_s = (double)(now - t0_us) / 1e6;
            }
            if (c >= n)
                return (double)(now - first_us) / 1e6;
        }
        usleep(50000);
    }
    return -1;
}

/* Fills rates[0] (subscriber synchronous_commit on) and rates[1] (off),
 * and each one's start-up time (subscription made .. first row applied). */
static int
s_pg_bench(const char *tmp, uint64_t n, size_t event_size, double rates[2], double startup[2])
{
    char base[PATH_MAX + 16], sql[PATH_MAX + 1024], out[256];
    int pub = bench_free_port(), sub = bench_free_port(), rc = -1;
    uint64_t t0;
    double s;

    rates[0] = rates[1] = -1;
    if (access(PG_BIN "/initdb", X_OK) != 0) {
        printf("  PostgreSQL: %s/initdb not found (scripts/deps.sh bench installs postgresql): skipped\n", PG_BIN);
        return 0;
    }
    /* a directory of its own: the postgres user cannot enter the bench's 0700 one */
    (void)tmp;
    snprintf(base, sizeof base, "/tmp/koop-bench-pg.XXXXXX");
    if (!mkdtemp(base) || chmod(base, 0755) != 0 || bench_runf(NULL, "chown postgres '%s'", base) != 0)
        return -1;
    /* the source commits as a gmina would, but need not be durable for the
     * test's setup: what is measured is the subscriber's catch-up */
    if (s_pg_cluster(base, "pub", pub, "wal_level = logical\\nsynchronous_commit = off\\n") != 0 ||
        s_pg_cluster(base, "sub", sub, "") != 0) {
        fprintf(stderr, "bench sync: PostgreSQL clusters did not start (see %s/*.log)\n", base);
        goto done;
    }
    /* (one psql -c is one transaction; a slot needs one of its own) */
    if (s_psql(base, pub, "postgres",
               "CREATE TABLE ev (seq bigint PRIMARY KEY, payload bytea NOT NULL); "
               "CREATE PUBLICATION koop FOR TABLE ev;",
               out, sizeof out) != 0 ||
        s_psql(base, pub, "postgres", "SELECT pg_create_logical_replication_slot('koop_on', 'pgoutput')", out,
               sizeof out) != 0 ||
        s_psql(base, pub, "postgres", "SELECT pg_create_logical_replication_slot('koop_off', 'pgoutput')", out,
               sizeof out) != 0) {
        fprintf(stderr, "bench sync: PostgreSQL setup: %s\n", out);
        goto done;
    }
    /* n transactions of one event each (a DO block commits each row) */
    snprintf(sql, sizeof sql,
             "DO \\$\\$ BEGIN FOR i IN 1..%llu LOOP "
             "INSERT INTO ev VALUES (i, convert_to(repeat('x', %zu), 'UTF8')); COMMIT; END LOOP; END \\$\\$;",
             (unsigned long long)n, event_size);
    if (s_psql(base, pub, "postgres", sql, out, sizeof out) != 0) {
        fprintf(stderr, "bench sync: PostgreSQL source writes: %s\n", out);
        goto done;
    }
    if (s_psql(base, sub, "postgres", "CREATE DATABASE sub_off", out, sizeof out) != 0 ||
        s_psql(base, sub, "postgres", "CREATE TABLE ev (seq bigint PRIMARY KEY, payload bytea NOT NULL)", out,
               sizeof out) != 0 ||
        s_psql(base, sub, "sub_off", "CREATE TABLE ev (seq bigint PRIMARY KEY, payload bytea NOT NULL)", out,
               sizeof out) != 0)
        goto done;
    /* subscriber durable: every applied transaction is on disk when committed */
    snprintf(sql, sizeof sql,
             "CREATE SUBSCRIPTION koop_on CONNECTION 'host=%s port=%d dbname=postgres user=postgres' "
             "PUBLICATION koop WITH (create_slot = false, slot_name = 'koop_on', copy_data = false, "
             "synchronous_commit = 'on')",
             base, pub);
    t0 = koop_clock_mono_us();
    if (s_psql(base, sub, "postgres", sql, out, sizeof out) != 0) {
        fprintf(stderr, "bench sync: subscription: %s\n", out);
        goto done;
    }
    s = s_pg_wait(base, sub, "postgres", n, t0, 900, &startup[0]);
    rates[0] = s > 0 ? (double)n / s : -1;
    snprintf(sql, sizeof sql,
             "CREATE SUBSCRIPTION koop_off CONNECTION 'host=%s port=%d dbname=postgres user=postgres' "
             "PUBLICATION koop WITH (create_slot = false, slot_name = 'koop_off', copy_data = false, "
             "synchronous_commit = 'off')",
             base, pub);
    t0 = koop_clock_mono_us();
    if (s_psql(base, sub, "sub_off", sql, out, sizeof out) != 0) {
        fprintf(stderr, "bench sync: subscription: %s\n", out);
        goto done;
    }
    s = s_pg_wait(base, sub, "sub_off", n, t0, 900, &startup[1]);
    rates[1] = s > 0 ? (double)n / s : -1;
    rc = 0;
done:
    s_pg_stop(base, "sub");
    s_pg_stop(base, "pub");
    if (!getenv("KOOP_BENCH_KEEP"))
        bench_runf(NULL, "rm -rf '%s'", base);
    return rc;
}

/* ---- the run ---- */

static uint64_t
s_env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : def;
}

/* One catch-up: figures of the hub that took the gmina's stream, and of the
 * hub above it when there is one. */
typedef struct {
    uint64_t n;
    double hub_done_s;     /* hub started .. top holds everything */
    double g_done_s;       /* hub started .. the gmina recorded the last ack */
    double link_s;         /* the gmina's HELLO .. the top's last commit (hub clocks) */
    double rate;           /* n / link_s */
    double txn_rate;       /* first hub: events / time inside its write transactions */
    double per_commit;     /* first hub: events per commit */
    double top_txn_rate;   /* the top hub (three levels) */
    long rss_kb[2];        /* peak RSS of each hub's koop-sync */
    size_t ev_size;
    double g_rate;         /* the gmina's writes */
} s_catchup;

/* A gmina writes n events with its hub(s) down; then they start. levels: 2
 * (gmina -> hub) or 3 (gmina -> powiat -> voivodeship). */
static int
s_catchup_run(const char *tmp, int levels, uint64_t n, s_catchup *out)
{
    static bench_knode_t nodes[3]; /* g, p, v: big structs */
    bench_knode_t *g = &nodes[0], *p = &nodes[1], *v = &nodes[2];
    char dir[3][PATH_MAX], listen[2][64], key[2][PATH_MAX + 32], cert[PATH_MAX + 32], kc[PATH_MAX + 16];
    koop_rpc_client_t *top = NULL, *gc = NULL;
    uint64_t t0, target = 0, done_us = 0, own = 0;
    int rc = -1;

    memset(out, 0, sizeof *out);
    memset(nodes, 0, sizeof nodes);
    out->n = n;
    snprintf(kc, sizeof kc, "%s/koopctl", bench_bin());
    for (int i = 0; i < 3; i++)
        snprintf(dir[i], sizeof dir[i], "%s/%d-%s", tmp, levels, i == 0 ? "g" : i == 1 ? "p" : "v");
    for (int i = 0; i < 2; i++) {
        snprintf(listen[i], sizeof listen[i], "tcp://127.0.0.1:%d", bench_free_port());
        snprintf(key[i], sizeof key[i], "%s/keys/node.pub", dir[i + 1]);
    }
    if (levels == 3) {
        const char *va[] = {"--role", "hub", "--teryt", "20", "--name", "Województwo", "--listen", listen[1], NULL};
        if (bench_knode_init(v, dir[2], va) != 0)
            goto done;
    }
    {
        const char *pa[] = {"--role", "hub", "--teryt", "2013", "--name", "Powiat", "--listen", listen[0],
                            levels == 3 ? "--hub" : NULL, listen[1], "--hub-key", key[1], NULL};
        const char *ga[] = {"--role", "gmina", "--teryt", "2013032", "--name", "Gmina", "--hub", listen[0],
                            "--hub-key", key[0], NULL};
        if (bench_knode_init(p, dir[1], pa) != 0 || bench_knode_init(g, dir[0], ga) != 0)
            goto done;
    }
    snprintf(cert, sizeof cert, "%s/keys/node.pub", dir[0]);
    if (bench_runf(NULL, "'%s' -c '%s' enrol '%s'", kc, p->conf, cert) != 0 ||
        (levels == 3 && bench_runf(NULL, "'%s' -c '%s' enrol '%s/keys/node.pub'", kc, v->conf, dir[1]) != 0)) {
        fprintf(stderr, "bench sync: koopctl enrol failed\n");
        goto done;
    }
    if (bench_knode_start(g, 20000) != 0)
        goto done;
    {
        /* what the gmina wrote by itself at start (its node.described) is
         * part of the backlog too */
        Koop__Sync__Status *st = s_status(koop_config_endpoint(&g->cfg, "sync"));
        if (!st || !st->uplink) {
            if (st)
                koop__sync__status__free_unpacked(st, NULL);
            fprintf(stderr, "bench sync: the gmina's sync status has no uplink\n");
            goto done;
        }
        own = st->uplink->pending;
        koop__sync__status__free_unpacked(st, NULL);
    }
    t0 = koop_clock_mono_us();
    if (s_write(koop_config_endpoint(&g->cfg, "registry"), n) != n) {
        fprintf(stderr, "bench sync: not all of %llu writes were acknowledged\n", (unsigned long long)n);
        goto done;
    }
    out->g_rate = (double)n / ((double)(koop_clock_mono_us() - t0) / 1e6);
    {
        Koop__Sync__Status *st = s_status(koop_config_endpoint(&g->cfg, "sync"));
        if (!st || !st->uplink || st->uplink->pending != n + own) {
            fprintf(stderr, "bench sync: the gmina should have %llu pending (has %llu)\n",
                    (unsigned long long)(n + own), st && st->uplink ? (unsigned long long)st->uplink->pending : 0ull);
            if (st)
                koop__sync__status__free_unpacked(st, NULL);
            goto done;
        }
        for (size_t i = 0; i < st->uplink->n_streams; i++)
            if (strcmp(st->uplink->streams[i]->stream, "registry") == 0)
                target = st->uplink->streams[i]->last_seq;
        koop__sync__status__free_unpacked(st, NULL);
    }
    out->ev_size = s_mean_event_size(koop_config_endpoint(&g->cfg, "registry"));

    /* the hubs come up: from here until the top holds everything and the
     * gmina holds the acknowledgement */
    t0 = koop_clock_mono_us();
    if ((levels == 3 && bench_knode_spawn(v) != 0) || bench_knode_spawn(p) != 0)
        goto done;
    top = koop_rpc_client_new(levels == 3 ?koop_config_endpoint(& v->cfg, "sync") :koop_config_endpoint(& p->cfg, "sync"));
    gc = koop_rpc_client_new(koop_config_endpoint(&g->cfg, "sync"));
    if (!top || !gc)
        goto done;
    while (!out->g_done_s) {
        uint64_t now = koop_clock_mono_us();
        Koop__Sync__Status *st;
        if (now - t0 > 300 * 1000000ull) {
            fprintf(stderr, "bench sync: no catch-up within 300 s (see %s/node.log)\n", dir[1]);
            goto done;
        }
        if (!done_us && (st = s_status_on(top)) != NULL) {
            /* two levels: the gmina's stream at the hub; three: the
             * powiat's merged stream at the voivodeship */
            const Koop__Sync__StreamStatus *ss =
                levels == 3 ? s_hub_stream(st, p->cfg.node_id, "sync", NULL)
                            : s_hub_stream(st, g->cfg.node_id, "registry", NULL);
            if (ss && (levels == 3 ? ss->events >= n + own : ss->acked >= target)) {
                done_us = now - t0;
                out->hub_done_s = (double)done_us / 1e6;
                out->link_s = ss->stored_ms;               /* finished below */
                if (levels == 3 && st->ingest_us)
                    out->top_txn_rate = (double)st->ingest_events / ((double)st->ingest_us / 1e6);
            }
            koop__sync__status__free_unpacked(st, NULL);
        }
        if (done_us && (st = s_status_on(gc)) != NULL) {
            if (st->uplink && st->uplink->pending == 0)
                out->g_done_s = (double)(koop_clock_mono_us() - t0) / 1e6;
            koop__sync__status__free_unpacked(st, NULL);
        }
        usleep(done_us ? 2000 : 10000);
    }
    {
        /* the first hub's figures and its clock of the gmina's HELLO */
        Koop__Sync__Status *st = s_status(koop_config_endpoint(&p->cfg, "sync"));
        const Koop__Sync__NodeStatus *gn = NULL;
        if (!st || !s_hub_stream(st, g->cfg.node_id, "registry", &gn)) {
            if (st)
                koop__sync__status__free_unpacked(st, NULL);
            goto done;
        }
        if (st->ingest_commits)
            out->per_commit = (double)st->ingest_events / (double)st->ingest_commits;
        if (st->ingest_us)
            out->txn_rate = (double)st->ingest_events / ((double)st->ingest_us / 1e6);
        out->link_s = out->link_s > (double)gn->hello_ms ? (out->link_s - (double)gn->hello_ms) / 1e3 : out->hub_done_s;
        out->n = n + own;
        out->rate = (double)out->n / out->link_s;
        koop__sync__status__free_unpacked(st, NULL);
    }
    for (int i = 0; i < levels - 1; i++) {
        uint32_t pid = 0;
        out->rss_kb[i] = bench_ping(koop_config_endpoint(&nodes[i + 1].cfg, "sync"), 2000, &pid) == 0 ? bench_proc_peak_rss_kb(pid) : -1;
    }
    rc = 0;
done:
    koop_rpc_client_destroy(&top);
    koop_rpc_client_destroy(&gc);
    for (int i = 2; i >= 0; i--)
        (void)bench_knode_stop(&nodes[i]);
    return rc;
}

int
bench_sync(void)
{
    char tmp[] = "/tmp/koop-bench-sync.XXXXXX";
    uint64_t n = s_env_u64("KOOP_BENCH_SYNC_EVENTS", EVENTS_DEFAULT);
    s_catchup two, three;
    double raw_same, raw_max, pg[2] = {-1, -1}, pg_start[2] = {0, 0};
    int rc = -1;

    if (!mkdtemp(tmp))
        return -1;
    printf("sync: catch-up of a %llu-event backlog, gmina -> hub, durable on both sides\n", (unsigned long long)n);
    fflush(stdout);
    if (s_catchup_run(tmp, 2, n, &two) != 0)
        goto done;
    raw_same = s_lmdb_rate(tmp, n, two.per_commit >= 1 ? (unsigned)(two.per_commit + 0.5) : SYNC_BATCH_MAX,
                           two.ev_size);
    raw_max = s_lmdb_rate(tmp, n, SYNC_BATCH_MAX, two.ev_size);
    printf("  backlog written at %.0f events/s (pipelined, group-committed), mean envelope %zu bytes\n", two.g_rate,
           two.ev_size);
    printf("  hub holds all %llu durably %.2f s after it was started (process start and the uplink's\n"
           "    reconnect backoff included); from the gmina's HELLO to the last commit: %.3f s\n",
           (unsigned long long)n, two.hub_done_s, two.link_s);
    printf("  catch-up rate (HELLO .. last event durable at the hub): %.0f events/s\n", two.rate);
    printf("  hub ingest rate (events / time inside its write transactions, commit included): %.0f events/s\n",
           two.txn_rate);
    printf("  gmina recorded the acknowledgement after %.2f s: %.0f events/s end to end\n", two.g_done_s,
           (double)n / two.g_done_s);
    printf("  hub commits: %.0f events per commit on average\n", two.per_commit);
    printf("  raw LMDB append, %zu-byte values, durable, %.0f per commit: %.0f events/s\n"
           "    -> hub ingest at %.2f x; whole catch-up at %.2f x\n",
           two.ev_size, two.per_commit >= 1 ? two.per_commit : (double)SYNC_BATCH_MAX, raw_same,
           two.txn_rate / raw_same, two.rate / raw_same);
    printf("  raw LMDB append, %d per commit: %.0f events/s -> hub ingest at %.2f x\n", SYNC_BATCH_MAX, raw_max,
           two.txn_rate / raw_max);
    printf("  hub peak RSS (VmHWM of koop-sync): %.1f MiB\n", two.rss_kb[0] > 0 ? (double)two.rss_kb[0] / 1024.0 : -1.0);
    {
        /* what the full decode of every event costs the hub (services/sync/check.c) */
        s_check_cost cc;
        double per_event_ns = two.txn_rate > 0 ? 1e9 / two.txn_rate : 0;
        if (s_check_bench(&cc) != 0)
            goto done;
        printf("  hub's check of one event (in process, %d events of %zu bytes): full decode %.0f ns, the head\n"
               "    scan it replaced %.0f ns (%.1f x); a powiat's wrapped event at the voivodeship %.0f ns;\n"
               "    the full decode is %.1f %% of the hub's ingest time per event (%.0f ns)\n",
               CHECK_EVENTS, two.ev_size, cc.full_ns, cc.head_ns, cc.head_ns > 0 ? cc.full_ns / cc.head_ns : 0,
               cc.nested_ns, per_event_ns > 0 ? 100.0 * cc.full_ns / per_event_ns : 0, per_event_ns);
    }
    fflush(stdout);

    printf("  three levels, the same %llu-event backlog: gmina -> powiat hub -> voivodeship hub\n",
           (unsigned long long)n);
    fflush(stdout);
    if (s_catchup_run(tmp, 3, n, &three) != 0)
        goto done;
    printf("    voivodeship holds all %llu %.2f s after both hubs were started; from the gmina's HELLO at\n"
           "    the powiat to the voivodeship's last commit: %.3f s = %.0f events/s end to end (%.2f x the\n"
           "    two-level catch-up); powiat ingest %.0f events/s, voivodeship ingest %.0f events/s;\n"
           "    peak RSS of koop-sync: powiat %.1f MiB, voivodeship %.1f MiB\n",
           (unsigned long long)n, three.hub_done_s, three.link_s, three.rate, three.rate / two.rate, three.txn_rate,
           three.top_txn_rate, (double)three.rss_kb[0] / 1024.0, (double)three.rss_kb[1] / 1024.0);
    fflush(stdout);

    if (s_env_u64("KOOP_BENCH_PG", 1)) {
        uint64_t pn = s_env_u64("KOOP_BENCH_PG_EVENTS", n);
        printf("  PostgreSQL 15 logical replication, %llu events of %zu bytes, one per source transaction:\n",
               (unsigned long long)pn, two.ev_size);
        fflush(stdout);
        if (s_pg_bench(tmp, pn, two.ev_size, pg, pg_start) != 0)
            printf("    failed (see above)\n");
        printf("    (rates from the first applied row to the last, as koop's from HELLO; koop's catch-up rate\n"
               "     is compared)\n");
        if (pg[0] > 0)
            printf("    subscriber synchronous_commit=on:  %.0f events/s (start-up %.1f s) -> koop %.1f x\n", pg[0],
                   pg_start[0], two.rate / pg[0]);
        if (pg[1] > 0)
            printf("    subscriber synchronous_commit=off: %.0f events/s (start-up %.1f s) -> koop %.1f x\n", pg[1],
                   pg_start[1], two.rate / pg[1]);
    }
    printf("\nAims (information only: timing never fails this benchmark)\n");
    bench_aim(two.txn_rate / raw_same >= AIM_INGEST_RATIO,
              "hub ingest >= %.1f x raw LMDB append at the same batch (%.0f): %.2f x", AIM_INGEST_RATIO,
              two.per_commit, two.txn_rate / raw_same);
    bench_aim(two.rate >= AIM_CATCHUP_RATE, "catch-up >= %.0f events/s (HELLO .. last durable): %.0f events/s = %.2f x",
              AIM_CATCHUP_RATE, two.rate, two.rate / AIM_CATCHUP_RATE);
    if (pg[0] > 0)
        bench_aim(two.rate / pg[0] >= AIM_PG_ON, "koop catch-up >= %.0f x PostgreSQL (subscriber durable): %.1f x",
                  AIM_PG_ON, two.rate / pg[0]);
    if (pg[1] > 0)
        bench_aim(two.rate / pg[1] >= AIM_PG_OFF,
                  "koop catch-up >= %.0f x PostgreSQL (subscriber not durable): %.1f x", AIM_PG_OFF, two.rate / pg[1]);
    rc = 0;
done:
    if (!getenv("KOOP_BENCH_KEEP"))
        bench_runf(NULL, "rm -rf '%s'", tmp);
    fflush(stdout);
    return rc;
}

/* The name koop-bench's section table uses ({"sync", bench_sync_run}). */
int bench_sync_run(void);
int
bench_sync_run(void)
{
    return bench_sync();
}
