/*
 * seeds.c - writes the hand-made part of the fuzz corpus (`make
 * fuzz-seeds`): realistic request sequences for the registry and the cases
 * service (the requests koopctl sends in the suite and the demo, with ids as
 * placeholders, fuzz.h), each request alone for fuzz_request, their JSON for
 * fuzz_pbjson, node configs as `koopctl node init` writes them, and the
 * malformed envelopes issue 15 found. Replies and event envelopes are then
 * captured by running these corpora (FZ_CAPTURE, support.c).
 * Usage: seeds CORPUS_DIR
 */
#include "fuzz.h"
#include "api.h"
#include "chain.h"
#include "cases.h"
#include "notifier.h"
#include "registry.h"
#include "reporting.h"
#include "sync.h"

#include <errno.h>
#include <sys/stat.h>

static const char *s_root;

static void
s_write(const char *target, const char *name, const void *buf, size_t len)
{
    char path[600];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", s_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        abort();
    snprintf(path, sizeof path, "%s/%s/%s", s_root, target, name);
    f = fopen(path, "wb");
    FZ_ASSERT(f != NULL);
    FZ_ASSERT(fwrite(buf, 1, len, f) == len);
    FZ_ASSERT(fclose(f) == 0);
}

typedef struct {
    const char *caller;
    const char *method;
    const char *json; /* NULL: no payload */
} s_req;

static const ProtobufCMessageDescriptor *s_types[256];
static size_t s_ntypes;

/* The request type of a method of def's service or of every service's
 * runtime (sys.ping, feed.fetch, feed.stat): its row of common/api.def. */
static const koop_api_method_t *
s_row(const koop_service_def_t *def, const char *method)
{
    const koop_api_method_t *a = koop_api_find(method);
    return a && (strcmp(a->service, def->name) == 0 || strcmp(a->service, "sys") == 0) ? a : NULL;
}

/* One sequence for `target`; each request also alone for fuzz_request
 * (registry) and its JSON for fuzz_pbjson. */
static void
s_sequence(const char *target, const char *name, const koop_service_def_t *def, const s_req *reqs, size_t n)
{
    uint8_t *seq = NULL;
    size_t seq_len = 0;
    char file[128];
    for (size_t i = 0; i < n; i++) {
        const koop_api_method_t *row = s_row(def, reqs[i].method);
        const ProtobufCMessageDescriptor *d = row ? row->request : NULL;
        uint8_t *one;
        size_t len;
        if (reqs[i].json) {
            koop_service_def_t of = *def;
            of.name = row ? row->service : def->name; /* a runtime's method: the row of "sys" */
            one = fz_request_json(&of, reqs[i].caller, reqs[i].method, reqs[i].json, &len);
        } else {
            one = fz_request(reqs[i].caller, reqs[i].method, NULL, &len);
        }
        FZ_ASSERT(one != NULL);
        FZ_ASSERT(fz_join(&seq, &seq_len, one, len) == 0);
        if (strcmp(target, "registry") == 0) {
            snprintf(file, sizeof file, "%s-%zu", name, i);
            s_write("request", file, one, len);
        }
        free(one);
        if (reqs[i].json && d) {
            uint8_t sel = 0;
            while (sel < s_ntypes && s_types[sel] != d)
                sel++;
            if (sel < s_ntypes) {
                size_t jl = strlen(reqs[i].json);
                uint8_t *p = malloc(jl + 1);
                FZ_ASSERT(p != NULL);
                p[0] = sel;
                memcpy(p + 1, reqs[i].json, jl);
                snprintf(file, sizeof file, "%s-%s-%zu", target, name, i);
                s_write("pbjson", file, p, jl + 1);
                free(p);
            }
        }
    }
    s_write(target, name, seq, seq_len);
    free(seq);
}

#define SEQ(target, name, def, ...)                                                                 \
    do {                                                                                           \
        static const s_req r_[] = {__VA_ARGS__};                                                   \
        s_sequence(target, name, def, r_, KOOP_ARRAY_LEN(r_));                                     \
    } while (0)

#define I0 FZ_ID(0)
#define I1 FZ_ID(1)
#define I2 FZ_ID(2)
#define I3 FZ_ID(3)
#define I4 FZ_ID(4)
#define I5 FZ_ID(5)
#define I6 FZ_ID(6)
#define I7 FZ_ID(7)
#define I8 FZ_ID(8)
#define I9 FZ_ID(9)

