/* main.c - koopctl: global options, dispatch from api.def, requests and errors (see koopctl.h). */
#include "koopctl.h"
#include "client.h"
#include "koop.h"
#include "password.h"
#include "pbjson.h"
#include "record.h"
#include "present.h"
#include "version.h"
#include "cases.pb-c.h"
#include "registry.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Commands that are not one method of api.def. words: how many argv words
 * name the command (the function gets what follows them); help and
 * help_en: its options in Polish and in English, as api.def's two columns. */
static const struct {
    const char *noun, *verb;
    int words;
    int (*fn)(kc_ctx_t *ctx, int argc, char **argv);
    const char *help, *help_en;
} s_local[] = {
    {"node", "init", 2, kc_node_init,
     "KATALOG --role gmina|hub --teryt KOD --name NAZWA [--hub ADRES --hub-key PLIK --listen ADRES "
     "--smtp URL --http HOST:PORT --id ID --data-dir KATALOG --runtime-dir KATALOG]",
     "DIRECTORY --role gmina|hub --teryt CODE --name NAME [--hub ADDRESS --hub-key FILE --listen ADDRESS "
     "--smtp URL --http HOST:PORT --id ID --data-dir DIRECTORY --runtime-dir DIRECTORY]"},
    {"status", "", 1, kc_status,
     "[--metrics] (usługi, połączenie z hubem, rozmiary danych; kod 3: usługa nie odpowiada, 4: połączenie)",
     "[--metrics] (the services, the link to the hub, the data's sizes; code 3: a service does not answer, "
     "4: the link)"},
    {"events", "list", 2, kc_events, "--stream USŁUGA [--node ID] [--after SEQ] [--limit N]",
     "--stream SERVICE [--node ID] [--after SEQ] [--limit N]"},
    {"keys", "", 1, kc_keys, "show [--file PLIK.pub] | fingerprint | generate [--force] (klucz węzła i jego odcisk)",
     "show [--file FILE.pub] | fingerprint | generate [--force] (the node's key and its fingerprint)"},

    {"enrol", "", 1, kc_enrol, "GMINA/keys/node.pub [--node ID] (hub: dopuść klucz gminy)",
     "MUNICIPALITY/keys/node.pub [--node ID] (hub: admit a municipality's key)"},
    {"unenrol", "", 1, kc_unenrol, "ID_WĘZŁA|PLIK.pub (hub: usuń klucz węzła z listy dopuszczonych)",
     "NODE_ID|FILE.pub (hub: remove a node's key from the admitted ones)"},
    {"backup", "", 1, kc_backup, "KATALOG (kopia zapasowa działającego węzła do nowego katalogu)",
     "DIRECTORY (a backup of the running node, into a new directory)"},
    {"restore", "", 1, kc_restore, "KATALOG (odtworzenie kopii; węzeł zatrzymany)",
     "DIRECTORY (restores a backup; the node stopped)"},
    {"sync", "wait", 2, kc_sync_wait, "[--timeout S] (czekaj, aż hub ma wszystkie zdarzenia)",
     "[--timeout S] (waits until the hub has all the events)"},
};

/* The help's lines are at most this many characters (a paragraph's). */
#define S_HELP_WIDTH 96

/* pl or en: a help of the reader's language. */
static const char *
s_in(koop_lang_t lang, const char *pl, const char *en)
{
    return lang == KOOP_LANG_EN ? en : pl;
}

/* Sentence key of labels.def's set "help" in lang ({1}.. from args), into
 * out; returns out. */
static const char *
s_help_line(koop_lang_t lang, const char *key, const char *const *args, size_t nargs, char *out, size_t len)
{
    koop_present_sentence("help", key, lang, args, nargs, out, len);
    return out;
}

/* Prints sentence key of "help" as a paragraph: lines of at most
 * S_HELP_WIDTH characters broken between words, the following ones
 * indented by two spaces. */
