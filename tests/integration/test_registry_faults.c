/*
 * Registry under faults, talking to the service's socket directly: bad
 * bytes on the wire, and kill -9 in the middle of a stream of writes.
 */
#include "config.h"
#include "envelope.pb-c.h"
#include "koop.h"
#include "koop_test.h"
#include "registry.pb-c.h"
#include "client.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static kt_node_t node;
static koop_config_t cfg;

static void
s_setup(void)
{
    char err[600];
    cr_assert_eq(kt_node_init(&node, "gmina", "2013032", "Faults", NULL), 0);
    cr_assert_eq(kt_node_start(&node, 20), 0);
    cr_assert_eq(koop_config_load(&cfg, node.conf, err, sizeof err), 0, "%s", err);
}

static void
s_teardown(void)
{
    cr_assert_eq(kt_node_destroy(&node), 0, "the node's processes reported sanitizer errors");
}

TestSuite(registry_faults, .init = s_setup, .fini = s_teardown, .timeout = 180);

/* Sends raw frames on a fresh DEALER and returns the reply status, or -1 when
 * no reply came within 2 s; *err gets the reply's error. */
static int
s_raw(void *ctx, const void *const *frames, const size_t *lens, int n, koop_error_t *err)
{
    void *s = koop_rpc_dealer_new(ctx, koop_config_endpoint(&cfg, "registry"));
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    int status = -1;
    koop_error_clear(err);
    cr_assert_not_null(s);
    for (int i = 0; i < n; i++)
        cr_assert_geq(zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0), 0);
    if (zmq_poll(&it, 1, 2000) == 1) {
        zmq_msg_t m;
        uint64_t id;
        koop_reply_t r;
        zmq_msg_init(&m);
        cr_assert_geq(zmq_msg_recv(&m, s, 0), 0);
        cr_assert_eq(koop_rpc_unpack_reply(zmq_msg_data(&m), zmq_msg_size(&m), &id, &r), 0,
                     "the reply to bad input must itself be a valid reply");
        status = r.status;
        cr_assert(r.err.code[0] && koop_err_find(r.err.code) != KOOP_ERR_NONE,
                  "an error reply needs a code of the catalogue (got '%s')", r.err.code);
        *err = r.err;
        koop_reply_clear(&r);
        zmq_msg_close(&m);
    }
    zmq_close(s);
    return status;
}

static size_t
s_count_institutions(void)
{
    koop_rpc_client_t *c = koop_rpc_client_new(koop_config_endpoint(&cfg, "registry"));
    Koop__Reg__InstitutionQuery q = KOOP__REG__INSTITUTION_QUERY__INIT;
    koop_reply_t r;
    size_t n;
    cr_assert_eq(koop_rpc_call(c, NULL, "institution.list", &q.base, 5000, &r), 0);
    cr_assert_eq(r.status, KOOP_OK);
    Koop__Reg__InstitutionList *l = koop__reg__institution_list__unpack(NULL, r.len, r.payload);
    cr_assert_not_null(l);
    n = l->n_items;
    koop__reg__institution_list__free_unpacked(l, NULL);
    koop_reply_clear(&r);
    koop_rpc_client_destroy(&c);
    return n;
}

