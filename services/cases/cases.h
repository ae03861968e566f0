/*
 * cases - households, consent, IPWs with their ZZK, goals, tasks, meetings,
 * referrals, notes, the case timeline, the audit log and transfers of a
 * household to another gmina, on one gmina node.
 *
 * Files:
 *   main.c      method table, start/stop (the registry feed), the LOCAL
 *               events guard of feed.fetch
 *   records.c   loading/saving records, input checks, corrections by
 *               field, events + timeline
 *   copy.c      the read-only copy of registry records (people, institutions,
 *               catalogue entries, PZK representatives), fed by the
 *               registry's events
 *   access.c    who may see and do what (the role table: docs/CASES.md),
 *               the audit log (after_write), audit.show
 *   step.c      the one runner of lifecycle steps (IPW, task, referral)
 *   household.c households, their members, consent, PESEL checks and
 *               search
 *   ipw.c       the IPW lifecycle (state diagram there), ZZK, corrections,
 *               show/list/timeline
 *   plan.c      goals with PSR scaling, tasks, "my tasks", the week
 *   meeting.c   ZZK meetings, notes, referrals to listed services
 *   remove.c    records entered by mistake (record.remove)
 *   transfer.c  a household handed to another gmina, sealed to its key
 *   export.c    the person's own copy of everything held (household.export)
 *   retention.c the retention schedule (retention.run, daily timer)
 *   verify.c    what events.verify checks here; the audit chain, audit.verify
 *   names.c     names next to ids in replies (common/names.h)
 *
 * Events. Every change appends, in the transaction of the change:
 *   1. a LOCAL event "local.<type>" whose payload is the record after the
 *      change (personal data and free text included; never leaves the node);
 *   2. a SHARED event "<type>" whose payload is a *Facts message of
 *      cases.proto (ids, dates, node ids, enums, numbers only). Before a
 *      SHARED append every string of the facts is checked to be an id or a
 *      date (or a node id in a *_node field), so free text cannot reach a
 *      SHARED event even by a programming slip.
 * The types are the cases rows of common/events.def.
 *
 * Access (access.c, docs/CASES.md). Every request names its caller (--as).
 * Every method is a write method, so that each call - allowed, refused or
 * failed - leaves one audit entry committed with its batch (after_write).
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
#define CASES_MAX_LIST 50         /* participants, share_with, recipients */
#define CASES_MAX_CHILDREN 2000   /* goals+tasks+meetings+referrals of one IPW */

/* A date of something that happened may be at most this many days after
 * today (a visit entered just after midnight elsewhere, a clock a little
 * ahead): docs/CASES.md. */
#define CASES_FUTURE_DAYS 1
/* ZZK members (not the coordinators) keep reading a closed IPW for this
 * many days after it closed (docs/CASES.md). */
#define CASES_CLOSED_ACCESS_DAYS 90

