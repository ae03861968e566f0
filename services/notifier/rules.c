/*
 * rules.c - events in, notifications out (applied in the feed's transaction).
 *
 *   registry  person.*                 -> recipients (e-mail, institution)
 *             institution.*            -> contacts (e-mail for referrals)
 *             pzk.*                    -> contacts (PZK representatives)
 *             catalogue.added/updated  -> PZK representatives, as a daily digest
 *   cases     local.task.added         -> owner (task_assigned); reminders scheduled;
 *                                         already overdue (and not history): owner
 *                                         (task_overdue), once
 *             local.task.done          -> the IPW's coordinator (task_done); reminders cancelled
 *             local.task.cancelled     -> reminders cancelled
 *             local.ipw.member_added/removed -> that person (zzk_member_added/removed)
 *             local.ipw.activated/suspended/closed -> the ZZK (ipw_activated, ...)
 *             local.meeting.held (today or later) -> participants (meeting_scheduled)
 *             local.referral.sent      -> the provider institution (referral_received)
 *             local.referral.accepted/declined -> the sender (referral_answered)
 *             local.referral.declined  -> the IPW's coordinator (referral_declined)
 *   The person who caused an event (its actor) is never notified of it.
 *   A step dated more than a day before today is history entered after the
 *   fact: it goes to the inboxes, never by mail. With no smtp_url mail is off
 *   altogether: inboxes only, nothing queued.
 *
 * Inbox texts stay on the node and may name the task; mails carry only the
 * case number, the kind of action and the due date, and a link.
 */
#include "notifier.h"
#include "events.h"
#include "cases.pb-c.h"
#include "clock.h"
#include "registry.pb-c.h"
#include "say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- recipients and contacts ---- */

Koop__Notif__Recipient *
notif_recipient_get(notif_t *n, MDB_txn *txn, const char *person)
{
    ProtobufCMessage *m = NULL;
    if (!person || !*person)
        return NULL;
    if (koop_record_get(txn, n->dbi_recipients, person, &koop__notif__recipient__descriptor, &m) != 0)
        return NULL;
    return (Koop__Notif__Recipient *)m;
}

static int
s_apply_person(notif_t *n, MDB_txn *txn, const Koop__Reg__Person *p)
{
    Koop__Notif__Recipient *old = notif_recipient_get(n, txn, p->id), r = KOOP__NOTIF__RECIPIENT__INIT;
    int rc;
    if (old)
        r = *old; /* keep the preferences */
    r.id = p->id;
    r.email = p->email;
    r.institution = p->institution;
    r.has_active = 1;
    r.active = !p->has_active || p->active;
    rc = koop_record_put(txn, n->dbi_recipients, p->id, &r.base);
    if (old)
        koop__notif__recipient__free_unpacked(old, NULL);
    return rc;
}

static Koop__Notif__Contact *
s_contact_get(notif_t *n, MDB_txn *txn, const char *institution)
{
    ProtobufCMessage *m = NULL;
    if (!institution || koop_record_get(txn, n->dbi_institutions, institution, &koop__notif__contact__descriptor, &m) != 0)
        return NULL;
    return (Koop__Notif__Contact *)m;
}

static int
s_apply_institution(notif_t *n, MDB_txn *txn, const Koop__Reg__Institution *i)
{
    Koop__Notif__Contact *old = s_contact_get(n, txn, i->id), c = KOOP__NOTIF__CONTACT__INIT;
    int rc;
    if (old)
        c = *old;
    c.id = i->id;
    c.email = i->email;
    rc = koop_record_put(txn, n->dbi_institutions, i->id, &c.base);
    if (old)
        koop__notif__contact__free_unpacked(old, NULL);
    return rc;
}

/* PZK representatives become the contacts of their institutions, and the
 * PZK is kept (whole) for the catalogue digest. */
