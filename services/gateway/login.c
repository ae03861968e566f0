/*
 * login.c - POST /api/session: password, then (when the account has it)
 * the one-time code.
 *
 *   {"login","password"} ──limits──> hash job (queue, then a pool thread:
 *       verify, and rehash when the node's parameters changed)
 *     wrong ──> audit session.login_failed, 401
 *     right ──> person.show (registry: active? a coordinator?)
 *        coordinator without TOTP while require_totp_for = coordinator ──> 403
 *        account with TOTP ──> pending session (cookie), {"totp_required": true}
 *        else ──> session (cookie), {"csrf", ...}, audit session.login
 *   {"totp"} with the pending session's cookie ──> checked (no replay of a
 *       used step) ──> the pending session is replaced by a full one
 *
 * Limits without hard lock-outs: two leaky buckets, one per login and one
 * per client address. A failure adds 1; a bucket drains one failure per
 * period (login: 5 failures, then one try a minute; address: 20, then one
 * every 6 s). While a bucket is over, attempts are refused with 429 and
 * Retry-After before any hashing. The buckets are in memory.
 *
 * Hashing never runs on the loop: at most lim.hash_workers jobs run on
 * libuv's pool at once, GW_HASH_QUEUE more wait, beyond that 503. An
 * unknown login is verified against a dummy hash, so it takes as long as a
 * wrong password. A job whose request went away (the client closed) runs
 * to its end and is dropped.
 */
#include "gateway.h"
#include "clock.h"
#include "pbjson.h"
#include "say.h"
#include "registry.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_BUCKETS 4096
#define GW_BUCKET_PROBE 16

typedef struct gw_bucket {
    char key[80];
    double level;
    uint64_t at_ms;
} gw_bucket_t;

static const struct {
    char prefix;
    double burst;
    uint64_t period_ms;
} s_limits[] = {{'l', 5, 60000}, {'a', 20, 6000}};

struct gw_login_job {
    uv_work_t work;
    gw_login_job_t *next;
    gw_t *gw;
    gw_req_t *req;     /* NULL when the request is gone */
    koop_pwparams_t pw;
    char login[72];
    char password[KOOP_PASSWORD_MAX + 1];
    size_t pwlen;
    char hash[KOOP_PASSWORD_HASH_MAX];
    char new_hash[KOOP_PASSWORD_HASH_MAX];
    int known, ok, rehashed;
};

/* What a login keeps between the hash and the registry's answer. */
typedef struct {
    char login[72];
    char new_hash[KOOP_PASSWORD_HASH_MAX];
    int rehashed;
} s_step;

/* ---- buckets ---- */

static gw_bucket_t *
s_bucket(gw_t *gw, char kind, const char *name, int create)
{
    char key[80];
    uint64_t h = 1469598103934665603ull;
    gw_bucket_t *victim = NULL;
    snprintf(key, sizeof key, "%c:%s", kind, name);
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (size_t i = 0; i < GW_BUCKET_PROBE; i++) {
        gw_bucket_t *b = &gw->buckets[(h + i) % GW_BUCKETS];
        if (strcmp(b->key, key) == 0)
            return b;
        /* else the first free slot, or the one used longest ago */
        if (!victim || (victim->key[0] && (!b->key[0] || b->at_ms < victim->at_ms)))
            victim = b;
    }
    if (!create)
        return NULL;
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->level = 0;
    victim->at_ms = koop_clock_now_ms();
    return victim;
}

static double
s_level(gw_bucket_t *b, size_t which, uint64_t now)
{
    double drained = (double)(now - b->at_ms) / (double)s_limits[which].period_ms;
    b->level = b->level > drained ? b->level - drained : 0;
    b->at_ms = now;
    return b->level;
}

/* Seconds to wait before the next attempt of login from address (0: go). */
static unsigned
s_wait_s(gw_t *gw, const char *login, const char *address)
{
    const char *names[] = {login, address};
    uint64_t now = koop_clock_now_ms();
    double wait = 0;
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_limits); i++) {
        gw_bucket_t *b = s_bucket(gw, s_limits[i].prefix, names[i], 0);
        double over = b ? s_level(b, i, now) - s_limits[i].burst + 1 : 0;
        if (over > 0 && over * (double)s_limits[i].period_ms / 1000.0 > wait)
            wait = over * (double)s_limits[i].period_ms / 1000.0;
    }
    return wait > 0 ? (unsigned)wait + 1 : 0;
}

