/*
 * kt_http - a small HTTP client for the gateway tests (libcurl): one
 * browser-like client keeps its session cookie (from Set-Cookie) and the
 * CSRF token of its last login.
 */
#ifndef KT_HTTP_H
#define KT_HTTP_H

#include "koop_test.h"

#include <jansson.h>

typedef struct {
    int port;
    char cookie[160];   /* "koop=..." sent back, "" for none */
    char csrf[80];
} kt_http_t;

typedef struct {
    long status;
    char *body;         /* NUL-terminated */
    char *headers;      /* the response's header lines */
    json_t *json;       /* body parsed, or NULL */
} kt_resp_t;

/* method path [body] with extra header lines (NULL-terminated, may be NULL).
 * A body is sent as application/json. Returns 0 when an answer came. */
int kt_http(kt_http_t *c, kt_resp_t *r, const char *method, const char *path, const char *body,
            const char *const *headers);
/* kt_http with the client's CSRF token added. */
int kt_http_csrf(kt_http_t *c, kt_resp_t *r, const char *method, const char *path, const char *body);
/* POST /api/session {"login","password"}; on 200 keeps the csrf. Returns the status. */
long kt_http_login(kt_http_t *c, const char *login, const char *password);
void kt_resp_free(kt_resp_t *r);
/* The error code of an error answer ("" when none). */
const char *kt_resp_code(const kt_resp_t *r);

/* koopctl account create --person P --login L with the password on stdin. */
int kt_account(kt_node_t *n, const char *person, const char *login, const char *password);
/* Waits until the node's /healthz answers (timeout s). */
int kt_http_wait(kt_node_t *n, int timeout_s);

#endif