static void
s_help_paragraph(FILE *out, koop_lang_t lang, const char *key, const char *const *args, size_t nargs)
{
    char text[2048];
    size_t col = 0;
    s_help_line(lang, key, args, nargs, text, sizeof text);
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, " "), chars = 0;
        for (size_t i = 0; i < n; i++)
            chars += ((unsigned char)p[i] & 0xc0) != 0x80; /* not a UTF-8 continuation byte */
        if (n) {
            if (col && col + 1 + chars > S_HELP_WIDTH) {
                fputs("\n  ", out);
                col = 2;
            } else if (col) {
                fputc(' ', out);
                col++;
            }
            fprintf(out, "%.*s", (int)n, p);
            col += chars;
        }
        p += n + strspn(p + n, " ");
    }
    fputc('\n', out);
}

/* koopctl --help in lang: the local commands, every command of api.def,
 * the values the options take (the enums' own names, as the options accept
 * them), errors and exit codes. */
static void
s_usage(FILE *out, koop_lang_t lang)
{
    char line[512], as[64], coord[64];
    char sectors[512], levels[256], roles[512], targets[256], areas[512], outcomes[256];
    fprintf(out, "%s\n\n", s_help_line(lang, "usage", NULL, 0, line, sizeof line));
    fprintf(out, "%s\n", s_help_line(lang, "node", NULL, 0, line, sizeof line));
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_local); i++)
        fprintf(out, "  %-17s %-10s %s\n", s_local[i].noun, s_local[i].verb,
                s_in(lang, s_local[i].help, s_local[i].help_en));
    fprintf(out, "\n%s\n", s_help_line(lang, "services", NULL, 0, line, sizeof line));
    s_help_line(lang, "as", NULL, 0, as, sizeof as);
    s_help_line(lang, "coord", NULL, 0, coord, sizeof coord);
    for (size_t i = 0; i < koop_api_nmethods; i++) {
        const koop_api_method_t *m = &koop_api_methods[i];
        const char *help = s_in(lang, m->help, m->help_en);
        if (m->flags & KOOP_API_INTERNAL || !*m->noun) /* web rows: the gateway's own routes */
            continue;
        /* --as once: some rows (inbox) name it in their help already */
        fprintf(out, "  %-17s %-10s %s%s%s\n", m->noun, m->verb,
                (m->flags & KOOP_API_PERSON) && strncmp(help, "--as ", 5) != 0 ? as : "", help,
                m->flags & KOOP_API_COORD ? coord : "");
    }
    fputc('\n', out);
    koop_pbjson_enum_names(&koop__reg__sector__descriptor, sectors, sizeof sectors);
    koop_pbjson_enum_names(&koop__reg__level__descriptor, levels, sizeof levels);
    koop_pbjson_enum_names(&koop__reg__role__descriptor, roles, sizeof roles);
    koop_pbjson_enum_names(&koop__reg__target__descriptor, targets, sizeof targets);
    koop_pbjson_enum_names(&koop__cases__area__descriptor, areas, sizeof areas);
    /* none is the outcome of a programme not closed yet: ipw close takes the rest */
    koop_pbjson_enum_range(&koop__cases__outcome__descriptor, KOOP__CASES__OUTCOME__OUTCOME_SUCCESS, INT_MAX,
                           outcomes, sizeof outcomes);
    s_help_paragraph(out, lang, "values", KOOP_ARGS(sectors, levels, roles, targets));
    s_help_paragraph(out, lang, "cases", KOOP_ARGS(areas, outcomes));
    s_help_paragraph(out, lang, "errors", KOOP_ARGS("{\"error\": {\"code\", \"field\", \"message\"}}"));
    s_help_paragraph(out, lang, "exit", NULL, 0);
}

/* Lists the verbs of a noun (koopctl ipw), and of the two-word nouns it
 * begins ("ipw member add"), in lang. */
