#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# How good the vocoder gets here: trains `small` (or CONFIG) for a fixed CPU
# budget on a few minutes of espeak-ng Portuguese speech with the demo's
# units, then scores every saved epoch on held-out segments (vocoder test:
# MCD, GPE/VDE/FFE, unit agreement by re-encoding with the same feature model
# and k-means) and prints the curve as a Markdown table for the README.
#   tests/bench/vocoder_quality_curve.sh [BUDGET_MINUTES=120] [CONFIG=small] [OUT=/tmp/acoustok-quality]
# Env: ACOUSTOK_BUILD (default build/), RECORDINGS (default 12, about 20 s each), EVERY (epochs between scored checkpoints, 2)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
budget=${1:-120} config=${2:-small} out=${3:-/tmp/acoustok-quality}
build=${ACOUSTOK_BUILD:-$root/build}
acoustok=$build/lib/tools/acoustok
PY=/usr/bin/python3
every=${EVERY:-2}
mkdir -p "$out"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs; budget ${budget} min; config $config"

# Corpus and units, as the demo makes them (cached across runs).
if [ ! -f "$out/units/corpus_timestamped.json" ]; then
  $PY "$root/examples/make_demo_corpus.py" "$out/recordings" --recordings "${RECORDINGS:-12}"
  "$acoustok" segment -q "$out"/recordings/reading_*.wav -o "$out/segments"
  [ -f "$out/model/config.json" ] || $PY "$root/models/make_demo_model.py" "$out/model"
  "$acoustok" units -q --model "$out/model" --layer 3 --k 50 "$out/segments" -o "$out/units"
fi
minutes=$($PY -c "import json; s=json.load(open('$out/units/corpus_timestamped.json'))['segments']; print('%.1f' % (sum(len(x['units']) for x in s) / 50 / 60))")
echo "corpus: $minutes minutes of speech in $(ls "$out"/segments/*.wav | wc -l) segments; units k=50 from the demo feature model, layer 3"

# Training for the budget (resumable: rerun to go on), scored every $every epochs.
start=$(date +%s)
timeout --signal=INT "$((budget * 60))" "$acoustok" vocoder train --units "$out/units" --audio "$out/segments" \
  -o "$out/train" --config "$config" --epochs 100000 --patience 100000 --samples-per-epoch 200 --batch-size 8 \
  --save-every "$every" --early-stop-metric mcd -q || true
echo "trained $(( ($(date +%s) - start) / 60 )) min"

echo
echo "held-out: the trainer's held-out segments (training_log.json); test: vocoder test on 6 segments spread over the corpus"
echo "| epoch | CPU time (h) | held-out mel | held-out MCD (dB) | test MCD (dB) | GPE | VDE | FFE | unit agreement |"
echo "|---|---|---|---|---|---|---|---|---|"
for ck in "$out"/train/vocoder_epoch_*.pt; do
  e=$(basename "$ck" .pt | sed 's/vocoder_epoch_0*//')
  "$acoustok" vocoder test -q --json --checkpoint "$ck" --units "$out/units" --audio "$out/segments" -o "$out/test_$e" \
    --num-samples 6 --model "$out/model" --layer 3 --kmeans "$out/units/kmeans.safetensors" >"$out/test_$e.json"
  $PY - "$out/train/training_log.json" "$e" "$out/test_$e.json" <<'PYEOF'
import json, sys
log = json.load(open(sys.argv[1])); e = int(sys.argv[2]); m = json.load(open(sys.argv[3]))["mean"]
rec = next(r for r in log if r["epoch"] == e)
hours = sum(r["seconds"] for r in log if r["epoch"] <= e) / 3600
f = lambda k, p=3: ("%.*f" % (p, m[k])) if m.get(k) is not None else "-"
held_mcd = "%.2f" % rec["heldout_mcd"] if rec.get("heldout_mcd") is not None else "-"
print("| %d | %.2f | %.1f | %s | %s | %s | %s | %s | %s |" % (e, hours, rec["heldout_mel"], held_mcd, f("mcd_db", 2), f("gpe"),
                                                          f("vde"), f("ffe"), f("unit_agreement")))
PYEOF
done
