#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --precision bf16 (and xlsrfeat precision=bf16). On a CPU with AVX512_BF16
# or AMX-BF16: the features stay within a few per cent of fp32's (relative
# Frobenius error, printed), and units from bf16 features agree with units
# from fp32 features on >= 99 % of frames with the same k-means (fitted on
# the fp32 features, applied with units --kmeans). On any other CPU: bf16 is
# refused with a message that says why, exit 1, nothing written.
#   test_bf16.sh ACOUSTOK FIXTURES
set -euo pipefail
acoustok=$1 fx=$2
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=$fx/xlsr/xlsr_st
segments=$fx/vocoder/segments
wav=$fx/xlsr/speech_pt.wav

cpu_has_bf16=no
grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo && cpu_has_bf16=yes
echo "bf16: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), AVX512_BF16 or AMX-BF16: $cpu_has_bf16"

rc=0
"$acoustok" features --model "$model" --layer 2 --precision bf16 "$wav" -o "$tmp/f16.npy" -q 2>"$tmp/err" || rc=$?
if [ "$cpu_has_bf16" = no ]; then
  [ "$rc" -eq 1 ] || { echo "FAIL: bf16 on a CPU without it: exit $rc"; exit 1; }
  grep -q "AVX512_BF16" "$tmp/err" || { echo "FAIL: message: $(cat "$tmp/err")"; exit 1; }
  [ ! -e "$tmp/f16.npy" ] || { echo "FAIL: output written"; exit 1; }
  echo "  refused as it should be: $(cat "$tmp/err")"
  exit 0
fi
[ "$rc" -eq 0 ] || { echo "FAIL: bf16 features: exit $rc: $(cat "$tmp/err")"; exit 1; }

"$acoustok" features --model "$model" --layer 2 "$wav" -o "$tmp/f32.npy" -q
"$acoustok" units "$segments" -o "$tmp/u32" --model "$model" --layer 2 --k 24 --seed 1 --threads 2 -q
"$acoustok" units "$segments" -o "$tmp/u16" --model "$model" --layer 2 --precision bf16 \
  --kmeans "$tmp/u32/kmeans.safetensors" --threads 2 -q
if command -v gst-launch-1.0 >/dev/null && gst-inspect-1.0 xlsrfeat >/dev/null 2>&1; then
  gst-launch-1.0 -q filesrc location="$wav" ! decodebin ! audioconvert ! audioresample \
    ! xlsrfeat model="$model" layer=2 precision=bf16 ! fakesink
  echo "  xlsrfeat precision=bf16: runs to EOS"
fi
$PY - "$tmp" <<'PYEOF'
import json, sys
import numpy as np
tmp = sys.argv[1]
a, b = np.load(tmp + "/f32.npy").astype(np.float64), np.load(tmp + "/f16.npy").astype(np.float64)
assert a.shape == b.shape, (a.shape, b.shape)
rel = np.linalg.norm(a - b) / np.linalg.norm(a)
cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
print(f"  features: relative error {rel:.2e}, worst frame cosine {cos.min():.5f} ({a.shape[0]} frames x {a.shape[1]})")
assert rel < 0.05, rel
def units(d):
    return {s["file"]: s["units"] for s in json.load(open(d + "/corpus_timestamped.json"))["segments"]}
u32, u16 = units(tmp + "/u32"), units(tmp + "/u16")
assert u32.keys() == u16.keys()
same = sum(int(x == y) for f in u32 for x, y in zip(u32[f], u16[f]))
total = sum(len(v) for v in u32.values())
assert all(len(u32[f]) == len(u16[f]) for f in u32)
print(f"  units: bf16 agrees with fp32 on {same} of {total} frames ({100.0 * same / total:.2f} %), same k-means")
assert same >= 0.99 * total, (same, total)
PYEOF
echo "bf16 checks passed"
