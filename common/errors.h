/*
 * errors - structured errors: a stable code, the field it is about, and
 * arguments; the message is rendered in the user's language from the one
 * catalogue, common/errors.def.
 *
 * A service fails a call with koop_fail(call, CODE, "field", args...)
 * (service.h); the reply carries code, field and args (koop.Reply), and the
 * client renders them: koopctl names the field as its option (`--name`), the
 * gateway as the form label. The same koop_error_t holds errors a client
 * finds itself (a bad option value, a service that does not answer), so
 * every error, wherever it comes from, is printed the same way.
 */
#ifndef KOOP_ERRORS_H
#define KOOP_ERRORS_H

#include "koop.h"
#include <stddef.h>

typedef enum {
    KOOP_ERR_NONE = 0,
#define KOOP_ERROR(id, code, status, pl, en) KOOP_ERR_##id,
#include "errors.def"
#undef KOOP_ERROR
    KOOP_ERR_COUNT
} koop_err_t;

typedef enum { KOOP_LANG_PL = 0, KOOP_LANG_EN = 1 } koop_lang_t;

#define KOOP_ERR_MAX_ARGS 8
#define KOOP_ERR_ARG_MAX 160   /* bytes of one argument (longer ones are cut) */

/* One error. code is always the string (also for a code this build does
 * not know, received from a newer peer); id is KOOP_ERR_UNKNOWN_CODE then. */
typedef struct {
    koop_err_t id;
    int status;                    /* koop status of the code */
    char code[64];
    char field[64];                /* "" when no field is concerned */
    size_t nargs;
    char args[KOOP_ERR_MAX_ARGS][KOOP_ERR_ARG_MAX];
} koop_error_t;

/* The code string / status of an id ("" / KOOP_INTERNAL for a bad id). */
const char *koop_err_code(koop_err_t id);
int koop_err_status(koop_err_t id);
/* The id of a code string, KOOP_ERR_NONE when unknown. */
koop_err_t koop_err_find(const char *code);

/* Fills e (field may be NULL; args is a NULL-terminated array, may be NULL;
 * arguments are copied, cut to KOOP_ERR_ARG_MAX-1 bytes at a character
 * boundary, control characters replaced by '?'). */
void koop_error_set(koop_error_t *e, koop_err_t id, const char *field, const char *const *args);
/* koop_error_set of a catalogue error, arguments listed:
 *     koop_error_fill(err, DATE_INVALID, "as_of", q->as_of);  */
#define koop_error_fill(e, ID, field, ...)                                                          \
    koop_error_set((e), KOOP_ERR_##ID, (field), (const char *const[]){__VA_ARGS__ __VA_OPT__(, ) NULL})
/* Fills e from a received code (an unknown code keeps its string). */
void koop_error_set_code(koop_error_t *e, const char *code, int status, const char *field,
                         const char *const *args, size_t nargs);
void koop_error_clear(koop_error_t *e);

/* Renders e's message in lang into out (always NUL-terminated). field_label
 * is how {field} is written (NULL: the field's own name). A count's noun
 * ({N|one|few|many}, {N|w:M}; errors.def) takes the form for the argument's
 * number; an argument that is not a whole number, the last form. A code this build
 * does not know is rendered as "refused (code)" with its field and
 * arguments (a peer without codes sends its own words as code "legacy" with
 * one argument: they are shown as they came). Returns the length written. */
size_t koop_error_render(const koop_error_t *e, koop_lang_t lang, const char *field_label, char *out,
                         size_t len);
/* Renders template t, written as errors.def's messages are ({field}, {N},
 * {N|one|few|many}, {N:one|few|many}, {N|w}, {N|w:M}), with args[0..nargs)
 * as {1}.. (a missing one: "?") and field as {field}, in lang, into out
 * (always NUL-terminated). Returns the length written. koop_error_render
 * for a template that is not an error's (a report's sentences, labels.def). */
size_t koop_template_render(const char *t, koop_lang_t lang, const char *field, const char *const *args,
                            size_t nargs, char *out, size_t len);

/* How the command line names a field: "share_with" -> "--share-with"
 * (into out, always NUL-terminated). */
void koop_field_option(const char *field, char *out, size_t len);

/* The language asked for by KOOP_LANG (pl, en; anything else: pl). */
koop_lang_t koop_lang_from_env(void);
/* Parses "pl"/"en"; -1 when neither. */
int koop_lang_parse(const char *s);

/* For tests: the Polish and English templates of an id (NULL for a bad id),
 * and the words table. */
const char *koop_err_template(koop_err_t id, koop_lang_t lang);
size_t koop_err_words(const char *const (**words)[3]);
/* 1 when token is a word of the words table. */
int koop_err_word_known(const char *token);
/* The text of word token of the words table in lang ("key_mismatch" ->
 * "odrzucone: klucz gminy się zmienił"; a counted word: its forms
 * "a|b|c"), NULL when token is not a word. */
const char *koop_err_word(const char *token, koop_lang_t lang);

/* Formats a number as an error argument: KOOP_NUM(n) is a string valid to
 * the end of the enclosing full expression's block. */
const char *koop_num_str(char buf[24], long long n);
#define KOOP_NUM(n) koop_num_str((char[24]){0}, (long long)(n))

/* koop_strerror (koop.h) in lang: what koopctl passes into a message of its
 * reader's language. */
const char *koop_strerror_lang(int rc, koop_lang_t lang);

#endif
