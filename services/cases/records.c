/* records.c - loading and saving case records, input checks, and the events
 * and timeline entries every change writes (see cases.h). */
#include "cases.h"
#include "check.h"
#include "clock.h"
#include "id.h"
#include "pbjson.h"
#include "present.h"
#include "say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cases_t *
cases_of(koop_call_t *call)
{
    return koop_service_user(call->svc);
}

MDB_dbi
cases_dbi(koop_call_t *call, const char *table)
{
    return koop_store_dbi(koop_service_store(call->svc), table);
}

int
cases_new_id(koop_call_t *call, char out[KOOP_ID_LEN])
{
    if (koop_id_new(out) != 0)
        return koop_fail(call, INTERNAL_ID, NULL);
    return KOOP_OK;
}

int
cases_check_id(koop_call_t *call, const char *field, const char *value, int required)
{
    if (!value || !*value) {
        if (required)
            return koop_fail(call, FIELD_REQUIRED, field);
        return KOOP_OK;
    }
    if (!koop_id_valid(value))
        return koop_fail(call, ID_INVALID, field, value);
    return KOOP_OK;
}

int
cases_load_any(koop_call_t *call, const char *table, const ProtobufCMessageDescriptor *desc,
               const char *field, const char *id, ProtobufCMessage **out)
{
    int rc;
    *out = NULL;
    if ((rc = cases_check_id(call, field, id, 1)) != KOOP_OK)
        return rc;
    rc = koop_record_get(call->txn, cases_dbi(call, table), id, desc, out);
    if (rc == MDB_NOTFOUND)
        return koop_fail(call, RECORD_NOT_FOUND, field, table, id);
    if (rc != 0)
        return koop_call_store_error(call, rc);
    return KOOP_OK;
}

int
cases_removed(const ProtobufCMessage *rec)
{
    const char *r = koop_record_str(rec, "removed");
    return r && *r;
}

int
cases_load(koop_call_t *call, const char *table, const ProtobufCMessageDescriptor *desc,
           const char *field, const char *id, ProtobufCMessage **out)
{
    int rc = cases_load_any(call, table, desc, field, id, out);
    if (rc != KOOP_OK || !cases_removed(*out))
        return rc;
    rc = koop_fail(call, RECORD_REMOVED, field, table, id, koop_record_str(*out, "removed"));
    protobuf_c_message_free_unpacked(*out, NULL);
    *out = NULL;
    return rc;
}

char **
cases_str_field(ProtobufCMessage *rec, const char *name)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(rec->descriptor, name);
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return (char **)((char *)rec + f->offset);
}

int
cases_save(koop_call_t *call, const char *table, const char *id, const ProtobufCMessage *rec)
{
    int rc = koop_record_put(call->txn, cases_dbi(call, table), id, rec);
    return rc == 0 ? KOOP_OK : koop_call_store_error(call, rc);
}

/* ---- checks ---- */

int
cases_check_psr(koop_call_t *call, const char *field, int has, int32_t value)
{
    if (!has)
        return koop_fail(call, PSR_REQUIRED, field);
    if (value < 0 || value > 10)
        return koop_fail(call, PSR_RANGE, field, KOOP_NUM(value));
    return KOOP_OK;
}

int
cases_check_target(koop_call_t *call, int32_t baseline, int32_t target)
{
    if (target <= baseline)
        return koop_fail(call, GOAL_TARGET, "target", KOOP_NUM(target), KOOP_NUM(baseline));
    return KOOP_OK;
}

/* PESEL (the law on population records): YYMMDD with the century in the
 * month (+80 for 1800-1899, +0 1900-, +20 2000-, +40 2100-, +60 2200-),
 * four digits of which the last is odd for men, and a check digit. The
 * number itself is never repeated in a message: messages go to the audit
 * log. */
