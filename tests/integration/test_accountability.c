/*
 * Accountability (docs/ACCOUNTABILITY.md) on real nodes: the chains verify;
 * an LMDB value edited with a tool (python3-lmdb) in a state table or in a
 * log, and a removed entry, are found at their positions; the audit chain;
 * the hub refuses a stream whose chain does not continue (a gmina restored
 * from an old copy); retention keeps every report figure; the person's own
 * copy holds every field entered and every audit entry about it; approved
 * periods reopen on a change; sync verify repairs a range removed from the
 * hub's copy.
 */
#include "clock.h"
#include "koop.h"
#include "kt_cases.h"
#include "kt_lmdb.h"
#include "kt_report.h"
#include "kt_sync.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_NODES 4
static kt_node_t nodes[MAX_NODES];
static int nnodes;
static kt_gmina_t gmina;
static int gmina_up;

static kt_node_t *
s_new(void)
{
    cr_assert(nnodes < MAX_NODES);
    return &nodes[nnodes++];
}

static void
s_fini(void)
{
    for (int i = 0; i < nnodes; i++)
        cr_expect_eq(kt_node_destroy(&nodes[i]), 0, "sanitizer reports");
    nnodes = 0;
    if (gmina_up)
        kt_gmina_teardown(&gmina);
    gmina_up = 0;
}

TestSuite(accountability, .fini = s_fini, .timeout = 240);

static void
s_gmina(void)
{
    cr_assert_eq(kt_gmina_setup(&gmina), 0);
    gmina_up = 1;
}

/* `koopctl --json [--as AS] events|audit verify ...`: the report (caller
 * decrefs); *exit gets koopctl's exit code. */
static json_t *
s_verify(kt_node_t *n, const char *as, const char *stream, int *exit_code)
{
    kt_run_t r;
    json_t *out;
    if (stream)
        kt_ctl(&r, n, "--json", "events", "verify", "--stream", stream, NULL);
    else
        kt_ctl(&r, n, "--json", "--as", as, "audit", "verify", NULL);
    *exit_code = r.code;
    cr_assert_not_null(r.json, "%s: no report: %s", r.cmd, r.err);
    out = json_incref(r.json);
    kt_run_free(&r);
    return out;
}

/* Asserts the report is clean. */
static void
s_verify_ok(kt_node_t *n, const char *as, const char *stream)
{
    int code;
    json_t *rep = s_verify(n, as, stream, &code);
    cr_assert_eq(code, 0, "%s: %s", stream ? stream : "audit", json_dumps(rep, JSON_COMPACT));
    cr_assert(json_is_true(json_object_get(rep, "ok")));
    json_decref(rep);
}

/* Asserts the first finding has code and seq, and (when given) arguments 1
 * and 2; returns the number of findings. */
static long
s_verify_found(kt_node_t *n, const char *as, const char *stream, const char *code, uint64_t seq, const char *arg1,
               const char *arg2)
{
    int exit_code;
    json_t *rep = s_verify(n, as, stream, &exit_code), *p;
    long found;
    cr_assert_eq(exit_code, 1, "a finding exits 1: %s", json_dumps(rep, JSON_COMPACT));
    cr_assert(json_is_false(json_object_get(rep, "ok")));
    p = json_array_get(json_object_get(rep, "problems"), 0);
    cr_assert_not_null(p);
    cr_assert_str_eq(json_string_value(json_object_get(p, "code")), code, "%s", json_dumps(rep, JSON_COMPACT));
    cr_assert_eq(json_integer_value(json_object_get(p, "seq")), (json_int_t)seq, "%s", json_dumps(rep, JSON_COMPACT));
    if (arg1)
        cr_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "args"), 0)), arg1);
    if (arg2)
        cr_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "args"), 1)), arg2);
    found = (long)json_integer_value(json_object_get(rep, "found"));
    json_decref(rep);
    return found;
}

