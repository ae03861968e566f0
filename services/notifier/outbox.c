/*
 * outbox.c - the durable e-mail delivery queue.
 *
 *   queued (outbox[key], outbox_due[next_ms|key])
 *     --due, recipient not in quiet hours--> sending (one at a time, on a worker thread)
 *     --relay accepted--> sent (sent[key]; removed from the queue, same txn)
 *     --failed--> queued again, next_ms = now + backoff (1 s doubling to 5 min)
 *
 * A mail is removed from the queue only by the transaction that records its
 * delivery, so a crash never loses one. The SMTP commit point is the final
 * "." of the message: a relay keeps a message only once it has it. Just
 * before curl sends it, the sending thread appends "S <key>" to the intent
 * file (DATA_DIR/notifier/sending, a plain write: it survives kill -9, which
 * is what it is for; an fsync would only widen the window). A relay refusal
 * after that appends "U <key>". After each delivery is recorded in LMDB the
 * file is emptied. At start, a key with "S" and no "U" whose mail is still
 * queued was taken by the relay before the process died: it is recorded as
 * sent, not sent again. Killed before the "S": the relay has no "." and
 * drops the partial message; the mail is still queued and goes again. What
 * remains is the gap of one write(2) between the "S" and the ".". The
 * Message-ID is the idempotency key, for mail systems that can use it.
 *
 * Mail off: without an smtp_url nothing is queued (notif_outbox_put does
 * nothing) and nothing is sent; the notifications are in the inboxes. Mails
 * left in the queue from before stay there, unsent, until a relay is set.
 */
#include "notifier.h"
#include "clock.h"
#include "say.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 300000u
#define TICK_MS 1000
#define DELIVERIES_KEPT 5000

