/*
 * The error catalogue (common/errors.def) and the rendering of messages:
 * every code has a Polish and an English message whose placeholders agree,
 * codes are unique and well formed, every word used with {N|w} is in the
 * words table (also the literal arguments of every koop_fail, kc_error and
 * koop_error_fill in the sources), and rendering fills fields, arguments and
 * words, and says what it can of a code it does not know.
 */
#include "errors.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <lmdb.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PH 16

/* How many '|'-separated forms text[0..len) has, 0 when one is empty. */
static int
s_forms(const char *text, size_t len)
{
    int n = 1;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '|' && (i == 0 || text[i - 1] == '|' || i + 1 == len))
            return 0;
        else
            n += text[i] == '|';
    return len ? n : 0;
}

/* The placeholders of a template in lang, each as written ("{field}",
 * "{2}", "{1|w}", "{4|w:3}"; a count with its forms as "{3|n}": three forms
 * in Polish, two in English; a form alone, "{1:a|b|c}", is none), sorted,
 * without repeats; returns how many, or
 * -1 (and says why in why) for a brace that is not a placeholder. */
static int
s_placeholders(const char *t, koop_lang_t lang, char out[MAX_PH][16], char *why, size_t whylen)
{
    int n = 0;
    for (const char *p = t; (p = strchr(p, '{')) != NULL;) {
        const char *end = strchr(p, '}');
        char ph[16] = "";
        size_t len = end ? (size_t)(end - p) + 1 : 0;
        int ok = end && !memchr(p + 1, '{', len - 1);
        if (ok && p[1] >= '1' && p[1] - '0' <= KOOP_ERR_MAX_ARGS && p[2] == ':' && s_forms(p + 3, len - 4)) {
            p = end + 1; /* {N:forms}: a form alone, agreeing with a count said elsewhere */
            continue;
        }
        if (ok && len == 7 && strncmp(p, "{field}", 7) == 0)
            snprintf(ph, sizeof ph, "{field}");
        else if (ok && p[1] >= '1' && p[1] - '0' <= KOOP_ERR_MAX_ARGS && (p[2] == '}' || p[2] == '|')) {
            if (p[2] == '}' || (len == 5 && p[3] == 'w') ||
                (len == 7 && p[3] == 'w' && p[4] == ':' && p[5] >= '1' && p[5] - '0' <= KOOP_ERR_MAX_ARGS))
                snprintf(ph, sizeof ph, "%.*s", (int)len, p);
            else if (s_forms(p + 3, len - 4) == (lang == KOOP_LANG_PL ? 3 : 2))
                snprintf(ph, sizeof ph, "{%c|n}", p[1]);
        }
        if (!ph[0]) {
            snprintf(why, whylen, "'%.40s' is not a placeholder", p);
            return -1;
        }
        int seen = 0;
        for (int i = 0; i < n; i++)
            seen |= strcmp(out[i], ph) == 0;
        if (!seen && n < MAX_PH)
            snprintf(out[n++], 16, "%s", ph);
        p = end + 1;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(out[j - 1], out[j]) > 0; j--) {
            char tmp[16];
            memcpy(tmp, out[j], 16);
            memcpy(out[j], out[j - 1], 16);
            memcpy(out[j - 1], tmp, 16);
        }
    return n;
}

Test(errors, every_code_has_a_polish_and_an_english_message)
{
    for (int id = 1; id < KOOP_ERR_COUNT; id++) {
        const char *pl = koop_err_template((koop_err_t)id, KOOP_LANG_PL);
        const char *en = koop_err_template((koop_err_t)id, KOOP_LANG_EN);
        const char *code = koop_err_code((koop_err_t)id);
        cr_expect(pl && strlen(pl) > 5, "%s has no Polish message", code);
        cr_expect(en && strlen(en) > 5, "%s has no English message", code);
        cr_expect(pl && en && strcmp(pl, en) != 0, "%s: the English message is the Polish one", code);
    }
    cr_expect_null(koop_err_template(KOOP_ERR_NONE, KOOP_LANG_PL));
    cr_expect_null(koop_err_template(KOOP_ERR_COUNT, KOOP_LANG_EN));
}

