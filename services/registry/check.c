/* check.c - validation of registry input; every failure names the request field (errors.def). */
#include "registry.h"
#include "check.h"
#include "text.h"

#include <string.h>

int
reg_check_text(koop_call_t *call, const char *field, const char *value, int required, size_t max)
{
    return koop_check_text(call, field, value, required, max);
}

int
reg_check_date(koop_call_t *call, const char *field, const char *value, int required)
{
    return koop_check_date(call, field, value, required);
}

int
reg_check_teryt(koop_call_t *call, const char *value)
{
    size_t len;
    if (!value || !*value)
        return KOOP_OK;
    len = strlen(value);
    if (len != 2 && len != 4 && len != 7)
        goto bad;
    for (size_t i = 0; i < len; i++)
        if (value[i] < '0' || value[i] > '9')
            goto bad;
    return KOOP_OK;
bad:
    return koop_fail(call, TERYT_INVALID, "teryt", value);
}

int
reg_check_contact(koop_call_t *call, const char *email, const char *phone)
{
    int rc;
    if ((rc = reg_check_text(call, "email", email, 0, 254)) != KOOP_OK)
        return rc;
    if (email && *email && !koop_text_email(email))
        return koop_fail(call, EMAIL_INVALID, "email", email);
    return koop_check_phone(call, "phone", phone);
}

MDB_dbi
reg_dbi(koop_call_t *call, const reg_kind_t *kind)
{
    return koop_store_dbi(koop_service_store(call->svc), kind->table);
}

int
reg_check_ref(koop_call_t *call, const reg_kind_t *kind, const char *field, const char *id)
{
    if (!id || !*id)
        return koop_fail(call, FIELD_REQUIRED, field);
    if (!koop_record_exists(call->txn, reg_dbi(call, kind), id))
        return koop_fail(call, RECORD_NOT_FOUND, field, kind->what, id);
    return KOOP_OK;
}
