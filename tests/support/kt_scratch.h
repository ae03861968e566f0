/*
 * kt_scratch.h - a suite of in-process tests, each in a scratch directory.
 *
 * KT_SCRATCH_SUITE(suite, prefix) defines `dir` (a new /tmp/PREFIX.XXXXXX
 * made before each test, removed after it) and the Criterion suite. For a
 * test file that includes Criterion.
 */
#ifndef KT_SCRATCH_H
#define KT_SCRATCH_H

#include <stdio.h>
#include <stdlib.h>

#define KT_SCRATCH_SUITE(suite, prefix)                                                                     \
    static char dir[64];                                                                                    \
    static void s_scratch_make(void)                                                                        \
    {                                                                                                       \
        snprintf(dir, sizeof dir, "/tmp/" prefix ".XXXXXX");                                                \
        cr_assert_not_null(mkdtemp(dir));                                                                   \
    }                                                                                                       \
    static void s_scratch_remove(void)                                                                      \
    {                                                                                                       \
        char cmd[128];                                                                                      \
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);                                                        \
        cr_assert_eq(system(cmd), 0);                                                                       \
    }                                                                                                       \
    TestSuite(suite, .init = s_scratch_make, .fini = s_scratch_remove)

#endif