/* The seq of the first event of `type` in a node's log (koopctl events list). */
static uint64_t
s_seq_of(kt_node_t *n, const char *stream, const char *type)
{
    kt_run_t r;
    size_t i;
    json_t *e;
    uint64_t seq = 0;
    /* LOCAL events are for the gmina's coordinators (issue 12) */
    if (strcmp(stream, "cases") == 0)
        kt_ctl(&r, n, "--json", "--as", gmina.coord, "events", "list", "--stream", stream, "--limit", "10000", NULL);
    else
        kt_ctl(&r, n, "--json", "events", "list", "--stream", stream, "--limit", "10000", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_array_foreach(r.json, i, e) if (!seq && strcmp(json_string_value(json_object_get(e, "type")), type) == 0)
        seq = (uint64_t)json_integer_value(json_object_get(e, "seq"));
    kt_run_free(&r);
    cr_assert_gt(seq, 0, "no %s event", type);
    return seq;
}

Test(accountability, an_edited_record_an_edited_entry_and_a_removed_entry_are_found_at_their_positions)
{
    kt_node_t *n;
    char env[PATH_MAX + 32], key[128], want[24];
    char *hh, *ipw;
    uint64_t seq;

    s_gmina();
    n = &gmina.node;
    hh = kt_as_id(&gmina, gmina.coord, "household", "add", "--name", "Zofia Brzęczyszczykiewicz", "--pesel",
                  "85010112345", "--address", "ul. Lipowa 7", "--size", "2", NULL);
    cr_assert_not_null(hh);
    free(kt_consent(&gmina, gmina.coord, hh, "2026-01-10")); /* issue 12: an IPW needs the family's consent */
    ipw = kt_as_id(&gmina, gmina.coord, "ipw", "open", "--household", hh, "--coordinator", gmina.sw, "--opened",
                   "2026-01-10", NULL);
    cr_assert_not_null(ipw);
    free(kt_as_id(&gmina, gmina.coord, "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "2", "--target",
                  "7", "--description", "Praca zarobkowa", NULL));
    s_verify_ok(n, NULL, "registry");
    s_verify_ok(n, NULL, "cases");

    /* 1. a state table: the household's name in its record */
    cr_assert_eq(kt_node_stop(n), 0);
    kt_lmdb_env(n, "cases", env, sizeof env);
    cr_assert_eq(kt_lmdb_edit(env, "household", NULL, "Zofia", "Zofja", key, sizeof key), 0);
    cr_assert_eq(kt_node_start(n, 20), 0);
    /* the last event that made the record: the IPW's opening added it to the household */
    seq = s_seq_of(n, "cases", "local.ipw.opened");
    s_verify_found(n, NULL, "cases", "verify.record_differs", seq, "household", hh);
    s_verify_ok(n, NULL, "registry");
    /* put back byte for byte: nothing found again */
    cr_assert_eq(kt_node_stop(n), 0);
    cr_assert_eq(kt_lmdb_edit(env, "household", key, "Zofja", "Zofia", NULL, 0), 0);
    cr_assert_eq(kt_node_start(n, 20), 0);
    s_verify_ok(n, NULL, "cases");

    /* 2. the log: a LOCAL entry's payload (the goal's description) */
    seq = s_seq_of(n, "cases", "local.goal.added");
    cr_assert_eq(kt_node_stop(n), 0);
    kt_lmdb_seq_key(seq, key);
    cr_assert_eq(kt_lmdb_edit(env, "log", key, "zarobkowa", "zarobkowe", NULL, 0), 0);
    cr_assert_eq(kt_node_start(n, 20), 0);
    s_verify_found(n, NULL, "cases", "verify.entry_changed", seq, NULL, NULL);
    cr_assert_eq(kt_node_stop(n), 0);
    cr_assert_eq(kt_lmdb_edit(env, "log", key, "zarobkowe", "zarobkowa", NULL, 0), 0);
    cr_assert_eq(kt_node_start(n, 20), 0);
    s_verify_ok(n, NULL, "cases");

    /* the registry's log: an institution's SHARED entry (both chains) */
    {
        char renv[PATH_MAX + 32], rkey[128];
        uint64_t rseq = s_seq_of(n, "registry", "institution.added");
        kt_lmdb_env(n, "registry", renv, sizeof renv);
        cr_assert_eq(kt_node_stop(n), 0);
        kt_lmdb_seq_key(rseq, rkey);
        cr_assert_eq(kt_lmdb_edit(renv, "log", rkey, "GOPS", "GOPX", NULL, 0), 0);
        cr_assert_eq(kt_node_start(n, 20), 0);
        cr_assert_geq(s_verify_found(n, NULL, "registry", "verify.entry_changed", rseq, NULL, NULL), 2,
                      "the entry, its SHARED link and the record against the changed event");
    }

    /* 3. an entry removed from the middle of the cases log */
    seq = s_seq_of(n, "cases", "local.ipw.opened");
    cr_assert_eq(kt_node_stop(n), 0);
    kt_lmdb_seq_key(seq, key);
    cr_assert_eq(kt_lmdb_edit(env, "log", key, "", NULL, NULL, 0), 0);
    cr_assert_eq(kt_node_start(n, 20), 0);
    snprintf(want, sizeof want, "%llu", (unsigned long long)seq);
    s_verify_found(n, NULL, "cases", "verify.entry_missing", seq, want, want);
    free(hh);
    free(ipw);
}

Test(accountability, the_audit_chain_finds_an_edited_and_a_removed_entry)
{
    kt_node_t *n;
    char env[PATH_MAX + 32], key[128];
    char *hh;
    kt_run_t r;

    s_gmina();
    n = &gmina.node;
    hh = kt_as_id(&gmina, gmina.sw, "household", "add", "--name", "Rodzina Nowaków", "--size", "3", NULL);
    cr_assert_not_null(hh);
    kt_as(&r, &gmina, gmina.sw, "household", "show", "--household", hh, NULL);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.outsider, "household", "show", "--household", hh, NULL); /* refused: audited too */
    kt_run_free(&r);
    s_verify_ok(n, gmina.coord, NULL);
    /* not for everyone */
    cr_assert_eq(kt_ctl_refused(n, "access.denied.coordinator_only", NULL, "--as", gmina.sw, "audit", "verify", NULL),
                 1);

    cr_assert_eq(kt_node_stop(n), 0);
    kt_lmdb_env(n, "cases", env, sizeof env);
    /* the refused attempt made to look allowed */
    cr_assert_eq(kt_lmdb_edit(env, "audit", NULL, "access.denied.household", "access.denied.h0usehold", key,
                              sizeof key),
                 0);
    cr_assert_eq(kt_node_start(n, 20), 0);
    s_verify_found(n, gmina.coord, NULL, "verify.audit_changed", strtoull(key, NULL, 16), NULL, NULL);
    cr_assert_eq(kt_node_stop(n), 0);
    cr_assert_eq(kt_lmdb_edit(env, "audit", key, "access.denied.h0usehold", "access.denied.household", NULL, 0), 0);
    /* the first entry removed */
    kt_lmdb_seq_key(1, key);
    cr_assert_eq(kt_lmdb_edit(env, "audit", key, "", NULL, NULL, 0), 0);
    cr_assert_eq(kt_node_start(n, 20), 0);
    s_verify_found(n, gmina.coord, NULL, "verify.audit_missing", 1, "1", "1");
    free(hh);
}

/* The gmina's registry restored from an old copy (same log identity) writes
 * a history that differs from what the hub holds: the hub refuses it
 * instead of splicing it onto the stream. */
