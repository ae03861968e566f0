/*
 * cases - households, consent, IPWs with their ZZK, goals, tasks, meetings,
 * referrals, the case timeline and the audit log of one gmina node.
 *
 * Files:
 *   main.c      method table, start/stop (the registry feed)
 *   records.c   loading/saving records, input checks, events + timeline
 *   copy.c      the read-only copy of registry records (people, institutions,
 *               catalogue entries), fed by the registry's events
 *   access.c    who may see what, the audit log (after_write), audit.show
 *   household.c households, their members, consent
 *   ipw.c       the IPW lifecycle (state diagram there), ZZK, show/list/timeline
 *   plan.c      goals with PSR scaling, tasks, "my tasks"
 *   meeting.c   ZZK meetings and referrals to listed services
 *   names.c     names next to ids in replies (common/names.h)
 *
 * Events. Every change appends, in the transaction of the change:
 *   1. a LOCAL event "local.<type>" whose payload is the record after the
 *      change (personal data and free text included; never leaves the node);
 *   2. a SHARED event "<type>" whose payload is a *Facts message of
 *      cases.proto (ids, dates, enums, numbers only). Before a SHARED append
 *      every string of the facts is checked to be an id or a date, so free
 *      text cannot reach a SHARED event even by a programming slip.
 * Types: household.registered household.member_added consent.recorded
 * consent.withdrawn ipw.opened ipw.activated ipw.suspended ipw.resumed
 * ipw.reviewed ipw.closed ipw.member_added ipw.member_removed goal.added
 * goal.scaled task.added task.started task.done task.cancelled meeting.held
 * referral.sent referral.accepted referral.declined referral.done.
 *
 * Access (access.c). Every request names its caller (--as). Case data is
 * for the IPW's ZZK members (not removed) and for the gmina's coordinators
 * (registry role `coordinator`); a household without an IPW also for the
 * person who registered it. Everything else is refused (KOOP_DENIED). Every
 * method is a write method, so that each call - allowed, refused or failed -
 * leaves one audit entry committed with its batch (after_write).
 */
#ifndef CASES_H
#define CASES_H

#include "cases.pb-c.h"
#include "check.h"
#include "envelope.pb-c.h"
#include "feed.h"
#include "record.h"
#include "registry.pb-c.h"
#include "client.h"
#include "service.h"

/* Limits on what one record may hold (bounds on input from outside). */
#define CASES_MAX_HOUSEHOLD_SIZE 30
#define CASES_MAX_MEMBERS 50      /* ZZK memberships of one IPW */
#define CASES_MAX_SCALINGS 200    /* reviews of one goal */
#define CASES_MAX_REVIEWS 200
#define CASES_MAX_HISTORY 500     /* status changes of one IPW */
#define CASES_MAX_LIST 50         /* participants, share_with */
#define CASES_MAX_CHILDREN 2000   /* goals+tasks+meetings+referrals of one IPW */

/* The process's state (koop_service_user). */
typedef struct cases {
    koop_service_t *svc;
    koop_feed_t *feed;
    /* what the call being handled is about, for its audit entry (access.c) */
    char note_household[KOOP_ID_LEN];
    char note_ipw[KOOP_ID_LEN];
    char note_ref[KOOP_ID_LEN];
} cases_t;

cases_t *cases_of(koop_call_t *call);

/* A person as the registry copy knows them. */
typedef struct {
    char id[KOOP_ID_LEN];
    char institution[KOOP_ID_LEN];
    Koop__Reg__Role role;
    Koop__Reg__Sector sector;  /* of the institution */
    int active;
} cases_person_t;

/* ---- records.c ---- */

MDB_dbi cases_dbi(koop_call_t *call, const char *table);
/* Loads record `id` of table (request field `field` named it; the table's
 * name is the kind of record in messages, a word of errors.def). Fails the
 * call: INVALID when id is missing or malformed, NOT_FOUND when absent.
 * Caller frees *out. */
int cases_load(koop_call_t *call, const char *table, const ProtobufCMessageDescriptor *desc,
               const char *field, const char *id, ProtobufCMessage **out);
int cases_save(koop_call_t *call, const char *table, const char *id, const ProtobufCMessage *rec);
/* Changing unpacked records (they own their strings and arrays): cases_set
 * replaces a string with a copy of value (NULL for ""); cases_append adds an
 * element (malloc'd, now owned by the record) to a repeated field given as
 * &rec->field, &rec->n_field; cases_append_str adds a copy of a string. Each
 * fails the call on lack of memory (the element then stays the caller's). */
