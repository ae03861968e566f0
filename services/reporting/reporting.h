/*
 * reporting - the model's indicators (DOMAIN.md "Reported results"),
 * materialised from events only.
 *
 * Files:
 *   projection.c  the projection: tables, units, month counters, applying one
 *                 event (design note there)
 *   coverage.c    distinct entities "present at some time in a period"
 *                 (partner institutions in PZKs, households in IPWs)
 *   report.c      figures of a unit and period read from the projection,
 *                 the evaluation in Polish
 *   suppress.c    which figures a report above a gmina hides (small counts
 *                 and what would tell them by subtraction)
 *   approval.c    approved reporting periods: report.approve, report.approvals,
 *                 reopening, the marks of reports (design note there)
 *   main.c        the service: feeds, report.* methods, rebuild
 *
 * The projection does not depend on the service runtime: tests and the
 * benchmark drive it on a plain koop_store_t (rep_apply is a
 * koop_feed_apply_fn).
 */
#ifndef REP_REPORTING_H
#define REP_REPORTING_H

#include "envelope.pb-c.h"
#include "errors.h"
#include "reporting.pb-c.h"
#include "service.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

/* ---- calendar ---- */

/* Days since 1970-01-01; REP_NO_DAY when a date is absent. */
#define REP_NO_DAY INT32_MIN
/* Months are numbered (year - 1900) * 12 + month - 1 (0 .. 3599 for the
 * dates koop accepts, 1900..2199). REP_MONTH_NOW holds current-state
 * counters (the list of services); REP_OPEN ends an interval that has not
 * ended. */
#define REP_MONTHS 3600
#define REP_MONTH_NOW 0xFFFFu
#define REP_OPEN 0xFFFFu

/* Parses YYYY-MM-DD (koop_date_valid) into *day. 0, or -1 when s is not a date. */
int rep_day_parse(const char *s, int32_t *day);
/* Writes day as YYYY-MM-DD into out. */
void rep_day_format(int32_t day, char out[11]);
uint16_t rep_month_of(int32_t day);
int32_t rep_month_first(uint16_t month);
int32_t rep_month_last(uint16_t month);

/* ---- the projection ---- */

#define REP_SECTORS 13     /* koop.reg.Sector 0..12 (0: not known) */
#define REP_AREAS 11       /* koop.cases.Area 0..10 */
#define REP_OUTCOMES 5     /* koop.cases.Outcome 0..4 */
#define REP_TARGETS 6      /* koop.reg.Target 0..5 */
#define REP_HIST 7         /* IPWs by number of sectors in the ZZK: 0..5, 6 = six or more */
#define REP_MAX_DEPTH 6    /* units from an event's writer up to this node */
#define REP_MAX_SCALINGS 256
#define REP_MAX_SPANS 256  /* intervals kept per covered entity and unit */
#define REP_MAX_PZK_MEMBERS 1000

/* The counters of one unit and month (table "month"). Each is a sum of
 * contributions of entities in their current state (projection.c). */
