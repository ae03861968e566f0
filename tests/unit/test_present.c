/* Unit tests of common/present_text and common/names: replies made in
 * process and written as people read them. */
#include "cases.pb-c.h"
#include "names.h"
#include "present.h"
#include "registry.pb-c.h"
#include "reporting.pb-c.h"
#include "sync.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What fn writes, as a malloc'd string. */
#define CAPTURE(buf, call)                                                                                    \
    do {                                                                                                      \
        size_t len_;                                                                                          \
        FILE *f_ = open_memstream(&(buf), &len_);                                                             \
        cr_assert_not_null(f_);                                                                               \
        call;                                                                                                 \
        fclose(f_);                                                                                           \
    } while (0)
#define OUT f_

static int
s_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The line of s holding needle (into out), or "" */
static void
s_line_of(const char *s, const char *needle, char *out, size_t len)
{
    const char *p = strstr(s, needle), *b, *e;
    out[0] = '\0';
    if (!p)
        return;
    for (b = p; b > s && b[-1] != '\n'; b--)
        ;
    e = strchr(p, '\n');
    snprintf(out, len, "%.*s", (int)(e ? e - b : (long)strlen(b)), b);
}

Test(present, list_has_a_header_stable_columns_and_polish_values)
{
    Koop__Reg__Institution a = KOOP__REG__INSTITUTION__INIT, b = KOOP__REG__INSTITUTION__INIT;
    const ProtobufCMessage *items[] = {&a.base, &b.base};
    char *out = NULL, line[400];
    a.id = "01a20dc3-0000-7000-8000-000000000001";
    a.name = "Gminny Ośrodek Pomocy Społecznej";
    a.has_sector = 1;
    a.sector = KOOP__REG__SECTOR__SECTOR_SOCIAL_ASSISTANCE;
    a.has_level = 1;
    a.level = KOOP__REG__LEVEL__LEVEL_GMINA;
    a.teryt = "2013032";
    a.has_active = a.active = 1;
    b.id = "01a20dc3-0000-7000-8000-000000000002";
    b.name = "KPP";
    b.has_sector = 1;
    b.sector = KOOP__REG__SECTOR__SECTOR_POLICE;
    b.has_level = 1;
    b.level = KOOP__REG__LEVEL__LEVEL_POWIAT; /* no TERYT: the column stays */
    b.has_active = 1;
    CAPTURE(out, koop_present_list_text(items, 2, KOOP_LANG_PL, OUT));
    cr_assert_eq(s_lines(out), 4, "header, two rows, count:\n%s", out);
    cr_assert(strncmp(out, "identyfikator", 13) == 0, "%s", out);
    cr_assert(strstr(out, "nazwa") && strstr(out, "sektor") && strstr(out, "poziom"), "%s", out);
    cr_assert(strstr(out, "pomoc społeczna") && strstr(out, "policja"), "%s", out);
    cr_assert(!strstr(out, "social_assistance"), "%s", out);
    cr_assert(strstr(out, "(2 wyniki)"), "%s", out);
    /* every row has its cells at the header's columns; the empty TERYT is "–" */
    s_line_of(out, "KPP", line, sizeof line);
    {
        const char *hdr_teryt = strstr(out, "TERYT"), *hdr_start = out;
        const char *cell = strstr(line, "–");
        int col_h = 0, col_c = 0;
        for (const char *p = hdr_start; p < hdr_teryt; p++)
            col_h += ((unsigned char)*p & 0xc0) != 0x80;
        for (const char *p = line; cell && p < cell; p++)
            col_c += ((unsigned char)*p & 0xc0) != 0x80;
        cr_assert_not_null(cell, "%s", line);
        cr_assert_eq(col_c, col_h, "the empty TERYT under its header:\n%s", out);
    }
    free(out);
    CAPTURE(out, koop_present_list_text(items, 2, KOOP_LANG_EN, OUT));
    cr_assert(strstr(out, "social assistance") && strstr(out, "sector") && strstr(out, "(2 results)"), "%s", out);
    free(out);
    CAPTURE(out, koop_present_list_text(items, 0, KOOP_LANG_PL, OUT));
    cr_assert_str_eq(out, "(brak wyników)\n");
    free(out);
}

