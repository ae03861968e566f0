/*
 * bench_sync.c - catch-up of a gmina's backlog by its hub (docs/SYNC.md).
 *
 * What it measures, all in one run on the same disk:
 *   1. koop: a gmina writes N SHARED events (institution.add) while its hub
 *      is down; then the hub starts; the time from starting the hub until the
 *      hub holds all N durably (its stored position reaches the last one) and
 *      the gmina has recorded that acknowledgement durably (pending 0).
 *      Events/s, the hub's commits and events per commit, the hub's peak RSS.
 *   2. raw LMDB: durable MDB_APPEND of N values of the same mean size, at the
 *      hub's mean events per commit and at the largest batch (SYNC_BATCH_MAX):
 *      the ceiling of any ingest that commits that often.
 *   3. PostgreSQL logical replication between two local clusters (Debian's
 *      postgresql), when installed: the source writes the same N events, one
 *      per transaction as a gmina would, into a table published through a
 *      replication slot made before the writes; then a subscription catches
 *      up from that slot, with the subscriber's synchronous_commit on (the
 *      same durability as koop's hub) and, in a second database, off.
 *      KOOP_BENCH_PG=0 skips it; KOOP_BENCH_PG_EVENTS sets its N.
 *
 * Aims (issue 4): hub ingest >= 50 % of raw LMDB at the same batch size;
 * >= 10x PostgreSQL with the same durability, >= 2x with the subscriber's
 * durability off. Timing never fails the run; only a breakage does.
 *
 *   bench_sync()      (also bench_sync_run(), for koop-bench's section table)
 *   make bench-sync   builds this file alone with -DBENCH_SYNC_MAIN and runs it
 */
#include "clock.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "registry.pb-c.h"
#include "client.h"
#include "store.h"
#include "sync.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int bench_sync(void);

#define EVENTS_DEFAULT 100000
#define SYNC_BATCH_MAX 2000 /* services/sync/sync.h */

/* ---- processes ---- */

static const char *
s_bin(void)
{
    const char *b = getenv("KOOP_BIN");
    return b && *b ? b : "bin";
}

/* Runs argv (NULL-terminated) with output to /dev/null or `log`; returns its exit code. */
static int
s_run(const char *log, char *const argv[])
{
    int status;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int
s_runf(const char *log, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    return s_run(log, argv);
}

static int
s_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

typedef struct {
    char dir[PATH_MAX];
    char conf[PATH_MAX + 16];
    koop_config_t cfg;
    pid_t pid;
} s_node;

static pid_t
s_node_spawn(s_node *n)
{
    char exe[PATH_MAX + 16], log[PATH_MAX + 16];
    pid_t pid;
    snprintf(exe, sizeof exe, "%s/koop-node", s_bin());
    snprintf(log, sizeof log, "%s/node.log", n->dir);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(exe, exe, "-c", n->conf, (char *)NULL);
        _exit(127);
    }
    n->pid = pid;
    return pid;
}

/* sys.ping on a service; its pid in *pid. */
static int
s_ping(const char *endpoint, uint32_t *pid)
{
    koop_rpc_client_t *c = koop_rpc_client_new(endpoint);
    koop_reply_t r;
    int rc = -1;
    if (c && koop_rpc_call(c, NULL, "sys.ping", NULL, 500, &r) == 0) {
        Koop__Pong *p = r.status == 0 ? koop__pong__unpack(NULL, r.len, r.payload) : NULL;
        if (p) {
            if (pid)
                *pid = p->pid;
            koop__pong__free_unpacked(p, NULL);
            rc = 0;
        }
        koop_reply_clear(&r);
    }
    koop_rpc_client_destroy(&c);
    return rc;
}

static int
s_node_wait(s_node *n)
{
    for (int i = 0; i < 200; i++) {
        if (s_ping(koop_config_endpoint(&n->cfg, "registry"), NULL) == 0 && s_ping(koop_config_endpoint(&n->cfg, "sync"), NULL) == 0)
            return 0;
        usleep(50000);
    }
    fprintf(stderr, "bench sync: node %s did not start (see %s/node.log)\n", n->cfg.node_id, n->dir);
    return -1;
}