Test(accountability, the_hub_refuses_a_stream_whose_chain_does_not_continue)
{
    kt_node_t *hub = s_new(), *g = s_new();
    char env[PATH_MAX + 32], backup[PATH_MAX + 48], cmd[4 * PATH_MAX];
    int port = 0, refused = 0;
    uint64_t n = 0;
    json_t *st;

    cr_assert_eq(kt_hub_init(hub, "2013", "Powiat", &port), 0);
    cr_assert_eq(kt_gmina_init(g, "2013032", "Kobylin-Borzymy", port, hub), 0);
    cr_assert_eq(kt_enrol(hub, g), 0);
    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    cr_assert_eq(kt_add_institutions(g, 5, "Przed"), 5);
    cr_assert_eq(kt_wait_synced(g, 30), 0);
    /* a copy of the registry's files, then more events the hub takes */
    cr_assert_eq(kt_node_stop(g), 0);
    kt_lmdb_env(g, "registry", env, sizeof env);
    snprintf(backup, sizeof backup, "%s.copy", env);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", env, backup);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    cr_assert_eq(kt_add_institutions(g, 5, "Po"), 5);
    cr_assert_eq(kt_wait_synced(g, 30), 0);
    cr_assert_eq(kt_compare_streams(g, hub, "registry", &n), 0);
    cr_assert_eq(n, 1 + 5 + 5, "node.described, then the institutions");
    /* restored from the copy: the same log id, another history from seq 6 on */
    cr_assert_eq(kt_node_stop(g), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mv '%s' '%s'", env, backup, env);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    cr_assert_eq(kt_add_institutions(g, 7, "Inna historia"), 7);
    for (int i = 0; i < 100 && !refused; i++) {
        json_t *s = kt_sync_status(g);
        const char *state = json_string_value(
            json_object_get(json_object_get(json_object_get(s, "streams"), "registry"), "state"));
        refused = state && strstr(state, "łańcuch") != NULL;
        json_decref(s);
        if (!refused)
            kt_sleep_ms(200);
    }
    cr_assert(refused, "the uplink did not report the hub's refusal");
    /* the hub kept the old history, nothing spliced onto it */
    st = kt_sync_status(hub);
    {
        size_t i;
        json_t *node, *reg = NULL;
        json_array_foreach(json_object_get(st, "nodes"), i, node)
            if (!strcmp(json_string_value(json_object_get(node, "node")), "gmina-2013032"))
                reg = json_object_get(json_object_get(node, "streams"), "registry");
        cr_assert_not_null(reg);
        cr_assert_eq(json_integer_value(json_object_get(reg, "events")), 11);
        cr_assert_eq(json_integer_value(json_object_get(reg, "acked")), 11);
    }
    json_decref(st);
    {
        kt_run_t r;
        kt_ctl(&r, hub, "--json", "events", "list", "--stream", "registry", "--node", "gmina-2013032", "--limit", "100",
               NULL);
        cr_assert_eq(r.code, 0);
        cr_assert_eq(json_array_size(r.json), 11);
        cr_assert_null(strstr(r.out, "Inna historia"), "the other history reached the hub");
        kt_run_free(&r);
    }
}

/* Waits until the hub (restarted) has taken the node's HELLO again. */
static void
s_wait_hub_connected(kt_node_t *hub, const char *node)
{
    for (int i = 0; i < 150; i++) {
        json_t *st = kt_sync_status(hub), *x;
        size_t k;
        int up = 0;
        json_array_foreach(json_object_get(st, "nodes"), k, x) if (!strcmp(json_string_value(json_object_get(x, "node")),
                                                                            node)) up =
            json_is_true(json_object_get(x, "connected"));
        json_decref(st);
        if (up)
            return;
        kt_sleep_ms(200);
    }
    cr_assert_fail("the node did not connect to the hub again");
}

/* A range deliberately removed from the hub's copy (its index entries
 * deleted with python3-lmdb while the hub was stopped): sync verify finds
 * the ranges that differ and the hub gets them back; the hub's status shows
 * the result. */
Test(accountability, sync_verify_finds_and_repairs_a_range_removed_from_the_hubs_copy)
{
    kt_node_t *hub = s_new(), *g = s_new();
    char env[PATH_MAX + 32], key[17];
    int port = 0;
    uint64_t n = 0;
    kt_run_t r;
    json_t *st, *reg;

    cr_assert_eq(kt_hub_init(hub, "2013", "Powiat", &port), 0);
    cr_assert_eq(kt_gmina_init(g, "2013032", "Kobylin-Borzymy", port, hub), 0);
    cr_assert_eq(kt_enrol(hub, g), 0);
    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    /* in three steps, so that no batch (one hub_ingest run) crosses 50/51 or 91/92 (seq 1 is the
     * registry's node.described) */
    cr_assert_eq(kt_add_institutions(g, 49, "Instytucja"), 49);
    cr_assert_eq(kt_wait_synced(g, 60), 0);
    cr_assert_eq(kt_add_institutions(g, 41, "Instytucja B"), 41);
    cr_assert_eq(kt_wait_synced(g, 60), 0);
    cr_assert_eq(kt_add_institutions(g, 110, "Instytucja C"), 110);
    cr_assert_eq(kt_wait_synced(g, 60), 0);
    /* a synced gmina: nothing differs */
    kt_ctl(&r, g, "--json", "sync", "verify", NULL);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    cr_assert(json_is_true(json_object_get(r.json, "ok")), "%s", r.out);
    kt_run_free(&r);

    /* seqs 51..91 (the second step) of the gmina's registry stream removed from the hub's copy */
    cr_assert_eq(kt_node_stop(hub), 0);
    kt_lmdb_env(hub, "sync", env, sizeof env);
    {
        /* hub_ingest key: node \0 stream \0 be32 epoch be64 seq of a run's
         * first event; the runs of seqs 51..91 begin there */
        int runs = 0;
        for (uint64_t seq = 51; seq <= 91; seq++) {
            char hex[256];
            const char *prefix = "676d696e612d32303133303332" "00" "7265676973747279" "00" "00000001";
            kt_lmdb_seq_key(seq, key);
            snprintf(hex, sizeof hex, "%s%s", prefix, key);
            runs += kt_lmdb_edit(env, "hub_ingest", hex, "", NULL, NULL, 0) == 0;
        }
        cr_assert_geq(runs, 1, "no run of the hub's copy began in 51..91");
    }
    cr_assert_eq(kt_node_start(hub, 20), 0);
    s_wait_hub_connected(hub, "gmina-2013032");
    cr_assert_eq(kt_wait_synced(g, 30), 0);
    cr_assert_neq(kt_compare_streams(g, hub, "registry", &n), 0, "the copy lacks 41 events");

    kt_ctl(&r, g, "--json", "sync", "verify", NULL);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    reg = NULL;
    {
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(r.json, "streams"), i, s)
            if (!strcmp(json_string_value(json_object_get(s, "stream")), "registry"))
                reg = s;
    }
    cr_assert_not_null(reg, "%s", r.out);
    cr_assert_geq(json_array_size(json_object_get(reg, "differing")), 1, "%s", r.out);
    cr_assert_eq(json_integer_value(json_object_get(reg, "repaired")), 41, "%s", r.out);
    cr_assert(json_is_true(json_object_get(reg, "ok")), "%s", r.out);
    {
        /* the differing ranges found lie around the removed one */
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(reg, "differing"), i, d) {
            cr_assert_leq(json_integer_value(json_object_get(d, "from")), 91);
            cr_assert_geq(json_integer_value(json_object_get(d, "to")), 51);
        }
    }
    kt_run_free(&r);
    cr_assert_eq(kt_compare_streams(g, hub, "registry", &n), 0, "the hub's copy is whole again");
    cr_assert_eq(n, 1 + 200);
    /* the hub shows the result (and counts it) */
    st = kt_sync_status(hub);
    cr_assert_geq(json_integer_value(json_object_get(st, "verify_repaired")), 41, "%s", json_dumps(st, JSON_COMPACT));
    {
        size_t i;
        json_t *node, *v = NULL;
        json_array_foreach(json_object_get(st, "nodes"), i, node)
            if (!strcmp(json_string_value(json_object_get(node, "node")), "gmina-2013032"))
                v = json_object_get(node, "verify");
        cr_assert(json_is_object(v), "%s", json_dumps(st, JSON_COMPACT));
        cr_assert(json_is_true(json_object_get(v, "ok")));
    }
    json_decref(st);
    /* and a second run finds nothing */
    kt_ctl(&r, g, "--json", "sync", "verify", NULL);
    cr_assert_eq(r.code, 0, "%s", r.out);
    kt_run_free(&r);
}

