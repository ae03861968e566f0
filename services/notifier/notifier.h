/*
 * notifier - every team member knows what is theirs to do, on time.
 *
 * Consumes the registry and cases feeds (cursor in the notifier's own
 * transaction) and turns events into notifications by rules (rules.c):
 * an inbox entry per person (inbox.c) and, by the person's preferences, an
 * e-mail in the durable delivery queue (outbox.c) sent over SMTP (smtp.c).
 * Reminders (reminders.c) are kept in LMDB by their time and fire from a
 * libuv timer; they survive restarts and fire once.
 *
 * Exactly once: a notification's key is (event id, recipient, kind). The
 * inbox, the queue and the sent log are keyed by it and written in the same
 * transaction as the feed cursor, so a replayed event finds its key and adds
 * nothing. A mail leaves the queue only in the transaction that records its
 * successful delivery.
 *
 * No personal data in e-mails: a mail names the case number, the kind of
 * action and the due date, and links to the web UI; never a family's name,
 * address, or any free text (titles, notes).
 */
#ifndef NOTIF_NOTIFIER_H
#define NOTIF_NOTIFIER_H

#include "feed.h"
#include "record.h"
#include "service.h"
#include "notifier.pb-c.h"

#include <lmdb.h>
#include <stdint.h>

typedef struct notif notif_t;

/* ---- smtp.c ---- */
typedef struct {
    char url[256];
    char user[256];
    char password[256];
    char from[256];
    char ca_file[4096];  /* CURLOPT_CAINFO when set */
} notif_smtp_conf_t;

/* Loads the SMTP settings from the node config (password from its file).
 * Returns 0, or -1 with a Polish message in err. */
int notif_smtp_conf_load(notif_smtp_conf_t *conf, const koop_config_t *cfg, char *err, size_t errlen);
/* Called (on the sending thread) just before the relay is given the end of
 * the message; returns 0 when the delivery was recorded durably. */
typedef int (*notif_smtp_commit_fn)(void *ctx);
/* libcurl's global set-up (TLS libraries included), on the loop thread
 * before the first mail is handed to a sending thread: a node that sends
 * no mail never maps OpenSSL's tables (~3 MB of an idle node's memory,
 * make bench, section node). Idempotent; 0, or -1 with a Polish message. */
int notif_smtp_global_init(char *err, size_t errlen);
/* Undoes notif_smtp_global_init when it ran (at exit). */
void notif_smtp_global_cleanup(void);
/* Sends one mail (blocking; run it off the loop thread; after
 * notif_smtp_global_init). commit (may be NULL)
 * runs at the commit point; *committed says whether it ran and succeeded.
 * Returns 0, or -1 with the reason in err. */
int notif_smtp_send(const notif_smtp_conf_t *conf, const char *to, const char *subject,
                    const char *body, const char *message_id, notif_smtp_commit_fn commit,
                    void *commit_ctx, int *committed, char *err, size_t errlen);

/* ---- outbox.c: the delivery queue ---- */
/* Queues mail (its key set) unless that key was queued or sent before.
 * Returns 0 (queued or already known) or an LMDB error. */
int notif_outbox_put(notif_t *n, MDB_txn *txn, const Koop__Notif__Mail *mail);
/* Starts the delivery timer. */
int notif_outbox_start(notif_t *n);
void notif_outbox_stop(notif_t *n);
/* Makes every waiting mail due now (after the relay was fixed). */
int notif_outbox_retry_now(notif_t *n);
int notif_outbox_status(notif_t *n, MDB_txn *txn, Koop__Notif__Status *st);
void notif_outbox_kick(notif_t *n);

/* ---- reminders.c ---- */
int notif_reminders_start(notif_t *n);
void notif_reminders_stop(notif_t *n);
/* Fires what is due and sets the timer to the next reminder. */
void notif_reminders_check(notif_t *n);
/* Checks reminders as soon as the loop is free (from inside a request). */
void notif_reminders_kick(notif_t *n);

/* ---- rules.c ---- */
/* The feeds' apply callback (koop_feed_apply_fn): one event, in the feed's txn. */
int notif_rules_apply(MDB_txn *txn, const Koop__Event *ev, void *ctx);

/* The texts of a task's overdue notice (inbox, mail subject, mail body). */
void notif_overdue_texts(const char *number, const char *due, char inbox[600], char subject[200], char mail[600]);

/* ---- inbox.c ---- */
int notif_inbox_list(koop_call_t *call);
int notif_inbox_read(koop_call_t *call);
/* Adds an inbox entry (id = key) unless present. */
int notif_inbox_put(notif_t *n, MDB_txn *txn, const Koop__Notif__InboxEntry *e);

/* main.c: the service's definition and state, for in-process drivers
 * (tests/fuzz, built with main renamed). notif_open_local prepares the
 * state over svc's store (made with koop_service_local_new(def, cfg,
 * notif_state())) without feeds, mail or timers. */
const koop_service_def_t *notif_service_def(void);
struct notif *notif_state(void);
struct notif *notif_open_local(koop_service_t *svc);

/* ---- the service's shared state ---- */
struct notif {
    koop_service_t *svc;
    koop_store_t *store;
    notif_smtp_conf_t smtp;
    int smtp_configured;
    int mail_on;               /* an smtp_url is configured: otherwise inboxes only, nothing queued */
    MDB_dbi dbi_recipients, dbi_inbox, dbi_outbox, dbi_outbox_due, dbi_sent, dbi_deliveries,
        dbi_reminders, dbi_reminder_index, dbi_digest, dbi_tasks, dbi_ipws, dbi_institutions, dbi_meta;
    koop_feed_t *feed_registry, *feed_cases;
    uv_timer_t delivery_timer;
    uv_timer_t reminder_timer;
    int reminders_changed;  /* set when a transaction scheduled a reminder */
    uv_work_t work;
    int sending;
    int stopping;
    Koop__Notif__Mail *in_flight;   /* the mail being sent (owned) */
    char in_flight_error[512];
    int in_flight_rc;
    int in_flight_committed;   /* the intent "S" was written before the final "." */
    int intent_fd;             /* DATA_DIR/notifier/sending (outbox.c) */
    /* status kept in memory and mirrored in the meta table */
    uint64_t sent_count, failed_attempts, last_sent_ms, last_error_ms;
    uint64_t undecodable;      /* events of the feeds that did not decode (reported) */
    char last_error[700];
};

/* Returns the recipient (caller frees) or NULL. */
Koop__Notif__Recipient *notif_recipient_get(notif_t *n, MDB_txn *txn, const char *person);

#endif
