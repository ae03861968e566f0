/*
 * bench - koop-bench, the registry write benchmark behind `make bench`.
 *
 * Aim (from the issue): the registry reaches at least 50 % of the raw LMDB
 * rate in batched mode, and its p99 stays under 5 ms at 1,000 writes/s.
 * Every figure is printed next to a baseline measured in the same run on the
 * same disk, so results from different machines compare as ratios.
 *
 *   bench_lmdb.c      the baseline: raw durable LMDB appends, N per commit
 *   bench_node.c      a real node in a temporary directory: init, start, stop
 *   bench_registry.c  load on the registry: sequential, pipelined, open loop
 *   bench_stats.c     latency samples, percentiles, number formatting
 *   main.c            runs the phases and prints the table
 *
 * Timing never fails the benchmark: whether an aim is met is printed as
 * information. The exit code is non-zero only when something breaks (a node
 * that does not start or stop, a request that fails or gets no reply).
 * Functions here return 0 or a negative -errno (LMDB codes are turned into
 * -EIO after being printed), and print what went wrong on stderr.
 */
#ifndef BENCH_H
#define BENCH_H

#include "config.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- latency samples (bench_stats.c) ---- */

typedef struct {
    uint64_t *bl_us;  /* samples in microseconds; owned */
    size_t bl_n;
    size_t bl_cap;
    int bl_sorted;
} bench_lat_t;

/* Makes room for cap samples. Returns 0 or -ENOMEM. */
int bench_lat_init(bench_lat_t *lat, size_t cap);
/* Frees the samples; accepts a zeroed or already cleared set. */
void bench_lat_clear(bench_lat_t *lat);
/* Adds one sample. Returns 0, or -ENOBUFS when the set is full. */
int bench_lat_add(bench_lat_t *lat, uint64_t us);
/* Moves every sample of from into to (which grows). Returns 0 or -ENOMEM. */
int bench_lat_merge(bench_lat_t *to, bench_lat_t *from);
/* The p-th percentile (0 < p <= 100, nearest rank) in ms; 0 when empty.
 * Sorts the samples on first use. */
double bench_lat_pct_ms(bench_lat_t *lat, double p);
double bench_lat_mean_ms(const bench_lat_t *lat);

/* "12,345" into buf (at least 32 bytes); returns buf. */
const char *bench_fmt_count(char *buf, size_t size, double v);

/* ---- raw LMDB baseline (bench_lmdb.c) ---- */

#define BENCH_RECORD_SIZE 200 /* bytes: about one registry event envelope */

typedef struct {
    unsigned bm_batch;        /* records per commit */
    uint64_t bm_records;
    uint64_t bm_commits;
    double bm_seconds;
    double bm_rate;           /* records/s */
    double bm_commit_ms;      /* mean wall time of one commit (begin .. commit returned) */
    double bm_cpu_us;         /* mean CPU time (user + system) of one commit */
} bench_lmdb_result_t;

/* Appends BENCH_RECORD_SIZE-byte records under big-endian u64 keys with
 * MDB_APPEND into a fresh LMDB environment made in a new directory under
 * tmpdir (default durable sync: every commit is on disk when it returns),
 * `batch` records per write transaction, for at least min_seconds. The
 * directory is removed afterwards. Returns 0 or -errno. */
int bench_lmdb_append(const char *tmpdir, unsigned batch, double min_seconds,
                      bench_lmdb_result_t *out);

/* ---- a node under test (bench_node.c) ---- */

typedef struct bench_node bench_node_t;

/* Makes a gmina node in tmpdir/node with `koopctl node init` (bindir holds
 * the programs), starts `koop-node -c .../koop.conf` (output to
 * tmpdir/node/node.log) and waits until the registry answers sys.ping.
 * Returns 0 and *out, or -errno (after printing why and the log's tail). */
int bench_node_start(bench_node_t **out, const char *bindir, const char *tmpdir);
/* The registry's request endpoint (borrowed). */
const char *bench_node_endpoint(const bench_node_t *self);
/* How many write transactions the registry's store has committed so far
 * (LMDB's last transaction id, read from its meta page without a
 * transaction); the difference over a run divided into the writes of the
 * run is the mean group-commit batch. Returns 0 or -EIO. */
int bench_node_commits(bench_node_t *self, uint64_t *txnid);
/* CPU time (user + system, microseconds; the kernel counts in clock ticks,
 * usually 10 ms) the registry process has used so far, from /proc. Returns 0
 * or -errno. */
int bench_node_registry_cpu(bench_node_t *self, uint64_t *us);
/* Checks that the registry is the process that answered at start (it was not
 * restarted by koop-node during the run), stops the node with SIGTERM, and
 * waits for a clean exit. Frees *self_p and sets it NULL; accepts NULL.
 * Returns 0 when all of that went well, -errno otherwise. The node's
 * directory stays (the caller removes tmpdir). */
int bench_node_stop(bench_node_t **self_p);

/* Removes a directory tree (no symlinks followed). Returns 0 or -errno. */
int bench_rmtree(const char *path);

/* ---- load on the registry (bench_registry.c) ---- */

typedef struct {
    uint64_t br_writes;       /* institution.add replies with status OK */
    double br_seconds;        /* first send (or schedule start) .. last reply */
    double br_rate;           /* writes/s */
    bench_lat_t br_lat;       /* per-request latency; owned (bench_run_clear) */
    double br_lag_max_ms;     /* open loop: the latest a request left after its
                                 scheduled time (the client's own delay) */
} bench_run_t;

