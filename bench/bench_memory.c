/*
 * bench_memory.c - what an idle gmina node costs in memory (section "node"
 * of koop-bench).
 *
 * A gmina node made by `koopctl node init` runs koop-node and one process
 * per service (registry, cases, notifier, reporting, sync). After it has
 * started and sat idle for a few seconds (its timers running, nothing to
 * do), each process's proportional set size is read from
 * /proc/PID/smaps_rollup: its private pages plus its share of the pages it
 * maps together with others (the shared libraries, counted once over all
 * the processes that map them). Their sum is what the node takes from the
 * machine; RSS, which counts every shared page in full in each process, is
 * shown beside it, and USS, the pages only that process maps. PSS divides
 * a shared page among every process of the machine that maps it (other
 * programs using the same libc or libzmq too), so USS is the figure that
 * no other work on the machine can make smaller.
 *
 * Aim (issue 16): an idle gmina node <= 24 MB PSS in total.
 */
#include "bench.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define AIM_PSS_MB 24.0
#define IDLE_S 3

int bench_idle_node(void);

int
bench_idle_node(void)
{
    char tmp[] = "/tmp/koop-bench-node.XXXXXX", dir[PATH_MAX];
    static bench_knode_t n;
    const char *args[] = {"--role", "gmina", "--teryt", "2013032", "--name", "Gmina", NULL};
    long pss_total = 0, rss_total = 0, uss_total = 0;
    int rc = -1;

    if (!mkdtemp(tmp))
        return -1;
    snprintf(dir, sizeof dir, "%s/g", tmp);
    printf("node: an idle gmina node (koop-node and its services), %d s after start\n", IDLE_S);
    if (bench_knode_init(&n, dir, args) != 0 || bench_knode_start(&n, 30000) != 0)
        goto done;
    sleep(IDLE_S);
    printf("  %-16s %8s %8s %8s\n", "process", "PSS MB", "USS MB", "RSS MB");
    for (int i = -1; i < n.nservices; i++) {
        uint32_t pid = i < 0 ? (uint32_t)n.pid : n.pids[i];
        long pss = bench_proc_pss_kb(pid), rss = bench_proc_rss_kb(pid), uss = bench_proc_uss_kb(pid);
        if (pss < 0 || rss < 0 || uss < 0) {
            fprintf(stderr, "koop-bench: cannot read /proc/%u (is it gone?)\n", pid);
            goto done;
        }
        pss_total += pss;
        rss_total += rss;
        uss_total += uss;
        printf("  %-16s %8.1f %8.1f %8.1f\n", i < 0 ? "koop-node" : n.service[i], (double)pss / 1024.0,
               (double)uss / 1024.0, (double)rss / 1024.0);
    }
    printf("  %-16s %8.1f %8.1f %8.1f\n", "total", (double)pss_total / 1024.0, (double)uss_total / 1024.0,
           (double)rss_total / 1024.0);
    printf("\nAims (information only)\n");
    bench_aim((double)pss_total / 1024.0 <= AIM_PSS_MB, "idle gmina node <= %.0f MB PSS in total: %.1f MB = %.2f x",
              AIM_PSS_MB, (double)pss_total / 1024.0, (double)pss_total / 1024.0 / AIM_PSS_MB);
    rc = 0;
done:
    if (bench_knode_stop(&n) != 0 && rc == 0)
        rc = -1;
    bench_runf(NULL, "rm -rf '%s'", tmp);
    return rc;
}
