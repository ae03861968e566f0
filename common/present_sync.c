/*
 * present_sync.c - `sync status` of both ends of the gmina -> hub link as
 * JSON and text in Polish or English (labels.def's set "sync"; see
 * present.h, docs/SYNC.md).
 *
 * JSON, on a gmina:
 *   {node, role, hub, hub_node, connected, last_contact, last_contact_ms,
 *    pending, streams: {NAME: {last_seq, acked, pending, log_id, state}},
 *    down: {log_id, seq, refused, state}, last_error,
 *    verify: the last sync verify (VerifyResult) or null}
 * on a hub: {node, role, listen, malformed, events_refused, down_seq, down_out,
 *    dir_sent, dir_bytes (key directories sent down since start),
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

/* Line key of labels.def's set "sync" in lang after indent, {1}.. from args. */
static void
s_say(FILE *out, const char *indent, const char *key, koop_lang_t lang, const char *const *args, size_t nargs)
{
    char line[1024];
    koop_present_sentence("sync", key, lang, args, nargs, line, sizeof line);
    fprintf(out, "%s%s\n", indent, line);
}
#define S_SAY(key, ...) s_say(out, indent, key, lang, KOOP_ARGS(__VA_ARGS__))
#define S_WORD(key) koop_present_word("sync", key, lang)
#define S_U(v) koop_num_str((char[24]){0}, (long long)(v))

/* When (ISO 8601 UTC) of unix ms into out, or none when there is no time. */
static const char *
s_when(char out[40], uint64_t ms, const char *none)
{
    json_t *t = ms ? koop_present_time(ms) : NULL;
    snprintf(out, 40, "%s", json_is_string(t) ? json_string_value(t) : none ? none : "");
    json_decref(t);
    return out;
}

/* " – state" of a stream whose state is not "ok", else "". */
static const char *
s_state(char *out, size_t len, const char *state)
{
    snprintf(out, len, "%s%s", state && strcmp(state, "ok") ? " – " : "", state && strcmp(state, "ok") ? state : "");
    return out;
}

static void
s_print_uplink(FILE *out, const Koop__Sync__UplinkStatus *u, const char *indent, koop_lang_t lang)
{
    char when[40], hub[400], name[16], state[200];
    if (!u->hub || !*u->hub)
        S_SAY("no_hub", "");
    else {
        snprintf(hub, sizeof hub, "%s%s%s%s", u->hub, u->hub_node ? " (" : "", u->hub_node ? u->hub_node : "",
                 u->hub_node ? ")" : "");
        S_SAY("hub", hub, S_WORD(u->connected ? "connected" : "disconnected_up"),
              s_when(when, u->last_contact_ms, S_WORD("never")));
    }
    S_SAY("pending", S_U(u->pending));
    for (size_t i = 0; i < u->n_streams; i++) {
        const Koop__Sync__StreamStatus *st = u->streams[i];
        snprintf(name, sizeof name, "%-10s", st->stream ? st->stream : "?");
        S_SAY("stream", name, S_U(st->last_seq), S_U(st->acked), S_U(st->pending),
              s_state(state, sizeof state, st->state));
    }
    if (u->down_state && *u->down_state)
        S_SAY("down_state", u->down_state);
    if (u->down_refused)
        S_SAY("down_refused", S_U(u->down_refused));
    if (u->last_error && *u->last_error)
        S_SAY("last_error", u->last_error);
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
s_print_verify(FILE *out, const Koop__Sync__VerifyResult *r, const char *indent, koop_lang_t lang)
{
    char when[40], name[16], state[200];
    if (!r)
        return;
    S_SAY("verify", s_when(when, r->finished_ms ? r->finished_ms : r->started_ms, "–"), r->state ? r->state : "?");
    for (size_t i = 0; i < r->n_streams; i++) {
        const Koop__Sync__StreamVerify *sv = r->streams[i];
        snprintf(name, sizeof name, "%-10s", sv->stream ? sv->stream : "?");
        snprintf(state, sizeof state, " – %s", sv->state ? sv->state : S_WORD(sv->ok ? "verify_ok" : "verify_differs"));
        S_SAY("verify_stream", name, S_U(sv->upto), S_U(sv->events), S_U(sv->n_differing), S_U(sv->repaired), state);
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
        json_object_set_new(out, "dir_sent", json_integer((json_int_t)st->dir_sent));
        json_object_set_new(out, "dir_bytes", json_integer((json_int_t)st->dir_bytes));
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
koop_present_sync_verify_text(const ProtobufCMessage *reply, koop_lang_t lang, FILE *out)
{
    s_print_verify(out, (const Koop__Sync__VerifyResult *)reply, "", lang);
    fflush(out);
}

void
koop_present_sync_text(const ProtobufCMessage *reply, koop_lang_t lang, FILE *out)
{
    const Koop__Sync__Status *st = (const Koop__Sync__Status *)reply;
    const char *indent = "";
    char when[40], name[32], state[200];
    if (strcmp(st->role ? st->role : "", "hub") != 0) {
        S_SAY("gmina", st->node ? st->node : "?");
        if (st->uplink)
            s_print_uplink(out, st->uplink, "", lang);
        s_print_verify(out, st->verify, "", lang);
        fflush(out);
        return;
    }
    S_SAY("hub_head", st->node ? st->node : "?", st->listen && *st->listen ? st->listen : S_WORD("no_listen"));
    indent = "  ";
    if (st->n_nodes == 0)
        S_SAY("no_nodes", "");
    for (size_t i = 0; i < st->n_nodes; i++) {
        const Koop__Sync__NodeStatus *n = st->nodes[i];
        snprintf(name, sizeof name, "%-20s", n->node ? n->node : "?");
        S_SAY("node", name, S_WORD(n->connected ? "connected" : "disconnected"),
              s_when(when, n->last_contact_ms, S_WORD("never")));
        indent = "    ";
        if (n->refused)
            S_SAY("node_refused", S_U(n->refused), n->last_refusal ? n->last_refusal : "?");
        for (size_t j = 0; j < n->n_streams; j++) {
            const Koop__Sync__StreamStatus *ss = n->streams[j];
            snprintf(name, sizeof name, "%-10s", ss->stream ? ss->stream : "?");
            snprintf(state, sizeof state, "%s%s", ss->state ? " – " : "", ss->state ? ss->state : "");
            S_SAY("node_stream", name, S_U(ss->acked), S_U(ss->epoch), S_U(ss->events), state);
        }
        s_print_verify(out, n->verify, "    ", lang);
        indent = "  ";
    }
    if (st->malformed)
        S_SAY("malformed", S_U(st->malformed));
    if (st->events_refused)
        S_SAY("events_refused", S_U(st->events_refused));
    if (st->down_out)
        S_SAY("down_out", S_U(st->down_out));
    if (st->dir_sent)
        S_SAY("dir_sent", S_U(st->dir_sent), S_U((st->dir_bytes + 1023) / 1024));
    if (st->uplink) {
        S_SAY("uplink", "");
        s_print_uplink(out, st->uplink, "    ", lang);
    }
    fflush(out);
}
