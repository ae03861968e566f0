/*
 * Backup and restore through real nodes and koopctl (docs/OPERATIONS.md):
 * a backup taken under write load holds every record acknowledged before
 * it began, in files only the node's user may read, and restores into a
 * new node; a restore in place on an enrolled gmina gives its logs new
 * identities, so the hub refuses them with a message that says what to do,
 * and after doing it everything written after the restore reaches the hub;
 * restore refuses a running node, another node's backup, an incomplete or
 * damaged one, and a node whose restore was cut short does not start. The
 * second line of defence: data put back by hand under the same identity
 * stop a feed and the uplink instead of being skipped over.
 */
#include "clock.h"
#include "koop_test.h"
#include "kt_ops.h"
#include "kt_report.h"
#include "kt_sync.h"
#include "preflight.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_FMT(buf, ...) cr_assert(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf, "path too long")

static kt_node_t g, copy, hub;

static void
s_teardown(void)
{
    cr_expect_eq(kt_nodes_destroy((kt_node_t *[]){&g, &copy, &hub, NULL}), 0, "sanitizer reports");
}

TestSuite(backup, .fini = s_teardown, .timeout = 300);

/* The ids of every institution a node lists, as one string to search. */
static char *
s_listed(kt_node_t *n)
{
    kt_run_t r;
    char *out;
    cr_assert_eq(kt_ctl(&r, n, "--json", "institution", "list", NULL), 0);
    cr_assert_eq(r.code, 0, "institution list: %s", r.err);
    out = strdup(r.out);
    kt_run_free(&r);
    return out;
}

static json_t *
s_json_file(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    cr_assert_not_null(j, "%s: %s", path, e.text);
    return j;
}

/* The "code" of a koopctl --json error on stderr. */
static const char *
s_code(const kt_run_t *r, char *buf, size_t size)
{
    json_error_t e;
    json_t *j = json_loads(r->err, 0, &e);
    const char *code = j ? json_string_value(json_object_get(json_object_get(j, "error"), "code")) : NULL;
    snprintf(buf, size, "%s", code ? code : "");
    json_decref(j);
    return buf;
}

Test(backup, under_write_load_holds_every_record_acknowledged_before_it_and_restores_into_a_new_node)
{
    char dir[PATH_MAX + 32], bad[PATH_MAX + 32], path[PATH_MAX + 64], *listed;
    uint64_t started, ended;
    size_t before = 0, during = 0, found = 0;
    kt_writer_t w;
    kt_run_t r;
    json_t *m, *list, *st;

    cr_assert_eq(kt_node_init(&g, "gmina", "2013032", "Gmina Kobylin-Borzymy", NULL), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_writer_start(&w, &g, "Przed kopią"), 0);
    while (kt_writer_count(&w) < 150)
        kt_sleep_ms(20);
    S_FMT(dir, "%s/kopia", g.dir);
    started = koop_clock_real_ms();
    kt_sleep_ms(2); /* an ack recorded at `started` is before the backup's start */
    cr_assert_eq(kt_ctl(&r, &g, "backup", dir, NULL), 0);
    ended = koop_clock_real_ms();
    cr_assert_eq(r.code, 0, "backup: %s", r.err);
    cr_assert_str_eq(r.err, "", "no progress line without a terminal: %s", r.err);
    cr_assert(strstr(r.out, "restore"), "it says how to restore: %s", r.out);
    kt_run_free(&r);
    /* the node kept serving while the copy was made: writes went on */
    while (kt_writer_count(&w) < 150 + 30)
        kt_sleep_ms(20);
    kt_writer_stop(&w);
    cr_assert_eq(w.refused, 0, "writes refused during the backup");
    cr_assert_eq(kt_private_tree(dir, bad, sizeof bad), 0, "the backup holds personal data, yet %s", bad);

    S_FMT(path, "%s/manifest.json", dir);
    m = s_json_file(path);
    cr_assert_str_eq(json_string_value(json_object_get(m, "node")), "gmina-2013032");
    list = json_object_get(m, "services");
    cr_assert_eq((int)json_array_size(list), kt_node_services(&g), "every service of the gmina");
    /* consumers before the logs they follow: the registry last */
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, json_array_size(list) - 1), "name")),
                     "registry");

    cr_assert_eq(kt_node_init(&copy, "gmina", "2013032", "Kopia", NULL), 0);
    cr_assert_eq(kt_ctl(&r, &copy, "restore", dir, NULL), 0);
    cr_assert_eq(r.code, 0, "restore into a new node: %s", r.err);
    kt_run_free(&r);
    cr_assert_eq(kt_node_start(&copy, 20), 0);
    listed = s_listed(&copy);
    /* acked_ms is when the writer had the ack, so an ack recorded at or
     * before `started` came before koopctl was even run (a writer kept
     * waiting by the scheduler may record a later time for a record the copy
     * holds: that proves nothing, so only "before" is asserted) */
    for (size_t i = 0; i < w.n; i++) {
        int in = strstr(listed, w.ids[i]) != NULL;
        if (w.acked_ms[i] <= started) {
            before++;
            cr_assert(in, "record %s acknowledged before the backup began is not in it", w.ids[i]);
        } else if (w.acked_ms[i] <= ended) {
            during++;
        }
        found += in;
    }
    cr_assert_geq(before, 150, "%zu acknowledged before the backup, %zu while it ran", before, during);
    cr_assert_geq(found, before);
    /* the registry's copy is exactly its log up to the seq in the manifest */
    cr_assert_eq((json_int_t)found,
                 json_integer_value(json_object_get(json_array_get(list, json_array_size(list) - 1), "last_seq")),
                 "every institution.added up to the copied seq, and no other");
    free(listed);
    /* a restored log is never taken for the history it was copied from */
    cr_assert_eq(kt_ctl(&r, &copy, "--json", "status", NULL), 0);
    cr_assert_eq(r.code, 0, "%s", r.out);
    st = json_object_get(r.json, "services");
    for (size_t i = 0; i < json_array_size(st); i++)
        for (size_t j = 0; j < json_array_size(list); j++)
            if (!strcmp(json_string_value(json_object_get(json_array_get(st, i), "name")),
                        json_string_value(json_object_get(json_array_get(list, j), "name"))))
                cr_assert_str_neq(json_string_value(json_object_get(json_array_get(st, i), "log_id")),
                                  json_string_value(json_object_get(json_array_get(list, j), "log_id")),
                                  "the restored log kept its identity");
    kt_run_free(&r);
    json_decref(m);
    kt_writer_free(&w);
}

