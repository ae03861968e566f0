/* Unit tests of common/config: every mistake is named with file:line. */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static void
s_write(const char *text)
{
    snprintf(path, sizeof path, "/tmp/kc.XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static const char *good =
    "[node]\nid = gmina-2013032\nname = Kobylin\nrole = gmina\nteryt = 2013032\n"
    "data_dir = data\nruntime_dir = /run/koop\n\n[endpoints]\nregistry = ipc:///run/koop/registry.sock\n";

Test(config, loads_a_good_file_and_resolves_relative_paths)
{
    koop_config_t cfg;
    char err[600];
    s_write(good);
    cr_assert_eq(koop_config_load(&cfg, path, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cfg.node_id, "gmina-2013032");
    cr_assert_str_eq(cfg.data_dir, "/tmp/data");
    cr_assert_str_eq(cfg.runtime_dir, "/run/koop");
    cr_assert_str_eq(koop_config_endpoint(&cfg, "registry"), "ipc:///run/koop/registry.sock");
    cr_assert_null(koop_config_endpoint(&cfg, "cases"));
    const char *names[KOOP_MAX_SERVICES];
    cr_assert_eq(koop_config_services(&cfg, names), 1);
    unlink(path);
}

static void
s_expect_error(const char *text, const char *line, const char *words)
{
    koop_config_t cfg;
    char err[600];
    s_write(text);
    cr_assert_neq(koop_config_load(&cfg, path, err, sizeof err), 0, "accepted: %s", text);
    cr_assert(strstr(err, path), "error does not name the file: %s", err);
    if (line)
        cr_assert(strstr(err, line), "error does not name line %s: %s", line, err);
    cr_assert(strstr(err, words), "error does not say '%s': %s", words, err);
    unlink(path);
}

Test(config, reports_unknown_keys_and_bad_values_with_file_and_line)
{
    char text[1024];
    snprintf(text, sizeof text, "%scolour = red\n", good);
    s_expect_error(text, ":11:", "nieznany klucz 'colour'");
    s_expect_error("[node]\nid = x\nrole = village\n", ":3:", "nieprawidłowa rola");
    s_expect_error("[node]\nteryt = 12ab\n", ":2:", "teryt");
    s_expect_error("[node]\nid = bad id!\n", ":2:", "id");
    s_expect_error("[endpoints]\nregistry = http://x\n", ":2:", "ipc://");
    s_expect_error("[wrong]\nx = 1\n", ":2:", "nieznany klucz");
    s_expect_error("[node\nid = x\n", ":1:", "składni");
    s_expect_error("[node]\nid = a\n", NULL, "brak wymaganego klucza");
}

Test(config, missing_file_is_a_clear_error)
{
    koop_config_t cfg;
    char err[600];
    cr_assert_neq(koop_config_load(&cfg, "/nonexistent/koop.conf", err, sizeof err), 0);
    cr_assert(strstr(err, "nie można otworzyć"), "%s", err);
}

/* Found by fuzz_config: an empty data_dir put the data in /, and a NUL byte
 * cut a value short without a word. */
Test(config, empty_required_value_and_nul_byte_are_refused)
{
    char text[1024];
    const char *at;
    koop_config_t cfg;
    char err[600];
    int fd;
    snprintf(text, sizeof text, "%s", good);
    *strstr(text, "data") = '\0';
    strcat(text, "data_dir =\nruntime_dir = /run/koop\n[endpoints]\nregistry = ipc:///r\n");
    s_expect_error(text, ":6:", "data_dir");

    snprintf(path, sizeof path, "/tmp/kc.XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    at = strstr(good, "/run/koop");
    cr_assert_eq(write(fd, good, (size_t)(at - good)), at - good);
    cr_assert_eq(write(fd, "\0\0", 2), 2);
    cr_assert_eq(write(fd, at, strlen(at)), (ssize_t)strlen(at));
    close(fd);
    cr_assert_neq(koop_config_load(&cfg, path, err, sizeof err), 0);
    cr_assert(strstr(err, ":7:") && strstr(err, "NUL"), "%s", err);
    unlink(path);
}
