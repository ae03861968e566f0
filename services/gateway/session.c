/*
 * session.c - web sessions, kept in the gateway's store (table sessions),
 * so they survive a restart of the gateway.
 *
 * A session id is 128 random bits (32 hex characters) that only the
 * browser's cookie holds; the store keys the record by its BLAKE2b hash, so
 * a copy of the store lets nobody in. A session ends:
 *   - idle:     no request for lim.idle_ms (default 30 min); last-seen is
 *               written at most once a minute, so idle expiry is that exact;
 *   - absolute: lim.absolute_ms after login (default 12 h), whatever;
 *   - pending:  a password-only step waits at most 5 min for its TOTP code;
 *   - logout (this one), "log out everywhere", account disable or reset
 *     (every session of the account made before account.sessions_after_ms).
 * Times are koop_clock_now_ms (KOOP_CLOCK_OFFSET_MS shifts them in tests).
 */
#include "gateway.h"
#include "clock.h"
#include "say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
s_cookie_name(const gw_req_t *r)
{
    return r->secure ? "__Host-koop" : "koop";
}

void
gw_session_key(const char *sid, uint8_t key[32])
{
    crypto_generichash(key, 32, (const unsigned char *)sid, strlen(sid), NULL, 0);
}

static void
s_random_hex(char *out, size_t bytes)
{
    uint8_t raw[32];
    randombytes_buf(raw, bytes);
    sodium_bin2hex(out, bytes * 2 + 1, raw, bytes);
}

/* 0 when s is alive at now for account a (may be NULL: gone), else the reason. */
static koop_err_t
s_alive(const gw_t *gw, const Koop__Gw__Session *s, const Koop__Gw__Account *a, uint64_t now)
{
    if (!a || !a->active || (a->sessions_after_ms && s->created_ms <= a->sessions_after_ms) ||
        !s->person || !a->person || strcmp(s->person, a->person) != 0)
        return KOOP_ERR_SESSION_EXPIRED;
    if (s->totp_pending && now > s->created_ms + GW_TOTP_PENDING_MS)
        return KOOP_ERR_SESSION_EXPIRED;
    if (now > s->seen_ms + gw->lim.idle_ms || now > s->created_ms + gw->lim.absolute_ms)
        return KOOP_ERR_SESSION_EXPIRED;
    return KOOP_ERR_NONE;
}

typedef struct {
    gw_t *gw;
    const uint8_t *key;
    Koop__Gw__Session *s; /* to write back (touch), or NULL: delete */
    const char *address;
} s_write_ctx;

