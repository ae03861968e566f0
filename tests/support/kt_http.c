#include "kt_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *buf;
    size_t len;
} s_buf;

static size_t
s_write(char *data, size_t size, size_t n, void *ctx)
{
    s_buf *b = ctx;
    char *g = realloc(b->buf, b->len + size * n + 1);
    if (!g)
        return 0;
    b->buf = g;
    memcpy(b->buf + b->len, data, size * n);
    b->len += size * n;
    b->buf[b->len] = '\0';
    return size * n;
}

/* Keeps the session cookie a Set-Cookie line gives (cleared by Max-Age=0). */
static void
s_take_cookie(kt_http_t *c, const char *headers)
{
    for (const char *p = headers; p && (p = strcasestr(p, "\nSet-Cookie: ")); p++) {
        const char *v = p + 13, *end = strchr(v, ';');
        if (strncmp(v, "koop=", 5) != 0 && strncmp(v, "__Host-koop=", 12) != 0)
            continue;
        if (!end || (size_t)(end - v) >= sizeof c->cookie)
            continue;
        if (strstr(v, "Max-Age=0") && strstr(v, "Max-Age=0") < strchr(v, '\n'))
            c->cookie[0] = '\0';
        else
            snprintf(c->cookie, sizeof c->cookie, "%.*s", (int)(end - v), v);
    }
}

int
kt_http(kt_http_t *c, kt_resp_t *r, const char *method, const char *path, const char *body,
        const char *const *headers)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hl = NULL;
    s_buf b = {NULL, 0}, hb = {strdup("\n"), 1};
    char url[1024], cookie[200];
    CURLcode rc;
    int expect = 0;
    memset(r, 0, sizeof *r);
    if (!h)
        return -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s_write);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hb);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        hl = curl_slist_append(hl, "Content-Type: application/json");
    }
    /* no "Expect: 100-continue" unless the caller asks for it (a test of an
     * early refusal does: the server answers before the body is sent, so the
     * client never writes into a closed connection) */
    for (size_t i = 0; headers && headers[i]; i++) {
        if (strncasecmp(headers[i], "Expect:", 7) == 0)
            expect = 1;
        hl = curl_slist_append(hl, headers[i]);
    }
    if (!expect)
        hl = curl_slist_append(hl, "Expect:");
    if (c->cookie[0]) {
        snprintf(cookie, sizeof cookie, "Cookie: %s", c->cookie);
        hl = curl_slist_append(hl, cookie);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    r->body = b.buf ? b.buf : strdup("");
    r->headers = hb.buf;
    r->json = json_loads(r->body, JSON_DECODE_ANY, NULL);
    if (rc != CURLE_OK)
        return -1;
    s_take_cookie(c, r->headers);
    return 0;
}

int
kt_http_csrf(kt_http_t *c, kt_resp_t *r, const char *method, const char *path, const char *body)
{
    char tok[120];
    const char *hdrs[] = {tok, NULL};
    snprintf(tok, sizeof tok, "X-CSRF-Token: %s", c->csrf);
    return kt_http(c, r, method, path, body, hdrs);
}

long
kt_http_login(kt_http_t *c, const char *login, const char *password)
{
    kt_resp_t r;
    char body[512];
    long st;
    json_t *o = json_pack("{ssss}", "login", login, "password", password);
    char *s = json_dumps(o, JSON_COMPACT);
    snprintf(body, sizeof body, "%s", s);
    free(s);
    json_decref(o);
    if (kt_http(c, &r, "POST", "/api/session", body, NULL) != 0)
        return -1;
    st = r.status;
    if (st == 200 && json_is_string(json_object_get(r.json, "csrf")))
        snprintf(c->csrf, sizeof c->csrf, "%s", json_string_value(json_object_get(r.json, "csrf")));
    kt_resp_free(&r);
    return st;
}

void
kt_resp_free(kt_resp_t *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

const char *
kt_resp_code(const kt_resp_t *r)
{
    const char *s = json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
    return s ? s : "";
}

int
kt_account(kt_node_t *n, const char *person, const char *login, const char *password)
{
    char exe[PATH_MAX + 16], input[256];
    char *argv[] = {exe, "-c", n->conf, "account", "create", "--person", (char *)person, "--login", (char *)login, NULL};
    kt_run_t r;
    int code;
    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    snprintf(input, sizeof input, "%s\n", password);
    if (kt_exec_input(&r, argv, input) != 0)
        return -1;
    code = r.code;
    if (code != 0)
        fprintf(stderr, "account create: %s", r.err);
    kt_run_free(&r);
    return code;
}

int
kt_http_wait(kt_node_t *n, int timeout_s)
{
    kt_http_t c = {.port = n->http_port};
    for (int i = 0; i < timeout_s * 10; i++) {
        kt_resp_t r;
        int ok = kt_http(&c, &r, "GET", "/healthz", NULL, NULL) == 0 && r.status == 200;
        kt_resp_free(&r);
        if (ok)
            return 0;
        kt_sleep_ms(100);
    }
    return -1;
}
