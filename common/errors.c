/* errors.c - the error catalogue (errors.def) and rendering of messages. */
#include "errors.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *code;
    int status;
    const char *msg[2];
} s_row;

static const s_row s_rows[KOOP_ERR_COUNT] = {
    [KOOP_ERR_NONE] = {"", KOOP_OK, {"", ""}},
#define KOOP_ERROR(id, code, status, pl, en) [KOOP_ERR_##id] = {code, KOOP_##status, {pl, en}},
#include "errors.def"
#undef KOOP_ERROR
};

static const char *const s_words[][3] = {
#define KOOP_ERROR(id, code, status, pl, en)
#define KOOP_WORD(token, pl, en) {token, pl, en},
#include "errors.def"
#undef KOOP_WORD
#undef KOOP_ERROR
};

const char *
koop_err_code(koop_err_t id)
{
    return id > KOOP_ERR_NONE && id < KOOP_ERR_COUNT ? s_rows[id].code : "";
}

int
koop_err_status(koop_err_t id)
{
    return id > KOOP_ERR_NONE && id < KOOP_ERR_COUNT ? s_rows[id].status : KOOP_INTERNAL;
}

koop_err_t
koop_err_find(const char *code)
{
    if (!code || !*code)
        return KOOP_ERR_NONE;
    for (int i = 1; i < KOOP_ERR_COUNT; i++)
        if (strcmp(s_rows[i].code, code) == 0)
            return (koop_err_t)i;
    return KOOP_ERR_NONE;
}

const char *
koop_err_template(koop_err_t id, koop_lang_t lang)
{
    if (id <= KOOP_ERR_NONE || id >= KOOP_ERR_COUNT || (lang != KOOP_LANG_PL && lang != KOOP_LANG_EN))
        return NULL;
    return s_rows[id].msg[lang];
}

size_t
koop_err_words(const char *const (**words)[3])
{
    *words = s_words;
    return KOOP_ARRAY_LEN(s_words);
}

/* Copies at most cap-1 bytes of src, not cutting a UTF-8 sequence, with
 * control characters as '?'. */
static void
s_copy_arg(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; src[n] && n < cap - 1; n++)
        ;
    if (src[n]) /* cut: step back to the start of a character */
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--;
    for (size_t i = 0; i < n; i++)
        dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
    dst[n] = '\0';
}

void
koop_error_clear(koop_error_t *e)
{
    e->id = KOOP_ERR_NONE;
    e->status = KOOP_OK;
    e->code[0] = e->field[0] = '\0';
    e->nargs = 0;
}

void
koop_error_set(koop_error_t *e, koop_err_t id, const char *field, const char *const *args)
{
    koop_error_clear(e);
    if (id <= KOOP_ERR_NONE || id >= KOOP_ERR_COUNT)
        id = KOOP_ERR_UNKNOWN_CODE;
    e->id = id;
    e->status = s_rows[id].status;
    snprintf(e->code, sizeof e->code, "%s", s_rows[id].code);
    if (field)
        s_copy_arg(e->field, sizeof e->field, field);
    for (size_t i = 0; args && args[i] && i < KOOP_ERR_MAX_ARGS; i++)
        s_copy_arg(e->args[e->nargs++], KOOP_ERR_ARG_MAX, args[i]);
}

void
koop_error_set_code(koop_error_t *e, const char *code, int status, const char *field,
                    const char *const *args, size_t nargs)
{
    koop_err_t id = koop_err_find(code);
    koop_error_clear(e);
    e->id = id ? id : KOOP_ERR_UNKNOWN_CODE;
    e->status = status;
    s_copy_arg(e->code, sizeof e->code, code && *code ? code : "unknown");
    if (field)
        s_copy_arg(e->field, sizeof e->field, field);
    for (size_t i = 0; args && i < nargs && i < KOOP_ERR_MAX_ARGS; i++)
        s_copy_arg(e->args[e->nargs++], KOOP_ERR_ARG_MAX, args[i] ? args[i] : "");
}

/* The row of token in the words table, or -1. */
static int
s_word_row(const char *token)
{
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_words); i++)
        if (strcmp(s_words[i][0], token) == 0)
            return (int)i;
    return -1;
}

int
koop_err_word_known(const char *token)
{
    return token && s_word_row(token) >= 0;
}

const char *
koop_err_word(const char *token, koop_lang_t lang)
{
    int row = token ? s_word_row(token) : -1;
    return row >= 0 ? s_words[row][1 + (lang == KOOP_LANG_EN)] : NULL;
}

/* Appends the n bytes of s to out at *used (bounded). */
static void
s_putn(char *out, size_t len, size_t *used, const char *s, size_t n)
{
    if (*used + 1 >= len)
        return;
    if (n > len - 1 - *used)
        n = len - 1 - *used;
    memcpy(out + *used, s, n);
    *used += n;
    out[*used] = '\0';
}

/* Appends s to out at *used (bounded). */
static void
s_put(char *out, size_t len, size_t *used, const char *s)
{
    s_putn(out, len, used, s, strlen(s));
}


/* The Polish plural form (koop_plural: 0 one, 1 few, 2 many) of the whole
 * number written in s (an optional '-', digits: any length, only the last
 * two digits and "is it 1" matter), or -1 when s is not one. */
