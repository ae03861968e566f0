/* main.c - koopctl: global options, dispatch, requests and output (see koopctl.h). */
#include "koopctl.h"
#include "koop.h"
#include "pbjson.h"
#include "rpc.h"
#include "version.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const kc_command_t *table;
    const size_t *n;
} s_table;

static const s_table s_tables[] = {
    {kc_registry_commands, &kc_registry_ncommands},
    {kc_notifier_commands, &kc_notifier_ncommands},
    {kc_cases_commands, &kc_cases_ncommands},
    {kc_reporting_commands, &kc_reporting_ncommands},
};

static void
s_usage(FILE *out)
{
    fprintf(out,
            "użycie: koopctl -c WĘZEŁ.conf [--json] [--as OSOBA] RZECZOWNIK CZASOWNIK [--opcja wartość ...]\n"
            "        koopctl node init KATALOG --role gmina|hub --teryt KOD --name NAZWA [--hub ADRES --hub-key PLIK\n"
            "                --listen ADRES --smtp URL --id ID --data-dir KATALOG --runtime-dir KATALOG]\n"
            "        koopctl -c WĘZEŁ.conf status\n"
            "        koopctl -c WĘZEŁ.conf events list --stream USŁUGA [--node ID] [--after SEQ] [--limit N]\n"
            "        koopctl -c WĘZEŁ.conf sync status\n"
            "        koopctl -c HUB.conf enrol GMINA/keys/node.pub [--node ID]\n"
            "        koopctl -c WĘZEŁ.conf keys generate [--force]\n\n"
            "Polecenia:\n");
    for (size_t t = 0; t < KOOP_ARRAY_LEN(s_tables); t++)
        for (size_t i = 0; i < *s_tables[t].n; i++) {
            const kc_command_t *c = &s_tables[t].table[i];
            fprintf(out, "  %-17s %-9s %s\n", c->noun, c->verb, c->help);
        }
    fprintf(out,
            "\nWartości: sektory social_assistance family_support labour_office police court education\n"
            "  health housing ngo culture_sport church other; poziomy gmina powiat voivodeship;\n"
            "  role social_worker family_assistant coordinator animator model_expert supervisor\n"
            "  probation_officer teacher psychologist police_officer other; grupy docelowe (po przecinku)\n"
            "  children_youth adults families seniors pzk_members; daty RRRR-MM-DD.\n"
            "Sprawy (wymagają --as OSOBA): obszary celów work housing health addiction parenting education\n"
            "  finances relations legal other; skala PSR 0-10; wyniki IPW success no_success discontinued.\n"
            "Kody wyjścia: 0 ok, 1 odmowa usługi, 2 błąd użycia, 3 usługa nie odpowiada.\n");
}

int
kc_load_config(kc_ctx_t *ctx)
{
    char err[600];
    if (ctx->cfg_loaded)
        return KC_OK;
    if (!ctx->conf_path) {
        fprintf(stderr, "błąd: podaj plik konfiguracji węzła: koopctl -c WĘZEŁ/koop.conf ...\n");
        return KC_USAGE;
    }
    if (koop_config_load(&ctx->cfg, ctx->conf_path, err, sizeof err) != 0) {
        fprintf(stderr, "błąd konfiguracji: %s\n", err);
        return KC_USAGE;
    }
    ctx->cfg_loaded = 1;
    return KC_OK;
}

json_t *
kc_parse_options(int argc, char **argv)
{
    json_t *obj = json_object();
    for (int i = 0; obj && i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            fprintf(stderr, "błąd: nieoczekiwany argument '%s' (opcje mają postać --nazwa wartość)\n", a);
            goto fail;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "błąd: opcja %s wymaga wartości\n", a);
            goto fail;
        }
        if (json_object_get(obj, a + 2)) {
            fprintf(stderr, "błąd: opcja %s podana dwa razy\n", a);
            goto fail;
        }
        /* option names use dashes, fields underscores */
        char key[64];
        snprintf(key, sizeof key, "%s", a + 2);
        for (char *p = key; *p; p++)
            if (*p == '-')
                *p = '_';
        json_t *v = json_string(argv[i + 1]);
        if (!v) {
            fprintf(stderr, "błąd: wartość opcji %s nie jest poprawnym tekstem UTF-8\n", a);
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
    int rc;

    *out = NULL;
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    ep = koop_config_endpoint(&ctx->cfg, service);
    if (!ep) {
        fprintf(stderr, "błąd: węzeł %s nie ma usługi %s (brak adresu w [endpoints] w %s)\n",
                ctx->cfg.node_id, service, ctx->conf_path);
        return KC_USAGE;
    }
    client = koop_rpc_client_new(ep);
    if (!client) {
        fprintf(stderr, "błąd: nie można połączyć się z usługą %s (%s): %s\n", service, ep, strerror(errno));
        return KC_UNAVAILABLE;
    }
    rc = koop_rpc_call(client, ctx->as, method, req, ctx->timeout_ms, &reply);
    koop_rpc_client_destroy(&client);
    if (rc == -ETIMEDOUT) {
        fprintf(stderr,
                "błąd: usługa %s nie odpowiada (%s) w ciągu %d ms – czy węzeł działa? "
                "(koop-node -c %s)\n",
                service, ep, ctx->timeout_ms, ctx->conf_path);
        return KC_UNAVAILABLE;
    }
    if (rc != 0) {
        fprintf(stderr, "błąd: wymiana z usługą %s nie powiodła się: %s\n", service, strerror(-rc));
        return KC_UNAVAILABLE;
    }
    if (reply.status != KOOP_OK) {
        int status = reply.status; /* koop_reply_clear zeroes the reply */
        fprintf(stderr, "błąd (%s): %s\n", koop_status_name(status), reply.error ? reply.error : "bez opisu");
        koop_reply_clear(&reply);
        return status == KOOP_UNAVAILABLE ? KC_UNAVAILABLE : KC_REFUSED;
    }
    if (reply_desc) {
        *out = protobuf_c_message_unpack(reply_desc, NULL, reply.len, reply.payload);
        if (!*out) {
            fprintf(stderr, "błąd: nie można odczytać odpowiedzi usługi %s\n", service);
            koop_reply_clear(&reply);
            return KC_UNAVAILABLE;
        }
    }
    koop_reply_clear(&reply);
    return KC_OK;
}

