/*
 * The gateway over real HTTP (libcurl) against a running node: login, wrong
 * password, 401 without a session, 403 without the CSRF token or from
 * another origin, logout and "log out everywhere", a partner refused
 * another family's IPW, bodies that are too large or not JSON, the TOTP
 * second factor, rate limits, routes and the presentation module's bytes.
 */
#include "kt_cases.h"
#include "kt_http.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static kt_gmina_t g;
static char *ipw, *household, *task;

#define PW_SW "S3kretne-Haslo!"
#define PW_COP "Inne-Haslo-123!"
#define PW_COORD "Haslo-Koordynatora-1"

static void
s_setup(void)
{
    cr_assert_eq(kt_gmina_setup(&g), 0);
    cr_assert_eq(kt_account(&g.node, g.sw, "anowak", PW_SW), 0);
    cr_assert_eq(kt_account(&g.node, g.cop, "jdzielnicowy", PW_COP), 0);
    cr_assert_eq(kt_account(&g.node, g.coord, "ekoordynator", PW_COORD), 0);
    ipw = kt_open_ipw(&g, g.sw, "2026-01-10", &household);
    cr_assert_not_null(ipw);
    task = kt_as_id(&g, g.sw, "task", "add", "--ipw", ipw, "--owner", g.sw, "--due", "2031-02-01", "--title",
                    "Wizyta domowa", NULL);
    cr_assert_not_null(task);
    cr_assert_eq(kt_http_wait(&g.node, 20), 0, "no /healthz");
}

static void
s_teardown(void)
{
    int reports = kt_node_sanitizer_reports(&g.node);
    kt_gmina_teardown(&g);
    cr_assert_eq(reports, 0, "sanitizer reports in the node's log");
    free(ipw);
    free(household);
    free(task);
}

static kt_http_t
s_client(void)
{
    kt_http_t c = {.port = g.node.http_port};
    return c;
}

TestSuite(gateway, .init = s_setup, .fini = s_teardown, .timeout = 120);

Test(gateway, login_gives_a_cookie_and_a_token_and_my_tasks_are_koopctls_bytes)
{
    kt_http_t c = s_client();
    kt_resp_t r;
    kt_run_t k;
    cr_assert_eq(kt_http_login(&c, "anowak", PW_SW), 200);
    cr_assert(c.cookie[0] && c.csrf[0], "cookie '%s', csrf '%s'", c.cookie, c.csrf);
    cr_assert_eq(kt_http(&c, &r, "POST", "/api/session", "{\"login\":\"anowak\",\"password\":\"" PW_SW "\"}", NULL), 0);
    cr_assert(strstr(r.headers, "HttpOnly; SameSite=Strict"), "cookie attributes: %s", r.headers);
    cr_assert(strstr(r.headers, "Content-Security-Policy: ") && strstr(r.headers, "frame-ancestors 'none'"));
    cr_assert(strstr(r.headers, "X-Content-Type-Options: nosniff") && strstr(r.headers, "Referrer-Policy: "));
    cr_assert_null(strstr(r.body, "Rodzina Testowa"));
    snprintf(c.csrf, sizeof c.csrf, "%s", json_string_value(json_object_get(r.json, "csrf")));
    kt_resp_free(&r);

    cr_assert_eq(kt_http(&c, &r, "GET", "/api/tasks/mine", NULL, NULL), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, task), "my task is listed: %s", r.body);
    /* the same bytes koopctl --json prints (one presentation module) */
    cr_assert_eq(kt_as(&k, &g, g.sw, "task", "mine", NULL), 0);
    cr_assert_str_eq(r.body, k.out);
    kt_run_free(&k);
    kt_resp_free(&r);

    cr_assert_eq(kt_http(&c, &r, "GET", "/api/me", NULL, NULL), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "Anna Nowak");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "role")), "social_worker");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "institution_name")), "GOPS");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "csrf")), c.csrf);
    kt_resp_free(&r);
}

