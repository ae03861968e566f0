/* support.c - the fuzz targets' shared helpers (see fuzz.h). */
#include "api.h"
#include "fuzz.h"
#include "id.h"
#include "pbjson.h"
#include "cases.h"
#include "registry.h"
#include "notifier.pb-c.h"
#include "reporting.pb-c.h"
#include "sync.pb-c.h"
#include "feed.h"
#include "rpc.h"
#include "say.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
fz_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    koop_say_init("fuzz");
    if (!getenv("FZ_DEBUG"))
        koop_say_level(KOOP_SAY_ERROR + 1);
}

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int
fz_rmtree(const char *path)
{
    return nftw(path, s_rm, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT ? 0 : -errno;
}

static char s_dir[256];

static void
s_cleanup(void)
{
    if (s_dir[0])
        (void)fz_rmtree(s_dir);
}

/* Scratch directories of fuzz processes that are gone (a crash skips atexit). */
static void
s_remove_stale(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char path[600];
        int pid;
        if (sscanf(de->d_name, "koop-fuzz-%d", &pid) != 1 || pid == (int)getpid() ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof path, "%s/%s", base, de->d_name);
        (void)fz_rmtree(path);
    }
    if (d)
        closedir(d);
}

const char *
fz_scratch(void)
{
    if (!s_dir[0]) {
        struct stat st;
        const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : getenv("TMPDIR");
        base = base && *base ? base : "/tmp";
        s_remove_stale(base);
        snprintf(s_dir, sizeof s_dir, "%s/koop-fuzz-%d", base, (int)getpid());
        atexit(s_cleanup);
    }
    if (fz_rmtree(s_dir) != 0 || mkdir(s_dir, 0700) != 0) {
        fprintf(stderr, "fuzz: cannot make %s: %s\n", s_dir, strerror(errno));
        abort();
    }
    return s_dir;
}

static char s_keep[300];

static void
s_cleanup_keep(void)
{
    (void)fz_rmtree(s_keep);
}

const char *
fz_scratch_keep(void)
{
    if (!s_keep[0]) {
        snprintf(s_keep, sizeof s_keep, "%s-keep", fz_scratch());
        if (fz_rmtree(s_keep) != 0 || mkdir(s_keep, 0700) != 0) {
            fprintf(stderr, "fuzz: cannot make %s: %s\n", s_keep, strerror(errno));
            abort();
        }
        atexit(s_cleanup_keep);
    }
    return s_keep;
}

int
fz_copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int rc = 0;
    if (!in || !out)
        rc = -errno;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -EIO;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0 && rc == 0)
        rc = -EIO;
    return rc;
}

void
fz_config(koop_config_t *cfg, const char *dir)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s/koop.conf", dir);
    snprintf(cfg->dir, sizeof cfg->dir, "%s", dir);
    snprintf(cfg->node_id, sizeof cfg->node_id, "gmina-2013032");
    snprintf(cfg->name, sizeof cfg->name, "Gmina Fuzz");
    snprintf(cfg->role, sizeof cfg->role, "gmina");
    snprintf(cfg->teryt, sizeof cfg->teryt, "2013032");
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s/data", dir);
    snprintf(cfg->runtime_dir, sizeof cfg->runtime_dir, "%s/run", dir);
    /* nothing listens there: hooks that would call out fail fast */
    snprintf(cfg->endpoints[KOOP_SVC_ID_registry], sizeof cfg->endpoints[0], "ipc://%s/run/registry", dir);
    snprintf(cfg->endpoints[KOOP_SVC_ID_cases], sizeof cfg->endpoints[0], "ipc://%s/run/cases", dir);
}

