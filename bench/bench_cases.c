/*
 * bench_cases - a mixed case workload against a real node (koop-node with
 * koop-registry and koop-cases from $KOOP_BIN, in a temporary directory).
 *
 * Workload: WORKERS cases in flight at once, each one going through
 *   household.add, consent.record, ipw.open, ipw.activate, goal.add, task.add x2,
 *   task.done x2, goal.scale, ipw.show, ipw.close
 * and starting again with a new household; every request acts as a social
 * worker, so each is access-checked and audited like real use. Measured:
 * operations/s over the run, p50/p99 latency (send -> reply), and the
 * ratio to the raw LMDB rate measured in the same run on the same disk
 * (one durable single-put commit per operation, what a service without
 * group commit would get).
 *
 * Integration: bench_cases_run() is the entry point for a bench driver.
 * This file has only a weak main(), so a driver's own main() takes
 * precedence when both are linked into koop-bench.
 */
#include "bench.h"
#include "cases.pb-c.h"
#include "clock.h"
#include "config.h"
#include "registry.pb-c.h"
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 64
#define RUN_MS 5000
#define RAW_COMMITS 300
#define MAX_SAMPLES 2000000

int bench_cases_run(void);

typedef struct {
    int step;
    char hh[40], ipw[40], goal[40], t1[40], t2[40];
    uint64_t request_id;
    uint64_t sent_us;
} s_worker;

static const char *
s_bin(void)
{
    const char *b = getenv("KOOP_BIN");
    return b && *b ? b : "bin";
}

static int
s_run(char *const argv[])
{
    pid_t pid = fork();
    int st;
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}


static char s_gops[40]; /* the institution the families' consent names */

/* Sends the next request of worker w. */
static int
s_send_step(koop_rpc_client_t *c, const char *sw, s_worker *w, uint64_t n)
{
    char *share[1] = {s_gops};
    Koop__Cases__ConsentRecord consent = KOOP__CASES__CONSENT_RECORD__INIT;
    char name[64];
    const char *method = NULL;
    ProtobufCMessage *req = NULL;
    Koop__Cases__HouseholdAdd hh = KOOP__CASES__HOUSEHOLD_ADD__INIT;
    Koop__Cases__IpwOpen open = KOOP__CASES__IPW_OPEN__INIT;
    Koop__Cases__IpwStep step = KOOP__CASES__IPW_STEP__INIT;
    Koop__Cases__GoalAdd goal = KOOP__CASES__GOAL_ADD__INIT;
    Koop__Cases__TaskAdd task = KOOP__CASES__TASK_ADD__INIT;
    Koop__Cases__TaskStep tstep = KOOP__CASES__TASK_STEP__INIT;
    Koop__Cases__GoalScale scale = KOOP__CASES__GOAL_SCALE__INIT;
    Koop__Cases__IpwRef ref = KOOP__CASES__IPW_REF__INIT;
    Koop__Cases__IpwClose close = KOOP__CASES__IPW_CLOSE__INIT;

    switch (w->step) {
    case 0:
        snprintf(name, sizeof name, "Rodzina %llu", (unsigned long long)n);
        hh.name = name;
        hh.has_size = 1;
        hh.size = 3;
        hh.birth = "1985-01-01";
        method = "household.add", req = &hh.base;
        break;
    case 1:
        consent.household = w->hh, consent.purpose = "Zgoda na współpracę", consent.date = "2026-01-10";
        consent.n_share_with = 1, consent.share_with = share;
        method = "consent.record", req = &consent.base;
        break;
    case 2:
        open.household = w->hh, open.coordinator = (char *)sw, open.opened = "2026-01-10";
        method = "ipw.open", req = &open.base;
        break;
    case 3:
        step.ipw = w->ipw, step.date = "2026-01-15";
        method = "ipw.activate", req = &step.base;
        break;
    case 4:
        goal.ipw = w->ipw, goal.has_area = 1, goal.area = KOOP__CASES__AREA__AREA_WORK;
        goal.has_baseline = 1, goal.baseline = 2, goal.has_target = 1, goal.target = 7;
        goal.description = "Podjęcie pracy";
        method = "goal.add", req = &goal.base;
        break;
    case 5:
    case 6:
        task.ipw = w->ipw, task.goal = w->goal, task.owner = (char *)sw, task.due = "2026-02-01";
        task.title = "Wizyta";
        method = "task.add", req = &task.base;
        break;
    case 7:
    case 8:
        tstep.task = w->step == 7 ? w->t1 : w->t2, tstep.date = "2026-01-30";
        method = "task.done", req = &tstep.base;
        break;
    case 9:
        scale.goal = w->goal, scale.has_value = 1, scale.value = 6, scale.date = "2026-06-01";
        method = "goal.scale", req = &scale.base;
        break;
    case 10:
        ref.ipw = w->ipw;
        method = "ipw.show", req = &ref.base;
        break;
    default:
        close.ipw = w->ipw, close.date = "2026-11-01", close.has_outcome = 1;
        close.outcome = KOOP__CASES__OUTCOME__OUTCOME_SUCCESS;
        method = "ipw.close", req = &close.base;
        break;
    }
    w->sent_us = koop_clock_mono_us();
    return koop_rpc_send(c, sw, method, req, &w->request_id);
}

