/* Unit tests of common/feed: a batch as the consumer takes it (koop_feed_take). */
#include "envelope.pb-c.h"
#include "client.h"
#include "feed.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static char dir[64];
static koop_store_t *store;
static uv_loop_t loop;
static void *zctx;
static koop_feed_t *feed;
static int applied;

static int
s_apply(MDB_txn *txn, const Koop__Event *ev, void *ctx)
{
    (void)txn;
    (void)ctx;
    applied++;
    /* the consumer refuses an event about what its node does not own */
    return ev->actor && strcmp(ev->actor, "refuse") == 0 ? KOOP_FEED_REFUSED : 0;
}

static koop_client_t *client;

static void
s_setup(void)
{
    koop_feed_opts_t o = {0};
    char ep[96];
    snprintf(dir, sizeof dir, "/tmp/kfeed.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(koop_store_open(&store, dir, NULL), 0);
    cr_assert_eq(uv_loop_init(&loop), 0);
    zctx = zmq_ctx_new();
    snprintf(ep, sizeof ep, "ipc://%s/nobody", dir);
    o.loop = &loop;
    client = koop_client_new(&loop, zctx);
    cr_assert_not_null(client);
    o.client = client;
    o.store = store;
    o.endpoint = ep;
    o.stream = "registry";
    o.apply = s_apply;
    feed = koop_feed_start(&o);
    cr_assert_not_null(feed);
    applied = 0;
}

static void
s_teardown(void)
{
    char cmd[96];
    koop_feed_destroy(&feed);
    koop_client_destroy(&client);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    zmq_ctx_term(zctx);
    koop_store_destroy(&store);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(feed, .init = s_setup, .fini = s_teardown);

/* A FeedBatch of events at seqs; bad[i] makes event i undecodable (1), of
 * another stream (2), or one the consumer refuses (3). With
 * with_seqs the batch names each event's position. Caller frees. */
static uint8_t *
s_batch(const uint64_t *seqs, const int *bad, size_t n, int with_seqs, size_t *len)
{
    Koop__FeedBatch b = KOOP__FEED_BATCH__INIT;
    ProtobufCBinaryData ev[8];
    uint8_t bufs[8][128], *out;
    uint64_t s[8];
    for (size_t i = 0; i < n; i++) {
        Koop__Event e = KOOP__EVENT__INIT;
        size_t l;
        e.node = "gmina-2013032";
        e.stream = bad[i] == 2 ? "cases" : "registry";
        e.actor = bad[i] == 3 ? "refuse" : NULL;
        e.has_seq = 1;
        e.seq = seqs[i];
        e.type = "institution.added";
        l = koop__event__pack(&e, bufs[i]);
        if (bad[i] == 1) {
            bufs[i][l++] = 0x48; /* payload (bytes) as a varint */
            bufs[i][l++] = 0x07;
        }
        ev[i].data = bufs[i];
        ev[i].len = l;
        s[i] = seqs[i];
    }
    b.events = ev;
    b.n_events = n;
    if (with_seqs) {
        b.seqs = s;
        b.n_seqs = n;
    }
    b.log_id = "0190f1c2-0000-7000-8000-000000000001";
    *len = koop__feed_batch__get_packed_size(&b);
    out = malloc(*len);
    koop__feed_batch__pack(&b, out);
    return out;
}

Test(feed, moves_past_an_undecodable_event_whose_position_is_given)
{
    uint64_t seqs[] = {1, 2, 3};
    int bad[] = {0, 1, 0};
    size_t len;
    uint8_t *b = s_batch(seqs, bad, 3, 1, &len);
    cr_assert_eq(koop_feed_take(feed, b, len), 0);
    cr_assert_eq(koop_feed_position(feed), 3);
    cr_assert_eq(applied, 2);
    cr_assert_not(koop_feed_failed(feed));
    free(b);
}

Test(feed, keeps_a_batch_out_when_the_position_is_unknown_and_stops_after_a_bound)
{
    uint64_t seqs[] = {1};
    int bad[] = {1};
    size_t len;
    uint8_t *b = s_batch(seqs, bad, 1, 0, &len);
    for (int i = 0; i < KOOP_FEED_MAX_BAD; i++) {
        cr_assert_neq(koop_feed_take(feed, b, len), 0);
        cr_assert_eq(koop_feed_position(feed), 0);
    }
    cr_assert(koop_feed_failed(feed), "the feed goes on retrying an undecodable batch for ever");
    cr_assert_eq(applied, 0);
    free(b);
}

Test(feed, moves_past_events_of_another_stream_and_those_the_consumer_refuses_and_counts_them)
{
    uint64_t seqs[] = {1, 2, 3, 4};
    int bad[] = {0, 2, 3, 0};
    size_t len;
    uint8_t *b = s_batch(seqs, bad, 4, 1, &len);
    cr_assert_eq(koop_feed_take(feed, b, len), 0);
    cr_assert_eq(koop_feed_position(feed), 4);
    cr_assert_eq(applied, 3, "an event of another stream reached the consumer");
    cr_assert_eq(koop_feed_refused(feed), 2);
    cr_assert_not(koop_feed_failed(feed));
    free(b);
}
