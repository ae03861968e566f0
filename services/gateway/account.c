/*
 * account.c - the accounts of the web login: the `gateway` rows of
 * common/api.def (koopctl account ..., served on the gateway's ROUTER,
 * which only the node's own user can reach), and their store.
 *
 * Tables: accounts (login -> koop.gw.Account), account_by_person (person ->
 * login: a person has at most one account). Every change is an audit fact
 * in the gateway's log (LOCAL events of events.def), written in the same
 * transaction. The password arrives as koopctl's Argon2id hash
 * (password.h); the gateway never sees it on this path.
 *
 * account.create checks that the person is in the registry: the handler
 * asks the registry (person.show) and defers the call until the answer
 * comes (service.h, "Deferring a call"), never waiting on the loop.
 */
#include "gateway.h"
#include "clock.h"
#include "id.h"
#include "say.h"
#include "envelope.pb-c.h"
#include "registry.pb-c.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_CHECK_ASKED 1
#define GW_CHECK_FOUND 2
#define GW_CHECK_MISSING 3
#define GW_CHECK_INACTIVE 4

int
gw_account_get(gw_t *gw, MDB_txn *txn, const char *login, Koop__Gw__Account **out)
{
    MDB_val v;
    int rc = koop_store_get_str(txn, gw->dbi_accounts, login, &v);
    *out = NULL;
    if (rc != 0)
        return rc;
    *out = koop__gw__account__unpack(NULL, v.mv_size, v.mv_data);
    return *out ? 0 : -EBADMSG;
}

int
gw_account_put(gw_t *gw, MDB_txn *txn, const Koop__Gw__Account *a)
{
    uint8_t buf[2048];
    size_t len = koop__gw__account__get_packed_size(a);
    if (len > sizeof buf)
        return -E2BIG;
    koop__gw__account__pack(a, buf);
    return koop_store_put_str(txn, gw->dbi_accounts, a->login, buf, len);
}

int
gw_audit(gw_t *gw, MDB_txn *txn, const char *type, const char *actor, const char *login, const char *person,
         const char *address, const char *reason, unsigned sessions)
{
    Koop__Gw__AuditFact f = KOOP__GW__AUDIT_FACT__INIT;
    uint8_t buf[1024];
    size_t len;
    f.login = (char *)login;
    f.person = (char *)person;
    f.address = (char *)address;
    f.reason = (char *)reason;
    if (sessions) {
        f.has_sessions = 1;
        f.sessions = sessions;
    }
    len = koop__gw__audit_fact__get_packed_size(&f);
    if (len > sizeof buf)
        return -E2BIG;
    koop__gw__audit_fact__pack(&f, buf);
    return koop_log_append(koop_service_log(gw->svc), txn, type, KOOP__SCOPE__SCOPE_LOCAL, actor ? actor : "", buf,
                           len, NULL);
}

static gw_t *
s_gw(koop_call_t *call)
{
    return koop_service_user(call->svc);
}

/* 2-64 of a-z 0-9 . _ - */
static int
s_login_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 2 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int
s_hash_valid(gw_t *gw, const char *hash)
{
    return koop_password_needs_rehash(hash, &gw->lim.pw) >= 0;
}

static void
s_info(const Koop__Gw__Account *a, Koop__Gw__AccountInfo *info)
{
    koop__gw__account_info__init(info);
    info->login = a->login;
    info->person = a->person;
    info->has_active = info->has_totp = 1;
    info->active = a->active;
    info->totp = a->has_totp_secret && a->totp_secret.len > 0;
    info->has_created_ms = 1;
    info->created_ms = a->created_ms;
    if (a->last_login_ms) {
        info->has_last_login_ms = 1;
        info->last_login_ms = a->last_login_ms;
    }
}

static int
s_reply_account(koop_call_t *call, const Koop__Gw__Account *a)
{
    Koop__Gw__AccountInfo info;
    s_info(a, &info);
    return koop_call_reply(call, &info.base);
}

