#!/usr/bin/env bash
# The main job end to end on bundled speech (see README.md).
# On a fresh Debian 12 machine as root: installs what is missing, builds, then
#   phase 0: segments a generated Portuguese reading with `acoustok segment`
#            and the same MP3 with a gst-launch-1.0 pipeline using silencesplit.
# Output goes to $DEMO_DIR (default: ./demo-output).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

DEMO_DIR=${DEMO_DIR:-$PWD/demo-output}
ACOUSTOK="$ACOUSTOK_BUILD/lib/tools/acoustok"
export GST_PLUGIN_PATH="$ACOUSTOK_BUILD/plugins${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
mkdir -p "$DEMO_DIR"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Bundled speech: Portuguese readings by espeak-ng (examples/make_demo_corpus.py)"
"$PY" "$ACOUSTOK_ROOT/examples/make_demo_corpus.py" "$DEMO_DIR/recordings" --recordings 2
ls -l "$DEMO_DIR/recordings"

step "Phase 0: acoustok segment (threshold -40 dBFS, pauses >= 0.5 s, 0.1 s kept)"
"$ACOUSTOK" segment "$DEMO_DIR"/recordings/reading_*.wav "$DEMO_DIR"/recordings/*.mp3 \
  -o "$DEMO_DIR/segments" --jobs 2
"$PY" - "$DEMO_DIR/segments/segments.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    print(f"  {r['file']:<24} {r['start']:7.3f} s .. {r['end']:7.3f} s  ({r['end'] - r['start']:5.2f} s)  from {r['source'].split('/')[-1]}")
print(f"  {len(rows)} segments")
PYEOF

step "Phase 0 in GStreamer: MP3 -> silencesplit, one bus message per segment"
gst-launch-1.0 -m filesrc location="$DEMO_DIR/recordings/reading_00_copy.mp3" ! decodebin ! audioconvert ! \
  audioresample ! silencesplit ! fakesink 2>&1 | sed -n 's/.*(element): silencesplit, /  silencesplit: /p'

step "Done: outputs in $DEMO_DIR"
