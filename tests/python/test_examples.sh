#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/python run against small real models (the test wav2vec2 model at
# layer 2, k-means k=24 from `acoustok units` on the vocoder fixture segments,
# a one-epoch `tiny` vocoder), and their results checked exactly:
#  - units_from_file.py on a segment of that corpus: silencesplit finds one
#    segment spanning the whole file, which is exactly the audio `acoustok
#    units` encoded, with the k-means it fitted, so the units equal that file's
#    units in corpus_timestamped.json, id for id;
#  - units_from_file.py on a recording with pauses: its segments equal
#    `acoustok segment`'s, and per segment the features equal `acoustok
#    features` on the segment WAV bit for bit and the units `acoustok kmeans
#    predict` on them; frames and units pair up by count and PTS, ids in [0, k);
#  - live_resynthesis.py (appsrc in real time, bounded segments): 320 samples
#    per unit in the WAV; with unbounded segments its units equal
#    units_from_file.py's on the same file (appsrc + NumPy = decodebin).
# Fails (does not skip) when PyGObject or the GStreamer typelibs are missing.
#   test_examples.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
PY=${ACOUSTOK_PYTHON:-/usr/bin/python3}
acoustok=$build/lib/tools/acoustok
fx=$src/tests/fixtures
ex=$src/examples/python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GST_PLUGIN_PATH=$build/plugins
export GST_REGISTRY=${GST_REGISTRY:-$tmp/registry.bin}
# OpenMP threads that sleep instead of spinning when they wait: the same
# results, and 4x faster on a busy machine (a tiny vocoder training on 2 cores
# next to 2 busy processes: 43 s spinning, 10 s passive).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

