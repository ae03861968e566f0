/* present_export.c - the person's own copy (household.export, GDPR art. 15)
 * as a printable document in Polish: every field held, then who read or
 * changed the data and when. The JSON form is the reply as it is. */
#include "present.h"
#include "cases.pb-c.h"
#include "errors.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void
s_time(char out[32], uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!ms || !gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, 32, "–");
}

static const char *
s_or(const char *s)
{
    return s && *s ? s : "–";
}

/* One "label: value" line, skipped when there is no value. */
static void
s_line(FILE *out, int indent, const char *label, const char *value)
{
    if (!value || !*value)
        return;
    fprintf(out, "%*s", indent, "");
    koop_present_padded(out, label, 24);
    fprintf(out, " %s\n", value);
}

/* The Polish label of value v of enum d (labels.def, as every text output
 * says it); its JSON name where it has none. The buffer is the caller's
 * block's, so two in one call do not share it. */
#define S_ENUM(d, v) koop_present_enum(&(d), (int)(v), KOOP_LANG_PL, (char[64]){0}, 64)

/* Another gmina for people: its name and its node id ("Kobylin-Borzymy
 * (gmina-2013032)"), the id alone when its name is unknown; NULL when
 * there is none. */
static const char *
s_gmina(char *buf, size_t size, const char *id, const char *name)
{
    if (!id || !*id)
        return NULL;
    if (name && *name)
        snprintf(buf, size, "%s (%s)", name, id);
    else
        snprintf(buf, size, "%s", id);
    return buf;
}

/* ids joined with ", " into buf */
static const char *
s_join(char *buf, size_t size, char *const *ids, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", ids[i]);
    return buf;
}

static void
s_household(FILE *out, const Koop__Cases__Household *h)
{
    char buf[1024];
    fprintf(out, "1. GOSPODARSTWO DOMOWE\n");
    s_line(out, 3, "Identyfikator:", h->id);
    s_line(out, 3, "Imię i nazwisko:", h->name);
    s_line(out, 3, "PESEL:", h->pesel);
    s_line(out, 3, "Data urodzenia:", h->birth);
    if (h->has_sex && h->sex)
        s_line(out, 3, "Płeć:", S_ENUM(koop__cases__sex__descriptor, h->sex));
    s_line(out, 3, "Adres:", h->address);
    s_line(out, 3, "Telefon:", h->phone);
    snprintf(buf, sizeof buf, "%u", h->size);
    s_line(out, 3, "Liczba osób:", buf);
    buf[0] = '\0';
    for (size_t i = 0; i < h->n_target; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? ", " : "",
                 S_ENUM(koop__reg__target__descriptor, h->target[i]));
    s_line(out, 3, "Grupy docelowe:", buf);
    s_line(out, 3, "Zarejestrowano:", h->registered);
    s_line(out, 3, "Zarejestrował(a):", h->created_by);
    s_line(out, 3, "Węzeł (właściciel):", h->owner);
    if (h->erased && *h->erased) {
        snprintf(buf, sizeof buf, "%s (zasada %s): dane osobowe usunięto po okresie przechowywania", h->erased,
                 s_or(h->erased_rule));
        s_line(out, 3, "Retencja:", buf);
    }
    if (h->removed && *h->removed) {
        snprintf(buf, sizeof buf, "%s: wpis omyłkowy (%s)", h->removed, s_or(h->removed_reason));
        s_line(out, 3, "Usunięto:", buf);
    }
    s_line(out, 3, "Przekazano do gminy:", s_gmina(buf, sizeof buf, h->transferred_to, h->transferred_to_name));
    s_line(out, 3, "Data przekazania:", h->transferred);
    s_line(out, 3, "Przejęto z gminy:", s_gmina(buf, sizeof buf, h->transferred_from, h->transferred_from_name));
    s_line(out, 3, "Powiązane gospodarstwa:", s_join(buf, sizeof buf, h->linked, h->n_linked));
    fprintf(out, "\n2. CZŁONKOWIE GOSPODARSTWA\n");
    if (!h->n_members)
        fprintf(out, "   (nikt poza osobą wyżej)\n");
    for (size_t i = 0; i < h->n_members; i++) {
        const Koop__Cases__HouseholdMember *m = h->members[i];
        fprintf(out, "   %zu) %s\n", i + 1, s_or(m->name));
        s_line(out, 6, "PESEL:", m->pesel);
        s_line(out, 6, "Data urodzenia:", m->birth);
        if (m->has_sex && m->sex)
            s_line(out, 6, "Płeć:", S_ENUM(koop__cases__sex__descriptor, m->sex));
        s_line(out, 6, "Pokrewieństwo:", m->relation);
    }
    fprintf(out, "\n3. ZGODY\n");
    if (!h->n_consents)
        fprintf(out, "   (brak)\n");
    for (size_t i = 0; i < h->n_consents; i++) {
        const Koop__Cases__Consent *c = h->consents[i];
        fprintf(out, "   %zu) udzielona %s%s%s\n", i + 1, s_or(c->date), c->withdrawn && *c->withdrawn ? ", wycofana " : "",
                c->withdrawn && *c->withdrawn ? c->withdrawn : "");
        s_line(out, 6, "Identyfikator:", c->id);
        s_line(out, 6, "Cel i zakres:", c->purpose);
        s_line(out, 6, "Udostępnienie:", s_join(buf, sizeof buf, c->share_with, c->n_share_with));
        s_line(out, 6, "Odebrał(a):", c->recorded_by);
    }
}

