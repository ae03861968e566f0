/*
 * present_report.c - report figures (report evaluation / indicators) as
 * JSON, CSV and text in Polish or English (see present.h): a figure's
 * label and its dimension's are labels.def's ("indicator", "indicator.by",
 * the dimension's set), as are the groups' titles and the words of the text
 * ("report"); the reply's own Polish labels stand where labels.def has none.
 * The evaluation's summary is made here from its figures, in the reader's
 * language ("report.summary"); the reporting service writes the Polish one
 * into its reply with the same function.
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

/* The groups in the order of the text (titles: labels.def "indicator.group"). */
static const char *const s_groups[] = {"pzk", "ipw", "goals", "tasks", "referrals", "zzk", "catalogue", "units"};

/* A word of the reports' text ("report" of labels.def). */
static const char *
s_word(const char *word, koop_lang_t lang)
{
    const char *w = koop_present_word("report", word, lang);
    return w ? w : word;
}

static const char *
s_label(const Koop__Rep__Figure *f, koop_lang_t lang)
{
    const char *w = koop_present_word(f->dim && *f->dim ? "indicator.by" : "indicator", f->key, lang);
    return w ? w : f->label ? f->label : f->key;
}

static const char *
s_dim_label(const Koop__Rep__Figure *f, koop_lang_t lang)
{
    const char *w = f->dim_set && *f->dim_set ? koop_present_word(f->dim_set, f->dim, lang) : NULL;
    return w ? w : f->dim_label && *f->dim_label ? f->dim_label : f->dim;
}

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

