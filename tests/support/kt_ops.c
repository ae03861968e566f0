#include "kt_ops.h"
#include "client.h"
#include "clock.h"
#include "config.h"
#include "registry.pb-c.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- writer ---- */

static void *
s_writer_main(void *arg)
{
    kt_writer_t *w = arg;
    koop_config_t cfg;
    koop_rpc_client_t *c;
    char err[600];
    int i = 0;

    if (koop_config_load(&cfg, w->node->conf, err, sizeof err) != 0 ||
        !(c = koop_rpc_client_new(koop_config_endpoint(&cfg, "registry"))))
        return NULL;
    for (;;) {
        Koop__Reg__Institution q = KOOP__REG__INSTITUTION__INIT;
        koop_reply_t reply;
        char name[128];
        int stop;
        pthread_mutex_lock(&w->lock);
        stop = w->stop;
        pthread_mutex_unlock(&w->lock);
        if (stop)
            break;
        snprintf(name, sizeof name, "%s %d", w->prefix, i++);
        q.name = name;
        q.has_sector = q.has_level = 1;
        q.sector = KOOP__REG__SECTOR__SECTOR_NGO;
        q.level = KOOP__REG__LEVEL__LEVEL_GMINA;
        if (koop_rpc_call(c, NULL, "institution.add", &q.base, 10000, &reply) != 0)
            continue; /* no answer: not acknowledged */
        if (reply.status == KOOP_OK) {
            Koop__Reg__Institution *r = koop__reg__institution__unpack(NULL, reply.len, reply.payload);
            uint64_t now = koop_clock_real_ms();
            pthread_mutex_lock(&w->lock);
            if (r && r->id && w->n < w->cap) {
                snprintf(w->ids[w->n], sizeof w->ids[0], "%s", r->id);
                w->acked_ms[w->n++] = now;
            }
            pthread_mutex_unlock(&w->lock);
            if (r)
                koop__reg__institution__free_unpacked(r, NULL);
        } else {
            w->refused++;
        }
        koop_reply_clear(&reply);
    }
    koop_rpc_client_destroy(&c);
    return NULL;
}

int
kt_writer_start(kt_writer_t *w, kt_node_t *n, const char *prefix)
{
    memset(w, 0, sizeof *w);
    w->node = n;
    snprintf(w->prefix, sizeof w->prefix, "%s", prefix);
    w->cap = 1000000;
    w->ids = calloc(w->cap, sizeof *w->ids);
    w->acked_ms = calloc(w->cap, sizeof *w->acked_ms);
    if (!w->ids || !w->acked_ms)
        return -1;
    pthread_mutex_init(&w->lock, NULL);
    return pthread_create(&w->thread, NULL, s_writer_main, w) == 0 ? 0 : -1;
}

void
kt_writer_stop(kt_writer_t *w)
{
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
}

size_t
kt_writer_count(kt_writer_t *w)
{
    size_t n;
    pthread_mutex_lock(&w->lock);
    n = w->n;
    pthread_mutex_unlock(&w->lock);
    return n;
}

void
kt_writer_free(kt_writer_t *w)
{
    free(w->ids);
    free(w->acked_ms);
    pthread_mutex_destroy(&w->lock);
    memset(w, 0, sizeof *w);
}

/* ---- a terminal ---- */

int
kt_exec_pty(kt_run_t *r, char *const argv[], int timeout_s)
{
    struct timespec t0, t;
    size_t len = 0, cap = 0;
    int master, status = 0;
    pid_t pid;

    memset(r, 0, sizeof *r);
    pid = forkpty(&master, NULL, NULL, NULL);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {master, POLLIN, 0};
        char buf[4096];
        ssize_t n;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (timeout_s && t.tv_sec - t0.tv_sec >= timeout_s) {
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&p, 1, 200) <= 0)
            continue;
        n = read(master, buf, sizeof buf); /* EIO once the program has gone */
        if (n <= 0)
            break;
        if (len + (size_t)n + 1 > cap) {
            char *g = realloc(r->out, cap = (cap + (size_t)n) * 2 + 4096);
            if (!g)
                break;
            r->out = g;
        }
        memcpy(r->out + len, buf, (size_t)n);
        len += (size_t)n;
        r->out[len] = '\0';
    }
    close(master);
    waitpid(pid, &status, 0);
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : 124;
    if (!r->out)
        r->out = strdup("");
    r->err = strdup("");
    return 0;
}