Test(errors, placeholders_of_the_two_languages_agree)
{
    for (int id = 1; id < KOOP_ERR_COUNT; id++) {
        char pl[MAX_PH][16], en[MAX_PH][16], why[80];
        const char *code = koop_err_code((koop_err_t)id);
        int npl = s_placeholders(koop_err_template((koop_err_t)id, KOOP_LANG_PL), KOOP_LANG_PL, pl, why, sizeof why);
        cr_expect_geq(npl, 0, "%s (pl): %s", code, why);
        int nen = s_placeholders(koop_err_template((koop_err_t)id, KOOP_LANG_EN), KOOP_LANG_EN, en, why, sizeof why);
        cr_expect_geq(nen, 0, "%s (en): %s", code, why);
        cr_expect_eq(npl, nen, "%s: %d placeholders in Polish, %d in English", code, npl, nen);
        for (int i = 0; i < npl && i < nen; i++)
            cr_expect_str_eq(pl[i], en[i], "%s: %s in Polish, %s in English", code, pl[i], en[i]);
    }
}

Test(errors, codes_are_unique_well_formed_and_found)
{
    for (int id = 1; id < KOOP_ERR_COUNT; id++) {
        const char *code = koop_err_code((koop_err_t)id);
        size_t len = strlen(code);
        cr_expect(len > 0 && len < 64, "code %d: length %zu", id, len);
        cr_expect_eq(strspn(code, "abcdefghijklmnopqrstuvwxyz_."), len, "'%s' is not [a-z_.]+", code);
        cr_expect(code[0] != '.' && code[len - 1] != '.' && !strstr(code, ".."), "'%s': empty part", code);
        cr_expect(koop_err_status((koop_err_t)id) > KOOP_OK && koop_err_status((koop_err_t)id) <= KOOP_DEADLINE,
                  "%s: status %d", code, koop_err_status((koop_err_t)id));
        for (int other = 1; other < id; other++)
            cr_expect_str_neq(code, koop_err_code((koop_err_t)other), "'%s' twice", code);
        cr_expect_eq(koop_err_find(code), (koop_err_t)id, "%s is not found by its code", code);
    }
    cr_expect_eq(koop_err_find("field.required"), KOOP_ERR_FIELD_REQUIRED);
    cr_expect_eq(koop_err_find("no.such_code"), KOOP_ERR_NONE);
    cr_expect_eq(koop_err_find(""), KOOP_ERR_NONE);
    cr_expect_eq(koop_err_find(NULL), KOOP_ERR_NONE);
    cr_expect_eq(koop_err_find("legacy"), KOOP_ERR_NONE, "the transition code must not come back");
    /* refusals of access are DENIED, and answered as such */
    cr_expect_eq(koop_err_status(KOOP_ERR_ACCESS_DENIED_NOT_IN_ZZK), KOOP_DENIED);
    cr_expect_eq(koop_err_status(KOOP_ERR_STATE_ILLEGAL_TRANSITION), KOOP_CONFLICT);
    for (int id = 1; id < KOOP_ERR_COUNT; id++)
        if (strncmp(koop_err_code((koop_err_t)id), "access.", 7) == 0)
            cr_expect_eq(koop_err_status((koop_err_t)id), KOOP_DENIED, "%s is not DENIED",
                         koop_err_code((koop_err_t)id));
}

Test(errors, words_are_unique_and_translated)
{
    const char *const(*words)[3];
    size_t n = koop_err_words(&words);
    cr_assert_gt(n, 20);
    cr_expect(koop_err_word_known("ipw_draft"));
    cr_expect(!koop_err_word_known("no_such_word"));
    cr_expect(!koop_err_word_known(NULL));
    for (size_t i = 0; i < n; i++) {
        cr_expect(words[i][0][0] && words[i][1][0] && words[i][2][0], "word %zu has an empty part", i);
        cr_expect_eq(strspn(words[i][0], "abcdefghijklmnopqrstuvwxyz_."), strlen(words[i][0]),
                     "token '%s' is not [a-z_.]+", words[i][0]);
        for (size_t j = 0; j < i; j++)
            cr_expect_str_neq(words[i][0], words[j][0], "word '%s' twice", words[i][0]);
        /* a counted word: forms one|few|many in Polish, one|other in English */
        int fpl = s_forms(words[i][1], strlen(words[i][1])), fen = s_forms(words[i][2], strlen(words[i][2]));
        cr_expect((fpl == 1 && fen == 1) || (fpl == 3 && fen == 2), "word '%s': %d Polish and %d English forms",
                  words[i][0], fpl, fen);
    }
}