/* Takes what worker w needs from its reply and moves it on. */
static void
s_take_reply(s_worker *w, const koop_reply_t *r)
{
    const ProtobufCMessageDescriptor *d = NULL;
    char *dst = NULL;
    switch (w->step) {
    case 0: d = &koop__cases__household__descriptor, dst = w->hh; break;
    case 2: d = &koop__cases__ipw__descriptor, dst = w->ipw; break;
    case 4: d = &koop__cases__goal__descriptor, dst = w->goal; break;
    case 5: d = &koop__cases__task__descriptor, dst = w->t1; break;
    case 6: d = &koop__cases__task__descriptor, dst = w->t2; break;
    default: break;
    }
    if (d) {
        ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, r->len, r->payload);
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, "id");
        const char *v = m ? *(const char **)((const char *)m + f->offset) : NULL;
        snprintf(dst, 40, "%s", v ? v : "");
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
    }
    w->step = w->step == 11 ? 0 : w->step + 1;
}

static int
s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Durable single-put commits per second in dir (same disk as the node). */
static double
s_raw_lmdb_rate(const char *dir)
{
    MDB_env *env = NULL;
    MDB_dbi dbi;
    MDB_txn *txn;
    char value[300];
    uint64_t t0, t1;
    double rate = 0;

    memset(value, 'x', sizeof value);
    mkdir(dir, 0700);
    if (mdb_env_create(&env) != 0 || mdb_env_set_mapsize(env, (size_t)64 << 20) != 0 ||
        mdb_env_open(env, dir, 0, 0600) != 0)
        goto done;
    t0 = koop_clock_mono_us();
    for (uint64_t i = 0; i < RAW_COMMITS; i++) {
        unsigned char key[8];
        MDB_val k = {8, key}, v = {sizeof value, value};
        for (int b = 0; b < 8; b++)
            key[b] = (unsigned char)(i >> (56 - 8 * b));
        if (mdb_txn_begin(env, NULL, 0, &txn) != 0)
            goto done;
        if (mdb_dbi_open(txn, NULL, 0, &dbi) != 0 || mdb_put(txn, dbi, &k, &v, MDB_APPEND) != 0) {
            mdb_txn_abort(txn);
            goto done;
        }
        if (mdb_txn_commit(txn) != 0)
            goto done;
    }
    t1 = koop_clock_mono_us();
    rate = RAW_COMMITS * 1e6 / (double)(t1 - t0);
done:
    if (env)
        mdb_env_close(env);
    return rate;
}

