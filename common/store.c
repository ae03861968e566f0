#include "store.h"
#include "say.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define STORE_MAX_TABLES 32
/* Slots of the table names' hash (a power of two, twice the tables): a
 * service asks for a table by name on every record it touches. */
#define STORE_NAME_SLOTS 64
/* The map is address space, not disk: a large start avoids growth (and its
 * pause) in normal use; the file grows only as pages are used. */
#define STORE_INITIAL_MAP ((size_t)256 << 20)

struct koop_store {
    MDB_env *env;
    size_t map_size;
    int copying;           /* koop_store_copying */
    int ntables;
    char *names[STORE_MAX_TABLES];
    MDB_dbi dbis[STORE_MAX_TABLES];
    int8_t slot[STORE_NAME_SLOTS]; /* index into names + 1, 0: empty (linear probing) */
};

static unsigned
s_name_hash(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *name; name++)
        h = (h ^ (uint8_t)*name) * 16777619u;
    return h & (STORE_NAME_SLOTS - 1);
}

/* The index of table `name`, or -1. The first table added under a name
 * stands first on its probe sequence, as it stood first in the list. */
static int
s_find(const koop_store_t *self, const char *name)
{
    unsigned h = s_name_hash(name);
    for (unsigned n = 0; n < STORE_NAME_SLOTS && self->slot[h]; n++) {
        if (strcmp(self->names[self->slot[h] - 1], name) == 0)
            return self->slot[h] - 1;
        h = (h + 1) & (STORE_NAME_SLOTS - 1);
    }
    return -1;
}

/* A filesystem with less than this free counts as full: LMDB writes a
 * commit's pages and meta page in pieces, so a nearly full disk fails one
 * of them short (reported as EIO) before the free count reaches zero. */
#define STORE_FULL_BYTES ((unsigned long long)4 << 20)

/* Tables every store has: the event log and its chains (see log.h), feed cursors (feed.h)
 * and the store's stamp (koop_store_stamp). */
static const char *const s_log_tables[] = {"log", "log_shared", "log_chain", "log_redacted", "log_meta",
                                           "feed_cursors", "store_meta", NULL};

static int
s_add_table(koop_store_t *self, MDB_txn *txn, const char *name)
{
    int rc;
    if (self->ntables >= STORE_MAX_TABLES)
        return -EINVAL;
    rc = koop_mdb_rc(mdb_dbi_open(txn, name, MDB_CREATE, &self->dbis[self->ntables]));
    if (rc != 0)
        return rc;
    self->names[self->ntables] = strdup(name);
    if (!self->names[self->ntables])
        return -ENOMEM;
    {
        unsigned h = s_name_hash(name);
        while (self->slot[h]) /* 32 tables in 64 slots: there is room */
            h = (h + 1) & (STORE_NAME_SLOTS - 1);
        self->slot[h] = (int8_t)(self->ntables + 1);
    }
    self->ntables++;
    return 0;
}

int
koop_store_open(koop_store_t **out, const char *dir, const char *const *tables)
{
    return koop_store_open_map(out, dir, tables, STORE_INITIAL_MAP);
}

