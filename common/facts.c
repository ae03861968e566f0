/* facts.c - a node's services and link, gathered, judged and shown (see facts.h). */
#include "facts.h"
#include "client.h"
#include "clock.h"
#include "present.h"
#include "progress.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- gathering ---- */

typedef struct s_gather s_gather;

typedef struct {
    s_gather *g;
    size_t i; /* services[i]; nservices: the sync status */
} s_slot;

struct s_gather {
    koop_facts_t *f;
    size_t waiting;
    koop_facts_cb cb;
    void *ctx;
    s_slot slots[KOOP_SVC_COUNT + 1];
};

static void
s_finish(s_gather *g)
{
    koop_facts_cb cb = g->cb;
    void *ctx = g->ctx;
    koop_facts_t *f = g->f;
    free(g);
    koop_facts_judge(f);
    cb(ctx, f);
}

static void
s_on_reply(void *ctx, const koop_reply_t *reply)
{
    s_slot *slot = ctx;
    s_gather *g = slot->g;
    koop_facts_t *f = g->f;

    if (slot->i < f->nservices) {
        koop_facts_service_t *s = &f->services[slot->i];
        if (reply->status == KOOP_OK && !(s->stats = koop__service_stats__unpack(NULL, reply->len, reply->payload)))
            koop_error_set(&s->err, KOOP_ERR_CLI_BAD_REPLY, NULL, (const char *const[]){s->name, NULL});
        else if (reply->status != KOOP_OK)
            s->err = reply->err;
    } else if (reply->status == KOOP_OK) {
        f->sync = koop__sync__status__unpack(NULL, reply->len, reply->payload);
    }
    if (--g->waiting == 0)
        s_finish(g);
}

int
koop_facts_gather(koop_client_t *client, const koop_config_t *cfg, uint32_t timeout_ms, koop_facts_cb cb, void *ctx)
{
    const char *names[KOOP_MAX_SERVICES];
    koop_facts_t *f = calloc(1, sizeof *f);
    s_gather *g = calloc(1, sizeof *g);
    int n;

    if (!f || !g) {
        free(f);
        free(g);
        return -ENOMEM;
    }
    f->cfg = cfg;
    f->now_ms = koop_clock_now_ms();
    f->alert_after_ms = koop_config_alert_after_ms(cfg);
    g->f = f;
    g->cb = cb;
    g->ctx = ctx;
    g->waiting = 1; /* held until every call is out, so no answer finishes early */
    n = koop_config_services(cfg, names);
    for (int i = 0; i < n; i++) {
        koop_facts_service_t *s = &f->services[f->nservices];
        s_slot *slot = &g->slots[f->nservices];
        const char *ep = koop_config_endpoint(cfg, names[i]);
        char ms[24];
        int rc;
        s->name = names[i];
        slot->g = g;
        slot->i = f->nservices++;
        rc = koop_client_call(client, ep, NULL, "sys.stats", NULL, timeout_ms, s_on_reply, slot, NULL);
        if (rc == 0)
            g->waiting++;
        else
            koop_error_set(&s->err, KOOP_ERR_CLI_NO_ANSWER, NULL,
                           (const char *const[]){s->name, ep, koop_num_str(ms, timeout_ms), cfg->path, NULL});
    }
    if (koop_config_endpoint(cfg, "sync")) {
        s_slot *slot = &g->slots[KOOP_SVC_COUNT];
        slot->g = g;
        slot->i = KOOP_SVC_COUNT; /* past every service: the sync status */
        if (koop_client_call(client, koop_config_endpoint(cfg, "sync"), NULL, "sync.status", NULL, timeout_ms,
                             s_on_reply, slot, NULL) == 0)
            g->waiting++;
    }
    if (--g->waiting == 0)
        s_finish(g);
    return 0;
}

void
koop_facts_free(koop_facts_t **self_p)
{
    koop_facts_t *f;
    if (!self_p || !*self_p)
        return;
    f = *self_p;
    for (size_t i = 0; i < f->nservices; i++)
        if (f->services[i].stats)
            koop__service_stats__free_unpacked(f->services[i].stats, NULL);
    if (f->sync)
        koop__sync__status__free_unpacked(f->sync, NULL);
    free(f);
    *self_p = NULL;
}

/* ---- judging ---- */

