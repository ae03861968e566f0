#include "koop.h"
#include "errors.h"

#include <errno.h>
#include <lmdb.h>
#include <string.h>

const char *
koop_status_name(int status)
{
    switch (status) {
    case KOOP_OK: return "ok";
    case KOOP_INVALID: return "nieprawidłowe dane";
    case KOOP_NOT_FOUND: return "nie znaleziono";
    case KOOP_DENIED: return "brak uprawnień";
    case KOOP_CONFLICT: return "konflikt";
    case KOOP_INTERNAL: return "błąd wewnętrzny";
    case KOOP_UNAVAILABLE: return "usługa niedostępna";
    case KOOP_MALFORMED: return "uszkodzona wiadomość";
    case KOOP_TOO_LARGE: return "wiadomość za duża";
    case KOOP_DEADLINE: return "minął termin żądania";
    default: return "nieznany błąd";
    }
}

const char *
koop_strerror(int rc)
{
    return koop_strerror_lang(rc, KOOP_LANG_PL);
}

const char *
koop_strerror_lang(int rc, koop_lang_t lang)
{
    int en = lang == KOOP_LANG_EN;
    if (rc == 0)
        return "ok";
    if (rc == ENOSPC || rc == -ENOSPC)
        return en ? "disk full: no room for the data (free some space; the service keeps running)"
                  : "dysk pełny: brak miejsca na dane (zwolnij miejsce; usługa działa dalej)";
    if (rc == EIO || rc == -EIO)
        return en ? "disk input/output error" : "błąd wejścia/wyjścia dysku";
    if (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE)
        return mdb_strerror(rc);
    return strerror(rc < 0 ? -rc : rc);
}
