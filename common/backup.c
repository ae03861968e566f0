/* backup.c - copies of a store and what they hold (see backup.h). */
#include "backup.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_CHUNK (1u << 20)

int
koop_backup_hash(const char *path, char out[KOOP_BACKUP_HASH_HEX])
{
    crypto_generichash_state st;
    unsigned char digest[32], *buf = malloc(HASH_CHUNK);
    int fd = -1, rc = 0;
    ssize_t n;

    if (!buf)
        return -ENOMEM;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = -errno;
        goto done;
    }
    crypto_generichash_init(&st, NULL, 0, sizeof digest);
    while ((n = read(fd, buf, HASH_CHUNK)) > 0)
        crypto_generichash_update(&st, buf, (unsigned long long)n);
    if (n < 0) {
        rc = -errno;
        goto done;
    }
    crypto_generichash_final(&st, digest, sizeof digest);
    sodium_bin2hex(out, KOOP_BACKUP_HASH_HEX, digest, sizeof digest);
done:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/* The value of key in table `name` of txn as a string (NUL-terminated in
 * out); MDB_NOTFOUND when the table or the key is missing. */
static int
s_get_str(MDB_txn *txn, const char *name, const char *key, char *out, size_t size)
{
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = koop_mdb_rc(mdb_dbi_open(txn, name, 0, &dbi));
    if (rc == 0)
        rc = koop_mdb_rc(mdb_get(txn, dbi, &k, &v));
    if (rc != 0)
        return rc;
    if (v.mv_size >= size)
        return MDB_CORRUPTED;
    memcpy(out, v.mv_data, v.mv_size);
    out[v.mv_size] = '\0';
    return 0;
}

static int
s_last_seq(MDB_txn *txn, uint64_t *last)
{
    MDB_dbi dbi;
    int rc = koop_mdb_rc(mdb_dbi_open(txn, "log", 0, &dbi));
    *last = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? rc : koop_log_last_in(txn, dbi, last);
}

int
koop_backup_inspect(const char *dir, koop_backup_info_t *info)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    char path[PATH_MAX], num[16];
    struct stat st;
    int rc;

    memset(info, 0, sizeof *info);
    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    if (stat(path, &st) != 0)
        return -errno;
    info->bytes = (uint64_t)st.st_size;
    if ((rc = koop_mdb_rc(mdb_env_create(&env))) != 0)
        return rc;
    /* read-only and without a lock file: nothing of the copy changes, and
     * it opens whoever owns the directory */
    if ((rc = koop_mdb_rc(mdb_env_set_maxdbs(env, 64))) != 0 ||
        (rc = koop_mdb_rc(mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600))) != 0 ||
        (rc = koop_mdb_rc(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))) != 0)
        goto done;
    if ((rc = s_get_str(txn, "store_meta", "node_id", info->node, sizeof info->node)) != 0 ||
        (rc = s_get_str(txn, "store_meta", "format", num, sizeof num)) != 0)
        goto done;
    if (!num[0] || strspn(num, "0123456789") != strlen(num)) {
        rc = MDB_CORRUPTED;
        goto done;
    }
    info->format = (unsigned)strtoul(num, NULL, 10);
    rc = s_get_str(txn, "log_meta", "log_id", info->log_id, sizeof info->log_id);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc == 0)
        rc = s_last_seq(txn, &info->last_seq);
done:
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return rc;
}

int
koop_backup_copy(MDB_env *env, const char *dir, koop_backup_info_t *info)
{
    char path[PATH_MAX];
    int fd, dfd, rc;

    memset(info, 0, sizeof *info);
    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    rc = koop_mdb_rc(mdb_env_copyfd2(env, fd, MDB_CP_COMPACT));
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0) {
        /* the file's name, too, must survive a crash */
        if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(dfd) != 0)
            rc = -errno;
        if (dfd >= 0)
            close(dfd);
    }
    if (rc == 0)
        rc = koop_backup_inspect(dir, info);
    if (rc == 0)
        rc = koop_backup_hash(path, info->blake2b);
    if (rc != 0)
        unlink(path);
    return rc;
}

size_t
koop_backup_order(size_t out[KOOP_SVC_COUNT])
{
    size_t n = 0;
    for (size_t i = 0; i < KOOP_SVC_COUNT; i++)
        if (!(koop_services[i].flags & KOOP_SVC_FEED))
            out[n++] = i;
    for (size_t i = KOOP_SVC_COUNT; i-- > 0;)
        if (koop_services[i].flags & KOOP_SVC_FEED)
            out[n++] = i;
    return n;
}