/* Writes a, its audit fact and (with sessions) ends its sessions. */
static int
s_save(koop_call_t *call, Koop__Gw__Account *a, const char *event, int end_sessions)
{
    gw_t *gw = s_gw(call);
    unsigned ended = 0;
    int rc;
    a->has_updated_ms = 1;
    a->updated_ms = koop_clock_now_ms();
    if (end_sessions) {
        a->has_sessions_after_ms = 1;
        a->sessions_after_ms = a->updated_ms;
        if ((rc = gw_session_del_login(gw, call->txn, a->login, &ended)) != 0)
            return koop_call_store_error(call, rc);
    }
    if ((rc = gw_account_put(gw, call->txn, a)) != 0 ||
        (rc = gw_audit(gw, call->txn, event, call->caller, a->login, a->person, NULL, NULL, ended)) != 0)
        return koop_call_store_error(call, rc);
    return s_reply_account(call, a);
}

/* The account of the request's login, or a refusal. */
static int
s_load(koop_call_t *call, const char *login, Koop__Gw__Account **a)
{
    int rc;
    if (!login || !*login)
        return koop_fail(call, FIELD_REQUIRED, "login");
    rc = gw_account_get(s_gw(call), call->txn, login, a);
    if (rc == MDB_NOTFOUND)
        return koop_fail(call, ACCOUNT_NOT_FOUND, "login", login);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    return KOOP_OK;
}

/* ---- the person check of account.create ---- */

static gw_person_check_t *
s_check_find(gw_t *gw, const char *id)
{
    for (size_t i = 0; i < KOOP_ARRAY_LEN(gw->checks); i++)
        if (gw->checks[i].state && strcmp(gw->checks[i].id, id) == 0)
            return &gw->checks[i];
    return NULL;
}

static void
s_on_person(void *ctx, const koop_reply_t *reply)
{
    gw_person_check_t *c = ctx;
    gw_t *gw = c->gw;
    if (reply->status == KOOP_OK) {
        Koop__Reg__Person *p = koop__reg__person__unpack(NULL, reply->len, reply->payload);
        c->state = p && p->active ? GW_CHECK_FOUND : p ? GW_CHECK_INACTIVE : GW_CHECK_MISSING;
        if (p)
            koop__reg__person__free_unpacked(p, NULL);
    } else {
        c->state = reply->status == KOOP_NOT_FOUND ? GW_CHECK_MISSING : GW_CHECK_ASKED;
    }
    if (c->state == GW_CHECK_ASKED)
        c->state = 0; /* no answer: the deferred call ends as unavailable */
    koop_service_retry_deferred(gw->svc, c->tag);
}

/* KOOP_OK when person is an active person of the registry; KOOP_DEFERRED
 * while the registry is asked; else the refusal. */
static int
s_person_known(koop_call_t *call, const char *person)
{
    gw_t *gw = s_gw(call);
    gw_person_check_t *c = s_check_find(gw, person);
    Koop__Reg__ById q = KOOP__REG__BY_ID__INIT;
    const char *ep = koop_config_endpoint(gw->cfg, "registry");
    int state = c ? c->state : 0;

    if (state == GW_CHECK_FOUND || state == GW_CHECK_MISSING || state == GW_CHECK_INACTIVE) {
        c->state = 0; /* used once: the next create asks again */
        if (state == GW_CHECK_MISSING)
            return koop_fail(call, RECORD_NOT_FOUND, "person", "person", person);
        if (state == GW_CHECK_INACTIVE)
            return koop_fail(call, ACCOUNT_PERSON_INACTIVE, "person", person);
        return KOOP_OK;
    }
    if (call->final || !ep)
        return koop_fail(call, SERVICE_UNAVAILABLE, "person", "registry");
    if (!c) {
        for (size_t i = 0; !c && i < KOOP_ARRAY_LEN(gw->checks); i++)
            if (!gw->checks[i].state)
                c = &gw->checks[i];
        if (!c)
            return koop_fail(call, HTTP_BUSY, NULL);
        snprintf(c->id, sizeof c->id, "%s", person);
        c->gw = gw;
        c->state = GW_CHECK_ASKED;
        c->tag = ++gw->next_tag;
        q.id = (char *)person;
        if (koop_client_call(gw->client, ep, NULL, "person.show", &q.base, 1500, s_on_person, c, NULL) != 0) {
            c->state = 0;
            return koop_fail(call, SERVICE_UNAVAILABLE, "person", "registry");
        }
    }
    if (koop_call_defer(call, c->tag) == KOOP_DEFERRED)
        return KOOP_DEFERRED;
    return koop_fail(call, SERVICE_UNAVAILABLE, "person", "registry");
}

