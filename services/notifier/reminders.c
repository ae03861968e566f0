/*
 * reminders.c - reminders kept in LMDB by their time, fired from one libuv timer.
 *
 * Table "reminders": key be64(fire_ms) | task id | kind -> Reminder;
 * table "reminder_index": task id | kind -> be64(fire_ms), to cancel a task's
 * reminders when it is done or cancelled. Firing takes due reminders out in
 * the same transaction that writes their notifications, so each fires once,
 * also across restarts (a reminder due while the notifier was down fires at
 * start).
 *
 * Kinds: task_due_soon (owner, N days before the due date at 08:00, N from the
 * owner's preferences, default 3), task_overdue (owner, the day after the due
 * date at 08:00), task_overdue_coordinator (the IPW's coordinator, three days
 * after the due date at 08:00). "digest": a person's daily digest, at 07:00.
 * Times are local time of the node and read from koop_clock_now_ms(), the
 * injectable clock.
 */
#include "notifier.h"
#include "clock.h"
#include "say.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TIMER_MS 60000u

int notif_rules_reminder(notif_t *n, MDB_txn *txn, const Koop__Notif__Reminder *rem, const Koop__Notif__CaseTask *t);

/* Local time `hour`:00 of date (YYYY-MM-DD) plus `days`, as unix ms. */
static uint64_t
s_at(const char *date, int days, int hour)
{
    struct tm tm = {0};
    tm.tm_year = atoi(date) - 1900;
    tm.tm_mon = atoi(date + 5) - 1;
    tm.tm_mday = atoi(date + 8) + days;
    tm.tm_hour = hour;
    tm.tm_isdst = -1;
    return (uint64_t)mktime(&tm) * 1000u;
}

/* A reminder more than this far in the past when it is scheduled belongs to
 * history being entered after the fact (a task due in 2019): not sent. */
#define STALE_MS (24u * 3600u * 1000u)

/* Schedules reminder (subject, kind) at fire_ms, unless it was due before
 * not_before_ms (a task entered after its reminder's time: rules.c tells
 * the owner it is overdue instead) or is stale. */
static int
s_put(notif_t *n, MDB_txn *txn, const char *subject, const char *kind, uint64_t fire_ms, uint64_t not_before_ms)
{
    Koop__Notif__Reminder r = KOOP__NOTIF__REMINDER__INIT;
    unsigned char key[8 + 128], when[8];
    char ikey[128];
    MDB_val k, v, old;
    int rc;

    snprintf(ikey, sizeof ikey, "%s|%s", subject, kind);
    if (fire_ms + STALE_MS < koop_clock_now_ms() || fire_ms < not_before_ms)
        return 0;
    if (koop_store_get_str(txn, n->dbi_reminder_index, ikey, &old) == 0)
        return 0; /* already scheduled */
    koop_be64_put(key, fire_ms);
    memcpy(key + 8, ikey, strlen(ikey));
    k.mv_size = 8 + strlen(ikey);
    k.mv_data = key;
    r.task = (char *)subject;
    r.kind = (char *)kind;
    r.has_fire_ms = 1;
    r.fire_ms = fire_ms;
    v.mv_size = koop__notif__reminder__get_packed_size(&r);
    if ((rc = mdb_put(txn, n->dbi_reminders, &k, &v, MDB_RESERVE)) != 0)
        return rc;
    koop__notif__reminder__pack(&r, v.mv_data);
    koop_be64_put(when, fire_ms);
    return koop_store_put_str(txn, n->dbi_reminder_index, ikey, when, 8);
}

