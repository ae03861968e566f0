/*
 * kt_cases - helpers for the cases service's integration tests: a node with
 * staff in the registry, koopctl calls acting as a person, direct requests,
 * and the cases event log as raw envelopes.
 */
#ifndef KT_CASES_H
#define KT_CASES_H

#include "koop_test.h"

#include <stddef.h>
#include <stdint.h>

/* A started gmina node with institutions, staff and one catalogue entry. */
typedef struct {
    kt_node_t node;
    char *gops, *kpp, *pcpr;       /* institutions: social assistance, police, family support */
    char *sw, *sw2;                /* social workers of the GOPS */
    char *cop;                     /* police officer of the KPP */
    char *coord;                   /* the gmina's coordinator */
    char *outsider;                /* a person of the KPP with role other */
    char *service;                 /* catalogue entry provided by the PCPR */
} kt_gmina_t;

/* Inits and starts the node and adds the staff; 0 or -1. */
int kt_gmina_setup(kt_gmina_t *g);
void kt_gmina_teardown(kt_gmina_t *g);

/* koopctl --json --as AS ARGS... (NULL-terminated). */
int kt_as(kt_run_t *r, kt_gmina_t *g, const char *as, ...);
/* The same, returning a copy of the "id" of the output (NULL on failure). */
char *kt_as_id(kt_gmina_t *g, const char *as, ...);

/* The family's consent for household, recorded by `as` on date, naming the
 * gmina's three institutions. Returns its id (caller frees) or NULL. */
char *kt_consent(kt_gmina_t *g, const char *as, const char *household, const char *date);
/* A household registered by `as`, its consent (kt_consent), and an IPW of
 * it coordinated by `as`, opened on `opened`. Returns the IPW id (caller
 * frees); *household too when not NULL. */
char *kt_open_ipw(kt_gmina_t *g, const char *as, const char *opened, char **household);

/* Sends one request straight to the node's service (caller may be NULL);
 * returns the reply status or -1 when none came. payload/len (may be NULL)
 * get the reply payload (caller frees). */
struct ProtobufCMessage;
int kt_request(kt_node_t *n, const char *service, const char *caller, const char *method,
               const struct ProtobufCMessage *req, int timeout_ms, uint8_t **payload, size_t *len);
/* Sends one request that must be refused: asserts (criterion) the reply's
 * error code and field (NULL: none); returns the reply status. */
int kt_request_refused(kt_node_t *n, const char *service, const char *caller, const char *method,
                       const struct ProtobufCMessage *req, const char *code, const char *field);

/* One event of a log, as stored. */
typedef struct {
    uint64_t seq;
    int scope;          /* KOOP__SCOPE__SCOPE_LOCAL / _SHARED */
    char type[96];
    uint8_t *bytes;     /* the whole envelope */
    size_t len;
    uint8_t *payload;   /* points into bytes' copy owned here */
    size_t payload_len;
} kt_event_t;

/* Reads the whole log of `stream` (shared_only as in feed.fetch) into *out
 * (free with kt_events_free). Returns the count or -1. */
long kt_events(kt_node_t *n, const char *stream, int shared_only, kt_event_t **out);
void kt_events_free(kt_event_t *ev, long n);

/* A string field of a JSON object ("" when absent). */
const char *kt_str(json_t *o, const char *key);
/* Asserts (criterion) that r succeeded, then frees it. */
void kt_ok(kt_run_t *r, const char *what);

/* 1 when needle (as bytes) occurs in hay. */
int kt_contains(const uint8_t *hay, size_t hay_len, const char *needle);

/* Asserts `events verify --stream stream` of node n finds nothing (the
 * log's chains, and the records against their events: docs/ACCOUNTABILITY.md). */
void kt_verify_clean(kt_node_t *n, const char *stream);

/* A suite whose every test runs on its own gmina node with staff
 * (kt_gmina_setup before, kt_gmina_teardown after), in `g`; AS and ID run
 * koopctl as one of its people. For a test file that includes Criterion. */
#define KT_GMINA_SUITE(suite, seconds)                                                                      \
    static kt_gmina_t g;                                                                                    \
    static void s_gmina_setup(void)                                                                         \
    {                                                                                                       \
        cr_assert_eq(kt_gmina_setup(&g), 0, "node with staff did not start");                               \
    }                                                                                                       \
    static void s_gmina_teardown(void)                                                                      \
    {                                                                                                       \
        kt_gmina_teardown(&g);                                                                              \
    }                                                                                                       \
    TestSuite(suite, .init = s_gmina_setup, .fini = s_gmina_teardown, .timeout = seconds)
#define AS(r, who, ...) kt_as(r, &g, who, __VA_ARGS__, NULL)
#define ID(who, ...) kt_as_id(&g, who, __VA_ARGS__, NULL)

#endif