/* A finding, sentence key of labels.def's set "status" in f->lang with
 * args: with an exit code a problem, with 0 a warning. */
static void
s_problem(koop_facts_t *f, int exit_code, const char *key, const char *const *args, size_t nargs)
{
    size_t *n = exit_code ? &f->nproblems : &f->nwarnings;
    /* a service down hides less than a link: it is the one to fix first */
    if (exit_code && (f->exit_code == 0 || exit_code == KOOP_FACTS_EXIT_DOWN))
        f->exit_code = exit_code;
    if (*n == KOOP_FACTS_PROBLEMS)
        return;
    koop_present_sentence("status", key, f->lang, args, nargs,
                          exit_code ? f->problems[(*n)++] : f->warnings[(*n)++], KOOP_FACTS_PROBLEM_LEN);
}

/* "2 h 05 min" */
static const char *
s_span(uint64_t ms, koop_lang_t lang, char *buf, size_t size)
{
    uint64_t s = ms / 1000;
    if (s < 120)
        snprintf(buf, size, "%llu s", (unsigned long long)s);
    else if (s < 3600)
        snprintf(buf, size, "%llu min", (unsigned long long)(s / 60));
    else if (s < 172800)
        snprintf(buf, size, "%llu h %02llu min", (unsigned long long)(s / 3600), (unsigned long long)(s % 3600 / 60));
    else
        koop_present_sentence("status", "days", lang, KOOP_ARGS(KOOP_NUM(s / 86400)), buf, size);
    return buf;
}

static const Koop__ServiceStats *
s_stats_of(const koop_facts_t *f, const char *name)
{
    for (size_t i = 0; i < f->nservices; i++)
        if (strcmp(f->services[i].name, name) == 0)
            return f->services[i].stats;
    return NULL;
}

/* Since when nothing is heard of the link, counted from the sync service's
 * start when it has heard nothing since (it keeps no contact time across
 * restarts). */
static uint64_t
s_silent_ms(const koop_facts_t *f, uint64_t last_ms)
{
    const Koop__ServiceStats *sync = s_stats_of(f, "sync");
    uint64_t since = last_ms ? last_ms : (sync ? sync->started_ms : 0);
    return since && f->now_ms > since ? f->now_ms - since : 0;
}

uint64_t
koop_facts_link_down_ms(const koop_facts_t *f)
{
    const Koop__Sync__UplinkStatus *u = f->sync ? f->sync->uplink : NULL;
    if (!u || !u->hub || !*u->hub || u->connected)
        return 0;
    return s_silent_ms(f, u->last_contact_ms);
}

/* The last time a hub heard of node n: a frame of its connection, or the
 * last events stored of it. */
static uint64_t
s_node_heard_ms(const Koop__Sync__NodeStatus *n)
{
    uint64_t last = n->last_contact_ms;
    for (size_t j = 0; j < n->n_streams; j++)
        if (n->streams[j]->stored_ms > last)
            last = n->streams[j]->stored_ms;
    return last;
}