static void
s_ipw(FILE *out, size_t no, const Koop__Cases__Ipw *ipw, const Koop__Cases__ExportTimeline *tl)
{
    char buf[1024];
    fprintf(out, "   4.%zu %s\n", no, s_or(ipw->number));
    s_line(out, 6, "Identyfikator:", ipw->id);
    s_line(out, 6, "Stan:", S_ENUM(koop__cases__ipw_status__descriptor, ipw->status));
    s_line(out, 6, "Wynik:", S_ENUM(koop__cases__outcome__descriptor, ipw->outcome));
    s_line(out, 6, "Otwarto:", ipw->opened);
    s_line(out, 6, "Podpisano:", ipw->signed_);
    s_line(out, 6, "Zamknięto:", ipw->closed);
    s_line(out, 6, "Powód:", ipw->reason);
    s_line(out, 6, "Koordynator:", ipw->coordinator);
    s_line(out, 6, "Przeglądy:", s_join(buf, sizeof buf, ipw->reviews, ipw->n_reviews));
    buf[0] = '\0';
    for (size_t i = 0; i < ipw->n_history; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s %s", i ? ", " : "", s_or(ipw->history[i]->date),
                 S_ENUM(koop__cases__ipw_status__descriptor, ipw->history[i]->status));
    s_line(out, 6, "Historia stanów:", buf);
    fprintf(out, "      Zespół ZZK:\n");
    for (size_t i = 0; i < ipw->n_members; i++) {
        const Koop__Cases__ZzkMember *m = ipw->members[i];
        fprintf(out, "        - osoba %s, instytucja %s (%s), od %s%s%s%s\n", s_or(m->person), s_or(m->institution),
                S_ENUM(koop__reg__sector__descriptor, m->sector), s_or(m->added),
                m->removed && *m->removed ? " do " : "", m->removed && *m->removed ? m->removed : "",
                m->coordinator ? ", koordynator programu" : "");
    }
    fprintf(out, "      Cele:%s\n", ipw->n_goals ? "" : " (brak)");
    for (size_t i = 0; i < ipw->n_goals; i++) {
        const Koop__Cases__Goal *g = ipw->goals[i];
        fprintf(out, "        - %s (obszar: %s, dodano %s), PSR: wyjściowo %d, docelowo %d\n", s_or(g->description),
                S_ENUM(koop__cases__area__descriptor, g->area), s_or(g->added), g->baseline, g->target);
        for (size_t j = 0; j < g->n_scalings; j++)
            fprintf(out, "            ocena %s: %d\n", s_or(g->scalings[j]->date), g->scalings[j]->value);
    }
    fprintf(out, "      Zadania:%s\n", ipw->n_tasks ? "" : " (brak)");
    for (size_t i = 0; i < ipw->n_tasks; i++) {
        const Koop__Cases__Task *t = ipw->tasks[i];
        fprintf(out, "        - %s (termin %s, stan: %s)\n", s_or(t->title), s_or(t->due),
                S_ENUM(koop__cases__task_status__descriptor, t->status));
        s_line(out, 10, "Wykonuje:", t->owner);
        s_line(out, 10, "Instytucja:", t->owner_institution);
        s_line(out, 10, "Usługa z listy:", t->service);
        s_line(out, 10, "Dodano:", t->added);
        s_line(out, 10, "Rozpoczęto:", t->started);
        s_line(out, 10, "Wykonano:", t->done);
        s_line(out, 10, "Anulowano:", t->cancelled);
        s_line(out, 10, "Powód:", t->reason);
    }
    fprintf(out, "      Spotkania ZZK:%s\n", ipw->n_meetings ? "" : " (brak)");
    for (size_t i = 0; i < ipw->n_meetings; i++) {
        const Koop__Cases__Meeting *m = ipw->meetings[i];
        fprintf(out, "        - %s\n", s_or(m->date));
        s_line(out, 10, "Uczestnicy:", s_join(buf, sizeof buf, m->participants, m->n_participants));
        s_line(out, 10, "Temat:", m->topic);
        s_line(out, 10, "Ustalenia:", m->decisions);
    }
    fprintf(out, "      Skierowania:%s\n", ipw->n_referrals ? "" : " (brak)");
    for (size_t i = 0; i < ipw->n_referrals; i++) {
        const Koop__Cases__Referral *r = ipw->referrals[i];
        fprintf(out, "        - usługa %s, realizator %s (stan: %s)\n", s_or(r->service), s_or(r->provider),
                S_ENUM(koop__cases__referral_status__descriptor, r->status));
        s_line(out, 10, "Wysłano:", r->sent);
        s_line(out, 10, "Przyjęto:", r->accepted);
        s_line(out, 10, "Odrzucono:", r->declined);
        s_line(out, 10, "Zrealizowano:", r->done);
        s_line(out, 10, "Notatka:", r->note);
        s_line(out, 10, "Powód:", r->reason);
    }
    if (tl && tl->n_entries) {
        fprintf(out, "      Przebieg (oś czasu):\n");
        for (size_t i = 0; i < tl->n_entries; i++) {
            const Koop__Cases__TimelineEntry *e = tl->entries[i];
            fprintf(out, "        - %s %s: %s (osoba %s)\n", s_or(e->date), s_or(e->type), s_or(e->summary),
                    s_or(e->actor));
        }
    }
}

