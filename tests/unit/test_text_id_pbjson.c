/* Unit tests of common/text, common/id, common/clock and common/pbjson. */
#include "clock.h"
#include "id.h"
#include "koop.h"
#include "pbjson.h"
#include "record.h"
#include "registry.pb-c.h"
#include "text.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(text, utf8_and_control_characters)
{
    cr_assert(koop_text_valid("Zażółć gęślą jaźń", 100));
    cr_assert(!koop_text_valid("\xc3\x28", 100), "invalid UTF-8");
    cr_assert(!koop_text_valid("a\x01b", 100), "control character");
    cr_assert(!koop_text_valid("abcdef", 5), "too long");
    cr_assert(koop_text_valid("linia\ndruga", 100));
}

Test(text, escape_is_printable_and_bounded)
{
    char out[40], big[5000];
    cr_assert_str_eq(koop_text_escape("Jan\x01\\ż", out, sizeof out), "Jan\\x01\\x5c\\xc5\\xbc");
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    koop_text_escape(big, out, sizeof out);
    cr_assert_lt(strlen(out), sizeof out);
    cr_assert(strstr(out, "...(4999 B)") != NULL, "%s", out);
    cr_assert_str_eq(koop_text_escape(NULL, out, sizeof out), "");
}

Test(text, contains_folds_polish_letters)
{
    cr_assert(koop_text_contains("ŁÓDŹ i okolice", "łódź"));
    cr_assert(koop_text_contains("Poradnictwo RODZINNE", "rodzin"));
    cr_assert(!koop_text_contains("Klub seniora", "rodzin"));
    cr_assert(koop_text_equal("Świetlica", "świetlica"));
    /* without Polish letters, and the other way round */
    cr_assert(koop_text_contains("Ośrodek wsparcia dziennego", "osrodek"));
    cr_assert(koop_text_contains("Osrodek wsparcia", "OŚRODEK"));
    cr_assert(koop_text_contains("Gminny Ośrodek Pomocy Społecznej", "pomocy spoleczn"));
    cr_assert(koop_text_contains("Łódź", "lodz"));
    cr_assert(koop_text_contains("ŻÓŁĆ ĄĘŃŹ", "zolc aenz"));
    cr_assert(koop_text_contains("Café Müller", "cafe muller"));
    cr_assert(!koop_text_contains("Ośrodek", "osrodki"));
    cr_assert(koop_text_equal("Świetlica", "swietlica"));
    cr_assert(koop_text_email("anna@example.org"));
    cr_assert(!koop_text_email("anna@"));
    cr_assert(!koop_text_email("a b@example.org"));
}

