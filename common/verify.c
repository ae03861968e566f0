/* verify.c - events.verify and feed.digest (see verify.h). */
#include "verify.h"
#include "log.h"
#include "record.h"
#include "say.h"
#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the report ---- */

struct koop_verify_report {
    Koop__VerifyReport msg;
    Koop__VerifyProblem problems[KOOP_VERIFY_LISTED];
    Koop__VerifyProblem *ptrs[KOOP_VERIFY_LISTED];
    char *strings[KOOP_VERIFY_LISTED][KOOP_ERR_MAX_ARGS + 2];
    char *args[KOOP_VERIFY_LISTED][KOOP_ERR_MAX_ARGS];
    char stream[64];
};

koop_verify_report_t *
koop_verify_report_new(const char *stream)
{
    koop_verify_report_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    koop__verify_report__init(&r->msg);
    snprintf(r->stream, sizeof r->stream, "%s", stream ? stream : "");
    r->msg.stream = r->stream;
    r->msg.problems = r->ptrs;
    r->msg.has_found = r->msg.has_ok = 1;
    r->msg.ok = 1;
    return r;
}

void
koop_verify_report_add(koop_verify_report_t *r, uint64_t seq, koop_err_t code, const char *const *args)
{
    koop_error_t e;
    char message[512];
    size_t i = r->msg.n_problems, nstr = 0;
    Koop__VerifyProblem *p;

    r->msg.found++;
    r->msg.ok = 0;
    if (i >= KOOP_VERIFY_LISTED)
        return;
    koop_error_set(&e, code, NULL, args);
    koop_error_render(&e, KOOP_LANG_PL, NULL, message, sizeof message);
    p = &r->problems[i];
    koop__verify_problem__init(p);
    p->has_seq = 1;
    p->seq = seq;
    if (!(p->code = r->strings[i][nstr++] = strdup(e.code)) ||
        !(p->message = r->strings[i][nstr++] = strdup(message)))
        return; /* counted; listed without its text */
    for (size_t a = 0; a < e.nargs; a++)
        if ((r->args[i][a] = strdup(e.args[a])))
            p->n_args++;
    p->args = r->args[i];
    r->ptrs[i] = p;
    r->msg.n_problems++;
}

Koop__VerifyReport *
koop_verify_report_msg(koop_verify_report_t *r)
{
    return &r->msg;
}

void
koop_verify_report_destroy(koop_verify_report_t **self_p)
{
    koop_verify_report_t *r;
    if (!self_p || !*self_p)
        return;
    r = *self_p;
    for (size_t i = 0; i < KOOP_VERIFY_LISTED; i++) {
        for (size_t j = 0; j < KOOP_ERR_MAX_ARGS + 2; j++)
            free(r->strings[i][j]);
        for (size_t j = 0; j < KOOP_ERR_MAX_ARGS; j++)
            free(r->args[i][j]);
    }
    free(r);
    *self_p = NULL;
}

/* ---- what is expected: (table, id) -> bytes, open addressing ---- */

typedef struct {
    char *key;       /* table \0 id, NULL: empty slot */
    size_t key_len;
    uint8_t *bytes;
    size_t len;
    uint64_t seq;
    int seen;
} s_slot;

struct koop_verify {
    koop_verify_report_t *report;
    s_slot *slots;
    size_t cap, n;
    uint64_t records;
    void *user;
};

static uint64_t
s_hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

