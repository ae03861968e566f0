/*
 * kt_report - reading figures out of `koopctl --json report ...` output, for
 * the reporting tests (gmina and tree).
 */
#ifndef KT_REPORT_H
#define KT_REPORT_H

#include "koop_test.h"

#include <jansson.h>

/* The value of a figure: a number, -1 for null (no denominator), -2 when the
 * figure is not there, -4 for a string (never right). */
double kt_report_num(json_t *v);
/* The value of figure `key` of an `evaluation` report, as kt_report_num,
 * or -3 when it is hidden (listed in "suppressed", value null; -5 when
 * listed but with a value). */
double kt_report_eval(json_t *rep, const char *key);

/* The value of figure `key` (with dimension dim, NULL for none) of an
 * `indicators` report, as kt_report_num; -3 when it is hidden
 * ("suppressed": true and value null; -5 when it has a value). */
double kt_report_figure(json_t *rep, const char *key, const char *dim);

/* How many events the node's reporting has taken (applied + ignored +
 * rejected, `report status`), or -1 when it does not answer. */
long kt_report_seen(kt_node_t *n);

/* How many events the log of `service` holds, LOCAL ones too (its last seq,
 * `koopctl status`: seqs start at 1 with no gaps; `events list` shows an
 * operator the SHARED ones only), or -1 when it does not answer. */
long kt_log_events(kt_node_t *n, const char *service);

#endif