int
bench_cases_run(void)
{
    char dir[] = "/tmp/koop-bench-cases.XXXXXX", conf[128], exe[PATH_MAX], err[600], raw[160];
    char gops[40], sw[40];
    koop_config_t cfg;
    koop_rpc_client_t *reg = NULL, *c = NULL;
    s_worker w[WORKERS];
    uint64_t *lat = NULL, nlat = 0, ops = 0, t0, t1, deadline;
    pid_t node = -1;
    int rc = 1, ready = 0;

    if (!mkdtemp(dir))
        return 1;
    snprintf(conf, sizeof conf, "%s/node/koop.conf", dir);
    {
        char nodedir[80];
        snprintf(nodedir, sizeof nodedir, "%s/node", dir);
        snprintf(exe, sizeof exe, "%s/koopctl", s_bin());
        char *argv[] = {exe, "node", "init", nodedir, "--role", "gmina", "--teryt", "2013032", "--name", "Bench", NULL};
        if (s_run(argv) != 0) {
            fprintf(stderr, "bench: node init failed (KOOP_BIN=%s)\n", s_bin());
            goto done;
        }
    }
    if (koop_config_load(&cfg, conf, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        goto done;
    }
    node = fork();
    if (node == 0) {
        int fd = open("/dev/null", O_WRONLY);
        snprintf(exe, sizeof exe, "%s/koop-node", s_bin());
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(exe, exe, "-c", conf, (char *)NULL);
        _exit(127);
    }
    reg = koop_rpc_client_new(koop_config_endpoint(&cfg, "registry"));
    c = koop_rpc_client_new(koop_config_endpoint(&cfg, "cases"));
    if (!reg || !c)
        goto done;
    for (int i = 0; i < 100 && !ready; i++) {
        koop_reply_t r;
        ready = koop_rpc_call(c, NULL, "sys.ping", NULL, 200, &r) == 0 &&
                koop_rpc_call(reg, NULL, "sys.ping", NULL, 200, &r) == 0;
        koop_reply_clear(&r);
    }
    if (!ready) {
        fprintf(stderr, "bench: node did not start\n");
        goto done;
    }
    {
        Koop__Reg__Institution inst = KOOP__REG__INSTITUTION__INIT;
        Koop__Reg__Person p = KOOP__REG__PERSON__INIT;
        inst.name = "GOPS";
        inst.has_sector = 1, inst.sector = KOOP__REG__SECTOR__SECTOR_SOCIAL_ASSISTANCE;
        inst.has_level = 1, inst.level = KOOP__REG__LEVEL__LEVEL_GMINA;
        if (bench_call(reg, NULL, "institution.add", &inst.base, &koop__reg__institution__descriptor, gops) != 0)
            goto done;
        snprintf(s_gops, sizeof s_gops, "%s", gops);
        p.name = "Anna Nowak", p.institution = gops, p.has_role = 1, p.role = KOOP__REG__ROLE__ROLE_SOCIAL_WORKER;
        if (bench_call(reg, NULL, "person.add", &p.base, &koop__reg__person__descriptor, sw) != 0)
            goto done;
    }
    lat = malloc(MAX_SAMPLES * sizeof *lat);
    if (!lat)
        goto done;
    memset(w, 0, sizeof w);
    t0 = koop_clock_mono_us();
    deadline = t0 + (uint64_t)RUN_MS * 1000;
    for (int i = 0; i < WORKERS; i++)
        if (s_send_step(c, sw, &w[i], ops + (uint64_t)i) != 0)
            goto done;
    for (;;) {
        koop_reply_t r;
        uint64_t rid, now;
        int i;
        if (koop_rpc_recv(c, 10000, &rid, &r) != 0) {
            fprintf(stderr, "bench: no reply within 10 s\n");
            goto done;
        }
        for (i = 0; i < WORKERS && w[i].request_id != rid; i++)
            ;
        if (i == WORKERS || r.status != 0) {
            fprintf(stderr, "bench: step %d failed: %s\n", i < WORKERS ? w[i].step : -1, r.err.code);
            koop_reply_clear(&r);
            goto done;
        }
        now = koop_clock_mono_us();
        if (nlat < MAX_SAMPLES)
            lat[nlat++] = now - w[i].sent_us;
        ops++;
        s_take_reply(&w[i], &r);
        koop_reply_clear(&r);
        if (now >= deadline) {
            w[i].request_id = 0; /* finished: collect the others */
            int busy = 0;
            for (int k = 0; k < WORKERS; k++)
                busy += w[k].request_id != 0;
            if (!busy)
                break;
            continue;
        }
        if (s_send_step(c, sw, &w[i], ops) != 0)
            goto done;
    }
    t1 = koop_clock_mono_us();
    qsort(lat, nlat, sizeof *lat, s_cmp_u64);
    snprintf(raw, sizeof raw, "%s/raw-lmdb", dir);
    {
        double secs = (double)(t1 - t0) / 1e6, rate = (double)ops / secs, lmdb = s_raw_lmdb_rate(raw);
        printf("bench cases: mixed case workload (household, open, activate, goal, 2 tasks, 2 done, scale, show, "
               "close), %d cases in flight\n",
               WORKERS);
        printf("  %llu operations in %.2f s: %.0f ops/s (%.0f cases/s), latency p50 %.2f ms, p99 %.2f ms\n",
               (unsigned long long)ops, secs, rate, rate / 11.0, lat[nlat / 2] / 1000.0,
               lat[(nlat * 99) / 100] / 1000.0);
        printf("  raw LMDB, one durable put per commit, same disk: %.0f commits/s; cases/raw = %.2fx\n", lmdb,
               lmdb > 0 ? rate / lmdb : 0);
    }
    rc = 0;
done:
    free(lat);
    koop_rpc_client_destroy(&c);
    koop_rpc_client_destroy(&reg);
    if (node > 0) {
        int st;
        kill(node, SIGTERM);
        waitpid(node, &st, 0);
    }
    {
        char *argv[] = {"/bin/rm", "-rf", dir, NULL};
        s_run(argv);
    }
    return rc;
}
