/*
 * fuzz_feed - the batch a consumer reads from a producer's feed
 * (common/feed.c koop_feed_take: the FeedBatch, each event envelope, the
 * order and log id checks, the cursor) applied by a real consumer: the
 * reporting projection of a gmina or of a hub (rep_apply, which decodes
 * every payload by its event type), or the cases service's copy of the
 * registry (cases_copy_apply). The first byte picks: bit 0 a hub's
 * projection, bit 1 a shared_only feed, bit 2 the cases copy instead; the
 * rest is the FeedBatch, taken twice (the second time every event is a
 * duplicate or a gap and nothing may change). Checked: no crash; the
 * cursor only moves forward and only on an applied batch.
 */
#include "fuzz.h"
#include "cases.h"
#include "client.h"
#include "feed.h"
#include "reporting.h"

#include <zmq.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    koop_config_t cfg;
    char dir[PATH_MAX + 16], ep[PATH_MAX + 32];
    uv_loop_t loop;
    void *zctx;
    koop_store_t *store = NULL;
    rep_proj_t *proj = NULL;
    koop_service_t *svc = NULL;
    static cases_t c;
    koop_feed_opts_t o = {0};
    koop_feed_t *f;
    koop_client_t *client;
    uint64_t before, after;
    int mode, rc;

    if (size < 1)
        return 0;
    mode = data[0];
    fz_init();
    fz_config(&cfg, fz_scratch());
    snprintf(dir, sizeof dir, "%s/consumer", cfg.dir);
    snprintf(ep, sizeof ep, "ipc://%s/nobody", cfg.dir);
    FZ_ASSERT(uv_loop_init(&loop) == 0);
    FZ_ASSERT((zctx = zmq_ctx_new()) != NULL);
    if (mode & 4) {
        memset(&c, 0, sizeof c);
        svc = koop_service_local_new(cases_service_def(), &cfg, &c);
        FZ_ASSERT(svc != NULL);
        c.svc = svc;
        store = koop_service_store(svc);
        o.apply = cases_copy_apply;
        o.ctx = &c;
        o.stream = "registry";
    } else {
        rep_self_t self = {.hub = mode & 1};
        MDB_txn *txn;
        int cleared;
        snprintf(self.node, sizeof self.node, "%s", mode & 1 ? "hub-2013" : "gmina-2013032");
        snprintf(self.teryt, sizeof self.teryt, "%s", mode & 1 ? "2013" : "2013032");
        snprintf(self.name, sizeof self.name, "Fuzz");
        FZ_ASSERT(koop_store_open(&store, dir, rep_tables) == 0);
        FZ_ASSERT(rep_proj_new(&proj, store, &self) == 0);
        FZ_ASSERT(mdb_txn_begin(koop_store_env(store), NULL, 0, &txn) == 0);
        FZ_ASSERT(rep_proj_init(proj, txn, &cleared) == 0);
        FZ_ASSERT(mdb_txn_commit(txn) == 0);
        o.apply = rep_apply;
        o.ctx = proj;
        o.stream = mode & 1 ? "sync" : "cases";
    }
    o.loop = &loop;
    FZ_ASSERT((client = koop_client_new(&loop, zctx)) != NULL);
    o.client = client;
    o.store = store;
    o.endpoint = ep;
    o.shared_only = (mode & 2) != 0;
    f = koop_feed_start(&o);
    FZ_ASSERT(f != NULL);

    before = koop_feed_position(f);
    rc = koop_feed_take(f, data + 1, size - 1);
    after = koop_feed_position(f);
    FZ_ASSERT(after >= before);
    FZ_ASSERT(rc == 0 || after == before);
    before = after;
    (void)koop_feed_take(f, data + 1, size - 1);
    FZ_ASSERT(koop_feed_position(f) == before);

    koop_feed_destroy(&f);
    koop_client_destroy(&client);
    uv_run(&loop, UV_RUN_NOWAIT);
    FZ_ASSERT(uv_loop_close(&loop) == 0);
    zmq_ctx_term(zctx);
    rep_proj_destroy(&proj);
    if (svc)
        koop_service_local_destroy(&svc);
    else
        koop_store_destroy(&store);
    return 0;
}
