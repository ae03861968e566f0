/*
 * Unit tests of the operations modules on real LMDB files: a store's copy
 * (backup.h) while it is being written, what a copy holds, the order of
 * copies, a log's new identity and cursors carried over (log.h, feed.h),
 * key fingerprints (keyprint.h), the progress line (progress.h) and the
 * config's durations.
 */
#include "backup.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "feed.h"
#include "keyprint.h"
#include "log.h"
#include "present.h"
#include "progress.h"
#include "store.h"

#include "kt_scratch.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

KT_SCRATCH_SUITE(ops, "ko");

typedef struct {
    koop_log_t *log;
    int n;
} s_append;

static int
s_append_fn(MDB_txn *txn, void *ctx)
{
    s_append *a = ctx;
    for (int i = 0; i < a->n; i++) {
        int rc = koop_log_append(a->log, txn, "test.event", i % 2, "", (const uint8_t *)"payload", 7, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static void
s_store(const char *sub, koop_store_t **store, koop_log_t **log, int events)
{
    char path[128], node[64];
    unsigned format;
    s_append a;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    cr_assert_eq(koop_store_open(store, path, NULL), 0);
    cr_assert_eq(koop_store_stamp(*store, "gmina-2013032", node, sizeof node, &format), 0);
    cr_assert_eq(koop_log_open(log, *store, "gmina-2013032", sub), 0);
    a.log = *log;
    a.n = events;
    cr_assert_eq(koop_store_write(*store, s_append_fn, &a), 0);
}

typedef struct {
    koop_store_t *store;
    koop_log_t *log;
    volatile int stop;
    volatile int batches;
} s_writer;

static void *
s_write_on(void *arg)
{
    s_writer *w = arg;
    s_append a = {w->log, 10};
    while (!w->stop) {
        cr_assert_eq(koop_store_write(w->store, s_append_fn, &a), 0);
        w->batches++;
    }
    return NULL;
}

Test(ops, a_copy_made_while_the_store_is_written_is_a_consistent_snapshot_in_a_private_file)
{
    koop_store_t *store;
    koop_log_t *log;
    koop_backup_info_t info, again;
    char out[128], file[160];
    struct stat st;
    s_writer w = {0};
    pthread_t t;
    uint64_t last_after = 0;
    MDB_txn *txn;
    int before;

    s_store("registry", &store, &log, 1000);
    koop_store_copying(store, 1);
    cr_assert_eq(koop_store_grow(store), -EBUSY, "the map must not move while a copy holds it");
    w.store = store;
    w.log = log;
    cr_assert_eq(pthread_create(&t, NULL, s_write_on, &w), 0);
    /* the writer is under way before the copy starts (on a busy machine the
     * thread may not have run yet when a small copy is already done) */
    for (int i = 0; i < 10000 && w.batches == 0; i++)
        usleep(1000);
    snprintf(out, sizeof out, "%s/copy", dir);
    cr_assert_eq(mkdir(out, 0700), 0);
    before = w.batches;
    cr_assert_eq(koop_backup_copy(koop_store_env(store), out, &info), 0);
    /* writers go on while the store is marked as being copied */
    for (int i = 0; i < 10000 && w.batches == before; i++)
        usleep(1000);
    w.stop = 1;
    pthread_join(t, NULL);
    koop_store_copying(store, 0);
    cr_assert_gt(w.batches, before, "writes went on while the copy was made");
    cr_assert_str_eq(info.node, "gmina-2013032");
    cr_assert_eq(info.format, KOOP_STORE_FORMAT);
    cr_assert_str_eq(info.log_id, koop_log_id(log));
    cr_assert_geq(info.last_seq, 1000);
    cr_assert_eq((info.last_seq - 1000) % 10, 0, "a copy holds whole transactions only: %llu",
                 (unsigned long long)info.last_seq);
    cr_assert_eq(koop_store_read(store, &txn), 0);
    cr_assert_eq(koop_log_last(log, txn, 0, &last_after), 0);
    mdb_txn_abort(txn);
    cr_assert_leq(info.last_seq, last_after);
    snprintf(file, sizeof file, "%s/data.mdb", out);
    cr_assert_eq(stat(file, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "a copy holds personal data: mode %o", st.st_mode & 0777);
    cr_assert_eq((uint64_t)st.st_size, info.bytes);
    /* read back: the same, and the hash is the file's */
    cr_assert_eq(koop_backup_inspect(out, &again), 0);
    cr_assert_eq(again.last_seq, info.last_seq);
    cr_assert_str_eq(again.log_id, info.log_id);
    {
        char hash[KOOP_BACKUP_HASH_HEX];
        cr_assert_eq(koop_backup_hash(file, hash), 0);
        cr_assert_str_eq(hash, info.blake2b);
    }
    /* a copy never overwrites: the same directory again is refused, the file stays */
    cr_assert_eq(koop_backup_copy(koop_store_env(store), out, &again), -EEXIST);
    cr_assert_eq(stat(file, &st), 0);
    koop_log_destroy(&log);
    koop_store_destroy(&store);
}

Test(ops, consumers_are_copied_before_the_logs_they_follow)
{
    size_t order[KOOP_SVC_COUNT], n = koop_backup_order(order), seen_feed = 0;
    cr_assert_eq(n, KOOP_SVC_COUNT);
    for (size_t i = 0; i < n; i++) {
        const koop_service_info_t *s = &koop_services[order[i]];
        if (s->flags & KOOP_SVC_FEED)
            seen_feed = 1;
        else
            cr_assert(!seen_feed, "%s, which follows others, is copied after a log it may follow", s->name);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(order[i], order[j], "%s twice", s->name);
    }
    /* the cases service follows the registry: copied before it */
    for (size_t i = 0, cases = n, registry = n; i < n; i++) {
        if (!strcmp(koop_services[order[i]].name, "cases"))
            cases = i;
        if (!strcmp(koop_services[order[i]].name, "registry"))
            registry = i;
        if (i == n - 1)
            cr_assert_lt(cases, registry);
    }
}

typedef struct {
    char keys[8][64];
    uint64_t seqs[8];
    char ids[8][64];
    int n;
} s_cursors;

static int
s_collect(const char *key, uint64_t seq, const char *log_id, void *ctx)
{
    s_cursors *c = ctx;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s", key);
    snprintf(c->ids[c->n], sizeof c->ids[0], "%s", log_id);
    c->seqs[c->n++] = seq;
    return 0;
}

typedef struct {
    koop_store_t *store;
    const char *id;
} s_renew_ctx;

static int
s_put_cursors(MDB_txn *txn, void *ctx)
{
    s_renew_ctx *c = ctx;
    int rc = koop_feed_cursor_put(c->store, txn, "registry", 42, "old-registry-id");
    return rc ? rc : koop_feed_cursor_put(c->store, txn, "cases", 7, "cases-id");
}

static int
s_renew(MDB_txn *txn, void *ctx)
{
    s_renew_ctx *c = ctx;
    return koop_log_renew_id(c->store, txn, c->id);
}

Test(ops, a_renewed_log_has_a_new_identity_and_remembers_the_old_one_and_cursors_are_walked)
{
    koop_store_t *store;
    koop_log_t *log;
    char old[KOOP_ID_LEN], got[KOOP_ID_LEN], path[128];
    s_renew_ctx c;
    s_cursors cur = {0};
    MDB_txn *txn;
    MDB_val v;

    s_store("reporting", &store, &log, 5);
    snprintf(old, sizeof old, "%s", koop_log_id(log));
    koop_log_destroy(&log);
    c.store = store;
    c.id = "01900000-0000-7000-8000-000000000001";
    cr_assert_eq(koop_store_write(store, s_put_cursors, &c), 0);
    cr_assert_eq(koop_store_write(store, s_renew, &c), 0);
    cr_assert_eq(koop_store_read(store, &txn), 0);
    cr_assert_eq(koop_log_stored_id(store, txn, got, sizeof got), 0);
    cr_assert_str_eq(got, c.id);
    cr_assert_eq(koop_store_get_str(txn, koop_store_dbi(store, "log_meta"), "restored_from", &v), 0);
    cr_assert_eq(v.mv_size, strlen(old));
    cr_assert_eq(memcmp(v.mv_data, old, v.mv_size), 0);
    cr_assert_eq(koop_feed_cursor_each(store, txn, s_collect, &cur), 0);
    mdb_txn_abort(txn);
    cr_assert_eq(cur.n, 2);
    cr_assert_str_eq(cur.keys[1], "registry");
    cr_assert_eq(cur.seqs[1], 42);
    cr_assert_str_eq(cur.ids[1], "old-registry-id");
    /* the log opens under its new identity, its events kept */
    snprintf(path, sizeof path, "%s/reporting", dir);
    cr_assert_eq(koop_log_open(&log, store, "gmina-2013032", "reporting"), 0);
    cr_assert_str_eq(koop_log_id(log), c.id);
    koop_log_destroy(&log);
    koop_store_destroy(&store);
}

Test(ops, a_fingerprint_is_five_groups_of_base32_and_differs_between_keys)
{
    uint8_t a[32] = {0}, b[32] = {0};
    char pa[KOOP_KEYPRINT_LEN], pa2[KOOP_KEYPRINT_LEN], pb[KOOP_KEYPRINT_LEN];
    b[31] = 1;
    koop_keyprint(a, pa);
    koop_keyprint(a, pa2);
    koop_keyprint(b, pb);
    cr_assert_str_eq(pa, pa2, "the same key, the same fingerprint");
    cr_assert_str_neq(pa, pb, "one bit of the key changes it");
    cr_assert_eq(strlen(pa), KOOP_KEYPRINT_LEN - 1);
    for (int i = 0; i < KOOP_KEYPRINT_LEN - 1; i++)
        cr_assert(i % 5 == 4 ? pa[i] == ' ' : strchr("abcdefghijklmnopqrstuvwxyz234567", pa[i]) != NULL, "'%s'", pa);
}

Test(ops, the_progress_line_says_done_total_rate_and_time_left)
{
    char line[256];
    koop_progress_format(line, sizeof line, "kopia zapasowa", 50u << 20, 200u << 20, KOOP_PROGRESS_BYTES, KOOP_LANG_PL,
                         10.0);
    cr_assert_str_eq(line, "kopia zapasowa: 50,0 MiB / 200,0 MiB (25 %), 5,0 MiB/s, zostało 0:30");
    koop_progress_format(line, sizeof line, "odbudowa", 7200, 10800, KOOP_PROGRESS_EVENTS, KOOP_LANG_PL, 1.0);
    cr_assert_str_eq(line, "odbudowa: 7200 / 10800 zdarzeń (66 %), 7200 zdarzeń/s, zostało 0:01");
    koop_progress_format(line, sizeof line, "x", 1, 3601, KOOP_PROGRESS_EVENTS, KOOP_LANG_PL, 1.0);
    cr_assert(strstr(line, "zostało 1:00:00"), "%s", line);
    cr_assert_str_eq(line, "x: 1 / 3601 zdarzeń (0 %), 1 zdarzenie/s, zostało 1:00:00", "the noun goes with its count");
    koop_progress_format(line, sizeof line, "x", 2, 22, KOOP_PROGRESS_EVENTS, KOOP_LANG_PL, 1.0);
    cr_assert_str_eq(line, "x: 2 / 22 zdarzenia (9 %), 2 zdarzenia/s, zostało 0:10");
    koop_progress_format(line, sizeof line, "x", 0, 1, KOOP_PROGRESS_EVENTS, KOOP_LANG_PL, 0.0);
    cr_assert_str_eq(line, "x: 0 / 1 zdarzenie (0 %)");
    koop_progress_format(line, sizeof line, "x", 12, 12, KOOP_PROGRESS_EVENTS, KOOP_LANG_PL, 1.0);
    cr_assert_str_eq(line, "x: 12 / 12 zdarzeń (100 %), 12 zdarzeń/s");
    koop_progress_format(line, sizeof line, "x", 0, 0, KOOP_PROGRESS_BYTES, KOOP_LANG_PL, 0.0);
    cr_assert_str_eq(line, "x: 0 B / 0 B (100 %)");
    /* not a terminal: nothing is drawn */
    {
        FILE *f = tmpfile();
        koop_progress_t *p = koop_progress_new("backup", 10, KOOP_PROGRESS_EVENTS, KOOP_LANG_PL, 0, f);
        cr_assert(!koop_progress_visible(p));
        koop_progress_set(p, 5);
        koop_progress_end(&p);
        cr_assert_null(p);
        cr_assert_eq(ftell(f), 0);
        fclose(f);
    }
}

/* The line is labels.def's templates: the noun of a count of events takes
 * the form of that count in each language (Polish one/few/many, English
 * one/other), the rate's its own; bytes are said with the language's
 * decimal mark. */
Test(ops, the_progress_line_counts_events_in_the_form_of_each_language)
{
    static const struct {
        uint64_t n;
        const char *pl, *en;
    } cases[] = {
        {1, "x: 1 / 1 zdarzenie (100 %), 1 zdarzenie/s", "x: 1 / 1 event (100 %), 1 event/s"},
        {2, "x: 2 / 2 zdarzenia (100 %), 2 zdarzenia/s", "x: 2 / 2 events (100 %), 2 events/s"},
        {5, "x: 5 / 5 zdarzeń (100 %), 5 zdarzeń/s", "x: 5 / 5 events (100 %), 5 events/s"},
        {22, "x: 22 / 22 zdarzenia (100 %), 22 zdarzenia/s", "x: 22 / 22 events (100 %), 22 events/s"},
    };
    char line[256], what[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        koop_progress_format(line, sizeof line, "x", cases[i].n, cases[i].n, KOOP_PROGRESS_EVENTS, KOOP_LANG_PL, 1.0);
        cr_expect_str_eq(line, cases[i].pl);
        koop_progress_format(line, sizeof line, "x", cases[i].n, cases[i].n, KOOP_PROGRESS_EVENTS, KOOP_LANG_EN, 1.0);
        cr_expect_str_eq(line, cases[i].en);
    }
    /* the total and the rate each in the form of their own count */
    koop_progress_format(line, sizeof line, "x", 2, 5, KOOP_PROGRESS_EVENTS, KOOP_LANG_PL, 2.0);
    cr_expect_str_eq(line, "x: 2 / 5 zdarzeń (40 %), 1 zdarzenie/s, zostało 0:03");
    koop_progress_format(line, sizeof line, "x", 2, 5, KOOP_PROGRESS_EVENTS, KOOP_LANG_EN, 2.0);
    cr_expect_str_eq(line, "x: 2 / 5 events (40 %), 1 event/s, 0:03 left");
    koop_progress_format(line, sizeof line, "backup", 50u << 20, 200u << 20, KOOP_PROGRESS_BYTES, KOOP_LANG_EN, 10.0);
    cr_expect_str_eq(line, "backup: 50.0 MiB / 200.0 MiB (25 %), 5.0 MiB/s, 0:30 left");
    /* what is done, by its key */
    cr_expect_gt(koop_present_sentence("progress", "sync_wait", KOOP_LANG_EN, NULL, 0, what, sizeof what), 0);
    cr_expect_str_eq(what, "sending to the hub");
    cr_expect_gt(koop_present_sentence("progress", "sync_wait", KOOP_LANG_PL, NULL, 0, what, sizeof what), 0);
    cr_expect_str_eq(what, "wysyłanie do huba");
}

Test(ops, durations_of_the_config)
{
    cr_assert_eq(koop_config_duration_ms("90s"), 90000);
    cr_assert_eq(koop_config_duration_ms("30m"), 1800000);
    cr_assert_eq(koop_config_duration_ms("1h"), 3600000);
    cr_assert_eq(koop_config_duration_ms("2d"), 172800000);
    cr_assert_eq(koop_config_duration_ms("1"), 0);
    cr_assert_eq(koop_config_duration_ms("h"), 0);
    cr_assert_eq(koop_config_duration_ms("1hh"), 0);
    cr_assert_eq(koop_config_duration_ms("0h"), 0);
    cr_assert_eq(koop_config_duration_ms("-1h"), 0);
}