static void
s_noun_usage(FILE *out, koop_lang_t lang, const char *noun)
{
    size_t len = strlen(noun);
    char line[512];
    fprintf(out, "%s\n", s_help_line(lang, "noun_usage", KOOP_ARGS(noun), line, sizeof line));
    for (size_t i = 0; i < koop_api_nmethods; i++) {
        const koop_api_method_t *m = &koop_api_methods[i];
        char verb[64];
        if (m->flags & KOOP_API_INTERNAL || strncmp(m->noun, noun, len) != 0 ||
            (m->noun[len] != '\0' && m->noun[len] != ' '))
            continue;
        snprintf(verb, sizeof verb, "%s%s%s", m->noun[len] ? m->noun + len + 1 : "", m->noun[len] ? " " : "", m->verb);
        fprintf(out, "  %-13s %s\n", verb, s_in(lang, m->help, m->help_en));
    }
}

/* ---- errors ---- */

int
kc_fail(kc_ctx_t *ctx, const koop_error_t *e, int exit_code)
{
    char label[80], msg[1024];
    const char *field_label = NULL;
    if (e->field[0]) {
        /* the field as the option that sets it: --share-with */
        koop_field_option(e->field, label, sizeof label);
        field_label = label;
    }
    if (ctx->json) {
        json_t *o = koop_present_error(e, ctx->lang, field_label);
        json_dumpf(o, stderr, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', stderr);
        json_decref(o);
    } else {
        koop_error_render(e, ctx->lang, field_label, msg, sizeof msg);
        fprintf(stderr, "%s: %s\n", ctx->lang == KOOP_LANG_EN ? "error" : "błąd", msg);
    }
    return exit_code;
}

int
kc_fail_id(kc_ctx_t *ctx, int exit_code, koop_err_t id, const char *field, const char *const *args)
{
    koop_error_t e;
    koop_error_set(&e, id, field, args);
    return kc_fail(ctx, &e, exit_code);
}

/* The exit code of a service's refusal. */
static int
s_exit_of(int status)
{
    return status == KOOP_UNAVAILABLE || status == KOOP_DEADLINE ? KC_UNAVAILABLE : KC_REFUSED;
}

int
kc_load_config(kc_ctx_t *ctx)
{
    char err[600];
    if (ctx->cfg_loaded)
        return KC_OK;
    if (!ctx->conf_path)
        return kc_error(ctx, KC_USAGE, CLI_NO_CONFIG, NULL);
    if (koop_config_load(&ctx->cfg, ctx->conf_path, err, sizeof err) != 0)
        return kc_error(ctx, KC_USAGE, CLI_CONFIG, NULL, err);
    ctx->cfg_loaded = 1;
    return KC_OK;
}

json_t *
kc_parse_options(kc_ctx_t *ctx, int argc, char **argv)
{
    json_t *obj = json_object();
    for (int i = 0; obj && i < argc; i++) {
        const char *a = argv[i];
        char key[64];
        json_t *v;
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            kc_error(ctx, KC_USAGE, CLI_ARGUMENT, NULL, a);
            goto fail;
        }
        /* option names use dashes, fields underscores */
        snprintf(key, sizeof key, "%s", a + 2);
        for (char *p = key; *p; p++)
            if (*p == '-')
                *p = '_';
        if (i + 1 >= argc) {
            kc_error(ctx, KC_USAGE, FIELD_NO_VALUE, key);
            goto fail;
        }
        if (json_object_get(obj, key)) {
            kc_error(ctx, KC_USAGE, FIELD_TWICE, key);
            goto fail;
        }
        v = json_string(argv[i + 1]);
        if (!v) {
            kc_error(ctx, KC_USAGE, FIELD_NOT_UTF8, key);
            goto fail;
        }
        json_object_set_new(obj, key, v);
        i++;
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

int
kc_call(kc_ctx_t *ctx, const char *service, const char *method, const ProtobufCMessage *req,
        const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **out)
{
    const char *ep;
    koop_rpc_client_t *client;
    koop_reply_t reply;
    char ms[24];
    int rc;

    *out = NULL;
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    ep = koop_config_endpoint(&ctx->cfg, service);
    if (!ep)
        return kc_error(ctx, KC_USAGE, CLI_NO_SERVICE, NULL, ctx->cfg.node_id, service, ctx->conf_path);
    client = koop_rpc_client_new(ep);
    if (!client)
        return kc_error(ctx, KC_UNAVAILABLE, CLI_EXCHANGE, NULL, service, strerror(errno));
    rc = koop_rpc_call(client, ctx->as, method, req, ctx->timeout_ms, &reply);
    koop_rpc_client_destroy(&client);
    if (rc == -ETIMEDOUT)
        return kc_error(ctx, KC_UNAVAILABLE, CLI_NO_ANSWER, NULL, service, ep, koop_num_str(ms, ctx->timeout_ms),
                        ctx->conf_path);
    if (rc != 0)
        return kc_error(ctx, KC_UNAVAILABLE, CLI_EXCHANGE, NULL, service, strerror(-rc));
    if (reply.status != KOOP_OK) {
        rc = kc_fail(ctx, &reply.err, s_exit_of(reply.status));
        koop_reply_clear(&reply);
        return rc;
    }
    if (reply_desc) {
        *out = protobuf_c_message_unpack(reply_desc, NULL, reply.len, reply.payload);
        if (!*out) {
            koop_reply_clear(&reply);
            return kc_error(ctx, KC_UNAVAILABLE, CLI_BAD_REPLY, NULL, service);
        }
    }
    koop_reply_clear(&reply);
    return KC_OK;
}

void
kc_say_on(const kc_ctx_t *ctx, FILE *out, const char *set, const char *key, const char *const *args, size_t nargs)
{
    char line[8192]; /* the longest sentence with paths of PATH_MAX in it */
    koop_present_sentence(set, key, ctx->lang, args, nargs, line, sizeof line);
    fprintf(out, "%s\n", line);
}

void
kc_say(kc_ctx_t *ctx, const char *set, const char *key, const char *const *args, size_t nargs)
{
    kc_say_on(ctx, stdout, set, key, args, nargs);
}

void
kc_print(kc_ctx_t *ctx, json_t *value)
{
    if (ctx->json)
        koop_present_dump(value, stdout);
    else
        koop_present_value_text(value, ctx->lang, stdout);
}

/* The `ok` field of a check's reply (api.def KOOP_API_CHECK). */
static int
s_reply_ok(const ProtobufCMessage *rep)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(rep->descriptor, "ok");
    if (!f || f->type != PROTOBUF_C_TYPE_BOOL)
        return 1;
    return *(const protobuf_c_boolean *)((const char *)rep + f->offset) != 0;
}

/* A request field password_hash (koopctl account create/reset) is never an
 * option: the password is read from standard input, checked and hashed here
 * with the node's parameters, so it never leaves koopctl. */
static int
s_password_option(kc_ctx_t *ctx, json_t *opts)
{
    char pw[KOOP_PASSWORD_MAX + 2], hash[KOOP_PASSWORD_HASH_MAX];
    koop_pwparams_t params;
    int len, rc;
    if (json_object_get(opts, "password_hash"))
        return kc_error(ctx, KC_USAGE, FIELD_UNKNOWN, "password_hash");
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    len = koop_password_read(stdin, pw, sizeof pw);
    if (len < 0 || koop_password_chars(pw) < KOOP_PASSWORD_MIN_CHARS) {
        sodium_memzero(pw, sizeof pw);
        return kc_error(ctx, KC_USAGE, ACCOUNT_PASSWORD_SHORT, NULL, KOOP_NUM(KOOP_PASSWORD_MIN_CHARS));
    }
    koop_password_params(&ctx->cfg, &params);
    rc = koop_password_hash(pw, (size_t)len, &params, hash);
    sodium_memzero(pw, sizeof pw);
    if (rc != 0)
        return kc_error(ctx, KC_UNAVAILABLE, INTERNAL_NO_MEMORY, NULL);
    json_object_set_new(opts, "password_hash", json_string(hash));
    return KC_OK;
}

/* 1 when `--opt` names a bool field of desc (a flag: --cancel-open alone
 * means --cancel-open true). */
static int
s_flag(const ProtobufCMessageDescriptor *desc, const char *opt)
{
    char key[64];
    const ProtobufCFieldDescriptor *f;
    if (strncmp(opt, "--", 2) != 0)
        return 0;
    snprintf(key, sizeof key, "%s", opt + 2);
    for (char *p = key; *p; p++)
        if (*p == '-')
            *p = '_';
    f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
    return f && f->type == PROTOBUF_C_TYPE_BOOL;
}


/* Runs one method of api.def: options -> request, reply -> output. A
 * report also takes --json / --csv after the verb; a bool option given
 * without a value is true. */
static int
s_run_method(kc_ctx_t *ctx, const koop_api_method_t *m, int argc, char **argv)
{
    koop_fmt_t fmt = KOOP_FMT_TEXT;
    koop_error_t err;
    ProtobufCMessage *req, *rep = NULL;
    char **rest = calloc(2 * (size_t)argc + 1, sizeof *rest);
    json_t *opts;
    int nrest = 0, rc;

    if (!rest)
        return kc_error(ctx, KC_UNAVAILABLE, INTERNAL_NO_MEMORY, NULL);
    for (int i = 0; i < argc; i++) {
        if ((m->flags & KOOP_API_REPORT) && strcmp(argv[i], "--json") == 0)
            ctx->json = 1;
        else if ((m->flags & KOOP_API_REPORT) && strcmp(argv[i], "--csv") == 0)
            fmt = KOOP_FMT_CSV;
        else {
            rest[nrest++] = argv[i];
            if (s_flag(m->request, argv[i]) && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0))
                rest[nrest++] = "true";
        }
    }
    if (fmt == KOOP_FMT_CSV && ctx->json) {
        free(rest);
        return kc_error(ctx, KC_USAGE, FIELD_INVALID, "csv", "--json");
    }
    opts = kc_parse_options(ctx, nrest, rest);
    free(rest);
    if (!opts)
        return KC_USAGE;
    if (protobuf_c_message_descriptor_get_field_by_name(m->request, "password_hash") &&
        (rc = s_password_option(ctx, opts)) != KC_OK) {
        json_decref(opts);
        return rc;
    }
    req = koop_pbjson_from_json(m->request, opts, &err);
    json_decref(opts);
    if (!req) {
        rc = kc_fail(ctx, &err, KC_USAGE);
        if (!ctx->json)
            fprintf(stderr, "  użycie: koopctl %s %s %s\n", m->noun, m->verb, m->help);
        return rc;
    }
    if ((m->flags & KOOP_API_PERSON) && (!ctx->as || !*ctx->as)) {
        protobuf_c_message_free_unpacked(req, NULL);
        return kc_error(ctx, KC_REFUSED, CLI_NO_PERSON, "as");
    }
    {
        /* a sys method (every service has it) goes to the service it names */
        const char *service = m->service;
        if (strcmp(service, "sys") == 0)
            service = koop_record_str(req, "stream");
        if (!service || !*service) {
            protobuf_c_message_free_unpacked(req, NULL);
            return kc_error(ctx, KC_USAGE, FIELD_REQUIRED, "stream");
        }
        rc = kc_call(ctx, service, m->name, req, m->reply, &rep);
    }
    protobuf_c_message_free_unpacked(req, NULL);
    if (rc != KC_OK)
        return rc;
    if (ctx->json) {
        size_t len = 0;
        char *out = koop_present_json_text(m, rep, ctx->lang, &len);
        if (!out) {
            protobuf_c_message_free_unpacked(rep, NULL);
            return kc_error(ctx, KC_UNAVAILABLE, INTERNAL_NO_MEMORY, NULL);
        }
        fwrite(out, 1, len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        free(out);
    } else {
        koop_present_text(m, rep, fmt, ctx->lang, stdout);
    }
    /* a check that found something exits as a refusal does */
    if ((m->flags & KOOP_API_CHECK) && !s_reply_ok(rep))
        rc = KC_REFUSED;
    protobuf_c_message_free_unpacked(rep, NULL);
    return rc != KC_OK ? rc : kc_follow(ctx, m);
}

int
main(int argc, char **argv)
{
    kc_ctx_t ctx = {.timeout_ms = KC_TIMEOUT_DEFAULT_MS, .lang = koop_lang_from_env()};
    const koop_api_method_t *m;
    int i = 1, known, help = 0;

    for (; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc)
            ctx.conf_path = argv[++i];
        else if (strcmp(a, "--json") == 0)
            ctx.json = 1;
        else if (strcmp(a, "--as") == 0 && i + 1 < argc)
            ctx.as = argv[++i];
        else if (strcmp(a, "--timeout") == 0 && i + 1 < argc)
            ctx.timeout_ms = atoi(argv[++i]) > 0 ? atoi(argv[i]) : KC_TIMEOUT_DEFAULT_MS;
        else if (strcmp(a, "--lang") == 0 && i + 1 < argc) {
            int l = koop_lang_parse(argv[++i]);
            if (l < 0)
                return kc_error(&ctx, KC_USAGE, CLI_LANG, "lang", argv[i]);
            ctx.lang = (koop_lang_t)l;
        } else if (strcmp(a, "--version") == 0) {
            koop_version_print();
            return 0;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help = 1; /* printed after the other options: --help --lang en is in English */
        } else if (a[0] == '-') {
            return kc_error(&ctx, KC_USAGE, CLI_GLOBAL_OPTION, NULL, a);
        } else
            break;
    }
    if (help || i >= argc) {
        s_usage(help ? stdout : stderr, ctx.lang);
        return help ? 0 : KC_USAGE;
    }
    for (size_t k = 0; k < KOOP_ARRAY_LEN(s_local); k++) {
        if (strcmp(argv[i], s_local[k].noun) != 0)
            continue;
        if (s_local[k].words == 2 && (i + 1 >= argc || strcmp(argv[i + 1], s_local[k].verb) != 0))
            continue;
        return s_local[k].fn(&ctx, argc - i - s_local[k].words, argv + i + s_local[k].words);
    }
    /* two-word nouns first ("ipw member add") */
    if (i + 2 < argc) {
        char noun2[128];
        snprintf(noun2, sizeof noun2, "%s %s", argv[i], argv[i + 1]);
        m = koop_api_find_cli(noun2, argv[i + 2], &known);
        if (m)
            return s_run_method(&ctx, m, argc - i - 3, argv + i + 3);
    }
    m = koop_api_find_cli(argv[i], i + 1 < argc ? argv[i + 1] : NULL, &known);
    if (!m) {
        char cmd[160];
        if (known && (i + 1 >= argc || strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0)) {
            s_noun_usage(i + 1 >= argc ? stderr : stdout, ctx.lang, argv[i]);
            return i + 1 >= argc ? KC_USAGE : 0;
        }
        snprintf(cmd, sizeof cmd, "%s%s%s", argv[i], known && i + 1 < argc ? " " : "",
                 known && i + 1 < argc ? argv[i + 1] : "");
        return kc_error(&ctx, KC_USAGE, CLI_UNKNOWN_COMMAND, NULL, cmd);
    }
    return s_run_method(&ctx, m, argc - i - 2, argv + i + 2);
}
