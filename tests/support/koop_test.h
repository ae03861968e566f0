/*
 * koop_test - helpers for integration tests: real nodes (koop-node processes
 * in temporary directories) driven through the real koopctl.
 *
 * Programs are taken from $KOOP_BIN (set by `make test`), else ./bin.
 */
#ifndef KOOP_TEST_H
#define KOOP_TEST_H

#include <jansson.h>
#include <limits.h>
#include <sys/types.h>

typedef struct {
    char dir[PATH_MAX];
    char conf[PATH_MAX + 16];
    pid_t pid; /* koop-node, 0 when stopped */
    int http_port; /* the gateway's port (kt_node_init picks a free one) */
} kt_node_t;

typedef struct {
    int code;      /* exit code of koopctl */
    char *out;     /* stdout, NUL-terminated */
    char *err;     /* stderr */
    json_t *json;  /* stdout parsed, or NULL */
    char *cmd;     /* the command line, for messages */
} kt_run_t;

/* The directory holding the programs under test. */
const char *kt_bin(void);

/* Makes a node in a new temporary directory: koopctl node init DIR --role
 * ROLE --teryt TERYT --name NAME [extra args..., NULL]. Returns 0 or -1. */
int kt_node_init(kt_node_t *n, const char *role, const char *teryt, const char *name, ...);
/* Starts koop-node and waits until `koopctl status` succeeds (timeout s). */
int kt_node_start(kt_node_t *n, int timeout_s);
/* SIGTERM and wait; returns the exit status or -1 if it had to be killed. */
int kt_node_stop(kt_node_t *n);
/* Stops (kill -9 if needed) and removes the directory (kept when
 * KOOP_TEST_KEEP is set). Returns the number of sanitizer reports
 * (ASan/UBSan/LSan) the node's processes wrote to its log: tests assert 0. */
int kt_node_destroy(kt_node_t *n);
int kt_node_sanitizer_reports(const kt_node_t *n);

/* Runs koopctl -c n->conf ARGS... (NULL-terminated) and captures its output. */
int kt_ctl(kt_run_t *r, kt_node_t *n, ...);
/* As kt_ctl with --json; returns a malloc'd copy of the "id" of the output
 * object, or NULL (and the error printed) when the command failed. */
char *kt_ctl_id(kt_node_t *n, ...);
void kt_run_free(kt_run_t *r);

/* Refusals. A command run with --json that was refused printed nothing on
 * stdout and one object {"error": {code, field, message}} on stderr.
 * kt_refused asserts (criterion) that r exited with want_exit, with `code`
 * (a code of the catalogue) and `field` (NULL: none), and - when expected
 * arguments follow (NULL-terminated; none: not checked) - that the message
 * is exactly the catalogue's rendering of them in koopctl's language (every
 * {N|w} argument a word of the words table). Frees r; returns its exit
 * code. kt_ctl_refused runs koopctl --json -c n->conf ARGS... (NULL-
 * terminated), checks code and field the same way and returns the exit
 * code. */
int kt_refused(kt_run_t *r, int want_exit, const char *code, const char *field, ...);
/* kt_refused with the message expected in lang (KOOP_LANG_PL / _EN), e.g.
 * for a run with --lang en. */
int kt_refused_in(kt_run_t *r, int lang, int want_exit, const char *code, const char *field, ...);
int kt_ctl_refused(kt_node_t *n, const char *code, const char *field, ...);
/* 1 when r (run with --json) was refused with code; no assertion (for
 * loops that wait for a refusal to come or go). */
int kt_error_is(const kt_run_t *r, const char *code);
/* The same checks of a reply's error (code, field) for raw requests. */
void kt_err_is(const char *what, const char *got_code, const char *got_field, const char *code,
               const char *field);

/* The family's consent for household, recorded by `as` on date, naming
 * every institution of the node's registry (a case opens only with one).
 * 0 or -1. */
int kt_consent_all(kt_node_t *n, const char *as, const char *household, const char *date);

/* Runs any program with args (NULL-terminated argv) and captures output. */
int kt_exec(kt_run_t *r, char *const argv[]);
/* As kt_exec, but after timeout_s seconds (0: none) the program and its
 * process group are killed and r->code is 124 (as timeout(1) says). */
int kt_exec_for(kt_run_t *r, char *const argv[], int timeout_s);
/* As kt_exec_for, run as user and group id uid ((uid_t)-1: as this process). */
int kt_exec_as(kt_run_t *r, char *const argv[], int timeout_s, uid_t uid);
/* All of them: input (may be NULL) written to the program's stdin. */
int kt_exec_full(kt_run_t *r, char *const argv[], const char *input, int timeout_s, uid_t uid);

/* Reads /proc/PID/FILE (cmdline, environ: NUL-separated) into buf with
 * every NUL turned into sep. Returns 0 or -1. */
int kt_proc_text(const char *pid, const char *file, char sep, char *buf, size_t size);

/* The pid of the child of `parent` whose program (the base name of its
 * argv[0]) is `needle` ("koop-cases"), or 0. */
pid_t kt_child_pid(pid_t parent, const char *needle);

/* Runs any program with args, giving it input on standard input. */
int kt_exec_input(kt_run_t *r, char *const argv[], const char *input);

/* Sleeps ms milliseconds. */
void kt_sleep_ms(int ms);

/* The --options a command's help names ("--as-of", "--csv" of
 * "--json|--csv"), sorted and each once, space-separated into out: the
 * same in both languages of one help. Asserts they fit. */
void kt_help_options(const char *help, char *out, size_t len);

#endif
