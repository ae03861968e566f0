#!/usr/bin/env bash
# make demo: the powiat wysokomazowiecki hub and its two gminas of the
# "Liderzy kooperacji" pilot (seed 003), each node with its own directory,
# config and keys under build/demo (KOOP_DEMO_DIR); sample data of two years
# from tools/demo/koop-demo-data; one gmina taken offline and back; the
# reports compared with the data entered; the powiat's evaluation and where
# each node's web UI listens. Runs until Ctrl-C; DEMO_ONESHOT=1 stops the
# nodes and exits 0 after the report (non-zero when a figure disagrees).
set -euo pipefail
cd "$(dirname "$0")/.."
KC=./bin/koopctl
KN=./bin/koop-node
DEMO=${KOOP_DEMO_DIR:-$PWD/build/demo}
PIDS=()
declare -A PID_OF
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
jid() { jq -er '.id'; }
start() { # start CONF: run koop-node in the background until `status` answers
  "$KN" -c "$1" >>"$(dirname "$1")/node.log" 2>&1 &
  PIDS+=("$!"); PID_OF[$1]=$!
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

say "Dane przykładowe: tools/demo/koop-demo-data (ziarno 3, dwa lata historii)"
tools/demo/koop-demo-data --koopctl "$KC" --hub "$H" \
  --gmina "$G1:2013032:Kobylin-Borzymy" --gmina "$G2:2013072:Wysokie Mazowieckie" \
  --seed 3 --households 12 --expect "$DEMO/expected.json"

pending() { "$KC" -c "$1" --json sync status | jq -r .pending; }
synced() { # synced CONF...: wait until each gmina has sent every SHARED event
  local c
  for _ in $(seq 1 300); do
    for c in "$@"; do [ "$(pending "$c")" = 0 ] || continue 2; done
    return 0
  done
  echo "gmina nie wysłała wszystkich zdarzeń do powiatu" >&2; exit 1
}
say "Synchronizacja z powiatem"
synced "$G1" "$G2"
"$KC" -c "$H" sync status

say "Gmina Wysokie Mazowieckie bez łączności (węzeł zatrzymany), Kobylin-Borzymy pracuje dalej"
kill -TERM "${PID_OF[$G2]}"; wait "${PID_OF[$G2]}" 2>/dev/null || true
"$KC" -c "$G1" --json --as "$(jq -r --arg c "$G1" '.gminas[$c].people.sw' "$DEMO/expected.json")" household add \
  --name "Rodzina Zawadzkich" --size 2 --date "$(date +%F)" >/dev/null
jq --arg c "$G1" '.gminas[$c].figures.households_registered += 1 | .hub.figures.households_registered += 1' \
  "$DEMO/expected.json" >"$DEMO/expected.tmp" && mv "$DEMO/expected.tmp" "$DEMO/expected.json"
sleep 1
"$KC" -c "$H" sync status
say "Wysokie Mazowieckie wraca: węzeł startuje i dosyła, co zapisano"
start "$G2"
synced "$G1" "$G2"
"$KC" -c "$H" sync status

say "Raporty a wprowadzone dane"
ok=0
for _ in $(seq 1 100); do
  tools/demo/koop-demo-data --check "$DEMO/expected.json" --koopctl "$KC" --hub "$H" >"$DEMO/check.log" && { ok=1; break; }
  sleep 0.3
done
cat "$DEMO/check.log"
[ "$ok" = 1 ] || { echo "raport nie zgadza się z danymi demonstracji" >&2; exit 1; }

say "Ewaluacja: powiat wysokomazowiecki (na hubie, z obu gmin; małe liczby ukryte)"
"$KC" -c "$H" report evaluation

say "Strony WWW (hasło wszystkich kont: demo-haslo-123)"
echo "Powiat wysokomazowiecki (hub):  http://127.0.0.1:$WEB_H/   login: powiat (koordynator PCPR)"
echo "Gmina Kobylin-Borzymy:           http://127.0.0.1:$WEB_G1/   loginy: koordynator, pracownik, dzielnicowy"
echo "Gmina Wysokie Mazowieckie:       http://127.0.0.1:$WEB_G2/   loginy: koordynator, pracownik, dzielnicowy"
echo "Katalog demonstracji: $DEMO (konfiguracje, klucze, dane, node.log)"
if [ "${DEMO_ONESHOT:-0}" = 1 ]; then
  say "Gotowe (DEMO_ONESHOT=1: węzły zatrzymane)"
  exit 0
fi
say "Węzły działają; Ctrl-C kończy demonstrację"
trap 'echo; echo "Zatrzymuję węzły…"; exit 0' INT TERM
while :; do sleep 3600 & wait $!; done
