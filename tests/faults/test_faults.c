/*
 * The long fault run (`make test-faults`, its own binary; CI runs it with
 * KOOP_FAULT_ROUNDS small). Real processes: a powiat hub and an enrolled
 * gmina with every service, under a steady mixed write load through the
 * real client (registry institutions, cases households and tasks that
 * notify their owner).
 *
 *  - kill_9_at_random: KOOP_FAULT_ROUNDS (default 600) kill -9 of a random
 *    process: any service of the gmina, the gmina's koop-node, the hub's
 *    services or its koop-node (a killed koop-node is started again);
 *  - link_cut_by_network_namespace: the gmina in one network namespace,
 *    the hub in another, joined by a veth pair; the link is taken down and
 *    up again while the gmina writes;
 *  - disk_full: the gmina's data on a small tmpfs filled up: writes are
 *    refused saying "dysk pełny", nothing acknowledged is lost, and writes
 *    work again without a restart once space is freed.
 *
 * Afterwards every acknowledged write exists exactly once at the gmina and,
 * byte for byte, at the hub; no notification is duplicated and every task
 * has its one; the reports equal a recount (the projection took each SHARED
 * event once, and a rebuild from the logs gives the same figures). The
 * counts are printed.
 */
#include "kt_cases.h"
#include "kt_report.h"
#include "kt_sync.h"
#include "cases.pb-c.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "notifier.pb-c.h"
#include "record.h"
#include "registry.pb-c.h"
#include "client.h"
#include "errors.h"
#include "rpc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static kt_node_t hub, g;

/* The write load runs on its own thread, where Criterion's asserts cannot
 * be used: a broken harness stops the process there. */
#define W_ASSERT(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: load: %s\n", __FILE__, __LINE__, #cond);                       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
static char netns_g[32], netns_h[32], mnt[PATH_MAX + 16];

enum { W_INSTITUTION, W_HOUSEHOLD, W_TASK, W_KINDS };
static const char *const s_kind_name[W_KINDS] = {"instytucje", "gospodarstwa", "zadania"};

typedef struct {
    char id[KOOP_ID_LEN];
    int kind;
} s_ack;

static struct {
    pthread_mutex_t mu;
    s_ack *acks;
    size_t n, cap;
    long attempts, refused, unanswered;
    long disk_full; /* refusals that said "dysk pełny" */
    char last_error[300];
    volatile int stop;
} W = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void
s_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
s_sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fprintf(stderr, "faults: '%s' failed\n", cmd);
}

static void
s_fini(void)
{
    W.stop = 1;
    kt_node_stop(&g);
    kt_node_stop(&hub);
    if (mnt[0]) {
        (void)umount2(mnt, MNT_DETACH);
        mnt[0] = '\0';
    }
    kt_node_destroy(&g);
    kt_node_destroy(&hub);
    if (netns_g[0])
        s_sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", netns_g, netns_h);
    netns_g[0] = '\0';
}

TestSuite(faults, .fini = s_fini, .timeout = 3600);

/* ---- the people and the case the load works on ---- */

static char *s_gops, *s_kpp, *s_sw, *s_cop, *s_ipw;

static void
s_staff(void)
{
    kt_gmina_t as = {.node = g};
    char *hh;
    kt_run_t r;
    s_gops = kt_ctl_id(&g, "institution", "add", "--name", "GOPS", "--sector", "social_assistance", "--level", "gmina",
                       NULL);
    s_kpp = kt_ctl_id(&g, "institution", "add", "--name", "KPP", "--sector", "police", "--level", "powiat", NULL);
    cr_assert(s_gops && s_kpp);
    s_sw = kt_ctl_id(&g, "person", "add", "--name", "Anna Nowak", "--institution", s_gops, "--role", "social_worker",
                     "--email", "anna@ops.example.pl", NULL);
    s_cop = kt_ctl_id(&g, "person", "add", "--name", "Jan Dzielnicowy", "--institution", s_kpp, "--role",
                      "police_officer", NULL);
    cr_assert(s_sw && s_cop);
    /* the family's consent names the institutions of the case (kt_consent) */
    as.gops = s_gops;
    as.kpp = s_kpp;
    as.pcpr = kt_ctl_id(&g, "institution", "add", "--name", "PCPR", "--sector", "family_support", "--level", "powiat",
                        NULL);
    cr_assert_not_null(as.pcpr);
    s_ipw = kt_open_ipw(&as, s_sw, "2026-01-10", &hh);
    free(as.pcpr);
    cr_assert_not_null(s_ipw);
    cr_assert_eq(kt_as(&r, &as, s_sw, "ipw", "member", "add", "--ipw", s_ipw, "--person", s_cop, NULL), 0);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(kt_as(&r, &as, s_sw, "ipw", "activate", "--ipw", s_ipw, "--date", "2026-01-15", NULL), 0);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    free(hh);
}

