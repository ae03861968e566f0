/* commands_registry.c - koopctl commands served by the registry. */
#include "koopctl.h"
#include "registry.pb-c.h"

#define R(noun, verb, method, req, rep, flags, help)                                             \
    {noun, verb, "registry", method, &koop__reg__##req##__descriptor,                              \
     &koop__reg__##rep##__descriptor, flags, help}

const kc_command_t kc_registry_commands[] = {
    R("institution", "add", "institution.add", institution, institution, 0,
      "--name N --sector S --level L [--teryt T --address A --email E --phone P]"),
    R("institution", "update", "institution.update", institution, institution, 0,
      "--id ID [--name --sector --level --teryt --address --email --phone --active true|false]"),
    R("institution", "show", "institution.show", by_id, institution, 0, "--id ID"),
    R("institution", "list", "institution.list", institution_query, institution_list, KC_LIST,
      "[--sector S --level L --teryt T --text TEKST]"),
    R("person", "add", "person.add", person, person, 0,
      "--name N --institution ID --role R [--email E --phone P]"),
    R("person", "update", "person.update", person, person, 0,
      "--id ID [--name --institution --role --email --phone --active true|false]"),
    R("person", "show", "person.show", by_id, person, 0, "--id ID"),
    R("person", "list", "person.list", person_query, person_list, KC_LIST,
      "[--institution ID --role R --text TEKST]"),
    R("agreement", "add", "agreement.add", agreement, agreement, 0,
      "--parties ID,ID,... --signed RRRR-MM-DD [--until RRRR-MM-DD --text ZAKRES]"),
    R("agreement", "list", "agreement.list", agreement_query, agreement_list, KC_LIST,
      "[--institution ID]"),
    R("pzk", "create", "pzk.create", pzk, pzk, 0, "--name N --formed RRRR-MM-DD [--teryt GMINA]"),
    R("pzk", "join", "pzk.join", pzk_change, pzk, 0,
      "--pzk ID --institution ID --date RRRR-MM-DD [--representative OSOBA]"),
    R("pzk", "leave", "pzk.leave", pzk_change, pzk, 0, "--pzk ID --institution ID --date RRRR-MM-DD"),
    R("pzk", "dissolve", "pzk.dissolve", pzk_change, pzk, 0, "--pzk ID --date RRRR-MM-DD"),
    R("pzk", "show", "pzk.show", by_id, pzk, 0, "--id ID"),
    R("pzk", "list", "pzk.list", pzk_query, pzk_list, KC_LIST, "[--teryt T --institution ID]"),
    R("service", "add", "service.add", catalogue_entry, catalogue_entry, 0,
      "--name N --provider ID --target GRUPY --category K [--description --area --contact "
      "--schedule --verified RRRR-MM-DD]"),
    R("service", "update", "service.update", catalogue_entry, catalogue_entry, 0,
      "--id ID [pola jak w add, --active true|false]"),
    R("service", "show", "service.show", by_id, catalogue_entry, 0, "--id ID"),
    R("service", "search", "service.search", catalogue_query, catalogue_list, KC_LIST,
      "[--target GRUPY --category K --provider ID --area OBSZAR --text TEKST --active true|false]"),
};
const size_t kc_registry_ncommands = sizeof kc_registry_commands / sizeof kc_registry_commands[0];
