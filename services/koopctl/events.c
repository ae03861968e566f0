/*
 * events.c - `koopctl events list --stream NAME [--node ID] [--after SEQ]
 * [--limit N]`: a service's event log, for operators and tests; with --node,
 * on a hub, the hub's copy of that node's stream (sync "hub.events").
 * Payloads of known event types are decoded (s_types); envelopes carried
 * inside events ("sync.event" of a hub's merged stream, "remote.*" records
 * from a hub) are shown decoded under "event"; others are shown as hex.
 * An event whose envelope cannot be decoded is reported on stderr and
 * skipped (the service gives each event's position, FeedBatch.seqs); the
 * list stops after KC_EVENTS_MAX_BAD of them, or when the stream does not
 * move on, and the exit code is then 1: the loop can never ask twice for
 * the same place.
 */
#include "koopctl.h"
#include "envelope.pb-c.h"
#include "pbjson.h"
#include "cases.pb-c.h"
#include "registry.pb-c.h"
#include "sync.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Undecodable events `events list` reports and skips before it stops. */
#define KC_EVENTS_MAX_BAD 10

/* Event type prefix -> payload message; the first matching prefix wins.
 * The cases stream writes each change twice: "local.<type>" (LOCAL, the
 * record) and "<type>" (SHARED, its facts). */
static const struct {
    const char *prefix;
    const ProtobufCMessageDescriptor *desc;
} s_types[] = {
    {"institution.", &koop__reg__institution__descriptor},
    {"person.", &koop__reg__person__descriptor},
    {"agreement.", &koop__reg__agreement__descriptor},
    {"pzk.", &koop__reg__pzk__descriptor},
    {"catalogue.", &koop__reg__catalogue_entry__descriptor},
    {"local.household.", &koop__cases__household__descriptor},
    {"local.consent.", &koop__cases__consent__descriptor},
    {"local.ipw.", &koop__cases__ipw__descriptor},
    {"local.goal.", &koop__cases__goal__descriptor},
    {"local.task.", &koop__cases__task__descriptor},
    {"local.meeting.", &koop__cases__meeting__descriptor},
    {"local.referral.", &koop__cases__referral__descriptor},
    {"household.", &koop__cases__household_facts__descriptor},
    {"consent.", &koop__cases__consent_facts__descriptor},
    {"ipw.member_", &koop__cases__member_facts__descriptor},
    {"ipw.", &koop__cases__ipw_facts__descriptor},
    {"goal.", &koop__cases__goal_facts__descriptor},
    {"task.", &koop__cases__task_facts__descriptor},
    {"meeting.", &koop__cases__meeting_facts__descriptor},
    {"referral.", &koop__cases__referral_facts__descriptor},
};

static const ProtobufCMessageDescriptor *
s_payload_desc(const char *type)
{
    for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++)
        if (type && strncmp(type, s_types[i].prefix, strlen(s_types[i].prefix)) == 0)
            return s_types[i].desc;
    return NULL;
}

json_t *
kc_event_to_json(const Koop__Event *ev)
{
    json_t *o = json_object();
    const ProtobufCMessageDescriptor *d = s_payload_desc(ev->type);
    Koop__Event *inner;
    ProtobufCMessage *p = d ? protobuf_c_message_unpack(d, NULL, ev->payload.len, ev->payload.data) : NULL;
    json_object_set_new(o, "node", json_string(ev->node ? ev->node : ""));
    json_object_set_new(o, "stream", json_string(ev->stream ? ev->stream : ""));
    json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
    json_object_set_new(o, "id", json_string(ev->id ? ev->id : ""));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)ev->time_ms));
    json_object_set_new(o, "actor", json_string(ev->actor ? ev->actor : ""));
    json_object_set_new(o, "scope", json_string(ev->scope == KOOP__SCOPE__SCOPE_SHARED ? "shared" : "local"));
    json_object_set_new(o, "type", json_string(ev->type ? ev->type : ""));
    if (p) {
        json_object_set_new(o, "data", koop_pbjson_to_json(p));
        protobuf_c_message_free_unpacked(p, NULL);
    } else if (ev->type && (strcmp(ev->type, "sync.event") == 0 || strncmp(ev->type, "remote.", 7) == 0) &&
               (inner = koop__event__unpack(NULL, ev->payload.len, ev->payload.data)) != NULL) {
        json_object_set_new(o, "event", kc_event_to_json(inner));
        koop__event__free_unpacked(inner, NULL);
    } else {
        char *hex = malloc(ev->payload.len * 2 + 1);
        if (hex) {
            for (size_t i = 0; i < ev->payload.len; i++)
                sprintf(hex + 2 * i, "%02x", ev->payload.data[i]);
            hex[ev->payload.len * 2] = '\0';
            json_object_set_new(o, "payload_hex", json_string(hex));
            free(hex);
        }
    }
    return o;
}