Test(present, names_stand_for_ids)
{
    Koop__Cases__Ipw ipw = KOOP__CASES__IPW__INIT;
    char *out = NULL;
    ipw.id = "01a20dc3-0000-7000-8000-0000000000a1";
    ipw.number = "IPW/2026/0042";
    ipw.household = "01a20dc3-0000-7000-8000-0000000000b1";
    ipw.household_name = "Zofia Brzęczyszczykiewicz";
    ipw.coordinator = "01a20dc3-0000-7000-8000-0000000000c1";
    ipw.coordinator_name = "Anna Nowak";
    ipw.has_status = 1;
    ipw.status = KOOP__CASES__IPW_STATUS__IPW_ACTIVE;
    ipw.opened = "2026-01-10";
    CAPTURE(out, koop_present_message_text(&ipw.base, KOOP_LANG_PL, OUT));
    cr_assert(strstr(out, "koordynator") && strstr(out, "Anna Nowak"), "%s", out);
    cr_assert(strstr(out, "Zofia Brzęczyszczykiewicz") && strstr(out, "realizowany"), "%s", out);
    cr_assert(!strstr(out, ipw.coordinator) && !strstr(out, ipw.household), "no bare ids:\n%s", out);
    free(out);
    /* no name known: the id, not an empty line */
    ipw.coordinator_name = NULL;
    CAPTURE(out, koop_present_message_text(&ipw.base, KOOP_LANG_PL, OUT));
    cr_assert(strstr(out, ipw.coordinator), "%s", out);
    free(out);
}

Test(present, one_line_per_record_whatever_the_text_holds)
{
    Koop__Cases__Task t = KOOP__CASES__TASK__INIT;
    const ProtobufCMessage *items[] = {&t.base};
    char *out = NULL;
    t.id = "01a20dc3-0000-7000-8000-0000000000d1";
    t.title = "Wizyta\ndomowa\r\n\tu \xe2\x80\xae" "odzina";
    t.due = "2026-02-01";
    t.has_status = 1;
    t.status = KOOP__CASES__TASK_STATUS__TASK_IN_PROGRESS;
    CAPTURE(out, koop_present_list_text(items, 1, KOOP_LANG_PL, OUT));
    cr_assert_eq(s_lines(out), 3, "header, one row, count:\n%s", out);
    cr_assert(strstr(out, "Wizyta\xe2\x86\xb5" "domowa"), "a line break shows as ↵:\n%s", out);
    cr_assert(strstr(out, "\xef\xbf\xbd"), "a bidi override shows as �:\n%s", out);
    cr_assert(!strstr(out, "\xe2\x80\xae"), "%s", out);
    cr_assert(strstr(out, "w toku"), "%s", out);
    free(out);
}

Test(present, times_are_local_dates_not_milliseconds)
{
    Koop__Cases__AuditEntry e = KOOP__CASES__AUDIT_ENTRY__INIT;
    char *out = NULL, want[32];
    setenv("TZ", "Europe/Warsaw", 1);
    e.has_time_ms = 1;
    e.time_ms = 1768053780000ull; /* 2026-01-10 14:03 UTC */
    e.caller = "01a20dc3-0000-7000-8000-0000000000c1";
    e.caller_name = "Ewa Koordynator";
    e.method = "ipw.show";
    e.has_allowed = 1;
    e.allowed = 1;
    e.result = "ok";
    koop_present_local_time(e.time_ms, want);
    cr_assert_str_eq(want, "2026-01-10 15:03", "the node's local time");
    CAPTURE(out, koop_present_message_text(&e.base, KOOP_LANG_PL, OUT));
    cr_assert(strstr(out, "2026-01-10 15:03") && !strstr(out, "1768053780000"), "%s", out);
    cr_assert(strstr(out, "Ewa Koordynator") && strstr(out, "wykonano"), "%s", out);
    free(out);
}

