/*
 * backup.c - `koopctl backup DIR` and `koopctl restore DIR` (docs/OPERATIONS.md).
 *
 * backup, while the node runs:
 *   DIR made 0700 (given to the node's user when koopctl runs as root: the
 *   services write the copies); sys.stats of every service (a service down:
 *   no backup); then sys.backup to each service, one at a time, consumers
 *   before the logs they follow (koop_backup_order), the progress line
 *   following the size of the copy being written; DIR/manifest.json last
 *   (written, synced, renamed): node, role, formats, time and, per service,
 *   its file, size, log identity, last seq and BLAKE2b. A directory without
 *   the manifest is not a backup. Any failure removes what was made.
 *
 * restore, with the node stopped:
 *   check  the manifest against the config (node id, role, services, format)
 *   lock   koop-node's node.lock and every service.lock, held to the end: a
 *          node that runs is refused, one started meanwhile cannot open a store
 *   stage  DATA/.restore (while it exists no service starts: preflight.h);
 *          each copy copied there and its BLAKE2b, stamp, log id, last seq checked
 *   renew  each staged log gets a new identity (log.h): a restored producer is
 *          never taken for the history it was copied from. Every feed cursor
 *          into a restored log moves to that log's new identity (the copies
 *          were made consumers first, so none is ahead; one that is means the
 *          backup is not koopctl's: refused). The uplink's positions are left
 *          on the old identities on purpose: the hub must see the new ones.
 *   swap   the data replaced move to DATA/replaced-TIME/<service> (a new
 *          directory each time: -2, -3 when TIME is taken), the copies in
 *          their place (rename, then fsync of the directory)
 *   done   DATA/.restore removed; what to do next is printed (the hub refuses
 *          the new identities until the node is enrolled again).
 * Nothing of the node changes before the swap; an interrupted swap leaves
 * DATA/.restore, so the node refuses to start until restore runs again.
 */
#include "koopctl.h"
#include "backup.h"
#include "client.h"
#include "clock.h"
#include "facts.h"
#include "feed.h"
#include "id.h"
#include "keyprint.h"
#include "log.h"
#include "preflight.h"
#include "present.h"
#include "progress.h"
#include "store.h"
#include "version.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST "manifest.json"
#define MANIFEST_FORMAT 1
#define STATS_TIMEOUT_MS 5000
#define BACKUP_TIMEOUT_MS (12u * 3600 * 1000)
#define TICK_MS 200

/* ---- small file helpers ---- */

static int
s_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* Gives path to the owner of the node's data when koopctl runs as root (the
 * node runs as its own user and must open what root made here). */
static void
s_give(const kc_ctx_t *ctx, const char *path)
{
    struct stat st;
    if (geteuid() != 0 || stat(ctx->cfg.data_dir, &st) != 0 || st.st_uid == 0)
        return;
    if (chown(path, st.st_uid, st.st_gid) != 0)
        kc_say_on(ctx, stderr, "backup", "not_given", KOOP_ARGS(path, strerror(errno)));
}