/* ---- the literal arguments of the sources ---- */

typedef struct {
    size_t calls;  /* koop_fail / kc_error / koop_error_fill calls seen */
    size_t words;  /* literal arguments at {N|w} checked */
} s_scan_t;

/* Splits the call's arguments at top-level commas (outside (), {}, strings).
 * p points after the opening parenthesis. Fills args with pointers to the
 * start of each argument and their lengths; returns how many. */
static int
s_split_args(const char *p, const char *args[16], size_t lens[16])
{
    int depth = 0, n = 0;
    const char *start = p;
    for (; *p; p++) {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1])
                    p++;
            continue;
        }
        if (*p == '(' || *p == '{' || *p == '[')
            depth++;
        else if ((*p == ')' || *p == '}' || *p == ']') && depth > 0)
            depth--;
        else if ((*p == ',' && depth == 0) || (*p == ')' && depth == 0)) {
            if (n < 16) {
                while (isspace((unsigned char)*start))
                    start++;
                args[n] = start;
                lens[n] = (size_t)(p - start);
                while (lens[n] && isspace((unsigned char)start[lens[n] - 1]))
                    lens[n]--;
                n++;
            }
            if (*p == ')')
                break;
            start = p + 1;
        }
    }
    return n;
}

/* The C names of the catalogue's ids (what the sources write). */
static const struct {
    const char *id;
    koop_err_t e;
} s_ids[] = {
#define KOOP_ERROR(cid, code, status, pl, en) {#cid, KOOP_ERR_##cid},
#include "errors.def"
#undef KOOP_ERROR
};

/* Checks the calls of macro (whose catalogue id is argument id_at and
 * whose message arguments start at args_at) in one source text. */
static void
s_scan_calls(const char *path, const char *text, const char *macro, int id_at, int args_at, s_scan_t *sc)
{
    size_t mlen = strlen(macro);
    for (const char *p = text; (p = strstr(p, macro)) != NULL; p += mlen) {
        const char *args[16];
        size_t lens[16];
        char id[64];
        int n;
        koop_err_t e = KOOP_ERR_NONE;
        if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        if (p[mlen] != '(')
            continue;
        n = s_split_args(p + mlen + 1, args, lens);
        if (n <= id_at || lens[id_at] >= sizeof id || !isupper((unsigned char)args[id_at][0]))
            continue; /* the macro's own definition, or a call with the id in a variable */
        memcpy(id, args[id_at], lens[id_at]);
        id[lens[id_at]] = '\0';
        sc->calls++;
        for (size_t k = 0; k < sizeof s_ids / sizeof s_ids[0]; k++)
            if (strcmp(s_ids[k].id, id) == 0)
                e = s_ids[k].e;
        cr_expect_neq(e, KOOP_ERR_NONE, "%s: %s(%s...) is not in the catalogue", path, macro, id);
        if (e == KOOP_ERR_NONE)
            continue;
        for (int lang = 0; lang < 2; lang++) {
            const char *t = koop_err_template(e, (koop_lang_t)lang);
            for (const char *q = t; (q = strstr(q, "|w")) != NULL; q++) {
                int at = args_at + (q[-1] - '1');
                char token[96];
                if (q[2] != '}' && q[2] != ':')
                    continue; /* a count's forms that begin with w */
                if (at >= n || args[at][0] != '"' || lens[at] < 2 || lens[at] - 2 >= sizeof token)
                    continue; /* a variable: checked where its values are made, and by the tests */
                memcpy(token, args[at] + 1, lens[at] - 2);
                token[lens[at] - 2] = '\0';
                sc->words++;
                cr_expect(koop_err_word_known(token), "%s: %s(%s, ...\"%s\"): not in the words table", path, macro, id, token);
                if (q[2] == ':' && koop_err_word(token, (koop_lang_t)lang)) /* {N|w:M}: a word with a count's forms */
                    cr_expect(strchr(koop_err_word(token, (koop_lang_t)lang), '|'),
                              "%s: %s(%s, ...\"%s\"): counted by {%c|w:%c}, the word has no forms", path, macro, id, token,
                              q[-1], q[3]);
            }
        }
    }
}

