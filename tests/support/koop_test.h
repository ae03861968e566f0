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

/* Runs any program with args (NULL-terminated argv) and captures output. */
int kt_exec(kt_run_t *r, char *const argv[]);

/* The pid of the child of `parent` whose command line contains `needle`, or 0. */
pid_t kt_child_pid(pid_t parent, const char *needle);

/* Runs any program with args, giving it input on standard input. */
int kt_exec_input(kt_run_t *r, char *const argv[], const char *input);

/* Sleeps ms milliseconds. */
void kt_sleep_ms(int ms);

#endif
