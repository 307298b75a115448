#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Shared set-up of tests/run.sh and examples/demo.sh on Debian 12 (bookworm)
# or Debian 13 (trixie) as root: installs the missing Debian packages of this
# release (quiet and quick when all are there), then configures and builds
# with meson into $ACOUSTOK_BUILD (default build/).
# Source it: it sets ACOUSTOK_ROOT, ACOUSTOK_BUILD and PY (Debian's python3).
# ACOUSTOK_SETUP_BUILD=0: install the packages only, build nothing (a CI
# stage that builds otherwise, e.g. .deb packages). Run directly
# (`bash scripts/setup.sh --list`) it prints this release's package list.
set -euo pipefail

ACOUSTOK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ACOUSTOK_BUILD=${ACOUSTOK_BUILD:-$ACOUSTOK_ROOT/build}
# Debian's python3 sees the python3-* packages; a python3 earlier on PATH may not.
PY=/usr/bin/python3
export ACOUSTOK_ROOT ACOUSTOK_BUILD PY

acoustok_apt_updated=0
acoustok_apt_update() {
  [ "$acoustok_apt_updated" = 1 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  acoustok_apt_updated=1
}

# The release from /etc/os-release: debian-12, debian-13 (also testing and
# unstable past trixie, whose names are trixie's so far), ubuntu-24.04, or
# unknown (then Debian 13's list is tried).
acoustok_release() {
  local ID="" VERSION_ID="" VERSION_CODENAME=""
  # shellcheck disable=SC1091
  [ -r /etc/os-release ] && . /etc/os-release
  case "$ID:$VERSION_ID:$VERSION_CODENAME" in
    debian:12:*|debian:*:bookworm) echo debian-12 ;;
    debian:13:*|debian:*:trixie|debian:*:forky|debian:*:sid|debian::*) echo debian-13 ;;
    ubuntu:24.04:*) echo ubuntu-24.04 ;;
    *) echo unknown ;;
  esac
}

# The major version of the distribution's default clang (the one the `clang`
# package depends on: 14 on Debian 12, 19 on Debian 13, 18 on Ubuntu 24.04),
# whose compiler-rt and libFuzzer the sanitizer and fuzz suites link.
acoustok_clang_major() {
  local deps
  deps=$(dpkg-query -W -f='${Status} ${Depends}\n' clang 2>/dev/null | sed -n 's/^install ok installed //p' || true)
  [ -n "$deps" ] || deps=$(apt-cache depends clang 2>/dev/null | sed -n 's/^ *Depends: //p' || true)
  grep -o 'clang-[0-9][0-9]*' <<<"$deps" | head -n 1 | cut -d- -f2 || true
}

acoustok_package_list() {
  local release clang
  release=$(acoustok_release)
  ACOUSTOK_PACKAGES=(
    # build
    g++ meson ninja-build pkg-config cmake
    libsndfile1-dev libsoxr-dev zlib1g-dev libeigen3-dev nlohmann-json3-dev libcli11-dev
    libsentencepiece-dev libtorch-dev libdnnl-dev libopenblas0-pthread libgloo-dev
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgtest-dev
    pybind11-dev python3-dev
    # run and test
    gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    python3 python3-numpy python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
    python3-torch python3-torchaudio python3-sklearn python3-sentencepiece python3-scipy
    espeak-ng sox lame man-db time
    # the full suite only: Slurm (tests/slurm), the report's rendering (chromium)
    slurmctld slurmd munge
  )
  case $release in
    debian-12)
      # Test-only references that Debian 13 no longer has: SPTK's command-line
      # tools (the MCD reference) and pydub (the silence-splitting reference;
      # Python 3.13 has no audioop). clang-format 14, whose formatting
      # .clang-format's check holds the tree to (tests/style).
      ACOUSTOK_PACKAGES+=(chromium sptk python3-pydub clang-format-14) ;;
    debian-13|unknown)
      ACOUSTOK_PACKAGES+=(chromium) ;;
    ubuntu-24.04)
      # Not tested (no Ubuntu machine here). Needs the universe component.
      # Ubuntu's chromium is a snap (not installable by apt in a container):
      # the report test needs one on PATH. Python 3.12 still has audioop.
      ACOUSTOK_PACKAGES+=(python3-pydub) ;;
  esac
  # The sanitizer and fuzz suites: clang with its compiler-rt and libFuzzer,
  # of the release's default clang version.
  clang=$(acoustok_clang_major)
  if [ -z "$clang" ] && [ "$(id -u)" -eq 0 ]; then  # no package lists yet (a fresh image)
    acoustok_apt_update
    clang=$(acoustok_clang_major)
  fi
  if [ -n "$clang" ]; then
    ACOUSTOK_PACKAGES+=(clang "libclang-rt-$clang-dev" "libfuzzer-$clang-dev")
  else
    echo "setup: no clang package found (apt-cache depends clang): the asan and fuzz suites will fail" >&2
  fi
}

acoustok_install_packages() {
  local missing=() p installed
  acoustok_package_list
  # One dpkg-query for all (quick when everything is there).
  installed=" $(dpkg-query -W -f='${Package} ${Status}\n' "${ACOUSTOK_PACKAGES[@]}" 2>/dev/null |
    sed -n 's/ install ok installed$//p' | tr '\n' ' ' || true) "
  for p in "${ACOUSTOK_PACKAGES[@]}"; do
    [[ $installed == *" $p "* ]] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]} ($(acoustok_release))" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root (or install the packages above yourself)" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  acoustok_apt_update
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

acoustok_build() {
  local jobs
  jobs=$(nproc)
  if [ ! -f "$ACOUSTOK_BUILD/build.ninja" ]; then
    meson setup "$ACOUSTOK_BUILD" "$ACOUSTOK_ROOT" --buildtype=release -Dtests=enabled "$@" >&2
  fi
  ninja -C "$ACOUSTOK_BUILD" -j "$jobs" >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "${1:-}" = --list ]; then
  acoustok_package_list
  printf '%s\n' "${ACOUSTOK_PACKAGES[@]}"
  exit 0
fi
acoustok_install_packages
if [ "${ACOUSTOK_SETUP_BUILD:-1}" != 0 ]; then
  acoustok_build "$@"
fi
