#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every test of the native build, in three stages after the set-up (Debian's
# packages, the release build):
#   1. the suites of the release build (meson test);
#   2. the same suites under AddressSanitizer + UndefinedBehaviorSanitizer
#      (tests/asan/run.sh, a second build);
#   3. fuzzing of every file parser, a bounded slice (tests/fuzz/run.sh).
# The last line is "N passed, M failed" over all three and the exit status is
# non-zero on any failure. Each stage prints its time.
#   tests/run.sh                 everything (what CI runs, with .ci/run's Debian 13 stage)
#   tests/run.sh MESON-TEST-ARGS only those suites or tests of the release build,
#                                e.g. tests/run.sh --suite units
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

cd "$ACOUSTOK_BUILD"
# Debian 12 has SPTK's tools: mcd_db must be compared to them there, not
# skipped (tests/vocoder/test_metrics_reference.sh; Debian 13 has none).
# Its clang-format is the one the tree's format is checked with (tests/style).
if [ "$(acoustok_release)" = debian-12 ]; then export ACOUSTOK_REQUIRE_SPTK=1 ACOUSTOK_REQUIRE_FORMAT=1; fi
rm -f ./*.xml tests/*.xml
if [ $# -gt 0 ]; then
  status=0
  meson test --no-rebuild --print-errorlogs "$@" || status=$?
  "$PY" "$ACOUSTOK_ROOT/tests/summarize.py" "$ACOUSTOK_BUILD" || status=1
  exit $status
fi

asan_build=$ACOUSTOK_BUILD-asan fuzz_build=$ACOUSTOK_BUILD-fuzz
export ACOUSTOK_ASAN_BUILD=$asan_build ACOUSTOK_FUZZ_BUILD=$fuzz_build
# The sanitizer builds start now, niced, on the CPU the release suites leave
# idle (tests waiting on real time, on subprocesses); each stage waits for its
# build through a lock. setsid gives them a scheduling group of their own,
# which Linux's autogroups would otherwise weigh equal to the tests whatever
# their nice value: the group is set to the lowest weight.
setsid bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null || true
    nice -n 19 "$1/tests/asan/run.sh" --build-only; nice -n 19 "$1/tests/fuzz/run.sh" --build-only' _ "$ACOUSTOK_ROOT" \
  >"$ACOUSTOK_BUILD/early-builds.log" 2>&1 </dev/null &
early=$!
trap 'kill -- -"$early" 2>/dev/null || true' EXIT

t0=$SECONDS
stage() { printf 'run.sh: [%4d s] %s\n' "$((SECONDS - t0))" "$*"; }
status=0
stage "release build: meson test"
meson test --no-rebuild --print-errorlogs || status=$?
stage "sanitizers: tests/asan/run.sh"
asan=0
"$ACOUSTOK_ROOT/tests/asan/run.sh" || asan=$?
stage "fuzzing: tests/fuzz/run.sh (10 s a parser)"
fuzz=0
"$ACOUSTOK_ROOT/tests/fuzz/run.sh" 10 || fuzz=$?
stage "done"
"$PY" "$ACOUSTOK_ROOT/tests/summarize.py" "$ACOUSTOK_BUILD" "$asan_build" --stage "asan=$asan" --stage "fuzz=$fuzz" ||
  status=1
exit $status
