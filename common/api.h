/*
 * api - the one description of every method (common/api.def), as data.
 *
 * Each row names the service, the method, its request and reply messages,
 * flags, koopctl's noun and verb with its help (in Polish and in English),
 * and the gateway's HTTP method and path. Services build their method tables from their own rows
 * (include "api_rows.h" with KOOP_API_<service> defined); koopctl builds its
 * commands and --help from koop_api_methods; the gateway its routes.
 */
#ifndef KOOP_API_H
#define KOOP_API_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#define KOOP_API_WRITE 1u     /* runs in the batch's write transaction */
#define KOOP_API_PERSON 2u    /* acts for a person (the caller) */
#define KOOP_API_LIST 4u      /* the reply's `items` is the result */
#define KOOP_API_COORD 8u     /* the gmina's coordinators only (the service checks) */
#define KOOP_API_INTERNAL 16u /* between services only: no command, no route */
#define KOOP_API_REPORT 32u   /* a report (koopctl: --csv and tables) */
#define KOOP_API_SHELL 64u    /* the node's shell only (koopctl): no HTTP route */
#define KOOP_API_CHECK 128u   /* a check: reply `ok` false -> koopctl exits 1 */

typedef enum { KOOP_HTTP_NONE = 0, KOOP_HTTP_GET, KOOP_HTTP_POST, KOOP_HTTP_PUT, KOOP_HTTP_DELETE } koop_http_t;

typedef struct {
    const char *service;                        /* "registry"; "sys": every service; "web": the gateway's HTTP layer */
    const char *name;                           /* "institution.add" */
    const ProtobufCMessageDescriptor *request;
    const ProtobufCMessageDescriptor *reply;
    unsigned flags;                             /* KOOP_API_* */
    const char *noun, *verb;                    /* koopctl; "" when internal */
    koop_http_t http;
    const char *path;                           /* "/api/ipws/{ipw}"; "" when internal */
    const char *help;                           /* koopctl options, in Polish */
    const char *help_en;                        /* the same options in English */
} koop_api_method_t;

extern const koop_api_method_t koop_api_methods[];
extern const size_t koop_api_nmethods;

/* The row of a method name (NULL when none). */
const koop_api_method_t *koop_api_find(const char *name);
/* The row of koopctl "noun verb" (NULL when none); *noun_known says whether
 * any row has that noun. */
const koop_api_method_t *koop_api_find_cli(const char *noun, const char *verb, int *noun_known);
/* "GET", "POST", ... ("" for NONE). */
const char *koop_http_name(koop_http_t m);

#endif