int
cases_check_pesel(koop_call_t *call, const char *field, const char *value, const char *birth, int has_sex,
                  Koop__Cases__Sex sex, char birth_out[11], Koop__Cases__Sex *sex_out)
{
    static const int weight[10] = {1, 3, 7, 9, 1, 3, 7, 9, 1, 3};
    static const int century[5] = {1900, 2000, 2100, 2200, 1800};
    char date[24];
    int sum = 0, month, year;
    Koop__Cases__Sex by_number;

    if (birth_out)
        birth_out[0] = '\0';
    if (!value || !*value)
        return KOOP_OK;
    if (strlen(value) != 11 || strspn(value, "0123456789") != 11)
        return koop_fail(call, PESEL_INVALID, field);
    for (int i = 0; i < 10; i++)
        sum += (value[i] - '0') * weight[i];
    if ((10 - sum % 10) % 10 != value[10] - '0')
        return koop_fail(call, PESEL_CHECKSUM, field);
    month = (value[2] - '0') * 10 + (value[3] - '0');
    year = century[month / 20] + (value[0] - '0') * 10 + (value[1] - '0');
    snprintf(date, sizeof date, "%04d-%02d-%.2s", year, month % 20, value + 4);
    if (!koop_date_valid(date))
        return koop_fail(call, PESEL_DATE, field);
    by_number = (value[9] - '0') % 2 ? KOOP__CASES__SEX__SEX_MALE : KOOP__CASES__SEX__SEX_FEMALE;
    if (birth && *birth && strcmp(birth, date) != 0)
        return koop_fail(call, PESEL_BIRTH, field, date, birth);
    if (has_sex && sex != KOOP__CASES__SEX__SEX_UNSPECIFIED && sex != by_number)
        return koop_fail(call, PESEL_SEX, field, by_number == KOOP__CASES__SEX__SEX_MALE ? "male" : "female",
                         sex == KOOP__CASES__SEX__SEX_MALE ? "male" : "female");
    if (birth_out)
        memcpy(birth_out, date, 11); /* a valid date: 10 characters */
    if (sex_out)
        *sex_out = by_number;
    return KOOP_OK;
}

int
cases_date_before(const char *a, const char *b)
{
    return strcmp(a, b) < 0; /* YYYY-MM-DD sorts as text */
}

void
cases_today(char out[11])
{
    koop_date_today(out);
}

long
cases_days_between(const char *a, const char *b)
{
    return (long)(koop_date_days(b) - koop_date_days(a));
}

int
cases_check_past(koop_call_t *call, const char *field, const char *date)
{
    char today[11];
    cases_today(today);
    if (cases_days_between(today, date) > CASES_FUTURE_DAYS)
        return koop_fail(call, DATE_FUTURE, field, date, today);
    return KOOP_OK;
}

int
cases_step_date(koop_call_t *call, const char *field, const char *given, const char *floor, char out[11])
{
    int rc;
    if (given && *given) {
        if ((rc = koop_check_date(call, field, given, 1)) != KOOP_OK ||
            (rc = cases_check_past(call, field, given)) != KOOP_OK)
            return rc;
        snprintf(out, 11, "%s", given);
        return KOOP_OK;
    }
    cases_today(out);
    if (floor && *floor && cases_date_before(out, floor))
        snprintf(out, 11, "%s", floor);
    return KOOP_OK;
}

/* ---- age bands ---- */

Koop__Cases__AgeBand
cases_age_band(const char *birth, const char *date)
{
    int age;
    if (!koop_date_valid(birth) || !koop_date_valid(date) || cases_date_before(date, birth))
        return KOOP__CASES__AGE_BAND__AGE_UNSPECIFIED;
    age = atoi(date) - atoi(birth) - (strcmp(date + 5, birth + 5) < 0);
    if (age < 6)
        return KOOP__CASES__AGE_BAND__AGE_0_5;
    if (age < 18)
        return KOOP__CASES__AGE_BAND__AGE_6_17;
    if (age < 30)
        return KOOP__CASES__AGE_BAND__AGE_18_29;
    if (age < 45)
        return KOOP__CASES__AGE_BAND__AGE_30_44;
    if (age < 60)
        return KOOP__CASES__AGE_BAND__AGE_45_59;
    if (age < 75)
        return KOOP__CASES__AGE_BAND__AGE_60_74;
    return KOOP__CASES__AGE_BAND__AGE_75_PLUS;
}

size_t
cases_household_bands(const Koop__Cases__Household *h, const char *date, Koop__Cases__AgeBand *bands)
{
    size_t n = 0;
    Koop__Cases__AgeBand b = cases_age_band(h->birth, date);
    if (b != KOOP__CASES__AGE_BAND__AGE_UNSPECIFIED)
        bands[n++] = b;
    for (size_t i = 0; i < h->n_members && n < CASES_MAX_HOUSEHOLD_SIZE; i++) {
        if (h->members[i]->removed && *h->members[i]->removed)
            continue;
        b = cases_age_band(h->members[i]->birth, date);
        if (b != KOOP__CASES__AGE_BAND__AGE_UNSPECIFIED)
            bands[n++] = b;
    }
    return n;
}