Test(present, labels_say_what_they_are)
{
    Koop__Cases__Goal g = KOOP__CASES__GOAL__INIT;
    Koop__Reg__CatalogueEntry c = KOOP__REG__CATALOGUE_ENTRY__INIT;
    char *out = NULL;
    Koop__Reg__Target t[] = {KOOP__REG__TARGET__TARGET_FAMILIES};
    g.has_area = 1;
    g.area = KOOP__CASES__AREA__AREA_PARENTING;
    g.has_baseline = g.has_target = 1;
    g.baseline = 3;
    g.target = 7;
    CAPTURE(out, koop_present_message_text(&g.base, KOOP_LANG_PL, OUT));
    cr_assert(strstr(out, "wartość docelowa") && strstr(out, "wartość wyjściowa"), "%s", out);
    cr_assert(!strstr(out, "grupy docelowe"), "%s", out);
    cr_assert(strstr(out, "rodzicielstwo i opieka"), "%s", out);
    free(out);
    c.name = "Poradnia";
    c.n_target = 1;
    c.target = t;
    CAPTURE(out, koop_present_message_text(&c.base, KOOP_LANG_PL, OUT));
    cr_assert(strstr(out, "grupy docelowe") && strstr(out, "rodziny"), "%s", out);
    free(out);
}

Test(present, future_meeting_is_not_held)
{
    Koop__Cases__TimelineEntry past = KOOP__CASES__TIMELINE_ENTRY__INIT, later = KOOP__CASES__TIMELINE_ENTRY__INIT;
    const ProtobufCMessage *items[] = {&past.base, &later.base};
    char *out = NULL, line[300];
    past.date = "2020-01-10";
    past.type = "meeting.held";
    later.date = "2199-01-10";
    later.type = "meeting.held";
    CAPTURE(out, koop_present_list_text(items, 2, KOOP_LANG_PL, OUT));
    s_line_of(out, "2199-01-10", line, sizeof line);
    cr_assert(strstr(line, "zaplanowane spotkanie ZZK"), "%s", out);
    s_line_of(out, "2020-01-10", line, sizeof line);
    cr_assert(strstr(line, "spotkanie ZZK") && !strstr(line, "zaplanowane"), "%s", out);
    free(out);
}

Test(present, a_transfers_answer_is_a_word_in_the_readers_language)
{
    Koop__Cases__Transfer t = KOOP__CASES__TRANSFER__INIT;
    const ProtobufCMessage *items[] = {&t.base};
    char *out = NULL;
    t.id = "01a20dc3-0000-7000-8000-000000000009";
    t.has_state = 1;
    t.state = KOOP__CASES__TRANSFER_STATE__TRANSFER_DECLINED;
    t.answered = "2026-03-02";
    t.answer = "key_mismatch";
    CAPTURE(out, koop_present_list_text(items, 1, KOOP_LANG_PL, OUT));
    cr_assert(strstr(out, "odrzucone: klucz gminy się zmienił") && !strstr(out, "key_mismatch"), "%s", out);
    free(out);
    out = NULL;
    CAPTURE(out, koop_present_list_text(items, 1, KOOP_LANG_EN, OUT));
    cr_assert(strstr(out, "declined: the gmina's key has changed") && !strstr(out, "key_mismatch"), "%s", out);
    free(out);
    out = NULL;
    /* a code this build has no word for shows as it came */
    t.answer = "some_newer_code";
    CAPTURE(out, koop_present_list_text(items, 1, KOOP_LANG_EN, OUT));
    cr_assert(strstr(out, "some_newer_code"), "%s", out);
    free(out);
}

/* What write says of m in lang (caller frees). */
static char *
s_said(void (*write)(const ProtobufCMessage *, koop_lang_t, FILE *), const ProtobufCMessage *m, koop_lang_t lang)
{
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    write(m, lang, f);
    fclose(f);
    return buf;
}

