/*
 * The one description of the API (common/api.def) against what is really
 * served: every method of the table is answered by its service on a real
 * node (no "method.unknown"), has a koopctl command and an HTTP route (unless
 * internal), and `koopctl --help` lists every command (in Polish, or in
 * English with --lang en / KOOP_LANG=en, as `koopctl NOUN`); a request whose
 * deadline has passed is not executed; koopctl --json prints exactly what
 * the shared presentation module makes of the reply.
 */
#include "api.h"
#include "client.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "koop_test.h"
#include "kt_sync.h"
#include "present.h"
#include "registry.pb-c.h"
#include "clock.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

Test(api, every_row_is_complete_and_unambiguous)
{
    for (size_t i = 0; i < koop_api_nmethods; i++) {
        const koop_api_method_t *a = &koop_api_methods[i];
        cr_assert(a->request && a->reply, "%s: request and reply types", a->name);
        cr_assert(strchr(a->name, '.'), "%s: method names are noun.verb", a->name);
        if (a->flags & KOOP_API_INTERNAL) {
            cr_assert(!*a->noun && !*a->verb && a->http == KOOP_HTTP_NONE && !*a->path,
                      "%s is internal: no command, no route", a->name);
            continue;
        }
        /* a command unless the gateway's HTTP layer answers it itself (web);
         * a route unless it is for the node's shell only (SHELL) */
        if (strcmp(a->service, "web") == 0)
            cr_assert(!*a->noun && !*a->verb, "%s is a web row: no koopctl command", a->name);
        else
            cr_assert(*a->noun && *a->verb, "%s has no koopctl command", a->name);
        if (a->flags & KOOP_API_SHELL)
            cr_assert(a->http == KOOP_HTTP_NONE && !*a->path, "%s is for the shell only: no HTTP route", a->name);
        else
            cr_assert(a->http != KOOP_HTTP_NONE && strncmp(a->path, "/api/", 5) == 0, "%s has no HTTP route",
                      a->name);
        /* every {field} of the path is a field of the request */
        for (const char *p = strchr(a->path, '{'); p; p = strchr(p + 1, '{')) {
            char field[64];
            const char *end = strchr(p, '}');
            cr_assert(end && (size_t)(end - p - 1) < sizeof field, "%s: bad path %s", a->name, a->path);
            snprintf(field, sizeof field, "%.*s", (int)(end - p - 1), p + 1);
            cr_assert_not_null(protobuf_c_message_descriptor_get_field_by_name(a->request, field),
                               "%s: path field {%s} is not a field of %s", a->name, field, a->request->name);
        }
        if (a->flags & KOOP_API_LIST)
            cr_assert_not_null(protobuf_c_message_descriptor_get_field_by_name(a->reply, "items"),
                               "%s is a list but %s has no items", a->name, a->reply->name);
        for (size_t j = 0; j < i; j++) {
            const koop_api_method_t *b = &koop_api_methods[j];
            cr_assert(strcmp(a->name, b->name) != 0, "%s twice", a->name);
            if (b->flags & KOOP_API_INTERNAL)
                continue;
            cr_assert(!*a->noun || strcmp(a->noun, b->noun) != 0 || strcmp(a->verb, b->verb) != 0,
                      "koopctl %s %s twice", a->noun, a->verb);
            cr_assert(a->http == KOOP_HTTP_NONE || a->http != b->http || strcmp(a->path, b->path) != 0,
                      "%s %s twice", koop_http_name(a->http), a->path);
        }
    }
}

Test(api, help_lists_every_command_of_the_table)
{
    char *argv[] = {NULL, "--help", NULL};
    char exe[PATH_MAX];
    kt_run_t r;
    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    argv[0] = exe;
    cr_assert_eq(kt_exec(&r, argv), 0, "koopctl --help exits 0");
    for (size_t i = 0; i < koop_api_nmethods; i++) {
        const koop_api_method_t *a = &koop_api_methods[i];
        char line[128];
        if (a->flags & KOOP_API_INTERNAL || !*a->noun)
            continue;
        snprintf(line, sizeof line, "  %-17s %-10s ", a->noun, a->verb);
        cr_expect(strstr(r.out, line), "koopctl --help does not list '%s %s'", a->noun, a->verb);
    }
    kt_run_free(&r);
}