static void
s_scan_dir(const char *dir, s_scan_t *sc)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    cr_assert_not_null(d, "cannot open %s (the suite runs from the project's root)", dir);
    while ((de = readdir(d)) != NULL) {
        char path[600];
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (de->d_type == DT_DIR) {
            s_scan_dir(path, sc);
            continue;
        }
        if (len < 3 || strcmp(de->d_name + len - 2, ".c") != 0)
            continue;
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *text = malloc((size_t)size + 1);
        cr_assert_eq(fread(text, 1, (size_t)size, f), (size_t)size);
        text[size] = '\0';
        fclose(f);
        s_scan_calls(path, text, "koop_fail", 1, 3, sc);
        s_scan_calls(path, text, "koop_error_fill", 1, 3, sc);
        s_scan_calls(path, text, "kc_error", 2, 4, sc);
        free(text);
    }
    closedir(d);
}

Test(errors, every_word_the_sources_use_is_in_the_words_table)
{
    s_scan_t sc = {0, 0};
    s_scan_dir("common", &sc);
    s_scan_dir("services", &sc);
    /* the scan must have seen the refusals, or it proves nothing */
    cr_expect_gt(sc.calls, 150, "only %zu calls found", sc.calls);
    cr_expect_gt(sc.words, 20, "only %zu literal words checked", sc.words);
}

/* ---- rendering ---- */

static const char *
s_render(const koop_error_t *e, koop_lang_t lang, const char *label)
{
    static char out[1024];
    koop_error_render(e, lang, label, out, sizeof out);
    return out;
}

Test(errors, renders_the_field_as_the_client_names_it)
{
    koop_error_t e;
    char label[80];
    koop_error_fill(&e, FIELD_REQUIRED, "share_with");
    cr_expect_str_eq(e.code, "field.required");
    cr_expect_str_eq(e.field, "share_with");
    cr_expect_eq(e.status, KOOP_INVALID);
    koop_field_option(e.field, label, sizeof label);
    cr_expect_str_eq(label, "--share-with");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, label), "brak wymaganego pola --share-with");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_EN, label), "the field --share-with is required");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_EN, "Udostępnij"), "the field Udostępnij is required");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, NULL), "brak wymaganego pola share_with", "no label: the name");
}

Test(errors, renders_arguments_and_words_in_both_languages)
{
    koop_error_t e;
    koop_error_fill(&e, DATE_ORDER, "date", "2026-01-05", "ipw_opened", "2026-01-10");
    cr_expect_eq(e.nargs, 3);
    cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, "--date"),
                     "pole --date: 2026-01-05 jest przed otwarciem programu (2026-01-10)");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_EN, "--date"),
                     "--date: 2026-01-05 is before the programme was opened (2026-01-10)");

    koop_error_fill(&e, STATE_ILLEGAL_TRANSITION, NULL, "IPW/2026/0001", "ipw_draft", "ipw.suspend", "ipw_active");
    cr_expect_str_eq(e.field, "");
    cr_expect_eq(e.status, KOOP_CONFLICT);
    cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, NULL),
                     "niedozwolone przejście: nie można zawiesić programu IPW/2026/0001, bo jest w przygotowaniu "
                     "(draft); dozwolone, gdy jest realizowany (active)");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_EN, NULL),
                     "illegal transition: cannot suspend the programme IPW/2026/0001: it is a draft; allowed when "
                     "it is active");

    /* a token that is not a word is shown as it is; a missing argument as '?' */
    koop_error_fill(&e, RECORD_LIMIT, "household", "spaceship", "30");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, NULL), "spaceship ma już 30 ? (najwięcej, ile można)");

    /* numbers */
    koop_error_fill(&e, FIELD_RANGE, "limit", KOOP_NUM(9999), KOOP_NUM(1), KOOP_NUM(5000));
    cr_expect_str_eq(s_render(&e, KOOP_LANG_EN, "--limit"), "--limit: 9999 is outside the range 1–5000");
}

