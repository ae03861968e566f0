/* present_check.c - the report of a check (events.verify, audit.verify) as
 * text: what was walked, and each finding in the reader's language. */
#include "present.h"

#include <stdio.h>
#include <string.h>

void
koop_present_verify_text(const ProtobufCMessage *reply, koop_lang_t lang, FILE *out)
{
    const Koop__VerifyReport *r = (const Koop__VerifyReport *)reply;
    int en = lang == KOOP_LANG_EN;
    const char *what = r->stream && *r->stream ? r->stream : "?";

    if (r->log_id && *r->log_id) {
        fprintf(out, en ? "log %s (%s): %llu entries, the last %llu; %llu shared; %llu without payload (retention)\n"
                        : "dziennik %s (%s): wpisów %llu, ostatni %llu; wspólnych %llu; bez treści (retencja) %llu\n",
                what, r->log_id, (unsigned long long)r->entries, (unsigned long long)r->last_seq,
                (unsigned long long)r->shared, (unsigned long long)r->redacted);
        fprintf(out, en ? "records compared with their events: %llu\nlink of the last entry: %s\n"
                        : "rekordów porównanych ze zdarzeniami: %llu\nogniwo ostatniego wpisu: %s\n",
                (unsigned long long)r->records, r->head ? r->head : "");
    } else {
        fprintf(out, en ? "%s: %llu entries walked\n" : "%s: sprawdzono wpisów: %llu\n",
                en || strcmp(what, "audit") != 0 ? what : "dziennik dostępu", (unsigned long long)r->entries);
    }
    if (r->ok) {
        fprintf(out, en ? "CONSISTENT: nothing found\n" : "ZGODNY: nie znaleziono niezgodności\n");
        return;
    }
    fprintf(out, en ? "NOT CONSISTENT: %llu finding(s)%s\n" : "NIEZGODNY: niezgodności: %llu%s\n",
            (unsigned long long)r->found,
            r->found > r->n_problems ? (en ? " (the first ones follow)" : " (poniżej pierwsze)") : "");
    for (size_t i = 0; i < r->n_problems; i++) {
        const Koop__VerifyProblem *p = r->problems[i];
        koop_error_t e;
        char msg[600];
        koop_error_set_code(&e, p->code ? p->code : "", KOOP_CONFLICT, NULL, (const char *const *)p->args,
                            p->n_args);
        koop_error_render(&e, lang, NULL, msg, sizeof msg);
        fprintf(out, "  %s\n", msg);
    }
}