int
koop_store_open_map(koop_store_t **out, const char *dir, const char *const *tables, size_t map_size)
{
    koop_store_t *self = calloc(1, sizeof *self);
    MDB_txn *txn = NULL;
    MDB_envinfo info;
    int rc, dead = 0;

    *out = NULL;
    if (!self)
        return -ENOMEM;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        goto fail;
    }
    if ((rc = koop_mdb_rc(mdb_env_create(&self->env))) != 0)
        goto fail;
    if ((rc = koop_mdb_rc(mdb_env_set_maxdbs(self->env, STORE_MAX_TABLES))) != 0)
        goto fail;
    if ((rc = koop_mdb_rc(mdb_env_set_mapsize(self->env, map_size))) != 0)
        goto fail;
    /* MDB_NOTLS: transactions are not tied to threads; the default sync
     * mode keeps every commit durable (fsync) before it returns. */
    if ((rc = koop_mdb_rc(mdb_env_open(self->env, dir, MDB_NOTLS, 0600))) != 0)
        goto fail;
    if ((rc = koop_mdb_rc(mdb_reader_check(self->env, &dead))) != 0)
        goto fail;
    if (dead > 0)
        koop_warn("store %s: cleared %d stale reader slot(s)", dir, dead);
    /* the file may be larger than the initial map after growth in an earlier run */
    if ((rc = koop_mdb_rc(mdb_env_info(self->env, &info))) != 0)
        goto fail;
    self->map_size = info.me_mapsize;

    if ((rc = koop_mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn))) != 0)
        goto fail;
    for (int i = 0; s_log_tables[i]; i++)
        if ((rc = s_add_table(self, txn, s_log_tables[i])) != 0)
            goto fail;
    for (int i = 0; tables && tables[i]; i++)
        if ((rc = s_add_table(self, txn, tables[i])) != 0)
            goto fail;
    rc = koop_mdb_rc(mdb_txn_commit(txn));
    txn = NULL;
    if (rc != 0)
        goto fail;
    *out = self;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    koop_store_destroy(&self);
    return rc;
}

void
koop_store_destroy(koop_store_t **self_p)
{
    koop_store_t *self;
    if (!self_p || !*self_p)
        return;
    self = *self_p;
    if (self->env)
        mdb_env_close(self->env);
    for (int i = 0; i < self->ntables; i++)
        free(self->names[i]);
    free(self);
    *self_p = NULL;
}

MDB_env *
koop_store_env(koop_store_t *self)
{
    return self->env;
}

MDB_dbi
koop_store_dbi(koop_store_t *self, const char *name)
{
    int i = s_find(self, name);
    if (i >= 0)
        return self->dbis[i];
    assert(!"table not opened");
    return 0;
}

int
koop_store_dbi_find(koop_store_t *self, const char *name, MDB_dbi *out)
{
    int i = s_find(self, name);
    if (i < 0)
        return -ENOENT;
    *out = self->dbis[i];
    return 0;
}

int
koop_store_grow(koop_store_t *self)
{
    size_t next = self->map_size * 2;
    int rc;
    if (self->copying)
        return -EBUSY;
    rc = koop_mdb_rc(mdb_env_set_mapsize(self->env, next));
    if (rc == 0) {
        koop_info("store: map grown to %zu MiB", next >> 20);
        self->map_size = next;
    }
    return rc;
}

/* 1 when the filesystem of the store's directory is (nearly) full. */
static int
s_disk_full(koop_store_t *self)
{
    const char *path;
    struct statvfs st;
    if (mdb_env_get_path(self->env, &path) != 0 || statvfs(path, &st) != 0)
        return 0;
    return (unsigned long long)st.f_bavail * st.f_frsize < STORE_FULL_BYTES;
}


int
koop_store_write(koop_store_t *self, koop_store_write_fn fn, void *ctx)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        MDB_txn *txn;
        int rc = koop_mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn));
        if (rc == MDB_MAP_RESIZED) {
            /* another process grew it: adopt the new size */
            if ((rc = koop_mdb_rc(mdb_env_set_mapsize(self->env, 0))) != 0)
                return rc;
            continue;
        }
        if (rc != 0)
            return rc;
        rc = fn(txn, ctx);
        if (rc != 0) {
            mdb_txn_abort(txn);
        } else {
            rc = koop_mdb_rc(mdb_txn_commit(txn));
            if (rc == -EIO || rc == -ENOSPC)
                rc = s_disk_full(self) ? -ENOSPC : rc;
        }
        if (rc != MDB_MAP_FULL)
            return rc;
        if ((rc = koop_store_grow(self)) != 0)
            return rc;
    }
    return MDB_MAP_FULL;
}