/* Runs koopctl ARGS... (NULL-terminated, at most 4; no node) into r. */
static void
s_koopctl(kt_run_t *r, ...)
{
    char exe[PATH_MAX];
    char *argv[6] = {exe};
    int n = 1;
    va_list ap;
    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    va_start(ap, r);
    for (char *a; n < 5 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    cr_assert_eq(kt_exec(r, argv), 0, "koopctl could not be run");
}

/* The first letter of Polish (not of English) in s, or NULL. */
static const char *
s_polish_letter(const char *s)
{
    static const char *const letters[] = {"ą", "ć", "ę", "ł", "ń", "ó", "ś", "ź", "ż",
                                          "Ą", "Ć", "Ę", "Ł", "Ń", "Ó", "Ś", "Ź", "Ż"};
    for (size_t i = 0; i < sizeof letters / sizeof letters[0]; i++)
        if (strstr(s, letters[i]))
            return strstr(s, letters[i]);
    return NULL;
}

static int
s_starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

Test(api, help_is_in_english_with_lang_en_before_or_after_it_and_with_koop_lang)
{
    const koop_api_method_t *verify = koop_api_find("events.verify");
    char line[256];
    kt_run_t first = {0};
    cr_assert_not_null(verify);
    snprintf(line, sizeof line, "\n  %-17s %-10s %s\n", verify->noun, verify->verb, verify->help_en);
    for (int way = 0; way < 3; way++) {
        kt_run_t r;
        const char *polish;
        unsetenv("KOOP_LANG");
        if (way == 0)
            s_koopctl(&r, "--lang", "en", "--help", NULL);
        else if (way == 1)
            s_koopctl(&r, "--help", "--lang", "en", NULL);
        else {
            setenv("KOOP_LANG", "en", 1);
            s_koopctl(&r, "--help", NULL);
        }
        cr_expect_eq(r.code, 0, "%d: koopctl --help exits %d", way, r.code);
        polish = s_polish_letter(r.out);
        cr_expect_null(polish, "%d: the English help has a Polish letter: ...%.60s", way, polish);
        cr_expect(s_starts(r.out, "usage: koopctl -c NODE.conf "), "%d: %.100s", way, r.out);
        cr_expect(strstr(r.out, line), "%d: no line '%s'", way, line + 1);
        cr_expect(strstr(r.out, "--stream SERVICE"), "%d", way);
        cr_expect(strstr(r.out, "\nExit codes: 0 ok, 1 the service refused"), "%d", way);
        /* the values from the enums, as the options take them */
        cr_expect(strstr(r.out, "Values: sectors social_assistance family_support"), "%d", way);
        cr_expect(strstr(r.out, "pzk_members; dates YYYY-MM-DD."), "%d", way);
        cr_expect(strstr(r.out, "IPW outcomes success no_success discontinued."), "%d", way);
        if (way == 0)
            first = r;
        else {
            cr_expect_str_eq(r.out, first.out, "%d: the same help every way", way);
            kt_run_free(&r);
        }
    }
    kt_run_free(&first);
}

Test(api, help_is_in_polish_by_default_as_it_was)
{
    static const char *const lines[] = {
        "użycie: koopctl -c WĘZEŁ.conf [--json] [--as OSOBA] [--lang pl|en] RZECZOWNIK CZASOWNIK "
        "[--opcja wartość ...]\n\nPolecenia węzła:\n",
        "\n  events            list       --stream USŁUGA [--node ID] [--after SEQ] [--limit N]\n",
        "\n  events            verify     --stream USŁUGA (łańcuch dziennika i rekordy wobec zdarzeń)\n",
        "\n  audit             verify     --as OSOBA (łańcuch dziennika dostępu) (koordynatorzy)\n",
        "\n  ipw               close      --as OSOBA --ipw ID --date RRRR-MM-DD --outcome "
        "success|no_success|discontinued [--reason TEKST --cancel-open]\n",
        /* --as once where the row's help names it */
        "\n  inbox             list       --as OSOBA [--unread true --limit N]\n",
        "\nWartości: sektory social_assistance family_support",
        "\nKody wyjścia: 0 ok, 1 odmowa usługi, 2 błąd użycia, 3 usługa nie odpowiada,",
    };
    for (int way = 0; way < 2; way++) {
        kt_run_t r;
        if (way == 0) {
            unsetenv("KOOP_LANG");
            s_koopctl(&r, "--help", NULL);
        } else {
            setenv("KOOP_LANG", "en", 1); /* --lang wins */
            s_koopctl(&r, "--help", "--lang", "pl", NULL);
        }
        cr_expect_eq(r.code, 0);
        for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
            cr_expect(strstr(r.out, lines[i]), "%d: koopctl --help has no '%s'", way, lines[i]);
        kt_run_free(&r);
    }
}

/* Line i of text (0-based), into out without its line break; 0 or -1. */
static int
s_line(const char *text, int i, char *out, size_t len)
{
    const char *p = text, *end;
    for (; i > 0 && p; i--)
        if ((p = strchr(p, '\n')))
            p++;
    if (!p || !*p)
        return -1;
    end = strchrnul(p, '\n');
    snprintf(out, len, "%.*s", (int)(end - p), p);
    return 0;
}

/* The commands of both tables, local ones too: line by line, the two
 * languages name the same options (the paragraphs after them are wrapped
 * each in its own way). */
Test(api, help_names_the_same_options_in_both_languages)
{
    kt_run_t pl, en;
    int lines = 0, blank = 0;
    unsetenv("KOOP_LANG");
    s_koopctl(&pl, "--help", NULL);
    s_koopctl(&en, "--lang", "en", "--help", NULL);
    for (int i = 0; blank < 3; i++) {
        char a[1024], b[1024], oa[512], ob[512];
        cr_assert_eq(s_line(pl.out, i, a, sizeof a), 0, "the Polish help ends at line %d", i);
        cr_assert_eq(s_line(en.out, i, b, sizeof b), 0, "the English help ends at line %d", i);
        blank += !*a;
        cr_assert_eq(!*a, !*b, "line %d: '%s' against '%s'", i, a, b);
        if (strncmp(a, "  ", 2) != 0)
            continue;
        cr_expect(strncmp(a, b, 30) == 0, "line %d: another command: '%s' against '%s'", i, a, b);
        kt_help_options(a, oa, sizeof oa);
        kt_help_options(b, ob, sizeof ob);
        cr_expect_str_eq(ob, oa, "'%s' names %s, '%s' %s", b, ob, a, oa);
        lines++;
    }
    cr_expect_gt(lines, 60);
    kt_run_free(&pl);
    kt_run_free(&en);
}

Test(api, a_noun_lists_its_verbs_in_the_readers_language)
{
    kt_run_t r;
    const char *polish;
    unsetenv("KOOP_LANG");
    s_koopctl(&r, "--lang", "en", "ipw", NULL);
    cr_expect_eq(r.code, 2, "koopctl ipw without a verb is a usage error");
    polish = s_polish_letter(r.err);
    cr_expect_null(polish, "a Polish letter: ...%.60s", polish);
    cr_expect(s_starts(r.err, "usage: koopctl -c NODE.conf ipw VERB [--option value ...]\n"), "%s", r.err);
    cr_expect(strstr(r.err, "\n  open          --household ID --coordinator PERSON --opened YYYY-MM-DD\n"), "%s",
              r.err);
    cr_expect(strstr(r.err, "\n  member add    --ipw ID --person PERSON [--date YYYY-MM-DD]\n"), "%s", r.err);
    kt_run_free(&r);
    s_koopctl(&r, "ipw", "--help", NULL);
    cr_expect_eq(r.code, 0);
    cr_expect(s_starts(r.out, "użycie: koopctl -c WĘZEŁ.conf ipw CZASOWNIK [--opcja wartość ...]\n"), "%s", r.out);
    cr_expect(strstr(r.out, "\n  open          --household ID --coordinator OSOBA --opened RRRR-MM-DD\n"), "%s",
              r.out);
    kt_run_free(&r);
}

static kt_node_t gmina, hub;

static void
s_setup(void)
{
    cr_assert_eq(kt_node_init(&gmina, "gmina", "2013032", "API", NULL), 0);
    cr_assert_eq(kt_node_start(&gmina, 20), 0);
}

static void
s_teardown(void)
{
    cr_assert_eq(kt_node_destroy(&gmina), 0, "sanitizer reports");
    if (hub.dir[0])
        cr_assert_eq(kt_node_destroy(&hub), 0, "sanitizer reports");
}

/* Sends method with an empty payload to each service that runs on the node
 * and checks that it is known there. */
static void
s_every_method_served(kt_node_t *n, const char *role)
{
    koop_config_t cfg;
    char err[600];
    size_t checked = 0;
    cr_assert_eq(koop_config_load(&cfg, n->conf, err, sizeof err), 0, "%s", err);
    for (size_t i = 0; i < koop_api_nmethods; i++) {
        const koop_api_method_t *a = &koop_api_methods[i];
        const char *names[KOOP_MAX_SERVICES];
        int ns = koop_config_services(&cfg, names);
        for (int s = 0; s < ns; s++) {
            koop_rpc_client_t *c;
            koop_reply_t reply;
            if (strcmp(a->service, "sys") != 0 && strcmp(a->service, names[s]) != 0)
                continue;
            if (!strcmp(a->name, "report.rebuild") || !strcmp(a->name, "feed.fetch"))
                continue; /* a whole rebuild / a long poll: answered, but slowly */
            c = koop_rpc_client_new(koop_config_endpoint(&cfg, names[s]));
            cr_assert_not_null(c);
            cr_assert_eq(koop_rpc_call(c, "", a->name, NULL, 10000, &reply), 0, "%s on %s (%s): no answer", a->name,
                         names[s], role);
            cr_expect(reply.status == KOOP_OK || strcmp(reply.err.code, "method.unknown") != 0,
                      "%s is in api.def but the %s service (%s) does not serve it", a->name, names[s], role);
            koop_reply_clear(&reply);
            koop_rpc_client_destroy(&c);
            checked++;
        }
    }
    cr_assert_gt(checked, 10);
}

Test(api, every_method_of_the_table_is_served, .init = s_setup, .fini = s_teardown, .timeout = 120)
{
    s_every_method_served(&gmina, "gmina");
    {
        int port = 0;
        cr_assert_eq(kt_hub_init(&hub, "2013", "API hub", &port), 0);
    }
    cr_assert_eq(kt_node_start(&hub, 20), 0);
    s_every_method_served(&hub, "hub");
}

static size_t
s_institutions(void)
{
    kt_run_t r;
    size_t n;
    cr_assert_eq(kt_ctl(&r, &gmina, "--json", "institution", "list", NULL), 0, "%s", r.err);
    n = json_array_size(r.json);
    kt_run_free(&r);
    return n;
}

/* Sends institution.add with the given deadline on a raw socket; returns the reply. */
static void
s_add_with_deadline(const koop_config_t *cfg, uint64_t deadline_ms, koop_reply_t *reply)
{
    Koop__Reg__Institution inst = KOOP__REG__INSTITUTION__INIT;
    void *ctx = zmq_ctx_new(), *s = koop_rpc_dealer_new(ctx, koop_config_endpoint(cfg, "registry"));
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    uint8_t *buf;
    size_t len;
    uint64_t id;
    zmq_msg_t m;
    inst.name = "Na czas";
    inst.has_sector = inst.has_level = 1;
    inst.sector = KOOP__REG__SECTOR__SECTOR_NGO;
    inst.level = KOOP__REG__LEVEL__LEVEL_GMINA;
    cr_assert_eq(koop_rpc_pack_call(1, "", "institution.add", &inst.base, deadline_ms, &buf, &len), 0);
    cr_assert_geq(zmq_send(s, buf, len, 0), 0);
    free(buf);
    cr_assert_eq(zmq_poll(&it, 1, 5000), 1, "no answer");
    zmq_msg_init(&m);
    cr_assert_geq(zmq_msg_recv(&m, s, 0), 0);
    cr_assert_eq(koop_rpc_unpack_reply(zmq_msg_data(&m), zmq_msg_size(&m), &id, reply), 0);
    zmq_msg_close(&m);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

Test(api, a_request_past_its_deadline_is_not_executed, .init = s_setup, .fini = s_teardown, .timeout = 60)
{
    koop_config_t cfg;
    koop_reply_t reply;
    char err[600];
    cr_assert_eq(koop_config_load(&cfg, gmina.conf, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s_institutions(), 0);
    s_add_with_deadline(&cfg, koop_clock_real_ms() - 1000, &reply);
    cr_assert_eq(reply.status, KOOP_DEADLINE, "status %d (%s)", reply.status, reply.err.code);
    cr_assert_str_eq(reply.err.code, "request.deadline");
    koop_reply_clear(&reply);
    cr_assert_eq(s_institutions(), 0, "the expired request changed something");
    /* the same request with time left runs */
    s_add_with_deadline(&cfg, koop_clock_real_ms() + 5000, &reply);
    cr_assert_eq(reply.status, KOOP_OK, "status %d (%s)", reply.status, reply.err.code);
    koop_reply_clear(&reply);
    cr_assert_eq(s_institutions(), 1);
}

Test(api, koopctl_json_is_the_presentation_modules_json, .init = s_setup, .fini = s_teardown, .timeout = 60)
{
    const char *methods[][3] = {{"institution", "list", "institution.list"},
                                {"report", "evaluation", "report.evaluation"},
                                {"sync", "status", "sync.status"}};
    koop_config_t cfg;
    char err[600];
    cr_assert_eq(koop_config_load(&cfg, gmina.conf, err, sizeof err), 0, "%s", err);
    free(kt_ctl_id(&gmina, "institution", "add", "--name", "Gminny Ośrodek Pomocy Społecznej", "--sector",
                   "social_assistance", "--level", "gmina", NULL));
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        const koop_api_method_t *a = koop_api_find(methods[i][2]);
        koop_rpc_client_t *c = koop_rpc_client_new(koop_config_endpoint(&cfg, a->service));
        ProtobufCMessage *req = protobuf_c_message_unpack(a->request, NULL, 0, (const uint8_t *)"");
        koop_reply_t reply;
        ProtobufCMessage *rep;
        kt_run_t r;
        char *mine;
        size_t len;
        json_t *j;
        FILE *f;
        cr_assert_eq(koop_rpc_call(c, "", a->name, req, 10000, &reply), 0);
        cr_assert_eq(reply.status, KOOP_OK, "%s: %s", a->name, reply.err.code);
        rep = protobuf_c_message_unpack(a->reply, NULL, reply.len, reply.payload);
        cr_assert_not_null(rep);
        j = koop_present_json(a, rep, KOOP_LANG_PL); /* koopctl's own language: KOOP_LANG is not set */
        f = open_memstream(&mine, &len);
        koop_present_dump(j, f);
        fclose(f);
        cr_assert_eq(kt_ctl(&r, &gmina, "--json", methods[i][0], methods[i][1], NULL), 0, "%s", r.err);
        if (strcmp(a->name, "sync.status") == 0) {
            /* time of last contact may differ between the two calls: compare the shape */
            cr_assert_not_null(r.json);
            cr_assert_str_eq(json_string_value(json_object_get(r.json, "node")),
                             json_string_value(json_object_get(j, "node")));
        } else {
            cr_assert_str_eq(r.out, mine, "koopctl --json %s %s differs from koop_present_json", methods[i][0],
                             methods[i][1]);
        }
        kt_run_free(&r);
        free(mine);
        json_decref(j);
        protobuf_c_message_free_unpacked(rep, NULL);
        protobuf_c_message_free_unpacked(req, NULL);
        koop_reply_clear(&reply);
        koop_rpc_client_destroy(&c);
    }
}
