/*
 * pzk.c - Partnerskie Zespoły Kooperacyjne and their membership.
 *
 *   create(formed) --join(inst, date)--> member active (left empty)
 *                  --leave(inst, date)--> member left (left = date)
 *   dissolve(date): the team ends; no join on or after that date.
 *
 * Invariants: formed <= joined <= left; an institution's memberships of one
 * team never overlap (at most one active, and a new one starts no earlier
 * than the last one ended); a representative works at the institution they
 * represent; dates are the caller's (history can be entered).
 */
#include "registry.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static int
s_check_pzk(koop_call_t *call, const ProtobufCMessage *m)
{
    const Koop__Reg__Pzk *r = (const Koop__Reg__Pzk *)m;
    int rc;
    if ((rc = koop_check_name(call, "name", r->name, 1, 300)) != KOOP_OK)
        return rc;
    if ((rc = reg_check_teryt(call, r->teryt)) != KOOP_OK)
        return rc;
    if ((rc = reg_check_date(call, "formed", r->formed, 1)) != KOOP_OK)
        return rc;
    if ((rc = reg_check_date(call, "dissolved", r->dissolved, 0)) != KOOP_OK)
        return rc;
    if (r->dissolved && *r->dissolved && strcmp(r->dissolved, r->formed) < 0)
        return koop_fail(call, DATE_ORDER, "dissolved", r->dissolved, "formed", r->formed);
    return KOOP_OK;
}

const reg_kind_t reg_pzk_kind = {
    "pzk", "pzk", &koop__reg__pzk__descriptor, KOOP__SCOPE__SCOPE_SHARED,
    "pzk.created", "pzk.updated", s_check_pzk,
};

int
reg_pzk_create(koop_call_t *call)
{
    Koop__Reg__Pzk *in = (Koop__Reg__Pzk *)call->req;
    char *given = in->teryt;
    int rc;
    if (in->n_members)
        return koop_fail(call, PZK_MEMBERS_BY_JOIN, "members");
    /* the node's gmina by default; the request owns its strings, so the
     * borrowed default is put back before the request is freed */
    if (!given || !*given)
        in->teryt = (char *)koop_service_config(call->svc)->teryt;
    rc = reg_add(call, &reg_pzk_kind);
    in->teryt = given;
    return rc;
}

/* Loads the team of a join/leave/dissolve and checks the date. */
static int
s_load(koop_call_t *call, const Koop__Reg__PzkChange *q, Koop__Reg__Pzk **pzk)
{
    int rc;
    if (!q->pzk || !*q->pzk)
        return koop_fail(call, FIELD_REQUIRED, "pzk");
    if ((rc = reg_check_date(call, "date", q->date, 1)) != KOOP_OK)
        return rc;
    if ((rc = reg_load_owned(call, &reg_pzk_kind, "pzk", q->pzk, (ProtobufCMessage **)pzk)) != KOOP_OK)
        return rc;
    if (strcmp(q->date, (*pzk)->formed) < 0)
        return koop_fail(call, DATE_ORDER, "date", q->date, "formed", (*pzk)->formed);
    return KOOP_OK;
}

static Koop__Reg__PzkMember *
s_active_member(Koop__Reg__Pzk *pzk, const char *institution)
{
    for (size_t i = 0; i < pzk->n_members; i++) {
        Koop__Reg__PzkMember *m = pzk->members[i];
        if (m->institution && strcmp(m->institution, institution) == 0 && (!m->left || !*m->left))
            return m;
    }
    return NULL;
}

/* A membership of institution that ended after `date` (a new membership
 * from `date` on would overlap it), or NULL. */
static Koop__Reg__PzkMember *
s_overlapping(Koop__Reg__Pzk *pzk, const char *institution, const char *date)
{
    for (size_t i = 0; i < pzk->n_members; i++) {
        Koop__Reg__PzkMember *m = pzk->members[i];
        if (m->institution && strcmp(m->institution, institution) == 0 && m->left && strcmp(m->left, date) > 0)
            return m;
    }
    return NULL;
}

/* The representative is a person of the registry working at institution. */
static int
s_check_representative(koop_call_t *call, const char *person, const char *institution)
{
    Koop__Reg__Person *p = NULL;
    int rc = koop_record_get(call->txn, reg_dbi(call, &reg_person_kind), person, &koop__reg__person__descriptor,
                             (ProtobufCMessage **)&p);
    if (rc == MDB_NOTFOUND)
        return koop_fail(call, RECORD_NOT_FOUND, "representative", "person", person);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if (!p->institution || strcmp(p->institution, institution) != 0)
        rc = koop_fail(call, PZK_REPRESENTATIVE_ELSEWHERE, "representative", person, institution,
                       p->institution ? p->institution : "");
    else
        rc = KOOP_OK;
    koop__reg__person__free_unpacked(p, NULL);
    return rc;
}

