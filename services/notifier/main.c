/* koop-notifier - the notifier service of a gmina node (see notifier.h). */
#include "notifier.h"
#include "clock.h"
#include "say.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static notif_t s_notif;

static void
s_after_feed_commit(void *ctx)
{
    notif_t *n = ctx;
    notif_outbox_kick(n);
    if (n->reminders_changed)
        notif_reminders_check(n);
}

static koop_feed_t *
s_feed(notif_t *n, const char *stream)
{
    const char *ep = koop_config_endpoint(koop_service_config(n->svc), stream);
    koop_feed_opts_t o = {0};
    if (!ep)
        return NULL;
    o.loop = koop_service_loop(n->svc);
    o.client = koop_service_client(n->svc);
    o.store = n->store;
    o.endpoint = ep;
    o.stream = stream;
    o.apply = notif_rules_apply;
    o.committed = s_after_feed_commit;
    o.ctx = n;
    o.svc = n->svc;
    return koop_feed_start(&o);
}

/* The state over the service's store (tables, the mail relay's settings). */
static void
s_prepare(notif_t *n, koop_service_t *svc)
{
    koop_store_t *st = koop_service_store(svc);
    char err[600];

    n->svc = svc;
    n->store = st;
    n->intent_fd = -1;
    n->dbi_recipients = koop_store_dbi(st, "recipients");
    n->dbi_inbox = koop_store_dbi(st, "inbox");
    n->dbi_outbox = koop_store_dbi(st, "outbox");
    n->dbi_outbox_due = koop_store_dbi(st, "outbox_due");
    n->dbi_sent = koop_store_dbi(st, "sent");
    n->dbi_deliveries = koop_store_dbi(st, "deliveries");
    n->dbi_reminders = koop_store_dbi(st, "reminders");
    n->dbi_reminder_index = koop_store_dbi(st, "reminder_index");
    n->dbi_digest = koop_store_dbi(st, "digest");
    n->dbi_tasks = koop_store_dbi(st, "tasks");
    n->dbi_ipws = koop_store_dbi(st, "ipws");
    n->dbi_institutions = koop_store_dbi(st, "contacts");
    n->dbi_meta = koop_store_dbi(st, "meta");
    if (notif_smtp_conf_load(&n->smtp, koop_service_config(svc), err, sizeof err) != 0) {
        /* keep serving the inboxes; mails wait in the queue until this is fixed */
        koop_error("%s", err);
        snprintf(n->last_error, sizeof n->last_error, "%s", err);
        n->last_error_ms = koop_clock_real_ms();
    }
    n->mail_on = n->smtp.url[0] != '\0';
}

static int
s_start(koop_service_t *svc)
{
    notif_t *n = &s_notif;
    s_prepare(n, svc);
    if (!n->mail_on)
        koop_info("no smtp_url in [notifier]: mail is off; notifications go to the inboxes only, nothing is queued");
    n->feed_registry = s_feed(n, "registry");
    n->feed_cases = s_feed(n, "cases");
    if (!n->feed_registry)
        return -1;
    if (notif_outbox_start(n) != 0 || notif_reminders_start(n) != 0)
        return -1;
    return 0;
}

static void
s_stop(koop_service_t *svc)
{
    notif_t *n = &s_notif;
    (void)svc;
    koop_feed_destroy(&n->feed_registry);
    koop_feed_destroy(&n->feed_cases);
    notif_outbox_stop(n);
    notif_reminders_stop(n);
}

