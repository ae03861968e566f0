/*
 * verify - checking a service's log and records (docs/ACCOUNTABILITY.md).
 *
 * Two built-in methods of every service (the `sys` rows of api.def):
 *
 *   events.verify  walks the log's chains (koop_log_verify) and checks every
 *                  current record of the service's state tables against the
 *                  events that made it: a record must equal the record its
 *                  last event carries (registry: the payload; records that
 *                  came from a hub: the payload of the hub's envelope; cases:
 *                  the LOCAL event's record). Reply: koop.VerifyReport, ok
 *                  when nothing was found, else the first findings in order
 *                  (chain findings by seq, then records by table and key).
 *   feed.digest    digests of the SHARED events of seq ranges and the chain's
 *                  links at given seqs, for sync verify (services/sync).
 *
 * A service says which tables hold records (koop_verify_def_t); a record
 * whose value is not its last event's record as such (a household also
 * holds its consents and the ids of its IPWs) is described by the
 * service's hook, which adjusts what is expected as the walk goes.
 */
#ifndef KOOP_VERIFY_H
#define KOOP_VERIFY_H

#include "errors.h"
#include "events.h"
#include "envelope.pb-c.h"

#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>

typedef struct koop_verify koop_verify_t;
struct koop_call;

typedef struct {
    const char *table;                        /* a state table of the service, keyed by id */
    const ProtobufCMessageDescriptor *record; /* what its values are (a message with an "id");
                                               * NULL: raw values set by the service's hook */
    /* optional: makes stored and expected comparable (unpacked copies), e.g.
     * a time stamp no event carries */
    void (*normalize)(ProtobufCMessage *stored, ProtobufCMessage *expected);
} koop_verify_table_t;

typedef struct {
    const koop_verify_table_t *tables;
    size_t ntables;
    /* optional: every entry of the log after the generic rule (an event
     * whose payload is a record of `tables` sets it); payload is NULL for
     * an entry that does not decode or whose payload retention removed
     * (redacted). Returns 0 or a storage error. */
    int (*event)(koop_verify_t *v, uint64_t seq, const Koop__Event *ev, const koop_event_type_t *type,
                 const ProtobufCMessage *payload, int redacted);
    /* optional: after the tables were compared (checks of the service's
     * own); always called, with txn NULL after an error (then only to free
     * what the hook keeps in koop_verify_user) */
    int (*done)(koop_verify_t *v, MDB_txn *txn);
} koop_verify_def_t;

/* Handlers of the sys rows events.verify and feed.digest (service.c). */
int koop_verify_events(struct koop_call *call);
int koop_verify_digest(struct koop_call *call);

/* ---- for a service's hooks ---- */

/* Expects record (table, id) to be `bytes` (copied), made by entry seq. */
int koop_verify_expect(koop_verify_t *v, const char *table, const char *id, uint64_t seq, const uint8_t *bytes,
                       size_t len);
/* What is expected of (table, id): its bytes (borrowed until the next
 * expect) and seq, or NULL. */
const uint8_t *koop_verify_expected(koop_verify_t *v, const char *table, const char *id, size_t *len,
                                    uint64_t *seq);
/* A finding (a verify.* code) at seq. */
void koop_verify_problem(koop_verify_t *v, uint64_t seq, koop_err_t code, const char *const *args);
#define koop_verify_fail(v, seq, ID, ...)                                                            \
    koop_verify_problem((v), (seq), KOOP_ERR_##ID, (const char *const[]){__VA_ARGS__ __VA_OPT__(, ) NULL})
/* Counts records the hook compared itself. */
void koop_verify_counted(koop_verify_t *v, uint64_t records);
/* The service's per-run slot for its hooks (starts NULL; the hook frees
 * what it puts there in `done`). */
void **koop_verify_user(koop_verify_t *v);

/* ---- a check's report, also used by checks of other tables (audit) ---- */

/* A report being built: findings (the first KOOP_VERIFY_LISTED are kept). */
#define KOOP_VERIFY_LISTED 50
typedef struct koop_verify_report koop_verify_report_t;
koop_verify_report_t *koop_verify_report_new(const char *stream);
void koop_verify_report_add(koop_verify_report_t *r, uint64_t seq, koop_err_t code, const char *const *args);
/* The message to reply with (owned by r; valid until r is destroyed). */
Koop__VerifyReport *koop_verify_report_msg(koop_verify_report_t *r);
void koop_verify_report_destroy(koop_verify_report_t **self_p);

#endif