static uint64_t
s_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static const char *
s_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static uint64_t
s_u64(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* "2026-12-01T10:00:00Z" of unix ms */
static void
s_iso(uint64_t ms, char *out, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The one argument of backup and restore, made absolute, and the config. */
static int
s_dir_arg(kc_ctx_t *ctx, int argc, char **argv, char *dir, size_t size)
{
    int rc;
    if (argc != 1 || argv[0][0] == '-')
        return kc_error(ctx, KC_USAGE, CLI_BACKUP_USAGE, NULL);
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    if (kc_absolute(argv[0], dir, size) != 0)
        return kc_error(ctx, KC_USAGE, CLI_INIT_PATH_LONG, NULL, argv[0]);
    return KC_OK;
}

/* ---- backup ---- */

typedef struct {
    kc_async_t *a;
    const char *file;            /* the copy being written: DIR/<service>/data.mdb */
    koop_progress_t *progress;
    uint64_t before;             /* bytes of the copies already made */
    int answered;
    koop_reply_t reply;
} s_backup_call;

static void
s_on_backup_reply(void *ctx, const koop_reply_t *reply)
{
    s_backup_call *c = ctx;
    c->answered = 1;
    c->reply = *reply;
    c->reply.payload = NULL;
    if (reply->len && (c->reply.payload = malloc(reply->len)))
        memcpy(c->reply.payload, reply->payload, reply->len);
    else
        c->reply.len = 0;
    uv_timer_stop(&c->a->tick);
}

static void
s_on_backup_tick(uv_timer_t *t)
{
    s_backup_call *c = t->data;
    koop_progress_set(c->progress, c->before + s_file_size(c->file));
}

/* Removes what backup made in dir (only that: the copies, their
 * directories, the manifest), and dir itself when it made it. */
static void
s_backup_remove(const char *dir, int made)
{
    char path[PATH_MAX + 64];
    for (size_t i = 0; i < KOOP_SVC_COUNT; i++) {
        snprintf(path, sizeof path, "%s/%s/data.mdb", dir, koop_services[i].name);
        (void)unlink(path);
        snprintf(path, sizeof path, "%s/%s", dir, koop_services[i].name);
        (void)rmdir(path);
    }
    snprintf(path, sizeof path, "%s/%s.tmp", dir, MANIFEST);
    (void)unlink(path);
    if (made)
        (void)rmdir(dir);
}

/* DIR: made 0700, or an empty directory that exists (then made 0700). */
static int
s_backup_dir(kc_ctx_t *ctx, const char *dir, int *made, struct stat *st)
{
    DIR *d;
    struct dirent *e;
    int empty = 1;
    *made = 0;
    if (mkdir(dir, 0700) == 0)
        *made = 1;
    else if (errno == ENOENT && koop_preflight_mkdirs(dir, 0700) == 0)
        *made = 1;
    else if (errno != EEXIST)
        return kc_error(ctx, KC_REFUSED, CLI_IO, NULL, dir, strerror(errno));
    if (!*made) {
        if (!(d = opendir(dir)))
            return kc_error(ctx, KC_REFUSED, CLI_IO, NULL, dir, strerror(errno));
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                empty = 0;
        closedir(d);
        if (!empty)
            return kc_error(ctx, KC_REFUSED, CLI_BACKUP_DIR, NULL, dir);
    }
    if (chmod(dir, 0700) != 0 || stat(dir, st) != 0)
        return kc_error(ctx, KC_REFUSED, CLI_IO, NULL, dir, strerror(errno));
    s_give(ctx, dir);
    return KC_OK;
}

/* Writes the manifest: to a temporary name, synced, then renamed, so a
 * directory with a manifest always holds a whole backup. */
static int
s_write_manifest(kc_ctx_t *ctx, const char *dir, json_t *m)
{
    char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
    int fd, rc = 0;
    FILE *f;
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, MANIFEST);
    snprintf(path, sizeof path, "%s/%s", dir, MANIFEST);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 || !(f = fdopen(fd, "w"))) {
        if (fd >= 0)
            close(fd);
        return kc_error(ctx, KC_REFUSED, CLI_IO, NULL, tmp, strerror(errno));
    }
    if (json_dumpf(m, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || fputc('\n', f) == EOF || fflush(f) != 0 ||
        fsync(fileno(f)) != 0)
        rc = -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && (rename(tmp, path) != 0 || s_fsync_dir(dir) != 0))
        rc = -errno;
    if (rc != 0)
        return kc_error(ctx, KC_REFUSED, CLI_IO, NULL, path, strerror(-rc));
    s_give(ctx, path);
    return KC_OK;
}