static int
s_status(koop_call_t *call)
{
    notif_t *n = &s_notif;
    Koop__Notif__Status st = KOOP__NOTIF__STATUS__INIT;
    Koop__Notif__Delivery *recent[10];
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = notif_outbox_status(n, call->txn, &st);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if ((rc = mdb_cursor_open(call->txn, n->dbi_deliveries, &cur)) != 0)
        return koop_call_store_error(call, rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    while (rc == 0 && st.n_recent < 10) {
        recent[st.n_recent] = koop__notif__delivery__unpack(NULL, v.mv_size, v.mv_data);
        if (recent[st.n_recent])
            st.n_recent++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cur);
    st.recent = recent;
    /* the error of the mail at the head of the queue survives restarts */
    if (!st.last_error && st.n_recent && !recent[0]->ok)
        st.last_error = recent[0]->error;
    rc = koop_call_reply(call, &st.base);
    for (size_t i = 0; i < st.n_recent; i++)
        koop__notif__delivery__free_unpacked(recent[i], NULL);
    return rc;
}

static int
s_prefs(koop_call_t *call)
{
    notif_t *n = &s_notif;
    const Koop__Notif__Prefs *p = (const Koop__Notif__Prefs *)call->req;
    Koop__Notif__Recipient *r;
    int rc;
    if (!call->caller[0])
        return koop_fail(call, ACCESS_NO_CALLER, "as", "prefs");
    r = notif_recipient_get(n, call->txn, call->caller);
    if (!r)
        return koop_fail(call, RECIPIENT_UNKNOWN, "as", call->caller);
    if (p->has_mail) {
        r->has_mail = 1;
        r->mail = p->mail;
    }
    if (p->has_digest) {
        r->has_digest = 1;
        r->digest = p->digest;
    }
    if (p->has_due_days) {
        if (p->due_days < 1 || p->due_days > 60) {
            koop__notif__recipient__free_unpacked(r, NULL);
            return koop_fail(call, FIELD_RANGE, "due_days", KOOP_NUM(p->due_days), "1", "60");
        }
        r->has_due_days = 1;
        r->due_days = p->due_days;
    }
    if (p->quiet) {
        unsigned from, to;
        char tail;
        if (!strcmp(p->quiet, "none")) {
            r->has_quiet_from = r->has_quiet_to = 1;
            r->quiet_from = r->quiet_to = 0;
        } else if (sscanf(p->quiet, "%u-%u%c", &from, &to, &tail) == 2 && from < 24 && to < 24) {
            r->has_quiet_from = r->has_quiet_to = 1;
            r->quiet_from = from;
            r->quiet_to = to;
        } else {
            koop__notif__recipient__free_unpacked(r, NULL);
            return koop_fail(call, QUIET_INVALID, "quiet", p->quiet);
        }
    }
    r->has_has_prefs = 1;
    r->has_prefs = 1;
    rc = koop_record_put(call->txn, n->dbi_recipients, call->caller, &r->base);
    if (rc == 0)
        rc = koop_call_reply(call, &r->base);
    else
        rc = koop_call_store_error(call, rc);
    koop__notif__recipient__free_unpacked(r, NULL);
    return rc;
}

static int
s_retry(koop_call_t *call)
{
    notif_t *n = &s_notif;
    Koop__Notif__Status st = KOOP__NOTIF__STATUS__INIT;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t now = koop_clock_now_ms();
    int rc;
    /* the node's operation, not a person's: the web never reaches it (an
     * empty caller is the node's own user, docs/FOUNDATION.md) */
    if (call->caller && *call->caller)
        return koop_fail(call, ACCESS_SHELL_ONLY, NULL, "notify.retry");
    /* every waiting mail becomes due now (the relay was fixed) */
    if ((rc = mdb_drop(call->txn, n->dbi_outbox_due, 0)) != 0)
        return koop_call_store_error(call, rc);
    if ((rc = mdb_cursor_open(call->txn, n->dbi_outbox, &cur)) != 0)
        return koop_call_store_error(call, rc);
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        unsigned char key[8 + 512];
        MDB_val dk = {8 + k.mv_size, key}, empty = {0, ""};
        if (k.mv_size > 500)
            continue;
        koop_be64_put(key, now);
        memcpy(key + 8, k.mv_data, k.mv_size);
        if ((rc = mdb_put(call->txn, n->dbi_outbox_due, &dk, &empty, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return koop_call_store_error(call, rc);
    notif_outbox_kick(n); /* the timer fires after this batch commits */
    if ((rc = notif_outbox_status(n, call->txn, &st)) != 0)
        return koop_call_store_error(call, rc);
    return koop_call_reply(call, &st.base);
}

static int
s_clock(koop_call_t *call)
{
    /* reminders are checked right after this request (not inside its transaction) */
    notif_reminders_kick(&s_notif);
    return koop_call_reply(call, &((Koop__Notif__StatusQuery)KOOP__NOTIF__STATUS_QUERY__INIT).base);
}

static const koop_method_t s_methods[] = {
#define KOOP_API_notifier(fn, name, ...) {name, fn},
#include "api_rows.h"
#undef KOOP_API_notifier
};

static const char *const s_tables[] = {"recipients", "inbox", "outbox", "outbox_due", "sent", "deliveries",
                                       "reminders", "reminder_index", "digest", "tasks", "ipws", "contacts",
                                       "meta", NULL};

static const koop_service_def_t s_def = {
    .name = "notifier",
    .tables = s_tables,
    .methods = s_methods,
    .nmethods = KOOP_ARRAY_LEN(s_methods),
    .start = s_start,
    .stop = s_stop,
};

const koop_service_def_t *
notif_service_def(void)
{
    return &s_def;
}

notif_t *
notif_state(void)
{
    return &s_notif;
}

notif_t *
notif_open_local(koop_service_t *svc)
{
    notif_t *n = &s_notif;
    memset(n, 0, sizeof *n);
    n->intent_fd = -1;
    s_prepare(n, svc);
    n->stopping = 1; /* no feed, no mail, no timer: nothing is sent or scheduled */
    return n;
}

int
main(int argc, char **argv)
{
    int rc = koop_service_main(&s_def, argc, argv, &s_notif);
    notif_smtp_global_cleanup();
    return rc;
}
