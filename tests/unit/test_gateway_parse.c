/*
 * The gateway's parsers of client bytes (services/gateway/route.c) and its
 * TOTP codes (totp.c), in process: every route of api.def is servable, a
 * literal segment beats a {field}, a path that exists with another method is
 * 405, bodies are objects of bounded depth without duplicate keys, cookies
 * and languages are read, and the codes are RFC 6238's test vectors.
 */
#include "../../services/gateway/gateway.h"

#include <criterion/criterion.h>
#include <string.h>

Test(gateway_parse, every_route_of_the_table_is_built_and_found_again)
{
    gw_routes_t rt;
    cr_assert_eq(gw_routes_build(&rt), 0, "a row of api.def the gateway cannot serve");
    cr_assert_gt(rt.n, 40);
    for (size_t i = 0; i < rt.n; i++) {
        const koop_api_method_t *a = rt.routes[i].api;
        char path[256];
        json_t *f = json_object();
        int why;
        /* the path with every {field} filled */
        size_t o = 0;
        for (const char *p = a->path; *p && o < sizeof path - 8;) {
            if (*p == '{') {
                o += (size_t)snprintf(path + o, sizeof path - o, "x%zu", i);
                p = strchr(p, '}') + 1;
            } else {
                path[o++] = *p++;
            }
        }
        path[o] = '\0';
        cr_assert_eq(gw_route_match(&rt, koop_http_name(a->http), path, f, &why, path + 200, 0), &rt.routes[i],
                     "%s %s does not route to %s", koop_http_name(a->http), path, a->name);
        json_decref(f);
    }
    gw_routes_free(&rt);
}

Test(gateway_parse, literals_win_fields_fill_and_other_methods_are_405)
{
    gw_routes_t rt;
    json_t *f = json_object();
    char allow[64];
    int why;
    const gw_route_t *r;
    cr_assert_eq(gw_routes_build(&rt), 0);
    r = gw_route_match(&rt, "GET", "/api/tasks/mine", f, &why, allow, sizeof allow);
    cr_assert(r && strcmp(r->api->name, "task.mine") == 0);
    r = gw_route_match(&rt, "POST", "/api/tasks/abc/start", f, &why, allow, sizeof allow);
    cr_assert(r && strcmp(r->api->name, "task.start") == 0);
    cr_assert_str_eq(json_string_value(json_object_get(f, "task")), "abc");
    cr_assert_null(gw_route_match(&rt, "PUT", "/api/tasks/mine", f, &why, allow, sizeof allow));
    cr_assert_eq(why, 405);
    cr_assert_str_eq(allow, "GET");
    cr_assert_null(gw_route_match(&rt, "GET", "/api/tasks/mine/", f, &why, allow, sizeof allow));
    cr_assert_eq(why, 404);
    cr_assert_null(gw_route_match(&rt, "GET", "/api//mine", f, &why, allow, sizeof allow));
    cr_assert_null(gw_route_match(&rt, "GET", "api/tasks/mine", f, &why, allow, sizeof allow));
    cr_assert_null(gw_route_match(&rt, "GET", "/api/a/b/c/d/e/f/g/h/i/j", f, &why, allow, sizeof allow));
    cr_assert_null(gw_route_match(&rt, "GET", "/api/ipws/\xff\xfe", f, &why, allow, sizeof allow));
    cr_assert_eq(why, 400, "a field that is not UTF-8");
    json_decref(f);
    gw_routes_free(&rt);
}

Test(gateway_parse, bodies_are_objects_of_bounded_depth_without_duplicates)
{
    koop_error_t e;
    json_t *v;
    const char deep[] = "{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}";
    const char strings[] = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}";
    v = gw_body_parse("{\"login\":\"x\"}", 13, GW_JSON_DEPTH, &e);
    cr_assert_not_null(v);
    json_decref(v);
    cr_assert_null(gw_body_parse("{\"a\":1,\"a\":2}", 13, GW_JSON_DEPTH, &e));
    cr_assert_str_eq(e.code, "http.json");
    cr_assert_null(gw_body_parse("[1]", 3, GW_JSON_DEPTH, &e));
    cr_assert_str_eq(e.code, "field.object");
    cr_assert_null(gw_body_parse(deep, strlen(deep), GW_JSON_DEPTH, &e));
    cr_assert_str_eq(e.code, "http.json_depth");
    cr_assert_eq(gw_json_depth(strings, strlen(strings)), 1, "brackets in strings do not count");
    cr_assert_null(gw_body_parse("{\"a\":\"\xc3\"}", 8, GW_JSON_DEPTH, &e));
    cr_assert_null(gw_body_parse("", 0, GW_JSON_DEPTH, &e));
}

Test(gateway_parse, cookies_queries_and_languages)
{
    char out[40];
    json_t *o = json_object();
    koop_error_t e;
    cr_assert_eq(gw_cookie_get("lang=en; koop=abc123", "koop", out, sizeof out), 0);
    cr_assert_str_eq(out, "abc123");
    cr_assert_eq(gw_cookie_get("xkoop=1", "koop", out, sizeof out), -1);
    cr_assert_eq(gw_cookie_get("koop=0123456789012345678901234567890123456789", "koop", out, sizeof out), -1);
    cr_assert_eq(gw_lang_of("en-GB,en;q=0.9,pl;q=0.8"), KOOP_LANG_EN);
    cr_assert_eq(gw_lang_of("pl-PL,pl;q=0.9,en;q=0.8"), KOOP_LANG_PL);
    cr_assert_eq(gw_lang_of("de-DE"), KOOP_LANG_PL);
    cr_assert_eq(gw_lang_of(NULL), KOOP_LANG_PL);
    cr_assert_eq(gw_query_add(o, "status", "done", &e), 0);
    cr_assert_eq(gw_query_add(o, "status", "planned", &e), -1);
    cr_assert_str_eq(e.code, "field.twice");
    cr_assert_eq(gw_query_add(o, "text", "\xff", &e), -1);
    json_decref(o);
}

/* RFC 6238 appendix B (SHA-1 secret "12345678901234567890"), last 6 digits. */
Test(gateway_parse, totp_codes_are_rfc_6238s)
{
    const uint8_t *s = (const uint8_t *)"12345678901234567890";
    uint64_t step = 0;
    char b32[64];
    cr_assert_eq(gw_totp_code(s, 20, 59 / 30), 287082);
    cr_assert_eq(gw_totp_code(s, 20, 1111111109 / 30), 81804);
    cr_assert_eq(gw_totp_code(s, 20, 1234567890 / 30), 5924);
    cr_assert_eq(gw_totp_code(s, 20, 2000000000 / 30), 279037);
    cr_assert(gw_totp_check(s, 20, "081804", 1111111109, 0, &step));
    cr_assert_eq(step, 1111111109 / 30);
    cr_assert_not(gw_totp_check(s, 20, "081804", 1111111109, step, &step), "a used step again");
    cr_assert(gw_totp_check(s, 20, "081804", 1111111109 + 30, 0, &step), "one step of drift");
    cr_assert_not(gw_totp_check(s, 20, "081804", 1111111109 + 90, 0, &step));
    cr_assert_not(gw_totp_check(s, 20, "81804", 1111111109, 0, &step));
    gw_base32((const uint8_t *)"foobar", 6, b32, sizeof b32);
    cr_assert_str_eq(b32, "MZXW6YTBOI");
}