int
kc_backup(kc_ctx_t *ctx, int argc, char **argv)
{
    char dir[PATH_MAX], made_at[32];
    size_t order[KOOP_SVC_COUNT], norder;
    koop_facts_t *facts = NULL;
    koop_progress_t *progress = NULL;
    uint64_t total = 0, done = 0, started = koop_clock_real_ms();
    json_t *manifest = NULL, *list;
    struct stat st;
    kc_async_t a;
    int made = 0, rc;

    if ((rc = s_dir_arg(ctx, argc, argv, dir, sizeof dir)) != KC_OK)
        return rc;
    if (kc_async_init(&a) != 0)
        return kc_error(ctx, KC_UNAVAILABLE, INTERNAL_NO_MEMORY, NULL);
    /* every service must answer before anything is made */
    if (!(facts = kc_facts(&a, ctx, STATS_TIMEOUT_MS))) {
        rc = kc_error(ctx, KC_UNAVAILABLE, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    for (size_t i = 0; i < facts->nservices; i++) {
        if (!facts->services[i].stats) {
            rc = kc_fail(ctx, &facts->services[i].err, KC_UNAVAILABLE);
            goto done;
        }
        total += facts->services[i].stats->store ? facts->services[i].stats->store->used_bytes : 0;
    }
    if ((rc = s_backup_dir(ctx, dir, &made, &st)) != KC_OK)
        goto done;
    manifest = json_object();
    list = json_array();
    json_object_set_new(manifest, "manifest_format", json_integer(MANIFEST_FORMAT));
    json_object_set_new(manifest, "koop_version", json_string(koop_version()));
    json_object_set_new(manifest, "node", json_string(ctx->cfg.node_id));
    json_object_set_new(manifest, "role", json_string(ctx->cfg.role));
    json_object_set_new(manifest, "teryt", json_string(ctx->cfg.teryt));
    json_object_set_new(manifest, "store_format", json_integer(KOOP_STORE_FORMAT));
    progress = koop_progress_new("backup", total, KOOP_PROGRESS_BYTES, ctx->lang, ctx->json, stderr);
    norder = koop_backup_order(order);
    for (size_t k = 0; k < norder; k++) {
        const char *name = koop_services[order[k]].name, *ep = koop_config_endpoint(&ctx->cfg, name);
        Koop__BackupRequest q = KOOP__BACKUP_REQUEST__INIT;
        Koop__BackupReply *r;
        s_backup_call c = {.a = &a, .progress = progress, .before = done};
        char file[PATH_MAX + 64];
        json_t *o;
        if (!ep)
            continue;
        snprintf(file, sizeof file, "%s/%s/data.mdb", dir, name);
        c.file = file;
        q.dir = dir;
        q.has_dir_dev = q.has_dir_ino = 1;
        q.dir_dev = (uint64_t)st.st_dev;
        q.dir_ino = (uint64_t)st.st_ino;
        if (koop_client_call(a.client, ep, NULL, "sys.backup", &q.base, BACKUP_TIMEOUT_MS, s_on_backup_reply, &c,
                             NULL) != 0) {
            rc = kc_error(ctx, KC_UNAVAILABLE, CLI_EXCHANGE, NULL, name, strerror(errno));
            goto failed;
        }
        a.tick.data = &c;
        uv_timer_start(&a.tick, s_on_backup_tick, TICK_MS, TICK_MS);
        while (!c.answered && uv_run(&a.loop, UV_RUN_ONCE))
            ;
        uv_timer_stop(&a.tick);
        if (c.reply.status != KOOP_OK) {
            koop_progress_end(&progress);
            rc = kc_fail(ctx, &c.reply.err, c.reply.status == KOOP_UNAVAILABLE ? KC_UNAVAILABLE : KC_REFUSED);
            koop_reply_clear(&c.reply);
            goto failed;
        }
        r = koop__backup_reply__unpack(NULL, c.reply.len, c.reply.payload);
        koop_reply_clear(&c.reply);
        if (!r) {
            rc = kc_error(ctx, KC_UNAVAILABLE, CLI_BAD_REPLY, NULL, name);
            goto failed;
        }
        o = json_object();
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "file", json_string(r->file ? r->file : ""));
        json_object_set_new(o, "bytes", json_integer((json_int_t)r->bytes));
        json_object_set_new(o, "log_id", json_string(r->log_id ? r->log_id : ""));
        json_object_set_new(o, "last_seq", json_integer((json_int_t)r->last_seq));
        json_object_set_new(o, "blake2b", json_string(r->blake2b ? r->blake2b : ""));
        json_object_set_new(o, "took_ms", json_integer((json_int_t)r->took_ms));
        json_array_append_new(list, o);
        done += r->bytes;
        if (done > total)
            koop_progress_total(progress, total = done);
        koop_progress_set(progress, done);
        koop__backup_reply__free_unpacked(r, NULL);
    }
    koop_progress_total(progress, done);
    koop_progress_end(&progress);
    s_iso(started, made_at, sizeof made_at);
    json_object_set_new(manifest, "created", json_string(made_at));
    json_object_set_new(manifest, "created_ms", json_integer((json_int_t)started));
    json_object_set_new(manifest, "bytes", json_integer((json_int_t)done));
    json_object_set_new(manifest, "services", list);
    if ((rc = s_write_manifest(ctx, dir, manifest)) != KC_OK)
        goto failed;
    if (ctx->json) {
        json_object_set_new(manifest, "dir", json_string(dir));
        kc_print(ctx, manifest);
    } else {
        char size[32];
        koop_progress_amount(size, sizeof size, (double)done, KOOP_PROGRESS_BYTES, ctx->lang);
        kc_say(ctx, "backup", "made",
               KOOP_ARGS(ctx->cfg.node_id, dir, KOOP_NUM(json_array_size(list)), size, ctx->conf_path));
    }
    rc = KC_OK;
    goto done;
failed:
    koop_progress_end(&progress);
    s_backup_remove(dir, made);
    if (!ctx->json)
        kc_say_on(ctx, stderr, "backup", "not_made", KOOP_ARGS(dir));
done:
    json_decref(manifest);
    koop_facts_free(&facts);
    kc_async_close(&a);
    return rc;
}

/* ---- restore ---- */

typedef struct {
    const char *name;             /* the service */
    char old_id[64], new_id[KOOP_ID_LEN];
    uint64_t last_seq, bytes;
    const char *blake2b;
    char src[PATH_MAX + 64];      /* DIR/<service>/data.mdb */
    char stage[PATH_MAX + 64];    /* DATA/.restore/<service> */
} s_store;

typedef struct {
    kc_ctx_t *ctx;
    const char *from;             /* the backup directory */
    s_store stores[KOOP_SVC_COUNT];
    size_t n;
    int locks[KOOP_SVC_COUNT + 1];
    size_t nlocks;
    char restore_dir[PATH_MAX + 32]; /* DATA/.restore */
} s_restore;

static s_store *
s_store_by_id(s_restore *r, const char *log_id)
{
    for (size_t i = 0; log_id[0] && i < r->n; i++)
        if (strcmp(r->stores[i].old_id, log_id) == 0)
            return &r->stores[i];
    return NULL;
}

/* The manifest, checked against the node's config. */
static int
s_read_manifest(s_restore *r, json_t **out)
{
    kc_ctx_t *ctx = r->ctx;
    char path[PATH_MAX + 64], have[256] = "", want[256] = "", fmt[16];
    const char *names[KOOP_MAX_SERVICES];
    json_error_t jerr;
    json_t *m, *list;
    int n = koop_config_services(&ctx->cfg, names), same;

    snprintf(path, sizeof path, "%s/%s", r->from, MANIFEST);
    if (access(path, F_OK) != 0)
        return kc_error(ctx, KC_REFUSED, CLI_RESTORE_INCOMPLETE, NULL, r->from);
    if (!(m = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)))
        return kc_error(ctx, KC_REFUSED, CLI_RESTORE_MANIFEST, NULL, path, jerr.text);
    *out = m;
    list = json_object_get(m, "services");
    if (s_u64(m, "manifest_format") != MANIFEST_FORMAT || !s_str(m, "node") || !s_str(m, "role") ||
        !json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > KOOP_SVC_COUNT)
        return kc_error(ctx, KC_REFUSED, CLI_RESTORE_MANIFEST, NULL, path, "manifest_format, node, role, services");
    if (strcmp(s_str(m, "node"), ctx->cfg.node_id) != 0 || strcmp(s_str(m, "role"), ctx->cfg.role) != 0)
        return kc_error(ctx, KC_REFUSED, CLI_RESTORE_OTHER_NODE, NULL, r->from, s_str(m, "node"), s_str(m, "role"),
                        ctx->conf_path, ctx->cfg.node_id, ctx->cfg.role);
    if (s_u64(m, "store_format") != KOOP_STORE_FORMAT) {
        snprintf(fmt, sizeof fmt, "%llu", (unsigned long long)s_u64(m, "store_format"));
        return kc_error(ctx, KC_REFUSED, CLI_RESTORE_FORMAT, NULL, r->from, fmt, koop_version(),
                        KOOP_NUM(KOOP_STORE_FORMAT));
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *o = json_array_get(list, i);
        s_store *s = &r->stores[r->n];
        const char *name = s_str(o, "name"), *id = s_str(o, "log_id"), *hash = s_str(o, "blake2b");
        const koop_service_info_t *info = name ? koop_service_info(name) : NULL;
        if (!info || !id || strlen(id) >= sizeof s->old_id || !hash || strlen(hash) != KOOP_BACKUP_HASH_HEX - 1)
            return kc_error(ctx, KC_REFUSED, CLI_RESTORE_MANIFEST, NULL, path, name ? name : "services");
        s->name = info->name;
        snprintf(s->old_id, sizeof s->old_id, "%s", id);
        s->last_seq = s_u64(o, "last_seq");
        s->bytes = s_u64(o, "bytes");
        s->blake2b = hash;
        snprintf(s->src, sizeof s->src, "%s/%s/data.mdb", r->from, s->name);
        snprintf(s->stage, sizeof s->stage, "%s/%s", r->restore_dir, s->name);
        snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", i ? ", " : "", s->name);
        r->n++;
    }
    same = (size_t)n == r->n;
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (size_t j = 0; j < r->n; j++)
            found |= strcmp(r->stores[j].name, names[i]) == 0;
        same &= found;
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", i ? ", " : "", names[i]);
    }
    if (!same)
        return kc_error(ctx, KC_REFUSED, CLI_RESTORE_SERVICES, NULL, r->from, have, want);
    return KC_OK;
}