static int
s_apply_pzk(notif_t *n, MDB_txn *txn, const Koop__Reg__Pzk *p)
{
    char key[80];
    size_t len;
    uint8_t *buf;
    int rc;
    snprintf(key, sizeof key, "pzk|%s", p->id);
    len = koop__reg__pzk__get_packed_size(p);
    buf = malloc(len ? len : 1);
    if (!buf)
        return ENOMEM;
    koop__reg__pzk__pack(p, buf);
    rc = koop_store_put_str(txn, n->dbi_meta, key, buf, len);
    free(buf);
    for (size_t i = 0; rc == 0 && i < p->n_members; i++) {
        Koop__Reg__PzkMember *m = p->members[i];
        Koop__Notif__Contact *old, c = KOOP__NOTIF__CONTACT__INIT;
        if (!m->representative || !*m->representative || (m->left && *m->left))
            continue;
        old = s_contact_get(n, txn, m->institution);
        if (old)
            c = *old;
        c.id = m->institution;
        int known = 0;
        for (size_t k = 0; k < c.n_representatives; k++)
            known |= strcmp(c.representatives[k], m->representative) == 0;
        if (!known) {
            char **all = malloc((c.n_representatives + 1) * sizeof *all);
            if (!all) {
                rc = ENOMEM;
            } else {
                if (c.n_representatives)
                    memcpy(all, c.representatives, c.n_representatives * sizeof *all);
                all[c.n_representatives] = m->representative;
                c.representatives = all;
                c.n_representatives++;
                rc = koop_record_put(txn, n->dbi_institutions, m->institution, &c.base);
                free(all);
            }
        }
        if (old)
            koop__notif__contact__free_unpacked(old, NULL);
    }
    return rc;
}

/* ---- producing a notification ---- */

typedef struct {
    const char *event_id;   /* with kind and recipient: the idempotency key */
    const char *actor;      /* never notified */
    const char *kind;
    const char *ipw;        /* id, for the link */
    const char *number;     /* case number, may be NULL */
    const char *inbox_text; /* for the inbox (stays on the node) */
    const char *subject;    /* mail, no personal data */
    const char *mail_text;  /* mail, no personal data */
    int history;            /* a step entered after the fact: inbox only */
} s_note;

/* 1 when date (YYYY-MM-DD) is more than a day before today (a step entered
 * after the fact, not news). */
static int
s_history(const char *date)
{
    char today[11];
    if (!date || !koop_date_valid(date))
        return 0;
    koop_date_today(today);
    return koop_date_days(date) < koop_date_days(today) - 1;
}

static void
s_link(notif_t *n, const s_note *nt, char *out, size_t outlen)
{
    const char *base = koop_service_config(n->svc)->web_url;
    if (!base[0])
        base = "http://localhost:8080";
    if (nt->ipw && *nt->ipw)
        snprintf(out, outlen, "%s%sipw/%s", base, base[strlen(base) - 1] == '/' ? "" : "/", nt->ipw);
    else
        snprintf(out, outlen, "%s", base);
}

static int
s_mail(notif_t *n, MDB_txn *txn, const char *to, const char *person, const s_note *nt, const char *link)
{
    Koop__Notif__Mail m = KOOP__NOTIF__MAIL__INIT;
    char key[200], body[2048];
    snprintf(key, sizeof key, "%s.%s.%s", nt->event_id, person ? person : to, nt->kind);
    snprintf(body, sizeof body,
             "Dzień dobry,\n\n%s\n\nSzczegóły po zalogowaniu: %s\n\n--\nWiadomość wysłana automatycznie przez "
             "system koop. Ze względu na ochronę danych nie zawiera danych osobowych ani opisu sprawy.\n",
             nt->mail_text, link);
    m.key = key;
    m.to = (char *)to;
    m.subject = (char *)nt->subject;
    m.body = body;
    m.has_attempts = 1;
    m.has_next_ms = 1;
    m.next_ms = koop_clock_now_ms();
    m.has_queued_ms = 1;
    m.queued_ms = koop_clock_real_ms();
    m.person = (char *)(person ? person : "");
    return notif_outbox_put(n, txn, &m);
}

int notif_digest_add(notif_t *n, MDB_txn *txn, const char *person, const char *key, const char *line);