Test(gateway, a_wrong_password_or_unknown_login_is_401_and_an_audit_fact_without_the_password)
{
    kt_http_t c = s_client();
    kt_event_t *ev;
    long n;
    int failed = 0, ok = 0;
    cr_assert_eq(kt_http_login(&c, "anowak", "zle-haslo-123"), 401);
    cr_assert_eq(kt_http_login(&c, "nikt-taki", "zle-haslo-123"), 401);
    cr_assert_eq(c.cookie[0], '\0', "no cookie for a failed login");
    cr_assert_eq(kt_http_login(&c, "anowak", PW_SW), 200);
    n = kt_events(&g.node, "gateway", 0, &ev);
    cr_assert_gt(n, 0);
    for (long i = 0; i < n; i++) {
        failed += strcmp(ev[i].type, "session.login_failed") == 0;
        ok += strcmp(ev[i].type, "session.login") == 0;
        cr_assert_not(kt_contains(ev[i].bytes, ev[i].len, "zle-haslo"), "a password in the audit log");
        cr_assert_not(kt_contains(ev[i].bytes, ev[i].len, PW_SW), "a password in the audit log");
    }
    kt_events_free(ev, n);
    cr_assert_eq(failed, 2);
    cr_assert_eq(ok, 1);
}

Test(gateway, without_a_session_the_api_answers_401_with_a_json_error)
{
    kt_http_t c = s_client();
    kt_resp_t r;
    const char *en[] = {"Accept-Language: en-GB,en;q=0.8", NULL};
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/tasks/mine", NULL, NULL), 0);
    cr_assert_eq(r.status, 401);
    cr_assert_str_eq(kt_resp_code(&r), "session.required");
    cr_assert(strstr(r.body, "zaloguj"), "Polish by default: %s", r.body);
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/ipws/" "01a23149-cef7-7b7a-8a40-8f131666703a", NULL, en), 0);
    cr_assert_eq(r.status, 401);
    cr_assert(strstr(r.body, "log in"), "English asked for: %s", r.body);
    kt_resp_free(&r);
    snprintf(c.cookie, sizeof c.cookie, "koop=0123456789abcdef0123456789abcdef");
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/tasks/mine", NULL, NULL), 0);
    cr_assert_eq(r.status, 401, "a made-up session id");
    kt_resp_free(&r);
}

Test(gateway, state_changing_calls_need_the_csrf_token_and_this_sites_origin)
{
    kt_http_t c = s_client();
    kt_resp_t r;
    char path[160], tok[120];
    const char *evil[] = {tok, "Origin: https://evil.example", NULL};
    const char *cross[] = {tok, "Sec-Fetch-Site: cross-site", NULL};
    cr_assert_eq(kt_http_login(&c, "anowak", PW_SW), 200);
    snprintf(path, sizeof path, "/api/tasks/%s/start", task);
    cr_assert_eq(kt_http(&c, &r, "POST", path, NULL, NULL), 0);
    cr_assert_eq(r.status, 403, "%s", r.body);
    cr_assert_str_eq(kt_resp_code(&r), "csrf.token");
    kt_resp_free(&r);
    snprintf(tok, sizeof tok, "X-CSRF-Token: %s", c.csrf);
    cr_assert_eq(kt_http(&c, &r, "POST", path, NULL, evil), 0);
    cr_assert_eq(r.status, 403);
    cr_assert_str_eq(kt_resp_code(&r), "csrf.origin");
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "POST", path, NULL, cross), 0);
    cr_assert_eq(r.status, 403);
    kt_resp_free(&r);
    /* nothing changed: the task is still planned */
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/tasks/mine", NULL, NULL), 0);
    cr_assert(strstr(r.body, "\"planned\""), "%s", r.body);
    kt_resp_free(&r);
    /* with the token the same call runs */
    cr_assert_eq(kt_http_csrf(&c, &r, "POST", path, NULL), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "in_progress");
    kt_resp_free(&r);
    /* logout without the token is refused too (acceptance contract) */
    cr_assert_eq(kt_http(&c, &r, "DELETE", "/api/session", NULL, NULL), 0);
    cr_assert_eq(r.status, 403);
    kt_resp_free(&r);
}

Test(gateway, logout_ends_the_session_and_logout_everywhere_ends_all)
{
    kt_http_t a = s_client(), b = s_client();
    kt_resp_t r;
    char old[160];
    cr_assert_eq(kt_http_login(&a, "anowak", PW_SW), 200);
    snprintf(old, sizeof old, "%s", a.cookie);
    cr_assert_eq(kt_http_csrf(&a, &r, "DELETE", "/api/session", NULL), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.headers, "Max-Age=0"), "the cookie is cleared");
    kt_resp_free(&r);
    snprintf(a.cookie, sizeof a.cookie, "%s", old);
    cr_assert_eq(kt_http(&a, &r, "GET", "/api/tasks/mine", NULL, NULL), 0);
    cr_assert_eq(r.status, 401, "the old cookie is dead");
    kt_resp_free(&r);

    cr_assert_eq(kt_http_login(&a, "anowak", PW_SW), 200);
    cr_assert_eq(kt_http_login(&b, "anowak", PW_SW), 200);
    cr_assert_eq(kt_http_csrf(&b, &r, "DELETE", "/api/sessions", NULL), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "sessions_ended")), 2);
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&a, &r, "GET", "/api/tasks/mine", NULL, NULL), 0);
    cr_assert_eq(r.status, 401, "the other browser's session ended too");
    kt_resp_free(&r);
    /* and a new login works */
    cr_assert_eq(kt_http_login(&a, "anowak", PW_SW), 200);
}

