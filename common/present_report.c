/*
 * present_report.c - report figures (report evaluation / indicators) as
 * JSON, CSV and Polish text (see present.h).
 *
 * JSON: evaluation is one object with the figures as keys and "suppressed",
 * the list of keys hidden; indicators has a "figures" array whose figures
 * each say "suppressed": true/false. A figure hidden above a gmina (a small
 * count, or one that would tell it: services/reporting/suppress.c) has the
 * value null there, reads "ukryte" in text and is empty in CSV, with
 * "suppressed" 1 (indicators) or its key in the last column (evaluation);
 * one without a value (no denominator) is null / empty / "–". Never "<3":
 * a hidden figure may be any number, and a mean read "<3" means "less than
 * three months".
 */
#include "present.h"
#include "pbjson.h"
#include "reporting.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (f->suppressed || !f->has_value)
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
        snprintf(out, len, "%s", csv ? "" : "ukryte");
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
    if (r->approval) {
        /* approved periods (services/reporting/approval.c) */
        json_t *list = json_array();
        json_object_set_new(o, "approval", json_string(r->approval));
        for (size_t i = 0; i < r->n_approvals; i++)
            json_array_append_new(list, koop_pbjson_to_json(&r->approvals[i]->base));
        json_object_set_new(o, "approvals", list);
    }
    return o;
}

static void
s_text_header(FILE *out, const char *what, const Koop__Rep__Report *r)
{
    fprintf(out, "%s: %s%s%s (%s, TERYT %s)\n", what, r->unit_name && *r->unit_name ? r->unit_name : r->unit,
           r->unit_name && *r->unit_name ? " – " : "", r->unit_name && *r->unit_name ? r->unit : "", r->level,
           r->teryt && *r->teryt ? r->teryt : "nieznany");
    fprintf(out, "Okres: %s – %s (stan na %s)%s\n", r->from && *r->from ? r->from : "od początku",
           r->to && *r->to ? r->to : r->as_of, r->as_of,
           r->small_counts_suppressed ? "; liczby 1–2 i te, z których dałoby się je odczytać, ukryte" : "");
    if (r->approval) {
        fprintf(out, "Zatwierdzenie: %s",
                !strcmp(r->approval, "approved")   ? "okres zatwierdzony przez jednostkę"
                : !strcmp(r->approval, "withheld") ? "NIEZATWIERDZONY – wskaźniki nie są publikowane"
                                                   : "WSTĘPNE – okres nie jest (w całości) zatwierdzony");
        for (size_t i = 0; i < r->n_approvals; i++) {
            const Koop__Rep__Approval *a = r->approvals[i];
            int reopened = a->state == KOOP__REP__APPROVAL_STATE__APPROVAL_REOPENED;
            fprintf(out, "%s %s: %s%s%s", i ? ";" : " (", a->period ? a->period : "?",
                    reopened ? "otwarty ponownie, " : "zatwierdzony", reopened && a->reason ? a->reason : "",
                    reopened && a->n_changed ? " – " : "");
            for (size_t j = 0; reopened && j < a->n_changed; j++)
                fprintf(out, "%s%s", j ? ", " : "", a->changed[j]);
        }
        fprintf(out, "%s\n", r->n_approvals ? ")" : "");
    }
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

static json_t *
s_evaluation_json(const Koop__Rep__Report *r)
{
    json_t *o = s_header_json(r), *hidden = json_array();
    for (size_t i = 0; i < r->n_figures; i++)
        if (!r->figures[i]->dim || !*r->figures[i]->dim) {
            json_object_set_new(o, r->figures[i]->key, s_json_value(r->figures[i]));
            if (r->figures[i]->suppressed)
                json_array_append_new(hidden, json_string(r->figures[i]->key));
        }
    json_object_set_new(o, "suppressed", hidden);
    json_object_set_new(o, "summary", json_string(r->summary ? r->summary : ""));
    return o;
}

static json_t *
s_indicators_json(const Koop__Rep__Report *r)
{
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
        json_object_set_new(x, "suppressed", json_boolean(f->suppressed));
        json_array_append_new(arr, x);
    }
    json_object_set_new(o, "figures", arr);
    return o;
}