void
koop_store_copying(koop_store_t *self, int on)
{
    self->copying = on;
}

int
koop_store_sizes(koop_store_t *self, koop_store_sizes_t *out)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_filehandle_t fd;
    struct stat fs;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = koop_mdb_rc(mdb_env_info(self->env, &info))) != 0 ||
        (rc = koop_mdb_rc(mdb_env_stat(self->env, &st))) != 0 ||
        (rc = koop_mdb_rc(mdb_env_get_fd(self->env, &fd))) != 0)
        return rc;
    if (fstat(fd, &fs) != 0)
        return -errno;
    out->file_bytes = (uint64_t)fs.st_size;
    out->map_bytes = info.me_mapsize;
    out->page_size = st.ms_psize;
    out->used_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    out->last_txn = info.me_last_txnid;
    out->readers = info.me_numreaders;
    out->max_readers = info.me_maxreaders;
    return 0;
}

int
koop_store_read(koop_store_t *self, MDB_txn **txn)
{
    int rc = koop_mdb_rc(mdb_txn_begin(self->env, NULL, MDB_RDONLY, txn));
    if (rc == MDB_MAP_RESIZED) {
        if ((rc = koop_mdb_rc(mdb_env_set_mapsize(self->env, 0))) != 0)
            return rc;
        rc = koop_mdb_rc(mdb_txn_begin(self->env, NULL, MDB_RDONLY, txn));
    }
    return rc;
}

typedef struct {
    koop_store_t *store;
    const char *node_id;
    char *node;
    size_t size;
    unsigned *format;
} s_stamp_ctx;

static int
s_stamp(MDB_txn *txn, void *ctx)
{
    s_stamp_ctx *c = ctx;
    MDB_dbi dbi = koop_store_dbi(c->store, "store_meta");
    MDB_val node, format;
    char num[16];
    int rc = koop_store_get_str(txn, dbi, "node_id", &node);

    if (rc == MDB_NOTFOUND) {
        snprintf(num, sizeof num, "%u", KOOP_STORE_FORMAT);
        if ((rc = koop_store_put_str(txn, dbi, "node_id", c->node_id, strlen(c->node_id))) != 0 ||
            (rc = koop_store_put_str(txn, dbi, "format", num, strlen(num))) != 0)
            return rc;
        rc = koop_store_get_str(txn, dbi, "node_id", &node);
    }
    if (rc != 0)
        return rc;
    if ((rc = koop_store_get_str(txn, dbi, "format", &format)) != 0)
        return rc == MDB_NOTFOUND ? EINVAL : rc;
    if (node.mv_size >= c->size || format.mv_size == 0 || format.mv_size >= sizeof num)
        return EINVAL;
    memcpy(c->node, node.mv_data, node.mv_size);
    c->node[node.mv_size] = '\0';
    memcpy(num, format.mv_data, format.mv_size);
    num[format.mv_size] = '\0';
    if (strspn(num, "0123456789") != format.mv_size)
        return EINVAL;
    *c->format = (unsigned)strtoul(num, NULL, 10);
    return 0;
}

int
koop_store_stamp(koop_store_t *self, const char *node_id, char *stored_node, size_t size,
                 unsigned *stored_format)
{
    s_stamp_ctx c = {self, node_id, stored_node, size, stored_format};
    return koop_store_write(self, s_stamp, &c);
}

void
koop_be64_put(unsigned char out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t
koop_be64_get(const unsigned char in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

int
koop_store_get_str(MDB_txn *txn, MDB_dbi dbi, const char *key, MDB_val *val)
{
    MDB_val k = {strlen(key), (void *)key};
    return koop_mdb_rc(mdb_get(txn, dbi, &k, val));
}

int
koop_store_put_str(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *data, size_t len)
{
    MDB_val k = {strlen(key), (void *)key};
    MDB_val v = {len, (void *)data};
    return koop_mdb_rc(mdb_put(txn, dbi, &k, &v, 0));
}
