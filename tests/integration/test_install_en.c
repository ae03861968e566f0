/*
 * The commands the one IT person of a gmina runs to install and keep a node
 * speak the reader's language: with `koopctl --lang en` (or KOOP_LANG=en)
 * node init, enrol, sync wait, backup, restore and unenrol say what they
 * did, their progress lines and what failed in English, without a Polish
 * letter; the same commands in Polish are tested where they are (keys,
 * backup, progress).
 */
#include "koop_test.h"
#include "kt_ops.h"
#include "kt_sync.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FMT(buf, ...) cr_assert(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf, "path too long")

static kt_node_t g, hub;

static void
s_teardown(void)
{
    unsetenv("KOOP_LANG");
    cr_expect_eq(kt_nodes_destroy((kt_node_t *[]){&g, &hub, NULL}), 0, "sanitizer reports");
}

TestSuite(install_en, .fini = s_teardown, .timeout = 180);

/* The first Polish letter in s, or NULL. */
static const char *
s_polish(const char *s)
{
    static const char *const letters[] = {"ą", "ć", "ę", "ł", "ń", "ó", "ś", "ź", "ż",
                                          "Ą", "Ć", "Ę", "Ł", "Ń", "Ó", "Ś", "Ź", "Ż"};
    const char *first = NULL;
    for (size_t i = 0; s && i < sizeof letters / sizeof letters[0]; i++) {
        const char *at = strstr(s, letters[i]);
        if (at && (!first || at < first))
            first = at;
    }
    return first;
}

#define S_ENGLISH(r)                                                                                                   \
    do {                                                                                                               \
        cr_assert_null(s_polish((r)->out), "%s: Polish on stdout: %s", (r)->cmd, (r)->out);                        \
        cr_assert_null(s_polish((r)->err), "%s: Polish on stderr: %s", (r)->cmd, (r)->err);                        \
    } while (0)

/* koopctl [-c conf] --lang en ARGS... (NULL-terminated), in a pipe or on a
 * terminal (then everything it wrote is in r->out). */
