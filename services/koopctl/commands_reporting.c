/*
 * commands_reporting.c - koopctl commands served by the reporting service.
 *
 *   report evaluation [--unit U] [--from D] [--to D] [--as-of D] [--json|--csv]
 *   report indicators [the same]
 *   report rebuild            replay the logs into an empty projection
 *   report status             feeds, counts of events, known units
 *
 * evaluation and indicators (KC_REPORT) take --json and --csv as flags after
 * the verb, and print the report themselves: --json one object (evaluation:
 * the figures as keys; indicators: a "figures" array), --csv for
 * spreadsheets (RFC 4180, decimal point), else Polish text. A figure that is
 * suppressed above a gmina is "<3"; one without a value (no denominator) is
 * null / empty / "–".
 */
#include "koopctl.h"
#include "envelope.pb-c.h"
#include "reporting.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R(noun, verb, method, req, rep, flags, help)                                             \
    {noun, verb, "reporting", method, &req##__descriptor, &rep##__descriptor, flags, help}

const kc_command_t kc_reporting_commands[] = {
    R("report", "evaluation", "report.evaluation", koop__rep__report_query, koop__rep__report, KC_REPORT,
      "[--unit WĘZEŁ|TERYT --from RRRR-MM-DD --to RRRR-MM-DD --as-of RRRR-MM-DD] [--json|--csv]"),
    R("report", "indicators", "report.indicators", koop__rep__report_query, koop__rep__report, KC_REPORT,
      "[--unit WĘZEŁ|TERYT --from RRRR-MM-DD --to RRRR-MM-DD --as-of RRRR-MM-DD] [--json|--csv]"),
    R("report", "rebuild", "report.rebuild", koop__empty, koop__rep__rebuild_reply, 0,
      "(odtwórz wskaźniki od początku dzienników)"),
    R("report", "status", "report.status", koop__empty, koop__rep__status, 0,
      "(kanały zdarzeń, liczba zdarzeń, znane jednostki)"),
};
const size_t kc_reporting_ncommands = sizeof kc_reporting_commands / sizeof kc_reporting_commands[0];

static const struct {
    const char *group;
    const char *title;
} s_groups[] = {
    {"pzk", "PZK i podmioty partnerskie"},
    {"ipw", "Indywidualne Programy Współpracy (IPW)"},
    {"goals", "Cele i skalowanie PSR"},
    {"tasks", "Zadania z terminem w okresie"},
    {"referrals", "Skierowania do usług z listy"},
    {"zzk", "Zadaniowe Zespoły Kooperacyjne (ZZK) w IPW realizowanych w okresie"},
    {"catalogue", "Lista aktywności i usług (stan na dzień raportu)"},
    {"units", "Jednostki"},
};

/* ---- values ---- */

static json_t *
s_json_value(const Koop__Rep__Figure *f)
{
    if (f->suppressed)
        return json_string("<3");
    if (!f->has_value)
        return json_null();
    if (f->decimals)
        return json_real(f->value);
    return json_integer((json_int_t)(f->value + (f->value >= 0 ? 0.5 : -0.5)));
}

/* The value for text (decimal comma) or CSV (decimal point). */
static void
s_text_value(char *out, size_t len, const Koop__Rep__Figure *f, int csv)
{
    if (f->suppressed)
        snprintf(out, len, "<3");
    else if (!f->has_value)
        snprintf(out, len, "%s", csv ? "" : "–");
    else if (f->decimals) {
        char *dot;
        snprintf(out, len, "%.1f", f->value);
        if (!csv && (dot = strchr(out, '.')))
            *dot = ',';
    } else
        snprintf(out, len, "%lld", (long long)(f->value + (f->value >= 0 ? 0.5 : -0.5)));
}

static void
s_csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* Prints s padded to width characters (labels are Polish UTF-8). */
static void
s_padded(const char *s, int width)
{
    int chars = 0;
    for (const char *c = s; *c; c++)
        chars += ((unsigned char)*c & 0xc0) != 0x80;
    fputs(s, stdout);
    for (; chars < width; chars++)
        fputc(' ', stdout);
}

static void
s_dump(json_t *o)
{
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    fputc('\n', stdout);
}

static json_t *
s_header_json(const Koop__Rep__Report *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "unit", json_string(r->unit ? r->unit : ""));
    json_object_set_new(o, "unit_name", json_string(r->unit_name ? r->unit_name : ""));
    json_object_set_new(o, "teryt", json_string(r->teryt ? r->teryt : ""));
    json_object_set_new(o, "level", json_string(r->level ? r->level : ""));
    json_object_set_new(o, "from", r->from && *r->from ? json_string(r->from) : json_null());
    json_object_set_new(o, "to", r->to && *r->to ? json_string(r->to) : json_null());
    json_object_set_new(o, "as_of", json_string(r->as_of ? r->as_of : ""));
    json_object_set_new(o, "small_counts_suppressed", json_boolean(r->small_counts_suppressed));
    json_object_set_new(o, "events", json_integer((json_int_t)r->events));
    return o;
}