Test(errors, a_count_takes_the_polish_form_of_its_number)
{
    static const struct {
        const char *n, *pl;
    } cases[] = {
        {"0", "0 nieczytelnych zdarzeń"},   {"1", "1 nieczytelne zdarzenie"},   {"2", "2 nieczytelne zdarzenia"},
        {"5", "5 nieczytelnych zdarzeń"},   {"12", "12 nieczytelnych zdarzeń"}, {"22", "22 nieczytelne zdarzenia"},
        {"25", "25 nieczytelnych zdarzeń"}, {"101", "101 nieczytelnych zdarzeń"}, {"112", "112 nieczytelnych zdarzeń"},
        {"4", "4 nieczytelne zdarzenia"},   {"14", "14 nieczytelnych zdarzeń"}, {"21", "21 nieczytelnych zdarzeń"},
        {"102", "102 nieczytelne zdarzenia"}, {"-2", "-2 nieczytelne zdarzenia"}, {"01", "01 nieczytelne zdarzenie"},
        /* longer than any integer type: only the last two digits count */
        {"100000000000000000000000000001", "100000000000000000000000000001 nieczytelnych zdarzeń"},
        {"100000000000000000000000000023", "100000000000000000000000000023 nieczytelne zdarzenia"},
    };
    koop_error_t e;
    char want[200];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        koop_error_fill(&e, EVENTS_TOO_MANY_BAD, NULL, cases[i].n);
        snprintf(want, sizeof want, "%s: przerwano listę", cases[i].pl);
        cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, NULL), want, "count %s", cases[i].n);
    }
}

Test(errors, a_count_takes_the_form_its_sentence_needs_in_both_languages)
{
    static const struct {
        koop_err_t id;
        koop_lang_t lang;
        const char *field, *args[5], *want;
    } cases[] = {
        {KOOP_ERR_EVENTS_TOO_MANY_BAD, KOOP_LANG_EN, NULL, {"1"}, "1 unreadable event: the listing stopped"},
        {KOOP_ERR_EVENTS_TOO_MANY_BAD, KOOP_LANG_EN, NULL, {"2"}, "2 unreadable events: the listing stopped"},
        {KOOP_ERR_EVENTS_TOO_MANY_BAD, KOOP_LANG_EN, NULL, {"0"}, "0 unreadable events: the listing stopped"},
        /* English has no "few": 21 and 22 are plural */
        {KOOP_ERR_EVENTS_TOO_MANY_BAD, KOOP_LANG_EN, NULL, {"21"}, "21 unreadable events: the listing stopped"},
        /* after "nie ma" the noun is genitive whatever the count */
        {KOOP_ERR_CLI_SYNC_WAIT, KOOP_LANG_PL, NULL, {"30", "tcp://hub:7700", "1", "ok"},
         "po 30 s hub tcp://hub:7700 nie ma jeszcze 1 zdarzenia tego węzła: ok"},
        {KOOP_ERR_CLI_SYNC_WAIT, KOOP_LANG_PL, NULL, {"30", "tcp://hub:7700", "3", "ok"},
         "po 30 s hub tcp://hub:7700 nie ma jeszcze 3 zdarzeń tego węzła: ok"},
        {KOOP_ERR_CLI_SYNC_WAIT, KOOP_LANG_EN, NULL, {"30", "tcp://hub:7700", "1", "ok"},
         "after 30 s the hub tcp://hub:7700 still lacks 1 event of this node: ok"},
        /* accusative inside a sentence */
        {KOOP_ERR_HOUSEHOLD_SIZE, KOOP_LANG_PL, "size", {"1", "0"},
         "pole size: gospodarstwo liczy co najmniej 1 osobę (tyle zapisano), a podano 0"},
        {KOOP_ERR_HOUSEHOLD_SIZE, KOOP_LANG_PL, "size", {"3", "2"},
         "pole size: gospodarstwo liczy co najmniej 3 osoby (tyle zapisano), a podano 2"},
        {KOOP_ERR_HOUSEHOLD_SIZE, KOOP_LANG_EN, "size", {"1", "0"},
         "size: the household has at least 1 person (that many are recorded), but 0 was given"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        koop_error_t e;
        koop_error_set(&e, cases[i].id, cases[i].field, cases[i].args);
        cr_expect_str_eq(s_render(&e, cases[i].lang, NULL), cases[i].want, "case %zu", i);
    }
}

Test(errors, a_count_that_is_not_a_number_takes_the_last_form)
{
    koop_error_t e;
    static const char *const odd[] = {"abc", "1.5", "", "-", "1 2", "1e3", "+1", "0x1"};
    char want_pl[200], want_en[200];
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        koop_error_fill(&e, EVENTS_TOO_MANY_BAD, NULL, odd[i]);
        snprintf(want_pl, sizeof want_pl, "%s nieczytelnych zdarzeń: przerwano listę", odd[i]);
        snprintf(want_en, sizeof want_en, "%s unreadable events: the listing stopped", odd[i]);
        cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, NULL), want_pl, "'%s'", odd[i]);
        cr_expect_str_eq(s_render(&e, KOOP_LANG_EN, NULL), want_en, "'%s'", odd[i]);
    }
    /* a missing argument is '?', with the last form */
    koop_error_fill(&e, EVENTS_TOO_MANY_BAD, NULL);
    cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, NULL), "? nieczytelnych zdarzeń: przerwano listę");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_EN, NULL), "? unreadable events: the listing stopped");
}

