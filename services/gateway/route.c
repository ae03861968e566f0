/*
 * route.c - the gateway's routes, built from common/api.def, and the
 * parsing of what a client sends. Everything here takes bytes and returns
 * values: no sockets, no MHD, no store (so the fuzz targets can call it).
 *
 * A route is a row with an HTTP method and path that is neither INTERNAL
 * nor SHELL. Matching is by segments: a literal must be equal, a {field}
 * takes any non-empty segment (at most KOOP_MAX_TEXT bytes of UTF-8) as the
 * value of that request field. When two rows match, the one with more
 * literal segments wins (/api/tasks/mine before /api/tasks/{task}).
 *
 * A path outside /api/ names a file of the web UI (gw_static_path): only
 * names of [A-Za-z0-9_.-] that do not begin with a dot, at most
 * GW_STATIC_DEPTH segments, with an extension of the table below; anything
 * else (.., hidden files, a directory, another extension) is not a file.
 */
#include "gateway.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int
s_is_route(const koop_api_method_t *a)
{
    return a->http != KOOP_HTTP_NONE && !(a->flags & (KOOP_API_INTERNAL | KOOP_API_SHELL)) && a->path[0] == '/';
}

int
gw_routes_build(gw_routes_t *rt)
{
    size_t n = 0;
    rt->routes = calloc(koop_api_nmethods, sizeof *rt->routes);
    if (!rt->routes)
        return -1;
    for (size_t i = 0; i < koop_api_nmethods; i++) {
        const koop_api_method_t *a = &koop_api_methods[i];
        gw_route_t *r = &rt->routes[n];
        const char *p;
        if (!s_is_route(a))
            continue;
        r->api = a;
        for (p = a->path + 1; *p;) {
            const char *end = strchr(p, '/');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (r->nseg == GW_ROUTE_SEGMENTS || len == 0)
                return -1; /* a row of api.def the gateway cannot serve: test_gateway checks */
            r->seg[r->nseg] = p;
            r->seglen[r->nseg++] = len;
            p += len + (end ? 1 : 0);
        }
        n++;
    }
    rt->n = n;
    return 0;
}

void
gw_routes_free(gw_routes_t *rt)
{
    free(rt->routes);
    rt->routes = NULL;
    rt->n = 0;
}

/* Splits path (without the query) into segments; returns how many, or -1
 * when there are too many or one is empty (a//b, a trailing slash). */
static int
s_split(const char *path, const char *seg[], size_t seglen[])
{
    int n = 0;
    if (path[0] != '/')
        return -1;
    for (const char *p = path + 1; *p;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (n == GW_ROUTE_SEGMENTS || len == 0)
            return -1;
        seg[n] = p;
        seglen[n++] = len;
        p += len + (end ? 1 : 0);
        if (end && !*p)
            return -1;
    }
    return n;
}

static int
s_is_field(const char *seg, size_t len)
{
    return len > 2 && seg[0] == '{' && seg[len - 1] == '}';
}

/* 1 when route r matches the segments; *literals counts its literal ones. */
static int
s_matches(const gw_route_t *r, int n, const char *seg[], const size_t seglen[], int *literals)
{
    *literals = 0;
    if (r->nseg != n)
        return 0;
    for (int i = 0; i < n; i++) {
        if (s_is_field(r->seg[i], r->seglen[i]))
            continue;
        if (r->seglen[i] != seglen[i] || memcmp(r->seg[i], seg[i], seglen[i]) != 0)
            return 0;
        (*literals)++;
    }
    return 1;
}

const gw_route_t *
gw_route_match(const gw_routes_t *rt, const char *method, const char *path, json_t *fields, int *why,
               char *allow, size_t allowlen)
{
    const char *seg[GW_ROUTE_SEGMENTS];
    size_t seglen[GW_ROUTE_SEGMENTS];
    const gw_route_t *best = NULL;
    int n = s_split(path, seg, seglen), max_lit = -1, any = 0;

    *why = 404;
    if (allowlen)
        allow[0] = '\0';
    if (n < 0)
        return NULL;
    /* the path is what its most literal pattern says, whatever the method:
     * /api/tasks/mine is task.mine's, so PUT there is 405 even though
     * PUT /api/tasks/{task} would take "mine" for a task id */
    for (size_t i = 0; i < rt->n; i++) {
        int lit;
        if (s_matches(&rt->routes[i], n, seg, seglen, &lit) && lit > max_lit)
            max_lit = lit;
    }
    for (size_t i = 0; i < rt->n; i++) {
        const gw_route_t *r = &rt->routes[i];
        int lit;
        if (!s_matches(r, n, seg, seglen, &lit) || lit < max_lit)
            continue;
        if (strcmp(koop_http_name(r->api->http), method) != 0) {
            /* the path exists with another method: list it for Allow */
            const char *m = koop_http_name(r->api->http);
            if (!strstr(allow, m) && strlen(allow) + strlen(m) + 3 < allowlen)
                snprintf(allow + strlen(allow), allowlen - strlen(allow), "%s%s", *allow ? ", " : "", m);
            any = 1;
            continue;
        }
        if (!best)
            best = r;
    }
    if (!best) {
        *why = any ? 405 : 404;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        char field[64], value[KOOP_MAX_TEXT + 1];
        if (!s_is_field(best->seg[i], best->seglen[i]))
            continue;
        if (seglen[i] > KOOP_MAX_TEXT || best->seglen[i] - 2 >= sizeof field) {
            *why = 400;
            return NULL;
        }
        memcpy(value, seg[i], seglen[i]);
        value[seglen[i]] = '\0';
        snprintf(field, sizeof field, "%.*s", (int)(best->seglen[i] - 2), best->seg[i] + 1);
        if (!koop_text_valid(value, KOOP_MAX_TEXT) || json_object_set_new(fields, field, json_string(value)) != 0) {
            *why = 400;
            return NULL;
        }
    }
    return best;
}

