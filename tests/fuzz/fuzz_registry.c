/*
 * fuzz_registry - request payloads through the registry's real handlers.
 *
 * Each input is a sequence of packed koop.Request envelopes (fz_split) run
 * one by one, each as its own batch and commit, on a fresh registry store
 * that holds one gmina institution (FZ_ID(0)) and its coordinator
 * (FZ_ID(1)); later ids are those the replies name (fuzz.h). Checked: no
 * crash or sanitizer report, every reply decodes, every refusal says why.
 */
#include "fuzz.h"
#include "registry.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const koop_service_def_t *def = reg_service_def();
    koop_config_t cfg;
    koop_service_t *svc;
    fz_ids_t ids = {0};

    fz_init();
    fz_config(&cfg, fz_scratch());
    svc = koop_service_local_new(def, &cfg, NULL);
    FZ_ASSERT(svc != NULL);
    fz_must_json(svc, def, &ids, "", "institution.add",
                 "{\"name\": \"OPS Fuzz\", \"sector\": \"social_assistance\", \"level\": \"gmina\", "
                 "\"teryt\": \"2013032\"}");
    fz_must_json(svc, def, &ids, "", "person.add",
                 "{\"name\": \"Anna Koordynator\", \"institution\": \"" FZ_ID(0) "\", \"role\": \"coordinator\"}");
    fz_run_sequence(svc, &ids, data, size);
    koop_service_local_destroy(&svc);
    return 0;
}
