/*
 * wait.c - commands that wait: the loop they wait on, and long work followed
 * with a progress line (progress.h) on a terminal, quiet in scripts:
 *
 *   koopctl sync wait [--timeout S]   until the hub holds every event (a
 *                                     catch-up after a long outage)
 *   koopctl report rebuild            (kc_follow) until the projection has
 *                                     replayed every log it follows
 */
#include "koopctl.h"
#include "client.h"
#include "clock.h"
#include "facts.h"
#include "present.h"
#include "progress.h"
#include "reporting.pb-c.h"
#include "sync.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_MS 500

int
kc_async_init(kc_async_t *a)
{
    memset(a, 0, sizeof *a);
    if (uv_loop_init(&a->loop) != 0)
        return -1;
    if (!(a->client = koop_client_new(&a->loop, NULL))) {
        (void)uv_loop_close(&a->loop);
        return -1;
    }
    uv_timer_init(&a->loop, &a->tick);
    return 0;
}

void
kc_async_close(kc_async_t *a)
{
    koop_client_destroy(&a->client);
    uv_close((uv_handle_t *)&a->tick, NULL);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&a->loop);
}

static void
s_on_facts(void *ctx, koop_facts_t *facts)
{
    *(koop_facts_t **)ctx = facts;
}

koop_facts_t *
kc_facts(kc_async_t *a, const kc_ctx_t *ctx, uint32_t timeout_ms)
{
    koop_facts_t *facts = NULL;
    if (koop_facts_gather(a->client, &ctx->cfg, timeout_ms, s_on_facts, &facts) != 0)
        return NULL;
    while (!facts && uv_run(&a->loop, UV_RUN_ONCE))
        ;
    return facts;
}

/* ---- sync wait ---- */

int
kc_sync_wait(kc_ctx_t *ctx, int argc, char **argv)
{
    uint64_t timeout_ms = 0, started = koop_clock_mono_ms(), most = 0, pending = 0;
    koop_progress_t *progress = NULL;
    const Koop__Sync__UplinkStatus *u;
    Koop__Sync__Status *st = NULL;
    int rc, connected = 0;

    if (argc == 2 && strcmp(argv[0], "--timeout") == 0 && strspn(argv[1], "0123456789") == strlen(argv[1]) &&
        strlen(argv[1]) < 9)
        timeout_ms = strtoull(argv[1], NULL, 10) * 1000;
    else if (argc != 0)
        return kc_error(ctx, KC_USAGE, CLI_ARGUMENT, NULL, argv[0]);
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    for (;;) {
        if (st)
            koop__sync__status__free_unpacked(st, NULL);
        st = NULL;
        if ((rc = kc_call(ctx, "sync", "sync.status", NULL, &koop__sync__status__descriptor,
                          (ProtobufCMessage **)&st)) != KC_OK)
            break;
        u = st->uplink;
        if (!u || !u->hub || !*u->hub) {
            if (!ctx->json)
                kc_say(ctx, "sync", "wait_no_hub", KOOP_ARGS(ctx->cfg.node_id));
            break;
        }
        pending = u->pending;
        connected = u->connected;
        if (pending > most)
            most = pending;
        if (!progress && !(connected && pending == 0))
            progress = koop_progress_new("sync_wait", most, KOOP_PROGRESS_EVENTS, ctx->lang, ctx->json, stderr);
        koop_progress_total(progress, most);
        koop_progress_set(progress, most - pending);
        if (connected && pending == 0)
            break;
        if (timeout_ms && koop_clock_mono_ms() - started >= timeout_ms) {
            koop_progress_end(&progress);
            rc = kc_error(ctx, KOOP_FACTS_EXIT_LINK, CLI_SYNC_WAIT, NULL, KOOP_NUM(timeout_ms / 1000), u->hub,
                          KOOP_NUM(pending), u->last_error && *u->last_error ? u->last_error
                                             : connected                 ? "ok"
                                                                         : "-");
            break;
        }
        usleep(POLL_MS * 1000);
    }
    koop_progress_end(&progress);
    if (rc == KC_OK && ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "pending", json_integer((json_int_t)pending));
        json_object_set_new(o, "connected", json_boolean(connected));
        json_object_set_new(o, "waited_ms", json_integer((json_int_t)(koop_clock_mono_ms() - started)));
        kc_print(ctx, o);
        json_decref(o);
    } else if (rc == KC_OK && st && st->uplink && st->uplink->hub && *st->uplink->hub) {
        kc_say(ctx, "sync", "wait_done", KOOP_ARGS(st->uplink->hub, ctx->cfg.node_id));
    }
    if (st)
        koop__sync__status__free_unpacked(st, NULL);
    return rc;
}

