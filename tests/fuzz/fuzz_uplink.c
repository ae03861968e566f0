/*
 * fuzz_uplink - frames from a hub as a gmina's uplink reads them
 * (services/sync/uplink.c: WELCOME, ACK, REFUSE of every code, DOWN handed
 * to the registry, PONG, and whatever else a hostile or broken hub sends),
 * in process on a fresh sync store (sync_uplink_open: no socket or timer,
 * as if its HELLO had gone). The gmina's streams are those of its config
 * (registry, cases), with known log identities; requests the uplink makes
 * to the node's services (feed.fetch, remote.apply) go to sockets nobody
 * serves. The input is a sequence of frames (fz_split); after them the
 * node's `sync.status` is asked. Checked: no crash or sanitizer report; the
 * status answers and decodes; a stream's acknowledged position never passes
 * what the hub said it holds (the largest seq any frame of the input named).
 */
#include "fuzz.h"
#include "sync.h"

/* The largest position a frame names (Welcome's streams, Ack, Refuse). */
static uint64_t
s_named(const uint8_t *data, size_t len)
{
    Koop__Sync__Frame *f = koop__sync__frame__unpack(NULL, len, data);
    uint64_t max = 0;
    if (!f)
        return 0;
    if (f->body_case == KOOP__SYNC__FRAME__BODY_WELCOME)
        for (size_t i = 0; i < f->welcome->n_streams; i++)
            if (f->welcome->streams[i]->seq > max)
                max = f->welcome->streams[i]->seq;
    if (f->body_case == KOOP__SYNC__FRAME__BODY_ACK)
        max = f->ack->seq;
    if (f->body_case == KOOP__SYNC__FRAME__BODY_REFUSE)
        max = f->refuse->expected;
    koop__sync__frame__free_unpacked(f, NULL);
    return max;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sync_t sync;
    const uint8_t *part[FZ_MAX_REQUESTS];
    size_t part_len[FZ_MAX_REQUESTS], n;
    koop_config_t cfg;
    uint8_t *req, *payload;
    size_t len, plen;
    uint64_t named = 0;
    int st;

    fz_init();
    fz_config(&cfg, fz_scratch());
    memset(&sync, 0, sizeof sync);
    sync.svc = koop_service_local_new(sync_service_def(), &cfg, &sync);
    FZ_ASSERT(sync.svc != NULL);
    sync.uplink = sync_uplink_open(&sync);
    FZ_ASSERT(sync.uplink != NULL);
    sync_uplink_learn(sync.uplink, "registry", "0190f1c2-0000-7000-8000-00000000000a");
    sync_uplink_learn(sync.uplink, "cases", "0190f1c2-0000-7000-8000-00000000000b");
    n = fz_split(data, size, part, part_len);
    for (size_t i = 0; i < n; i++) {
        uint64_t m = s_named(part[i], part_len[i]);
        if (m > named)
            named = m;
        sync_uplink_take(sync.uplink, part[i], part_len[i]);
    }
    req = fz_request("", "sync.status", NULL, &len);
    FZ_ASSERT(req != NULL);
    st = fz_call(sync.svc, req, len, &payload, &plen);
    free(req);
    FZ_ASSERT(st == KOOP_OK);
    {
        Koop__Sync__Status *s = koop__sync__status__unpack(NULL, plen, payload);
        FZ_ASSERT(s != NULL && s->uplink != NULL);
        for (size_t i = 0; i < s->uplink->n_streams; i++)
            FZ_ASSERT(s->uplink->streams[i]->acked <= named);
        koop__sync__status__free_unpacked(s, NULL);
    }
    free(payload);
    sync_uplink_stop(&sync.uplink);
    koop_service_local_destroy(&sync.svc);
    return 0;
}
