/*
 * bench_notifier - from a task being assigned to its owner's inbox entry,
 * through a real node (koop-node: registry, cases, notifier).
 *
 *   lag:        one task at a time; the owner's inbox is polled (inbox.list,
 *               every 0.5 ms) until the new entry is there: p50/p99 of
 *               task.add sent .. entry visible (includes the poll interval);
 *   throughput: TASKS tasks sent pipelined; notifications/s = TASKS / (first
 *               send .. the last entry visible), next to the rate at which
 *               the cases service took the tasks (the notifier cannot go
 *               faster than its input) and raw durable LMDB appends at the
 *               feed's batch size (measured in the same run).
 * The owner has no e-mail address, so this is the event -> inbox path; mail
 * delivery is measured by nothing here (it waits on the relay).
 */
#include "bench.h"
#include "cases.pb-c.h"
#include "clock.h"
#include "config.h"
#include "notifier.pb-c.h"
#include "registry.pb-c.h"
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LAG_SAMPLES 300
#define TASKS 1500 /* with the lag tasks, under the 2,000 children an IPW may have */
#define WINDOW 64

int bench_notifier_run(void);

static const char *
s_bin(void)
{
    const char *b = getenv("KOOP_BIN");
    return b && *b ? b : "bin";
}


/* How many entries the owner's inbox holds (its unread count: nothing reads them). */
static int
s_inbox_count(koop_rpc_client_t *n, const char *owner, uint32_t *count)
{
    Koop__Notif__InboxQuery q = KOOP__NOTIF__INBOX_QUERY__INIT;
    koop_reply_t r;
    Koop__Notif__InboxList *l;
    q.has_limit = 1;
    q.limit = 1;
    if (koop_rpc_call(n, owner, "inbox.list", &q.base, 10000, &r) != 0 || r.status != 0) {
        koop_reply_clear(&r);
        return -1;
    }
    l = koop__notif__inbox_list__unpack(NULL, r.len, r.payload);
    koop_reply_clear(&r);
    if (!l)
        return -1;
    *count = l->unread;
    koop__notif__inbox_list__free_unpacked(l, NULL);
    return 0;
}

static void
s_task(Koop__Cases__TaskAdd *t, const char *ipw, const char *owner)
{
    koop__cases__task_add__init(t);
    t->ipw = (char *)ipw;
    t->owner = (char *)owner;
    t->due = "2031-02-01";
    t->title = "Zadanie";
}