/* ---- the write load: a thread with its own clients ---- */

static void
s_ack_add(const char *id, int kind)
{
    pthread_mutex_lock(&W.mu);
    if (W.n == W.cap) {
        W.cap = W.cap ? 2 * W.cap : 1024;
        W.acks = realloc(W.acks, W.cap * sizeof *W.acks);
        W_ASSERT(W.acks != NULL);
    }
    snprintf(W.acks[W.n].id, KOOP_ID_LEN, "%s", id);
    W.acks[W.n++].kind = kind;
    pthread_mutex_unlock(&W.mu);
}

static koop_rpc_client_t *
s_client(const char *service)
{
    koop_config_t cfg;
    char err[600];
    koop_rpc_client_t *c;
    W_ASSERT(koop_config_load(&cfg, g.conf, err, sizeof err) == 0);
    c = koop_rpc_client_new(koop_config_endpoint(&cfg, service));
    W_ASSERT(c != NULL);
    return c;
}

/* One write; its id when acknowledged. */
static int
s_write_one(koop_rpc_client_t **reg, koop_rpc_client_t **cases, long i, char id[KOOP_ID_LEN])
{
    char name[64];
    koop_reply_t reply;
    int kind = (int)(i % W_KINDS), rc;
    koop_rpc_client_t **c = kind == W_INSTITUTION ? reg : cases;
    const ProtobufCMessageDescriptor *d;
    ProtobufCMessage *m;

    if (kind == W_INSTITUTION) {
        Koop__Reg__Institution q = KOOP__REG__INSTITUTION__INIT;
        snprintf(name, sizeof name, "Szkoła F-%ld", i);
        q.name = name;
        q.has_sector = q.has_level = 1;
        q.sector = KOOP__REG__SECTOR__SECTOR_EDUCATION;
        q.level = KOOP__REG__LEVEL__LEVEL_GMINA;
        rc = koop_rpc_call(*c, "", "institution.add", &q.base, 3000, &reply);
        d = &koop__reg__institution__descriptor;
    } else if (kind == W_HOUSEHOLD) {
        Koop__Cases__HouseholdAdd q = KOOP__CASES__HOUSEHOLD_ADD__INIT;
        snprintf(name, sizeof name, "Rodzina F-%ld", i);
        q.name = name;
        q.has_size = 1;
        q.size = 3;
        rc = koop_rpc_call(*c, s_sw, "household.add", &q.base, 3000, &reply);
        d = &koop__cases__household__descriptor;
    } else {
        Koop__Cases__TaskAdd q = KOOP__CASES__TASK_ADD__INIT;
        snprintf(name, sizeof name, "Zadanie F-%ld", i);
        q.ipw = s_ipw;
        q.owner = s_cop;
        q.due = "2027-06-30";
        q.title = name;
        rc = koop_rpc_call(*c, s_sw, "task.add", &q.base, 3000, &reply);
        d = &koop__cases__task__descriptor;
    }
    pthread_mutex_lock(&W.mu);
    W.attempts++;
    pthread_mutex_unlock(&W.mu);
    if (rc != 0) {
        /* no answer: maybe written, maybe not; a new connection for the next */
        pthread_mutex_lock(&W.mu);
        W.unanswered++;
        pthread_mutex_unlock(&W.mu);
        koop_rpc_client_destroy(c);
        *c = s_client(kind == W_INSTITUTION ? "registry" : "cases");
        return -1;
    }
    if (reply.status != KOOP_OK) {
        pthread_mutex_lock(&W.mu);
        W.refused++;
        if (strcmp(reply.err.code, "internal.disk_full") == 0)
            W.disk_full++;
        koop_error_render(&reply.err, KOOP_LANG_PL, NULL, W.last_error, sizeof W.last_error);
        pthread_mutex_unlock(&W.mu);
        koop_reply_clear(&reply);
        return -1;
    }
    m = protobuf_c_message_unpack(d, NULL, reply.len, reply.payload);
    W_ASSERT(m != NULL); /* an acknowledged reply decodes */
    snprintf(id, KOOP_ID_LEN, "%s", koop_record_str(m, "id"));
    protobuf_c_message_free_unpacked(m, NULL);
    koop_reply_clear(&reply);
    s_ack_add(id, kind);
    return kind;
}

