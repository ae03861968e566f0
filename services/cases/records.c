/* records.c - loading and saving case records, input checks, and the events
 * and timeline entries every change writes (see cases.h). */
#include "cases.h"
#include "check.h"
#include "clock.h"
#include "id.h"
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
cases_load(koop_call_t *call, const char *table, const ProtobufCMessageDescriptor *desc,
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

/* PESEL: 11 digits. The check digit is not enforced: records copied from
 * older systems carry numbers with wrong check digits, and refusing the
 * family would help no one; the format is what keeps junk out. */
int
cases_check_pesel(koop_call_t *call, const char *field, const char *value, int required)
{
    if (!value || !*value) {
        if (required)
            return koop_fail(call, FIELD_REQUIRED, field);
        return KOOP_OK;
    }
    /* the number itself is not repeated: messages go to the audit log */
    if (strlen(value) != 11 || strspn(value, "0123456789") != 11)
        return koop_fail(call, PESEL_INVALID, field);
    return KOOP_OK;
}

int
cases_date_before(const char *a, const char *b)
{
    return strcmp(a, b) < 0; /* YYYY-MM-DD sorts as text */
}

int
cases_step_date(koop_call_t *call, const char *field, const char *given, const char *floor, char out[11])
{
    int rc;
    if (given && *given) {
        if ((rc = koop_check_date(call, field, given, 1)) != KOOP_OK)
            return rc;
        snprintf(out, 11, "%s", given);
        return KOOP_OK;
    }
    koop_date_today(out);
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
        b = cases_age_band(h->members[i]->birth, date);
        if (b != KOOP__CASES__AGE_BAND__AGE_UNSPECIFIED)
            bands[n++] = b;
    }
    return n;
}

/* ---- SHARED facts: only ids and dates as strings ---- */

static const ProtobufCMessageDescriptor *const s_facts[] = {
    &koop__cases__household_facts__descriptor, &koop__cases__consent_facts__descriptor,
    &koop__cases__ipw_facts__descriptor,       &koop__cases__member_facts__descriptor,
    &koop__cases__goal_facts__descriptor,      &koop__cases__task_facts__descriptor,
    &koop__cases__meeting_facts__descriptor,   &koop__cases__referral_facts__descriptor,
};

static int
s_id_or_date(const char *s)
{
    return !s || !*s || koop_id_valid(s) || koop_date_valid(s);
}

int
cases_facts_clean(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int known = 0;
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_facts); i++)
        known |= s_facts[i] == d;
    if (!known)
        return 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m + f->offset;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_BYTES)
            return 0;
        if (f->type != PROTOBUF_C_TYPE_STRING)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            char *const *v = *(char *const *const *)base;
            for (size_t k = 0; k < n; k++)
                if (!s_id_or_date(v[k]))
                    return 0;
        } else if (!s_id_or_date(*(char *const *)base)) {
            return 0;
        }
    }
    return 1;
}

/* ---- events and the timeline ---- */

static int
s_timeline_add(koop_call_t *call, const cases_change_t *ch, uint64_t seq)
{
    Koop__Cases__TimelineEntry e = KOOP__CASES__TIMELINE_ENTRY__INIT;
    unsigned char key[KOOP_ID_LEN - 1 + 8];
    MDB_val k = {sizeof key, key}, v;
    int rc;

    e.date = (char *)ch->date;
    e.type = (char *)ch->type;
    e.ref = (char *)ch->ref;
    e.summary = (char *)ch->summary;
    e.actor = (char *)call->caller;
    e.has_seq = 1;
    e.seq = seq;
    memcpy(key, ch->ipw, KOOP_ID_LEN - 1);
    koop_be64_put(key + KOOP_ID_LEN - 1, seq);
    v.mv_size = koop__cases__timeline_entry__get_packed_size(&e);
    if ((rc = mdb_put(call->txn, cases_dbi(call, "timeline"), &k, &v, MDB_RESERVE)) != 0)
        return koop_call_store_error(call, rc);
    koop__cases__timeline_entry__pack(&e, v.mv_data);
    return KOOP_OK;
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
        return s_timeline_add(call, ch, seq);
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