void
cases_household_facts(const Koop__Cases__Household *h, const char *date, Koop__Cases__HouseholdFacts *f,
                      Koop__Cases__AgeBand *bands)
{
    koop__cases__household_facts__init(f);
    f->household = h->id;
    f->has_size = 1;
    f->size = h->size;
    f->n_age_bands = cases_household_bands(h, date, bands);
    f->age_bands = bands;
    f->has_sex = h->has_sex;
    f->sex = h->sex;
    f->n_target = h->n_target;
    f->target = h->target;
    f->date = (char *)date;
}

/* ---- SHARED facts: only ids and dates as strings ---- */

static const ProtobufCMessageDescriptor *const s_facts[] = {
    &koop__cases__household_facts__descriptor, &koop__cases__consent_facts__descriptor,
    &koop__cases__ipw_facts__descriptor,       &koop__cases__member_facts__descriptor,
    &koop__cases__goal_facts__descriptor,      &koop__cases__task_facts__descriptor,
    &koop__cases__meeting_facts__descriptor,   &koop__cases__referral_facts__descriptor,
    &koop__cases__removed_facts__descriptor,   &koop__cases__transfer_facts__descriptor,
};

/* A node id as `koopctl node init` and the config allow them: letters,
 * digits, - and _, with a dash (role-teryt) - never a word of free text. */
static int
s_node_id(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n && strchr(s, '-');
}

static int
s_clean_string(const ProtobufCFieldDescriptor *f, const char *s)
{
    size_t n = strlen(f->name);
    if (!s || !*s || koop_id_valid(s) || koop_date_valid(s))
        return 1;
    return n > 5 && strcmp(f->name + n - 5, "_node") == 0 && s_node_id(s);
}

static int
s_facts_clean(const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int known = 0;
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_facts); i++)
        known |= s_facts[i] == d;
    if (!known || depth > 2)
        return 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m + f->offset;
        size_t n = f->label == PROTOBUF_C_LABEL_REPEATED ? *(const size_t *)((const char *)m + f->quantifier_offset) : 1;
        if (f->type == PROTOBUF_C_TYPE_BYTES)
            return 0;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            /* only facts inside facts (a transfer's) */
            ProtobufCMessage *const *v =
                f->label == PROTOBUF_C_LABEL_REPEATED ? *(ProtobufCMessage *const *const *)base : (ProtobufCMessage *const *)base;
            for (size_t k = 0; k < n; k++)
                if (v[k] && !s_facts_clean(v[k], depth + 1))
                    return 0;
            continue;
        }
        if (f->type != PROTOBUF_C_TYPE_STRING)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            char *const *v = *(char *const *const *)base;
            for (size_t k = 0; k < n; k++)
                if (!s_clean_string(f, v[k]))
                    return 0;
        } else if (!s_clean_string(f, *(char *const *)base)) {
            return 0;
        }
    }
    return 1;
}

int
cases_facts_clean(const ProtobufCMessage *m)
{
    return s_facts_clean(m, 0);
}

/* ---- events and the timeline ---- */

/* A timeline entry for the LOCAL event at seq. */
static int
s_timeline_put(koop_call_t *call, const char *ipw, const char *type, const char *date, const char *ref,
               const char *summary, uint64_t seq)
{
    Koop__Cases__TimelineEntry e = KOOP__CASES__TIMELINE_ENTRY__INIT;
    unsigned char key[KOOP_ID_LEN - 1 + 8];
    MDB_val k = {sizeof key, key}, v;
    int rc;

    e.date = (char *)date;
    e.type = (char *)type;
    e.ref = (char *)ref;
    e.summary = (char *)summary;
    e.actor = (char *)call->caller;
    e.has_seq = 1;
    e.seq = seq;
    memcpy(key, ipw, KOOP_ID_LEN - 1);
    koop_be64_put(key + KOOP_ID_LEN - 1, seq);
    v.mv_size = koop__cases__timeline_entry__get_packed_size(&e);
    if ((rc = mdb_put(call->txn, cases_dbi(call, "timeline"), &k, &v, MDB_RESERVE)) != 0)
        return koop_call_store_error(call, rc);
    koop__cases__timeline_entry__pack(&e, v.mv_data);
    return KOOP_OK;
}

