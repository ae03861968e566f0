/*
 * fuzz_http - what an HTTP client sends the gateway, through the functions
 * that read it (services/gateway/route.c, as dispatch.c uses them): the
 * method and path against the routes built from common/api.def, the query's
 * arguments, the JSON body merged with the path's fields, the request
 * message pbjson builds from them for the route's method (what the gateway
 * would send on), the Cookie and Accept-Language headers, and the path of a
 * web UI file. The input is a sequence of parts (fz_split): "METHOD PATH",
 * the query ("k=v&k=v", decoded, as libmicrohttpd hands it over), the body,
 * the Cookie header, the Accept-Language header; each text part is cut at
 * its first NUL (no header or path carries one).
 * Checked: no crash; a matched route's path fields form a JSON object and a
 * refusal carries a code of the catalogue; a message that is built packs
 * and unpacks as the route's request type; a web UI path that is accepted
 * names a file below web_dir (no segment ".." or starting with a dot, not
 * absolute, a known type).
 */
#include "fuzz.h"
#include "gateway.h"
#include "pbjson.h"

static gw_routes_t s_routes;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    FZ_ASSERT(gw_routes_build(&s_routes) == 0);
    return 0;
}

/* A NUL-terminated copy of part, cut at its first NUL (caller frees). */
static char *
s_text(const uint8_t *p, size_t len)
{
    size_t n = p ? strnlen((const char *)p, len) : 0;
    char *s = malloc(n + 1);
    FZ_ASSERT(s != NULL);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* The query's arguments into fields, as dispatch.c's visit does. */
static int
s_query(json_t *fields, char *query, koop_error_t *err)
{
    char *save = NULL;
    for (char *arg = strtok_r(query, "&", &save); arg; arg = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(arg, '=');
        if (eq)
            *eq++ = '\0';
        if (strcmp(arg, "lang") == 0 || strcmp(arg, "format") == 0)
            continue;
        if (gw_query_add(fields, arg, eq, err) != 0)
            return -1;
    }
    return 0;
}

static void
s_message(const gw_route_t *route, json_t *fields)
{
    koop_error_t err;
    ProtobufCMessage *m, *back;
    uint8_t *b;
    size_t len;
    koop_error_clear(&err);
    m = koop_pbjson_from_json(route->api->request, fields, &err);
    if (!m) {
        FZ_ASSERT(koop_err_find(err.code) != KOOP_ERR_NONE);
        return;
    }
    len = protobuf_c_message_get_packed_size(m);
    b = malloc(len ? len : 1);
    FZ_ASSERT(b != NULL);
    FZ_ASSERT(protobuf_c_message_pack(m, b) == len);
    back = protobuf_c_message_unpack(route->api->request, NULL, len, b);
    FZ_ASSERT(back != NULL);
    protobuf_c_message_free_unpacked(back, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[FZ_MAX_REQUESTS] = {NULL};
    size_t len[FZ_MAX_REQUESTS] = {0}, n;
    char *line, *query, *cookie, *accept, *path, method[16] = "", allow[64], rel[GW_STATIC_NAME_MAX + 1], value[128];
    json_t *fields = json_object();
    const gw_route_t *route;
    koop_error_t err;
    int why = 0;

    if (!s_routes.n)
        LLVMFuzzerInitialize(NULL, NULL);
    n = fz_split(data, size, part, len);
    line = s_text(n > 0 ? part[0] : NULL, len[0]);
    query = s_text(n > 1 ? part[1] : NULL, len[1]);
    cookie = s_text(n > 3 ? part[3] : NULL, len[3]);
    accept = s_text(n > 4 ? part[4] : NULL, len[4]);
    path = strchr(line, ' ');
    if (path) {
        snprintf(method, sizeof method, "%.*s", (int)(path - line < 15 ? path - line : 15), line);
        path++;
    } else {
        path = line;
    }
    if (strlen(path) < GW_PATH_MAX) {
        koop_error_clear(&err);
        route = gw_route_match(&s_routes, method, path, fields, &why, allow, sizeof allow);
        FZ_ASSERT(json_is_object(fields));
        if (!route) {
            FZ_ASSERT(why == 400 || why == 404 || why == 405);
        } else if (route->api->http == KOOP_HTTP_GET || route->api->http == KOOP_HTTP_DELETE) {
            if (s_query(fields, query, &err) == 0)
                s_message(route, fields);
            else
                FZ_ASSERT(koop_err_find(err.code) != KOOP_ERR_NONE);
        } else if (n > 2 && len[2] > 0) {
            if (gw_body_merge(fields, (const char *)part[2], len[2], &err) == 0)
                s_message(route, fields);
            else
                FZ_ASSERT(koop_err_find(err.code) != KOOP_ERR_NONE);
        } else {
            s_message(route, fields);
        }
        if (gw_static_path(path, rel, sizeof rel) == 0) {
            /* ".." inside a name ("a..woff2") is a name; no segment may be
             * "." or "..", nor start with a dot */
            FZ_ASSERT(rel[0] != '/' && rel[0] != '.' && strstr(rel, "/.") == NULL && strstr(rel, "//") == NULL);
            FZ_ASSERT(gw_static_type(rel) != NULL);
        }
    }
    (void)gw_json_depth(n > 2 ? (const char *)part[2] : "", n > 2 ? len[2] : 0);
    if (gw_cookie_get(cookie, "koop", value, sizeof value) == 0)
        FZ_ASSERT(strlen(value) < sizeof value);
    (void)gw_cookie_get(cookie, "lang", value, sizeof value);
    FZ_ASSERT(gw_lang_of(accept) == KOOP_LANG_PL || gw_lang_of(accept) == KOOP_LANG_EN);
    json_decref(fields);
    free(line);
    free(query);
    free(cookie);
    free(accept);
    return 0;
}