Test(gateway, a_partner_outside_the_zzk_is_refused_the_familys_ipw_and_household)
{
    kt_http_t c = s_client();
    kt_resp_t r;
    char path[160];
    cr_assert_eq(kt_http_login(&c, "jdzielnicowy", PW_COP), 200);
    snprintf(path, sizeof path, "/api/ipws/%s", ipw);
    cr_assert_eq(kt_http(&c, &r, "GET", path, NULL, NULL), 0);
    cr_assert_eq(r.status, 403, "%s", r.body);
    cr_assert_null(strstr(r.body, "Rodzina Testowa"));
    kt_resp_free(&r);
    snprintf(path, sizeof path, "/api/households/%s", household);
    cr_assert_eq(kt_http(&c, &r, "GET", path, NULL, NULL), 0);
    cr_assert_eq(r.status, 403, "%s", r.body);
    cr_assert_null(strstr(r.body, "Rodzina Testowa"));
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/ipws/01a23149-cef7-7b7a-8a40-8f1316667000", NULL, NULL), 0);
    cr_assert(r.status == 404 || r.status == 403, "an IPW that does not exist: %ld", r.status);
    kt_resp_free(&r);
    /* the social worker in the ZZK reads it */
    cr_assert_eq(kt_http_login(&c, "anowak", PW_SW), 200);
    snprintf(path, sizeof path, "/api/households/%s", household);
    cr_assert_eq(kt_http(&c, &r, "GET", path, NULL, NULL), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "Rodzina Testowa"));
    kt_resp_free(&r);
}

Test(gateway, bodies_too_large_or_not_json_are_refused_and_change_nothing)
{
    kt_http_t c = s_client();
    kt_resp_t r;
    size_t big = 3 * 1024 * 1024;
    char *body = malloc(big + 64), path[160];
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    const char *expect[] = {"Expect: 100-continue", NULL};
    cr_assert_eq(kt_http_login(&c, "anowak", PW_SW), 200);
    snprintf(body, big + 64, "{\"login\":\"");
    memset(body + strlen(body), 'a', big);
    strcpy(body + 10 + big, "\",\"password\":\"x\"}");
    cr_assert_eq(kt_http(&c, &r, "POST", "/api/session", body, expect), 0);
    cr_assert_eq(r.status, 413, "%s", r.body);
    cr_assert_str_eq(kt_resp_code(&r), "http.body_too_large");
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "POST", "/api/session", body, chunked), 0);
    cr_assert_eq(r.status, 413, "a chunked body past the limit: %s", r.body);
    kt_resp_free(&r);
    free(body);

    snprintf(path, sizeof path, "/api/ipws/%s/goals", ipw);
    cr_assert_eq(kt_http_csrf(&c, &r, "POST", path, "{\"area\": \"work\", \"baseline\": 2, "), 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(kt_resp_code(&r), "http.json");
    kt_resp_free(&r);
    cr_assert_eq(kt_http_csrf(&c, &r, "POST", path, "{\"area\": \"work\", \"area\": \"housing\"}"), 0);
    cr_assert_eq(r.status, 400, "duplicate keys");
    kt_resp_free(&r);
    cr_assert_eq(kt_http_csrf(&c, &r, "POST", path, "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}"), 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(kt_resp_code(&r), "http.json_depth");
    kt_resp_free(&r);
    cr_assert_eq(kt_http_csrf(&c, &r, "POST", path, "{\"area\": \"work\", \"baseline\": 2, \"target\": 8, \"x\": 1}"), 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(kt_resp_code(&r), "field.unknown");
    kt_resp_free(&r);
    cr_assert_eq(kt_http_csrf(&c, &r, "POST", path, "{\"area\": \"work\", \"baseline\": 12, \"target\": 8}"), 0);
    cr_assert_eq(r.status, 400, "the service's own check: %s", r.body);
    kt_resp_free(&r);
    /* no goal was added by any of them */
    snprintf(path, sizeof path, "/api/ipws/%s", ipw);
    cr_assert_eq(kt_http(&c, &r, "GET", path, NULL, NULL), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "\"goals\": []"), "no goal: %s", r.body);
    kt_resp_free(&r);
    /* and a good one is */
    snprintf(path, sizeof path, "/api/ipws/%s/goals", ipw);
    cr_assert_eq(kt_http_csrf(&c, &r, "POST", path, "{\"area\": \"work\", \"baseline\": 2, \"target\": 8}"), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "GET", "/healthz", NULL, NULL), 0);
    cr_assert_eq(r.status, 200);
    kt_resp_free(&r);
}