static int
s_write_one(MDB_txn *txn, void *ctx)
{
    s_write_ctx *w = ctx;
    MDB_val k = {32, (void *)w->key}, v;
    uint8_t buf[1024];
    if (!w->s) {
        int rc = mdb_del(txn, w->gw->dbi_sessions, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    v.mv_size = koop__gw__session__get_packed_size(w->s);
    if (v.mv_size > sizeof buf)
        return -E2BIG;
    koop__gw__session__pack(w->s, buf);
    v.mv_data = buf;
    return mdb_put(txn, w->gw->dbi_sessions, &k, &v, 0);
}

koop_err_t
gw_session_load(gw_req_t *r)
{
    gw_t *gw = r->gw;
    const char *cookie = gw_req_header(r, "Cookie");
    char sid[GW_SID_LEN + 8];
    MDB_txn *txn;
    MDB_val k, v;
    Koop__Gw__Session *s = NULL;
    Koop__Gw__Account *a = NULL;
    koop_err_t why;
    uint64_t now = koop_clock_now_ms();
    int rc;

    if (!cookie || gw_cookie_get(cookie, s_cookie_name(r), sid, sizeof sid) != 0 || strlen(sid) != GW_SID_LEN ||
        strspn(sid, "0123456789abcdef") != GW_SID_LEN)
        return KOOP_ERR_SESSION_REQUIRED;
    gw_session_key(sid, r->session_key);
    if (koop_store_read(gw->store, &txn) != 0)
        return KOOP_ERR_SESSION_REQUIRED;
    k.mv_size = 32;
    k.mv_data = r->session_key;
    rc = mdb_get(txn, gw->dbi_sessions, &k, &v);
    if (rc == 0)
        s = koop__gw__session__unpack(NULL, v.mv_size, v.mv_data);
    if (s && s->login)
        gw_account_get(gw, txn, s->login, &a);
    mdb_txn_abort(txn);
    if (!s)
        return KOOP_ERR_SESSION_REQUIRED;
    why = s_alive(gw, s, a, now);
    if (a)
        koop__gw__account__free_unpacked(a, NULL);
    if (why != KOOP_ERR_NONE) {
        s_write_ctx w = {gw, r->session_key, NULL, r->address};
        if (koop_store_write(gw->store, s_write_one, &w) != 0)
            koop_warn("sesja: nie można usunąć wygasłej sesji");
        gw->m.sessions_expired++;
        koop__gw__session__free_unpacked(s, NULL);
        return why;
    }
    if (now > s->seen_ms + GW_SESSION_TOUCH_MS) {
        s_write_ctx w = {gw, r->session_key, s, r->address};
        s->seen_ms = now;
        if (koop_store_write(gw->store, s_write_one, &w) != 0)
            koop_warn("sesja: nie można zapisać czasu ostatniego użycia");
    }
    r->session = s;
    return KOOP_ERR_NONE;
}

int
gw_session_put(gw_t *gw, MDB_txn *txn, const Koop__Gw__Account *a, int pending, char sid[GW_SID_LEN + 1],
               Koop__Gw__Session **out)
{
    Koop__Gw__Session *s = calloc(1, sizeof *s);
    char csrf[GW_SID_LEN + 1];
    uint8_t key[32];
    s_write_ctx w = {gw, key, s, NULL};
    int rc;
    *out = NULL;
    if (!s)
        return -ENOMEM;
    koop__gw__session__init(s);
    s_random_hex(sid, GW_SID_LEN / 2);
    s_random_hex(csrf, GW_SID_LEN / 2);
    s->login = strdup(a->login);
    s->person = strdup(a->person);
    s->csrf = strdup(pending ? "" : csrf);
    s->has_created_ms = s->has_seen_ms = s->has_totp_pending = 1;
    s->created_ms = s->seen_ms = koop_clock_now_ms();
    s->totp_pending = pending != 0;
    if (!s->login || !s->person || !s->csrf) {
        koop__gw__session__free_unpacked(s, NULL);
        return -ENOMEM;
    }
    gw_session_key(sid, key);
    if ((rc = s_write_one(txn, &w)) != 0) {
        koop__gw__session__free_unpacked(s, NULL);
        return rc;
    }
    *out = s;
    return 0;
}

int
gw_session_del(gw_t *gw, MDB_txn *txn, const uint8_t key[32])
{
    s_write_ctx w = {gw, key, NULL, NULL};
    return s_write_one(txn, &w);
}

/* Deletes the sessions for which keep() says 0. */
static int
s_del_where(gw_t *gw, MDB_txn *txn, int (*keep)(const Koop__Gw__Session *, void *), void *ctx, unsigned *count)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, gw->dbi_sessions, &cur);
    if (rc != 0)
        return rc;
    if (count)
        *count = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Koop__Gw__Session *s = koop__gw__session__unpack(NULL, v.mv_size, v.mv_data);
        int del = !s || !keep(s, ctx);
        if (s)
            koop__gw__session__free_unpacked(s, NULL);
        if (del) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
            if (count)
                (*count)++;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
s_not_of_login(const Koop__Gw__Session *s, void *login)
{
    return !s->login || strcmp(s->login, login) != 0;
}

int
gw_session_del_login(gw_t *gw, MDB_txn *txn, const char *login, unsigned *count)
{
    return s_del_where(gw, txn, s_not_of_login, (void *)login, count);
}

typedef struct {
    gw_t *gw;
    MDB_txn *txn;
    uint64_t now;
} s_sweep_ctx;

static int
s_still_alive(const Koop__Gw__Session *s, void *ctx)
{
    s_sweep_ctx *c = ctx;
    Koop__Gw__Account *a = NULL;
    koop_err_t why;
    gw_account_get(c->gw, c->txn, s->login ? s->login : "", &a);
    why = s_alive(c->gw, s, a, c->now);
    if (a)
        koop__gw__account__free_unpacked(a, NULL);
    return why == KOOP_ERR_NONE;
}

static int
s_sweep(MDB_txn *txn, void *ctx)
{
    s_sweep_ctx *c = ctx;
    unsigned n = 0;
    int rc;
    c->txn = txn;
    rc = s_del_where(c->gw, txn, s_still_alive, c, &n);
    c->gw->m.sessions_expired += n;
    return rc;
}

void
gw_session_sweep(gw_t *gw)
{
    s_sweep_ctx c = {gw, NULL, koop_clock_now_ms()};
    if (koop_store_write(gw->store, s_sweep, &c) != 0)
        koop_warn("sesje: nie można usunąć wygasłych");
}

void
gw_session_cookie(gw_req_t *r, const char *sid)
{
    char buf[256];
    int slot = r->set_cookie[0] ? 1 : 0;
    if (sid)
        snprintf(buf, sizeof buf, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=%llu", s_cookie_name(r), sid,
                 r->secure ? "; Secure" : "", (unsigned long long)(r->gw->lim.absolute_ms / 1000));
    else
        snprintf(buf, sizeof buf, "%s=; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=0", s_cookie_name(r),
                 r->secure ? "; Secure" : "");
    free(r->set_cookie[slot]);
    r->set_cookie[slot] = strdup(buf);
}
