/*
 * koopctl - the command-line client of a koop node.
 *
 *   koopctl -c NODE.conf [--json] [--as PERSON_ID] NOUN VERB [--option value ...]
 *
 * Most commands are rows of a table (kc_command_t): the options become the
 * fields of the method's request message by name (see pbjson.h), the reply
 * message is printed as JSON (--json) or as Polish text. Commands that are
 * more than one request (node init, status) have their own functions.
 *
 * Exit codes: 0 ok; 1 the service refused (message on stderr); 2 usage or
 * bad option; 3 the service did not answer.
 */
#ifndef KOOPCTL_H
#define KOOPCTL_H

#include "config.h"
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

enum { KC_OK = 0, KC_REFUSED = 1, KC_USAGE = 2, KC_UNAVAILABLE = 3 };

#define KC_LIST 1u     /* the reply has `items`: print them as an array */
#define KC_AS 2u       /* needs --as (the acting person) */
#define KC_REPORT 4u   /* a report: its own options (--json/--csv flags) and output (kc_report_run) */

typedef struct {
    const char *noun;
    const char *verb;
    const char *service;
    const char *method;
    const ProtobufCMessageDescriptor *request;
    const ProtobufCMessageDescriptor *reply;
    unsigned flags;
    const char *help; /* the options, for --help */
} kc_command_t;

typedef struct {
    const char *conf_path;
    int json;
    const char *as;
    int timeout_ms;
    koop_config_t cfg;
    int cfg_loaded;
} kc_ctx_t;

extern const kc_command_t kc_registry_commands[];
extern const size_t kc_registry_ncommands;
extern const kc_command_t kc_notifier_commands[];
extern const size_t kc_notifier_ncommands;
extern const kc_command_t kc_cases_commands[];
extern const size_t kc_cases_ncommands;
extern const kc_command_t kc_reporting_commands[];
extern const size_t kc_reporting_ncommands;

/* Loads the config named by -c (once). Prints the error and returns KC_USAGE. */
int kc_load_config(kc_ctx_t *ctx);

/* Parses "--key value" pairs of argv into a JSON object of strings.
 * Prints an error and returns NULL when an option has no value. */
json_t *kc_parse_options(int argc, char **argv);

/* Runs a table command. */
int kc_run_command(kc_ctx_t *ctx, const kc_command_t *cmd, int argc, char **argv);

/* Calls method on service with req; on success *out is the unpacked reply
 * (of type reply_desc, or NULL when reply_desc is NULL). Prints errors. */
int kc_call(kc_ctx_t *ctx, const char *service, const char *method, const ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **out);

/* Prints a JSON value: as JSON with --json, else as readable text. */
void kc_print(kc_ctx_t *ctx, json_t *value);

int kc_node_init(int argc, char **argv);
int kc_keys(kc_ctx_t *ctx, int argc, char **argv);
int kc_events(kc_ctx_t *ctx, int argc, char **argv);
struct Koop__Event;
/* One event envelope as JSON (payload decoded when its type is known). */
json_t *kc_event_to_json(const struct Koop__Event *ev);
int kc_status(kc_ctx_t *ctx, int argc, char **argv);
/* Runs a KC_REPORT command (commands_reporting.c). */
int kc_report_run(kc_ctx_t *ctx, const kc_command_t *cmd, int argc, char **argv);
/* sync.c: `sync status` and `enrol CERT` (docs/SYNC.md). */
int kc_sync(kc_ctx_t *ctx, int argc, char **argv);
int kc_enrol(kc_ctx_t *ctx, int argc, char **argv);

#endif
