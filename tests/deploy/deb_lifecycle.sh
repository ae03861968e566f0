#!/usr/bin/env bash
# deb_lifecycle.sh - the Debian package's whole life on a brand-new Debian 12,
# as the outside operations check does it and further. Run it in a fresh root:
#   ../shared/tools/fresh-debian . -- tests/deploy/deb_lifecycle.sh
# It changes the machine it runs on (installs, makes users, purges): never run
# it on a machine of your own.
#   1. make deb (installs its own build packages), dpkg -i: the koop user, the
#      programs in /usr/bin, the unit, sysusers.d; koopctl --version;
#   2. a gmina node laid out as docs/OPERATIONS.md says, run as koop, holding
#      one institution;
#   3. an upgrade to the next patch version built from the same tree: dpkg -i
#      over it, the new version runs, the user, config, keys and data are kept;
#   4. dpkg --purge: nothing is left but the koop user (Debian keeps system users).
set -euo pipefail
step() { printf '== %s\n' "$*"; }
fail() { echo "FAIL: $*"; exit 1; }
# every path on the root file system, but those that change by themselves
snapshot() {
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /src -o -path /root \
    -o -path /var/cache -o -path /var/log -o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /run \) -prune \
    -o -print | sort
}
# runs a program as the koop user; setpriv execs it, so $! is the program itself
as_koop="setpriv --reuid=koop --regid=koop --init-groups --"
node_up() { # wait until every service of the node answers
  for _ in $(seq 1 100); do koopctl -c /etc/koop/gmina/koop.conf status >/dev/null 2>&1 && return 0; sleep 0.2; done
  cat /tmp/node.log; fail "the node did not come up"
}

step "make deb $(cat VERSION)"
make deb >/tmp/deb.log 2>&1 || { tail -20 /tmp/deb.log; fail "make deb"; }
old=$(ls -t build/*.deb | head -1)
snapshot >/tmp/before
dpkg -i "$old" >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i $old"; }
id koop || fail "no koop user"
[ -x /usr/bin/koopctl ] && [ -x /usr/bin/koop-node ] && [ -x /usr/bin/koop-registry ] || fail "programs missing"
[ -f /lib/systemd/system/koop-node@.service ] && [ -f /usr/lib/sysusers.d/koop.conf ] || fail "unit or sysusers missing"
[ "$(stat -c %U:%G:%a /etc/koop)" = root:koop:750 ] || fail "/etc/koop is $(stat -c %U:%G:%a /etc/koop)"
koopctl --version | grep -qx "koop $(cat VERSION)" || fail "koopctl --version: $(koopctl --version)"

step "a gmina node as docs/OPERATIONS.md lays it out, run as koop"
koopctl node init /etc/koop/gmina --role gmina --teryt 2013032 --name "Gmina Kobylin-Borzymy" \
  --data-dir /var/lib/koop/gmina --runtime-dir /run/koop/gmina
chown -R koop:koop /etc/koop/gmina /var/lib/koop/gmina /run/koop/gmina
$as_koop koop-node -c /etc/koop/gmina/koop.conf >/tmp/node.log 2>&1 &
pid=$!
node_up
id1=$(koopctl -c /etc/koop/gmina/koop.conf --json institution add --name "OPS Kobylin-Borzymy" \
  --sector social_assistance --level gmina | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p')
[ -n "$id1" ] || fail "institution add"
kill -TERM "$pid"; wait "$pid" || fail "koop-node did not stop cleanly"

step "upgrade to the next patch version"
v=$(cat VERSION); next="${v%.*}.$(( ${v##*.} + 1 ))"
echo "$next" >VERSION
make deb >/tmp/deb2.log 2>&1 || { tail -20 /tmp/deb2.log; fail "make deb $next"; }
new=build/koop_${next}_$(dpkg --print-architecture).deb
dpkg -i "$new" >/tmp/dpkg2.log 2>&1 || { cat /tmp/dpkg2.log; fail "dpkg -i $new over $old"; }
[ "$(dpkg-query -W -f='${Version}' koop)" = "$next" ] || fail "installed version is not $next"
koopctl --version | grep -qx "koop $next" || fail "koopctl --version after the upgrade: $(koopctl --version)"
koop-node --version | grep -qx "koop $next" || fail "koop-node --version after the upgrade"
id koop >/dev/null || fail "the upgrade lost the koop user"
[ -f /etc/koop/gmina/koop.conf ] && [ -f /etc/koop/gmina/keys/node.key ] || fail "the upgrade lost the node's config or keys"
$as_koop koop-node -c /etc/koop/gmina/koop.conf >/tmp/node.log 2>&1 &
pid=$!
node_up
koopctl -c /etc/koop/gmina/koop.conf --json institution show --id "$id1" | grep -q "OPS Kobylin-Borzymy" \
  || fail "the institution written before the upgrade is gone"
kill -TERM "$pid"; wait "$pid" || fail "koop-node did not stop cleanly"

step "purge"
dpkg --purge koop >/tmp/purge.log 2>&1 || { cat /tmp/purge.log; fail "dpkg --purge koop"; }
[ ! -e /usr/bin/koopctl ] || fail "/usr/bin/koopctl is still there"
snapshot >/tmp/after
# the koop user stays, and with it the backups useradd makes of the user databases
left=$(comm -13 /tmp/before /tmp/after | grep -vxE '/etc/(passwd|group|shadow|gshadow)-' || true)
[ -z "$left" ] || fail "purge left behind: $left"
gone=$(comm -23 /tmp/before /tmp/after || true)
[ -z "$gone" ] || fail "install + purge removed: $gone"
echo "deb lifecycle: installed $old, upgraded to $next, purged clean (koop user kept)"