/* Takes path's lock (a node or service of this node that runs holds it). */
static int
s_take_lock(s_restore *r, const char *path, const char *who)
{
    char pid[24], what[128];
    int fd = koop_preflight_lock(path, pid, sizeof pid);
    if (fd >= 0) {
        r->locks[r->nlocks++] = fd;
        s_give(r->ctx, path);
        return KC_OK;
    }
    if (errno == EWOULDBLOCK) {
        snprintf(what, sizeof what, "%s, pid %s", who, pid);
        return kc_error(r->ctx, KC_REFUSED, CLI_RESTORE_RUNNING, NULL, r->ctx->cfg.node_id, what);
    }
    return kc_error(r->ctx, KC_REFUSED, CLI_IO, NULL, path, strerror(errno));
}

static int
s_lock_node(s_restore *r)
{
    const koop_config_t *cfg = &r->ctx->cfg;
    char path[PATH_MAX + 64];
    int rc;
    snprintf(path, sizeof path, "%s/node.lock", cfg->runtime_dir);
    if (access(cfg->runtime_dir, F_OK) == 0 && (rc = s_take_lock(r, path, "koop-node")) != KC_OK)
        return rc;
    for (size_t i = 0; i < r->n; i++) {
        snprintf(path, sizeof path, "%s/%s", cfg->data_dir, r->stores[i].name);
        if (mkdir(path, 0700) == 0)
            s_give(r->ctx, path);
        else if (errno != EEXIST)
            return kc_error(r->ctx, KC_REFUSED, CLI_IO, NULL, path, strerror(errno));
        snprintf(path, sizeof path, "%s/%s/service.lock", cfg->data_dir, r->stores[i].name);
        if ((rc = s_take_lock(r, path, r->stores[i].name)) != KC_OK)
            return rc;
    }
    return KC_OK;
}

