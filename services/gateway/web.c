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
#include "present.h"
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

/* ---- methods: the routes as data, for the UI ----
 *
 * Each route with its request's fields described for a form: the type and
 * the enum values from the request message's descriptor, the label from
 * labels.def in the user's language, and what the row's help (the one
 * description of the options) says: an option outside "[...]" is required,
 * one followed by RRRR-MM-DD (or D) is a date. Path fields are required. */

/* Strings made for one answer, freed after it. */
typedef struct {
    char **s;
    size_t n, cap;
} s_arena;

static char *
s_keep(s_arena *a, char *str)
{
    if (!str)
        return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        char **grown = realloc(a->s, cap * sizeof *grown);
        if (!grown) {
            free(str);
            return NULL;
        }
        a->s = grown;
        a->cap = cap;
    }
    return a->s[a->n++] = str;
}

static void *
s_alloc(s_arena *a, size_t n)
{
    return s_keep(a, calloc(1, n ? n : 1));
}

/* What the help says of field: *required (before the first '['), *date. */
static void
s_help_of(const char *help, const char *field, int *required, int *date)
{
    size_t flen = strlen(field);
    const char *bracket = strchr(help, '[');
    *required = *date = 0;
    for (const char *p = strstr(help, "--"); p; p = strstr(p + 2, "--")) {
        size_t i = 0;
        const char *q = p + 2;
        while (i < flen && q[i] && (q[i] == field[i] || (q[i] == '-' && field[i] == '_')))
            i++;
        if (i != flen || (q[i] && q[i] != ' ' && q[i] != ']' && q[i] != '|'))
            continue;
        *required = !bracket || p < bracket;
        q += i;
        while (*q == ' ')
            q++;
        *date = strncmp(q, "RRRR-MM-DD", 10) == 0 || (q[0] == 'D' && (q[1] == ' ' || q[1] == ']' || !q[1]));
        return;
    }
}

static int
s_in_path(const char *path, const char *field)
{
    char want[80];
    snprintf(want, sizeof want, "{%s}", field);
    return strstr(path, want) != NULL;
}

static Koop__Gw__MethodField *
s_method_field(s_arena *a, const koop_api_method_t *api, const ProtobufCFieldDescriptor *f, koop_lang_t lang)
{
    Koop__Gw__MethodField *mf = s_alloc(a, sizeof *mf);
    int required, date;
    if (!mf)
        return NULL;
    koop__gw__method_field__init(mf);
    mf->name = (char *)f->name;
    mf->label = (char *)koop_present_field_label(api->request, f->name, lang);
    s_help_of(api->help, f->name, &required, &date);
    mf->has_in_path = mf->has_required = mf->has_repeated = 1;
    mf->in_path = s_in_path(api->path, f->name);
    mf->required = required || mf->in_path;
    mf->repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: mf->type = date ? "date" : "string"; break;
    case PROTOBUF_C_TYPE_BOOL: mf->type = "bool"; break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        mf->type = "enum";
        mf->values = s_alloc(a, e->n_values * sizeof *mf->values);
        if (!mf->values)
            return NULL;
        for (unsigned i = 0; i < e->n_values; i++) {
            char name[64];
            if (e->values[i].value == 0)
                continue;
            koop_pbjson_enum_name(&e->values[i], name, sizeof name);
            if (!(mf->values[mf->n_values++] = s_keep(a, strdup(name))))
                return NULL;
        }
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: mf->type = "object"; break;
    default: mf->type = "number"; break;
    }
    return mf;
}

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
    s_arena a = {0};
    Koop__Gw__Method *items = s_alloc(&a, rt->n * sizeof *items);
    Koop__Gw__Method **ptrs = s_alloc(&a, rt->n * sizeof *ptrs);
    (void)req;
    if (!items || !ptrs)
        goto oom;
    for (size_t i = 0; i < rt->n; i++) {
        const koop_api_method_t *api = rt->routes[i].api;
        const ProtobufCMessageDescriptor *d = api->request;
        Koop__Gw__Method *m = &items[i];
        koop__gw__method__init(m);
        m->name = (char *)api->name;
        m->service = (char *)api->service;
        m->http = (char *)koop_http_name(api->http);
        m->path = (char *)api->path;
        m->flags = s_alloc(&a, KOOP_ARRAY_LEN(flags) * sizeof *m->flags);
        m->fields = s_alloc(&a, d->n_fields * sizeof *m->fields);
        m->inputs = s_alloc(&a, d->n_fields * sizeof *m->inputs);
        if (!m->flags || !m->fields || !m->inputs)
            goto oom;
        for (size_t f = 0; f < KOOP_ARRAY_LEN(flags); f++)
            if (api->flags & flags[f].flag)
                m->flags[m->n_flags++] = (char *)flags[f].name;
        for (unsigned f = 0; f < d->n_fields; f++) {
            m->fields[m->n_fields++] = (char *)d->fields[f].name;
            if (!(m->inputs[m->n_inputs++] = s_method_field(&a, api, &d->fields[f], r->lang)))
                goto oom;
        }
        ptrs[i] = m;
    }
    list.items = ptrs;
    list.n_items = rt->n;
    gw_answer_reply(r, r->api, &list.base);
    goto done;
oom:
    gw_fail(r, INTERNAL_NO_MEMORY, NULL);
done:
    for (size_t i = 0; i < a.n; i++)
        free(a.s[i]);
    free(a.s);
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
