#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One prepared check for a machine with an NVIDIA GPU, under 8 minutes:
#   1. build acoustok (-Dgstreamer=disabled) against the CUDA LibTorch of the
#      machine's PyTorch (python3 -c 'import torch' must work; its torch/
#      folder holds include/ and lib/), into build-gpu/;
#   2. features: `acoustok features --device cuda` equals `--device cpu`
#      (max relative difference, on the test model and a generated 8 s WAV);
#   3. training: 50 steps of `vocoder train --config v1 --device cuda`
#      (4 x 1 s windows), their time per step;
#   4. synthesis: `acoustok synth --device cuda` real-time factor on 60 s of units;
#   5. data parallel: 2 ranks on the one GPU (Gloo stages CUDA tensors through
#      the host), when the machine allows two processes on it.
# Prints one summary line per step and `gpu-check: OK` at the end; the
# figures go in the README's GPU table.
#
# Needs, besides PyTorch 2.x with CUDA (any wheel: its LibTorch is found in
# torch/, with the pre-C++11 ABI of wheels up to 2.6 or the C++11 ABI of
# later ones; meson.build detects which): meson and ninja (Debian's, or pip's
# beside that python: `pip install meson ninja`), a C++17 compiler, and the
# development files of libsndfile, libsoxr, zlib, Eigen, nlohmann-json,
# CLI11 and oneDNN (libdnnl), and Gloo's headers for step 5. On
# Debian/Ubuntu: apt-get install meson ninja-build g++ libsndfile1-dev
# libsoxr-dev zlib1g-dev libeigen3-dev nlohmann-json3-dev libcli11-dev
# libdnnl-dev libgloo-dev.
#   scripts/gpu-check.sh [PYTHON]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=${1:-python3}
build=$root/build-gpu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS
say() { echo "gpu-check: $*"; }

# pip's meson and ninja live beside the python that has them.
PATH=$PATH:$($py -c 'import os, sys; print(os.path.dirname(sys.executable))')
for tool in meson ninja; do
  command -v $tool >/dev/null || { say "FAIL: no $tool (apt-get install meson ninja-build, or $py -m pip install meson ninja)"; exit 1; }
done
torch_dir=$($py -c 'import os, torch; print(os.path.dirname(torch.__file__))')
cuda=$($py -c 'import torch; print(torch.cuda.is_available() and torch.cuda.get_device_name(0) or "")')
[ -n "$cuda" ] || { say "FAIL: $py's torch sees no CUDA device"; exit 1; }
say "GPU $cuda; PyTorch $($py -c 'import torch; print(torch.__version__)') at $torch_dir; CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"

# 1. Build.
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" --buildtype=release -Dgstreamer=disabled -Dsentencepiece=disabled -Dtests=disabled \
    -Dlibtorch="$torch_dir" >"$work/setup.log" 2>&1 || { tail -30 "$work/setup.log"; say "FAIL: meson setup"; exit 1; }
fi
ninja -C "$build" lib/tools/acoustok >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; say "FAIL: build"; exit 1; }
acoustok=$build/lib/tools/acoustok
say "1. built in $((SECONDS - start)) s"

# 2. Features on CUDA equal features on CPU.
model=$root/tests/fixtures/xlsr/xlsr_st
$py - "$work/speech.wav" <<'PYEOF'
import sys, wave, numpy as np
t = np.arange(8 * 16000) / 16000.0
x = 0.3 * np.sin(2 * np.pi * (120 + 40 * np.sin(2 * np.pi * 0.5 * t)) * t) + 0.02 * np.random.default_rng(0).normal(size=t.size)
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
PYEOF
"$acoustok" features --model "$model" --layer 2 "$work/speech.wav" -o "$work/cpu.npy" --device cpu -q
"$acoustok" features --model "$model" --layer 2 "$work/speech.wav" -o "$work/cuda.npy" --device cuda -q
$py -c "
import numpy as np, sys
a, b = np.load('$work/cpu.npy'), np.load('$work/cuda.npy')
assert a.shape == b.shape, (a.shape, b.shape)
r = np.abs(a - b).max() / max(np.abs(a).max(), 1e-12)
print('gpu-check: 2. features cuda vs cpu: %s frames x %d, max relative difference %.2e' % (a.shape[0], a.shape[1], r))
sys.exit(0 if r < 1e-3 else 1)"

# 3. Training: 50 steps of v1 on CUDA.
units=$root/tests/fixtures/vocoder/units segs=$root/tests/fixtures/vocoder/segments
t0=$SECONDS
"$acoustok" vocoder train --units "$units" --audio "$segs" -o "$work/train" --config v1 --device cuda \
  --epochs 1 --samples-per-epoch 200 --batch-size 4 --save-every 0 -q
$py -c "
import json; r = json.load(open('$work/train/training_log.json'))[0]
print('gpu-check: 3. v1 training on cuda: %d steps of 4 x 1 s windows in %.1f s: %.3f s per step (first steps included)' % (r['steps'], r['seconds'], r['seconds'] / r['steps']))"

# 4. Synthesis real-time factor, 60 s of units.
$py -c "import random; random.seed(1); print(' '.join(str(random.randrange(24)) for _ in range(3000)))" >"$work/units.txt"
t0=$(date +%s.%N)
"$acoustok" synth --checkpoint "$work/train/vocoder_latest.pt" "$work/units.txt" -o "$work/synth.wav" --device cuda
t1=$(date +%s.%N)
$py -c "print('gpu-check: 4. v1 synthesis on cuda: 60 s of units in %.2f s: RTF %.4f' % ($t1 - $t0, ($t1 - $t0) / 60))"

# 5. Two ranks on the one GPU.
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
t0=$SECONDS
if (MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=1 "$acoustok" vocoder train --units "$units" --audio "$segs" \
      -o "$work/ddp" --config v1 --device cuda --epochs 1 --samples-per-epoch 40 --batch-size 4 --save-every 0 -q) &
   MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=0 "$acoustok" vocoder train --units "$units" --audio "$segs" \
      -o "$work/ddp" --config v1 --device cuda --epochs 1 --samples-per-epoch 40 --batch-size 4 --save-every 0 -q && wait; then
  say "5. 2 ranks on one GPU (Gloo): 10 steps in $((SECONDS - t0)) s"
else
  say "5. 2 ranks on one GPU: failed (see above); not counted against the check"
fi
say "OK in $((SECONDS - start)) s"
