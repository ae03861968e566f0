/*
 * Nothing from outside is trusted (issue 15), with real processes:
 *  - a request with a 1 MB caller is refused before any handler runs, and
 *    twenty of them leave the cases store as it was; a malformed caller
 *    that reaches the audit is stored bounded and escaped;
 *  - `koopctl events list --node ID --stream S` at a hub that holds an
 *    event it cannot decode reports it, moves past it and ends (it looped
 *    for ever), with the other events listed.
 */
#include "kt_cases.h"
#include "kt_sync.h"
#include "cases.pb-c.h"
#include "envelope.pb-c.h"
#include "koop.h"
#include "store.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static kt_gmina_t gmina;
static kt_node_t hub, g;
static int have_gmina;

static void
s_fini(void)
{
    if (have_gmina)
        kt_gmina_teardown(&gmina);
    have_gmina = 0;
    kt_node_destroy(&g);
    kt_node_destroy(&hub);
}

TestSuite(untrusted, .fini = s_fini, .timeout = 180);

static long long
s_file_size(const char *dir, const char *rel)
{
    char path[PATH_MAX + 64];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

Test(untrusted, oversized_caller_is_refused_and_leaves_the_store_as_it_was)
{
    size_t big = 1024 * 1024;
    char *caller = malloc(big + 1);
    Koop__Cases__HouseholdQuery q = KOOP__CASES__HOUSEHOLD_QUERY__INIT;
    Koop__Cases__AuditQuery aq = KOOP__CASES__AUDIT_QUERY__INIT;
    long long before, after;
    uint8_t *payload;
    size_t len;
    kt_run_t r;

    cr_assert_eq(kt_gmina_setup(&gmina), 0);
    have_gmina = 1;
    /* one allowed request first, so the store has its working size */
    cr_assert_eq(kt_request(&gmina.node, "cases", gmina.coord, "household.list", &q.base, 5000, NULL, NULL),
                 KOOP_OK);
    before = s_file_size(gmina.node.dir, "data/cases/data.mdb");
    cr_assert_gt(before, 0);
    memset(caller, 'A', big);
    caller[big] = '\0';
    for (int i = 0; i < 20; i++)
        cr_assert_eq(kt_request(&gmina.node, "cases", caller, "household.list", &q.base, 10000, NULL, NULL),
                     KOOP_MALFORMED, "request %d with a 1 MB caller was not refused", i);
    after = s_file_size(gmina.node.dir, "data/cases/data.mdb");
    cr_assert_leq(after - before, 64 * 1024, "20 refused requests grew the cases store by %lld bytes",
                  after - before);
    free(caller);

    /* a caller that is text but not an id reaches the service, is refused,
     * and its audit entry holds an escaped, bounded form */
    cr_assert_eq(kt_request(&gmina.node, "cases",
                            "Jan Kowalski \xc5\xbc\xc3\xb3\xc5\x82w \\ ---------------------------------------",
                            "household.list", &q.base, 5000, NULL, NULL),
                 KOOP_DENIED);
    aq.has_limit = 1;
    aq.limit = 5;
    cr_assert_eq(kt_request(&gmina.node, "cases", gmina.coord, "audit.show", &aq.base, 5000, &payload, &len), KOOP_OK);
    {
        Koop__Cases__AuditList *l = koop__cases__audit_list__unpack(NULL, len, payload);
        int found = 0;
        cr_assert_not_null(l);
        for (size_t i = 0; i < l->n_items; i++) {
            const char *c = l->items[i]->caller;
            if (c && strncmp(c, "Jan Kowalski ", 13) == 0) {
                found = 1;
                cr_assert(strstr(c, "\\xc5\\xbc") != NULL, "not escaped: %s", c);
                cr_assert(strstr(c, "\\x5c") != NULL, "a backslash is escaped too: %s", c);
                cr_assert_lt(strlen(c), 80);
            }
        }
        cr_assert(found, "no audit entry of the refused caller");
        koop__cases__audit_list__free_unpacked(l, NULL);
    }
    free(payload);
    /* and the service still serves */
    cr_assert_eq(kt_ctl(&r, &gmina.node, "status", NULL), 0);
    cr_assert_eq(r.code, 0);
    kt_run_free(&r);
}

/* Replaces the hub's copy of the gmina's registry event `seq` (in the
 * merged log of the stopped hub's sync store) by an envelope with the same
 * head and a payload field of the wrong wire type: what the hub once
 * acknowledged from a hostile gmina (issue 15). */
static void
s_corrupt_hub_copy(kt_node_t *h, uint64_t seq)
{
    static const char *const tables[] = {"uplink_pos", "uplink_meta", "hub_streams", "hub_ingest", "hub_bind",
                                         "hub_meta", "down_log", "down_rec", NULL};
    char dir[PATH_MAX + 32];
    koop_store_t *store;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, done = 0;

    snprintf(dir, sizeof dir, "%s/data/sync", h->dir);
    cr_assert_eq(koop_store_open(&store, dir, tables), 0);
    cr_assert_eq(mdb_txn_begin(koop_store_env(store), NULL, 0, &txn), 0);
    cr_assert_eq(mdb_cursor_open(txn, koop_store_dbi(store, "log"), &cur), 0);
    while (!done && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Koop__Event *w = koop__event__unpack(NULL, v.mv_size, v.mv_data), *inner;
        cr_assert_not_null(w);
        inner = koop__event__unpack(NULL, w->payload.len, w->payload.data);
        if (inner && inner->stream && strcmp(inner->stream, "registry") == 0 && inner->seq == seq) {
            Koop__Event head = KOOP__EVENT__INIT;
            uint8_t bad[512], *packed;
            size_t n, plen;
            head.node = inner->node;
            head.stream = inner->stream;
            head.has_seq = head.has_scope = 1;
            head.seq = inner->seq;
            head.scope = inner->scope;
            n = koop__event__pack(&head, bad);
            bad[n++] = 0x48; /* field 9 (payload, bytes) as a varint */
            bad[n++] = 0x07;
            w->payload.data = bad;
            w->payload.len = n;
            plen = koop__event__get_packed_size(w);
            packed = malloc(plen);
            koop__event__pack(w, packed);
            v.mv_size = plen;
            v.mv_data = packed;
            cr_assert_eq(mdb_cursor_put(cur, &k, &v, MDB_CURRENT), 0);
            free(packed);
            w->payload.data = NULL; /* not ours to free */
            w->payload.len = 0;
            done = 1;
        }
        if (inner)
            koop__event__free_unpacked(inner, NULL);
        koop__event__free_unpacked(w, NULL);
    }
    cr_assert(done, "the hub has no copy of registry event %llu", (unsigned long long)seq);
    mdb_cursor_close(cur);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    koop_store_destroy(&store);
}

Test(untrusted, events_list_moves_past_an_undecodable_event_and_ends)
{
    int port = 0;
    kt_run_t r;
    char exe[PATH_MAX + 16];

    cr_assert_eq(kt_hub_init(&hub, "2013", "Powiat wysokomazowiecki", &port), 0);
    cr_assert_eq(kt_gmina_init(&g, "2013032", "Kobylin-Borzymy", port, &hub), 0);
    cr_assert_eq(kt_enrol(&hub, &g), 0);
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_add_institutions(&g, 6, "Szkoła"), 6);
    cr_assert_eq(kt_wait_synced(&g, 60), 0);
    kt_node_stop(&hub);
    s_corrupt_hub_copy(&hub, 3);
    cr_assert_eq(kt_node_start(&hub, 20), 0);

    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    {
        char *const argv[] = {"/usr/bin/timeout", "30", exe, "-c", hub.conf, "--json", "events", "list", "--node",
                              "gmina-2013032", "--stream", "registry", NULL};
        cr_assert_eq(kt_exec(&r, argv), 0);
    }
    cr_assert_neq(r.code, 124, "events list did not end (it loops on the undecodable event)");
    cr_assert_eq(r.code, 1, "exit %d, stderr: %s", r.code, r.err);
    cr_assert(strstr(r.err, "nr 3") && strstr(r.err, "nie można odczytać"), "stderr: %s", r.err);
    cr_assert_not_null(r.json, "stdout: %s", r.out);
    /* node.described (seq 1) and the six institutions, less the broken one */
    cr_assert_eq(json_array_size(r.json), 6, "the other six events are listed: %s", r.out);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(r.json, 2), "seq")), 4);
    kt_run_free(&r);
}