void
koop_facts_judge(koop_facts_t *f)
{
    const Koop__Sync__Status *st = f->sync;
    const Koop__Sync__UplinkStatus *u = st ? st->uplink : NULL;
    char span[40], alert[40], msg[400];

    f->exit_code = 0;
    f->nproblems = f->nwarnings = 0;
    for (size_t i = 0; i < f->nservices; i++) {
        const koop_facts_service_t *s = &f->services[i];
        if (s->stats)
            continue;
        koop_error_render(&s->err, f->lang, NULL, msg, sizeof msg);
        s_problem(f, KOOP_FACTS_EXIT_DOWN, "service_down", KOOP_ARGS(s->name, msg));
    }
    s_span(f->alert_after_ms, f->lang, alert, sizeof alert);
    if (u && u->hub && *u->hub) {
        uint64_t down = koop_facts_link_down_ms(f);
        if (!u->connected && down > f->alert_after_ms)
            s_problem(f, KOOP_FACTS_EXIT_LINK, "link_down",
                      KOOP_ARGS(u->hub, s_span(down, f->lang, span, sizeof span), alert, u->last_error ? ": " : "",
                                u->last_error ? u->last_error : ""));
        else if (u->connected) {
            /* streams the hub holds back: the link is up, but those events stay */
            uint64_t since = 0;
            for (size_t i = 0; i < u->n_streams; i++)
                if (u->streams[i]->held_ms && (!since || u->streams[i]->held_ms < since))
                    since = u->streams[i]->held_ms;
            if (since) {
                uint64_t held = f->now_ms > since ? f->now_ms - since : 0;
                s_problem(f, held > f->alert_after_ms ? KOOP_FACTS_EXIT_LINK : 0, "held",
                          KOOP_ARGS(s_span(held, f->lang, span, sizeof span), alert, u->last_error ? u->last_error : ""));
            }
        }
    }
    for (size_t i = 0; st && i < st->n_nodes; i++) {
        const Koop__Sync__NodeStatus *n = st->nodes[i];
        uint64_t silent = s_silent_ms(f, s_node_heard_ms(n));
        if (!n->connected && silent > f->alert_after_ms)
            s_problem(f, KOOP_FACTS_EXIT_LINK, "node_silent",
                      KOOP_ARGS(n->node, s_span(silent, f->lang, span, sizeof span), alert));
        for (size_t j = 0; j < n->n_streams; j++)
            if (n->streams[j]->state && *n->streams[j]->state)
                s_problem(f, 0, "stream_held",
                          KOOP_ARGS(n->node, n->streams[j]->stream, n->streams[j]->state, f->cfg->path));
    }
}

/* ---- JSON and text ---- */

static json_t *
s_str(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *
s_service_json(const koop_facts_t *f, const koop_facts_service_t *s)
{
    json_t *o = json_object();
    const Koop__ServiceStats *st = s->stats;
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "ok", json_boolean(st != NULL));
    if (!st) {
        char msg[400];
        koop_error_render(&s->err, KOOP_LANG_PL, NULL, msg, sizeof msg);
        json_object_set_new(o, "error", json_string(msg));
        return o;
    }
    json_object_set_new(o, "pid", json_integer(st->pid));
    json_object_set_new(o, "version", s_str(st->version));
    json_object_set_new(o, "started", koop_present_time(st->started_ms));
    json_object_set_new(o, "uptime_s",
                        json_integer((json_int_t)(f->now_ms > st->started_ms ? (f->now_ms - st->started_ms) / 1000 : 0)));
    json_object_set_new(o, "last_seq", json_integer((json_int_t)st->last_seq));
    json_object_set_new(o, "last_shared_seq", json_integer((json_int_t)st->last_shared_seq));
    json_object_set_new(o, "log_id", s_str(st->log_id));
    if (st->store) {
        json_t *d = json_object();
        json_object_set_new(d, "file_bytes", json_integer((json_int_t)st->store->file_bytes));
        json_object_set_new(d, "map_bytes", json_integer((json_int_t)st->store->map_bytes));
        json_object_set_new(d, "used_bytes", json_integer((json_int_t)st->store->used_bytes));
        json_object_set_new(d, "readers", json_integer(st->store->readers));
        json_object_set_new(o, "store", d);
    }
    json_object_set_new(o, "requests", json_integer((json_int_t)st->requests));
    json_object_set_new(o, "refused", json_integer((json_int_t)st->refused));
    json_object_set_new(o, "write_batches", json_integer((json_int_t)st->write_batches));
    json_object_set_new(o, "commit_failures", json_integer((json_int_t)st->commit_failures));
    json_object_set_new(o, "dropped", json_integer((json_int_t)st->dropped));
    json_object_set_new(o, "expired", json_integer((json_int_t)st->expired));
    json_object_set_new(o, "events_refused", json_integer((json_int_t)st->events_refused));
    json_object_set_new(o, "backup_running", json_boolean(st->backup_running));
    json_object_set_new(o, "last_backup", koop_present_time(st->last_backup_ms));
    return o;
}