Test(text, names_keep_their_rules_and_say_which_one_failed)
{
    uint32_t bad;
    cr_assert_eq(koop_text_name_rule("Anna Nowak-Kowalska", 100, &bad), KOOP_TEXT_OK);
    cr_assert_eq(koop_text_name_rule("Zofia Brzęczyszczykiewicz", 200, &bad), KOOP_TEXT_OK);
    cr_assert_eq(koop_text_name_rule("Zażółć gęślą jaźń", 100, &bad), KOOP_TEXT_OK);
    cr_assert_eq(bad, 0);
    cr_assert_eq(koop_text_name_rule("abcdef", 5, &bad), KOOP_TEXT_TOO_LONG);
    cr_assert_eq(koop_text_name_rule("\xc3\x28", 200, &bad), KOOP_TEXT_BAD_UTF8);
    cr_assert_eq(koop_text_name_rule("   ", 200, &bad), KOOP_TEXT_BLANK);
    cr_assert_eq(koop_text_name_rule(" \xc2\xa0 \xe2\x80\x83", 100, &bad), KOOP_TEXT_BLANK, "no-break and em spaces");
    cr_assert_eq(koop_text_name_rule(" \u00a0\u3000", 200, &bad), KOOP_TEXT_BLANK, "Unicode spaces are blank too");
    cr_assert_eq(koop_text_name_rule("Jan\nKowalski", 200, &bad), KOOP_TEXT_NEWLINE);
    cr_assert_eq(koop_text_name_rule("Jan\r", 100, &bad), KOOP_TEXT_NEWLINE);
    cr_assert_eq(koop_text_name_rule("Jan\u2028Kowalski", 200, &bad), KOOP_TEXT_NEWLINE, "a Unicode line separator");
    cr_assert_eq(koop_text_name_rule("Jan\x07", 200, &bad), KOOP_TEXT_CONTROL);
    cr_assert_eq(bad, 7);
    /* a tab is a control character in a name: a name is one cell of a table */
    cr_assert_eq(koop_text_name_rule("Jan\tKowalski", 100, &bad), KOOP_TEXT_CONTROL);
    cr_assert_eq(koop_text_name_rule(" \t\u00a0", 100, &bad), KOOP_TEXT_CONTROL);
    cr_assert_eq(koop_text_name_rule("Jan\x7f", 100, &bad), KOOP_TEXT_CONTROL);
    cr_assert_eq(koop_text_name_rule("Jan\xc2\x9b", 100, &bad), KOOP_TEXT_CONTROL, "C1 control");
    cr_assert_eq(koop_text_name_rule("Jan\u200bKowalski", 200, &bad), KOOP_TEXT_CONTROL, "an invisible space");
    cr_assert_eq(koop_text_name_rule("Kowalski\u202egnp.exe", 200, &bad), KOOP_TEXT_BIDI);
    cr_assert_eq(bad, 0x202e);
    cr_assert_eq(koop_text_name_rule("abc\u2066x", 200, &bad), KOOP_TEXT_BIDI, "an isolate");
    cr_assert_eq(koop_text_name_rule("\xe2\x81\xa6x\xe2\x81\xa9", 100, &bad), KOOP_TEXT_BIDI, "U+2066 isolate");
    cr_assert_eq(koop_text_name_rule("a\xe2\x80\x8f", 100, &bad), KOOP_TEXT_BIDI, "U+200F mark");
}

/* What a node calls itself, from its config or from another node. */
Test(text, a_nodes_name_is_a_name_of_at_most_200_bytes)
{
    char longest[KOOP_MAX_NODE_NAME + 2];
    cr_assert(koop_text_node_name("Gmina Kobylin-Borzymy"));
    cr_assert(koop_text_node_name("Zambrów"));
    memset(longest, 'a', KOOP_MAX_NODE_NAME);
    longest[KOOP_MAX_NODE_NAME] = '\0';
    cr_assert(koop_text_node_name(longest));
    longest[KOOP_MAX_NODE_NAME] = 'a';
    longest[KOOP_MAX_NODE_NAME + 1] = '\0';
    cr_assert_not(koop_text_node_name(longest), "201 bytes");
    cr_assert_not(koop_text_node_name(NULL));
    cr_assert_not(koop_text_node_name(""));
    cr_assert_not(koop_text_node_name("   "));
    cr_assert_not(koop_text_node_name("Gmina\nX"));
    cr_assert_not(koop_text_node_name("Gmina \xe2\x80\xaeX"), "U+202E");
    cr_assert_not(koop_text_node_name("Gmina \xc3"), "cut UTF-8");
}

Test(text, contains_ignores_case_and_polish_letters_either_side)
{
    cr_assert(koop_text_contains("Gminny Ośrodek Pomocy Społecznej", "osrodek"));
    cr_assert(koop_text_contains("Gminny Ośrodek Pomocy Społecznej", "OŚRODEK"));
    cr_assert(koop_text_contains("osrodek", "ośrodek"), "either side may lack the letters");
    cr_assert(koop_text_contains("Łódź", "lodz"));
    cr_assert(koop_text_contains("Brzęczyszczykiewicz", "brzeczy"));
    cr_assert(koop_text_contains("ŻÓŁTA", "zolta"));
    cr_assert(!koop_text_contains("Kowalski", "nowak"));
    cr_assert(koop_text_contains("x", ""));
    cr_assert(!koop_text_contains(NULL, "a"));
}

