/*
 * koop-bench - the benchmarks behind `make bench`. Each section measures a
 * service against a baseline measured in the same run and prints ratios;
 * timing never fails a section, only a breakage does.
 *
 *   koop-bench [SECTION ...]    sections: registry cases notifier sync reporting gateway (default: all)
 */
#include <stdio.h>
#include <string.h>

int bench_registry_run(void);
int bench_cases_run(void);
int bench_notifier_run(void);
int bench_sync_run(void);
int bench_reporting(void);
int bench_gateway_run(void);

static const struct {
    const char *name;
    int (*run)(void);
} s_sections[] = {
    {"registry", bench_registry_run},
    {"cases", bench_cases_run},
    {"notifier", bench_notifier_run},
    {"sync", bench_sync_run},
    {"reporting", bench_reporting},
    {"gateway", bench_gateway_run},
};

int
main(int argc, char **argv)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof s_sections / sizeof s_sections[0]; i++) {
        int wanted = argc < 2;
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
    return failed;
}