int
kc_events(kc_ctx_t *ctx, int argc, char **argv)
{
    json_t *opts, *arr;
    const char *stream, *after_s, *limit_s, *node;
    uint64_t after = 0, start;
    long limit = 100;
    int rc, bad = 0, stop = 0;

    if (argc < 1 || strcmp(argv[0], "list") != 0) {
        fprintf(stderr, "użycie: koopctl events list --stream NAZWA [--node ID] [--after SEQ] [--limit N]\n");
        return KC_USAGE;
    }
    opts = kc_parse_options(argc - 1, argv + 1);
    if (!opts)
        return KC_USAGE;
    stream = json_string_value(json_object_get(opts, "stream"));
    after_s = json_string_value(json_object_get(opts, "after"));
    limit_s = json_string_value(json_object_get(opts, "limit"));
    node = json_string_value(json_object_get(opts, "node"));
    if (!stream || json_object_size(opts) != (size_t)(1 + !!after_s + !!limit_s + !!node)) {
        fprintf(stderr, "błąd: podaj --stream NAZWA (np. registry); dozwolone też --node ID (na hubie), "
                        "--after SEQ i --limit N\n");
        json_decref(opts);
        return KC_USAGE;
    }
    if (after_s) {
        char *end;
        after = strtoull(after_s, &end, 10);
        if (*end || *after_s == '-') {
            fprintf(stderr, "błąd: --after musi być liczbą\n");
            json_decref(opts);
            return KC_USAGE;
        }
    }
    if (limit_s) {
        char *end;
        limit = strtol(limit_s, &end, 10);
        if (*end || limit < 1 || limit > 10000) {
            fprintf(stderr, "błąd: --limit musi być liczbą 1..10000\n");
            json_decref(opts);
            return KC_USAGE;
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
                    fprintf(stderr, "błąd: zdarzenia nr %llu strumienia %s nie można odczytać (%zu bajtów): pominięte\n",
                            (unsigned long long)pos, stream, b->events[i].len);
                else
                    fprintf(stderr, "błąd: zdarzenia po nr %llu strumienia %s nie można odczytać (%zu bajtów), "
                                    "a usługa nie podaje jego pozycji: przerywam\n",
                            (unsigned long long)after, stream, b->events[i].len);
                if (!known || bad >= KC_EVENTS_MAX_BAD)
                    stop = 1;
            } else {
                json_array_append_new(arr, kc_event_to_json(ev));
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
            fprintf(stderr, "błąd: strumień %s nie posuwa się dalej niż nr %llu: przerywam\n", stream,
                    (unsigned long long)after);
            bad++;
            break;
        }
    }
    if (bad && bad >= KC_EVENTS_MAX_BAD)
        fprintf(stderr, "błąd: %d nieczytelnych zdarzeń: przerwano listę\n", bad);
    if (ctx->json) {
        kc_print(ctx, arr);
    } else {
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_t *e = json_array_get(arr, i);
            printf("%6lld  %-6s  %-22s  %s\n", (long long)json_integer_value(json_object_get(e, "seq")),
                   json_string_value(json_object_get(e, "scope")), json_string_value(json_object_get(e, "type")),
                   json_string_value(json_object_get(e, "id")));
        }
        if (json_array_size(arr) == 0)
            printf("(brak zdarzeń)\n");
    }
    json_decref(arr);
    json_decref(opts);
    return bad ? KC_REFUSED : KC_OK; /* what could be read was shown; the rest was said on stderr */
}
