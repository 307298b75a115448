#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `meson setup` refuses libraries it cannot build against with one clear
# message, before any compile: a -Dlibtorch= folder that holds no LibTorch
# (naming what it looked for), a LibTorch older than 1.13 and a oneDNN older
# than 2.6 (naming the versions found and wanted). The old versions are
# stand-in folders: the system's LibTorch with another version.h, or another
# dnnl_version.h first on its include path. And the other side: the system's
# own LibTorch, given as a -Dlibtorch= folder (the layout of a PyTorch
# wheel's torch/: include/ and lib/), configures, naming its versions (on
# Debian 13 that is the -Dlibtorch= path against LibTorch 2.x, the C++ API of
# the CUDA wheels). A local path as -Dpackage-origin is refused, and the
# default origin is GStreamer's "Unknown package origin".
#   test_meson_refusals.sh SOURCE_ROOT
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
libtorch=$(ls -d /usr/lib/*/libtorch.so 2>/dev/null | head -1)
api=/usr/include/torch/csrc/api/include/torch
[ -n "$libtorch" ] && [ -f "$api/version.h" ] || { echo "FAIL: no system LibTorch (libtorch-dev) to make stand-ins from"; exit 1; }

# A stand-in LibTorch folder: the system's libraries, its own version.h.
standin() {  # standin DIR MAJOR MINOR
  mkdir -p "$1/include/torch/csrc/api/include/torch" "$1/lib"
  sed -e "s/define TORCH_VERSION_MAJOR .*/define TORCH_VERSION_MAJOR $2/" \
      -e "s/define TORCH_VERSION_MINOR .*/define TORCH_VERSION_MINOR $3/" "$api/version.h" >"$1/include/torch/csrc/api/include/torch/version.h"
  touch "$1/include/torch/csrc/api/include/torch/torch.h"
  for l in torch torch_cpu c10; do ln -s "$(dirname "$libtorch")/lib$l.so" "$1/lib/lib$l.so"; done
}

expect() {  # expect NAME WANTED-TEXT MESON-ARGS...
  local name=$1 want=$2 out rc=0
  shift 2
  out=$(meson setup "$tmp/build-$name" "$src" -Dgstreamer=disabled -Dsentencepiece=disabled -Dtests=disabled \
        -Dman=disabled "$@" 2>&1) || rc=$?
  if [ $rc -ne 0 ] && grep -qF -- "$want" <<<"$out"; then
    echo "ok: $name: $(grep -m1 -F -- "$want" <<<"$out" | sed 's/^.*ERROR: //')"
  else
    echo "FAIL: $name: exit $rc, wanted \"$want\" in:"; tail -5 <<<"$out"; fail=1
  fi
}

mkdir -p "$tmp/empty"
expect not-a-libtorch "is not a LibTorch folder: no include/torch/csrc/api/include/torch/torch.h in it (looked for" \
  -Dlibtorch="$tmp/empty"
standin "$tmp/old" 1 12
expect old-libtorch "LibTorch 1.12 found, 1.13 or newer wanted" -Dlibtorch="$tmp/old"
real_major=$(sed -n 's/^#define TORCH_VERSION_MAJOR //p' "$api/version.h")
real_minor=$(sed -n 's/^#define TORCH_VERSION_MINOR //p' "$api/version.h")
standin "$tmp/olddnnl" "$real_major" "$real_minor"
mkdir -p "$tmp/olddnnl/include/oneapi/dnnl"
printf '#define DNNL_VERSION_MAJOR 2\n#define DNNL_VERSION_MINOR 5\n#define DNNL_VERSION_PATCH 0\n' \
  >"$tmp/olddnnl/include/oneapi/dnnl/dnnl_version.h"
expect old-onednn "oneDNN 2.5 found, 2.6 or newer wanted" -Dlibtorch="$tmp/olddnnl"

# gst-inspect-1.0's origin is a URL or GStreamer's words, never a local path.
expect origin-path "package-origin must be a URL (https://...), not a local path: $src" -Dpackage-origin="$src"

mkdir -p "$tmp/system"
ln -s /usr/include "$tmp/system/include"
ln -s "$(dirname "$libtorch")" "$tmp/system/lib"
if out=$(meson setup "$tmp/build-system" "$src" -Dgstreamer=disabled -Dsentencepiece=disabled -Dtests=disabled -Dman=disabled \
         -Dlibtorch="$tmp/system" 2>&1) && grep -q "Message: LibTorch $real_major.$real_minor, oneDNN" <<<"$out"; then
  echo "ok: the system's LibTorch as -Dlibtorch=: $(grep -m1 'Message: LibTorch [0-9]' <<<"$out" | sed 's/^Message: //')"
  # Built from a git checkout without -Dpackage-origin: GStreamer's own words.
  grep -qF '#define GST_PACKAGE_ORIGIN "Unknown package origin"' "$tmp/build-system/config.h" &&
    echo "ok: the default package origin is GStreamer's \"Unknown package origin\"" ||
    { echo "FAIL: default package origin: $(grep GST_PACKAGE_ORIGIN "$tmp/build-system/config.h")"; fail=1; }
else
  echo "FAIL: the system's LibTorch as -Dlibtorch= did not configure:"; tail -5 <<<"$out"; fail=1
fi
exit $fail
