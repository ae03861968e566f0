/*
 * kt_report - reading figures out of `koopctl --json report ...` output, for
 * the reporting tests (gmina and tree).
 */
#ifndef KT_REPORT_H
#define KT_REPORT_H

#include "koop_test.h"

#include <jansson.h>

/* The value of a figure: a number, -1 for null (no denominator), -2 when the
 * figure is not there, -3 for "<3", -4 for any other string. */
double kt_report_num(json_t *v);

/* The value of figure `key` (with dimension dim, NULL for none) of an
 * `indicators` report, as kt_report_num. */
double kt_report_figure(json_t *rep, const char *key, const char *dim);

/* How many events the node's reporting has taken (applied + ignored +
 * rejected, `report status`), or -1 when it does not answer. */
long kt_report_seen(kt_node_t *n);

#endif