static int
s_count_form(const char *s)
{
    size_t n;
    long long v = 0;
    if (*s == '-')
        s++;
    n = strspn(s, "0123456789");
    if (n == 0 || s[n] != '\0')
        return -1;
    while (n > 1 && *s == '0') { /* "007" is 7 */
        s++;
        n--;
    }
    for (size_t i = n > 2 ? n - 2 : 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return koop_plural(n > 2 ? 100 + v : v);
}

/* Appends to out the form for count (NULL: no count) of the forms
 * forms[0..len) separated by '|': of three, Polish (one, few, many); of two,
 * English (one, other); of one, that one. Without a whole number the last. */
static void
s_put_form(char *out, size_t cap, size_t *used, const char *forms, size_t len, const char *count)
{
    const char *end = forms + len, *bar;
    int form = count ? s_count_form(count) : -1;
    size_t nforms = 1, want;
    for (size_t i = 0; i < len; i++)
        nforms += forms[i] == '|';
    want = form < 0 ? nforms - 1 : nforms == 2 ? (size_t)(form != 0) : (size_t)form;
    if (want >= nforms)
        want = nforms - 1;
    for (size_t k = 0; k < want; k++)
        forms = (const char *)memchr(forms, '|', (size_t)(end - forms)) + 1;
    bar = memchr(forms, '|', (size_t)(end - forms));
    s_putn(out, cap, used, forms, (size_t)((bar ? bar : end) - forms));
}

/* Argument digit ('1'..'9') of args, "?" when there is none. */
static const char *
s_arg(const char *const *args, size_t nargs, char digit)
{
    size_t i = (size_t)(digit - '1');
    return digit >= '1' && digit <= '9' && i < nargs && args[i] ? args[i] : "?";
}

size_t
koop_error_render(const koop_error_t *e, koop_lang_t lang, const char *field_label, char *out, size_t len)
{
    const char *t, *field = field_label ? field_label : e->field;
    size_t used = 0;

    if (!len)
        return 0;
    out[0] = '\0';
    if (lang != KOOP_LANG_EN)
        lang = KOOP_LANG_PL;
    t = e->id == KOOP_ERR_UNKNOWN_CODE || e->id == KOOP_ERR_NONE ? NULL : s_rows[e->id].msg[lang];
    if (!t) {
        /* a code from a newer peer: say the code, and what we have */
        used = koop_template_render(s_rows[KOOP_ERR_UNKNOWN_CODE].msg[lang], lang, NULL, (const char *const[]){e->code},
                                    1, out, len);
        if (*field) {
            s_put(out, len, &used, ": ");
            s_put(out, len, &used, field);
        }
        for (size_t i = 0; i < e->nargs; i++) {
            s_put(out, len, &used, i ? "; " : ": ");
            s_put(out, len, &used, e->args[i]);
        }
        return used;
    }
    {
        const char *args[KOOP_ERR_MAX_ARGS];
        for (size_t i = 0; i < e->nargs; i++)
            args[i] = e->args[i];
        return koop_template_render(t, lang, field, args, e->nargs, out, len);
    }
}

size_t
koop_template_render(const char *t, koop_lang_t lang, const char *field, const char *const *args, size_t nargs,
                     char *out, size_t len)
{
    size_t used = 0;
    if (!len)
        return 0;
    out[0] = '\0';
    if (!field)
        field = "";
    if (lang != KOOP_LANG_EN)
        lang = KOOP_LANG_PL;
    for (const char *p = t ? t : ""; *p;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (end && strncmp(p, "{field}", 7) == 0) {
                s_put(out, len, &used, *field ? field : "?");
                p = end + 1;
                continue;
            }
            if (end && p[1] >= '1' && p[1] <= '9' && (p[2] == '}' || p[2] == '|' || p[2] == ':')) {
                const char *arg = s_arg(args, nargs, p[1]), *word;
                if (p[2] == '}') {
                    s_put(out, len, &used, arg);
                } else if (p[2] == ':') {
                    /* {N:one|few|many}: the form for the count alone (a verb that agrees with it) */
                    s_put_form(out, len, &used, p + 3, (size_t)(end - p - 3), arg);
                } else if (p[3] == 'w' && (p[4] == '}' || (p[4] == ':' && p[6] == '}'))) {
                    /* {N|w}, {N|w:M}: a word of the table, in the form for argument M */
                    if ((word = koop_err_word(arg, lang)))
                        s_put_form(out, len, &used, word, strlen(word),
                                   p[4] == ':' ? s_arg(args, nargs, p[5]) : NULL);
                    else
                        s_put(out, len, &used, arg);
                } else {
                    /* {N|one|few|many}: the count, and its noun */
                    s_put(out, len, &used, arg);
                    s_put(out, len, &used, " ");
                    s_put_form(out, len, &used, p + 3, (size_t)(end - p - 3), arg);
                }
                p = end + 1;
                continue;
            }
        }
        {
            char c[2] = {*p, 0};
            s_put(out, len, &used, c);
            p++;
        }
    }
    return used;
}

void
koop_field_option(const char *field, char *out, size_t len)
{
    snprintf(out, len, "--%s", field);
    for (char *p = out + 2; p < out + len && *p; p++)
        if (*p == '_')
            *p = '-';
}

int
koop_lang_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "pl") == 0 || strncmp(s, "pl_", 3) == 0)
        return KOOP_LANG_PL;
    if (strcmp(s, "en") == 0 || strncmp(s, "en_", 3) == 0)
        return KOOP_LANG_EN;
    return -1;
}

koop_lang_t
koop_lang_from_env(void)
{
    int l = koop_lang_parse(getenv("KOOP_LANG"));
    return l < 0 ? KOOP_LANG_PL : (koop_lang_t)l;
}

const char *
koop_num_str(char buf[24], long long n)
{
    snprintf(buf, 24, "%lld", n);
    return buf;
}
