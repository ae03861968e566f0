/*
 * text - checks and comparisons of text from outside (UTF-8).
 */
#ifndef KOOP_TEXT_H
#define KOOP_TEXT_H

#include <stddef.h>

/* 1 when s is valid UTF-8 of at most max bytes with no control characters
 * other than tab and newline. */
int koop_text_valid(const char *s, size_t max);

/* 1 when needle occurs in hay, ignoring case and diacritics of Latin
 * letters ("osrodek" finds "Ośrodek", "LODZ" finds "Łódź"). */
int koop_text_contains(const char *hay, const char *needle);

/* 1 when a equals b ignoring case and diacritics as above. */
int koop_text_equal(const char *a, const char *b);

/* 1 when s looks like an e-mail address (one @, something on both sides, a dot after). */
int koop_text_email(const char *s);

/* What is wrong with s as a one-line text for people (a name, a title, a
 * category): nothing; longer than max bytes; not UTF-8; only white space
 * (also no-break and other Unicode spaces); a line break (LF, CR, NEL,
 * U+2028/2029); another control character (tab, C0, DEL, C1); a
 * bidirectional override, embedding, isolate or mark (U+202A-202E,
 * U+2066-2069, U+200E/200F, U+061C), which can make a name read
 * differently from what it holds. */
typedef enum {
    KOOP_LINE_OK = 0,
    KOOP_LINE_TOO_LONG,
    KOOP_LINE_ENCODING,
    KOOP_LINE_BLANK,
    KOOP_LINE_BREAK,
    KOOP_LINE_CONTROL,
    KOOP_LINE_BIDI,
} koop_line_t;
koop_line_t koop_text_line_check(const char *s, size_t max);

/* Polish plural forms of a count: 0 for one ("1 zdarzenie"), 1 for few
 * (2-4, 22-24, ... but not 12-14: "2 zdarzenia", "22 zdarzenia"), 2 for
 * many (0, 5-21, 25-31, ...: "5 zdarzeń", "12 zdarzeń"). Negative counts
 * take the form of their absolute value. */
int koop_plural(long long n);
/* The word for n of the three forms (borrowed from the caller). */
const char *koop_plural_word(long long n, const char *one, const char *few, const char *many);

#endif
