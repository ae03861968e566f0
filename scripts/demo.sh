#!/usr/bin/env bash
# make demo: a powiat hub and two gmina nodes with sample data from the
# "Liderzy kooperacji" pilot in powiat wysokomazowiecki, driven through koopctl.
# The nodes are stopped at the end; KOOP_DEMO_KEEP=1 leaves them running.
set -euo pipefail
cd "$(dirname "$0")/.."
KC=./bin/koopctl
KN=./bin/koop-node
DEMO=${KOOP_DEMO_DIR:-/tmp/koop-demo}
PIDS=()
cleanup() {
  if [ "${KOOP_DEMO_KEEP:-0}" = 1 ]; then
    echo "Węzły działają dalej (pid: ${PIDS[*]}); zatrzymaj: kill ${PIDS[*]}"; return
  fi
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
jid() { jq -er '.id'; }
start() { # start CONF: run koop-node in the background until `status` answers
  "$KN" -c "$1" >>"$(dirname "$1")/node.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 1 100); do "$KC" -c "$1" status >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "węzeł $1 nie wystartował; zobacz $(dirname "$1")/node.log" >&2; exit 1
}

rm -rf "$DEMO"; mkdir -p "$DEMO"
port=$((20000 + RANDOM % 20000))
say "Zakładanie węzłów w $DEMO"
# each node's web UI on its own port (the gateway, docs/GATEWAY.md)
WEB_H=$((port + 1)); WEB_G1=$((port + 2)); WEB_G2=$((port + 3))
"$KC" node init "$DEMO/powiat" --role hub --teryt 2013 --name "Powiat wysokomazowiecki" --listen "tcp://127.0.0.1:$port" \
  --http "127.0.0.1:$WEB_H"
"$KC" node init "$DEMO/kobylin" --role gmina --teryt 2013032 --name "Gmina Kobylin-Borzymy" \
  --hub "tcp://127.0.0.1:$port" --hub-key "$DEMO/powiat/keys/node.pub" --http "127.0.0.1:$WEB_G1"
"$KC" node init "$DEMO/wysokie" --role gmina --teryt 2013072 --name "Gmina Wysokie Mazowieckie" \
  --hub "tcp://127.0.0.1:$port" --hub-key "$DEMO/powiat/keys/node.pub" --http "127.0.0.1:$WEB_G2"
H=$DEMO/powiat/koop.conf; G1=$DEMO/kobylin/koop.conf; G2=$DEMO/wysokie/koop.conf
say "Powiat przyjmuje swoje gminy (lista dozwolonych kluczy huba)"
"$KC" -c "$H" enrol "$DEMO/kobylin/keys/node.pub"
"$KC" -c "$H" enrol "$DEMO/wysokie/keys/node.pub"
for c in "$H" "$G1" "$G2"; do start "$c"; done
"$KC" -c "$H" status; "$KC" -c "$G1" status; "$KC" -c "$G2" status

say "Powiat: instytucje powiatowe"
pcpr=$("$KC" -c "$H" --json institution add --name "Powiatowe Centrum Pomocy Rodzinie w Wysokiem Mazowieckiem" \
  --sector family_support --level powiat --teryt 2013 | jid)
pup=$("$KC" -c "$H" --json institution add --name "Powiatowy Urząd Pracy w Wysokiem Mazowieckiem" \
  --sector labour_office --level powiat --teryt 2013 | jid)
kpp=$("$KC" -c "$H" --json institution add --name "Komenda Powiatowa Policji w Wysokiem Mazowieckiem" \
  --sector police --level powiat --teryt 2013 | jid)
"$KC" -c "$H" --json service add --name "Poradnictwo specjalistyczne dla rodzin" --provider "$pcpr" \
  --target families,children_youth --category poradnictwo --area "powiat wysokomazowiecki" \
  --contact "PCPR, tel. 86 275 00 00, pon.-pt. 7:30-15:30" >/dev/null
"$KC" -c "$H" --json service add --name "Aktywizacja zawodowa – staże i szkolenia" --provider "$pup" \
  --target adults --category praca --area "powiat wysokomazowiecki" >/dev/null
"$KC" -c "$H" institution list

load_gmina() { # load_gmina CONF GMINA_NAME TERYT
  local c=$1 name=$2 teryt=$3 ops sp ngo p1 p2 pzk
  ops=$("$KC" -c "$c" --json institution add --name "Gminny Ośrodek Pomocy Społecznej – $name" \
    --sector social_assistance --level gmina --teryt "$teryt" | jid)
  sp=$("$KC" -c "$c" --json institution add --name "Szkoła Podstawowa – $name" --sector education --level gmina --teryt "$teryt" | jid)
  ngo=$("$KC" -c "$c" --json institution add --name "Stowarzyszenie na rzecz rozwoju gminy $name" --sector ngo --level gmina --teryt "$teryt" | jid)
  # the powiat institutions as this gmina knows them (until the hub sends its own down)
  local lpcpr lkpp
  lpcpr=$("$KC" -c "$c" --json institution add --name "PCPR Wysokie Mazowieckie" --sector family_support --level powiat --teryt 2013 | jid)
  lkpp=$("$KC" -c "$c" --json institution add --name "KPP Wysokie Mazowieckie" --sector police --level powiat --teryt 2013 | jid)
  p1=$("$KC" -c "$c" --json person add --name "Koordynator $name" --institution "$ops" --role coordinator --email "koordynator@example.org" | jid)
  SW=$("$KC" -c "$c" --json person add --name "Pracownik socjalny $name" --institution "$ops" --role social_worker --email "ps@example.org" | jid)
  OPS=$ops LKPP=$lkpp
  COP=$("$KC" -c "$c" --json person add --name "Dzielnicowy $name" --institution "$lkpp" --role police_officer --email "kpp@example.org" | jid)
  p2=$("$KC" -c "$c" --json person add --name "Animator $name" --institution "$ops" --role animator --email "animator@example.org" | jid)
  "$KC" -c "$c" --json agreement add --parties "$ops,$sp,$ngo,$lpcpr,$lkpp" --signed 2019-06-14 --until 2021-12-31 \
    --text "Porozumienie o współpracy w Gminno-Powiatowym Partnerskim Zespole Kooperacji" >/dev/null
  pzk=$("$KC" -c "$c" --json pzk create --name "G-PZK $name" --formed 2019-06-14 | jid)
  # each member represented by someone who works there (the animator for the OPS, the police officer for the KPP)
  "$KC" -c "$c" --json pzk join --pzk "$pzk" --institution "$ops" --date 2019-06-14 --representative "$p2" >/dev/null
  "$KC" -c "$c" --json pzk join --pzk "$pzk" --institution "$lkpp" --date 2019-06-14 --representative "$COP" >/dev/null
  for i in "$sp" "$ngo" "$lpcpr"; do
    "$KC" -c "$c" --json pzk join --pzk "$pzk" --institution "$i" --date 2019-06-14 >/dev/null
  done
  "$KC" -c "$c" --json service add --name "Klub seniora" --provider "$ops" --target seniors --category "czas wolny" \
    --area "$name" --schedule "wtorki 10-13" >/dev/null
  "$KC" -c "$c" --json service add --name "Świetlica środowiskowa" --provider "$ngo" --target children_youth,families \
    --category "opieka i wychowanie" --area "$name" --schedule "pon.-pt. 13-17" >/dev/null
  "$KC" -c "$c" --json service add --name "Pedagog szkolny – konsultacje dla rodziców" --provider "$sp" \
    --target families --category poradnictwo --area "$name" >/dev/null
}
# pesel YYMMDD NNNN: a PESEL with its check digit (the last of NNNN: odd men, even women)
pesel() {
  local d="$1$2" w=(1 3 7 9 1 3 7 9 1 3) s=0 i
  for i in 0 1 2 3 4 5 6 7 8 9; do s=$((s + ${d:$i:1} * ${w[$i]})); done
  echo "$d$(( (10 - s % 10) % 10 ))"
}
# cases: five families each, entered with their historical dates (outcomes: 3 successes, 1 not, 1 open)
load_cases() { # load_cases CONF
  local c=$1 k hh ipw goal task out
  local outcomes=(success success success no_success open)
  for k in 0 1 2 3 4; do
    hh=$("$KC" -c "$c" --json --as "$SW" household add --name "Rodzina $k" --pesel "$(pesel 850101 123$k)" --birth 1985-01-01 \
      --address "ul. Polna $k" --phone "+4860000000$k" --size $((2 + k % 3)) | jid)
    "$KC" -c "$c" --json --as "$SW" consent record --household "$hh" --purpose "Zgoda na współpracę w ZZK" \
      --share-with "$OPS,$LKPP" --date 2019-09-01 >/dev/null
    ipw=$("$KC" -c "$c" --json --as "$SW" ipw open --household "$hh" --coordinator "$SW" --opened 2019-09-0$((k + 1)) | jid)
    "$KC" -c "$c" --json --as "$SW" ipw member add --ipw "$ipw" --person "$COP" >/dev/null
    "$KC" -c "$c" --json --as "$SW" ipw activate --ipw "$ipw" --date 2019-09-15 >/dev/null
    goal=$("$KC" -c "$c" --json --as "$SW" goal add --ipw "$ipw" --area work --baseline 2 --target 7 | jid)
    task=$("$KC" -c "$c" --json --as "$SW" task add --ipw "$ipw" --goal "$goal" --owner "$COP" --due 2019-10-15 \
      --title "Wizyta dzielnicowego" | jid)
    "$KC" -c "$c" --json --as "$COP" task done --task "$task" --date 2019-10-10 >/dev/null
    "$KC" -c "$c" --json --as "$SW" goal scale --goal "$goal" --value $((4 + k)) --date 2020-06-01 >/dev/null
    out=${outcomes[$k]}
    [ "$out" = open ] || "$KC" -c "$c" --json --as "$SW" ipw close --ipw "$ipw" --date 2020-09-01 --outcome "$out" >/dev/null
  done
  # one task that is still to do, for the inbox and `task mine`
  "$KC" -c "$c" --json --as "$SW" task add --ipw "$ipw" --owner "$COP" --due 2031-02-01 --title "Spotkanie z rodziną" >/dev/null
}
say "Gmina Kobylin-Borzymy: OPS, szkoła, NGO, porozumienie, G-PZK, lista usług"
load_gmina "$G1" "Kobylin-Borzymy" 2013032
SW_G1=$SW; COP_G1=$COP
say "Kobylin-Borzymy: rodziny, IPW, cele, zadania (daty historyczne)"
load_cases "$G1"
say "Gmina Wysokie Mazowieckie"
load_gmina "$G2" "Wysokie Mazowieckie" 2013072
load_cases "$G2"


say "Kobylin-Borzymy: usługi dla rodzin (service search --target families)"
"$KC" -c "$G1" service search --target families
say "Kobylin-Borzymy: G-PZK"
"$KC" -c "$G1" pzk list
say "Kobylin-Borzymy: IPW (ipw list, jako pracownik socjalny)"
"$KC" -c "$G1" --as "$SW_G1" ipw list
say "Kobylin-Borzymy: zadania dzielnicowego (task mine) i jego skrzynka powiadomień"
"$KC" -c "$G1" --as "$COP_G1" task mine
for _ in $(seq 1 50); do [ "$("$KC" -c "$G1" --json --as "$COP_G1" inbox list | jq length)" -gt 0 ] && break; sleep 0.2; done
"$KC" -c "$G1" --as "$COP_G1" inbox list
say "Synchronizacja z powiatem: czekam, aż gminy wyślą wszystkie zdarzenia SHARED"
for _ in $(seq 1 150); do
  p1=$("$KC" -c "$G1" --json sync status | jq -r .pending); p2=$("$KC" -c "$G2" --json sync status | jq -r .pending)
  [ "$p1" = 0 ] && [ "$p2" = 0 ] && break; sleep 0.2
done
"$KC" -c "$G1" sync status
"$KC" -c "$H" sync status
say "Hub: ostatnie zdarzenia gminy Kobylin-Borzymy w kopii powiatu (bez danych osobowych)"
"$KC" -c "$H" events list --stream cases --node gmina-2013032 --limit 8
say "Ewaluacja: gmina Kobylin-Borzymy"
for _ in $(seq 1 50); do [ "$("$KC" -c "$G1" --json report evaluation | jq -r .ipw_opened)" = 5 ] && break; sleep 0.2; done
"$KC" -c "$G1" report evaluation
say "Ewaluacja: powiat wysokomazowiecki (z obu gmin, na hubie; małe liczby i to, z czego dałoby się je odczytać, ukryte)"
for _ in $(seq 1 50); do [ "$("$KC" -c "$H" --json report evaluation | jq -r .ipw_opened)" = 10 ] && break; sleep 0.2; done
"$KC" -c "$H" report evaluation
say "Strona WWW (logowanie kontami z hasłem demo-haslo-123)"
echo 'demo-haslo-123' | "$KC" -c "$G1" account create --person "$SW_G1" --login pracownik >/dev/null
echo 'demo-haslo-123' | "$KC" -c "$G1" account create --person "$COP_G1" --login dzielnicowy >/dev/null
echo "Gmina Kobylin-Borzymy: http://127.0.0.1:$WEB_G1/ (loginy: pracownik, dzielnicowy)"
echo "Gmina Wysokie Mazowieckie: http://127.0.0.1:$WEB_G2/"
echo "Powiat wysokomazowiecki (hub): http://127.0.0.1:$WEB_H/"
say "Gotowe. Katalog demonstracji: $DEMO"