Test(present, the_reporting_status_names_every_field_in_both_languages)
{
    Koop__Rep__Status st = KOOP__REP__STATUS__INIT;
    Koop__Rep__UnitInfo u = KOOP__REP__UNIT_INFO__INIT, *units[] = {&u};
    char *pl, *en;
    st.node = "gmina-2013032";
    st.has_not_owned = 1;
    st.not_owned = 2;
    u.node = "gmina-2013032";
    u.level = "województwo";
    st.units = units;
    st.n_units = 1;
    en = s_said(koop_present_message_text, &st.base, KOOP_LANG_EN);
    pl = s_said(koop_present_message_text, &st.base, KOOP_LANG_PL);
    cr_assert(strstr(en, "events refused (another node's records)") && !strstr(en, "not_owned"), "%s", en);
    cr_assert(strstr(en, "level: voivodeship") && !strstr(en, "województwo"), "%s", en);
    cr_assert(strstr(pl, "odrzucone zdarzenia cudzych rekordów") && strstr(pl, "poziom: województwo"), "%s", pl);
    free(en);
    free(pl);
}

/* ---- present_sync.c ---- */

Test(present, sync_status_of_a_hub_in_both_languages)
{
    Koop__Sync__Status st = KOOP__SYNC__STATUS__INIT;
    Koop__Sync__NodeStatus n = KOOP__SYNC__NODE_STATUS__INIT, *nodes[] = {&n};
    Koop__Sync__StreamStatus ns = KOOP__SYNC__STREAM_STATUS__INIT, us = KOOP__SYNC__STREAM_STATUS__INIT;
    Koop__Sync__StreamStatus *nss[] = {&ns}, *uss[] = {&us};
    Koop__Sync__UplinkStatus up = KOOP__SYNC__UPLINK_STATUS__INIT;
    char *pl, *en;
    st.node = "powiat-2013";
    st.role = "hub";
    st.listen = "tcp://0.0.0.0:5555";
    st.has_malformed = 1;
    st.malformed = 1;
    n.node = "gmina-2013032";
    n.has_refused = 1;
    n.refused = 2;
    n.last_refusal = "bad";
    ns.stream = "cases";
    ns.has_acked = ns.has_epoch = ns.has_events = 1;
    ns.acked = 5;
    ns.epoch = 1;
    ns.events = 7;
    n.streams = nss;
    n.n_streams = 1;
    st.nodes = nodes;
    st.n_nodes = 1;
    up.hub = "tcp://x";
    up.hub_node = "woj-20";
    up.has_connected = up.connected = 1;
    up.has_pending = 1;
    up.pending = 1;
    us.stream = "registry";
    us.has_last_seq = us.has_acked = us.has_pending = 1;
    us.last_seq = 3;
    us.acked = 2;
    us.pending = 1;
    us.state = "ok";
    up.streams = uss;
    up.n_streams = 1;
    st.uplink = &up;
    /* the Polish as it was written before the words moved to labels.def */
    pl = s_said(koop_present_sync_text, &st.base, KOOP_LANG_PL);
    en = s_said(koop_present_sync_text, &st.base, KOOP_LANG_EN);
    cr_assert_str_eq(pl, "hub powiat-2013, nasłuch: tcp://0.0.0.0:5555\n"
                          "  gmina-2013032        niepołączony, ostatni kontakt: nigdy\n"
                          "    odrzucone paczki: 2 (ostatnio: bad)\n"
                          "    cases      potwierdzone 5 (zdarzeń w epoce 1: 7)\n"
                          "  odrzucone wiadomości: 1\n"
                          "  połączenie w górę:\n"
                          "    hub tcp://x (woj-20): połączony, ostatni kontakt: nigdy\n"
                          "    czeka na wysłanie: 1 zdarzenie\n"
                          "      registry   ostatnie 3, potwierdzone 2, czeka 1\n");
    cr_assert_str_eq(en, "hub powiat-2013, listening on: tcp://0.0.0.0:5555\n"
                          "  gmina-2013032        not connected, last contact: never\n"
                          "    batches refused: 2 (the last: bad)\n"
                          "    cases      acknowledged 5 (events in epoch 1: 7)\n"
                          "  messages refused: 1\n"
                          "  the link up:\n"
                          "    hub tcp://x (woj-20): connected, last contact: never\n"
                          "    waiting to be sent: 1 event\n"
                          "      registry   last 3, acknowledged 2, waiting 1\n");
    free(pl);
    free(en);
}

