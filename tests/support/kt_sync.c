#include "kt_sync.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "registry.pb-c.h"
#include "client.h"
#include "sync.pb-c.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int
kt_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int
kt_hub_init(kt_node_t *hub, const char *teryt, const char *name, int *port_out)
{
    char listen[64];
    int port = *port_out ? *port_out : kt_free_port();
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", port);
    *port_out = port;
    return kt_node_init(hub, "hub", teryt, name, "--listen", listen, NULL);
}

int
kt_gmina_init(kt_node_t *g, const char *teryt, const char *name, int hub_port, const kt_node_t *hub)
{
    char ep[64], key[PATH_MAX + 32];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", hub_port);
    snprintf(key, sizeof key, "%s/keys/node.pub", hub->dir);
    return kt_node_init(g, "gmina", teryt, name, "--hub", ep, "--hub-key", key, NULL);
}

int
kt_enrol(kt_node_t *hub, const kt_node_t *g)
{
    char cert[PATH_MAX + 32];
    kt_run_t r;
    int rc;
    snprintf(cert, sizeof cert, "%s/keys/node.pub", g->dir);
    kt_ctl(&r, hub, "enrol", cert, NULL);
    rc = r.code == 0 ? 0 : -1;
    if (rc)
        fprintf(stderr, "enrol failed: %s\n", r.err);
    kt_run_free(&r);
    return rc;
}

static koop_rpc_client_t *
s_client(kt_node_t *n, const char *service, koop_config_t *cfg)
{
    char err[600];
    if (koop_config_load(cfg, n->conf, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    return koop_rpc_client_new(koop_config_endpoint(cfg, service));
}

/* Sends count requests built by make(i) with up to 256 in flight. */
static int
s_pipeline(kt_node_t *n, const char *method, int count, ProtobufCMessage *(*make)(int i, void *ctx), void *ctx)
{
    koop_config_t cfg;
    koop_rpc_client_t *c = s_client(n, "registry", &cfg);
    int sent = 0, done = 0, ok = 0;
    if (!c)
        return 0;
    while (done < count) {
        while (sent < count && sent - done < 256) {
            ProtobufCMessage *m = make(sent, ctx);
            int rc = koop_rpc_send(c, NULL, method, m, NULL);
            free(m);
            if (rc != 0)
                goto out;
            sent++;
        }
        {
            koop_reply_t reply;
            uint64_t id;
            if (koop_rpc_recv(c, 10000, &id, &reply) != 0)
                goto out;
            ok += reply.status == 0;
            koop_reply_clear(&reply);
            done++;
        }
    }
out:
    koop_rpc_client_destroy(&c);
    return ok;
}

typedef struct {
    const char *prefix, *tag, *institution;
    char name[200], phone[40], email[100];
} s_mk;

static ProtobufCMessage *
s_make_institution(int i, void *ctx)
{
    s_mk *m = ctx;
    Koop__Reg__Institution *r = malloc(sizeof *r);
    koop__reg__institution__init(r);
    snprintf(m->name, sizeof m->name, "%s %d", m->prefix, i);
    r->name = m->name;
    r->has_sector = r->has_level = 1;
    r->sector = KOOP__REG__SECTOR__SECTOR_EDUCATION;
    r->level = KOOP__REG__LEVEL__LEVEL_GMINA;
    return &r->base;
}

int
kt_add_institutions(kt_node_t *n, int count, const char *prefix)
{
    s_mk m = {.prefix = prefix};
    return s_pipeline(n, "institution.add", count, s_make_institution, &m);
}

static ProtobufCMessage *
s_make_person(int i, void *ctx)
{
    s_mk *m = ctx;
    Koop__Reg__Person *r = malloc(sizeof *r);
    koop__reg__person__init(r);
    snprintf(m->name, sizeof m->name, "%s %d", m->prefix, i);
    snprintf(m->phone, sizeof m->phone, "+48 %s %04d", m->tag, i);
    snprintf(m->email, sizeof m->email, "%s.%d@example.org", m->tag, i);
    r->name = m->name;
    r->institution = (char *)m->institution;
    r->has_role = 1;
    r->role = KOOP__REG__ROLE__ROLE_SOCIAL_WORKER;
    r->phone = m->phone;
    r->email = m->email;
    return &r->base;
}

int
kt_add_people(kt_node_t *n, int count, const char *prefix, const char *tag, const char *institution)
{
    s_mk m = {.prefix = prefix, .tag = tag, .institution = institution};
    return s_pipeline(n, "person.add", count, s_make_person, &m);
}

json_t *
kt_sync_status(kt_node_t *n)
{
    kt_run_t r;
    json_t *j = NULL;
    kt_ctl(&r, n, "--json", "--timeout", "5000", "sync", "status", NULL);
    if (r.code == 0 && r.json)
        j = json_incref(r.json);
    kt_run_free(&r);
    return j;
}

int
kt_wait_synced(kt_node_t *g, int timeout_s)
{
    for (int i = 0; i < timeout_s * 5; i++) {
        json_t *s = kt_sync_status(g);
        int ok = s && json_is_true(json_object_get(s, "connected")) &&
                 json_integer_value(json_object_get(s, "pending")) == 0;
        json_decref(s);
        if (ok)
            return 0;
        kt_sleep_ms(200);
    }
    return -1;
}

static void
s_sum(json_t *v, uint64_t *sum)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_t *a = json_object_get(v, "acked");
        if (json_is_integer(a))
            *sum += (uint64_t)json_integer_value(a);
        json_object_foreach(v, k, x) s_sum(x, sum);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) s_sum(x, sum);
    }
}

