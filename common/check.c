#include "check.h"
#include "clock.h"
#include "text.h"

#include <string.h>

int
koop_check_text(koop_call_t *call, const char *field, const char *value, int required, size_t max)
{
    if (!value || !*value) {
        if (required)
            return koop_call_fail(call, KOOP_INVALID, "brak wymaganego pola --%s", field);
        return KOOP_OK;
    }
    if (!koop_text_valid(value, max))
        return koop_call_fail(call, KOOP_INVALID,
                              "pole --%s: tekst za długi (max %zu bajtów) lub z niedozwolonymi znakami",
                              field, max);
    return KOOP_OK;
}

int
koop_check_date(koop_call_t *call, const char *field, const char *value, int required)
{
    if (!value || !*value) {
        if (required)
            return koop_call_fail(call, KOOP_INVALID, "brak wymaganej daty --%s (RRRR-MM-DD)", field);
        return KOOP_OK;
    }
    if (!koop_date_valid(value))
        return koop_call_fail(call, KOOP_INVALID, "pole --%s: '%.40s' nie jest datą RRRR-MM-DD", field,
                              value);
    return KOOP_OK;
}

int
koop_check_phone(koop_call_t *call, const char *field, const char *value)
{
    int rc;
    if ((rc = koop_check_text(call, field, value, 0, 40)) != KOOP_OK)
        return rc;
    if (value)
        for (const char *p = value; *p; p++)
            if (!strchr("+0123456789 -()", *p))
                return koop_call_fail(call, KOOP_INVALID, "pole --%s: '%.40s' nie jest numerem telefonu",
                                      field, value);
    return KOOP_OK;
}