/* The ids the hub holds of the gmina's registry stream, as one string. */
static char *
s_at_hub(void)
{
    kt_run_t r;
    char *out;
    kt_ctl(&r, &hub, "--json", "events", "list", "--stream", "registry", "--node", "gmina-2013032", "--limit",
           "100000", NULL);
    out = strdup(r.code == 0 ? r.out : "");
    kt_run_free(&r);
    return out;
}

Test(backup, restore_in_place_on_an_enrolled_gmina_says_to_enrol_again_and_then_delivers_everything)
{
    char dir[PATH_MAX + 32], *ids[5], code[64], *held;
    int seen = 0;
    long at_backup;
    kt_run_t r;
    json_t *st;

    cr_assert_eq(kt_pair_init(&hub, &g, 1), 0);
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_add_institutions(&g, 20, "Przed kopią"), 20);
    /* the 20 and what the node wrote itself (node.described) */
    at_backup = kt_log_events(&g, "registry");
    cr_assert_geq(at_backup, 20);
    S_FMT(dir, "%s/kopia", g.dir);
    cr_assert_eq(kt_ctl(&r, &g, "backup", dir, NULL), 0);
    cr_assert_eq(r.code, 0, "backup: %s", r.err);
    kt_run_free(&r);
    cr_assert_eq(kt_add_institutions(&g, 10, "Po kopii"), 10);
    cr_assert_eq(kt_wait_synced(&g, 30), 0, "synced before the restore");

    /* a running node is not restored, and nothing of it changes */
    cr_assert_eq(kt_ctl(&r, &g, "--json", "restore", dir, NULL), 0);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(s_code(&r, code, sizeof code), "cli.restore_running", "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(kt_node_stop(&g), 0);
    cr_assert_eq(kt_ctl(&r, &g, "restore", dir, NULL), 0);
    cr_assert_eq(r.code, 0, "restore in place: %s", r.err);
    cr_assert(strstr(r.out, "enrol") && strstr(r.out, "keys/node.pub"), "it says to enrol again: %s", r.out);
    kt_run_free(&r);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    for (int i = 0; i < 5; i++) {
        ids[i] = kt_ctl_id(&g, "institution", "add", "--name", "Po odtworzeniu", "--sector", "ngo", "--level",
                           "gmina", NULL);
        cr_assert_not_null(ids[i]);
    }
    /* never silent: the link is held, status and sync status say what to do;
     * a warning at once, an alarm (exit 4) once held longer than alert_after */
    for (int i = 0; i < 100; i++) {
        kt_ctl(&r, &g, "--json", "status", NULL);
        if (json_array_size(json_object_get(r.json, "warnings")))
            break;
        kt_run_free(&r);
        kt_sleep_ms(200);
    }
    cr_assert_eq(r.code, 0, "held for less than alert_after: %s", r.out);
    cr_assert(strstr(r.out, "enrol") && strstr(r.out, "tożsamość"), "status says why and what to do: %s", r.out);
    kt_run_free(&r);
    setenv("KOOP_CLOCK_OFFSET_MS", "7200000", 1); /* two hours on: past the default alert_after of 1 h */
    kt_ctl(&r, &g, "--json", "status", NULL);
    unsetenv("KOOP_CLOCK_OFFSET_MS");
    cr_assert_eq(r.code, 4, "held for longer than alert_after: %s", r.out);
    cr_assert(strstr(json_string_value(json_array_get(json_object_get(r.json, "problems"), 0)), "enrol"), "%s", r.out);
    kt_run_free(&r);
    st = kt_sync_status(&g);
    cr_assert_not_null(st);
    held = json_string_value(json_object_get(st, "last_error")) ? strdup(json_string_value(json_object_get(st, "last_error"))) : NULL;
    cr_assert(held && strstr(held, "odtworzono") && strstr(held, "enrol"), "sync status: %s", held ? held : "(none)");
    free(held);
    json_decref(st);
    {
        char *at = s_at_hub();
        for (int i = 0; i < 5; i++)
            cr_assert(!strstr(at, ids[i]), "spliced onto the old stream before enrolling again");
        free(at);
    }
    /* do what it says: the hub takes the new identities as a new epoch */
    cr_assert_eq(kt_enrol(&hub, &g), 0);
    for (int t = 0; t < 90 && seen < 5; t++) {
        char *at = s_at_hub();
        seen = 0;
        for (int i = 0; i < 5; i++)
            seen += strstr(at, ids[i]) != NULL;
        free(at);
        if (seen < 5)
            kt_sleep_ms(1000);
    }
    cr_assert_eq(seen, 5, "records written after the restore reached the hub: %d of 5", seen);
    cr_assert_eq(kt_wait_synced(&g, 30), 0);
    {
        uint64_t n = 0;
        cr_assert_eq(kt_compare_streams(&g, &hub, "registry", &n), 0, "the hub's copy is the restored log");
        cr_assert_eq((long)n, at_backup + 5, "%ld restored and 5 new: %llu", at_backup, (unsigned long long)n);
    }
    kt_ctl(&r, &g, "status", NULL);
    cr_assert_eq(r.code, 0, "all is well again: %s", r.out);
    kt_run_free(&r);
    for (int i = 0; i < 5; i++)
        free(ids[i]);
}

