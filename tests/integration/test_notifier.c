/*
 * The notifier end to end: real nodes, a real SMTP server on loopback
 * (tests/support/smtp_server.py, Debian's python3-aiosmtpd), the real koopctl.
 */
#include "koop_test.h"
#include "kt_ops.h"
#include "kt_sync.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

static kt_node_t node;
static pid_t smtp_pid;
static int smtp_port;
static char maildir[PATH_MAX + 32];
static char *sw, *cop, *coord, *gops, *kpp, *hh, *ipw;

static int
s_port_open(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
    ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* The suite's SMTP server on smtp_port, storing into maildir; auth
 * "USER:PASSWORD" or NULL; with cert and key a TLS relay (STARTTLS required). */
static void
s_smtp_start_tls(const char *auth, const char *cert, const char *key)
{
    char port[16];
    snprintf(port, sizeof port, "%d", smtp_port);
    smtp_pid = fork();
    cr_assert_geq(smtp_pid, 0);
    if (smtp_pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        if (cert)
            execl("/usr/bin/python3", "python3", "tests/support/smtp_server.py", port, maildir, auth ? auth : "-", cert,
                  key, (char *)NULL);
        else
            execl("/usr/bin/python3", "python3", "tests/support/smtp_server.py", port, maildir, auth, (char *)NULL);
        _exit(127);
    }
    /* Python and aiosmtpd take seconds to start on a loaded machine; a
     * server that exits (its port taken meanwhile) is not waited for */
    for (int i = 0; i < 600 && !s_port_open(smtp_port); i++) {
        int status;
        cr_assert_eq(waitpid(smtp_pid, &status, WNOHANG), 0, "the SMTP server exited at start (port %d)", smtp_port);
        kt_sleep_ms(50);
    }
    cr_assert(s_port_open(smtp_port), "the SMTP server did not start");
}

static void
s_smtp_start(const char *auth)
{
    s_smtp_start_tls(auth, NULL, NULL);
}

static void
s_smtp_stop(void)
{
    if (smtp_pid > 0) {
        kill(smtp_pid, SIGKILL);
        waitpid(smtp_pid, NULL, 0);
        smtp_pid = 0;
    }
}

/* Reads every mail of the Maildir; calls fn(text) for each. Returns how many. */
static int
s_mails(void (*fn)(const char *text, void *ctx), void *ctx)
{
    const char *subs[] = {"new", "cur"};
    int count = 0;
    for (int s = 0; s < 2; s++) {
        char d[PATH_MAX + 64];
        snprintf(d, sizeof d, "%s/%s", maildir, subs[s]);
        DIR *dir = opendir(d);
        struct dirent *e;
        if (!dir)
            continue;
        while ((e = readdir(dir)) != NULL) {
            char p[PATH_MAX + 400], *buf;
            FILE *f;
            long len;
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof p, "%s/%s", d, e->d_name);
            f = fopen(p, "r");
            if (!f)
                continue;
            fseek(f, 0, SEEK_END);
            len = ftell(f);
            fseek(f, 0, SEEK_SET);
            buf = calloc(1, (size_t)len + 1);
            if (fread(buf, 1, (size_t)len, f) == (size_t)len) {
                count++;
                if (fn)
                    fn(buf, ctx);
            }
            free(buf);
            fclose(f);
        }
        closedir(dir);
    }
    return count;
}

typedef struct {
    const char *to;
    const char *needle;
    int n;
} s_count_ctx;

static void
s_count_fn(const char *text, void *ctx)
{
    s_count_ctx *c = ctx;
    char to[200];
    snprintf(to, sizeof to, "To: <%s>", c->to);
    if (strstr(text, to) && (!c->needle || strstr(text, c->needle)))
        c->n++;
}

static int
s_count(const char *to, const char *needle)
{
    s_count_ctx c = {to, needle, 0};
    s_mails(s_count_fn, &c);
    return c.n;
}

static void
s_pii_fn(const char *text, void *ctx)
{
    const char *pii[] = {"Brzęczyszczykiewicz", "85010112345", "Lipowa", "600100200", "Wizyta", "Zofia"};
    (void)ctx;
    for (size_t i = 0; i < sizeof pii / sizeof pii[0]; i++)
        cr_assert_null(strstr(text, pii[i]), "a mail contains personal data or free text '%s':\n%s", pii[i], text);
}

static int
s_wait_count(const char *to, const char *needle, int want, int seconds)
{
    int got = 0;
    for (int i = 0; i < seconds * 10; i++) {
        got = s_count(to, needle);
        if (got >= want)
            break;
        kt_sleep_ms(100);
    }
    return got;
}