Test(registry_faults, garbage_on_the_wire_gets_error_replies_and_changes_nothing)
{
    void *ctx = zmq_ctx_new();
    uint8_t *env;
    size_t len;
    Koop__Reg__Person person = KOOP__REG__PERSON__INIT;
    koop_error_t e;

    /* random bytes */
    const char garbage[] = "\xff\xff\xff\x07garbage\x00\x01";
    const void *f1[] = {garbage};
    size_t l1[] = {sizeof garbage};
    cr_assert_eq(s_raw(ctx, f1, l1, 1, &e), KOOP_MALFORMED);
    kt_err_is("random bytes", e.code, e.field, "request.malformed", NULL);

    /* too many frames */
    const void *f2[] = {"a", "b", "c"};
    size_t l2[] = {1, 1, 1};
    cr_assert_eq(s_raw(ctx, f2, l2, 3, &e), KOOP_MALFORMED);
    kt_err_is("too many frames", e.code, e.field, "request.frames", NULL);

    /* an empty message */
    const void *f3[] = {""};
    size_t l3[] = {0};
    cr_assert_eq(s_raw(ctx, f3, l3, 1, &e), KOOP_MALFORMED);
    kt_err_is("an empty message", e.code, e.field, "request.malformed", NULL);

    /* an unknown method */
    cr_assert_eq(koop_rpc_pack_request(7, "", "institution.explode", NULL, &env, &len), 0);
    const void *f4[] = {env};
    size_t l4[] = {len};
    cr_assert_eq(s_raw(ctx, f4, l4, 1, &e), KOOP_INVALID);
    kt_err_is("an unknown method", e.code, e.field, "method.unknown", NULL);
    free(env);

    /* the wrong message type for the method: a person for institution.add */
    person.name = "Jan";
    person.institution = "x";
    cr_assert_eq(koop_rpc_pack_request(8, "", "institution.add", &person.base, &env, &len), 0);
    const void *f5[] = {env};
    size_t l5[] = {len};
    int st = s_raw(ctx, f5, l5, 1, &e);
    /* a person's fields read as an institution's: wrong wire types (not
     * readable) or, if readable, an institution without sector */
    cr_assert(st == KOOP_INVALID || st == KOOP_MALFORMED, "got %d", st);
    if (st == KOOP_MALFORMED)
        kt_err_is("the wrong message type", e.code, e.field, "request.payload", NULL);
    else
        cr_assert(strncmp(e.code, "field.", 6) == 0, "the wrong message type: %s", e.code);
    free(env);

    /* a payload that is not protobuf at all */
    {
        Koop__Request req = KOOP__REQUEST__INIT;
        uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
        req.method = "institution.add";
        req.has_payload = 1;
        req.payload.data = junk;
        req.payload.len = sizeof junk;
        len = koop__request__get_packed_size(&req);
        env = malloc(len);
        koop__request__pack(&req, env);
        const void *f6[] = {env};
        size_t l6[] = {len};
        cr_assert_eq(s_raw(ctx, f6, l6, 1, &e), KOOP_MALFORMED);
        kt_err_is("a payload that is not protobuf", e.code, e.field, "request.payload", NULL);
        free(env);
    }

    /* oversized: more than KOOP_MAX_MSG; ZeroMQ drops the connection, no reply */
    {
        size_t big = KOOP_MAX_MSG + 1024;
        char *buf = calloc(1, big);
        const void *f7[] = {buf};
        size_t l7[] = {big};
        cr_assert_eq(s_raw(ctx, f7, l7, 1, &e), -1);
        free(buf);
    }

    /* an over-long field inside a valid message */
    {
        Koop__Reg__Institution inst = KOOP__REG__INSTITUTION__INIT;
        char *name = malloc(100000);
        memset(name, 'a', 99999);
        name[99999] = '\0';
        inst.name = name;
        inst.has_sector = 1;
        inst.sector = KOOP__REG__SECTOR__SECTOR_POLICE;
        inst.has_level = 1;
        inst.level = KOOP__REG__LEVEL__LEVEL_GMINA;
        cr_assert_eq(koop_rpc_pack_request(9, "", "institution.add", &inst.base, &env, &len), 0);
        const void *f8[] = {env};
        size_t l8[] = {len};
        cr_assert_eq(s_raw(ctx, f8, l8, 1, &e), KOOP_INVALID);
        kt_err_is("an over-long name", e.code, e.field, "text.too_long", "name");
        free(env);
        free(name);
    }

    /* an enum value out of range */
    {
        Koop__Reg__Institution inst = KOOP__REG__INSTITUTION__INIT;
        inst.name = "X";
        inst.has_sector = 1;
        inst.sector = 99;
        inst.has_level = 1;
        inst.level = KOOP__REG__LEVEL__LEVEL_GMINA;
        cr_assert_eq(koop_rpc_pack_request(10, "", "institution.add", &inst.base, &env, &len), 0);
        const void *f9[] = {env};
        size_t l9[] = {len};
        cr_assert_eq(s_raw(ctx, f9, l9, 1, &e), KOOP_INVALID);
        kt_err_is("an enum value out of range", e.code, e.field, "field.enum", "sector");
        cr_assert_str_eq(e.args[0], "99");
        cr_assert(strstr(e.args[1], "social_assistance") && strstr(e.args[1], "other"), "allowed: %s", e.args[1]);
        free(env);
    }

    zmq_ctx_term(ctx);
    cr_assert_eq(s_count_institutions(), 0, "bad input wrote something");
    /* the same process still serves */
    char *id = kt_ctl_id(&node, "institution", "add", "--name", "OK", "--sector", "police", "--level", "gmina", NULL);
    cr_assert_not_null(id);
    free(id);
    cr_assert_eq(s_count_institutions(), 1);
}

