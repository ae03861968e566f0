/*
 * koop-bench - the benchmarks behind `make bench`. Each section measures a
 * service against a baseline measured in the same run and prints ratios;
 * timing never fails a section, only a breakage does. At the end every aim
 * the sections printed is listed again, "[met]" or "[NOT MET]".
 *
 *   koop-bench [SECTION ...]    sections: registry cases notifier sync reporting node gateway
 *                               (default: all of those); scale (make bench-scale,
 *                               ~15 minutes) only when named
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

int bench_registry_run(void);
int bench_cases_run(void);
int bench_notifier_run(void);
int bench_sync_run(void);
int bench_reporting(void);
int bench_gateway_run(void);
int bench_idle_node(void);
int bench_scale(void);

static const struct {
    const char *name;
    int (*run)(void);
    int by_default;
} s_sections[] = {
    {"registry", bench_registry_run, 1},
    {"cases", bench_cases_run, 1},
    {"notifier", bench_notifier_run, 1},
    {"sync", bench_sync_run, 1},
    {"reporting", bench_reporting, 1},
    {"node", bench_idle_node, 1},
    {"gateway", bench_gateway_run, 1},
    {"scale", bench_scale, 0},
};

int
main(int argc, char **argv)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof s_sections / sizeof s_sections[0]; i++) {
        int wanted = argc < 2 && s_sections[i].by_default;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], s_sections[i].name) == 0;
        if (!wanted)
            continue;
        printf("\n######## %s\n", s_sections[i].name);
        fflush(stdout);
        if (s_sections[i].run() != 0) {
            fprintf(stderr, "koop-bench: section %s FAILED\n", s_sections[i].name);
            failed = 1;
        }
        fflush(stdout);
    }
    bench_aims_summary();
    return failed;
}