static void *
s_writer(void *arg)
{
    koop_rpc_client_t *reg = s_client("registry"), *cases = s_client("cases");
    long i = (long)(intptr_t)arg;
    (void)arg;
    while (!W.stop) {
        char id[KOOP_ID_LEN];
        (void)s_write_one(&reg, &cases, i++, id);
    }
    koop_rpc_client_destroy(&reg);
    koop_rpc_client_destroy(&cases);
    return NULL;
}

static pthread_t s_writer_thread;
static long s_next_i = 1;

static void
s_load_start(void)
{
    W.stop = 0;
    cr_assert_eq(pthread_create(&s_writer_thread, NULL, s_writer, (void *)(intptr_t)s_next_i), 0);
}

static void
s_load_stop(void)
{
    W.stop = 1;
    pthread_join(s_writer_thread, NULL);
    s_next_i += W.attempts + 10;
}

/* ---- the checks ---- */

/* The ids an id-bearing list reply holds (items[].id), with how often. */
static int
s_count_in(char **ids, size_t n, const char *id)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += strcmp(ids[i], id) == 0;
    return c;
}

static size_t
s_list_ids(const char *service, const char *caller, const char *method, const ProtobufCMessage *q,
           const ProtobufCMessageDescriptor *list_desc, char ***out)
{
    uint8_t *payload;
    size_t len, n = 0;
    ProtobufCMessage *l;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(list_desc, "items");
    int st = kt_request(&g, service, caller, method, q, 20000, &payload, &len);
    cr_assert_eq(st, KOOP_OK, "%s refused: %d", method, st);
    l = protobuf_c_message_unpack(list_desc, NULL, len, payload);
    cr_assert_not_null(l);
    n = *(size_t *)((char *)l + f->quantifier_offset);
    *out = calloc(n + 1, sizeof **out);
    for (size_t i = 0; i < n; i++) {
        ProtobufCMessage *item = (*(ProtobufCMessage ***)((char *)l + f->offset))[i];
        (*out)[i] = strdup(koop_record_str(item, "id"));
    }
    protobuf_c_message_free_unpacked(l, NULL);
    free(payload);
    return n;
}

static void
s_free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* How many events of `type` in a log carry record `id` in their payload. */
static int
s_events_with(kt_event_t *ev, long n, const char *type, const ProtobufCMessageDescriptor *d, const char *id,
              const char **event_id)
{
    int c = 0;
    for (long i = 0; i < n; i++) {
        ProtobufCMessage *m;
        if (strcmp(ev[i].type, type) != 0)
            continue;
        m = protobuf_c_message_unpack(d, NULL, ev[i].payload_len, ev[i].payload);
        if (m && koop_record_str(m, "id") && strcmp(koop_record_str(m, "id"), id) == 0) {
            c++;
            if (event_id) {
                Koop__Event *e = koop__event__unpack(NULL, ev[i].len, ev[i].bytes);
                static char idbuf[KOOP_ID_LEN];
                snprintf(idbuf, sizeof idbuf, "%s", e && e->id ? e->id : "");
                *event_id = idbuf;
                if (e)
                    koop__event__free_unpacked(e, NULL);
            }
        }
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
    }
    return c;
}