static void
s_en(kt_run_t *r, const char *conf, int tty, char *const args[])
{
    char exe[PATH_MAX + 16], *argv[40];
    int k = 0;
    S_FMT(exe, "%s/koopctl", kt_bin());
    argv[k++] = exe;
    if (conf) {
        argv[k++] = "-c";
        argv[k++] = (char *)conf;
    }
    argv[k++] = "--lang";
    argv[k++] = "en";
    for (int i = 0; args[i] && k < 39; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    cr_assert_eq(tty ? kt_exec_pty(r, argv, 90) : kt_exec_for(r, argv, 90), 0);
}

Test(install_en, node_init_enrol_sync_wait_backup_restore_and_unenrol_in_english)
{
    char hub_ep[64], hub_key[PATH_MAX + 32], http[32], pub[PATH_MAX + 32], dir[PATH_MAX + 32],
        dir2[PATH_MAX + 32], want[PATH_MAX + 128];
    const char *tail;
    kt_run_t r;
    int port = 0;

    cr_assert_eq(kt_hub_init(&hub, "2013", "Powiat Kobylin", &port), 0);
    S_FMT(hub_ep, "tcp://127.0.0.1:%d", port);
    S_FMT(hub_key, "%s/keys/node.pub", hub.dir);

    /* node init: what it made and what to do next */
    S_FMT(g.dir, "/tmp/kt.XXXXXX");
    cr_assert_not_null(mkdtemp(g.dir));
    S_FMT(g.conf, "%s/koop.conf", g.dir);
    g.http_port = kt_free_port();
    S_FMT(http, "127.0.0.1:%d", g.http_port);
    s_en(&r, NULL, 0,
         (char *[]){"node", "init", g.dir, "--role", "gmina", "--teryt", "2013032", "--name", "Gmina Kobylin",
                    "--hub", hub_ep, "--hub-key", hub_key, "--http", http, NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    S_FMT(want, "Created node gmina-2013032 (gmina, Gmina Kobylin) in %s\nPublic key: %s/keys/node.pub (fingerprint ",
          g.dir, g.dir);
    cr_assert(strstr(r.out, want), "%s", r.out);
    S_FMT(want, "The hub's key: %s/keys/hub.pub (fingerprint ", g.dir);
    cr_assert(strstr(r.out, want) && strstr(r.out, "compare it with the hub by phone)\n"), "%s", r.out);
    S_FMT(want, "Start it: koop-node -c %s\n", g.conf);
    cr_assert(strstr(r.out, want), "%s", r.out);
    cr_assert_str_eq(r.err, "");
    S_ENGLISH(&r);
    kt_run_free(&r);

    /* enrol at the hub */
    S_FMT(pub, "%s/keys/node.pub", g.dir);
    s_en(&r, hub.conf, 0, (char *[]){"enrol", pub, NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "Enrolled at hub hub-2013: the key of node gmina-2013032 (fingerprint "), "%s", r.out);
    S_ENGLISH(&r);
    kt_run_free(&r);

    /* sync wait with the hub away: the progress line, then what is left */
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_add_institutions(&g, 21, "Instytucja"), 21);
    s_en(&r, g.conf, 1, (char *[]){"sync", "wait", "--timeout", "2", NULL});
    cr_assert_eq(r.code, 4, "%s", r.out);
    /* the 21 institutions and the node's node.described */
    cr_assert(strstr(r.out, "\rsending to the hub: 0 / 22 events (0 %)"), "%s", r.out);
    cr_assert(strstr(r.out, "error: after 2 s the hub "), "%s", r.out);
    /* what the hub link last said is the sync service's own text */
    tail = strstr(r.out, "still lacks 22 events of this node: ");
    cr_assert(tail, "%s", r.out);
    cr_assert(!s_polish(r.out) || s_polish(r.out) > tail, "Polish before the link's own words: %s", r.out);
    kt_run_free(&r);
    /* the hub back: the wait ends when it has everything */
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    s_en(&r, g.conf, 0, (char *[]){"sync", "wait", "--timeout", "60", NULL});
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    S_FMT(want, "The hub %s has every event of node gmina-2013032.\n", hub_ep);
    cr_assert_str_eq(r.out, want);
    S_ENGLISH(&r);
    kt_run_free(&r);

    /* backup: on a terminal with its progress line; in a script with KOOP_LANG=en */
    S_FMT(dir, "%s/backup", g.dir);
    S_FMT(dir2, "%s/backup2", g.dir);
    s_en(&r, g.conf, 1, (char *[]){"backup", dir, NULL});
    cr_assert_eq(r.code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "\rbackup: ") && strstr(r.out, "(100 %)"), "a progress line: %s", r.out);
    S_FMT(want, "Backup of node gmina-2013032: %s (6 services, ", dir);
    cr_assert(strstr(r.out, want), "%s", r.out);
    S_FMT(want, "It holds personal data: keep it as safe as the node itself.\r\n"
                "To restore it (the node stopped): koopctl -c %s restore %s", g.conf, dir);
    cr_assert(strstr(r.out, want), "%s", r.out);
    S_ENGLISH(&r);
    kt_run_free(&r);
    cr_assert_eq(setenv("KOOP_LANG", "en", 1), 0);
    cr_assert_eq(kt_ctl(&r, &g, "backup", dir2, NULL), 0);
    cr_assert_eq(unsetenv("KOOP_LANG"), 0);
    cr_assert_eq(r.code, 0, "%s", r.err);
    S_FMT(want, "Backup of node gmina-2013032: %s (6 services, ", dir2);
    cr_assert(strstr(r.out, want), "KOOP_LANG=en: %s", r.out);
    cr_assert_str_eq(r.err, "", "no progress line in a script");
    S_ENGLISH(&r);
    kt_run_free(&r);
    /* a refusal: English too */
    s_en(&r, g.conf, 0, (char *[]){"backup", dir, NULL});
    cr_assert_eq(r.code, 1, "%s", r.err);
    cr_assert(strstr(r.err, "error: "), "%s", r.err);
    S_ENGLISH(&r);
    kt_run_free(&r);

    /* restore, the node stopped: the progress line and what to do next */
    cr_assert_eq(kt_node_stop(&g), 0);
    s_en(&r, g.conf, 1, (char *[]){"restore", dir, NULL});
    cr_assert_eq(r.code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "\rrestore: ") && strstr(r.out, "(100 %)"), "a progress line: %s", r.out);
    S_FMT(want, "Restored node gmina-2013032 from the backup %s (made ", dir);
    cr_assert(strstr(r.out, want) && strstr(r.out, "): 6 services; every log has a new identity."), "%s", r.out);
    cr_assert(strstr(r.out, "The previous data are in ") && strstr(r.out, "Start the node: systemctl start"),
              "%s", r.out);
    S_FMT(want, "IMPORTANT: the node sends its events to the hub %s", hub_ep);
    cr_assert(strstr(r.out, want) && strstr(r.out, "koopctl -c HUB.conf enrol ") && strstr(r.out, pub), "%s", r.out);
    S_ENGLISH(&r);
    kt_run_free(&r);

    /* unenrol takes the key off the hub */
    s_en(&r, hub.conf, 0, (char *[]){"unenrol", "gmina-2013032", NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "Removed from hub hub-2013: the key "), "%s", r.out);
    S_ENGLISH(&r);
    kt_run_free(&r);
}
