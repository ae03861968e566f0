/*
 * household.c - persons and households served by the gmina, their members,
 * the consent/participation record, and finding them.
 *
 * Names, PESEL, birth dates, addresses, phones, relations and the text of a
 * consent are personal data: they live in the household record and in LOCAL
 * events only. What aggregation needs - size, age bands as of the day of the
 * fact, sex of the head, target groups, consent dates and the institutions
 * data may go to - goes into SHARED facts.
 *
 * Checks. A PESEL must be valid (check digit, a real birth date) and agree
 * with the birth date and sex given (those not given are taken from it); a
 * PESEL already held by another household of the gmina is refused with
 * that household and its case number (pesel.duplicate), unless a
 * coordinator links the entry to it (link: the households name each other
 * in `linked`). Names keep the rules of koop_check_name. The size counts
 * everyone and is never below the people recorded.
 *
 * The index "pesel": key = PESEL (11 digits) + household id, for the head
 * and every member who was not removed.
 */
#include "cases.h"
#include "clock.h"
#include "id.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONSENTS 100
#define PESEL_LEN 11

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

/* People recorded by name: the head and the members not removed. */
static uint32_t
s_recorded(const Koop__Cases__Household *h)
{
    uint32_t n = 1;
    for (size_t i = 0; i < h->n_members; i++)
        n += !h->members[i]->removed || !*h->members[i]->removed;
    return n;
}

static int
s_check_size(koop_call_t *call, const Koop__Cases__Household *h, uint32_t size)
{
    if (size < 1 || size > CASES_MAX_HOUSEHOLD_SIZE)
        return koop_fail(call, FIELD_RANGE, "size", KOOP_NUM(size), "1", KOOP_NUM(CASES_MAX_HOUSEHOLD_SIZE));
    if (h && size < s_recorded(h))
        return koop_fail(call, HOUSEHOLD_SIZE, "size", KOOP_NUM(s_recorded(h)), KOOP_NUM(size));
    return KOOP_OK;
}

/* Emits household facts (size, age bands on `date`) after a change; the
 * timeline of each of its IPWs gets summary (when given). */
static int
s_household_change(koop_call_t *call, const Koop__Cases__Household *h, const char *type, const char *date,
                   const char *summary)
{
    Koop__Cases__HouseholdFacts f;
    Koop__Cases__AgeBand bands[CASES_MAX_HOUSEHOLD_SIZE + 1];
    cases_change_t ch = {type, &h->base, &f.base, NULL, date, h->id, summary, summary ? h : NULL};
    cases_household_facts(h, date, &f, bands);
    return cases_record_change(call, &ch);
}

static int
s_household_updated(koop_call_t *call, const ProtobufCMessage *rec, const void *ctx, const char *date,
                    const char *summary)
{
    (void)ctx;
    return s_household_change(call, (const Koop__Cases__Household *)rec, "household.updated", date, summary);
}

/* ---- the PESEL index ---- */

static int
s_pesel_key(unsigned char key[PESEL_LEN + KOOP_ID_LEN - 1], const char *pesel, const char *household)
{
    if (!pesel || strlen(pesel) != PESEL_LEN)
        return 0;
    memcpy(key, pesel, PESEL_LEN);
    memcpy(key + PESEL_LEN, household, KOOP_ID_LEN - 1);
    return 1;
}

int
cases_pesel_index(koop_call_t *call, const Koop__Cases__Household *h, int add)
{
    unsigned char key[PESEL_LEN + KOOP_ID_LEN - 1];
    MDB_val k = {sizeof key, key}, v = {0, ""};
    int rc;
    for (size_t i = 0; i <= h->n_members; i++) {
        const char *p = i == 0 ? h->pesel : h->members[i - 1]->pesel;
        if (i > 0 && h->members[i - 1]->removed && *h->members[i - 1]->removed)
            continue;
        if (!s_pesel_key(key, p, h->id))
            continue;
        rc = add ? mdb_put(call->txn, cases_dbi(call, "pesel"), &k, &v, 0)
                 : mdb_del(call->txn, cases_dbi(call, "pesel"), &k, NULL);
        if (rc != 0 && !(rc == MDB_NOTFOUND && !add))
            return koop_call_store_error(call, rc);
    }
    return KOOP_OK;
}

