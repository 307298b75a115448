#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test suites under AddressSanitizer + UndefinedBehaviorSanitizer, as CI
# runs them: a second build of everything (meson's own b_sanitize option: the
# core library, the command line, SentencePiece's phase 2, the LibTorch models
# and all five GStreamer elements) with line tables only (reports still name
# file and line), at -O0 but for the libraries whose loops the tests run long
# (-O1: the core library, the k-means kernels, the LibTorch models), then every test
# suite of that build; any sanitizer report fails the run
# (halt_on_error, leaks included). LibTorch's own libraries are not
# instrumented, but our code, and every pointer it hands them, is.
#
# Where a suite repeats the same code on more data, it does less here (and
# the `long` tests not at all, see below): the live suite (torture: 60 NULL<->PLAYING cycles; the real-time chain: 10 s),
# the vocoder parity test (the tiny preset, not small too), the vocoder
# training test (4 epochs of 5 steps) and the hours-long BPE line (3 parts);
# resident-memory checks are off (ASan holds freed memory in quarantine;
# LeakSanitizer checks leaks instead). Programs
# that are not ours but load our instrumented plugins (gst-launch-1.0,
# gst-inspect-1.0 and python3, in test_live, python_examples and the CLI
# tests' element checks) run
# with the sanitizer runtimes preloaded through wrappers in $build/asan-host,
# leak checking off for them (their leaks at exit are GStreamer's and
# Python's). GStreamer scans plugins in the test process (GST_REGISTRY_FORK=no:
# its uninstrumented scanner cannot load an ASan plugin); lsan.supp holds the
# leaks that are not ours. Each test runs once: one tagged both tools and gst
# runs with the tools.
#   tests/asan/run.sh [--build-only]   env: ACOUSTOK_ASAN_BUILD (default build-asan/)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${ACOUSTOK_ASAN_BUILD:-$root/build-asan}
exec 1>&2
# tests/run.sh starts this build early in the background (--build-only,
# niced), on the CPU time the main suites leave idle; the lock makes the
# stage itself wait for it rather than run a second ninja on the same tree.
mkdir -p "$(dirname "$build")"
exec 9>"$build.lock"
flock 9
if [ ! -f "$build/build.ninja" ]; then
  mkdir -p "$build"
  if ! meson setup "$build" "$root" --optimization=0 -Ddebug=false -Dcpp_args=-g1 -Dc_args=-g1 \
      -Db_sanitize=address,undefined -Db_lundef=false -Dman=disabled -Dtorch=enabled -Dgstreamer=enabled -Dtests=enabled >"${TMPDIR:-/tmp}/acoustok-$(basename "$build")-setup.log" 2>&1; then
    tail -40 "${TMPDIR:-/tmp}/acoustok-$(basename "$build")-setup.log"; exit 1
  fi