void
fz_restore(const char *template, const koop_config_t *cfg, const char *service)
{
    char dir[PATH_MAX + 16], file[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s", cfg->data_dir);
    FZ_ASSERT(mkdir(dir, 0700) == 0 || errno == EEXIST);
    snprintf(dir, sizeof dir, "%s/%s", cfg->data_dir, service);
    FZ_ASSERT(mkdir(dir, 0700) == 0);
    snprintf(file, sizeof file, "%s/data.mdb", dir);
    FZ_ASSERT(fz_copy_file(template, file) == 0);
}

size_t
fz_split(const uint8_t *data, size_t size, const uint8_t *part[], size_t part_len[])
{
    size_t n = 0;
    while (size > 0 && n < FZ_MAX_REQUESTS) {
        size_t len = size < 2 ? size : ((size_t)data[0] << 8 | data[1]);
        if (size >= 2) {
            data += 2;
            size -= 2;
        }
        if (len > size)
            len = size;
        part[n] = data;
        part_len[n++] = len;
        data += len;
        size -= len;
    }
    return n;
}

int
fz_join(uint8_t **buf, size_t *len, const uint8_t *part, size_t part_len)
{
    uint8_t *b;
    if (part_len > 0xffff)
        return -E2BIG;
    b = realloc(*buf, *len + 2 + part_len);
    if (!b)
        return -ENOMEM;
    b[*len] = (uint8_t)(part_len >> 8);
    b[*len + 1] = (uint8_t)part_len;
    memcpy(b + *len + 2, part, part_len);
    *buf = b;
    *len += 2 + part_len;
    return 0;
}

void
fz_ids_add(fz_ids_t *ids, const char *id)
{
    if (strncmp(id, FZ_ID_PREFIX, sizeof FZ_ID_PREFIX - 1) == 0)
        return; /* a placeholder is never an id */
    for (size_t i = 0; i < ids->n; i++)
        if (strcmp(ids->id[i], id) == 0)
            return;
    if (ids->n < FZ_MAX_IDS)
        snprintf(ids->id[ids->n++], KOOP_ID_LEN, "%s", id);
}

void
fz_ids_scan(fz_ids_t *ids, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i + 36 <= len; i++) {
        char c[KOOP_ID_LEN];
        if (buf[i + 8] != '-' || buf[i + 13] != '-')
            continue;
        memcpy(c, buf + i, 36);
        c[36] = '\0';
        if (koop_id_valid(c)) {
            fz_ids_add(ids, c);
            i += 35;
        }
    }
}

uint8_t *
fz_ids_subst(const fz_ids_t *ids, const uint8_t *buf, size_t len)
{
    const size_t plen = sizeof FZ_ID_PREFIX - 1;
    uint8_t *out = malloc(len ? len : 1);
    if (!out)
        return NULL;
    memcpy(out, buf, len);
    for (size_t i = 0; i + 36 <= len; i++) {
        unsigned k;
        if (memcmp(out + i, FZ_ID_PREFIX, plen) != 0 || out[i + plen] < '0' || out[i + plen] > '9')
            continue;
        k = (unsigned)(out[i + plen] - '0');
        if (k < ids->n) {
            memcpy(out + i, ids->id[k], 36);
            i += 35;
        }
    }
    return out;
}

uint8_t *
fz_request(const char *caller, const char *method, const ProtobufCMessage *req, size_t *len)
{
    static uint64_t next_id = 1;
    uint8_t *out;
    return koop_rpc_pack_request(next_id++, caller, method, req, &out, len) == 0 ? out : NULL;
}

const fz_reply_type_t fz_reply_types[] = {
    {"feed.fetch", &koop__feed_batch__descriptor},
    {"sys.ping", &koop__pong__descriptor},
    {"feed.stat", &koop__feed_stat__descriptor},
    {"institution.add", &koop__reg__institution__descriptor},
    {"institution.list", &koop__reg__institution_list__descriptor},
    {"person.list", &koop__reg__person_list__descriptor},
    {"pzk.create", &koop__reg__pzk__descriptor},
    {"service.search", &koop__reg__catalogue_list__descriptor},
    {"remote.apply", &koop__reg__remote_position__descriptor},
    {"household.add", &koop__cases__household__descriptor},
    {"ipw.open", &koop__cases__ipw__descriptor},
    {"ipw.list", &koop__cases__ipw_list__descriptor},
    {"ipw.timeline", &koop__cases__timeline_list__descriptor},
    {"task.mine", &koop__cases__task_list__descriptor},
    {"audit.show", &koop__cases__audit_list__descriptor},
    {"sync.status", &koop__sync__status__descriptor},
    {"notify.status", &koop__notif__status__descriptor},
    {"inbox.list", &koop__notif__inbox_list__descriptor},
    {"report.evaluation", &koop__rep__report__descriptor},
    {"report.status", &koop__rep__status__descriptor},
};
const size_t fz_nreply_types = KOOP_ARRAY_LEN(fz_reply_types);

static void
s_capture_file(const char *kind, const uint8_t *head, size_t head_len, const uint8_t *buf, size_t len)
{
    static unsigned n;
    const char *dir = getenv("FZ_CAPTURE");
    char path[600];
    FILE *f;
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/%s", dir, kind);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/%s/%d-%u", dir, kind, (int)getpid(), n++);
    if (!(f = fopen(path, "wb")))
        return;
    if (fwrite(head, 1, head_len, f) != head_len || fwrite(buf, 1, len, f) != len)
        fprintf(stderr, "fuzz: cannot write %s\n", path);
    fclose(f);
}

