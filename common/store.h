/*
 * store - one LMDB environment per service, with named tables.
 *
 * A service opens its store once at start (which also clears stale reader
 * slots left by a killed process: mdb_reader_check) and then runs every
 * change through koop_store_write(), which owns the transaction:
 *
 *     begin -> fn(txn, ctx) -> commit
 *         fn or commit says MDB_MAP_FULL -> abort, double the map, run fn again
 *
 * So `fn` must be safe to run again from scratch (it only touches the txn and
 * its own ctx, and resets its outputs at the start). The process must hold no
 * other transaction while koop_store_write runs (one writer thread, short
 * read transactions), since growing the map needs that.
 *
 * Return codes follow koop.h: 0, an LMDB code (MDB_*, negative) or -errno;
 * koop_strerror() names them. LMDB's own functions return positive errno
 * values too: the library passes every LMDB result through koop_mdb_rc.
 */
#ifndef KOOP_STORE_H
#define KOOP_STORE_H

#include "koop.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

typedef struct koop_store koop_store_t;

/* An LMDB result in the library's convention: positive errno -> -errno. */
static inline int
koop_mdb_rc(int rc)
{
    return rc > 0 ? -rc : rc;
}

/* Opens (creating) the environment in directory `dir` (created 0700 if
 * missing) with the NULL-terminated list of table names (plus the tables
 * the event log needs). Returns 0 and *out, or an error code. */
int koop_store_open(koop_store_t **out, const char *dir, const char *const *tables);
/* As koop_store_open, with the initial map size (bytes) given (tests). */
int koop_store_open_map(koop_store_t **out, const char *dir, const char *const *tables, size_t map_size);
void koop_store_destroy(koop_store_t **self_p);

MDB_env *koop_store_env(koop_store_t *self);
/* The handle of a table named at open. A name not given at open is a
 * programmer error (assert). */
MDB_dbi koop_store_dbi(koop_store_t *self, const char *name);

typedef int (*koop_store_write_fn)(MDB_txn *txn, void *ctx);
/* Runs fn in a write transaction and commits it; grows the map and retries
 * on MDB_MAP_FULL. fn returns 0 to commit or non-zero to abort (that value
 * is returned). Returns 0 only after a durable commit. */
int koop_store_write(koop_store_t *self, koop_store_write_fn fn, void *ctx);

/* A commit that failed with EIO or ENOSPC while the filesystem is full
 * returns -ENOSPC (LMDB reports some short writes on a full disk as EIO,
 * which reads as a failing disk); koop_strerror names it "dysk pełny". */

/* Begins a read-only transaction (caller aborts it). */
int koop_store_read(koop_store_t *self, MDB_txn **txn);

/* Grows the map (doubling). Only with no transaction open in this process.
 * Returns -EBUSY while a copy of the store is being made (koop_store_copying):
 * the copy's read transaction, in another thread, holds the map. */
int koop_store_grow(koop_store_t *self);

/* A copy of the store is being made in another thread (1) or not any more
 * (0): the map must not move meanwhile. Only from the thread that writes. */
void koop_store_copying(koop_store_t *self, int on);

/* Sizes of the store, for monitoring. */
typedef struct {
    uint64_t file_bytes;  /* data.mdb on disk */
    uint64_t map_bytes;   /* the map */
    uint64_t used_bytes;  /* pages up to the last one in use */
    unsigned page_size;
    uint64_t last_txn;
    unsigned readers, max_readers;
} koop_store_sizes_t;
int koop_store_sizes(koop_store_t *self, koop_store_sizes_t *out);

/* The on-disk format of every store (tables, keys and record encodings).
 * Raise it with a change that existing stores must be migrated for; the
 * migration then belongs where koop_preflight checks the stamp. */
#define KOOP_STORE_FORMAT 1

/* The stamp a store carries from its first open on: the id of the node it
 * belongs to and its on-disk format (table "store_meta"). When the store has
 * none yet (a new store, or one made before stamps existed) it is written now
 * as (node_id, KOOP_STORE_FORMAT). Fills stored_node (size bytes) and
 * *stored_format with the stamp. Returns 0 or an LMDB/errno code (EINVAL for
 * a stamp that cannot be read). */
int koop_store_stamp(koop_store_t *self, const char *node_id, char *stored_node, size_t size,
                     unsigned *stored_format);

/* Big-endian 64-bit keys, so LMDB's byte order is numeric order. */
void koop_be64_put(unsigned char out[8], uint64_t v);
uint64_t koop_be64_get(const unsigned char in[8]);

/* Convenience for string-keyed records. */
int koop_store_get_str(MDB_txn *txn, MDB_dbi dbi, const char *key, MDB_val *val);
int koop_store_put_str(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *data,
                       size_t len);

#endif
