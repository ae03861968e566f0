/*
 * koop-reporting - the reporting service of a node (see reporting.h).
 *
 * Feeds (SHARED events only, so a gmina and its hub count the same facts):
 *   gmina: registry, cases;
 *   hub:   its own registry (and cases, when it has one), and the merged
 *          stream "sync" of its gminas (served by its sync service).
 * Each batch of a feed is applied and its cursor moved in one transaction
 * of this store (feed.c + rep_apply).
 *
 * Rebuild (report.rebuild): in one write transaction the projection is
 * emptied and every feed cursor forgotten; the feeds are stopped at once
 * (an answer in flight must not be applied over the empty projection) and
 * started again after the commit, so they replay the logs from seq 1.
 *
 *   RUNNING --report.rebuild--> feeds stopped, txn: reset projection + cursors
 *           --commit--> (timer, next loop turn) feeds started from 0 --> RUNNING
 */
#include "reporting.h"
#include "feed.h"
#include "say.h"
#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FEEDS 3

typedef struct {
    koop_service_t *svc;
    rep_proj_t *proj;
    koop_feed_t *feeds[S_FEEDS];
    const char *names[S_FEEDS];
    const char *endpoints[S_FEEDS];
    int nfeeds;
    uv_timer_t restart;
    int restart_ready;
} s_rep;

static s_rep s_state;


static void
s_feeds_stop(s_rep *r)
{
    for (int i = 0; i < r->nfeeds; i++)
        koop_feed_destroy(&r->feeds[i]);
}

/* After a feed's batch committed: what it refused counts (sys.ping). */
static void
s_after_commit(void *ctx)
{
    koop_service_note_refused(s_state.svc, rep_proj_take_refused(ctx));
}

static int
s_feeds_start(s_rep *r)
{
    int rc = 0;
    for (int i = 0; i < r->nfeeds; i++) {
        koop_feed_opts_t o = {0};
        if (r->feeds[i])
            continue;
        o.loop = koop_service_loop(r->svc);
        o.client = koop_service_client(r->svc);
        o.store = koop_service_store(r->svc);
        o.endpoint = r->endpoints[i];
        o.stream = r->names[i];
        /* SHARED events only (what a hub counts too), but the registry's
         * LOCAL ones as well: hub-owned institutions come down as LOCAL
         * remote.* events, and their sectors count here (projection.c);
         * every other LOCAL event is passed over unread */
        o.shared_only = strcmp(r->names[i], "registry") != 0;
        o.batch_max = 2000;
        o.apply = rep_apply;
        o.batch_begin = rep_apply_begin;
        o.batch_end = rep_apply_end;
        o.committed = s_after_commit;
        o.ctx = r->proj;
        o.svc = r->svc;
        r->feeds[i] = koop_feed_start(&o);
        if (!r->feeds[i]) {
            koop_error("cannot start the feed of %s (%s)", r->names[i], r->endpoints[i]);
            rc = -1;
        }
    }
    return rc;
}

static void s_on_restart(uv_timer_t *t);

/* Starts the feeds after `ms` (the timer cannot fail on a live loop; if it
 * did, the feeds start now rather than never). */
static void
s_restart_later(s_rep *r, uint64_t ms)
{
    if (!r->restart_ready)
        return; /* in process (rep_open_local): no feeds */
    if (uv_timer_start(&r->restart, s_on_restart, ms, 0) != 0) {
        koop_error("cannot arm the feed restart timer: starting the feeds now");
        (void)s_feeds_start(r); /* failures are logged there */
    }
}

static void
s_on_restart(uv_timer_t *t)
{
    s_rep *r = t->data;
    if (s_feeds_start(r) != 0)
        s_restart_later(r, 1000);
    else
        koop_info("rebuild: feeds replay the logs from the start");
}

typedef struct {
    rep_proj_t *proj;
    koop_store_t *store;
    int cleared;
} s_init_ctx;

