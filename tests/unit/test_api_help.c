/* Unit tests of the help columns of common/api.def: every command has its
 * options in English too, and both languages name the same options (so one
 * cannot drift from the other when a row changes). */
#include "api.h"
#include "koop_test.h"

#include <criterion/criterion.h>
#include <string.h>

Test(api_help, every_command_has_its_help_in_english_and_only_commands_have_one)
{
    size_t commands = 0;
    for (size_t i = 0; i < koop_api_nmethods; i++) {
        const koop_api_method_t *a = &koop_api_methods[i];
        int command = !(a->flags & KOOP_API_INTERNAL) && *a->noun;
        cr_assert_not_null(a->help_en, "%s", a->name);
        if (!command) {
            cr_expect(!*a->help && !*a->help_en, "%s has no command: its help is \"\" in both languages", a->name);
            continue;
        }
        commands++;
        cr_expect(*a->help, "koopctl %s %s has no help", a->noun, a->verb);
        cr_expect(*a->help_en, "koopctl %s %s has no English help", a->noun, a->verb);
        for (const unsigned char *p = (const unsigned char *)a->help_en; *p; p++)
            cr_expect(*p < 0x80, "koopctl %s %s: the English help is not plain ASCII: %s", a->noun, a->verb,
                      a->help_en);
    }
    cr_expect_gt(commands, 50);
}

Test(api_help, both_languages_name_the_same_options)
{
    for (size_t i = 0; i < koop_api_nmethods; i++) {
        const koop_api_method_t *a = &koop_api_methods[i];
        char pl[1024], en[1024];
        kt_help_options(a->help, pl, sizeof pl);
        kt_help_options(a->help_en, en, sizeof en);
        cr_expect_str_eq(en, pl, "koopctl %s %s: the English help names %s, the Polish %s", a->noun, a->verb, en, pl);
    }
}

/* The comparison itself: a missing, an extra and a renamed option differ. */
Test(api_help, the_option_sets_of_two_helps_differ_when_an_option_does)
{
    char a[256], b[256];
    kt_help_options("--ipw ID --date RRRR-MM-DD [--reason TEKST]", a, sizeof a);
    cr_assert_str_eq(a, "--date --ipw --reason");
    kt_help_options("--ipw ID [--reason TEXT --date YYYY-MM-DD --ipw]", b, sizeof b);
    cr_expect_str_eq(a, b, "order and repetition do not matter");
    kt_help_options("--ipw ID --date YYYY-MM-DD", b, sizeof b);
    cr_expect_str_neq(a, b);
    kt_help_options("--ipw ID --when YYYY-MM-DD [--reason TEXT]", b, sizeof b);
    cr_expect_str_neq(a, b);
    kt_help_options("[--unit NODE] [--json|--csv]", b, sizeof b);
    cr_expect_str_eq(b, "--csv --json --unit");
}
