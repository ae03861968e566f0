/* commands_notifier.c - koopctl commands served by the notifier. */
#include "koopctl.h"
#include "notifier.pb-c.h"

#define N(noun, verb, method, req, rep, flags, help)                                             \
    {noun, verb, "notifier", method, &koop__notif__##req##__descriptor,                            \
     &koop__notif__##rep##__descriptor, flags, help}

const kc_command_t kc_notifier_commands[] = {
    N("inbox", "list", "inbox.list", inbox_query, inbox_list, KC_LIST | KC_AS,
      "--as OSOBA [--unread true --limit N]"),
    N("inbox", "read", "inbox.read", inbox_read, inbox_list, KC_LIST | KC_AS, "--as OSOBA --id WPIS|all"),
    N("notify", "status", "notify.status", status_query, status, 0, "(kolejka poczty, ostatni błąd doręczenia)"),
    N("notify", "prefs", "notify.prefs", prefs, recipient, KC_AS,
      "--as OSOBA [--mail true|false --digest true|false --quiet 22-7|none --due-days N]"),
    N("notify", "retry", "notify.retry", status_query, status, 0, "(ponów teraz wysyłkę czekających wiadomości)"),
};
const size_t kc_notifier_ncommands = sizeof kc_notifier_commands / sizeof kc_notifier_commands[0];