enum rep_field {
    REP_F_PZK_FORMED,                 /* PZKs formed in the month */
    REP_F_PZK_FORMED_DAYS,            /* sum of their formed days */
    REP_F_PZK_DISSOLVED,              /* PZKs dissolved in the month */
    REP_F_PZK_DISSOLVED_DAYS,         /* sum of their dissolved days */
    REP_F_PZK_DISSOLVED_FORMED_DAYS,  /* sum of their formed days */
    REP_F_AGR_SIGNED,                 /* agreements signed */
    REP_F_AGR_PARTIES,                /* sum of their parties */
    REP_F_INST_START,                 /* partner institutions: covered spans starting, by sector */
    REP_F_INST_END = REP_F_INST_START + REP_SECTORS, /* ... ending, by sector */
    REP_F_HH_START = REP_F_INST_END + REP_SECTORS,   /* households in IPWs: spans starting */
    REP_F_HH_START_W,                 /* ... their persons */
    REP_F_HH_END,                     /* spans ending */
    REP_F_HH_END_W,
    REP_F_HH_REGISTERED,              /* households registered */
    REP_F_IPW_OPENED,                 /* IPWs opened */
    REP_F_IPW_OPENED_ZZK,             /* their ZZK members (ever) */
    REP_F_IPW_OPENED_SECT,            /* their distinct ZZK sectors */
    REP_F_IPW_OPENED_HIST,            /* opened, by number of ZZK sectors (REP_HIST) */
    REP_F_IPW_SIGNED = REP_F_IPW_OPENED_HIST + REP_HIST, /* first activation */
    REP_F_IPW_CLOSED,                 /* closed, by outcome (REP_OUTCOMES) */
    REP_F_IPW_CLOSED_DAYS = REP_F_IPW_CLOSED + REP_OUTCOMES, /* sum of closed - opened */
    REP_F_IPW_CLOSED_ZZK,
    REP_F_IPW_CLOSED_SECT,
    REP_F_IPW_CLOSED_HIST,            /* REP_HIST */
    REP_F_GOAL_ADDED = REP_F_IPW_CLOSED_HIST + REP_HIST, /* goals added, by area */
    REP_F_PSR_FIRST = REP_F_GOAL_ADDED + REP_AREAS,      /* goals first reviewed */
    REP_F_PSR_DELTA,                  /* scaling changes (telescoping: last - baseline) */
    REP_F_TASK_ON_TIME,               /* tasks by due month and owner sector: done by the due day */
    REP_F_TASK_LATE = REP_F_TASK_ON_TIME + REP_SECTORS,  /* done after it */
    REP_F_TASK_OPEN = REP_F_TASK_LATE + REP_SECTORS,     /* not done yet */
    REP_F_TASK_CANCELLED = REP_F_TASK_OPEN + REP_SECTORS,
    REP_F_REF_SENT = REP_F_TASK_CANCELLED + REP_SECTORS, /* referrals, by the step's month */
    REP_F_REF_ACCEPTED,
    REP_F_REF_DECLINED,
    REP_F_REF_DONE,
    REP_F_REF_ANSWERED,               /* accepted or declined */
    REP_F_REF_ANSWER_DAYS,            /* sum of sent -> answer */
    REP_F_MEETINGS,
    REP_F_CAT_ENTRIES,                /* REP_MONTH_NOW only: entries on the list */
    REP_F_CAT_ACTIVE,
    REP_F_CAT_TARGET,                 /* active entries by target group (REP_TARGETS) */
    REP_F_CAT_NEVER_VERIFIED = REP_F_CAT_TARGET + REP_TARGETS,
    REP_F_COUNT
};

typedef struct {
    int64_t v[REP_F_COUNT];
} rep_month_t;

/* What this node is (unit number 1 of its projection). */
typedef struct {
    char node[64];
    char teryt[16];
    char name[256];
    int hub;
} rep_self_t;

typedef struct rep_proj rep_proj_t;

/* The projection's tables, for koop_store_open (NULL-terminated). */
extern const char *const rep_tables[];

/* Makes a projection over store (opened with rep_tables) for node `self`.
 * Returns 0 and *out, or -ENOMEM. */
int rep_proj_new(rep_proj_t **out, koop_store_t *store, const rep_self_t *self);
void rep_proj_destroy(rep_proj_t **self_p);
const rep_self_t *rep_proj_self(const rep_proj_t *p);
/* Events rejected or refused as not their node's to change since the last
 * call (counted once their batch ended), and starts again from 0. */
uint64_t rep_proj_take_refused(rep_proj_t *p);
koop_store_t *rep_proj_store(const rep_proj_t *p);

/* Prepares the tables in txn: records this node as unit 1. When the stored
 * format is not this build's, clears the projection first and sets
 * *cleared (the caller must then forget its feed cursors in txn too). */
int rep_proj_init(rep_proj_t *p, MDB_txn *txn, int *cleared);
/* Empties every projection table and prepares them again (rebuild; the
 * caller resets its feed cursors in the same txn). *dropped gets the number
 * of events the projection had applied (may be NULL). */
