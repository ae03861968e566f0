/*
 * kt_lmdb - changing a service's LMDB values behind its back, with a tool
 * (python3-lmdb), as someone with access to the files could: what the
 * accountability tests check the chains and records against. The node must
 * be stopped. `env` is a service's data directory (kt_lmdb_env).
 */
#ifndef KT_LMDB_H
#define KT_LMDB_H

#include "koop_test.h"

#include <stddef.h>
#include <stdint.h>

/* DIR/data/SERVICE of node n into out. */
void kt_lmdb_env(const kt_node_t *n, const char *service, char *out, size_t size);

/* In table `table`, replaces every `find` by `repl` in the value of the
 * first key (in key order) whose value contains `find`, or of key `key`
 * when given (hex of its bytes). With repl NULL the key is deleted. The
 * key changed is written (hex) to key_out (may be NULL). 0, or -1 when no
 * value was changed (the tool's error printed). */
int kt_lmdb_edit(const char *env, const char *table, const char *key, const char *find, const char *repl,
                 char *key_out, size_t key_size);

/* Hex of a be64 key (log tables). */
void kt_lmdb_seq_key(uint64_t seq, char out[17]);

#endif