/* The case number of a household: its latest IPW's, or "–". */
static void
s_case_number(koop_call_t *call, const char *household, char out[32])
{
    Koop__Cases__Household *h = NULL;
    snprintf(out, 32, "–");
    if (koop_record_get(call->txn, cases_dbi(call, "household"), household, &koop__cases__household__descriptor,
                        (ProtobufCMessage **)&h) != 0)
        return;
    for (size_t i = h->n_ipws; i-- > 0;) {
        Koop__Cases__Ipw *ipw = NULL;
        if (koop_record_get(call->txn, cases_dbi(call, "ipw"), h->ipws[i], &koop__cases__ipw__descriptor,
                            (ProtobufCMessage **)&ipw) == 0) {
            int found = !cases_removed(&ipw->base) && ipw->number;
            if (found)
                snprintf(out, 32, "%s", ipw->number);
            koop__cases__ipw__free_unpacked(ipw, NULL);
            if (found)
                break;
        }
    }
    koop__cases__household__free_unpacked(h, NULL);
}

/* Refuses a PESEL another household of the gmina holds, unless a
 * coordinator links: then the other households go into *linked. self: the
 * household being changed (NULL: a new one). */
static int
s_pesel_unique(koop_call_t *call, const cases_person_t *who, const char *field, const char *pesel, const char *self,
               int link, char ***linked, size_t *nlinked)
{
    MDB_cursor *cur;
    MDB_val k = {PESEL_LEN, (void *)pesel}, v;
    int rc, st = KOOP_OK;
    if (!pesel || strlen(pesel) != PESEL_LEN)
        return KOOP_OK;
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "pesel"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && st == KOOP_OK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char other[KOOP_ID_LEN], number[32];
        int known = 0;
        if (k.mv_size != PESEL_LEN + KOOP_ID_LEN - 1 || memcmp(k.mv_data, pesel, PESEL_LEN) != 0)
            break;
        memcpy(other, (char *)k.mv_data + PESEL_LEN, KOOP_ID_LEN - 1);
        other[KOOP_ID_LEN - 1] = '\0';
        if (self && strcmp(other, self) == 0)
            continue;
        if (!link) {
            s_case_number(call, other, number);
            st = koop_fail(call, PESEL_DUPLICATE, field, other, number);
        } else if (!cases_is_coordinator(who)) {
            st = koop_fail(call, ACCESS_DENIED_COORDINATOR_ACTION, NULL, who->id, "household.link");
        } else {
            for (size_t i = 0; i < *nlinked; i++)
                known |= strcmp((*linked)[i], other) == 0;
            if (!known && *nlinked < CASES_MAX_LIST)
                st = cases_append_str(call, linked, nlinked, other);
        }
    }
    mdb_cursor_close(cur);
    if (st != KOOP_OK)
        return st;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return koop_call_store_error(call, rc);
    return KOOP_OK;
}

/* The checks of one person's identity (the head or a member). birth and
 * sex get what the PESEL says when they were not given. */
static int
s_check_person(koop_call_t *call, const char *pesel, const char *birth, int has_sex, Koop__Cases__Sex sex,
               char birth_out[11], Koop__Cases__Sex *sex_out)
{
    int rc;
    if ((rc = koop_check_date(call, "birth", birth, 0)) != KOOP_OK || (rc = s_check_sex(call, has_sex, sex)) != KOOP_OK)
        return rc;
    if (birth && *birth && (rc = cases_check_past(call, "birth", birth)) != KOOP_OK)
        return rc;
    return cases_check_pesel(call, "pesel", pesel, birth, has_sex, sex, birth_out, sex_out);
}