/* g, a new gmina started with n institutions named prefix..., and its
 * backup in dir (g.dir/kopia). */
static void
s_gmina_backed_up(int n, const char *prefix, char *dir, size_t size)
{
    kt_run_t r;
    cr_assert_eq(kt_node_init(&g, "gmina", "2013032", "Gmina Kobylin-Borzymy", NULL), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_add_institutions(&g, n, prefix), n);
    cr_assert(snprintf(dir, size, "%s/kopia", g.dir) < (int)size, "path too long");
    cr_assert_eq(kt_ctl(&r, &g, "backup", dir, NULL), 0);
    cr_assert_eq(r.code, 0, "backup: %s", r.err);
    kt_run_free(&r);
}

Test(backup, restore_refuses_another_nodes_an_incomplete_and_a_damaged_backup_and_changes_nothing)
{
    char dir[PATH_MAX + 32], path[PATH_MAX + 64], code[64], *before, *after;
    kt_run_t r;
    int fd;

    s_gmina_backed_up(5, "Jest", dir, sizeof dir);
    /* into an existing, non-empty directory: refused */
    cr_assert_eq(kt_ctl(&r, &g, "--json", "backup", dir, NULL), 0);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(s_code(&r, code, sizeof code), "cli.backup_dir", "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(kt_node_stop(&g), 0);

    cr_assert_eq(kt_node_init(&copy, "gmina", "2013072", "Gmina Wysokie Mazowieckie", NULL), 0);
    cr_assert_eq(kt_ctl(&r, &copy, "--json", "restore", dir, NULL), 0);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(s_code(&r, code, sizeof code), "cli.restore_other_node", "%s", r.err);
    kt_run_free(&r);

    /* a byte changed in a copy: the hash tells, nothing of the node changes */
    cr_assert_eq(kt_node_start(&g, 20), 0);
    before = s_listed(&g);
    cr_assert_eq(kt_node_stop(&g), 0);
    S_FMT(path, "%s/registry/data.mdb", dir);
    fd = open(path, O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, "X", 1, 9000), 1);
    close(fd);
    cr_assert_eq(kt_ctl(&r, &g, "--json", "restore", dir, NULL), 0);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(s_code(&r, code, sizeof code), "cli.restore_damaged", "%s", r.err);
    kt_run_free(&r);
    S_FMT(path, "%s/data/%s", g.dir, KOOP_RESTORE_DIR);
    cr_assert_neq(access(path, F_OK), 0, "a refused restore leaves nothing staged");
    cr_assert_eq(kt_node_start(&g, 20), 0, "the node starts as it was");
    after = s_listed(&g);
    cr_assert_str_eq(before, after, "the node's data changed");
    free(before);
    free(after);
    cr_assert_eq(kt_node_stop(&g), 0);

    /* without its manifest it is not a backup */
    S_FMT(path, "%s/manifest.json", dir);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(kt_ctl(&r, &g, "--json", "restore", dir, NULL), 0);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(s_code(&r, code, sizeof code), "cli.restore_incomplete", "%s", r.err);
    kt_run_free(&r);
}

