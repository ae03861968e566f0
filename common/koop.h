/*
 * koop.h - status codes and small helpers shared by every module.
 *
 * Conventions (see docs/STYLE-NOTES in ../shared/STYLE.md):
 *  - library functions return 0 on success; store/log functions return the
 *    LMDB/errno code they met (non-zero), other functions a negative -errno;
 *  - request handlers return a koop status (KOOP_OK .. KOOP_TOO_LARGE), the
 *    same numbers as koop.Status in proto/envelope.proto.
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
};

/* Largest message any koop socket accepts (ZMQ_MAXMSGSIZE). */
#define KOOP_MAX_MSG (4 * 1024 * 1024)
/* Largest single text field accepted from outside (names, descriptions). */
#define KOOP_MAX_TEXT 4096
/* Bounds of the identity fields of a request envelope (service.c). */
#define KOOP_MAX_CALLER 64
#define KOOP_MAX_METHOD 64
/* Length of an id string (UUIDv7, 36 chars) plus NUL. */
#define KOOP_ID_LEN 37

/* A short Polish name of a status, for messages ("nieprawidłowe dane"). */
const char *koop_status_name(int status);

#define KOOP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