/* Removes DATA/.restore and what restore puts in it (nothing else). */
static void
s_unstage(s_restore *r)
{
    char path[PATH_MAX + 96];
    for (size_t i = 0; i < KOOP_SVC_COUNT; i++) {
        snprintf(path, sizeof path, "%s/%s/data.mdb", r->restore_dir, koop_services[i].name);
        (void)unlink(path);
        snprintf(path, sizeof path, "%s/%s/lock.mdb", r->restore_dir, koop_services[i].name);
        (void)unlink(path);
        snprintf(path, sizeof path, "%s/%s", r->restore_dir, koop_services[i].name);
        (void)rmdir(path);
    }
    snprintf(path, sizeof path, "%s/source", r->restore_dir);
    (void)unlink(path);
    (void)rmdir(r->restore_dir);
}

/* Copies s's file into its stage, hashing what it copies; the hash must be
 * the manifest's. */
static int
s_stage_copy(s_restore *r, s_store *s, koop_progress_t *progress, uint64_t *done)
{
    char dst[PATH_MAX + 96], hex[KOOP_BACKUP_HASH_HEX];
    unsigned char digest[32], *buf = malloc(1u << 20);
    crypto_generichash_state h;
    int in = -1, out = -1, rc = KC_OK;
    ssize_t n;

    snprintf(dst, sizeof dst, "%s/data.mdb", s->stage);
    if (!buf)
        return kc_error(r->ctx, KC_UNAVAILABLE, INTERNAL_NO_MEMORY, NULL);
    if (mkdir(s->stage, 0700) != 0 || (in = open(s->src, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = kc_error(r->ctx, KC_REFUSED, CLI_RESTORE_DAMAGED, NULL, s->src, strerror(errno));
        goto done;
    }
    if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        rc = kc_error(r->ctx, KC_REFUSED, CLI_IO, NULL, dst, strerror(errno));
        goto done;
    }
    crypto_generichash_init(&h, NULL, 0, sizeof digest);
    while ((n = read(in, buf, 1u << 20)) > 0) {
        crypto_generichash_update(&h, buf, (unsigned long long)n);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                rc = kc_error(r->ctx, KC_REFUSED, CLI_IO, NULL, dst, strerror(errno));
                goto done;
            }
            off += w;
        }
        *done += (uint64_t)n;
        koop_progress_set(progress, *done);
    }
    if (n < 0) {
        rc = kc_error(r->ctx, KC_REFUSED, CLI_RESTORE_DAMAGED, NULL, s->src, strerror(errno));
        goto done;
    }
    if (fsync(out) != 0) {
        rc = kc_error(r->ctx, KC_REFUSED, CLI_IO, NULL, dst, strerror(errno));
        goto done;
    }
    crypto_generichash_final(&h, digest, sizeof digest);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    if (strcmp(hex, s->blake2b) != 0)
        rc = kc_error(r->ctx, KC_REFUSED, CLI_RESTORE_DAMAGED, NULL, s->src, "BLAKE2b");
done:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    free(buf);
    return rc;
}

/* What the staged copy holds must be what the manifest says. */
static int
s_stage_check(s_restore *r, const s_store *s)
{
    koop_backup_info_t info;
    int rc = koop_backup_inspect(s->stage, &info);
    if (rc != 0)
        return kc_error(r->ctx, KC_REFUSED, CLI_RESTORE_DAMAGED, NULL, s->src,
                        koop_strerror_lang(rc, r->ctx->lang));
    if (strcmp(info.node, r->ctx->cfg.node_id) != 0 || info.format != KOOP_STORE_FORMAT ||
        strcmp(info.log_id, s->old_id) != 0 || info.last_seq != s->last_seq)
        return kc_error(r->ctx, KC_REFUSED, CLI_RESTORE_DAMAGED, NULL, s->src, "node, format, log_id, last_seq");
    return KC_OK;
}

typedef struct {
    s_restore *r;
    const s_store *self;
    koop_store_t *store;
    struct {
        char key[128];
        uint64_t seq;
        const s_store *producer;
    } moved[64];
    size_t nmoved;
    int refused;
} s_renew_ctx;

static int
s_renew_visit(const char *key, uint64_t seq, const char *log_id, void *ctx)
{
    s_renew_ctx *c = ctx;
    const s_store *p = s_store_by_id(c->r, log_id);
    if (!p)
        return 0; /* a cursor into a log that is not restored (none today) */
    if (seq > p->last_seq) {
        kc_error(c->r->ctx, KC_REFUSED, CLI_RESTORE_CURSOR, NULL, c->r->from, c->self->name, p->name,
                 KOOP_NUM(seq), KOOP_NUM(p->last_seq));
        c->refused = 1;
        return 1;
    }
    if (c->nmoved == KOOP_ARRAY_LEN(c->moved) || strlen(key) >= sizeof c->moved[0].key)
        return -E2BIG;
    snprintf(c->moved[c->nmoved].key, sizeof c->moved[0].key, "%s", key);
    c->moved[c->nmoved].seq = seq;
    c->moved[c->nmoved].producer = p;
    c->nmoved++;
    return 0;
}

static int
s_renew_fn(MDB_txn *txn, void *ctx)
{
    s_renew_ctx *c = ctx;
    koop_store_t *store = c->store;
    int rc;
    c->nmoved = 0;
    if ((rc = koop_feed_cursor_each(store, txn, s_renew_visit, c)) != 0)
        return rc;
    for (size_t i = 0; i < c->nmoved; i++)
        if ((rc = koop_feed_cursor_put(store, txn, c->moved[i].key, c->moved[i].seq, c->moved[i].producer->new_id)) !=
            0)
            return rc;
    return koop_log_renew_id(store, txn, c->self->new_id);
}

/* The staged store of s: a new log identity, its cursors moved to the
 * restored logs' new identities. */
static int
s_renew(s_restore *r, const s_store *s)
{
    s_renew_ctx c = {.r = r, .self = s};
    char lock[PATH_MAX + 96];
    int rc = koop_store_open(&c.store, s->stage, NULL);
    if (rc == 0)
        rc = koop_store_write(c.store, s_renew_fn, &c);
    koop_store_destroy(&c.store);
    snprintf(lock, sizeof lock, "%s/lock.mdb", s->stage);
    (void)unlink(lock);
    if (c.refused)
        return KC_REFUSED;
    if (rc != 0)
        return kc_error(r->ctx, KC_REFUSED, CLI_IO, NULL, s->stage, koop_strerror_lang(rc, r->ctx->lang));
    return KC_OK;
}