static int
s_init_fn(MDB_txn *txn, void *ctx)
{
    s_init_ctx *c = ctx;
    int rc = rep_proj_init(c->proj, txn, &c->cleared);
    for (size_t i = 0; rc == 0 && c->cleared && i < KOOP_SVC_COUNT; i++)
        if (koop_services[i].flags & KOOP_SVC_FEED)
            rc = koop_feed_cursor_reset(c->store, txn, koop_services[i].name);
    return rc;
}

/* The projection over the service's store, prepared (cleared first when
 * an older build made it). */
static int
s_prepare(s_rep *r, koop_service_t *svc)
{
    const koop_config_t *cfg = koop_service_config(svc);
    rep_self_t self;
    s_init_ctx ic;
    int rc;

    memset(&self, 0, sizeof self);
    snprintf(self.node, sizeof self.node, "%s", cfg->node_id);
    snprintf(self.teryt, sizeof self.teryt, "%s", cfg->teryt);
    snprintf(self.name, sizeof self.name, "%s", cfg->name);
    self.hub = koop_config_is_hub(cfg);
    r->svc = svc;
    if (rep_proj_new(&r->proj, koop_service_store(svc), &self) != 0)
        return -1;
    ic.proj = r->proj;
    ic.store = koop_service_store(svc);
    ic.cleared = 0;
    if ((rc = koop_store_write(ic.store, s_init_fn, &ic)) != 0) {
        koop_error("cannot prepare the projection: %s", koop_strerror(rc));
        return -1;
    }
    return 0;
}

static int
s_start(koop_service_t *svc)
{
    s_rep *r = &s_state;
    const koop_config_t *cfg = koop_service_config(svc);

    if (s_prepare(r, svc) != 0)
        return -1;
    if (uv_timer_init(koop_service_loop(svc), &r->restart) != 0)
        return -1;
    r->restart.data = r;
    r->restart_ready = 1;
    /* the feeds (services.def): every producer of the node; a gmina's sync
     * log holds nothing of its own */
    for (size_t i = 0; i < KOOP_SVC_COUNT; i++) {
        const koop_service_info_t *info = &koop_services[i];
        const char *name = info->name, *ep = koop_config_endpoint(cfg, name);
        if (!(info->flags & KOOP_SVC_FEED) || !ep || ((info->flags & KOOP_SVC_HUB_STREAM) && !koop_config_is_hub(cfg)))
            continue;
        r->names[r->nfeeds] = name;
        r->endpoints[r->nfeeds] = ep;
        r->nfeeds++;
    }
    if (r->nfeeds == 0)
        koop_warn("no feed to consume: the node has no registry, cases or sync endpoint");
    if (rep_approvals_start(svc, r->proj) != 0)
        return -1;
    return s_feeds_start(r);
}

static void
s_stop(koop_service_t *svc)
{
    s_rep *r = &s_state;
    (void)svc;
    rep_approvals_stop();
    s_feeds_stop(r);
    if (r->restart_ready) {
        uv_timer_stop(&r->restart);
        uv_close((uv_handle_t *)&r->restart, NULL);
        r->restart_ready = 0;
    }
}

/* ---- methods ---- */

static int
s_report(koop_call_t *call, int evaluation)
{
    const Koop__Rep__ReportQuery *q = (const Koop__Rep__ReportQuery *)call->req;
    const koop_config_t *cfg = koop_service_config(call->svc);
    Koop__Rep__Report *rep = NULL;
    rep_marks_t *marks = NULL;
    koop_error_t err;
    int rc, st = rep_report(s_state.proj, call->txn, q, evaluation, &rep, &err);
    if (st != KOOP_OK)
        return koop_call_fail_error(call, &err);
    /* approved or provisional (or withheld above the unit: approval.c) */
    if ((rc = rep_approval_mark(s_state.proj, call->txn, strcmp(cfg->reporting_publish, "approved") == 0, rep,
                                &marks)) != 0)
        st = koop_call_store_error(call, rc);
    else
        st = koop_call_reply(call, &rep->base);
    rep_marks_free(&marks);
    rep_report_free(&rep);
    return st;
}

