/*
 * keys.c - CURVE keys, the hub's allow-list and its ZAP handler.
 *
 * Certificates are CZMQ's text format (zcert): `koopctl node init` writes
 * DIR/keys/node.pub (public key + metadata node-id, role, teryt) and
 * DIR/keys/node.key (0600, both keys). `koopctl enrol CERT` on a hub copies a
 * gmina's public certificate into HUB/keys/enrolled/<hex key>.pub with the
 * metadata enrolled-at (unix ms); the hub rereads that directory whenever it
 * changes (checked at every connection attempt and HELLO), so enrolment needs
 * no restart.
 *
 * ZAP (RFC 27): libzmq asks the handler bound at inproc://zeromq.zap.01 of
 * the same context about every CURVE client before the handshake completes.
 * The handler is bound before the hub's listener binds, so no client is ever
 * let in unchecked. Reply 200 with User-Id = the client's Z85 key when the key
 * is enrolled, 400 otherwise; every message of the connection then carries
 * that User-Id, which the hub checks again against the node id.
 */
#include "sync.h"
#include "cert.h"
#include "loop.h"
#include "say.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ALLOW_MAX 100000

int
sync_cert_load(const char *path, int secret, sync_keypair_t *out, char *err, size_t errlen)
{
    return koop_cert_load(path, secret, out->public_key, out->secret_key, err, errlen);
}

/* ---- allow-list ---- */

/* entries sorted by key, one per key (the latest enrolment), so a lookup is
 * a bisection: the ZAP handler asks on every connection, the hub on every
 * HELLO and after every reread */
struct sync_allow {
    char dir[PATH_MAX];
    struct timespec mtime;
    ino_t ino;
    int loaded;
    unsigned generation;
    sync_allow_entry_t *entries;
    size_t n;
};

/* by key, the latest enrolment first */
static int
s_entry_cmp(const void *a, const void *b)
{
    const sync_allow_entry_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0)
        return c;
    return x->enrolled_at > y->enrolled_at ? -1 : x->enrolled_at < y->enrolled_at;
}

sync_allow_t *
sync_allow_new(const char *dir)
{
    sync_allow_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (strlen(dir) >= sizeof self->dir) {
        free(self);
        return NULL;
    }
    strcpy(self->dir, dir);
    return self;
}

void
sync_allow_destroy(sync_allow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->entries);
    free(*self_p);
    *self_p = NULL;
}

static void
s_allow_reload(sync_allow_t *self)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    sync_allow_entry_t *list = NULL;
    size_t n = 0, cap = 0;

    if (stat(self->dir, &st) != 0) {
        /* no directory: nobody is enrolled */
        if (self->loaded || self->n)
            self->generation++;
        free(self->entries);
        self->entries = NULL;
        self->n = 0;
        self->loaded = 0;
        return;
    }
    if (self->loaded && st.st_ino == self->ino && st.st_mtim.tv_sec == self->mtime.tv_sec &&
        st.st_mtim.tv_nsec == self->mtime.tv_nsec)
        return;
    d = opendir(self->dir);
    if (!d)
        return; /* keep what we had */
    while ((e = readdir(d)) != NULL && n < ALLOW_MAX) {
        size_t len = strlen(e->d_name);
        char path[PATH_MAX + 300];
        zcert_t *cert;
        const char *meta;
        if (len < 5 || strcmp(e->d_name + len - 4, ".pub") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", self->dir, e->d_name);
        cert = zcert_load(path);
        if (!cert) {
            koop_warn("pominięto nieczytelny certyfikat %s", path);
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            sync_allow_entry_t *g = realloc(list, ncap * sizeof *g);
            if (!g) {
                zcert_destroy(&cert);
                break;
            }
            list = g;
            cap = ncap;
        }
        memset(&list[n], 0, sizeof list[n]);
        snprintf(list[n].key, sizeof list[n].key, "%s", zcert_public_txt(cert));
        meta = zcert_meta(cert, "node-id");
        if (meta && sync_valid_name(meta))
            snprintf(list[n].node, sizeof list[n].node, "%s", meta);
        meta = zcert_meta(cert, "enrolled-at");
        list[n].enrolled_at = meta ? strtoull(meta, NULL, 10) : 0;
        zcert_destroy(&cert);
        n++;
    }
    closedir(d);
    /* the same key enrolled twice (two file names): the latest enrolment counts */
    if (n > 1) {
        size_t kept = 1;
        qsort(list, n, sizeof *list, s_entry_cmp);
        for (size_t i = 1; i < n; i++)
            if (strcmp(list[i].key, list[kept - 1].key) != 0)
                list[kept++] = list[i];
        n = kept;
    }
    free(self->entries);
    self->entries = list;
    self->n = n;
    self->generation++;
    self->ino = st.st_ino;
    self->mtime = st.st_mtim;
    self->loaded = 1;
    koop_info("lista zapisanych węzłów: %zu klucz(y) w %s", n, self->dir);
}

