/*
 * fuzz.h - what the fuzz targets (tests/fuzz/fuzz_*.c) share.
 *
 * Every target defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize). `make fuzz` links each with libFuzzer (clang,
 * ASan+UBSan) and runs it; `make test` links the same file with replay.c
 * (gcc) and runs every input of tests/fuzz/corpus/<target>/ once, so every
 * input that ever crashed stays in the suite. A target aborts (a finding)
 * only on a real failure: a crash, a sanitizer report, or a broken
 * invariant checked with FZ_ASSERT.
 *
 * Service targets run the real service in process (koop_service_local_new:
 * its store in a scratch directory, no sockets) and feed it a sequence of
 * packed koop.Request envelopes (fz_split). Ids the services make are
 * random, so a sequence names them by placeholder: the 36-character id
 * FZ_ID(n) ("00000000-0000-7000-8000-00000000000n") anywhere in a request
 * is replaced by the n-th distinct id the run has seen so far (seeded
 * records first, then ids in replies, in order of appearance), byte for
 * byte, so no length in the message changes.
 */
#ifndef KOOP_FUZZ_H
#define KOOP_FUZZ_H

#include "config.h"
#include "envelope.pb-c.h"
#include "koop.h"
#include "service.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FZ_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FZ_ID_PREFIX "00000000-0000-7000-8000-00000000000"
#define FZ_ID(n) FZ_ID_PREFIX #n
#define FZ_MAX_IDS 10
#define FZ_MAX_REQUESTS 8

/* Quiet logs, once per process. */
void fz_init(void);

/* A fresh, empty scratch directory for this process (in /dev/shm when it
 * exists, else TMPDIR or /tmp), emptied again on each call; the path is
 * static. Aborts when it cannot be made (the harness is broken). */
const char *fz_scratch(void);
/* A directory beside the scratch one that lasts for the whole process
 * (made empty on the first call, removed at exit): seeded templates. */
const char *fz_scratch_keep(void);
/* Copies a file; 0 or -errno. */
int fz_copy_file(const char *from, const char *to);
/* Removes a directory tree; 0 or -errno. */
int fz_rmtree(const char *path);

/* A gmina node's config in memory with data_dir under dir. */
void fz_config(koop_config_t *cfg, const char *dir);
/* Puts a copy of a seeded store (template: its data.mdb, made once per
 * process) in place as service's store of cfg (data_dir made). */
void fz_restore(const char *template, const koop_config_t *cfg, const char *service);

/* Splits input into up to FZ_MAX_REQUESTS parts, each a 2-byte big-endian
 * length then that many bytes (cut at the end of the input; what follows the
 * last part is ignored). Returns the count; parts point into data. */
size_t fz_split(const uint8_t *data, size_t size, const uint8_t *part[], size_t part_len[]);
/* Appends one part in that framing to a growing buffer (seed writers). */
int fz_join(uint8_t **buf, size_t *len, const uint8_t *part, size_t part_len);

/* The ids a run has seen, for placeholders. */
typedef struct {
    char id[FZ_MAX_IDS][KOOP_ID_LEN];
    size_t n;
} fz_ids_t;
void fz_ids_add(fz_ids_t *ids, const char *id);
/* Adds every id (36 bytes that koop_id_valid accepts) found in buf. */
void fz_ids_scan(fz_ids_t *ids, const uint8_t *buf, size_t len);
/* A copy of buf (caller frees) with every placeholder replaced. */
uint8_t *fz_ids_subst(const fz_ids_t *ids, const uint8_t *buf, size_t len);

/* Packs a request envelope (caller frees). NULL on lack of memory. */
uint8_t *fz_request(const char *caller, const char *method, const ProtobufCMessage *req, size_t *len);

/* Packs a request whose payload is given as JSON (pbjson, as koopctl builds
 * it) for a method of def (its request type); NULL when the JSON does not
 * fit (said on stderr). Caller frees. */
uint8_t *fz_request_json(const koop_service_def_t *def, const char *caller, const char *method,
                         const char *json, size_t *len);

/* The request types of every method of the registry and the cases service
 * and koop.FeedFetch, each once, in table order (fuzz_pbjson's first byte
 * picks one). Returns how many were written to out. */
size_t fz_request_types(const ProtobufCMessageDescriptor **out, size_t max);

/* m shown as JSON as koopctl --json and the gateway show it: the tree
 * (koop_pbjson_to_json) printed with KOOP_PBJSON_DUMP_FLAGS, and the direct
 * writer (koop_pbjson_dumps) - asserted to be the same bytes, for the whole
 * message and for each of its repeated fields alone (a list reply). */
void fz_json_same(const ProtobufCMessage *m);

/* Reply types by method: what a client expects back (fuzz_reply's first
 * byte picks one; captured replies are filed under theirs). */
typedef struct {
    const char *method;
    const ProtobufCMessageDescriptor *reply;
} fz_reply_type_t;
extern const fz_reply_type_t fz_reply_types[];
extern const size_t fz_nreply_types;

/* With FZ_CAPTURE=DIR in the environment, fz_call also files what it sees
 * as seeds: DIR/reply/<n> (a selector byte, then the reply envelope) and
 * DIR/event_head/<n> (each event envelope of a feed.fetch reply) and
 * DIR/feed/<n> (its FeedBatch, with fuzz_feed's selector byte). `make
 * fuzz-seeds` runs the registry and cases corpora so. */

/* Runs one packed request on an in-process service and checks the reply
 * envelope decodes and answers this request; returns the status and, when
 * payload is not NULL, the reply payload (caller frees; may be NULL). */
int fz_call(koop_service_t *svc, const uint8_t *req, size_t len, uint8_t **payload, size_t *payload_len);
/* Runs a request given as JSON (fz_request_json, placeholders replaced) for
 * seeding; aborts when it is refused. */
void fz_must_json(koop_service_t *svc, const koop_service_def_t *def, fz_ids_t *ids, const char *caller,
                  const char *method, const char *json);
/* Applies producer's whole log of stream (feed.fetch, up to 1,000 events)
 * to a consumer's store in one write transaction, as its feed would: apply
 * may refuse an event (KOOP_FEED_REFUSED); any other error aborts. */
void fz_feed_apply(koop_service_t *producer, const char *stream, koop_store_t *store,
                   int (*apply)(MDB_txn *txn, const Koop__Event *ev, void *ctx), void *ctx);
/* Runs a sequence (fz_split) of requests with placeholders on svc. */
void fz_run_sequence(koop_service_t *svc, fz_ids_t *ids, const uint8_t *data, size_t size);

#endif