/* Tells `person`: an inbox entry, and a mail (or a digest line) by their preferences. */
static int
s_notify(notif_t *n, MDB_txn *txn, const char *person, const s_note *nt)
{
    Koop__Notif__InboxEntry e = KOOP__NOTIF__INBOX_ENTRY__INIT;
    Koop__Notif__Recipient *r;
    char id[160], link[400];
    int rc = 0;

    if (!person || !*person || (nt->actor && strcmp(person, nt->actor) == 0))
        return 0;
    s_link(n, nt, link, sizeof link);
    snprintf(id, sizeof id, "%s.%s", nt->event_id, nt->kind);
    e.id = id;
    e.person = (char *)person;
    e.kind = (char *)nt->kind;
    e.text = (char *)nt->inbox_text;
    e.has_read = 1;
    e.has_time_ms = 1;
    e.time_ms = koop_clock_real_ms();
    e.ipw = (char *)nt->ipw;
    e.number = (char *)nt->number;
    e.link = link;
    e.event = (char *)nt->event_id;
    if ((rc = notif_inbox_put(n, txn, &e)) != 0)
        return rc;
    r = notif_recipient_get(n, txn, person);
    if (n->mail_on && !nt->history && r && r->email && *r->email && (!r->has_active || r->active) &&
        (!r->has_mail || r->mail)) {
        if (r->has_digest && r->digest) {
            char key[200], line[600];
            snprintf(key, sizeof key, "%s.%s", nt->event_id, nt->kind);
            snprintf(line, sizeof line, "- %s", nt->mail_text);
            rc = notif_digest_add(n, txn, person, key, line);
        } else {
            rc = s_mail(n, txn, r->email, person, nt, link);
        }
    }
    if (r)
        koop__notif__recipient__free_unpacked(r, NULL);
    return rc;
}

/* ---- case state the rules need ---- */

static Koop__Notif__CaseIpw *
s_ipw_get(notif_t *n, MDB_txn *txn, const char *id)
{
    ProtobufCMessage *m = NULL;
    if (!id || koop_record_get(txn, n->dbi_ipws, id, &koop__notif__case_ipw__descriptor, &m) != 0)
        return NULL;
    return (Koop__Notif__CaseIpw *)m;
}

static int
s_ipw_put(notif_t *n, MDB_txn *txn, const Koop__Cases__Ipw *ipw)
{
    Koop__Notif__CaseIpw c = KOOP__NOTIF__CASE_IPW__INIT;
    char *members[64];
    c.id = ipw->id;
    c.number = ipw->number;
    c.coordinator = ipw->coordinator;
    for (size_t i = 0; i < ipw->n_members && c.n_members < 64; i++)
        if (ipw->members[i]->person && (!ipw->members[i]->removed || !*ipw->members[i]->removed))
            members[c.n_members++] = ipw->members[i]->person;
    c.members = members;
    return koop_record_put(txn, n->dbi_ipws, ipw->id, &c.base);
}

int notif_reminders_schedule_task(notif_t *n, MDB_txn *txn, const Koop__Notif__CaseTask *t, uint64_t entered_ms);
int notif_reminders_cancel_task(notif_t *n, MDB_txn *txn, const char *task);

static const char *
s_number(const Koop__Notif__CaseIpw *ipw)
{
    return ipw && ipw->number ? ipw->number : "(bez numeru)";
}

/* The overdue notice of a task (also what the task_overdue reminder says):
 * its key is the reminder's (event "reminder.<task>"), so the owner is told
 * once whichever comes first. */
void
notif_overdue_texts(const char *number, const char *due, char inbox[600], char subject[200], char mail[600])
{
    snprintf(inbox, 600, "Zadanie w sprawie %s jest po terminie (%s)", number, due);
    snprintf(subject, 200, "[koop] Zadanie po terminie – %s, termin %s", number, due);
    snprintf(mail, 600, "Zadanie w sprawie %s nie zostało wykonane w terminie %s.", number, due);
}

/* A task entered with its due date already past: one overdue notice now
 * (its reminder would have been due before the task existed). Not for a
 * task of history entered after the fact: its later steps follow. */
