/* Unit tests of common/store and common/log on real LMDB files. */
#include "envelope.pb-c.h"
#include "log.h"
#include "store.h"

#include "kt_scratch.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

KT_SCRATCH_SUITE(store, "ku");

typedef struct {
    koop_log_t *log;
    int n;
    size_t size;
    int runs;
} s_append_ctx;

static int
s_append_n(MDB_txn *txn, void *ctx)
{
    s_append_ctx *a = ctx;
    static uint8_t payload[8192];
    a->runs++;
    for (int i = 0; i < a->n; i++) {
        int scope = (i % 3 == 0) ? KOOP__SCOPE__SCOPE_SHARED : KOOP__SCOPE__SCOPE_LOCAL;
        int rc = koop_log_append(a->log, txn, "test.event", scope, "tester", payload, a->size, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

Test(store, log_sequences_start_at_one_and_have_no_gaps)
{
    koop_store_t *s;
    koop_log_t *log;
    MDB_txn *txn;
    uint64_t last, shared_last, count;
    cr_assert_eq(koop_store_open(&s, dir, NULL), 0);
    cr_assert_eq(koop_log_open(&log, s, "node-a", "test"), 0);
    s_append_ctx a = {log, 10, 16, 0};
    cr_assert_eq(koop_store_write(s, s_append_n, &a), 0);
    cr_assert_eq(koop_store_write(s, s_append_n, &a), 0);
    cr_assert_eq(koop_store_read(s, &txn), 0);
    cr_assert_eq(koop_log_last(log, txn, 0, &last), 0);
    cr_assert_eq(last, 20);
    cr_assert_eq(koop_log_last(log, txn, 1, &shared_last), 0);
    cr_assert_eq(shared_last, 20, "seq 1,4,7,10 then 11,14,17,20 are SHARED");
    cr_assert_eq(koop_log_count_shared_after(log, txn, 10, &count), 0);
    cr_assert_eq(count, 4);
    mdb_txn_abort(txn);
    koop_log_destroy(&log);
    koop_store_destroy(&s);
}

typedef struct {
    uint64_t seqs[64];
    int n;
    int scopes_ok;
} s_seen;

static int
s_visit(uint64_t seq, const uint8_t *bytes, size_t len, void *ctx)
{
    s_seen *s = ctx;
    Koop__Event *ev = koop__event__unpack(NULL, len, bytes);
    cr_assert_not_null(ev, "a stored envelope must decode");
    cr_assert_eq(ev->seq, seq, "the key is the envelope's seq");
    cr_assert_str_eq(ev->node, "node-a");
    cr_assert_str_eq(ev->stream, "test");
    cr_assert_str_eq(ev->actor, "tester");
    s->seqs[s->n++] = seq;
    if (ev->scope != KOOP__SCOPE__SCOPE_SHARED)
        s->scopes_ok = 0;
    koop__event__free_unpacked(ev, NULL);
    return 0;
}

Test(store, log_read_ranges_and_shared_only)
{
    koop_store_t *s;
    koop_log_t *log;
    MDB_txn *txn;
    s_seen all = {.scopes_ok = 1}, shared = {.scopes_ok = 1};
    cr_assert_eq(koop_store_open(&s, dir, NULL), 0);
    cr_assert_eq(koop_log_open(&log, s, "node-a", "test"), 0);
    s_append_ctx a = {log, 30, 16, 0};
    cr_assert_eq(koop_store_write(s, s_append_n, &a), 0);
    cr_assert_eq(koop_store_read(s, &txn), 0);
    cr_assert_eq(koop_log_read(log, txn, 5, 10, 0, s_visit, &all), 0);
    cr_assert_eq(all.n, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(all.seqs[i], (uint64_t)(6 + i));
    cr_assert_eq(koop_log_read(log, txn, 1, 100, 1, s_visit, &shared), 0);
    cr_assert_eq(shared.n, 9, "SHARED seqs after 1: 4,7,...,28");
    cr_assert(shared.scopes_ok);
    cr_assert_eq(shared.seqs[0], 4);
    mdb_txn_abort(txn);
    koop_log_destroy(&log);
    koop_store_destroy(&s);
}

Test(store, log_identity_survives_reopen_and_differs_after_reset)
{
    koop_store_t *s;
    koop_log_t *log;
    char first[64];
    char cmd[160];
    cr_assert_eq(koop_store_open(&s, dir, NULL), 0);
    cr_assert_eq(koop_log_open(&log, s, "n", "test"), 0);
    snprintf(first, sizeof first, "%s", koop_log_id(log));
    koop_log_destroy(&log);
    koop_store_destroy(&s);
    cr_assert_eq(koop_store_open(&s, dir, NULL), 0);
    cr_assert_eq(koop_log_open(&log, s, "n", "test"), 0);
    cr_assert_str_eq(koop_log_id(log), first);
    koop_log_destroy(&log);
    koop_store_destroy(&s);
    snprintf(cmd, sizeof cmd, "rm -f %s/data.mdb %s/lock.mdb", dir, dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(koop_store_open(&s, dir, NULL), 0);
    cr_assert_eq(koop_log_open(&log, s, "n", "test"), 0);
    cr_assert_str_neq(koop_log_id(log), first, "a reset database is a new log");
    koop_log_destroy(&log);
    koop_store_destroy(&s);
}

/* With a 16 MiB map, 40 MiB in one transaction must grow it (abort, grow,
 * retry the whole transaction) and then commit everything exactly once. */
Test(store, map_full_grows_and_retries_the_transaction)
{
    koop_store_t *s;
    koop_log_t *log;
    MDB_txn *txn;
    MDB_envinfo info;
    uint64_t last;
    cr_assert_eq(koop_store_open_map(&s, dir, NULL, (size_t)16 << 20), 0);
    cr_assert_eq(koop_log_open(&log, s, "n", "test"), 0);
    s_append_ctx a = {log, 5000, 8000, 0};
    cr_assert_eq(koop_store_write(s, s_append_n, &a), 0);
    cr_assert_gt(a.runs, 1, "the write must have hit MDB_MAP_FULL and been retried");
    mdb_env_info(koop_store_env(s), &info);
    cr_assert_gt(info.me_mapsize, (size_t)32 << 20);
    cr_assert_eq(koop_store_read(s, &txn), 0);
    cr_assert_eq(koop_log_last(log, txn, 0, &last), 0);
    cr_assert_eq(last, 5000, "no event lost or doubled by the retry");
    mdb_txn_abort(txn);
    koop_log_destroy(&log);
    koop_store_destroy(&s);
    /* reopening with a smaller map adopts the grown size of the file */
    cr_assert_eq(koop_store_open_map(&s, dir, NULL, (size_t)16 << 20), 0);
    mdb_env_info(koop_store_env(s), &info);
    cr_assert_gt(info.me_mapsize, (size_t)32 << 20);
    koop_store_destroy(&s);
}

Test(store, be64_keys_sort_numerically)
{
    unsigned char a[8], b[8];
    koop_be64_put(a, 255);
    koop_be64_put(b, 256);
    cr_assert_lt(memcmp(a, b, 8), 0);
    cr_assert_eq(koop_be64_get(b), 256);
    koop_be64_put(a, UINT64_MAX);
    cr_assert_eq(koop_be64_get(a), UINT64_MAX);
}

/* The log writes its envelopes by hand (log.c): the bytes must be exactly
 * what protobuf-c makes of the same koop.Event, whatever the sizes. */
typedef struct {
    koop_log_t *log;
    size_t n;
} s_enc_ctx;

static int
s_append_varied(MDB_txn *txn, void *ctx)
{
    s_enc_ctx *c = ctx;
    static uint8_t payload[70000];
    koop_log_appender_t a;
    int rc;
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7 + 1);
    if ((rc = koop_log_appender_begin(&a, c->log, txn)) != 0)
        return rc;
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        /* payload lengths across the varint boundaries (127/128, 16383/16384), actors "" and long */
        static const size_t lens[] = {0, 1, 127, 128, 300, 16383, 16384, 70000};
        const char *actor = i % 3 == 0 ? "" : i % 3 == 1 ? "0190aaaa-0000-7000-8000-000000000001" : "a";
        rc = koop_log_appender_add(&a, i % 2 ? "ipw.opened" : "x", i % 2 ? KOOP__SCOPE__SCOPE_SHARED : KOOP__SCOPE__SCOPE_LOCAL,
                                   actor, payload, lens[i % 8], NULL);
    }
    koop_log_appender_end(&a);
    return rc;
}

static int
s_visit_same_as_protobuf(uint64_t seq, const uint8_t *bytes, size_t len, void *ctx)
{
    Koop__Event *ev = koop__event__unpack(NULL, len, bytes);
    uint8_t *again;
    size_t n;
    (*(size_t *)ctx)++;
    cr_assert_not_null(ev, "envelope %llu does not decode", (unsigned long long)seq);
    n = koop__event__get_packed_size(ev);
    again = malloc(n ? n : 1);
    cr_assert_not_null(again);
    koop__event__pack(ev, again);
    cr_assert_eq(n, len, "envelope %llu: %zu bytes, protobuf-c makes %zu", (unsigned long long)seq, len, n);
    cr_assert_eq(memcmp(again, bytes, n), 0, "envelope %llu differs from protobuf-c's bytes", (unsigned long long)seq);
    free(again);
    koop__event__free_unpacked(ev, NULL);
    return 0;
}

Test(store, log_envelopes_are_the_bytes_protobuf_c_makes)
{
    koop_store_t *s;
    koop_log_t *log;
    MDB_txn *txn;
    size_t seen = 0;
    uint64_t last;
    s_enc_ctx c;
    cr_assert_eq(koop_store_open(&s, dir, NULL), 0);
    cr_assert_eq(koop_log_open(&log, s, "gmina-2013032", "cases"), 0);
    c.log = log;
    c.n = 40;
    cr_assert_eq(koop_store_write(s, s_append_varied, &c), 0);
    cr_assert_eq(koop_store_write(s, s_append_n, &(s_append_ctx){log, 3, 10, 0}), 0, "single appends follow on");
    cr_assert_eq(koop_store_read(s, &txn), 0);
    cr_assert_eq(koop_log_last(log, txn, 0, &last), 0);
    cr_assert_eq(last, 43, "the appender and koop_log_append share one sequence");
    cr_assert_eq(koop_log_read(log, txn, 0, 100, 0, s_visit_same_as_protobuf, &seen), 0);
    cr_assert_eq(seen, 43);
    mdb_txn_abort(txn);
    koop_log_destroy(&log);
    koop_store_destroy(&s);
}

/* Every table is found by its name, the 32nd as the 1st, each its own
 * LMDB table (what a put in one shows in no other), and a name not opened
 * is not found. */
Test(store, every_table_is_found_by_its_name)
{
    static char names[25][16];
    const char *tables[26];
    koop_store_t *s;
    MDB_dbi seen[32], d;
    MDB_txn *txn;
    int n = 0;
    for (int i = 0; i < 25; i++) {
        snprintf(names[i], sizeof names[i], "t%d_%c", i * 7, 'a' + i);
        tables[i] = names[i];
    }
    tables[25] = NULL;
    cr_assert_eq(koop_store_open(&s, dir, tables), 0);
    /* the log's own tables are there too, opened first */
    cr_assert_eq(koop_store_dbi_find(s, "log", &seen[n++]), 0);
    cr_assert_eq(koop_store_dbi_find(s, "store_meta", &seen[n++]), 0);
    for (int i = 0; i < 25; i++) {
        cr_assert_eq(koop_store_dbi_find(s, names[i], &d), 0, "%s", names[i]);
        cr_assert_eq(koop_store_dbi(s, names[i]), d);
        for (int k = 0; k < n; k++)
            cr_assert_neq(seen[k], d, "%s shares a handle", names[i]);
        seen[n++] = d;
    }
    cr_assert_eq(koop_store_dbi_find(s, "t0", &d), -ENOENT);
    cr_assert_eq(koop_store_dbi_find(s, "", &d), -ENOENT);
    cr_assert_eq(koop_store_dbi_find(s, "t7_b ", &d), -ENOENT);
    /* a value put through one name is read through that name only */
    cr_assert_eq(mdb_txn_begin(koop_store_env(s), NULL, 0, &txn), 0);
    cr_assert_eq(koop_store_put_str(txn, koop_store_dbi(s, names[24]), "k", "v", 1), 0);
    for (int i = 0; i < 24; i++) {
        MDB_val k = {1, "k"}, v;
        cr_assert_eq(mdb_get(txn, koop_store_dbi(s, names[i]), &k, &v), MDB_NOTFOUND, "%s", names[i]);
    }
    mdb_txn_abort(txn);
    koop_store_destroy(&s);
}
