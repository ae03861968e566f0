#include "version.h"

#include <stdio.h>
#include <string.h>

#ifndef KOOP_VERSION
#error "KOOP_VERSION is set by the Makefile from the file VERSION"
#endif

const char *
koop_version(void)
{
    return KOOP_VERSION;
}

void
koop_version_print(void)
{
    printf("koop %s\n", KOOP_VERSION);
}

int
koop_version_asked(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--version") != 0)
        return 0;
    koop_version_print();
    return 1;
}