static void
s_failed(gw_t *gw, const char *login, const char *address)
{
    const char *names[] = {login, address};
    uint64_t now = koop_clock_now_ms();
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_limits); i++) {
        gw_bucket_t *b = s_bucket(gw, s_limits[i].prefix, names[i], 1);
        s_level(b, i, now);
        b->level += 1;
        if (b->level >= s_limits[i].burst && b->level < s_limits[i].burst + 1)
            koop_warn("logowanie: limit prób dla %s %s", i == 0 ? "loginu" : "adresu", names[i]);
    }
}

static void
s_succeeded(gw_t *gw, const char *login)
{
    gw_bucket_t *b = s_bucket(gw, 'l', login, 0);
    if (b)
        b->level = 0;
}

/* ---- the writes of a login ---- */

typedef struct {
    gw_t *gw;
    const char *login, *address;
    const char *event, *reason;  /* audit fact (NULL: none) */
    int session;                 /* 1 full, 2 pending, 0 none */
    const char *new_hash;        /* rehash */
    const uint8_t *replace;      /* the pending session this one replaces */
    uint64_t totp_step;
    char sid[GW_SID_LEN + 1];    /* out */
    Koop__Gw__Session *s;        /* out */
} s_commit_ctx;

static int
s_commit(MDB_txn *txn, void *ctx)
{
    s_commit_ctx *c = ctx;
    Koop__Gw__Account *a = NULL;
    const char *person = NULL;
    char *old_hash = NULL;
    int rc = 0;
    if (c->s) { /* run again after the map grew */
        koop__gw__session__free_unpacked(c->s, NULL);
        c->s = NULL;
    }
    if (gw_account_get(c->gw, txn, c->login, &a) == 0)
        person = a->person;
    if (c->session && !a)
        return MDB_NOTFOUND;
    if (a && c->session) {
        old_hash = a->password_hash;
        if (c->new_hash)
            a->password_hash = (char *)c->new_hash;
        if (c->totp_step) {
            a->has_totp_last_step = 1;
            a->totp_last_step = c->totp_step;
        }
        if (c->session == 1) {
            a->has_last_login_ms = 1;
            a->last_login_ms = koop_clock_now_ms();
        }
        rc = gw_account_put(c->gw, txn, a);
        a->password_hash = old_hash;
        if (rc == 0 && c->replace)
            rc = gw_session_del(c->gw, txn, c->replace);
        if (rc == 0)
            rc = gw_session_put(c->gw, txn, a, c->session == 2, c->sid, &c->s);
    }
    if (rc == 0 && c->event)
        rc = gw_audit(c->gw, txn, c->event, person, c->login, person, c->address, c->reason, 0);
    if (a)
        koop__gw__account__free_unpacked(a, NULL);
    return rc;
}

static int
s_write(gw_t *gw, s_commit_ctx *c)
{
    int rc = koop_store_write(gw->store, s_commit, c);
    if (rc == 0 && c->event)
        koop_service_events_committed(gw->svc);
    if (rc != 0)
        koop_error("logowanie %s: zapis nie powiódł się: %s", c->login, mdb_strerror(rc));
    return rc;
}

/* A failed attempt: counted, audited, answered. */
static void
s_refuse(gw_req_t *r, const char *login, koop_err_t id, const char *const *args)
{
    s_commit_ctx c = {.gw = r->gw, .login = login, .address = r->address, .event = "session.login_failed",
                      .reason = koop_err_code(id)};
    r->gw->m.logins_failed++;
    s_failed(r->gw, login, r->address);
    s_write(r->gw, &c);
    gw_answer_err(r, id, NULL, args);
}