/* ---- approved periods ---- */

/* The approvals of unit (report approvals --unit) as listed on n: the one of
 * `period`, or NULL (caller decrefs). */
static json_t *
s_approval(kt_node_t *n, const char *unit, const char *period)
{
    kt_run_t r;
    size_t i;
    json_t *a, *found = NULL;
    kt_ctl(&r, n, "--json", "report", "approvals", "--unit", unit, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_array_foreach(r.json, i, a) if (!strcmp(json_string_value(json_object_get(a, "period")), period)) found =
        json_incref(a);
    kt_run_free(&r);
    return found;
}

/* Waits (up to 30 s) until unit's approval of period on n has `state`. */
static json_t *
s_wait_approval(kt_node_t *n, const char *unit, const char *period, const char *state)
{
    for (int i = 0; i < 150; i++) {
        json_t *a = s_approval(n, unit, period);
        if (a && !strcmp(json_string_value(json_object_get(a, "state")), state))
            return a;
        json_decref(a);
        kt_sleep_ms(200);
    }
    cr_assert_fail("%s: the approval of %s by %s never became %s", n->dir, period, unit, state);
    return NULL;
}

/* "approved", "provisional" or "withheld" of a report of unit on n. */
static char *
s_report_approval(kt_node_t *n, const char *unit, const char *from, const char *to, size_t *nfigures)
{
    kt_run_t r;
    char *out;
    kt_ctl(&r, n, "--json", "report", "indicators", "--unit", unit, "--from", from, "--to", to, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    out = strdup(json_string_value(json_object_get(r.json, "approval")) ?: "");
    if (nfigures)
        *nfigures = json_array_size(json_object_get(r.json, "figures"));
    kt_run_free(&r);
    return out;
}

static int
s_has_str(json_t *arr, const char *s)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) if (json_is_string(x) && !strcmp(json_string_value(x), s)) return 1;
    return 0;
}