typedef struct {
    char (*ids)[KOOP_ID_LEN];
    size_t n;
} s_ids;

static int
s_has(const s_ids *set, const char *id)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->ids[i], id) == 0)
            return 1;
    return 0;
}

/* kill -9 of the registry while a pipelined client writes: every write that
 * was acknowledged is there after the restart; every record in the table has
 * exactly its event; the log has no gaps. */
Test(registry_faults, kill9_mid_stream_loses_no_acknowledged_write)
{
    enum { TOTAL = 4000, WINDOW = 64 };
    koop_rpc_client_t *c = koop_rpc_client_new(koop_config_endpoint(&cfg, "registry"));
    s_ids acked = {calloc(TOTAL, KOOP_ID_LEN), 0};
    size_t sent = 0, inflight = 0, killed = 0;
    pid_t reg = kt_child_pid(node.pid, "koop-registry");
    cr_assert(reg > 0);
    srand((unsigned)getpid());
    size_t kill_at = 300 + (size_t)(rand() % 1500);

    while (sent < TOTAL || inflight > 0) {
        while (sent < TOTAL && inflight < WINDOW) {
            Koop__Reg__Institution inst = KOOP__REG__INSTITUTION__INIT;
            char name[32];
            snprintf(name, sizeof name, "Instytucja %zu", sent);
            inst.name = name;
            inst.has_sector = 1;
            inst.sector = KOOP__REG__SECTOR__SECTOR_NGO;
            inst.has_level = 1;
            inst.level = KOOP__REG__LEVEL__LEVEL_GMINA;
            if (koop_rpc_send(c, NULL, "institution.add", &inst.base, NULL) != 0)
                break;
            sent++;
            inflight++;
        }
        koop_reply_t r;
        uint64_t rid;
        int rc = koop_rpc_recv(c, 3000, &rid, &r);
        if (rc == -ETIMEDOUT) {
            /* the requests in flight at the kill are lost with the process:
             * they were never acknowledged, so they may or may not be there */
            inflight = 0;
            continue;
        }
        cr_assert_eq(rc, 0);
        inflight--;
        if (r.status == KOOP_OK) {
            Koop__Reg__Institution *got = koop__reg__institution__unpack(NULL, r.len, r.payload);
            cr_assert_not_null(got);
            snprintf(acked.ids[acked.n++], KOOP_ID_LEN, "%s", got->id);
            koop__reg__institution__free_unpacked(got, NULL);
        }
        koop_reply_clear(&r);
        if (!killed && acked.n >= kill_at) {
            kill(reg, SIGKILL);
            killed = 1;
        }
    }
    koop_rpc_client_destroy(&c);
    cr_assert(killed, "the registry was never killed");
    cr_assert_gt(acked.n, kill_at);
    cr_assert_neq(kt_child_pid(node.pid, "koop-registry"), reg, "koop-node restarted the registry");

    /* read the table and the log back */
    c = koop_rpc_client_new(koop_config_endpoint(&cfg, "registry"));
    Koop__Reg__InstitutionQuery q = KOOP__REG__INSTITUTION_QUERY__INIT;
    koop_reply_t r;
    cr_assert_eq(koop_rpc_call(c, NULL, "institution.list", &q.base, 10000, &r), 0);
    Koop__Reg__InstitutionList *list = koop__reg__institution_list__unpack(NULL, r.len, r.payload);
    koop_reply_clear(&r);
    cr_assert_not_null(list);
    s_ids table = {calloc(list->n_items + 1, KOOP_ID_LEN), 0};
    for (size_t i = 0; i < list->n_items; i++)
        snprintf(table.ids[table.n++], KOOP_ID_LEN, "%s", list->items[i]->id);
    koop__reg__institution_list__free_unpacked(list, NULL);
    for (size_t i = 0; i < acked.n; i++)
        cr_assert(s_has(&table, acked.ids[i]), "acknowledged write %s lost", acked.ids[i]);

    uint64_t after = 0, events = 0;
    s_ids logged = {calloc(table.n + 1, KOOP_ID_LEN), 0};
    for (;;) {
        Koop__FeedFetch f = KOOP__FEED_FETCH__INIT;
        f.stream = "registry";
        f.has_after_seq = 1;
        f.after_seq = after;
        cr_assert_eq(koop_rpc_call(c, NULL, "feed.fetch", &f.base, 10000, &r), 0);
        Koop__FeedBatch *b = koop__feed_batch__unpack(NULL, r.len, r.payload);
        koop_reply_clear(&r);
        cr_assert_not_null(b);
        size_t n = b->n_events;
        for (size_t i = 0; i < n; i++) {
            Koop__Event *ev = koop__event__unpack(NULL, b->events[i].len, b->events[i].data);
            cr_assert_eq(ev->seq, after + 1, "gap in the log at %llu", (unsigned long long)after);
            after = ev->seq;
            events++;
            cr_assert_str_eq(ev->type, "institution.added");
            Koop__Reg__Institution *p = koop__reg__institution__unpack(NULL, ev->payload.len, ev->payload.data);
            cr_assert_lt(logged.n, table.n + 1, "more events than records");
            snprintf(logged.ids[logged.n++], KOOP_ID_LEN, "%s", p->id);
            koop__reg__institution__free_unpacked(p, NULL);
            koop__event__free_unpacked(ev, NULL);
        }
        koop__feed_batch__free_unpacked(b, NULL);
        if (n == 0)
            break;
    }
    cr_assert_eq(events, table.n, "log and table disagree: %llu events, %zu records",
                 (unsigned long long)events, table.n);
    for (size_t i = 0; i < table.n; i++)
        cr_assert(s_has(&logged, table.ids[i]), "record %s has no event", table.ids[i]);
    koop_rpc_client_destroy(&c);
    free(acked.ids);
    free(table.ids);
    free(logged.ids);
}

