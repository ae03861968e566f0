/*
 * present_sync.c - `sync status` of both ends of the gmina -> hub link as
 * JSON and Polish text (see present.h, docs/SYNC.md).
 *
 * JSON, on a gmina:
 *   {node, role, hub, hub_node, connected, last_contact, last_contact_ms,
 *    pending, streams: {NAME: {last_seq, acked, pending, log_id, state}},
 *    down: {log_id, seq, refused, state}, last_error,
 *    verify: the last sync verify (VerifyResult) or null}
 * on a hub: {node, role, listen, malformed, events_refused, down_seq, down_out,
 *    ingest_*, verify_results, verify_differing, verify_repaired,
 *    nodes: [{node, connected, last_contact, last_contact_ms, down_seq,
 *             refused, last_refusal,
 *             streams: {NAME: {acked, events, epoch, log_id}}, verify}],
 *    uplink: {...as on a gmina} when it has a hub above it}
 * `acked` is a position in the node's stream (its seq), the same number on
 * both ends once the link caught up.
 */
#include "present.h"
#include "pbjson.h"
#include "text.h"
#include "sync.pb-c.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

json_t *
koop_present_time(uint64_t ms)
{
    char buf[40];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms == 0)
        return json_null();
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ".%03uZ", (unsigned)(ms % 1000));
    return json_string(buf);
}