const sync_allow_entry_t *
sync_allow_find(sync_allow_t *self, const char *z85)
{
    size_t lo = 0, hi;
    if (!z85 || strlen(z85) != 40)
        return NULL;
    s_allow_reload(self);
    hi = self->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(self->entries[mid].key, z85);
        if (c == 0)
            return &self->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

unsigned
sync_allow_generation(sync_allow_t *self)
{
    s_allow_reload(self);
    return self->generation;
}

/* ---- ZAP handler ---- */

#define ZAP_FRAMES_MAX 10
#define ZAP_FRAME_MAX 512

struct sync_zap {
    void *sock;
    koop_zwatch_t *watch;
    sync_allow_t *allow;
    uint64_t refused;
};

static void
s_zap_reply(sync_zap_t *z, const char *req_id, size_t req_id_len, const char *code, const char *text,
            const char *user)
{
    /* version, request id, status code, status text, user id, metadata */
    if (zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE) < 0 || zmq_send(z->sock, req_id, req_id_len, ZMQ_SNDMORE) < 0 ||
        zmq_send(z->sock, code, strlen(code), ZMQ_SNDMORE) < 0 ||
        zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE) < 0 ||
        zmq_send(z->sock, user, strlen(user), ZMQ_SNDMORE) < 0 || zmq_send(z->sock, "", 0, 0) < 0)
        koop_error("ZAP: nie można wysłać odpowiedzi: %s", zmq_strerror(errno));
}

static void
s_zap_one(sync_zap_t *z)
{
    char frames[ZAP_FRAMES_MAX][ZAP_FRAME_MAX];
    size_t lens[ZAP_FRAMES_MAX];
    int n = 0, more = 1;
    size_t more_len = sizeof more;
    char z85[41];

    while (more) {
        char buf[ZAP_FRAME_MAX];
        int len = zmq_recv(z->sock, buf, sizeof buf, n == 0 ? ZMQ_DONTWAIT : 0);
        if (len < 0)
            return;
        if (n < ZAP_FRAMES_MAX) {
            lens[n] = (size_t)len > sizeof buf ? sizeof buf : (size_t)len;
            memcpy(frames[n], buf, lens[n]);
            n++;
        }
        if (zmq_getsockopt(z->sock, ZMQ_RCVMORE, &more, &more_len) != 0)
            more = 0;
    }
    /* version, request id, domain, address, identity, mechanism, credentials... */
    if (n < 6) {
        if (n >= 2)
            s_zap_reply(z, frames[1], lens[1], "500", "bad request", "");
        else
            s_zap_reply(z, "", 0, "500", "bad request", "");
        return;
    }
    if (lens[5] != 5 || memcmp(frames[5], "CURVE", 5) != 0 || n < 7 || lens[6] != 32) {
        s_zap_reply(z, frames[1], lens[1], "400", "CURVE required", "");
        return;
    }
    if (!zmq_z85_encode(z85, (const uint8_t *)frames[6], 32)) {
        s_zap_reply(z, frames[1], lens[1], "500", "internal", "");
        return;
    }
    if (!sync_allow_find(z->allow, z85)) {
        char addr[64];
        snprintf(addr, sizeof addr, "%.*s", (int)(lens[3] < 63 ? lens[3] : 63), frames[3]);
        z->refused++;
        /* unknown uplinks keep retrying: say it the first time and then rarely */
        if (z->refused == 1 || z->refused % 100 == 0)
            koop_warn("odmowa połączenia z %s: klucz %s nie jest zapisany w hubie (koopctl enrol); "
                      "odmów łącznie: %llu",
                      addr, z85, (unsigned long long)z->refused);
        s_zap_reply(z, frames[1], lens[1], "400", "key not enrolled", "");
        return;
    }
    s_zap_reply(z, frames[1], lens[1], "200", "OK", z85);
}

static void
s_zap_readable(koop_zwatch_t *w)
{
    sync_zap_t *z = w->zw_data;
    while (z->sock && koop_zwatch_readable(w))
        s_zap_one(z);
}

sync_zap_t *
sync_zap_start(uv_loop_t *loop, void *zctx, sync_allow_t *allow)
{
    sync_zap_t *z = calloc(1, sizeof *z);
    int linger = 0;
    if (!z)
        return NULL;
    z->allow = allow;
    z->sock = zmq_socket(zctx, ZMQ_REP);
    if (!z->sock)
        goto fail;
    if (zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->sock, "inproc://zeromq.zap.01") != 0)
        goto fail;
    z->watch = calloc(1, sizeof *z->watch);
    if (!z->watch)
        goto fail;
    if (koop_zwatch_start(loop, z->watch, z->sock, s_zap_readable, z) != 0) {
        z->watch = NULL; /* may still be closing: leaked, not freed */
        goto fail;
    }
    return z;
fail:
    koop_error("ZAP: nie można uruchomić obsługi uwierzytelniania: %s", zmq_strerror(errno));
    if (z->sock)
        zmq_close(z->sock);
    free(z->watch);
    free(z);
    return NULL;
}

static void
s_free_watch(koop_zwatch_t *w)
{
    free(w);
}

void
sync_zap_stop(sync_zap_t **self_p)
{
    sync_zap_t *z;
    if (!self_p || !*self_p)
        return;
    z = *self_p;
    if (z->watch)
        koop_zwatch_stop(z->watch, s_free_watch);
    if (z->sock)
        zmq_close(z->sock);
    free(z);
    *self_p = NULL;
}
