/*
 * sync.c - `koopctl sync status` (both ends of the gmina -> hub link) and
 * `koopctl enrol CERT` (a hub's allow-list), see docs/SYNC.md.
 *
 * sync status --json, on a gmina:
 *   {node, role, hub, hub_node, connected, last_contact, last_contact_ms,
 *    pending, streams: {NAME: {last_seq, acked, pending, log_id, state}},
 *    down: {log_id, seq}, last_error}
 * on a hub: {node, role, listen, malformed, down_seq,
 *    nodes: [{node, connected, last_contact, last_contact_ms, down_seq,
 *             streams: {NAME: {acked, events, epoch, log_id}}}],
 *    uplink: {...as on a gmina} when it has a hub above it}
 * `acked` is a position in the node's stream (its seq), the same number on
 * both ends once the link caught up.
 */
#include "koopctl.h"
#include "enrol.h"
#include "koop.h"
#include "sync.pb-c.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static json_t *
s_time(uint64_t ms)
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
    json_object_set_new(o, "last_contact", s_time(u->last_contact_ms));
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
    json_object_set_new(o, "down", down);
    json_object_set_new(o, "last_error", s_str(u->last_error));
    return o;
}

static void
s_print_uplink(const Koop__Sync__UplinkStatus *u, const char *indent)
{
    char when[40] = "nigdy";
    if (u->last_contact_ms) {
        json_t *t = s_time(u->last_contact_ms);
        snprintf(when, sizeof when, "%s", json_string_value(t));
        json_decref(t);
    }
    if (!u->hub || !*u->hub)
        printf("%shub: nie skonfigurowano ([sync] hub) – zdarzenia czekają w dziennikach\n", indent);
    else
        printf("%shub %s%s%s%s: %s, ostatni kontakt: %s\n", indent, u->hub, u->hub_node ? " (" : "",
               u->hub_node ? u->hub_node : "", u->hub_node ? ")" : "",
               u->connected ? "połączony" : "NIEPOŁĄCZONY", when);
    printf("%sczeka na wysłanie: %llu zdarzeń\n", indent, (unsigned long long)u->pending);
    for (size_t i = 0; i < u->n_streams; i++) {
        const Koop__Sync__StreamStatus *s = u->streams[i];
        printf("%s  %-10s ostatnie %llu, potwierdzone %llu, czeka %llu%s%s\n", indent, s->stream,
               (unsigned long long)s->last_seq, (unsigned long long)s->acked, (unsigned long long)s->pending,
               s->state && strcmp(s->state, "ok") ? " – " : "", s->state && strcmp(s->state, "ok") ? s->state : "");
    }
    if (u->last_error && *u->last_error)
        printf("%sostatni błąd: %s\n", indent, u->last_error);
}

static int
s_status(kc_ctx_t *ctx)
{
    ProtobufCMessage *rep = NULL;
    Koop__Sync__Status *st;
    json_t *out;
    int rc = kc_call(ctx, "sync", "sync.status", NULL, &koop__sync__status__descriptor, &rep);
    if (rc != KC_OK)
        return rc;
    st = (Koop__Sync__Status *)rep;
    if (st->uplink && strcmp(st->role ? st->role : "", "hub") != 0) {
        out = s_uplink_json(st->uplink);
        json_object_set_new(out, "node", s_str(st->node));
        json_object_set_new(out, "role", s_str(st->role));
    } else {
        json_t *nodes = json_array();
        out = json_object();
        json_object_set_new(out, "node", s_str(st->node));
        json_object_set_new(out, "role", s_str(st->role));
        json_object_set_new(out, "listen", s_str(st->listen));
        json_object_set_new(out, "malformed", json_integer((json_int_t)st->malformed));
        json_object_set_new(out, "down_seq", json_integer((json_int_t)st->down_seq));
        json_object_set_new(out, "ingest_commits", json_integer((json_int_t)st->ingest_commits));
        json_object_set_new(out, "ingest_events", json_integer((json_int_t)st->ingest_events));
        json_object_set_new(out, "ingest_ms", json_integer((json_int_t)(st->ingest_us / 1000)));
        for (size_t i = 0; i < st->n_nodes; i++) {
            const Koop__Sync__NodeStatus *n = st->nodes[i];
            json_t *no = json_object(), *streams = json_object();
            json_object_set_new(no, "node", s_str(n->node));
            json_object_set_new(no, "connected", json_boolean(n->connected));
            json_object_set_new(no, "last_contact", s_time(n->last_contact_ms));
            json_object_set_new(no, "last_contact_ms", json_integer((json_int_t)n->last_contact_ms));
            json_object_set_new(no, "down_seq", json_integer((json_int_t)n->down_seq));
            json_object_set_new(no, "hello", s_time(n->hello_ms));
            for (size_t j = 0; j < n->n_streams; j++) {
                const Koop__Sync__StreamStatus *s = n->streams[j];
                json_t *so = json_object();
                json_object_set_new(so, "acked", json_integer((json_int_t)s->acked));
                json_object_set_new(so, "events", json_integer((json_int_t)s->events));
                json_object_set_new(so, "epoch", json_integer((json_int_t)s->epoch));
                json_object_set_new(so, "log_id", s_str(s->log_id));
                json_object_set_new(so, "stored", s_time(s->stored_ms));
                if (s->state)
                    json_object_set_new(so, "state", s_str(s->state));
                json_object_set_new(streams, s->stream ? s->stream : "?", so);
            }
            json_object_set_new(no, "streams", streams);
            json_array_append_new(nodes, no);
        }
        json_object_set_new(out, "nodes", nodes);
        if (st->uplink)
            json_object_set_new(out, "uplink", s_uplink_json(st->uplink));
    }
    if (ctx->json) {
        kc_print(ctx, out);
    } else if (strcmp(st->role ? st->role : "", "hub") != 0) {
        printf("węzeł %s (gmina)\n", st->node);
        if (st->uplink)
            s_print_uplink(st->uplink, "");
    } else {
        printf("hub %s, nasłuch: %s\n", st->node, st->listen && *st->listen ? st->listen : "(brak [sync] listen)");
        if (st->n_nodes == 0)
            printf("  (żaden węzeł jeszcze się nie połączył)\n");
        for (size_t i = 0; i < st->n_nodes; i++) {
            const Koop__Sync__NodeStatus *n = st->nodes[i];
            json_t *t = s_time(n->last_contact_ms);
            printf("  %-20s %s, ostatni kontakt: %s\n", n->node, n->connected ? "połączony" : "niepołączony",
                   json_is_string(t) ? json_string_value(t) : "nigdy");
            json_decref(t);
            for (size_t j = 0; j < n->n_streams; j++)
                printf("    %-10s potwierdzone %llu (zdarzeń w epoce %u: %llu)%s%s\n", n->streams[j]->stream,
                       (unsigned long long)n->streams[j]->acked, n->streams[j]->epoch,
                       (unsigned long long)n->streams[j]->events, n->streams[j]->state ? " – " : "",
                       n->streams[j]->state ? n->streams[j]->state : "");
        }
        if (st->malformed)
            printf("  odrzucone wiadomości: %llu\n", (unsigned long long)st->malformed);
        if (st->uplink) {
            printf("  połączenie w górę:\n");
            s_print_uplink(st->uplink, "    ");
        }
    }
    json_decref(out);
    protobuf_c_message_free_unpacked(rep, NULL);
    return KC_OK;
}

