#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# acoustok synth through released fairseq CodeHiFiGAN vocoders written by
# tests/vocoder/codehifigan_reference.py (random weights): --dur-prediction
# (and its auto default) with --speaker, --speaker-embedding (float64,
# shape [1, D]), a long line on the chunked path, a --dedup corpus expanded
# by its own durations; each against the PyTorch reference's audio (1e-4)
# and durations. Then the refusals: one line naming the file and option,
# exit 1 or 2, nothing written.
#   test_synth_durations.sh ACOUSTOK TESTS_DIR
set -euo pipefail
acoustok=$1 tests=$2
PY=/usr/bin/python3
ref=$tests/vocoder/codehifigan_reference.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }

# Max |a - b| over two WAVs (PCM16 or float) of equal length, else fail.
same_audio() {
  $PY - "$1" "$2" <<'PYEOF'
import sys
import numpy as np
from scipy.io import wavfile
def read(p):
    _, x = wavfile.read(p)
    return x.astype(np.float64) / 32768 if x.dtype == np.int16 else x.astype(np.float64)
a, b = read(sys.argv[1]), read(sys.argv[2])
if len(a) != len(b):
    sys.exit(f"FAIL: {sys.argv[1]} has {len(a)} samples, {sys.argv[2]} {len(b)}")
d = float(np.abs(a - b).max())
if not d < 1e-4:
    sys.exit(f"FAIL: {sys.argv[1]} differs from {sys.argv[2]} by {d}")
print(f"ok: {sys.argv[1]} within {d:.2e} of the reference")
PYEOF
}
json_field() { $PY -c "import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
sum_file() { tr ' ' '\n' <"$1" | awk 'NF { s += $1 } END { print s }'; }

$PY "$ref" write --out-dir "$tmp/dp" --dur-predictor --num-speakers 3 --seed 7
$PY "$ref" write --out-dir "$tmp/emb" --dur-predictor --embedder-dim 8 --seed 8
$PY "$ref" write --out-dir "$tmp/plain" --seed 9
# Reduced lines: no unit equals its neighbour.
printf '3 17 40 2 99 0 5 6 71 12\n12 7 8 55 3\n' > "$tmp/units.txt"

echo "synth: --dur-prediction --speaker against the reference"
$PY "$ref" synth --out-dir "$tmp/dp" --units "$tmp/units.txt" --dur-prediction --speaker 2 --out-wav "$tmp/ref_dp.wav"
summary=$("$acoustok" synth --checkpoint "$tmp/dp/g_00000000" "$tmp/units.txt" --concat -o "$tmp/dp.wav" \
  --dur-prediction --speaker 2 --threads 1 --json)
same_audio "$tmp/dp.wav" "$tmp/ref_dp.wav"
[ "$(json_field "$summary" frames)" = "$(sum_file "$tmp/ref_dp.wav.durations.txt")" ] ||
  fail "--json frames $(json_field "$summary" frames) is not the reference's durations' total"
echo "synth: auto predicts reduced lines; --no-dur-prediction speaks one frame per unit"
"$acoustok" synth --checkpoint "$tmp/dp/g_00000000" "$tmp/units.txt" --concat -o "$tmp/auto.wav" --speaker 2 --threads 1
same_audio "$tmp/auto.wav" "$tmp/ref_dp.wav"
summary=$("$acoustok" synth --checkpoint "$tmp/dp/g_00000000" "$tmp/units.txt" --concat -o "$tmp/off.wav" \
  --no-dur-prediction --speaker 2 --threads 1 --json)
[ "$(json_field "$summary" frames)" = 15 ] || fail "--no-dur-prediction: $summary"
$PY "$ref" synth --out-dir "$tmp/dp" --units "$tmp/units.txt" --speaker 2 --out-wav "$tmp/ref_off.wav"
same_audio "$tmp/off.wav" "$tmp/ref_off.wav"

echo "synth: --speaker-embedding (float64, [1, D])"
$PY -c "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(3).standard_normal((1, 8)))" "$tmp/spk.npy"
$PY "$ref" synth --out-dir "$tmp/emb" --units "$tmp/units.txt" --dur-prediction --speaker-embedding "$tmp/spk.npy" \
  --out-wav "$tmp/ref_emb.wav"
"$acoustok" synth --checkpoint "$tmp/emb/g_00000000" "$tmp/units.txt" --concat -o "$tmp/emb.wav" \
  --speaker-embedding "$tmp/spk.npy" --threads 1
same_audio "$tmp/emb.wav" "$tmp/ref_emb.wav"

echo "synth: a line beyond a minute of predicted frames takes the chunked path"
$PY - "$tmp/long.txt" <<'PYEOF'
import sys
u = [0]
for i in range(1, 1800):
    u.append((u[-1] + 1 + (i * 37 + i * i // 3) % 98) % 100)  # never its neighbour
open(sys.argv[1], "w").write(" ".join(map(str, u)) + "\n")
PYEOF
$PY "$ref" synth --out-dir "$tmp/dp" --units "$tmp/long.txt" --dur-prediction --speaker 0 --out-wav "$tmp/ref_long.wav"
frames=$(sum_file "$tmp/ref_long.wav.durations.txt")
[ "$frames" -gt 3000 ] || fail "the long line predicts only $frames frames: not the chunked path"
"$acoustok" synth --checkpoint "$tmp/dp/g_00000000" "$tmp/long.txt" -o "$tmp/long.wav" --speaker 0 --threads 2
same_audio "$tmp/long.wav" "$tmp/ref_long.wav"

echo "synth: a --dedup corpus is expanded by its durations; --dur-prediction predicts them instead"
mkdir -p "$tmp/corpus"
$PY - "$tmp/corpus/corpus_timestamped.json" "$tmp/expanded.txt" <<'PYEOF'
import json, sys
units, runs = [3, 17, 40, 2, 99, 0], [2, 1, 4, 3, 1, 2]
json.dump({"k": 100, "frame_rate": 50, "segments": [{"file": "a_00000.wav", "units": units, "durations": runs}]},
          open(sys.argv[1], "w"))
open(sys.argv[2], "w").write(" ".join(str(u) for u, r in zip(units, runs) for _ in range(r)) + "\n")
PYEOF
"$acoustok" synth --checkpoint "$tmp/plain/g_00000000" "$tmp/corpus" -o "$tmp/corpus_out" --threads 1
$PY "$ref" synth --out-dir "$tmp/plain" --units "$tmp/expanded.txt" --out-wav "$tmp/ref_expanded.wav"
same_audio "$tmp/corpus_out/a_00000.wav" "$tmp/ref_expanded.wav"
$PY -c "import json,sys; print(' '.join(map(str, json.load(open(sys.argv[1]))['segments'][0]['units'])))" \
  "$tmp/corpus/corpus_timestamped.json" > "$tmp/corpus_units.txt"
$PY "$ref" synth --out-dir "$tmp/dp" --units "$tmp/corpus_units.txt" --dur-prediction --speaker 1 --out-wav "$tmp/ref_corpus_dp.wav"
"$acoustok" synth --checkpoint "$tmp/dp/g_00000000" "$tmp/corpus" -o "$tmp/corpus_dp" --dur-prediction --speaker 1 --threads 1
same_audio "$tmp/corpus_dp/a_00000.wav" "$tmp/ref_corpus_dp.wav"

echo "synth: refusals name the file and the option; nothing is written"
$PY -c "import numpy as np, sys; np.save(sys.argv[1], np.zeros(7, np.float32))" "$tmp/short.npy"
refuse() {  # refuse WHAT EXPECTED_TEXT ARGS...
  local what=$1 expect=$2 out rc=0
  shift 2
  out=$("$acoustok" synth "$@" "$tmp/units.txt" --concat -o "$tmp/refused.wav" 2>&1) || rc=$?
  [ "$rc" = 1 ] || [ "$rc" = 2 ] || fail "$what: exit $rc: $out"
  # (a usage error adds CLI's pointer to --help)
  out=$(grep -v "^Run 'acoustok synth --help'" <<<"$out")
  [ "$(wc -l <<<"$out")" = 1 ] || fail "$what: not one line: $out"
  grep -qF -- "$expect" <<<"$out" || fail "$what: '$expect' not in: $out"
  [ ! -e "$tmp/refused.wav" ] || fail "$what: output written"
  echo "ok: $what: $out"
}
refuse "speaker out of range" "--speaker 3" --checkpoint "$tmp/dp/g_00000000" --speaker 3
refuse "speaker missing" "--speaker 0..2" --checkpoint "$tmp/dp/g_00000000"
refuse "speaker without a table" "--speaker" --checkpoint "$tmp/plain/g_00000000" --speaker 0
refuse "embedding of the wrong size" "short.npy" --checkpoint "$tmp/emb/g_00000000" --speaker-embedding "$tmp/short.npy"
refuse "embedding missing" "--speaker-embedding" --checkpoint "$tmp/emb/g_00000000"
refuse "--dur-prediction without a predictor" "plain/g_00000000: --dur-prediction" \
  --checkpoint "$tmp/plain/g_00000000" --dur-prediction
refuse "a negative speaker" "--speaker" --checkpoint "$tmp/dp/g_00000000" --speaker -1
mkdir -p "$tmp/badcorpus"
$PY -c "import json, sys; json.dump({'k': 100, 'segments': [{'file': 'a.wav', 'units': [3, 4], 'durations': [2]}]}, open(sys.argv[1], 'w'))" \
  "$tmp/badcorpus/corpus_timestamped.json"
if out=$("$acoustok" synth --checkpoint "$tmp/plain/g_00000000" "$tmp/badcorpus" -o "$tmp/badout" 2>&1); then
  fail "a corpus with one duration for two units was accepted"
fi
grep -q 'corpus_timestamped.json: segment a.wav: "durations"' <<<"$out" || fail "durations refusal: $out"
[ ! -e "$tmp/badout" ] || fail "durations refusal: output written"
echo "ok: durations of the wrong length: $out"
echo "test_synth_durations: all passed"
