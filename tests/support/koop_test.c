#include "koop_test.h"
#include "errors.h"
#include "kt_sync.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 64

const char *
kt_bin(void)
{
    const char *b = getenv("KOOP_BIN");
    return b && *b ? b : "bin";
}

void
kt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Appends what fd has to *buf (grown). Returns bytes read, 0 at EOF, -1 error. */
static ssize_t
s_drain(int fd, char **buf, size_t *len, size_t *cap)
{
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0)
        return n;
    if (*len + (size_t)n + 1 > *cap) {
        size_t ncap = (*cap ? *cap * 2 : 8192) + (size_t)n;
        char *g = realloc(*buf, ncap);
        if (!g)
            return -1;
        *buf = g;
        *cap = ncap;
    }
    memcpy(*buf + *len, tmp, (size_t)n);
    *len += (size_t)n;
    (*buf)[*len] = '\0';
    return n;
}

int
kt_exec(kt_run_t *r, char *const argv[])
{
    return kt_exec_full(r, argv, NULL, 0, (uid_t)-1);
}

int
kt_exec_input(kt_run_t *r, char *const argv[], const char *input)
{
    return kt_exec_full(r, argv, input, 0, (uid_t)-1);
}

int
kt_exec_for(kt_run_t *r, char *const argv[], int timeout_s)
{
    return kt_exec_full(r, argv, NULL, timeout_s, (uid_t)-1);
}

int
kt_exec_as(kt_run_t *r, char *const argv[], int timeout_s, uid_t uid)
{
    return kt_exec_full(r, argv, NULL, timeout_s, uid);
}

static int
s_elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int)((t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000);
}

