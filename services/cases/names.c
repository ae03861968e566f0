/*
 * names.c - names next to ids in the cases service's replies
 * (common/names.h): the person, institution and listed service names of the
 * registry copy (copy.c), a household's name for a caller who may see the
 * household (access.c) – of the field `household`, and of a household's
 * `linked` (the households holding the same PESEL) – an IPW's case number,
 * and the name of the other gmina of a transfer (transfer.c).
 */
#include "cases.h"

#include <stdio.h>
#include <string.h>

static int
s_household_name(koop_call_t *call, const char *id, char *out, size_t len)
{
    Koop__Cases__Household *h = NULL;
    cases_person_t who;
    int visible = 0;
    if (!cases_copy_caller(call, &who))
        return 0;
    if (koop_record_get(call->txn, cases_dbi(call, "household"), id, &koop__cases__household__descriptor,
                        (ProtobufCMessage **)&h) != 0)
        return 0;
    if (cases_household_visible(call, &who, h, &visible) == KOOP_OK && visible)
        snprintf(out, len, "%s", h->name ? h->name : "");
    else
        out[0] = '\0';
    koop__cases__household__free_unpacked(h, NULL);
    return out[0] != '\0';
}

static int
s_ipw_number(koop_call_t *call, const char *id, char *out, size_t len)
{
    Koop__Cases__Ipw *ipw = NULL;
    if (koop_record_get(call->txn, cases_dbi(call, "ipw"), id, &koop__cases__ipw__descriptor,
                        (ProtobufCMessage **)&ipw) != 0)
        return 0;
    snprintf(out, len, "%s", ipw->number ? ipw->number : "");
    koop__cases__ipw__free_unpacked(ipw, NULL);
    return out[0] != '\0';
}

int
cases_names(void *ctx, const char *field, const char *id, koop_names_kind_t kind, char *out, size_t len)
{
    koop_call_t *call = ctx;
    if (kind == KOOP_NAMES_NUMBER)
        return s_ipw_number(call, id, out, len);
    if (strcmp(field, "household") == 0 || strcmp(field, "linked") == 0)
        return s_household_name(call, id, out, len);
    if (!strcmp(field, "from_node") || !strcmp(field, "to_node") || !strcmp(field, "transferred_to") ||
        !strcmp(field, "transferred_from"))
        return cases_node_name(call, id, out, len);
    return cases_copy_name(call, field, id, out, len);
}