int rep_proj_reset(rep_proj_t *p, MDB_txn *txn, uint64_t *dropped);

/* Applies one event (koop_feed_apply_fn; ctx is the rep_proj_t). Events of
 * no interest and malformed ones are counted and skipped (a bad event must
 * not stop the feed); only storage errors are returned (the batch is then
 * aborted and fetched again). */
int rep_apply(MDB_txn *txn, const Koop__Event *event, void *ctx);
/* A batch of rep_apply calls in one write txn (koop_feed_batch_fn): between
 * begin and end the month rows and the stats the events change are held in
 * memory and written once at the end (and whenever more than 1,024 rows are
 * held), instead of a read and a write per event. Without begin, rep_apply
 * writes through at once. end must run before the txn commits; a txn that
 * is aborted needs nothing (the next begin forgets what was held). */
int rep_apply_begin(MDB_txn *txn, void *ctx);
int rep_apply_end(MDB_txn *txn, void *ctx);

typedef struct {
    uint64_t applied, ignored, rejected;
    uint64_t not_owned;  /* events that would have changed another node's record (refused) */
} rep_stats_t;
int rep_proj_stats(rep_proj_t *p, MDB_txn *txn, rep_stats_t *out);

/* The month table holds a Fenwick tree per unit over the months (nodes 1 ..
 * REP_FEN), plus the row REP_MONTH_NOW. */
#define REP_FEN 4096
/* Reads the stored row (unit, key) into *out (zeros when none): key is a
 * Fenwick node or REP_MONTH_NOW. */
int rep_month_get(rep_proj_t *p, MDB_txn *txn, uint32_t unit, uint16_t month, rep_month_t *out);
/* The counters of months 0 .. month of unit, summed (month < 0: zeros). */
int rep_month_prefix(rep_proj_t *p, MDB_txn *txn, uint32_t unit, int month, rep_month_t *out);

/* ---- units (projection.c) ---- */

typedef struct {
    uint32_t no;
    uint32_t parent;     /* 0: none (the top of this node's tree) */
    uint8_t hub;         /* it has units below it */
    char teryt[8];
} rep_unit_t;

/* Looks a unit up by node id. 0, MDB_NOTFOUND or an LMDB error. */
int rep_unit_by_node(rep_proj_t *p, MDB_txn *txn, const char *node, rep_unit_t *out);
/* The node id of unit `no` into node (size 64). */
int rep_unit_node(rep_proj_t *p, MDB_txn *txn, uint32_t no, char node[64], rep_unit_t *out);
/* The name unit `node` gave itself (node.described) into out, "" when it
 * has given none. 0 or an LMDB error. */
#define REP_NAME_MAX 256
int rep_unit_name(rep_proj_t *p, MDB_txn *txn, const char *node, char out[REP_NAME_MAX]);
/* Calls fn for every unit. fn returns non-zero to stop (returned). */
typedef int (*rep_unit_fn)(const char *node, const rep_unit_t *u, void *ctx);
int rep_unit_each(rep_proj_t *p, MDB_txn *txn, rep_unit_fn fn, void *ctx);
/* 1 when `unit` is `ancestor` or below it. */
int rep_unit_within(rep_proj_t *p, MDB_txn *txn, uint32_t unit, uint32_t ancestor, int *within);

/* ---- suppression (suppress.c) ---- */

typedef enum {
    REP_CELL_COUNT = 0, /* a count: n */
    REP_CELL_RATIO,     /* an average or median over n things */
    REP_CELL_SHARE,     /* a percentage: n of whole */
    REP_CELL_PLAIN,     /* never hidden (how many gminas sent data) */
} rep_cell_kind_t;

/* One figure as suppression sees it (key and dim borrowed). */
typedef struct {
    const char *key, *dim; /* dim "" for the total */
    rep_cell_kind_t kind;
    int64_t n, whole;
    int hidden;            /* out */
} rep_cell_t;

#define REP_MAX_CELLS 512

