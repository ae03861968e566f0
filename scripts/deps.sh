#!/bin/sh
# deps.sh PURPOSE... - make sure the Debian packages koop needs are installed.
# PURPOSE: build | test | bench | demo | deb | boot | fuzz | faults (several may be given;
# make passes the ones its goals need, before it compiles anything). Installs what is
# missing when run as root; otherwise prints the one apt-get line to run and
# fails. `deps.sh --list PURPOSE...` only prints the packages, one a line
# (scripts/deb.sh writes the package's Build-Depends from `--list build`).
# Every package the build, the suite, the benchmarks or the demo use is named
# here: a fresh Debian 12 (minbase + make, git) has nothing else.
set -u
build="gcc make pkg-config protobuf-c-compiler libprotobuf-c-dev libzmq3-dev liblmdb-dev libuv1-dev
       libsodium-dev libinih-dev libjansson-dev libczmq-dev libcurl4-openssl-dev libmicrohttpd-dev libssl-dev"
want=""
list=0
[ "${1:-}" = --list ] && { list=1; shift; }
[ $# -gt 0 ] || set -- build
for purpose in "$@"; do
  case "$purpose" in
    build) want="$want $build" ;;
    # systemd: systemd-analyze checks the unit (tests/deploy); prometheus: promtool checks /metrics;
    # openssl: a self-signed certificate for the notifier tests' TLS relay;
    # chromium, chromium-driver (the same version) and python3-selenium: the browser test of the
    # web UI; nodejs and npm: axe-core from the npm registry for it (tests/browser);
    # python3-lmdb: the accountability tests edit LMDB values behind the services' back
    test)  want="$want $build libcriterion-dev jq lmdb-utils openssl procps python3-aiosmtpd python3-lmdb systemd prometheus
                 chromium chromium-driver python3-selenium nodejs npm" ;;
    bench) want="$want $build lmdb-utils procps postgresql wrk" ;;  # PostgreSQL: the sync comparison; wrk: the gateway
    demo)  want="$want $build jq procps python3" ;;
    # make deb: debhelper (with dpkg-dev), and build-essential, which
    # dpkg-buildpackage requires besides the Build-Depends
    deb)   want="$want $build debhelper build-essential" ;;
    # tests/deploy/unit_boot.sh: a Debian 12 container booted with systemd
    boot)  want="$want $build debhelper build-essential systemd-container mmdebstrap" ;;
    faults) want="$want $build libcriterion-dev lmdb-utils procps iproute2" ;;  # ip netns: the link cut
    fuzz)  want="$want $build clang libclang-rt-14-dev" ;;  # libFuzzer's runtime for clang 14
    *) echo "deps.sh: unknown purpose $purpose" >&2; exit 2 ;;
  esac
done
want=$(printf '%s\n' $want | sort -u)
[ $list = 1 ] && { printf '%s\n' $want; exit 0; }
# A package is there when it is installed, or when an installed package
# provides it (a Node.js that brings its own npm provides npm).
provided=$(dpkg-query -W -f='${Status} ${Provides}\n' 2>/dev/null | sed -n 's/^install ok installed //p' | tr ',' '\n' | sed 's/ *(.*//; s/^ *//')
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
  printf '%s\n' "$provided" | grep -qx "$p" && continue
  missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps.sh: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq $missing >/dev/null || { echo "deps.sh: apt-get install failed" >&2; exit 1; }
else
  echo "Brakuje pakietów. Zainstaluj je poleceniem:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