Test(gateway, routes_come_from_the_table_with_404_and_405)
{
    kt_http_t c = s_client();
    kt_resp_t r;
    json_t *m;
    size_t i;
    int login = 0, mine = 0;
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/methods", NULL, NULL), 0);
    cr_assert_eq(r.status, 200);
    json_array_foreach(r.json, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        login += strcmp(name, "session.login") == 0;
        mine += strcmp(name, "task.mine") == 0 && strcmp(json_string_value(json_object_get(m, "path")), "/api/tasks/mine") == 0;
        cr_assert(strcmp(name, "account.create") != 0 && strcmp(name, "feed.fetch") != 0, "%s has no route", name);
    }
    cr_assert(login == 1 && mine == 1);
    kt_resp_free(&r);
    cr_assert_eq(kt_http_login(&c, "anowak", PW_SW), 200);
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/nie-ma-takiej", NULL, NULL), 0);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(kt_resp_code(&r), "http.not_found");
    kt_resp_free(&r);
    cr_assert_eq(kt_http_csrf(&c, &r, "PUT", "/api/tasks/mine", "{}"), 0);
    cr_assert_eq(r.status, 405);
    cr_assert(strstr(r.headers, "Allow: GET"), "%s", r.headers);
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/tasks/mine?status=nonsense", NULL, NULL), 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(kt_resp_code(&r), "field.enum");
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/tasks/mine?status=planned&status=done", NULL, NULL), 0);
    cr_assert_eq(r.status, 400, "a query field twice");
    kt_resp_free(&r);
}

/* ---- TOTP ---- */