/* ids in fuzz_registry: 0 OPS, 1 its coordinator, then new ones */
static void
s_registry(void)
{
    const koop_service_def_t *d = reg_service_def();
    SEQ("registry", "institution-lifecycle", d,
        {"", "institution.add", "{\"name\": \"Powiatowy Urząd Pracy\", \"sector\": \"labour_office\", \"level\": \"powiat\", "
                                "\"teryt\": \"2013\", \"address\": \"ul. Główna 1, Kobylin\", \"email\": \"pup@example.pl\", "
                                "\"phone\": \"+48 86 123 45 67\"}"},
        {"", "institution.update", "{\"id\": \"" I2 "\", \"phone\": \"86 765 43 21\", \"active\": false}"},
        {"", "institution.show", "{\"id\": \"" I2 "\"}"},
        {"", "institution.list", "{\"sector\": \"labour_office\", \"text\": \"pracy\"}"});
    SEQ("registry", "person-lifecycle", d,
        {"", "person.add", "{\"name\": \"Zofia Żółkiewska\", \"institution\": \"" I0 "\", \"role\": \"social_worker\", "
                           "\"email\": \"zofia@ops.example.pl\", \"phone\": \"600 100 200\"}"},
        {"", "person.update", "{\"id\": \"" I2 "\", \"role\": \"family_assistant\"}"},
        {"", "person.show", "{\"id\": \"" I2 "\"}"},
        {"", "person.list", "{\"institution\": \"" I0 "\", \"text\": \"żółk\"}"},
        {"", "person.update", "{\"id\": \"" I2 "\", \"active\": false}"});
    SEQ("registry", "agreement", d,
        {"", "institution.add", "{\"name\": \"Komenda Powiatowa Policji\", \"sector\": \"police\", \"level\": \"powiat\"}"},
        {"", "agreement.add", "{\"parties\": \"" I0 "," I2 "\", \"signed\": \"2025-03-01\", \"until\": \"2027-12-31\", "
                              "\"text\": \"Współpraca w sprawach rodzin z dziećmi\"}"},
        {"", "agreement.list", "{\"institution\": \"" I2 "\"}"});
    SEQ("registry", "pzk-lifecycle", d,
        {"", "institution.add", "{\"name\": \"Szkoła Podstawowa nr 1\", \"sector\": \"education\", \"level\": \"gmina\"}"},
        {"", "pzk.create", "{\"name\": \"PZK Kobylin\", \"formed\": \"2025-01-15\"}"},
        {"", "pzk.join", "{\"pzk\": \"" I3 "\", \"institution\": \"" I0 "\", \"date\": \"2025-01-15\", \"representative\": \"" I1 "\"}"},
        {"", "pzk.join", "{\"pzk\": \"" I3 "\", \"institution\": \"" I2 "\", \"date\": \"2025-02-01\"}"},
        {"", "pzk.show", "{\"id\": \"" I3 "\"}"},
        {"", "pzk.leave", "{\"pzk\": \"" I3 "\", \"institution\": \"" I2 "\", \"date\": \"2025-06-30\"}"},
        {"", "pzk.list", "{\"teryt\": \"2013032\"}"},
        {"", "pzk.dissolve", "{\"pzk\": \"" I3 "\", \"date\": \"2026-01-31\"}"});
    SEQ("registry", "catalogue", d,
        {"", "service.add", "{\"name\": \"Poradnictwo rodzinne\", \"provider\": \"" I0 "\", \"target\": \"families,children_youth\", "
                            "\"category\": \"counselling\", \"area\": \"2013032\", \"contact\": \"pon.-pt. 8-16\", "
                            "\"schedule\": \"co tydzień\", \"description\": \"Konsultacje dla rodzin\"}"},
        {"", "service.update", "{\"id\": \"" I2 "\", \"verified\": \"2026-02-01\", \"active\": true}"},
        {"", "service.show", "{\"id\": \"" I2 "\"}"},
        {"", "service.search", "{\"target\": \"families\", \"text\": \"rodzin\"}"});
    SEQ("registry", "refusals", d,
        {"", "institution.add", "{\"name\": \"\", \"sector\": \"police\"}"},
        {"", "institution.add", "{\"name\": \"X\", \"teryt\": \"12x\"}"},
        {"", "person.add", "{\"name\": \"Bez instytucji\", \"role\": \"teacher\"}"},
        {"", "institution.update", "{\"id\": \"nie-ma-takiego\", \"name\": \"Y\"}"},
        {"", "agreement.add", "{\"parties\": \"" I0 "\", \"signed\": \"2025-13-01\"}"},
        {"", "pzk.join", "{\"pzk\": \"" I0 "\", \"institution\": \"" I0 "\"}"});
    SEQ("registry", "builtins", d,
        {"", "sys.ping", NULL},
        {"", "feed.stat", "{\"stream\": \"registry\", \"after_seq\": 0}"},
        {"", "feed.fetch", "{\"stream\": \"registry\", \"after_seq\": 0, \"max\": 100}"},
        {"", "feed.fetch", "{\"stream\": \"registry\", \"after_seq\": 1, \"max\": 1, \"shared_only\": true}"},
        {"", "remote.position", "{\"source\": \"hub-2013\"}"});
}

/* ids in fuzz_cases: 0 GOPS, 1 KPP, 2 social worker, 3 coordinator,
 * 4 police officer, 5 a service, 6 household, 7 its IPW, then new ones */