/* The value for text (Polish: decimal comma) or CSV (decimal point). */
static void
s_text_value(char *out, size_t len, const Koop__Rep__Figure *f, int csv, koop_lang_t lang)
{
    if (f->suppressed)
        snprintf(out, len, "%s", csv ? "" : s_word("hidden", lang));
    else if (!f->has_value)
        snprintf(out, len, "%s", csv ? "" : "–");
    else if (f->decimals) {
        char *dot;
        snprintf(out, len, "%.1f", f->value);
        if (!csv && lang != KOOP_LANG_EN && (dot = strchr(out, '.')))
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
s_text_header(FILE *out, const char *what, const Koop__Rep__Report *r, koop_lang_t lang)
{
    const char *level = r->level ? koop_present_word("report.level", r->level, lang) : NULL;
    fprintf(out, "%s: %s%s%s (%s, TERYT %s)\n", s_word(what, lang), r->unit_name && *r->unit_name ? r->unit_name : r->unit,
           r->unit_name && *r->unit_name ? " – " : "", r->unit_name && *r->unit_name ? r->unit : "",
           level ? level : r->level ? r->level : "",
           r->teryt && *r->teryt ? r->teryt : s_word("teryt_unknown", lang));
    fprintf(out, "%s: %s – %s (%s %s)%s%s\n", s_word("period", lang),
           r->from && *r->from ? r->from : s_word("from_start", lang), r->to && *r->to ? r->to : r->as_of,
           s_word("as_of", lang), r->as_of, r->small_counts_suppressed ? "; " : "",
           r->small_counts_suppressed ? s_word("suppressed", lang) : "");
    if (r->approval) {
        fprintf(out, "%s: %s", s_word("approval", lang),
                s_word(!strcmp(r->approval, "approved") || !strcmp(r->approval, "withheld") ? r->approval : "preliminary",
                       lang));
        for (size_t i = 0; i < r->n_approvals; i++) {
            const Koop__Rep__Approval *a = r->approvals[i];
            int reopened = a->state == KOOP__REP__APPROVAL_STATE__APPROVAL_REOPENED;
            fprintf(out, "%s %s: %s%s%s", i ? ";" : " (", a->period ? a->period : "?",
                    s_word(reopened ? "period_reopened" : "period_approved", lang),
                    reopened && a->reason ? a->reason : "", reopened && a->n_changed ? " – " : "");
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

/* ---- the evaluation's summary ---- */

static const Koop__Rep__Figure *
s_total(const Koop__Rep__Report *r, const char *key)
{
    for (size_t i = 0; i < r->n_figures; i++)
        if (strcmp(r->figures[i]->key, key) == 0 && !(r->figures[i]->dim && *r->figures[i]->dim))
            return r->figures[i];
    return NULL;
}

static long long
s_count(const Koop__Rep__Figure *f)
{
    return f && f->has_value ? (long long)(f->value + (f->value >= 0 ? 0.5 : -0.5)) : 0;
}

static int
s_shown(const Koop__Rep__Figure *f)
{
    return f && !f->suppressed && f->has_value;
}

char *
koop_present_summary(const ProtobufCMessage *report, koop_lang_t lang)
{
    const Koop__Rep__Report *r = (const Koop__Rep__Report *)report;
    const Koop__Rep__Figure *pe = s_total(r, "partner_entities"), *pc = s_total(r, "pzk_count"),
                            *pm = s_total(r, "pzk_avg_months"), *cl = s_total(r, "ipw_closed"),
                            *su = s_total(r, "ipw_success"), *rt = s_total(r, "ipw_success_rate"),
                            *hh = s_total(r, "households"), *pp = s_total(r, "persons");
    char n1[24], n2[24], months[64], pzks[64], rate[64], buf[1024];
    size_t used = 0;
/* appends clause key of "report.summary" */
#define S_CLAUSE(key, ...)                                                                                          \
    (used += koop_present_sentence("report.summary", key, lang, KOOP_ARGS(__VA_ARGS__), buf + used, sizeof buf - used))
    buf[0] = '\0';
    if (r->approval && strcmp(r->approval, "withheld") == 0) {
        S_CLAUSE("withheld", "");
        return strdup(buf);
    }
    if (s_shown(pe))
        S_CLAUSE("partners", koop_num_str(n1, s_count(pe)));
    else
        S_CLAUSE("partners_hidden", "");
    if (pc)
        s_text_value(pzks, sizeof pzks, pc, 0, lang);
    else
        snprintf(pzks, sizeof pzks, "%s", s_word("hidden", lang));
    if (pm && pm->suppressed)
        S_CLAUSE("pzk_months_hidden", pzks);
    else if (s_shown(pm)) {
        s_text_value(months, sizeof months, pm, 0, lang);
        S_CLAUSE("pzk_months", months, pzks);
    } else
        S_CLAUSE("no_pzk", "");
    if (cl && cl->suppressed)
        S_CLAUSE("closed_hidden", "");
    else if (s_count(cl) == 0)
        S_CLAUSE("none_closed", "");
    else if (!s_shown(su) || !s_shown(rt))
        S_CLAUSE("success_hidden", koop_num_str(n1, s_count(cl)));
    else {
        s_text_value(rate, sizeof rate, rt, 0, lang);
        S_CLAUSE("success", koop_num_str(n1, s_count(su)), koop_num_str(n2, s_count(cl)), rate);
    }
    if (!s_shown(hh))
        S_CLAUSE("households_hidden", "");
    else if (!s_shown(pp))
        S_CLAUSE("households_only", koop_num_str(n1, s_count(hh)));
    else
        S_CLAUSE("households", koop_num_str(n1, s_count(hh)), koop_num_str(n2, s_count(pp)));
#undef S_CLAUSE
    return strdup(buf);
}

/* ---- the two reports ---- */

static json_t *
s_evaluation_json(const Koop__Rep__Report *r, koop_lang_t lang)
{
    json_t *o = s_header_json(r), *hidden = json_array();
    char *summary = koop_present_summary(&r->base, lang);
    for (size_t i = 0; i < r->n_figures; i++)
        if (!r->figures[i]->dim || !*r->figures[i]->dim) {
            json_object_set_new(o, r->figures[i]->key, s_json_value(r->figures[i]));
            if (r->figures[i]->suppressed)
                json_array_append_new(hidden, json_string(r->figures[i]->key));
        }
    json_object_set_new(o, "suppressed", hidden);
    json_object_set_new(o, "summary", json_string(summary ? summary : ""));
    free(summary);
    return o;
}

static json_t *
s_indicators_json(const Koop__Rep__Report *r, koop_lang_t lang)
{
    json_t *o = s_header_json(r), *arr = json_array();
    for (size_t i = 0; i < r->n_figures; i++) {
        const Koop__Rep__Figure *f = r->figures[i];
        json_t *x = json_object();
        json_object_set_new(x, "group", json_string(f->group));
        json_object_set_new(x, "key", json_string(f->key));
        json_object_set_new(x, "dim", json_string(f->dim ? f->dim : ""));
        json_object_set_new(x, "label", json_string(s_label(f, lang)));
        if (f->dim && *f->dim)
            json_object_set_new(x, "dim_label", json_string(s_dim_label(f, lang)));
        json_object_set_new(x, "value", s_json_value(f));
        json_object_set_new(x, "suppressed", json_boolean(f->suppressed));
        json_array_append_new(arr, x);
    }
    json_object_set_new(o, "figures", arr);
    return o;
}

static void
s_print_evaluation(FILE *out, int csv, const Koop__Rep__Report *r, koop_lang_t lang)
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
            s_text_value(v, sizeof v, r->figures[i], 1, lang);
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
        char v[64], *summary = koop_present_summary(&r->base, lang);
        s_text_header(out, "evaluation", r, lang);
        fprintf(out, "\n%s\n\n", summary ? summary : "");
        free(summary);
        for (size_t i = 0; i < r->n_figures; i++) {
            s_text_value(v, sizeof v, r->figures[i], 0, lang);
            fputs("  ", out);
            koop_present_padded(out, s_label(r->figures[i], lang), 82);
            fprintf(out, " %s%s\n", v, strstr(r->figures[i]->key, "_rate") && r->figures[i]->has_value ? " %" : "");
        }
    }
}

static void
s_print_indicators(FILE *out, int csv, const Koop__Rep__Report *r, koop_lang_t lang)
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
            s_csv_field(out, s_label(f, lang));
            s_text_value(v, sizeof v, f, 1, lang);
            fprintf(out, ",%s,%d\n", v, f->suppressed ? 1 : 0);
        }
        return;
    }
    s_text_header(out, "indicators", r, lang);
    for (size_t g = 0; g < sizeof s_groups / sizeof s_groups[0]; g++) {
        int any = 0;
        for (size_t i = 0; i < r->n_figures; i++) {
            const Koop__Rep__Figure *f = r->figures[i];
            const char *title = koop_present_word("indicator.group", s_groups[g], lang);
            char line[400];
            if (strcmp(f->group, s_groups[g]) != 0)
                continue;
            if (!any)
                fprintf(out, "\n%s\n", title ? title : s_groups[g]);
            any = 1;
            s_text_value(v, sizeof v, f, 0, lang);
            if (f->dim && *f->dim)
                snprintf(line, sizeof line, "    – %s", s_dim_label(f, lang));
            else
                snprintf(line, sizeof line, "  %s", s_label(f, lang));
            koop_present_padded(out, line, 84);
            fprintf(out, " %s%s\n", v, strstr(f->key, "_rate") && f->has_value ? " %" : "");
        }
    }
}


json_t *
koop_present_report_json(const koop_api_method_t *m, const ProtobufCMessage *reply, koop_lang_t lang)
{
    const Koop__Rep__Report *r = (const Koop__Rep__Report *)reply;
    return strcmp(m->verb, "evaluation") == 0 ? s_evaluation_json(r, lang) : s_indicators_json(r, lang);
}

void
koop_present_report_text(const koop_api_method_t *m, const ProtobufCMessage *reply, koop_fmt_t fmt, koop_lang_t lang,
                         FILE *out)
{
    const Koop__Rep__Report *r = (const Koop__Rep__Report *)reply;
    if (strcmp(m->verb, "evaluation") == 0)
        s_print_evaluation(out, fmt == KOOP_FMT_CSV, r, lang);
    else
        s_print_indicators(out, fmt == KOOP_FMT_CSV, r, lang);
    fflush(out);
}
