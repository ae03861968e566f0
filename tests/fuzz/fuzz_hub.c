/*
 * fuzz_hub - sync frames as the hub reads them from an enrolled gmina
 * (services/sync/hub.c: the Frame, HELLO, BATCH with the event scanner,
 * PING, DOWN_ACK; one drain and write transaction per frame), in process
 * on a fresh sync store (sync_hub_open). The gmina-2013032 key is enrolled
 * (keys/enrolled, as `koopctl enrol` writes it); the input is a sequence of
 * frames (fz_split) from that key on one connection. Checked: no crash;
 * every event the hub then holds for the node is, by the hub's own rules,
 * this node's, this stream's, at its seq and SHARED, and passes the full
 * check (check.c) again.
 */
#include "fuzz.h"
#include "sync.h"

#include <czmq.h>
#include <sys/stat.h>

static char s_keys_dir[300];
static char s_key[41];
static sync_check_t *s_check;

static void
s_cleanup(void)
{
    (void)fz_rmtree(s_keys_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[400];
    zcert_t *cert;
    (void)argc;
    (void)argv;
    fz_init();
    snprintf(s_keys_dir, sizeof s_keys_dir, "%s-keys", fz_scratch());
    (void)fz_rmtree(s_keys_dir);
    FZ_ASSERT(mkdir(s_keys_dir, 0700) == 0);
    atexit(s_cleanup);
    snprintf(path, sizeof path, "%s/keys", s_keys_dir);
    FZ_ASSERT(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/keys/enrolled", s_keys_dir);
    FZ_ASSERT(mkdir(path, 0700) == 0);
    cert = zcert_new();
    FZ_ASSERT(cert != NULL);
    zcert_set_meta(cert, "node-id", "%s", "gmina-2013032");
    zcert_set_meta(cert, "enrolled-at", "%s", "1767225600000");
    snprintf(s_key, sizeof s_key, "%s", zcert_public_txt(cert));
    {
        /* the file name is the key in hex, as `koopctl enrol` writes it */
        const byte *pk = zcert_public_key(cert);
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", pk[i]);
        snprintf(path, sizeof path, "%s/keys/enrolled/%s.pub", s_keys_dir, hex);
    }
    FZ_ASSERT(zcert_save_public(cert, path) == 0);
    zcert_destroy(&cert);
    s_check = sync_check_new();
    FZ_ASSERT(s_check != NULL);
    return 0;
}

/* Every event the hub holds for (node, stream) meets the hub's own rules. */
static void
s_check_stored(koop_service_t *svc, const char *stream)
{
    Koop__Sync__NodeEvents q = KOOP__SYNC__NODE_EVENTS__INIT;
    Koop__FeedBatch *b;
    uint8_t *req, *payload;
    size_t len, plen;
    int st;
    q.node = "gmina-2013032";
    q.stream = (char *)stream;
    req = fz_request("", "hub.events", &q.base, &len);
    FZ_ASSERT(req != NULL);
    st = fz_call(svc, req, len, &payload, &plen);
    free(req);
    if (st != KOOP_OK) {
        if (getenv("FZ_DEBUG"))
            fprintf(stderr, "hub.events %s: status %d\n", stream, st);
        free(payload);
        return;
    }
    b = koop__feed_batch__unpack(NULL, plen, payload);
    free(payload);
    FZ_ASSERT(b != NULL);
    if (getenv("FZ_DEBUG"))
        fprintf(stderr, "hub holds %zu %s events of gmina-2013032\n", b->n_events, stream);
    for (size_t i = 0; i < b->n_events; i++) {
        sync_event_head_t h;
        sync_check_why_t why;
        FZ_ASSERT(sync_event_head(b->events[i].data, b->events[i].len, &h) == 0);
        /* what the hub keeps passes its own full check */
        FZ_ASSERT(i >= b->n_seqs || sync_check_event(s_check, "hub-2013", b->events[i].data, b->events[i].len,
                                                     "gmina-2013032", stream, b->seqs[i], &why) == 0);
        FZ_ASSERT(h.scope == KOOP__SCOPE__SCOPE_SHARED);
        FZ_ASSERT(h.node_len == 13 && memcmp(h.node, "gmina-2013032", 13) == 0);
        FZ_ASSERT(h.stream_len == strlen(stream) && memcmp(h.stream, stream, h.stream_len) == 0);
        FZ_ASSERT(i >= b->n_seqs || (h.has_seq && h.seq == b->seqs[i]));
    }
    koop__feed_batch__free_unpacked(b, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sync_t sync;
    const uint8_t *part[FZ_MAX_REQUESTS];
    size_t part_len[FZ_MAX_REQUESTS], n;
    koop_config_t cfg;
    koop_service_t *svc;

    if (!s_key[0])
        LLVMFuzzerInitialize(NULL, NULL);
    fz_config(&cfg, fz_scratch());
    snprintf(cfg.node_id, sizeof cfg.node_id, "hub-2013");
    snprintf(cfg.role, sizeof cfg.role, "hub");
    snprintf(cfg.teryt, sizeof cfg.teryt, "2013");
    snprintf(cfg.dir, sizeof cfg.dir, "%s", s_keys_dir);
    memset(&sync, 0, sizeof sync);
    svc = koop_service_local_new(sync_service_def(), &cfg, &sync);
    FZ_ASSERT(svc != NULL);
    sync.svc = svc;
    sync.hub = sync_hub_open(&sync);
    FZ_ASSERT(sync.hub != NULL);
    n = fz_split(data, size, part, part_len);
    for (size_t i = 0; i < n; i++)
        if (getenv("FZ_DEBUG"))
            fprintf(stderr, "frame %zu: %zu bytes\n", i, part_len[i]);
    for (size_t i = 0; i < n; i++)
        sync_hub_take(sync.hub, s_key, (const uint8_t *)"\0gmina", 6, part[i], part_len[i]);
    s_check_stored(svc, "registry");
    s_check_stored(svc, "cases");
    sync_hub_stop(&sync.hub);
    koop_service_local_destroy(&svc);
    return 0;
}
