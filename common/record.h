/*
 * record - protobuf records in LMDB tables keyed by id.
 *
 * A record is stored as its packed message. An update is a protobuf merge:
 * the fields present in a patch replace those of the record (a repeated field
 * given in the patch replaces the whole list instead of appending).
 */
#ifndef KOOP_RECORD_H
#define KOOP_RECORD_H

#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>

/* Reads record `id` from dbi and unpacks it (caller frees with
 * protobuf_c_message_free_unpacked). Returns 0, MDB_NOTFOUND, an LMDB error,
 * or MDB_CORRUPTED when the stored bytes do not decode. */
int koop_record_get(MDB_txn *txn, MDB_dbi dbi, const char *id,
                    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out);

/* Packs msg and stores it under id. Returns 0 or an LMDB error. */
int koop_record_put(MDB_txn *txn, MDB_dbi dbi, const char *id, const ProtobufCMessage *msg);

/* 1 when record `id` exists in dbi. */
int koop_record_exists(MDB_txn *txn, MDB_dbi dbi, const char *id);

/* msg packed into a new buffer (caller frees; *len its size), or NULL. */
uint8_t *koop_record_pack(const ProtobufCMessage *msg, size_t *len);
/* A deep copy of msg, owning everything (free with
 * protobuf_c_message_free_unpacked), or NULL. */
ProtobufCMessage *koop_record_dup(const ProtobufCMessage *msg);

/* Returns a new message: `base` with the present fields of `patch` laid over
 * it. Caller frees. NULL on allocation failure. */
ProtobufCMessage *koop_record_merge(const ProtobufCMessage *base, const ProtobufCMessage *patch);

/* Calls visit(msg, ctx) for every record of dbi in key order; msg is freed
 * after the call. visit returns 0 to continue, non-zero to stop (returned). */
typedef int (*koop_record_visit_fn)(const ProtobufCMessage *msg, void *ctx);
int koop_record_scan(MDB_txn *txn, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc,
                     koop_record_visit_fn visit, void *ctx);



/* Field access by name, for code shared by several record types.
 * The field must exist with that type (a programmer error otherwise). */
const char *koop_record_str(const ProtobufCMessage *m, const char *field);
/* The "name" of record id of table dbi (messages of desc) into out: 1 when
 * the record is there with a name, else 0 (out ""). */
int koop_record_name(MDB_txn *txn, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc, const char *id, char *out,
                     size_t len);
void koop_record_set_str(ProtobufCMessage *m, const char *field, const char *value); /* borrowed */
void koop_record_set_u64(ProtobufCMessage *m, const char *field, uint64_t value);
/* Sets a bool field to value unless the message already has it. No-op when
 * the message has no such field. */
void koop_record_default_bool(ProtobufCMessage *m, const char *field, int value);
#endif
