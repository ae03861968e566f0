/* Unit tests of common/chain and the chains of common/log on real LMDB
 * files: links, verify finding a changed or removed entry at its position,
 * redaction, the SHARED chain recomputed from SHARED entries only, and a
 * store written before the chains existed. */
#include "chain.h"
#include "envelope.pb-c.h"
#include "log.h"
#include "store.h"

#include "kt_scratch.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

KT_SCRATCH_SUITE(chain, "kc");

typedef struct {
    koop_log_t *log;
    int n;
} s_append_ctx;

/* n events: every third SHARED, payloads "payload <i>" */
static int
s_append_n(MDB_txn *txn, void *ctx)
{
    s_append_ctx *a = ctx;
    for (int i = 0; i < a->n; i++) {
        char payload[32];
        int n = snprintf(payload, sizeof payload, "payload %d", i);
        int scope = (i % 3 == 0) ? KOOP__SCOPE__SCOPE_SHARED : KOOP__SCOPE__SCOPE_LOCAL;
        int rc = koop_log_append(a->log, txn, "test.event", scope, "tester", (uint8_t *)payload, (size_t)n, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

typedef struct {
    uint64_t seq[32];
    koop_err_t code[32];
    int n;
    uint64_t entries_seen;
} s_found;

static void
s_problem(void *ctx, uint64_t seq, koop_err_t code, const char *const *args)
{
    s_found *f = ctx;
    (void)args;
    if (f->n < 32) {
        f->seq[f->n] = seq;
        f->code[f->n] = code;
    }
    f->n++;
}

static int
s_entry(void *ctx, uint64_t seq, const uint8_t *env, size_t len, int redacted)
{
    (void)seq;
    (void)env;
    (void)len;
    (void)redacted;
    ((s_found *)ctx)->entries_seen++;
    return 0;
}

static void
s_verify(koop_store_t *s, koop_log_t *log, s_found *f, koop_log_check_t *out)
{
    MDB_txn *txn;
    koop_log_walk_t w = {s_problem, s_entry, f};
    memset(f, 0, sizeof *f);
    cr_assert_eq(koop_store_read(s, &txn), 0);
    cr_assert_eq(koop_log_verify(log, txn, &w, out), 0);
    mdb_txn_abort(txn);
}

static void
s_open(koop_store_t **s, koop_log_t **log, int n)
{
    s_append_ctx a;
    cr_assert_eq(koop_store_open(s, dir, NULL), 0);
    cr_assert_eq(koop_log_open(log, *s, "node-a", "test"), 0);
    a.log = *log;
    a.n = n;
    if (n)
        cr_assert_eq(koop_store_write(*s, s_append_n, &a), 0);
}

typedef struct {
    const char *table;
    uint64_t seq;
    const void *value;
    size_t len;
    int del;
} s_edit;

/* Changes one value behind the log's back (what a tool could do to the file). */
static int
s_edit_fn(MDB_txn *txn, void *ctx)
{
    s_edit *e = ctx;
    MDB_dbi dbi;
    unsigned char key[8];
    MDB_val k = {8, key}, v = {e->len, (void *)e->value};
    int rc = mdb_dbi_open(txn, e->table, 0, &dbi);
    if (rc != 0)
        return rc;
    koop_be64_put(key, e->seq);
    return e->del ? mdb_del(txn, dbi, &k, NULL) : mdb_put(txn, dbi, &k, &v, 0);
}

static void
s_get(koop_store_t *s, const char *table, uint64_t seq, uint8_t *out, size_t *len)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    unsigned char key[8];
    MDB_val k = {8, key}, v;
    cr_assert_eq(koop_store_read(s, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, table, 0, &dbi), 0);
    koop_be64_put(key, seq);
    cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
    memcpy(out, v.mv_data, v.mv_size);
    *len = v.mv_size;
    mdb_txn_abort(txn);
}

Test(chain, a_log_verifies_and_its_links_are_the_documented_formula)
{
    koop_store_t *s;
    koop_log_t *log;
    koop_log_check_t c;
    s_found f;
    uint8_t prev[32], link[32], ph[32], env[256], stored[64];
    size_t len, slen;

    s_open(&s, &log, 10);
    s_verify(s, log, &f, &c);
    cr_assert_eq(f.n, 0, "untouched log: no finding");
    cr_assert_eq(c.entries, 10);
    cr_assert_eq(c.shared, 4);
    cr_assert_eq(f.entries_seen, 10);
    /* L(1) = B(L(0) || header || B(payload)), L(0) = B("koop.log\0" || log id) */
    koop_chain_genesis(prev, "koop.log", koop_log_id(log));
    s_get(s, "log", 1, env, &len);
    {
        size_t hlen, plen;
        const uint8_t *p;
        cr_assert_eq(koop_chain_split(env, len, &hlen, &p, &plen), 0);
        cr_assert_eq(plen, strlen("payload 0"));
        cr_assert(memcmp(p, "payload 0", plen) == 0);
        cr_assert_eq(hlen + 2 + plen, len, "header, tag, length, payload");
        koop_chain_hash(ph, p, plen);
        koop_chain_link(link, prev, env, hlen, ph);
    }
    s_get(s, "log_chain", 1, stored, &slen);
    cr_assert_eq(slen, 32);
    cr_assert(memcmp(stored, link, 32) == 0);
    {
        MDB_txn *txn;
        uint8_t l10[32], s10[32];
        cr_assert_eq(koop_store_read(s, &txn), 0);
        cr_assert_eq(koop_log_links(log, txn, 10, l10, s10), 0);
        mdb_txn_abort(txn);
        cr_assert(memcmp(l10, c.head, 32) == 0);
        cr_assert(memcmp(s10, c.shared_head, 32) == 0);
    }
    koop_log_destroy(&log);
    koop_store_destroy(&s);
}

Test(chain, the_shared_chain_is_recomputed_from_the_shared_entries_alone)
{
    koop_store_t *s;
    koop_log_t *log;
    MDB_txn *txn;
    uint8_t prev[32], link[32], stored[64], env[256];
    size_t len, slen;

    s_open(&s, &log, 12);
    /* what a hub receives: the SHARED envelopes 1, 4, 7, 10 and nothing else */
    koop_chain_genesis(prev, "koop.shared", koop_log_id(log));
    for (uint64_t seq = 1; seq <= 12; seq += 3) {
        s_get(s, "log", seq, env, &len);
        cr_assert_eq(koop_chain_entry(link, prev, env, len, NULL), 0);
        s_get(s, "log_shared", seq, stored, &slen);
        cr_assert(memcmp(stored, link, 32) == 0, "S(%llu)", (unsigned long long)seq);
        memcpy(prev, link, 32);
    }
    cr_assert_eq(koop_store_read(s, &txn), 0);
    cr_assert_eq(koop_log_links(log, txn, 12, NULL, stored), 0, "S as of 12 is S(10)");
    mdb_txn_abort(txn);
    cr_assert(memcmp(stored, prev, 32) == 0);
    koop_log_destroy(&log);
    koop_store_destroy(&s);
}

Test(chain, an_edited_value_is_found_at_its_position)
{
    koop_store_t *s;
    koop_log_t *log;
    koop_log_check_t c;
    s_found f;
    uint8_t env[256];
    size_t len;

    s_open(&s, &log, 10);
    /* LOCAL entry 5: one byte of its payload changed, the link left alone */
    s_get(s, "log", 5, env, &len);
    env[len - 1] ^= 1;
    {
        s_edit e = {"log", 5, env, len, 0};
        cr_assert_eq(koop_store_write(s, s_edit_fn, &e), 0);
    }
    s_verify(s, log, &f, &c);
    cr_assert_eq(f.n, 1, "one finding, not one per later entry");
    cr_assert_eq(f.seq[0], 5);
    cr_assert_eq(f.code[0], KOOP_ERR_VERIFY_ENTRY_CHANGED);
    /* SHARED entry 7: both chains disagree */
    s_get(s, "log", 7, env, &len);
    env[len - 2] ^= 1;
    {
        s_edit e = {"log", 7, env, len, 0};
        cr_assert_eq(koop_store_write(s, s_edit_fn, &e), 0);
    }
    s_verify(s, log, &f, &c);
    cr_assert_eq(f.n, 3);
    cr_assert_eq(f.seq[1], 7);
    cr_assert_eq(f.code[1], KOOP_ERR_VERIFY_ENTRY_CHANGED);
    cr_assert_eq(f.seq[2], 7);
    cr_assert_eq(f.code[2], KOOP_ERR_VERIFY_SHARED_CHANGED);
    koop_log_destroy(&log);
    koop_store_destroy(&s);
}

Test(chain, a_removed_entry_is_found_in_the_middle_and_at_the_end)
{
    koop_store_t *s;
    koop_log_t *log;
    koop_log_check_t c;
    s_found f;
    s_edit mid = {"log", 4, NULL, 0, 1}, end = {"log", 10, NULL, 0, 1};

    s_open(&s, &log, 10);
    cr_assert_eq(koop_store_write(s, s_edit_fn, &mid), 0);
    s_verify(s, log, &f, &c);
    cr_assert_eq(f.n, 1);
    cr_assert_eq(f.code[0], KOOP_ERR_VERIFY_ENTRY_MISSING);
    cr_assert_eq(f.seq[0], 4);
    cr_assert_eq(koop_store_write(s, s_edit_fn, &end), 0);
    s_verify(s, log, &f, &c);
    cr_assert_eq(f.n, 2);
    cr_assert_eq(f.code[1], KOOP_ERR_VERIFY_ENTRY_MISSING);
    cr_assert_eq(f.seq[1], 10, "the last entry, although nothing follows it");
    koop_log_destroy(&log);
    koop_store_destroy(&s);
}

typedef struct {
    koop_log_t *log;
    uint64_t seq;
    int rc;
} s_redact_ctx;

static int
s_redact_fn(MDB_txn *txn, void *ctx)
{
    s_redact_ctx *r = ctx;
    r->rc = koop_log_redact(r->log, txn, r->seq);
    return r->rc == -EPERM ? 0 : r->rc;
}

Test(chain, a_redacted_payload_keeps_the_chain_and_a_bare_removal_is_found)
{
    koop_store_t *s;
    koop_log_t *log;
    koop_log_check_t c;
    s_found f;
    uint8_t env[256];
    size_t len;
    s_redact_ctx r;

    s_open(&s, &log, 10);
    r = (s_redact_ctx){log, 2, 0};
    cr_assert_eq(koop_store_write(s, s_redact_fn, &r), 0);
    s_get(s, "log", 2, env, &len);
    {
        size_t hlen, plen;
        const uint8_t *p;
        cr_assert_eq(koop_chain_split(env, len, &hlen, &p, &plen), KOOP_CHAIN_NO_PAYLOAD);
    }
    r = (s_redact_ctx){log, 4, 0};
    cr_assert_eq(koop_store_write(s, s_redact_fn, &r), 0);
    cr_assert_eq(r.rc, -EPERM, "a SHARED entry is never redacted");
    s_verify(s, log, &f, &c);
    cr_assert_eq(f.n, 0);
    cr_assert_eq(c.redacted, 1);
    /* entry 3's payload cut off by hand: no hash kept for it */
    s_get(s, "log", 3, env, &len);
    {
        size_t hlen, plen;
        const uint8_t *p;
        cr_assert_eq(koop_chain_split(env, len, &hlen, &p, &plen), 0);
        s_edit e = {"log", 3, env, hlen, 0};
        cr_assert_eq(koop_store_write(s, s_edit_fn, &e), 0);
    }
    s_verify(s, log, &f, &c);
    cr_assert_eq(f.n, 1);
    cr_assert_eq(f.seq[0], 3);
    cr_assert_eq(f.code[0], KOOP_ERR_VERIFY_PAYLOAD_GONE);
    koop_log_destroy(&log);
    koop_store_destroy(&s);
}

static int
s_forget_chains(MDB_txn *txn, void *ctx)
{
    MDB_dbi chain, shared, meta;
    MDB_cursor *cur;
    MDB_val k, v, empty = {0, ""}, mk = {5, "chain"};
    int rc;
    (void)ctx;
    if ((rc = mdb_dbi_open(txn, "log_chain", 0, &chain)) != 0 || (rc = mdb_drop(txn, chain, 0)) != 0 ||
        (rc = mdb_dbi_open(txn, "log_meta", 0, &meta)) != 0 || (rc = mdb_del(txn, meta, &mk, NULL)) != 0 ||
        (rc = mdb_dbi_open(txn, "log_shared", 0, &shared)) != 0 || (rc = mdb_cursor_open(txn, shared, &cur)) != 0)
        return rc;
    /* as stores made before the chains: "" for a SHARED entry */
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
        if ((rc = mdb_cursor_put(cur, &k, &empty, MDB_CURRENT)) != 0)
            break;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
s_drop_chain(MDB_txn *txn, void *ctx)
{
    MDB_dbi chain;
    int rc;
    (void)ctx;
    if ((rc = mdb_dbi_open(txn, "log_chain", 0, &chain)) != 0)
        return rc;
    return mdb_drop(txn, chain, 0);
}

Test(chain, a_store_made_before_the_chains_gets_them_once)
{
    koop_store_t *s;
    koop_log_t *log;
    koop_log_check_t c;
    s_found f;

    s_open(&s, &log, 9);
    cr_assert_eq(koop_store_write(s, s_forget_chains, NULL), 0);
    koop_log_destroy(&log);
    cr_assert_eq(koop_log_open(&log, s, "node-a", "test"), 0);
    s_verify(s, log, &f, &c);
    cr_assert_eq(f.n, 0, "the chains were computed at open");
    cr_assert_eq(c.shared, 3);
    /* later, the chain table emptied behind the log's back is not made again */
    cr_assert_eq(koop_store_write(s, s_drop_chain, NULL), 0);
    koop_log_destroy(&log);
    cr_assert_eq(koop_log_open(&log, s, "node-a", "test"), 0);
    s_verify(s, log, &f, &c);
    cr_assert_eq(f.n, 9);
    cr_assert_eq(f.code[0], KOOP_ERR_VERIFY_LINK_MISSING);
    cr_assert_eq(f.seq[0], 1);
    koop_log_destroy(&log);
    koop_store_destroy(&s);
}

Test(chain, split_refuses_what_a_log_does_not_write)
{
    /* field 1 "ab", payload field 9 "xyz" */
    const uint8_t ok[] = {0x0a, 2, 'a', 'b', 0x4a, 3, 'x', 'y', 'z'};
    const uint8_t after[] = {0x4a, 1, 'x', 0x0a, 1, 'a'};
    const uint8_t truncated[] = {0x0a, 5, 'a'};
    const uint8_t none[] = {0x0a, 2, 'a', 'b'};
    const uint8_t badvar[] = {0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t *p;
    size_t h, n;
    cr_assert_eq(koop_chain_split(ok, sizeof ok, &h, &p, &n), 0);
    cr_assert_eq(h, 4);
    cr_assert_eq(n, 3);
    cr_assert_eq(koop_chain_split(after, sizeof after, &h, &p, &n), -EBADMSG);
    cr_assert_eq(koop_chain_split(truncated, sizeof truncated, &h, &p, &n), -EBADMSG);
    cr_assert_eq(koop_chain_split(none, sizeof none, &h, &p, &n), KOOP_CHAIN_NO_PAYLOAD);
    cr_assert_eq(h, sizeof none);
    cr_assert_eq(koop_chain_split(badvar, sizeof badvar, &h, &p, &n), -EBADMSG);
    {
        uint8_t prev[32] = {0}, link[32];
        cr_assert_eq(koop_chain_entry(link, prev, none, sizeof none, NULL), -ENODATA);
    }
}