/* ---- config, files ---- */

int
kt_conf_set(const char *conf, const char *section, const char *key, const char *value)
{
    char line[2048], head[128], *out = NULL;
    size_t outlen = 0, klen = strlen(key);
    int in = 0, done = 0;
    FILE *f = fopen(conf, "r"), *o;
    if (!f || !(o = open_memstream(&out, &outlen))) {
        if (f)
            fclose(f);
        return -1;
    }
    snprintf(head, sizeof head, "[%s]", section);
    while (fgets(line, sizeof line, f)) {
        const char *p = line;
        if (line[0] == '[') {
            if (in && !done) {
                fprintf(o, "%s = %s\n", key, value);
                done = 1;
            }
            in = strncmp(line, head, strlen(head)) == 0;
        }
        if (in && !done) {
            if (p[0] == '#')
                p += p[1] == ' ' ? 2 : 1;
            if (strncmp(p, key, klen) == 0 && (p[klen] == ' ' || p[klen] == '=')) {
                fprintf(o, "%s = %s\n", key, value);
                done = 1;
                continue;
            }
        }
        fputs(line, o);
    }
    if (in && !done) {
        fprintf(o, "%s = %s\n", key, value);
        done = 1;
    }
    fclose(f);
    fclose(o);
    if (done && (f = fopen(conf, "w"))) {
        fputs(out, f);
        fclose(f);
    } else {
        done = 0;
    }
    free(out);
    return done ? 0 : -1;
}

int
kt_private_tree(const char *dir, char *bad, size_t size)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int rc = 0;
    if (stat(dir, &st) != 0 || (st.st_mode & 07777) != 0700) {
        snprintf(bad, size, "%s (%04o)", dir, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    if (!(d = opendir(dir)))
        return -1;
    while (rc == 0 && (e = readdir(d))) {
        char path[PATH_MAX];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = kt_private_tree(path, bad, size);
        else if (st.st_mode & 077) {
            snprintf(bad, size, "%s (%04o)", path, (unsigned)(st.st_mode & 07777));
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

char *
kt_node_log(const kt_node_t *n)
{
    char path[PATH_MAX + 16], *buf = NULL;
    size_t len = 0;
    FILE *f, *o;
    int c;
    snprintf(path, sizeof path, "%s/node.log", n->dir);
    if (!(f = fopen(path, "r")))
        return NULL;
    if (!(o = open_memstream(&buf, &len))) {
        fclose(f);
        return NULL;
    }
    while ((c = fgetc(f)) != EOF)
        fputc(c, o);
    fclose(f);
    fclose(o);
    return buf;
}

int
kt_node_log_lines(const kt_node_t *n, const char *needle)
{
    char path[PATH_MAX + 16], line[4096];
    FILE *f;
    int k = 0;
    snprintf(path, sizeof path, "%s/node.log", n->dir);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof line, f))
        k += strstr(line, needle) != NULL;
    fclose(f);
    return k;
}

int
kt_pair_init(kt_node_t *hub, kt_node_t *g, int enrol)
{
    int port = 0;
    if (kt_hub_init(hub, "2013", "Powiat wysokomazowiecki", &port) != 0 ||
        kt_gmina_init(g, "2013032", "Gmina Kobylin-Borzymy", port, hub) != 0)
        return -1;
    return enrol ? kt_enrol(hub, g) : 0;
}

int
kt_nodes_destroy(kt_node_t *const *nodes)
{
    int reports = 0;
    for (; *nodes; nodes++)
        if ((*nodes)->dir[0])
            reports += kt_node_destroy(*nodes);
    return reports;
}

int
kt_node_services(const kt_node_t *n)
{
    const char *names[KOOP_MAX_SERVICES];
    koop_config_t cfg;
    char err[600];
    if (koop_config_load(&cfg, n->conf, err, sizeof err) != 0)
        return -1;
    return koop_config_services(&cfg, names);
}