Test(accountability, a_period_approved_changed_and_reopened_with_a_reason_both_sides_see)
{
    kt_node_t *hub = s_new(), *g = s_new();
    char *gops, *coord, *sw, *hh, *ipw, *hinst, *hcoord, *state;
    int port = 0;
    size_t nfig;
    json_t *a;
    kt_run_t r;

    cr_assert_eq(kt_hub_init(hub, "2013", "Powiat", &port), 0);
    cr_assert_eq(kt_gmina_init(g, "2013032", "Kobylin-Borzymy", port, hub), 0);
    cr_assert_eq(kt_enrol(hub, g), 0);
    cr_assert_eq(kt_node_start(hub, 20), 0);
    cr_assert_eq(kt_node_start(g, 20), 0);
    hinst = kt_ctl_id(hub, "institution", "add", "--name", "PCPR", "--sector", "family_support", "--level", "powiat",
                      NULL);
    hcoord = kt_ctl_id(hub, "person", "add", "--name", "Koordynator Powiatu", "--institution", hinst, "--role",
                       "coordinator", NULL);
    gops = kt_ctl_id(g, "institution", "add", "--name", "GOPS", "--sector", "social_assistance", "--level", "gmina",
                     NULL);
    coord = kt_ctl_id(g, "person", "add", "--name", "Ewa Koordynator", "--institution", gops, "--role", "coordinator",
                      NULL);
    sw = kt_ctl_id(g, "person", "add", "--name", "Anna Nowak", "--institution", gops, "--role", "social_worker", NULL);
    cr_assert(hinst && hcoord && gops && coord && sw);
    kt_ctl(&r, g, "--json", "--as", coord, "household", "add", "--name", "Rodzina", "--size", "3", NULL);
    hh = strdup(json_string_value(json_object_get(r.json, "id")));
    kt_run_free(&r);
    kt_ctl(&r, g, "--json", "--as", coord, "consent", "record", "--household", hh, "--purpose", "Zgoda na ZZK",
           "--share-with", gops, "--date", "2020-01-10", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    kt_ctl(&r, g, "--json", "--as", coord, "ipw", "open", "--household", hh, "--coordinator", coord, "--opened",
           "2020-01-10", NULL);
    ipw = strdup(json_string_value(json_object_get(r.json, "id")));
    kt_run_free(&r);
    cr_assert_eq(kt_wait_synced(g, 30), 0);

    /* only a coordinator, only a month or a quarter that has ended */
    cr_assert_eq(kt_ctl_refused(g, "access.denied.coordinator_action", NULL, "--as", sw, "report", "approve",
                                "--period", "2020-01", NULL),
                 1);
    cr_assert_eq(kt_ctl_refused(g, "approval.period", "period", "--as", coord, "report", "approve", "--period", "2020-13",
                                NULL),
                 1);
    {
        char month[11];
        koop_date_today(month);
        month[7] = '\0';
        cr_assert_eq(kt_ctl_refused(g, "approval.not_ended", "period", "--as", coord, "report", "approve", "--period",
                                    month, NULL),
                     1);
    }
    /* lower levels first */
    cr_assert_eq(kt_ctl_refused(hub, "approval.below", "period", "--as", hcoord, "report", "approve", "--period",
                                "2020-01", NULL),
                 1);
    kt_ctl(&r, g, "--json", "--as", coord, "report", "approve", "--period", "2020-01", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "approved");
    kt_run_free(&r);
    cr_assert_eq(kt_ctl_refused(g, "approval.already", "period", "--as", coord, "report", "approve", "--period",
                                "2020-01", NULL),
                 1);
    state = s_report_approval(g, "gmina-2013032", "2020-01", "2020-01", NULL);
    cr_assert_str_eq(state, "approved");
    free(state);

    /* the hub marks the gmina's figures */
    json_decref(s_wait_approval(hub, "gmina-2013032", "2020-01", "approved"));
    state = s_report_approval(hub, "gmina-2013032", "2020-01", "2020-01", NULL);
    cr_assert_str_eq(state, "approved");
    free(state);
    state = s_report_approval(hub, "gmina-2013032", "2020-01", "2020-02", NULL);
    cr_assert_str_eq(state, "provisional", "February is not approved");
    free(state);
    kt_ctl(&r, hub, "--json", "--as", hcoord, "report", "approve", "--period", "2020-01", NULL);
    cr_assert_eq(r.code, 0, "the gmina approved: the powiat may: %s", r.err);
    kt_run_free(&r);

    /* a change that touches January: both sides see it reopened and why */
    kt_ctl(&r, g, "--json", "--as", coord, "ipw", "activate", "--ipw", ipw, "--date", "2020-01-20", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    a = s_wait_approval(g, "gmina-2013032", "2020-01", "reopened");
    cr_assert_str_eq(json_string_value(json_object_get(a, "reason")), "figures_changed");
    cr_assert(s_has_str(json_object_get(a, "changed"), "ipw_signed"), "%s", json_dumps(a, JSON_COMPACT));
    json_decref(a);
    a = s_wait_approval(hub, "gmina-2013032", "2020-01", "reopened");
    cr_assert_str_eq(json_string_value(json_object_get(a, "reason")), "figures_changed");
    cr_assert(s_has_str(json_object_get(a, "changed"), "ipw_signed"), "the hub sees the same reason");
    json_decref(a);
    /* the powiat's own approval: its figures changed (the gmina's facts came
     * first) or the gmina below is no longer approved (its reopening came first) */
    a = s_wait_approval(hub, "hub-2013", "2020-01", "reopened");
    cr_assert(s_has_str(json_object_get(a, "changed"), "gmina-2013032") ||
                  s_has_str(json_object_get(a, "changed"), "ipw_signed"),
              "%s", json_dumps(a, JSON_COMPACT));
    json_decref(a);
    state = s_report_approval(hub, "gmina-2013032", "2020-01", "2020-01", &nfig);
    cr_assert_str_eq(state, "provisional");
    cr_assert_gt(nfig, 0, "provisional figures are given");
    free(state);
    /* the events are the node's SHARED reporting stream */
    kt_ctl(&r, g, "--json", "events", "list", "--stream", "reporting", NULL);
    cr_assert(strstr(r.out, "report.approved") && strstr(r.out, "report.reopened"), "%s", r.out);
    kt_run_free(&r);

    /* publish = approved: a period not approved is withheld above the gmina */
    cr_assert_eq(kt_node_stop(hub), 0);
    {
        char cmd[PATH_MAX + 100];
        snprintf(cmd, sizeof cmd, "sed -i 's/^# publish = provisional/publish = approved/' '%s'", hub->conf);
        cr_assert_eq(system(cmd), 0);
    }
    cr_assert_eq(kt_node_start(hub, 20), 0);
    state = s_report_approval(hub, "gmina-2013032", "2020-01", "2020-01", &nfig);
    cr_assert_str_eq(state, "withheld");
    cr_assert_eq(nfig, 0, "no figure of an unapproved period is published");
    free(state);
    /* approved again: published */
    kt_ctl(&r, g, "--json", "--as", coord, "report", "approve", "--period", "2020-01", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "round")), 2);
    kt_run_free(&r);
    json_decref(s_wait_approval(hub, "gmina-2013032", "2020-01", "approved"));
    state = s_report_approval(hub, "gmina-2013032", "2020-01", "2020-01", &nfig);
    cr_assert_str_eq(state, "approved");
    cr_assert_gt(nfig, 0);
    free(state);
    free(gops);
    free(coord);
    free(sw);
    free(hh);
    free(ipw);
    free(hinst);
    free(hcoord);
}

/* ---- retention ---- */