Test(present, sync_verify_in_both_languages)
{
    Koop__Sync__VerifyResult v = KOOP__SYNC__VERIFY_RESULT__INIT;
    Koop__Sync__StreamVerify sv = KOOP__SYNC__STREAM_VERIFY__INIT, *svs[] = {&sv};
    char *pl, *en;
    v.state = "done";
    sv.stream = "cases";
    sv.has_upto = sv.has_events = sv.has_ok = 1;
    sv.upto = 9;
    sv.events = 9;
    sv.ok = 1;
    v.streams = svs;
    v.n_streams = 1;
    pl = s_said(koop_present_sync_verify_text, &v.base, KOOP_LANG_PL);
    en = s_said(koop_present_sync_verify_text, &v.base, KOOP_LANG_EN);
    cr_assert_str_eq(pl, "sprawdzenie kopii huba (sync verify, –): done\n"
                          "  cases      do 9: zdarzeń 9, różnych zakresów 0, przywrócono 0 – zgodne\n");
    cr_assert_str_eq(en, "check of the hub's copy (sync verify, –): done\n"
                          "  cases      up to 9: events 9, ranges differing 0, restored 0 – consistent\n");
    free(pl);
    free(en);
}

/* ---- present_report.c: the evaluation's summary ---- */

/* A report with figure key = value for each pair (hidden: -1). */
static void
s_report(Koop__Rep__Report *r, Koop__Rep__Figure *figs, Koop__Rep__Figure **ptrs, const char *const *keys,
         const double *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        koop__rep__figure__init(&figs[i]);
        figs[i].key = (char *)keys[i];
        figs[i].group = "ipw";
        figs[i].has_value = 1;
        figs[i].value = values[i] < 0 ? 0 : values[i];
        figs[i].has_suppressed = 1;
        figs[i].suppressed = values[i] < 0;
        figs[i].decimals = strstr(keys[i], "avg") || strstr(keys[i], "rate");
        ptrs[i] = &figs[i];
    }
    r->figures = ptrs;
    r->n_figures = n;
}

static const char *const s_eval_keys[] = {"partner_entities", "pzk_count", "pzk_avg_months", "ipw_closed",
                                          "ipw_success", "ipw_success_rate", "households", "persons"};

Test(present, the_evaluations_summary_in_both_languages)
{
    Koop__Rep__Report r = KOOP__REP__REPORT__INIT;
    Koop__Rep__Figure figs[8], *ptrs[8];
    char *pl, *en;
    s_report(&r, figs, ptrs, s_eval_keys, (const double[]){5, 1, 16, 4, 3, 75, 5, 15}, 8);
    pl = koop_present_summary(&r.base, KOOP_LANG_PL);
    en = koop_present_summary(&r.base, KOOP_LANG_EN);
    cr_assert_not_null(pl);
    cr_assert_not_null(en);
    /* the Polish words of docs/REPORTING.md, unchanged */
    cr_expect_str_eq(pl, "5 podmiotów partnerskich współpracowało w PZK; przeciętny PZK działał 16,0 miesiąca (PZK w "
                         "okresie: 1); 3 spośród 4 osób/rodzin, których IPW zamknięto, zakończyły go sukcesem (75,0 %); "
                         "IPW objęły 5 gospodarstw domowych (15 osób).");
    cr_expect_str_eq(en, "5 partner entities cooperated in PZKs; a PZK worked 16.0 months on average (PZKs in the "
                         "period: 1); 3 of the 4 persons/families whose IPW was closed completed it with success "
                         "(75.0 %); IPWs covered 5 households (15 people).");
    free(pl);
    free(en);
    /* one of each: the verb agrees with the count */
    s_report(&r, figs, ptrs, s_eval_keys, (const double[]){1, 1, 2, 1, 1, 100, 1, 1}, 8);
    pl = koop_present_summary(&r.base, KOOP_LANG_PL);
    en = koop_present_summary(&r.base, KOOP_LANG_EN);
    cr_expect(strstr(pl, "1 podmiot partnerski współpracował w PZK;") &&
                  strstr(pl, "1 spośród 1 osoby/rodziny, których IPW zamknięto, zakończyła go sukcesem") &&
                  strstr(pl, "IPW objęły 1 gospodarstwo domowe (1 osobę)."), "%s", pl);
    cr_expect(strstr(en, "1 partner entity cooperated in PZKs;") && strstr(en, "1 of the 1 person/family whose") &&
                  strstr(en, "IPWs covered 1 household (1 person)."), "%s", en);
    free(pl);
    free(en);
}

