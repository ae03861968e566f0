/*
 * Running koop for real: the version of every program, `make install`, the
 * example configs and the systemd unit (systemd-analyze verify and security).
 * What needs a machine of its own is run by hand: the Debian package's
 * install, upgrade and purge (tests/deploy/deb_lifecycle.sh in a fresh
 * Debian 12) and the unit under a booted systemd (tests/deploy/unit_boot.sh).
 */
#include "config.h"
#include "koop_test.h"
#include "../../services/node/ready.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNIT "deploy/systemd/koop-node@.service"

/* The tree under test (make test sets KOOP_SRC; else the working directory). */
static const char *
s_src(void)
{
    const char *s = getenv("KOOP_SRC");
    return s && *s ? s : ".";
}

/* Reads a whole file of the tree (malloc'd, NUL-terminated) or fails the test. */
static char *
s_slurp(const char *path)
{
    char full[PATH_MAX];
    FILE *f;
    long len;
    char *buf;
    snprintf(full, sizeof full, "%s/%s", path[0] == '/' ? "" : s_src(), path);
    f = fopen(full, "r");
    cr_assert(f, "cannot read %s", full);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = malloc((size_t)len + 1);
    cr_assert(buf);
    cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* "koop 0.9.0\n", from the file VERSION. */
static void
s_version_line(char *out, size_t size)
{
    char *v = s_slurp("VERSION");
    v[strcspn(v, "\n")] = '\0';
    cr_assert(*v, "VERSION is empty");
    snprintf(out, size, "koop %s\n", v);
    free(v);
}

/* The value of `key=` in the unit text (first occurrence), or "". */
static void
s_unit_value(const char *unit, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    *out = '\0';
    for (const char *line = unit; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
            size_t vlen = strcspn(line + klen + 1, "\n");
            snprintf(out, size, "%.*s", (int)vlen, line + klen + 1);
            return;
        }
    }
}

static const char *const s_programs[] = {"koopctl",        "koop-node",      "koop-registry", "koop-cases",
                                         "koop-notifier", "koop-reporting", "koop-sync"};

Test(deploy, every_program_prints_the_one_version)
{
    char want[64];
    s_version_line(want, sizeof want);
    for (size_t i = 0; i < sizeof s_programs / sizeof *s_programs; i++) {
        char exe[PATH_MAX];
        kt_run_t r;
        snprintf(exe, sizeof exe, "%s/%s", kt_bin(), s_programs[i]);
        char *argv[] = {exe, "--version", NULL};
        cr_assert_eq(kt_exec(&r, argv), 0);
        cr_expect_eq(r.code, 0, "%s --version exits %d", s_programs[i], r.code);
        cr_expect_str_eq(r.out, want, "%s --version says '%s'", s_programs[i], r.out);
        kt_run_free(&r);
    }
}

Test(deploy, make_install_puts_every_file_under_destdir_and_prefix)
{
    char dest[] = "/tmp/kt.XXXXXX", destdir[64], path[PATH_MAX], want[64], build[PATH_MAX], bin[PATH_MAX];
    const char *b = getenv("KOOP_BUILD");
    kt_run_t r;
    struct stat st;
    char *unit;

    cr_assert(mkdtemp(dest));
    snprintf(destdir, sizeof destdir, "DESTDIR=%s", dest);
    snprintf(build, sizeof build, "BUILD=%s", b && *b ? b : "build");
    snprintf(bin, sizeof bin, "BIN=%s", kt_bin());
    /* the programs are those under test: BUILD and BIN as make test has them, nothing rebuilt */
    char *argv[] = {"/usr/bin/make", "-s", "-C", (char *)s_src(), "install", destdir, "PREFIX=/opt/koop",
                    build, bin, "NO_DEPS=1", NULL};
    cr_assert_eq(kt_exec_for(&r, argv, 120), 0);
    cr_assert_eq(r.code, 0, "make install: %s%s", r.out, r.err);
    kt_run_free(&r);

    for (size_t i = 0; i < sizeof s_programs / sizeof *s_programs; i++) {
        snprintf(path, sizeof path, "%s/opt/koop/bin/%s", dest, s_programs[i]);
        cr_expect(stat(path, &st) == 0 && (st.st_mode & 0111), "%s not installed as a program", path);
    }
    snprintf(path, sizeof path, "%s/opt/koop/lib/systemd/system/koop-node@.service", dest);
    unit = s_slurp(path);
    cr_expect(strstr(unit, "\nExecStart=/opt/koop/bin/koop-node -c /etc/koop/%i/koop.conf\n"),
              "the installed unit does not start /opt/koop/bin/koop-node");
    free(unit);
    const char *files[] = {"lib/sysusers.d/koop.conf", "share/doc/koop/examples/gmina.conf",
                           "share/doc/koop/examples/hub.conf", "share/doc/koop/OPERATIONS.md",
                           "share/doc/koop/README.md"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/opt/koop/%s", dest, files[i]);
        cr_expect(stat(path, &st) == 0 && S_ISREG(st.st_mode), "%s not installed", path);
    }
    /* the installed copy runs */
    snprintf(path, sizeof path, "%s/opt/koop/bin/koopctl", dest);
    char *ver[] = {path, "--version", NULL};
    cr_assert_eq(kt_exec(&r, ver), 0);
    s_version_line(want, sizeof want);
    cr_expect_str_eq(r.out, want);
    kt_run_free(&r);

    char *rm[] = {"/bin/rm", "-rf", dest, NULL};
    kt_exec(&r, rm);
    kt_run_free(&r);
}

