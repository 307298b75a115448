#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fairseq / textlesslib users' files on the command line: `features --model
# X.pt` equals the PyTorch reference of fairseq's HuBERT, `kmeans predict
# km.bin` then gives scikit-learn's units (textlesslib's SpeechEncoder /
# fairseq's dump_hubert_feature.py + dump_km_label.py); xlsrfeat takes the
# checkpoint too; bad checkpoints exit 1 naming the file and the key, and
# write nothing.
#   test_fairseq_features_cli.sh ACOUSTOK FIXTURES
set -euo pipefail
acoustok=$1
fx=$2
source "$(dirname "${BASH_SOURCE[0]}")/../common/shell_env.sh"
wav=$fx/xlsr/speech_pt.wav

"$acoustok" features --model "$fx/fairseq/hubert_cfg.pt" --layer 3 --device cpu "$wav" -o "$tmp/h.npy" \
  || fail "features --model hubert_cfg.pt"
$PY - "$tmp/h.npy" "$fx/fairseq/refs/hubert_cfg_L3.npy" <<'PYEOF' || fail "features differ from the reference"
import sys
import numpy as np
ours, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
assert ours.shape == ref.shape and ours.dtype == np.float32, (ours.shape, ref.shape, ours.dtype)
err = np.abs(ours - ref).max() / np.abs(ref).max()
assert err <= 1e-4, err
print(f"features: {ours.shape}, max relative error {err:.2e}")
PYEOF

"$acoustok" kmeans predict "$fx/fairseq/km.bin" "$tmp/h.npy" -o "$tmp/units.txt" || fail "kmeans predict km.bin"
if ! cmp -s <(tr -s ' \n' '\n\n' < "$tmp/units.txt" | sed '/^$/d') \
            <(tr -s ' \n' '\n\n' < "$fx/fairseq/refs/hubert_cfg_L3_units.txt" | sed '/^$/d'); then
  fail "units through km.bin differ from scikit-learn's"
fi

if command -v gst-launch-1.0 >/dev/null && gst-inspect-1.0 xlsrfeat >/dev/null 2>&1; then
  gst-launch-1.0 -q filesrc location="$wav" ! wavparse ! audioconvert ! audioresample \
    ! audio/x-raw,format=F32LE,rate=16000,channels=1 ! xlsrfeat model="$fx/fairseq/hubert_cfg.pt" layer=3 \
    ! fakesink >"$tmp/gst.log" 2>&1 || { cat "$tmp/gst.log"; fail "xlsrfeat model=hubert_cfg.pt"; }
fi

# Bad checkpoints: exit 1, the file and the key on stderr, no output.
bad() {  # NAME LAYER EXPECTED
  local out="$tmp/bad_$1.npy" rc=0
  "$acoustok" features --model "$fx/fairseq/$1" --layer "$2" --device cpu "$wav" -o "$out" 2>"$tmp/err" || rc=$?
  [ "$rc" = 1 ] || fail "$1: exit $rc, expected 1"
  grep -q "$fx/fairseq/$1" "$tmp/err" || fail "$1: the message does not name the file: $(cat "$tmp/err")"
  grep -qF "$3" "$tmp/err" || fail "$1: the message does not say '$3': $(cat "$tmp/err")"
  [ ! -e "$out" ] || fail "$1: an output was written"
}
bad evil_cfg.pt 1 "'posix.system'"
bad missing_tensor.pt 3 "'model.encoder.layers.1.fc1.weight'"
bad unknown_arch.pt 1 "'cfg.model._name' is 'data2vec_audio'"

exit_on_failures
echo "fairseq checkpoints on the command line: all passed"