Test(errors, a_counted_word_of_the_table_takes_the_form_of_its_count)
{
    koop_error_t e;
    koop_error_fill(&e, RECORD_HAS_CHILDREN, "id", "household", "H1", "1", "ipws");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, NULL),
                     "nie można usunąć: gospodarstwo H1 ma 1 program – najpierw usuń wszystko, co do niego należy");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_EN, NULL),
                     "cannot remove: the household H1 has 1 programme – first remove everything that belongs to it");
    koop_error_fill(&e, RECORD_HAS_CHILDREN, "id", "household", "H1", "3", "ipws");
    cr_expect(strstr(s_render(&e, KOOP_LANG_PL, NULL), " ma 3 programy – "), "%s", s_render(&e, KOOP_LANG_PL, NULL));
    cr_expect(strstr(s_render(&e, KOOP_LANG_EN, NULL), " has 3 programmes – "), "%s", s_render(&e, KOOP_LANG_EN, NULL));
    koop_error_fill(&e, RECORD_HAS_CHILDREN, "id", "household", "H1", "12", "ipws");
    cr_expect(strstr(s_render(&e, KOOP_LANG_PL, NULL), " ma 12 programów – "), "%s", s_render(&e, KOOP_LANG_PL, NULL));
    koop_error_fill(&e, RECORD_LIMIT, "household", "household", "30", "persons");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, NULL), "gospodarstwo ma już 30 osób (najwięcej, ile można)");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_EN, NULL), "the household already has 30 people (the most it may have)");
    /* a word shown without a count: its last form; a count that is not one: the last form */
    koop_error_fill(&e, RECORD_LIMIT, "household", "household", "many", "persons");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, NULL), "gospodarstwo ma już many osób (najwięcej, ile można)");
}

/* The sentences of labels.def made with the same renderer (a report's
 * summary, sync status, status, keys, koopctl's help, node init, backup and
 * restore, the progress line): their placeholders agree too. */
static const char *const s_templates[][3] = {
#define KOOP_LABEL(field, pl, en)
#define KOOP_VALUE(set, value, pl, en) {set, pl, en},
#include "labels.def"
#undef KOOP_VALUE
#undef KOOP_LABEL
};

