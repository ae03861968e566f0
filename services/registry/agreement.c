/* agreement.c - porozumienia: the signed basis of a PZK. */
#include "registry.h"

#include <string.h>

static int
s_check_agreement(koop_call_t *call, const ProtobufCMessage *m)
{
    const Koop__Reg__Agreement *r = (const Koop__Reg__Agreement *)m;
    int rc;
    if (r->n_parties < 2)
        return koop_fail(call, AGREEMENT_PARTIES, "parties");
    if (r->n_parties > 200)
        return koop_fail(call, LIST_TOO_LONG, "parties", "200");
    for (size_t i = 0; i < r->n_parties; i++) {
        if ((rc = reg_check_ref(call, &reg_institution_kind, "parties", r->parties[i])) != KOOP_OK)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->parties[i], r->parties[j]) == 0)
                return koop_fail(call, LIST_DUPLICATE, "parties", r->parties[i]);
    }
    if ((rc = reg_check_date(call, "signed", r->signed_, 1)) != KOOP_OK)
        return rc;
    if ((rc = reg_check_date(call, "until", r->until, 0)) != KOOP_OK)
        return rc;
    if (r->until && *r->until && strcmp(r->until, r->signed_) < 0)
        return koop_fail(call, DATE_ORDER, "until", r->until, "signed", r->signed_);
    return reg_check_text(call, "text", r->text, 0, KOOP_MAX_TEXT);
}

const reg_kind_t reg_agreement_kind = {
    "agreement", "agreement", &koop__reg__agreement__descriptor, KOOP__SCOPE__SCOPE_SHARED,
    "agreement.added", "agreement.updated", s_check_agreement,
};

static int
s_match_agreement(koop_call_t *call, const ProtobufCMessage *m, const ProtobufCMessage *query)
{
    const Koop__Reg__Agreement *r = (const Koop__Reg__Agreement *)m;
    const Koop__Reg__AgreementQuery *q = (const Koop__Reg__AgreementQuery *)query;
    (void)call;
    if (!q->institution || !*q->institution)
        return 1;
    for (size_t i = 0; i < r->n_parties; i++)
        if (strcmp(r->parties[i], q->institution) == 0)
            return 1;
    return 0;
}

int
reg_agreement_list(koop_call_t *call)
{
    return reg_list(call, &reg_agreement_kind, s_match_agreement, &koop__reg__agreement_list__descriptor);
}
