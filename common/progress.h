/*
 * progress - one line that says how far long work is, on a terminal only.
 *
 *   "kopia zapasowa: 48,2 MiB / 120,5 MiB (40 %), 31,0 MiB/s, zostało 0:02"
 *   "backup: 48.2 MiB / 120.5 MiB (40 %), 31.0 MiB/s, 0:02 left"   (--lang en)
 *
 * Its words are labels.def's set "progress": what is done (the key given
 * to koop_progress_new) and the line's templates, in the caller's language;
 * an amount of events is a count with its noun ("2 zdarzenia", "1 event").
 *
 * Redrawn in place (\r) at most every PROGRESS_REDRAW_MS, ended with a
 * newline by koop_progress_end. Quiet (nothing at all) when stderr is not a
 * terminal or the caller says so (koopctl --json): scripts get only their
 * output. Used by koopctl backup, restore, report rebuild and sync wait.
 */
#ifndef KOOP_PROGRESS_H
#define KOOP_PROGRESS_H

#include "errors.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { KOOP_PROGRESS_BYTES = 0, KOOP_PROGRESS_EVENTS = 1 } koop_progress_unit_t;

typedef struct koop_progress koop_progress_t;

/* A progress of what labels.def's progress word `what` says ("backup":
 * "kopia zapasowa", "backup") towards total (may change:
 * koop_progress_total), said in lang. Drawn on out when it is a terminal
 * and quiet is 0; NULL only when out of memory (every function accepts
 * NULL). */
koop_progress_t *koop_progress_new(const char *what, uint64_t total, koop_progress_unit_t unit, koop_lang_t lang,
                                   int quiet, FILE *out);
void koop_progress_total(koop_progress_t *p, uint64_t total);
/* Sets how much is done (redraws when it is time). */
void koop_progress_set(koop_progress_t *p, uint64_t done);
/* Draws the last state and ends the line; frees p. */
void koop_progress_end(koop_progress_t **p);
/* 1 when p draws anything. */
int koop_progress_visible(const koop_progress_t *p);

/* n in the unit for people, with lang's decimal mark: "48,2 MiB" (Polish),
 * "48.2 MiB" (English), "12345". */
void koop_progress_amount(char *out, size_t size, double n, koop_progress_unit_t unit, koop_lang_t lang);

/* The line for done of total after elapsed_s seconds (no \r, no newline),
 * as it would be drawn, in lang; what is the words already said ("kopia
 * zapasowa"). Returns its length. For tests and the drawing. */
size_t koop_progress_format(char *out, size_t size, const char *what, uint64_t done, uint64_t total,
                            koop_progress_unit_t unit, koop_lang_t lang, double elapsed_s);

#endif
