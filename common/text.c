#include "text.h"
#include "koop.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one UTF-8 sequence at s; returns its length or 0 when invalid. */
static size_t
s_utf8(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0 && (s[1] & 0xc0) == 0x80) {
        *cp = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
        return *cp >= 0x80 ? 2 : 0;
    }
    if ((s[0] & 0xf0) == 0xe0 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80) {
        *cp = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
        return (*cp >= 0x800 && (*cp < 0xd800 || *cp > 0xdfff)) ? 3 : 0;
    }
    if ((s[0] & 0xf8) == 0xf0 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 &&
        (s[3] & 0xc0) == 0x80) {
        *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
              ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
        return (*cp >= 0x10000 && *cp <= 0x10ffff) ? 4 : 0;
    }
    return 0;
}

int
koop_text_valid(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len;
    if (!s)
        return 0;
    len = strlen(s);
    if (len > max)
        return 0;
    while (*p) {
        uint32_t cp;
        size_t n = s_utf8(p, &cp);
        if (n == 0)
            return 0;
        if (cp < 0x20 && cp != '\t' && cp != '\n')
            return 0;
        if (cp == 0x7f)
            return 0;
        p += n;
    }
    return 1;
}

char *
koop_text_escape(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = s ? strlen(s) : 0, used = 0, i;
    char tail[40];
    int tail_len = snprintf(tail, sizeof tail, "...(%zu B)", len);

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;
        /* room for this byte, and for the tail when more bytes follow */
        if (used + need + (i + 1 < len ? (size_t)tail_len : 0) + 1 > outlen)
            break;
        if (need == 1) {
            out[used++] = (char)c;
        } else {
            out[used++] = '\\';
            out[used++] = 'x';
            out[used++] = hex[c >> 4];
            out[used++] = hex[c & 15];
        }
    }
    if (i < len && used + (size_t)tail_len + 1 <= outlen) {
        memcpy(out + used, tail, (size_t)tail_len);
        used += (size_t)tail_len;
    }
    out[used] = '\0';
    return out;
}

/* The letters search folds: Latin-1 and Latin Extended-A letters with
 * diacritics to their base letter (Polish first: ą ć ę ł ń ó ś ź ż), so
 * "osrodek" finds "Ośrodek"; then lower case. */
static const char s_latin1[] = /* U+00C0 .. U+00FF; 0: keep */
    "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyt\0" "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyty";
static const char s_latin_a[] = /* U+0100 .. U+017F */
    "aaaaaaccccccccdd" "ddeeeeeeeeeegggg" "gggghhhhiiiiiiii" "iiiijjkkklllllll"
    "lllnnnnnnnnnoooo" "oooorrrrrrssssss" "ssttttttuuuuuuuu" "uuuuwwyyyzzzzzzs";

static uint32_t
s_fold(uint32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if (cp >= 0xc0 && cp <= 0xff && s_latin1[cp - 0xc0])
        return (unsigned char)s_latin1[cp - 0xc0];
    if (cp >= 0x100 && cp <= 0x17f)
        return (unsigned char)s_latin_a[cp - 0x100];
    return cp;
}

/* Folds s into a malloc'd array of code points; *n gets its length. */
static uint32_t *
s_fold_all(const char *s, size_t *n)
{
    size_t len = strlen(s), k = 0;
    uint32_t *out = malloc((len + 1) * sizeof *out);
    const unsigned char *p = (const unsigned char *)s;
    if (!out)
        return NULL;
    while (*p) {
        uint32_t cp;
        size_t step = s_utf8(p, &cp);
        if (step == 0) {
            cp = *p;
            step = 1;
        }
        out[k++] = s_fold(cp);
        p += step;
    }
    *n = k;
    return out;
}

int
koop_text_contains(const char *hay, const char *needle)
{
    size_t nh, nn;
    uint32_t *h, *n;
    int found = 0;
    if (!needle || !*needle)
        return 1;
    if (!hay)
        return 0;
    h = s_fold_all(hay, &nh);
    n = s_fold_all(needle, &nn);
    if (h && n)
        for (size_t i = 0; !found && i + nn <= nh; i++)
            found = memcmp(h + i, n, nn * sizeof *n) == 0;
    free(h);
    free(n);
    return found;
}

int
koop_text_equal(const char *a, const char *b)
{
    size_t na, nb;
    uint32_t *x, *y;
    int eq;
    if (!a || !b)
        return a == b;
    x = s_fold_all(a, &na);
    y = s_fold_all(b, &nb);
    eq = x && y && na == nb && memcmp(x, y, na * sizeof *x) == 0;
    free(x);
    free(y);
    return eq;
}

int
koop_text_email(const char *s)
{
    const char *at = s ? strchr(s, '@') : NULL;
    if (!at || at == s || strchr(at + 1, '@') || strchr(s, ' '))
        return 0;
    const char *dot = strchr(at + 1, '.');
    return dot && dot > at + 1 && dot[1] != '\0';
}

/* ---- names: the rules a name (of a person, a household, a task) keeps ---- */

static int
s_bidi(uint32_t cp)
{
    return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f ||
           cp == 0x061c;
}

/* white space: ASCII space, no-break space, the U+2000 spaces, ideographic space */
static int
s_space(uint32_t cp)
{
    return cp == ' ' || cp == 0xa0 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x202f || cp == 0x205f ||
           cp == 0x3000;
}

koop_text_rule_t
koop_text_name_rule(const char *s, size_t max, uint32_t *bad)
{
    const unsigned char *p = (const unsigned char *)s;
    int visible = 0;
    if (bad)
        *bad = 0;
    if (!s || strlen(s) > max)
        return KOOP_TEXT_TOO_LONG;
    while (*p) {
        uint32_t cp;
        size_t n = s_utf8(p, &cp);
        if (n == 0)
            return KOOP_TEXT_BAD_UTF8;
        if (bad)
            *bad = cp;
        if (cp == '\n' || cp == '\r' || cp == 0x2028 || cp == 0x2029 || cp == 0x85)
            return KOOP_TEXT_NEWLINE;
        if (s_bidi(cp))
            return KOOP_TEXT_BIDI;
        /* C0 (the tab too: a name is one line of a table), DEL, C1, and the
         * invisible ones: zero-width space and joiners, word joiner, BOM */
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200d) || cp == 0x2060 ||
            cp == 0xfeff)
            return KOOP_TEXT_CONTROL;
        visible |= !s_space(cp);
        p += n;
    }
    if (bad)
        *bad = 0;
    return visible ? KOOP_TEXT_OK : KOOP_TEXT_BLANK;
}

int
koop_plural(long long n)
{
    long long a = n < 0 ? -n : n;
    if (a == 1)
        return 0;
    if (a % 10 >= 2 && a % 10 <= 4 && (a % 100 < 12 || a % 100 > 14))
        return 1;
    return 2;
}

const char *
koop_plural_word(long long n, const char *one, const char *few, const char *many)
{
    int k = koop_plural(n);
    return k == 0 ? one : k == 1 ? few : many;
}

int
koop_text_node_name(const char *s)
{
    return s && koop_text_name_rule(s, KOOP_MAX_NODE_NAME, NULL) == KOOP_TEXT_OK;
}
