/*
 * Keys as two people handle them (docs/OPERATIONS.md "Keys, compared by
 * phone"): the fingerprint each side computes from the file it has; enrol
 * refusing a --node that contradicts the certificate; unenrol taking a key
 * off the hub's allow-list; node init checking the TERYT code for the role,
 * a hub's listening address, the hub key it is given, and making the
 * directories it needs. Every refusal is a code of the catalogue and
 * creates nothing.
 */
#include "koop_test.h"
#include "kt_ops.h"

#include <criterion/criterion.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_FMT(buf, ...) cr_assert(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf, "path too long")

static kt_node_t g, hub;
static char tmp[PATH_MAX];

static void
s_teardown(void)
{
    cr_expect_eq(kt_nodes_destroy((kt_node_t *[]){&g, &hub, NULL}), 0, "sanitizer reports");
    if (tmp[0]) {
        char *argv[] = {"/bin/rm", "-rf", tmp, NULL};
        kt_run_t r;
        kt_exec(&r, argv);
        kt_run_free(&r);
    }
}

TestSuite(keys, .fini = s_teardown, .timeout = 120);

/* koopctl --json ARGS... without a config; r->json holds stdout. */
static void
s_ctl(kt_run_t *r, char *const args[])
{
    char exe[PATH_MAX + 16], *argv[40];
    int n = 0;
    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    argv[n++] = exe;
    argv[n++] = "--json";
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    cr_assert_eq(kt_exec(r, argv), 0); /* parses stdout into r->json */
}

static const char *
s_code(const kt_run_t *r)
{
    static char buf[64];
    json_error_t e;
    json_t *j = json_loads(r->err, 0, &e);
    const char *c = j ? json_string_value(json_object_get(json_object_get(j, "error"), "code")) : NULL;
    snprintf(buf, sizeof buf, "%s", c ? c : "");
    json_decref(j);
    return buf;
}

static char *
s_print_of(const char *file)
{
    kt_run_t r;
    char *print;
    s_ctl(&r, (char *[]){"keys", "show", "--file", (char *)file, NULL});
    cr_assert_eq(r.code, 0, "keys show --file %s: %s", file, r.err);
    print = strdup(json_string_value(json_object_get(r.json, "fingerprint")));
    kt_run_free(&r);
    return print;
}

Test(keys, both_sides_compute_the_same_short_fingerprint_from_the_file_they_have)
{
    char pub[PATH_MAX + 32], copy[PATH_MAX + 32], *a, *b, *h;
    regex_t re;
    kt_run_t r;

    cr_assert_eq(kt_pair_init(&hub, &g, 0), 0);
    /* the hub reads out its own key; the gmina reads the copy it received */
    cr_assert_eq(kt_ctl(&r, &hub, "--json", "keys", "show", NULL), 0);
    cr_assert_eq(r.code, 0, "%s", r.err);
    a = strdup(json_string_value(json_object_get(r.json, "fingerprint")));
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "node")), "hub-2013");
    cr_assert_eq(strlen(json_string_value(json_object_get(r.json, "key"))), 40, "the Z85 key");
    kt_run_free(&r);
    S_FMT(copy, "%s/keys/hub.pub", g.dir);
    b = s_print_of(copy);
    cr_assert_str_eq(a, b, "the same key, the same fingerprint");
    cr_assert_eq(regcomp(&re, "^[a-z2-7]{4}( [a-z2-7]{4}){4}$", REG_EXTENDED), 0);
    cr_assert_eq(regexec(&re, a, 0, NULL, 0), 0, "five groups of four base32 characters: '%s'", a);
    regfree(&re);
    /* another key, another fingerprint; the text form reads it out too */
    S_FMT(pub, "%s/keys/node.pub", g.dir);
    h = s_print_of(pub);
    cr_assert_str_neq(a, h);
    cr_assert_eq(kt_ctl(&r, &g, "keys", "show", NULL), 0);
    cr_assert(strstr(r.out, h) && strstr(r.out, "gmina-2013032") && strstr(r.out, "telefon"), "%s", r.out);
    cr_assert(strstr(r.out, "Klucz publiczny węzła gmina-2013032 (gmina, TERYT 2013032)\n"), "%s", r.out);
    kt_run_free(&r);
    cr_assert_eq(kt_ctl(&r, &g, "--lang", "en", "keys", "show", NULL), 0);
    cr_assert(strstr(r.out, "The public key of node gmina-2013032 (gmina, TERYT 2013032)\n") &&
                  strstr(r.out, "\n  fingerprint: ") && strstr(r.out, h) && strstr(r.out, "by phone") &&
                  !strstr(r.out, "telefon"),
              "%s", r.out);
    kt_run_free(&r);
    /* node init and enrol print it where the key is handed over */
    cr_assert_eq(kt_ctl(&r, &hub, "enrol", pub, NULL), 0);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, h), "enrol shows what it enrolled: %s", r.out);
    kt_run_free(&r);
    /* not a certificate */
    s_ctl(&r, (char *[]){"keys", "show", "--file", g.conf, NULL});
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(s_code(&r), "cli.key_file", "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one error object on stderr: %s", r.err);
    kt_run_free(&r);
    free(a);
    free(b);
    free(h);
}