static int
s_overdue_when_entered(notif_t *n, MDB_txn *txn, const Koop__Cases__Task *t, const Koop__Notif__CaseIpw *ipw)
{
    char today[11], event_id[160], inbox[600], mail[600], subject[200];
    koop_date_today(today);
    if (!t->due || !koop_date_valid(t->due) || strcmp(t->due, today) >= 0 || s_history(t->added))
        return 0;
    snprintf(event_id, sizeof event_id, "reminder.%s", t->id);
    notif_overdue_texts(s_number(ipw), t->due, inbox, subject, mail);
    s_note nt = {event_id, NULL, "task_overdue", t->ipw, ipw ? ipw->number : NULL, inbox, subject, mail, 0};
    return s_notify(n, txn, t->owner, &nt);
}

/* A task done: the IPW's coordinator hears of it (unless they did it). */
static int
s_task_done(notif_t *n, MDB_txn *txn, const Koop__Event *ev, const Koop__Cases__Task *t)
{
    Koop__Notif__CaseIpw *ipw = s_ipw_get(n, txn, t->ipw);
    char inbox[1200], mail[600], subject[200];
    int rc;
    if (!ipw)
        return 0;
    s_note nt = {ev->id, ev->actor, "task_done", t->ipw, ipw->number, inbox, subject, mail, s_history(t->done)};
    snprintf(inbox, sizeof inbox, "Wykonano zadanie w sprawie %s: %s (termin %s)", s_number(ipw),
             t->title ? t->title : "", t->due ? t->due : "-");
    snprintf(subject, sizeof subject, "[koop] Zadanie wykonane – %s", s_number(ipw));
    snprintf(mail, sizeof mail, "W sprawie %s wykonano zadanie z terminem %s.", s_number(ipw), t->due ? t->due : "-");
    rc = s_notify(n, txn, ipw->coordinator, &nt);
    koop__notif__case_ipw__free_unpacked(ipw, NULL);
    return rc;
}