int
gw_json_depth(const char *bytes, size_t len)
{
    int depth = 0, max = 0, in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = bytes[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

json_t *
gw_body_parse(const char *bytes, size_t len, int depth, koop_error_t *err)
{
    json_error_t je;
    json_t *v;
    char num[24];
    if (gw_json_depth(bytes, len) > depth) {
        koop_error_set(err, KOOP_ERR_HTTP_JSON_DEPTH, NULL, (const char *const[]){koop_num_str(num, depth), NULL});
        return NULL;
    }
    v = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        koop_error_set(err, KOOP_ERR_HTTP_JSON, NULL, (const char *const[]){je.text, NULL});
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        koop_error_set(err, KOOP_ERR_FIELD_OBJECT, NULL, NULL);
        return NULL;
    }
    return v;
}

int
gw_body_merge(json_t *obj, const char *bytes, size_t len, koop_error_t *err)
{
    json_t *body = gw_body_parse(bytes, len, GW_JSON_DEPTH, err), *v;
    const char *key;
    if (!body)
        return -1;
    json_object_foreach(body, key, v) {
        if (json_object_get(obj, key)) {
            koop_error_set(err, KOOP_ERR_FIELD_TWICE, key, NULL);
            json_decref(body);
            return -1;
        }
    }
    if (json_object_update(obj, body) != 0) {
        koop_error_set(err, KOOP_ERR_INTERNAL_NO_MEMORY, NULL, NULL);
        json_decref(body);
        return -1;
    }
    json_decref(body);
    return 0;
}

int
gw_query_add(json_t *obj, const char *key, const char *value, koop_error_t *err)
{
    if (!key || !*key || strlen(key) > 64 || !koop_text_valid(key, 64)) {
        koop_error_set(err, KOOP_ERR_HTTP_PATH, NULL, (const char *const[]){"?", NULL});
        return -1;
    }
    if (!value)
        value = "";
    if (strlen(value) > KOOP_MAX_TEXT || !koop_text_valid(value, KOOP_MAX_TEXT)) {
        koop_error_set(err, KOOP_ERR_FIELD_NOT_UTF8, key, NULL);
        return -1;
    }
    if (json_object_get(obj, key)) {
        koop_error_set(err, KOOP_ERR_FIELD_TWICE, key, NULL);
        return -1;
    }
    if (json_object_set_new(obj, key, json_string(value)) != 0) {
        koop_error_set(err, KOOP_ERR_INTERNAL_NO_MEMORY, NULL, NULL);
        return -1;
    }
    return 0;
}

int
gw_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = header;
    while (p && *p) {
        const char *end;
        size_t vlen;
        while (*p == ' ' || *p == ';')
            p++;
        end = strchr(p, ';');
        if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            p += nlen + 1;
            vlen = end ? (size_t)(end - p) : strlen(p);
            if (vlen >= outlen)
                return -1;
            memcpy(out, p, vlen);
            out[vlen] = '\0';
            return 0;
        }
        p = end;
    }
    return -1;
}

koop_lang_t
gw_lang_of(const char *al)
{
    /* the first of pl/en the header names (q-values are in the order
     * browsers send them) */
    for (const char *p = al; p && *p; p++) {
        if ((p == al || p[-1] == ',' || p[-1] == ' ') && (strncasecmp(p, "en", 2) == 0 || strncasecmp(p, "pl", 2) == 0) &&
            (p[2] == '\0' || p[2] == '-' || p[2] == ';' || p[2] == ',' || p[2] == ' '))
            return strncasecmp(p, "en", 2) == 0 ? KOOP_LANG_EN : KOOP_LANG_PL;
    }
    return KOOP_LANG_PL;
}

/* ---- the web UI's files ---- */

static const struct {
    const char *ext;
    const char *type;
} s_types[] = {
    {".html", "text/html; charset=utf-8"},       {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},   {".json", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},                   {".png", "image/png"},
    {".ico", "image/x-icon"},                    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
};

const char *
gw_static_type(const char *rel)
{
    size_t n = strlen(rel);
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_types); i++) {
        size_t e = strlen(s_types[i].ext);
        if (n > e && strcmp(rel + n - e, s_types[i].ext) == 0)
            return s_types[i].type;
    }
    return NULL;
}

int
gw_static_path(const char *path, char *rel, size_t rellen)
{
    int segs = 0;
    size_t n;
    if (!path || path[0] != '/')
        return -1;
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    n = strlen(path + 1);
    if (n == 0 || n >= rellen || n > GW_STATIC_NAME_MAX)
        return -1;
    for (const char *p = path + 1; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 0 || p[0] == '.' || ++segs > GW_STATIC_DEPTH)
            return -1;
        for (size_t i = 0; i < len; i++) {
            char c = p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.'))
                return -1;
        }
        p += len;
        if (*p == '/' && !*++p)
            return -1; /* a trailing slash: a directory */
    }
    if (!gw_static_type(path))
        return -1;
    memcpy(rel, path + 1, n + 1);
    return 0;
}