/* Each example loads as a node's config and names every key the file may
 * hold (set or commented out, each with its comment). */
Test(deploy, example_configs_load_and_name_every_option)
{
    const char *examples[] = {"deploy/examples/gmina.conf", "deploy/examples/hub.conf"};
    for (size_t e = 0; e < 2; e++) {
        char path[PATH_MAX], err[600];
        koop_config_t cfg;
        const char *section, *key;
        char *text;
        snprintf(path, sizeof path, "%s/%s", s_src(), examples[e]);
        cr_expect_eq(koop_config_load(&cfg, path, err, sizeof err), 0, "%s: %s", examples[e], err);
        text = s_slurp(examples[e]);
        for (size_t i = 0; koop_config_key(i, &section, &key); i++) {
            char set[96], commented[96], head[64];
            snprintf(head, sizeof head, "[%s]", section);
            snprintf(set, sizeof set, "\n%s = ", key);
            snprintf(commented, sizeof commented, "\n# %s = ", key);
            const char *sec = strstr(text, head);
            cr_expect(sec && (strstr(sec, set) || strstr(sec, commented)), "%s does not name [%s] %s",
                      examples[e], section, key);
        }
        free(text);
    }
}

/* What the unit must say (docs/OPERATIONS.md), then systemd's own checks. */
Test(deploy, unit_verifies_and_scores_at_most_2_0)
{
    char dir[] = "/tmp/kt.XXXXXX", path[PATH_MAX], v[256], *unit, *at;
    kt_run_t r;
    FILE *f;
    double score = 99;

    unit = s_slurp(UNIT);
    s_unit_value(unit, "Type", v, sizeof v);
    cr_expect_str_eq(v, "notify");
    s_unit_value(unit, "User", v, sizeof v);
    cr_expect_str_eq(v, "koop");
    s_unit_value(unit, "KillMode", v, sizeof v);
    cr_expect_str_eq(v, "mixed");
    s_unit_value(unit, "Restart", v, sizeof v);
    cr_expect_str_eq(v, "on-failure");
    s_unit_value(unit, "RestartPreventExitStatus", v, sizeof v);
    cr_expect(strstr(v, "78"), "a refused start (78) must not be restarted");
    s_unit_value(unit, "StateDirectory", v, sizeof v);
    cr_expect(strstr(v, "koop-backup/%i"), "the services may write their backups in /var/lib/koop-backup/NAME");
    s_unit_value(unit, "StateDirectoryMode", v, sizeof v);
    cr_expect_str_eq(v, "0700");
    s_unit_value(unit, "RuntimeDirectoryMode", v, sizeof v);
    cr_expect_str_eq(v, "0700");
    s_unit_value(unit, "TimeoutStopSec", v, sizeof v);
    cr_expect(atoi(v) * 1000 > NODE_STOP_GRACE_MS, "TimeoutStopSec=%s is not above koop-node's %d ms grace", v,
              NODE_STOP_GRACE_MS);

    /* verify it as installed, with ExecStart on the koop-node under test */
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/koop-node@.service", dir);
    f = fopen(path, "w");
    cr_assert(f);
    at = strstr(unit, "/usr/bin/koop-node");
    cr_assert(at, "the unit does not run /usr/bin/koop-node");
    fprintf(f, "%.*s%s/koop-node%s", (int)(at - unit), unit, kt_bin(), at + strlen("/usr/bin/koop-node"));
    fclose(f);
    free(unit);
    char *verify[] = {"/usr/bin/systemd-analyze", "verify", path, NULL};
    cr_assert_eq(kt_exec_for(&r, verify, 60), 0);
    cr_expect_eq(r.code, 0, "systemd-analyze verify: %s%s", r.out, r.err);
    cr_expect_str_eq(r.err, "", "systemd-analyze verify complains: %s", r.err);
    kt_run_free(&r);

    char *security[] = {"/usr/bin/systemd-analyze", "security", "--offline=yes", path, NULL};
    cr_assert_eq(kt_exec_for(&r, security, 60), 0);
    at = strstr(r.out, "Overall exposure level for ");
    cr_assert(at, "no exposure level in: %s%s", r.out, r.err);
    at = strchr(at, ':');
    cr_assert(at && sscanf(at + 1, "%lf", &score) == 1, "cannot read the score: %s", at);
    fprintf(stderr, "deploy: systemd-analyze security exposure of %s: %.1f\n", UNIT, score);
    cr_expect(score <= 2.0, "exposure %.1f, want <= 2.0:\n%s", score, r.out);
    kt_run_free(&r);

    char *rm[] = {"/bin/rm", "-rf", dir, NULL};
    kt_exec(&r, rm);
    kt_run_free(&r);
}