/* Every figure of `report indicators` for [from, to], as JSON text. */
static char *
s_figures(kt_node_t *n, const char *from, const char *to)
{
    kt_run_t r;
    char *out;
    kt_ctl(&r, n, "--json", "report", "indicators", "--from", from, "--to", to, "--as-of", "2030-01-01", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    out = json_dumps(json_object_get(r.json, "figures"), JSON_COMPACT | JSON_SORT_KEYS);
    kt_run_free(&r);
    return out;
}

/* Waits until reporting applied at least `events` events. */
static void
s_wait_applied(kt_node_t *n, long events)
{
    for (int i = 0; i < 150; i++) {
        kt_run_t r;
        long got;
        kt_ctl(&r, n, "--json", "report", "status", NULL);
        got = (long)json_integer_value(json_object_get(r.json, "applied"));
        kt_run_free(&r);
        if (got >= events)
            return;
        kt_sleep_ms(200);
    }
    cr_assert_fail("reporting did not apply %ld events", events);
}

static long
s_shared_events(kt_node_t *n)
{
    kt_run_t r;
    long shared = 0;
    size_t i;
    json_t *e;
    kt_ctl(&r, n, "--json", "events", "list", "--stream", "cases", "--limit", "10000", NULL);
    json_array_foreach(r.json, i, e) shared += !strcmp(json_string_value(json_object_get(e, "scope")), "shared");
    kt_run_free(&r);
    return shared;
}

Test(accountability, retention_removes_expired_personal_data_and_every_report_figure_stays)
{
    static const char *periods[][2] = {{"2010", "2010"}, {"2011", "2011"}, {"2012", "2012"}, {"2024", "2024"},
                                       {"2010", "2025"}, {"2012-Q1", "2012-Q1"}};
    char *before[6], *hhA, *hhB, *hhC, *ipwA, *ipwB, *goal, *task;
    char env[PATH_MAX + 32], copy[PATH_MAX + 48];
    kt_run_t r;
    long shared;

    /* the node's clock six years on: the old audit entries (made now) pass audit_years */
    setenv("KOOP_CLOCK_OFFSET_MS", "189345600000", 1);
    s_gmina();
    unsetenv("KOOP_CLOCK_OFFSET_MS");
    /* A: an IPW closed in 2012 (expired: case_years 10); B: closed in 2024 (kept);
     * C: registered in 2015, never in an IPW (expired: household_years 10) */
    hhA = kt_as_id(&gmina, gmina.coord, "household", "add", "--name", "Zofia Brzęczyszczykiewicz", "--pesel",
                   "85010112345", "--birth", "1985-01-01", "--address", "ul. Lipowa 7", "--phone", "+48600100200",
                   "--size", "3", "--date", "2010-02-01", NULL);
    kt_as(&r, &gmina, gmina.coord, "household", "member", "add", "--household", hhA, "--name", "Jaś Brzęczyszczykiewicz",
          "--birth", "2005-05-05", "--relation", "syn", "--date", "2010-02-01", NULL);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.coord, "consent", "record", "--household", hhA, "--purpose", "Zgoda na ZZK Lipowa",
          "--share-with", gmina.kpp, "--date", "2010-02-01", NULL);
    kt_run_free(&r);
    ipwA = kt_as_id(&gmina, gmina.coord, "ipw", "open", "--household", hhA, "--coordinator", gmina.sw, "--opened",
                    "2010-03-01", NULL);
    cr_assert(hhA && ipwA);
    kt_as(&r, &gmina, gmina.coord, "ipw", "member", "add", "--ipw", ipwA, "--person", gmina.cop, "--date", "2010-03-02",
          NULL);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.coord, "ipw", "activate", "--ipw", ipwA, "--date", "2010-03-15", NULL);
    kt_run_free(&r);
    goal = kt_as_id(&gmina, gmina.coord, "goal", "add", "--ipw", ipwA, "--area", "work", "--baseline", "2", "--target",
                    "8", "--description", "Praca w piekarni Lipowa", "--date", "2010-03-20", NULL);
    kt_as(&r, &gmina, gmina.coord, "goal", "scale", "--goal", goal, "--value", "6", "--date", "2011-03-01", NULL);
    kt_run_free(&r);
    task = kt_as_id(&gmina, gmina.coord, "task", "add", "--ipw", ipwA, "--owner", gmina.sw, "--due", "2010-06-01",
                    "--title", "Rozmowa w piekarni Lipowa", "--goal", goal, "--date", "2010-03-20", NULL);
    kt_as(&r, &gmina, gmina.coord, "task", "done", "--task", task, "--date", "2010-05-20", NULL);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.coord, "meeting", "add", "--ipw", ipwA, "--date", "2010-04-01", "--participants", gmina.sw,
          "--topic", "Sytuacja Zofii", "--decisions", "Wniosek o zasiłek Lipowa", NULL);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.coord, "referral", "send", "--ipw", ipwA, "--service", gmina.service, "--date",
          "2010-04-02", "--note", "Pilne dla Zofii", NULL);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.coord, "ipw", "close", "--ipw", ipwA, "--date", "2012-02-01", "--outcome", "success",
          "--reason", "Zofia pracuje", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    hhB = kt_as_id(&gmina, gmina.coord, "household", "add", "--name", "Rodzina Niedawna", "--size", "2", "--date",
                   "2024-01-05", NULL);
    if (hhB)
        free(kt_consent(&gmina, gmina.coord, hhB, "2024-01-05"));
    ipwB = kt_as_id(&gmina, gmina.coord, "ipw", "open", "--household", hhB, "--coordinator", gmina.sw, "--opened",
                    "2024-01-10", NULL);
    kt_as(&r, &gmina, gmina.coord, "ipw", "close", "--ipw", ipwB, "--date", "2024-06-01", "--outcome", "discontinued",
          NULL);
    kt_run_free(&r);
    hhC = kt_as_id(&gmina, gmina.coord, "household", "add", "--name", "Dawna Rodzina Bez IPW", "--size", "1", "--date",
                   "2015-05-05", NULL);
    cr_assert(hhB && ipwB && hhC);

    shared = s_shared_events(&gmina.node);
    s_wait_applied(&gmina.node, shared);
    for (size_t i = 0; i < 6; i++)
        before[i] = s_figures(&gmina.node, periods[i][0], periods[i][1]);

    /* a dry run says what would go and changes nothing */
    kt_as(&r, &gmina, gmina.coord, "retention", "run", "--dry-run", "true", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_eq(json_array_size(json_object_get(r.json, "households")), 2, "%s", r.out);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.coord, "household", "show", "--household", hhA, NULL);
    cr_assert(strstr(r.out, "Brzęczyszczykiewicz"), "the dry run removed something");
    kt_run_free(&r);
    /* not for everyone */
    cr_assert_eq(kt_ctl_refused(&gmina.node, "access.denied.coordinator_action", NULL, "--as", gmina.sw, "retention",
                                "run", NULL),
                 1);
    /* never ahead of the calendar */
    cr_assert_eq(kt_ctl_refused(&gmina.node, "date.future", "as_of", "--as", gmina.coord, "retention", "run", "--as-of",
                                "2099-01-01", NULL),
                 1);

    kt_as(&r, &gmina, gmina.coord, "retention", "run", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    {
        json_t *hs = json_object_get(r.json, "households"), *h;
        size_t i;
        int a = 0, c = 0;
        cr_assert_eq(json_array_size(hs), 2, "%s", r.out);
        json_array_foreach(hs, i, h) {
            const char *id = json_string_value(json_object_get(h, "household"));
            const char *rule = json_string_value(json_object_get(h, "rule"));
            if (!strcmp(id, hhA)) {
                a = 1;
                cr_assert_str_eq(rule, "case_years");
                cr_assert_str_eq(json_string_value(json_object_get(h, "since")), "2012-02-01");
                cr_assert_gt(json_integer_value(json_object_get(h, "events")), 10, "its LOCAL entries");
            } else if (!strcmp(id, hhC)) {
                c = 1;
                cr_assert_str_eq(rule, "household_years");
            }
        }
        cr_assert(a && c, "%s", r.out);
        cr_assert_gt(json_integer_value(json_object_get(r.json, "audit_removed_to")), 0, "old audit entries go too");
    }
    kt_run_free(&r);

    /* the personal data is gone from the records ... */
    kt_as(&r, &gmina, gmina.coord, "household", "show", "--household", hhA, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_null(strstr(r.out, "Brzęczyszczykiewicz"));
    cr_assert_null(strstr(r.out, "85010112345"));
    cr_assert_null(strstr(r.out, "Lipowa"));
    cr_assert_null(strstr(r.out, "+48600100200"));
    cr_assert_eq(json_integer_value(json_object_get(r.json, "size")), 3, "the pseudonymous facts stay");
    cr_assert(json_is_string(json_object_get(r.json, "erased")));
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.coord, "ipw", "show", "--ipw", ipwA, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_null(strstr(r.out, "Lipowa"), "%s", r.out);
    cr_assert_null(strstr(r.out, "Zofi"), "%s", r.out);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "closed")), "2012-02-01");
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.coord, "ipw", "timeline", "--ipw", ipwA, NULL);
    cr_assert_null(strstr(r.out, "Lipowa"));
    kt_run_free(&r);
    /* ... and from the log, which still verifies */
    kt_ctl(&r, &gmina.node, "--json", "--as", gmina.coord, "events", "list", "--stream", "cases", "--limit", "10000",
           NULL);
    cr_assert_null(strstr(r.out, "Brzęczyszczykiewicz"));
    cr_assert_null(strstr(r.out, "Lipowa"));
    cr_assert(strstr(r.out, "retention.erased") && strstr(r.out, "retention.run"), "what was removed is logged");
    cr_assert(strstr(r.out, "Rodzina Niedawna"), "B is not due yet");
    kt_run_free(&r);
    s_verify_ok(&gmina.node, NULL, "cases");
    s_verify_ok(&gmina.node, gmina.coord, NULL);
    /* a compacting copy (the backup) holds no trace of it */
    kt_lmdb_env(&gmina.node, "cases", env, sizeof env);
    snprintf(copy, sizeof copy, "%s.compact", env);
    {
        char *argv[] = {"/usr/bin/mdb_copy", "-c", env, copy, NULL};
        cr_assert_eq(mkdir(copy, 0700), 0);
        kt_exec(&r, argv);
        cr_assert_eq(r.code, 0, "mdb_copy: %s", r.err);
        kt_run_free(&r);
    }
    cr_assert_eq(kt_dir_contains(copy, "Brzęczyszczykiewicz"), 0);
    cr_assert_eq(kt_dir_contains(copy, "Lipowa"), 0);
    cr_assert_eq(kt_dir_contains(copy, "Rodzina Niedawna"), 1, "the check would see it");

    /* every figure of every period is what it was, also after a rebuild */
    for (size_t i = 0; i < 6; i++) {
        char *after = s_figures(&gmina.node, periods[i][0], periods[i][1]);
        cr_assert_str_eq(after, before[i], "%s..%s changed", periods[i][0], periods[i][1]);
        free(after);
    }
    kt_ctl(&r, &gmina.node, "--json", "report", "rebuild", NULL);
    cr_assert_eq(r.code, 0);
    kt_run_free(&r);
    s_wait_applied(&gmina.node, shared);
    for (size_t i = 0; i < 6; i++) {
        char *after = s_figures(&gmina.node, periods[i][0], periods[i][1]);
        cr_assert_str_eq(after, before[i], "%s..%s changed after a rebuild", periods[i][0], periods[i][1]);
        free(after);
        free(before[i]);
    }
    /* a second run has nothing left to do */
    kt_as(&r, &gmina, NULL, "retention", "run", NULL);
    cr_assert_eq(r.code, 0, "the administrator (no person) may run it: %s", r.err);
    cr_assert_eq(json_array_size(json_object_get(r.json, "households")), 0);
    kt_run_free(&r);
    s_verify_ok(&gmina.node, NULL, "cases");
    free(hhA);
    free(hhB);
    free(hhC);
    free(ipwA);
    free(ipwB);
    free(goal);
    free(task);
}

