#include "kt_report.h"

#include <string.h>

double
kt_report_num(json_t *v)
{
    if (!v)
        return -2;
    if (json_is_null(v))
        return -1;
    if (json_is_string(v))
        return strcmp(json_string_value(v), "<3") == 0 ? -3 : -4;
    return json_number_value(v);
}

double
kt_report_figure(json_t *rep, const char *key, const char *dim)
{
    json_t *figs = json_object_get(rep, "figures");
    for (size_t i = 0; i < json_array_size(figs); i++) {
        json_t *f = json_array_get(figs, i);
        if (strcmp(json_string_value(json_object_get(f, "key")), key) == 0 &&
            strcmp(json_string_value(json_object_get(f, "dim")), dim ? dim : "") == 0)
            return kt_report_num(json_object_get(f, "value"));
    }
    return -2;
}

long
kt_report_seen(kt_node_t *n)
{
    kt_run_t r;
    long seen = -1;
    kt_ctl(&r, n, "--json", "report", "status", NULL);
    if (r.code == 0 && json_is_object(r.json))
        seen = (long)(json_integer_value(json_object_get(r.json, "applied")) +
                      json_integer_value(json_object_get(r.json, "ignored")) +
                      json_integer_value(json_object_get(r.json, "rejected")));
    kt_run_free(&r);
    return seen;
}