Test(errors, placeholders_of_labels_sentences_agree)
{
    int seen = 0;
    for (size_t k = 0; k < sizeof s_templates / sizeof s_templates[0]; k++) {
        char pl[MAX_PH][16], en[MAX_PH][16], why[80];
        int npl, nen;
        static const char *const sets[] = {"report.summary", "sync",   "status",  "keys",
                                           "help",           "init",   "backup",  "progress"};
        int sentence = 0;
        for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
            sentence |= strcmp(s_templates[k][0], sets[i]) == 0;
        if (!sentence)
            continue;
        seen++;
        npl = s_placeholders(s_templates[k][1], KOOP_LANG_PL, pl, why, sizeof why);
        nen = s_placeholders(s_templates[k][2], KOOP_LANG_EN, en, why, sizeof why);
        cr_expect_geq(npl, 0, "%s (pl): %s", s_templates[k][1], why);
        cr_expect_geq(nen, 0, "%s (en): %s", s_templates[k][2], why);
        cr_expect_eq(npl, nen, "%s: %d placeholders in Polish, %d in English", s_templates[k][2], npl, nen);
        for (int i = 0; i < npl && i < nen; i++)
            cr_expect_str_eq(pl[i], en[i], "%s: %s in Polish, %s in English", s_templates[k][2], pl[i], en[i]);
    }
    cr_expect_gt(seen, 10);
}

Test(errors, a_form_alone_agrees_with_its_count)
{
    char out[200];
    const char *t = "{1|podmiot|podmioty|podmiotów} {1:działał|działały|działało}";
    koop_template_render(t, KOOP_LANG_PL, NULL, (const char *const[]){"1"}, 1, out, sizeof out);
    cr_expect_str_eq(out, "1 podmiot działał");
    koop_template_render(t, KOOP_LANG_PL, NULL, (const char *const[]){"3"}, 1, out, sizeof out);
    cr_expect_str_eq(out, "3 podmioty działały");
    koop_template_render(t, KOOP_LANG_PL, NULL, (const char *const[]){"12"}, 1, out, sizeof out);
    cr_expect_str_eq(out, "12 podmiotów działało");
    /* a missing argument: "?" and the last form */
    koop_template_render(t, KOOP_LANG_PL, NULL, NULL, 0, out, sizeof out);
    cr_expect_str_eq(out, "? podmiotów działało");
    koop_template_render("{1:is|are} {1}", KOOP_LANG_EN, NULL, (const char *const[]){"1"}, 1, out, sizeof out);
    cr_expect_str_eq(out, "is 1");
}

Test(errors, arguments_are_bounded_and_cleaned)
{
    koop_error_t e;
    char long_arg[400];
    /* 'ż' is two bytes: a cut never splits it */
    for (size_t i = 0; i + 2 < sizeof long_arg; i += 2)
        memcpy(long_arg + i, "ż", 2);
    long_arg[sizeof long_arg - 2] = '\0';
    koop_error_fill(&e, FIELD_INVALID, "name", long_arg);
    cr_expect_lt(strlen(e.args[0]), KOOP_ERR_ARG_MAX);
    cr_expect_eq(strlen(e.args[0]) % 2, 0, "a character was cut in half");
    koop_error_fill(&e, FIELD_INVALID, "name", "a\nb\x1b[31m");
    cr_expect_str_eq(e.args[0], "a?b?[31m", "control characters are not passed on");
    /* an id outside the catalogue becomes "unknown" */
    koop_error_set(&e, KOOP_ERR_COUNT, NULL, NULL);
    cr_expect_str_eq(e.code, "unknown");
}

Test(errors, a_code_this_build_does_not_know_is_shown_with_what_came)
{
    koop_error_t e;
    /* from a newer peer */
    koop_error_set_code(&e, "ipw.frozen", KOOP_CONFLICT, "ipw", (const char *const[]){"IPW/2026/0001", "x"}, 2);
    cr_expect_eq(e.id, KOOP_ERR_UNKNOWN_CODE);
    cr_expect_str_eq(e.code, "ipw.frozen", "the code is kept as it came");
    cr_expect_eq(e.status, KOOP_CONFLICT);
    cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, "--ipw"), "odmowa (ipw.frozen): --ipw: IPW/2026/0001; x");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_EN, NULL), "refused (ipw.frozen): ipw: IPW/2026/0001; x");
    /* a peer without codes sends its words (koop_rpc_unpack_reply: code "legacy") */
    koop_error_set_code(&e, "legacy", KOOP_INVALID, NULL, (const char *const[]){"brak wymaganego pola --name"}, 1);
    cr_expect_str_eq(s_render(&e, KOOP_LANG_PL, NULL), "odmowa (legacy): brak wymaganego pola --name");
    /* nothing at all */
    koop_error_set_code(&e, NULL, KOOP_INTERNAL, NULL, NULL, 0);
    cr_expect_str_eq(e.code, "unknown");
    cr_expect_str_eq(s_render(&e, KOOP_LANG_EN, NULL), "refused (unknown)");
}

