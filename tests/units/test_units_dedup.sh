#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Reduced units (`acoustok units --dedup`) on the bundled speech and the
# stand-in feature model: each segment's units are the plain run's units
# collapsed by itertools.groupby, "durations" their run lengths (summing to
# the segment's frames), "unit_times"/"source_times" the run starts, and
# all_units_for_bpe.txt the collapsed lines; a rerun with another --dedup is
# refused naming the option; `bpe --dedup` on the reduced lines trains the
# model it trains on the frame lines; `report` gives the same unit statistics.
#   test_units_dedup.sh ACOUSTOK FIXTURES
set -euo pipefail
acoustok=$1
fx=$2
source "$(dirname "${BASH_SOURCE[0]}")/../common/shell_env.sh"
cd "$tmp"

"$acoustok" segment -q "$fx/silence/speech_pauses.wav" -o seg
units() { "$acoustok" units -q --model "$fx/xlsr/xlsr_st" --layer 2 --checkpoint-every 0 seg "$@"; }
units --k 10 -o full
units --kmeans full/kmeans.safetensors --dedup -o reduced

$PY - <<'PYEOF' || fail "reduced outputs differ from the collapsed frame units"
import itertools, json
full = json.load(open("full/corpus_timestamped.json"))
red = json.load(open("reduced/corpus_timestamped.json"))
assert red.get("dedup") is True and "dedup" not in full, "top-level dedup flag"
assert len(full["segments"]) == len(red["segments"]) > 1
lines = open("reduced/all_units_for_bpe.txt").read().split("\n")[:-1]
assert len(lines) == len(red["segments"])
collapsed_any = False
for f, r, line in zip(full["segments"], red["segments"], lines):
    assert f["file"] == r["file"] and f["offset"] == r["offset"] and f["source"] == r["source"]
    runs = [(u, len(list(g))) for u, g in itertools.groupby(f["units"])]
    units = [u for u, _ in runs]
    durations = [n for _, n in runs]
    starts = [0] + list(itertools.accumulate(durations))[:-1]
    assert r["units"] == units, r["file"]
    assert r["durations"] == durations, r["file"]
    assert sum(r["durations"]) == len(f["units"]), r["file"]
    assert r["unit_times"] == [round(0.02 * s, 6) for s in starts], r["file"]
    # The run start's source time is the frame's source time in the plain run.
    assert r["source_times"] == [f["source_times"][s] for s in starts], r["file"]
    assert line == " ".join(map(str, units)), r["file"]
    collapsed_any |= len(units) < len(f["units"])
assert collapsed_any, "the corpus has no runs to collapse"
print("units --dedup: %d segments equal the collapsed frame units" % len(lines))
PYEOF

# acoustok report counts a reduced corpus' frames by its durations: its unit
# statistics (frames, frequencies, run lengths) are those of the frame units.
"$acoustok" report -q full -o full.html
"$acoustok" report -q reduced -o reduced.html
unit_stats() { sed 's/<[^>]*>/\n/g' "$1" | grep -v '^\s*$' | sed -n '/^corpus_timestamped.json$/,$p'; }
[ -n "$(unit_stats full.html)" ] || fail "report: no unit statistics found"
diff <(unit_stats full.html) <(unit_stats reduced.html) >/dev/null ||
  fail "report: unit statistics of the reduced corpus differ from the frame corpus'"

# A rerun with the other --dedup resumes nothing: refused, naming the option.
if units --k 10 -o full --dedup 2>log; then fail "full: rerun with --dedup succeeded"; fi
grep -q "checkpoint.json: made by a run with other options (dedup: none in the checkpoint, true in this run)" log ||
  fail "full: refusal does not name dedup: $(cat log)"
if units --kmeans full/kmeans.safetensors -o reduced 2>log; then fail "reduced: rerun without --dedup succeeded"; fi
grep -q "dedup: true in the checkpoint, none in this run" log || fail "reduced: refusal does not name dedup: $(cat log)"

# bpe --dedup: the reduced lines are what it collapses the frame lines to.
if "$acoustok" bpe -q --dedup --vocab-size 40 full/all_units_for_bpe.txt -o bpe_full 2>log; then
  "$acoustok" bpe -q --dedup --vocab-size 40 reduced/all_units_for_bpe.txt -o bpe_reduced
  cmp bpe_full/bpe.model bpe_reduced/bpe.model || fail "bpe --dedup: models of the frame and the reduced lines differ"
  cmp bpe_full/bpe.vocab bpe_reduced/bpe.vocab || fail "bpe --dedup: vocabularies differ"
  "$acoustok" bpe encode bpe_full/bpe.model reduced/all_units_for_bpe.txt > enc_reduced.txt
  "$acoustok" bpe encode bpe_full/bpe.model full/all_units_for_bpe.txt > enc_full.txt
  cmp enc_full.txt enc_reduced.txt || fail "bpe encode: motifs of the reduced lines differ"
elif grep -q "acoustok-bpe" log; then
  echo "bpe: acoustok-bpe not built (no SentencePiece): skipped"
else
  fail "bpe: $(cat log)"
fi

exit_on_failures
echo "OK"