/* ---- the methods ---- */

int
gw_account_create(koop_call_t *call)
{
    const Koop__Gw__AccountCreate *q = (const Koop__Gw__AccountCreate *)call->req;
    gw_t *gw = s_gw(call);
    Koop__Gw__Account a = KOOP__GW__ACCOUNT__INIT, *old = NULL;
    MDB_val v;
    int rc;

    if (!q->person || !*q->person)
        return koop_fail(call, FIELD_REQUIRED, "person");
    if (!koop_id_valid(q->person))
        return koop_fail(call, ID_INVALID, "person", q->person);
    if (!s_login_valid(q->login))
        return q->login && *q->login ? koop_fail(call, ACCOUNT_LOGIN_INVALID, "login")
                                     : koop_fail(call, FIELD_REQUIRED, "login");
    if (!q->password_hash || !s_hash_valid(gw, q->password_hash))
        return koop_fail(call, ACCOUNT_PASSWORD_HASH, "password_hash");
    rc = gw_account_get(gw, call->txn, q->login, &old);
    if (rc == 0) {
        koop__gw__account__free_unpacked(old, NULL);
        return koop_fail(call, ACCOUNT_EXISTS, "login", q->login);
    }
    if (rc != MDB_NOTFOUND)
        return koop_call_store_error(call, rc);
    rc = koop_store_get_str(call->txn, gw->dbi_by_person, q->person, &v);
    if (rc == 0) {
        char login[80];
        snprintf(login, sizeof login, "%.*s", (int)(v.mv_size < 64 ? v.mv_size : 64), (const char *)v.mv_data);
        return koop_fail(call, ACCOUNT_PERSON_HAS_ONE, "person", q->person, login);
    }
    if (rc != MDB_NOTFOUND)
        return koop_call_store_error(call, rc);
    if ((rc = s_person_known(call, q->person)) != KOOP_OK)
        return rc;
    a.login = q->login;
    a.person = q->person;
    a.password_hash = q->password_hash;
    a.has_active = a.has_created_ms = 1;
    a.active = 1;
    a.created_ms = koop_clock_now_ms();
    if ((rc = koop_store_put_str(call->txn, gw->dbi_by_person, q->person, q->login, strlen(q->login))) != 0)
        return koop_call_store_error(call, rc);
    return s_save(call, &a, "account.created", 0);
}

int
gw_account_reset(koop_call_t *call)
{
    const Koop__Gw__AccountReset *q = (const Koop__Gw__AccountReset *)call->req;
    Koop__Gw__Account *a;
    char *old_hash;
    int rc;
    if ((rc = s_load(call, q->login, &a)) != KOOP_OK)
        return rc;
    if (!q->password_hash || !s_hash_valid(s_gw(call), q->password_hash)) {
        koop__gw__account__free_unpacked(a, NULL);
        return koop_fail(call, ACCOUNT_PASSWORD_HASH, "password_hash");
    }
    old_hash = a->password_hash;
    a->password_hash = q->password_hash;
    a->active = 1;
    rc = s_save(call, a, "account.reset", 1);
    a->password_hash = old_hash;
    koop__gw__account__free_unpacked(a, NULL);
    return rc;
}

int
gw_account_disable(koop_call_t *call)
{
    const Koop__Gw__AccountRef *q = (const Koop__Gw__AccountRef *)call->req;
    Koop__Gw__Account *a;
    int rc;
    if ((rc = s_load(call, q->login, &a)) != KOOP_OK)
        return rc;
    a->active = 0;
    rc = s_save(call, a, "account.disabled", 1);
    koop__gw__account__free_unpacked(a, NULL);
    return rc;
}

