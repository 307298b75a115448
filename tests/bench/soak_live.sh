#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak (not a test): the live chain appsrc (real time) ! silencesplit !
# xlsrfeat ! kmeansunits ! unitvocoder ! synced sink for SECONDS (default
# 1800) with the demo models; fails when a buffer is dropped as late or the
# resident memory grows by more than 5 % from a third of the run to its end.
# tests/run.sh runs the same test for 120 s.
#   tests/bench/soak_live.sh [SECONDS]   env: ACOUSTOK_BUILD (default build/)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${ACOUSTOK_BUILD:-$root/build}
echo "soak: machine: $(/usr/bin/python3 "$root/tests/bench/machine.py"), ${1:-1800} s"
cd "$root/tests"
ACOUSTOK_LIVE_SECONDS=${1:-1800} ACOUSTOK_BIN=$build/lib/tools/acoustok ACOUSTOK_FIXTURES=$root/tests/fixtures \
  GST_PLUGIN_PATH=$build/plugins GST_REGISTRY=$build/gst-registry.bin \
  "$build/tests/test_live" --gtest_filter='Live.SpeechToUnitsAndBackInRealTimeWithoutLateBuffers'