int
cases_timeline_put(koop_call_t *call, const char *ipw, const Koop__Cases__TimelineEntry *e)
{
    unsigned char key[KOOP_ID_LEN - 1 + 8];
    MDB_val k = {sizeof key, key}, v;
    int rc;
    memcpy(key, ipw, KOOP_ID_LEN - 1);
    koop_be64_put(key + KOOP_ID_LEN - 1, e->seq);
    v.mv_size = koop__cases__timeline_entry__get_packed_size(e);
    if ((rc = mdb_put(call->txn, cases_dbi(call, "timeline"), &k, &v, MDB_RESERVE)) != 0)
        return koop_call_store_error(call, rc);
    koop__cases__timeline_entry__pack(e, v.mv_data);
    return KOOP_OK;
}

int
cases_timeline_read(koop_call_t *call, const char *ipw, Koop__Cases__TimelineEntry ***out, size_t *n)
{
    MDB_cursor *cur;
    MDB_val k = {KOOP_ID_LEN - 1, (void *)ipw}, v;
    int rc;
    *out = NULL;
    *n = 0;
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "timeline"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size > KOOP_ID_LEN - 1 && memcmp(k.mv_data, ipw, KOOP_ID_LEN - 1) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Koop__Cases__TimelineEntry *e = koop__cases__timeline_entry__unpack(NULL, v.mv_size, v.mv_data);
        if (!e) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (cases_append(call, out, n, e) != KOOP_OK) {
            koop__cases__timeline_entry__free_unpacked(e, NULL);
            rc = -1;
            break;
        }
    }
    mdb_cursor_close(cur);
    if (rc == -1 || (rc != 0 && rc != MDB_NOTFOUND)) {
        for (size_t i = 0; i < *n; i++)
            koop__cases__timeline_entry__free_unpacked((*out)[i], NULL);
        free(*out);
        *out = NULL;
        *n = 0;
        return rc == -1 ? call->status : koop_call_store_error(call, rc);
    }
    return KOOP_OK;
}

int
cases_timeline_drop(koop_call_t *call, const char *ipw)
{
    MDB_cursor *cur;
    MDB_val k = {KOOP_ID_LEN - 1, (void *)ipw}, v;
    int rc;
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "timeline"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size > KOOP_ID_LEN - 1 && memcmp(k.mv_data, ipw, KOOP_ID_LEN - 1) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? KOOP_OK : koop_call_store_error(call, rc);
}

int
cases_record_change(koop_call_t *call, const cases_change_t *ch)
{
    char local[96];
    uint64_t seq = 0;
    int rc;

    snprintf(local, sizeof local, "local.%s", ch->type);
    if ((rc = koop_call_emit(call, local, KOOP__SCOPE__SCOPE_LOCAL, ch->record)) != KOOP_OK)
        return rc;
    if ((rc = koop_log_last(koop_service_log(call->svc), call->txn, 0, &seq)) != 0)
        return koop_call_store_error(call, rc);
    if (ch->facts) {
        if (!cases_facts_clean(ch->facts)) {
            /* a programming error: refuse the whole change rather than leak */
            koop_error("%s: SHARED facts of %s hold something that is not an id or a date", call->method,
                       ch->type);
            return koop_fail(call, INTERNAL_PRIVACY, NULL, ch->type);
        }
        if ((rc = koop_call_emit(call, ch->type, KOOP__SCOPE__SCOPE_SHARED, ch->facts)) != KOOP_OK)
            return rc;
    }
    if (ch->ipw && koop_id_valid(ch->ipw))
        return s_timeline_put(call, ch->ipw, ch->type, ch->date, ch->ref, ch->summary, seq);
    for (size_t i = 0; ch->household && i < ch->household->n_ipws; i++)
        if ((rc = s_timeline_put(call, ch->household->ipws[i], ch->type, ch->date, ch->ref, ch->summary, seq)) !=
            KOOP_OK)
            return rc;
    return KOOP_OK;
}