/* Decides which figures of one report above a gmina are hidden: small
 * counts and averages over them, then what would tell them by subtraction
 * within the report, then percentages (the rules: suppress.c). */
void rep_suppress_row(rep_cell_t *row, size_t n);
/* Then, for a family - a unit (parent) and the units right below it
 * (kids[j], each as rep_suppress_row left it, which is what lets a kid's row
 * the family hid nothing in go without another pass): each count of parent equals
 * the same count of the kids plus its own part; hides more until no hidden
 * count can be had by subtraction, in parent's row and in the rows of kids
 * that are movable (gminas), never in a hub below's. */
void rep_suppress_family(rep_cell_t *parent, size_t n, rep_cell_t *const *kids, const size_t *nkids, const int *movable,
                         size_t k);

/* ---- internals shared by projection.c, coverage.c and report.c ---- */

/* Big-endian key parts, so LMDB's byte order is numeric order. */
static inline void
rep_be32_put(unsigned char *out, uint32_t v)
{
    out[0] = (unsigned char)(v >> 24);
    out[1] = (unsigned char)(v >> 16);
    out[2] = (unsigned char)(v >> 8);
    out[3] = (unsigned char)v;
}

static inline void
rep_be16_put(unsigned char *out, uint16_t v)
{
    out[0] = (unsigned char)(v >> 8);
    out[1] = (unsigned char)v;
}

static inline uint16_t
rep_be16_get(const unsigned char *in)
{
    return (uint16_t)(in[0] << 8 | in[1]);
}

/* One entry of an answer-tree node (table answer): be16 days, int64 count. */
#define REP_ANSWER_ENTRY 10

/* Pending changes of month counters of one event: coalesced in memory,
 * written once per (unit, month) by rep_acc_flush. */
#define REP_ACC_MAX 512
typedef struct {
    struct {
        uint32_t unit;
        uint16_t month;
        uint16_t field;
        int64_t delta;
    } d[REP_ACC_MAX];
    int n;
} rep_acc_t;

typedef struct {
    uint32_t unit[REP_MAX_DEPTH]; /* [0] the unit that wrote the event, then up to this node */
    int n;
} rep_chain_t;

/* Adds delta to (unit, month, field); flushes first when the buffer is full. */
int rep_acc_add(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc, uint32_t unit, uint16_t month, int field,
                int64_t delta);
/* The same for every unit of chain. */
int rep_acc_chain(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc, const rep_chain_t *chain, uint16_t month,
                  int field, int64_t delta);
int rep_acc_flush(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc);

MDB_dbi rep_dbi(rep_proj_t *p, const char *table);

/* Adds delta to an int64 counter stored under key in table (deletes it at 0). */
int rep_counter_add(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, int64_t delta);

/* ---- coverage.c ---- */

#define REP_KIND_INSTITUTION 'i'
#define REP_KIND_HOUSEHOLD 'h'
#define REP_ID 36 /* ids are UUIDs: 36 characters, stored without NUL */

typedef struct {
    uint16_t s, e; /* first and last month; e = REP_OPEN while it lasts */
} rep_span_t;

/* Sets the spans one source (a PZK for an institution, an IPW for a
 * household) gives entity `id`, for the units of chain; n = 0 removes the
 * source. Recomputes the entity's coverage in every unit concerned. weight
 * and sector: the entity's (< 0: keep what is stored). */
int rep_cov_source(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc, char kind, const char *id, const char *source,
                   const rep_chain_t *chain, const rep_span_t *spans, int n, int64_t weight, int sector);
/* Moves a source that can no longer change into the entity's frozen spans
 * (the coverage does not change; the source row goes). */
int rep_cov_freeze(rep_proj_t *p, MDB_txn *txn, char kind, const char *id, const char *source);
/* The first unit outside chain where entity (kind, id) is covered, in
 * *unit (0: none, or it is covered in chain's own unit too): a household in
 * another node's IPWs is that node's, unless a transfer handed it over. */