static void
s_cases(void)
{
    const koop_service_def_t *d = cases_service_def();
    SEQ("cases", "ipw-activate-goal-task", d,
        {I2, "ipw.member.add", "{\"ipw\": \"" I7 "\", \"person\": \"" I4 "\", \"date\": \"2026-01-12\"}"},
        {I2, "ipw.activate", "{\"ipw\": \"" I7 "\", \"date\": \"2026-01-15\"}"},
        {I2, "goal.add", "{\"ipw\": \"" I7 "\", \"area\": \"work\", \"baseline\": 2, \"target\": 7, "
                         "\"description\": \"Podjęcie zatrudnienia\", \"date\": \"2026-01-15\"}"},
        {I2, "goal.scale", "{\"goal\": \"" I9 "\", \"value\": 4, \"date\": \"2026-03-01\"}"},
        {I2, "task.add", "{\"ipw\": \"" I7 "\", \"owner\": \"" I4 "\", \"due\": \"2026-04-01\", \"title\": \"Wizyta w PUP\", "
                         "\"date\": \"2026-01-16\"}"},
        {I4, "task.mine", "{}"},
        {I2, "ipw.timeline", "{\"ipw\": \"" I7 "\"}"},
        {"", "feed.fetch", "{\"stream\": \"cases\", \"after_seq\": 0, \"max\": 200, \"shared_only\": true}"});
    SEQ("cases", "household-consent", d,
        {I2, "household.add", "{\"name\": \"Rodzina Kowalskich\", \"pesel\": \"85010112345\", \"birth\": \"1985-01-01\", "
                              "\"sex\": \"male\", \"address\": \"ul. Leśna 3\", \"phone\": \"600 200 300\", \"size\": 4, "
                              "\"target\": \"families\", \"date\": \"2026-01-20\"}"},
        {I2, "household.member.add", "{\"household\": \"" I6 "\", \"name\": \"Jan Kowalski\", \"birth\": \"2015-05-05\"}"},
        {I2, "consent.record", "{\"household\": \"" I6 "\", \"date\": \"2026-01-20\", \"purpose\": \"współpraca w ZZK\", "
                               "\"share_with\": \"" I0 "," I1 "\"}"},
        {I2, "household.show", "{\"household\": \"" I6 "\"}"},
        {I2, "household.list", "{\"text\": \"rodzina\"}"});
    SEQ("cases", "ipw-steps-close", d,
        {I2, "ipw.activate", "{\"ipw\": \"" I7 "\", \"date\": \"2026-01-15\"}"},
        {I2, "ipw.suspend", "{\"ipw\": \"" I7 "\", \"date\": \"2026-02-01\", \"reason\": \"pobyt w szpitalu\"}"},
        {I2, "ipw.resume", "{\"ipw\": \"" I7 "\", \"date\": \"2026-02-20\"}"},
        {I2, "ipw.review", "{\"ipw\": \"" I7 "\", \"date\": \"2026-04-15\"}"},
        {I2, "ipw.close", "{\"ipw\": \"" I7 "\", \"date\": \"2026-06-30\", \"outcome\": \"success\", \"reason\": \"cele osiągnięte\"}"},
        {I2, "ipw.activate", "{\"ipw\": \"" I7 "\"}"},
        {I2, "ipw.show", "{\"ipw\": \"" I7 "\"}"});
    SEQ("cases", "meeting-referral", d,
        {I2, "ipw.activate", "{\"ipw\": \"" I7 "\", \"date\": \"2026-01-15\"}"},
        {I2, "meeting.add", "{\"ipw\": \"" I7 "\", \"date\": \"2026-01-20\", \"participants\": \"" I2 "," I3 "\", "
                            "\"topic\": \"Pierwsze spotkanie ZZK\", \"decisions\": \"Ustalono cele\"}"},
        {I2, "referral.send", "{\"ipw\": \"" I7 "\", \"service\": \"" I5 "\", \"date\": \"2026-01-21\", \"note\": \"pilne\"}"},
        {I2, "referral.accept", "{\"referral\": \"" I9 "\", \"date\": \"2026-01-25\"}"},
        {I2, "referral.done", "{\"referral\": \"" I9 "\", \"date\": \"2026-03-25\"}"},
        {I2, "ipw.list", "{\"status\": \"active\"}"},
        {"", "feed.fetch", "{\"stream\": \"cases\", \"after_seq\": 0, \"max\": 200}"});
    SEQ("cases", "task-steps", d,
        {I2, "ipw.activate", "{\"ipw\": \"" I7 "\", \"date\": \"2026-01-15\"}"},
        {I2, "task.add", "{\"ipw\": \"" I7 "\", \"owner\": \"" I2 "\", \"due\": \"2026-02-01\", \"title\": \"Wywiad\"}"},
        {I2, "task.start", "{\"task\": \"" I9 "\", \"date\": \"2026-01-17\"}"},
        {I2, "task.done", "{\"task\": \"" I9 "\", \"date\": \"2026-01-18\"}"},
        {I2, "task.cancel", "{\"task\": \"" I9 "\", \"reason\": \"pomyłka\"}"},
        {I2, "ipw.member.remove", "{\"ipw\": \"" I7 "\", \"person\": \"" I2 "\", \"date\": \"2026-03-01\"}"});
    SEQ("cases", "access-audit", d,
        {I4, "ipw.show", "{\"ipw\": \"" I7 "\"}"},
        {"", "household.list", "{}"},
        {"Jan Kowalski", "household.list", "{}"},
        {FZ_ID_PREFIX "x", "household.show", "{\"household\": \"" I6 "\"}"},
        {I3, "ipw.show", "{\"ipw\": \"" I7 "\"}"},
        {I3, "audit.show", "{\"ipw\": \"" I7 "\", \"limit\": 20}"},
        {I2, "audit.show", "{}"});
}

