#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian 13 ("trixie": LibTorch 2.6, oneDNN 3.7, GStreamer 1.26, GCC 14,
# SentencePiece 0.2) stage of CI, run from a Debian 12 (or any Debian) host
# as root:
#   1. a trixie root made by debootstrap from the mirror apt already uses,
#      kept under $ACOUSTOK_DEBIAN13_CACHE (default /var/cache/acoustok-ci,
#      this script's own folder) and reused by later runs on the same machine;
#   2. inside it, scripts/setup.sh installs Debian 13's packages; the .deb
#      packages are built there in release mode, test programs included
#      (dpkg-buildpackage -b, tests/packages/check.sh, which also runs
#      lintian: any error fails), and the core, tools, torch and gst suites
#      run in that same build tree (sanitizers, fuzzing, live, Slurm and
#      install stay on the native stage): one build, both checked;
#   3. the packages installed into a clean trixie root, where the installed
#      programs run with no environment variables (tests/packages/smoke.sh).
# Prints the time of each step. .ci/run starts `--fetch` (step 1 and the
# package installs of step 2: mostly downloads) in the background, niced,
# while tests/run.sh runs the native stages, and this stage after them;
# `--prepare` goes on to build the packages. The stage waits for either
# through a lock and does again only what they did not.
#   tests/debian13/run.sh [--fetch | --prepare]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${ACOUSTOK_DEBIAN13_CACHE:-/var/cache/acoustok-ci}
base=$cache/trixie-base    # debootstrap's root, never modified after
build=$cache/trixie-build  # base + build and test packages + the source tree
clean=$cache/trixie-clean  # base + the .debs alone, made afresh every run
exec 1>&2
[ "$(id -u)" -eq 0 ] || { echo "debian13: needs root (debootstrap, chroot)"; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/stage.lock"
flock 9

t0=$SECONDS
step() { printf 'debian13: [%4d s] %s\n' "$((SECONDS - t0))" "$*"; }

# The mirror of the host's own Debian sources (deb822 or one-line format).
host_mirror() {
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list |
        grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v -- '-security' | head -1 | tr -d ' ')
  echo "${uri:-http://deb.debian.org/debian}"
}

mounted=()
mount_into() {  # the kernel file systems a build and its tests need
  local r=$1
  mount -t proc proc "$r/proc"
  mount --rbind /dev "$r/dev" && mount --make-rslave "$r/dev"
  mount --rbind /sys "$r/sys" && mount --make-rslave "$r/sys"
  mounted+=("$r")
  cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
}
unmount_all() {
  for r in "${mounted[@]}"; do
    for m in proc dev sys; do umount -R "$r/$m" 2>/dev/null || umount -lR "$r/$m" 2>/dev/null || true; done
  done
}
trap unmount_all EXIT
in_root() {  # in_root ROOT COMMAND...: as root in a clean environment
  local r=$1; shift
  chroot "$r" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb \
    DEBIAN_FRONTEND=noninteractive "$@"
}