/* ---- the person's own copy ---- */

Test(accountability, the_persons_own_copy_holds_every_field_entered_and_every_audit_entry_about_it)
{
    /* every value entered about the household, each distinct */
    static const char *const fields[] = {
        "Zofia Brzęczyszczykiewicz", "85010112345", "1985-01-01", "ul. Lipowa 7", "+48600100200", "2019-02-01",
        "Jaś Brzęczyszczykiewicz", "05250512358", "2005-05-05", "syn", "Zgoda na współpracę w ZZK", "2019-02-02",
        "2019-03-01", "2019-03-15", "Wyjazd do sanatorium", "Praca w piekarni", "Rozmowa w piekarni",
        "2019-06-01", "Plan na lato", "Zasiłek celowy", "Pilne skierowanie", "2019-04-02",
    };
    kt_node_t *n;
    char *hh, *other, *ipw, *goal, *task, *ref;
    kt_run_t r, audit;
    size_t i;
    json_t *e;

    s_gmina();
    n = &gmina.node;
    hh = kt_as_id(&gmina, gmina.sw, "household", "add", "--name", fields[0], "--pesel", fields[1], "--birth",
                  fields[2], "--sex", "female", "--address", fields[3], "--phone", fields[4], "--size", "2", "--target",
                  "families", "--date", fields[5], NULL);
    other = kt_as_id(&gmina, gmina.sw, "household", "add", "--name", "Inna Rodzina Obca", "--size", "1", NULL);
    cr_assert(hh && other);
    kt_as(&r, &gmina, gmina.sw, "household", "member", "add", "--household", hh, "--name", fields[6], "--pesel",
          fields[7], "--birth", fields[8], "--sex", "male", "--relation", fields[9], NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.sw, "consent", "record", "--household", hh, "--purpose", fields[10], "--share-with",
          gmina.kpp, "--date", fields[11], NULL);
    kt_run_free(&r);
    ipw = kt_as_id(&gmina, gmina.sw, "ipw", "open", "--household", hh, "--coordinator", gmina.sw, "--opened",
                   fields[12], NULL);
    cr_assert_not_null(ipw);
    kt_as(&r, &gmina, gmina.sw, "ipw", "member", "add", "--ipw", ipw, "--person", gmina.cop, NULL);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.sw, "ipw", "activate", "--ipw", ipw, "--date", fields[13], NULL);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.sw, "ipw", "suspend", "--ipw", ipw, "--date", "2019-03-20", "--reason", fields[14], NULL);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.sw, "ipw", "resume", "--ipw", ipw, "--date", "2019-03-25", NULL);
    kt_run_free(&r);
    goal = kt_as_id(&gmina, gmina.sw, "goal", "add", "--ipw", ipw, "--area", "work", "--baseline", "2", "--target", "9",
                    "--description", fields[15], NULL);
    kt_as(&r, &gmina, gmina.sw, "goal", "scale", "--goal", goal, "--value", "7", "--date", "2019-05-05", NULL);
    kt_run_free(&r);
    task = kt_as_id(&gmina, gmina.sw, "task", "add", "--ipw", ipw, "--owner", gmina.cop, "--due", fields[17], "--title",
                    fields[16], "--goal", goal, "--service", gmina.service, NULL);
    kt_as(&r, &gmina, gmina.cop, "task", "start", "--task", task, NULL);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.sw, "meeting", "add", "--ipw", ipw, "--date", "2019-04-01", "--participants", gmina.cop,
          "--topic", fields[18], "--decisions", fields[19], NULL);
    kt_run_free(&r);
    ref = kt_as_id(&gmina, gmina.sw, "referral", "send", "--ipw", ipw, "--service", gmina.service, "--goal", goal,
                   "--note", fields[20], "--date", fields[21], NULL);
    cr_assert(goal && task && ref);
    kt_as(&r, &gmina, gmina.sw, "referral", "accept", "--referral", ref, NULL);
    kt_run_free(&r);
    /* reads, and a refused read */
    kt_as(&r, &gmina, gmina.cop, "ipw", "show", "--ipw", ipw, NULL);
    kt_run_free(&r);
    kt_as(&r, &gmina, gmina.outsider, "household", "show", "--household", hh, NULL);
    cr_assert_neq(r.code, 0);
    kt_run_free(&r);

    /* coordinators only */
    cr_assert_eq(kt_ctl_refused(n, "access.denied.coordinator_only", NULL, "--as", gmina.sw, "household", "export",
                                "--household", hh, NULL),
                 1);
    kt_as(&r, &gmina, gmina.coord, "household", "export", "--household", hh, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    for (i = 0; i < KOOP_ARRAY_LEN(fields); i++)
        cr_assert(strstr(r.out, fields[i]), "the copy lacks '%s'", fields[i]);
    cr_assert(strstr(r.out, gmina.kpp) && strstr(r.out, gmina.service) && strstr(r.out, gmina.cop), "ids named");
    /* and the staff by name too (the cases service's registry copy keeps them) */
    cr_assert(strstr(r.out, "\"Jan Dzielnicowy\"") && strstr(r.out, "\"Anna Nowak\""), "staff named: %s", r.out);
    cr_assert_null(strstr(r.out, "Inna Rodzina Obca"), "another household's data");
    /* every audit entry about it (the household, its IPW or their records) */
    kt_as(&audit, &gmina, gmina.coord, "audit", "show", "--limit", "5000", NULL);
    cr_assert_eq(audit.code, 0, "%s", audit.err);
    {
        size_t about = 0;
        json_t *exp = json_object_get(r.json, "audit");
        json_array_foreach(audit.json, i, e) {
            const char *h = json_string_value(json_object_get(e, "household"));
            const char *ip = json_string_value(json_object_get(e, "ipw"));
            const char *rf = json_string_value(json_object_get(e, "ref"));
            int mine = (h && !strcmp(h, hh)) || (ip && !strcmp(ip, ipw)) ||
                       (rf && (!strcmp(rf, goal) || !strcmp(rf, task) || !strcmp(rf, ref)));
            json_int_t seq = json_integer_value(json_object_get(e, "seq"));
            int listed = 0;
            size_t j;
            json_t *x;
            if (!mine || !strcmp(json_string_value(json_object_get(e, "method")), "household.export"))
                continue;
            about++;
            json_array_foreach(exp, j, x) listed |= json_integer_value(json_object_get(x, "seq")) == seq;
            cr_assert(listed, "audit entry %lld (%s) about the household is not in the copy", (long long)seq,
                      json_string_value(json_object_get(e, "method")));
        }
        cr_assert_geq(about, 15);
        /* and nothing else */
        json_array_foreach(exp, i, e) {
            const char *h = json_string_value(json_object_get(e, "household"));
            cr_assert(!h || strcmp(h, other) != 0, "another household's audit entry");
        }
        /* the refused read is there, as refused */
        {
            int refused = 0;
            json_array_foreach(exp, i, e) refused |= !json_is_true(json_object_get(e, "allowed")) &&
                                                     !strcmp(json_string_value(json_object_get(e, "caller")), gmina.outsider);
            cr_assert(refused, "the refused attempt");
        }
    }
    kt_run_free(&audit);
    kt_run_free(&r);
    /* the printable document, in Polish */
    kt_ctl(&r, n, "--as", gmina.coord, "household", "export", "--household", hh, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "KOPIA DANYCH OSOBOWYCH") && strstr(r.out, "art. 15 RODO"));
    for (i = 0; i < KOOP_ARRAY_LEN(fields); i++)
        cr_assert(strstr(r.out, fields[i]), "the document lacks '%s'", fields[i]);
    cr_assert(strstr(r.out, "odczyt (wgląd) – ipw.show") && strstr(r.out, "ODMOWA dostępu"), "%s", r.out);
    kt_run_free(&r);
    free(hh);
    free(other);
    free(ipw);
    free(goal);
    free(task);
    free(ref);
}
