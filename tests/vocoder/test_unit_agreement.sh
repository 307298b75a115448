#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# unit_agreement of `acoustok vocoder test` (re-encode the synthesis with
# --model/--layer/--kmeans, share of frames equal to the units asked
# for) equals an independent computation: `acoustok features` on each
# synth_XXXX.wav, nearest centroid in NumPy, compared with the corpus units.
# The same path on the originals gives back the corpus units (agreement 1).
#   test_unit_agreement.sh ACOUSTOK FIXTURES
set -euo pipefail
acoustok=$1 fx=$2
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=$fx/xlsr/xlsr_st
segments=$fx/vocoder/segments

echo "unit agreement: units of the segments with the test feature model, a tiny vocoder on them"
"$acoustok" units "$segments" -o "$tmp/units" --model "$model" --layer 2 --k 24 --seed 1 --threads 2 -q
"$acoustok" vocoder train --units "$tmp/units" --audio "$segments" -o "$tmp/voc" --config tiny --epochs 1 \
  --samples-per-epoch 8 --batch-size 4 --save-every 0 --threads 2 -q
"$acoustok" vocoder test --checkpoint "$tmp/voc/vocoder_final.pt" --units "$tmp/units" --audio "$segments" \
  -o "$tmp/test" --num-samples 3 --model "$model" --layer 2 --kmeans "$tmp/units/kmeans.safetensors" \
  --threads 2 -q >/dev/null
for f in "$tmp"/test/synth_*.wav "$tmp"/test/orig_*.wav; do
  "$acoustok" features --model "$model" --layer 2 "$f" -o "${f%.wav}.npy" --threads 2 -q
done
$PY - "$tmp/test" "$tmp/units" <<'PYEOF'
import json, struct, sys
import numpy as np
test, units = sys.argv[1:]
def safetensors(path, name):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])[name]
    a, b = h["data_offsets"]
    return np.frombuffer(raw[8 + n + a:8 + n + b], dtype={"F32": np.float32, "F16": np.float16}[h["dtype"]]).reshape(h["shape"])
centroids = safetensors(units + "/kmeans.safetensors", "centroids").astype(np.float64)
corpus = {s["file"]: s["units"] for s in json.load(open(units + "/corpus_timestamped.json"))["segments"]}
def encode(npy):
    f = np.load(npy).astype(np.float64)
    return (((f[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)).argmin(1)
metrics = json.load(open(test + "/metrics.json"))
assert len(metrics["samples"]) == 3
for s in metrics["samples"]:
    want = np.array(corpus[s["segment"]])
    got = encode("%s/synth_%s.npy" % (test, s["name"]))
    n = min(len(want), len(got))
    expected = float((want[:n] == got[:n]).mean())
    print("  %s: unit_agreement %.6f, independent %.6f" % (s["segment"], s["unit_agreement"], expected))
    assert abs(s["unit_agreement"] - expected) < 1e-12, "unit_agreement differs from the independent computation"
    back = encode("%s/orig_%s.npy" % (test, s["name"]))
    same = float((back[:len(want)] == want[:len(back)]).mean())
    assert same == 1.0, "the original's re-encoded units are not the corpus units (%.4f)" % same
print("  the originals re-encode to their corpus units exactly")
m = metrics["mean"]["unit_agreement"]
assert abs(m - np.mean([s["unit_agreement"] for s in metrics["samples"]])) < 1e-12
PYEOF
echo "unit agreement: OK"