static int
s_del(notif_t *n, MDB_txn *txn, const char *subject, const char *kind)
{
    unsigned char key[8 + 128];
    char ikey[128];
    MDB_val k, v;
    int rc;
    snprintf(ikey, sizeof ikey, "%s|%s", subject, kind);
    k.mv_size = strlen(ikey);
    k.mv_data = ikey;
    rc = mdb_get(txn, n->dbi_reminder_index, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0 || v.mv_size != 8)
        return rc ? rc : MDB_CORRUPTED;
    memcpy(key, v.mv_data, 8);
    memcpy(key + 8, ikey, strlen(ikey));
    if ((rc = mdb_del(txn, n->dbi_reminder_index, &k, NULL)) != 0)
        return rc;
    k.mv_size = 8 + strlen(ikey);
    k.mv_data = key;
    rc = mdb_del(txn, n->dbi_reminders, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
notif_reminders_schedule_task(notif_t *n, MDB_txn *txn, const Koop__Notif__CaseTask *t, uint64_t entered_ms)
{
    Koop__Notif__Recipient *r;
    uint32_t days = 3;
    int rc;
    if (!t->due || !koop_date_valid(t->due))
        return 0;
    r = notif_recipient_get(n, txn, t->owner);
    if (r && r->has_due_days && r->due_days > 0 && r->due_days <= 60)
        days = r->due_days;
    if (r)
        koop__notif__recipient__free_unpacked(r, NULL);
    if ((rc = s_put(n, txn, t->id, "task_due_soon", s_at(t->due, -(int)days, 8), entered_ms)) != 0 ||
        (rc = s_put(n, txn, t->id, "task_overdue", s_at(t->due, 1, 8), entered_ms)) != 0 ||
        (rc = s_put(n, txn, t->id, "task_overdue_coordinator", s_at(t->due, 3, 8), entered_ms)) != 0)
        return rc;
    n->reminders_changed = 1;
    return 0;
}

int
notif_reminders_cancel_task(notif_t *n, MDB_txn *txn, const char *task)
{
    int rc;
    if ((rc = s_del(n, txn, task, "task_due_soon")) != 0 || (rc = s_del(n, txn, task, "task_overdue")) != 0 ||
        (rc = s_del(n, txn, task, "task_overdue_coordinator")) != 0)
        return rc;
    return 0;
}

/* ---- the daily digest ---- */

int
notif_digest_add(notif_t *n, MDB_txn *txn, const char *person, const char *key, const char *line)
{
    Koop__Notif__DigestItem d = KOOP__NOTIF__DIGEST_ITEM__INIT;
    char k[300], today[11];
    time_t now = (time_t)(koop_clock_now_ms() / 1000);
    struct tm tm;
    int rc;
    if (!n->mail_on)
        return 0; /* a digest is a mail */
    snprintf(k, sizeof k, "%s|%s", person, key);
    d.line = (char *)line;
    d.has_time_ms = 1;
    d.time_ms = koop_clock_real_ms();
    if ((rc = koop_record_put(txn, n->dbi_digest, k, &d.base)) != 0)
        return rc;
    /* the next 07:00 */
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    n->reminders_changed = 1;
    return s_put(n, txn, person, "digest", s_at(today, tm.tm_hour >= 7 ? 1 : 0, 7), 0);
}

static int
s_fire_digest(notif_t *n, MDB_txn *txn, const char *person, uint64_t fire_ms)
{
    char prefix[80], body[4096], subject[200], key[120];
    size_t plen, used = 0, count = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    Koop__Notif__Recipient *r;
    int rc;

    snprintf(prefix, sizeof prefix, "%s|", person);
    plen = strlen(prefix);
    body[0] = '\0';
    if ((rc = mdb_cursor_open(txn, n->dbi_digest, &cur)) != 0)
        return rc;
    k.mv_size = plen;
    k.mv_data = prefix;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size > plen && memcmp(k.mv_data, prefix, plen) == 0) {
        Koop__Notif__DigestItem *d = koop__notif__digest_item__unpack(NULL, v.mv_size, v.mv_data);
        if (d && d->line && used + strlen(d->line) + 2 < sizeof body - 200) {
            used += (size_t)snprintf(body + used, sizeof body - used, "%s\n", d->line);
            count++;
        }
        if (d)
            koop__notif__digest_item__free_unpacked(d, NULL);
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (rc == EINVAL || rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND && rc != 0)
        return rc;
    if (count == 0)
        return 0;
    r = notif_recipient_get(n, txn, person);
    if (r && r->email && *r->email && (!r->has_mail || r->mail)) {
        Koop__Notif__Mail m = KOOP__NOTIF__MAIL__INIT;
        char text[4400];
        snprintf(key, sizeof key, "digest.%s.%llu", person, (unsigned long long)fire_ms);
        snprintf(subject, sizeof subject, "[koop] Podsumowanie dnia: %zu %s", count,
                 koop_plural_word((long long)count, "powiadomienie", "powiadomienia", "powiadomień"));
        snprintf(text, sizeof text, "Dzień dobry,\n\npodsumowanie powiadomień z systemu koop:\n\n%s\n--\nWiadomość "
                 "wysłana automatycznie przez system koop.\n", body);
        m.key = key;
        m.to = r->email;
        m.subject = subject;
        m.body = text;
        m.has_next_ms = 1;
        m.next_ms = koop_clock_now_ms();
        m.has_queued_ms = 1;
        m.queued_ms = koop_clock_real_ms();
        m.person = (char *)person;
        rc = notif_outbox_put(n, txn, &m);
    }
    if (r)
        koop__notif__recipient__free_unpacked(r, NULL);
    return rc;
}

/* ---- firing ---- */

typedef struct {
    notif_t *n;
    uint64_t next_ms;  /* out: the next reminder's time, 0 = none */
    int fired;
} s_fire_ctx;

static int
s_fire_due(MDB_txn *txn, void *ctx)
{
    s_fire_ctx *f = ctx;
    notif_t *n = f->n;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t now = koop_clock_now_ms();
    int rc;

    f->next_ms = 0;
    f->fired = 0;
    if ((rc = mdb_cursor_open(txn, n->dbi_reminders, &cur)) != 0)
        return rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        uint64_t at = koop_be64_get(k.mv_data);
        Koop__Notif__Reminder *r;
        if (at > now) {
            f->next_ms = at;
            break;
        }
        r = koop__notif__reminder__unpack(NULL, v.mv_size, v.mv_data);
        if ((rc = mdb_cursor_del(cur, 0)) != 0) {
            if (r)
                koop__notif__reminder__free_unpacked(r, NULL);
            break;
        }
        if (!r)
            continue;
        {
            char ikey[128];
            MDB_val ik;
            snprintf(ikey, sizeof ikey, "%s|%s", r->task, r->kind);
            ik.mv_size = strlen(ikey);
            ik.mv_data = ikey;
            mdb_del(txn, n->dbi_reminder_index, &ik, NULL);
        }
        if (!strcmp(r->kind, "digest")) {
            rc = s_fire_digest(n, txn, r->task, at);
        } else {
            ProtobufCMessage *t = NULL;
            if (koop_record_get(txn, n->dbi_tasks, r->task, &koop__notif__case_task__descriptor, &t) == 0) {
                Koop__Notif__CaseTask *task = (Koop__Notif__CaseTask *)t;
                if (task->open)
                    rc = notif_rules_reminder(n, txn, r, task);
                protobuf_c_message_free_unpacked(t, NULL);
            }
        }
        koop__notif__reminder__free_unpacked(r, NULL);
        f->fired++;
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static void
s_on_timer(uv_timer_t *t)
{
    notif_t *n = t->data;
    notif_reminders_check(n);
}

/* The first reminder's time (0 when none): a read, so an idle check costs no commit. */
static uint64_t
s_first_ms(notif_t *n)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t first = 0;
    if (koop_store_read(n->store, &txn) != 0)
        return 1; /* let the write path report the error */
    if (mdb_cursor_open(txn, n->dbi_reminders, &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size >= 8)
            first = koop_be64_get(k.mv_data);
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return first;
}

void
notif_reminders_check(notif_t *n)
{
    s_fire_ctx f = {n, 0, 0};
    uint64_t wait = MAX_TIMER_MS, now, first;
    int rc = 0;
    if (n->stopping)
        return;
    n->reminders_changed = 0;
    first = s_first_ms(n);
    if (first && first <= koop_clock_now_ms())
        rc = koop_store_write(n->store, s_fire_due, &f);
    else
        f.next_ms = first;
    if (rc != 0)
        koop_error("reminders: %s", koop_strerror(rc));
    if (f.fired) {
        koop_info("%d reminder(s) fired", f.fired);
        notif_outbox_kick(n);
    }
    now = koop_clock_now_ms();
    if (f.next_ms && f.next_ms > now && f.next_ms - now < wait)
        wait = f.next_ms - now;
    uv_timer_start(&n->reminder_timer, s_on_timer, wait, 0);
}

void
notif_reminders_kick(notif_t *n)
{
    if (!n->stopping)
        uv_timer_start(&n->reminder_timer, s_on_timer, 0, 0);
}

int
notif_reminders_start(notif_t *n)
{
    int rc = uv_timer_init(koop_service_loop(n->svc), &n->reminder_timer);
    if (rc != 0)
        return rc;
    n->reminder_timer.data = n;
    notif_reminders_check(n);
    return 0;
}

void
notif_reminders_stop(notif_t *n)
{
    uv_timer_stop(&n->reminder_timer);
    uv_close((uv_handle_t *)&n->reminder_timer, NULL);
}