static int
s_task_event(notif_t *n, MDB_txn *txn, const Koop__Event *ev, const Koop__Cases__Task *t)
{
    Koop__Notif__CaseTask c = KOOP__NOTIF__CASE_TASK__INIT;
    Koop__Notif__CaseIpw *ipw;
    int open = t->status == KOOP__CASES__TASK_STATUS__TASK_PLANNED ||
               t->status == KOOP__CASES__TASK_STATUS__TASK_IN_PROGRESS;
    int rc;

    c.id = t->id;
    c.ipw = t->ipw;
    c.owner = t->owner;
    c.due = t->due;
    c.has_open = 1;
    c.open = open;
    if ((rc = koop_record_put(txn, n->dbi_tasks, t->id, &c.base)) != 0)
        return rc;
    if (!open && (rc = notif_reminders_cancel_task(n, txn, t->id)) != 0)
        return rc;
    if (!strcmp(ev->type, "local.task.done"))
        return s_task_done(n, txn, ev, t);
    if (!open || strcmp(ev->type, "local.task.added") != 0)
        return 0;
    /* reminders due before the task was entered never fire (its event's time) */
    if ((rc = notif_reminders_schedule_task(n, txn, &c,
                                            ev->time_ms + (koop_clock_now_ms() - koop_clock_real_ms()))) != 0)
        return rc;
    ipw = s_ipw_get(n, txn, t->ipw);
    {
        char inbox[1200], mail[600], subject[200];
        s_note nt = {ev->id, ev->actor, "task_assigned", t->ipw, ipw ? ipw->number : NULL, inbox, subject, mail,
                     s_history(t->added)};
        snprintf(inbox, sizeof inbox, "Nowe zadanie w %s: %s (termin %s)", s_number(ipw), t->title ? t->title : "",
                 t->due ? t->due : "-");
        snprintf(subject, sizeof subject, "[koop] Nowe zadanie – %s, termin %s", s_number(ipw), t->due ? t->due : "-");
        snprintf(mail, sizeof mail, "Przydzielono Pani/Panu nowe zadanie w sprawie %s.\nTermin wykonania: %s.",
                 s_number(ipw), t->due ? t->due : "-");
        rc = s_notify(n, txn, t->owner, &nt);
    }
    if (rc == 0)
        rc = s_overdue_when_entered(n, txn, t, ipw);
    if (ipw)
        koop__notif__case_ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* The IPW's ZZK (members and coordinator), each once. */
static int
s_notify_zzk(notif_t *n, MDB_txn *txn, const Koop__Notif__CaseIpw *ipw, const s_note *nt)
{
    int rc = 0;
    int coordinator_member = 0;
    for (size_t i = 0; rc == 0 && i < ipw->n_members; i++) {
        coordinator_member |= ipw->coordinator && strcmp(ipw->members[i], ipw->coordinator) == 0;
        rc = s_notify(n, txn, ipw->members[i], nt);
    }
    if (rc == 0 && !coordinator_member)
        rc = s_notify(n, txn, ipw->coordinator, nt);
    return rc;
}

static int
s_ipw_event(notif_t *n, MDB_txn *txn, const Koop__Event *ev, const Koop__Cases__Ipw *ipw)
{
    Koop__Notif__CaseIpw *before = s_ipw_get(n, txn, ipw->id), *after;
    const char *t = ev->type + strlen("local.ipw.");
    char inbox[600], mail[600], subject[200];
    int rc;

    if ((rc = s_ipw_put(n, txn, ipw)) != 0)
        goto done;
    after = s_ipw_get(n, txn, ipw->id);
    if (!after) {
        rc = MDB_CORRUPTED;
        goto done;
    }
    if (!strcmp(t, "activated") || !strcmp(t, "suspended") || !strcmp(t, "closed") || !strcmp(t, "resumed")) {
        const char *word = !strcmp(t, "activated") ? "rozpoczęty (aktywny)"
                           : !strcmp(t, "suspended") ? "zawieszony"
                           : !strcmp(t, "resumed") ? "wznowiony" : "zamknięty";
        char kind[40];
        snprintf(kind, sizeof kind, "ipw_%s", t);
        snprintf(inbox, sizeof inbox, "IPW %s: %s", s_number(after), word);
        snprintf(subject, sizeof subject, "[koop] %s – %s", s_number(after), word);
        snprintf(mail, sizeof mail, "Indywidualny Program Współpracy %s został %s.", s_number(after), word);
        s_note nt = {ev->id, ev->actor, kind, ipw->id, after->number, inbox, subject, mail,
                     ipw->n_history && s_history(ipw->history[ipw->n_history - 1]->date)};
        rc = s_notify_zzk(n, txn, after, &nt);
    } else if (!strcmp(t, "member_added") || !strcmp(t, "member_removed")) {
        int added = !strcmp(t, "member_added");
        /* the person who joined or left: in one list and not the other */
        const Koop__Notif__CaseIpw *from = added ? after : before, *to = added ? before : after;
        snprintf(inbox, sizeof inbox, added ? "Dodano Cię do zespołu ZZK sprawy %s" : "Usunięto Cię z zespołu ZZK sprawy %s",
                 s_number(after));
        snprintf(subject, sizeof subject, "[koop] %s – %s", s_number(after), added ? "dodano do ZZK" : "usunięto z ZZK");
        snprintf(mail, sizeof mail, added ? "Dodano Panią/Pana do zespołu zadaniowego (ZZK) sprawy %s."
                                          : "Usunięto Panią/Pana z zespołu zadaniowego (ZZK) sprawy %s.",
                 s_number(after));
        s_note nt = {ev->id, ev->actor, added ? "zzk_member_added" : "zzk_member_removed", ipw->id, after->number,
                     inbox, subject, mail, 0};
        for (size_t i = 0; rc == 0 && from && i < from->n_members; i++) {
            int was = 0;
            for (size_t k = 0; to && k < to->n_members; k++)
                was |= strcmp(from->members[i], to->members[k]) == 0;
            if (was)
                continue;
            /* the step's date: when that person joined or left */
            nt.history = 0;
            for (size_t k = 0; k < ipw->n_members; k++)
                if (ipw->members[k]->person && strcmp(ipw->members[k]->person, from->members[i]) == 0)
                    nt.history = s_history(added ? ipw->members[k]->added : ipw->members[k]->removed);
            rc = s_notify(n, txn, from->members[i], &nt);
        }
    }
    koop__notif__case_ipw__free_unpacked(after, NULL);
done:
    if (before)
        koop__notif__case_ipw__free_unpacked(before, NULL);
    return rc;
}

static int
s_meeting_event(notif_t *n, MDB_txn *txn, const Koop__Event *ev, const Koop__Cases__Meeting *m)
{
    Koop__Notif__CaseIpw *ipw;
    char today[11], inbox[600], mail[600], subject[200];
    int rc = 0;
    koop_date_today(today);
    if (!m->date || strcmp(m->date, today) < 0)
        return 0; /* a past meeting entered for the record: nobody needs telling */
    ipw = s_ipw_get(n, txn, m->ipw);
    snprintf(inbox, sizeof inbox, "Spotkanie ZZK sprawy %s: %s", s_number(ipw), m->date);
    snprintf(subject, sizeof subject, "[koop] Spotkanie ZZK – %s, %s", s_number(ipw), m->date);
    snprintf(mail, sizeof mail, "Zaplanowano spotkanie zespołu zadaniowego (ZZK) sprawy %s w dniu %s.", s_number(ipw),
             m->date);
    s_note nt = {ev->id, ev->actor, "meeting_scheduled", m->ipw, ipw ? ipw->number : NULL, inbox, subject, mail, 0};
    for (size_t i = 0; rc == 0 && i < m->n_participants; i++)
        rc = s_notify(n, txn, m->participants[i], &nt);
    if (ipw)
        koop__notif__case_ipw__free_unpacked(ipw, NULL);
    return rc;
}

static int
s_referral_event(notif_t *n, MDB_txn *txn, const Koop__Event *ev, const Koop__Cases__Referral *r)
{
    Koop__Notif__CaseIpw *ipw = s_ipw_get(n, txn, r->ipw);
    char inbox[600], mail[600], subject[200];
    int rc = 0;

    if (!strcmp(ev->type, "local.referral.sent")) {
        Koop__Notif__CaseReferral c = KOOP__NOTIF__CASE_REFERRAL__INIT;
        Koop__Notif__Contact *contact = s_contact_get(n, txn, r->provider);
        c.id = r->id;
        c.ipw = r->ipw;
        c.sender = ev->actor;
        c.provider = r->provider;
        if ((rc = koop_record_put(txn, n->dbi_meta, r->id, &c.base)) != 0)
            goto done;
        snprintf(inbox, sizeof inbox, "Nowe skierowanie do usługi Twojej instytucji (sprawa %s)", s_number(ipw));
        snprintf(subject, sizeof subject, "[koop] Nowe skierowanie – %s", s_number(ipw));
        snprintf(mail, sizeof mail, "Do usługi Państwa instytucji skierowano rodzinę w sprawie %s. Prosimy o odpowiedź "
                                    "(przyjęcie albo odmowę) w systemie.", s_number(ipw));
        s_note nt = {ev->id, ev->actor, "referral_received", r->ipw, ipw ? ipw->number : NULL, inbox, subject, mail,
                     s_history(r->sent)};
        for (size_t i = 0; rc == 0 && contact && i < contact->n_representatives; i++)
            rc = s_notify(n, txn, contact->representatives[i], &nt);
        if (rc == 0 && n->mail_on && !nt.history && contact && contact->email && *contact->email &&
            !contact->n_representatives) {
            char link[400];
            s_link(n, &nt, link, sizeof link);
            rc = s_mail(n, txn, contact->email, NULL, &nt, link);
        }
        if (contact)
            koop__notif__contact__free_unpacked(contact, NULL);
    } else if (!strcmp(ev->type, "local.referral.accepted") || !strcmp(ev->type, "local.referral.declined")) {
        ProtobufCMessage *m = NULL;
        int ok = !strcmp(ev->type, "local.referral.accepted");
        if (koop_record_get(txn, n->dbi_meta, r->id, &koop__notif__case_referral__descriptor, &m) == 0) {
            Koop__Notif__CaseReferral *c = (Koop__Notif__CaseReferral *)m;
            snprintf(inbox, sizeof inbox, "Skierowanie w sprawie %s: %s", s_number(ipw), ok ? "przyjęte" : "odrzucone");
            snprintf(subject, sizeof subject, "[koop] Skierowanie %s – %s", ok ? "przyjęte" : "odrzucone", s_number(ipw));
            snprintf(mail, sizeof mail, "Instytucja %s skierowanie w sprawie %s.", ok ? "przyjęła" : "odrzuciła",
                     s_number(ipw));
            s_note nt = {ev->id, ev->actor, "referral_answered", r->ipw, ipw ? ipw->number : NULL, inbox, subject, mail,
                         s_history(ok ? r->accepted : r->declined)};
            rc = s_notify(n, txn, c->sender, &nt);
            /* a partner declining: the IPW's coordinator hears of it too */
            if (rc == 0 && !ok && ipw && ipw->coordinator && (!c->sender || strcmp(ipw->coordinator, c->sender))) {
                s_note dn = nt;
                dn.kind = "referral_declined";
                rc = s_notify(n, txn, ipw->coordinator, &dn);
            }
            protobuf_c_message_free_unpacked(m, NULL);
        }
    }
done:
    if (ipw)
        koop__notif__case_ipw__free_unpacked(ipw, NULL);
    return rc;
}

/* The catalogue digest: a line for every PZK representative of this node. */
static int
s_catalogue_event(notif_t *n, MDB_txn *txn, const Koop__Event *ev, const Koop__Reg__CatalogueEntry *e)
{
    MDB_cursor *cur;
    MDB_val k, v;
    char line[600], key[160];
    int rc;
    snprintf(line, sizeof line, "- %s wpis na liście aktywności i usług: %s",
             strcmp(ev->type, "catalogue.added") == 0 ? "nowy" : "zmieniony", e->name ? e->name : "");
    snprintf(key, sizeof key, "%s.catalogue", ev->id);
    if ((rc = mdb_cursor_open(txn, n->dbi_meta, &cur)) != 0)
        return rc;
    k.mv_size = 4;
    k.mv_data = "pzk|";
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size > 4 && memcmp(k.mv_data, "pzk|", 4) == 0) {
        Koop__Reg__Pzk *p = koop__reg__pzk__unpack(NULL, v.mv_size, v.mv_data);
        if (p && (!p->dissolved || !*p->dissolved))
            for (size_t i = 0; rc == 0 && i < p->n_members; i++) {
                Koop__Reg__PzkMember *m = p->members[i];
                if (m->representative && *m->representative && (!m->left || !*m->left) &&
                    (!ev->actor || strcmp(ev->actor, m->representative) != 0))
                    rc = notif_digest_add(n, txn, m->representative, key, line);
            }
        if (p)
            koop__reg__pzk__free_unpacked(p, NULL);
        if (rc == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Decodes the event by its type (common/events.def); an event that does
 * not decode, that another node wrote, or that is about a record another
 * node owns is reported and refused (KOOP_FEED_REFUSED: the feed counts it
 * and moves on). Records of a hub (remote.*) are not the notifier's: people
 * and the case work are all this node's. */
int
notif_rules_apply(MDB_txn *txn, const Koop__Event *ev, void *ctx)
{
    notif_t *n = ctx;
    const koop_event_type_t *t;
    ProtobufCMessage *p;
    int rc = koop_event_decode(ev, &t, &p);

    if (rc != 0) {
        if (n->undecodable++ < 20)
            koop_warn("zdarzenie %llu (%.60s, %.20s) pominięte: %s", (unsigned long long)ev->seq,
                      ev->type ? ev->type : "?", ev->stream ? ev->stream : "?", koop_event_decode_error(rc));
        return KOOP_FEED_REFUSED;
    }
    {
        /* the feeds are this node's own logs: its events, its records */
        const char *self = koop_service_node(n->svc), *owner;
        int has;
        owner = koop_event_owner(t, p, &has);
        if (!ev->node || strcmp(ev->node, self) != 0 || (has && (!owner || strcmp(owner, self) != 0))) {
            if (n->undecodable++ < 20)
                koop_warn("zdarzenie %llu (%s) pominięte: węzła %.60s, rekord węzła %.60s – nie tego węzła",
                          (unsigned long long)ev->seq, t->type, ev->node ? ev->node : "?",
                          owner ? owner : "?");
            protobuf_c_message_free_unpacked(p, NULL);
            return KOOP_FEED_REFUSED;
        }
    }
    switch (t->id) {
    case KOOP_EV_PERSON_ADDED: case KOOP_EV_PERSON_UPDATED:
        rc = s_apply_person(n, txn, (Koop__Reg__Person *)p);
        break;
    case KOOP_EV_INSTITUTION_ADDED: case KOOP_EV_INSTITUTION_UPDATED:
        rc = s_apply_institution(n, txn, (Koop__Reg__Institution *)p);
        break;
    case KOOP_EV_PZK_CREATED: case KOOP_EV_PZK_UPDATED: case KOOP_EV_PZK_JOINED: case KOOP_EV_PZK_LEFT:
    case KOOP_EV_PZK_DISSOLVED:
        rc = s_apply_pzk(n, txn, (Koop__Reg__Pzk *)p);
        break;
    case KOOP_EV_CATALOGUE_ADDED: case KOOP_EV_CATALOGUE_UPDATED:
        rc = s_catalogue_event(n, txn, ev, (Koop__Reg__CatalogueEntry *)p);
        break;
    case KOOP_EV_LOCAL_TASK_ADDED: case KOOP_EV_LOCAL_TASK_STARTED: case KOOP_EV_LOCAL_TASK_DONE:
    case KOOP_EV_LOCAL_TASK_CANCELLED:
        rc = s_task_event(n, txn, ev, (Koop__Cases__Task *)p);
        break;
    case KOOP_EV_LOCAL_IPW_OPENED: case KOOP_EV_LOCAL_IPW_ACTIVATED: case KOOP_EV_LOCAL_IPW_SUSPENDED:
    case KOOP_EV_LOCAL_IPW_RESUMED: case KOOP_EV_LOCAL_IPW_REVIEWED: case KOOP_EV_LOCAL_IPW_CLOSED:
    case KOOP_EV_LOCAL_IPW_MEMBER_ADDED: case KOOP_EV_LOCAL_IPW_MEMBER_REMOVED:
        rc = s_ipw_event(n, txn, ev, (Koop__Cases__Ipw *)p);
        break;
    case KOOP_EV_LOCAL_MEETING_HELD:
        rc = s_meeting_event(n, txn, ev, (Koop__Cases__Meeting *)p);
        break;
    case KOOP_EV_LOCAL_REFERRAL_SENT: case KOOP_EV_LOCAL_REFERRAL_ACCEPTED: case KOOP_EV_LOCAL_REFERRAL_DECLINED:
    case KOOP_EV_LOCAL_REFERRAL_DONE:
        rc = s_referral_event(n, txn, ev, (Koop__Cases__Referral *)p);
        break;
    default:
        rc = 0; /* not for the notifier: facts, agreements, households, records of a hub */
    }
    protobuf_c_message_free_unpacked(p, NULL);
    return rc;
}

/* Reminder of a task (fired by reminders.c); the key makes it fire once. */
int
notif_rules_reminder(notif_t *n, MDB_txn *txn, const Koop__Notif__Reminder *rem, const Koop__Notif__CaseTask *t)
{
    Koop__Notif__CaseIpw *ipw = s_ipw_get(n, txn, t->ipw);
    char event_id[160], inbox[600], mail[600], subject[200];
    const char *person = t->owner;
    int rc;
    snprintf(event_id, sizeof event_id, "reminder.%s", t->id);
    if (!strcmp(rem->kind, "task_due_soon")) {
        snprintf(inbox, sizeof inbox, "Zbliża się termin zadania w sprawie %s: %s", s_number(ipw), t->due);
        snprintf(subject, sizeof subject, "[koop] Przypomnienie – %s, termin %s", s_number(ipw), t->due);
        snprintf(mail, sizeof mail, "Przypominamy o zadaniu w sprawie %s. Termin wykonania: %s.", s_number(ipw), t->due);
    } else {
        notif_overdue_texts(s_number(ipw), t->due, inbox, subject, mail);
        if (!strcmp(rem->kind, "task_overdue_coordinator"))
            person = ipw ? ipw->coordinator : NULL;
    }
    s_note nt = {event_id, NULL, rem->kind, t->ipw, ipw ? ipw->number : NULL, inbox, subject, mail, 0};
    rc = s_notify(n, txn, person, &nt);
    if (ipw)
        koop__notif__case_ipw__free_unpacked(ipw, NULL);
    return rc;
}
