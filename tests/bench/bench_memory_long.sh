#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (not a test): peak memory of `acoustok features` and `acoustok
# segment` against the input's length. Both stream the file in blocks
# (features window by window, as xlsrfeat cuts a stream; segment writing each
# segment as it is decided), so their peak resident set should not grow with
# the input: this measures it on 10 min, 1 h and 3 h of audio (speech with
# pauses: the fixture's 3 s of speech, 0.8 s of silence, 2 s of low noise,
# repeated) under /usr/bin/time -v, prints the figures and the CPU, and says
# whether each command's memory is flat (the largest peak within 25 % and
# 64 MB of the smallest).
#
# features runs the tiny fixture model tests/fixtures/xlsr/xlsr_st (layer 3,
# 2 threads), so 3 h take a few minutes: the model's own memory is what a real
# model adds on top, per window, the same at any length.
#   tests/bench/bench_memory_long.sh [SECONDS...]   (default: 600 3600 10800)
#   env: ACOUSTOK_BUILD (default build/), BENCH_DIR (/tmp/acoustok-bench-memory)
# Run it under the shared lock: flock /tmp/acoustok-cpu.lock tests/bench/bench_memory_long.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${ACOUSTOK_BUILD:-$root/build}
dir=${BENCH_DIR:-/tmp/acoustok-bench-memory}
bin=$build/lib/tools/acoustok
model=$root/tests/fixtures/xlsr/xlsr_st
speech=$root/tests/fixtures/xlsr/speech_pt.wav
durations=("$@")
[ ${#durations[@]} -gt 0 ] || durations=(600 3600 10800)
[ -x "$bin" ] || { echo "bench: $bin not built" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt install time)" >&2; exit 1; }
command -v sox >/dev/null || { echo "bench: needs sox" >&2; exit 1; }
mkdir -p "$dir"

# One 5.8 s unit (speech, a pause, low noise), repeated to the length asked.
unit=$dir/unit.wav
if [ ! -f "$unit" ]; then
  sox -q -n -r 16000 -c 1 -b 16 "$dir/pause.wav" trim 0 0.8
  sox -q -n -r 16000 -c 1 -b 16 "$dir/noise.wav" synth 2 whitenoise vol 0.02
  sox -q "$speech" "$dir/pause.wav" "$dir/noise.wav" "$unit"
fi
make_input() {  # seconds -> path
  local secs=$1 path=$dir/long_$1s.wav
  if [ ! -f "$path" ]; then
    local unit_s repeats
    unit_s=$(soxi -D "$unit")
    repeats=$(/usr/bin/python3 -c "import math; print(math.ceil($secs / $unit_s))")
    sox -q "$unit" "$path.tmp.wav" repeat "$repeats" trim 0 "$secs"
    mv "$path.tmp.wav" "$path"
  fi
  echo "$path"
}

# Peak RSS (MB) and wall seconds of a command: "rss wall".
measure() {
  local log=$dir/time.log
  if ! /usr/bin/time -v -o "$log" "$@" >"$dir/cmd.log" 2>&1; then
    echo "bench: failed: $*" >&2
    tail -5 "$dir/cmd.log" >&2
    exit 1
  fi
  awk -F': ' '/Maximum resident set size/ {rss = $2 / 1024}
              /Elapsed \(wall clock\)/ {n = split($2, t, ":"); w = 0; for (i = 1; i <= n; ++i) w = w * 60 + t[i]}
              END {printf "%.0f %.1f\n", rss, w}' "$log"
}

echo "machine: $(/usr/bin/python3 "$root/tests/bench/machine.py")"
echo "acoustok: $bin; features: $model layer 3, --threads 2, default --max-window 30 --context 2"
printf "%-8s %14s %12s %14s %12s\n" "input" "features MB" "features s" "segment MB" "segment s"
feat_rss=()
seg_rss=()
for secs in "${durations[@]}"; do
  input=$(make_input "$secs")
  read -r frss fwall < <(measure "$bin" features -q --threads 2 --layer 3 --model "$model" "$input" -o "$dir/features.npy")
  frames=$(/usr/bin/python3 -c "import numpy as np; print(np.load('$dir/features.npy', mmap_mode='r').shape[0])")
  expected=$(( (secs * 16000 - 400) / 320 + 1 ))
  [ "$frames" -eq "$expected" ] || { echo "bench: $frames frames for $secs s, expected $expected" >&2; exit 1; }
  rm -rf "$dir/segments"
  read -r srss swall < <(measure "$bin" segment -q "$input" -o "$dir/segments")
  printf "%-8s %14s %12s %14s %12s\n" "$((secs / 60)) min" "$frss" "$fwall" "$srss" "$swall"
  feat_rss+=("$frss")
  seg_rss+=("$srss")
  rm -rf "$dir/segments" "$dir/features.npy"
done

verdict() {  # name rss...
  local name=$1
  shift
  /usr/bin/python3 - "$name" "$@" <<'EOF'
import sys
name, values = sys.argv[1], [float(v) for v in sys.argv[2:]]
lo, hi = min(values), max(values)
flat = hi <= lo * 1.25 and hi - lo <= 64
print("%s: peak RSS %.0f..%.0f MB over the inputs: %s" % (name, lo, hi, "flat" if flat else "NOT flat (grows with the input)"))
sys.exit(0 if flat else 1)
EOF
}
status=0
verdict features "${feat_rss[@]}" || status=1
verdict segment "${seg_rss[@]}" || status=1
exit $status