int
reg_pzk_join(koop_call_t *call)
{
    const Koop__Reg__PzkChange *q = (const Koop__Reg__PzkChange *)call->req;
    Koop__Reg__Pzk *pzk = NULL;
    Koop__Reg__PzkMember member = KOOP__REG__PZK_MEMBER__INIT, **members = NULL, *earlier;
    int rc;

    if ((rc = s_load(call, q, &pzk)) != KOOP_OK)
        goto done;
    if ((rc = reg_check_ref(call, &reg_institution_kind, "institution", q->institution)) != KOOP_OK)
        goto done;
    if (q->representative && *q->representative &&
        (rc = s_check_representative(call, q->representative, q->institution)) != KOOP_OK)
        goto done;
    if (pzk->dissolved && *pzk->dissolved && strcmp(q->date, pzk->dissolved) >= 0) {
        rc = koop_fail(call, PZK_DISSOLVED, "date", pzk->dissolved);
        goto done;
    }
    if (s_active_member(pzk, q->institution)) {
        rc = koop_fail(call, PZK_ALREADY_MEMBER, "institution", q->institution);
        goto done;
    }
    if ((earlier = s_overlapping(pzk, q->institution, q->date))) {
        rc = koop_fail(call, PZK_MEMBERSHIP_OVERLAP, "date", q->date, earlier->joined, earlier->left);
        goto done;
    }
    if (pzk->n_members >= 1000) {
        rc = koop_fail(call, RECORD_LIMIT, "pzk", "pzk", "1000", "memberships");
        goto done;
    }
    members = malloc((pzk->n_members + 1) * sizeof *members);
    if (!members) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    if (pzk->n_members) /* members is NULL for a team with none: memcpy(NULL) is undefined */
        memcpy(members, pzk->members, pzk->n_members * sizeof *members);
    member.institution = q->institution;
    member.joined = q->date;
    member.representative = q->representative;
    members[pzk->n_members] = &member;
    {
        /* store a view with the new member; the unpacked record keeps its own array */
        Koop__Reg__Pzk view = *pzk;
        view.members = members;
        view.n_members = pzk->n_members + 1;
        rc = reg_store(call, &reg_pzk_kind, &view.base, "pzk.joined");
    }
done:
    free(members);
    if (pzk)
        koop__reg__pzk__free_unpacked(pzk, NULL);
    return rc;
}

int
reg_pzk_leave(koop_call_t *call)
{
    const Koop__Reg__PzkChange *q = (const Koop__Reg__PzkChange *)call->req;
    Koop__Reg__Pzk *pzk = NULL;
    Koop__Reg__PzkMember *m;
    char *saved;
    int rc;

    if ((rc = s_load(call, q, &pzk)) != KOOP_OK)
        goto done;
    if (!q->institution || !*q->institution) {
        rc = koop_fail(call, FIELD_REQUIRED, "institution");
        goto done;
    }
    m = s_active_member(pzk, q->institution);
    if (!m) {
        rc = koop_fail(call, PZK_NOT_MEMBER, "institution", q->institution);
        goto done;
    }
    if (strcmp(q->date, m->joined) < 0) {
        rc = koop_fail(call, DATE_ORDER, "date", q->date, "joined", m->joined);
        goto done;
    }
    saved = m->left;
    m->left = q->date;
    rc = reg_store(call, &reg_pzk_kind, &pzk->base, "pzk.left");
    m->left = saved;
done:
    if (pzk)
        koop__reg__pzk__free_unpacked(pzk, NULL);
    return rc;
}

int
reg_pzk_dissolve(koop_call_t *call)
{
    const Koop__Reg__PzkChange *q = (const Koop__Reg__PzkChange *)call->req;
    Koop__Reg__Pzk *pzk = NULL;
    char *saved;
    int rc;

    if ((rc = s_load(call, q, &pzk)) != KOOP_OK)
        goto done;
    if (pzk->dissolved && *pzk->dissolved) {
        rc = koop_fail(call, PZK_ALREADY_DISSOLVED, "pzk", pzk->dissolved);
        goto done;
    }
    for (size_t i = 0; i < pzk->n_members; i++) {
        Koop__Reg__PzkMember *m = pzk->members[i];
        if ((!m->left || !*m->left) && m->joined && strcmp(q->date, m->joined) < 0) {
            rc = koop_fail(call, DATE_ORDER, "date", q->date, "member_joined", m->joined);
            goto done;
        }
    }
    saved = pzk->dissolved;
    pzk->dissolved = q->date;
    rc = reg_store(call, &reg_pzk_kind, &pzk->base, "pzk.dissolved");
    pzk->dissolved = saved;
done:
    if (pzk)
        koop__reg__pzk__free_unpacked(pzk, NULL);
    return rc;
}

static int
s_match_pzk(koop_call_t *call, const ProtobufCMessage *m, const ProtobufCMessage *query)
{
    const Koop__Reg__Pzk *r = (const Koop__Reg__Pzk *)m;
    const Koop__Reg__PzkQuery *q = (const Koop__Reg__PzkQuery *)query;
    (void)call;
    if (q->teryt && *q->teryt && (!r->teryt || strcmp(r->teryt, q->teryt) != 0))
        return 0;
    if (q->institution && *q->institution) {
        for (size_t i = 0; i < r->n_members; i++)
            if (r->members[i]->institution && strcmp(r->members[i]->institution, q->institution) == 0)
                return 1;
        return 0;
    }
    return 1;
}

int
reg_pzk_list(koop_call_t *call)
{
    return reg_list(call, &reg_pzk_kind, s_match_pzk, &koop__reg__pzk_list__descriptor);
}