/* A consumer long-polls: a fetch with nothing new waits, and is answered as
 * soon as a write commits. */
Test(registry_faults, feed_fetch_long_polls_until_a_commit)
{
    koop_rpc_client_t *c = koop_rpc_client_new(koop_config_endpoint(&cfg, "registry"));
    Koop__FeedFetch f = KOOP__FEED_FETCH__INIT;
    uint64_t rid;
    koop_reply_t r;
    f.stream = "registry";
    f.has_after_seq = 1;
    f.has_wait_ms = 1;
    f.wait_ms = 10000;
    cr_assert_eq(koop_rpc_send(c, NULL, "feed.fetch", &f.base, &rid), 0);
    cr_assert_eq(koop_rpc_recv(c, 300, &rid, &r), -ETIMEDOUT, "an empty fetch must wait");
    char *id = kt_ctl_id(&node, "institution", "add", "--name", "Nowa", "--sector", "police", "--level",
                         "gmina", NULL);
    cr_assert_not_null(id);
    cr_assert_eq(koop_rpc_recv(c, 2000, &rid, &r), 0, "the waiting fetch was not answered after a commit");
    Koop__FeedBatch *b = koop__feed_batch__unpack(NULL, r.len, r.payload);
    cr_assert_eq(b->n_events, 1);
    koop__feed_batch__free_unpacked(b, NULL);
    koop_reply_clear(&r);
    koop_rpc_client_destroy(&c);
    free(id);
}
