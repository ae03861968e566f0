/*
 * facts - what a node's services and its sync link say about themselves,
 * gathered in one go, judged, and shown: `koopctl status` (text, JSON, exit
 * code) and Prometheus metrics (`koopctl status --metrics`, and the
 * gateway's GET /metrics, which appends koop_facts_metrics to its own).
 *
 *   koop_facts_gather: sys.stats to every service of the config, sync.status
 *                      to sync, all at once on the caller's loop and client
 *        --every answer or its timeout--> cb(facts)
 *   koop_facts_judge:  what is wrong (a service does not answer; the link to
 *                      the hub down, or the hub holding streams back, for
 *                      longer than [sync] alert_after; on a hub a node silent
 *                      that long), each with a sentence in f->lang
 *                      (labels.def's set "status"); the exit code
 *                      koopctl gives. Shorter than alert_after: a warning.
 *
 * Nothing here names a person: services, node ids, streams, counts, sizes.
 */
#ifndef KOOP_FACTS_H
#define KOOP_FACTS_H

#include "config.h"
#include "errors.h"
#include "envelope.pb-c.h"
#include "sync.pb-c.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

struct koop_client;

/* koopctl status exit codes besides 0 (docs/OPERATIONS.md "Monitoring"). */
#define KOOP_FACTS_EXIT_DOWN 3 /* a service does not answer */
#define KOOP_FACTS_EXIT_LINK 4 /* the sync link needs attention */

typedef struct {
    const char *name;             /* the service (services.def) */
    Koop__ServiceStats *stats;    /* its answer; NULL when it gave none */
    koop_error_t err;             /* why not */
} koop_facts_service_t;

#define KOOP_FACTS_PROBLEMS 16
#define KOOP_FACTS_PROBLEM_LEN 600

typedef struct koop_facts {
    const koop_config_t *cfg;     /* borrowed: outlives the facts */
    uint64_t now_ms;              /* when gathered (the shiftable clock) */
    uint64_t alert_after_ms;      /* [sync] alert_after */
    size_t nservices;
    koop_facts_service_t services[KOOP_SVC_COUNT];
    Koop__Sync__Status *sync;     /* NULL: no sync service, or no answer */
    /* koop_facts_judge's findings: problems set the exit code, warnings
     * do not (yet: a stream held back for less than alert_after) */
    int exit_code;                /* 0, KOOP_FACTS_EXIT_DOWN or _LINK (the worse) */
    size_t nproblems, nwarnings;
    char problems[KOOP_FACTS_PROBLEMS][KOOP_FACTS_PROBLEM_LEN];
    char warnings[KOOP_FACTS_PROBLEMS][KOOP_FACTS_PROBLEM_LEN];
    koop_lang_t lang;             /* of the findings and the text (KOOP_LANG_PL unless set, then judge again) */
} koop_facts_t;

/* Takes ownership of facts (koop_facts_free). */
typedef void (*koop_facts_cb)(void *ctx, koop_facts_t *facts);

/* Asks every service of cfg on client's loop; cb runs once when every
 * answer came or timed out (already judged: koop_facts_judge). Returns 0
 * (cb may run before this returns when nothing could be asked), or -errno
 * and cb never runs. */
int koop_facts_gather(struct koop_client *client, const koop_config_t *cfg, uint32_t timeout_ms, koop_facts_cb cb,
                      void *ctx);
void koop_facts_free(koop_facts_t **self_p);

/* Fills exit_code and problems from what was gathered. */
void koop_facts_judge(koop_facts_t *f);

/* How long the link to the hub has been down (ms; 0 when connected, when
 * the node has no hub, or when the sync service did not answer). */
uint64_t koop_facts_link_down_ms(const koop_facts_t *f);

/* The facts as koopctl status --json prints them (caller decrefs). */
json_t *koop_facts_json(const koop_facts_t *f);
/* ... as text for people (in f->lang). */
void koop_facts_text(const koop_facts_t *f, FILE *out);
/* ... as Prometheus text exposition (version 0.0.4), every metric koop_*. */
void koop_facts_metrics(const koop_facts_t *f, FILE *out);

#endif
