#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every test suite: set-up (packages, build), then meson test; the last line
# is "N passed, M failed" and the exit status is non-zero on any failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

cd "$ACOUSTOK_BUILD"
# Debian 12 has SPTK's tools: mcd_db must be compared to them there, not
# skipped (tests/core/test_metrics_reference.sh; Debian 13 has none).
if [ "$(acoustok_release)" = debian-12 ]; then export ACOUSTOK_REQUIRE_SPTK=1; fi
# The whole suite ends with two stages that first build the tree again with
# sanitizers (asan, fuzz: ~8 CPU-minutes). Start those builds now, niced, so
# they use the CPU the main suites leave idle (tests waiting on real time,
# subprocesses); each stage waits for its build through a lock. setsid puts
# them in a scheduling group of their own (to stop them as one), which
# Linux's autogroups would weigh equal to the tests whatever their nice
# value: the group itself is set to the lowest weight.
if [ $# -eq 0 ]; then
  # (The same trees as the asan and fuzz tests' ACOUSTOK_*_BUILD in tests/meson.build.)
  ACOUSTOK_ASAN_BUILD=$PWD-asan ACOUSTOK_FUZZ_BUILD=$PWD-fuzz \
    setsid bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null || true
      nice -n 19 "$1/tests/asan/run.sh" --build-only; nice -n 19 "$1/tests/fuzz/run.sh" --build-only' _ "$ACOUSTOK_ROOT" \
    >"$ACOUSTOK_BUILD/early-builds.log" 2>&1 </dev/null &
  early=$!
  # The Debian 13 stage's root, packages and build likewise (its downloads
  # overlap the native suites; its lock holds the stage until it is done).
  setsid bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null || true
      nice -n 19 "$1/tests/debian13/run.sh" --prepare' _ "$ACOUSTOK_ROOT" \
    >"$ACOUSTOK_BUILD/early-debian13.log" 2>&1 </dev/null &
  early13=$!
  trap 'kill -- -"$early" -"$early13" 2>/dev/null || true' EXIT
fi
rm -f ./*.xml tests/*.xml
status=0
meson test --no-rebuild --print-errorlogs "$@" || status=$?
"$PY" "$ACOUSTOK_ROOT/tests/summarize.py" "$ACOUSTOK_BUILD" || status=1
exit $status