/* The session is written: cookie and reply. */
static void
s_session_reply(gw_req_t *r, s_commit_ctx *c, const Koop__Reg__Person *p)
{
    Koop__Gw__SessionInfo info = KOOP__GW__SESSION_INFO__INIT;
    char role[40];
    gw_session_cookie(r, c->sid);
    if (c->session == 2) {
        info.has_totp_required = 1;
        info.totp_required = 1;
    } else {
        info.csrf = c->s->csrf;
        info.login = c->s->login;
        info.person = c->s->person;
        info.has_idle_expires_ms = info.has_absolute_expires_ms = 1;
        info.idle_expires_ms = c->s->seen_ms + r->gw->lim.idle_ms;
        info.absolute_expires_ms = c->s->created_ms + r->gw->lim.absolute_ms;
        if (p) {
            const ProtobufCEnumValue *v =
                protobuf_c_enum_descriptor_get_value(&koop__reg__role__descriptor, p->role);
            if (v) {
                koop_pbjson_enum_name(v, role, sizeof role);
                info.role = role;
            }
            info.institution = p->institution;
        }
        r->gw->m.logins_ok++;
        s_succeeded(r->gw, c->login);
    }
    gw_answer_reply(r, r->api, &info.base);
    koop__gw__session__free_unpacked(c->s, NULL);
    c->s = NULL;
}

/* ---- step 1: the person, after the password ---- */

static void
s_on_person(void *ctx, const koop_reply_t *reply)
{
    gw_req_t *r = ctx;
    s_step *st = r->web_state;
    gw_t *gw = r->gw;
    Koop__Reg__Person *p = NULL;
    Koop__Gw__Account *a = NULL;
    MDB_txn *txn;
    int totp = 0;

    r->calling = 0;
    if (reply->status == KOOP_OK)
        p = koop__reg__person__unpack(NULL, reply->len, reply->payload);
    if (reply->status != KOOP_OK && reply->status != KOOP_NOT_FOUND) {
        gw_fail(r, SERVICE_UNAVAILABLE, NULL, "registry");
        goto done;
    }
    if (!p || !p->active) {
        s_refuse(r, st->login, KOOP_ERR_ACCOUNT_PERSON_INACTIVE, (const char *const[]){st->login, NULL});
        goto done;
    }
    if (koop_store_read(gw->store, &txn) == 0) {
        gw_account_get(gw, txn, st->login, &a);
        mdb_txn_abort(txn);
    }
    if (!a || !a->active) {
        s_refuse(r, st->login, KOOP_ERR_ACCOUNT_LOGIN_FAILED, NULL);
        goto done;
    }
    totp = a->has_totp_secret && a->totp_secret.len > 0;
    if (!totp && gw->lim.totp_for_coordinators && p->role == KOOP__REG__ROLE__ROLE_COORDINATOR) {
        s_refuse(r, st->login, KOOP_ERR_TOTP_SETUP_REQUIRED, NULL);
        goto done;
    }
    {
        s_commit_ctx c = {.gw = gw, .login = st->login, .address = r->address, .session = totp ? 2 : 1,
                          .event = totp ? NULL : "session.login", .new_hash = st->rehashed ? st->new_hash : NULL};
        if (s_write(gw, &c) != 0)
            gw_fail(r, INTERNAL_COMMIT, NULL, "sessions");
        else
            s_session_reply(r, &c, p);
    }
done:
    if (p)
        koop__reg__person__free_unpacked(p, NULL);
    if (a)
        koop__gw__account__free_unpacked(a, NULL);
    gw_req_answer(r);
}

/* ---- hash jobs ---- */

static void s_start_job(gw_t *gw, gw_login_job_t *j);

static void
s_work(uv_work_t *w)
{
    gw_login_job_t *j = w->data;
    j->ok = koop_password_verify(j->hash, j->password, j->pwlen) && j->known;
    if (j->ok && koop_password_needs_rehash(j->hash, &j->pw) == 1)
        j->rehashed = koop_password_hash(j->password, j->pwlen, &j->pw, j->new_hash) == 0;
    sodium_memzero(j->password, sizeof j->password);
}