/* Its transfers to or from another gmina (docs/CASES.md): what was offered,
 * and the answer. */
static void
s_transfers(FILE *out, const Koop__Cases__HouseholdExport *x)
{
    char buf[256], state[64], gmina[300];
    fprintf(out, "\n5. PRZEKAZANIA SPRAWY DO INNEJ GMINY\n");
    if (!x->n_transfers)
        fprintf(out, "   (brak)\n");
    for (size_t i = 0; i < x->n_transfers; i++) {
        const Koop__Cases__Transfer *t = x->transfers[i];
        const char *answer = t->answer ? koop_err_word(t->answer, KOOP_LANG_PL) : NULL;
        fprintf(out, "   %zu) %s %s, %s: %s\n", i + 1, t->incoming ? "przyjęcie z gminy" : "przekazanie do gminy",
                s_or(s_gmina(gmina, sizeof gmina, t->incoming ? t->from_node : t->to_node,
                             t->incoming ? t->from_node_name : t->to_node_name)),
                s_or(t->date),
                koop_present_enum(&koop__cases__transfer_state__descriptor, t->state, KOOP_LANG_PL, state, sizeof state));
        s_line(out, 6, "Identyfikator:", t->id);
        s_line(out, 6, "Program IPW:", t->ipw);
        s_line(out, 6, "Nowy numer IPW:", t->number);
        s_line(out, 6, "Odcisk klucza gminy:", t->fingerprint);
        if (t->answered && *t->answered) {
            snprintf(buf, sizeof buf, "%s, %s", t->answered, answer ? answer : s_or(t->answer));
            s_line(out, 6, "Odpowiedź:", buf);
        }
        s_line(out, 6, t->incoming ? "Odpowiedział(a):" : "Przekazał(a):", t->by);
    }
}

/* Reading or changing: the methods that only show data. */
static int
s_is_read(const char *method)
{
    static const char *const verbs[] = {".show", ".list", ".timeline", ".export", ".mine", ".verify"};
    size_t n = method ? strlen(method) : 0;
    for (size_t i = 0; i < KOOP_ARRAY_LEN(verbs); i++) {
        size_t k = strlen(verbs[i]);
        if (n >= k && strcmp(method + n - k, verbs[i]) == 0)
            return 1;
    }
    return 0;
}