/* ---- the child index of an IPW: key = ipw id + kind + child id ---- */

#define CHILD_KEY (2 * (KOOP_ID_LEN - 1) + 1)

int
cases_child_add(koop_call_t *call, const char *ipw, char kind, const char *id)
{
    unsigned char key[CHILD_KEY];
    MDB_val k = {sizeof key, key}, v = {0, ""};
    int rc;
    memcpy(key, ipw, KOOP_ID_LEN - 1);
    key[KOOP_ID_LEN - 1] = (unsigned char)kind;
    memcpy(key + KOOP_ID_LEN, id, KOOP_ID_LEN - 1);
    if ((rc = mdb_put(call->txn, cases_dbi(call, "ipw_child"), &k, &v, 0)) != 0)
        return koop_call_store_error(call, rc);
    return KOOP_OK;
}

const char *
cases_child_table(char kind, const ProtobufCMessageDescriptor **desc)
{
    switch (kind) {
    case 'g': *desc = &koop__cases__goal__descriptor; return "goal";
    case 't': *desc = &koop__cases__task__descriptor; return "task";
    case 'm': *desc = &koop__cases__meeting__descriptor; return "meeting";
    case 'r': *desc = &koop__cases__referral__descriptor; return "referral";
    default: *desc = NULL; return NULL;
    }
}

int
cases_child_scan(koop_call_t *call, const char *ipw, cases_child_fn fn, void *ctx)
{
    unsigned char key[CHILD_KEY];
    MDB_val k = {KOOP_ID_LEN - 1, key}, v;
    MDB_cursor *cur;
    int rc, st = KOOP_OK;

    memcpy(key, ipw, KOOP_ID_LEN - 1);
    if ((rc = mdb_cursor_open(call->txn, cases_dbi(call, "ipw_child"), &cur)) != 0)
        return koop_call_store_error(call, rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == CHILD_KEY && memcmp(k.mv_data, ipw, KOOP_ID_LEN - 1) == 0) {
        char id[KOOP_ID_LEN];
        const char *kd = k.mv_data;
        memcpy(id, kd + KOOP_ID_LEN, KOOP_ID_LEN - 1);
        id[KOOP_ID_LEN - 1] = '\0';
        if ((st = fn(call, kd[KOOP_ID_LEN - 1], id, ctx)) != KOOP_OK)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (st != KOOP_OK)
        return st;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return koop_call_store_error(call, rc);
    return KOOP_OK;
}

/* ---- dates within an IPW ---- */

int
cases_ipw_date(koop_call_t *call, const Koop__Cases__Ipw *ipw, const char *given, char out[11])
{
    int rc = cases_step_date(call, "date", given, ipw->opened, out);
    if (rc != KOOP_OK)
        return rc;
    if (cases_date_before(out, ipw->opened))
        return koop_fail(call, DATE_ORDER, "date", out, "ipw_opened", ipw->opened);
    return KOOP_OK;
}

int
cases_ipw_plan_date(koop_call_t *call, const Koop__Cases__Ipw *ipw, const char *given, char out[11])
{
    int rc;
    if (given && *given) {
        if ((rc = koop_check_date(call, "date", given, 1)) != KOOP_OK)
            return rc;
        snprintf(out, 11, "%s", given);
    } else {
        cases_today(out);
    }
    if (cases_date_before(out, ipw->opened))
        return koop_fail(call, DATE_ORDER, "date", out, "ipw_opened", ipw->opened);
    return KOOP_OK;
}

/* ---- list replies ---- */

int
cases_reply_list(koop_call_t *call, const ProtobufCMessageDescriptor *list_desc, ProtobufCMessage **items,
                 size_t n)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(list_desc, "items");
    ProtobufCMessage *list = calloc(1, list_desc->sizeof_message);
    int rc;
    if (!list)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    protobuf_c_message_init(list_desc, list);
    *(size_t *)((char *)list + f->quantifier_offset) = n;
    *(ProtobufCMessage ***)((char *)list + f->offset) = items;
    rc = koop_call_reply(call, list);
    free(list);
    return rc;
}

/* ---- changing unpacked records ----
 * Unpacked records own their strings and arrays (malloc'd by protobuf-c's
 * default allocator) and are freed with free_unpacked; changes put owned
 * copies in, so nothing borrowed is ever freed. */

