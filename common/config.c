#include "config.h"
#include "koop.h"

#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { V_STR, V_PATH, V_ROLE, V_TERYT, V_ENDPOINT, V_ID, V_YEARS, V_TIMER, V_PUBLISH, V_NUM, V_ONOFF, V_HOSTPORT,
       V_TOTP_FOR, V_DURATION };

typedef struct {
    const char *section;
    const char *key;
    size_t offset;
    size_t size;
    int kind;
    int required;
} s_key;

#define K(sec, key, field, kind, req)                                                             \
    {sec, key, offsetof(koop_config_t, field), sizeof(((koop_config_t *)0)->field), kind, req}

static const s_key s_keys[] = {
    K("node", "id", node_id, V_ID, 1),
    K("node", "name", name, V_STR, 0),
    K("node", "role", role, V_ROLE, 1),
    K("node", "teryt", teryt, V_TERYT, 1),
    K("node", "data_dir", data_dir, V_PATH, 1),
    K("node", "runtime_dir", runtime_dir, V_PATH, 1),
#define KOOP_SERVICE(name, roles, flags)                                                            \
    K("endpoints", #name, endpoints[KOOP_SVC_ID_##name], V_ENDPOINT, KOOP_SVC_ID_##name == KOOP_SVC_ID_registry),
#include "services.def"
#undef KOOP_SERVICE
    K("sync", "hub", sync_hub, V_ENDPOINT, 0),
    K("sync", "hub_key", sync_hub_key, V_PATH, 0),
    K("sync", "listen", sync_listen, V_ENDPOINT, 0),
    K("retention", "case_years", retention_case_years, V_YEARS, 0),
    K("retention", "household_years", retention_household_years, V_YEARS, 0),
    K("retention", "audit_years", retention_audit_years, V_YEARS, 0),
    K("retention", "timer", retention_timer, V_TIMER, 0),
    K("reporting", "publish", reporting_publish, V_PUBLISH, 0),
    K("sync", "alert_after", sync_alert_after, V_DURATION, 0),
    K("notifier", "smtp_url", smtp_url, V_STR, 0),
    K("notifier", "smtp_user", smtp_user, V_STR, 0),
    K("notifier", "smtp_password_file", smtp_password_file, V_PATH, 0),
    K("notifier", "smtp_ca_file", smtp_ca_file, V_PATH, 0),
    K("notifier", "from", mail_from, V_STR, 0),
    K("notifier", "web_url", web_url, V_STR, 0),
    K("gateway", "listen", gw_listen, V_HOSTPORT, 0),
    K("gateway", "tls", gw_tls, V_ONOFF, 0),
    K("gateway", "trusted_proxy", gw_trusted_proxy, V_STR, 0),
    K("gateway", "origin", gw_origin, V_STR, 0),
    K("gateway", "require_totp_for", gw_require_totp_for, V_TOTP_FOR, 0),
    K("gateway", "web_dir", gw_web_dir, V_PATH, 0),
    K("gateway", "session_idle_min", gw_session_idle_min, V_NUM, 0),
    K("gateway", "session_max_hours", gw_session_max_hours, V_NUM, 0),
    K("gateway", "max_body_kib", gw_max_body_kib, V_NUM, 0),
    K("gateway", "max_header_kib", gw_max_header_kib, V_NUM, 0),
    K("gateway", "max_connections", gw_max_connections, V_NUM, 0),
    K("gateway", "per_ip_connections", gw_per_ip_connections, V_NUM, 0),
    K("gateway", "request_timeout_s", gw_request_timeout_s, V_NUM, 0),
    K("gateway", "idle_timeout_s", gw_idle_timeout_s, V_NUM, 0),
    K("gateway", "password_ops", gw_password_ops, V_NUM, 0),
    K("gateway", "password_mem_mib", gw_password_mem_mib, V_NUM, 0),
    K("gateway", "hash_workers", gw_hash_workers, V_NUM, 0),
};

typedef struct {
    koop_config_t *cfg;
    FILE *file;
    int line;      /* line the reader gave last */
    int nul_line;  /* first line with a NUL byte (not a text file) */
    int msg_line;  /* line of msg */
    char msg[512]; /* first error the handler found, without the file:line prefix */
    unsigned char seen[KOOP_ARRAY_LEN(s_keys)];
} s_parse;

static int
s_check_value(s_parse *p, const s_key *k, const char *value, char *field)
{
    size_t len = strlen(value);

    if (len == 0 && k->required) /* e.g. an empty data_dir would put the data in / */
        goto bad;

    switch (k->kind) {
    case V_ID:
        if (len == 0 || len >= k->size)
            goto bad;
        for (size_t i = 0; i < len; i++) {
            char c = value[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_'))
                goto bad;
        }
        break;
    case V_ROLE:
        if (strcmp(value, "gmina") != 0 && strcmp(value, "hub") != 0) {
            snprintf(p->msg, sizeof p->msg, "nieprawidłowa rola '%s' (dozwolone: gmina, hub)", value);
            return 0;
        }
        break;
    case V_TERYT:
        if (len != 2 && len != 4 && len != 7)
            goto bad;
        for (size_t i = 0; i < len; i++)
            if (value[i] < '0' || value[i] > '9')
                goto bad;
        break;
    case V_ENDPOINT:
        if (len && strncmp(value, "ipc://", 6) != 0 && strncmp(value, "tcp://", 6) != 0) {
            snprintf(p->msg, sizeof p->msg,
                     "nieprawidłowy adres '%s' w %s (oczekiwano ipc://... lub tcp://...)", value, k->key);
            return 0;
        }
        break;
    case V_YEARS: /* 1..100 */
        if (len == 0 || len > 3 || strspn(value, "0123456789") != len || atoi(value) < 1 || atoi(value) > 100) {
            snprintf(p->msg, sizeof p->msg, "nieprawidłowa liczba lat '%.20s' klucza %s (od 1 do 100)", value, k->key);
            return 0;
        }
        break;
    case V_TIMER:
        if (strcmp(value, "daily") != 0 && strcmp(value, "off") != 0) {
            snprintf(p->msg, sizeof p->msg, "nieprawidłowa wartość '%.20s' klucza %s (dozwolone: daily, off)", value,
                     k->key);
            return 0;
        }
        break;
    case V_PUBLISH:
        if (strcmp(value, "approved") != 0 && strcmp(value, "provisional") != 0) {
            snprintf(p->msg, sizeof p->msg,
                     "nieprawidłowa wartość '%.20s' klucza %s (dozwolone: approved, provisional)", value, k->key);
            return 0;
        }
        break;
    case V_NUM:
        if (len == 0 || len > 9 || strspn(value, "0123456789") != len)
            goto bad;
        break;
    case V_ONOFF:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
            goto bad;
        break;
    case V_TOTP_FOR:
        if (strcmp(value, "coordinator") != 0 && strcmp(value, "none") != 0)
            goto bad;
        break;
    case V_HOSTPORT: {
        /* IPv4 address or name, ':', a port 1-65535 */
        const char *colon = strrchr(value, ':');
        unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 0;
        if (!colon || colon == value || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
            port < 1 || port > 65535)
            goto bad;
        break;
    }
    case V_DURATION:
        if (koop_config_duration_ms(value) == 0) {
            snprintf(p->msg, sizeof p->msg,
                     "nieprawidłowy czas '%.60s' klucza %s (np. 90s, 30m, 1h, 2d)", value, k->key);
            return 0;
        }
        break;
    case V_PATH:
        if (len && value[0] != '/') {
            int n = snprintf(field, k->size, "%s/%s", p->cfg->dir, value);
            if (n < 0 || (size_t)n >= k->size)
                goto bad;
            return 1;
        }
        break;
    default:
        break;
    }
    if (len >= k->size)
        goto bad;
    memcpy(field, value, len + 1);
    return 1;
bad:
    snprintf(p->msg, sizeof p->msg, "nieprawidłowa wartość '%.100s' klucza %s w sekcji [%s]", value,
             k->key, k->section);
    return 0;
}

/* Records the first error of the handler with its line. */
static int
s_fail(s_parse *p)
{
    if (!p->msg_line)
        p->msg_line = p->line;
    return 0;
}

static int
s_handler(void *user, const char *section, const char *name, const char *value)
{
    s_parse *p = user;
    char saved[sizeof p->msg];
    if (p->msg_line) /* keep the first message: later ones would overwrite it */
        memcpy(saved, p->msg, sizeof saved);
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_keys); i++) {
        const s_key *k = &s_keys[i];
        if (strcmp(k->section, section) == 0 && strcmp(k->key, name) == 0) {
            p->seen[i] = 1;
            if (s_check_value(p, k, value, (char *)p->cfg + k->offset))
                return 1;
            goto fail;
        }
    }
    snprintf(p->msg, sizeof p->msg, "nieznany klucz '%.60s' w sekcji [%.60s]", name, section);
fail:
    if (p->msg_line)
        memcpy(p->msg, saved, sizeof saved);
    return s_fail(p);
}

