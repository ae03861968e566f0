#!/usr/bin/env bash
# unit_boot.sh - the systemd unit under a real systemd: boots a Debian 12
# container (systemd-nspawn) with the package installed, and checks there
# what `systemd-analyze` cannot: that the hardened unit runs a hub and a gmina
# that sync, that `systemctl start` returns once koop-node said READY=1, that
# a stop is clean, and that a refused start ends as status 78, not restarted.
#   tests/deploy/unit_boot.sh        (as root; installs systemd-container and
#                                     mmdebstrap when missing; a few minutes)
# Booting the unit this way found two things a syntax check cannot: libzmq
# aborts without AF_NETLINK (a tcp:// bind) and without sched_setscheduler
# (@resources) - see deploy/systemd/koop-node@.service.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "unit_boot.sh: must run as root" >&2; exit 2; }
scripts/deps.sh boot
deb=$(make -s deb | tail -1)
root=$(mktemp -d /tmp/koop-boot.XXXXXX)
mounted=0
cleanup() {
  [ $mounted = 1 ] && umount /run/systemd/nspawn 2>/dev/null || true
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

echo "== a Debian 12 with systemd in $root"
# with the libraries the package depends on, so that dpkg -i configures it
libs=$(dpkg-deb -f "$deb" Depends | sed 's/([^)]*)//g; s/ //g')
mmdebstrap --quiet --variant=minbase --include="systemd,systemd-sysv,dbus,procps,$libs" bookworm "$root"
cp "$deb" "$root/opt/koop.deb"
chroot "$root" dpkg -i /opt/koop.deb >/dev/null

# runs at boot, writes /opt/result (PASS or the FAIL lines) and powers off
cat >"$root/opt/selftest.sh" <<'SELFTEST'
#!/bin/bash
exec >/opt/selftest.log 2>&1
fails=()
check() { local what=$1; shift; if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails+=("$what"); fi; }
prop() { systemctl show -p "$2" --value "koop-node@$1"; }
G=/etc/koop/gmina/koop.conf
koopctl node init /etc/koop/powiat --role hub --teryt 2013 --name "Powiat wysokomazowiecki" \
  --listen tcp://0.0.0.0:27700 --data-dir /var/lib/koop/powiat --runtime-dir /run/koop/powiat
koopctl node init /etc/koop/gmina --role gmina --teryt 2013032 --name "Gmina Kobylin-Borzymy" \
  --data-dir /var/lib/koop/gmina --runtime-dir /run/koop/gmina \
  --hub tcp://127.0.0.1:27700 --hub-key /etc/koop/powiat/keys/node.pub
koopctl -c /etc/koop/powiat/koop.conf enrol /etc/koop/gmina/keys/node.pub
chown -R koop:koop /etc/koop/powiat /etc/koop/gmina
check "systemctl start returns after READY=1" systemctl start koop-node@powiat koop-node@gmina
check "every service answers right after start" koopctl -c "$G" status
check "the node runs as koop" [ "$(ps -o user= -p "$(prop gmina MainPID)")" = koop ]
check "runtime dir 0700 koop" [ "$(stat -c %a:%U /run/koop/gmina)" = 700:koop ]
check "data dir 0700 koop" [ "$(stat -c %a:%U /var/lib/koop/gmina)" = 700:koop ]
koopctl -c "$G" --json institution add --name "OPS" --sector social_assistance --level gmina >/dev/null
synced=0
for _ in $(seq 1 50); do
  koopctl -c "$G" --json sync status | grep -q '"connected": true' &&
    koopctl -c "$G" --json sync status | grep -q '"pending": 0' && { synced=1; break; }
  sleep 0.2
done
check "the gmina syncs to the hub through the hardened unit" [ $synced = 1 ]
score=$(systemd-analyze security koop-node@gmina | awk '/Overall exposure level/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+$/) print $i}')
echo "exposure of the running unit: $score"
check "exposure <= 2.0" awk -v s="${score:-99}" 'BEGIN { exit !(s + 0 <= 2.0) }'
B=/var/lib/koop-backup/gmina/first
check "a backup of the running node under the hardened unit" koopctl -c "$G" backup "$B"
check "the backup belongs to koop, 0700" [ "$(stat -c %a:%U "$B")" = 700:koop ]
koopctl -c "$G" --json backup /tmp/kopia 2>/tmp/unseen.err
check "a backup where the unit cannot write (its own /tmp) is refused and says where" \
  bash -c "grep -q backup.dir_unseen /tmp/unseen.err && grep -q koop-backup /tmp/unseen.err && [ ! -e /tmp/kopia ]"
check "systemctl stop" systemctl stop koop-node@gmina
check "the stop is a success" [ "$(prop gmina Result)" = success ]
check "restore (as root, the node stopped)" koopctl -c "$G" restore "$B"
check "the restored files belong to koop" [ "$(stat -c %U /var/lib/koop/gmina/registry/data.mdb)" = koop ]
check "the restored node starts under the unit" systemctl start koop-node@gmina
check "the restored node holds what was backed up" bash -c "koopctl -c $G --json institution list | grep -q OPS"
check "and stops" systemctl stop koop-node@gmina
sed -i 's/^id = .*/id = gmina-inna/' "$G"
systemctl start koop-node@gmina && fails+=("a node with another id started")
sleep 12   # longer than RestartSec: a restart would have happened
check "a refused start exits 78" [ "$(prop gmina ExecMainStatus)" = 78 ]
check "a refused start is not restarted" [ "$(prop gmina NRestarts)" = 0 ]
check "the unit ends failed" [ "$(prop gmina ActiveState)" = failed ]
check "the journal says why, in Polish" bash -c "journalctl -u koop-node@gmina | grep -q 'należą do węzła gmina-2013032'"
journalctl -u koop-node@gmina -u koop-node@powiat --no-pager | tail -40
if [ ${#fails[@]} = 0 ]; then echo PASS >/opt/result; else printf 'FAIL: %s\n' "${fails[@]}" >/opt/result; fi
systemctl poweroff
SELFTEST
chmod +x "$root/opt/selftest.sh"
cat >"$root/etc/systemd/system/koop-selftest.service" <<'UNIT'
[Unit]
Description=koop unit self-test
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/opt/selftest.sh
[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -s /etc/systemd/system/koop-selftest.service "$root/etc/systemd/system/multi-user.target.wants/"

# systemd-nspawn keeps state in /run/systemd/nspawn and refuses to clean it
# when /run is not a tmpfs (a machine without systemd as its init)
if ! findmnt -n -t tmpfs /run >/dev/null && ! findmnt -n /run/systemd/nspawn >/dev/null; then
  mkdir -p /run/systemd/nspawn && mount -t tmpfs tmpfs /run/systemd/nspawn && mounted=1
fi
echo "== booting"
timeout 300 systemd-nspawn --quiet --register=no --keep-unit -D "$root" -b >"$root/opt/console.log" 2>&1 || true
cat "$root/opt/selftest.log" 2>/dev/null | grep -E '^(ok|FAIL|exposure)' || true
[ -f "$root/opt/result" ] || { tail -30 "$root/opt/console.log"; echo "FAIL: the self-test did not finish"; exit 1; }
if [ "$(cat "$root/opt/result")" = PASS ]; then
  echo "unit boot: hub and gmina under koop-node@.service: start on READY, sync, backup, clean stop, restore, refusal = 78 without restart"
else
  cat "$root/opt/result"; tail -40 "$root/opt/selftest.log"; exit 1
fi
