/*
 * events.c - `koopctl events list --stream NAME [--node ID] [--after SEQ]
 * [--limit N]`: a service's event log, for operators and tests (SHARED
 * events only, unless --as names a person the service lets read LOCAL ones:
 * in the cases service, a coordinator, audited); with --node,
 * on a hub, the hub's copy of that node's stream (sync "hub.events").
 * Each event is shown by common/present (payloads decoded by the types of
 * events.def; an event that cannot be decoded says why, and the listing
 * moves past it).
 */
#include "koopctl.h"
#include "envelope.pb-c.h"
#include "present.h"
#include "sync.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
kc_events(kc_ctx_t *ctx, int argc, char **argv)
{
    json_t *opts, *arr;
    const char *stream, *after_s, *limit_s, *node;
    uint64_t after = 0;
    long limit = 100;
    int rc;

    if (argc < 1 || strcmp(argv[0], "list") != 0)
        return kc_error(ctx, KC_USAGE, CLI_UNKNOWN_COMMAND, NULL, argc ? argv[0] : "events");
    opts = kc_parse_options(ctx, argc - 1, argv + 1);
    if (!opts)
        return KC_USAGE;
    stream = json_string_value(json_object_get(opts, "stream"));
    after_s = json_string_value(json_object_get(opts, "after"));
    limit_s = json_string_value(json_object_get(opts, "limit"));
    node = json_string_value(json_object_get(opts, "node"));
    if (!stream) {
        json_decref(opts);
        return kc_error(ctx, KC_USAGE, FIELD_REQUIRED, "stream");
    }
    {
        const char *key;
        json_t *v;
        json_object_foreach(opts, key, v) {
            if (strcmp(key, "stream") && strcmp(key, "after") && strcmp(key, "limit") && strcmp(key, "node")) {
                rc = kc_error(ctx, KC_USAGE, FIELD_UNKNOWN, key);
                json_decref(opts);
                return rc;
            }
        }
    }
    if (after_s) {
        char *end;
        after = strtoull(after_s, &end, 10);
        if (*end || *after_s == '-') {
            rc = kc_error(ctx, KC_USAGE, FIELD_NUMBER, "after", after_s);
            json_decref(opts);
            return rc;
        }
    }
    if (limit_s) {
        char *end;
        limit = strtol(limit_s, &end, 10);
        if (*end || limit < 1 || limit > 10000) {
            rc = kc_error(ctx, KC_USAGE, FIELD_RANGE, "limit", limit_s, "1", "10000");
            json_decref(opts);
            return rc;
        }
    }
    arr = json_array();
    while ((long)json_array_size(arr) < limit) {
        Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
        Koop__Sync__NodeEvents nq = KOOP__SYNC__NODE_EVENTS__INIT;
        ProtobufCMessage *rep;
        Koop__FeedBatch *b;
        uint32_t want = (uint32_t)(limit - (long)json_array_size(arr));
        if (node) {
            nq.node = (char *)node;
            nq.stream = (char *)stream;
            nq.has_after_seq = nq.has_max = 1;
            nq.after_seq = after;
            nq.max = want;
            rc = kc_call(ctx, "sync", "hub.events", &nq.base, &koop__feed_batch__descriptor, &rep);
        } else {
            q.stream = (char *)stream;
            q.has_after_seq = 1;
            q.after_seq = after;
            q.has_max = 1;
            q.max = want;
            /* acting for nobody, an operator sees what may leave the node;
             * LOCAL events (personal data) only with --as a coordinator */
            q.has_shared_only = 1;
            q.shared_only = !ctx->as || !*ctx->as;
            rc = kc_call(ctx, stream, "feed.fetch", &q.base, &koop__feed_batch__descriptor, &rep);
        }
        if (rc != KC_OK) {
            json_decref(arr);
            json_decref(opts);
            return rc;
        }
        b = (Koop__FeedBatch *)rep;
        for (size_t i = 0; i < b->n_events; i++) {
            Koop__Event *ev = koop__event__unpack(NULL, b->events[i].len, b->events[i].data);
            if (!ev)
                continue;
            json_array_append_new(arr, koop_present_event(ev));
            after = ev->seq;
            koop__event__free_unpacked(ev, NULL);
        }
        size_t got = b->n_events;
        protobuf_c_message_free_unpacked(rep, NULL);
        if (got == 0)
            break;
    }
    if (ctx->json) {
        kc_print(ctx, arr);
    } else {
        for (size_t i = 0; i < json_array_size(arr); i++)
            koop_present_event_line(json_array_get(arr, i), stdout);
        if (json_array_size(arr) == 0)
            printf("(brak zdarzeń)\n");
    }
    json_decref(arr);
    json_decref(opts);
    return KC_OK;
}