int
gw_account_list(koop_call_t *call)
{
    const Koop__Gw__AccountQuery *q = (const Koop__Gw__AccountQuery *)call->req;
    gw_t *gw = s_gw(call);
    Koop__Gw__AccountList list = KOOP__GW__ACCOUNT_LIST__INIT;
    Koop__Gw__Account **accounts = NULL;
    Koop__Gw__AccountInfo *infos = NULL;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n = 0, cap = 0;
    int rc = mdb_cursor_open(call->txn, gw->dbi_accounts, &cur);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Koop__Gw__Account *a = koop__gw__account__unpack(NULL, v.mv_size, v.mv_data);
        if (!a)
            continue;
        if (q->person && *q->person && (!a->person || strcmp(a->person, q->person) != 0)) {
            koop__gw__account__free_unpacked(a, NULL);
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            Koop__Gw__Account **g = realloc(accounts, ncap * sizeof *g);
            if (!g) {
                koop__gw__account__free_unpacked(a, NULL);
                break;
            }
            accounts = g;
            cap = ncap;
        }
        accounts[n++] = a;
    }
    mdb_cursor_close(cur);
    infos = calloc(n ? n : 1, sizeof *infos);
    list.items = calloc(n ? n : 1, sizeof *list.items);
    if (!infos || !list.items) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    } else {
        for (size_t i = 0; i < n; i++) {
            s_info(accounts[i], &infos[i]);
            list.items[i] = &infos[i];
        }
        list.n_items = n;
        rc = koop_call_reply(call, &list.base);
    }
    for (size_t i = 0; i < n; i++)
        koop__gw__account__free_unpacked(accounts[i], NULL);
    free(accounts);
    free(infos);
    free(list.items);
    return rc;
}

int
gw_totp_enable(koop_call_t *call)
{
    const Koop__Gw__AccountRef *q = (const Koop__Gw__AccountRef *)call->req;
    Koop__Gw__TotpSecret out = KOOP__GW__TOTP_SECRET__INIT;
    Koop__Gw__Account *a;
    uint8_t secret[GW_TOTP_SECRET_LEN], *old_data;
    char b32[64], uri[256];
    size_t old_len;
    int rc;
    if ((rc = s_load(call, q->login, &a)) != KOOP_OK)
        return rc;
    if (a->has_totp_secret && a->totp_secret.len) {
        koop__gw__account__free_unpacked(a, NULL);
        return koop_fail(call, TOTP_ALREADY_ON, "login", q->login);
    }
    randombytes_buf(secret, sizeof secret);
    old_data = a->totp_secret.data;
    old_len = a->totp_secret.len;
    a->has_totp_secret = 1;
    a->totp_secret.data = secret;
    a->totp_secret.len = sizeof secret;
    a->has_totp_last_step = 1;
    a->totp_last_step = 0;
    gw_base32(secret, sizeof secret, b32, sizeof b32);
    rc = s_save(call, a, "account.totp_enabled", 0);
    if (rc == KOOP_OK) {
        snprintf(uri, sizeof uri, "otpauth://totp/koop:%s?secret=%s&issuer=koop&algorithm=SHA1&digits=6&period=%d",
                 a->login, b32, GW_TOTP_STEP_S);
        out.login = a->login;
        out.secret = b32;
        out.uri = uri;
        rc = koop_call_reply(call, &out.base);
    }
    a->totp_secret.data = old_data;
    a->totp_secret.len = old_len;
    koop__gw__account__free_unpacked(a, NULL);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

int
gw_totp_disable(koop_call_t *call)
{
    const Koop__Gw__AccountRef *q = (const Koop__Gw__AccountRef *)call->req;
    Koop__Gw__Account *a;
    int rc;
    if ((rc = s_load(call, q->login, &a)) != KOOP_OK)
        return rc;
    a->has_totp_secret = 0;
    rc = s_save(call, a, "account.totp_disabled", 0);
    koop__gw__account__free_unpacked(a, NULL);
    return rc;
}
