/* institution.c - institutions and the people who work in them. */
#include "registry.h"
#include "check.h"
#include "text.h"

#include <string.h>

static int
s_check_institution(koop_call_t *call, const ProtobufCMessage *m)
{
    const Koop__Reg__Institution *r = (const Koop__Reg__Institution *)m;
    int rc;
    if ((rc = koop_check_name(call, "name", r->name, 1, 300)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_enum(call, "sector", r->has_sector, r->sector, &koop__reg__sector__descriptor, 1, 0, 1)) !=
            KOOP_OK ||
        (rc = koop_check_enum(call, "level", r->has_level, r->level, &koop__reg__level__descriptor, 1, 0, 1)) !=
            KOOP_OK)
        return rc;
    if ((rc = reg_check_teryt(call, r->teryt)) != KOOP_OK)
        return rc;
    if ((rc = reg_check_text(call, "address", r->address, 0, 500)) != KOOP_OK)
        return rc;
    return reg_check_contact(call, r->email, r->phone);
}

const reg_kind_t reg_institution_kind = {
    "institution", "institution", &koop__reg__institution__descriptor, KOOP__SCOPE__SCOPE_SHARED,
    "institution.added", "institution.updated", s_check_institution,
};

static int
s_match_institution(koop_call_t *call, const ProtobufCMessage *m, const ProtobufCMessage *query)
{
    const Koop__Reg__Institution *r = (const Koop__Reg__Institution *)m;
    const Koop__Reg__InstitutionQuery *q = (const Koop__Reg__InstitutionQuery *)query;
    (void)call;
    if (q->has_sector && q->sector && r->sector != q->sector)
        return 0;
    if (q->has_level && q->level && r->level != q->level)
        return 0;
    if (q->teryt && *q->teryt && (!r->teryt || strncmp(r->teryt, q->teryt, strlen(q->teryt)) != 0))
        return 0;
    if (q->text && *q->text && !koop_text_contains(r->name, q->text) &&
        !koop_text_contains(r->address, q->text))
        return 0;
    return 1;
}

int
reg_institution_list(koop_call_t *call)
{
    return reg_list(call, &reg_institution_kind, s_match_institution,
                    &koop__reg__institution_list__descriptor);
}

static int
s_check_person(koop_call_t *call, const ProtobufCMessage *m)
{
    const Koop__Reg__Person *r = (const Koop__Reg__Person *)m;
    int rc;
    if ((rc = koop_check_name(call, "name", r->name, 1, 200)) != KOOP_OK)
        return rc;
    if ((rc = reg_check_ref(call, &reg_institution_kind, "institution", r->institution)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_enum(call, "role", r->has_role, r->role, &koop__reg__role__descriptor, 1, 0, 1)) != KOOP_OK)
        return rc;
    return reg_check_contact(call, r->email, r->phone);
}

/* People are staff with names, e-mails and phones: their events stay LOCAL. */
const reg_kind_t reg_person_kind = {
    "person", "person", &koop__reg__person__descriptor, KOOP__SCOPE__SCOPE_LOCAL,
    "person.added", "person.updated", s_check_person,
};

static int
s_match_person(koop_call_t *call, const ProtobufCMessage *m, const ProtobufCMessage *query)
{
    const Koop__Reg__Person *r = (const Koop__Reg__Person *)m;
    const Koop__Reg__PersonQuery *q = (const Koop__Reg__PersonQuery *)query;
    (void)call;
    if (q->institution && *q->institution && (!r->institution || strcmp(r->institution, q->institution)))
        return 0;
    if (q->has_role && q->role && r->role != q->role)
        return 0;
    if (q->text && *q->text && !koop_text_contains(r->name, q->text) &&
        !koop_text_contains(r->email, q->text))
        return 0;
    return 1;
}

int
reg_person_list(koop_call_t *call)
{
    return reg_list(call, &reg_person_kind, s_match_person, &koop__reg__person_list__descriptor);
}
