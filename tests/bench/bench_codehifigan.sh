#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Speech from reduced units through a released-style CodeHiFiGAN (duration
# predictor + speaker table, random weights, the `small` preset's generator):
# `acoustok synth --dur-prediction --speaker 1` against the PyTorch reference
# of fairseq's CodeGenerator (tests/vocoder/codehifigan_reference.py: eager
# mode, weight norm removed, as fairseq's CodeHiFiGANVocoder runs it), same
# units, same thread count, in the same run. Prints the CPU, each side's best
# wall time of three, the real-time factor and the ratio; the audio of the
# two is compared too (max difference).
#   tests/bench/bench_codehifigan.sh [BUILD_DIR] [REDUCED_UNITS] [THREADS]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-$here/../../build}
n=${2:-1500}
threads=${3:-2}
acoustok=$build/lib/tools/acoustok
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$PY "$here/machine.py"
$PY "$here/../vocoder/codehifigan_reference.py" write --out-dir "$tmp/voc" --preset small --num-units 100 \
  --dur-predictor --num-speakers 4 --seed 1 >/dev/null
$PY - "$tmp/units.txt" "$n" <<'PYEOF'
import sys, numpy as np
rng = np.random.default_rng(0)
u = [int(rng.integers(0, 100))]
while len(u) < int(sys.argv[2]):
    v = int(rng.integers(0, 100))
    if v != u[-1]:
        u.append(v)
open(sys.argv[1], "w").write(" ".join(map(str, u)) + "\n")
PYEOF
best() {  # best wall time of three runs of "$@", in seconds
  local b=
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    b=$($PY -c "import sys; t=float(sys.argv[2])-float(sys.argv[1]); b=sys.argv[3]; print(t if not b else min(t, float(b)))" "$t0" "$t1" "$b")
  done
  echo "$b"
}
ours=$(best "$acoustok" synth --checkpoint "$tmp/voc/g_00000000" --speaker 1 --dur-prediction --threads "$threads" \
  --device cpu "$tmp/units.txt" --concat -o "$tmp/ours.wav")
theirs=$(best env OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" $PY "$here/../vocoder/codehifigan_reference.py" synth \
  --out-dir "$tmp/voc" --units "$tmp/units.txt" --dur-prediction --speaker 1 --out-wav "$tmp/ref.wav")
$PY - "$tmp/ours.wav" "$tmp/ref.wav" "$ours" "$theirs" "$n" "$threads" <<'PYEOF'
import sys, numpy as np
from scipy.io import wavfile
_, a = wavfile.read(sys.argv[1]); _, b = wavfile.read(sys.argv[2])
a = a.astype(np.float64) / 32768; b = b.astype(np.float64)
ours, theirs = float(sys.argv[3]), float(sys.argv[4])
sec = len(b) / 16000
print(f"{sys.argv[5]} reduced units -> {sec:.1f} s of speech (durations predicted), speaker 1, {sys.argv[6]} threads")
print(f"acoustok synth      {ours:7.2f} s  RTF {ours / sec:.3f}   (whole process: load + predict + synthesise + write)")
print(f"PyTorch reference   {theirs:7.2f} s  RTF {theirs / sec:.3f}   (whole process, Python start included)")
print(f"ratio {theirs / ours:.2f}x; same length {len(a) == len(b)}; max difference {np.abs(a - b).max():.1e} (16-bit WAV)")
PYEOF
