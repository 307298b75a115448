#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds acoustok's Debian packages and checks them with lintian; run as root
# inside a Debian 12 or 13 build root (a chroot, a container) that holds the
# source tree. Steps:
#  1. installs dpkg-dev, debhelper, lintian and the build dependencies of
#     debian/control (apt-get build-dep on the source folder);
#  2. builds in a copy of the source tree (the checkout is left as it was):
#     dpkg-buildpackage -b -uc -us, DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)"
#     unless DEB_BUILD_OPTIONS is set;
#  3. lintian on the .changes: any error fails (warnings are printed);
#  4. leaves in OUT_DIR the .deb files (with the -dbgsym ones), the .changes
#     and .buildinfo, build.log and lintian.txt, and for a clean root
#     smoke.sh and smoke-inputs/ (the small feature model and the recording
#     it runs on, from tests/fixtures): there, `OUT_DIR/smoke.sh OUT_DIR`
#     installs the packages and runs them (tests/packages/smoke.sh).
# Usage: tests/packages/check.sh [SOURCE_DIR] OUT_DIR
#   SOURCE_DIR defaults to the tree this script is in.
# ACOUSTOK_PACKAGES_NO_APT=1: install nothing (the build root has it all).
# ACOUSTOK_PACKAGES_WORK=DIR: build in DIR and keep it (see below).
set -euo pipefail

case $# in
  1) src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd) ;;
  2) src=$(cd "$1" && pwd); shift ;;
  *) echo "usage: $0 [SOURCE_DIR] OUT_DIR" >&2; exit 2 ;;
esac
mkdir -p "$1"
out=$(cd "$1" && pwd)
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-nocheck parallel=$(nproc)}
step() { printf '\n== %s\n' "$*"; }

# --- 1. tools and build dependencies
if [ "${ACOUSTOK_PACKAGES_NO_APT:-0}" != 1 ]; then
  step "build dependencies ($(. /etc/os-release && echo "$PRETTY_NAME"))"
  [ "$(id -u)" -eq 0 ] || { echo "run as root (or set ACOUSTOK_PACKAGES_NO_APT=1)" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends dpkg-dev debhelper lintian >/dev/null
  profiles=()
  case " $DEB_BUILD_OPTIONS " in *" nocheck "*) profiles=(-P nocheck) ;; esac
  apt-get build-dep -y -qq --no-install-recommends "${profiles[@]}" "$src/" >/dev/null
fi

# --- 2. the build, in a copy of the tree (only the files git would commit
# when it is a git checkout; else all but build outputs)
# ACOUSTOK_PACKAGES_WORK=DIR: build there and keep it (the Debian 13 CI stage
# runs the test suites in the build tree the packages came from).
if [ -n "${ACOUSTOK_PACKAGES_WORK:-}" ]; then
  work=$ACOUSTOK_PACKAGES_WORK
  rm -rf "$work" && mkdir -p "$work"
else
  work=$(mktemp -d /var/tmp/acoustok-deb.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
tree=$work/acoustok-${version%-*}
mkdir -p "$tree"
if command -v git >/dev/null && git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$src" && git ls-files -co --exclude-standard -z | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
    tar -C "$tree" -xf -
else
  tar -C "$src" --exclude=./.git --exclude='./build' --exclude='./build-*' --exclude='./obj-*' \
    --exclude=./demo-output --exclude=./models/xlsr53 --exclude=./debian/tmp --exclude=./debian/.debhelper -cf - . |
    tar -C "$tree" -xf -
fi

step "dpkg-buildpackage -b -uc -us (DEB_BUILD_OPTIONS=\"$DEB_BUILD_OPTIONS\")"
start=$(date +%s)
if ! (cd "$tree" && dpkg-buildpackage -b -uc -us) >"$out/build.log" 2>&1; then
  tail -n 60 "$out/build.log"
  echo "FAIL: dpkg-buildpackage (whole log: $out/build.log)"
  exit 1
fi
changes=$(ls "$work"/acoustok_*.changes)
rm -f "$out"/*.deb "$out"/*.ddeb
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out/"
cp "$work"/*.ddeb "$out/" 2>/dev/null || true  # -dbgsym packages, where debhelper names them so
(cd "$out" && echo "packages: built in $(( $(date +%s) - start )) s:" $(ls ./*.deb | grep -v -- -dbgsym_ | sed 's|^\./||'))

# --- 3. lintian
step "lintian $(basename "$changes")"
lintian_status=0
lintian --fail-on error --display-info --tag-display-limit 0 "$changes" >"$out/lintian.txt" 2>&1 || lintian_status=$?
cat "$out/lintian.txt"
errors=$(grep -c '^E: ' "$out/lintian.txt" || true)
echo "lintian: $errors errors, $(grep -c '^W: ' "$out/lintian.txt" || true) warnings, $(grep -c '^I: ' "$out/lintian.txt" || true) notes"
if [ "$lintian_status" -ne 0 ] || [ "$errors" -ne 0 ]; then
  echo "FAIL: lintian reports errors (exit status $lintian_status)"
  exit 1
fi

# --- 4. the smoke test and its inputs, for a clean root
rm -rf "$out/smoke-inputs"
mkdir -p "$out/smoke-inputs/xlsr" "$out/smoke-inputs/silence"
install -m 755 "$src/tests/packages/smoke.sh" "$out/smoke.sh"
cp -r "$src/tests/fixtures/xlsr/xlsr_st" "$out/smoke-inputs/xlsr/"
cp "$src/tests/fixtures/silence/speech_pauses.wav" "$out/smoke-inputs/silence/"
echo "PASS: packages built and lintian-clean in $out (next, in a clean root: $out/smoke.sh $out)"