static void
s_request_malformed(void)
{
    static const uint8_t truncated[] = {0x08, 0x01, 0x12, 0x20, 'a', 'b'};
    static const uint8_t bad_wire[] = {0x08, 0x01, 0x1a, 0x0f, 'i', 'n', 's', 't', 'i', 't', 'u', 't', 'i', 'o', 'n', '.',
                                       'a', 'd', 'd', 0x2a, 0x03, 0x12, 0x01, 0xff, 0x2d, 0x01, 0x02, 0x03, 0x04};
    static const uint8_t overlong[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    uint8_t *buf;
    size_t len;
    char caller[3000];
    s_write("request", "malformed-truncated", truncated, sizeof truncated);
    s_write("request", "malformed-payload-wire-type", bad_wire, sizeof bad_wire);
    s_write("request", "malformed-overlong-varint", overlong, sizeof overlong);
    memset(caller, 'A', sizeof caller - 1);
    caller[sizeof caller - 1] = '\0';
    buf = fz_request(caller, "institution.add", NULL, &len);
    s_write("request", "long-caller", buf, len);
    free(buf);
    buf = fz_request("\x01\x02\xff", "sys.ping", NULL, &len);
    s_write("request", "binary-caller", buf, len);
    free(buf);
    buf = fz_request("", "INSTITUTION.ADD\n", NULL, &len);
    s_write("request", "bad-method", buf, len);
    free(buf);
}

static const char s_gmina_conf[] =
    "# koop node configuration, written by `koopctl node init`.\n\n[node]\nid = gmina-2013032\n"
    "name = Gmina Kobylin-Borzymy\nrole = gmina\nteryt = 2013032\ndata_dir = data\nruntime_dir = run\n\n"
    "[endpoints]\nregistry = ipc:///srv/koop/run/registry.sock\ncases = ipc:///srv/koop/run/cases.sock\n"
    "notifier = ipc:///srv/koop/run/notifier.sock\nreporting = ipc:///srv/koop/run/reporting.sock\n"
    "sync = ipc:///srv/koop/run/sync.sock\n\n[sync]\nhub = tcp://10.0.0.1:7700\nhub_key = /srv/koop-powiat/keys/node.pub\n"
    "# listen = tcp://0.0.0.0:7700\n\n[notifier]\nsmtp_url = smtp://127.0.0.1:2525\n# smtp_user = koop\n";
static const char s_hub_conf[] =
    "[node]\nid = hub-2013\nname = Powiat X\nrole = hub\nteryt = 2013\ndata_dir = /srv/koop-powiat/data\n"
    "runtime_dir = /srv/koop-powiat/run\n\n[endpoints]\nregistry = tcp://127.0.0.1:7601\n"
    "reporting = tcp://127.0.0.1:7604\nsync = tcp://127.0.0.1:7605\n\n[sync]\nlisten = tcp://0.0.0.0:7700\n";

static void
s_configs(void)
{
    static const char *const bad[] = {
        "[node]\nid = gmina 1\nrole = gmina\nteryt = 2013032\ndata_dir = d\nruntime_dir = r\n[endpoints]\nregistry = ipc:///x\n",
        "[node]\nid = g\nrole = powiat\nteryt = 2013032\ndata_dir = d\nruntime_dir = r\n[endpoints]\nregistry = ipc:///x\n",
        "[node]\nid = g\nrole = gmina\nteryt = 2013032\ndata_dir = d\nruntime_dir = r\n[endpoints]\nregistry = http://x\n",
        "[node]\nid = g\nrole = gmina\nteryt = 20130\ndata_dir = d\nruntime_dir = r\n[endpoints]\nregistry = ipc:///x\n",
        "[node]\nid = g\nrole = gmina\nteryt = 2013032\ndata_dir = d\nruntime_dir = r\nkolor = zielony\n",
        "[node\nid = g\n",
        "[notifier]\nsmtp_password_file = ../../secret\nfrom = koop@ops.example.gov.pl\nweb_url = http://koop.ops.local/\n",
        "",
    };
    char name[32];
    s_write("config", "gmina", s_gmina_conf, sizeof s_gmina_conf - 1);
    s_write("config", "hub", s_hub_conf, sizeof s_hub_conf - 1);
    for (size_t i = 0; i < KOOP_ARRAY_LEN(bad); i++) {
        snprintf(name, sizeof name, "refused-%zu", i);
        s_write("config", name, bad[i], strlen(bad[i]));
    }
}

/* The envelopes of issue 15: a valid head, then a payload of the wrong wire
 * type, an overlong varint, a 6-byte tag. */
static void
s_event_heads(void)
{
    static const uint8_t head[] = {0x0a, 0x0d, 'g', 'm', 'i', 'n', 'a', '-', '2', '0', '1', '3', '0', '3', '2',
                                   0x12, 0x08, 'r', 'e', 'g', 'i', 's', 't', 'r', 'y', 0x18, 0x05, 0x38, 0x01};
    uint8_t buf[64];
    memcpy(buf, head, sizeof head);
    buf[sizeof head] = 0x48; /* field 9 (payload) as a varint */
    buf[sizeof head + 1] = 0x07;
    s_write("event_head", "payload-wrong-wire-type", buf, sizeof head + 2);
    memcpy(buf + sizeof head, (const uint8_t[]){0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 12);
    s_write("event_head", "overlong-varint", buf, sizeof head + 12);
    memcpy(buf + sizeof head, (const uint8_t[]){0xca, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00}, 7);
    s_write("event_head", "six-byte-tag", buf, sizeof head + 7);
}

/* Frames a gmina's uplink sends, with the real SHARED events of a registry
 * (in process) as their items. */
static void
s_hub(void)
{
    const koop_service_def_t *d = reg_service_def();
    Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
    Koop__FeedBatch *b;
    koop_config_t cfg;
    koop_service_t *reg;
    fz_ids_t ids = {0};
    uint8_t *req, *payload, *seq = NULL;
    size_t len, plen, seq_len = 0;
    Koop__Sync__Item items[8], *ptrs[8];
    uint8_t links[9][KOOP_CHAIN_LEN]; /* S before item 0, and after each item */
    Koop__Sync__StreamPos pos = KOOP__SYNC__STREAM_POS__INIT, *pos_p = &pos;
    Koop__Sync__Hello hello = KOOP__SYNC__HELLO__INIT;
    Koop__Sync__Batch batch = KOOP__SYNC__BATCH__INIT;
    Koop__Sync__Ping ping = KOOP__SYNC__PING__INIT;
    Koop__Sync__DownAck dack = KOOP__SYNC__DOWN_ACK__INIT;
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    size_t n;

    fz_config(&cfg, fz_scratch());
    reg = koop_service_local_new(d, &cfg, NULL);
    FZ_ASSERT(reg != NULL);
    fz_must_json(reg, d, &ids, "", "institution.add", "{\"name\": \"GOPS\", \"sector\": \"social_assistance\", \"level\": \"gmina\"}");
    fz_must_json(reg, d, &ids, "", "person.add", "{\"name\": \"Anna Nowak\", \"institution\": \"" I0 "\", \"role\": \"social_worker\"}");
    fz_must_json(reg, d, &ids, "", "institution.add", "{\"name\": \"KPP\", \"sector\": \"police\", \"level\": \"powiat\"}");
    fz_must_json(reg, d, &ids, "", "institution.update", "{\"id\": \"" I0 "\", \"phone\": \"86 111 22 33\"}");
    fz_must_json(reg, d, &ids, "", "service.add", "{\"name\": \"Poradnictwo\", \"provider\": \"" I2 "\", \"target\": \"families\", \"category\": \"counselling\"}");
    q.stream = "registry";
    q.has_max = q.has_shared_only = 1;
    q.max = 8;
    q.shared_only = 1;
    req = fz_request("", "feed.fetch", &q.base, &len);
    FZ_ASSERT(fz_call(reg, req, len, &payload, &plen) == KOOP_OK);
    free(req);
    b = koop__feed_batch__unpack(NULL, plen, payload);
    free(payload);
    FZ_ASSERT(b && b->n_events >= 4);
    n = b->n_events < 8 ? b->n_events : 8;
    for (size_t i = 0; i < n; i++) {
        Koop__Event *ev = koop__event__unpack(NULL, b->events[i].len, b->events[i].data);
        koop__sync__item__init(&items[i]);
        items[i].has_seq = items[i].has_event = 1;
        items[i].seq = ev->seq;
        items[i].event = b->events[i];
        ptrs[i] = &items[i];
        koop__event__free_unpacked(ev, NULL);
    }
    /* the SHARED chain over them, as the uplink sends it with a batch */
    koop_chain_genesis(links[0], "koop.shared", b->log_id);
    for (size_t i = 0; i < n; i++)
        FZ_ASSERT(koop_chain_entry(links[i + 1], links[i], items[i].event.data, items[i].event.len, NULL) == 0);
#define LINKS(from, to)                                                                            \
    do {                                                                                           \
        batch.has_prev_link = batch.has_link = 1;                                                  \
        batch.prev_link = (ProtobufCBinaryData){KOOP_CHAIN_LEN, links[from]};                      \
        batch.link = (ProtobufCBinaryData){KOOP_CHAIN_LEN, links[to]};                             \
    } while (0)

#define FRAME(name)                                                                                \
    do {                                                                                           \
        uint8_t *fb;                                                                               \
        size_t fl;                                                                                 \
        /* the bodies share a union: point it at the one of body_case */                          \
        if (f.body_case == KOOP__SYNC__FRAME__BODY_HELLO)                                         \
            f.hello = &hello;                                                                      \
        else if (f.body_case == KOOP__SYNC__FRAME__BODY_BATCH)                                    \
            f.batch = &batch;                                                                      \
        else if (f.body_case == KOOP__SYNC__FRAME__BODY_PING)                                     \
            f.ping = &ping;                                                                        \
        else                                                                                       \
            f.down_ack = &dack;                                                                    \
        FZ_ASSERT(sync_frame_pack(&f, &fb, &fl) == 0);                                             \
        FZ_ASSERT(fz_join(&seq, &seq_len, fb, fl) == 0);                                           \
        free(fb);                                                                                  \
        (void)name;                                                                                \
    } while (0)
#define SAVE(name)                                                                                 \
    do {                                                                                           \
        s_write("hub", name, seq, seq_len);                                                        \
        free(seq);                                                                                 \
        seq = NULL;                                                                                \
        seq_len = 0;                                                                               \
    } while (0)

    hello.has_version = 1;
    hello.version = SYNC_VERSION;
    hello.node = "gmina-2013032";
    pos.stream = "registry";
    pos.log_id = b->log_id;
    pos.has_seq = 1;
    hello.streams = &pos_p;
    hello.n_streams = 1;
    batch.stream = "registry";
    batch.has_prev = batch.has_batch_no = 1;

    /* HELLO, then the whole batch, a ping, a down ack */
    f.body_case = KOOP__SYNC__FRAME__BODY_HELLO;
    FRAME("hello");
    f.body_case = KOOP__SYNC__FRAME__BODY_BATCH;
    batch.prev = 0;
    batch.batch_no = 1;
    batch.items = ptrs;
    batch.n_items = n;
    LINKS(0, n);
    FRAME("batch");
    ping.has_time_ms = 1;
    ping.time_ms = 1767225600000ULL;
    f.body_case = KOOP__SYNC__FRAME__BODY_PING;
    FRAME("ping");
    dack.log_id = "0190f1c2-0000-7000-8000-000000000001";
    dack.has_seq = 1;
    f.body_case = KOOP__SYNC__FRAME__BODY_DOWN_ACK;
    FRAME("down_ack");
    SAVE("hello-batch-ping-downack");

    /* two batches in a row, then the second again (duplicate), then a gap */
    f.body_case = KOOP__SYNC__FRAME__BODY_HELLO;
    FRAME("hello");
    f.body_case = KOOP__SYNC__FRAME__BODY_BATCH;
    batch.prev = 0;
    batch.n_items = 2;
    LINKS(0, 2);
    FRAME("batch 1");
    batch.prev = items[1].seq;
    batch.batch_no = 2;
    batch.items = ptrs + 2;
    batch.n_items = n - 2;
    LINKS(2, n);
    FRAME("batch 2");
    FRAME("batch 2 again");
    batch.prev = items[n - 1].seq + 5;
    batch.batch_no = 3;
    FRAME("gap");
    SAVE("batches-duplicate-gap");

    /* a batch before HELLO, and one for a stream never announced */
    f.body_case = KOOP__SYNC__FRAME__BODY_BATCH;
    batch.prev = 0;
    batch.batch_no = 1;
    batch.items = ptrs;
    batch.n_items = n;
    LINKS(0, n);
    FRAME("no session");
    f.body_case = KOOP__SYNC__FRAME__BODY_HELLO;
    FRAME("hello");
    f.body_case = KOOP__SYNC__FRAME__BODY_BATCH;
    batch.stream = "cases";
    FRAME("stream not announced");
    SAVE("no-session-and-unknown-stream");

    /* HELLOs the hub refuses: another node's id, a wrong version */
    f.body_case = KOOP__SYNC__FRAME__BODY_HELLO;
    hello.node = "gmina-2013043";
    FRAME("other node");
    hello.node = "gmina-2013032";
    hello.version = 7;
    FRAME("version");
    SAVE("refused-hellos");

    /* issue 15: a batch whose event has a valid head and a payload of the
     * wrong wire type */
    hello.version = SYNC_VERSION;
    f.body_case = KOOP__SYNC__FRAME__BODY_HELLO;
    FRAME("hello");
    {
        Koop__Event *ev = koop__event__unpack(NULL, items[0].event.len, items[0].event.data);
        uint8_t bad[256];
        size_t bl;
        ev->has_payload = 0;
        ev->payload.len = 0;
        bl = koop__event__pack(ev, bad);
        bad[bl++] = 0x48;
        bad[bl++] = 0x07;
        koop__event__free_unpacked(ev, NULL);
        items[0].event.data = bad;
        items[0].event.len = bl;
        batch.stream = "registry";
        batch.prev = 0;
        batch.items = ptrs;
        batch.n_items = 1;
        f.body_case = KOOP__SYNC__FRAME__BODY_BATCH;
        FRAME("undecodable payload");
        SAVE("undecodable-payload");
    }
    koop__feed_batch__free_unpacked(b, NULL);
    koop_service_local_destroy(&reg);
#undef FRAME
#undef SAVE
}

/* ids in fuzz_notifier: 0 GOPS, 1 social worker, 2 coordinator, 3 IPW, 4 task */
static void
s_notifier(void)
{
    const koop_service_def_t *d = notif_service_def();
    SEQ("notifier", "inbox", d,
        {I1, "inbox.list", "{}"},
        {I1, "inbox.list", "{\"unread\": true}"},
        {I1, "inbox.read", "{\"id\": \"all\"}"},
        {I2, "inbox.list", "{}"},
        {"", "inbox.list", "{}"});
    SEQ("notifier", "prefs", d,
        {I1, "notify.prefs", "{\"mail\": false, \"digest\": true, \"due_days\": 3, \"quiet\": \"22-7\"}"},
        {I1, "notify.prefs", "{\"quiet\": \"none\"}"},
        {I1, "notify.prefs", "{\"due_days\": 99}"},
        {I9, "notify.prefs", "{\"mail\": true}"});
    SEQ("notifier", "queue", d,
        {"", "notify.status", "{}"},
        {"", "notify.retry", "{}"},
        {I1, "notify.retry", "{}"},
        {"", "notify.check_reminders", "{}"},
        {"", "feed.fetch", "{\"stream\": \"notifier\", \"after_seq\": 0, \"max\": 10}"});
}

static void
s_reporting(void)
{
    const koop_service_def_t *d = rep_service_def();
    SEQ("reporting", "reports", d,
        {"", "report.evaluation", "{}"},
        {"", "report.indicators", "{\"unit\": \"2013032\", \"from\": \"2025-01\", \"to\": \"2025-12\", "
                                  "\"as_of\": \"2025-12-31\"}"},
        {"", "report.evaluation", "{\"unit\": \"gmina-2013032\", \"from\": \"2025-03-01\", \"to\": \"2025-03-31\"}"},
        {"", "report.status", "{}"});
    SEQ("reporting", "refusals-and-rebuild", d,
        {"", "report.indicators", "{\"unit\": \"9999\"}"},
        {"", "report.indicators", "{\"from\": \"2025-12\", \"to\": \"2025-01\"}"},
        {"", "report.evaluation", "{\"as_of\": \"2025-02-30\"}"},
        {I1, "report.rebuild", "{}"},
        {"", "report.rebuild", "{}"},
        {"", "report.status", "{}"});
}

/* What a hub sends an uplink (fuzz_uplink): the log ids it knows. */
static void
s_uplink(void)
{
    static const char *const reg_log = "0190f1c2-0000-7000-8000-00000000000a", *cases_log =
        "0190f1c2-0000-7000-8000-00000000000b";
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Welcome w = KOOP__SYNC__WELCOME__INIT;
    Koop__Sync__StreamPos p[2] = {KOOP__SYNC__STREAM_POS__INIT, KOOP__SYNC__STREAM_POS__INIT}, *pp[2] = {&p[0], &p[1]};
    Koop__Sync__Ack a = KOOP__SYNC__ACK__INIT;
    Koop__Sync__Refuse r = KOOP__SYNC__REFUSE__INIT;
    Koop__Sync__Down dn = KOOP__SYNC__DOWN__INIT;
    Koop__Sync__Item it = KOOP__SYNC__ITEM__INIT, *itp = &it;
    Koop__Sync__Pong pong = KOOP__SYNC__PONG__INIT;
    Koop__Reg__Institution in = KOOP__REG__INSTITUTION__INIT;
    Koop__Event ev = KOOP__EVENT__INIT;
    char *args[5] = {"4", "registry", "institution.updated", "hub-2013", "gmina-2013032"};
    uint8_t payload[256], env[512], *seq = NULL, *fb;
    size_t seq_len = 0, fl;

#define UFRAME(body, member, value)                                                                    do {                                                                                                   f.body_case = KOOP__SYNC__FRAME__BODY_##body;                                                      f.member = (value);                                                                                FZ_ASSERT(sync_frame_pack(&f, &fb, &fl) == 0);                                                     FZ_ASSERT(fz_join(&seq, &seq_len, fb, fl) == 0);                                                   free(fb);                                                                                      } while (0)
#define USAVE(name)                                                                                    do {                                                                                                   s_write("uplink", name, seq, seq_len);                                                             free(seq);                                                                                         seq = NULL;                                                                                        seq_len = 0;                                                                                   } while (0)

    p[0].stream = "registry";
    p[0].log_id = (char *)reg_log;
    p[1].stream = "cases";
    p[1].log_id = (char *)cases_log;
    p[0].has_seq = p[1].has_seq = p[0].has_verdict = p[1].has_verdict = p[0].has_epoch = p[1].has_epoch = 1;
    p[0].seq = 3;
    p[0].epoch = p[1].epoch = 1;
    w.hub = "hub-2013";
    w.streams = pp;
    w.n_streams = 2;
    w.has_heartbeat_ms = w.has_window = w.has_batch_max = 1;
    w.heartbeat_ms = 1000;
    w.window = 20000;
    w.batch_max = 2000;
    a.stream = "registry";
    a.has_seq = a.has_batch_no = 1;
    a.seq = 3;
    a.batch_no = 1;
    UFRAME(WELCOME, welcome, &w);
    UFRAME(ACK, ack, &a);
    pong.has_time_ms = 1;
    pong.time_ms = 1767225600000ULL;
    UFRAME(PONG, pong, &pong);
    USAVE("welcome-ack-pong");

    /* a record of the hub coming down, as a snapshot chunk then an update */
    in.id = "0190f1c2-0000-7000-8000-0000000000c1";
    in.name = "PCPR";
    in.owner = "hub-2013";
    in.has_sector = 1;
    in.sector = KOOP__REG__SECTOR__SECTOR_FAMILY_SUPPORT;
    ev.node = "hub-2013";
    ev.stream = "registry";
    ev.has_seq = ev.has_scope = ev.has_payload = 1;
    ev.seq = 1;
    ev.scope = KOOP__SCOPE__SCOPE_SHARED;
    ev.type = "institution.added";
    ev.payload.len = koop__reg__institution__pack(&in, payload);
    ev.payload.data = payload;
    it.has_seq = it.has_event = 1;
    it.seq = 1;
    it.event.len = koop__event__pack(&ev, env);
    it.event.data = env;
    dn.log_id = "0190f1c2-0000-7000-8000-0000000000d1";
    dn.has_from_seq = dn.has_to_seq = 1;
    dn.to_seq = 1;
    dn.items = &itp;
    dn.n_items = 1;
    UFRAME(WELCOME, welcome, &w);
    UFRAME(DOWN, down, &dn);
    dn.from_seq = 1;
    dn.to_seq = 2;
    it.seq = 2;
    UFRAME(DOWN, down, &dn);
    USAVE("welcome-down");

    /* refusals: a gap, an event the hub's check refused, no session, denied */
    r.has_code = r.has_expected = r.has_batch_no = 1;
    r.stream = "registry";
    UFRAME(WELCOME, welcome, &w);
    r.code = KOOP__SYNC__CODE__CODE_GAP;
    r.expected = 2;
    r.batch_no = 1;
    UFRAME(REFUSE, refuse, &r);
    r.code = KOOP__SYNC__CODE__CODE_MALFORMED;
    r.error = "sync.event_owner";
    r.error_args = args;
    r.n_error_args = 5;
    r.has_event_seq = 1;
    r.event_seq = 4;
    r.reason = "zdarzenie nr 4 strumienia registry: rekord należy do węzła hub-2013";
    UFRAME(REFUSE, refuse, &r);
    UFRAME(WELCOME, welcome, &w);
    r.error = NULL;
    r.n_error_args = 0;
    r.has_event_seq = 0;
    r.code = KOOP__SYNC__CODE__CODE_NO_SESSION;
    UFRAME(REFUSE, refuse, &r);
    r.code = KOOP__SYNC__CODE__CODE_DENIED;
    UFRAME(REFUSE, refuse, &r);
    USAVE("refusals");
#undef UFRAME
#undef USAVE
}

/* HTTP requests as the web UI and scripts make them (fuzz_http): parts
 * "METHOD PATH", query, body, Cookie, Accept-Language. */
static void
s_http(void)
{
    static const char *const reqs[][5] = {
        {"GET /api/institutions", "sector=police&text=komenda", "", "koop=0123456789abcdef0123456789abcdef; lang=pl",
         "pl-PL,pl;q=0.9,en;q=0.8"},
        {"POST /api/institutions", "", "{\"name\": \"Komenda Powiatowa Policji\", \"sector\": \"police\", "
                                      "\"level\": \"powiat\", \"teryt\": \"2013\"}",
         "koop=0123456789abcdef0123456789abcdef", "en-GB,en;q=0.9"},
        {"PUT /api/institutions/0190f1c2-0000-7000-8000-000000000001", "", "{\"phone\": \"86 111 22 33\"}", "", ""},
        {"POST /api/pzks/0190f1c2-0000-7000-8000-000000000003/join", "",
         "{\"institution\": \"0190f1c2-0000-7000-8000-000000000001\", \"date\": \"2025-01-15\"}", "", "de"},
        {"GET /api/ipws/0190f1c2-0000-7000-8000-000000000007", "lang=en", "", "lang=en", ""},
        {"GET /api/reports/evaluation", "unit=2013032&from=2025-01&to=2025-12&format=csv", "", "", ""},
        {"POST /api/session", "", "{\"login\": \"anna\", \"password\": \"tajne hasło\"}", "", ""},
        {"DELETE /api/institutions", "", "", "", ""},
        {"GET /index.html", "", "", "", ""},
        {"GET /js/app.js", "", "", "", ""},
        {"GET /../etc/passwd", "", "", "", ""},
        {"POST /api/institutions", "", "{\"name\": {\"a\": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}}", "", ""},
        {"POST /api/institutions", "", "{\"name\": \"A\", \"name\": \"B\"}", "", ""},
    };
    for (size_t i = 0; i < KOOP_ARRAY_LEN(reqs); i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        char name[32];
        for (int k = 0; k < 5; k++)
            FZ_ASSERT(fz_join(&buf, &len, (const uint8_t *)reqs[i][k], strlen(reqs[i][k])) == 0);
        snprintf(name, sizeof name, "request-%zu", i);
        s_write("http", name, buf, len);
        free(buf);
    }
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "użycie: seeds KATALOG_KORPUSU\n");
        return 2;
    }
    s_root = argv[1];
    fz_init();
    s_ntypes = fz_request_types(s_types, KOOP_ARRAY_LEN(s_types));
    s_registry();
    s_cases();
    s_request_malformed();
    s_configs();
    s_event_heads();
    s_hub();
    s_notifier();
    s_reporting();
    s_uplink();
    s_http();
    return 0;
}