static void
s_after_work(uv_work_t *w, int status)
{
    gw_login_job_t *j = w->data;
    gw_t *gw = j->gw;
    gw_req_t *r = j->req;

    gw->m.hashes_running--;
    if (gw->queue_head && !gw->stopping) {
        gw_login_job_t *next = gw->queue_head;
        gw->queue_head = next->next;
        if (!gw->queue_head)
            gw->queue_tail = NULL;
        gw->m.hashes_queued--;
        s_start_job(gw, next);
    }
    if (!r) {
        free(j);
        return;
    }
    r->job = NULL;
    if (status != 0 || !j->ok) {
        s_refuse(r, j->login, KOOP_ERR_ACCOUNT_LOGIN_FAILED, NULL);
        gw_req_answer(r);
    } else {
        s_step *st = calloc(1, sizeof *st);
        const char *ep = koop_config_endpoint(gw->cfg, "registry");
        Koop__Reg__ById q = KOOP__REG__BY_ID__INIT;
        Koop__Gw__Account *a = NULL;
        MDB_txn *txn;
        if (koop_store_read(gw->store, &txn) == 0) {
            gw_account_get(gw, txn, j->login, &a);
            mdb_txn_abort(txn);
        }
        if (st && a) {
            snprintf(st->login, sizeof st->login, "%s", j->login);
            memcpy(st->new_hash, j->new_hash, sizeof st->new_hash);
            st->rehashed = j->rehashed;
            free(r->web_state);
            r->web_state = st;
            st = NULL;
            q.id = a->person;
        }
        if (!a || !q.id) {
            s_refuse(r, j->login, KOOP_ERR_ACCOUNT_LOGIN_FAILED, NULL);
            gw_req_answer(r);
        } else if (!ep || koop_client_call(gw->client, ep, a->person, "person.show", &q.base, GW_CALL_TIMEOUT_MS,
                                           s_on_person, r, &r->call_id) != 0) {
            gw_fail(r, SERVICE_UNAVAILABLE, NULL, "registry");
            gw_req_answer(r);
        } else {
            r->calling = 1; /* still waiting: now for the registry */
        }
        free(st);
        if (a)
            koop__gw__account__free_unpacked(a, NULL);
    }
    sodium_memzero(j, sizeof *j);
    free(j);
}

static void
s_start_job(gw_t *gw, gw_login_job_t *j)
{
    j->work.data = j;
    gw->m.hashes_running++;
    if (uv_queue_work(koop_service_loop(gw->svc), &j->work, s_work, s_after_work) != 0) {
        j->ok = 0;
        s_after_work(&j->work, -1);
    }
}

/* ---- step 2: the one-time code ---- */

static void
s_totp_step(gw_req_t *r, const Koop__Gw__Login *q)
{
    gw_t *gw = r->gw;
    Koop__Gw__Account *a = NULL;
    MDB_txn *txn;
    uint64_t step = 0;
    unsigned wait;
    char login[72];

    if (!r->session || !r->session->totp_pending) {
        gw_fail(r, SESSION_REQUIRED, NULL);
        return;
    }
    snprintf(login, sizeof login, "%s", r->session->login);
    if ((wait = s_wait_s(gw, login, r->address)) > 0) {
        gw->m.logins_limited++;
        snprintf(r->retry_after, sizeof r->retry_after, "%u", wait);
        gw_fail(r, ACCOUNT_RATE_LIMITED, NULL, KOOP_NUM(wait));
        return;
    }
    if (koop_store_read(gw->store, &txn) == 0) {
        gw_account_get(gw, txn, login, &a);
        mdb_txn_abort(txn);
    }
    if (!a || !a->has_totp_secret ||
        !gw_totp_check(a->totp_secret.data, a->totp_secret.len, q->totp, koop_clock_real_ms() / 1000,
                       a->totp_last_step, &step)) {
        gw->m.logins_totp_failed++;
        s_refuse(r, login, KOOP_ERR_TOTP_INVALID, NULL);
    } else {
        s_commit_ctx c = {.gw = gw, .login = login, .address = r->address, .session = 1, .event = "session.login",
                          .replace = r->session_key, .totp_step = step};
        if (s_write(gw, &c) != 0)
            gw_fail(r, INTERNAL_COMMIT, NULL, "sessions");
        else
            s_session_reply(r, &c, NULL);
    }
    if (a)
        koop__gw__account__free_unpacked(a, NULL);
}