int cases_set(koop_call_t *call, char **field, const char *value);
int cases_append(koop_call_t *call, void *array_p, size_t *n, void *elem);
int cases_append_str(koop_call_t *call, char ***array, size_t *n, const char *value);
/* A new id into out; fails the call when none can be made. */
int cases_new_id(koop_call_t *call, char out[KOOP_ID_LEN]);

/* Checks; each returns KOOP_OK or fails the call (a code of errors.def). */
/* (Text, dates and phones: common/check.h.) */
int cases_check_id(koop_call_t *call, const char *field, const char *value, int required);
int cases_check_psr(koop_call_t *call, const char *field, int has, int32_t value);
int cases_check_pesel(koop_call_t *call, const char *field, const char *value, int required);
/* The date a step happened: `given` when set (checked), else today, but not
 * before `floor` (may be NULL). out gets YYYY-MM-DD. */
int cases_step_date(koop_call_t *call, const char *field, const char *given, const char *floor,
                    char out[11]);
/* The date of a step in ipw: cases_step_date with the IPW's opening as the
 * floor, and refused when given before it. */
int cases_ipw_date(koop_call_t *call, const Koop__Cases__Ipw *ipw, const char *given, char out[11]);
/* "a" is before "b" (both valid dates). */
int cases_date_before(const char *a, const char *b);

/* The age band of a person born `birth` on `date`. */
Koop__Cases__AgeBand cases_age_band(const char *birth, const char *date);
/* Age bands of the household's recorded people on `date` into bands
 * (caller's array of CASES_MAX_HOUSEHOLD_SIZE + 1); returns how many. */
size_t cases_household_bands(const Koop__Cases__Household *h, const char *date, Koop__Cases__AgeBand *bands);

/* One change: the LOCAL event with the record, the SHARED event with the
 * facts (when facts is not NULL), and an entry in the IPW's timeline (when
 * ipw is not NULL). */
typedef struct {
    const char *type;              /* "task.done" */
    const ProtobufCMessage *record;
    const ProtobufCMessage *facts; /* a *Facts message of cases.proto */
    const char *ipw;
    const char *date;
    const char *ref;
    const char *summary;           /* for the timeline (LOCAL) */
} cases_change_t;
int cases_record_change(koop_call_t *call, const cases_change_t *ch);

/* 1 when every string in facts (recursively) is an id or a date and facts
 * is one of the SHARED message types. */
int cases_facts_clean(const ProtobufCMessage *facts);

/* Child index of an IPW (goals, tasks, meetings, referrals). kind is 'g',
 * 't', 'm' or 'r'. */
int cases_child_add(koop_call_t *call, const char *ipw, char kind, const char *id);
typedef int (*cases_child_fn)(koop_call_t *call, char kind, const char *id, void *ctx);
int cases_child_scan(koop_call_t *call, const char *ipw, cases_child_fn fn, void *ctx);

/* Refuses a new goal/task/meeting/referral when the IPW has
 * CASES_MAX_CHILDREN already (plan.c). */
int cases_check_children(koop_call_t *call, const char *ipw);

/* Builds a list reply: a message of list_desc with `items` = items[0..n). */
int cases_reply_list(koop_call_t *call, const ProtobufCMessageDescriptor *list_desc,
                     ProtobufCMessage **items, size_t n);
/* Ends a handler that collected items (unpacked, malloc'd array) in a
 * cursor scan whose last LMDB code is rc (MDB_NOTFOUND or 0: it ended
 * normally): replies with them, or fails the call (store error, or the
 * failure already set). Frees the items and the array; returns the status. */
int cases_list_done(koop_call_t *call, int rc, const ProtobufCMessageDescriptor *list_desc,
                    ProtobufCMessage **items, size_t n);

/* ---- copy.c ---- */

int cases_copy_start(cases_t *c);
void cases_copy_stop(cases_t *c);
/* The registry's feed applied to the copy (one event, in the feed's txn). */
int cases_copy_apply(MDB_txn *txn, const Koop__Event *ev, void *ctx);
/* Looks a person up in the copy; when unknown there, asks the registry at
 * once and keeps the answer (see copy.c). Fails the call (NOT_FOUND,
 * UNAVAILABLE) otherwise. `field` names the option in messages. */
