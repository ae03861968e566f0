/* api.c - the method table of api.def as data (see api.h). */
#include "api.h"

#include "cases.pb-c.h"
#include "envelope.pb-c.h"
#include "gateway.pb-c.h"
#include "notifier.pb-c.h"
#include "registry.pb-c.h"
#include "reporting.pb-c.h"
#include "sync.pb-c.h"

#include <string.h>

const koop_api_method_t koop_api_methods[] = {
#define KOOP_API(svc, fn, name, req, rep, flags, noun, verb, http, path, help, help_en)                     \
    {#svc, name, &req##__descriptor, &rep##__descriptor, (flags), noun, verb, KOOP_HTTP_##http, path, help, \
     help_en},
#include "api.def"
#undef KOOP_API
};
const size_t koop_api_nmethods = sizeof koop_api_methods / sizeof koop_api_methods[0];

const koop_api_method_t *
koop_api_find(const char *name)
{
    for (size_t i = 0; name && i < koop_api_nmethods; i++)
        if (strcmp(koop_api_methods[i].name, name) == 0)
            return &koop_api_methods[i];
    return NULL;
}

const koop_api_method_t *
koop_api_find_cli(const char *noun, const char *verb, int *noun_known)
{
    *noun_known = 0;
    for (size_t i = 0; noun && i < koop_api_nmethods; i++) {
        const koop_api_method_t *m = &koop_api_methods[i];
        if (m->flags & KOOP_API_INTERNAL || strcmp(m->noun, noun) != 0)
            continue;
        *noun_known = 1;
        if (verb && strcmp(m->verb, verb) == 0)
            return m;
    }
    return NULL;
}

const char *
koop_http_name(koop_http_t m)
{
    switch (m) {
    case KOOP_HTTP_GET: return "GET";
    case KOOP_HTTP_POST: return "POST";
    case KOOP_HTTP_PUT: return "PUT";
    case KOOP_HTTP_DELETE: return "DELETE";
    default: return "";
    }
}