/* ---- the entry ---- */

void
gw_login_start(gw_req_t *r, const Koop__Gw__Login *q)
{
    gw_t *gw = r->gw;
    gw_login_job_t *j;
    Koop__Gw__Account *a = NULL;
    MDB_txn *txn;
    unsigned wait;

    if (q->totp && *q->totp) {
        s_totp_step(r, q);
        return;
    }
    if (!q->login || !*q->login) {
        gw_fail(r, FIELD_REQUIRED, "login");
        return;
    }
    if (!q->password || !*q->password) {
        gw_fail(r, FIELD_REQUIRED, "password");
        return;
    }
    if (strlen(q->login) >= sizeof j->login || strlen(q->password) > KOOP_PASSWORD_MAX) {
        gw_fail(r, ACCOUNT_LOGIN_FAILED, NULL);
        return;
    }
    if ((wait = s_wait_s(gw, q->login, r->address)) > 0) {
        gw->m.logins_limited++;
        snprintf(r->retry_after, sizeof r->retry_after, "%u", wait);
        gw_fail(r, ACCOUNT_RATE_LIMITED, NULL, KOOP_NUM(wait));
        return;
    }
    if (gw->m.hashes_queued >= GW_HASH_QUEUE || !(j = calloc(1, sizeof *j))) {
        gw->m.busy++;
        snprintf(r->retry_after, sizeof r->retry_after, "1");
        gw_fail(r, HTTP_BUSY, NULL);
        return;
    }
    j->gw = gw;
    j->req = r;
    j->pw = gw->lim.pw;
    snprintf(j->login, sizeof j->login, "%s", q->login);
    j->pwlen = strlen(q->password);
    memcpy(j->password, q->password, j->pwlen);
    if (koop_store_read(gw->store, &txn) == 0) {
        gw_account_get(gw, txn, q->login, &a);
        mdb_txn_abort(txn);
    }
    j->known = a && a->password_hash && strlen(a->password_hash) < sizeof j->hash;
    snprintf(j->hash, sizeof j->hash, "%s", j->known ? a->password_hash : gw->dummy_hash);
    if (a)
        koop__gw__account__free_unpacked(a, NULL);
    r->job = j;
    gw_req_wait(r);
    if (gw->m.hashes_running < gw->lim.hash_workers) {
        s_start_job(gw, j);
    } else {
        if (gw->queue_tail)
            gw->queue_tail->next = j;
        else
            gw->queue_head = j;
        gw->queue_tail = j;
        gw->m.hashes_queued++;
    }
}

void
gw_login_forget(gw_req_t *r)
{
    gw_t *gw = r->gw;
    gw_login_job_t *j = r->job, **pp;
    if (!j)
        return;
    r->job = NULL;
    /* still queued: taken out; running: dropped when it ends */
    for (pp = &gw->queue_head; *pp; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            if (gw->queue_tail == j) {
                gw->queue_tail = NULL;
                for (gw_login_job_t *t = gw->queue_head; t; t = t->next)
                    gw->queue_tail = t;
            }
            gw->m.hashes_queued--;
            sodium_memzero(j, sizeof *j);
            free(j);
            return;
        }
    }
    j->req = NULL;
}

int
gw_login_init(gw_t *gw)
{
    char pw[32];
    gw->buckets = calloc(GW_BUCKETS, sizeof *gw->buckets);
    if (!gw->buckets)
        return -ENOMEM;
    /* a hash nobody's password matches, for unknown logins */
    randombytes_buf(pw, sizeof pw);
    return koop_password_hash(pw, sizeof pw, &gw->lim.pw, gw->dummy_hash);
}

void
gw_login_stop(gw_t *gw)
{
    gw->stopping = 1;
    while (gw->queue_head) {
        gw_login_job_t *j = gw->queue_head;
        gw->queue_head = j->next;
        if (j->req)
            j->req->job = NULL;
        sodium_memzero(j, sizeof *j);
        free(j);
    }
    gw->queue_tail = NULL;
    gw->m.hashes_queued = 0;
}