void
koop_present_export_text(const ProtobufCMessage *reply, FILE *out)
{
    const Koop__Cases__HouseholdExport *x = (const Koop__Cases__HouseholdExport *)reply;
    char when[32];

    s_time(when, x->made_ms);
    fprintf(out, "KOPIA DANYCH OSOBOWYCH (art. 15 RODO)\n"
                 "Wszystkie dane o gospodarstwie domowym i jego członkach przechowywane w węźle %s,\n"
                 "oraz kto i kiedy miał w nie wgląd albo je zmieniał.\n"
                 "Sporządzono: %s; sporządził(a): osoba %s\n\n",
            s_or(x->node), when, s_or(x->made_by));
    if (x->household)
        s_household(out, x->household);
    fprintf(out, "\n4. PROGRAMY IPW (Indywidualne Programy Współpracy)\n");
    if (!x->n_ipws)
        fprintf(out, "   (brak)\n");
    for (size_t i = 0; i < x->n_ipws; i++) {
        const Koop__Cases__ExportTimeline *tl = NULL;
        for (size_t j = 0; j < x->n_timeline; j++)
            if (x->timeline[j]->ipw && x->ipws[i]->id && strcmp(x->timeline[j]->ipw, x->ipws[i]->id) == 0)
                tl = x->timeline[j];
        s_ipw(out, i + 1, x->ipws[i], tl);
    }
    s_transfers(out, x);
    fprintf(out, "\n6. KTO I KIEDY MIAŁ WGLĄD W DANE ALBO JE ZMIENIAŁ (dziennik dostępu)\n");
    if (!x->n_audit)
        fprintf(out, "   (brak wpisów)\n");
    for (size_t i = 0; i < x->n_audit; i++) {
        const Koop__Cases__AuditEntry *e = x->audit[i];
        const char *res = !e->allowed ? ", ODMOWA dostępu"
                          : e->result && strcmp(e->result, "ok") != 0 ? ", nie powiodło się" : "";
        int coded = e->code && *e->code;
        s_time(when, e->time_ms);
        fprintf(out, "   %s  osoba %s  %s – %s%s%s%s%s\n", when,
                e->caller && *e->caller ? e->caller : "(administrator)", s_is_read(e->method) ? "odczyt (wgląd)" : "zmiana",
                s_or(e->method), res, coded ? " (" : "", coded ? e->code : "", coded ? ")" : "");
    }
    fprintf(out, "\n7. HISTORIA ZMIAN DANYCH GOSPODARSTWA (wpisy i poprawki, od najstarszej)\n");
    if (!x->n_history)
        fprintf(out, "   (brak)\n");
    for (size_t i = 0; i < x->n_history; i++) {
        const Koop__Cases__ExportVersion *ver = x->history[i];
        const Koop__Cases__Household *h = ver->household, *was = i ? x->history[i - 1]->household : NULL;
        static const char *const labels[] = {"Imię i nazwisko:", "PESEL:", "Data urodzenia:", "Adres:", "Telefon:"};
        s_time(when, ver->time_ms);
        fprintf(out, "   %s  osoba %s  %s\n", when, ver->actor && *ver->actor ? ver->actor : "(administrator)",
                s_or(ver->type));
        for (size_t f = 0; h && f < KOOP_ARRAY_LEN(labels); f++) {
            const char *now[] = {h->name, h->pesel, h->birth, h->address, h->phone};
            const char *old[] = {was ? was->name : NULL, was ? was->pesel : NULL, was ? was->birth : NULL,
                                 was ? was->address : NULL, was ? was->phone : NULL};
            char line[600];
            if (strcmp(now[f] ? now[f] : "", old[f] ? old[f] : "") == 0)
                continue;
            snprintf(line, sizeof line, "%s%s%s", was ? s_or(old[f]) : "", was ? " → " : "", s_or(now[f]));
            s_line(out, 6, labels[f], line);
        }
        if (h && (!was || was->size != h->size || was->n_members != h->n_members || was->n_consents != h->n_consents)) {
            char line[96];
            snprintf(line, sizeof line, "liczba osób %u, wpisani członkowie: %zu, zgody: %zu", h->size, h->n_members,
                     h->n_consents);
            s_line(out, 6, "Stan:", line);
        }
    }
    fprintf(out, "\n8. OSOBY WYMIENIONE W KOPII (pracownicy instytucji)\n");
    if (!x->n_people)
        fprintf(out, "   (brak)\n");
    for (size_t i = 0; i < x->n_people; i++) {
        const Koop__Cases__ExportPerson *p = x->people[i];
        fprintf(out, "   - %s: %s", s_or(p->id), p->has_role ? S_ENUM(koop__reg__role__descriptor, p->role) : "–");
        if (p->institution && *p->institution)
            fprintf(out, ", instytucja %s%s%s%s", p->institution, p->has_sector ? " (" : "",
                    p->has_sector ? S_ENUM(koop__reg__sector__descriptor, p->sector) : "",
                    p->has_sector ? ")" : "");
        fputc('\n', out);
    }
}
