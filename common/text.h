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

/* 1 when needle occurs in hay, ignoring case and diacritics of Latin
 * letters ("osrodek" finds "Ośrodek", "LODZ" finds "Łódź"). */
int koop_text_contains(const char *hay, const char *needle);

/* 1 when a equals b ignoring case and diacritics as above. */
int koop_text_equal(const char *a, const char *b);

/* 1 when s looks like an e-mail address (one @, something on both sides, a dot after). */
int koop_text_email(const char *s);

/* The rules of a name - one line of text a person reads as a name or a
 * title in a list (institution, person, household, service, task): valid
 * UTF-8 of at most max bytes, not only white space (also no-break and other
 * Unicode spaces), no line break (LF, CR, NEL, U+2028/2029), no control or
 * invisible character (tab, C0, DEL, C1, zero-width space and joiners, BOM),
 * no writing-direction control (U+202A-202E, U+2066-2069, U+200E/200F,
 * U+061C, which can make a name read otherwise than it is). The first rule
 * broken, and the character that broke it in *bad (may be NULL; 0 when
 * none). check.h's koop_check_name refuses with a code per rule. */
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
/* 1 when s may stand as what a node calls itself ([node] name, and such a
 * name from another node): the rules of a name, 1..KOOP_MAX_NODE_NAME bytes. */
int koop_text_node_name(const char *s);

/* Polish plural forms of a count: 0 for one ("1 zdarzenie"), 1 for few
 * (2-4, 22-24, ... but not 12-14: "2 zdarzenia", "22 zdarzenia"), 2 for
 * many (0, 5-21, 25-31, ...: "5 zdarzeń", "12 zdarzeń"). Negative counts
 * take the form of their absolute value. */
int koop_plural(long long n);
/* The word for n of the three forms (borrowed from the caller). */
const char *koop_plural_word(long long n, const char *one, const char *few, const char *many);

#endif