static void
s_print_evaluation(FILE *out, int csv, const Koop__Rep__Report *r)
{
    if (csv) {
        char v[64];
        int first = 1;
        s_csv_header(out);
        for (size_t i = 0; i < r->n_figures; i++)
            fprintf(out, ",%s", r->figures[i]->key);
        fputs(",suppressed\n", out);
        s_csv_unit(out, r);
        for (size_t i = 0; i < r->n_figures; i++) {
            s_text_value(v, sizeof v, r->figures[i], 1);
            fprintf(out, ",%s", v);
        }
        fputc(',', out);
        for (size_t i = 0; i < r->n_figures; i++)
            if (r->figures[i]->suppressed) {
                fprintf(out, "%s%s", first ? "" : " ", r->figures[i]->key);
                first = 0;
            }
        fputc('\n', out);
    } else {
        char v[64];
        s_text_header(out, "Ocena modelu kooperacji", r);
        fprintf(out, "\n%s\n\n", r->summary ? r->summary : "");
        for (size_t i = 0; i < r->n_figures; i++) {
            s_text_value(v, sizeof v, r->figures[i], 0);
            fputs("  ", out);
            koop_present_padded(out, r->figures[i]->label, 82);
            fprintf(out, " %s%s\n", v, strstr(r->figures[i]->key, "_rate") && r->figures[i]->has_value ? " %" : "");
        }
    }
}

static void
s_print_indicators(FILE *out, int csv, const Koop__Rep__Report *r)
{
    char v[64];
    if (csv) {
        s_csv_header(out);
        fputs(",group,key,dim,label,value,suppressed\n", out);
        for (size_t i = 0; i < r->n_figures; i++) {
            const Koop__Rep__Figure *f = r->figures[i];
            s_csv_unit(out, r);
            fprintf(out, ",%s,%s,", f->group, f->key);
            s_csv_field(out, f->dim ? f->dim : "");
            fputc(',', out);
            s_csv_field(out, f->label);
            s_text_value(v, sizeof v, f, 1);
            fprintf(out, ",%s,%d\n", v, f->suppressed ? 1 : 0);
        }
        return;
    }
    s_text_header(out, "Wskaźniki modelu kooperacji", r);
    for (size_t g = 0; g < sizeof s_groups / sizeof s_groups[0]; g++) {
        int any = 0;
        for (size_t i = 0; i < r->n_figures; i++) {
            const Koop__Rep__Figure *f = r->figures[i];
            char line[400];
            if (strcmp(f->group, s_groups[g].group) != 0)
                continue;
            if (!any)
                fprintf(out, "\n%s\n", s_groups[g].title);
            any = 1;
            s_text_value(v, sizeof v, f, 0);
            if (f->dim && *f->dim)
                snprintf(line, sizeof line, "    – %s", f->dim_label && *f->dim_label ? f->dim_label : f->dim);
            else
                snprintf(line, sizeof line, "  %s", f->label);
            koop_present_padded(out, line, 84);
            fprintf(out, " %s%s\n", v, strstr(f->key, "_rate") && f->has_value ? " %" : "");
        }
    }
}


json_t *
koop_present_report_json(const koop_api_method_t *m, const ProtobufCMessage *reply)
{
    const Koop__Rep__Report *r = (const Koop__Rep__Report *)reply;
    return strcmp(m->verb, "evaluation") == 0 ? s_evaluation_json(r) : s_indicators_json(r);
}

void
koop_present_report_text(const koop_api_method_t *m, const ProtobufCMessage *reply, koop_fmt_t fmt, FILE *out)
{
    const Koop__Rep__Report *r = (const Koop__Rep__Report *)reply;
    if (strcmp(m->verb, "evaluation") == 0)
        s_print_evaluation(out, fmt == KOOP_FMT_CSV, r);
    else
        s_print_indicators(out, fmt == KOOP_FMT_CSV, r);
    fflush(out);
}
