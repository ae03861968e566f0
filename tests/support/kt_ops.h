/*
 * kt_ops - helpers for the operations tests (backup, restore, status, keys,
 * progress): a writer that records every acknowledged record, programs run
 * on a terminal (a pty), config edits, file modes.
 */
#ifndef KT_OPS_H
#define KT_OPS_H

#include "koop_test.h"
#include "kt_sync.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* A thread adding institutions one after another to a node's registry and
 * keeping the id of each one acknowledged, with when the ack came. */
typedef struct {
    kt_node_t *node;
    char prefix[64];
    pthread_t thread;
    pthread_mutex_t lock;
    int stop;
    size_t n, cap;
    char (*ids)[40];
    uint64_t *acked_ms;   /* koop_clock_real_ms() when the ack arrived */
    size_t refused;       /* answers other than OK (none expected) */
} kt_writer_t;

int kt_writer_start(kt_writer_t *w, kt_node_t *n, const char *prefix);
/* Stops and joins the thread; the arrays stay until kt_writer_free. */
void kt_writer_stop(kt_writer_t *w);
/* How many are acknowledged so far. */
size_t kt_writer_count(kt_writer_t *w);
void kt_writer_free(kt_writer_t *w);

/* Runs argv with its stdin, stdout and stderr on a new pseudo-terminal (a
 * person at a terminal) and returns everything it wrote there, in r->out
 * (r->err is empty). timeout_s as kt_exec_for. */
int kt_exec_pty(kt_run_t *r, char *const argv[], int timeout_s);

/* Sets `key = value` in [section] of a node's config (replacing the line,
 * commented or not, that sets it there, or adding one). 0 or -1. */
int kt_conf_set(const char *conf, const char *section, const char *key, const char *value);

/* 0 when every file under dir has no permission for group or others and
 * every directory is 0700; else -1 with the first offender in bad. */
int kt_private_tree(const char *dir, char *bad, size_t size);

/* A powiat hub (hub-2013, on a free port) and a gmina (gmina-2013032) whose
 * uplink goes to it; the gmina enrolled at the hub when enrol. Nothing is
 * started. 0 or -1. */
int kt_pair_init(kt_node_t *hub, kt_node_t *g, int enrol);

/* kt_node_destroy of every node of the NULL-ended list that was made;
 * returns the sanitizer reports of them all. */
int kt_nodes_destroy(kt_node_t *const *nodes);

/* How many services the node's config names ([endpoints]), or -1. */
int kt_node_services(const kt_node_t *n);

/* The text of a node's log. Caller frees; NULL when none. */
char *kt_node_log(const kt_node_t *n);
/* How many lines of a node's log hold needle; -1 when it has no log. */
int kt_node_log_lines(const kt_node_t *n, const char *needle);

#endif