/* DATA/replaced-STAMP, or -STAMP-2, -3, ... when that is taken (two
 * restores in one second: the second must not put its data over what the
 * first set aside). KC_OK or a usage error naming the directory. */
static int
s_replaced_name(kc_ctx_t *ctx, const char *stamp, char *out, size_t size)
{
    for (unsigned n = 1; n < 1000; n++) {
        int len = n == 1 ? snprintf(out, size, "%s/replaced-%s", ctx->cfg.data_dir, stamp)
                         : snprintf(out, size, "%s/replaced-%s-%u", ctx->cfg.data_dir, stamp, n);
        if (len < 0 || (size_t)len >= size)
            break;
        if (access(out, F_OK) != 0 && errno == ENOENT)
            return KC_OK;
    }
    return kc_error(ctx, KC_REFUSED, CLI_IO, NULL, ctx->cfg.data_dir, strerror(EEXIST));
}

/* Puts the staged copies in place; the data they replace go to replaced
 * (a directory that does not exist yet: s_replaced_name). */
static int
s_swap(s_restore *r, const char *replaced)
{
    const koop_config_t *cfg = &r->ctx->cfg;
    char cur[PATH_MAX + 96], old[PATH_MAX + 96], dir[PATH_MAX + 64], staged[PATH_MAX + 96];
    int moved_any = 0;
    for (size_t i = 0; i < r->n; i++) {
        const s_store *s = &r->stores[i];
        snprintf(dir, sizeof dir, "%s/%s", cfg->data_dir, s->name);
        snprintf(cur, sizeof cur, "%s/data.mdb", dir);
        snprintf(staged, sizeof staged, "%s/data.mdb", s->stage);
        if (access(cur, F_OK) == 0) {
            if (!moved_any && mkdir(replaced, 0700) != 0)
                goto fail; /* never into data set aside before */
            moved_any = 1;
            snprintf(old, sizeof old, "%s/%s", replaced, s->name);
            if ((mkdir(old, 0700) != 0 && errno != EEXIST))
                goto fail;
            snprintf(old, sizeof old, "%s/%s/data.mdb", replaced, s->name);
            if (rename(cur, old) != 0)
                goto fail;
        }
        snprintf(old, sizeof old, "%s/lock.mdb", dir);
        if (unlink(old) != 0 && errno != ENOENT)
            goto fail;
        if (rename(staged, cur) != 0 || s_fsync_dir(dir) != 0)
            goto fail;
        s_give(r->ctx, cur);
    }
    if (moved_any)
        s_give(r->ctx, replaced);
    return s_fsync_dir(cfg->data_dir) == 0 ? KC_OK : kc_error(r->ctx, KC_REFUSED, CLI_IO, NULL, cfg->data_dir, strerror(errno));
fail:
    return kc_error(r->ctx, KC_REFUSED, CLI_RESTORE_IO, NULL, cur, strerror(errno), r->from);
}

static void
s_restore_report(s_restore *r, json_t *m, const char *replaced, int replaced_any)
{
    const koop_config_t *cfg = &r->ctx->cfg;
    char pub[PATH_MAX + 32], print[KOOP_KEYPRINT_LEN] = "";
    snprintf(pub, sizeof pub, "%s/keys/node.pub", cfg->dir);
    (void)koop_keyprint_file(pub, print, NULL, 0);
    if (r->ctx->json) {
        json_t *o = json_object(), *list = json_array();
        json_object_set_new(o, "node", json_string(cfg->node_id));
        json_object_set_new(o, "from", json_string(r->from));
        json_object_set_new(o, "created", json_incref(json_object_get(m, "created")));
        for (size_t i = 0; i < r->n; i++) {
            json_t *s = json_object();
            json_object_set_new(s, "name", json_string(r->stores[i].name));
            json_object_set_new(s, "last_seq", json_integer((json_int_t)r->stores[i].last_seq));
            json_object_set_new(s, "log_id", json_string(r->stores[i].new_id));
            json_object_set_new(s, "restored_from", json_string(r->stores[i].old_id));
            json_array_append_new(list, s);
        }
        json_object_set_new(o, "services", list);
        json_object_set_new(o, "replaced", replaced_any ? json_string(replaced) : json_null());
        json_object_set_new(o, "reenrol", json_boolean(cfg->sync_hub[0] != 0));
        json_object_set_new(o, "key", json_string(pub));
        json_object_set_new(o, "fingerprint", json_string(print));
        kc_print(r->ctx, o);
        json_decref(o);
        return;
    }
    kc_say(r->ctx, "backup", "restored",
           KOOP_ARGS(cfg->node_id, r->from, s_str(m, "created") ? s_str(m, "created") : "?", KOOP_NUM(r->n)));
    if (replaced_any)
        kc_say(r->ctx, "backup", "replaced", KOOP_ARGS(replaced));
    kc_say(r->ctx, "backup", "start", KOOP_ARGS(r->ctx->conf_path));
    if (cfg->sync_hub[0])
        kc_say(r->ctx, "backup", "enrol_again", KOOP_ARGS(cfg->sync_hub, pub, print));
    if (koop_config_is_hub(cfg))
        kc_say(r->ctx, "backup", "hub_restored", KOOP_ARGS(""));
}