static int
s_evaluation(koop_call_t *call)
{
    return s_report(call, 1);
}

static int
s_indicators(koop_call_t *call)
{
    return s_report(call, 0);
}

static int
s_rebuild(koop_call_t *call)
{
    s_rep *r = &s_state;
    Koop__Rep__RebuildReply reply = KOOP__REP__REBUILD_REPLY__INIT;
    uint64_t dropped = 0;
    int rc;
    /* the node's operation, not a person's: the web never reaches it (an
     * empty caller is the node's own user, docs/FOUNDATION.md) */
    if (call->caller && *call->caller)
        return koop_fail(call, ACCESS_SHELL_ONLY, NULL, "report.rebuild");
    /* no answer of the old feeds may be applied over the emptied projection */
    s_feeds_stop(r);
    if ((rc = rep_proj_reset(r->proj, call->txn, &dropped)) != 0)
        goto fail;
    for (size_t i = 0; i < KOOP_SVC_COUNT; i++)
        if ((koop_services[i].flags & KOOP_SVC_FEED) &&
            (rc = koop_feed_cursor_reset(koop_service_store(r->svc), call->txn, koop_services[i].name)) != 0)
            goto fail;
    /* started after this batch commits (or fails: then from the old cursors) */
    s_restart_later(r, 0);
    reply.has_started = 1;
    reply.started = 1;
    reply.n_feeds = (size_t)r->nfeeds;
    reply.feeds = (char **)r->names;
    reply.has_dropped_events = 1;
    reply.dropped_events = dropped;
    koop_info("rebuild: projection of %llu events cleared", (unsigned long long)dropped);
    return koop_call_reply(call, &reply.base);
fail:
    s_restart_later(r, 0);
    return koop_call_store_error(call, rc);
}

typedef struct {
    rep_proj_t *proj;
    MDB_txn *txn;
    Koop__Rep__UnitInfo *infos;
    Koop__Rep__UnitInfo **ptrs;
    char (*parents)[64];
    size_t n, cap;
    int rc;
} s_units;

static int
s_collect_unit(const char *node, const rep_unit_t *u, void *ctx)
{
    s_units *c = ctx;
    Koop__Rep__UnitInfo *info;
    if (c->n == c->cap)
        return 1; /* more than a status shows */
    info = &c->infos[c->n];
    koop__rep__unit_info__init(info);
    info->node = strdup(node);
    info->teryt = strdup(u->teryt);
    {
        char name[REP_NAME_MAX];
        if (strcmp(node, rep_proj_self(c->proj)->node) == 0)
            snprintf(name, sizeof name, "%s", rep_proj_self(c->proj)->name);
        else if ((c->rc = rep_unit_name(c->proj, c->txn, node, name)) != 0)
            name[0] = '\0';
        info->name = strdup(name);
    }
    if (!info->node || !info->teryt || !info->name) {
        free(info->node);
        free(info->teryt);
        free(info->name);
        c->rc = ENOMEM;
        return 1;
    }
    info->level = (char *)(u->hub ? (strlen(u->teryt) == 2 ? "województwo" : "powiat") : "gmina");
    c->parents[c->n][0] = '\0';
    if (u->parent && rep_unit_node(c->proj, c->txn, u->parent, c->parents[c->n], NULL) != 0)
        c->parents[c->n][0] = '\0'; /* shown without its parent */
    info->parent = c->parents[c->n];
    info->has_self = 1;
    info->self = strcmp(node, rep_proj_self(c->proj)->node) == 0;
    c->ptrs[c->n] = info;
    c->n++;
    return 0;
}