Test(errors, rendering_fits_the_buffer)
{
    koop_error_t e;
    char small[12];
    koop_error_fill(&e, ACCESS_DENIED_HOUSEHOLD, NULL, "01a20dc3-0000-7000-8000-000000000000");
    cr_expect_eq(koop_error_render(&e, KOOP_LANG_PL, NULL, small, sizeof small), sizeof small - 1);
    cr_expect_eq(strlen(small), sizeof small - 1);
    cr_expect_eq(koop_error_render(&e, KOOP_LANG_PL, NULL, small, 0), 0);
    /* a count's noun is cut like the rest (and never read past its braces) */
    koop_error_fill(&e, EVENTS_TOO_MANY_BAD, NULL, "22");
    for (size_t n = 1; n <= 30; n++) {
        char out[30];
        size_t got = koop_error_render(&e, KOOP_LANG_PL, NULL, out, n);
        cr_expect_eq(got, strlen(out));
        cr_expect_lt(got, n);
        cr_expect_eq(strncmp(out, "22 nieczytelne zdarzenia: przerwano listę", got), 0, "%zu: '%s'", n, out);
    }
}

Test(errors, language_from_koop_lang)
{
    setenv("KOOP_LANG", "en", 1);
    cr_expect_eq(koop_lang_from_env(), KOOP_LANG_EN);
    setenv("KOOP_LANG", "en_GB.UTF-8", 1);
    cr_expect_eq(koop_lang_from_env(), KOOP_LANG_EN);
    setenv("KOOP_LANG", "pl", 1);
    cr_expect_eq(koop_lang_from_env(), KOOP_LANG_PL);
    setenv("KOOP_LANG", "klingon", 1);
    cr_expect_eq(koop_lang_from_env(), KOOP_LANG_PL, "anything else: Polish");
    unsetenv("KOOP_LANG");
    cr_expect_eq(koop_lang_from_env(), KOOP_LANG_PL);
    cr_expect_eq(koop_lang_parse("de"), -1);
}

Test(errors, library_codes_are_named_whatever_their_kind)
{
    /* LMDB's own range, -errno, a positive errno from a raw LMDB call, disk full */
    cr_assert_str_eq(koop_strerror(MDB_NOTFOUND), mdb_strerror(MDB_NOTFOUND));
    cr_assert_str_eq(koop_strerror(MDB_CORRUPTED), mdb_strerror(MDB_CORRUPTED));
    cr_assert_str_eq(koop_strerror(MDB_MAP_FULL), mdb_strerror(MDB_MAP_FULL));
    cr_assert_str_eq(koop_strerror(-EINVAL), strerror(EINVAL));
    cr_assert_str_eq(koop_strerror(EINVAL), strerror(EINVAL));
    cr_assert(strstr(koop_strerror(-ENOSPC), "dysk pełny"));
    cr_assert(strstr(koop_strerror(ENOSPC), "dysk pełny"));
    cr_assert_str_eq(koop_strerror(0), "ok");
    /* the three ranges never meet */
    cr_assert(MDB_LAST_ERRCODE < -4095 && KOOP_DEADLINE > 0 && KOOP_DEADLINE < 64);
}

/* What koopctl passes as a library error's name into its reader's
 * language; the services' logs keep the Polish of koop_strerror. */
Test(errors, a_library_error_is_named_in_the_readers_language)
{
    cr_expect_str_eq(koop_strerror_lang(-ENOSPC, KOOP_LANG_EN),
                     "disk full: no room for the data (free some space; the service keeps running)");
    cr_expect_str_eq(koop_strerror_lang(-ENOSPC, KOOP_LANG_PL), koop_strerror(-ENOSPC));
    cr_expect_str_eq(koop_strerror_lang(EIO, KOOP_LANG_EN), "disk input/output error");
    cr_expect_str_eq(koop_strerror_lang(-ENOENT, KOOP_LANG_EN), strerror(ENOENT));
}