static json_t *
s_str(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *
s_uplink_json(const Koop__Sync__UplinkStatus *u)
{
    json_t *o = json_object(), *streams = json_object(), *down = json_object();
    json_object_set_new(o, "hub", s_str(u->hub));
    json_object_set_new(o, "hub_node", s_str(u->hub_node));
    json_object_set_new(o, "connected", json_boolean(u->connected));
    json_object_set_new(o, "last_contact", koop_present_time(u->last_contact_ms));
    json_object_set_new(o, "last_contact_ms", json_integer((json_int_t)u->last_contact_ms));
    json_object_set_new(o, "pending", json_integer((json_int_t)u->pending));
    for (size_t i = 0; i < u->n_streams; i++) {
        const Koop__Sync__StreamStatus *s = u->streams[i];
        json_t *so = json_object();
        json_object_set_new(so, "last_seq", json_integer((json_int_t)s->last_seq));
        json_object_set_new(so, "acked", json_integer((json_int_t)s->acked));
        json_object_set_new(so, "pending", json_integer((json_int_t)s->pending));
        json_object_set_new(so, "log_id", s_str(s->log_id));
        json_object_set_new(so, "state", s_str(s->state));
        json_object_set_new(streams, s->stream ? s->stream : "?", so);
    }
    json_object_set_new(o, "streams", streams);
    json_object_set_new(down, "log_id", s_str(u->down_log_id));
    json_object_set_new(down, "seq", json_integer((json_int_t)u->down_seq));
    json_object_set_new(down, "refused", json_integer((json_int_t)u->down_refused));
    json_object_set_new(down, "state", s_str(u->down_state));
    json_object_set_new(o, "down", down);
    json_object_set_new(o, "last_error", s_str(u->last_error));
    return o;
}

static void
s_print_uplink(FILE *out, const Koop__Sync__UplinkStatus *u, const char *indent)
{
    char when[40] = "nigdy";
    if (u->last_contact_ms) {
        json_t *t = koop_present_time(u->last_contact_ms);
        snprintf(when, sizeof when, "%s", json_string_value(t));
        json_decref(t);
    }
    if (!u->hub || !*u->hub)
        fprintf(out, "%shub: nie skonfigurowano ([sync] hub) – zdarzenia czekają w dziennikach\n", indent);
    else
        fprintf(out, "%shub %s%s%s%s: %s, ostatni kontakt: %s\n", indent, u->hub, u->hub_node ? " (" : "",
               u->hub_node ? u->hub_node : "", u->hub_node ? ")" : "",
               u->connected ? "połączony" : "NIEPOŁĄCZONY", when);
    fprintf(out, "%sczeka na wysłanie: %llu %s\n", indent, (unsigned long long)u->pending,
            koop_plural_word((long long)u->pending, "zdarzenie", "zdarzenia", "zdarzeń"));
    for (size_t i = 0; i < u->n_streams; i++) {
        const Koop__Sync__StreamStatus *s = u->streams[i];
        fprintf(out, "%s  %-10s ostatnie %llu, potwierdzone %llu, czeka %llu%s%s\n", indent, s->stream,
               (unsigned long long)s->last_seq, (unsigned long long)s->acked, (unsigned long long)s->pending,
               s->state && strcmp(s->state, "ok") ? " – " : "", s->state && strcmp(s->state, "ok") ? s->state : "");
    }
    if (u->down_state && *u->down_state)
        fprintf(out, "%sdane huba w dół: %s\n", indent, u->down_state);
    if (u->down_refused)
        fprintf(out, "%sodrzucone paczki danych huba: %llu\n", indent, (unsigned long long)u->down_refused);
    if (u->last_error && *u->last_error)
        fprintf(out, "%sostatni błąd: %s\n", indent, u->last_error);
}

/* The last sync verify (docs/ACCOUNTABILITY.md), or null. */
static json_t *
s_verify_json(const Koop__Sync__VerifyResult *r)
{
    json_t *o;
    if (!r)
        return json_null();
    o = koop_pbjson_to_json(&r->base);
    if (o) {
        json_object_set_new(o, "started", koop_present_time(r->started_ms));
        json_object_set_new(o, "finished", koop_present_time(r->finished_ms));
    }
    return o ? o : json_null();
}

static void
s_print_verify(FILE *out, const Koop__Sync__VerifyResult *r, const char *indent)
{
    json_t *t;
    if (!r)
        return;
    t = koop_present_time(r->finished_ms ? r->finished_ms : r->started_ms);
    fprintf(out, "%ssprawdzenie kopii huba (sync verify, %s): %s\n", indent,
            json_is_string(t) ? json_string_value(t) : "–", r->state ? r->state : "?");
    json_decref(t);
    for (size_t i = 0; i < r->n_streams; i++) {
        const Koop__Sync__StreamVerify *s = r->streams[i];
        fprintf(out, "%s  %-10s do %llu: zdarzeń %llu, różnych zakresów %zu, przywrócono %llu%s%s\n", indent,
                s->stream, (unsigned long long)s->upto, (unsigned long long)s->events, s->n_differing,
                (unsigned long long)s->repaired, s->state ? " – " : (s->ok ? " – zgodne" : " – NIEZGODNE"),
                s->state ? s->state : "");
    }
}

json_t *
koop_present_sync_json(const ProtobufCMessage *reply)
{
    const Koop__Sync__Status *st = (const Koop__Sync__Status *)reply;
    json_t *out;
    if (st->uplink && strcmp(st->role ? st->role : "", "hub") != 0) {
        out = s_uplink_json(st->uplink);
        json_object_set_new(out, "node", s_str(st->node));
        json_object_set_new(out, "role", s_str(st->role));
        json_object_set_new(out, "verify", s_verify_json(st->verify));
    } else {
        json_t *nodes = json_array();
        out = json_object();
        json_object_set_new(out, "node", s_str(st->node));
        json_object_set_new(out, "role", s_str(st->role));
        json_object_set_new(out, "listen", s_str(st->listen));
        json_object_set_new(out, "malformed", json_integer((json_int_t)st->malformed));
        json_object_set_new(out, "events_refused", json_integer((json_int_t)st->events_refused));
        json_object_set_new(out, "down_out", json_integer((json_int_t)st->down_out));
        json_object_set_new(out, "down_seq", json_integer((json_int_t)st->down_seq));
        json_object_set_new(out, "ingest_commits", json_integer((json_int_t)st->ingest_commits));
        json_object_set_new(out, "ingest_events", json_integer((json_int_t)st->ingest_events));
        json_object_set_new(out, "ingest_ms", json_integer((json_int_t)(st->ingest_us / 1000)));
        json_object_set_new(out, "verify_results", json_integer((json_int_t)st->verify_results));
        json_object_set_new(out, "verify_differing", json_integer((json_int_t)st->verify_differing));
        json_object_set_new(out, "verify_repaired", json_integer((json_int_t)st->verify_repaired));
        for (size_t i = 0; i < st->n_nodes; i++) {
            const Koop__Sync__NodeStatus *n = st->nodes[i];
            json_t *no = json_object(), *streams = json_object();
            json_object_set_new(no, "node", s_str(n->node));
            json_object_set_new(no, "connected", json_boolean(n->connected));
            json_object_set_new(no, "last_contact", koop_present_time(n->last_contact_ms));
            json_object_set_new(no, "last_contact_ms", json_integer((json_int_t)n->last_contact_ms));
            json_object_set_new(no, "down_seq", json_integer((json_int_t)n->down_seq));
            json_object_set_new(no, "hello", koop_present_time(n->hello_ms));
            json_object_set_new(no, "refused", json_integer((json_int_t)n->refused));
            json_object_set_new(no, "last_refusal", s_str(n->last_refusal));
            for (size_t j = 0; j < n->n_streams; j++) {
                const Koop__Sync__StreamStatus *s = n->streams[j];
                json_t *so = json_object();
                json_object_set_new(so, "acked", json_integer((json_int_t)s->acked));
                json_object_set_new(so, "events", json_integer((json_int_t)s->events));
                json_object_set_new(so, "epoch", json_integer((json_int_t)s->epoch));
                json_object_set_new(so, "log_id", s_str(s->log_id));
                json_object_set_new(so, "stored", koop_present_time(s->stored_ms));
                if (s->state)
                    json_object_set_new(so, "state", s_str(s->state));
                json_object_set_new(streams, s->stream ? s->stream : "?", so);
            }
            json_object_set_new(no, "streams", streams);
            json_object_set_new(no, "verify", s_verify_json(n->verify));
            json_array_append_new(nodes, no);
        }
        json_object_set_new(out, "nodes", nodes);
        if (st->uplink)
            json_object_set_new(out, "uplink", s_uplink_json(st->uplink));
    }
    return out;
}

void
koop_present_sync_verify_text(const ProtobufCMessage *reply, FILE *out)
{
    s_print_verify(out, (const Koop__Sync__VerifyResult *)reply, "");
    fflush(out);
}

void
koop_present_sync_text(const ProtobufCMessage *reply, FILE *out)
{
    const Koop__Sync__Status *st = (const Koop__Sync__Status *)reply;
    if (strcmp(st->role ? st->role : "", "hub") != 0) {
        fprintf(out, "węzeł %s (gmina)\n", st->node);
        if (st->uplink)
            s_print_uplink(out, st->uplink, "");
        s_print_verify(out, st->verify, "");
    } else {
        fprintf(out, "hub %s, nasłuch: %s\n", st->node, st->listen && *st->listen ? st->listen : "(brak [sync] listen)");
        if (st->n_nodes == 0)
            fprintf(out, "  (żaden węzeł jeszcze się nie połączył)\n");
        for (size_t i = 0; i < st->n_nodes; i++) {
            const Koop__Sync__NodeStatus *n = st->nodes[i];
            json_t *t = koop_present_time(n->last_contact_ms);
            fprintf(out, "  %-20s %s, ostatni kontakt: %s\n", n->node, n->connected ? "połączony" : "niepołączony",
                   json_is_string(t) ? json_string_value(t) : "nigdy");
            json_decref(t);
            if (n->refused)
                fprintf(out, "    odrzucone paczki: %llu (ostatnio: %s)\n", (unsigned long long)n->refused,
                        n->last_refusal ? n->last_refusal : "?");
            for (size_t j = 0; j < n->n_streams; j++)
                fprintf(out, "    %-10s potwierdzone %llu (zdarzeń w epoce %u: %llu)%s%s\n", n->streams[j]->stream,
                       (unsigned long long)n->streams[j]->acked, n->streams[j]->epoch,
                       (unsigned long long)n->streams[j]->events, n->streams[j]->state ? " – " : "",
                       n->streams[j]->state ? n->streams[j]->state : "");
            s_print_verify(out, n->verify, "    ");
        }
        if (st->malformed)
            fprintf(out, "  odrzucone wiadomości: %llu\n", (unsigned long long)st->malformed);
        if (st->events_refused)
            fprintf(out, "  paczki odrzucone za nieprawidłowe zdarzenie: %llu\n", (unsigned long long)st->events_refused);
        if (st->down_out)
            fprintf(out, "  zdarzenia rejestru huba niewysłane w dół (nie jego rekordy): %llu\n",
                    (unsigned long long)st->down_out);
        if (st->uplink) {
            fprintf(out, "  połączenie w górę:\n");
            s_print_uplink(out, st->uplink, "    ");
        }
    }
    fflush(out);
}
