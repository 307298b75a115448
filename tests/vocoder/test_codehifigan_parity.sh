#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Released CodeHiFiGAN vocoders (fairseq codehifigan.py: duration predictor,
# speaker table, speaker embedder) through acoustok's library equal a
# PyTorch reference written as fairseq structures them
# (codehifigan_reference.py, random weights, saved in fairseq's layout):
# durations exactly, audio within 1e-4, on both CPU paths (oneDNN and the
# LibTorch module). Bad configs and checkpoints are one error line naming
# the file and the key, nothing written.
#   test_codehifigan_parity.sh CODEHIFIGAN_SYNTH ACOUSTOK TESTS_DIR
set -euo pipefail
synth=$1 acoustok=$2 tests=$3
source "$(dirname "${BASH_SOURCE[0]}")/../common/shell_env.sh"
ref=$tests/vocoder/codehifigan_reference.py
export OMP_NUM_THREADS=2

printf '3 17 40 2 99 0 5 61 61 8\n12 7\n44\n' > "$tmp/units.txt"
$PY -c "import numpy as np, sys; np.save(sys.argv[1], np.random.RandomState(4).randn(16).astype(np.float32))" "$tmp/e.npy"

# compare NAME DIR [synth args...]: the reference and acoustok on both paths.
compare() {
  local name=$1 dir=$2; shift 2
  local ref_args=() ours=() dur=0
  while [ $# -gt 0 ]; do
    case $1 in
      --dur-prediction) ref_args+=(--dur-prediction); ours+=(--dur-prediction); dur=1; shift ;;
      --speaker|--speaker-embedding) ref_args+=("$1" "$2"); ours+=("$1" "$2"); shift 2 ;;
    esac
  done
  $PY "$ref" synth --out-dir "$dir" --units "$tmp/units.txt" "${ref_args[@]}" --out-wav "$tmp/$name.ref.wav" >/dev/null
  for path in onednn module; do
    if [ $path = module ]; then
      ACOUSTOK_VOCODER_CPU_PATH=module "$synth" "$dir/g_00000000" "$tmp/units.txt" "$tmp/$name.$path.npy" "${ours[@]}"
    else
      "$synth" "$dir/g_00000000" "$tmp/units.txt" "$tmp/$name.$path.npy" "${ours[@]}"
    fi
    if [ $dur = 1 ]; then
      cmp -s "$tmp/$name.ref.wav.durations.txt" "$tmp/$name.$path.npy.durations.txt" || {
        echo "FAIL $name ($path): durations differ"; diff "$tmp/$name.ref.wav.durations.txt" "$tmp/$name.$path.npy.durations.txt"; exit 1; }
    fi
    $PY - "$tmp/$name.ref.wav" "$tmp/$name.$path.npy" "$name ($path)" <<'PYEOF'
import sys
import numpy as np
from scipy.io import wavfile
rate, want = wavfile.read(sys.argv[1])
got = np.load(sys.argv[2])
assert rate == 16000 and want.dtype == np.float32, (rate, want.dtype)
if got.shape != want.shape:
    sys.exit("FAIL %s: %s samples, the reference has %s" % (sys.argv[3], got.shape, want.shape))
d = float(np.abs(got.astype(np.float64) - want).max())
peak = float(np.abs(want).max())
if not d <= 1e-4 or peak < 1e-3:
    sys.exit("FAIL %s: max |difference| %.3g (tolerance 1e-4), reference peak %.3g" % (sys.argv[3], d, peak))
print("OK   %-32s %d samples, max |difference| %.2g" % (sys.argv[3], got.size, d))
PYEOF
  done
  if [ $dur = 1 ]; then echo "     durations: $(tr '\n' '|' < "$tmp/$name.ref.wav.durations.txt")"; fi
}

echo "codehifigan: duration predictor"
$PY "$ref" write --out-dir "$tmp/dur" --dur-predictor --seed 1 >/dev/null
compare dur "$tmp/dur" --dur-prediction
# The predicted durations must not be trivially all 1 (nothing repeated).
grep -qE '(^| )([2-9]|[1-9][0-9]+)( |$)' "$tmp/dur.ref.wav.durations.txt" || { echo "FAIL: every duration is 1"; exit 1; }

echo "codehifigan: speaker table, speaker 3"
$PY "$ref" write --out-dir "$tmp/spk" --num-speakers 5 --seed 2 >/dev/null
compare spk "$tmp/spk" --speaker 3

echo "codehifigan: speaker embedder, a .npy vector"
$PY "$ref" write --out-dir "$tmp/emb" --embedder-dim 16 --seed 3 >/dev/null
compare emb "$tmp/emb" --speaker-embedding "$tmp/e.npy"

echo "codehifigan: duration predictor and speaker (small)"
$PY "$ref" write --out-dir "$tmp/both" --preset small --dur-predictor --num-speakers 4 --seed 4 >/dev/null
compare both "$tmp/both" --dur-prediction --speaker 2