int
cases_set(koop_call_t *call, char **field, const char *value)
{
    char *copy = NULL;
    if (value && *value && !(copy = strdup(value)))
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    free(*field);
    *field = copy;
    return KOOP_OK;
}

int
cases_append(koop_call_t *call, void *array_p, size_t *n, void *elem)
{
    void ***arr = array_p;
    void **grown = realloc(*arr, (*n + 1) * sizeof *grown);
    if (!grown)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    grown[*n] = elem;
    *arr = grown;
    (*n)++;
    return KOOP_OK;
}

int
cases_append_str(koop_call_t *call, char ***array, size_t *n, const char *value)
{
    char *copy = strdup(value ? value : "");
    int rc;
    if (!copy)
        return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
    if ((rc = cases_append(call, array, n, copy)) != KOOP_OK)
        free(copy);
    return rc;
}

int
cases_list_done(koop_call_t *call, int rc, const ProtobufCMessageDescriptor *list_desc, ProtobufCMessage **items,
                size_t n)
{
    if (call->status != KOOP_OK)
        rc = call->status;
    else if (rc != 0 && rc != MDB_NOTFOUND)
        rc = koop_call_store_error(call, rc);
    else
        rc = cases_reply_list(call, list_desc, items, n);
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(items[i], NULL);
    free(items);
    return rc;
}

/* ---- corrections by field ---- */

static int
s_skipped(const char *name, const char *const *skip)
{
    for (; skip && *skip; skip++)
        if (strcmp(*skip, name) == 0)
            return 1;
    return 0;
}

/* A field's value for the timeline: free text shortened, enums by name. */
static void
s_value_text(const ProtobufCFieldDescriptor *f, const void *p, size_t n, char *out, size_t len)
{
    out[0] = '\0';
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t used = 0;
        for (size_t i = 0; i < n && used + 2 < len; i++) {
            char one[64];
            if (f->type == PROTOBUF_C_TYPE_STRING)
                snprintf(one, sizeof one, "%s", (*(char *const *const *)p)[i]);
            else if (f->type == PROTOBUF_C_TYPE_ENUM) {
                const ProtobufCEnumValue *v =
                    protobuf_c_enum_descriptor_get_value(f->descriptor, (*(const int *const *)p)[i]);
                koop_pbjson_enum_name(v ? v : &(ProtobufCEnumValue){"?", "?", 0}, one, sizeof one);
            } else
                snprintf(one, sizeof one, "?");
            used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", one);
        }
        return;
    }
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        snprintf(out, len, "%.60s%s", s ? s : "", s && strlen(s) > 60 ? "…" : "");
        break;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
        if (v)
            koop_pbjson_enum_name(v, out, len);
        break;
    }
    case PROTOBUF_C_TYPE_INT32: snprintf(out, len, "%d", *(const int32_t *)p); break;
    case PROTOBUF_C_TYPE_UINT32: snprintf(out, len, "%u", *(const uint32_t *)p); break;
    case PROTOBUF_C_TYPE_BOOL: snprintf(out, len, "%s", *(const protobuf_c_boolean *)p ? "tak" : "nie"); break;
    default: snprintf(out, len, "?"); break;
    }
}

static size_t
s_scalar_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_ENUM: return 4;
    default: return 0; /* not a field a person enters */
    }
}

/* Whether a field of req is given, and its element count (repeated). */
static int
s_given(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t *n)
{
    *n = 1;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        *n = *(const size_t *)((const char *)m + f->quantifier_offset);
        return *n > 0;
    }
    if (f->type == PROTOBUF_C_TYPE_STRING)
        return *(char *const *)((const char *)m + f->offset) != NULL;
    return f->quantifier_offset && *(const protobuf_c_boolean *)((const char *)m + f->quantifier_offset);
}

static int
s_equal(const ProtobufCFieldDescriptor *f, const void *a, size_t na, const void *b, size_t nb)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        if (na != nb)
            return 0;
        for (size_t i = 0; i < na; i++) {
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                if (strcmp((*(char *const *const *)a)[i], (*(char *const *const *)b)[i]) != 0)
                    return 0;
            } else if ((*(const int *const *)a)[i] != (*(const int *const *)b)[i]) {
                return 0;
            }
        }
        return 1;
    }
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *x = *(char *const *)a, *y = *(char *const *)b;
        return strcmp(x ? x : "", y ? y : "") == 0;
    }
    return memcmp(a, b, s_scalar_size(f)) == 0;
}