Test(keys, enrol_refuses_a_node_that_contradicts_the_certificate_and_unenrol_takes_a_key_off)
{
    char pub[PATH_MAX + 32], enrolled[PATH_MAX + 32];
    kt_run_t r;
    json_t *st;

    cr_assert_eq(kt_pair_init(&hub, &g, 0), 0);
    S_FMT(pub, "%s/keys/node.pub", g.dir);
    S_FMT(enrolled, "%s/keys/enrolled", hub.dir);
    cr_assert_eq(kt_ctl(&r, &hub, "--json", "enrol", pub, "--node", "gmina-2013072", NULL), 0);
    cr_assert_eq(r.code, 1, "%s", r.out);
    cr_assert_str_eq(s_code(&r), "cli.enrol_node_conflict", "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(kt_ctl(&r, &hub, "enrol", pub, NULL), 0);
    kt_run_free(&r);
    cr_assert_eq(kt_ctl(&r, &hub, "enrol", pub, "--node", "gmina-2013032", NULL), 0);
    cr_assert_eq(r.code, 0, "the same node as the certificate says: %s", r.err);
    kt_run_free(&r);
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    cr_assert_eq(kt_add_institutions(&g, 2, "Przed"), 2);
    cr_assert_eq(kt_wait_synced(&g, 30), 0, "enrolled: it syncs");

    /* unenrol: by node id; unknown ones and a gmina's config are refused */
    cr_assert_eq(kt_ctl(&r, &hub, "--json", "unenrol", "gmina-2013099", NULL), 0);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(s_code(&r), "cli.unenrol_none", "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(kt_ctl(&r, &g, "--json", "unenrol", "gmina-2013032", NULL), 0);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(s_code(&r), "cli.hub_only", "%s", r.err);
    kt_run_free(&r);
    cr_assert_eq(kt_ctl(&r, &hub, "--json", "unenrol", "gmina-2013032", NULL), 0);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_eq(json_array_size(r.json), 1, "the one key of the node: %s", r.out);
    kt_run_free(&r);
    {
        char *argv[] = {"/bin/sh", "-c", NULL, NULL}, cmd[PATH_MAX + 64];
        S_FMT(cmd, "ls %s | grep -c pub", enrolled);
        argv[2] = cmd;
        cr_assert_eq(kt_exec(&r, argv), 0);
        cr_assert_str_eq(r.out, "0\n", "the allow-list still holds it");
        kt_run_free(&r);
    }
    /* a new connection with that key is refused: restart the gmina */
    cr_assert_eq(kt_node_stop(&g), 0);
    cr_assert_eq(kt_node_start(&g, 20), 0);
    st = NULL;
    for (int i = 0; i < 100; i++) {
        const char *e;
        json_decref(st);
        st = kt_sync_status(&g);
        e = json_string_value(json_object_get(st, "last_error"));
        if (e && strstr(e, "odrzucił klucz"))
            break;
        kt_sleep_ms(200);
    }
    cr_assert(json_is_false(json_object_get(st, "connected")), "the hub took an unenrolled key");
    json_decref(st);
    /* by file: enrolled again, then off again */
    cr_assert_eq(kt_ctl(&r, &hub, "enrol", pub, NULL), 0);
    kt_run_free(&r);
    cr_assert_eq(kt_ctl(&r, &hub, "--json", "unenrol", pub, NULL), 0);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r.json, 0), "node")), "gmina-2013032");
    kt_run_free(&r);
}

/* koopctl node init DIR ARGS... (NULL-terminated), in --json. */
static void
s_init(kt_run_t *r, const char *dir, ...)
{
    char *args[32] = {"node", "init", (char *)dir};
    int n = 3;
    va_list ap;
    const char *a;
    va_start(ap, dir);
    while ((a = va_arg(ap, const char *)) && n < 31)
        args[n++] = (char *)a;
    va_end(ap);
    args[n] = NULL;
    s_ctl(r, args);
}

/* Runs node init expecting the refusal `code`, and that nothing was made. */
#define S_REFUSED(code_, dir_, ...)                                                                                \
    do {                                                                                                         \
        kt_run_t rr_;                                                                                            \
        s_init(&rr_, dir_, __VA_ARGS__, NULL);                                                                  \
        cr_assert_neq(rr_.code, 0, "node init accepted: %s", rr_.out);                                           \
        cr_assert_str_eq(s_code(&rr_), code_, "%s", rr_.err);                                                     \
        cr_assert_neq(access(dir_, F_OK), 0, "a refused node init made %s", dir_);                               \
        kt_run_free(&rr_);                                                                                       \
    } while (0)