static void
s_text_header(const char *what, const Koop__Rep__Report *r)
{
    printf("%s: %s%s%s (%s, TERYT %s)\n", what, r->unit_name && *r->unit_name ? r->unit_name : r->unit,
           r->unit_name && *r->unit_name ? " – " : "", r->unit_name && *r->unit_name ? r->unit : "", r->level,
           r->teryt && *r->teryt ? r->teryt : "nieznany");
    printf("Okres: %s – %s (stan na %s)%s\n", r->from && *r->from ? r->from : "od początku",
           r->to && *r->to ? r->to : r->as_of, r->as_of,
           r->small_counts_suppressed ? "; liczby 1–2 ukryte jako <3" : "");
}

static void
s_csv_header(FILE *out)
{
    fputs("unit,teryt,level,from,to,as_of", out);
}

static void
s_csv_unit(FILE *out, const Koop__Rep__Report *r)
{
    s_csv_field(out, r->unit ? r->unit : "");
    fputc(',', out);
    s_csv_field(out, r->teryt ? r->teryt : "");
    fputc(',', out);
    s_csv_field(out, r->level ? r->level : "");
    fprintf(out, ",%s,%s,%s", r->from ? r->from : "", r->to ? r->to : "", r->as_of ? r->as_of : "");
}

/* ---- the two reports ---- */

static void
s_print_evaluation(kc_ctx_t *ctx, int csv, const Koop__Rep__Report *r)
{
    if (ctx->json) {
        json_t *o = s_header_json(r);
        for (size_t i = 0; i < r->n_figures; i++)
            if (!r->figures[i]->dim || !*r->figures[i]->dim)
                json_object_set_new(o, r->figures[i]->key, s_json_value(r->figures[i]));
        json_object_set_new(o, "summary", json_string(r->summary ? r->summary : ""));
        s_dump(o);
        json_decref(o);
    } else if (csv) {
        char v[64];
        s_csv_header(stdout);
        for (size_t i = 0; i < r->n_figures; i++)
            printf(",%s", r->figures[i]->key);
        fputc('\n', stdout);
        s_csv_unit(stdout, r);
        for (size_t i = 0; i < r->n_figures; i++) {
            s_text_value(v, sizeof v, r->figures[i], 1);
            printf(",%s", v);
        }
        fputc('\n', stdout);
    } else {
        char v[64];
        s_text_header("Ocena modelu kooperacji", r);
        printf("\n%s\n\n", r->summary ? r->summary : "");
        for (size_t i = 0; i < r->n_figures; i++) {
            s_text_value(v, sizeof v, r->figures[i], 0);
            fputs("  ", stdout);
            s_padded(r->figures[i]->label, 82);
            printf(" %s%s\n", v, strstr(r->figures[i]->key, "_rate") && r->figures[i]->has_value ? " %" : "");
        }
    }
}

