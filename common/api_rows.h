/*
 * api_rows.h - expands the rows of api.def for one service.
 *
 * Define KOOP_API_<service>(handler, name, request, reply, flags, noun, verb,
 * http, path, help, help_en) before including this file; the rows of every
 * other service expand to nothing. Used by each service's main.c to build its
 * method table, so a service serves exactly its rows, each with its handler
 * (a row without a handler does not compile).
 */
#ifndef KOOP_API_sys
#define KOOP_API_sys(...)
#define KOOP_API_ROWS_UNDEF_sys
#endif
#ifndef KOOP_API_registry
#define KOOP_API_registry(...)
#define KOOP_API_ROWS_UNDEF_registry
#endif
#ifndef KOOP_API_cases
#define KOOP_API_cases(...)
#define KOOP_API_ROWS_UNDEF_cases
#endif
#ifndef KOOP_API_notifier
#define KOOP_API_notifier(...)
#define KOOP_API_ROWS_UNDEF_notifier
#endif
#ifndef KOOP_API_reporting
#define KOOP_API_reporting(...)
#define KOOP_API_ROWS_UNDEF_reporting
#endif
#ifndef KOOP_API_sync
#define KOOP_API_sync(...)
#define KOOP_API_ROWS_UNDEF_sync
#endif
#ifndef KOOP_API_gateway
#define KOOP_API_gateway(...)
#define KOOP_API_ROWS_UNDEF_gateway
#endif
#ifndef KOOP_API_web
#define KOOP_API_web(...)
#define KOOP_API_ROWS_UNDEF_web
#endif

#define KOOP_API(svc, ...) KOOP_API_##svc(__VA_ARGS__)
#include "api.def"
#undef KOOP_API

#ifdef KOOP_API_ROWS_UNDEF_sys
#undef KOOP_API_sys
#undef KOOP_API_ROWS_UNDEF_sys
#endif
#ifdef KOOP_API_ROWS_UNDEF_registry
#undef KOOP_API_registry
#undef KOOP_API_ROWS_UNDEF_registry
#endif
#ifdef KOOP_API_ROWS_UNDEF_cases
#undef KOOP_API_cases
#undef KOOP_API_ROWS_UNDEF_cases
#endif
#ifdef KOOP_API_ROWS_UNDEF_notifier
#undef KOOP_API_notifier
#undef KOOP_API_ROWS_UNDEF_notifier
#endif
#ifdef KOOP_API_ROWS_UNDEF_reporting
#undef KOOP_API_reporting
#undef KOOP_API_ROWS_UNDEF_reporting
#endif
#ifdef KOOP_API_ROWS_UNDEF_sync
#undef KOOP_API_sync
#undef KOOP_API_ROWS_UNDEF_sync
#endif
#ifdef KOOP_API_ROWS_UNDEF_gateway
#undef KOOP_API_gateway
#undef KOOP_API_ROWS_UNDEF_gateway
#endif
#ifdef KOOP_API_ROWS_UNDEF_web
#undef KOOP_API_web
#undef KOOP_API_ROWS_UNDEF_web
#endif