static json_t *
s_indicators(kt_node_t *n)
{
    kt_run_t r;
    json_t *j;
    kt_ctl(&r, n, "--json", "report", "indicators", NULL);
    cr_assert_eq(r.code, 0, "report indicators: %s", r.err);
    j = json_incref(r.json);
    kt_run_free(&r);
    return j;
}

/* Waits until the hub's reporting has taken all the hub's koop-sync holds
 * (its feed "sync" at the sync log's last seq): the hub copy being exact
 * says nothing of its reporting, whose long poll to a koop-sync killed with
 * kill -9 is answered by nobody and is sent again after wait + 5 s (feed.h). */
static void
s_wait_hub_reporting(void)
{
    long last = -1, pos = -2;
    for (int i = 0; i < 600 && pos != last; i++) {
        kt_run_t r;
        json_t *f;
        size_t k;
        if (i)
            kt_sleep_ms(100);
        last = kt_log_events(&hub, "sync");
        kt_ctl(&r, &hub, "--json", "report", "status", NULL);
        json_array_foreach(json_object_get(r.json, "feeds"), k, f)
            if (json_is_string(json_object_get(f, "stream")) &&
                strcmp(json_string_value(json_object_get(f, "stream")), "sync") == 0)
                pos = (long)json_integer_value(json_object_get(f, "position"));
        kt_run_free(&r);
    }
    cr_assert_eq(pos, last, "the hub's reporting stays at %ld of its koop-sync's %ld events", pos, last);
}

/* The reports equal a recount: the projection took each event of its feeds
 * once (gmina: every event of the registry, which it reads whole for the
 * hub's institutions, and the cases' SHARED events), and a
 * rebuild from the logs gives the same figures (gmina and hub). */
static void
s_check_reports(long *shared_out)
{
    kt_event_t *ev;
    long want, seen = -1, nreg = kt_events(&g, "registry", 0, &ev);
    kt_events_free(ev, nreg);
    long ncases = kt_events(&g, "cases", 1, &ev);
    kt_events_free(ev, ncases);
    want = nreg + ncases;
    for (int i = 0; i < 600 && seen != want; i++) {
        seen = kt_report_seen(&g);
        if (seen != want)
            kt_sleep_ms(100);
    }
    cr_assert_eq(seen, want, "the gmina's reporting took %ld events, its feeds hold %ld", seen, want);
    *shared_out = want;
    s_wait_hub_reporting();
    for (int k = 0; k < 2; k++) {
        kt_node_t *n = k == 0 ? &g : &hub;
        json_t *before = s_indicators(n), *after = NULL;
        long seen_before = kt_report_seen(n), seen_after = -1;
        kt_run_t r;
        kt_ctl(&r, n, "--json", "report", "rebuild", NULL);
        cr_assert_eq(r.code, 0, "rebuild: %s", r.err);
        kt_run_free(&r);
        for (int i = 0; i < 600 && seen_after != seen_before; i++) {
            kt_sleep_ms(100);
            seen_after = kt_report_seen(n);
        }
        cr_assert_eq(seen_after, seen_before, "%s: the rebuild took %ld events, before it %ld", k ? "hub" : "gmina",
                     seen_after, seen_before);
        after = s_indicators(n);
        cr_assert(json_equal(before, after), "%s: figures after a rebuild differ:\n%s\n%s", k ? "hub" : "gmina",
                  json_dumps(before, JSON_COMPACT), json_dumps(after, JSON_COMPACT));
        json_decref(before);
        json_decref(after);
    }
}

/* Every acknowledged write exists exactly once at the gmina (state and log)
 * and at the hub (its copy of the gmina's streams equals them byte for
 * byte); every acknowledged task notified its owner exactly once and no
 * notification is there twice. Prints the counts. */
