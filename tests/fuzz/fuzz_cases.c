/*
 * fuzz_cases - request payloads through the cases service's real handlers.
 *
 * A fresh registry and cases store per input (in process): the registry
 * gets GOPS FZ_ID(0), KPP FZ_ID(1), a social worker FZ_ID(2), a
 * coordinator FZ_ID(3), a police officer FZ_ID(4) and a service of the
 * list FZ_ID(5); the cases copy of the registry is filled from the
 * registry's own feed (cases_copy_apply, as the copy's feed does); then the
 * social worker registers a household FZ_ID(6) and opens its IPW FZ_ID(7).
 * The input is a sequence of requests (fuzz.h) to the cases service; later
 * ids are those its replies name. The registry is not reachable from the
 * cases service here, so an unknown person or institution is refused at
 * once (KOOP_UNAVAILABLE) instead of being looked up.
 */
#include "fuzz.h"
#include "cases.h"
#include "registry.h"

typedef struct {
    cases_t *c;
    Koop__FeedBatch *batch;
} s_copy;

static int
s_copy_fn(MDB_txn *txn, void *ctx)
{
    s_copy *cp = ctx;
    for (size_t i = 0; i < cp->batch->n_events; i++) {
        Koop__Event *ev = koop__event__unpack(NULL, cp->batch->events[i].len, cp->batch->events[i].data);
        int rc;
        FZ_ASSERT(ev != NULL);
        rc = cases_copy_apply(txn, ev, cp->c);
        koop__event__free_unpacked(ev, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The registry's whole log into the cases copy. */
static void
s_fill_copy(koop_service_t *reg, cases_t *c)
{
    Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
    s_copy cp = {c, NULL};
    uint8_t *req, *payload;
    size_t len, plen;
    q.stream = "registry";
    q.has_max = 1;
    q.max = 1000;
    req = fz_request("", "feed.fetch", &q.base, &len);
    FZ_ASSERT(req && fz_call(reg, req, len, &payload, &plen) == KOOP_OK);
    free(req);
    cp.batch = koop__feed_batch__unpack(NULL, plen, payload);
    free(payload);
    FZ_ASSERT(cp.batch != NULL);
    FZ_ASSERT(koop_store_write(koop_service_store(c->svc), s_copy_fn, &cp) == 0);
    koop__feed_batch__free_unpacked(cp.batch, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const koop_service_def_t *rdef = reg_service_def(), *cdef = cases_service_def();
    static cases_t c;
    koop_config_t cfg;
    koop_service_t *reg, *svc;
    fz_ids_t ids = {0};

    fz_init();
    fz_config(&cfg, fz_scratch());
    reg = koop_service_local_new(rdef, &cfg, NULL);
    FZ_ASSERT(reg != NULL);
    fz_must_json(reg, rdef, &ids, "", "institution.add",
                 "{\"name\": \"GOPS\", \"sector\": \"social_assistance\", \"level\": \"gmina\", \"teryt\": \"2013032\"}");
    fz_must_json(reg, rdef, &ids, "", "institution.add",
                 "{\"name\": \"KPP\", \"sector\": \"police\", \"level\": \"powiat\"}");
    fz_must_json(reg, rdef, &ids, "", "person.add",
                 "{\"name\": \"Anna Nowak\", \"institution\": \"" FZ_ID(0) "\", \"role\": \"social_worker\"}");
    fz_must_json(reg, rdef, &ids, "", "person.add",
                 "{\"name\": \"Ewa Koordynator\", \"institution\": \"" FZ_ID(0) "\", \"role\": \"coordinator\"}");
    fz_must_json(reg, rdef, &ids, "", "person.add",
                 "{\"name\": \"Jan Dzielnicowy\", \"institution\": \"" FZ_ID(1) "\", \"role\": \"police_officer\"}");
    fz_must_json(reg, rdef, &ids, "", "service.add",
                 "{\"name\": \"Poradnictwo rodzinne\", \"provider\": \"" FZ_ID(1) "\", \"target\": \"families\", "
                 "\"category\": \"counselling\"}");

    memset(&c, 0, sizeof c);
    c.registry_down_until = UINT64_MAX; /* never ask the (absent) registry */
    svc = koop_service_local_new(cdef, &cfg, &c);
    FZ_ASSERT(svc != NULL);
    c.svc = svc;
    s_fill_copy(reg, &c);
    koop_service_local_destroy(&reg);

    fz_must_json(svc, cdef, &ids, FZ_ID(2), "household.add",
                 "{\"name\": \"Rodzina Testowa\", \"size\": 3, \"date\": \"2026-01-05\"}");
    fz_must_json(svc, cdef, &ids, FZ_ID(2), "ipw.open",
                 "{\"household\": \"" FZ_ID(6) "\", \"coordinator\": \"" FZ_ID(2) "\", \"opened\": \"2026-01-10\"}");
    if (getenv("FZ_DEBUG"))
        for (size_t i = 0; i < ids.n; i++)
            fprintf(stderr, "id %zu: %s\n", i, ids.id[i]);
    fz_run_sequence(svc, &ids, data, size);
    koop_service_local_destroy(&svc);
    return 0;
}