int
kt_exec_full(kt_run_t *r, char *const argv[], const char *input, int timeout_s, uid_t uid)
{
    int po[2], pe[2], pi[2] = {-1, -1}, status, timed_out = 0;
    size_t ol = 0, oc = 0, el = 0, ec = 0;
    struct timespec t0;
    pid_t pid;

    memset(r, 0, sizeof *r);
    {
        size_t n = 1;
        for (int i = 0; argv[i]; i++)
            n += strlen(argv[i]) + 1;
        if ((r->cmd = malloc(n)) != NULL) {
            r->cmd[0] = '\0';
            for (int i = 0; argv[i]; i++) {
                const char *slash = i ? NULL : strrchr(argv[i], '/');
                if (i)
                    strcat(r->cmd, " ");
                strcat(r->cmd, slash ? slash + 1 : argv[i]);
            }
        }
    }
    if (pipe(po) != 0 || pipe(pe) != 0 || (input && pipe(pi) != 0))
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (uid != (uid_t)-1 && (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 || setuid(uid) != 0))
            _exit(126);
        /* killed on timeout with its children: its own process group */
        setpgid(0, 0);
        if (input) {
            dup2(pi[0], 0);
            close(pi[0]);
            close(pi[1]);
        }
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    if (input) {
        /* small (a password): fits the pipe, so no deadlock with the reads */
        close(pi[0]);
        if (write(pi[1], input, strlen(input)) < 0)
            perror("kt_exec_input");
        close(pi[1]);
    }
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (open_fds > 0) {
        int wait_ms = -1;
        if (timeout_s > 0) {
            wait_ms = timeout_s * 1000 - s_elapsed_ms(&t0);
            if (wait_ms <= 0) {
                timed_out = 1;
                kill(-pid, SIGKILL);
                break;
            }
        }
        if (poll(fds, 2, wait_ms) < 0 && errno != EINTR)
            break;
        if (fds[0].fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP)) &&
            s_drain(po[0], &r->out, &ol, &oc) <= 0) {
            fds[0].fd = -1;
            open_fds--;
        }
        if (fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP)) &&
            s_drain(pe[0], &r->err, &el, &ec) <= 0) {
            fds[1].fd = -1;
            open_fds--;
        }
    }
    close(po[0]);
    close(pe[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    r->code = timed_out ? 124 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (!r->out)
        r->out = strdup("");
    if (!r->err)
        r->err = strdup("");
    r->json = json_loads(r->out, JSON_DECODE_ANY, NULL);
    return 0;
}

void
kt_run_free(kt_run_t *r)
{
    free(r->out);
    free(r->err);
    free(r->cmd);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

void
kt_err_is(const char *what, const char *got_code, const char *got_field, const char *code, const char *field)
{
    cr_assert_neq(koop_err_find(code), KOOP_ERR_NONE, "%s: the test expects '%s', which the catalogue does not have",
                  what, code);
    cr_assert_str_eq(got_code ? got_code : "", code, "%s: code '%s', want '%s'", what, got_code ? got_code : "",
                     code);
    cr_assert_str_eq(got_field ? got_field : "", field ? field : "", "%s: field '%s', want '%s'", what,
                     got_field ? got_field : "", field ? field : "");
}

int
kt_error_is(const kt_run_t *r, const char *code)
{
    json_t *doc = r->code ? json_loads(r->err, 0, NULL) : NULL;
    const char *got = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
    int is = got && strcmp(got, code) == 0;
    json_decref(doc);
    return is;
}

/* Checks r's error object; args (NULL-terminated, may be empty) as in
 * kt_refused. */
static void
s_check_refusal(const kt_run_t *r, koop_lang_t lang, const char *code, const char *field, const char *const *args,
                size_t nargs)
{
    const char *what = r->cmd ? r->cmd : "koopctl";
    json_t *doc = json_loads(r->err, 0, NULL), *e = json_object_get(doc, "error");
    const char *got_msg = json_string_value(json_object_get(e, "message"));

    cr_assert(json_is_object(e), "%s: stderr is not one {\"error\": ...} object: %s", what, r->err);
    cr_assert_str_eq(r->out, "", "%s: printed output on failure", what);
    kt_err_is(what, json_string_value(json_object_get(e, "code")), json_string_value(json_object_get(e, "field")),
              code, field);
    cr_assert(got_msg && strlen(got_msg) > 10, "%s: no clear message: %s", what, r->err);
    if (nargs) {
        koop_err_t id = koop_err_find(code);
        koop_error_t want;
        char label[80], msg[1024];
        const char *t = koop_err_template(id, KOOP_LANG_PL);
        koop_error_set(&want, id, field, args);
        if (field)
            koop_field_option(field, label, sizeof label);
        koop_error_render(&want, lang, field ? label : NULL, msg, sizeof msg);
        cr_assert_str_eq(got_msg, msg, "%s: message '%s', want '%s'", what, got_msg, msg);
        for (const char *p = t; (p = strchr(p, '{')) != NULL; p++)
            if (p[1] >= '1' && p[1] <= '9' && p[2] == '|' && p[3] == 'w' && (p[4] == '}' || p[4] == ':') &&
                (size_t)(p[1] - '1') < nargs)
                cr_assert(koop_err_word_known(args[p[1] - '1']), "%s: '%s' (argument %c of %s) is not in the words table",
                          what, args[p[1] - '1'], p[1], code);
    }
    json_decref(doc);
}

static int
s_refused_v(kt_run_t *r, koop_lang_t lang, int want_exit, const char *code, const char *field, va_list ap)
{
    const char *args[KOOP_ERR_MAX_ARGS + 1];
    size_t n = 0;
    int exit_code = r->code;
    while (n < KOOP_ERR_MAX_ARGS && (args[n] = va_arg(ap, const char *)) != NULL)
        n++;
    args[n] = NULL;
    cr_assert_eq(r->code, want_exit, "%s: exit %d, want %d (stdout %s, stderr %s)", r->cmd ? r->cmd : "koopctl",
                 r->code, want_exit, r->out, r->err);
    s_check_refusal(r, lang, code, field, args, n);
    kt_run_free(r);
    return exit_code;
}

int
kt_refused(kt_run_t *r, int want_exit, const char *code, const char *field, ...)
{
    va_list ap;
    int rc;
    va_start(ap, field);
    rc = s_refused_v(r, koop_lang_from_env(), want_exit, code, field, ap);
    va_end(ap);
    return rc;
}

int
kt_refused_in(kt_run_t *r, int lang, int want_exit, const char *code, const char *field, ...)
{
    va_list ap;
    int rc;
    va_start(ap, field);
    rc = s_refused_v(r, (koop_lang_t)lang, want_exit, code, field, ap);
    va_end(ap);
    return rc;
}

static int
s_ctl_v(kt_run_t *r, kt_node_t *n, int json, va_list ap)
{
    char exe[PATH_MAX + 16];
    char *argv[MAX_ARGS + 8];
    int k = 0;
    const char *a;

    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    argv[k++] = exe;
    argv[k++] = "-c";
    argv[k++] = n->conf;
    if (json)
        argv[k++] = "--json";
    while ((a = va_arg(ap, const char *)) != NULL && k < MAX_ARGS)
        argv[k++] = (char *)a;
    argv[k] = NULL;
    return kt_exec(r, argv);
}

int
kt_ctl(kt_run_t *r, kt_node_t *n, ...)
{
    va_list ap;
    int rc;
    va_start(ap, n);
    rc = s_ctl_v(r, n, 0, ap);
    va_end(ap);
    return rc;
}

int
kt_ctl_refused(kt_node_t *n, const char *code, const char *field, ...)
{
    kt_run_t r;
    va_list ap;
    int exit_code;
    va_start(ap, field);
    s_ctl_v(&r, n, 1, ap);
    va_end(ap);
    cr_assert_neq(r.code, 0, "%s: accepted: %s", r.cmd ? r.cmd : "koopctl", r.out);
    s_check_refusal(&r, koop_lang_from_env(), code, field, (const char *const[]){NULL}, 0);
    exit_code = r.code;
    kt_run_free(&r);
    return exit_code;
}

char *
kt_ctl_id(kt_node_t *n, ...)
{
    kt_run_t r;
    va_list ap;
    char *id = NULL;
    va_start(ap, n);
    s_ctl_v(&r, n, 1, ap);
    va_end(ap);
    if (r.code == 0 && json_is_object(r.json) && json_is_string(json_object_get(r.json, "id")))
        id = strdup(json_string_value(json_object_get(r.json, "id")));
    else
        fprintf(stderr, "kt_ctl_id: exit %d: %s%s\n", r.code, r.err, r.out);
    kt_run_free(&r);
    return id;
}

int
kt_node_init(kt_node_t *n, const char *role, const char *teryt, const char *name, ...)
{
    char exe[PATH_MAX + 16];
    char *argv[MAX_ARGS + 16];
    kt_run_t r;
    va_list ap;
    const char *a;
    int k = 0;

    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "/tmp/kt.XXXXXX");
    if (!mkdtemp(n->dir))
        return -1;
    snprintf(n->conf, sizeof n->conf, "%s/koop.conf", n->dir);
    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    argv[k++] = exe;
    argv[k++] = "node";
    argv[k++] = "init";
    argv[k++] = n->dir;
    argv[k++] = "--role";
    argv[k++] = (char *)role;
    argv[k++] = "--teryt";
    argv[k++] = (char *)teryt;
    argv[k++] = "--name";
    argv[k++] = (char *)name;
    va_start(ap, name);
    while ((a = va_arg(ap, const char *)) != NULL && k < MAX_ARGS) {
        if (strcmp(a, "--http") == 0)
            n->http_port = -1; /* the test chose it */
        argv[k++] = (char *)a;
    }
    va_end(ap);
    if (n->http_port == 0) {
        /* every test node's gateway on a port of its own */
        static char http[32];
        n->http_port = kt_free_port();
        snprintf(http, sizeof http, "127.0.0.1:%d", n->http_port);
        argv[k++] = "--http";
        argv[k++] = http;
    }
    argv[k] = NULL;
    if (kt_exec(&r, argv) != 0 || r.code != 0) {
        fprintf(stderr, "node init failed: %s\n", r.err ? r.err : "");
        kt_run_free(&r);
        return -1;
    }
    kt_run_free(&r);
    return 0;
}

int
kt_node_start(kt_node_t *n, int timeout_s)
{
    char exe[PATH_MAX + 16], log[PATH_MAX + 16];
    pid_t pid;

    snprintf(exe, sizeof exe, "%s/koop-node", kt_bin());
    snprintf(log, sizeof log, "%s/node.log", n->dir);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        /* a test killed on timeout takes its node with it (SIGTERM: the node
         * stops its services) instead of leaving it running */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(exe, exe, "-c", n->conf, (char *)NULL);
        _exit(127);
    }
    n->pid = pid;
    for (int i = 0; i < timeout_s * 10; i++) {
        kt_run_t r;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            n->pid = 0;
            return -1;
        }
        if (kt_ctl(&r, n, "--timeout", "500", "status", NULL) == 0 && r.code == 0) {
            kt_run_free(&r);
            return 0;
        }
        kt_run_free(&r);
        kt_sleep_ms(100);
    }
    return -1;
}

