/*
 * fuzz_notifier - request payloads through the notifier's real handlers
 * (inbox.list, inbox.read, notify.prefs, notify.status, notify.retry,
 * notify.check_reminders), in process on a scratch store
 * (notif_open_local: no feeds, no mail, no timers).
 *
 * Seeded once: a registry (in process) with a GOPS FZ_ID(0), a social
 * worker FZ_ID(1) and a coordinator FZ_ID(2), whose log the notifier takes
 * as its feed would (notif_rules_apply); then the case events the cases
 * service would log: an IPW FZ_ID(3) opened and activated by the
 * coordinator with the worker in its ZZK, and a task FZ_ID(4) assigned to
 * the worker, so the worker's inbox holds entries and mails wait in the
 * queue. Each input starts from a copy of that store; it is a sequence of
 * requests (fuzz.h). Checked: no crash or sanitizer report, every reply
 * decodes, every refusal says why.
 */
#include "fuzz.h"
#include "notifier.h"
#include "registry.h"
#include "cases.pb-c.h"

static fz_ids_t s_ids;
static char s_template[PATH_MAX + 32];

typedef struct {
    notif_t *n;
    const char *type;
    const ProtobufCMessage *record;
    const char *actor;
} s_case_event;

/* One case event (LOCAL, as the cases service logs it) into the notifier. */
static int
s_case_fn(MDB_txn *txn, void *ctx)
{
    s_case_event *c = ctx;
    static uint64_t seq;
    Koop__Event ev = KOOP__EVENT__INIT;
    char id[KOOP_ID_LEN];
    uint8_t buf[4096];
    int rc;
    snprintf(id, sizeof id, "0190f1c2-0000-7000-9000-%012llu", (unsigned long long)++seq);
    ev.node = "gmina-2013032";
    ev.stream = "cases";
    ev.has_seq = ev.has_scope = ev.has_payload = 1;
    ev.seq = seq;
    ev.id = id;
    ev.actor = (char *)c->actor;
    ev.scope = KOOP__SCOPE__SCOPE_LOCAL;
    ev.type = (char *)c->type;
    FZ_ASSERT(protobuf_c_message_get_packed_size(c->record) <= sizeof buf);
    ev.payload.len = protobuf_c_message_pack(c->record, buf);
    ev.payload.data = buf;
    rc = notif_rules_apply(txn, &ev, c->n);
    FZ_ASSERT(rc == 0);
    return 0;
}

static void
s_case(notif_t *n, const char *type, const ProtobufCMessage *record, const char *actor)
{
    s_case_event c = {n, type, record, actor};
    FZ_ASSERT(koop_store_write(n->store, s_case_fn, &c) == 0);
}

static void
s_seed(void)
{
    const koop_service_def_t *rdef = reg_service_def();
    koop_config_t cfg;
    koop_service_t *reg, *svc;
    notif_t *n;
    Koop__Cases__Ipw ipw = KOOP__CASES__IPW__INIT;
    Koop__Cases__ZzkMember m = KOOP__CASES__ZZK_MEMBER__INIT, *mp = &m;
    Koop__Cases__Task t = KOOP__CASES__TASK__INIT;

    fz_config(&cfg, fz_scratch_keep());
    reg = koop_service_local_new(rdef, &cfg, NULL);
    FZ_ASSERT(reg != NULL);
    fz_must_json(reg, rdef, &s_ids, "", "institution.add",
                 "{\"name\": \"GOPS\", \"sector\": \"social_assistance\", \"level\": \"gmina\", \"email\": "
                 "\"gops@example.org\"}");
    fz_must_json(reg, rdef, &s_ids, "", "person.add",
                 "{\"name\": \"Anna Nowak\", \"institution\": \"" FZ_ID(0) "\", \"role\": \"social_worker\", "
                 "\"email\": \"anna@example.org\"}");
    fz_must_json(reg, rdef, &s_ids, "", "person.add",
                 "{\"name\": \"Ewa Koordynator\", \"institution\": \"" FZ_ID(0) "\", \"role\": \"coordinator\", "
                 "\"email\": \"ewa@example.org\"}");
    svc = koop_service_local_new(notif_service_def(), &cfg, notif_state());
    FZ_ASSERT(svc != NULL);
    n = notif_open_local(svc);
    fz_feed_apply(reg, "registry", koop_service_store(svc), notif_rules_apply, n);
    koop_service_local_destroy(&reg);

    fz_ids_add(&s_ids, "0190f1c2-0000-7000-8000-0000000ca5e3"); /* the IPW and the task: ids the cases */
    fz_ids_add(&s_ids, "0190f1c2-0000-7000-8000-0000000ca5e4"); /* service would have made */
    ipw.id = s_ids.id[3];
    ipw.number = "IPW/2026/0001";
    ipw.coordinator = s_ids.id[2];
    ipw.opened = "2026-01-10";
    m.person = s_ids.id[1];
    m.institution = s_ids.id[0];
    ipw.members = &mp;
    ipw.n_members = 1;
    s_case(n, "local.ipw.opened", &ipw.base, s_ids.id[2]);
    s_case(n, "local.ipw.activated", &ipw.base, s_ids.id[2]);
    t.id = s_ids.id[4];
    t.ipw = s_ids.id[3];
    t.title = "Wizyta w szkole";
    t.owner = s_ids.id[1];
    t.due = "2026-02-01";
    t.has_status = 1;
    t.status = KOOP__CASES__TASK_STATUS__TASK_PLANNED;
    s_case(n, "local.task.added", &t.base, s_ids.id[2]);
    koop_service_local_destroy(&svc);
    snprintf(s_template, sizeof s_template, "%s/notifier/data.mdb", cfg.data_dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    koop_config_t cfg;
    koop_service_t *svc;
    fz_ids_t ids;

    fz_init();
    if (!s_template[0])
        s_seed();
    fz_config(&cfg, fz_scratch());
    fz_restore(s_template, &cfg, "notifier");
    svc = koop_service_local_new(notif_service_def(), &cfg, notif_state());
    FZ_ASSERT(svc != NULL);
    (void)notif_open_local(svc);
    ids = s_ids;
    fz_run_sequence(svc, &ids, data, size);
    koop_service_local_destroy(&svc);
    return 0;
}
