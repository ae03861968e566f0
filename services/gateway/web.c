/*
 * web.c - the `web` rows of common/api.def: what the gateway's HTTP layer
 * answers itself. Their table is built from those rows, like a service's
 * method table, so a row without its handler here does not compile.
 *
 *   session.login       POST   /api/session   login.c
 *   session.logout      DELETE /api/session   this session ends
 *   session.logout_all  DELETE /api/sessions  every session of the account ends
 *   session.me          GET    /api/me        who is logged in (from the registry)
 *   api.methods         GET    /api/methods   the routes, for the UI
 */
#include "gateway.h"
#include "clock.h"
#include "pbjson.h"
#include "say.h"
#include "registry.pb-c.h"

#include <stdlib.h>
#include <string.h>

static void
gw_web_login(gw_req_t *r, const ProtobufCMessage *req)
{
    gw_login_start(r, (const Koop__Gw__Login *)req);
}

/* ---- logout ---- */

typedef struct {
    gw_t *gw;
    gw_req_t *r;
    int all;
    unsigned ended;
} s_logout_ctx;

static int
s_logout(MDB_txn *txn, void *ctx)
{
    s_logout_ctx *c = ctx;
    const Koop__Gw__Session *s = c->r->session;
    int rc = 0;
    c->ended = 0;
    if (c->all) {
        Koop__Gw__Account *a = NULL;
        if ((rc = gw_account_get(c->gw, txn, s->login, &a)) == 0) {
            a->has_sessions_after_ms = 1;
            a->sessions_after_ms = koop_clock_now_ms();
            rc = gw_account_put(c->gw, txn, a);
            koop__gw__account__free_unpacked(a, NULL);
        }
        if (rc == 0)
            rc = gw_session_del_login(c->gw, txn, s->login, &c->ended);
    } else {
        rc = gw_session_del(c->gw, txn, c->r->session_key);
        c->ended = 1;
    }
    if (rc == 0)
        rc = gw_audit(c->gw, txn, "session.logout", s->person, s->login, s->person, c->r->address, NULL, c->ended);
    return rc;
}

static void
s_logout_answer(gw_req_t *r, int all)
{
    s_logout_ctx c = {r->gw, r, all, 0};
    Koop__Gw__LogoutReply out = KOOP__GW__LOGOUT_REPLY__INIT;
    if (koop_store_write(r->gw->store, s_logout, &c) != 0) {
        gw_fail(r, INTERNAL_COMMIT, NULL, "sessions");
        return;
    }
    koop_service_events_committed(r->gw->svc);
    r->gw->m.logouts++;
    gw_session_cookie(r, NULL);
    out.has_sessions_ended = 1;
    out.sessions_ended = c.ended;
    gw_answer_reply(r, r->api, &out.base);
}

static void
gw_web_logout(gw_req_t *r, const ProtobufCMessage *req)
{
    (void)req;
    s_logout_answer(r, 0);
}

static void
gw_web_logout_all(gw_req_t *r, const ProtobufCMessage *req)
{
    (void)req;
    s_logout_answer(r, 1);
}

/* ---- me: the person, then their institution ---- */

typedef struct {
    char name[KOOP_MAX_TEXT + 1];
    char role[40];
    char institution[KOOP_ID_LEN];
} s_me;

static void
s_me_answer(gw_req_t *r, const char *institution_name)
{
    s_me *me = r->web_state;
    Koop__Gw__SessionInfo info = KOOP__GW__SESSION_INFO__INIT;
    const Koop__Gw__Session *s = r->session;
    info.csrf = s->csrf;
    info.login = s->login;
    info.person = s->person;
    info.name = me->name;
    info.role = me->role[0] ? me->role : NULL;
    info.institution = me->institution[0] ? me->institution : NULL;
    info.institution_name = (char *)institution_name;
    info.has_idle_expires_ms = info.has_absolute_expires_ms = 1;
    info.idle_expires_ms = s->seen_ms + r->gw->lim.idle_ms;
    info.absolute_expires_ms = s->created_ms + r->gw->lim.absolute_ms;
    gw_answer_reply(r, r->api, &info.base);
    gw_req_answer(r);
}

static void
s_on_institution(void *ctx, const koop_reply_t *reply)
{
    gw_req_t *r = ctx;
    Koop__Reg__Institution *inst = NULL;
    r->calling = 0;
    if (reply->status == KOOP_OK)
        inst = koop__reg__institution__unpack(NULL, reply->len, reply->payload);
    s_me_answer(r, inst ? inst->name : NULL);
    if (inst)
        koop__reg__institution__free_unpacked(inst, NULL);
}

