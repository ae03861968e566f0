/*
 * bench_lmdb.c - the baseline: how fast this machine appends durably to LMDB.
 *
 * What it measures: records/s appended to a fresh environment (in a new
 * directory on the same file system as the node under test), with the
 * environment's default durable sync (each mdb_txn_commit returns after the
 * data and the meta page are on disk), BENCH_RECORD_SIZE-byte values under
 * big-endian u64 keys put with MDB_APPEND, `batch` records per write
 * transaction. batch 1 is the ceiling of any design that commits once per
 * write; larger batches show what group commit can reach.
 *
 * How: a few warm-up commits (not counted: the first ones also create the
 * file's first pages), then commits until min_seconds have passed (and at
 * least 3 were made). The map is 1 GiB, far more than a run writes. The
 * CPU time of the thread is reported too (most of it, at small batches, is
 * the kernel's work for the two syncs of each commit).
 *
 * The registry does more per write than one append (record put, event
 * append, shared-index put, request decode and reply), so the ratio of the
 * registry to this baseline is a conservative figure.
 */
#include "bench.h"
#include "clock.h"
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define LMDB_MAP_SIZE ((size_t)1 << 30)
#define LMDB_WARMUP_COMMITS 3
#define LMDB_MIN_COMMITS 3

/* One transaction appending `batch` records after *seq. Returns an LMDB code. */
static int
s_append_batch(MDB_env *env, MDB_dbi dbi, unsigned batch, uint64_t *seq, unsigned char *value)
{
    MDB_txn *txn = NULL;
    int rc;

    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
        return rc;
    for (unsigned i = 0; i < batch; i++) {
        unsigned char key[8];
        MDB_val k = {sizeof key, key}, v = {BENCH_RECORD_SIZE, value};
        uint64_t next = *seq + 1;
        koop_be64_put(key, next);
        memcpy(value, key, sizeof key); /* every value differs a little */
        if ((rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND)) != 0)
            goto fail;
        *seq = next;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

/* CPU time of the calling thread in microseconds (0 if it cannot be read:
 * the figure is informative only). */
static uint64_t
s_thread_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int
bench_lmdb_append(const char *tmpdir, unsigned batch, double min_seconds, bench_lmdb_result_t *out)
{
    char dir[4096];
    unsigned char value[BENCH_RECORD_SIZE];
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    uint64_t seq = 0, t0, t1, cpu0, commits = 0, first_seq;
    int rc, made_dir = 0, err = 0;

    memset(out, 0, sizeof *out);
    out->bm_batch = batch;
    if (batch == 0)
        return -EINVAL;
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (unsigned char)(i * 31u + 7u);
    if (snprintf(dir, sizeof dir, "%s/lmdb-batch-%u", tmpdir, batch) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    if (mkdir(dir, 0700) != 0) {
        err = -errno;
        fprintf(stderr, "koop-bench: mkdir %s: %s\n", dir, strerror(errno));
        return err;
    }
    made_dir = 1;

    if ((rc = mdb_env_create(&env)) != 0)
        goto fail;
    if ((rc = mdb_env_set_mapsize(env, LMDB_MAP_SIZE)) != 0)
        goto fail;
    /* the same flags as the services' stores (store.c): durable commits */
    if ((rc = mdb_env_open(env, dir, MDB_NOTLS, 0600)) != 0)
        goto fail;
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
        goto fail;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0)
        goto fail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail;

    for (int i = 0; i < LMDB_WARMUP_COMMITS; i++)
        if ((rc = s_append_batch(env, dbi, batch, &seq, value)) != 0)
            goto fail;

    first_seq = seq;
    cpu0 = s_thread_cpu_us();
    t0 = koop_clock_mono_us();
    do {
        if ((rc = s_append_batch(env, dbi, batch, &seq, value)) != 0)
            goto fail;
        commits++;
        t1 = koop_clock_mono_us();
    } while (commits < LMDB_MIN_COMMITS || (double)(t1 - t0) < min_seconds * 1e6);

    out->bm_records = seq - first_seq;
    out->bm_commits = commits;
    out->bm_seconds = (double)(t1 - t0) / 1e6;
    out->bm_rate = (double)out->bm_records / out->bm_seconds;
    out->bm_commit_ms = out->bm_seconds * 1000.0 / (double)commits;
    out->bm_cpu_us = (double)(s_thread_cpu_us() - cpu0) / (double)commits;
    mdb_env_close(env);
    env = NULL;
    return bench_rmtree(dir);

fail:
    fprintf(stderr, "koop-bench: raw LMDB in %s (batch %u): %s\n", dir, batch, koop_strerror(rc));
    err = -EIO;
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    if (made_dir && bench_rmtree(dir) != 0)
        fprintf(stderr, "koop-bench: could not remove %s\n", dir);
    return err;
}
