/*
 * koop.h - status codes and small helpers shared by every module.
 *
 * The one error convention (docs/FOUNDATION.md, "Errors"):
 *  - library functions (store, log, record, feed, rpc, client, config, ...)
 *    return 0 on success or a NEGATIVE code: -errno for system errors, or
 *    one of LMDB's own codes (MDB_NOTFOUND .. MDB_LAST_ERRCODE, all in
 *    -30799..-30780, disjoint from -errno); positive errno values that LMDB
 *    functions return are turned into -errno at the store boundary
 *    (koop_store_rc). koop_strerror() names any of them;
 *  - request handlers return a koop status (KOOP_OK .. KOOP_DEADLINE,
 *    positive, the same numbers as koop.Status in proto/envelope.proto), and
 *    say why with a code from common/errors.def (koop_fail, service.h).
 * The three ranges never overlap, so a value always says which it is.
 */
#ifndef KOOP_H
#define KOOP_H

#include <stddef.h>
#include <stdint.h>

enum koop_status {
    KOOP_OK = 0,
    KOOP_INVALID = 1,
    KOOP_NOT_FOUND = 2,
    KOOP_DENIED = 3,
    KOOP_CONFLICT = 4,
    KOOP_INTERNAL = 5,
    KOOP_UNAVAILABLE = 6,
    KOOP_MALFORMED = 7,
    KOOP_TOO_LARGE = 8,
    KOOP_DEADLINE = 9,
};

/* Largest message any koop socket accepts (ZMQ_MAXMSGSIZE). */
#define KOOP_MAX_MSG (4 * 1024 * 1024)
/* Largest single text field accepted from outside (names, descriptions). */
#define KOOP_MAX_TEXT 4096
/* Bounds of the identity fields of a request envelope (service.c). */
#define KOOP_MAX_CALLER 64
#define KOOP_MAX_METHOD 64
/* Longest name a node gives itself ([node] name, `node init --name`), in
 * bytes: what other nodes take from it (the key directory, docs/SYNC.md). */
#define KOOP_MAX_NODE_NAME 200
/* Length of an id string (UUIDv7, 36 chars) plus NUL. */
#define KOOP_ID_LEN 37

/* A short Polish name of a status, for messages ("nieprawidłowe dane"). */
const char *koop_status_name(int status);
/* The name of a library error code: -errno or an LMDB code (0: "ok"). */
const char *koop_strerror(int rc);

#define KOOP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