void bench_run_clear(bench_run_t *run);

/* One client, one request in flight (koop_rpc_call): up to max writes or
 * for `seconds`, whichever ends first. Latency: send .. reply. */
int bench_registry_sequential(const char *endpoint, double seconds, unsigned max,
                              bench_run_t *out);

/* `clients` threads, each with its own client keeping up to `window`
 * requests in flight (koop_rpc_send / koop_rpc_recv), `total` writes in all.
 * Latency: send .. reply. */
int bench_registry_throughput(const char *endpoint, unsigned clients, unsigned window,
                              unsigned total, bench_run_t *out);

/* Open loop: one client sends `rate` writes/s on a fixed schedule for
 * `seconds`, whatever the replies do. Latency: scheduled send time .. reply,
 * so a stall in the service (or the client) counts in full for every request
 * it delayed. */
int bench_registry_open_loop(const char *endpoint, unsigned rate, double seconds,
                             bench_run_t *out);

/* sys.ping on a client made for the call: the registry's pid in *pid.
 * Returns 0, -ETIMEDOUT, or -EIO for an unexpected answer. */
int bench_registry_ping(const char *endpoint, int timeout_ms, uint32_t *pid);

/* ---- processes and whole nodes (bench_proc.c) ---- */

/* KOOP_BIN, or "bin": where koopctl and koop-node are. */
const char *bench_bin(void);
/* Starts argv (argv[0] searched in PATH when it has no '/') with stdout and
 * stderr appended to log (NULL: /dev/null), stdin from /dev/null; the child
 * gets SIGTERM if this process dies. Returns 0 and *pid, or -errno. */
int bench_spawn(char *const argv[], const char *log, pid_t *pid);
/* Waits up to timeout_ms for pid to end. Returns 0 and *status, -ETIMEDOUT,
 * or -errno. */
int bench_wait_exit(pid_t pid, unsigned timeout_ms, int *status);
/* Runs argv to its end (at most 10 minutes); returns its exit code (128 when
 * killed by a signal) or -errno. bench_runf: a /bin/sh -c command line. */
int bench_run(const char *log, char *const argv[]);
int bench_runf(const char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A loopback TCP port that was free a moment ago, or -1. */
int bench_free_port(void);
/* CPU time (user + system, microseconds; the kernel counts in clock ticks,
 * usually 10 ms) process pid has used so far, from /proc. 0 or -errno. */
int bench_proc_cpu_us(uint32_t pid, uint64_t *us);
/* kB from /proc/PID: peak RSS (VmHWM), RSS now, proportional set size (Pss
 * of smaps_rollup: shared pages divided among the processes mapping them).
 * -1 when unreadable. */
long bench_proc_peak_rss_kb(uint32_t pid);
long bench_proc_rss_kb(uint32_t pid);
long bench_proc_pss_kb(uint32_t pid);
/* kB of pages only this process maps (Private_Clean + Private_Dirty), -1. */
long bench_proc_uss_kb(uint32_t pid);
/* sys.ping: the answering process's pid in *pid (may be NULL). 0, -ETIMEDOUT, -EIO. */
int bench_ping(const char *endpoint, int timeout_ms, uint32_t *pid);

/* A whole node of any role: `koopctl node init DIR ARGS...`, then
 * `koop-node -c DIR/koop.conf` (output to DIR/node.log). Do not copy one:
 * service names point into it. */
typedef struct {
    char dir[PATH_MAX];
    char conf[PATH_MAX + 16];
    koop_config_t cfg;
    pid_t pid;                                  /* koop-node; 0 when not running */
    int nservices;
    const char *service[KOOP_MAX_SERVICES];
    uint32_t pids[KOOP_MAX_SERVICES];           /* as sys.ping said when started */
} bench_knode_t;
/* Makes the node (args: NULL-terminated options of node init, e.g. "--role",
 * "hub", ...) and loads its config. 0 or -errno (after saying why). */
int bench_knode_init(bench_knode_t *n, const char *dir, const char *const *args);
/* Starts koop-node and waits until every service of the node answers;
 * or the two steps apart. */
int bench_knode_start(bench_knode_t *n, unsigned timeout_ms);
int bench_knode_spawn(bench_knode_t *n);
int bench_knode_wait(bench_knode_t *n, unsigned timeout_ms);
/* The pid of one of its services (0 when unknown). */
uint32_t bench_knode_pid(const bench_knode_t *n, const char *service);
/* SIGTERM, and waits (SIGKILL after 20 s). 0 when it exited cleanly. */
int bench_knode_stop(bench_knode_t *n);

/* Prints one aim of an issue as "[met]" or "[NOT MET]" with its figures and
 * keeps it for bench_aims_summary (koop-bench prints them all at the end).
 * Information only: an aim never changes the exit code. */
void bench_aim(int met, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bench_aims_summary(void);

/* ---- set-up requests (bench_rpc.c) ---- */
struct koop_rpc_client;
struct ProtobufCMessage;
struct ProtobufCMessageDescriptor;
/* One request (10 s timeout); when reply_desc is given, the reply's "id"
 * field into id. Returns 0, or -1 after printing what failed. */
int bench_call(struct koop_rpc_client *c, const char *caller, const char *method,
               const struct ProtobufCMessage *req, const struct ProtobufCMessageDescriptor *reply_desc,
               char id[40]);

#endif
