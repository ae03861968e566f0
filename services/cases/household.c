/*
 * household.c - persons and households served by the gmina, their members,
 * and the consent/participation record.
 *
 * Names, PESEL, birth dates, addresses, phones, relations and the text of a
 * consent are personal data: they live in the household record and in LOCAL
 * events only. What aggregation needs - size, age bands as of the day of the
 * fact, sex of the head, target groups, consent dates and the institutions
 * data may go to - goes into SHARED facts.
 */
#include "cases.h"
#include "clock.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONSENTS 100

static int
s_check_sex(koop_call_t *call, int has, Koop__Cases__Sex sex)
{
    return koop_check_enum(call, "sex", has, sex, &koop__cases__sex__descriptor, 1, 0, 0);
}

static int
s_check_targets(koop_call_t *call, const Koop__Reg__Target *t, size_t n)
{
    /* pzk_members is a target group of services, not something a family is */
    return koop_check_enum_list(call, "target", t, n, KOOP__REG__TARGET__TARGET_SENIORS,
                                &koop__reg__target__descriptor, 1, KOOP__REG__TARGET__TARGET_SENIORS, 0);
}

/* Emits household facts (size, age bands on `date`) after a change. */
static int
s_household_change(koop_call_t *call, const Koop__Cases__Household *h, const char *type, const char *date)
{
    Koop__Cases__HouseholdFacts f = KOOP__CASES__HOUSEHOLD_FACTS__INIT;
    Koop__Cases__AgeBand bands[CASES_MAX_HOUSEHOLD_SIZE + 1];
    cases_change_t ch = {type, &h->base, &f.base, NULL, date, h->id, NULL};

    f.household = h->id;
    f.has_size = 1;
    f.size = h->size;
    f.n_age_bands = cases_household_bands(h, date, bands);
    f.age_bands = bands;
    f.has_sex = h->has_sex;
    f.sex = h->sex;
    f.n_target = h->n_target;
    f.target = h->target;
    f.date = (char *)date;
    return cases_record_change(call, &ch);
}

int
cases_household_add(koop_call_t *call)
{
    const Koop__Cases__HouseholdAdd *q = (const Koop__Cases__HouseholdAdd *)call->req;
    Koop__Cases__Household h = KOOP__CASES__HOUSEHOLD__INIT;
    cases_person_t who;
    char id[KOOP_ID_LEN], date[11];
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_text(call, "name", q->name, 1, 200)) != KOOP_OK ||
        (rc = cases_check_pesel(call, "pesel", q->pesel, 0)) != KOOP_OK ||
        (rc = koop_check_date(call, "birth", q->birth, 0)) != KOOP_OK ||
        (rc = s_check_sex(call, q->has_sex, q->sex)) != KOOP_OK ||
        (rc = koop_check_text(call, "address", q->address, 0, 300)) != KOOP_OK ||
        (rc = koop_check_phone(call, "phone", q->phone)) != KOOP_OK ||
        (rc = s_check_targets(call, q->target, q->n_target)) != KOOP_OK ||
        (rc = cases_step_date(call, "date", q->date, NULL, date)) != KOOP_OK)
        return rc;
    if (!q->has_size)
        return koop_fail(call, FIELD_REQUIRED, "size");
    if (q->size < 1 || q->size > CASES_MAX_HOUSEHOLD_SIZE)
        return koop_fail(call, FIELD_RANGE, "size", KOOP_NUM(q->size), "1", KOOP_NUM(CASES_MAX_HOUSEHOLD_SIZE));
    if (q->birth && *q->birth && cases_date_before(date, q->birth))
        return koop_fail(call, DATE_AFTER, "birth", q->birth, "registered", date);
    if ((rc = cases_new_id(call, id)) != KOOP_OK)
        return rc;
    cases_audit_note(call, id, NULL, NULL);
    h.id = id;
    h.name = q->name;
    h.pesel = q->pesel;
    h.birth = q->birth;
    h.has_sex = q->has_sex;
    h.sex = q->sex;
    h.address = q->address;
    h.phone = q->phone;
    h.has_size = 1;
    h.size = q->size;
    h.n_target = q->n_target;
    h.target = q->target;
    h.registered = date;
    h.created_by = who.id;
    h.owner = (char *)koop_service_node(call->svc);
    h.has_updated_ms = 1;
    h.updated_ms = koop_clock_real_ms();
    if ((rc = cases_save(call, "household", id, &h.base)) != KOOP_OK ||
        (rc = s_household_change(call, &h, "household.registered", date)) != KOOP_OK)
        return rc;
    return koop_call_reply(call, &h.base);
}