/* Files a reply (and a feed batch's events) as seeds (FZ_CAPTURE). */
static void
s_capture(const uint8_t *req, size_t req_len, const uint8_t *reply, size_t reply_len, const koop_reply_t *r)
{
    Koop__Request *env = koop__request__unpack(NULL, req_len, req);
    uint8_t sel;
    if (!env || !env->method)
        goto done;
    for (sel = 0; sel < fz_nreply_types && strcmp(fz_reply_types[sel].method, env->method) != 0; sel++)
        ;
    if (sel < fz_nreply_types)
        s_capture_file("reply", &sel, 1, reply, reply_len);
    if (sel == 0 && r->status == KOOP_OK) {
        static const uint8_t gmina_projection = 0, registry_copy = 4;
        Koop__FeedBatch *b = koop__feed_batch__unpack(NULL, r->len, r->payload);
        s_capture_file("feed", &gmina_projection, 1, r->payload, r->len);
        s_capture_file("feed", &registry_copy, 1, r->payload, r->len);
        for (size_t i = 0; b && i < b->n_events; i++)
            s_capture_file("event_head", NULL, 0, b->events[i].data, b->events[i].len);
        if (b)
            koop__feed_batch__free_unpacked(b, NULL);
    }
done:
    if (env)
        koop__request__free_unpacked(env, NULL);
}

int
fz_call(koop_service_t *svc, const uint8_t *req, size_t len, uint8_t **payload, size_t *payload_len)
{
    uint8_t *reply;
    size_t reply_len;
    uint64_t id;
    koop_reply_t r;
    int status;

    if (payload) {
        *payload = NULL;
        *payload_len = 0;
    }
    if (koop_service_local_call(svc, req, len, &reply, &reply_len) != 0)
        return -ENOMEM;
    /* the service's own answer always decodes */
    FZ_ASSERT(koop_rpc_unpack_reply(reply, reply_len, &id, &r) == 0);
    if (getenv("FZ_CAPTURE"))
        s_capture(req, len, reply, reply_len, &r);
    free(reply);
    FZ_ASSERT(r.status >= KOOP_OK && r.status <= KOOP_DEADLINE);
    /* a refusal says why, with a code of the catalogue */
    FZ_ASSERT(r.status == KOOP_OK || koop_err_find(r.err.code) != KOOP_ERR_NONE);
    status = r.status;
    if (payload) {
        *payload = r.payload;
        *payload_len = r.len;
        r.payload = NULL;
    }
    koop_reply_clear(&r);
    return status;
}

/* The api.def row of a method the service serves (NULL when none). */
static const koop_api_method_t *
s_method(const koop_service_def_t *def, const char *name)
{
    const koop_api_method_t *a = koop_api_find(name);
    return a && strcmp(a->service, def->name) == 0 ? a : NULL;
}

uint8_t *
fz_request_json(const koop_service_def_t *def, const char *caller, const char *method, const char *json,
                size_t *len)
{
    const koop_api_method_t *m = s_method(def, method);
    json_error_t jerr;
    json_t *j;
    ProtobufCMessage *req = NULL;
    koop_error_t err;
    uint8_t *out;

    if (!m || !m->request) {
        fprintf(stderr, "fuzz: %s has no method %s with a request\n", def->name, method);
        return NULL;
    }
    if (!(j = json_loads(json, 0, &jerr))) {
        fprintf(stderr, "fuzz: %s: bad JSON: %s\n", method, jerr.text);
        return NULL;
    }
    req = koop_pbjson_from_json(m->request, j, &err);
    json_decref(j);
    if (!req) {
        fprintf(stderr, "fuzz: %s: %s (%s)\n", method, err.code, err.field);
        return NULL;
    }
    out = fz_request(caller, method, req, len);
    protobuf_c_message_free_unpacked(req, NULL);
    return out;
}

void
fz_must_json(koop_service_t *svc, const koop_service_def_t *def, fz_ids_t *ids, const char *caller,
             const char *method, const char *json)
{
    size_t len, plen;
    uint8_t *raw = fz_request_json(def, caller, method, json, &len), *buf, *payload;
    int st;
    FZ_ASSERT(raw != NULL);
    buf = fz_ids_subst(ids, raw, len);
    free(raw);
    FZ_ASSERT(buf != NULL);
    st = fz_call(svc, buf, len, &payload, &plen);
    free(buf);
    if (st != KOOP_OK) {
        fprintf(stderr, "fuzz: seeding %s refused (%d)\n", method, st);
        abort();
    }
    fz_ids_scan(ids, payload, plen);
    free(payload);
}

typedef struct {
    Koop__FeedBatch *batch;
    int (*apply)(MDB_txn *txn, const Koop__Event *ev, void *ctx);
    void *ctx;
} s_feed_ctx;