/* fgets that counts lines, so the handler knows where it is, and notes a
 * NUL byte (which would silently cut a value short). */
static char *
s_reader(char *str, int num, void *stream)
{
    s_parse *p = stream;
    int i = 0, c = 0;
    while (i < num - 1 && (c = getc(p->file)) != EOF) {
        if (c == '\0' && !p->nul_line)
            p->nul_line = p->line + 1;
        str[i++] = (char)c;
        if (c == '\n')
            break;
    }
    if (i == 0)
        return NULL;
    str[i] = '\0';
    p->line++;
    return str;
}

int
koop_config_load(koop_config_t *cfg, const char *path, char *err, size_t errlen)
{
    s_parse p;
    const char *slash;
    int line;

    memset(cfg, 0, sizeof *cfg);
    memset(&p, 0, sizeof p);
    p.cfg = cfg;
    if (strlen(path) >= sizeof cfg->path) {
        snprintf(err, errlen, "%s: za długa ścieżka", path);
        return -1;
    }
    strcpy(cfg->path, path);
    slash = strrchr(path, '/');
    if (!slash)
        strcpy(cfg->dir, ".");
    else if (slash == path)
        strcpy(cfg->dir, "/");
    else
        snprintf(cfg->dir, sizeof cfg->dir, "%.*s", (int)(slash - path), path);

    p.file = fopen(path, "r");
    if (!p.file) {
        snprintf(err, errlen, "%s: nie można otworzyć pliku konfiguracji", path);
        return -1;
    }
    line = ini_parse_stream(s_reader, &p, s_handler, &p);
    fclose(p.file);
    if (line == -2) {
        snprintf(err, errlen, "%s: brak pamięci przy czytaniu konfiguracji", path);
        return -1;
    }
    if (p.nul_line) {
        snprintf(err, errlen, "%s:%d: bajt NUL w pliku (to nie jest plik tekstowy)", path, p.nul_line);
        return -1;
    }
    if (line > 0) {
        snprintf(err, errlen, "%s:%d: %s", path, line,
                 p.msg_line == line ? p.msg : "błąd składni (oczekiwano [sekcja] lub klucz = wartość)");
        return -1;
    }
    for (size_t i = 0; i < KOOP_ARRAY_LEN(s_keys); i++) {
        if (s_keys[i].required && !p.seen[i]) {
            snprintf(err, errlen, "%s: brak wymaganego klucza %s w sekcji [%s]", path, s_keys[i].key,
                     s_keys[i].section);
            return -1;
        }
    }
    return 0;
}

