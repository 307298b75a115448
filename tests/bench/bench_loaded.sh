#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (not a test): how much slower features, k-means and synthesis run
# when another process keeps one of the machine's cores busy, idle and loaded
# in the same run, for each OpenMP wait policy given.
#
# Loaded means one single-threaded busy loop (a Python `while True`) started
# before the command and stopped after it, unpinned: the scheduler shares the
# cores between it and our threads as it would with any neighbour.
# Workloads, each end to end (process start to output written):
#   features  acoustok features, XLSR-53-sized random model (bench_xlsr.sh's),
#             layer 14, SECONDS of speech, THREADS threads
#   kmeans    acoustok kmeans fit, k=100, acoustok's defaults, on 100k x 768
#             random-mixture features
#   synth     tests/bench_vocoder's v1 synthesis of 10 s of units (best of 3)
# Target (issue 31): loaded / idle <= 2.3 for each.
#
#   tests/bench/bench_loaded.sh [SECONDS (20)] [THREADS (2)]
#   env: ACOUSTOK_BUILD (build/), BENCH_DIR (/tmp/acoustok-bench-xlsr),
#        POLICIES ("libgomp ours"): each word is "ours" (nothing set: the
#        command line's own choice, passive; bench_vocoder makes the same),
#        "libgomp" (GOMP_SPINCOUNT=300000: libgomp's default spinning),
#        "passive" (OMP_WAIT_POLICY=passive), "active" (OMP_WAIT_POLICY=active)
#        or spin=N (GOMP_SPINCOUNT=N)
#        WORKLOADS ("features kmeans synth")
# Run it alone (flock /tmp/acoustok-cpu.lock), or every figure is loaded.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${ACOUSTOK_BUILD:-$root/build}
bin=$build/lib/tools/acoustok
dir=${BENCH_DIR:-/tmp/acoustok-bench-xlsr}
secs=${1:-20}
threads=${2:-2}
py=/usr/bin/python3
policies=${POLICIES:-libgomp ours}
workloads=${WORKLOADS:-features kmeans synth}
[ -x "$bin" ] || { echo "bench: $bin not built" >&2; exit 1; }
[[ " $workloads " != *" synth "* ]] || ninja -C "$build" tests/bench_vocoder >/dev/null  # not built by default
mkdir -p "$dir"

if [[ " $workloads " == *" features "* ]]; then
  [ -f "$dir/model/pytorch_model.bin" ] || "$py" "$root/tests/bench/gen_xlsr53_random.py" "$dir/model"
  audio=$dir/speech_${secs}s.wav
  if [ ! -f "$audio" ]; then
    espeak-ng -v pt -s 150 -w "$dir/raw.wav" \
      "$(for _ in $(seq $((secs / 4 + 1))); do printf 'O rato roeu a roupa do rei de Roma, e a rainha resolveu remendar. '; done)"
    sox -q "$dir/raw.wav" -r 16000 -c 1 -b 16 "$audio" gain -n -3 trim 0 "$secs"
    rm -f "$dir/raw.wav"
  fi
fi
if [[ " $workloads " == *" kmeans "* ]] && [ ! -f "$dir/kmeans_100k.npy" ]; then
  "$py" - "$dir/kmeans_100k.npy" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(0)
means = rng.normal(0, 1, (100, 768)).astype(np.float32)
x = means[rng.integers(0, 100, 100000)] + rng.normal(0, 0.8, (100000, 768)).astype(np.float32)
np.save(sys.argv[1], x.astype(np.float32))
PY
fi

workload_cmd() {
  case $1 in
    features) echo "$bin" features --model "$dir/model" --layer 14 --threads "$threads" "$audio" -o "$dir/loaded.npy" ;;
    kmeans) echo "$bin" kmeans fit "$dir/kmeans_100k.npy" --k 100 --threads "$threads" --seed 1 -o "$dir/loaded_km.safetensors" ;;
    synth) echo "$build/tests/bench_vocoder" "$threads" 1 cpu v1 synthesis ;;
  esac
}
policy_env() {
  case $1 in
    ours) echo "" ;;
    libgomp) echo "GOMP_SPINCOUNT=300000" ;;
    passive) echo "OMP_WAIT_POLICY=passive" ;;
    active) echo "OMP_WAIT_POLICY=active" ;;
    spin=*) echo "GOMP_SPINCOUNT=${1#spin=}" ;;
    *) echo "bench: unknown policy $1" >&2; exit 2 ;;
  esac
}
# Seconds of one run: wall time, or for synth the best-of-3 the program prints.
measure() {
  local work=$1 penv=$2 out
  local t0 t1
  t0=$(date +%s.%N)
  # shellcheck disable=SC2046
  out=$(env $penv $(workload_cmd "$work") 2>&1) || { echo "$out" >&2; return 1; }
  t1=$(date +%s.%N)
  if [ "$work" = synth ]; then
    echo "$out" | "$py" -c 'import json,sys; print([json.loads(l) for l in sys.stdin if l.startswith("{")][0]["seconds"])'
  else
    echo "$t1 - $t0" | bc -l
  fi
}

echo "bench: machine: $("$py" "$root/tests/bench/machine.py"); $threads threads; features on ${secs} s of speech"
echo "bench: loaded = one busy single-threaded process beside the command; target loaded/idle <= 2.3"
printf "  %-9s %-20s %9s %9s %7s\n" workload policy "idle s" "loaded s" ratio
for work in $workloads; do
  measure "$work" "" >/dev/null  # warm the page cache and the model file
  for policy in $policies; do
    penv=$(policy_env "$policy")
    idle=$(measure "$work" "$penv")
    "$py" -c 'while True: pass' &
    hog=$!
    sleep 0.5
    loaded=$(measure "$work" "$penv") || { kill "$hog"; exit 1; }
    kill "$hog"
    wait "$hog" 2>/dev/null || true
    printf "  %-9s %-20s %9.2f %9.2f %6.2fx\n" "$work" "${penv:-$policy}" "$idle" "$loaded" "$(echo "$loaded / $idle" | bc -l)"
  done
done