Test(backup, a_node_whose_restore_was_cut_short_does_not_start_until_it_is_run_again)
{
    char path[PATH_MAX + 64], exe[PATH_MAX + 16];
    kt_run_t r;
    FILE *f;

    cr_assert_eq(kt_node_init(&g, "gmina", "2013032", "Gmina Kobylin-Borzymy", NULL), 0);
    S_FMT(path, "%s/data/%s", g.dir, KOOP_RESTORE_DIR);
    cr_assert_eq(mkdir(path, 0700), 0);
    S_FMT(path, "%s/data/%s/source", g.dir, KOOP_RESTORE_DIR);
    f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "/srv/kopie/wtorek\n");
    fclose(f);
    S_FMT(exe, "%s/koop-node", kt_bin());
    {
        char *argv[] = {exe, "-c", g.conf, NULL};
        cr_assert_eq(kt_exec_for(&r, argv, 30), 0);
    }
    cr_assert_eq(r.code, KOOP_EXIT_REFUSED, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.err, "nie zostało dokończone") && strstr(r.err, "restore /srv/kopie/wtorek"),
              "the message names the command to run: %s", r.err);
    kt_run_free(&r);
}

/* t as restore names its DATA/replaced-STAMP (local time, to the second). */
static void
s_stamp(time_t t, char out[32])
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 32, "%Y%m%d-%H%M%S", &tm);
}

/* Data a restore set aside are never overwritten by the next one: with
 * DATA/replaced-STAMP already there for this second and the next ten (as
 * a restore run twice within a second leaves it), a restore sets its data
 * aside in a directory of its own and what was there stays byte for byte. */
Test(backup, a_restore_never_sets_its_data_over_what_an_earlier_one_set_aside)
{
    char dir[PATH_MAX + 32], path[PATH_MAX + 96], stamp[32], buf[64];
    time_t now = time(NULL);
    int fresh = 0;
    kt_run_t r;
    FILE *f;

    s_gmina_backed_up(3, "Przed kopią", dir, sizeof dir);
    cr_assert_eq(kt_node_stop(&g), 0);
    for (int s = 0; s <= 10; s++) {
        s_stamp(now + s, stamp);
        S_FMT(path, "%s/data/replaced-%s", g.dir, stamp);
        cr_assert_eq(mkdir(path, 0700), 0, "%s", path);
        S_FMT(path, "%s/data/replaced-%s/registry", g.dir, stamp);
        cr_assert_eq(mkdir(path, 0700), 0, "%s", path);
        S_FMT(path, "%s/data/replaced-%s/registry/data.mdb", g.dir, stamp);
        cr_assert_not_null(f = fopen(path, "w"), "%s", path);
        cr_assert(fprintf(f, "set aside by the restore before") > 0);
        cr_assert_eq(fclose(f), 0);
    }
    cr_assert_eq(kt_ctl(&r, &g, "restore", dir, NULL), 0);
    cr_assert_eq(r.code, 0, "restore: %s", r.err);
    kt_run_free(&r);
    for (int s = 0; s <= 10; s++) {
        s_stamp(now + s, stamp);
        S_FMT(path, "%s/data/replaced-%s/registry/data.mdb", g.dir, stamp);
        cr_assert_not_null(f = fopen(path, "r"), "%s", path);
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
        cr_assert_str_eq(buf, "set aside by the restore before", "%s was overwritten", path);
        S_FMT(path, "%s/data/replaced-%s-2/registry/data.mdb", g.dir, stamp);
        fresh += access(path, F_OK) == 0;
    }
    cr_assert_eq(fresh, 1, "the restore's own data set aside in %d directories replaced-STAMP-2", fresh);
    cr_assert_eq(kt_node_start(&g, 20), 0, "the restored node starts");
}