/* ---- report rebuild ---- */

/* SHARED events of stream at endpoint after `after` (feed.stat), or -1. */
static int64_t
s_shared_after(const char *endpoint, const char *stream, uint64_t after)
{
    Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
    koop_rpc_client_t *c = koop_rpc_client_new(endpoint);
    koop_reply_t reply;
    int64_t n = -1;
    q.stream = (char *)stream;
    q.has_after_seq = 1;
    q.after_seq = after;
    if (c && koop_rpc_call(c, NULL, "feed.stat", &q.base, 3000, &reply) == 0) {
        Koop__FeedStat *st = reply.status == KOOP_OK ? koop__feed_stat__unpack(NULL, reply.len, reply.payload) : NULL;
        if (st) {
            n = (int64_t)st->shared_after;
            koop__feed_stat__free_unpacked(st, NULL);
        }
        koop_reply_clear(&reply);
    }
    koop_rpc_client_destroy(&c);
    return n;
}

/* Follows a rebuild: done = the events the feeds replayed, of all the
 * SHARED events of the logs they follow. */
static int
s_follow_rebuild(kc_ctx_t *ctx)
{
    koop_progress_t *progress = koop_progress_new("rebuild", 0, KOOP_PROGRESS_EVENTS, ctx->lang, ctx->json, stderr);
    uint64_t total = 0;
    int rc = KC_OK, have_total = 0;

    if (!koop_progress_visible(progress)) {
        koop_progress_end(&progress);
        return KC_OK; /* in a script: the rebuild goes on by itself */
    }
    for (;;) {
        Koop__Rep__Status *st = NULL;
        char failed_stream[64] = "";
        uint64_t left = 0;
        int failed = 0, unknown = 0;
        if ((rc = kc_call(ctx, "reporting", "report.status", NULL, &koop__rep__status__descriptor,
                          (ProtobufCMessage **)&st)) != KC_OK)
            break;
        for (size_t i = 0; i < st->n_feeds; i++) {
            const Koop__Rep__FeedStatus *f = st->feeds[i];
            int64_t n = f->endpoint ? s_shared_after(f->endpoint, f->stream, f->position) : -1;
            if (!have_total) {
                int64_t all = f->endpoint ? s_shared_after(f->endpoint, f->stream, 0) : -1;
                total += all > 0 ? (uint64_t)all : 0;
            }
            if (f->failed && !failed)
                snprintf(failed_stream, sizeof failed_stream, "%s", f->stream ? f->stream : "?");
            failed |= f->failed;
            unknown |= n < 0;
            left += n > 0 ? (uint64_t)n : 0;
        }
        have_total = 1;
        koop__rep__status__free_unpacked(st, NULL);
        koop_progress_total(progress, total);
        koop_progress_set(progress, total > left ? total - left : 0);
        if (failed) {
            koop_progress_end(&progress);
            return kc_error(ctx, KC_REFUSED, CLI_REBUILD_STOPPED, NULL, failed_stream, ctx->conf_path);
        }
        if (left == 0 && !unknown)
            break;
        usleep(POLL_MS * 1000);
    }
    koop_progress_end(&progress);
    return rc;
}

int
kc_follow(kc_ctx_t *ctx, const koop_api_method_t *m)
{
    if (strcmp(m->name, "report.rebuild") == 0)
        return s_follow_rebuild(ctx);
    return KC_OK;
}
