/* progress.c - a progress line on a terminal (see progress.h). */
#include "progress.h"
#include "clock.h"
#include "present.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGRESS_REDRAW_MS 200

struct koop_progress {
    char what[64];
    uint64_t total, done;
    koop_progress_unit_t unit;
    koop_lang_t lang;
    uint64_t started_ms, drawn_ms;
    int visible;
    size_t width; /* of the last line drawn, to wipe what a shorter one leaves */
    FILE *out;
};

void
koop_progress_amount(char *out, size_t size, double n, koop_progress_unit_t unit, koop_lang_t lang)
{
    static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    if (unit == KOOP_PROGRESS_EVENTS) {
        snprintf(out, size, "%.0f", n);
        return;
    }
    while (n >= 1024 && u + 1 < sizeof names / sizeof names[0]) {
        n /= 1024;
        u++;
    }
    snprintf(out, size, u ? "%.1f %s" : "%.0f %s", n, names[u]);
    for (char *p = out; lang != KOOP_LANG_EN && *p; p++)
        if (*p == '.')
            *p = ',';
}

size_t
koop_progress_format(char *out, size_t size, const char *what, uint64_t done, uint64_t total,
                     koop_progress_unit_t unit, koop_lang_t lang, double elapsed_s)
{
    /* the templates of an amount: events are a count with its noun, bytes
     * carry their unit in the amount */
    const char *line = unit == KOOP_PROGRESS_EVENTS ? "line_events" : "line_bytes";
    const char *per_s = unit == KOOP_PROGRESS_EVENTS ? "rate_events" : "rate_bytes";
    char a[32], b[32], pct[8], rate[64] = "", left[48] = "";
    double r = elapsed_s > 0.05 ? (double)done / elapsed_s : 0;
    unsigned p = total ? (unsigned)(done >= total ? 100 : (double)done * 100.0 / (double)total) : 100;

    koop_progress_amount(a, sizeof a, (double)done, unit, lang);
    koop_progress_amount(b, sizeof b, (double)(total > done ? total : done), unit, lang);
    snprintf(pct, sizeof pct, "%u", p);
    if (r > 0) {
        char rr[32];
        koop_progress_amount(rr, sizeof rr, r, unit, lang);
        koop_present_sentence("progress", per_s, lang, KOOP_ARGS(rr), rate, sizeof rate);
        if (total > done) {
            uint64_t s = (uint64_t)((double)(total - done) / r + 0.5);
            char hms[32];
            if (s >= 3600)
                snprintf(hms, sizeof hms, "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
                         (unsigned long long)(s % 3600 / 60), (unsigned long long)(s % 60));
            else
                snprintf(hms, sizeof hms, "%llu:%02llu", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
            koop_present_sentence("progress", "left", lang, KOOP_ARGS(hms), left, sizeof left);
        }
    }
    return koop_present_sentence("progress", line, lang, KOOP_ARGS(what, a, b, pct, rate, left), out, size);
}

static void
s_draw(koop_progress_t *p)
{
    char line[256];
    size_t n = koop_progress_format(line, sizeof line, p->what, p->done, p->total, p->unit, p->lang,
                                    (double)(koop_clock_mono_ms() - p->started_ms) / 1000.0);
    fprintf(p->out, "\r%s", line);
    for (size_t i = n; i < p->width; i++)
        fputc(' ', p->out);
    p->width = n;
    fflush(p->out);
    p->drawn_ms = koop_clock_mono_ms();
}

koop_progress_t *
koop_progress_new(const char *what, uint64_t total, koop_progress_unit_t unit, koop_lang_t lang, int quiet,
                  FILE *out)
{
    koop_progress_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    koop_present_sentence("progress", what, lang, NULL, 0, p->what, sizeof p->what);
    p->total = total;
    p->unit = unit;
    p->lang = lang;
    p->out = out;
    p->started_ms = koop_clock_mono_ms();
    p->visible = !quiet && isatty(fileno(out));
    return p;
}

void
koop_progress_total(koop_progress_t *p, uint64_t total)
{
    if (p)
        p->total = total;
}

void
koop_progress_set(koop_progress_t *p, uint64_t done)
{
    if (!p)
        return;
    p->done = done;
    if (p->visible && koop_clock_mono_ms() - p->drawn_ms >= PROGRESS_REDRAW_MS)
        s_draw(p);
}

int
koop_progress_visible(const koop_progress_t *p)
{
    return p && p->visible;
}

void
koop_progress_end(koop_progress_t **self_p)
{
    koop_progress_t *p;
    if (!self_p || !*self_p)
        return;
    p = *self_p;
    if (p->visible) {
        s_draw(p);
        fputc('\n', p->out);
        fflush(p->out);
    }
    free(p);
    *self_p = NULL;
}