uint64_t
kt_acked_sum(json_t *status)
{
    uint64_t sum = 0;
    s_sum(status, &sum);
    return sum;
}

/* All events of one side: list of (bytes) copies. */
typedef struct {
    ProtobufCBinaryData *ev;
    size_t n, cap;
} s_list;

static int
s_collect(koop_rpc_client_t *c, const char *method, ProtobufCMessage *(*req)(uint64_t after, void *ctx), void *ctx,
          s_list *out)
{
    uint64_t after = 0;
    for (;;) {
        ProtobufCMessage *q = req(after, ctx);
        koop_reply_t reply;
        Koop__FeedBatch *b;
        int rc = koop_rpc_call(c, NULL, method, q, 10000, &reply);
        free(q);
        if (rc != 0 || reply.status != 0) {
            fprintf(stderr, "%s failed: %d %s\n", method, rc, reply.err.code);
            koop_reply_clear(&reply);
            return -1;
        }
        b = koop__feed_batch__unpack(NULL, reply.len, reply.payload);
        koop_reply_clear(&reply);
        if (!b)
            return -1;
        for (size_t i = 0; i < b->n_events; i++) {
            Koop__Event *ev = koop__event__unpack(NULL, b->events[i].len, b->events[i].data);
            if (!ev) {
                koop__feed_batch__free_unpacked(b, NULL);
                return -1;
            }
            after = ev->seq;
            koop__event__free_unpacked(ev, NULL);
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 1024;
                out->ev = realloc(out->ev, out->cap * sizeof *out->ev);
            }
            out->ev[out->n].len = b->events[i].len;
            out->ev[out->n].data = malloc(b->events[i].len);
            memcpy(out->ev[out->n].data, b->events[i].data, b->events[i].len);
            out->n++;
        }
        size_t got = b->n_events;
        koop__feed_batch__free_unpacked(b, NULL);
        if (got == 0)
            return 0;
    }
}

typedef struct {
    const char *stream, *node;
} s_q;

static ProtobufCMessage *
s_fetch_req(uint64_t after, void *ctx)
{
    s_q *q = ctx;
    Koop__FeedFetch *f = malloc(sizeof *f);
    koop__feed_fetch__init(f);
    f->stream = (char *)q->stream;
    f->has_after_seq = f->has_max = f->has_shared_only = 1;
    f->after_seq = after;
    f->max = 10000;
    f->shared_only = 1;
    return &f->base;
}

static ProtobufCMessage *
s_hub_req(uint64_t after, void *ctx)
{
    s_q *q = ctx;
    Koop__Sync__NodeEvents *f = malloc(sizeof *f);
    koop__sync__node_events__init(f);
    f->node = (char *)q->node;
    f->stream = (char *)q->stream;
    f->has_after_seq = f->has_max = 1;
    f->after_seq = after;
    f->max = 10000;
    return &f->base;
}

static void
s_list_free(s_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->ev[i].data);
    free(l->ev);
}

int
kt_compare_streams(kt_node_t *g, kt_node_t *hub, const char *stream, uint64_t *count)
{
    koop_config_t gc, hc;
    koop_rpc_client_t *gcl = s_client(g, stream, &gc), *hcl = s_client(hub, "sync", &hc);
    s_list a = {0}, b = {0};
    s_q q = {stream, gc.node_id};
    int rc = -1;

    if (!gcl || !hcl)
        goto done;
    if (s_collect(gcl, "feed.fetch", s_fetch_req, &q, &a) != 0 || s_collect(hcl, "hub.events", s_hub_req, &q, &b) != 0)
        goto done;
    if (a.n != b.n) {
        fprintf(stderr, "compare %s: gmina has %zu SHARED events, hub has %zu\n", stream, a.n, b.n);
        goto done;
    }
    for (size_t i = 0; i < a.n; i++)
        if (a.ev[i].len != b.ev[i].len || memcmp(a.ev[i].data, b.ev[i].data, a.ev[i].len) != 0) {
            fprintf(stderr, "compare %s: event #%zu differs\n", stream, i);
            goto done;
        }
    *count = a.n;
    rc = 0;
done:
    s_list_free(&a);
    s_list_free(&b);
    koop_rpc_client_destroy(&gcl);
    koop_rpc_client_destroy(&hcl);
    return rc;
}

