#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test suites under AddressSanitizer + UndefinedBehaviorSanitizer, as CI
# runs them: a second build (meson's own b_sanitize option) of the core
# library, the command line, SentencePiece's phase 2 and the GStreamer
# elements that need no LibTorch (silencesplit, kmeansunits, bpemotif), then
# its `core`, `tools` and `gst` suites; any sanitizer report fails the run
# (halt_on_error, leaks included). LibTorch is left out: its prebuilt
# libraries are not instrumented and its OpenMP runtime trips ASan's
# interceptors. GStreamer scans plugins in the test process
# (GST_REGISTRY_FORK=no: its uninstrumented scanner cannot load an ASan
# plugin); lsan.supp holds the one leak GLib makes before main.
#   tests/asan/run.sh            env: ACOUSTOK_ASAN_BUILD (default build-asan/)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${ACOUSTOK_ASAN_BUILD:-$root/build-asan}
exec 1>&2
if [ ! -f "$build/build.ninja" ]; then
  mkdir -p "$build"
  if ! meson setup "$build" "$root" --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
      -Dtorch=disabled -Dgstreamer=enabled -Dtests=enabled >"${TMPDIR:-/tmp}/acoustok-$(basename "$build")-setup.log" 2>&1; then
    tail -40 "${TMPDIR:-/tmp}/acoustok-$(basename "$build")-setup.log"; exit 1
  fi
fi
if ! ninja -C "$build" >"$build/ninja.log" 2>&1; then tail -40 "$build/ninja.log"; exit 1; fi
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$root/tests/asan/lsan.supp:print_suppressions=0
export GST_REGISTRY_FORK=no
fail() {
  grep -E -B2 -A25 "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error|FAIL" "$1" | head -120
  tail -30 "$1"
  exit 1
}
meson test -C "$build" --no-rebuild --suite core --suite tools --print-errorlogs >"$build/test.log" 2>&1 || fail "$build/test.log"
# GLib is built without frame pointers: only the slow unwinder gives its
# allocations whole stacks, which the suppression of its pre-main block needs.
ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0 \
  meson test -C "$build" --no-rebuild --suite gst --print-errorlogs >"$build/test_gst.log" 2>&1 || fail "$build/test_gst.log"
grep -hE "^(Ok|Fail|Skipped):" "$build/test.log" "$build/test_gst.log"
echo "asan: core, tools and gst suites clean under ASan + UBSan"