int rep_cov_outside(rep_proj_t *p, MDB_txn *txn, char kind, const char *id, const rep_chain_t *chain, uint32_t *unit);
/* Changes the weight or sector of an entity in every unit where it is covered. */
int rep_cov_attr(rep_proj_t *p, MDB_txn *txn, rep_acc_t *acc, char kind, const char *id, int64_t weight,
                 int sector);
/* The sum, over gaps between an entity's spans in unit, kind and sector,
 * that lie inside [m1, m2] (count and weight). See coverage.c. */
/* For a period from the start (m1 = 0): the gaps of every sector with S <= m2
 * (REP_SECTORS each), from the Fenwick tree over S (at most 12 rows). */
int rep_cov_gaps_from_start(rep_proj_t *p, MDB_txn *txn, uint32_t unit, char kind, uint16_t m2,
                            int64_t count[REP_SECTORS], int64_t weight[REP_SECTORS]);
int rep_cov_gaps(rep_proj_t *p, MDB_txn *txn, uint32_t unit, char kind, int sector, uint16_t m1, uint16_t m2,
                 int64_t *count, int64_t *weight);

/* ---- report.c ---- */

/* Builds the report on q for the evaluation (evaluation = 1: the figures of
 * the model's evaluation and its summary) or every indicator. Returns a koop
 * status; on error *err holds why (a code of errors.def naming the query's
 * field). *out is freed with rep_report_free. */
int rep_report(rep_proj_t *p, MDB_txn *txn, const Koop__Rep__ReportQuery *q, int evaluation,
               Koop__Rep__Report **out, koop_error_t *err);
void rep_report_free(Koop__Rep__Report **self_p);

/* What the family suppression of a hub's reports decided, kept per LMDB
 * snapshot (report.c): a report in a read-only txn of the same snapshot
 * takes it instead of computing every unit below the hub again. The
 * projection owns one (rep_proj_families). */
typedef struct rep_family_cache rep_family_cache_t;
/* NULL when out of memory. */
rep_family_cache_t *rep_family_cache_new(void);
void rep_family_cache_destroy(rep_family_cache_t **self_p);
/* on = 0: every report computes its family (what the cache must equal);
 * on = 1 (the default): reports keep and take families. */
void rep_family_cache_use(rep_family_cache_t *c, int on);
/* Reports that took their family from the cache so far. */
uint64_t rep_family_cache_hits(const rep_family_cache_t *c);
rep_family_cache_t *rep_proj_families(rep_proj_t *p);

/* ---- approval.c ---- */

/* An approval event of a unit below (report.approved / report.reopened,
 * written by node `writer`), applied in the feed's txn. */
int rep_approval_apply(rep_proj_t *p, MDB_txn *txn, const char *writer, const Koop__Rep__Approval *a);
/* Marks rep with its approval state and the unit's approvals overlapping
 * it; withholds the figures of a period not approved when `withhold` (a
 * hub with [reporting] publish = approved). *marks (freed with
 * rep_marks_free after rep is answered) owns what rep points to. 0 or an
 * error code. */
typedef struct rep_marks rep_marks_t;
int rep_approval_mark(rep_proj_t *p, MDB_txn *txn, int withhold, Koop__Rep__Report *rep, rep_marks_t **marks);
void rep_marks_free(rep_marks_t **marks);
/* The service side: the once-a-second check that reopens periods (start
 * with the service), and the handlers of report.approve / report.approvals. */
struct koop_service;
struct koop_call;
int rep_approvals_start(struct koop_service *svc, rep_proj_t *p);
void rep_approvals_stop(void);
int rep_approve(struct koop_call *call);
int rep_approvals(struct koop_call *call);

/* ---- main.c: the service, for in-process drivers (tests/fuzz, built
 * with main renamed) ---- */
const koop_service_def_t *rep_service_def(void);
/* The service's state over svc's store (koop_service_local_new), without
 * feeds: its report.* methods answer from the projection, which the caller
 * fills with rep_apply. NULL on failure. rep_close_local frees it. */
rep_proj_t *rep_open_local(koop_service_t *svc);
void rep_close_local(void);

#endif