static void
s_on_person(void *ctx, const koop_reply_t *reply)
{
    gw_req_t *r = ctx;
    gw_t *gw = r->gw;
    s_me *me = r->web_state;
    Koop__Reg__Person *p = NULL;
    Koop__Reg__ById q = KOOP__REG__BY_ID__INIT;
    r->calling = 0;
    if (reply->status != KOOP_OK) {
        gw_answer_error(r, &reply->err);
        gw_req_answer(r);
        return;
    }
    if (!(p = koop__reg__person__unpack(NULL, reply->len, reply->payload))) {
        gw_fail(r, CLI_BAD_REPLY, NULL, "registry");
        gw_req_answer(r);
        return;
    }
    snprintf(me->name, sizeof me->name, "%s", p->name ? p->name : "");
    snprintf(me->institution, sizeof me->institution, "%s", p->institution ? p->institution : "");
    {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&koop__reg__role__descriptor, p->role);
        if (v)
            koop_pbjson_enum_name(v, me->role, sizeof me->role);
    }
    koop__reg__person__free_unpacked(p, NULL);
    q.id = me->institution;
    if (!me->institution[0] ||
        koop_client_call(gw->client, koop_config_endpoint(gw->cfg, "registry"), r->session->person,
                         "institution.show", &q.base, GW_CALL_TIMEOUT_MS, s_on_institution, r, &r->call_id) != 0) {
        s_me_answer(r, NULL);
        return;
    }
    r->calling = 1;
}

static void
gw_web_me(gw_req_t *r, const ProtobufCMessage *req)
{
    gw_t *gw = r->gw;
    Koop__Reg__ById q = KOOP__REG__BY_ID__INIT;
    const char *ep = koop_config_endpoint(gw->cfg, "registry");
    (void)req;
    free(r->web_state);
    if (!(r->web_state = calloc(1, sizeof(s_me)))) {
        gw_fail(r, INTERNAL_NO_MEMORY, NULL);
        return;
    }
    q.id = r->session->person;
    if (!ep || koop_client_call(gw->client, ep, r->session->person, "person.show", &q.base, GW_CALL_TIMEOUT_MS,
                                s_on_person, r, &r->call_id) != 0) {
        gw_fail(r, SERVICE_UNAVAILABLE, NULL, "registry");
        return;
    }
    r->calling = 1;
    gw_req_wait(r);
}

/* ---- methods: the routes as data, for the UI ---- */

static void
gw_web_methods(gw_req_t *r, const ProtobufCMessage *req)
{
    static const struct {
        unsigned flag;
        const char *name;
    } flags[] = {{KOOP_API_WRITE, "write"}, {KOOP_API_PERSON, "person"}, {KOOP_API_LIST, "list"},
                 {KOOP_API_COORD, "coord"}, {KOOP_API_REPORT, "report"}};
    const gw_routes_t *rt = &r->gw->routes;
    Koop__Gw__MethodList list = KOOP__GW__METHOD_LIST__INIT;
    Koop__Gw__Method *items = calloc(rt->n ? rt->n : 1, sizeof *items);
    Koop__Gw__Method **ptrs = calloc(rt->n ? rt->n : 1, sizeof *ptrs);
    (void)req;
    if (!items || !ptrs) {
        gw_fail(r, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    for (size_t i = 0; i < rt->n; i++) {
        const koop_api_method_t *a = rt->routes[i].api;
        Koop__Gw__Method *m = &items[i];
        koop__gw__method__init(m);
        m->name = (char *)a->name;
        m->service = (char *)a->service;
        m->http = (char *)koop_http_name(a->http);
        m->path = (char *)a->path;
        m->flags = calloc(KOOP_ARRAY_LEN(flags), sizeof *m->flags);
        m->fields = calloc(a->request->n_fields ? a->request->n_fields : 1, sizeof *m->fields);
        if (!m->flags || !m->fields)
            continue;
        for (size_t f = 0; f < KOOP_ARRAY_LEN(flags); f++)
            if (a->flags & flags[f].flag)
                m->flags[m->n_flags++] = (char *)flags[f].name;
        for (unsigned f = 0; f < a->request->n_fields; f++)
            m->fields[m->n_fields++] = (char *)a->request->fields[f].name;
        ptrs[i] = m;
    }
    list.items = ptrs;
    list.n_items = rt->n;
    for (size_t i = 0; i < rt->n; i++)
        if (!ptrs[i]) {
            gw_fail(r, INTERNAL_NO_MEMORY, NULL);
            goto done;
        }
    gw_answer_reply(r, r->api, &list.base);
done:
    for (size_t i = 0; items && i < rt->n; i++) {
        free(items[i].flags);
        free(items[i].fields);
    }
    free(items);
    free(ptrs);
}

/* ---- the table ---- */

static const struct {
    const char *name;
    gw_web_fn fn;
} s_web[] = {
#define KOOP_API_web(fn, name, ...) {name, fn},
#include "api_rows.h"
#undef KOOP_API_web
};

static void
s_no_handler(gw_req_t *r, const ProtobufCMessage *req)
{
    (void)req;
    gw_fail(r, HTTP_NOT_FOUND, NULL, r->path);
}

gw_web_fn
gw_web_handler(const koop_api_method_t *api)
{
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_web); i++)
        if (strcmp(s_web[i].name, api->name) == 0)
            return s_web[i].fn;
    return s_no_handler;
}