Test(present, a_hidden_figure_is_said_to_be_hidden_in_both_languages)
{
    Koop__Rep__Report r = KOOP__REP__REPORT__INIT;
    Koop__Rep__Figure figs[8], *ptrs[8];
    char *pl, *en;
    s_report(&r, figs, ptrs, s_eval_keys, (const double[]){-1, 3, -1, 8, -1, -1, 12, -1}, 8);
    pl = koop_present_summary(&r.base, KOOP_LANG_PL);
    en = koop_present_summary(&r.base, KOOP_LANG_EN);
    cr_expect_str_eq(pl, "liczba podmiotów partnerskich w PZK nie jest podawana (małe liczby); przeciętny czas "
                         "działania PZK nie jest podawany (PZK w okresie: 3); IPW zamknięto dla 8 osób/rodzin; liczba "
                         "zakończonych sukcesem nie jest podawana (małe liczby); IPW objęły 12 gospodarstw domowych "
                         "(liczba osób nie jest podawana (małe liczby)).");
    cr_expect_str_eq(en, "the number of partner entities in PZKs is not given (small counts); the mean working time "
                         "of a PZK is not given (PZKs in the period: 3); IPWs were closed for 8 persons/families; the "
                         "number closed with success is not given (small counts); IPWs covered 12 households (the "
                         "number of people is not given (small counts)).");
    free(pl);
    free(en);
    /* withheld above the unit: no figures, and why */
    r.n_figures = 0;
    r.approval = "withheld";
    en = koop_present_summary(&r.base, KOOP_LANG_EN);
    cr_expect(strstr(en, "not published"), "%s", en);
    free(en);
}

/* ---- names.c ---- */

static int
s_lookup(void *ctx, const char *field, const char *id, koop_names_kind_t kind, char *out, size_t len)
{
    int *calls = ctx;
    (*calls)++;
    if (kind == KOOP_NAMES_NUMBER)
        return snprintf(out, len, "IPW/2026/0001") > 0;
    if (strcmp(id, "unknown") == 0)
        return 0;
    snprintf(out, len, "%s of %s", field, id);
    return 1;
}

Test(names, fills_names_next_to_ids_inside_messages)
{
    Koop__Reg__Agreement a = KOOP__REG__AGREEMENT__INIT;
    Koop__Cases__Task t = KOOP__CASES__TASK__INIT;
    char *parties[] = {"i1", "unknown"};
    uint8_t buf[1024];
    int calls = 0;
    ProtobufCMessage *m;
    cr_assert(koop_names_wanted(&koop__reg__agreement__descriptor));
    cr_assert(koop_names_wanted(&koop__cases__ipw__descriptor), "through its members");
    cr_assert(!koop_names_wanted(&koop__reg__by_id__descriptor));
    a.n_parties = 2;
    a.parties = parties;
    m = protobuf_c_message_unpack(&koop__reg__agreement__descriptor, NULL,
                                  protobuf_c_message_pack(&a.base, buf), buf);
    cr_assert_eq(koop_names_fill(m, s_lookup, &calls), 0);
    {
        Koop__Reg__Agreement *got = (Koop__Reg__Agreement *)m;
        cr_assert_eq(got->n_parties_names, 2);
        cr_assert_str_eq(got->parties_names[0], "parties of i1");
        cr_assert_str_eq(got->parties_names[1], "", "unknown: an empty name, the id stays");
    }
    protobuf_c_message_free_unpacked(m, NULL);
    t.owner = "p1";
    t.ipw = "w1";
    m = protobuf_c_message_unpack(&koop__cases__task__descriptor, NULL, protobuf_c_message_pack(&t.base, buf), buf);
    cr_assert_eq(koop_names_fill(m, s_lookup, &calls), 0);
    cr_assert_str_eq(((Koop__Cases__Task *)m)->owner_name, "owner of p1");
    cr_assert_str_eq(((Koop__Cases__Task *)m)->ipw_number, "IPW/2026/0001");
    cr_assert_null(((Koop__Cases__Task *)m)->service_name, "no id, no lookup");
    protobuf_c_message_free_unpacked(m, NULL);
}