/* Copies the value of field f from a (req) to b (rec): owned copies. */
static int
s_copy_value(koop_call_t *call, const ProtobufCFieldDescriptor *from, const void *a, size_t na,
             const ProtobufCFieldDescriptor *to, ProtobufCMessage *rec)
{
    void *b = (char *)rec + to->offset;
    if (to->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t *nb = (size_t *)((char *)rec + to->quantifier_offset);
        if (to->type == PROTOBUF_C_TYPE_STRING) {
            char **old = *(char ***)b, **copy = calloc(na, sizeof *copy);
            if (!copy)
                return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
            for (size_t i = 0; i < na; i++)
                if (!(copy[i] = strdup((*(char *const *const *)a)[i]))) {
                    for (size_t k = 0; k < i; k++)
                        free(copy[k]);
                    free(copy);
                    return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
                }
            for (size_t i = 0; i < *nb; i++)
                free(old[i]);
            free(old);
            *(char ***)b = copy;
        } else {
            int *copy = malloc(na * sizeof *copy);
            if (!copy)
                return koop_fail(call, INTERNAL_NO_MEMORY, NULL);
            memcpy(copy, *(const int *const *)a, na * sizeof *copy);
            free(*(int **)b);
            *(int **)b = copy;
        }
        *nb = na;
        return KOOP_OK;
    }
    (void)from;
    if (to->type == PROTOBUF_C_TYPE_STRING)
        return cases_set(call, (char **)b, *(char *const *)a);
    memcpy(b, a, s_scalar_size(to));
    if (to->quantifier_offset)
        *(protobuf_c_boolean *)((char *)rec + to->quantifier_offset) = 1;
    return KOOP_OK;
}

int
cases_update_fields(koop_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *rec,
                    const char *const *skip, int *changed, char *summary, size_t summary_len)
{
    const ProtobufCMessageDescriptor *d = req->descriptor;
    size_t used = 0;
    int rc;

    *changed = 0;
    summary[0] = '\0';
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const ProtobufCFieldDescriptor *t = protobuf_c_message_descriptor_get_field_by_name(rec->descriptor, f->name);
        const void *a = (const char *)req + f->offset;
        char was[200], now[200];
        size_t na, nb = 1;
        if (s_skipped(f->name, skip) || !t || t->type != f->type || t->label != f->label || !s_scalar_size(f) ||
            !s_given(req, f, &na))
            continue;
        if (t->label == PROTOBUF_C_LABEL_REPEATED)
            nb = *(const size_t *)((const char *)rec + t->quantifier_offset);
        if (s_equal(f, a, na, (const char *)rec + t->offset, nb))
            continue;
        s_value_text(t, (const char *)rec + t->offset, nb, was, sizeof was);
        if ((rc = s_copy_value(call, f, a, na, t, rec)) != KOOP_OK)
            return rc;
        s_value_text(t, (const char *)rec + t->offset, na, now, sizeof now);
        if (used + 1 < summary_len)
            used += (size_t)snprintf(summary + used, summary_len - used, "%s%s: %s → %s", used ? "; " : "",
                                     koop_present_label(f->name, KOOP_LANG_PL), was[0] ? was : "–",
                                     now[0] ? now : "–");
        if (used >= summary_len)
            used = summary_len - 1;
        (*changed)++;
    }
    return KOOP_OK;
}

int
cases_correction_done(koop_call_t *call, const char *table, ProtobufCMessage *rec, int changed, const char *what,
                      const char *changes, const char *reason, cases_emit_fn emit, const void *ctx)
{
    char summary[1024], today[11];
    int rc;
    if (!changed)
        return koop_call_reply(call, rec); /* the same values: nothing to record */
    cases_today(today);
    snprintf(summary, sizeof summary, "poprawiono %s: %.700s%s%.100s", what, changes, reason && *reason ? "; powód: " : "",
             reason ? reason : "");
    if ((rc = cases_save(call, table, koop_record_str(rec, "id"), rec)) != KOOP_OK ||
        (rc = emit(call, rec, ctx, today, summary)) != KOOP_OK)
        return rc;
    return koop_call_reply(call, rec);
}
