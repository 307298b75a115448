#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job end to end on bundled speech (see README.md).
# On a fresh Debian 12 machine as root: installs what is missing, builds, then
#   phase 0: segments a generated Portuguese reading (a few minutes) with
#            `acoustok segment`, and an MP3 with gst-launch-1.0 + silencesplit;
#   phase 1: units with `acoustok units` (models/xlsr53 when present, else a
#            small stand-in feature model built offline);
#   phase 2: BPE motifs; phase 3: a short `tiny` vocoder training, its test,
#            and synthesis of one segment's units;
#   report:  every phase on one HTML page (acoustok report -> report.html);
#   then one recording through a single gst-launch-1.0 pipeline to units,
#   motifs and back to a WAV.
# Output goes to $DEMO_DIR (default: ./demo-output). DEMO_EPOCHS (default 20)
# sets the vocoder's training length.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

DEMO_DIR=${DEMO_DIR:-$PWD/demo-output}
ACOUSTOK="$ACOUSTOK_BUILD/lib/tools/acoustok"
export GST_PLUGIN_PATH="$ACOUSTOK_BUILD/plugins${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
mkdir -p "$DEMO_DIR"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Bundled speech: Portuguese readings by espeak-ng (examples/make_demo_corpus.py)"
"$PY" "$ACOUSTOK_ROOT/examples/make_demo_corpus.py" "$DEMO_DIR/recordings" --recordings 6
ls -l "$DEMO_DIR/recordings"

