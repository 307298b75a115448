#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The issue's chain as a user writes it: `xlsrfeat ! kmeansunits dedup=true !
# unitvocoder` speaks through a released CodeHiFiGAN with a duration predictor
# and a speaker table (written by the fairseq-structured PyTorch reference),
# and its audio equals `acoustok synth --speaker` of the reduced units the
# same chain writes as text (within the 16-bit WAV's rounding). The reduced
# text line has no two equal neighbours, and the vocoder predicted a length
# other than one unit per reduced unit.
#   test_reduced_chain.sh ACOUSTOK FIXTURES
set -euo pipefail
acoustok=$1
fx=$2
source "$(dirname "${BASH_SOURCE[0]}")/../common/shell_env.sh"
cd "$tmp"
wav=$fx/xlsr/speech_pt.wav
model=$fx/xlsr/xlsr_st

"$acoustok" features -q --model "$model" --layer 2 --device cpu "$wav" -o f.npy
"$acoustok" kmeans fit -q f.npy --k 20 --seed 1 -o km.safetensors
$PY "$(dirname "${BASH_SOURCE[0]}")/../vocoder/codehifigan_reference.py" write --out-dir voc --num-units 20 \
  --dur-predictor --num-speakers 4 --seed 3 >/dev/null

front="filesrc location=$wav ! decodebin ! audioconvert ! xlsrfeat model=$model layer=2 device=cpu"
gst-launch-1.0 -q $front ! kmeansunits model=km.safetensors dedup=true ! text/x-raw,format=utf8 \
  ! filesink location=reduced.txt
gst-launch-1.0 -q $front ! kmeansunits model=km.safetensors dedup=true \
  ! unitvocoder model=voc/g_00000000 speaker=2 ! wavenc ! filesink location=chain.wav
"$acoustok" synth -q --checkpoint voc/g_00000000 --speaker 2 reduced.txt --concat -o synth.wav

$PY - <<'PYEOF' || fail "the chain's speech differs from acoustok synth of its reduced units"
import numpy as np
from scipy.io import wavfile
units = [int(u) for u in open("reduced.txt").read().split()]
assert units and all(a != b for a, b in zip(units, units[1:])), "the text units are not reduced"
_, chain = wavfile.read("chain.wav")
_, synth = wavfile.read("synth.wav")
chain = chain.astype(np.float64)
synth = synth.astype(np.float64) / 32768
assert len(chain) == len(synth), (len(chain), len(synth))
assert len(chain) != 320 * len(units), "durations were not predicted"
err = np.abs(chain - synth).max()
assert err <= 1e-4, err
print(f"{len(units)} reduced units -> {len(chain) // 320} frames; max difference {err:.2e}")
PYEOF
exit_on_failures
echo "reduced chain: ok"
