/* catalogue.c - the list of activities and services (lista aktywności i usług). */
#include "registry.h"
#include "check.h"
#include "clock.h"
#include "text.h"

#include <string.h>

static int
s_check_entry(koop_call_t *call, const ProtobufCMessage *m)
{
    Koop__Reg__CatalogueEntry *r = (Koop__Reg__CatalogueEntry *)m;
    int rc;
    if ((rc = koop_check_name(call, "name", r->name, 1, 300)) != KOOP_OK)
        return rc;
    if ((rc = reg_check_text(call, "description", r->description, 0, KOOP_MAX_TEXT)) != KOOP_OK)
        return rc;
    if ((rc = reg_check_ref(call, &reg_institution_kind, "provider", r->provider)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_enum_list(call, "target", r->target, r->n_target, 0, &koop__reg__target__descriptor, 1, 0,
                                   1)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_name(call, "category", r->category, 1, 100)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_name(call, "area", r->area, 0, 200)) != KOOP_OK)
        return rc;
    if ((rc = reg_check_text(call, "contact", r->contact, 0, 500)) != KOOP_OK)
        return rc;
    if ((rc = reg_check_text(call, "schedule", r->schedule, 0, 500)) != KOOP_OK)
        return rc;
    return reg_check_date(call, "verified", r->verified, 0);
}

const reg_kind_t reg_catalogue_kind = {
    "catalogue", "catalogue", &koop__reg__catalogue_entry__descriptor, KOOP__SCOPE__SCOPE_SHARED,
    "catalogue.added", "catalogue.updated", s_check_entry,
};

int
reg_catalogue_add(koop_call_t *call)
{
    Koop__Reg__CatalogueEntry *in = (Koop__Reg__CatalogueEntry *)call->req;
    char today[11], *given = in->verified;
    int rc;
    /* an entry put on the list is verified on the day it is entered; the
     * borrowed default is put back before the request is freed */
    koop_date_today(today);
    if (!given || !*given)
        in->verified = today;
    rc = reg_add(call, &reg_catalogue_kind);
    in->verified = given;
    return rc;
}

static int
s_match_entry(koop_call_t *call, const ProtobufCMessage *m, const ProtobufCMessage *query)
{
    const Koop__Reg__CatalogueEntry *r = (const Koop__Reg__CatalogueEntry *)m;
    const Koop__Reg__CatalogueQuery *q = (const Koop__Reg__CatalogueQuery *)query;
    (void)call;
    if (q->has_active ? (r->active != q->active) : !r->active)
        return 0;
    if (q->n_target) {
        int any = 0;
        for (size_t i = 0; i < q->n_target && !any; i++)
            for (size_t j = 0; j < r->n_target && !any; j++)
                any = q->target[i] == r->target[j];
        if (!any)
            return 0;
    }
    if (q->category && *q->category && !koop_text_equal(r->category, q->category))
        return 0;
    if (q->provider && *q->provider && (!r->provider || strcmp(r->provider, q->provider) != 0))
        return 0;
    if (q->area && *q->area && !koop_text_contains(r->area, q->area))
        return 0;
    if (q->text && *q->text && !koop_text_contains(r->name, q->text) &&
        !koop_text_contains(r->description, q->text) && !koop_text_contains(r->category, q->text))
        return 0;
    return 1;
}

int
reg_catalogue_search(koop_call_t *call)
{
    return reg_list(call, &reg_catalogue_kind, s_match_entry, &koop__reg__catalogue_list__descriptor);
}
