#include "kt_lmdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* argv: env table key_hex|"" find repl|"\x01DELETE" */
static const char s_script[] =
    "import lmdb, sys\n"
    "env_dir, table, key, find, repl = sys.argv[1:6]\n"
    "find = find.encode(); delete = repl == '\\x01DELETE'; repl = repl.encode()\n"
    "env = lmdb.open(env_dir, max_dbs=64, readonly=False)\n"
    "db = env.open_db(table.encode(), create=False)\n"
    "with env.begin(write=True, db=db) as txn:\n"
    "    hit = None\n"
    "    if key:\n"
    "        k = bytes.fromhex(key); v = txn.get(k)\n"
    "        if v is not None and (find in v or delete): hit = (k, v)\n"
    "    else:\n"
    "        for k, v in txn.cursor():\n"
    "            if find in v: hit = (k, v); break\n"
    "    if hit is None: sys.exit('no value of %s holds %r' % (table, find))\n"
    "    k, v = hit\n"
    "    if delete: txn.delete(k)\n"
    "    else: txn.put(k, v.replace(find, repl))\n"
    "    print(k.hex())\n";

void
kt_lmdb_env(const kt_node_t *n, const char *service, char *out, size_t size)
{
    snprintf(out, size, "%s/data/%s", n->dir, service);
}

void
kt_lmdb_seq_key(uint64_t seq, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)seq);
}

int
kt_lmdb_edit(const char *env, const char *table, const char *key, const char *find, const char *repl,
             char *key_out, size_t key_size)
{
    /* Debian's interpreter, where python3-lmdb lives (not a user's pyenv) */
    char *argv[] = {"/usr/bin/python3", "-c", (char *)s_script, (char *)env, (char *)table, (char *)(key ? key : ""),
                    (char *)(find ? find : ""), (char *)(repl ? repl : "\x01" "DELETE"), NULL};
    kt_run_t r;
    int ok;
    kt_exec(&r, argv);
    ok = r.code == 0;
    if (!ok)
        fprintf(stderr, "kt_lmdb_edit %s/%s: %s%s\n", env, table, r.out, r.err);
    else if (key_out)
        snprintf(key_out, key_size, "%.*s", (int)strcspn(r.out, "\n"), r.out);
    kt_run_free(&r);
    return ok ? 0 : -1;
}
