/*
 * fuzz_reporting - request payloads through the reporting service's real
 * handlers (report.evaluation, report.indicators, report.status,
 * report.rebuild), in process on a scratch store (rep_open_local: the
 * projection, no feeds).
 *
 * Seeded once: the SHARED facts a gmina's registry and cases service write
 * for two partner institutions in a PZK and one IPW from opening to its
 * close (a member, a goal scaled, a task done late, a referral accepted, a
 * meeting), applied by rep_apply as the feeds do. Each input starts from a
 * copy of that projection and is a sequence of requests (fuzz.h).
 * Checked: no crash or sanitizer report, every reply decodes, every refusal
 * says why.
 */
#include "fuzz.h"
#include "events.h"
#include "pbjson.h"
#include "reporting.h"

static char s_template[PATH_MAX + 32];

typedef struct {
    rep_proj_t *p;
    const char *type;
    const char *json;
} s_fact;

#define ID(n) "0190f1c2-0000-7000-8000-0000000000" #n

static int
s_fact_fn(MDB_txn *txn, void *ctx)
{
    s_fact *f = ctx;
    static uint64_t seq[2];
    const koop_event_type_t *t = koop_event_type(f->type);
    Koop__Event ev = KOOP__EVENT__INIT;
    json_error_t jerr;
    json_t *j;
    koop_error_t err;
    ProtobufCMessage *m;
    uint8_t buf[2048];
    int cases, rc;
    FZ_ASSERT(t != NULL);
    j = json_loads(f->json, 0, &jerr);
    FZ_ASSERT(j != NULL);
    m = koop_pbjson_from_json(t->payload, j, &err);
    json_decref(j);
    if (!m)
        fprintf(stderr, "fuzz: %s: %s (%s)\n", f->type, err.code, err.field);
    FZ_ASSERT(m != NULL && protobuf_c_message_get_packed_size(m) <= sizeof buf);
    cases = strcmp(t->stream, "cases") == 0;
    ev.node = "gmina-2013032";
    ev.stream = (char *)t->stream;
    ev.has_seq = ev.has_scope = ev.has_payload = 1;
    ev.seq = ++seq[cases];
    ev.scope = KOOP__SCOPE__SCOPE_SHARED;
    ev.type = (char *)f->type;
    ev.payload.len = protobuf_c_message_pack(m, buf);
    ev.payload.data = buf;
    rc = rep_apply(txn, &ev, f->p);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static void
s_seed(void)
{
    static const char *const facts[][2] = {
        {"institution.added", "{\"id\": \"" ID(01) "\", \"name\": \"GOPS\", \"sector\": \"social_assistance\", "
                              "\"owner\": \"gmina-2013032\"}"},
        {"institution.added", "{\"id\": \"" ID(02) "\", \"name\": \"KPP\", \"sector\": \"police\", "
                              "\"owner\": \"gmina-2013032\"}"},
        {"pzk.created", "{\"id\": \"" ID(03) "\", \"name\": \"PZK\", \"teryt\": \"2013032\", \"formed\": "
                        "\"2025-01-15\", \"owner\": \"gmina-2013032\", \"members\": [{\"institution\": \"" ID(01)
                        "\", \"joined\": \"2025-01-15\"}, {\"institution\": \"" ID(02) "\", \"joined\": \"2025-02-01\"}]}"},
        {"household.registered", "{\"household\": \"" ID(04) "\", \"size\": 3, \"date\": \"2025-03-01\"}"},
        {"ipw.opened", "{\"ipw\": \"" ID(05) "\", \"household\": \"" ID(04) "\", \"date\": \"2025-03-05\", "
                       "\"opened\": \"2025-03-05\", \"household_size\": 3}"},
        {"ipw.member_added", "{\"ipw\": \"" ID(05) "\", \"member\": \"" ID(06) "\", \"institution\": \"" ID(02)
                             "\", \"sector\": \"police\", \"date\": \"2025-03-05\"}"},
        {"ipw.activated", "{\"ipw\": \"" ID(05) "\", \"date\": \"2025-03-12\"}"},
        {"goal.added", "{\"goal\": \"" ID(07) "\", \"ipw\": \"" ID(05) "\", \"area\": \"work\", \"baseline\": 2, "
                       "\"date\": \"2025-03-12\"}"},
        {"goal.scaled", "{\"goal\": \"" ID(07) "\", \"ipw\": \"" ID(05) "\", \"value\": 6, \"date\": \"2025-06-01\"}"},
        {"task.added", "{\"task\": \"" ID(08) "\", \"ipw\": \"" ID(05) "\", \"due\": \"2025-04-01\", \"date\": "
                       "\"2025-03-12\", \"owner_sector\": \"police\"}"},
        {"task.done", "{\"task\": \"" ID(08) "\", \"ipw\": \"" ID(05) "\", \"date\": \"2025-04-10\"}"},
        {"referral.sent", "{\"referral\": \"" ID(09) "\", \"ipw\": \"" ID(05) "\", \"date\": \"2025-03-20\"}"},
        {"referral.accepted", "{\"referral\": \"" ID(09) "\", \"ipw\": \"" ID(05) "\", \"date\": \"2025-03-27\"}"},
        {"meeting.held", "{\"meeting\": \"" ID(10) "\", \"ipw\": \"" ID(05) "\", \"date\": \"2025-05-05\", "
                         "\"participants\": 4}"},
        {"ipw.closed", "{\"ipw\": \"" ID(05) "\", \"outcome\": \"success\", \"date\": \"2025-11-30\"}"},
    };
    koop_config_t cfg;
    koop_service_t *svc;
    rep_proj_t *p;
    fz_config(&cfg, fz_scratch_keep());
    svc = koop_service_local_new(rep_service_def(), &cfg, NULL);
    FZ_ASSERT(svc != NULL);
    FZ_ASSERT((p = rep_open_local(svc)) != NULL);
    for (size_t i = 0; i < KOOP_ARRAY_LEN(facts); i++) {
        s_fact f = {p, facts[i][0], facts[i][1]};
        FZ_ASSERT(koop_store_write(koop_service_store(svc), s_fact_fn, &f) == 0);
    }
    rep_close_local();
    koop_service_local_destroy(&svc);
    snprintf(s_template, sizeof s_template, "%s/reporting/data.mdb", cfg.data_dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    koop_config_t cfg;
    koop_service_t *svc;
    fz_ids_t ids = {0};

    fz_init();
    if (!s_template[0])
        s_seed();
    fz_config(&cfg, fz_scratch());
    fz_restore(s_template, &cfg, "reporting");
    svc = koop_service_local_new(rep_service_def(), &cfg, NULL);
    FZ_ASSERT(svc != NULL);
    FZ_ASSERT(rep_open_local(svc) != NULL);
    fz_run_sequence(svc, &ids, data, size);
    rep_close_local();
    koop_service_local_destroy(&svc);
    return 0;
}