/* The Polish rule written another way: by the last two digits' words. */
static int
s_plural_reference(long long n)
{
    char s[32];
    size_t len;
    snprintf(s, sizeof s, "%lld", n);
    len = strlen(s);
    if (strcmp(s, "1") == 0)
        return 0;
    if (len >= 2 && s[len - 2] == '1')
        return 2; /* -10 .. -19: "jedenaście zdarzeń", "dwanaście zdarzeń" */
    return strchr("234", s[len - 1]) ? 1 : 2;
}

Test(text, polish_plural_forms_0_to_1000)
{
    static const struct {
        long long n;
        const char *word;
    } cases[] = {
        {0, "zdarzeń"},   {1, "zdarzenie"},  {2, "zdarzenia"},  {3, "zdarzenia"},   {4, "zdarzenia"},
        {5, "zdarzeń"},   {11, "zdarzeń"},   {12, "zdarzeń"},   {13, "zdarzeń"},    {14, "zdarzeń"},
        {21, "zdarzeń"},  {22, "zdarzenia"}, {24, "zdarzenia"}, {25, "zdarzeń"},    {101, "zdarzeń"},
        {102, "zdarzenia"}, {111, "zdarzeń"}, {112, "zdarzeń"}, {122, "zdarzenia"}, {1000, "zdarzeń"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_str_eq(koop_plural_word(cases[i].n, "zdarzenie", "zdarzenia", "zdarzeń"), cases[i].word,
                         "%lld", cases[i].n);
    for (long long n = 0; n <= 1000; n++)
        cr_assert_eq(koop_plural(n), s_plural_reference(n), "%lld", n);
    cr_assert_eq(koop_plural(-2), 1);
}

Test(clock, days_back_to_dates)
{
    char d[11];
    const char *dates[] = {"1970-01-01", "2024-02-29", "2026-12-01", "1900-03-01", "2199-12-31"};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        koop_date_from_days(koop_date_days(dates[i]), d);
        cr_assert_str_eq(d, dates[i]);
    }
}

Test(id, uuidv7_format_and_order)
{
    char a[KOOP_ID_LEN], b[KOOP_ID_LEN];
    cr_assert_eq(koop_id_new(a), 0);
    cr_assert(koop_id_valid(a), "%s", a);
    cr_assert_eq(a[14], '7', "version 7");
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(koop_id_new(b), 0);
        cr_assert_str_neq(a, b);
    }
    cr_assert_leq(strncmp(a, b, 8), 0, "ids sort by time");
    cr_assert(!koop_id_valid("xyz"));
}

Test(clock, dates)
{
    cr_assert(koop_date_valid("2024-02-29"));
    cr_assert(!koop_date_valid("2023-02-29"));
    cr_assert(!koop_date_valid("2023-13-01"));
    cr_assert(!koop_date_valid("2023-1-01"));
    cr_assert(!koop_date_valid("23-01-01xx"));
    cr_assert_eq(koop_date_check("2026-02-28"), KOOP_DATE_OK);
    cr_assert_eq(koop_date_check("2026-02-30"), KOOP_DATE_NO_SUCH_DAY);
    cr_assert_eq(koop_date_check("2024-02-29"), KOOP_DATE_OK);
    cr_assert_eq(koop_date_check("2023-02-29"), KOOP_DATE_NO_SUCH_DAY);
    cr_assert_eq(koop_date_check("2026-13-01"), KOOP_DATE_NO_SUCH_DAY);
    cr_assert_eq(koop_date_check("2026-04-31"), KOOP_DATE_NO_SUCH_DAY);
    cr_assert_eq(koop_date_check("2026-00-10"), KOOP_DATE_NO_SUCH_DAY);
    cr_assert_eq(koop_date_check("2026-01-00"), KOOP_DATE_NO_SUCH_DAY);
    cr_assert_eq(koop_date_check("1899-12-31"), KOOP_DATE_YEAR);
    cr_assert_eq(koop_date_check("2026-2-3"), KOOP_DATE_FORMAT);
    cr_assert_eq(koop_date_check("2026/02/03"), KOOP_DATE_FORMAT);
    cr_assert_eq(koop_date_check("jutro"), KOOP_DATE_FORMAT);
    cr_assert_eq(koop_date_days("1970-01-01"), 0);
    cr_assert_eq(koop_date_days("2020-10-01") - koop_date_days("2019-06-01"), 488);
}

