/*
 * events.c - `koopctl events list --stream NAME [--node ID] [--after SEQ]
 * [--limit N]`: a service's event log, for operators and tests (SHARED
 * events only, unless --as names a person the service lets read LOCAL ones:
 * in the cases service, a coordinator, audited); with --node,
 * on a hub, the hub's copy of that node's stream (sync "hub.events").
 * Each event is shown by common/present (payloads decoded by the types of
 * events.def; an event whose payload cannot be decoded says why). An event
 * whose envelope cannot be decoded is reported on stderr and skipped (the
 * service gives each event's position, FeedBatch.seqs); the list stops after
 * KC_EVENTS_MAX_BAD of them, or when the stream does not move on, and the
 * exit code is then 1: the loop can never ask twice for the same place.
 */
#include "koopctl.h"
#include "envelope.pb-c.h"
#include "present.h"
#include "sync.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Undecodable events `events list` reports and skips before it stops. */
#define KC_EVENTS_MAX_BAD 10
/* read page by page: a whole node's stream at a hub fits */
#define EVENTS_LIST_MAX 100000

int
kc_events(kc_ctx_t *ctx, int argc, char **argv)
{
    json_t *opts, *arr;
    const char *stream, *after_s, *limit_s, *node;
    uint64_t after = 0, start;
    long limit = 100;
    koop_error_t last; /* the last trouble met; with --json the one error object printed */
    int rc, bad = 0, stop = 0;

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
        if (*end || limit < 1 || limit > EVENTS_LIST_MAX) {
            rc = kc_error(ctx, KC_USAGE, FIELD_RANGE, "limit", limit_s, "1", KOOP_NUM(EVENTS_LIST_MAX));
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
        start = after;
        for (size_t i = 0; i < b->n_events && !stop; i++) {
            Koop__Event *ev = koop__event__unpack(NULL, b->events[i].len, b->events[i].data);
            /* the position the service gives; the envelope's own seq when it does not */
            int known = i < b->n_seqs || ev;
            uint64_t pos = i < b->n_seqs ? b->seqs[i] : ev ? ev->seq : 0;
            if (!ev) {
                bad++;
                if (known)
                    koop_error_fill(&last, EVENTS_UNDECODABLE, NULL, KOOP_NUM(pos), stream, KOOP_NUM(b->events[i].len));
                else
                    koop_error_fill(&last, EVENTS_NO_POSITION, NULL, KOOP_NUM(after), stream,
                                    KOOP_NUM(b->events[i].len));
                if (!ctx->json) /* text: each skipped event is named as it comes */
                    kc_fail(ctx, &last, KC_REFUSED);
                if (!known || bad >= KC_EVENTS_MAX_BAD)
                    stop = 1;
            } else {
                json_array_append_new(arr, koop_present_event(ev));
                koop__event__free_unpacked(ev, NULL);
            }
            if (known && pos > after)
                after = pos;
        }
        size_t got = b->n_events;
        protobuf_c_message_free_unpacked(rep, NULL);
        if (got == 0 || stop)
            break;
        if (after == start) {
            /* a reader never asks twice for the same place */
            koop_error_fill(&last, EVENTS_STUCK, NULL, stream, KOOP_NUM(after));
            if (!ctx->json)
                kc_fail(ctx, &last, KC_REFUSED);
            bad++;
            break;
        }
    }
    if (bad && bad >= KC_EVENTS_MAX_BAD) {
        koop_error_fill(&last, EVENTS_TOO_MANY_BAD, NULL, KOOP_NUM(bad));
        if (!ctx->json)
            kc_fail(ctx, &last, KC_REFUSED);
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
    /* what could be read was shown; the rest was said on stderr (--json: the last trouble, once) */
    if (bad && ctx->json)
        return kc_fail(ctx, &last, KC_REFUSED);
    return bad ? KC_REFUSED : KC_OK;
}
