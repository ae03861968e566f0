/*
 * koopctl - the command-line client of a koop node.
 *
 *   koopctl -c NODE.conf [--json] [--as PERSON_ID] [--lang pl|en] NOUN VERB [--option value ...]
 *
 * Every method of common/api.def with a CLI noun and verb is a command:
 * its options become the fields of the method's request message by name
 * (pbjson.h), its reply is printed by common/present (JSON with --json, else
 * text). Commands that are not one request (node init, status, events,
 * keys, enrol) are the rows of main.c's local table. Errors are structured
 * (errors.h): with --json one object {"error": {code, field, message}} on
 * stderr, else "błąd: message"; KOOP_LANG=en or --lang en gives English
 * (messages, text output, --help and the verbs of `koopctl NOUN`).
 *
 * Exit codes: 0 ok; 1 the service refused (message on stderr); 2 usage or
 * bad option; 3 the service did not answer; 4 (status, sync wait) the
 * link to the hub needs attention (facts.h).
 */
#ifndef KOOPCTL_H
#define KOOPCTL_H

#include "api.h"
#include "config.h"
#include "errors.h"
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

enum { KC_OK = 0, KC_REFUSED = 1, KC_USAGE = 2, KC_UNAVAILABLE = 3 };

/* How long koopctl waits for an answer unless --timeout says otherwise. */
#define KC_TIMEOUT_DEFAULT_MS 15000

typedef struct {
    const char *conf_path;
    int json;
    const char *as;
    int timeout_ms;
    koop_lang_t lang;
    koop_config_t cfg;
    int cfg_loaded;
} kc_ctx_t;

/* Loads the config named by -c (once). Prints the error and returns KC_USAGE. */
int kc_load_config(kc_ctx_t *ctx);

/* Prints e (JSON with --json, else text in ctx->lang, fields as --options)
 * on stderr and returns exit_code. */
int kc_fail(kc_ctx_t *ctx, const koop_error_t *e, int exit_code);
/* kc_fail of a catalogue error: kc_error(ctx, KC_USAGE, CLI_ARGUMENT, NULL, arg). */
int kc_fail_id(kc_ctx_t *ctx, int exit_code, koop_err_t id, const char *field, const char *const *args);
#define kc_error(ctx, exit_code, ID, field, ...)                                                    \
    kc_fail_id((ctx), (exit_code), KOOP_ERR_##ID, (field), (const char *const[]){__VA_ARGS__ __VA_OPT__(, ) NULL})

/* Parses "--key value" pairs of argv into a JSON object of strings (keys
 * with dashes as underscores). Prints an error and returns NULL when an
 * option has no value, is given twice, or is not an option. */
json_t *kc_parse_options(kc_ctx_t *ctx, int argc, char **argv);

/* Calls method on service with req; on success *out is the unpacked reply
 * (of type reply_desc, or NULL when reply_desc is NULL). Prints errors and
 * returns the exit code. */
int kc_call(kc_ctx_t *ctx, const char *service, const char *method, const ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **out);

/* Prints a JSON value: as JSON with --json, else as readable text. */
void kc_print(kc_ctx_t *ctx, json_t *value);
/* Prints line key of labels.def's set (koop_present_sentence) in ctx->lang
 * with args as {1}.., and a line break. */
void kc_say(kc_ctx_t *ctx, const char *set, const char *key, const char *const *args, size_t nargs);
/* kc_say on out (stderr: a warning, or what a failure left). */
void kc_say_on(const kc_ctx_t *ctx, FILE *out, const char *set, const char *key, const char *const *args,
               size_t nargs);

/* Local commands (argv: what follows the command's words). */
int kc_node_init(kc_ctx_t *ctx, int argc, char **argv);
int kc_keys(kc_ctx_t *ctx, int argc, char **argv);
int kc_events(kc_ctx_t *ctx, int argc, char **argv);
int kc_status(kc_ctx_t *ctx, int argc, char **argv);
int kc_enrol(kc_ctx_t *ctx, int argc, char **argv);
int kc_unenrol(kc_ctx_t *ctx, int argc, char **argv);
int kc_backup(kc_ctx_t *ctx, int argc, char **argv);
int kc_restore(kc_ctx_t *ctx, int argc, char **argv);
int kc_sync_wait(kc_ctx_t *ctx, int argc, char **argv);

/* A loop and client for commands that wait on several answers at once
 * (backup, status, sync wait): the asynchronous client (client.h). */
typedef struct {
    uv_loop_t loop;
    struct koop_client *client;
    uv_timer_t tick; /* for the command's own use */
} kc_async_t;
int kc_async_init(kc_async_t *a);
void kc_async_close(kc_async_t *a);
/* The node's facts (facts.h), waited for on a; NULL only without memory. */
struct koop_facts *kc_facts(kc_async_t *a, const kc_ctx_t *ctx, uint32_t timeout_ms);

/* After a method of api.def answered: long work it started (report
 * rebuild) followed with a progress line on a terminal. */
int kc_follow(kc_ctx_t *ctx, const koop_api_method_t *m);

/* An absolute form of path (relative to the working directory), without
 * touching the file system. 0 or -1 when it does not fit. */
int kc_absolute(const char *path, char *out, size_t size);
/* The node's key pair in dir/keys (node.pub, node.key 0600), the public
 * certificate naming node_id, role and teryt. 0 or -1 (errno). */
int kc_write_keys(const char *dir, const char *node_id, const char *role, const char *teryt);

#endif