int
kc_restore(kc_ctx_t *ctx, int argc, char **argv)
{
    s_restore r = {.ctx = ctx};
    char from[PATH_MAX], replaced[PATH_MAX + 64], stamp[32], path[PATH_MAX + 64];
    koop_progress_t *progress = NULL;
    uint64_t total = 0, done = 0;
    json_t *m = NULL;
    time_t now = time(NULL);
    struct tm tm;
    FILE *f;
    int rc, replaced_any = 0;

    if ((rc = s_dir_arg(ctx, argc, argv, from, sizeof from)) != KC_OK)
        return rc;
    r.from = from;
    snprintf(r.restore_dir, sizeof r.restore_dir, "%s/%s", ctx->cfg.data_dir, KOOP_RESTORE_DIR);
    if ((rc = s_read_manifest(&r, &m)) != KC_OK)
        goto done;
    if (access(ctx->cfg.data_dir, W_OK | X_OK) != 0) {
        rc = kc_error(ctx, KC_REFUSED, CLI_IO, NULL, ctx->cfg.data_dir, strerror(errno));
        goto done;
    }
    if ((rc = s_lock_node(&r)) != KC_OK)
        goto done;
    /* a restore that was cut short: start it over */
    s_unstage(&r);
    if (mkdir(r.restore_dir, 0700) != 0 || !(f = fopen((snprintf(path, sizeof path, "%s/source", r.restore_dir), path), "w"))) {
        rc = kc_error(ctx, KC_REFUSED, CLI_IO, NULL, r.restore_dir, strerror(errno));
        goto done;
    }
    fprintf(f, "%s\n", from);
    if (fclose(f) != 0 || s_fsync_dir(ctx->cfg.data_dir) != 0) {
        rc = kc_error(ctx, KC_REFUSED, CLI_IO, NULL, path, strerror(errno));
        goto unstage;
    }
    for (size_t i = 0; i < r.n; i++)
        total += r.stores[i].bytes;
    progress = koop_progress_new("restore", total, KOOP_PROGRESS_BYTES, ctx->lang, ctx->json, stderr);
    for (size_t i = 0; i < r.n; i++) {
        if ((rc = s_stage_copy(&r, &r.stores[i], progress, &done)) != KC_OK ||
            (rc = s_stage_check(&r, &r.stores[i])) != KC_OK)
            goto unstage;
        if (koop_id_new(r.stores[i].new_id) != 0) {
            rc = kc_error(ctx, KC_REFUSED, INTERNAL_ID, NULL);
            goto unstage;
        }
    }
    koop_progress_end(&progress);
    for (size_t i = 0; i < r.n; i++)
        if ((rc = s_renew(&r, &r.stores[i])) != KC_OK)
            goto unstage;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    if ((rc = s_replaced_name(ctx, stamp, replaced, sizeof replaced)) != KC_OK)
        goto unstage;
    for (size_t i = 0; i < r.n; i++) {
        snprintf(path, sizeof path, "%s/%s/data.mdb", ctx->cfg.data_dir, r.stores[i].name);
        replaced_any |= access(path, F_OK) == 0;
    }
    /* from here on the node's data change: an error leaves DATA/.restore,
     * and the node refuses to start until restore runs again */
    if ((rc = s_swap(&r, replaced)) != KC_OK)
        goto done;
    s_unstage(&r);
    (void)s_fsync_dir(ctx->cfg.data_dir);
    s_restore_report(&r, m, replaced, replaced_any);
    rc = KC_OK;
    goto done;
unstage:
    koop_progress_end(&progress);
    s_unstage(&r);
done:
    koop_progress_end(&progress);
    for (size_t i = 0; i < r.nlocks; i++)
        close(r.locks[i]);
    json_decref(m);
    return rc;
}
