#include "koop.h"

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
    default: return "nieznany błąd";
    }
}