json_t *
koop_facts_json(const koop_facts_t *f)
{
    json_t *out = json_object(), *arr = json_array(), *problems = json_array();
    uint64_t data = 0;
    json_object_set_new(out, "node", json_string(f->cfg->node_id));
    json_object_set_new(out, "role", json_string(f->cfg->role));
    json_object_set_new(out, "ok", json_boolean(f->exit_code == 0));
    json_object_set_new(out, "exit", json_integer(f->exit_code));
    for (size_t i = 0; i < f->nproblems; i++)
        json_array_append_new(problems, json_string(f->problems[i]));
    json_object_set_new(out, "problems", problems);
    problems = json_array();
    for (size_t i = 0; i < f->nwarnings; i++)
        json_array_append_new(problems, json_string(f->warnings[i]));
    json_object_set_new(out, "warnings", problems);
    for (size_t i = 0; i < f->nservices; i++) {
        json_array_append_new(arr, s_service_json(f, &f->services[i]));
        if (f->services[i].stats && f->services[i].stats->store)
            data += f->services[i].stats->store->file_bytes;
    }
    json_object_set_new(out, "services", arr);
    json_object_set_new(out, "data_bytes", json_integer((json_int_t)data));
    json_object_set_new(out, "alert_after_s", json_integer((json_int_t)(f->alert_after_ms / 1000)));
    if (f->sync) {
        json_t *sync = koop_present_sync_json(&f->sync->base);
        if (f->sync->uplink)
            json_object_set_new(sync, "down_s", json_integer((json_int_t)(koop_facts_link_down_ms(f) / 1000)));
        json_object_set_new(out, "sync", sync);
    } else {
        json_object_set_new(out, "sync", json_null());
    }
    return out;
}

static const char *
s_bytes(uint64_t n, koop_lang_t lang, char *buf, size_t size)
{
    koop_progress_amount(buf, size, (double)n, KOOP_PROGRESS_BYTES, lang);
    return buf;
}

/* Line key of labels.def's set "status" in f->lang, {1}.. from args; a
 * line break unless `more` (the line goes on). */
static void
s_line(FILE *out, const koop_facts_t *f, int more, const char *key, const char *const *args, size_t nargs)
{
    char line[KOOP_FACTS_PROBLEM_LEN + 64];
    koop_present_sentence("status", key, f->lang, args, nargs, line, sizeof line);
    fprintf(out, "%s%s", line, more ? "" : "\n");
}
#define S_LINE(key, ...) s_line(out, f, 0, key, KOOP_ARGS(__VA_ARGS__))

void
koop_facts_text(const koop_facts_t *f, FILE *out)
{
    const Koop__Sync__Status *st = f->sync;
    char a[32], b[32], span[40], name[16], when[40];
    uint64_t data = 0;

    S_LINE("head", f->cfg->node_id, f->cfg->role,
           koop_present_word("status", f->exit_code == 0                      ? "all_ok"
                                       : f->exit_code == KOOP_FACTS_EXIT_DOWN ? "not_all_answer"
                                                                              : "link_needs_attention",
                             f->lang));
    for (size_t i = 0; i < f->nservices; i++) {
        const koop_facts_service_t *s = &f->services[i];
        snprintf(name, sizeof name, "%-10s", s->name);
        if (!s->stats) {
            S_LINE("service_silent", name);
            continue;
        }
        s_line(out, f, 1, "service",
               KOOP_ARGS(name, KOOP_NUM(s->stats->pid),
                         s_span(f->now_ms > s->stats->started_ms ? f->now_ms - s->stats->started_ms : 0, f->lang, span,
                                sizeof span),
                         KOOP_NUM(s->stats->last_seq), s_bytes(s->stats->store ? s->stats->store->file_bytes : 0, f->lang, a, sizeof a),
                         s_bytes(s->stats->store ? s->stats->store->map_bytes : 0, f->lang, b, sizeof b)));
        if (s->stats->events_refused)
            s_line(out, f, 1, "service_refused", KOOP_ARGS(KOOP_NUM(s->stats->events_refused)));
        fputc('\n', out);
        data += s->stats->store ? s->stats->store->file_bytes : 0;
    }
    S_LINE("data", s_bytes(data, f->lang, a, sizeof a));
    if (st && st->uplink && st->uplink->hub && *st->uplink->hub) {
        const Koop__Sync__UplinkStatus *u = st->uplink;
        json_t *t = koop_present_time(u->last_contact_ms);
        snprintf(when, sizeof when, "%s", json_is_string(t) ? json_string_value(t) : koop_present_word("sync", "never", f->lang));
        json_decref(t);
        S_LINE("hub", u->hub, koop_present_word("sync", u->connected ? "connected" : "disconnected_up", f->lang), when,
               KOOP_NUM(u->pending));
    } else if (st && st->uplink) {
        S_LINE("no_hub", "");
    }
    if (st && st->n_nodes)
        S_LINE("nodes", KOOP_NUM(st->n_nodes));
    for (size_t i = 0; i < f->nproblems; i++)
        S_LINE("problem", f->problems[i]);
    for (size_t i = 0; i < f->nwarnings; i++)
        S_LINE("warning", f->warnings[i]);
    fflush(out);
}

