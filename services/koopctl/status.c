/*
 * status.c - `koopctl status [--metrics]`: does every service of the node
 * answer, how is the link to the hub, how big are the stores (facts.h).
 *
 * Exit codes: 0 all is well; 3 a service does not answer; 4 the sync link
 * needs attention: down longer than [sync] alert_after, the hub holding
 * streams back, or (on a hub) a node silent that long. --metrics prints the
 * same facts as Prometheus text (for node_exporter's textfile collector)
 * and exits the same way.
 */
#include "koopctl.h"
#include "facts.h"

#include <stdio.h>
#include <string.h>

#define STATUS_TIMEOUT_MS 3000

int
kc_status(kc_ctx_t *ctx, int argc, char **argv)
{
    koop_facts_t *facts;
    kc_async_t a;
    int metrics = argc == 1 && strcmp(argv[0], "--metrics") == 0, rc;

    if (argc > 0 && !metrics)
        return kc_error(ctx, KC_USAGE, CLI_ARGUMENT, NULL, argv[0]);
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    if (kc_async_init(&a) != 0)
        return kc_error(ctx, KC_UNAVAILABLE, INTERNAL_NO_MEMORY, NULL);
    /* a service that does not answer within seconds is down for monitoring,
     * unless --timeout asks for more patience */
    facts = kc_facts(&a, ctx, ctx->timeout_ms == KC_TIMEOUT_DEFAULT_MS ? STATUS_TIMEOUT_MS : (uint32_t)ctx->timeout_ms);
    if (!facts) {
        kc_async_close(&a);
        return kc_error(ctx, KC_UNAVAILABLE, INTERNAL_NO_MEMORY, NULL);
    }
    facts->lang = ctx->lang; /* the findings in the reader's words */
    koop_facts_judge(facts);
    if (metrics) {
        koop_facts_metrics(facts, stdout);
    } else if (ctx->json) {
        json_t *o = koop_facts_json(facts);
        kc_print(ctx, o);
        json_decref(o);
    } else {
        koop_facts_text(facts, stdout);
    }
    rc = facts->exit_code;
    koop_facts_free(&facts);
    kc_async_close(&a);
    return rc;
}