static void
s_print_indicators(kc_ctx_t *ctx, int csv, const Koop__Rep__Report *r)
{
    char v[64];
    if (ctx->json) {
        json_t *o = s_header_json(r), *arr = json_array();
        for (size_t i = 0; i < r->n_figures; i++) {
            const Koop__Rep__Figure *f = r->figures[i];
            json_t *x = json_object();
            json_object_set_new(x, "group", json_string(f->group));
            json_object_set_new(x, "key", json_string(f->key));
            json_object_set_new(x, "dim", json_string(f->dim ? f->dim : ""));
            json_object_set_new(x, "label", json_string(f->label));
            if (f->dim_label && *f->dim_label)
                json_object_set_new(x, "dim_label", json_string(f->dim_label));
            json_object_set_new(x, "value", s_json_value(f));
            json_array_append_new(arr, x);
        }
        json_object_set_new(o, "figures", arr);
        s_dump(o);
        json_decref(o);
        return;
    }
    if (csv) {
        s_csv_header(stdout);
        fputs(",group,key,dim,label,value\n", stdout);
        for (size_t i = 0; i < r->n_figures; i++) {
            const Koop__Rep__Figure *f = r->figures[i];
            s_csv_unit(stdout, r);
            printf(",%s,%s,", f->group, f->key);
            s_csv_field(stdout, f->dim ? f->dim : "");
            fputc(',', stdout);
            s_csv_field(stdout, f->label);
            s_text_value(v, sizeof v, f, 1);
            printf(",%s\n", v);
        }
        return;
    }
    s_text_header("Wskaźniki modelu kooperacji", r);
    for (size_t g = 0; g < sizeof s_groups / sizeof s_groups[0]; g++) {
        int any = 0;
        for (size_t i = 0; i < r->n_figures; i++) {
            const Koop__Rep__Figure *f = r->figures[i];
            char line[400];
            if (strcmp(f->group, s_groups[g].group) != 0)
                continue;
            if (!any)
                printf("\n%s\n", s_groups[g].title);
            any = 1;
            s_text_value(v, sizeof v, f, 0);
            if (f->dim && *f->dim)
                snprintf(line, sizeof line, "    – %s", f->dim_label && *f->dim_label ? f->dim_label : f->dim);
            else
                snprintf(line, sizeof line, "  %s", f->label);
            s_padded(line, 84);
            printf(" %s%s\n", v, strstr(f->key, "_rate") && f->has_value ? " %" : "");
        }
    }
}

int
kc_report_run(kc_ctx_t *ctx, const kc_command_t *cmd, int argc, char **argv)
{
    static const char *const known[] = {"unit", "from", "to", "as_of"};
    Koop__Rep__ReportQuery q = KOOP__REP__REPORT_QUERY__INIT;
    ProtobufCMessage *rep = NULL;
    char *vals[4] = {NULL, NULL, NULL, NULL};
    int csv = 0, rc;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        size_t k;
        if (strcmp(a, "--json") == 0) {
            ctx->json = 1;
            continue;
        }
        if (strcmp(a, "--csv") == 0) {
            csv = 1;
            continue;
        }
        for (k = 0; k < 4; k++) {
            char opt[16];
            snprintf(opt, sizeof opt, "--%s", known[k]);
            if (k == 3 && strcmp(a, "--as-of") == 0)
                break;
            if (strcmp(a, opt) == 0)
                break;
        }
        if (k == 4 || i + 1 >= argc) {
            fprintf(stderr, "błąd: %s '%s'\n  użycie: koopctl %s %s %s\n",
                    k == 4 ? "nieznana opcja" : "brak wartości opcji", a, cmd->noun, cmd->verb, cmd->help);
            return KC_USAGE;
        }
        if (vals[k]) {
            fprintf(stderr, "błąd: opcja %s podana dwa razy\n", a);
            return KC_USAGE;
        }
        vals[k] = argv[++i];
        if (strlen(vals[k]) > 64) {
            fprintf(stderr, "błąd: wartość opcji %s jest za długa\n", a);
            return KC_USAGE;
        }
    }
    if (csv && ctx->json) {
        fprintf(stderr, "błąd: wybierz jeden format: --json albo --csv\n");
        return KC_USAGE;
    }
    q.unit = vals[0];
    q.from = vals[1];
    q.to = vals[2];
    q.as_of = vals[3];
    rc = kc_call(ctx, cmd->service, cmd->method, &q.base, cmd->reply, &rep);
    if (rc != KC_OK)
        return rc;
    if (strcmp(cmd->verb, "evaluation") == 0)
        s_print_evaluation(ctx, csv, (const Koop__Rep__Report *)rep);
    else
        s_print_indicators(ctx, csv, (const Koop__Rep__Report *)rep);
    fflush(stdout);
    protobuf_c_message_free_unpacked(rep, NULL);
    return KC_OK;
}