int
kt_node_stop(kt_node_t *n)
{
    int status;
    if (!n->pid)
        return 0;
    kill(n->pid, SIGTERM);
    for (int i = 0; i < 150; i++) {
        if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
            n->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        kt_sleep_ms(100);
    }
    kill(n->pid, SIGKILL);
    waitpid(n->pid, &status, 0);
    n->pid = 0;
    return -1;
}

int
kt_node_sanitizer_reports(const kt_node_t *n)
{
    char path[PATH_MAX + 16], line[4096];
    FILE *f;
    int reports = 0;
    snprintf(path, sizeof path, "%s/node.log", n->dir);
    f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "AddressSanitizer") || strstr(line, "LeakSanitizer") || strstr(line, "runtime error:")) {
            fprintf(stderr, "%s: %s", path, line);
            reports++;
        }
    fclose(f);
    return reports;
}

int
kt_node_destroy(kt_node_t *n)
{
    char *argv[] = {"/bin/rm", "-rf", n->dir, NULL};
    kt_run_t r;
    int reports;
    kt_node_stop(n);
    reports = kt_node_sanitizer_reports(n);
    if (n->dir[0] && strncmp(n->dir, "/tmp/kt.", 8) == 0 && !getenv("KOOP_TEST_KEEP")) {
        kt_exec(&r, argv);
        kt_run_free(&r);
    }
    return reports;
}

