#!/usr/bin/env bash
# deb.sh OUTDIR - build the Debian package koop (make deb).
# Copies the tree (without build products) to OUTDIR/koop-VERSION, makes its
# debian/ from deploy/debian with debian/changelog from the file VERSION and
# Build-Depends from scripts/deps.sh, runs dpkg-buildpackage there and puts
# the package beside OUTDIR's parent: OUTDIR/../koop_VERSION_ARCH.deb
# (build/koop_0.9.0_amd64.deb by default). The build packages are installed
# by `make deb` (deps.sh deb) before this runs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: deb.sh OUTDIR}
version=$(cat VERSION)
case "$version" in
  [0-9]*) ;;
  *) echo "deb.sh: VERSION '$version' is not a Debian version (it must start with a digit)" >&2; exit 2 ;;
esac
stage="$out/koop-$version"
rm -rf "$out"
mkdir -p "$stage"
tar --exclude=./build --exclude=./bin --exclude=./.git --exclude=./debian -cf - . | tar -xf - -C "$stage"
cp -r deploy/debian "$stage/debian"
build_deps=$(scripts/deps.sh --list build | paste -sd, - | sed 's/,/, /g')
sed -i "s/@BUILD_DEPENDS@/$build_deps/" "$stage/debian/control"
# the date of the last commit when there is one, so a rebuild of the same
# tree gives the same changelog
when=$(git log -1 --format=%cD 2>/dev/null || date -R)
cat >"$stage/debian/changelog" <<CHANGES
koop ($version) bookworm; urgency=medium

  * koop $version (the file VERSION of the source tree).

 -- koop developers <koop@localhost>  $when
CHANGES
(cd "$stage" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 || {
  tail -30 "$out/build.log" >&2
  echo "deb.sh: dpkg-buildpackage failed; the whole log: $out/build.log" >&2
  exit 1
}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb="koop_${version}_${arch}.deb"
cp "$out/$deb" "$out/../$deb"
echo "$(cd "$out/.." && pwd)/$deb"