static void
s_setup(void)
{
    char smtp[64];
    smtp_port = kt_free_port(); /* a free port now, not one another test's pid may map to */
    cr_assert_eq(kt_node_init(&node, "gmina", "2013032", "Notifier", "--smtp",
                              (snprintf(smtp, sizeof smtp, "smtp://127.0.0.1:%d", smtp_port), smtp), NULL), 0);
    snprintf(maildir, sizeof maildir, "%s/mail", node.dir);
    s_smtp_start(NULL);
    cr_assert_eq(kt_node_start(&node, 20), 0);
    gops = kt_ctl_id(&node, "institution", "add", "--name", "GOPS", "--sector", "social_assistance", "--level", "gmina", NULL);
    kpp = kt_ctl_id(&node, "institution", "add", "--name", "KPP", "--sector", "police", "--level", "powiat", NULL);
    sw = kt_ctl_id(&node, "person", "add", "--name", "Anna Nowak", "--institution", gops, "--role", "social_worker",
                   "--email", "anna@example.org", NULL);
    cop = kt_ctl_id(&node, "person", "add", "--name", "Jan Dzielnicowy", "--institution", kpp, "--role",
                    "police_officer", "--email", "jan@example.org", NULL);
    coord = kt_ctl_id(&node, "person", "add", "--name", "Ewa Koordynator", "--institution", gops, "--role",
                      "coordinator", "--email", "ewa@example.org", NULL);
    hh = kt_ctl_id(&node, "--as", sw, "household", "add", "--name", "Zofia Brzęczyszczykiewicz", "--pesel",
                   "85010112345", "--birth", "1985-01-01", "--address", "ul. Lipowa 7", "--phone", "+48600100200",
                   "--size", "4", NULL);
    cr_assert(hh && kt_consent_all(&node, sw, hh, "2026-01-10") == 0);
    ipw = kt_ctl_id(&node, "--as", sw, "ipw", "open", "--household", hh, "--coordinator", sw, "--opened", "2026-01-10", NULL);
    cr_assert(gops && kpp && sw && cop && coord && hh && ipw);
    kt_run_t r;
    kt_ctl(&r, &node, "--as", sw, "ipw", "member", "add", "--ipw", ipw, "--person", cop, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
}

static void
s_teardown(void)
{
    s_smtp_stop();
    cr_assert_eq(kt_node_destroy(&node), 0, "sanitizer reports in the node's log");
    free(sw); free(cop); free(coord); free(gops); free(kpp); free(hh); free(ipw);
}

TestSuite(notifier, .init = s_setup, .fini = s_teardown, .timeout = 180);

static char *
s_task(const char *due, const char *title)
{
    return kt_ctl_id(&node, "--as", sw, "task", "add", "--ipw", ipw, "--owner", cop, "--due", due, "--title", title, NULL);
}

static size_t
s_inbox(const char *person, const char *kind)
{
    kt_run_t r;
    size_t n = 0;
    kt_ctl(&r, &node, "--json", "--as", person, "inbox", "list", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(json_is_array(r.json));
    for (size_t i = 0; i < json_array_size(r.json); i++) {
        json_t *e = json_array_get(r.json, i);
        cr_assert(json_object_get(e, "id") && json_object_get(e, "text") && json_object_get(e, "read"),
                  "inbox entries have id, kind, read, text");
        if (!kind || !strcmp(json_string_value(json_object_get(e, "kind")), kind))
            n++;
    }
    kt_run_free(&r);
    return n;
}

Test(notifier, task_assigned_reaches_owner_once_and_not_the_actor)
{
    char *t = s_task("2031-02-01", "Wizyta dzielnicowego");
    cr_assert_not_null(t);
    cr_assert_eq(s_wait_count("jan@example.org", "2031-02-01", 1, 20), 1, "no mail to the task owner");
    kt_sleep_ms(1500);
    cr_assert_eq(s_count("jan@example.org", "2031-02-01"), 1, "the owner got more than one mail");
    cr_assert_eq(s_count("anna@example.org", "2031-02-01"), 0, "the person who assigned it was mailed");
    cr_assert_eq(s_inbox(cop, "task_assigned"), 1);
    cr_assert_eq(s_inbox(sw, "task_assigned"), 0);
    s_mails(s_pii_fn, NULL);
    /* mark read */
    kt_run_t r;
    kt_ctl(&r, &node, "--json", "--as", cop, "inbox", "read", "--id", "all", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    kt_ctl(&r, &node, "--json", "--as", cop, "inbox", "list", "--unread", "true", NULL);
    cr_assert_eq(json_array_size(r.json), 0, "entries are read now");
    kt_run_free(&r);
    free(t);
}

Test(notifier, kill9_of_notifier_loses_and_doubles_nothing)
{
    enum { TASKS = 12 };
    char due[32];
    for (int i = 0; i < TASKS; i++) {
        if (i % 4 == 1) {
            pid_t np = kt_child_pid(node.pid, "koop-notifier");
            if (np > 0)
                kill(np, SIGKILL);
        }
        snprintf(due, sizeof due, "2031-03-%02d", i + 1);
        char *t = s_task(due, "Zadanie");
        cr_assert_not_null(t);
        free(t);
    }
    for (int i = 0; i < TASKS; i++) {
        snprintf(due, sizeof due, "2031-03-%02d", i + 1);
        cr_assert_eq(s_wait_count("jan@example.org", due, 1, 30), 1, "no mail for the task due %s", due);
    }
    kt_sleep_ms(2000);
    for (int i = 0; i < TASKS; i++) {
        snprintf(due, sizeof due, "2031-03-%02d", i + 1);
        cr_assert_eq(s_count("jan@example.org", due), 1, "task due %s mailed more than once", due);
    }
    cr_assert_eq(s_inbox(cop, "task_assigned"), TASKS);
    s_mails(s_pii_fn, NULL);
}

Test(notifier, mails_wait_while_the_relay_is_down_and_go_when_it_is_back)
{
    kt_run_t r;
    s_smtp_stop();
    char *t = s_task("2031-04-01", "Zadanie");
    cr_assert_not_null(t);
    int queued = 0;
    for (int i = 0; i < 50 && !queued; i++) {
        kt_ctl(&r, &node, "--json", "notify", "status", NULL);
        queued = json_integer_value(json_object_get(r.json, "queue")) >= 1 &&
                 json_string_value(json_object_get(r.json, "last_error"));
        if (queued)
            cr_assert(strstr(json_string_value(json_object_get(r.json, "last_error")), "127.0.0.1"),
                      "the error names the relay: %s", r.out);
        kt_run_free(&r);
        kt_sleep_ms(200);
    }
    cr_assert(queued, "the mail is not waiting in the queue with an error while the relay is down");
    s_smtp_start(NULL);
    kt_ctl(&r, &node, "notify", "retry", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(s_wait_count("jan@example.org", "2031-04-01", 1, 20), 1, "the waiting mail was not delivered");
    kt_ctl(&r, &node, "--json", "notify", "status", NULL);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "queue")), 0);
    kt_run_free(&r);
    free(t);
}

Test(notifier, wrong_credentials_are_reported_and_mail_is_kept_until_fixed)
{
    kt_run_t r;
    char pass[PATH_MAX + 32];
    FILE *f;
    /* a relay that wants a login, and a node configured with a wrong password */
    s_smtp_stop();
    s_smtp_start("koop:sekret");
    kt_node_stop(&node);
    snprintf(pass, sizeof pass, "%s/smtp.pass", node.dir);
    f = fopen(pass, "w");
    cr_assert_not_null(f);
    fputs("zle-haslo\n", f);
    fclose(f);
    f = fopen(node.conf, "a"); /* [notifier] is the file's last section */
    cr_assert_not_null(f);
    fprintf(f, "smtp_user = koop\nsmtp_password_file = %s\n", pass);
    fclose(f);
    cr_assert_eq(kt_node_start(&node, 20), 0);
    char *t = s_task("2031-05-01", "Zadanie");
    cr_assert_not_null(t);
    int reported = 0;
    for (int i = 0; i < 50 && !reported; i++) {
        kt_ctl(&r, &node, "--json", "notify", "status", NULL);
        const char *e = json_string_value(json_object_get(r.json, "last_error"));
        reported = e && strstr(e, "logowania") && json_integer_value(json_object_get(r.json, "queue")) >= 1;
        kt_run_free(&r);
        if (!reported)
            kt_sleep_ms(200);
    }
    cr_assert(reported, "a refused login is not reported clearly in notify status");
    cr_assert_eq(s_count("jan@example.org", "2031-05-01"), 0, "a mail went out with a wrong password");
    /* the operator fixes the password; the waiting mail goes out, once */
    f = fopen(pass, "w");
    fputs("sekret\n", f);
    fclose(f);
    kt_node_stop(&node);
    cr_assert_eq(kt_node_start(&node, 20), 0);
    kt_ctl(&r, &node, "notify", "retry", NULL);
    kt_run_free(&r);
    cr_assert_eq(s_wait_count("jan@example.org", "2031-05-01", 1, 20), 1, "the kept mail was not delivered after the fix");
    free(t);
}

/* Reminders with the injectable clock: the node is restarted with the clock
 * moved forward; each reminder fires once, and a task done before its
 * reminder is not reminded. */
Test(notifier, reminders_fire_once_at_the_right_time_and_survive_restarts)
{
    kt_run_t r;
    char *t1 = s_task("2031-06-10", "Pierwsze");
    char *t2 = s_task("2031-06-10", "Drugie");
    cr_assert(t1 && t2);
    kt_ctl(&r, &node, "--as", cop, "task", "done", "--task", t2, NULL); /* today: long before its due day */
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    kt_sleep_ms(500);
    cr_assert_eq(s_inbox(cop, "task_due_soon"), 0, "a reminder fired too early");

    /* move the clock to 2031-06-08 12:00 (due in 2 days: after the 3-day reminder) */
    struct tm tm = {.tm_year = 131, .tm_mon = 5, .tm_mday = 8, .tm_hour = 12, .tm_isdst = -1};
    long long offset = ((long long)mktime(&tm) - (long long)time(NULL)) * 1000;
    char env[32];
    snprintf(env, sizeof env, "%lld", offset);
    kt_node_stop(&node);
    setenv("KOOP_CLOCK_OFFSET_MS", env, 1);
    cr_assert_eq(kt_node_start(&node, 20), 0);
    size_t due_soon = 0;
    for (int i = 0; i < 50 && !due_soon; i++) {
        due_soon = s_inbox(cop, "task_due_soon");
        kt_sleep_ms(100);
    }
    cr_assert_eq(due_soon, 1, "one due-soon reminder (the done task has none)");
    cr_assert_eq(s_inbox(cop, "task_overdue"), 0);
    cr_assert_eq(s_wait_count("jan@example.org", "Przypominamy", 1, 20), 1);

    /* restart at the same time: nothing fires twice */
    kt_node_stop(&node);
    cr_assert_eq(kt_node_start(&node, 20), 0);
    kt_sleep_ms(1000);
    cr_assert_eq(s_inbox(cop, "task_due_soon"), 1, "a reminder fired twice after a restart");

    /* after the due date: overdue to the owner, then to the coordinator */
    tm.tm_mday = 14;
    offset = ((long long)mktime(&tm) - (long long)time(NULL)) * 1000;
    snprintf(env, sizeof env, "%lld", offset);
    kt_node_stop(&node);
    setenv("KOOP_CLOCK_OFFSET_MS", env, 1);
    cr_assert_eq(kt_node_start(&node, 20), 0);
    size_t overdue = 0, coordinated = 0;
    for (int i = 0; i < 50 && !(overdue && coordinated); i++) {
        overdue = s_inbox(cop, "task_overdue");
        coordinated = s_inbox(sw, "task_overdue_coordinator");
        kt_sleep_ms(100);
    }
    cr_assert_eq(overdue, 1);
    cr_assert_eq(coordinated, 1, "the IPW's coordinator is told of the overdue task");
    unsetenv("KOOP_CLOCK_OFFSET_MS");
    s_mails(s_pii_fn, NULL);
    free(t1);
    free(t2);
}

Test(notifier, ipw_steps_and_zzk_changes_reach_the_team)
{
    kt_run_t r;
    kt_ctl(&r, &node, "--as", sw, "ipw", "activate", "--ipw", ipw, "--date", "2026-01-15", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    size_t n = 0;
    for (int i = 0; i < 50 && !n; i++) {
        n = s_inbox(cop, "ipw_activated");
        kt_sleep_ms(100);
    }
    cr_assert_eq(n, 1, "the ZZK member is told the IPW is active");
    cr_assert_eq(s_inbox(sw, "ipw_activated"), 0, "the actor is not told");
    cr_assert_geq(s_inbox(cop, "zzk_member_added"), 1, "the new member is told");
}

/* Preferences: mail off keeps the inbox only; quiet hours hold a mail until they end. */
Test(notifier, preferences_mail_off_and_quiet_hours)
{
    kt_run_t r;
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        kt_ctl(&r, &node, "--as", cop, "notify", "prefs", "--mail", "false", NULL);
        ok = r.code == 0;
        kt_run_free(&r);
        if (!ok)
            kt_sleep_ms(100);
    }
    cr_assert(ok, "notify prefs --mail false refused");
    char *t1 = s_task("2031-07-01", "Zadanie");
    cr_assert_not_null(t1);
    size_t n = 0;
    for (int i = 0; i < 50 && !n; i++) {
        n = s_inbox(cop, "task_assigned");
        kt_sleep_ms(100);
    }
    cr_assert_eq(n, 1, "the inbox entry comes with mail off too");
    kt_sleep_ms(1500);
    cr_assert_eq(s_count("jan@example.org", "2031-07-01"), 0, "a mail went out with mail off");

    /* quiet hours from now to two hours later */
    time_t now = time(NULL);
    struct tm tm;
    char quiet[16];
    localtime_r(&now, &tm);
    snprintf(quiet, sizeof quiet, "%d-%d", tm.tm_hour, (tm.tm_hour + 2) % 24);
    kt_ctl(&r, &node, "--as", cop, "notify", "prefs", "--mail", "true", "--quiet", quiet, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    char *t2 = s_task("2031-08-01", "Zadanie");
    cr_assert_not_null(t2);
    int held = 0;
    for (int i = 0; i < 50 && !held; i++) {
        kt_ctl(&r, &node, "--json", "notify", "status", NULL);
        long long next = json_integer_value(json_object_get(r.json, "next_attempt_ms"));
        held = json_integer_value(json_object_get(r.json, "queue")) >= 1 && next > (long long)now * 1000 + 30 * 60 * 1000;
        kt_run_free(&r);
        if (!held)
            kt_sleep_ms(100);
    }
    cr_assert(held, "the mail is not held until the quiet hours end");
    cr_assert_eq(s_count("jan@example.org", "2031-08-01"), 0, "a mail went out in quiet hours");
    kt_ctl(&r, &node, "--as", cop, "notify", "prefs", "--quiet", "25-3", NULL);
    cr_assert_eq(r.code, 1, "bad quiet hours accepted");
    kt_run_free(&r);
    free(t1);
    free(t2);
}

/* ---- who is told what ---- */

/* YYYY-MM-DD of today + days (the real clock, as the node's). */
static void
s_day(int days, char out[11])
{
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Waits until person's inbox has `want` entries of kind; returns how many. */
static size_t
s_wait_inbox(const char *person, const char *kind, size_t want)
{
    size_t n = 0;
    for (int i = 0; i < 100 && n < want; i++) {
        n = s_inbox(person, kind);
        if (n < want)
            kt_sleep_ms(100);
    }
    return n;
}

/* Sets key in the node's [notifier] section (the file's last): replaces
 * its line, or appends it. */
static void
s_conf_set(const char *key, const char *value)
{
    FILE *f = fopen(node.conf, "r");
    char line[1024], *out = NULL;
    size_t len = 0, klen = strlen(key);
    FILE *o = open_memstream(&out, &len);
    int done = 0;
    cr_assert(f && o);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            fprintf(o, "%s = %s\n", key, value);
            done = 1;
        } else {
            fputs(line, o);
        }
    }
    if (!done)
        fprintf(o, "%s = %s\n", key, value);
    fclose(f);
    fclose(o);
    f = fopen(node.conf, "w");
    cr_assert_not_null(f);
    fputs(out, f);
    fclose(f);
    free(out);
}

Test(notifier, the_coordinator_hears_of_done_tasks_and_declined_referrals)
{
    kt_run_t r;
    char *svc = kt_ctl_id(&node, "service", "add", "--name", "Program profilaktyczny", "--provider", kpp, "--target",
                          "families", "--category", "profilaktyka", NULL);
    char *t = s_task("2031-09-15", "Rozmowa z rodziną"), *ref;
    cr_assert(svc && t);
    /* the police officer (a partner in the ZZK) does the task: the coordinator (Anna) is told */
    kt_ctl(&r, &node, "--as", cop, "task", "done", "--task", t, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(s_wait_inbox(sw, "task_done", 1), 1, "the coordinator was not told the task is done");
    cr_assert_eq(s_wait_count("anna@example.org", "wykonano zadanie z terminem 2031-09-15", 1, 20), 1);
    cr_assert_eq(s_inbox(cop, "task_done"), 0, "the one who did it is not told");
    /* a referral the gmina's coordinator sent (leads send referrals), declined by the officer it names at the
     * provider: the sender and the IPW's coordinator hear */
    ref = kt_ctl_id(&node, "--as", coord, "referral", "send", "--ipw", ipw, "--service", svc, "--recipients", cop, NULL);
    cr_assert_not_null(ref);
    kt_ctl(&r, &node, "--as", cop, "referral", "decline", "--referral", ref, "--reason", "brak miejsc", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(s_wait_inbox(coord, "referral_answered", 1), 1, "the sender was not told");
    cr_assert_eq(s_wait_inbox(sw, "referral_declined", 1), 1, "the IPW's coordinator was not told of the decline");
    cr_assert_eq(s_inbox(cop, "referral_declined"), 0, "the one who declined is not told");
    cr_assert_eq(s_inbox(cop, "referral_answered"), 0, "the one who declined is not told");
    cr_assert_eq(s_wait_count("anna@example.org", "odrzuciła skierowanie", 1, 20), 1);
    s_mails(s_pii_fn, NULL);
    free(svc);
    free(t);
    free(ref);
}

/* A task entered when its due date has passed: one overdue notice, at once,
 * and not again when the reminders run. */
Test(notifier, a_task_overdue_when_entered_gets_one_overdue_notice)
{
    char due[11], long_ago[11], needle[64];
    kt_run_t r;
    s_day(-5, due);
    s_day(-40, long_ago);
    char *t1 = s_task(due, "Zaległe");
    char *t2 = s_task(long_ago, "Dawno zaległe");
    cr_assert(t1 && t2);
    cr_assert_eq(s_wait_inbox(cop, "task_overdue", 2), 2, "an overdue task entered today gets its notice");
    snprintf(needle, sizeof needle, "w terminie %s", due);
    cr_assert_eq(s_wait_count("jan@example.org", needle, 1, 20), 1);
    /* the reminders are checked again: nothing more */
    kt_ctl(&r, &node, "notify", "retry", NULL);
    kt_run_free(&r);
    kt_node_stop(&node);
    cr_assert_eq(kt_node_start(&node, 20), 0);
    kt_sleep_ms(1500);
    cr_assert_eq(s_inbox(cop, "task_overdue"), 2, "one overdue notice per task");
    cr_assert_eq(s_count("jan@example.org", needle), 1);
    free(t1);
    free(t2);
}

/* Steps dated more than a day back are history being entered: the inbox
 * keeps them, nobody is mailed. */
Test(notifier, history_entered_after_the_fact_sends_no_mail)
{
    kt_run_t r;
    char added[11], due[11], done[11];
    s_day(-10, added);
    s_day(-3, due);
    s_day(-2, done);
    char *t = kt_ctl_id(&node, "--as", sw, "task", "add", "--ipw", ipw, "--owner", cop, "--due", due, "--title",
                        "Historyczne", "--date", added, NULL);
    cr_assert_not_null(t);
    cr_assert_eq(s_wait_inbox(cop, "task_assigned", 1), 1, "the inbox keeps history too");
    kt_ctl(&r, &node, "--as", cop, "task", "done", "--task", t, "--date", done, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(s_wait_inbox(sw, "task_done", 1), 1);
    /* a step of today still mails: the control that mail works at all */
    char *now = s_task("2031-10-01", "Dzisiejsze");
    cr_assert_not_null(now);
    cr_assert_eq(s_wait_count("jan@example.org", "2031-10-01", 1, 20), 1);
    kt_sleep_ms(1000);
    cr_assert_eq(s_count("jan@example.org", due), 0, "history was mailed to the owner");
    cr_assert_eq(s_inbox(cop, "task_overdue"), 0, "a task of history is not news when it is entered overdue");
    cr_assert_eq(s_count("anna@example.org", due), 0, "history was mailed to the coordinator");
    free(t);
    free(now);
}

Test(notifier, mails_link_to_the_configured_web_url)
{
    char want[200];
    kt_node_stop(&node);
    s_conf_set("web_url", "https://koop.ops.kobylin.example.gov.pl/");
    cr_assert_eq(kt_node_start(&node, 20), 0);
    char *t = s_task("2031-11-01", "Zadanie");
    cr_assert_not_null(t);
    snprintf(want, sizeof want, "https://koop.ops.kobylin.example.gov.pl/ipw/%s", ipw);
    cr_assert_eq(s_wait_count("jan@example.org", want, 1, 20), 1, "the mail does not link to web_url");
    cr_assert_eq(s_count("jan@example.org", "2031-11-01"), 1, "one mail, and it is the one with the link");
    free(t);
}

/* A person who wants one mail a day gets the day's notices in one mail at
 * 07:00 of the next day (the clock is moved there), through the real relay. */
Test(notifier, the_daily_digest_is_one_mail_through_the_relay)
{
    kt_run_t r;
    char env[32];
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        kt_ctl(&r, &node, "--as", cop, "notify", "prefs", "--digest", "true", NULL);
        ok = r.code == 0;
        kt_run_free(&r);
        if (!ok)
            kt_sleep_ms(100);
    }
    cr_assert(ok, "notify prefs --digest true refused");
    char *t1 = s_task("2031-12-01", "Pierwsze");
    char *t2 = s_task("2031-12-02", "Drugie");
    cr_assert(t1 && t2);
    cr_assert_eq(s_wait_inbox(cop, "task_assigned", 2), 2);
    kt_sleep_ms(1000);
    cr_assert_eq(s_count("jan@example.org", "2031-12-01"), 0, "a single mail went out with the digest on");
    /* tomorrow, 07:30 */
    {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        tm.tm_mday += 1;
        tm.tm_hour = 7;
        tm.tm_min = 30;
        tm.tm_sec = 0;
        tm.tm_isdst = -1;
        snprintf(env, sizeof env, "%lld", ((long long)mktime(&tm) - (long long)now) * 1000);
    }
    kt_node_stop(&node);
    setenv("KOOP_CLOCK_OFFSET_MS", env, 1);
    cr_assert_eq(kt_node_start(&node, 20), 0);
    cr_assert_eq(s_wait_count("jan@example.org", "podsumowanie powiadomie", 1, 20), 1, "no digest mail");
    unsetenv("KOOP_CLOCK_OFFSET_MS");
    cr_assert_eq(s_count("jan@example.org", "2031-12-01"), 1, "the digest holds the first task");
    cr_assert_eq(s_count("jan@example.org", "2031-12-02"), 1, "the digest holds the second task, in the same mail");
    cr_assert_eq(s_count("jan@example.org", "Subject: [koop] Podsumowanie dnia: 2 powiadomienia\n"), 1,
                 "the digest's subject counts its notices in Polish");
    s_mails(s_pii_fn, NULL);
    free(t1);
    free(t2);
}

/* STARTTLS to a local TLS relay that refuses mail without it, with a
 * self-signed certificate made here: refused until the node trusts it
 * (smtp_ca_file), then delivered. */
Test(notifier, starttls_to_a_local_tls_relay)
{
    char cert[PATH_MAX + 32], key[PATH_MAX + 32], url[64], needle[64];
    kt_run_t r;
    int reported = 0;
    snprintf(cert, sizeof cert, "%s/relay-cert.pem", node.dir);
    snprintf(key, sizeof key, "%s/relay-key.pem", node.dir);
    {
        char *const argv[] = {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                              "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out",
                              cert, NULL};
        cr_assert_eq(kt_exec(&r, argv), 0);
        cr_assert_eq(r.code, 0, "openssl: %s", r.err);
        kt_run_free(&r);
    }
    s_smtp_stop();
    s_smtp_start_tls(NULL, cert, key);
    kt_node_stop(&node);
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", smtp_port);
    s_conf_set("smtp_url", url);
    cr_assert_eq(kt_node_start(&node, 20), 0);
    /* not trusted yet: the mail waits and the error says why */
    char *t1 = s_task("2032-01-10", "Zadanie");
    cr_assert_not_null(t1);
    for (int i = 0; i < 100 && !reported; i++) {
        kt_ctl(&r, &node, "--json", "notify", "status", NULL);
        const char *e = json_string_value(json_object_get(r.json, "last_error"));
        reported = e && strstr(e, "TLS") && json_integer_value(json_object_get(r.json, "queue")) >= 1;
        kt_run_free(&r);
        if (!reported)
            kt_sleep_ms(100);
    }
    cr_assert(reported, "an untrusted relay certificate is not reported in notify status");
    cr_assert_eq(s_count("jan@example.org", "2032-01-10"), 0, "a mail went out over an untrusted link");
    /* the operator names the relay's certificate */
    kt_node_stop(&node);
    s_conf_set("smtp_ca_file", cert);
    cr_assert_eq(kt_node_start(&node, 20), 0);
    kt_ctl(&r, &node, "notify", "retry", NULL);
    kt_run_free(&r);
    snprintf(needle, sizeof needle, "2032-01-10");
    cr_assert_eq(s_wait_count("jan@example.org", needle, 1, 30), 1, "the mail did not go over STARTTLS");
    free(t1);
}

/* ---- no relay configured: mail is off ---- */

static kt_node_t quiet;

static void
s_quiet_setup(void)
{
    cr_assert_eq(kt_node_init(&quiet, "gmina", "2013032", "Bez poczty", NULL), 0);
    cr_assert_eq(kt_node_start(&quiet, 20), 0);
}

static void
s_quiet_teardown(void)
{
    s_smtp_stop();
    cr_assert_eq(kt_node_destroy(&quiet), 0, "sanitizer reports in the node's log");
}

TestSuite(notifier_off, .init = s_quiet_setup, .fini = s_quiet_teardown, .timeout = 180);

Test(notifier_off, without_smtp_url_mail_is_off_and_nothing_waits_for_later)
{
    kt_run_t r;
    char *gopsq = kt_ctl_id(&quiet, "institution", "add", "--name", "GOPS", "--sector", "social_assistance", "--level",
                            "gmina", NULL);
    char *a = kt_ctl_id(&quiet, "person", "add", "--name", "Anna", "--institution", gopsq, "--role", "social_worker",
                        "--email", "anna@example.org", NULL);
    char *b = kt_ctl_id(&quiet, "person", "add", "--name", "Beata", "--institution", gopsq, "--role", "social_worker",
                        "--email", "beata@example.org", NULL);
    char *h = kt_ctl_id(&quiet, "--as", a, "household", "add", "--name", "Rodzina", "--size", "2", NULL);
    /* an IPW opens with a consent (issue 12) */
    char *w = h && kt_consent_all(&quiet, a, h, "2026-01-10") == 0
                  ? kt_ctl_id(&quiet, "--as", a, "ipw", "open", "--household", h, "--coordinator", a, "--opened",
                              "2026-01-10", NULL)
                  : NULL;
    size_t n = 0;
    cr_assert(gopsq && a && b && h && w);
    kt_ctl(&r, &quiet, "--as", a, "ipw", "member", "add", "--ipw", w, "--person", b, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    char *t = kt_ctl_id(&quiet, "--as", a, "task", "add", "--ipw", w, "--owner", b, "--due", "2031-02-01", "--title",
                        "Zadanie", NULL);
    cr_assert_not_null(t);
    for (int i = 0; i < 100 && !n; i++) {
        kt_ctl(&r, &quiet, "--json", "--as", b, "inbox", "list", NULL);
        n = json_array_size(r.json);
        kt_run_free(&r);
        if (!n)
            kt_sleep_ms(100);
    }
    cr_assert_geq(n, 2, "the inbox gets the notices with mail off");
    kt_ctl(&r, &quiet, "--json", "notify", "status", NULL);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "queue")), 0, "a mail was queued with mail off");
    cr_assert(json_is_false(json_object_get(r.json, "mail_on")), "%s", r.out);
    cr_assert_null(json_object_get(r.json, "last_error"), "no delivery was tried: %s", r.out);
    kt_run_free(&r);
    kt_ctl(&r, &quiet, "notify", "status", NULL);
    cr_assert(strstr(r.out, "poczta włączona") && strstr(r.out, "nie"), "%s", r.out);
    kt_run_free(&r);
    cr_assert_eq(kt_node_log_lines(&quiet, "mail is off"), 1, "one line at start says mail is off");
    cr_assert_eq(kt_node_log_lines(&quiet, "not delivered"), 0, "delivery was tried");

    /* a relay is configured later: nothing old goes out, new notices do */
    smtp_port = kt_free_port();
    snprintf(maildir, sizeof maildir, "%s/mail", quiet.dir);
    s_smtp_start(NULL);
    kt_node_stop(&quiet);
    {
        FILE *f = fopen(quiet.conf, "a"); /* [notifier] is the file's last section */
        cr_assert_not_null(f);
        fprintf(f, "smtp_url = smtp://127.0.0.1:%d\n", smtp_port);
        fclose(f);
    }
    cr_assert_eq(kt_node_start(&quiet, 20), 0);
    char *t2 = kt_ctl_id(&quiet, "--as", a, "task", "add", "--ipw", w, "--owner", b, "--due", "2031-03-01", "--title",
                         "Nowe", NULL);
    cr_assert_not_null(t2);
    cr_assert_eq(s_wait_count("beata@example.org", "2031-03-01", 1, 20), 1, "the new notice is mailed");
    kt_sleep_ms(1000);
    cr_assert_eq(s_mails(NULL, NULL), 1, "old notices went out when the relay was configured");
    free(gopsq);
    free(a);
    free(b);
    free(h);
    free(w);
    free(t);
    free(t2);
}
