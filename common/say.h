/*
 * say - diagnostics of a process: one line per message on stderr,
 * "2026-11-24T13:20:37.123Z registry[1234] INFO message".
 * koop-node collects its children's stderr into its own, so one node logs
 * to one place.
 */
#ifndef KOOP_SAY_H
#define KOOP_SAY_H

enum { KOOP_SAY_DEBUG, KOOP_SAY_INFO, KOOP_SAY_WARN, KOOP_SAY_ERROR };

/* Names the process in every line; `name` is borrowed for the process's life. */
void koop_say_init(const char *name);
/* Drops lines below min_level (fuzzing: KOOP_SAY_ERROR + 1 silences all). */
void koop_say_level(int min_level);
void koop_say(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define koop_debug(...) koop_say(KOOP_SAY_DEBUG, __VA_ARGS__)
#define koop_info(...) koop_say(KOOP_SAY_INFO, __VA_ARGS__)
#define koop_warn(...) koop_say(KOOP_SAY_WARN, __VA_ARGS__)
#define koop_error(...) koop_say(KOOP_SAY_ERROR, __VA_ARGS__)

#endif
