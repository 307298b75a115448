#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Phase 3 is HiFi-GAN: acoustok's generator, discriminators and one training
# step agree with a PyTorch reference written as speech-resynthesis
# structures them (reference_hifigan.py), within 1e-4 relative, both ways
# (weights initialised by acoustok, then by the reference); and a released
# speech-resynthesis vocoder synthesises through `acoustok synth` as the
# reference generator does.
#   test_vocoder_parity.sh STEP_DUMP ACOUSTOK TESTS_DIR
set -euo pipefail
dump=$1 acoustok=$2 tests=$3
source "$(dirname "${BASH_SOURCE[0]}")/../common/shell_env.sh"
ref=$tests/vocoder/vocoder_parity.py
export OMP_NUM_THREADS=2
# The reference's comparison: only what is off (and its summary) is printed.
compare() {
  local out rc=0
  out=$($PY "$ref" step "$@" 2>&1) || rc=$?
  grep -v '^OK' <<<"$out" || true
  return $rc
}

# tests/asan/run.sh asks for tiny alone (ACOUSTOK_PARITY_PRESETS): small
# runs the same code on bigger tensors, and ASan makes every one cost more.
for preset in ${ACOUSTOK_PARITY_PRESETS:-tiny small}; do
  echo "parity: $preset, weights from acoustok"
  "$dump" init "$preset" "$tmp/$preset.pt" 3
  $PY "$ref" batch --checkpoint "$tmp/$preset.pt" --out "$tmp/batch_$preset.pt" --batch-size 2 --frames 12 --seed 5
  "$dump" step --double "$tmp/$preset.pt" "$tmp/batch_$preset.pt" "$tmp/dump_$preset.pt"
  compare --double --checkpoint "$tmp/$preset.pt" --batch "$tmp/batch_$preset.pt" --dump "$tmp/dump_$preset.pt" \
    --rtol 1e-4 --rtol-grad-g 1e-4
  # And in float32, as training runs: everything but the generator's
  # gradients (whose log-mel floor amplifies float32 rounding) within 1e-4.
  "$dump" step "$tmp/$preset.pt" "$tmp/batch_$preset.pt" "$tmp/dump32_$preset.pt"
  compare --checkpoint "$tmp/$preset.pt" --batch "$tmp/batch_$preset.pt" --dump "$tmp/dump32_$preset.pt" \
    --rtol 1e-4 --rtol-grad-g 1e-2 
done

echo "parity: tiny, weights from the reference"
$PY "$ref" init --preset tiny --out "$tmp/ref.pt" --seed 11
$PY "$ref" batch --checkpoint "$tmp/ref.pt" --out "$tmp/batch_ref.pt" --batch-size 2 --frames 12 --seed 6
"$dump" step --double "$tmp/ref.pt" "$tmp/batch_ref.pt" "$tmp/dump_ref.pt"
compare --double --checkpoint "$tmp/ref.pt" --batch "$tmp/batch_ref.pt" --dump "$tmp/dump_ref.pt" \
  --rtol 1e-4 --rtol-grad-g 1e-4 

echo "parity: torch.load(weights_only=True) reads acoustok's checkpoints (no global beyond a state dict's)"
$PY -c "import sys, torch; d = torch.load(sys.argv[1], weights_only=True); assert d['format'] == 'acoustok-vocoder' and d['version'] == 2" "$tmp/tiny.pt"

echo "parity: a released speech-resynthesis vocoder through acoustok synth"
$PY "$ref" released --out-dir "$tmp/released" --preset small --seed 2
printf '3 3 17 40 40 40 2 99 0 5\n12 12 12 7\n' > "$tmp/units.txt"
"$acoustok" synth --checkpoint "$tmp/released/g_00000000" "$tmp/units.txt" --concat -o "$tmp/released.wav" --threads 2
$PY "$ref" synth --checkpoint "$tmp/released/g_00000000" --config "$tmp/released/config.json" \
  --units "$tmp/units.txt" --compare-wav "$tmp/released.wav"

echo "parity: what acoustok cannot run is refused by name"
$PY - "$tmp/released/config.json" "$tmp/f0.json" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1])); c["f0"] = True; json.dump(c, open(sys.argv[2], "w"))
PYEOF
if out=$("$acoustok" synth --checkpoint "$tmp/released/g_00000000" --vocoder-config "$tmp/f0.json" "$tmp/units.txt" --concat -o "$tmp/x.wav" 2>&1); then
  echo "FAIL: an F0-conditioned vocoder config was accepted"; exit 1
fi
grep -q "'f0'" <<<"$out" || { echo "FAIL: the refusal does not name f0: $out"; exit 1; }
[ ! -e "$tmp/x.wav" ] || { echo "FAIL: output written on failure"; exit 1; }
printf '3 100\n' > "$tmp/bad.txt"
if out=$("$acoustok" synth --checkpoint "$tmp/released/g_00000000" "$tmp/bad.txt" -o "$tmp/x.wav" 2>&1); then
  echo "FAIL: unit 100 accepted by a 100-unit vocoder"; exit 1
fi
grep -q "100" <<<"$out" || { echo "FAIL: the refusal does not name the unit: $out"; exit 1; }
echo "parity: hostile checkpoints are refused by name, nothing written (issue: LibTorch sized storages from the pickle)"
"$dump" init tiny "$tmp/good.pt" 1
printf '1 2 3 4\n' > "$tmp/u4.txt"
"$acoustok" synth --checkpoint "$tmp/good.pt" "$tmp/u4.txt" -o "$tmp/good.wav" >/dev/null 2>&1
for kind in short empty flipped longer; do
  $PY - "$tmp/good.pt" "$tmp/$kind.pt" "$kind" <<'PYEOF'
import sys, zipfile
src, dst, kind = sys.argv[1:]
zin = zipfile.ZipFile(src)
records = sorted(n for n in zin.namelist() if "/data/" in n)
victim = max(records, key=lambda n: zin.getinfo(n).file_size)  # a weight, not a scalar
with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
    for info in zin.infolist():
        data = zin.read(info.filename)
        if info.filename == victim:
            if kind == "short": data = data[:-4]
            elif kind == "empty": data = b""
            elif kind == "longer": data = data + b"\0" * 8
        zout.writestr(info.filename, data)
if kind == "flipped":  # a byte flipped after the CRC was written
    raw = bytearray(open(dst, "rb").read())
    zf = zipfile.ZipFile(dst); off = zf.getinfo(victim).header_offset
    name_len = len(victim.encode()); raw[off + 30 + name_len + 64] ^= 0x40
    open(dst, "wb").write(bytes(raw))
PYEOF
  rc=0
  out=$("$acoustok" synth --checkpoint "$tmp/$kind.pt" "$tmp/u4.txt" -o "$tmp/$kind.wav" 2>&1) || rc=$?
  [ "$rc" = 1 ] || { echo "FAIL: $kind storage record: exit $rc: $out"; exit 1; }
  grep -q "$tmp/$kind.pt: .*tensor '" <<<"$out" || { echo "FAIL: $kind: the message names no tensor: $out"; exit 1; }
  [ ! -e "$tmp/$kind.wav" ] || { echo "FAIL: $kind: output written"; exit 1; }
  echo "  $kind record: $out"
done
echo "parity: OK"
