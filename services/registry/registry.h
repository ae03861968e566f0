/*
 * registry - institutions, people, agreements, PZK teams and the list of
 * activities and services of one node.
 *
 * Every change writes the record and its event (the whole record after the
 * change) in one transaction. Events about institutions, agreements, PZKs and
 * catalogue entries are SHARED (they describe institutions, not people);
 * events about people (names, e-mails, phones of staff) are LOCAL.
 *
 * Ownership: each record names its owner node; only the owner changes it
 * (records that came down from a hub are read-only here: remote.c applies
 * them, as LOCAL "remote.*" events carrying the hub's envelope).
 */
#ifndef REG_REGISTRY_H
#define REG_REGISTRY_H

#include "record.h"
#include "service.h"
#include "envelope.pb-c.h"
#include "registry.pb-c.h"

/* How one record type is stored and announced. */
typedef struct reg_kind {
    const char *table;
    const char *what;        /* the kind in messages: a word of errors.def ("institution") */
    const ProtobufCMessageDescriptor *desc;
    int scope;               /* KOOP__SCOPE__SCOPE_SHARED or _LOCAL */
    const char *ev_added;
    const char *ev_updated;
    /* validates a whole record (after defaults or a merge); fails the call */
    int (*check)(koop_call_t *call, const ProtobufCMessage *rec);
} reg_kind_t;

extern const reg_kind_t reg_institution_kind, reg_person_kind, reg_agreement_kind,
    reg_pzk_kind, reg_catalogue_kind;

/* Generic handlers over a kind (records.c). */
int reg_add(koop_call_t *call, const reg_kind_t *kind);
int reg_update(koop_call_t *call, const reg_kind_t *kind);
int reg_show(koop_call_t *call, const reg_kind_t *kind);
/* Stores rec (its id set) and emits `type` with it; replies with rec. */
int reg_store(koop_call_t *call, const reg_kind_t *kind, const ProtobufCMessage *rec,
              const char *type);
/* Lists the records of kind for which match(call, rec, call->req) is 1, as
 * the list message list_desc (a message with `repeated ... items`). */
typedef int (*reg_match_fn)(koop_call_t *call, const ProtobufCMessage *rec, const ProtobufCMessage *query);
int reg_list(koop_call_t *call, const reg_kind_t *kind, reg_match_fn match,
             const ProtobufCMessageDescriptor *list_desc);
/* Loads the record id (request field `field` names it) the node owns for
 * changing; fails the call when absent or owned by another node. Caller
 * frees *out. */
int reg_load_owned(koop_call_t *call, const reg_kind_t *kind, const char *field, const char *id,
                   ProtobufCMessage **out);

/* Validation helpers: each returns KOOP_OK or fails the call (check.c). */
int reg_check_text(koop_call_t *call, const char *field, const char *value, int required,
                   size_t max);
int reg_check_date(koop_call_t *call, const char *field, const char *value, int required);
int reg_check_teryt(koop_call_t *call, const char *value);
int reg_check_contact(koop_call_t *call, const char *email, const char *phone);
int reg_check_ref(koop_call_t *call, const reg_kind_t *kind, const char *field, const char *id);
MDB_dbi reg_dbi(koop_call_t *call, const reg_kind_t *kind);
/* The names hook (names.h): the name of a person, institution or listed
 * service of this node's registry (hub-owned records included). */
int reg_names(void *ctx, const char *field, const char *id, koop_names_kind_t kind, char *out, size_t len);

/* Method handlers. */
int reg_institution_list(koop_call_t *call);
int reg_person_list(koop_call_t *call);
int reg_agreement_list(koop_call_t *call);
int reg_pzk_create(koop_call_t *call);
int reg_pzk_join(koop_call_t *call);
int reg_pzk_leave(koop_call_t *call);
int reg_pzk_dissolve(koop_call_t *call);
int reg_pzk_list(koop_call_t *call);
int reg_catalogue_add(koop_call_t *call);
int reg_catalogue_search(koop_call_t *call);
/* Announces the node's name and TERYT when they changed (node.c). */
int reg_node_describe(koop_service_t *svc);
/* Hub-owned records from the hub (remote.c): apply a batch of the hub's
 * events / tell the position in the hub's down log. */
int reg_remote_apply(koop_call_t *call);
int reg_remote_position(koop_call_t *call);

/* main.c: the service's definition (method table), for in-process drivers
 * (tests/fuzz, built with main renamed). */
const koop_service_def_t *reg_service_def(void);

#endif