int
bench_notifier_run(void)
{
    char dir[] = "/tmp/koop-bench-notif.XXXXXX", conf[128], exe[PATH_MAX], err[600], nodedir[80];
    char gops[40], kpp[40], sw[40], owner[40], hh[40], ipw[40];
    koop_config_t cfg;
    koop_rpc_client_t *reg = NULL, *cases = NULL, *notif = NULL;
    bench_lat_t lag = {0};
    bench_lmdb_result_t raw = {0};
    uint32_t count = 0, base;
    pid_t node = -1;
    int rc = 1, ready = 0;
    char n1[32], n2[32], n3[32];

    if (!mkdtemp(dir))
        return 1;
    snprintf(nodedir, sizeof nodedir, "%s/node", dir);
    snprintf(conf, sizeof conf, "%s/koop.conf", nodedir);
    {
        pid_t p = fork();
        int st;
        snprintf(exe, sizeof exe, "%s/koopctl", s_bin());
        if (p == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            execl(exe, exe, "node", "init", nodedir, "--role", "gmina", "--teryt", "2013032", "--name", "Bench",
                  (char *)NULL);
            _exit(127);
        }
        if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "bench: node init failed (KOOP_BIN=%s)\n", s_bin());
            goto done;
        }
    }
    if (koop_config_load(&cfg, conf, err, sizeof err) != 0 || !koop_config_endpoint(&cfg, "notifier")) {
        fprintf(stderr, "bench: %s\n", err[0] ? err : "the node has no notifier");
        goto done;
    }
    node = fork();
    if (node == 0) {
        int fd = open("/dev/null", O_WRONLY);
        snprintf(exe, sizeof exe, "%s/koop-node", s_bin());
        dup2(fd, 1);
        dup2(fd, 2);
        execl(exe, exe, "-c", conf, (char *)NULL);
        _exit(127);
    }
    reg = koop_rpc_client_new(koop_config_endpoint(&cfg, "registry"));
    cases = koop_rpc_client_new(koop_config_endpoint(&cfg, "cases"));
    notif = koop_rpc_client_new(koop_config_endpoint(&cfg, "notifier"));
    if (!reg || !cases || !notif)
        goto done;
    for (int i = 0; i < 100 && !ready; i++) {
        koop_reply_t r1, r2, r3;
        ready = koop_rpc_call(cases, NULL, "sys.ping", NULL, 200, &r1) == 0 &&
                koop_rpc_call(reg, NULL, "sys.ping", NULL, 200, &r2) == 0 &&
                koop_rpc_call(notif, NULL, "sys.ping", NULL, 200, &r3) == 0;
        koop_reply_clear(&r1);
        koop_reply_clear(&r2);
        koop_reply_clear(&r3);
    }
    if (!ready) {
        fprintf(stderr, "bench: the node did not start\n");
        goto done;
    }
    {
        Koop__Reg__Institution inst = KOOP__REG__INSTITUTION__INIT;
        Koop__Reg__Person p = KOOP__REG__PERSON__INIT;
        Koop__Cases__HouseholdAdd h = KOOP__CASES__HOUSEHOLD_ADD__INIT;
        Koop__Cases__IpwOpen o = KOOP__CASES__IPW_OPEN__INIT;
        Koop__Cases__MemberChange m = KOOP__CASES__MEMBER_CHANGE__INIT;
        Koop__Cases__IpwStep a = KOOP__CASES__IPW_STEP__INIT;
        inst.name = "GOPS", inst.has_sector = 1, inst.sector = KOOP__REG__SECTOR__SECTOR_SOCIAL_ASSISTANCE;
        inst.has_level = 1, inst.level = KOOP__REG__LEVEL__LEVEL_GMINA;
        if (bench_call(reg, NULL, "institution.add", &inst.base, &koop__reg__institution__descriptor, gops) != 0)
            goto done;
        inst.name = "KPP", inst.sector = KOOP__REG__SECTOR__SECTOR_POLICE;
        if (bench_call(reg, NULL, "institution.add", &inst.base, &koop__reg__institution__descriptor, kpp) != 0)
            goto done;
        p.name = "Anna", p.institution = gops, p.has_role = 1, p.role = KOOP__REG__ROLE__ROLE_SOCIAL_WORKER;
        if (bench_call(reg, NULL, "person.add", &p.base, &koop__reg__person__descriptor, sw) != 0)
            goto done;
        p.name = "Jan", p.institution = kpp, p.role = KOOP__REG__ROLE__ROLE_POLICE_OFFICER;
        if (bench_call(reg, NULL, "person.add", &p.base, &koop__reg__person__descriptor, owner) != 0)
            goto done;
        h.name = "Rodzina", h.has_size = 1, h.size = 3;
        if (bench_call(cases, sw, "household.add", &h.base, &koop__cases__household__descriptor, hh) != 0)
            goto done;
        {
            Koop__Cases__ConsentRecord cr = KOOP__CASES__CONSENT_RECORD__INIT;
            char *share[2] = {gops, kpp};
            cr.household = hh, cr.purpose = "Zgoda na współpracę", cr.date = "2026-01-10";
            cr.n_share_with = 2, cr.share_with = share;
            if (bench_call(cases, sw, "consent.record", &cr.base, NULL, NULL) != 0)
                goto done;
        }
        o.household = hh, o.coordinator = sw, o.opened = "2026-01-10";
        if (bench_call(cases, sw, "ipw.open", &o.base, &koop__cases__ipw__descriptor, ipw) != 0)
            goto done;
        m.ipw = ipw, m.person = owner;
        if (bench_call(cases, sw, "ipw.member.add", &m.base, NULL, NULL) != 0)
            goto done;
        a.ipw = ipw, a.date = "2026-01-15";
        if (bench_call(cases, sw, "ipw.activate", &a.base, NULL, NULL) != 0)
            goto done;
    }
    /* the notifier has caught up with the set-up (member added, IPW activated) */
    for (int i = 0; i < 2000 && (s_inbox_count(notif, owner, &count) != 0 || count < 2); i++)
        usleep(1000);
    if (count < 2) {
        fprintf(stderr, "bench: the notifier did not catch up with the set-up\n");
        goto done;
    }
    if (bench_lat_init(&lag, LAG_SAMPLES) != 0)
        goto done;

    /* lag: one task at a time */
    for (int i = 0; i < LAG_SAMPLES; i++) {
        Koop__Cases__TaskAdd t;
        uint64_t t0, now;
        uint32_t before = count;
        s_task(&t, ipw, owner);
        t0 = koop_clock_mono_us();
        if (bench_call(cases, sw, "task.add", &t.base, NULL, NULL) != 0)
            goto done;
        for (;;) {
            if (s_inbox_count(notif, owner, &count) != 0)
                goto done;
            now = koop_clock_mono_us();
            if (count > before)
                break;
            if (now - t0 > 10000000) {
                fprintf(stderr, "bench: a task's inbox entry did not come within 10 s\n");
                goto done;
            }
            usleep(500);
        }
        bench_lat_add(&lag, now - t0);
    }

    /* throughput: TASKS pipelined */
    base = count;
    {
        uint64_t t0 = koop_clock_mono_us(), t_cases = 0, t_inbox, rid;
        unsigned sent = 0, done_ = 0, inflight = 0;
        while (done_ < TASKS) {
            while (sent < TASKS && inflight < WINDOW) {
                Koop__Cases__TaskAdd t;
                s_task(&t, ipw, owner);
                if (koop_rpc_send(cases, sw, "task.add", &t.base, &rid) != 0)
                    goto done;
                sent++;
                inflight++;
            }
            koop_reply_t r;
            if (koop_rpc_recv(cases, 10000, &rid, &r) != 0 || r.status != 0) {
                fprintf(stderr, "bench: task.add failed: %s\n", r.err.code[0] ? r.err.code : "no reply");
                koop_reply_clear(&r);
                goto done;
            }
            koop_reply_clear(&r);
            inflight--;
            done_++;
        }
        t_cases = koop_clock_mono_us();
        for (;;) {
            if (s_inbox_count(notif, owner, &count) != 0)
                goto done;
            if (count >= base + TASKS)
                break;
            if (koop_clock_mono_us() - t0 > 120000000) {
                fprintf(stderr, "bench: %u of %u inbox entries after 120 s\n", count - base, TASKS);
                goto done;
            }
            usleep(2000);
        }
        t_inbox = koop_clock_mono_us();
        if (bench_lmdb_append(dir, 64, 1.0, &raw) != 0)
            goto done;
        double cases_rate = TASKS / ((double)(t_cases - t0) / 1e6);
        double notif_rate = TASKS / ((double)(t_inbox - t0) / 1e6);
        printf("koop-bench: notifier, task assigned -> owner's inbox entry (koop-node: registry, cases, notifier)\n\n");
        printf("  lag, one task at a time (%d tasks): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", LAG_SAMPLES,
               bench_lat_pct_ms(&lag, 50), bench_lat_pct_ms(&lag, 99), bench_lat_pct_ms(&lag, 100));
        printf("    (task.add sent .. entry seen by inbox.list polled every 0.5 ms; includes the cases commit)\n");
        printf("  throughput, %d tasks pipelined (%d in flight):\n", TASKS, WINDOW);
        printf("    cases took the tasks at          %10s tasks/s\n", bench_fmt_count(n1, sizeof n1, cases_rate));
        printf("    notifier: events -> inbox        %10s notifications/s = %.2f x the cases rate\n",
               bench_fmt_count(n2, sizeof n2, notif_rate), notif_rate / cases_rate);
        printf("    raw LMDB, 64 records per commit  %10s records/s  (notifier = %.2f x raw)\n",
               bench_fmt_count(n3, sizeof n3, raw.bm_rate), notif_rate / raw.bm_rate);
        printf("    (each task is two events for the notifier: LOCAL and SHARED; one inbox entry and\n"
               "     three reminders are written per task, in the feed's transaction)\n");
    }
    rc = 0;
done:
    bench_lat_clear(&lag);
    koop_rpc_client_destroy(&notif);
    koop_rpc_client_destroy(&cases);
    koop_rpc_client_destroy(&reg);
    if (node > 0) {
        int st;
        kill(node, SIGTERM);
        waitpid(node, &st, 0);
    }
    bench_rmtree(dir);
    return rc;
}