pid_t
kt_sync_pid(kt_node_t *n)
{
    return n->pid ? kt_child_pid(n->pid, "koop-sync") : 0;
}

pid_t
kt_sync_kill9(kt_node_t *n)
{
    pid_t old = kt_sync_pid(n);
    if (old <= 0 || kill(old, SIGKILL) != 0)
        return 0;
    for (int i = 0; i < 200; i++) {
        pid_t p = kt_sync_pid(n);
        if (p > 0 && p != old)
            return p;
        kt_sleep_ms(50);
    }
    return 0;
}

static int
s_file_contains(const char *path, const char *needle)
{
    size_t nl = strlen(needle), len = 0, cap = 0;
    char *buf = NULL, tmp[65536];
    ssize_t r;
    int fd = open(path, O_RDONLY), found = 0;
    if (fd < 0)
        return 0;
    while ((r = read(fd, tmp, sizeof tmp)) > 0) {
        if (len + (size_t)r > cap) {
            cap = (len + (size_t)r) * 2;
            buf = realloc(buf, cap);
        }
        memcpy(buf + len, tmp, (size_t)r);
        len += (size_t)r;
    }
    close(fd);
    found = buf && len >= nl && memmem(buf, len, needle, nl) != NULL;
    free(buf);
    return found;
}

int
kt_dir_contains(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    if (!d)
        return 0;
    while (!found && (e = readdir(d)) != NULL) {
        char path[PATH_MAX + 300];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            found = kt_dir_contains(path, needle);
        else if (S_ISREG(st.st_mode))
            found = s_file_contains(path, needle);
    }
    closedir(d);
    return found;
}

/* mdb_dump -a of the environment in dir (hex lines) holds needle's bytes. */
static int
s_env_contains(const char *dir, const char *hex)
{
    char cmd[PATH_MAX + 64], *line = NULL;
    size_t cap = 0;
    int found = 0;
    FILE *p;
    snprintf(cmd, sizeof cmd, "mdb_dump -a '%s' 2>/dev/null", dir);
    if (!(p = popen(cmd, "r")))
        return -1;
    while (!found && getline(&line, &cap, p) > 0)
        found = strstr(line, hex) != NULL;
    free(line);
    pclose(p);
    return found;
}

int
kt_lmdb_contains(const char *dir, const char *needle, int *envs)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char hex[1024];
    int found = 0;
    size_t n = strlen(needle);
    if (!d || 2 * n + 1 > sizeof hex) {
        if (d)
            closedir(d);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        sprintf(hex + 2 * i, "%02x", (unsigned char)needle[i]);
    while (!found && (e = readdir(d)) != NULL) {
        char path[PATH_MAX + 300];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            found = kt_lmdb_contains(path, needle, envs);
        else if (S_ISREG(st.st_mode) && strcmp(e->d_name, "data.mdb") == 0) {
            if (envs)
                (*envs)++;
            found = s_env_contains(dir, hex) != 0;
        }
    }
    closedir(d);
    return found;
}

/* ---- recording proxy ---- */

static void
s_relay(int a, int b, int cap)
{
    struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    char buf[65536];
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = read(p[i].fd, buf, sizeof buf);
                if (n <= 0)
                    return;
                if (write(cap, buf, (size_t)n) != n || write(p[1 - i].fd, buf, (size_t)n) != n)
                    return;
            }
        }
    }
}

pid_t
kt_proxy_start(int listen_port, int target_port, const char *capture)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
    pid_t pid;
    if (lfd < 0)
        return -1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a.sin_port = htons((uint16_t)listen_port);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 16) != 0) {
        close(lfd);
        return -1;
    }
    pid = fork();
    if (pid != 0) {
        if (pid > 0)
            setpgid(pid, pid); /* also here, so a stop right after start finds the group */
        close(lfd);
        return pid;
    }
    setpgid(0, 0); /* its own group: kt_proxy_stop ends it with its relays */
    signal(SIGCHLD, SIG_IGN);
    for (;;) {
        int c = accept(lfd, NULL, NULL), t, cap;
        struct sockaddr_in b = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (c < 0)
            continue;
        if (fork() != 0) {
            close(c);
            continue;
        }
        close(lfd);
        b.sin_port = htons((uint16_t)target_port);
        t = socket(AF_INET, SOCK_STREAM, 0);
        cap = open(capture, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (t >= 0 && cap >= 0 && connect(t, (struct sockaddr *)&b, sizeof b) == 0)
            s_relay(c, t, cap);
        _exit(0);
    }
}

void
kt_proxy_stop(pid_t pid)
{
    if (pid > 0) {
        kill(-pid, SIGKILL); /* the proxy's own process group: it and its relays */
        waitpid(pid, NULL, 0);
    }
}

json_t *
kt_hub_node(json_t *hub_status, const char *node)
{
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(hub_status, "nodes"), i, n)
        if (strcmp(json_string_value(json_object_get(n, "node")), node) == 0)
            return n;
    return NULL;
}