/* Loads the household `id` (request field "household") for who (noted for the audit). */
static int
s_load(koop_call_t *call, const cases_person_t *who, const char *id, Koop__Cases__Household **h)
{
    int rc;
    cases_audit_note(call, id, NULL, NULL);
    rc = cases_load(call, "household", &koop__cases__household__descriptor, "household", id, (ProtobufCMessage **)h);
    if (rc != KOOP_OK)
        return rc;
    if ((rc = cases_can_household(call, who, *h)) != KOOP_OK) {
        koop__cases__household__free_unpacked(*h, NULL);
        *h = NULL;
    }
    return rc;
}

int
cases_household_show(koop_call_t *call)
{
    const Koop__Cases__HouseholdRef *q = (const Koop__Cases__HouseholdRef *)call->req;
    Koop__Cases__Household *h = NULL;
    cases_person_t who;
    int rc;

    cases_audit_note(call, q->household, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK || (rc = s_load(call, &who, q->household, &h)) != KOOP_OK)
        return rc;
    rc = koop_call_reply(call, &h->base);
    koop__cases__household__free_unpacked(h, NULL);
    return rc;
}

int
cases_household_list(koop_call_t *call)
{
    const Koop__Cases__HouseholdQuery *q = (const Koop__Cases__HouseholdQuery *)call->req;
    ProtobufCMessage **items = NULL;
    size_t n = 0;
    cases_person_t who;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK ||
        (rc = koop_check_text(call, "text", q->text, 0, 200)) != KOOP_OK)
        return rc;
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "household"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Koop__Cases__Household *h = koop__cases__household__unpack(NULL, v.mv_size, v.mv_data);
        int visible;
        if (!h) {
            rc = MDB_CORRUPTED;
            break;
        }
        visible = !q->text || !*q->text || koop_text_contains(h->name, q->text) ||
                  (h->pesel && strcmp(h->pesel, q->text) == 0) || koop_text_contains(h->address, q->text);
        if (visible && (rc = cases_household_visible(call, &who, h, &visible)) != KOOP_OK) {
            koop__cases__household__free_unpacked(h, NULL);
            break;
        }
        if (!visible) {
            koop__cases__household__free_unpacked(h, NULL);
        } else if ((rc = cases_append(call, &items, &n, h)) != KOOP_OK) {
            koop__cases__household__free_unpacked(h, NULL);
            break;
        }
    }
    mdb_cursor_close(cur);
    return cases_list_done(call, rc, &koop__cases__household_list__descriptor, items, n);
}

static Koop__Cases__HouseholdMember *
s_member_new(const Koop__Cases__HouseholdMemberAdd *q)
{
    Koop__Cases__HouseholdMember *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    koop__cases__household_member__init(m);
    m->name = strdup(q->name);
    m->pesel = q->pesel && *q->pesel ? strdup(q->pesel) : NULL;
    m->birth = q->birth && *q->birth ? strdup(q->birth) : NULL;
    m->relation = q->relation && *q->relation ? strdup(q->relation) : NULL;
    m->has_sex = q->has_sex;
    m->sex = q->sex;
    if (!m->name || (q->pesel && *q->pesel && !m->pesel) || (q->birth && *q->birth && !m->birth) ||
        (q->relation && *q->relation && !m->relation)) {
        koop__cases__household_member__free_unpacked(m, NULL);
        return NULL;
    }
    return m;
}