static int
s_b32_decode(const char *in, uint8_t *out)
{
    static const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned buf = 0;
    int bits = 0, n = 0;
    for (; *in; in++) {
        const char *p = strchr(alphabet, *in);
        if (!p)
            return -1;
        buf = (buf << 5) | (unsigned)(p - alphabet);
        bits += 5;
        if (bits >= 8) {
            out[n++] = (uint8_t)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    return n;
}

/* The RFC 6238 code of secret now, computed here independently. */
static void
s_code(const uint8_t *secret, int len, char out[8])
{
    uint64_t step = (uint64_t)time(NULL) / 30;
    uint8_t msg[8], mac[64];
    unsigned maclen, off, bin;
    for (int i = 7; i >= 0; i--, step >>= 8)
        msg[i] = step & 0xff;
    HMAC(EVP_sha1(), secret, len, msg, 8, mac, &maclen);
    off = mac[maclen - 1] & 15;
    bin = ((mac[off] & 0x7fu) << 24) | ((unsigned)mac[off + 1] << 16) | ((unsigned)mac[off + 2] << 8) | mac[off + 3];
    snprintf(out, 8, "%06u", bin % 1000000);
}

Test(gateway, totp_is_a_second_step_that_cannot_be_skipped_or_replayed)
{
    kt_http_t c = s_client();
    kt_resp_t r;
    kt_run_t k;
    uint8_t secret[64];
    char code[8], body[64];
    const char *uri;
    int len;
    cr_assert_eq(kt_ctl(&k, &g.node, "--json", "account", "totp", "enable", "--login", "anowak", NULL), 0);
    cr_assert_eq(k.code, 0, "%s", k.err);
    uri = json_string_value(json_object_get(k.json, "uri"));
    cr_assert(uri && strncmp(uri, "otpauth://totp/", 15) == 0, "%s", k.out);
    len = s_b32_decode(json_string_value(json_object_get(k.json, "secret")), secret);
    cr_assert_eq(len, 20);
    kt_run_free(&k);

    cr_assert_eq(kt_http(&c, &r, "POST", "/api/session", "{\"login\":\"anowak\",\"password\":\"" PW_SW "\"}", NULL), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(json_is_true(json_object_get(r.json, "totp_required")), "%s", r.body);
    cr_assert_null(json_object_get(r.json, "csrf"));
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/tasks/mine", NULL, NULL), 0);
    cr_assert_eq(r.status, 401, "the password alone is not a session");
    cr_assert_str_eq(kt_resp_code(&r), "session.totp_pending");
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "POST", "/api/session", "{\"totp\":\"000000\"}", NULL), 0);
    s_code(secret, len, code);
    cr_assert(r.status == 401 || !strcmp(code, "000000"), "a wrong code: %ld", r.status);
    kt_resp_free(&r);
    snprintf(body, sizeof body, "{\"totp\":\"%s\"}", code);
    cr_assert_eq(kt_http(&c, &r, "POST", "/api/session", body, NULL), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(json_is_string(json_object_get(r.json, "csrf")));
    snprintf(c.csrf, sizeof c.csrf, "%s", json_string_value(json_object_get(r.json, "csrf")));
    kt_resp_free(&r);
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/tasks/mine", NULL, NULL), 0);
    cr_assert_eq(r.status, 200);
    kt_resp_free(&r);
    /* the same code a second time does not log in again */
    cr_assert_eq(kt_http_csrf(&c, &r, "DELETE", "/api/session", NULL), 0);
    kt_resp_free(&r);
    cr_assert_eq(kt_http_login(&c, "anowak", PW_SW), 200);
    cr_assert_eq(kt_http(&c, &r, "POST", "/api/session", body, NULL), 0);
    cr_assert_eq(r.status, 401, "a replayed code");
    cr_assert_str_eq(kt_resp_code(&r), "totp.invalid");
    kt_resp_free(&r);
}

Test(gateway, repeated_failures_are_slowed_per_login_without_locking_others_out)
{
    kt_http_t c = s_client();
    kt_resp_t r;
    for (int i = 0; i < 5; i++)
        cr_assert_eq(kt_http_login(&c, "jdzielnicowy", "zle-haslo-123"), 401, "attempt %d", i + 1);
    cr_assert_eq(kt_http(&c, &r, "POST", "/api/session", "{\"login\":\"jdzielnicowy\",\"password\":\"" PW_COP "\"}",
                         NULL), 0);
    cr_assert_eq(r.status, 429, "the right password while the login is slowed: %s", r.body);
    cr_assert_str_eq(kt_resp_code(&r), "account.rate_limited");
    {
        const char *ra = strstr(r.headers, "Retry-After: ");
        cr_assert(ra && atoi(ra + 13) > 0 && atoi(ra + 13) <= 61, "Retry-After: %s", r.headers);
    }
    kt_resp_free(&r);
    /* another account from the same address logs in */
    cr_assert_eq(kt_http_login(&c, "anowak", PW_SW), 200);
}

Test(gateway, coordinators_need_totp_when_the_node_says_so)
{
    kt_http_t c = s_client();
    FILE *f;
    cr_assert_eq(kt_http_login(&c, "ekoordynator", PW_COORD), 200, "allowed before the setting");
    cr_assert_eq(kt_node_stop(&g.node), 0);
    f = fopen(g.node.conf, "a");
    cr_assert_not_null(f);
    fprintf(f, "\n[gateway]\nrequire_totp_for = coordinator\n");
    fclose(f);
    cr_assert_eq(kt_node_start(&g.node, 20), 0);
    cr_assert_eq(kt_http_wait(&g.node, 20), 0);
    cr_assert_eq(kt_http_login(&c, "ekoordynator", PW_COORD), 403);
    cr_assert_eq(kt_http_login(&c, "anowak", PW_SW), 200, "a social worker is not a coordinator");
}

Test(gateway, a_disabled_account_cannot_log_in_and_its_sessions_end)
{
    kt_http_t c = s_client();
    kt_resp_t r;
    kt_run_t k;
    cr_assert_eq(kt_http_login(&c, "anowak", PW_SW), 200);
    cr_assert_eq(kt_ctl(&k, &g.node, "account", "disable", "--login", "anowak", NULL), 0);
    cr_assert_eq(k.code, 0, "%s", k.err);
    kt_run_free(&k);
    cr_assert_eq(kt_http(&c, &r, "GET", "/api/tasks/mine", NULL, NULL), 0);
    cr_assert_eq(r.status, 401);
    kt_resp_free(&r);
    cr_assert_eq(kt_http_login(&c, "anowak", PW_SW), 401);
    /* account create refuses a person that is not in the registry, and a second account */
    cr_assert_neq(kt_account(&g.node, "01a23149-cef7-7b7a-8a40-8f1316667000", "duch", "Haslo-Ducha-123"), 0);
    cr_assert_neq(kt_account(&g.node, g.sw, "anowak2", "Haslo-Drugie-123"), 0);
}