static int
s_due_put(notif_t *n, MDB_txn *txn, uint64_t next_ms, const char *key, int del)
{
    size_t klen = strlen(key);
    unsigned char buf[8 + 512];
    MDB_val k = {8 + klen, buf}, v = {0, ""};
    if (klen > 500)
        return MDB_BAD_VALSIZE;
    koop_be64_put(buf, next_ms);
    memcpy(buf + 8, key, klen);
    if (del) {
        int rc = mdb_del(txn, n->dbi_outbox_due, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    return mdb_put(txn, n->dbi_outbox_due, &k, &v, 0);
}

int
notif_outbox_put(notif_t *n, MDB_txn *txn, const Koop__Notif__Mail *mail)
{
    MDB_val v;
    int rc;
    if (!n->mail_on)
        return 0; /* mail is off: the inboxes are all there is */
    if (koop_store_get_str(txn, n->dbi_sent, mail->key, &v) == 0 ||
        koop_store_get_str(txn, n->dbi_outbox, mail->key, &v) == 0)
        return 0; /* this notification was queued or sent already */
    if ((rc = koop_record_put(txn, n->dbi_outbox, mail->key, &mail->base)) != 0)
        return rc;
    return s_due_put(n, txn, mail->next_ms, mail->key, 0);
}

static uint64_t
s_backoff(uint32_t attempts)
{
    uint64_t ms = BACKOFF_MIN_MS;
    for (uint32_t i = 1; i < attempts && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms;
}

/* When the recipient is in quiet hours, the unix ms their quiet time ends; else 0. */
static uint64_t
s_quiet_until(const Koop__Notif__Recipient *r, uint64_t now_ms)
{
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    unsigned from, to, h;
    int quiet;
    if (!r || !r->has_quiet_from || !r->has_quiet_to || r->quiet_from == r->quiet_to)
        return 0;
    from = r->quiet_from;
    to = r->quiet_to;
    localtime_r(&t, &tm);
    h = (unsigned)tm.tm_hour;
    quiet = from < to ? (h >= from && h < to) : (h >= from || h < to);
    if (!quiet)
        return 0;
    tm.tm_min = tm.tm_sec = 0;
    tm.tm_hour = (int)to;
    if (h >= to)
        tm.tm_mday += 1;
    return (uint64_t)mktime(&tm) * 1000u;
}

typedef struct {
    notif_t *n;
    Koop__Notif__Mail *mail; /* out: the mail to send now (owned) */
    uint64_t wait_ms;        /* out: when nothing is due, ms until the next */
} s_pick;

static int
s_pick_due(MDB_txn *txn, void *ctx)
{
    s_pick *p = ctx;
    notif_t *n = p->n;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t now = koop_clock_now_ms();
    int rc;

    p->mail = NULL;
    p->wait_ms = 0;
    if ((rc = mdb_cursor_open(txn, n->dbi_outbox_due, &cur)) != 0)
        return rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        uint64_t due = koop_be64_get(k.mv_data), quiet;
        char key[512];
        Koop__Notif__Mail *m;
        Koop__Notif__Recipient *r;
        if (due > now) {
            p->wait_ms = due - now;
            break;
        }
        snprintf(key, sizeof key, "%.*s", (int)(k.mv_size - 8), (char *)k.mv_data + 8);
        if (koop_record_get(txn, n->dbi_outbox, key, &koop__notif__mail__descriptor, (ProtobufCMessage **)&m) != 0) {
            mdb_cursor_del(cur, 0); /* an index entry without its mail */
            continue;
        }
        r = notif_recipient_get(n, txn, m->person);
        quiet = s_quiet_until(r, now);
        if (r)
            koop__notif__recipient__free_unpacked(r, NULL);
        if (quiet) {
            /* move it to the end of the recipient's quiet hours */
            mdb_cursor_del(cur, 0);
            m->next_ms = quiet;
            if ((rc = koop_record_put(txn, n->dbi_outbox, key, &m->base)) != 0 ||
                (rc = s_due_put(n, txn, quiet, key, 0)) != 0) {
                koop__notif__mail__free_unpacked(m, NULL);
                break;
            }
            koop__notif__mail__free_unpacked(m, NULL);
            continue;
        }
        p->mail = m;
        break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

typedef struct {
    notif_t *n;
    Koop__Notif__Mail *mail;
    int ok;
    const char *error;
} s_record;

/* Appends "<tag> <key>\n" to the intent file in one write. */
static int
s_intent(notif_t *n, char tag, const char *key)
{
    char line[600];
    int len = snprintf(line, sizeof line, "%c %s\n", tag, key);
    if (n->intent_fd < 0 || len < 0 || (size_t)len >= sizeof line)
        return -1;
    return write(n->intent_fd, line, (size_t)len) == len ? 0 : -1;
}

/* The commit point (sending thread), just before the final ".". */
static int
s_commit_point(void *ctx)
{
    notif_t *n = ctx;
    return s_intent(n, 'S', n->in_flight->key);
}

static void
s_work(uv_work_t *w)
{
    notif_t *n = w->data;
    Koop__Notif__Mail *m = n->in_flight;
    n->in_flight_error[0] = '\0';
    n->in_flight_committed = 0;
    n->in_flight_rc = notif_smtp_send(&n->smtp, m->to, m->subject, m->body, m->key, s_commit_point, n,
                                      &n->in_flight_committed, n->in_flight_error,
                                      sizeof n->in_flight_error);
    if (n->in_flight_rc != 0 && n->in_flight_committed)
        s_intent(n, 'U', m->key); /* the relay refused it after all */
}

static int
s_record_result(MDB_txn *txn, void *ctx)
{
    s_record *r = ctx;
    notif_t *n = r->n;
    Koop__Notif__Delivery d = KOOP__NOTIF__DELIVERY__INIT;
    Koop__Notif__Mail *m = r->mail;
    unsigned char seqkey[8], now8[8];
    MDB_val k = {8, seqkey}, v, kk;
    MDB_cursor *cur;
    uint64_t now = koop_clock_real_ms(), last = 0;
    int rc;

    if ((rc = s_due_put(n, txn, m->next_ms, m->key, 1)) != 0)
        return rc;
    if (r->ok) {
        kk.mv_size = strlen(m->key);
        kk.mv_data = m->key;
        if ((rc = mdb_del(txn, n->dbi_outbox, &kk, NULL)) != 0 && rc != MDB_NOTFOUND)
            return rc;
        koop_be64_put(now8, now);
        if ((rc = koop_store_put_str(txn, n->dbi_sent, m->key, now8, 8)) != 0)
            return rc;
    } else {
        Koop__Notif__Mail again = *m;
        again.has_attempts = 1;
        again.attempts = m->attempts + 1;
        again.has_next_ms = 1;
        again.next_ms = koop_clock_now_ms() + s_backoff(again.attempts);
        again.last_error = (char *)r->error;
        if ((rc = koop_record_put(txn, n->dbi_outbox, m->key, &again.base)) != 0 ||
            (rc = s_due_put(n, txn, again.next_ms, m->key, 0)) != 0)
            return rc;
    }
    /* the delivery log: append, keep the last DELIVERIES_KEPT */
    if ((rc = mdb_cursor_open(txn, n->dbi_deliveries, &cur)) != 0)
        return rc;
    if (mdb_cursor_get(cur, &kk, &v, MDB_LAST) == 0 && kk.mv_size == 8)
        last = koop_be64_get(kk.mv_data);
    if (last >= DELIVERIES_KEPT && mdb_cursor_get(cur, &kk, &v, MDB_FIRST) == 0 &&
        koop_be64_get(kk.mv_data) + DELIVERIES_KEPT <= last)
        mdb_cursor_del(cur, 0);
    mdb_cursor_close(cur);
    d.has_time_ms = 1;
    d.time_ms = now;
    d.key = m->key;
    d.to = m->to;
    d.has_ok = 1;
    d.ok = r->ok;
    d.error = r->ok ? NULL : (char *)r->error;
    d.has_attempt = 1;
    d.attempt = m->attempts + 1;
    koop_be64_put(seqkey, last + 1);
    v.mv_size = koop__notif__delivery__get_packed_size(&d);
    if ((rc = mdb_put(txn, n->dbi_deliveries, &k, &v, MDB_RESERVE | MDB_APPEND)) != 0)
        return rc;
    koop__notif__delivery__pack(&d, v.mv_data);
    return 0;
}

static void s_schedule(notif_t *n, uint64_t in_ms);

static void
s_after_work(uv_work_t *w, int status)
{
    notif_t *n = w->data;
    s_record r = {n, n->in_flight, n->in_flight_rc == 0 && status == 0, n->in_flight_error};
    int rc;

    if (status != 0)
        snprintf(n->in_flight_error, sizeof n->in_flight_error, "wysyłka przerwana");
    rc = koop_store_write(n->store, s_record_result, &r);
    if (rc == 0 && n->intent_fd >= 0 && ftruncate(n->intent_fd, 0) != 0)
        koop_warn("cannot empty the intent file: %s", strerror(errno));
    if (rc != 0)
        koop_error("delivery of %s: cannot record the result: %s", r.mail->key, koop_strerror(rc));
    if (r.ok) {
        n->sent_count++;
        n->last_sent_ms = koop_clock_real_ms();
        koop_info("mail %s delivered to %s", r.mail->key, r.mail->to);
    } else {
        n->failed_attempts++;
        n->last_error_ms = koop_clock_real_ms();
        snprintf(n->last_error, sizeof n->last_error, "%s", n->in_flight_error);
        koop_warn("mail %s to %s not delivered (attempt %u): %s; it stays in the queue", r.mail->key,
                  r.mail->to, r.mail->attempts + 1, n->in_flight_error);
    }
    koop__notif__mail__free_unpacked(n->in_flight, NULL);
    n->in_flight = NULL;
    n->sending = 0;
    if (!n->stopping)
        s_schedule(n, r.ok ? 0 : TICK_MS);
}

/* ms until the first queued mail is due (0 = due now), or UINT64_MAX when
 * the queue is empty: a read, so an idle queue costs no commit. */
static uint64_t
s_peek(notif_t *n)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t wait = UINT64_MAX, now = koop_clock_now_ms();
    if (koop_store_read(n->store, &txn) != 0)
        return 0;
    if (mdb_cursor_open(txn, n->dbi_outbox_due, &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size >= 8) {
            uint64_t due = koop_be64_get(k.mv_data);
            wait = due > now ? due - now : 0;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return wait;
}

static void
s_on_tick(uv_timer_t *t)
{
    notif_t *n = t->data;
    s_pick p = {n, NULL, 0};
    uint64_t wait;
    int rc;

    if (n->sending || n->stopping)
        return;
    wait = s_peek(n);
    if (wait > 0) {
        s_schedule(n, wait < TICK_MS ? wait : TICK_MS);
        return;
    }
    if (notif_smtp_global_init(n->last_error, sizeof n->last_error) != 0) {
        /* a mail is due: it stays queued, tried again at the next tick */
        koop_error("%s", n->last_error);
        n->last_error_ms = koop_clock_real_ms();
        s_schedule(n, TICK_MS);
        return;
    }
    rc = koop_store_write(n->store, s_pick_due, &p);
    if (rc != 0) {
        koop_error("delivery queue: %s", koop_strerror(rc));
        s_schedule(n, TICK_MS);
        return;
    }
    if (!p.mail) {
        s_schedule(n, p.wait_ms && p.wait_ms < TICK_MS ? p.wait_ms : TICK_MS);
        return;
    }
    n->in_flight = p.mail;
    n->sending = 1;
    n->work.data = n;
    if ((rc = uv_queue_work(koop_service_loop(n->svc), &n->work, s_work, s_after_work)) != 0) {
        koop_error("cannot start a delivery: %s", uv_strerror(rc));
        koop__notif__mail__free_unpacked(n->in_flight, NULL);
        n->in_flight = NULL;
        n->sending = 0;
        s_schedule(n, TICK_MS);
    }
}

static void
s_schedule(notif_t *n, uint64_t in_ms)
{
    if (n->mail_on)
        uv_timer_start(&n->delivery_timer, s_on_tick, in_ms, 0);
}

void
notif_outbox_kick(notif_t *n)
{
    if (!n->sending && !n->stopping)
        s_schedule(n, 0);
}

typedef struct {
    notif_t *n;
    char (*keys)[300];
    size_t nkeys;
    int recovered;
} s_recover;

/* Mails the relay took before the process died (see the top of the file):
 * recorded as sent. */
static int
s_recover_sent(MDB_txn *txn, void *ctx)
{
    s_recover *rc_ = ctx;
    rc_->recovered = 0;
    for (size_t i = 0; i < rc_->nkeys; i++) {
        ProtobufCMessage *m = NULL;
        if (koop_record_get(txn, rc_->n->dbi_outbox, rc_->keys[i], &koop__notif__mail__descriptor, &m) != 0)
            continue; /* recorded already */
        s_record r = {rc_->n, (Koop__Notif__Mail *)m, 1, NULL};
        int rc = s_record_result(txn, &r);
        protobuf_c_message_free_unpacked(m, NULL);
        if (rc != 0)
            return rc;
        rc_->recovered++;
    }
    return 0;
}

static int
s_intent_open(notif_t *n)
{
    char path[PATH_MAX + 64], line[600];
    s_recover r = {n, NULL, 0, 0};
    FILE *f;
    int rc = 0;

    snprintf(path, sizeof path, "%s/notifier/sending", koop_service_config(n->svc)->data_dir);
    f = fopen(path, "r");
    if (f) {
        r.keys = calloc(64, sizeof *r.keys);
        size_t cap = 64;
        while (r.keys && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            if (strlen(line) < 3 || strlen(line) - 2 >= sizeof r.keys[0])
                continue;
            if (line[0] == 'S') {
                if (r.nkeys == cap) {
                    void *g = realloc(r.keys, cap * 2 * sizeof *r.keys);
                    if (!g)
                        break;
                    r.keys = g;
                    cap *= 2;
                }
                memcpy(r.keys[r.nkeys++], line + 2, strlen(line + 2) + 1); /* length checked above */
            } else if (line[0] == 'U') {
                for (size_t i = 0; i < r.nkeys; i++)
                    if (strcmp(r.keys[i], line + 2) == 0)
                        r.keys[i][0] = '\0';
            }
        }
        fclose(f);
        if (r.nkeys && (rc = koop_store_write(n->store, s_recover_sent, &r)) != 0)
            koop_error("intent file %s: %s", path, koop_strerror(rc));
        if (r.recovered)
            koop_info("%d mail(s) the relay had taken before a crash recorded as sent", r.recovered);
        free(r.keys);
        if (rc != 0)
            return rc;
    }
    n->intent_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (n->intent_fd < 0) {
        koop_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int
notif_outbox_start(notif_t *n)
{
    int rc = s_intent_open(n);
    if (rc != 0)
        return rc;
    rc = uv_timer_init(koop_service_loop(n->svc), &n->delivery_timer);
    if (rc != 0)
        return rc;
    n->delivery_timer.data = n;
    s_schedule(n, 0);
    return 0;
}

void
notif_outbox_stop(notif_t *n)
{
    n->stopping = 1;
    /* the intent file stays open: a send in progress may still write to it */
    uv_timer_stop(&n->delivery_timer);
    uv_close((uv_handle_t *)&n->delivery_timer, NULL);
    /* a send in progress finishes and records its result (uv_work keeps the loop alive) */
}

static int
s_retry_all(MDB_txn *txn, void *ctx)
{
    notif_t *n = ctx;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t now = koop_clock_now_ms();
    int rc;
    if ((rc = mdb_drop(txn, n->dbi_outbox_due, 0)) != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, n->dbi_outbox, &cur)) != 0)
        return rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Koop__Notif__Mail *m = koop__notif__mail__unpack(NULL, v.mv_size, v.mv_data);
        if (!m) {
            rc = MDB_CORRUPTED;
            break;
        }
        m->has_next_ms = 1;
        m->next_ms = now;
        rc = koop_record_put(txn, n->dbi_outbox, m->key, &m->base);
        if (rc == 0)
            rc = s_due_put(n, txn, now, m->key, 0);
        koop__notif__mail__free_unpacked(m, NULL);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
notif_outbox_retry_now(notif_t *n)
{
    int rc = koop_store_write(n->store, s_retry_all, n);
    if (rc == 0)
        notif_outbox_kick(n);
    return rc;
}

int
notif_outbox_status(notif_t *n, MDB_txn *txn, Koop__Notif__Status *st)
{
    MDB_stat ms;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;
    if ((rc = mdb_stat(txn, n->dbi_outbox, &ms)) != 0)
        return rc;
    st->has_queue = 1;
    st->queue = (uint32_t)ms.ms_entries;
    if ((rc = mdb_stat(txn, n->dbi_reminders, &ms)) != 0)
        return rc;
    st->has_reminders = 1;
    st->reminders = (uint32_t)ms.ms_entries;
    if ((rc = mdb_stat(txn, n->dbi_sent, &ms)) != 0)
        return rc;
    st->has_sent = 1;
    st->sent = ms.ms_entries;
    st->has_failed_attempts = 1;
    st->failed_attempts = n->failed_attempts;
    if (n->last_error[0]) {
        st->last_error = n->last_error;
        st->has_last_error_ms = 1;
        st->last_error_ms = n->last_error_ms;
    }
    if (n->last_sent_ms) {
        st->has_last_sent_ms = 1;
        st->last_sent_ms = n->last_sent_ms;
    }
    st->smtp_url = n->smtp.url;
    st->has_mail_on = 1;
    st->mail_on = n->mail_on;
    if ((rc = mdb_cursor_open(txn, n->dbi_outbox_due, &cur)) != 0)
        return rc;
    if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size >= 8) {
        st->has_next_attempt_ms = 1;
        st->next_attempt_ms = koop_be64_get(k.mv_data);
    }
    mdb_cursor_close(cur);
    return 0;
}