static int
s_status(koop_call_t *call)
{
    s_rep *r = &s_state;
    const koop_config_t *cfg = koop_service_config(r->svc);
    Koop__Rep__Status st = KOOP__REP__STATUS__INIT;
    Koop__Rep__FeedStatus feeds[S_FEEDS], *fp[S_FEEDS];
    s_units u = {r->proj, call->txn, NULL, NULL, NULL, 0, 500, 0};
    rep_stats_t stats;
    int rc;

    if ((rc = rep_proj_stats(r->proj, call->txn, &stats)) != 0)
        return koop_call_store_error(call, rc);
    st.node = (char *)cfg->node_id;
    st.role = (char *)cfg->role;
    st.has_applied = st.has_ignored = st.has_rejected = st.has_not_owned = 1;
    st.applied = stats.applied;
    st.ignored = stats.ignored;
    st.rejected = stats.rejected;
    st.not_owned = stats.not_owned;
    for (int i = 0; i < r->nfeeds; i++) {
        koop__rep__feed_status__init(&feeds[i]);
        feeds[i].stream = (char *)r->names[i];
        feeds[i].endpoint = (char *)r->endpoints[i];
        feeds[i].has_position = feeds[i].has_failed = 1;
        if (r->feeds[i]) {
            feeds[i].position = koop_feed_position(r->feeds[i]);
            feeds[i].failed = koop_feed_failed(r->feeds[i]);
        } else {
            uint64_t pos = 0;
            if ((rc = koop_feed_cursor_get(koop_service_store(r->svc), call->txn, r->names[i], &pos)) != 0)
                return koop_call_store_error(call, rc);
            feeds[i].position = pos;
        }
        fp[i] = &feeds[i];
    }
    st.n_feeds = (size_t)r->nfeeds;
    st.feeds = fp;
    u.infos = calloc(u.cap, sizeof *u.infos);
    u.ptrs = calloc(u.cap, sizeof *u.ptrs);
    u.parents = calloc(u.cap, sizeof *u.parents);
    if (!u.infos || !u.ptrs || !u.parents) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    rc = rep_unit_each(r->proj, call->txn, s_collect_unit, &u);
    if ((rc != 0 && rc != 1) || u.rc != 0) {
        rc = koop_call_store_error(call, rc && rc != 1 ? rc : u.rc);
        goto done;
    }
    st.n_units = u.n;
    st.units = u.ptrs;
    rc = koop_call_reply(call, &st.base);
done:
    for (size_t i = 0; u.infos && i < u.n; i++) {
        free(u.infos[i].node);
        free(u.infos[i].teryt);
        free(u.infos[i].name);
    }
    free(u.infos);
    free(u.ptrs);
    free(u.parents);
    return rc;
}

static const koop_method_t s_methods[] = {
#define KOOP_API_reporting(fn, name, ...) {name, fn},
#include "api_rows.h"
#undef KOOP_API_reporting
};

/* the projection's tables and the approvals, which a rebuild keeps */
static const char *s_tables[32];

static const koop_service_def_t s_reporting = {
    .name = "reporting",
    .tables = s_tables,
    .methods = s_methods,
    .nmethods = KOOP_ARRAY_LEN(s_methods),
    .start = s_start,
    .stop = s_stop,
};

/* s_tables: rep_tables, then "approval" */
static void
s_fill_tables(void)
{
    size_t n = 0;
    while (rep_tables[n] && n + 2 < KOOP_ARRAY_LEN(s_tables)) {
        s_tables[n] = rep_tables[n];
        n++;
    }
    s_tables[n] = "approval";
    s_tables[n + 1] = NULL;
}

const koop_service_def_t *
rep_service_def(void)
{
    s_fill_tables();
    return &s_reporting;
}

rep_proj_t *
rep_open_local(koop_service_t *svc)
{
    s_rep *r = &s_state;
    rep_proj_destroy(&r->proj);
    memset(r, 0, sizeof *r);
    return s_prepare(r, svc) == 0 ? r->proj : NULL;
}

void
rep_close_local(void)
{
    rep_proj_destroy(&s_state.proj);
}

int
main(int argc, char **argv)
{
    int rc;
    s_fill_tables();
    rc = koop_service_main(&s_reporting, argc, argv, &s_state);
    rep_proj_destroy(&s_state.proj);
    return rc;
}
