/* output.c - printing replies: JSON for scripts, Polish text for people. */
#include "koopctl.h"

#include <stdio.h>
#include <string.h>

static const char *const s_labels[][2] = {
    {"id", "identyfikator"}, {"name", "nazwa"}, {"sector", "sektor"}, {"level", "poziom"},
    {"teryt", "TERYT"}, {"address", "adres"}, {"email", "e-mail"}, {"phone", "telefon"},
    {"active", "aktywny"}, {"owner", "właściciel"}, {"updated_ms", "zmieniono (ms)"},
    {"institution", "instytucja"}, {"role", "rola"}, {"parties", "strony"},
    {"signed", "podpisano"}, {"until", "obowiązuje do"}, {"text", "zakres"},
    {"formed", "utworzono"}, {"dissolved", "rozwiązano"}, {"members", "członkowie"},
    {"joined", "dołączyła"}, {"left", "odeszła"}, {"representative", "przedstawiciel"},
    {"description", "opis"}, {"provider", "realizator"}, {"target", "grupy docelowe"},
    {"category", "kategoria"}, {"area", "obszar"}, {"contact", "kontakt"},
    {"schedule", "harmonogram"}, {"verified", "zweryfikowano"},
    /* cases */
    {"pesel", "PESEL"}, {"birth", "data urodzenia"}, {"sex", "płeć"}, {"size", "liczba osób"},
    {"relation", "pokrewieństwo"}, {"registered", "zarejestrowano"}, {"created_by", "wprowadził(a)"},
    {"ipws", "programy (IPW)"}, {"consents", "zgody"}, {"purpose", "zakres zgody"},
    {"share_with", "udostępnianie"}, {"withdrawn", "wycofano"}, {"recorded_by", "przyjął(ęła)"},
    {"number", "numer"}, {"household", "gospodarstwo"}, {"coordinator", "koordynator"},
    {"status", "stan"}, {"outcome", "wynik"}, {"reason", "powód"}, {"opened", "otwarto"},
    {"closed", "zamknięto"}, {"reviews", "przeglądy"}, {"history", "historia"}, {"goals", "cele"},
    {"tasks", "zadania"}, {"meetings", "spotkania"}, {"referrals", "skierowania"},
    {"baseline", "skala na początku"}, {"scalings", "oceny"}, {"added", "dodano"},
    {"title", "zadanie"}, {"owner_institution", "instytucja wykonawcy"}, {"owner_sector", "sektor wykonawcy"},
    {"service", "usługa"}, {"service_provider", "realizator usługi"}, {"due", "termin"},
    {"started", "rozpoczęto"}, {"done", "wykonano"}, {"cancelled", "anulowano"},
    {"participants", "uczestnicy"}, {"topic", "temat"}, {"decisions", "ustalenia"},
    {"sent", "wysłano"}, {"accepted", "przyjęto"}, {"declined", "odrzucono"}, {"note", "uwagi"},
    {"caller", "kto"}, {"method", "co"}, {"allowed", "dozwolone"}, {"result", "wynik"},
    {"error", "błąd"}, {"time_ms", "czas (ms)"},
};

static const char *
s_label(const char *key)
{
    for (size_t i = 0; i < sizeof s_labels / sizeof s_labels[0]; i++)
        if (strcmp(s_labels[i][0], key) == 0)
            return s_labels[i][1];
    return key;
}

static void
s_scalar(FILE *out, json_t *v)
{
    if (json_is_string(v))
        fputs(json_string_value(v), out);
    else if (json_is_true(v))
        fputs("tak", out);
    else if (json_is_false(v))
        fputs("nie", out);
    else if (json_is_integer(v))
        fprintf(out, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        fprintf(out, "%.1f", json_real_value(v));
    else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                fputs(", ", out);
            s_scalar(out, json_array_get(v, i));
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach(v, k, x) {
            fprintf(out, "%s%s=", first ? "" : " ", k);
            s_scalar(out, x);
            first = 0;
        }
    }
}

/* Prints s padded to `width` characters (not bytes: labels are Polish UTF-8). */
static void
s_padded(FILE *out, const char *s, int width)
{
    int chars = 0;
    for (const char *p = s; *p; p++)
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    fputs(s, out);
    for (; chars < width; chars++)
        fputc(' ', out);
}

static void
s_object(FILE *out, json_t *obj, int indent)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        fprintf(out, "%*s", indent, "");
        s_padded(out, s_label(key), 18);
        fputc(' ', out);
        if (json_is_array(v) && json_array_size(v) && json_is_object(json_array_get(v, 0))) {
            fputc('\n', out);
            for (size_t i = 0; i < json_array_size(v); i++) {
                fprintf(out, "%*s- ", indent + 2, "");
                s_scalar(out, json_array_get(v, i));
                fputc('\n', out);
            }
            continue;
        }
        s_scalar(out, v);
        fputc('\n', out);
    }
}

/* One line per list item: id, then name/title, then the other short fields. */
static void
s_list(FILE *out, json_t *arr)
{
    if (json_array_size(arr) == 0) {
        fputs("(brak wyników)\n", out);
        return;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i), *v;
        const char *key;
        if (!json_is_object(o)) {
            s_scalar(out, o);
            fputc('\n', out);
            continue;
        }
        s_scalar(out, json_object_get(o, "id"));
        json_object_foreach(o, key, v) {
            if (!strcmp(key, "id") || !strcmp(key, "owner") || !strcmp(key, "updated_ms") ||
                json_is_object(v) || (json_is_array(v) && json_array_size(v) &&
                                      json_is_object(json_array_get(v, 0))))
                continue;
            fputs("  ", out);
            s_scalar(out, v);
        }
        fputc('\n', out);
    }
}

void
kc_print(kc_ctx_t *ctx, json_t *value)
{
    if (ctx->json) {
        json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else if (json_is_array(value)) {
        s_list(stdout, value);
    } else if (json_is_object(value)) {
        s_object(stdout, value, 0);
    } else {
        s_scalar(stdout, value);
        fputc('\n', stdout);
    }
    fflush(stdout);
}
