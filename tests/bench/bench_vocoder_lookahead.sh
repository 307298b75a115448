#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# unitvocoder's lookahead-frames: distance of streamed from whole-utterance
# synthesis (frame-aligned MCD, SNR) and cost, per chunk-frames and
# lookahead, for the tiny and v1-sized generators (random weights), as the
# Markdown table of docs/gstreamer.md. Chunk 1 of v1 takes minutes on 2 cores.
#   tests/bench/bench_vocoder_lookahead.sh [THREADS=2] [CONFIGS=tiny,v1] [SECONDS=10]
# Env: ACOUSTOK_BUILD (default build/), CHUNKS (default 1,5,10,25)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${ACOUSTOK_BUILD:-$root/build}
echo "machine: $(/usr/bin/python3 "$root/tests/bench/machine.py")"
ninja -C "$build" tests/bench_vocoder_lookahead >/dev/null  # benchmarks are not built by default
exec "$build/tests/bench_vocoder_lookahead" "$@"