int
cases_household_add(koop_call_t *call)
{
    const Koop__Cases__HouseholdAdd *q = (const Koop__Cases__HouseholdAdd *)call->req;
    Koop__Cases__Household h = KOOP__CASES__HOUSEHOLD__INIT;
    Koop__Cases__Sex sex = q->sex;
    cases_person_t who;
    char id[KOOP_ID_LEN], date[11], birth[11];
    char **linked = NULL;
    size_t nlinked = 0;
    int rc;

    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_name(call, "name", q->name, 1, 200)) != KOOP_OK ||
        (rc = s_check_person(call, q->pesel, q->birth, q->has_sex, q->sex, birth, &sex)) != KOOP_OK ||
        (rc = koop_check_text(call, "address", q->address, 0, 300)) != KOOP_OK ||
        (rc = koop_check_phone(call, "phone", q->phone)) != KOOP_OK ||
        (rc = s_check_targets(call, q->target, q->n_target)) != KOOP_OK ||
        (rc = cases_step_date(call, "date", q->date, NULL, date)) != KOOP_OK)
        return rc;
    if (!q->has_size)
        return koop_fail(call, FIELD_REQUIRED, "size");
    if ((rc = s_check_size(call, NULL, q->size)) != KOOP_OK)
        return rc;
    if (birth[0] && cases_date_before(date, birth))
        return koop_fail(call, DATE_AFTER, "birth", birth, "registered", date);
    if ((rc = cases_new_id(call, id)) != KOOP_OK)
        return rc;
    cases_audit_note(call, id, NULL, NULL);
    if ((rc = s_pesel_unique(call, &who, "pesel", q->pesel, NULL, q->link, &linked, &nlinked)) != KOOP_OK)
        goto done;
    h.id = id;
    h.name = q->name;
    h.pesel = q->pesel && *q->pesel ? q->pesel : NULL;
    h.birth = birth[0] ? birth : (q->birth && *q->birth ? q->birth : NULL);
    h.has_sex = q->has_sex || (q->pesel && *q->pesel);
    h.sex = sex;
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
    h.n_linked = nlinked;
    h.linked = linked;
    if ((rc = cases_save(call, "household", id, &h.base)) != KOOP_OK || (rc = cases_pesel_index(call, &h, 1)) != KOOP_OK ||
        (rc = s_household_change(call, &h, "household.registered", date, NULL)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &h.base);
done:
    for (size_t i = 0; i < nlinked; i++)
        free(linked[i]);
    free(linked);
    return rc;
}

/* Loads the household `id` (request field "household") for who (noted for
 * the audit); with action, for a change by who. */
static int
s_load(koop_call_t *call, const cases_person_t *who, const char *id, const char *action, Koop__Cases__Household **h)
{
    int rc;
    cases_audit_note(call, id, NULL, NULL);
    rc = cases_load(call, "household", &koop__cases__household__descriptor, "household", id, (ProtobufCMessage **)h);
    if (rc != KOOP_OK)
        return rc;
    rc = cases_can_household(call, who, *h);
    if (rc == KOOP_OK && action)
        rc = cases_can_change_household(call, who, *h, action);
    if (rc == KOOP_OK && action)
        rc = cases_check_owned(call, "household", (*h)->id, (*h)->transfer, (*h)->transferred_to, (*h)->transferred);
    if (rc != KOOP_OK) {
        koop__cases__household__free_unpacked(*h, NULL);
        *h = NULL;
    }
    return rc;
}

int
cases_household_show(koop_call_t *call)
{
    const Koop__Cases__HouseholdRef *q = (const Koop__Cases__HouseholdRef *)call->req;
    const char *id = q->household && *q->household ? q->household : q->id;
    Koop__Cases__Household *h = NULL;
    cases_person_t who;
    int rc;

    cases_audit_note(call, id, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK || (rc = s_load(call, &who, id, NULL, &h)) != KOOP_OK)
        return rc;
    rc = koop_call_reply(call, &h->base);
    koop__cases__household__free_unpacked(h, NULL);
    return rc;
}

/* Whether household h is what `text` looks for: a case number of one of
 * its IPWs, its name or a member's, its address, a PESEL or the start of
 * one - ignoring case and Polish letters. */