static void
s_check_all(const char *what)
{
    Koop__Reg__InstitutionQuery iq = KOOP__REG__INSTITUTION_QUERY__INIT;
    Koop__Cases__HouseholdQuery hq = KOOP__CASES__HOUSEHOLD_QUERY__INIT;
    Koop__Cases__TaskQuery tq = KOOP__CASES__TASK_QUERY__INIT;
    Koop__Notif__InboxQuery nq = KOOP__NOTIF__INBOX_QUERY__INIT;
    char **inst, **hh, **tasks;
    size_t ninst, nhh, ntasks, counted[W_KINDS] = {0};
    kt_event_t *reg_ev, *cases_ev;
    long nreg, ncases, shared = 0;
    uint64_t creg = 0, ccases = 0;
    Koop__Notif__InboxList *inbox = NULL;
    size_t notified = 0;

    cr_assert_eq(kt_wait_synced(&g, 180), 0, "the gmina did not catch up with the hub");
    ninst = s_list_ids("registry", "", "institution.list", &iq.base, &koop__reg__institution_list__descriptor, &inst);
    nhh = s_list_ids("cases", s_sw, "household.list", &hq.base, &koop__cases__household_list__descriptor, &hh);
    ntasks = s_list_ids("cases", s_cop, "task.mine", &tq.base, &koop__cases__task_list__descriptor, &tasks);
    nreg = kt_events(&g, "registry", 0, &reg_ev);
    ncases = kt_events(&g, "cases", 0, &cases_ev);
    cr_assert(nreg > 0 && ncases > 0);

    /* the notifier has taken every task before it is counted */
    nq.has_limit = 1;
    nq.limit = 100000;
    for (int i = 0; i < 600; i++) {
        uint8_t *payload;
        size_t len;
        if (inbox)
            koop__notif__inbox_list__free_unpacked(inbox, NULL);
        inbox = NULL;
        if (kt_request(&g, "notifier", s_cop, "inbox.list", &nq.base, 10000, &payload, &len) == KOOP_OK)
            inbox = koop__notif__inbox_list__unpack(NULL, len, payload), free(payload);
        if (inbox && inbox->n_items >= ntasks)
            break;
        kt_sleep_ms(100);
    }
    cr_assert_not_null(inbox);

    for (size_t i = 0; i < W.n; i++) {
        const s_ack *a = &W.acks[i];
        const char *event_id = NULL;
        if (a->kind == W_INSTITUTION) {
            cr_assert_eq(s_count_in(inst, ninst, a->id), 1, "institution %s (acknowledged) is there %d times", a->id,
                         s_count_in(inst, ninst, a->id));
            cr_assert_eq(s_events_with(reg_ev, nreg, "institution.added", &koop__reg__institution__descriptor, a->id,
                                       NULL),
                         1, "institution %s: not one event", a->id);
        } else if (a->kind == W_HOUSEHOLD) {
            cr_assert_eq(s_count_in(hh, nhh, a->id), 1, "household %s (acknowledged) is there %d times", a->id,
                         s_count_in(hh, nhh, a->id));
        } else {
            size_t in_inbox = 0;
            cr_assert_eq(s_count_in(tasks, ntasks, a->id), 1, "task %s (acknowledged) is there %d times", a->id,
                         s_count_in(tasks, ntasks, a->id));
            cr_assert_eq(s_events_with(cases_ev, ncases, "local.task.added", &koop__cases__task__descriptor, a->id,
                                       &event_id),
                         1, "task %s: not one event", a->id);
            for (size_t k = 0; k < inbox->n_items; k++)
                in_inbox += inbox->items[k]->event && strcmp(inbox->items[k]->event, event_id) == 0 &&
                            strcmp(inbox->items[k]->kind, "task_assigned") == 0;
            cr_assert_eq(in_inbox, 1, "task %s notified its owner %zu times", a->id, in_inbox);
            notified++;
        }
        counted[a->kind]++;
    }
    /* no notification twice, acknowledged or not */
    for (size_t k = 0; k < inbox->n_items; k++)
        for (size_t j = k + 1; j < inbox->n_items; j++)
            cr_assert(strcmp(inbox->items[k]->id, inbox->items[j]->id) != 0 ||
                          strcmp(inbox->items[k]->kind, inbox->items[j]->kind) != 0,
                      "notification %s twice", inbox->items[k]->id);
    /* no record twice, acknowledged or not */
    for (size_t k = 0; k < ntasks; k++)
        cr_assert_eq(s_count_in(tasks, ntasks, tasks[k]), 1);
    for (size_t k = 0; k < nhh; k++)
        cr_assert_eq(s_count_in(hh, nhh, hh[k]), 1);

    cr_assert_eq(kt_compare_streams(&g, &hub, "registry", &creg), 0, "the hub's registry copy differs");
    cr_assert_eq(kt_compare_streams(&g, &hub, "cases", &ccases), 0, "the hub's cases copy differs");
    s_check_reports(&shared);

    fprintf(stderr,
            "%s: %ld writes tried, %zu acknowledged (%zu %s, %zu %s, %zu %s), %ld refused (%ld 'dysk pełny'), "
            "%ld unanswered%s%s%s; all acknowledged found once at the gmina; hub copy exact: %llu registry + %llu cases "
            "SHARED events; %zu task notifications, one each, %zu in the inbox, none twice; reports: %ld SHARED "
            "events taken once, figures equal after a rebuild (gmina and hub)\n",
            what, W.attempts, W.n, counted[0], s_kind_name[0], counted[1], s_kind_name[1], counted[2], s_kind_name[2],
            W.refused, W.disk_full, W.unanswered, W.refused ? " (last refusal: " : "", W.refused ? W.last_error : "",
            W.refused ? ")" : "", (unsigned long long)creg, (unsigned long long)ccases, notified,
            inbox->n_items, shared);
    koop__notif__inbox_list__free_unpacked(inbox, NULL);
    kt_events_free(reg_ev, nreg);
    kt_events_free(cases_ev, ncases);
    s_free_ids(inst, ninst);
    s_free_ids(hh, nhh);
    s_free_ids(tasks, ntasks);
}

