/*
 * backup - copies of a store, and what a copy holds.
 *
 * A copy is one file, DIR/data.mdb, made by koop_backup_copy from a store
 * that keeps serving: mdb_env_copyfd2 with MDB_CP_COMPACT writes the pages
 * of one read transaction (a consistent snapshot, free pages left out) into
 * a file created 0600 (O_EXCL, so nothing existing is overwritten), which is
 * then synced to disk and read back: its stamp, its log's identity and last
 * seq, its BLAKE2b-256. The copy holds personal data: its directory is 0700.
 *
 * Who uses it: every service's runtime answers sys.backup with it, in a
 * worker thread (service.c); koopctl backup asks every service of the node,
 * consumers before their producers (koop_backup_order), and writes
 * DIR/manifest.json; koopctl restore checks each copy (koop_backup_inspect,
 * koop_backup_hash) before it puts them back.
 */
#ifndef KOOP_BACKUP_H
#define KOOP_BACKUP_H

#include "koop.h"
#include "services.h"

#include <lmdb.h>
#include <stdint.h>

#define KOOP_BACKUP_HASH_HEX 65 /* BLAKE2b-256 in hex, with NUL */

typedef struct {
    char node[64];         /* the store's stamp: its node id ... */
    unsigned format;       /* ... and on-disk format */
    char log_id[64];       /* "" when the store has no log identity */
    uint64_t last_seq;     /* the last event of its log (0: none) */
    uint64_t bytes;        /* size of the file */
    char blake2b[KOOP_BACKUP_HASH_HEX];
} koop_backup_info_t;

/* Copies env into dir/data.mdb (dir exists). Safe in any thread while the
 * store keeps serving, as long as its map does not move meanwhile
 * (koop_store_copying). Fills *info from the copy. Returns 0 or an error
 * code (-errno, MDB_*); on error no file is left behind. */
int koop_backup_copy(MDB_env *env, const char *dir, koop_backup_info_t *info);

/* Reads dir/data.mdb (a copy, or the store of a stopped service) without
 * a lock file and without changing it: stamp, log identity, last seq and
 * size (not the hash). Returns 0, MDB_NOTFOUND when it has no stamp, or an
 * error code. */
int koop_backup_inspect(const char *dir, koop_backup_info_t *info);

/* The BLAKE2b-256 of a file, in hex. Returns 0 or -errno. */
int koop_backup_hash(const char *path, char out[KOOP_BACKUP_HASH_HEX]);

/* The order in which a node's services are copied: every service whose log
 * other services of the node follow (KOOP_SVC_FEED) after all of its
 * followers, so no consumer's cursor in the copy is ahead of its producer's
 * copied log: first the services nobody follows, then the followed ones in
 * the reverse of their start order. Fills out with services.def indexes,
 * returns how many (KOOP_SVC_COUNT). */
size_t koop_backup_order(size_t out[KOOP_SVC_COUNT]);

#endif