static int
s_matches(koop_call_t *call, const Koop__Cases__Household *h, const char *text)
{
    size_t tl = strlen(text);
    int digits = tl > 0 && strspn(text, "0123456789") == tl;
    if (!*text)
        return 1;
    if (koop_text_contains(h->name, text) || koop_text_contains(h->address, text))
        return 1;
    if (digits && h->pesel && strncmp(h->pesel, text, tl) == 0)
        return 1;
    for (size_t i = 0; i < h->n_members; i++) {
        const Koop__Cases__HouseholdMember *m = h->members[i];
        if (m->removed && *m->removed)
            continue;
        if (koop_text_contains(m->name, text) || (digits && m->pesel && strncmp(m->pesel, text, tl) == 0))
            return 1;
    }
    if (tl >= 4 && strncmp(text, "IPW/", 4) == 0)
        for (size_t i = 0; i < h->n_ipws; i++) {
            Koop__Cases__Ipw *ipw = NULL;
            int hit = 0;
            if (koop_record_get(call->txn, cases_dbi(call, "ipw"), h->ipws[i], &koop__cases__ipw__descriptor,
                                (ProtobufCMessage **)&ipw) != 0)
                continue;
            hit = !cases_removed(&ipw->base) && (koop_text_contains(ipw->number, text) ||
                                                 koop_text_contains(ipw->previous_number, text));
            koop__cases__ipw__free_unpacked(ipw, NULL);
            if (hit)
                return 1;
        }
    return 0;
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
        visible = !cases_removed(&h->base) && s_matches(call, h, q->text ? q->text : "");
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

/* Corrections of the head's data and the household's size and groups. */
int
cases_household_update(koop_call_t *call)
{
    static const char *const skip[] = {"household", "reason", NULL};
    const Koop__Cases__HouseholdUpdate *q = (const Koop__Cases__HouseholdUpdate *)call->req;
    Koop__Cases__Household *h = NULL;
    Koop__Cases__Sex sex;
    cases_person_t who;
    char changes[700], birth[11];
    int rc, changed;

    cases_audit_note(call, q->household, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((q->name && (rc = koop_check_name(call, "name", q->name, 1, 200)) != KOOP_OK) ||
        (rc = koop_check_text(call, "address", q->address, 0, 300)) != KOOP_OK ||
        (rc = koop_check_phone(call, "phone", q->phone)) != KOOP_OK ||
        (rc = s_check_targets(call, q->target, q->n_target)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 0, 1000)) != KOOP_OK)
        return rc;
    if (!q->name && !q->pesel && !q->birth && !q->has_sex && !q->address && !q->phone && !q->has_size && !q->n_target)
        return koop_fail(call, UPDATE_EMPTY, NULL);
    if ((rc = s_load(call, &who, q->household, "household.update", &h)) != KOOP_OK)
        return rc;
    if (q->has_size && (rc = s_check_size(call, h, q->size)) != KOOP_OK)
        goto done;
    sex = q->has_sex ? q->sex : h->sex;
    if ((rc = s_check_person(call, q->pesel ? q->pesel : h->pesel, q->birth ? q->birth : h->birth,
                             q->has_sex || h->has_sex, sex, birth, NULL)) != KOOP_OK)
        goto done;
    if (q->pesel && *q->pesel &&
        (rc = s_pesel_unique(call, &who, "pesel", q->pesel, h->id, 0, NULL, NULL)) != KOOP_OK)
        goto done;
    if ((rc = cases_pesel_index(call, h, 0)) != KOOP_OK ||
        (rc = cases_update_fields(call, &q->base, &h->base, skip, &changed, changes, sizeof changes)) != KOOP_OK ||
        (rc = cases_pesel_index(call, h, 1)) != KOOP_OK)
        goto done;
    if (changed)
        h->updated_ms = koop_clock_real_ms();
    rc = cases_correction_done(call, "household", &h->base, changed, "dane gospodarstwa", changes, q->reason,
                               s_household_updated, NULL);
done:
    if (h)
        koop__cases__household__free_unpacked(h, NULL);
    return rc;
}

static int
s_member_new(koop_call_t *call, const Koop__Cases__HouseholdMemberAdd *q, const char *birth, Koop__Cases__Sex sex,
             Koop__Cases__HouseholdMember **out)
{
    Koop__Cases__HouseholdMember *m = calloc(1, sizeof *m);
    char id[KOOP_ID_LEN];
    int rc;
    *out = NULL;
    if (!m)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    koop__cases__household_member__init(m);
    m->has_sex = q->has_sex || (q->pesel && *q->pesel);
    m->sex = sex;
    if ((rc = cases_new_id(call, id)) != KOOP_OK || (rc = cases_set(call, &m->id, id)) != KOOP_OK ||
        (rc = cases_set(call, &m->name, q->name)) != KOOP_OK || (rc = cases_set(call, &m->pesel, q->pesel)) != KOOP_OK ||
        (rc = cases_set(call, &m->birth, birth[0] ? birth : q->birth)) != KOOP_OK ||
        (rc = cases_set(call, &m->relation, q->relation)) != KOOP_OK) {
        koop__cases__household_member__free_unpacked(m, NULL);
        return rc;
    }
    *out = m;
    return KOOP_OK;
}

int
cases_household_member_add(koop_call_t *call)
{
    const Koop__Cases__HouseholdMemberAdd *q = (const Koop__Cases__HouseholdMemberAdd *)call->req;
    Koop__Cases__Household *h = NULL;
    Koop__Cases__HouseholdMember *m;
    Koop__Cases__Sex sex = q->sex;
    cases_person_t who;
    char date[11], birth[11], summary[200];
    int rc;

    cases_audit_note(call, q->household, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = koop_check_name(call, "name", q->name, 1, 200)) != KOOP_OK ||
        (rc = s_check_person(call, q->pesel, q->birth, q->has_sex, q->sex, birth, &sex)) != KOOP_OK ||
        (rc = koop_check_name(call, "relation", q->relation, 0, 60)) != KOOP_OK ||
        (rc = cases_step_date(call, "date", q->date, NULL, date)) != KOOP_OK)
        return rc;
    if ((rc = s_load(call, &who, q->household, "household.member.add", &h)) != KOOP_OK)
        return rc;
    if (h->n_members + 1 >= CASES_MAX_HOUSEHOLD_SIZE) {
        rc = koop_fail(call, RECORD_LIMIT, "household", "household", KOOP_NUM(CASES_MAX_HOUSEHOLD_SIZE), "persons");
        goto done;
    }
    if (s_recorded(h) + 1 > h->size) {
        rc = koop_fail(call, HOUSEHOLD_SIZE, "household", KOOP_NUM(s_recorded(h) + 1), KOOP_NUM(h->size));
        goto done;
    }
    if ((rc = s_pesel_unique(call, &who, "pesel", q->pesel, h->id, q->link, &h->linked, &h->n_linked)) != KOOP_OK ||
        (rc = s_member_new(call, q, birth, sex, &m)) != KOOP_OK)
        goto done;
    if ((rc = cases_append(call, &h->members, &h->n_members, m)) != KOOP_OK) {
        koop__cases__household_member__free_unpacked(m, NULL);
        goto done;
    }
    h->updated_ms = koop_clock_real_ms();
    snprintf(summary, sizeof summary, "dodano osobę w gospodarstwie: %.100s", q->name);
    if ((rc = cases_save(call, "household", h->id, &h->base)) != KOOP_OK || (rc = cases_pesel_index(call, h, 1)) != KOOP_OK ||
        (rc = s_household_change(call, h, "household.member_added", date, summary)) != KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &h->base);
done:
    koop__cases__household__free_unpacked(h, NULL);
    return rc;
}