# 1. The base root, made again after a week (trixie's point releases move
# its packages; an old root's package lists would point at removed files).
if [ ! -f "$base/.acoustok-complete" ] || [ -n "$(find "$base/.acoustok-complete" -mtime +7)" ]; then
  step "debootstrap trixie from $(host_mirror)"
  command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
  rm -rf "$base" "$build"
  debootstrap --variant=minbase trixie "$base" "$(host_mirror)" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log"; exit 1; }
  # Packages' documentation is not needed here (and keeps the roots small).
  printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/locale/*\n' \
    >"$base/etc/dpkg/dpkg.cfg.d/01-acoustok-nodoc"
  touch "$base/.acoustok-complete"
fi
if [ ! -d "$build" ]; then cp -a "$base" "$build"; fi
mount_into "$build"

# 2. The source tree (what git tracks, and new files it does not ignore), the
# packages of Debian 13 this project builds and tests with, and the build:
# the .deb packages' own (dpkg-buildpackage in release mode with the test
# programs, its `core` suite run by debian/rules), kept for the suites below.
step "copying the source tree"
rm -rf "$build/src/acoustok"
mkdir -p "$build/src/acoustok"
git -C "$root" ls-files -z --cached --others --exclude-standard |
  (cd "$root" && tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$build/src/acoustok" -xf -
step "installing Debian 13's packages (scripts/setup.sh)"
if ! in_root "$build" env ACOUSTOK_SETUP_BUILD=0 bash /src/acoustok/scripts/setup.sh >"$cache/setup.log" 2>&1; then
  tail -40 "$cache/setup.log"; exit 1
fi
in_root "$build" sh -c 'echo "LibTorch $(dpkg-query -W -f="\${Version}" libtorch-dev), oneDNN $(dpkg-query -W -f="\${Version}" libdnnl-dev), GStreamer $(dpkg-query -W -f="\${Version}" libgstreamer1.0-dev), SentencePiece $(dpkg-query -W -f="\${Version}" libsentencepiece-dev), $(g++ --version | head -1)"' |
  sed 's/^/debian13: /'
[ "${1:-}" = --fetch ] && { step "fetched"; exit 0; }
# The packages are built again when the tree differs from theirs.
tree_id=$(cd "$build/src/acoustok" && find . -type f -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-40)
if [ "$(cat "$build/src/debs/.acoustok-tree" 2>/dev/null)" != "$tree_id" ]; then
  # No debug information in CI's build (a third of its compile time; the
  # packages are otherwise as a user builds them).
  step "dpkg-buildpackage and lintian (tests/packages/check.sh)"
  rm -rf "$build/src/debs"
  if ! in_root "$build" env DEB_BUILD_OPTIONS="parallel=$(nproc) noddebs" DEB_CXXFLAGS_STRIP=-g \
      ACOUSTOK_PACKAGES_WORK=/src/pkg bash /src/acoustok/tests/packages/check.sh /src/acoustok /src/debs \
      >"$cache/packages.log" 2>&1; then
    tail -60 "$cache/packages.log"; exit 1
  fi
  grep -E '^(packages|lintian):' "$cache/packages.log" | sed 's/^/debian13: /' || true
  echo "$tree_id" >"$build/src/debs/.acoustok-tree"
fi
[ "${1:-}" = --prepare ] && { step "prepared"; exit 0; }

step "core, tools, torch and gst suites (in the packages' build tree)"
obj=$(cd "$build" && ls -d src/pkg/acoustok-*/obj-* | head -1)
status=0
in_root "$build" sh -c "cd /$obj && rm -f ./*.xml tests/*.xml &&
  meson test --no-rebuild --print-errorlogs --suite core --suite tools --suite torch --suite gst" >"$cache/test.log" 2>&1 ||
  status=1
grep -E '^ *[0-9]+/[0-9]+ ' "$cache/test.log" | sed 's/^/debian13: /' || true
[ $status -eq 0 ] || grep -E -A40 '^(=+ [0-9]+/[0-9]+ =+|-+ (stdout|stderr) -+)' "$cache/test.log" | head -300 || true
in_root "$build" /usr/bin/python3 /src/acoustok/tests/summarize.py "/$obj" | sed 's/^/debian13: /' || status=1

# 3. The packages alone in a clean root.
step "installing the packages into a clean root (tests/packages/smoke.sh)"
rm -rf "$clean"
cp -a "$base" "$clean"
mount_into "$clean"
mkdir -p "$clean/smoke"
cp -a "$build"/src/debs/. "$clean/smoke/"
if ! in_root "$clean" bash /smoke/smoke.sh /smoke >"$cache/smoke.log" 2>&1; then
  tail -60 "$cache/smoke.log"; exit 1
fi
grep -E '^(ok|PASS|FAIL)' "$cache/smoke.log" | sed 's/^/debian13: /'
step "done"
exit $status