step "Phase 0: acoustok segment (threshold -40 dBFS, pauses >= 0.5 s, 0.1 s kept)"
"$ACOUSTOK" segment "$DEMO_DIR"/recordings/reading_*.wav "$DEMO_DIR"/recordings/*.mp3 \
  -o "$DEMO_DIR/segments" --jobs 2
"$PY" - "$DEMO_DIR/segments/segments.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows[:8]:
    print(f"  {r['file']:<24} {r['start']:7.3f} s .. {r['end']:7.3f} s  ({r['end'] - r['start']:5.2f} s)  from {r['source'].split('/')[-1]}")
print(f"  ... {len(rows)} segments from {len(set(r['source'] for r in rows))} recordings")
PYEOF

step "Phase 0 in GStreamer: MP3 -> silencesplit, one bus message per segment"
gst-launch-1.0 -m filesrc location="$DEMO_DIR/recordings/reading_00_copy.mp3" ! decodebin ! audioconvert ! \
  silencesplit ! fakesink 2>&1 | sed -n 's/.*(element): silencesplit, /  silencesplit: /p'

step "Phase 1: features and k-means units (acoustok units)"
if [ -f "$ACOUSTOK_ROOT/models/xlsr53/config.json" ]; then
  MODEL="$ACOUSTOK_ROOT/models/xlsr53" LAYER=14 K=100
  echo "feature model: XLSR-53 (models/xlsr53), layer 14"
else
  MODEL="$DEMO_DIR/demo-feature-model" LAYER=3 K=50
  [ -f "$MODEL/config.json" ] || "$PY" "$ACOUSTOK_ROOT/models/make_demo_model.py" "$MODEL"
  printf '\033[33mfeature model: a small random-weight STAND-IN for XLSR-53 (its units only show the\n'
  printf 'pipeline). For real units run models/fetch-xlsr53.sh (1.27 GB) and rerun this demo.\033[0m\n'
fi
"$ACOUSTOK" units --model "$MODEL" --layer "$LAYER" --k "$K" "$DEMO_DIR/segments" -o "$DEMO_DIR/units"
echo "  units/all_units_for_bpe.txt, first line:"
head -c 300 "$DEMO_DIR/units/all_units_for_bpe.txt"; echo " ..."

step "Phase 2: motifs (acoustok bpe)"
"$ACOUSTOK" bpe "$DEMO_DIR/units/all_units_for_bpe.txt" -o "$DEMO_DIR/bpe" --vocab-size 300
"$PY" - "$DEMO_DIR/bpe/motif_analysis.json" <<'PYEOF'
import json, sys
a = json.load(open(sys.argv[1]))
print(f"  vocabulary {a['vocab_size']['used']} (asked {a['vocab_size']['requested']}), coverage {a['coverage']:.2f}, "
      f"{a['units_per_token']:.2f} units per token, normalised entropy {a['normalized_entropy']:.2f}")
for m in a["top_motifs"][:8]:
    print(f"  motif {m['motif']:<20} x{m['occurrences']:<5} {m['mean_duration']:.3f} s")
PYEOF

step "Phase 3: a short vocoder training (config tiny), then its test"
"$ACOUSTOK" vocoder train --config tiny --units "$DEMO_DIR/units" --audio "$DEMO_DIR/segments" \
  -o "$DEMO_DIR/vocoder" --epochs "${DEMO_EPOCHS:-20}" --samples-per-epoch 200 --batch-size 8 --save-every 10
"$ACOUSTOK" vocoder test --checkpoint "$DEMO_DIR/vocoder/vocoder_final.pt" --units "$DEMO_DIR/units" \
  --audio "$DEMO_DIR/segments" --num-samples 4 -o "$DEMO_DIR/vocoder-test"
head -n 1 "$DEMO_DIR/units/all_units_for_bpe.txt" > "$DEMO_DIR/one_segment_units.txt"
"$ACOUSTOK" synth --checkpoint "$DEMO_DIR/vocoder/vocoder_final.pt" "$DEMO_DIR/one_segment_units.txt" \
  -o "$DEMO_DIR/resynthesised.wav"

step "Report: every phase on one HTML page (acoustok report)"
"$ACOUSTOK" report "$DEMO_DIR/segments" "$DEMO_DIR/units" "$DEMO_DIR/bpe" "$DEMO_DIR/vocoder" "$DEMO_DIR/vocoder-test" \
  -o "$DEMO_DIR/report.html"
echo "  open $DEMO_DIR/report.html in a browser (self-contained: charts, spectrograms and audio inside)"

step "All in GStreamer: one recording to units, motifs and back to speech"
REC="$DEMO_DIR/recordings/reading_01.wav"
echo "gst-launch-1.0 filesrc location=$REC ! decodebin ! audioconvert ! silencesplit !"
echo "    xlsrfeat model=$MODEL layer=$LAYER ! kmeansunits model=units/kmeans.safetensors ! text/x-raw,format=utf8 ! tee name=t"
echo "    t. ! queue ! filesink location=gst_units.txt"
echo "    t. ! queue ! bpemotif model=bpe/bpe.model ! text/x-raw,format=utf8 ! filesink location=gst_motifs.txt"
echo "    t. ! queue ! unitvocoder model=vocoder/vocoder_final.pt ! audioconvert ! wavenc ! filesink location=gst_resynthesised.wav"
gst-launch-1.0 -q filesrc location="$REC" ! decodebin ! audioconvert ! silencesplit ! \
  xlsrfeat model="$MODEL" layer="$LAYER" ! kmeansunits model="$DEMO_DIR/units/kmeans.safetensors" ! \
  text/x-raw,format=utf8 ! tee name=t \
  t. ! queue ! filesink location="$DEMO_DIR/gst_units.txt" \
  t. ! queue ! bpemotif model="$DEMO_DIR/bpe/bpe.model" ! text/x-raw,format=utf8 ! filesink location="$DEMO_DIR/gst_motifs.txt" \
  t. ! queue ! unitvocoder model="$DEMO_DIR/vocoder/vocoder_final.pt" ! audioconvert ! wavenc ! \
  filesink location="$DEMO_DIR/gst_resynthesised.wav"
echo "  $(wc -l < "$DEMO_DIR/gst_units.txt") segments; first segment's units and motifs:"
echo "  units:  $(head -n 1 "$DEMO_DIR/gst_units.txt" | cut -c1-110) ..."
echo "  motifs: $(head -n 1 "$DEMO_DIR/gst_motifs.txt" | cut -c1-110) ..."
echo "  speech: gst_resynthesised.wav ($(soxi -D "$DEMO_DIR/gst_resynthesised.wav" 2>/dev/null) s)"

step "Unit text through GStreamer: to motifs (bpemotif) and to speech (unitvocoder)"
gst-launch-1.0 -q filesrc location="$DEMO_DIR/units/all_units_for_bpe.txt" ! text/x-raw,format=utf8 ! \
  bpemotif model="$DEMO_DIR/bpe/bpe.model" ! text/x-raw,format=utf8 ! filesink location="$DEMO_DIR/gst_all_motifs.txt"
"$ACOUSTOK" bpe encode "$DEMO_DIR/bpe/bpe.model" "$DEMO_DIR/units/all_units_for_bpe.txt" > "$DEMO_DIR/cli_all_motifs.txt"
if cmp -s "$DEMO_DIR/gst_all_motifs.txt" "$DEMO_DIR/cli_all_motifs.txt"; then
  echo "  bpemotif motifs of $(wc -l < "$DEMO_DIR/cli_all_motifs.txt") segments = acoustok bpe encode"
else
  echo "  bpemotif and acoustok bpe encode DIFFER" >&2; exit 1
fi
gst-launch-1.0 -q filesrc location="$DEMO_DIR/one_segment_units.txt" ! text/x-raw,format=utf8 ! \
  unitvocoder model="$DEMO_DIR/vocoder/vocoder_final.pt" ! audioconvert ! wavenc ! \
  filesink location="$DEMO_DIR/gst_one_segment.wav"
echo "  unitvocoder: one_segment_units.txt -> gst_one_segment.wav ($(soxi -D "$DEMO_DIR/gst_one_segment.wav" 2>/dev/null) s)"

step "Done: outputs in $DEMO_DIR"
echo "  segments/            phase 0 segment WAVs and segments.jsonl"
echo "  units/               kmeans.safetensors, corpus_timestamped.json, all_units_for_bpe.txt"
echo "  bpe/                 bpe.model, bpe.vocab, motif_analysis.json"
echo "  vocoder/             checkpoints, training_log.json, samples"
echo "  vocoder-test/        orig_/synth_ WAVs and metrics.json"
echo "  report.html          every phase on one page: charts, spectrograms, players"
echo "  resynthesised.wav    the first segment's units spoken by the vocoder (acoustok synth)"
echo "  gst_units.txt, gst_motifs.txt, gst_resynthesised.wav   the same through one GStreamer pipeline"