static int
s_feed_fn(MDB_txn *txn, void *ctx)
{
    s_feed_ctx *f = ctx;
    for (size_t i = 0; i < f->batch->n_events; i++) {
        Koop__Event *ev = koop__event__unpack(NULL, f->batch->events[i].len, f->batch->events[i].data);
        int rc;
        FZ_ASSERT(ev != NULL);
        rc = f->apply(txn, ev, f->ctx);
        koop__event__free_unpacked(ev, NULL);
        if (rc != 0 && rc != KOOP_FEED_REFUSED)
            return rc;
    }
    return 0;
}

void
fz_feed_apply(koop_service_t *producer, const char *stream, koop_store_t *store,
              int (*apply)(MDB_txn *txn, const Koop__Event *ev, void *ctx), void *ctx)
{
    Koop__FeedFetch q = KOOP__FEED_FETCH__INIT;
    s_feed_ctx f = {NULL, apply, ctx};
    uint8_t *req, *payload;
    size_t len, plen;
    q.stream = (char *)stream;
    q.has_max = 1;
    q.max = 1000;
    req = fz_request("", "feed.fetch", &q.base, &len);
    FZ_ASSERT(req && fz_call(producer, req, len, &payload, &plen) == KOOP_OK);
    free(req);
    f.batch = koop__feed_batch__unpack(NULL, plen, payload);
    free(payload);
    FZ_ASSERT(f.batch != NULL);
    FZ_ASSERT(koop_store_write(store, s_feed_fn, &f) == 0);
    koop__feed_batch__free_unpacked(f.batch, NULL);
}

void
fz_run_sequence(koop_service_t *svc, fz_ids_t *ids, const uint8_t *data, size_t size)
{
    const uint8_t *part[FZ_MAX_REQUESTS];
    size_t part_len[FZ_MAX_REQUESTS], n = fz_split(data, size, part, part_len);
    for (size_t i = 0; i < n; i++) {
        uint8_t *req = fz_ids_subst(ids, part[i], part_len[i]), *payload;
        size_t plen;
        FZ_ASSERT(req != NULL);
        int st = fz_call(svc, req, part_len[i], &payload, &plen);
        if (getenv("FZ_DEBUG")) {
            Koop__Request *env = koop__request__unpack(NULL, part_len[i], req);
            fprintf(stderr, "  %s -> %d\n", env && env->method ? env->method : "?", st);
            if (env)
                koop__request__free_unpacked(env, NULL);
        }
        free(req);
        fz_ids_scan(ids, payload, plen);
        free(payload);
    }
}

void
fz_json_same(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    json_t *j = koop_pbjson_to_json(m);
    char *tree, *direct;
    size_t len = 0;
    FZ_ASSERT(j != NULL);
    tree = json_dumps(j, KOOP_PBJSON_DUMP_FLAGS);
    direct = koop_pbjson_dumps(m, NULL, &len);
    FZ_ASSERT(tree != NULL && direct != NULL);
    if (strcmp(tree, direct) != 0)
        fprintf(stderr, "tree:\n%s\ndirect:\n%s\n", tree, direct);
    FZ_ASSERT(strcmp(tree, direct) == 0 && len == strlen(tree));
    free(tree);
    free(direct);
    for (unsigned i = 0; i < d->n_fields; i++) {
        json_t *v = json_object_get(j, d->fields[i].name);
        if (d->fields[i].label != PROTOBUF_C_LABEL_REPEATED || !v)
            continue;
        tree = json_dumps(v, KOOP_PBJSON_DUMP_FLAGS);
        direct = koop_pbjson_dumps(m, d->fields[i].name, NULL);
        FZ_ASSERT(tree != NULL && direct != NULL);
        if (strcmp(tree, direct) != 0)
            fprintf(stderr, "field %s, tree:\n%s\ndirect:\n%s\n", d->fields[i].name, tree, direct);
        FZ_ASSERT(strcmp(tree, direct) == 0);
        free(tree);
        free(direct);
    }
    json_decref(j);
}

size_t
fz_request_types(const ProtobufCMessageDescriptor **out, size_t max)
{
    const koop_service_def_t *defs[] = {reg_service_def(), cases_service_def()};
    size_t n = 0;
    for (size_t k = 0; k <= KOOP_ARRAY_LEN(defs); k++) {
        size_t count = k < KOOP_ARRAY_LEN(defs) ? defs[k]->nmethods : 1;
        for (size_t i = 0; i < count; i++) {
            const koop_api_method_t *a = k < KOOP_ARRAY_LEN(defs) ? koop_api_find(defs[k]->methods[i].name) : NULL;
            const ProtobufCMessageDescriptor *d = a ? a->request : &koop__feed_fetch__descriptor;
            int seen = 0;
            for (size_t j = 0; j < n; j++)
                seen |= out[j] == d;
            if (d && !seen && n < max)
                out[n++] = d;
        }
    }
    return n;
}