Test(pbjson, options_to_message_and_back)
{
    koop_error_t err;
    json_t *in = json_pack("{s:s, s:s, s:s, s:s}", "name", "Poradnia", "provider", "p1", "target",
                           "families, seniors", "active", "false");
    ProtobufCMessage *m = koop_pbjson_from_json(&koop__reg__catalogue_entry__descriptor, in, &err);
    cr_assert_not_null(m, "%s", err.code);
    Koop__Reg__CatalogueEntry *e = (Koop__Reg__CatalogueEntry *)m;
    cr_assert_eq(e->n_target, 2);
    cr_assert_eq(e->target[0], KOOP__REG__TARGET__TARGET_FAMILIES);
    cr_assert_eq(e->target[1], KOOP__REG__TARGET__TARGET_SENIORS);
    cr_assert(e->has_active && !e->active);
    json_t *out = koop_pbjson_to_json(m);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(out, "target"), 1)), "seniors");
    cr_assert(json_is_false(json_object_get(out, "active")));
    cr_assert_null(json_object_get(out, "category"), "absent fields are omitted");
    json_decref(out);
    json_decref(in);
    protobuf_c_message_free_unpacked(m, NULL);
}

Test(pbjson, unknown_option_and_bad_enum_are_named)
{
    koop_error_t err;
    char msg[600];
    json_t *in = json_pack("{s:s}", "colour", "red");
    cr_assert_null(koop_pbjson_from_json(&koop__reg__institution__descriptor, in, &err));
    cr_assert_str_eq(err.code, "field.unknown");
    cr_assert_str_eq(err.field, "colour");
    json_decref(in);
    in = json_pack("{s:s}", "sector", "nonsense");
    cr_assert_null(koop_pbjson_from_json(&koop__reg__institution__descriptor, in, &err));
    cr_assert_str_eq(err.code, "field.enum");
    cr_assert_str_eq(err.field, "sector");
    koop_error_render(&err, KOOP_LANG_PL, "--sector", msg, sizeof msg);
    cr_assert(strstr(msg, "social_assistance") && strstr(msg, "--sector"), "the message names the option and the allowed values: %s", msg);
    koop_error_render(&err, KOOP_LANG_EN, "--sector", msg, sizeof msg);
    cr_assert(strstr(msg, "allowed values"), "English: %s", msg);
    json_decref(in);
    in = json_pack("{s:s}", "active", "maybe");
    cr_assert_null(koop_pbjson_from_json(&koop__reg__institution__descriptor, in, &err));
    cr_assert_str_eq(err.code, "field.bool");
    cr_assert_str_eq(err.field, "active");
    json_decref(in);
}

Test(record, merge_replaces_present_fields_and_whole_lists)
{
    Koop__Reg__CatalogueEntry base = KOOP__REG__CATALOGUE_ENTRY__INIT, patch = KOOP__REG__CATALOGUE_ENTRY__INIT;
    Koop__Reg__Target t1[] = {KOOP__REG__TARGET__TARGET_FAMILIES, KOOP__REG__TARGET__TARGET_ADULTS};
    Koop__Reg__Target t2[] = {KOOP__REG__TARGET__TARGET_SENIORS};
    base.name = "A";
    base.category = "c";
    base.n_target = 2;
    base.target = t1;
    base.has_active = 1;
    base.active = 1;
    patch.name = "B";
    patch.n_target = 1;
    patch.target = t2;
    patch.has_active = 1;
    patch.active = 0;
    Koop__Reg__CatalogueEntry *m = (Koop__Reg__CatalogueEntry *)koop_record_merge(&base.base, &patch.base);
    cr_assert_not_null(m);
    cr_assert_str_eq(m->name, "B");
    cr_assert_str_eq(m->category, "c", "a field not in the patch is kept");
    cr_assert_eq(m->n_target, 1, "a list in the patch replaces the list");
    cr_assert_eq(m->target[0], KOOP__REG__TARGET__TARGET_SENIORS);
    cr_assert(!m->active);
    cr_assert_eq(base.n_target, 2, "the base is left as it was");
    protobuf_c_message_free_unpacked(&m->base, NULL);
}