fi
# The tests of each phase below. Not here: the install and slurm suites and
# the `external` tests (meson's refusals, the report in Chromium), whose work
# is done by programs that are not ours; the `long` tests, end-to-end runs of
# what other tests here reach on less data (units, vocoder training and
# synthesis, the CodeHiFiGAN parity).
core_tests=(--suite core --suite tools --suite torch --no-suite external --no-suite long)
python_tests=(python_examples)
gst_tests=(--suite gst --no-suite tools --no-suite torch)  # (tests also tagged tools or torch run with the core)
live_tests=(test_live test_torture)
# Only what these tests need is built (every library and plugin, and the
# programs meson records for each test), not the programs of the tests left
# out nor the benchmarks.
if ! ninja -C "$build" build.ninja >"$build/ninja.log" 2>&1; then tail -40 "$build/ninja.log"; exit 1; fi
needed=$(for args in core_tests python_tests gst_tests live_tests; do
  declare -n list=$args
  meson test -C "$build" --no-rebuild --list "${list[@]}" 2>/dev/null
done | /usr/bin/python3 "$root/tests/asan/needed_targets.py" "$build")
# shellcheck disable=SC2086
if ! ninja -C "$build" $needed >>"$build/ninja.log" 2>&1; then tail -40 "$build/ninja.log"; exit 1; fi
[ "${1:-}" = --build-only ] && exit 0
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$root/tests/asan/lsan.supp:print_suppressions=0
export GST_REGISTRY_FORK=no
fail() {
  grep -E -B2 -A25 "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error|FAIL" "$1" | head -120
  tail -30 "$1"
  exit 1
}
# LeakSanitizer's exit scan stops every thread of the process; now and then
# its tracer faults on a thread of LibTorch's pools that is being set up or
# torn down ("Tracer caught signal 11 ... LeakSanitizer has encountered a
# fatal error") and the test fails with no report about our code. That is
# the tool failing, not a finding: such tests run once more, and only such
# (any real report among the failures fails the stage at once).
tracer_only_failures() {  # tracer_only_failures TESTLOG.json: their names, or status 1
  "$PY" - "$1" <<'PYEOF'
import json, sys
names = []
for line in open(sys.argv[1]):
    rec = json.loads(line)
    if rec["result"] in ("OK", "SKIP", "EXPECTEDFAIL"):
        continue
    out = (rec.get("stdout") or "") + (rec.get("stderr") or "")
    real = any(m in out for m in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer: detected", "runtime error:", "[  FAILED  ]"))
    if real or "LeakSanitizer has encountered a fatal error" not in out:
        sys.exit(1)
    names.append(rec["name"].split(" / ")[-1])
print(" ".join(names))
PYEOF
}
run_tests() {  # run_tests LOGBASE MESON-TEST-ARGS...: log in $build/LOGBASE.log
  local base=$1 again
  shift
  if meson test -C "$build" --no-rebuild --logbase "$base" --print-errorlogs "$@" >"$build/$base.log" 2>&1; then return 0; fi
  again=$(tracer_only_failures "$build/meson-logs/$base.json") && [ -n "$again" ] || return 1
  echo "asan: LeakSanitizer's tracer crashed in $again; once more"
  # shellcheck disable=SC2086
  meson test -C "$build" --no-rebuild --logbase "$base-again" --print-errorlogs $again >"$build/$base-again.log" 2>&1 ||
    { cat "$build/$base-again.log" >>"$build/$base.log"; return 1; }
}
PY=/usr/bin/python3
rm -f "$build"/meson-logs/asan-*.json
# Hosts that are not ours: the sanitizer runtimes preloaded, their leaks not checked.
host=$build/asan-host
mkdir -p "$host"
preload="$(c++ -print-file-name=libasan.so):$(c++ -print-file-name=libubsan.so)"
wrap() {  # wrap NAME PROGRAM: $host/NAME runs PROGRAM with the runtimes preloaded
  printf '#!/bin/sh\nLD_PRELOAD=%s ASAN_OPTIONS=%s:detect_leaks=0 exec %s "$@"\n' "$preload" "$ASAN_OPTIONS" "$2" >"$host/$1"
  chmod +x "$host/$1"
}
for prog in gst-launch-1.0 gst-inspect-1.0; do
  real=$(command -v "$prog") && wrap "$prog" "$real"
done
# Not on PATH: only python_examples' host runs so (ACOUSTOK_PYTHON), not the
# reference scripts the other tests run with PyTorch.
wrap asan-python3 /usr/bin/python3
export PATH=$host:$PATH ACOUSTOK_PYTHON=$host/asan-python3
export ACOUSTOK_PARITY_PRESETS=tiny  # the vocoder parity test's small preset runs the same code as tiny
# Every path of our code once, on the least data that reaches it.
run_tests asan-core "${core_tests[@]}" || fail "$build/asan-core.log"
# The Python examples (one test, mostly one process) beside the gst suite
# below, which leaves a core idle at its end; a log of their own.
run_tests asan-python "${python_tests[@]}" &
python_run=$!
trap 'kill "$python_run" 2>/dev/null || true' EXIT
# GLib is built without frame pointers: only the slow unwinder gives its
# allocations whole stacks, which the suppression of its pre-main block needs.
# The slow unwinder makes every allocation cost ~50 us: oneDNN's creation of
# the CPU generator's primitives (thousands of allocations each, for every new
# chunk length of a stream) took minutes, so the elements synthesise through
# the LibTorch module here; the core, tools and torch suites above run the
# CPU generator under the sanitizers.
# The gst suite's programs ask for the slow unwinder themselves
# (tests/common/gst_test_env.cpp), so the acoustok commands they start keep
# the fast one; the live suite also starts the embedding example, a GLib
# host of its own, so there it is set for every process.
export ACOUSTOK_VOCODER_CPU_PATH=module
export ACOUSTOK_TORTURE_CYCLES=60 ACOUSTOK_LIVE_SECONDS=10 ACOUSTOK_PARALLEL_ROUNDS=1 ACOUSTOK_PARALLEL_CHAINS=4
run_tests asan-gst "${gst_tests[@]}" || fail "$build/asan-gst.log"
wait "$python_run" || fail "$build/asan-python.log"
export ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0
# (readme_launch_lines is left out: gst-launch-1.0 runs the README's
# pipelines through the same element code as the gst suite above.)
run_tests asan-live "${live_tests[@]}" || fail "$build/asan-live.log"
grep -hE "^(Ok|Fail|Skipped):" "$build"/asan-{core,python,gst,live}.log
echo "asan: the core, tools, torch, gst and live suites clean under ASan + UBSan"