int
kc_sync(kc_ctx_t *ctx, int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "status") == 0)
        return s_status(ctx);
    fprintf(stderr, "użycie: koopctl -c WĘZEŁ.conf [--json] sync status\n");
    return KC_USAGE;
}

/* ---- enrol ---- */

static int
s_valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

int
kc_enrol(kc_ctx_t *ctx, int argc, char **argv)
{
    static const uint8_t zero[32];
    char path[PATH_MAX + 128];
    const char *node = NULL, *cert_path;
    zcert_t *in = NULL;
    int rc;

    if (argc != 1 && !(argc == 3 && strcmp(argv[1], "--node") == 0)) {
        fprintf(stderr, "użycie: koopctl -c HUB.conf enrol PLIK_CERTYFIKATU_PUBLICZNEGO [--node ID_WĘZŁA]\n");
        return KC_USAGE;
    }
    cert_path = argv[0];
    if (argc == 3)
        node = argv[2];
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    if (!koop_config_is_hub(&ctx->cfg)) {
        fprintf(stderr, "błąd: %s nie jest konfiguracją huba (role = hub): węzły zapisuje się w hubie\n",
                ctx->conf_path);
        return KC_USAGE;
    }
    in = zcert_load(cert_path);
    if (!in || memcmp(zcert_public_key(in), zero, 32) == 0) {
        fprintf(stderr, "błąd: %s nie jest certyfikatem węzła (oczekiwano KATALOG_WĘZŁA/keys/node.pub)\n",
                cert_path);
        rc = KC_USAGE;
        goto done;
    }
    if (!node)
        node = zcert_meta(in, "node-id");
    if (node && !s_valid_id(node)) {
        fprintf(stderr, "błąd: nieprawidłowy identyfikator węzła '%s'\n", node);
        rc = KC_USAGE;
        goto done;
    }
    if (node && strcmp(node, ctx->cfg.node_id) == 0) {
        fprintf(stderr, "błąd: to klucz samego huba %s\n", node);
        rc = KC_REFUSED;
        goto done;
    }
    if ((rc = koop_enrol_write(ctx->cfg.dir, zcert_public_key(in), node, zcert_meta(in, "role"), path,
                               sizeof path)) != 0) {
        fprintf(stderr, "błąd: nie można zapisać klucza w %s/keys/enrolled: %s\n", ctx->cfg.dir, strerror(-rc));
        rc = KC_REFUSED;
        goto done;
    }
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "key", json_string(zcert_public_txt(in)));
        json_object_set_new(o, "node", node ? json_string(node) : json_null());
        json_object_set_new(o, "file", json_string(path));
        kc_print(ctx, o);
        json_decref(o);
    } else {
        printf("Zapisano w hubie %s klucz węzła %s%s\n", ctx->cfg.node_id,
               node ? node : "(bez identyfikatora: przypisze go pierwsze połączenie)",
               node ? "" : "");
    }
    rc = KC_OK;
done:
    zcert_destroy(&in);
    return rc;
}