int cases_person(koop_call_t *call, const char *field, const char *id, cases_person_t *out);
/* The same for a catalogue entry: its provider and the provider's sector. */
int cases_catalogue(koop_call_t *call, const char *field, const char *id, char provider[KOOP_ID_LEN],
                    Koop__Reg__Sector *sector);
/* The sector of an institution (same catch-up as above). */
int cases_institution(koop_call_t *call, const char *field, const char *id, Koop__Reg__Sector *sector);
/* The name of a person, institution or catalogue entry as the copy holds it
 * (no catch-up: a name is shown when known). 1 and out, or 0. */
int cases_copy_name(koop_call_t *call, const char *field, const char *id, char *out, size_t len);
/* The call's caller as the copy knows them, without refusing the call: 1
 * when known and active (into who), else 0. */
int cases_copy_caller(koop_call_t *call, cases_person_t *who);

/* ---- names.c ---- */

/* The names hook (common/names.h): people, institutions and listed
 * services from the copy; a household's name for a caller who may see it;
 * an IPW's case number. */
int cases_names(void *ctx, const char *field, const char *id, koop_names_kind_t kind, char *out, size_t len);

/* ---- access.c ---- */

/* Remembers what the call is about for its audit entry (ids only; other
 * strings are ignored). NULL leaves a value as it was. */
void cases_audit_note(koop_call_t *call, const char *household, const char *ipw, const char *ref);
/* Forgets the notes (before each call, and after its audit entry). */
void cases_audit_reset(koop_call_t *call);
/* The acting person (the envelope's caller, koopctl --as): refused
 * (access.*) when there is none, or it is unknown or inactive. */
int cases_caller(koop_call_t *call, cases_person_t *who);
int cases_is_coordinator(const cases_person_t *who);
/* The active ZZK membership of person in ipw, or NULL. */
Koop__Cases__ZzkMember *cases_member(const Koop__Cases__Ipw *ipw, const char *person);
/* Access checks: the *_visible forms answer, the cases_can_* forms fail the
 * call with KOOP_DENIED (access.denied.*). */
int cases_ipw_visible(const cases_person_t *who, const Koop__Cases__Ipw *ipw);
int cases_household_visible(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Household *h,
                            int *visible);
int cases_can_ipw(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Ipw *ipw);
int cases_can_household(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Household *h);
/* Loads an IPW for who: notes it, checks access and, with for_change, that
 * it is not closed. Caller frees *out. */
int cases_ipw_load(koop_call_t *call, const cases_person_t *who, const char *field, const char *id,
                   int for_change, Koop__Cases__Ipw **out);
int cases_after_write(koop_call_t *call, MDB_txn *batch_txn);

/* ---- method handlers ---- */

int cases_household_add(koop_call_t *call);
int cases_household_show(koop_call_t *call);
int cases_household_list(koop_call_t *call);
int cases_household_member_add(koop_call_t *call);
int cases_consent_record(koop_call_t *call);
int cases_consent_withdraw(koop_call_t *call);

int cases_ipw_open(koop_call_t *call);
int cases_ipw_show(koop_call_t *call);
int cases_ipw_list(koop_call_t *call);
int cases_ipw_activate(koop_call_t *call);
int cases_ipw_suspend(koop_call_t *call);
int cases_ipw_resume(koop_call_t *call);
int cases_ipw_review(koop_call_t *call);
int cases_ipw_close(koop_call_t *call);
int cases_ipw_timeline(koop_call_t *call);
int cases_member_add(koop_call_t *call);
int cases_member_remove(koop_call_t *call);

int cases_goal_add(koop_call_t *call);
int cases_goal_scale(koop_call_t *call);
int cases_task_add(koop_call_t *call);
int cases_task_start(koop_call_t *call);
int cases_task_done(koop_call_t *call);
int cases_task_cancel(koop_call_t *call);
int cases_task_mine(koop_call_t *call);

int cases_meeting_add(koop_call_t *call);
int cases_referral_send(koop_call_t *call);
int cases_referral_accept(koop_call_t *call);
int cases_referral_decline(koop_call_t *call);
int cases_referral_done(koop_call_t *call);

int cases_audit_show(koop_call_t *call);

#endif