/* ---- Prometheus text ---- */

/* A metric family: HELP and TYPE once, then its samples. */
static void
s_family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP koop_%s %s\n# TYPE koop_%s %s\n", name, help, name, type);
}

/* Label values here are node ids and names of services and streams (letters,
 * digits, - and _): nothing to escape, but a stray quote or backslash must
 * not break the exposition. */
static void
s_label(FILE *out, const char *v)
{
    for (; v && *v; v++)
        if (*v == '"' || *v == '\\' || *v == '\n')
            fputc('_', out);
        else
            fputc(*v, out);
}

static void
s_sample(FILE *out, const char *name, const char *node, const char *k2, const char *v2, const char *k3,
         const char *v3, double value)
{
    fprintf(out, "koop_%s{node=\"", name);
    s_label(out, node);
    if (k2) {
        fprintf(out, "\",%s=\"", k2);
        s_label(out, v2);
    }
    if (k3) {
        fprintf(out, "\",%s=\"", k3);
        s_label(out, v3);
    }
    fprintf(out, "\"} %.17g\n", value);
}

void
koop_facts_metrics(const koop_facts_t *f, FILE *out)
{
    const char *node = f->cfg->node_id;
    const Koop__Sync__Status *st = f->sync;
    const Koop__Sync__UplinkStatus *u = st ? st->uplink : NULL;
    static const struct {
        const char *name, *type, *help;
    } per_service[] = {
        {"store_file_bytes", "gauge", "Size of the service's LMDB file on disk."},
        {"store_map_bytes", "gauge", "Size of the service's LMDB map (doubles when full)."},
        {"store_used_bytes", "gauge", "Bytes of the pages the store uses."},
        {"log_last_seq", "gauge", "Last sequence number of the service's event log."},
        {"log_last_shared_seq", "gauge", "Last sequence number of a SHARED event of the service's log."},
        {"requests_total", "counter", "Requests answered since the service started."},
        {"requests_refused_total", "counter", "Requests answered with a status other than OK."},
        {"write_batches_total", "counter", "Write transactions of request batches committed."},
        {"commit_failures_total", "counter", "Write batches whose commit failed (nothing acknowledged)."},
        {"messages_dropped_total", "counter", "Messages that could not be answered."},
        {"requests_expired_total", "counter", "Requests past their deadline, answered without running."},
        {"events_refused_total", "counter",
         "Events from outside refused since the service started (undecodable, or changing a record their node does not own)."},
        {"backups_total", "counter", "Backups of the store made since the service started."},
        {"backup_running", "gauge", "1 while a backup of the store is being made."},
        {"last_backup_time_seconds", "gauge", "Unix time the last backup of the store ended (0: none since start)."},
        {"start_time_seconds", "gauge", "Unix time the service started."},
    };

    s_family(out, "service_up", "gauge", "1 when the service answered.");
    for (size_t i = 0; i < f->nservices; i++)
        s_sample(out, "service_up", node, "service", f->services[i].name, NULL, NULL, f->services[i].stats != NULL);
    for (size_t m = 0; m < KOOP_ARRAY_LEN(per_service); m++) {
        s_family(out, per_service[m].name, per_service[m].type, per_service[m].help);
        for (size_t i = 0; i < f->nservices; i++) {
            const Koop__ServiceStats *s = f->services[i].stats;
            const Koop__StoreStats *z = s ? s->store : NULL;
            double v;
            if (!s)
                continue;
            switch (m) {
            case 0: v = z ? (double)z->file_bytes : 0; break;
            case 1: v = z ? (double)z->map_bytes : 0; break;
            case 2: v = z ? (double)z->used_bytes : 0; break;
            case 3: v = (double)s->last_seq; break;
            case 4: v = (double)s->last_shared_seq; break;
            case 5: v = (double)s->requests; break;
            case 6: v = (double)s->refused; break;
            case 7: v = (double)s->write_batches; break;
            case 8: v = (double)s->commit_failures; break;
            case 9: v = (double)s->dropped; break;
            case 10: v = (double)s->expired; break;
            case 11: v = (double)s->events_refused; break;
            case 12: v = (double)s->backups; break;
            case 13: v = s->backup_running; break;
            case 14: v = (double)s->last_backup_ms / 1000.0; break;
            default: v = (double)s->started_ms / 1000.0; break;
            }
            s_sample(out, per_service[m].name, node, "service", f->services[i].name, NULL, NULL, v);
        }
    }
    if (u && u->hub && *u->hub) {
        s_family(out, "sync_connected", "gauge", "1 when the link to the hub is up.");
        s_sample(out, "sync_connected", node, NULL, NULL, NULL, NULL, u->connected);
        s_family(out, "sync_last_contact_time_seconds", "gauge", "Unix time of the last frame from the hub (0: none since start).");
        s_sample(out, "sync_last_contact_time_seconds", node, NULL, NULL, NULL, NULL, (double)u->last_contact_ms / 1000.0);
        s_family(out, "sync_down_seconds", "gauge", "How long the link to the hub has been down (0: up).");
        s_sample(out, "sync_down_seconds", node, NULL, NULL, NULL, NULL, (double)koop_facts_link_down_ms(f) / 1000.0);
        s_family(out, "sync_pending_events", "gauge", "SHARED events not yet acknowledged by the hub.");
        for (size_t i = 0; i < u->n_streams; i++)
            s_sample(out, "sync_pending_events", node, "stream", u->streams[i]->stream, NULL, NULL,
                     (double)u->streams[i]->pending);
        s_family(out, "sync_stream_held", "gauge", "1 when the hub holds the stream back (see koopctl status).");
        for (size_t i = 0; i < u->n_streams; i++)
            s_sample(out, "sync_stream_held", node, "stream", u->streams[i]->stream, NULL, NULL,
                     u->streams[i]->state && strcmp(u->streams[i]->state, "ok") != 0);
    }
    if (st && st->n_nodes) {
        s_family(out, "hub_node_connected", "gauge", "1 when the node's link to this hub is up.");
        for (size_t i = 0; i < st->n_nodes; i++)
            s_sample(out, "hub_node_connected", node, "peer", st->nodes[i]->node, NULL, NULL, st->nodes[i]->connected);
        s_family(out, "hub_node_last_heard_time_seconds", "gauge", "Unix time this hub last heard of the node.");
        for (size_t i = 0; i < st->n_nodes; i++)
            s_sample(out, "hub_node_last_heard_time_seconds", node, "peer", st->nodes[i]->node, NULL, NULL,
                     (double)s_node_heard_ms(st->nodes[i]) / 1000.0);
        s_family(out, "hub_stream_acked_seq", "gauge", "Position of the node's stream stored at this hub.");
        for (size_t i = 0; i < st->n_nodes; i++)
            for (size_t j = 0; j < st->nodes[i]->n_streams; j++)
                s_sample(out, "hub_stream_acked_seq", node, "peer", st->nodes[i]->node, "stream",
                         st->nodes[i]->streams[j]->stream, (double)st->nodes[i]->streams[j]->acked);
    }
    if (st && koop_config_is_hub(f->cfg)) {
        s_family(out, "hub_ingest_events_total", "counter", "Events stored by this hub since its sync service started.");
        s_sample(out, "hub_ingest_events_total", node, NULL, NULL, NULL, NULL, (double)st->ingest_events);
        s_family(out, "hub_malformed_total", "counter", "Frames this hub dropped or refused as malformed.");
        s_sample(out, "hub_malformed_total", node, NULL, NULL, NULL, NULL, (double)st->malformed);
        s_family(out, "hub_events_refused_total", "counter", "Batches this hub refused for an event that failed its check.");
        s_sample(out, "hub_events_refused_total", node, NULL, NULL, NULL, NULL, (double)st->events_refused);
    }
    s_family(out, "status_code", "gauge", "What koopctl status exits with: 0 ok, 3 a service down, 4 the sync link.");
    s_sample(out, "status_code", node, NULL, NULL, NULL, NULL, f->exit_code);
    fflush(out);
}