int
cases_household_member_update(koop_call_t *call)
{
    static const char *const skip[] = {"household", "member", "reason", NULL};
    const Koop__Cases__HouseholdMemberUpdate *q = (const Koop__Cases__HouseholdMemberUpdate *)call->req;
    Koop__Cases__Household *h = NULL;
    Koop__Cases__HouseholdMember *m = NULL;
    cases_person_t who;
    char changes[700], birth[11];
    int rc, changed;

    cases_audit_note(call, q->household, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_check_id(call, "member", q->member, 1)) != KOOP_OK ||
        (q->name && (rc = koop_check_name(call, "name", q->name, 1, 200)) != KOOP_OK) ||
        (rc = koop_check_name(call, "relation", q->relation, 0, 60)) != KOOP_OK ||
        (rc = koop_check_text(call, "reason", q->reason, 0, 1000)) != KOOP_OK)
        return rc;
    if ((rc = s_load(call, &who, q->household, "household.member.update", &h)) != KOOP_OK)
        return rc;
    for (size_t i = 0; i < h->n_members; i++)
        if (h->members[i]->id && strcmp(h->members[i]->id, q->member) == 0 &&
            (!h->members[i]->removed || !*h->members[i]->removed))
            m = h->members[i];
    if (!m) {
        rc = koop_fail(call, RECORD_NOT_FOUND, "member", "household_member", q->member);
        goto done;
    }
    if ((rc = s_check_person(call, q->pesel ? q->pesel : m->pesel, q->birth ? q->birth : m->birth,
                             q->has_sex || m->has_sex, q->has_sex ? q->sex : m->sex, birth, NULL)) != KOOP_OK)
        goto done;
    if (q->pesel && *q->pesel && (rc = s_pesel_unique(call, &who, "pesel", q->pesel, h->id, 0, NULL, NULL)) != KOOP_OK)
        goto done;
    if ((rc = cases_pesel_index(call, h, 0)) != KOOP_OK ||
        (rc = cases_update_fields(call, &q->base, &m->base, skip, &changed, changes, sizeof changes)) != KOOP_OK ||
        (rc = cases_pesel_index(call, h, 1)) != KOOP_OK)
        goto done;
    if (changed)
        h->updated_ms = koop_clock_real_ms();
    rc = cases_correction_done(call, "household", &h->base, changed, "dane osoby w gospodarstwie", changes, q->reason,
                               s_household_updated, NULL);