if ! err=$("$PY" -c "
import numpy, gi
gi.require_version('Gst', '1.0')
gi.require_version('GstApp', '1.0')
from gi.repository import Gst, GstApp" 2>&1); then
  echo "FAIL: PyGObject with the GStreamer typelibs is needed (apt-get install python3-gi gir1.2-gstreamer-1.0" \
    "gir1.2-gst-plugins-base-1.0 python3-numpy):"
  echo "$err"
  exit 1
fi

model=$fx/xlsr/xlsr_st layer=2 k=24
segments=$fx/vocoder/segments
one=$segments/espeak_pt_00000.wav          # one segment, the whole file
pauses=$fx/silence/speech_pauses.wav       # five segments

echo "models: k-means (k=$k) and a tiny vocoder on the fixture segments"
"$acoustok" units "$segments" -o "$tmp/units" --model "$model" --layer $layer --k $k --seed 1 --threads 2 -q
"$acoustok" vocoder train --units "$tmp/units" --audio "$segments" -o "$tmp/voc" --config tiny --epochs 1 \
  --samples-per-epoch 8 --batch-size 4 --save-every 0 --threads 2 -q
km=$tmp/units/kmeans.safetensors voc=$tmp/voc/vocoder_final.pt
# LibTorch threads as the reference each result is compared with uses: every
# CPU for the file `acoustok units` encoded (it runs the model on all), 2 for
# the rest (`acoustok features --threads 2`).
common=(--model "$model" --layer "$layer" --kmeans "$km")

echo "units_from_file.py"
"$PY" "$ex/units_from_file.py" "$one" "${common[@]}" --threads 0 --save-npz "$tmp/one.npz" | tee "$tmp/one.txt"
"$PY" "$ex/units_from_file.py" "$pauses" "${common[@]}" --threads 2 --save-npz "$tmp/pauses.npz" | tee "$tmp/pauses.txt"

echo "references: acoustok segment, features and kmeans predict per segment of $(basename "$pauses")"
"$acoustok" segment -q "$pauses" -o "$tmp/seg"
for w in "$tmp"/seg/*.wav; do
  "$acoustok" features --model "$model" --layer $layer "$w" -o "${w%.wav}.npy" --threads 2 -q
  "$acoustok" kmeans predict "$km" "${w%.wav}.npy" -o "${w%.wav}.txt" --threads 2
done

echo "live_resynthesis.py: real time, 3 s segments"
"$PY" "$ex/live_resynthesis.py" "$one" "${common[@]}" --threads 2 --vocoder "$voc" -o "$tmp/live.wav" \
  --save-units "$tmp/live_units.npy" | tee "$tmp/live.txt"
echo "live_resynthesis.py: unbounded segments, pushed as fast as taken"
"$PY" "$ex/live_resynthesis.py" "$pauses" "${common[@]}" --threads 2 --vocoder "$voc" -o "$tmp/live_pauses.wav" \
  --save-units "$tmp/live_pauses_units.npy" --max-segment-time 0 --fast | tee "$tmp/live_pauses.txt"
echo "live_resynthesis.py: synthetic input"
"$PY" "$ex/live_resynthesis.py" "${common[@]}" --threads 2 --vocoder "$voc" -o "$tmp/synthetic.wav" --fast \
  --save-units "$tmp/synthetic_units.npy" | tee "$tmp/synthetic.txt"

"$PY" - "$tmp" "$one" "$pauses" $k <<'PYEOF'
import json, os, sys, wave
import numpy as np

tmp, one, pauses, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
FRAME = 20_000_000  # ns
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def wav_frames(path):
    with wave.open(path) as w:
        return w.getnframes(), w.getframerate(), w.getnchannels()


def check_npz(name, z):
    f, u = z["features"], z["units"]
    check(f.ndim == 2 and len(f) > 0 and f.dtype == np.float32, f"{name}: features float32 [frames, dim], non-empty {f.shape}")
    check(int(z["dim"]) == f.shape[1] == 32 and int(z["layer"]) == 2, f"{name}: caps dim {z['dim']} layer {z['layer']}")
    check(int(z["k"]) == k, f"{name}: caps vocab-size {z['k']} == k {k}")
    check(len(u) == len(f), f"{name}: {len(u)} units for {len(f)} frames")
    check(len(u) > 0 and u.min() >= 0 and u.max() < k, f"{name}: unit ids in [0, {k})")
    check(np.array_equal(z["unit_pts"], z["feature_pts"]), f"{name}: units and frames have the same PTS")
    check(np.all(np.isfinite(f)), f"{name}: features finite")
    seg, segs = z["segment"], z["segments"]
    check(len(segs) > 0 and np.all(seg >= 0), f"{name}: every frame lies in a silencesplit segment")
    for i, (start, stop) in enumerate(segs):
        pts = z["unit_pts"][seg == i].astype(np.int64)
        check(len(pts) > 0 and pts[0] == start and np.all(np.diff(pts) == FRAME) and pts[-1] + FRAME <= stop,
              f"{name}: segment {i} frames start at its start ({start}) and follow every 20 ms")


# 1. One segment = the whole file = what `acoustok units` encoded.
z = np.load(os.path.join(tmp, "one.npz"))
check_npz("one", z)
n, rate, _ = wav_frames(one)
check(z["segments"].tolist() == [[0, n * 1_000_000_000 // rate]],
      f"one: silencesplit's only segment spans the file: {z['segments'].tolist()}")
corpus = {s["file"]: s["units"] for s in json.load(open(os.path.join(tmp, "units", "corpus_timestamped.json")))["segments"]}
check(z["units"].tolist() == corpus[os.path.basename(one)],
      f"one: units equal acoustok units' ({len(corpus[os.path.basename(one)])} in corpus_timestamped.json)")

# 2. Five segments: acoustok segment, features and kmeans predict per segment.
z = np.load(os.path.join(tmp, "pauses.npz"))
check_npz("pauses", z)
rows = [json.loads(line) for line in open(os.path.join(tmp, "seg", "segments.jsonl"))]
spans = [[round(r["start"] * 1000), round(r["end"] * 1000)] for r in rows]  # ms in segments.jsonl
check([[int(s) // 1_000_000, int(e) // 1_000_000] for s, e in z["segments"]] == spans and len(spans) > 1,
      f"pauses: silencesplit's segments equal acoustok segment's {spans}")
for i, r in enumerate(rows):
    stem = os.path.join(tmp, "seg", os.path.splitext(r["file"])[0])
    ref_f = np.load(stem + ".npy")
    ref_u = np.loadtxt(stem + ".txt", dtype=np.int64, ndmin=1)
    m = z["segment"] == i
    check(np.array_equal(z["features"][m], ref_f), f"pauses: segment {i}: {m.sum()} frames equal acoustok features' {ref_f.shape}")
    check(np.array_equal(z["units"][m], ref_u), f"pauses: segment {i}: units equal acoustok kmeans predict's")

# 3. Resynthesis: 320 samples per unit.
for name in ("live", "live_pauses", "synthetic"):
    units = np.load(os.path.join(tmp, name + "_units.npy"))
    frames, rate, channels = wav_frames(os.path.join(tmp, name + ".wav"))
    check(len(units) > 0 and units.min() >= 0 and units.max() < k, f"{name}: {len(units)} units, ids in [0, {k})")
    check(rate == 16000 and channels == 1 and frames == 320 * len(units),
          f"{name}: WAV {rate} Hz x{channels}, {frames} samples == 320 x {len(units)} units")
    with wave.open(os.path.join(tmp, name + ".wav")) as w:
        pcm = np.frombuffer(w.readframes(frames), "<i2")
    check(np.abs(pcm).max() > 0, f"{name}: the audio is not silent")
live_one = np.load(os.path.join(tmp, "live_units.npy"))
check(abs(len(live_one) - len(np.load(os.path.join(tmp, "one.npz"))["units"])) <= 2,
      f"live: {len(live_one)} units with 3 s segments, about the file's {len(np.load(os.path.join(tmp, 'one.npz'))['units'])}")
check(np.array_equal(np.load(os.path.join(tmp, "live_pauses_units.npy")), z["units"]),
      "live_pauses: appsrc units equal units_from_file's (same segments)")
text = open(os.path.join(tmp, "live.txt")).read()
check("segment 0 " in text and "(320 per unit)" in text, "live: prints segments and the samples per unit")

print(f"{'FAIL' if failures else 'ok'}: {len(failures)} failed checks")
sys.exit(1 if failures else 0)
PYEOF
