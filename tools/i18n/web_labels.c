/*
 * web_labels - the words of common/labels.def the web UI shows, as a
 * catalogue of its own (web/i18n/labels-pl.json, labels-en.json), made by
 * `make` from labels.def so the UI never keeps a copy that could drift
 * (never committed, as the generated protobuf code is not).
 *
 *   build/tools/web-labels pl|en FILE
 *
 * writes FILE (through FILE.tmp and a rename: a half-written catalogue is
 * never served). Which sets go where in the UI's catalogue is s_exports;
 * web/js/i18n.js merges the file into the language's own catalogue.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* A set of labels.def and where its words go: catalogue[section][key][value],
 * or catalogue[section][value] when key is NULL (values with dots, such as
 * event types: i18n.js term). */
static const struct {
    const char *set, *section, *key;
} s_exports[] = {
#define KOOP_WEB_EXPORT(set, section, key) {set, section, key},
#include "web_exports.def"
#undef KOOP_WEB_EXPORT
};

/* obj[name], made an empty object when it is not there; NULL on lack of memory. */
static json_t *
s_child(json_t *obj, const char *name)
{
    json_t *c = json_object_get(obj, name);
    if (c)
        return c;
    if (!(c = json_object()) || json_object_set_new(obj, name, c) != 0)
        return NULL;
    return c;
}

/* Puts word (set, value) into cat when its set is exported; -1 on lack of memory. */
static int
s_word(json_t *cat, const char *set, const char *value, const char *word)
{
    for (size_t e = 0; e < sizeof s_exports / sizeof s_exports[0]; e++) {
        json_t *sec, *words;
        if (strcmp(set, s_exports[e].set) != 0)
            continue;
        if (!(sec = s_child(cat, s_exports[e].section)) ||
            !(words = s_exports[e].key ? s_child(sec, s_exports[e].key) : sec) ||
            json_object_set_new(words, value, json_string(word)) != 0)
            return -1;
    }
    return 0;
}

/* Every word of labels.def in Polish or English (english) through s_word. */
static int
s_fill(json_t *cat, int english)
{
    int rc = 0;
#define KOOP_LABEL(field, pl, en)
#define KOOP_VALUE(set, value, pl, en) rc |= s_word(cat, set, value, english ? (en) : (pl));
#include "labels.def"
#undef KOOP_VALUE
#undef KOOP_LABEL
    return rc;
}

int
main(int argc, char **argv)
{
    json_t *cat;
    char tmp[4096];
    int en, rc = 1;
    if (argc != 3 || (strcmp(argv[1], "pl") != 0 && strcmp(argv[1], "en") != 0)) {
        fprintf(stderr, "usage: web-labels pl|en FILE\n");
        return 2;
    }
    en = strcmp(argv[1], "en") == 0;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]) >= (int)sizeof tmp) {
        fprintf(stderr, "web-labels: %s: the name is too long\n", argv[2]);
        return 1;
    }
    if (!(cat = json_object()) || s_fill(cat, en) != 0)
        goto nomem;
    if (json_dump_file(cat, tmp, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0 || rename(tmp, argv[2]) != 0) {
        perror(argv[2]);
        remove(tmp);
        goto out;
    }
    rc = 0;
    goto out;
nomem:
    fprintf(stderr, "web-labels: out of memory\n");
out:
    json_decref(cat);
    return rc;
}