const char *
koop_config_endpoint(const koop_config_t *cfg, const char *service)
{
    const koop_service_info_t *svc = koop_service_info(service);
    return svc && cfg->endpoints[svc->id][0] ? cfg->endpoints[svc->id] : NULL;
}

unsigned long
koop_config_num(const char *value, unsigned long dflt)
{
    return value && *value ? strtoul(value, NULL, 10) : dflt;
}

int
koop_config_key(size_t i, const char **section, const char **key)
{
    if (i >= KOOP_ARRAY_LEN(s_keys))
        return 0;
    *section = s_keys[i].section;
    *key = s_keys[i].key;
    return 1;
}

uint64_t
koop_config_duration_ms(const char *value)
{
    static const struct {
        char unit;
        uint64_t ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
    size_t digits = strspn(value, "0123456789");
    uint64_t n = 0;
    if (digits == 0 || digits > 6 || strlen(value) != digits + 1)
        return 0;
    for (size_t i = 0; i < digits; i++)
        n = n * 10 + (uint64_t)(value[i] - '0');
    for (size_t i = 0; i < KOOP_ARRAY_LEN(units); i++)
        if (value[digits] == units[i].unit)
            return n * units[i].ms;
    return 0;
}

uint64_t
koop_config_alert_after_ms(const koop_config_t *cfg)
{
    uint64_t ms = cfg->sync_alert_after[0] ? koop_config_duration_ms(cfg->sync_alert_after) : 0;
    return ms ? ms : KOOP_ALERT_AFTER_DEFAULT_MS;
}

int
koop_config_years(const char *value, int dflt)
{
    return value && *value ? atoi(value) : dflt;
}

int
koop_config_is_hub(const koop_config_t *cfg)
{
    return strcmp(cfg->role, "hub") == 0;
}

int
koop_config_services(const koop_config_t *cfg, const char *out[KOOP_MAX_SERVICES])
{
    int n = 0;
    for (size_t i = 0; i < KOOP_SVC_COUNT; i++)
        if (cfg->endpoints[i][0])
            out[n++] = koop_services[i].name;
    return n;
}
