/*
 * inbox.c - the inbox of each person: what the notifier told them.
 *
 * Key: person id "|" notification key (event id "|" kind), so a person's
 * entries are one key range, ordered by the time of the event that caused
 * them (event ids are UUIDv7), and a replayed event finds its entry.
 */
#include "notifier.h"
#include "clock.h"
#include "id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
notif_inbox_put(notif_t *n, MDB_txn *txn, const Koop__Notif__InboxEntry *e)
{
    char key[256];
    MDB_val v;
    snprintf(key, sizeof key, "%s|%s", e->person, e->id);
    if (koop_store_get_str(txn, n->dbi_inbox, key, &v) == 0)
        return 0;
    return koop_record_put(txn, n->dbi_inbox, key, &e->base);
}

typedef int (*s_entry_fn)(notif_t *n, MDB_txn *txn, MDB_cursor *cur, Koop__Notif__InboxEntry *e, void *ctx);

/* Calls fn for each of person's entries, newest first. fn returns 0 to go on,
 * 1 to stop, or an error. */
static int
s_scan(notif_t *n, MDB_txn *txn, const char *person, s_entry_fn fn, void *ctx)
{
    char prefix[80], upper[80];
    MDB_cursor *cur;
    MDB_val k, v;
    size_t plen;
    int rc;

    snprintf(prefix, sizeof prefix, "%s|", person);
    snprintf(upper, sizeof upper, "%s}", person); /* '}' sorts right after '|' */
    plen = strlen(prefix);
    if ((rc = mdb_cursor_open(txn, n->dbi_inbox, &cur)) != 0)
        return rc;
    k.mv_size = strlen(upper);
    k.mv_data = upper;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
    while (rc == 0 && k.mv_size > plen && memcmp(k.mv_data, prefix, plen) == 0) {
        Koop__Notif__InboxEntry *e = koop__notif__inbox_entry__unpack(NULL, v.mv_size, v.mv_data);
        if (!e) {
            rc = MDB_CORRUPTED;
            break;
        }
        rc = fn(n, txn, cur, e, ctx);
        koop__notif__inbox_entry__free_unpacked(e, NULL);
        if (rc != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 1 ? 0 : rc;
}

typedef struct {
    const Koop__Notif__InboxQuery *q;
    Koop__Notif__InboxEntry **items;
    size_t n, cap;
    uint32_t unread;
} s_list;

static int
s_collect(notif_t *n, MDB_txn *txn, MDB_cursor *cur, Koop__Notif__InboxEntry *e, void *ctx)
{
    s_list *l = ctx;
    size_t limit = l->q->has_limit && l->q->limit ? l->q->limit : 200;
    (void)n;
    (void)txn;
    (void)cur;
    if (!e->read)
        l->unread++;
    if ((l->q->has_unread && l->q->unread && e->read) || l->n >= limit)
        return 0;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 32;
        Koop__Notif__InboxEntry **g = realloc(l->items, ncap * sizeof *g);
        if (!g)
            return ENOMEM;
        l->items = g;
        l->cap = ncap;
    }
    /* keep a copy: e is freed after the call */
    size_t len = koop__notif__inbox_entry__get_packed_size(e);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return ENOMEM;
    koop__notif__inbox_entry__pack(e, buf);
    l->items[l->n] = koop__notif__inbox_entry__unpack(NULL, len, buf);
    free(buf);
    if (!l->items[l->n])
        return ENOMEM;
    l->n++;
    return 0;
}

int
notif_inbox_list(koop_call_t *call)
{
    notif_t *n = koop_service_user(call->svc);
    Koop__Notif__InboxList out = KOOP__NOTIF__INBOX_LIST__INIT;
    s_list l = {(const Koop__Notif__InboxQuery *)call->req, NULL, 0, 0, 0};
    int rc;
    if (!call->caller[0])
        return koop_fail(call, ACCESS_NO_CALLER, "as", "inbox");
    rc = s_scan(n, call->txn, call->caller, s_collect, &l);
    if (rc == 0) {
        out.n_items = l.n;
        out.items = l.items;
        out.has_unread = 1;
        out.unread = l.unread;
        rc = koop_call_reply(call, &out.base);
    } else {
        rc = rc == ENOMEM ? koop_fail(call, INTERNAL_NO_MEMORY, NULL) : koop_call_store_error(call, rc);
    }
    for (size_t i = 0; i < l.n; i++)
        koop__notif__inbox_entry__free_unpacked(l.items[i], NULL);
    free(l.items);
    return rc;
}

typedef struct {
    const char *id;   /* "all" or one entry's id */
    int found;
} s_mark;

static int
s_mark_read(notif_t *n, MDB_txn *txn, MDB_cursor *cur, Koop__Notif__InboxEntry *e, void *ctx)
{
    s_mark *m = ctx;
    MDB_val k, v;
    (void)n;
    (void)txn;
    if (strcmp(m->id, "all") != 0 && strcmp(m->id, e->id) != 0)
        return 0;
    m->found = 1;
    if (!e->read) {
        int rc;
        e->has_read = 1;
        e->read = 1;
        uint8_t buf[8192];
        if ((rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT)) != 0)
            return rc;
        v.mv_size = koop__notif__inbox_entry__get_packed_size(e);
        if (v.mv_size > sizeof buf)
            return MDB_BAD_VALSIZE;
        koop__notif__inbox_entry__pack(e, buf);
        v.mv_data = buf;
        if ((rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT)) != 0)
            return rc;
    }
    return strcmp(m->id, "all") == 0 ? 0 : 1;
}

int
notif_inbox_read(koop_call_t *call)
{
    notif_t *n = koop_service_user(call->svc);
    const Koop__Notif__InboxRead *q = (const Koop__Notif__InboxRead *)call->req;
    Koop__Notif__InboxQuery all = KOOP__NOTIF__INBOX_QUERY__INIT;
    s_mark m;
    int rc;
    if (!call->caller[0])
        return koop_fail(call, ACCESS_NO_CALLER, "as", "inbox");
    if (!q->id || !*q->id)
        return koop_fail(call, INBOX_ID_REQUIRED, "id");
    if (strlen(q->id) > 200)
        return koop_fail(call, FIELD_TEXT, "id", "200");
    m.id = q->id;
    m.found = 0;
    if ((rc = s_scan(n, call->txn, call->caller, s_mark_read, &m)) != 0)
        return koop_call_store_error(call, rc);
    if (!m.found && strcmp(q->id, "all") != 0)
        return koop_fail(call, RECORD_NOT_FOUND, "id", "inbox_entry", q->id);
    /* answer with the inbox as it is now */
    call->req = &all.base;
    rc = notif_inbox_list(call);
    call->req = &q->base;
    return rc;
}