Test(names, forgotten_before_a_record_is_stored)
{
    Koop__Reg__Person p = KOOP__REG__PERSON__INIT;
    p.name = "Anna";
    p.institution = "i1";
    p.institution_name = "sent by a client";
    koop_names_forget(&p.base);
    cr_assert_null(p.institution_name);
    cr_assert_str_eq(p.name, "Anna", "only name fields");
}

static int
s_name_of(void *ctx, const char *field, const char *id, koop_names_kind_t kind, char *out, size_t len)
{
    int *calls = ctx;
    (void)field;
    (*calls)++;
    snprintf(out, len, "%s of %s", kind == KOOP_NAMES_NUMBER ? "number" : "name", id);
    return 1;
}

/* A handler's reply is named while it is packed and then put back as it was. */
Test(names, filled_in_place_and_put_back)
{
    Koop__Cases__Ipw ipw = KOOP__CASES__IPW__INIT;
    Koop__Cases__ZzkMember m = KOOP__CASES__ZZK_MEMBER__INIT, *mp[] = {&m};
    Koop__Cases__Meeting mt = KOOP__CASES__MEETING__INIT, *mtp[] = {&mt};
    char *parts[] = {"p1", "p2"}, empty[] = "";
    koop_names_undo_t *undo = NULL;
    uint8_t buf[2048];
    size_t len;
    int calls = 0;
    Koop__Cases__Ipw *got;
    ipw.coordinator = "p1";
    ipw.created_by_name = empty; /* an empty name is filled too, and put back */
    ipw.n_members = 1;
    ipw.members = mp;
    m.person = "p2";
    ipw.n_meetings = 1;
    ipw.meetings = mtp;
    mt.n_participants = 2;
    mt.participants = parts;
    ipw.created_by = "p1";
    cr_assert_eq(koop_names_fill_in_place(&ipw.base, s_name_of, &calls, &undo), 0);
    cr_assert_str_eq(ipw.coordinator_name, "name of p1");
    cr_assert_str_eq(m.person_name, "name of p2");
    cr_assert_eq(mt.n_participants_names, 2);
    len = protobuf_c_message_pack(&ipw.base, buf);
    koop_names_undo(&undo);
    cr_assert_null(undo);
    cr_assert_null(ipw.coordinator_name);
    cr_assert_eq(ipw.created_by_name, empty, "what was there is back");
    cr_assert_null(m.person_name);
    cr_assert_eq(mt.n_participants_names, 0);
    cr_assert_null(mt.participants_names);
    got = koop__cases__ipw__unpack(NULL, len, buf);
    cr_assert_not_null(got);
    cr_assert_str_eq(got->coordinator_name, "name of p1", "the packed reply had the names");
    cr_assert_str_eq(got->members[0]->person_name, "name of p2");
    cr_assert_str_eq(got->meetings[0]->participants_names[1], "name of p2");
    koop__cases__ipw__free_unpacked(got, NULL);
    cr_assert_eq(calls, 2, "each id is looked up once per reply (%d lookups)", calls);
}