static void
s_pair(const char *listen_host, const char *connect_host)
{
    int port = kt_free_port();
    char listen[64], hub_ep[64], key[PATH_MAX + 32];
    snprintf(listen, sizeof listen, "tcp://%s:%d", listen_host, port);
    snprintf(hub_ep, sizeof hub_ep, "tcp://%s:%d", connect_host, port);
    cr_assert_eq(kt_node_init(&hub, "hub", "2013", "Powiat wysokomazowiecki", "--listen", listen, NULL), 0);
    snprintf(key, sizeof key, "%s/keys/node.pub", hub.dir);
    cr_assert_eq(kt_node_init(&g, "gmina", "2013032", "Kobylin-Borzymy", "--hub", hub_ep, "--hub-key", key, NULL), 0);
    cr_assert_eq(kt_enrol(&hub, &g), 0);
}

/* ---- kill -9 at random ---- */

static int
s_rounds(void)
{
    const char *r = getenv("KOOP_FAULT_ROUNDS");
    return r && atoi(r) > 0 ? atoi(r) : 600;
}

static const struct {
    int hub;
    const char *name; /* NULL: the node's koop-node */
} s_victims[] = {
    {0, "koop-registry"}, {0, "koop-cases"}, {0, "koop-notifier"}, {0, "koop-reporting"}, {0, "koop-sync"},
    {0, NULL},            {1, "koop-registry"}, {1, "koop-sync"},  {1, "koop-reporting"}, {1, NULL},
};