int
cases_household_member_add(koop_call_t *call)
{
    const Koop__Cases__HouseholdMemberAdd *q = (const Koop__Cases__HouseholdMemberAdd *)call->req;
    Koop__Cases__Household *h = NULL;
    Koop__Cases__HouseholdMember *m;
    cases_person_t who;
    char date[11];
    int rc;

    cases_audit_note(call, q->household, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_text(call, "name", q->name, 1, 200)) != KOOP_OK ||
        (rc = cases_check_pesel(call, "pesel", q->pesel, 0)) != KOOP_OK ||
        (rc = koop_check_date(call, "birth", q->birth, 0)) != KOOP_OK ||
        (rc = s_check_sex(call, q->has_sex, q->sex)) != KOOP_OK ||
        (rc = koop_check_text(call, "relation", q->relation, 0, 60)) != KOOP_OK ||
        (rc = cases_step_date(call, "date", q->date, NULL, date)) != KOOP_OK)
        return rc;
    if ((rc = s_load(call, &who, q->household, &h)) != KOOP_OK)
        return rc;
    if (h->n_members + 1 >= CASES_MAX_HOUSEHOLD_SIZE) {
        rc = koop_fail(call, RECORD_LIMIT, "household", "household", KOOP_NUM(CASES_MAX_HOUSEHOLD_SIZE), "persons");
        goto done;
    }
    if (!(m = s_member_new(q))) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    if ((rc = cases_append(call, &h->members, &h->n_members, m)) != KOOP_OK) {
        koop__cases__household_member__free_unpacked(m, NULL);
        goto done;
    }
    /* `size` counts everyone: it grows when more people are recorded than it said */
    if (h->size < h->n_members + 1)
        h->size = (uint32_t)h->n_members + 1;
    h->updated_ms = koop_clock_real_ms();
    if ((rc = cases_save(call, "household", h->id, &h->base)) != KOOP_OK ||
        (rc = s_household_change(call, h, "household.member_added", date)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &h->base);
done:
    koop__cases__household__free_unpacked(h, NULL);
    return rc;
}

/* ---- consent: key of table "consent" = consent id, value = household id ---- */

static int
s_consent_change(koop_call_t *call, const Koop__Cases__Consent *c, const char *type, const char *date)
{
    Koop__Cases__ConsentFacts f = KOOP__CASES__CONSENT_FACTS__INIT;
    cases_change_t ch = {type, &c->base, &f.base, NULL, date, c->id, NULL};
    f.consent = c->id;
    f.household = c->household;
    f.given = c->date;
    f.withdrawn = c->withdrawn;
    f.n_share_with = c->n_share_with;
    f.share_with = c->share_with;
    return cases_record_change(call, &ch);
}

int
cases_consent_record(koop_call_t *call)
{
    const Koop__Cases__ConsentRecord *q = (const Koop__Cases__ConsentRecord *)call->req;
    Koop__Cases__Household *h = NULL;
    Koop__Cases__Consent *c = NULL;
    cases_person_t who;
    char id[KOOP_ID_LEN], date[11];
    int rc;

    cases_audit_note(call, q->household, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_step_date(call, "date", q->date, NULL, date)) != KOOP_OK ||
        (rc = koop_check_text(call, "purpose", q->purpose, 1, KOOP_MAX_TEXT)) != KOOP_OK)
        return rc;
    if (q->n_share_with > CASES_MAX_LIST)
        return koop_fail(call, LIST_TOO_LONG, "share_with", KOOP_NUM(CASES_MAX_LIST));
    for (size_t i = 0; i < q->n_share_with; i++) {
        Koop__Reg__Sector sector;
        if ((rc = cases_institution(call, "share_with", q->share_with[i], &sector)) != KOOP_OK)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(q->share_with[i], q->share_with[j]) == 0)
                return koop_fail(call, LIST_DUPLICATE, "share_with", q->share_with[i]);
    }
    if ((rc = s_load(call, &who, q->household, &h)) != KOOP_OK)
        return rc;
    if (h->n_consents >= MAX_CONSENTS) {
        rc = koop_fail(call, RECORD_LIMIT, "household", "household", KOOP_NUM(MAX_CONSENTS), "consents");
        goto done;
    }
    if ((rc = cases_new_id(call, id)) != KOOP_OK)
        goto done;
    cases_audit_note(call, NULL, NULL, id);
    if (!(c = calloc(1, sizeof *c))) {
        rc = koop_fail(call, INTERNAL_NO_MEMORY, NULL);
        goto done;
    }
    koop__cases__consent__init(c);
    if ((rc = cases_set(call, &c->id, id)) != KOOP_OK || (rc = cases_set(call, &c->household, h->id)) != KOOP_OK ||
        (rc = cases_set(call, &c->date, date)) != KOOP_OK ||
        (rc = cases_set(call, &c->purpose, q->purpose)) != KOOP_OK ||
        (rc = cases_set(call, &c->recorded_by, who.id)) != KOOP_OK)
        goto done;
    for (size_t i = 0; i < q->n_share_with; i++)
        if ((rc = cases_append_str(call, &c->share_with, &c->n_share_with, q->share_with[i])) != KOOP_OK)
            goto done;
    if ((rc = cases_append(call, &h->consents, &h->n_consents, c)) != KOOP_OK)
        goto done;
    c = NULL; /* the household owns it now */
    h->updated_ms = koop_clock_real_ms();
    {
        const Koop__Cases__Consent *added = h->consents[h->n_consents - 1];
        MDB_val k = {KOOP_ID_LEN - 1, id}, v = {KOOP_ID_LEN - 1, h->id};
        if ((rc = mdb_put(call->txn, cases_dbi(call, "consent"), &k, &v, 0)) != 0) {
            rc = koop_call_store_error(call, rc);
            goto done;
        }
        if ((rc = cases_save(call, "household", h->id, &h->base)) != KOOP_OK ||
            (rc = s_consent_change(call, added, "consent.recorded", date)) != KOOP_OK)
            goto done;
        rc = koop_call_reply(call, &added->base);
    }
