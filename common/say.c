#include "say.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *s_name = "koop";
static int s_min_level = KOOP_SAY_INFO;

void
koop_say_init(const char *name)
{
    const char *env = getenv("KOOP_DEBUG");
    s_name = name ? name : "koop";
    if (env && *env && strcmp(env, "0") != 0)
        s_min_level = KOOP_SAY_DEBUG;
}

void
koop_say_level(int min_level)
{
    s_min_level = min_level;
}

void
koop_say(int level, const char *fmt, ...)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char line[2048], stamp[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    if (level < s_min_level)
        return;
    if (level < KOOP_SAY_DEBUG || level > KOOP_SAY_ERROR)
        level = KOOP_SAY_ERROR;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line, sizeof line, "%s.%03ldZ %s[%d] %s ", stamp, (long)(tv.tv_usec / 1000), s_name,
                 (int)getpid(), names[level]);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* one write per line so lines of several processes do not interleave */
    fprintf(stderr, "%s\n", line);
}
