/*
 * text - checks and comparisons of text from outside (UTF-8).
 */
#ifndef KOOP_TEXT_H
#define KOOP_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* 1 when s is valid UTF-8 of at most max bytes with no control characters
 * other than tab and newline. */
int koop_text_valid(const char *s, size_t max);

/* A bounded, printable form of untrusted text for logs, audit entries and
 * error messages: printable ASCII as is, every other byte as \xNN, cut at
 * outlen - 1 bytes with "..." and the original length in bytes when it does
 * not fit (outlen >= 32). Returns out. */
char *koop_text_escape(const char *s, char *out, size_t outlen);

/* 1 when needle occurs in hay, ignoring case for ASCII and Polish letters. */
int koop_text_contains(const char *hay, const char *needle);

/* 1 when a equals b ignoring case as above. */
int koop_text_equal(const char *a, const char *b);

/* 1 when s looks like an e-mail address (one @, something on both sides, a dot after). */
int koop_text_email(const char *s);

/* The rules of a name - one line of text a person reads as a name or a
 * title (household, person, task): valid UTF-8 of at most max bytes, not
 * only spaces, no line break, no control or invisible character, no
 * writing-direction control (U+202E and the like, which can make a text
 * read otherwise than it is). The first rule broken, and the character
 * that broke it in *bad (may be NULL; 0 when none). check.h's
 * koop_check_name refuses with a code per rule. */
typedef enum {
    KOOP_TEXT_OK = 0,
    KOOP_TEXT_BAD_UTF8,
    KOOP_TEXT_TOO_LONG,
    KOOP_TEXT_BLANK,
    KOOP_TEXT_NEWLINE,
    KOOP_TEXT_CONTROL,
    KOOP_TEXT_BIDI,
} koop_text_rule_t;
koop_text_rule_t koop_text_name_rule(const char *s, size_t max, uint32_t *bad);

/* 1 when needle occurs in hay, ignoring case and the diacritics of Polish
 * letters ("osrodek" finds "Ośrodek", "Łódź" finds "lodz"). */
int koop_text_match(const char *hay, const char *needle);

#endif