/* The process's state (koop_service_user). */
typedef struct cases {
    koop_service_t *svc;
    koop_feed_t *feed;
    /* what the call being handled is about, for its audit entry (access.c) */
    char note_household[KOOP_ID_LEN];
    char note_ipw[KOOP_ID_LEN];
    char note_ref[KOOP_ID_LEN];
    uv_timer_t retention_timer; /* retention.c */
    int retention_timer_on;
    /* keys of other gminas the sync service gave (transfer.c) */
    struct cases_keys *keys;
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
 * call: INVALID when id is missing or malformed, NOT_FOUND when absent or
 * removed (record.remove). Caller frees *out. */
int cases_load(koop_call_t *call, const char *table, const ProtobufCMessageDescriptor *desc,
               const char *field, const char *id, ProtobufCMessage **out);
/* cases_load that also returns removed records. */
int cases_load_any(koop_call_t *call, const char *table, const ProtobufCMessageDescriptor *desc,
                   const char *field, const char *id, ProtobufCMessage **out);
int cases_save(koop_call_t *call, const char *table, const char *id, const ProtobufCMessage *rec);
/* 1 when rec (any case record) was removed as entered by mistake. */
int cases_removed(const ProtobufCMessage *rec);
/* Changing unpacked records (they own their strings and arrays): cases_set
 * replaces a string with a copy of value (NULL for ""); cases_append adds an
 * element (malloc'd, now owned by the record) to a repeated field given as
 * &rec->field, &rec->n_field; cases_append_str adds a copy of a string. Each
 * fails the call on lack of memory (the element then stays the caller's). */
int cases_set(koop_call_t *call, char **field, const char *value);
int cases_append(koop_call_t *call, void *array_p, size_t *n, void *elem);
int cases_append_str(koop_call_t *call, char ***array, size_t *n, const char *value);
/* The string field `name` of rec, as an lvalue for cases_set (NULL when rec
 * has none). */
char **cases_str_field(ProtobufCMessage *rec, const char *name);
/* A new id into out; fails the call when none can be made. */
int cases_new_id(koop_call_t *call, char out[KOOP_ID_LEN]);

/* Checks; each returns KOOP_OK or fails the call (a code of errors.def). */
/* (Text, names, dates and phones: common/check.h.) */
int cases_check_id(koop_call_t *call, const char *field, const char *value, int required);
int cases_check_psr(koop_call_t *call, const char *field, int has, int32_t value);
/* A goal's target above its baseline (goal.target_not_above). */
int cases_check_target(koop_call_t *call, int32_t baseline, int32_t target);
/* PESEL: 11 digits, its check digit, a real birth date in it, and when
 * given, the same birth date and sex (pesel.*). *birth and *sex (may be
 * NULL) get what the number says, for records that did not give them. */
int cases_check_pesel(koop_call_t *call, const char *field, const char *value, const char *birth, int has_sex,
                      Koop__Cases__Sex sex, char birth_out[11], Koop__Cases__Sex *sex_out);
/* A date of something that happened: not more than CASES_FUTURE_DAYS after
 * today (date.future). */
int cases_check_past(koop_call_t *call, const char *field, const char *date);
/* The date a step happened: `given` when set (checked, not in the future),
 * else today, but not before `floor` (may be NULL). out gets YYYY-MM-DD. */
int cases_step_date(koop_call_t *call, const char *field, const char *given, const char *floor,
                    char out[11]);
/* The date of a step in ipw: cases_step_date with the IPW's opening as the
 * floor, and refused when given before it. */
int cases_ipw_date(koop_call_t *call, const Koop__Cases__Ipw *ipw, const char *given, char out[11]);
/* The same for something planned (a meeting): may lie in the future. */
int cases_ipw_plan_date(koop_call_t *call, const Koop__Cases__Ipw *ipw, const char *given, char out[11]);
/* "a" is before "b" (both valid dates). */
int cases_date_before(const char *a, const char *b);
/* Today, and whole days from a to b (both valid dates). */
void cases_today(char out[11]);
long cases_days_between(const char *a, const char *b);

/* The age band of a person born `birth` on `date`. */
Koop__Cases__AgeBand cases_age_band(const char *birth, const char *date);
/* Age bands of the household's recorded people on `date` into bands
 * (caller's array of CASES_MAX_HOUSEHOLD_SIZE + 1); returns how many. */
size_t cases_household_bands(const Koop__Cases__Household *h, const char *date, Koop__Cases__AgeBand *bands);
/* The household's facts (size, age bands on `date`, sex, targets) into f;
 * bands is the caller's array as above. */
void cases_household_facts(const Koop__Cases__Household *h, const char *date, Koop__Cases__HouseholdFacts *f,
                           Koop__Cases__AgeBand *bands);

/* One change: the LOCAL event with the record, the SHARED event with the
 * facts (when facts is not NULL), and an entry in the IPW's timeline (when
 * ipw is not NULL) or in the timeline of every IPW of household (when that
 * is given instead). */
typedef struct {
    const char *type;              /* "task.done" */
    const ProtobufCMessage *record;
    const ProtobufCMessage *facts; /* a *Facts message of cases.proto */
    const char *ipw;
    const char *date;
    const char *ref;
    const char *summary;           /* for the timeline (LOCAL) */
    const Koop__Cases__Household *household;
} cases_change_t;
int cases_record_change(koop_call_t *call, const cases_change_t *ch);
/* An entry of ipw's timeline as it is (its seq is the key: a transfer
 * keeps the sender's order), and dropping them all. */
int cases_timeline_put(koop_call_t *call, const char *ipw, const Koop__Cases__TimelineEntry *e);
int cases_timeline_drop(koop_call_t *call, const char *ipw);
/* The entries of ipw's timeline in key order (unpacked; the caller frees
 * each and the array). */
int cases_timeline_read(koop_call_t *call, const char *ipw, Koop__Cases__TimelineEntry ***out, size_t *n);

/* 1 when every string in facts (recursively) is an id or a date (a node id
 * in a field named *_node) and facts is one of the SHARED message types. */
int cases_facts_clean(const ProtobufCMessage *facts);

/* Corrections by field: every field of req present there and not named in
 * skip (NULL-terminated: the record's own id, reason, ...) replaces the
 * field of the same name in rec when its value differs. *changed counts
 * the fields changed; summary gets "label: old → new; ..." (free text
 * shortened) for the timeline. Fails the call on lack of memory. */
int cases_update_fields(koop_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *rec,
                        const char *const *skip, int *changed, char *summary, size_t summary_len);
/* Ends a correction of rec (in table, under its id): nothing changed, the
 * record as it is; else rec saved, emit(call, rec, ctx, today, summary)
 * with the summary "poprawiono <what>: <changes>; powód: <reason>" for the
 * timeline, and rec as the reply. */
typedef int (*cases_emit_fn)(koop_call_t *call, const ProtobufCMessage *rec, const void *ctx, const char *date,
                             const char *summary);
int cases_correction_done(koop_call_t *call, const char *table, ProtobufCMessage *rec, int changed, const char *what,
                          const char *changes, const char *reason, cases_emit_fn emit, const void *ctx);

/* Child index of an IPW (goals, tasks, meetings, referrals). kind is 'g',
 * 't', 'm' or 'r'. */
int cases_child_add(koop_call_t *call, const char *ipw, char kind, const char *id);
typedef int (*cases_child_fn)(koop_call_t *call, char kind, const char *id, void *ctx);
int cases_child_scan(koop_call_t *call, const char *ipw, cases_child_fn fn, void *ctx);
/* The table and record type of a child kind (NULL for another kind). */
const char *cases_child_table(char kind, const ProtobufCMessageDescriptor **desc);

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
/* 1 when person represents institution in a PZK now (the copy's view). */
int cases_represents(koop_call_t *call, const char *person, const char *institution);

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
/* 1 when who leads ipw: its coordinator or a coordinator of the gmina. */
int cases_is_lead(const cases_person_t *who, const Koop__Cases__Ipw *ipw);
/* Refuses (access.denied.case_lead) unless who leads ipw; action is the
 * step's word ("ipw.close"). */
int cases_can_lead(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Ipw *ipw, const char *action);
/* Refuses (access.denied.coordinator_action) unless who is a coordinator. */
int cases_can_coordinate(koop_call_t *call, const cases_person_t *who, const char *action);
/* Calls fn for every IPW of h that was not removed; stops at a non-zero
 * return of fn (returned). */
typedef int (*cases_ipw_fn)(koop_call_t *call, const Koop__Cases__Ipw *ipw, void *ctx);
int cases_each_ipw(koop_call_t *call, const Koop__Cases__Household *h, cases_ipw_fn fn, void *ctx);
/* 1 when the household's consents in force (or other legal basis) name
 * institution; *any (may be NULL) gets whether any is in force. */
int cases_consent_covers(const Koop__Cases__Household *h, const char *institution, int *any);
/* Reading an IPW and everything in it: leads always; ZZK members while the
 * family's consent covers their institution and up to
 * CASES_CLOSED_ACCESS_DAYS after a close. The _visible form answers
 * (reason: the refusal's code, 0 when visible); cases_can_ipw fails the
 * call with it. h: the IPW's household (NULL: loaded here). */
int cases_ipw_visible(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Ipw *ipw,
                      const Koop__Cases__Household *h, int *visible, koop_err_t *reason);
int cases_can_ipw(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Ipw *ipw);
int cases_household_visible(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Household *h,
                            int *visible);
int cases_can_household(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Household *h);
/* Changing a household (its fields, members, consent): its registrar, the
 * coordinators of its IPWs and the gmina's coordinators. */
int cases_can_change_household(koop_call_t *call, const cases_person_t *who, const Koop__Cases__Household *h,
                               const char *action);
/* A household or IPW may be changed here: not handed over, not being
 * handed over (record.transferred, transfer.pending). */
int cases_check_owned(koop_call_t *call, const char *kind, const char *id, const char *transfer,
                      const char *transferred_to, const char *transferred);
/* Loads an IPW for who: notes it, checks that who may read it (who NULL:
 * the caller decides access itself) and, with for_change, that it is not
 * closed and is this node's to change. `id` is the IPW's id or its number
 * (IPW/2026/0042). Caller frees *out. */
int cases_ipw_load(koop_call_t *call, const cases_person_t *who, const char *field, const char *id,
                   int for_change, Koop__Cases__Ipw **out);
/* The IPW id of `ref` (an id or a number) into out; fails the call when
 * the number is unknown. */
int cases_ipw_resolve(koop_call_t *call, const char *field, const char *ref, char out[KOOP_ID_LEN]);
/* The number index: IPW number -> id (written with every IPW). */
int cases_ipw_number_put(koop_call_t *call, const char *number, const char *id);
int cases_after_write(koop_call_t *call, MDB_txn *batch_txn);
/* The feed guard (koop_service_def_t.feed_local): who may read raw LOCAL
 * events of this service (see main.c). */
int cases_feed_local(koop_call_t *call);

/* ---- step.c: the one runner of lifecycle steps ---- */

typedef struct cases_step cases_step_t;
typedef struct {
    const cases_step_t *step;
    const cases_person_t *who;
    Koop__Cases__Ipw *ipw;
    ProtobufCMessage *rec;       /* the record stepped (the IPW itself for IPW steps) */
    const ProtobufCMessage *req; /* the request */
    int previous;                /* the state before */
    const char *reason;
    char date[11];
    char summary[240];
} cases_step_ctx_t;

struct cases_step {
    const char *method;          /* the step, a word of errors.def ("task.start") */
    const char *table;           /* the record's table and kind ("task") */
    const ProtobufCMessageDescriptor *desc;
    unsigned from;               /* states it starts from (bit per status value) */
    const char *needs;           /* those states, a word */
    int to;                      /* the state after; 0: unchanged (a review) */
    const char *date_field;      /* set to the step's date ("started"); NULL: none */
    const char *reason_field;    /* keeps the reason ("reason"); NULL: the timeline only */
    int date_required;
    int own_access;              /* may() alone decides (a referral's recipients need not read the IPW) */
    const char *type;            /* its event type */
    const char *summary;         /* for the timeline */
    /* who may take it (fails the call) */
    int (*may)(koop_call_t *call, const cases_step_ctx_t *x);
    /* the date it may not be before, and its word ("task_started") */
    const char *(*floor)(const cases_step_ctx_t *x, const char **word);
    const char *(*state_word)(int status);
    /* what else the step checks or changes (NULL: nothing), before the save */
    int (*apply)(koop_call_t *call, cases_step_ctx_t *x);
    /* its events */
    int (*emit)(koop_call_t *call, cases_step_ctx_t *x);
};
/* Runs step s on record `id` (request field s->table) dated `date` (may be
 * empty: today) with reason: caller, checks, access, state, dates, the
 * change, the save, the events and the reply (the record after it). */
int cases_step_run(koop_call_t *call, const cases_step_t *s, const char *id, const char *date,
                   const char *reason);
/* A method handler running step s on the request field `ref` (its request
 * type has ref, date and reason). */
#define CASES_STEP_METHOD(fn, s, type, ref)                                                                \
    int fn(koop_call_t *call)                                                                          \
    {                                                                                                  \
        const type *q = (const type *)call->req;                                                       \
        return cases_step_run(call, &(s), q->ref, q->date, q->reason);                                 \
    }

/* ---- ipw.c ---- */
/* The next IPW number of the year of `opened` (IPW/2026/0042) into out. */
int cases_ipw_next_number(koop_call_t *call, const char *opened, char *out, size_t outlen);
/* Fills ipw's goals, tasks, meetings, referrals (those not removed). */
int cases_ipw_attach_children(koop_call_t *call, Koop__Cases__Ipw *ipw);
/* A new ZZK membership (malloc'd; NULL when out of memory). */
Koop__Cases__ZzkMember *cases_zzk_member_new(const char *id, const cases_person_t *p, const char *date, int coordinator);
/* The IPW's facts after a change into f (strings borrowed from ipw). */
void cases_ipw_facts(const Koop__Cases__Ipw *ipw, const char *date, Koop__Cases__IpwFacts *f);
/* The facts of the IPW's ZZK memberships; caller frees *out (the array). */
int cases_member_facts(koop_call_t *call, const Koop__Cases__Ipw *ipw, Koop__Cases__MemberFacts **out, size_t *n);

/* ---- plan.c, meeting.c: the facts of children ---- */
void cases_goal_facts(const Koop__Cases__Goal *g, const char *date, Koop__Cases__GoalFacts *f);
void cases_task_facts(const Koop__Cases__Task *t, const char *date, Koop__Cases__TaskFacts *f);
void cases_referral_facts(const Koop__Cases__Referral *r, const char *date, Koop__Cases__ReferralFacts *f);
/* Meeting facts: institutions is the caller's array of CASES_MAX_LIST. */
void cases_meeting_facts(const Koop__Cases__Meeting *m, const Koop__Cases__Ipw *ipw, Koop__Cases__MeetingFacts *f,
                         char **institutions);
/* The owner index of tasks (plan.c): add or drop (owner, task). */
int cases_owner_index(koop_call_t *call, const char *owner, const char *task, int add);
/* Cancels the open tasks and later meetings of ipw (ipw.close
 * --cancel-open), or, with dry_run, lists them in the refusal
 * ipw.open_items. date: the closing date. */
int cases_close_open_items(koop_call_t *call, Koop__Cases__Ipw *ipw, const char *date, const char *reason,
                           int cancel);

/* ---- household.c ---- */
/* The PESEL index: (pesel, household) written for every PESEL of h, or
 * dropped with add = 0. */
int cases_pesel_index(koop_call_t *call, const Koop__Cases__Household *h, int add);

/* ---- transfer.c ---- */
void cases_transfer_stop(cases_t *c);
/* Every transfer record of this node (sent or received) for which keep(t,
 * ctx) says 1 (keep NULL: all), in key order and without the sealed bytes,
 * appended to the array of Koop__Cases__Transfer * at items (its count *n;
 * the records are the array's, freed with it). KOOP_OK or a refusal. */
int cases_transfer_collect(koop_call_t *call, int (*keep)(const Koop__Cases__Transfer *t, const void *ctx),
                           const void *ctx, void *items, size_t *n);
/* What gmina `node` calls itself into out (len bytes): this node's own
 * name, or the one the node's sync service last gave with that gmina's key
 * or with a relay from it (table "node_name"). 1, or 0 when unknown. */
int cases_node_name(koop_call_t *call, const char *node, char *out, size_t len);

/* ---- method handlers ---- */

int cases_household_add(koop_call_t *call);
int cases_household_show(koop_call_t *call);
int cases_household_list(koop_call_t *call);
int cases_household_update(koop_call_t *call);
int cases_household_member_add(koop_call_t *call);
int cases_household_member_update(koop_call_t *call);
int cases_consent_record(koop_call_t *call);
int cases_consent_withdraw(koop_call_t *call);

int cases_ipw_open(koop_call_t *call);
int cases_ipw_show(koop_call_t *call);
int cases_ipw_list(koop_call_t *call);
int cases_ipw_update(koop_call_t *call);
int cases_ipw_correct(koop_call_t *call);
int cases_ipw_reopen(koop_call_t *call);
int cases_ipw_activate(koop_call_t *call);
int cases_ipw_suspend(koop_call_t *call);
int cases_ipw_resume(koop_call_t *call);
int cases_ipw_review(koop_call_t *call);
int cases_ipw_close(koop_call_t *call);
int cases_ipw_timeline(koop_call_t *call);
int cases_member_add(koop_call_t *call);
int cases_member_remove(koop_call_t *call);

int cases_goal_add(koop_call_t *call);
int cases_goal_update(koop_call_t *call);
int cases_goal_scale(koop_call_t *call);
int cases_task_add(koop_call_t *call);
int cases_task_update(koop_call_t *call);
int cases_task_start(koop_call_t *call);
int cases_task_done(koop_call_t *call);
int cases_task_cancel(koop_call_t *call);
int cases_task_mine(koop_call_t *call);
int cases_task_week(koop_call_t *call);

int cases_meeting_add(koop_call_t *call);
int cases_meeting_update(koop_call_t *call);
int cases_note_add(koop_call_t *call);
int cases_referral_send(koop_call_t *call);
int cases_referral_show(koop_call_t *call);
int cases_referral_update(koop_call_t *call);
int cases_referral_accept(koop_call_t *call);
int cases_referral_decline(koop_call_t *call);
int cases_referral_done(koop_call_t *call);

int cases_record_remove(koop_call_t *call);
int cases_audit_show(koop_call_t *call);
int cases_audit_verify(koop_call_t *call);
int cases_household_export(koop_call_t *call);
int cases_retention_run(koop_call_t *call);

/* ---- verify.c: events.verify of this service, the audit chain ---- */

extern const koop_verify_def_t cases_verify_def;
/* The seq of the next audit entry (after the last one, or after the base
 * retention left when it removed them all). */
int cases_audit_next_seq(koop_call_t *call, MDB_txn *txn, uint64_t *seq);
/* events.verify: record rec (a message with "id") of table is expected as
 * it is, made by entry seq. 0 or -ENOMEM. */
int cases_verify_expect_record(koop_verify_t *v, const char *table, uint64_t seq, const ProtobufCMessage *rec);
/* Adds the chain link of audit entry seq (its stored bytes) in txn. */
int cases_audit_chain(koop_call_t *call, MDB_txn *txn, uint64_t seq, const void *entry, size_t len);

/* ---- retention.c ---- */

int cases_retention_start(cases_t *c);
void cases_retention_stop(cases_t *c);
/* The table and message of a child kind of an IPW ('g', 't', 'm', 'r');
 * -1 for another kind. */
int cases_child_kind(char kind, const char **table, const ProtobufCMessageDescriptor **desc);
/* events.verify: retention.erased sets the stubs as what the tables hold;
 * every entry whose payload is gone must be listed by one (done). */
int cases_retention_verify_event(koop_verify_t *v, uint64_t seq, const koop_event_type_t *t,
                                 const ProtobufCMessage *payload, int redacted);
int cases_retention_verify_done(koop_verify_t *v, MDB_txn *txn);
/* audit.verify: the base of the audit chain is the one the last
 * retention.run that removed audit entries recorded. */
int cases_retention_audit_base_check(koop_call_t *call, koop_verify_report_t *r, uint64_t base,
                                     const uint8_t link[32]);

/* main.c: the service's definition (method table), for in-process drivers
 * (tests/fuzz, built with main renamed). */
const koop_service_def_t *cases_service_def(void);
int cases_household_transfer(koop_call_t *call);
int cases_transfer_list(koop_call_t *call);
int cases_transfer_accept(koop_call_t *call);
int cases_transfer_decline(koop_call_t *call);
int cases_transfer_outbox(koop_call_t *call);
int cases_transfer_relayed(koop_call_t *call);
int cases_transfer_receive(koop_call_t *call);

#endif