int
kc_run_command(kc_ctx_t *ctx, const kc_command_t *cmd, int argc, char **argv)
{
    char err[600];
    json_t *opts, *out;
    ProtobufCMessage *req, *rep = NULL;
    int rc;

    if (cmd->flags & KC_REPORT)
        return kc_report_run(ctx, cmd, argc, argv);
    opts = kc_parse_options(argc, argv);
    if (!opts)
        return KC_USAGE;
    req = koop_pbjson_from_json(cmd->request, opts, err, sizeof err);
    json_decref(opts);
    if (!req) {
        fprintf(stderr, "błąd: %s\n  użycie: koopctl %s %s %s\n", err, cmd->noun, cmd->verb, cmd->help);
        return KC_USAGE;
    }
    if ((cmd->flags & KC_AS) && (!ctx->as || !*ctx->as)) {
        protobuf_c_message_free_unpacked(req, NULL);
        fprintf(stderr, "błąd: to polecenie wymaga podania osoby działającej: --as ID_OSOBY\n");
        return KC_REFUSED;
    }
    rc = kc_call(ctx, cmd->service, cmd->method, req, cmd->reply, &rep);
    protobuf_c_message_free_unpacked(req, NULL);
    if (rc != KC_OK)
        return rc;
    out = koop_pbjson_to_json(rep);
    protobuf_c_message_free_unpacked(rep, NULL);
    if (cmd->flags & KC_LIST) {
        json_t *items = json_object_get(out, "items");
        items = items ? json_incref(items) : json_array();
        json_decref(out);
        out = items;
    }
    kc_print(ctx, out);
    json_decref(out);
    return KC_OK;
}

static const kc_command_t *
s_find(const char *noun, const char *verb, int *noun_known)
{
    *noun_known = 0;
    for (size_t t = 0; t < KOOP_ARRAY_LEN(s_tables); t++)
        for (size_t i = 0; i < *s_tables[t].n; i++) {
            const kc_command_t *c = &s_tables[t].table[i];
            if (strcmp(c->noun, noun) == 0) {
                *noun_known = 1;
                if (verb && strcmp(c->verb, verb) == 0)
                    return c;
            }
        }
    return NULL;
}

int
main(int argc, char **argv)
{
    kc_ctx_t ctx = {.timeout_ms = 15000};
    const kc_command_t *cmd;
    int i = 1, known;

    for (; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc)
            ctx.conf_path = argv[++i];
        else if (strcmp(a, "--json") == 0)
            ctx.json = 1;
        else if (strcmp(a, "--as") == 0 && i + 1 < argc)
            ctx.as = argv[++i];
        else if (strcmp(a, "--timeout") == 0 && i + 1 < argc)
            ctx.timeout_ms = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 15000;
        else if (strcmp(a, "--version") == 0) {
            koop_version_print();
            return 0;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            s_usage(stdout);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "błąd: nieznana opcja globalna %s (lub brak jej wartości)\n", a);
            return KC_USAGE;
        } else
            break;
    }
    if (i >= argc) {
        s_usage(stderr);
        return KC_USAGE;
    }
    if (strcmp(argv[i], "node") == 0 && i + 1 < argc && strcmp(argv[i + 1], "init") == 0)
        return kc_node_init(argc - i - 2, argv + i + 2);
    if (strcmp(argv[i], "events") == 0)
        return kc_events(&ctx, argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "status") == 0)
        return kc_status(&ctx, argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "sync") == 0)
        return kc_sync(&ctx, argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "keys") == 0)
        return kc_keys(&ctx, argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "enrol") == 0)
        return kc_enrol(&ctx, argc - i - 1, argv + i + 1);
    /* two-word nouns first ("ipw member add") */
    if (i + 2 < argc) {
        char noun2[128];
        snprintf(noun2, sizeof noun2, "%s %s", argv[i], argv[i + 1]);
        cmd = s_find(noun2, argv[i + 2], &known);
        if (cmd)
            return kc_run_command(&ctx, cmd, argc - i - 3, argv + i + 3);
    }
    cmd = s_find(argv[i], i + 1 < argc ? argv[i + 1] : NULL, &known);
    if (!cmd) {
        if (known)
            fprintf(stderr, "błąd: nieznane polecenie '%s %s' (koopctl --help)\n", argv[i],
                    i + 1 < argc ? argv[i + 1] : "");
        else
            fprintf(stderr, "błąd: nieznane polecenie '%s' (koopctl --help)\n", argv[i]);
        return KC_USAGE;
    }
    return kc_run_command(&ctx, cmd, argc - i - 2, argv + i + 2);
}
