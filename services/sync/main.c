/* koop-sync - the sync service of a node (see sync.h and docs/SYNC.md). */
#include "sync.h"
#include "preflight.h"
#include "say.h"

#include <malloc.h>
#include <string.h>

static int
s_status(koop_call_t *call)
{
    sync_t *sync = koop_service_user(call->svc);
    const koop_config_t *cfg = koop_service_config(call->svc);
    Koop__Sync__Status st = KOOP__SYNC__STATUS__INIT;
    Koop__Sync__UplinkStatus up = KOOP__SYNC__UPLINK_STATUS__INIT;
    int rc, hub_filled = 0, up_filled = 0;

    if (sync->uplink && !sync_uplink_status_ready(sync->uplink, call))
        return KOOP_DEFERRED;
    st.node = (char *)cfg->node_id;
    st.role = (char *)cfg->role;
    if (sync->uplink) {
        uint64_t run;
        const Koop__Sync__VerifyResult *vr = sync_verifier_result(sync_uplink_verifier(sync->uplink), &run, NULL);
        if (sync_uplink_status(sync->uplink, call, &up) != 0)
            return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        up_filled = 1;
        st.uplink = &up;
        if (run)
            st.verify = (Koop__Sync__VerifyResult *)vr;
    }
    if (sync->hub) {
        if ((rc = sync_hub_status(sync->hub, call, &st)) != 0) {
            rc = koop_call_store_error(call, rc);
            goto done;
        }
        hub_filled = 1;
        st.has_dir_sent = st.has_dir_bytes = 1;
        sync_relay_dir_sent(sync->relay, &st.dir_sent, &st.dir_bytes);
    }
    rc = koop_call_reply(call, &st.base);
done:
    if (hub_filled)
        sync_hub_status_free(&st);
    if (up_filled)
        sync_uplink_status_free(&up);
    return rc;
}

/* sync.verify: on a node with an uplink, a run over its streams (waited for
 * while it lasts, up to the deferral limit: then the reply says it is still
 * running and the result comes in sync status); on a hub, every connected
 * node is asked to run one (their results come in the hub's sync status). */
static int
s_verify(koop_call_t *call)
{
    sync_t *sync = koop_service_user(call->svc);
    Koop__Sync__VerifyResult asked = KOOP__SYNC__VERIFY_RESULT__INIT;
    char state[120];
    if (sync->uplink) {
        sync_verifier_t *v = sync_uplink_verifier(sync->uplink);
        const Koop__Sync__VerifyResult *r;
        int running = 0;
        if (!call->final) {
            uint64_t run = sync_verifier_start(v);
            (void)sync_verifier_result(v, NULL, &running);
            if (running && koop_call_defer(call, run) == KOOP_DEFERRED)
                return KOOP_DEFERRED;
        }
        r = sync_verifier_result(v, NULL, &running);
        if (running) {
            /* still comparing: say so (the result comes in sync status) */
            Koop__Sync__VerifyResult partial = *r;
            partial.state = "w toku: wynik pokaże sync status";
            return koop_call_reply(call, &partial.base);
        }
        return koop_call_reply(call, &r->base);
    }
    if (!sync->hub)
        return koop_fail(call, SYNC_NOT_HUB, NULL);
    snprintf(state, sizeof state, "zlecono sprawdzenie %zu połączonym węzłom: wyniki w sync status",
             sync_hub_verify_all(sync->hub));
    asked.node = (char *)koop_service_node(call->svc);
    asked.state = state;
    asked.has_ok = 1;
    asked.ok = 1;
    return koop_call_reply(call, &asked.base);
}

static int
s_events(koop_call_t *call)
{
    sync_t *sync = koop_service_user(call->svc);
    if (!sync->hub)
        return koop_fail(call, SYNC_NOT_HUB, NULL);
    return sync_hub_events(sync->hub, call);
}

static const koop_method_t s_methods[] = {
#define KOOP_API_sync(fn, name, ...) {name, fn},
#include "api_rows.h"
#undef KOOP_API_sync
};

/* Tables of both sides (a hub with a higher hub runs both). */
static const char *const s_tables[] = {"uplink_pos", "uplink_meta", "hub_streams", "hub_ingest", "hub_bind",
                                       "hub_meta", "down_log", "down_rec", "relay", "peers", "names", "hub_chain",
                                       "hub_witness", "hub_verify", NULL};

/* The keys the link needs: without them the node would run on without its
 * link, so it refuses to start (preflight.h) and says which file to fix. */
static int
s_check_keys(const koop_config_t *cfg)
{
    char path[PATH_MAX + 32], err[PATH_MAX + 128];
    sync_keypair_t k;
    if (!koop_config_is_hub(cfg) && !cfg->sync_hub[0])
        return 0; /* a gmina without a hub: no link */
    snprintf(path, sizeof path, "%s/keys/node.key", cfg->dir);
    if (sync_cert_load(path, 1, &k, err, sizeof err) != 0) {
        koop_error("nie można wczytać klucza węzła (%s): klucze robi koopctl node init, nową parę koopctl -c %s "
                   "keys generate (wtedy zapisz ją ponownie w hubie); plik musi być czytelny dla użytkownika węzła",
                   err, cfg->path);
        return KOOP_EXIT_REFUSED;
    }
    if (cfg->sync_hub[0] && sync_cert_load(cfg->sync_hub_key, 0, &k, err, sizeof err) != 0) {
        koop_error("nie można wczytać klucza huba ([sync] hub_key w %s: %s): skopiuj plik keys/node.pub huba "
                   "do katalogu węzła i porównaj z hubem jego odcisk (koopctl keys show --file PLIK)",
                   cfg->path, err);
        return KOOP_EXIT_REFUSED;
    }
    return 0;
}


static int
s_start(koop_service_t *svc)
{
    sync_t *sync = koop_service_user(svc);
    const koop_config_t *cfg = koop_service_config(svc);
    int rc;
    sync->svc = svc;
    if ((rc = s_check_keys(cfg)) != 0)
        return rc;
    if (koop_config_is_hub(cfg)) {
        sync->hub = sync_hub_start(sync);
        if (!sync->hub)
            return -1;
    }
    /* every gmina has an uplink (idle without [sync] hub: its status still
     * counts what waits); a hub has one when it has a hub above it */
    if (!koop_config_is_hub(cfg) || cfg->sync_hub[0]) {
        sync->uplink = sync_uplink_start(sync);
        if (!sync->uplink)
            return -1;
    }
    sync->relay = sync_relay_start(sync);
    return sync->relay ? 0 : -1;
}

static void
s_stop(koop_service_t *svc)
{
    sync_t *sync = koop_service_user(svc);
    sync_relay_stop(&sync->relay);
    sync_uplink_stop(&sync->uplink);
    sync_hub_stop(&sync->hub);
}

static const koop_service_def_t s_sync = {
    .name = "sync",
    .tables = s_tables,
    .methods = s_methods,
    .nmethods = KOOP_ARRAY_LEN(s_methods),
    .start = s_start,
    .stop = s_stop,
};

/* The definition, for in-process drivers (tests/fuzz). */
const koop_service_def_t *
sync_service_def(void)
{
    return &s_sync;
}

int
main(int argc, char **argv)
{
    static sync_t sync;
    /* Batches are 0.1-2 MB buffers made and freed many times a second; left
     * to glibc's defaults each one is a fresh mmap whose every page faults
     * in again (half the uplink's time in a catch-up). Keep them on the heap. */
    (void)mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    return koop_service_main(&s_sync, argc, argv, &sync);
}