static void
s_node_stop(s_node *n)
{
    int status;
    if (n->pid <= 0)
        return;
    kill(n->pid, SIGTERM);
    for (int i = 0; i < 150; i++) {
        if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
            n->pid = 0;
            return;
        }
        usleep(100000);
    }
    kill(n->pid, SIGKILL);
    waitpid(n->pid, &status, 0);
    n->pid = 0;
}

static int
s_node_load(s_node *n)
{
    char err[600];
    if (koop_config_load(&n->cfg, n->conf, err, sizeof err) != 0) {
        fprintf(stderr, "bench sync: %s\n", err);
        return -1;
    }
    return 0;
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

/* The hub's stored position of node's registry stream (0 when none). */
static uint64_t
s_hub_acked(Koop__Sync__Status *st, const char *node)
{
    for (size_t i = 0; st && i < st->n_nodes; i++)
        if (strcmp(st->nodes[i]->node, node) == 0)
            for (size_t j = 0; j < st->nodes[i]->n_streams; j++)
                if (strcmp(st->nodes[i]->streams[j]->stream, "registry") == 0)
                    return st->nodes[i]->streams[j]->acked;
    return 0;
}

/* The hub's HELLO time of node and its registry stream's last store time. */
static void
s_hub_times(Koop__Sync__Status *st, const char *node, uint64_t *hello_ms, uint64_t *stored_ms)
{
    for (size_t i = 0; st && i < st->n_nodes; i++)
        if (strcmp(st->nodes[i]->node, node) == 0) {
            *hello_ms = st->nodes[i]->hello_ms;
            for (size_t j = 0; j < st->nodes[i]->n_streams; j++)
                if (strcmp(st->nodes[i]->streams[j]->stream, "registry") == 0)
                    *stored_ms = st->nodes[i]->streams[j]->stored_ms;
        }
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

static long
s_peak_rss_kb(uint32_t pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%u/status", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
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
    s_runf(NULL, "rm -rf '%s'", dir);
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
    rc = s_runf(NULL, "%s", cmd);
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
    if (s_runf(log, "runuser -u postgres -- %s/initdb -D %s -U postgres --auth=trust -E UTF8", PG_BIN, dir) != 0)
        return -1;
    if (s_runf(log,
               "printf \"port = %d\\nunix_socket_directories = '%s'\\nlisten_addresses = ''\\n"
               "max_wal_senders = 10\\nmax_replication_slots = 10\\nshared_buffers = 128MB\\n%s\" >> %s/postgresql.conf",
               port, base, extra, dir) != 0)
        return -1;
    return s_runf(log, "runuser -u postgres -- %s/pg_ctl -D %s -w -l %s/server.log start", PG_BIN, dir, dir);
}

static void
s_pg_stop(const char *base, const char *name)
{
    s_runf(NULL, "runuser -u postgres -- %s/pg_ctl -D %s/%s -m fast -w stop", PG_BIN, base, name);
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
    int pub = s_free_port(), sub = s_free_port(), rc = -1;
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
    if (!mkdtemp(base) || chmod(base, 0755) != 0 || s_runf(NULL, "chown postgres '%s'", base) != 0)
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
        s_runf(NULL, "rm -rf '%s'", base);
    return rc;
}

/* ---- the run ---- */

static uint64_t
s_env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : def;
}

int
bench_sync(void)
{
    char tmp[] = "/tmp/koop-bench-sync.XXXXXX", listen[64], hubkey[PATH_MAX + 32], cert[PATH_MAX + 32];
    char kc[PATH_MAX + 16];
    s_node hub = {.pid = 0}, g = {.pid = 0};
    uint64_t n = s_env_u64("KOOP_BENCH_SYNC_EVENTS", EVENTS_DEFAULT), t0, wrote, hub_done_us = 0, g_done_us = 0;
    uint64_t target = 0, hello_ms = 0, stored_ms = 0;
    double txn_rate = 0, link_s = 0;
    koop_rpc_client_t *hub_client = NULL, *g_client = NULL;
    Koop__Sync__Status *st;
    uint32_t hub_pid = 0;
    long rss_kb;
    size_t ev_size;
    double hub_rate, g_rate, raw_same, raw_max, per_commit = 0, pg[2] = {-1, -1}, pg_start[2] = {0, 0};
    int port = s_free_port(), rc = -1;

    if (!mkdtemp(tmp))
        return -1;
    snprintf(kc, sizeof kc, "%s/koopctl", s_bin());
    snprintf(hub.dir, sizeof hub.dir, "%s/hub", tmp);
    snprintf(g.dir, sizeof g.dir, "%s/g1", tmp);
    snprintf(hub.conf, sizeof hub.conf, "%s/koop.conf", hub.dir);
    snprintf(g.conf, sizeof g.conf, "%s/koop.conf", g.dir);
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", port);
    snprintf(hubkey, sizeof hubkey, "%s/keys/node.pub", hub.dir);
    snprintf(cert, sizeof cert, "%s/keys/node.pub", g.dir);
    {
        char *a1[] = {kc, "node", "init", hub.dir, "--role", "hub", "--teryt", "2013", "--name", "Powiat", "--listen",
                      listen, NULL};
        char *a2[] = {kc, "node", "init", g.dir, "--role", "gmina", "--teryt", "2013032", "--name", "Gmina",
                      "--hub", listen, "--hub-key", hubkey, NULL};
        char *a3[] = {kc, "-c", hub.conf, "enrol", cert, NULL};
        if (s_run(NULL, a1) != 0 || s_run(NULL, a2) != 0 || s_run(NULL, a3) != 0) {
            fprintf(stderr, "bench sync: node init / enrol failed (is %s built?)\n", kc);
            goto done;
        }
    }
    if (s_node_load(&hub) != 0 || s_node_load(&g) != 0)
        goto done;

    printf("sync: catch-up of a %llu-event backlog, gmina -> hub, durable on both sides\n", (unsigned long long)n);
    s_node_spawn(&g);
    if (s_node_wait(&g) != 0)
        goto done;
    t0 = koop_clock_mono_us();
    wrote = s_write(koop_config_endpoint(&g.cfg, "registry"), n);
    if (wrote != n) {
        fprintf(stderr, "bench sync: only %llu of %llu writes acknowledged\n", (unsigned long long)wrote,
                (unsigned long long)n);
        goto done;
    }
    g_rate = (double)n / ((double)(koop_clock_mono_us() - t0) / 1e6);
    st = s_status(koop_config_endpoint(&g.cfg, "sync"));
    if (!st || !st->uplink || st->uplink->pending != n) {
        fprintf(stderr, "bench sync: the gmina should have %llu pending (has %llu)\n", (unsigned long long)n,
                st && st->uplink ? (unsigned long long)st->uplink->pending : 0ull);
        if (st)
            koop__sync__status__free_unpacked(st, NULL);
        goto done;
    }
    for (size_t i = 0; i < st->uplink->n_streams; i++)
        if (strcmp(st->uplink->streams[i]->stream, "registry") == 0)
            target = st->uplink->streams[i]->last_seq;
    koop__sync__status__free_unpacked(st, NULL);
    ev_size = s_mean_event_size(koop_config_endpoint(&g.cfg, "registry"));
    printf("  backlog written at %.0f events/s (pipelined, group-committed), mean envelope %zu bytes\n", g_rate,
           ev_size);

    /* the hub comes up: from here until both ends hold the acknowledgement */
    hub_client = koop_rpc_client_new(koop_config_endpoint(&hub.cfg, "sync"));
    g_client = koop_rpc_client_new(koop_config_endpoint(&g.cfg, "sync"));
    if (!hub_client || !g_client)
        goto done;
    t0 = koop_clock_mono_us();
    s_node_spawn(&hub);
    for (;;) {
        uint64_t now = koop_clock_mono_us();
        if (now - t0 > 300 * 1000000ull) {
            fprintf(stderr, "bench sync: no catch-up within 300 s (see %s/node.log)\n", hub.dir);
            goto done;
        }
        if (!hub_done_us) {
            st = s_status_on(hub_client);
            if (st && s_hub_acked(st, g.cfg.node_id) >= target) {
                hub_done_us = now - t0;
                if (st->ingest_commits)
                    per_commit = (double)st->ingest_events / (double)st->ingest_commits;
                if (st->ingest_us)
                    txn_rate = (double)st->ingest_events / ((double)st->ingest_us / 1e6);
                s_hub_times(st, g.cfg.node_id, &hello_ms, &stored_ms);
            }
            if (st)
                koop__sync__status__free_unpacked(st, NULL);
        }
        if (hub_done_us) {
            st = s_status_on(g_client);
            if (st && st->uplink && st->uplink->pending == 0)
                g_done_us = koop_clock_mono_us() - t0;
            if (st)
                koop__sync__status__free_unpacked(st, NULL);
            if (g_done_us)
                break;
        }
        usleep(hub_done_us ? 2000 : 10000);
    }
    if (s_ping(koop_config_endpoint(&hub.cfg, "sync"), &hub_pid) != 0)
        goto done;
    rss_kb = s_peak_rss_kb(hub_pid);
    /* catch-up rate: from the gmina's HELLO to the commit that stored the
     * last event, both stamped by the hub itself */
    link_s = stored_ms > hello_ms ? (double)(stored_ms - hello_ms) / 1e3 : (double)hub_done_us / 1e6;
    hub_rate = (double)n / link_s;

    raw_same = s_lmdb_rate(tmp, n, per_commit >= 1 ? (unsigned)(per_commit + 0.5) : SYNC_BATCH_MAX, ev_size);
    raw_max = s_lmdb_rate(tmp, n, SYNC_BATCH_MAX, ev_size);

    printf("  hub holds all %llu durably %.2f s after it was started (process start and the uplink's\n"
           "    reconnect backoff included); from the gmina's HELLO to the last commit: %.3f s\n",
           (unsigned long long)n, (double)hub_done_us / 1e6, link_s);
    printf("  catch-up rate (HELLO .. last event durable at the hub): %.0f events/s\n", hub_rate);
    printf("  hub ingest rate (events / time inside its write transactions, commit included): %.0f events/s\n",
           txn_rate);
    printf("  gmina recorded the acknowledgement after %.2f s: %.0f events/s end to end\n", (double)g_done_us / 1e6,
           (double)n / ((double)g_done_us / 1e6));
    printf("  hub commits: %.0f events per commit on average\n", per_commit);
    printf("  raw LMDB append, %zu-byte values, durable, %.0f per commit: %.0f events/s\n"
           "    -> hub ingest at %.0f %% (aim >= 50 %%); whole catch-up at %.0f %%\n",
           ev_size, per_commit >= 1 ? per_commit : (double)SYNC_BATCH_MAX, raw_same, 100.0 * txn_rate / raw_same,
           100.0 * hub_rate / raw_same);
    printf("  raw LMDB append, %d per commit: %.0f events/s -> hub ingest at %.0f %%\n", SYNC_BATCH_MAX, raw_max,
           100.0 * txn_rate / raw_max);
    printf("  hub peak RSS (VmHWM of koop-sync): %.1f MiB\n", rss_kb > 0 ? (double)rss_kb / 1024.0 : -1.0);

    s_node_stop(&hub);
    s_node_stop(&g);

    if (s_env_u64("KOOP_BENCH_PG", 1)) {
        uint64_t pn = s_env_u64("KOOP_BENCH_PG_EVENTS", n);
        printf("  PostgreSQL 15 logical replication, %llu events of %zu bytes, one per source transaction:\n",
               (unsigned long long)pn, ev_size);
        fflush(stdout);
        if (s_pg_bench(tmp, pn, ev_size, pg, pg_start) != 0)
            printf("    failed (see above)\n");
        printf("    (rates from the first applied row to the last, as koop's from HELLO; koop's catch-up rate\n"
               "     is compared)\n");
        if (pg[0] > 0)
            printf("    subscriber synchronous_commit=on:  %.0f events/s (start-up %.1f s) -> koop %.1fx "
                   "(aim >= 10x)\n",
                   pg[0], pg_start[0], hub_rate / pg[0]);
        if (pg[1] > 0)
            printf("    subscriber synchronous_commit=off: %.0f events/s (start-up %.1f s) -> koop %.1fx "
                   "(aim >= 2x)\n",
                   pg[1], pg_start[1], hub_rate / pg[1]);
    }
    rc = 0;
done:
    koop_rpc_client_destroy(&hub_client);
    koop_rpc_client_destroy(&g_client);
    s_node_stop(&hub);
    s_node_stop(&g);
    if (!getenv("KOOP_BENCH_KEEP"))
        s_runf(NULL, "rm -rf '%s'", tmp);
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

#ifdef BENCH_SYNC_MAIN
int
main(void)
{
    return bench_sync() == 0 ? 0 : 1;
}
#endif
