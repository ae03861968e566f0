/*
 * version - the one version of koop, from the file VERSION at the top of the
 * tree (the Makefile passes it as KOOP_VERSION to version.c only, so a new
 * version rebuilds one object; `make deb` takes the package version from the
 * same file).
 */
#ifndef KOOP_VERSION_H
#define KOOP_VERSION_H

/* "0.9.0" */
const char *koop_version(void);

/* Prints "koop 0.9.0" on stdout: what every program's --version says. */
void koop_version_print(void);

/* When argv[1] is "--version": prints it (koop_version_print) and returns 1
 * (the program then exits 0); otherwise returns 0. */
int koop_version_asked(int argc, char **argv);

#endif