# refused CASE DIR PATTERN [synth args...]: exit 1, one line matching PATTERN, nothing written.
refused() {
  local name=$1 dir=$2 pattern=$3; shift 3
  local rc=0 out
  out=$("$synth" "$dir/g_00000000" "$tmp/units.txt" "$tmp/$name.npy" "$@" 2>&1) || rc=$?
  [ "$rc" = 1 ] || { echo "FAIL $name: exit $rc: $out"; exit 1; }
  [ "$(wc -l <<<"$out")" = 1 ] || { echo "FAIL $name: not one line: $out"; exit 1; }
  grep -qE -- "$pattern" <<<"$out" || { echo "FAIL $name: the error does not match '$pattern': $out"; exit 1; }
  [ ! -e "$tmp/$name.npy" ] || { echo "FAIL $name: output written"; exit 1; }
  echo "     refused $name: $out"
}
# edit_config SRC DST PYTHON: a copy of SRC's vocoder with its config.json changed by PYTHON (on c).
edit_config() {
  mkdir -p "$2"; cp "$1/g_00000000" "$2/"
  $PY - "$1/config.json" "$2/config.json" "$3" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1])); exec(sys.argv[3]); json.dump(c, open(sys.argv[2], "w"))
PYEOF
}
# drop_tensor SRC DST KEY: a copy of SRC's vocoder without generator tensor KEY.
drop_tensor() {
  mkdir -p "$2"; cp "$1/config.json" "$2/"
  $PY - "$1/g_00000000" "$2/g_00000000" "$3" <<'PYEOF'
import sys, torch
d = torch.load(sys.argv[1]); del d["generator"][sys.argv[3]]; torch.save(d, sys.argv[2])
PYEOF
}

echo "codehifigan: bad input is refused by name"
edit_config "$tmp/spk" "$tmp/bad_in_dim" 'c["model_in_dim"] = c["embedding_dim"]'
refused model_in_dim "$tmp/bad_in_dim" "bad_in_dim/config.json: .*'model_in_dim'" --speaker 0
refused speaker_range "$tmp/spk" "spk/g_00000000: speaker 5 is out of range" --speaker 5
refused no_speaker "$tmp/spk" "spk/g_00000000: this vocoder needs a speaker"
$PY -c "import numpy as np, sys; np.save(sys.argv[1], np.ones(4, np.float32))" "$tmp/e4.npy"
refused embedding_size "$tmp/emb" "emb/g_00000000: the speaker embedding has 4 values" --speaker-embedding "$tmp/e4.npy"
edit_config "$tmp/dur" "$tmp/bad_hidden" 'c["dur_predictor_params"]["var_pred_hidden_dim"] = 16'
refused dur_shape "$tmp/bad_hidden" "bad_hidden/g_00000000: .*tensor 'generator.dur_predictor.conv1.0.weight' has shape" --dur-prediction
edit_config "$tmp/dur" "$tmp/bad_kernel" 'c["dur_predictor_params"]["var_pred_kernel_size"] = 5'
refused dur_kernel "$tmp/bad_kernel" "bad_kernel/config.json: .*var_pred_kernel_size" --dur-prediction
drop_tensor "$tmp/dur" "$tmp/no_proj" dur_predictor.proj.bias
refused dur_missing "$tmp/no_proj" "no_proj/g_00000000: missing tensor 'generator.dur_predictor.proj.bias'" --dur-prediction
drop_tensor "$tmp/spk" "$tmp/no_spkr" spkr.weight
refused spkr_missing "$tmp/no_spkr" "no_spkr/g_00000000: missing tensor 'generator.spkr.weight'" --speaker 0
mkdir -p "$tmp/huge"; cp "$tmp/dur/config.json" "$tmp/huge/"
$PY - "$tmp/dur/g_00000000" "$tmp/huge/g_00000000" <<'PYEOF'
import sys, torch
d = torch.load(sys.argv[1]); d["generator"]["dur_predictor.proj.bias"].fill_(60.0); torch.save(d, sys.argv[2])
PYEOF
refused huge_duration "$tmp/huge" "huge/g_00000000: the duration predictor gives unit 0 more than 16384 frames" --dur-prediction
edit_config "$tmp/dur" "$tmp/f0" 'c["f0"] = True; c["f0_quantizer_path"] = "f0_vq.pt"'
refused f0 "$tmp/f0" "f0/config.json: .*'f0'.*F0 quantiser"
refused no_predictor "$tmp/spk" "spk/g_00000000: this vocoder has no duration predictor" --speaker 0 --dur-prediction
refused no_table "$tmp/emb" "emb/g_00000000: this vocoder has no speaker table" --speaker 1

echo "codehifigan: vocoder train refuses a conditioned config (it trains unit-only vocoders)"
printf '{"base": "tiny", "num_speakers": 3, "dur_predictor_hidden": 8}\n' > "$tmp/cond.json"
rc=0
out=$("$acoustok" vocoder train --units "$tmp" --audio "$tmp" -o "$tmp/train" --config "$tmp/cond.json" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "cond.json: vocoder train trains unit-only vocoders" <<<"$out" || { echo "FAIL: exit $rc: $out"; exit 1; }
[ ! -e "$tmp/train/vocoder_latest.pt" ] || { echo "FAIL: a checkpoint was written"; exit 1; }
echo "     refused: $out"
echo "codehifigan: OK"