Test(faults, kill_9_at_random)
{
    int rounds = s_rounds(), kills[KOOP_ARRAY_LEN(s_victims)] = {0}, missed = 0;
    const char *fixed = getenv("KOOP_FAULT_SEED"); /* a failed run's seed, to run it again */
    unsigned seed = fixed && *fixed ? (unsigned)strtoul(fixed, NULL, 10) : (unsigned)time(NULL);

    fprintf(stderr, "kill_9_at_random: %d rounds, seed %u\n", rounds, seed);
    srand(seed);
    s_pair("127.0.0.1", "127.0.0.1");
    cr_assert_eq(kt_node_start(&hub, 30), 0);
    cr_assert_eq(kt_node_start(&g, 30), 0);
    s_staff();
    s_load_start();
    for (int round = 0; round < rounds; round++) {
        size_t v = (size_t)rand() % KOOP_ARRAY_LEN(s_victims);
        kt_node_t *n = s_victims[v].hub ? &hub : &g;
        kt_sleep_ms(40 + rand() % 200);
        if (!n->pid) {
            cr_assert_eq(kt_node_start(n, 30), 0, "koop-node did not start again");
            continue;
        }
        if (s_victims[v].name) {
            pid_t pid = kt_child_pid(n->pid, s_victims[v].name);
            if (pid <= 0) {
                missed++; /* being restarted right now */
                continue;
            }
            kill(pid, SIGKILL);
        } else {
            int status;
            kill(n->pid, SIGKILL);
            waitpid(n->pid, &status, 0);
            n->pid = 0; /* its services stop (they follow their parent); started on a later round */
        }
        kills[v]++;
    }
    s_load_stop();
    kt_sleep_ms(500);
    if (!hub.pid)
        cr_assert_eq(kt_node_start(&hub, 30), 0);
    if (!g.pid)
        cr_assert_eq(kt_node_start(&g, 30), 0);
    {
        char line[1024];
        int used = 0, total = 0;
        for (size_t v = 0; v < KOOP_ARRAY_LEN(s_victims); v++) {
            used += snprintf(line + used, sizeof line - (size_t)used, "%s%s %s %d", v ? ", " : "",
                             s_victims[v].hub ? "hub" : "gmina", s_victims[v].name ? s_victims[v].name : "koop-node",
                             kills[v]);
            total += kills[v];
        }
        fprintf(stderr, "kill_9_at_random: %d kill -9 (%s); %d rounds found the victim restarting\n", total, line,
                missed);
    }
    s_check_all("kill_9_at_random");
}

/* ---- the link cut with network namespaces ---- */

/* Starts koop-node of n inside network namespace ns. */
static void
s_start_in(kt_node_t *n, const char *ns)
{
    char exe[PATH_MAX + 16], log[PATH_MAX + 16];
    pid_t pid;
    snprintf(exe, sizeof exe, "%s/koop-node", kt_bin());
    snprintf(log, sizeof log, "%s/node.log", n->dir);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        dup2(2, 1);
        execl("/usr/sbin/ip", "ip", "netns", "exec", ns, exe, "-c", n->conf, (char *)NULL);
        execl("/sbin/ip", "ip", "netns", "exec", ns, exe, "-c", n->conf, (char *)NULL);
        _exit(127);
    }
    n->pid = pid;
    for (int i = 0; i < 300; i++) {
        kt_run_t r;
        int ok = kt_ctl(&r, n, "--timeout", "500", "status", NULL) == 0 && r.code == 0;
        kt_run_free(&r);
        if (ok)
            return;
        kt_sleep_ms(100);
    }
    cr_assert_fail("koop-node in %s did not start", ns);
}

static json_t *
s_status_field(kt_node_t *n, const char *field)
{
    json_t *st = kt_sync_status(n), *v;
    cr_assert_not_null(st);
    v = json_incref(json_object_get(st, field));
    json_decref(st);
    return v;
}

Test(faults, link_cut_by_network_namespace)
{
    int id = (int)getpid() % 200 + 20;
    char ga[32], ha[32];
    json_t *connected;

    snprintf(netns_g, sizeof netns_g, "koop-g-%d", (int)getpid());
    snprintf(netns_h, sizeof netns_h, "koop-h-%d", (int)getpid());
    snprintf(ga, sizeof ga, "10.%d.0.1", id);
    snprintf(ha, sizeof ha, "10.%d.0.2", id);
    s_sh("ip netns add %s && ip netns add %s && ip link add kg%d type veth peer name kh%d && "
         "ip link set kg%d netns %s && ip link set kh%d netns %s && "
         "ip -n %s addr add %s/24 dev kg%d && ip -n %s addr add %s/24 dev kh%d && "
         "ip -n %s link set lo up && ip -n %s link set lo up && ip -n %s link set kg%d up && ip -n %s link set kh%d up",
         netns_g, netns_h, id, id, id, netns_g, id, netns_h, netns_g, ga, id, netns_h, ha, id, netns_g, netns_h,
         netns_g, id, netns_h, id);
    s_pair(ha, ha);
    s_start_in(&hub, netns_h);
    s_start_in(&g, netns_g);
    s_staff();
    cr_assert_eq(kt_wait_synced(&g, 60), 0, "no sync over the veth pair");
    s_load_start();
    for (int cut = 0; cut < 3; cut++) {
        kt_sleep_ms(1000);
        s_sh("ip -n %s link set kg%d down", netns_g, id);
        /* the gmina notices (no more heartbeats) and keeps working */
        for (int i = 0; i < 100; i++) {
            connected = s_status_field(&g, "connected");
            int down = json_is_false(connected);
            json_decref(connected);
            if (down)
                break;
            kt_sleep_ms(100);
        }
        connected = s_status_field(&g, "connected");
        cr_assert(json_is_false(connected), "the gmina still says connected with the link down");
        json_decref(connected);
        kt_sleep_ms(1500);
        s_sh("ip -n %s link set kg%d up", netns_g, id);
        kt_sleep_ms(2000); /* the load goes on; everything is checked at the end */
    }
    s_load_stop();
    s_check_all("link_cut_by_network_namespace");
}