done:
    koop__cases__household__free_unpacked(h, NULL);
    return rc;
}

/* ---- consent: key of table "consent" = consent id, value = household id ---- */

static int
s_consent_change(koop_call_t *call, const Koop__Cases__Consent *c, const Koop__Cases__Household *h, const char *type,
                 const char *date, const char *summary)
{
    Koop__Cases__ConsentFacts f = KOOP__CASES__CONSENT_FACTS__INIT;
    cases_change_t ch = {type, &c->base, &f.base, NULL, date, c->id, summary, h};
    f.consent = c->id;
    f.household = c->household;
    f.given = c->date;
    f.withdrawn = c->withdrawn;
    f.n_share_with = c->n_share_with;
    f.share_with = c->share_with;
    return cases_record_change(call, &ch);
}

/* The consent (or the record of another legal basis) names the
 * institutions the family's data may go to: only their people join its
 * ZZK. */
int
cases_consent_record(koop_call_t *call)
{
    const Koop__Cases__ConsentRecord *q = (const Koop__Cases__ConsentRecord *)call->req;
    Koop__Cases__Household *h = NULL;
    Koop__Cases__Consent *c = NULL;
    cases_person_t who;
    char id[KOOP_ID_LEN], date[11], summary[240];
    int rc;

    cases_audit_note(call, q->household, NULL, NULL);
    if ((rc = cases_caller(call, &who)) != KOOP_OK)
        return rc;
    if ((rc = cases_step_date(call, "date", q->date, NULL, date)) != KOOP_OK ||
        (rc = koop_check_text(call, "purpose", q->purpose, 1, KOOP_MAX_TEXT)) != KOOP_OK ||
        (rc = koop_check_name(call, "basis", q->basis, 0, 300)) != KOOP_OK)
        return rc;
    if (q->n_share_with == 0)
        return koop_fail(call, FIELD_REQUIRED, "share_with");
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
    if ((rc = s_load(call, &who, q->household, "consent.record", &h)) != KOOP_OK)
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
        (rc = cases_set(call, &c->basis, q->basis)) != KOOP_OK ||
        (rc = cases_set(call, &c->recorded_by, who.id)) != KOOP_OK)
        goto done;
    for (size_t i = 0; i < q->n_share_with; i++)
        if ((rc = cases_append_str(call, &c->share_with, &c->n_share_with, q->share_with[i])) != KOOP_OK)
            goto done;
    if ((rc = cases_append(call, &h->consents, &h->n_consents, c)) != KOOP_OK)
        goto done;
    c = NULL; /* the household owns it now */
    h->updated_ms = koop_clock_real_ms();
    snprintf(summary, sizeof summary, "%s (%zu instytucji)%s%.100s",
             q->basis && *q->basis ? "zapisano podstawę prawną współpracy" : "rodzina wyraziła zgodę",
             q->n_share_with, q->basis && *q->basis ? ": " : "", q->basis ? q->basis : "");
    {
        const Koop__Cases__Consent *added = h->consents[h->n_consents - 1];
        MDB_val k = {KOOP_ID_LEN - 1, id}, v = {KOOP_ID_LEN - 1, h->id};
        if ((rc = mdb_put(call->txn, cases_dbi(call, "consent"), &k, &v, 0)) != 0) {
            rc = koop_call_store_error(call, rc);
            goto done;
        }
        if ((rc = cases_save(call, "household", h->id, &h->base)) != KOOP_OK ||
            (rc = s_consent_change(call, added, h, "consent.recorded", date, summary)) != KOOP_OK)
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

/* A withdrawal takes effect at once: ZZK members whose institution no
 * consent in force names read nothing more (access.c). */
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
    if ((rc = s_load(call, &who, hid, "consent.withdraw", &h)) != KOOP_OK)
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
        (rc = s_consent_change(call, c, h, "consent.withdrawn", date,
                               "rodzina wycofała zgodę: instytucje, których nie obejmuje już żadna zgoda, tracą dostęp")) !=
            KOOP_OK)
        goto done;
    rc = koop_call_reply(call, &c->base);
done:
    koop__cases__household__free_unpacked(h, NULL);
    return rc;
}
