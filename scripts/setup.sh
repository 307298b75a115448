#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Shared set-up of tests/run.sh and examples/demo.sh on Debian 12 as root:
# installs the missing Debian packages (quiet and quick when all are there),
# then configures and builds with meson into $ACOUSTOK_BUILD (default build/).
# Source it: it sets ACOUSTOK_ROOT, ACOUSTOK_BUILD and PY (Debian's python3).
set -euo pipefail

ACOUSTOK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ACOUSTOK_BUILD=${ACOUSTOK_BUILD:-$ACOUSTOK_ROOT/build}
# Debian's python3 sees the python3-* packages; a python3 earlier on PATH may not.
PY=/usr/bin/python3
export ACOUSTOK_ROOT ACOUSTOK_BUILD PY

ACOUSTOK_PACKAGES=(
  # build
  g++ meson ninja-build pkg-config cmake
  libsndfile1-dev libsoxr-dev zlib1g-dev libeigen3-dev nlohmann-json3-dev libcli11-dev
  libsentencepiece-dev libtorch-dev libdnnl-dev libopenblas0-pthread
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgtest-dev
  clang libclang-rt-14-dev libfuzzer-14-dev libgloo-dev libsptk-dev
  # run and test
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  python3 python3-numpy python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 python3-torch python3-torchaudio python3-sklearn
  python3-sentencepiece python3-pydub python3-scipy espeak-ng sox lame
  slurmctld slurmd munge sptk help2man man-db time chromium
)

acoustok_install_packages() {
  local missing=()
  for p in "${ACOUSTOK_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root (or install the packages above yourself)" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
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

acoustok_install_packages
acoustok_build "$@"