Test(keys, node_init_checks_the_teryt_for_the_role_a_hubs_address_and_key_and_makes_missing_parents)
{
    char dir[PATH_MAX + 64], hubdir[PATH_MAX + 64], key[PATH_MAX + 96], gkey[PATH_MAX + 96], gsec[PATH_MAX + 96];
    kt_run_t r;

    snprintf(tmp, sizeof tmp, "/tmp/kt-init.XXXXXX");
    cr_assert(mkdtemp(tmp));
    S_FMT(dir, "%s/a/b/c/gmina", tmp);
    S_FMT(hubdir, "%s/powiat", tmp);
    S_REFUSED("cli.init_teryt_role", dir, "--role", "gmina", "--teryt", "2013", "--name", "G");
    S_REFUSED("cli.init_teryt_role", hubdir, "--role", "hub", "--teryt", "2013032", "--name", "P", "--listen",
              "tcp://127.0.0.1:7700");
    S_REFUSED("cli.init_listen", hubdir, "--role", "hub", "--teryt", "2013", "--name", "P");
    S_REFUSED("field.enum", hubdir, "--role", "powiat", "--teryt", "2013", "--name", "P");
    /* the node's name goes to other nodes: the rules of every name */
    S_REFUSED("cli.init_name", dir, "--role", "gmina", "--teryt", "2013032", "--name", "Gmina \xe2\x80\xaeX");
    S_REFUSED("cli.init_name", dir, "--role", "gmina", "--teryt", "2013032", "--name", "Gmina\tX");
    S_REFUSED("cli.init_name", dir, "--role", "gmina", "--teryt", "2013032", "--name", "   ");
    s_init(&r, hubdir, "--role", "hub", "--teryt", "20", "--name", "Województwo", "--listen", "tcp://127.0.0.1:7701",
           NULL);
    cr_assert_eq(r.code, 0, "a voivodeship hub has 2 digits: %s", r.err);
    kt_run_free(&r);
    S_FMT(key, "%s/keys/node.pub", hubdir);

    /* a gmina's own key (or another gmina's) as the hub's, a secret key: refused */
    S_FMT(gkey, "%s/other/keys/node.pub", tmp);
    S_FMT(gsec, "%s/other/keys/node.key", tmp);
    {
        char other[PATH_MAX + 32];
        S_FMT(other, "%s/other", tmp);
        s_init(&r, other, "--role", "gmina", "--teryt", "2013072", "--name", "Inna", NULL);
        cr_assert_eq(r.code, 0, "%s", r.err);
        kt_run_free(&r);
    }
    S_REFUSED("cli.init_hub_key_role", dir, "--role", "gmina", "--teryt", "2013032", "--name", "G", "--hub",
              "tcp://127.0.0.1:7701", "--hub-key", gkey);
    S_REFUSED("cli.init_hub_key_secret", dir, "--role", "gmina", "--teryt", "2013032", "--name", "G", "--hub",
              "tcp://127.0.0.1:7701", "--hub-key", gsec);
    S_REFUSED("cli.io", dir, "--role", "gmina", "--teryt", "2013032", "--name", "G", "--hub",
              "tcp://127.0.0.1:7701", "--hub-key", "/nonexistent/node.pub");
    {
        char notcert[PATH_MAX + 32];
        FILE *f;
        S_FMT(notcert, "%s/hub.txt", tmp);
        f = fopen(notcert, "w");
        cr_assert(f);
        fputs("[node]\nid = to nie klucz\n", f);
        fclose(f);
        S_REFUSED("cli.key_file", dir, "--role", "gmina", "--teryt", "2013032", "--name", "G", "--hub",
                  "tcp://127.0.0.1:7701", "--hub-key", notcert);
    }
    S_REFUSED("cli.init_hub_pair", dir, "--role", "gmina", "--teryt", "2013032", "--name", "G", "--hub",
              "tcp://127.0.0.1:7701");

    /* and with all right: the missing parents are made */
    s_init(&r, dir, "--role", "gmina", "--teryt", "2013032", "--name", "G", "--hub", "tcp://127.0.0.1:7701",
           "--hub-key", key, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    S_FMT(key, "%s/koop.conf", dir);
    cr_assert_eq(access(key, R_OK), 0);
    s_init(&r, dir, "--role", "gmina", "--teryt", "2013032", "--name", "G", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(s_code(&r), "cli.init_exists", "%s", r.err);
    kt_run_free(&r);
    s_init(&r, hubdir, "--role", "gmina", "--teryt", "2013032", "--name", "G", "--id", "x y", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(s_code(&r), "cli.init_id", "%s", r.err);
    kt_run_free(&r);
}