/* Puts back by hand (as a copy of the files would) an older registry store,
 * keeping its log identity: what koopctl restore never does. */
static void
s_put_back_by_hand(kt_node_t *n, const char *saved)
{
    char cur[PATH_MAX + 64], lock[PATH_MAX + 64];
    S_FMT(cur, "%s/data/registry/data.mdb", n->dir);
    S_FMT(lock, "%s/data/registry/lock.mdb", n->dir);
    cr_assert_eq(rename(saved, cur), 0);
    unlink(lock);
}

static void
s_save_registry(kt_node_t *n, char *saved, size_t size)
{
    char cur[PATH_MAX + 64];
    char *argv[] = {"/bin/cp", cur, saved, NULL};
    kt_run_t r;
    S_FMT(cur, "%s/data/registry/data.mdb", n->dir);
    cr_assert(snprintf(saved, size, "%s/registry-saved.mdb", n->dir) < (int)size);
    cr_assert_eq(kt_exec(&r, argv), 0);
    cr_assert_eq(r.code, 0);
    kt_run_free(&r);
}

Test(backup, data_put_back_by_hand_under_the_same_identity_stop_the_feeds_and_the_uplink_instead_of_skipping)
{
    char saved[PATH_MAX + 64], *log, *last_error;
    kt_run_t r;
    json_t *st = NULL, *feeds;
    uint64_t pos = 0;
    long held_seq;

    cr_assert_eq(kt_pair_init(&hub, &g, 1), 0);
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_add_institutions(&g, 10, "Pierwsze"), 10);
    cr_assert_eq(kt_wait_synced(&g, 30), 0);
    cr_assert_eq(kt_node_stop(&g), 0);
    s_save_registry(&g, saved, sizeof saved);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_add_institutions(&g, 10, "Drugie"), 10);
    cr_assert_eq(kt_wait_synced(&g, 30), 0, "the hub and the feeds hold 20");
    held_seq = kt_log_events(&g, "registry"); /* the 20 and node.described */
    cr_assert_geq(held_seq, 20);
    cr_assert_eq(kt_node_stop(&g), 0);
    s_put_back_by_hand(&g, saved);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_add_institutions(&g, 3, "Po cofnięciu"), 3);
    /* reporting's feed and the uplink stop, each saying why */
    for (int i = 0; i < 100; i++) {
        int failed = 0;
        kt_ctl(&r, &g, "--json", "report", "status", NULL);
        feeds = json_object_get(r.json, "feeds");
        for (size_t k = 0; k < json_array_size(feeds); k++)
            if (!strcmp(json_string_value(json_object_get(json_array_get(feeds, k), "stream")), "registry")) {
                failed = json_is_true(json_object_get(json_array_get(feeds, k), "failed"));
                pos = (uint64_t)json_integer_value(json_object_get(json_array_get(feeds, k), "position"));
            }
        kt_run_free(&r);
        json_decref(st);
        st = kt_sync_status(&g);
        last_error = (char *)json_string_value(json_object_get(st, "last_error"));
        if (failed && last_error && strstr(last_error, "cofnięto"))
            break;
        kt_sleep_ms(200);
    }
    cr_assert_eq((long)pos, held_seq, "the reporting feed did not move on past what it had (%ld): %llu", held_seq,
                 (unsigned long long)pos);
    cr_assert(last_error && strstr(last_error, "koopctl restore"), "the uplink says what to do: %s",
              last_error ? last_error : "(none)");
    json_decref(st);
    log = kt_node_log(&g);
    cr_assert(log && strstr(log, "dane producenta cofnięto"), "the feed says why in the node's log");
    free(log);
    {
        char *at = s_at_hub();
        cr_assert(!strstr(at, "Po cofni"), "events written at seqs the hub had were sent (spliced)");
        free(at);
    }
    setenv("KOOP_CLOCK_OFFSET_MS", "7200000", 1);
    kt_ctl(&r, &g, "status", NULL);
    unsetenv("KOOP_CLOCK_OFFSET_MS");
    cr_assert_eq(r.code, 4, "status alerts once held longer than alert_after: %s", r.out);
    kt_run_free(&r);
}