/* ---- the disk full ---- */

Test(faults, disk_full)
{
    char data[PATH_MAX + 16], ballast[PATH_MAX + 32], cmd[3 * PATH_MAX];
    long acked_full, refused_full;
    kt_run_t r;

    s_pair("127.0.0.1", "127.0.0.1");
    /* the gmina's data directory on a 64 MB tmpfs of its own */
    snprintf(data, sizeof data, "%s/data", g.dir);
    snprintf(mnt, sizeof mnt, "%s", data);
    cr_assert_eq(mkdir(data, 0700) == 0 || errno == EEXIST, 1);
    cr_assert_eq(mount("tmpfs", data, "tmpfs", 0, "size=64m,mode=0700"), 0, "mount tmpfs: %s", strerror(errno));
    cr_assert_eq(kt_node_start(&hub, 30), 0);
    cr_assert_eq(kt_node_start(&g, 30), 0);
    s_staff();
    /* fill it but for ~2 MB */
    snprintf(ballast, sizeof ballast, "%s/ballast", data);
    snprintf(cmd, sizeof cmd,
             "dd if=/dev/zero of=%s bs=1M count=$(($(df -m --output=avail %s | tail -1) - 2)) 2>/dev/null", ballast,
             data);
    s_sh("%s", cmd);
    s_load_start();
    for (int i = 0; i < 600; i++) {
        pthread_mutex_lock(&W.mu);
        int full = W.disk_full >= 20;
        pthread_mutex_unlock(&W.mu);
        if (full)
            break;
        kt_sleep_ms(100);
    }
    pthread_mutex_lock(&W.mu);
    acked_full = (long)W.n;
    refused_full = W.refused;
    pthread_mutex_unlock(&W.mu);
    cr_assert_geq(W.disk_full, 20, "no 'dysk pełny' refusals (refused %ld, last: %s)", W.refused, W.last_error);
    /* every refusal while full says so, not "Input/output error" */
    cr_assert_eq(W.disk_full, W.refused, "%ld refusals, %ld said 'dysk pełny'; last: %s", W.refused, W.disk_full,
                 W.last_error);
    /* the node still answers (a status round may meet a batch's failing commit) */
    for (int i = 0; i < 10; i++) {
        int ok;
        cr_assert_eq(kt_ctl(&r, &g, "status", NULL), 0);
        ok = r.code == 0;
        if (!ok && i == 9)
            cr_assert_fail("status while the disk is full: %s%s", r.out, r.err);
        kt_run_free(&r);
        if (ok)
            break;
        kt_sleep_ms(300);
    }
    /* space comes back: writes work again without a restart */
    cr_assert_eq(unlink(ballast), 0);
    for (int i = 0; i < 300; i++) {
        pthread_mutex_lock(&W.mu);
        int again = (long)W.n >= acked_full + 30;
        pthread_mutex_unlock(&W.mu);
        if (again)
            break;
        kt_sleep_ms(100);
    }
    cr_assert_geq((long)W.n, acked_full + 30, "writes did not resume after space came back");
    s_load_stop();
    fprintf(stderr, "disk_full: %ld acknowledged before the disk filled, %ld refused while full\n", acked_full,
            refused_full);
    s_check_all("disk_full");
}