static size_t
s_make_key(char *out, size_t size, const char *table, const char *id)
{
    int n = snprintf(out, size, "%s%c%s", table, '\0', id);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

static s_slot *
s_find(koop_verify_t *v, const char *key, size_t len)
{
    if (!v->cap)
        return NULL;
    for (size_t i = s_hash(key, len) & (v->cap - 1);; i = (i + 1) & (v->cap - 1)) {
        s_slot *s = &v->slots[i];
        if (!s->key)
            return s;
        if (s->key_len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

static int
s_grow(koop_verify_t *v)
{
    size_t cap = v->cap ? v->cap * 2 : 1024;
    s_slot *old = v->slots, *slots = calloc(cap, sizeof *slots);
    size_t oldcap = v->cap;
    if (!slots)
        return -ENOMEM;
    v->slots = slots;
    v->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            *s_find(v, old[i].key, old[i].key_len) = old[i];
    free(old);
    return 0;
}

int
koop_verify_expect(koop_verify_t *v, const char *table, const char *id, uint64_t seq, const uint8_t *bytes,
                   size_t len)
{
    char key[160];
    size_t klen = s_make_key(key, sizeof key, table, id);
    uint8_t *copy;
    s_slot *s;
    if (!klen)
        return 0; /* no record has such an id */
    if ((v->n + 1) * 10 > v->cap * 7 && s_grow(v) != 0)
        return -ENOMEM;
    if (!(copy = malloc(len ? len : 1)))
        return -ENOMEM;
    memcpy(copy, bytes, len);
    s = s_find(v, key, klen);
    if (!s->key) {
        if (!(s->key = malloc(klen))) {
            free(copy);
            return -ENOMEM;
        }
        memcpy(s->key, key, klen);
        s->key_len = klen;
        v->n++;
    }
    free(s->bytes);
    s->bytes = copy;
    s->len = len;
    s->seq = seq;
    return 0;
}

const uint8_t *
koop_verify_expected(koop_verify_t *v, const char *table, const char *id, size_t *len, uint64_t *seq)
{
    char key[160];
    size_t klen = s_make_key(key, sizeof key, table, id);
    s_slot *s = klen ? s_find(v, key, klen) : NULL;
    if (!s || !s->key)
        return NULL;
    *len = s->len;
    if (seq)
        *seq = s->seq;
    return s->bytes;
}

void
koop_verify_problem(koop_verify_t *v, uint64_t seq, koop_err_t code, const char *const *args)
{
    koop_verify_report_add(v->report, seq, code, args);
}

void
koop_verify_counted(koop_verify_t *v, uint64_t records)
{
    v->records += records;
}

void **
koop_verify_user(koop_verify_t *v)
{
    return &v->user;
}

static void
s_verify_free(koop_verify_t *v)
{
    for (size_t i = 0; i < v->cap; i++) {
        free(v->slots[i].key);
        free(v->slots[i].bytes);
    }
    free(v->slots);
}

/* ---- the walk ---- */

typedef struct {
    koop_verify_t v;
    const koop_verify_def_t *def;
} s_walk;

static void
s_on_problem(void *ctx, uint64_t seq, koop_err_t code, const char *const *args)
{
    koop_verify_problem(&((s_walk *)ctx)->v, seq, code, args);
}

/* The table whose records are `desc` messages, or NULL. */
static const koop_verify_table_t *
s_table_of(const koop_verify_def_t *def, const ProtobufCMessageDescriptor *desc)
{
    for (size_t i = 0; def && desc && i < def->ntables; i++)
        if (def->tables[i].record == desc)
            return &def->tables[i];
    return NULL;
}

/* The generic rule: an event whose payload (or, for a record that came from
 * a hub, the payload of the envelope it carries) is a record of a table. */
static int
s_expect_payload(s_walk *w, uint64_t seq, const ProtobufCMessage *payload, const uint8_t *bytes, size_t len)
{
    const koop_verify_table_t *t = s_table_of(w->def, payload->descriptor);
    const char *id;
    if (t) {
        id = koop_record_str(payload, "id");
        return id && *id ? koop_verify_expect(&w->v, t->table, id, seq, bytes, len) : 0;
    }
    if (payload->descriptor == &koop__event__descriptor) {
        const Koop__Event *inner = (const Koop__Event *)payload;
        const koop_event_type_t *it;
        ProtobufCMessage *ip;
        int rc = 0;
        if (koop_event_decode(inner, &it, &ip) != 0)
            return 0;
        if ((t = s_table_of(w->def, ip->descriptor)) && (id = koop_record_str(ip, "id")) && *id)
            rc = koop_verify_expect(&w->v, t->table, id, seq, inner->payload.data, inner->payload.len);
        protobuf_c_message_free_unpacked(ip, NULL);
        return rc;
    }
    return 0;
}

static int
s_on_entry(void *ctx, uint64_t seq, const uint8_t *env, size_t len, int redacted)
{
    s_walk *w = ctx;
    Koop__Event *ev;
    const koop_event_type_t *t = NULL;
    ProtobufCMessage *p = NULL;
    int rc = 0;
    if (!w->def)
        return 0; /* no records to check: the chains only */
    if (!(ev = koop__event__unpack(NULL, len, env)))
        return 0; /* the chain walk has reported it */
    if (!redacted && koop_event_decode(ev, &t, &p) == 0)
        rc = s_expect_payload(w, seq, p, ev->payload.data, ev->payload.len);
    else if (!t)
        t = koop_event_type(ev->type ? ev->type : "");
    if (rc == 0 && w->def && w->def->event)
        rc = w->def->event(&w->v, seq, ev, t, p, redacted);
    if (p)
        protobuf_c_message_free_unpacked(p, NULL);
    koop__event__free_unpacked(ev, NULL);
    return rc;
}

/* Compares two stored forms of a record through its message (protobuf
 * encodings of one message may differ in order or unknown fields). */
static int
s_same_record(const koop_verify_table_t *t, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
              int *same)
{
    ProtobufCMessage *ma, *mb;
    uint8_t *pa = NULL, *pb = NULL;
    size_t la, lb;
    int rc = 0;
    if (alen == blen && memcmp(a, b, alen) == 0 && !t->normalize) {
        *same = 1;
        return 0;
    }
    ma = protobuf_c_message_unpack(t->record, NULL, alen, a);
    mb = protobuf_c_message_unpack(t->record, NULL, blen, b);
    if (!ma || !mb) {
        rc = 1; /* undecodable */
        goto done;
    }
    if (t->normalize)
        t->normalize(ma, mb);
    la = protobuf_c_message_get_packed_size(ma);
    lb = protobuf_c_message_get_packed_size(mb);
    pa = malloc(la ? la : 1);
    pb = malloc(lb ? lb : 1);
    if (!pa || !pb) {
        rc = -ENOMEM;
        goto done;
    }
    protobuf_c_message_pack(ma, pa);
    protobuf_c_message_pack(mb, pb);
    *same = la == lb && memcmp(pa, pb, la) == 0;
done:
    free(pa);
    free(pb);
    if (ma)
        protobuf_c_message_free_unpacked(ma, NULL);
    if (mb)
        protobuf_c_message_free_unpacked(mb, NULL);
    return rc;
}

static int
s_compare_table(s_walk *w, MDB_txn *txn, koop_store_t *store, const koop_verify_table_t *t)
{
    MDB_cursor *cur;
    MDB_val k, val;
    char key[160], id[128];
    size_t tl = strlen(t->table);
    int rc = koop_mdb_rc(mdb_cursor_open(txn, koop_store_dbi(store, t->table), &cur));
    if (rc != 0)
        return rc;
    while ((rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &val, MDB_NEXT))) == 0) {
        size_t klen;
        s_slot *s;
        int same = 0, r;
        snprintf(id, sizeof id, "%.*s", (int)(k.mv_size < sizeof id ? k.mv_size : sizeof id - 1),
                 (const char *)k.mv_data);
        w->v.records++;
        klen = s_make_key(key, sizeof key, t->table, id);
        s = klen ? s_find(&w->v, key, klen) : NULL;
        if (!s || !s->key) {
            koop_verify_fail(&w->v, 0, VERIFY_RECORD_EXTRA, t->table, id);
            continue;
        }
        s->seen = 1;
        if (!t->record) { /* raw values (an index): byte for byte */
            r = 0;
            same = val.mv_size == s->len && memcmp(val.mv_data, s->bytes, s->len) == 0;
        } else {
            r = s_same_record(t, val.mv_data, val.mv_size, s->bytes, s->len, &same);
        }
        if (r < 0) {
            rc = r;
            break;
        }
        if (r > 0)
            koop_verify_fail(&w->v, s->seq, VERIFY_RECORD_UNDECODABLE, t->table, id);
        else if (!same)
            koop_verify_fail(&w->v, s->seq, VERIFY_RECORD_DIFFERS, t->table, id, KOOP_NUM(s->seq));
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    /* made by an event, not in the table */
    for (size_t i = 0; i < w->v.cap; i++) {
        s_slot *s = &w->v.slots[i];
        if (!s->key || s->seen || s->key_len <= tl || memcmp(s->key, t->table, tl + 1) != 0)
            continue;
        koop_verify_fail(&w->v, s->seq, VERIFY_RECORD_MISSING, t->table, s->key + tl + 1, KOOP_NUM(s->seq));
    }
    return 0;
}

int
koop_verify_events(koop_call_t *call)
{
    const Koop__VerifyQuery *q = (const Koop__VerifyQuery *)call->req;
    koop_log_t *log = koop_service_log(call->svc);
    const koop_verify_def_t *def = koop_service_def(call->svc)->verify;
    koop_store_t *store = koop_service_store(call->svc);
    s_walk w;
    koop_log_walk_t lw = {s_on_problem, s_on_entry, &w};
    koop_log_check_t c;
    Koop__VerifyReport *msg;
    char head[2 * KOOP_CHAIN_LEN + 1], shead[2 * KOOP_CHAIN_LEN + 1];
    int rc;

    if (!q->stream || !*q->stream)
        return koop_fail(call, FEED_STREAM_REQUIRED, "stream");
    if (strcmp(q->stream, koop_log_stream(log)) != 0)
        return koop_fail(call, FEED_STREAM_UNKNOWN, "stream", q->stream);
    memset(&w, 0, sizeof w);
    w.def = def;
    if (!(w.v.report = koop_verify_report_new(q->stream)))
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    rc = koop_log_verify(log, call->txn, &lw, &c);
    for (size_t i = 0; rc == 0 && def && i < def->ntables; i++)
        rc = s_compare_table(&w, call->txn, store, &def->tables[i]);
    if (def && def->done) {
        /* always called: with no txn after an error, only to free its state */
        int r = def->done(&w.v, rc == 0 ? call->txn : NULL);
        if (rc == 0)
            rc = r;
    }
    if (rc != 0) {
        rc = rc == -ENOMEM ? koop_fail(call, INTERNAL_NO_MEMORY, NULL) : koop_call_store_error(call, rc);
        goto done;
    }
    msg = koop_verify_report_msg(w.v.report);
    koop_chain_hex(head, c.head);
    koop_chain_hex(shead, c.shared_head);
    msg->log_id = (char *)koop_log_id(log);
    msg->has_entries = msg->has_last_seq = msg->has_shared = msg->has_redacted = msg->has_records = 1;
    msg->entries = c.entries;
    msg->last_seq = c.last_seq;
    msg->shared = c.shared;
    msg->redacted = c.redacted;
    msg->records = w.v.records;
    msg->head = head;
    msg->shared_head = shead;
    if (!msg->ok)
        koop_warn("events.verify %s: %llu niezgodności, pierwsza: %s", q->stream, (unsigned long long)msg->found,
                  msg->n_problems ? msg->problems[0]->message : "?");
    rc = koop_call_reply(call, &msg->base);
done:
    s_verify_free(&w.v);
    koop_verify_report_destroy(&w.v.report);
    return rc;
}

/* ---- feed.digest ---- */

#define DIGEST_MAX_RANGES 64
#define DIGEST_MAX_LINKS 64

int
koop_verify_digest(koop_call_t *call)
{
    const Koop__FeedDigest *q = (const Koop__FeedDigest *)call->req;
    koop_log_t *log = koop_service_log(call->svc);
    koop_store_t *store = koop_service_store(call->svc);
    MDB_dbi dbi_log = koop_store_dbi(store, "log"), dbi_shared = koop_store_dbi(store, "log_shared");
    Koop__FeedDigestReply out = KOOP__FEED_DIGEST_REPLY__INIT;
    Koop__SeqRange ranges[DIGEST_MAX_RANGES], *rp[DIGEST_MAX_RANGES];
    uint8_t hashes[DIGEST_MAX_RANGES][KOOP_CHAIN_LEN], links[DIGEST_MAX_LINKS][KOOP_CHAIN_LEN];
    ProtobufCBinaryData lv[DIGEST_MAX_LINKS];
    int rc = 0;

    if (!q->stream || strcmp(q->stream, koop_log_stream(log)) != 0)
        return koop_fail(call, FEED_STREAM_UNKNOWN, "stream", q->stream ? q->stream : "");
    if (q->n_ranges > DIGEST_MAX_RANGES)
        return koop_fail(call, LIST_TOO_LONG, "ranges", KOOP_NUM(DIGEST_MAX_RANGES));
    if (q->n_links_at > DIGEST_MAX_LINKS)
        return koop_fail(call, LIST_TOO_LONG, "links_at", KOOP_NUM(DIGEST_MAX_LINKS));
    for (size_t i = 0; i < q->n_ranges; i++) {
        const Koop__SeqRange *in = q->ranges[i];
        koop_digest_t d;
        MDB_cursor *cur;
        unsigned char key[8];
        MDB_val k = {8, key}, v;
        koop_digest_init(&d);
        koop_be64_put(key, in->from);
        if ((rc = koop_mdb_rc(mdb_cursor_open(call->txn, dbi_shared, &cur))) != 0)
            break;
        rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
        while (rc == 0 && k.mv_size == 8 && koop_be64_get(k.mv_data) <= in->to) {
            MDB_val ev;
            uint64_t seq = koop_be64_get(k.mv_data);
            if ((rc = koop_mdb_rc(mdb_get(call->txn, dbi_log, &k, &ev))) != 0)
                break;
            koop_digest_add(&d, seq, ev.mv_data, ev.mv_size);
            rc = koop_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
        }
        mdb_cursor_close(cur);
        if (rc != 0 && rc != MDB_NOTFOUND)
            break;
        rc = 0;
        koop_digest_final(&d, hashes[i]);
        koop__seq_range__init(&ranges[i]);
        ranges[i].has_from = ranges[i].has_to = ranges[i].has_count = ranges[i].has_hash = 1;
        ranges[i].from = in->from;
        ranges[i].to = in->to;
        ranges[i].count = d.count;
        ranges[i].hash.data = hashes[i];
        ranges[i].hash.len = KOOP_CHAIN_LEN;
        rp[i] = &ranges[i];
    }
    for (size_t i = 0; rc == 0 && i < q->n_links_at; i++) {
        unsigned char key[8];
        MDB_val k = {8, key}, v;
        koop_be64_put(key, q->links_at[i]);
        lv[i].data = links[i];
        lv[i].len = 0;
        rc = koop_mdb_rc(mdb_get(call->txn, koop_store_dbi(store, "log_chain"), &k, &v));
        if (rc == 0 && v.mv_size == KOOP_CHAIN_LEN) {
            memcpy(links[i], v.mv_data, KOOP_CHAIN_LEN);
            lv[i].len = KOOP_CHAIN_LEN;
        }
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc != 0)
        return koop_call_store_error(call, rc);
    out.log_id = (char *)koop_log_id(log);
    out.n_ranges = q->n_ranges;
    out.ranges = rp;
    out.n_links = q->n_links_at;
    out.links = lv;
    return koop_call_reply(call, &out.base);
}