int
kt_proc_text(const char *pid, const char *file, char sep, char *buf, size_t size)
{
    char path[300];
    size_t len;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%s/%s", pid, file);
    f = fopen(path, "r");
    if (!f)
        return -1;
    len = fread(buf, 1, size - 1, f);
    fclose(f);
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\0')
            buf[i] = sep;
    buf[len] = '\0';
    return 0;
}

pid_t
kt_child_pid(pid_t parent, const char *needle)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    if (!d)
        return 0;
    while (!found && (e = readdir(d)) != NULL) {
        char path[300], buf[4096];
        int ppid = 0;
        FILE *f;
        size_t len;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        char *rp = strrchr(buf, ')');
        if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1 || ppid != parent)
            continue;
        /* the program's own name: a path may hold any word (a checkout in
         * /work/koop-cases12 holds "koop-cases" in every program's path) */
        if (kt_proc_text(e->d_name, "cmdline", '\0', buf, sizeof buf) == 0) {
            const char *base = strrchr(buf, '/');
            if (strcmp(base ? base + 1 : buf, needle) == 0)
                found = (pid_t)atoi(e->d_name);
        }
    }
    closedir(d);
    return found;
}

int
kt_consent_all(kt_node_t *n, const char *as, const char *household, const char *date)
{
    kt_run_t r;
    char *share = NULL;
    size_t len = 0;
    int rc = -1;
    if (kt_ctl(&r, n, "--json", "institution", "list", NULL) != 0 || r.code != 0 || !json_is_array(r.json))
        goto done;
    share = calloc(json_array_size(r.json) * 40 + 1, 1);
    for (size_t i = 0; share && i < json_array_size(r.json); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(r.json, i), "id"));
        if (id)
            len += (size_t)sprintf(share + len, "%s%s", len ? "," : "", id);
    }
    kt_run_free(&r);
    if (!share || !len)
        return -1;
    kt_ctl(&r, n, "--json", "--as", as, "consent", "record", "--household", household, "--purpose",
           "Zgoda na współpracę", "--share-with", share, "--date", date, NULL);
    if (r.code != 0)
        fprintf(stderr, "kt_consent_all: %s\n", r.err);
    rc = r.code == 0 ? 0 : -1;
done:
    kt_run_free(&r);
    free(share);
    return rc;
}

#define KT_MAX_OPTIONS 32

static int
s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void
kt_help_options(const char *help, char *out, size_t len)
{
    char names[KT_MAX_OPTIONS][40];
    const char *sorted[KT_MAX_OPTIONS];
    size_t n = 0, used = 0;
    for (const char *p = strstr(help, "--"); p; p = strstr(p, "--")) {
        size_t k = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
        int seen = 0;
        cr_assert(k > 0 && k < sizeof names[0], "'%s': an option without a name", help);
        cr_assert_lt(n, KT_MAX_OPTIONS, "'%s': too many options for the test", help);
        snprintf(names[n], sizeof names[n], "%.*s", (int)k, p + 2);
        for (size_t i = 0; i < n; i++)
            seen |= strcmp(names[i], names[n]) == 0;
        if (!seen)
            n++;
        p += 2 + k;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = names[i];
    qsort(sorted, n, sizeof sorted[0], s_strcmp_p);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + used, len - used, "%s--%s", i ? " " : "", sorted[i]);
        cr_assert(w > 0 && (size_t)w < len - used);
        used += (size_t)w;
    }
}