done:
    if (c)
        koop__cases__consent__free_unpacked(c, NULL);
    if (h)
        koop__cases__household__free_unpacked(h, NULL);
    return rc;
}

int
cases_consent_withdraw(koop_call_t *call)
{
    const Koop__Cases__ConsentWithdraw *q = (const Koop__Cases__ConsentWithdraw *)call->req;
    Koop__Cases__Household *h = NULL;
    Koop__Cases__Consent *c = NULL;
    cases_person_t who;
    char hid[KOOP_ID_LEN], date[11];
    MDB_val k, v;
    int rc;

    cases_audit_note(call, NULL, NULL, q->consent);
    if ((rc = cases_caller(call, &who)) != KOOP_OK || (rc = cases_check_id(call, "consent", q->consent, 1)) != KOOP_OK)
        return rc;
    k.mv_size = strlen(q->consent);
    k.mv_data = q->consent;
    rc = mdb_get(call->txn, cases_dbi(call, "consent"), &k, &v);
    if (rc == MDB_NOTFOUND)
        return koop_fail(call, RECORD_NOT_FOUND, "consent", "consent", q->consent);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    if (v.mv_size != KOOP_ID_LEN - 1)
        return koop_call_store_error(call, MDB_CORRUPTED);
    memcpy(hid, v.mv_data, KOOP_ID_LEN - 1);
    hid[KOOP_ID_LEN - 1] = '\0';
    if ((rc = s_load(call, &who, hid, &h)) != KOOP_OK)
        return rc;
    for (size_t i = 0; i < h->n_consents; i++)
        if (h->consents[i]->id && strcmp(h->consents[i]->id, q->consent) == 0)
            c = h->consents[i];
    if (!c) {
        rc = koop_call_store_error(call, MDB_CORRUPTED);
        goto done;
    }
    if (c->withdrawn && *c->withdrawn) {
        rc = koop_fail(call, CONSENT_WITHDRAWN, "consent", c->withdrawn);
        goto done;
    }
    if ((rc = cases_step_date(call, "date", q->date, c->date, date)) != KOOP_OK)
        goto done;
    if (cases_date_before(date, c->date)) {
        rc = koop_fail(call, DATE_ORDER, "date", date, "consent_given", c->date);
        goto done;
    }
    if ((rc = cases_set(call, &c->withdrawn, date)) != KOOP_OK)
        goto done;
    h->updated_ms = koop_clock_real_ms();
    if ((rc = cases_save(call, "household", h->id, &h->base)) != KOOP_OK ||
        (rc = s_consent_change(call, c, "consent.withdrawn", date)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &c->base);
done:
    koop__cases__household__free_unpacked(h, NULL);
    return rc;
}
