/*
 * text - checks and comparisons of text from outside (UTF-8).
 */
#ifndef KOOP_TEXT_H
#define KOOP_TEXT_H

#include <stddef.h>

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

#endif
