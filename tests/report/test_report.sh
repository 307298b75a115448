#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# acoustok report over real outputs of every phase: segment (fixture
# recordings), units (the small test feature model, layer 2, k 24), bpe (when
# acoustok-bpe is built), a 2-epoch tiny vocoder and its test. The page is
# rendered by headless Chromium (Debian's `chromium`; missing = FAIL): no
# console message (its Content-Security-Policy turns any fetch or script into
# one), every chart present in the DOM Chromium built, a non-trivial
# screenshot. The figures on the page are checked against the files, every
# embedded PNG and WAV is decoded, strings from files are escaped, a
# malformed file fails naming it, a folder without outputs only warns.
#   test_report.sh ACOUSTOK FIXTURES
set -euo pipefail
acoustok=$1 fx=$2
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "test_report: FAIL: $*" >&2
  exit 1
}

chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || fail "chromium not found: apt-get install chromium (scripts/setup.sh installs it)"
mkdir -p "$tmp/home"
chrome() {  # chrome LOG ARGS...: headless Chromium, its log (console messages included) in LOG
  local log=$1
  shift
  HOME="$tmp/home" timeout 180 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --mute-audio \
    --no-first-run --user-data-dir="$tmp/chrome" --enable-logging=stderr --v=0 "$@" 2> "$log" ||
    { tail -n 20 "$log" >&2; fail "chromium $* failed"; }
}
no_console() {  # no_console LOG...: no page console message, error or CSP violation
  if grep -E ':CONSOLE[:(]|Uncaught|Content Security Policy' "$@" >&2; then
    fail "console messages while rendering ($*)"
  fi
}

out=$tmp/out
echo "report: phase 0: acoustok segment on fixture recordings"
"$acoustok" segment "$fx/silence/speech_pauses.wav" "$fx/silence/bursts_a.wav" "$fx/silence/speech_noisy.wav" \
  -o "$out/segments" -q
echo "report: phase 1: acoustok units (test feature model, layer 2, k 24)"
"$acoustok" units "$fx/vocoder/segments" -o "$out/units" --model "$fx/xlsr/xlsr_st" --layer 2 --k 24 --seed 1 --threads 2 -q
dirs=("$out/segments" "$out/units")
have_bpe=0
if [ -x "$(dirname "$acoustok")/acoustok-bpe" ]; then
  echo "report: phase 2: acoustok bpe"
  "$acoustok" bpe "$out/units/all_units_for_bpe.txt" -o "$out/bpe" --vocab-size 60 --top 30 -q
  dirs+=("$out/bpe")
  have_bpe=1
else
  echo "report: acoustok-bpe is not built: no phase 2"
fi
echo "report: phase 3: a 2-epoch tiny vocoder and vocoder test --num-samples 2"
"$acoustok" vocoder train --units "$out/units" --audio "$fx/vocoder/segments" -o "$out/vocoder" --config tiny --epochs 2 \
  --samples-per-epoch 8 --batch-size 4 --save-every 1 --threads 2 -q
"$acoustok" vocoder test --checkpoint "$out/vocoder/vocoder_final.pt" --units "$out/units" --audio "$fx/vocoder/segments" \
  -o "$out/vocoder-test" --num-samples 2 --threads 2 -q > /dev/null
dirs+=("$out/vocoder" "$out/vocoder-test")

echo "report: acoustok report on them (and on an empty folder, which only warns)"
mkdir -p "$tmp/empty"
"$acoustok" report "${dirs[@]}" "$tmp/empty" -o "$tmp/report.html" 2> "$tmp/report.err" ||
  { cat "$tmp/report.err" >&2; fail "acoustok report failed"; }
cat "$tmp/report.err"
grep -q "^acoustok: $tmp/empty: no phase outputs found" "$tmp/report.err" || fail "no warning for the empty folder"
if compgen -G "$tmp/report.html.tmp-*" > /dev/null; then fail "a temporary file was left behind"; fi

echo "report: headless Chromium renders it"
chrome "$tmp/shot.log" --screenshot="$tmp/report.png" --window-size=1200,4000 "file://$tmp/report.html"
chrome "$tmp/dom.log" --dump-dom "file://$tmp/report.html" > "$tmp/dom.html"
no_console "$tmp/shot.log" "$tmp/dom.log"

$PY - "$tmp" "$out" "$have_bpe" <<'PYEOF'
import base64, html.parser, json, os, struct, sys, zlib
tmp, out, have_bpe = sys.argv[1], sys.argv[2], sys.argv[3] == "1"

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.charts = {}      # data-chart -> {"elements": {tag: n}, "values": [...], "images": [...]}
        self.tables = {}      # data-table -> its rows (header included)
        self.audio, self.urls, self.scripts = [], [], 0
        self.chart = self.table = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href", "xlink:href", "action", "data", "poster"):
            if k in a:
                self.urls.append(a[k])
        if tag == "script":
            self.scripts += 1
        if tag == "svg" and "chart" in (a.get("class") or "").split():
            self.chart = a["data-chart"]
            assert self.chart not in self.charts, "chart %s twice" % self.chart
            self.charts[self.chart] = {"elements": {}, "values": [], "images": []}
        elif self.chart:
            c = self.charts[self.chart]
            c["elements"][tag] = c["elements"].get(tag, 0) + 1
            if "data-value" in a:
                c["values"].append(float(a["data-value"]))
            if tag == "image":
                c["images"].append(a.get("href") or a.get("xlink:href"))
        if tag == "table" and "data-table" in a:
            self.table = a["data-table"]
            self.tables[self.table] = 0
        if tag == "tr" and self.table:
            self.tables[self.table] += 1
        if tag == "audio":
            self.audio.append(a.get("src", ""))
    def handle_endtag(self, tag):
        if tag == "svg":
            self.chart = None
        if tag == "table":
            self.table = None

def parse(path):
    p = Page()
    p.feed(open(path, encoding="utf-8").read())
    return p

page = parse(os.path.join(tmp, "report.html"))
dom = parse(os.path.join(tmp, "dom.html"))
def check(cond, what):
    if not cond:
        sys.exit("test_report: FAIL: " + what)

# Chromium built the same document: every chart, table and player.
check(sorted(dom.charts) == sorted(page.charts), "Chromium's DOM has charts %s, the file %s" % (sorted(dom.charts), sorted(page.charts)))
check(dom.tables == page.tables and len(dom.audio) == len(page.audio), "Chromium's DOM differs from the file")
check(page.scripts == 0, "the page has a script")
check(all(u.startswith("data:") or u.startswith("#") for u in page.urls),
      "a reference that is neither data: nor #: %s" % [u[:80] for u in page.urls if not (u.startswith("data:") or u.startswith("#"))])

expected = ["segment-lengths", "unit-frequencies", "run-lengths", "generator-losses", "discriminator-losses", "heldout-mel"]
if have_bpe:
    expected += ["motif-lengths", "motif-vocabulary-lengths", "motif-coverage"]
log = json.load(open(os.path.join(out, "vocoder", "training_log.json")))
if any(isinstance(r.get("heldout_mcd"), (int, float)) for r in log):
    expected.append("heldout-mcd")
metrics = json.load(open(os.path.join(out, "vocoder-test", "metrics.json")))
names = [s["name"] for s in metrics["samples"]]
check(len(names) == 2, "vocoder test wrote %d samples" % len(names))
for n in names:
    expected += ["spectrogram-orig-" + n, "spectrogram-synth-" + n]
missing = [c for c in expected if c not in page.charts]
check(not missing, "charts missing: %s (present: %s)" % (missing, sorted(page.charts)))
for c in expected:
    e = page.charts[c]["elements"]
    check(sum(e.get(t, 0) for t in ("rect", "polyline", "path", "image")) > 0, "chart %s draws nothing: %s" % (c, e))

# The figures are the files'.
segs = [json.loads(l) for l in open(os.path.join(out, "segments", "segments.jsonl")) if l.strip()]
check(sum(page.charts["segment-lengths"]["values"]) == len(segs), "segment-lengths does not count %d segments" % len(segs))
check(page.tables.get("recordings") == 1 + len({s["source"] for s in segs}), "the recordings table has %s rows" % page.tables.get("recordings"))
corpus = json.load(open(os.path.join(out, "units", "corpus_timestamped.json")))
frames = sum(len(s["units"]) for s in corpus["segments"])
runs = sum(sum(1 for i, u in enumerate(s["units"]) if i == 0 or s["units"][i - 1] != u) for s in corpus["segments"])
uf = page.charts["unit-frequencies"]["values"]
check(len(uf) == corpus["k"] and sum(uf) == frames, "unit-frequencies: %d bars summing to %d, not k=%d and %d frames" % (len(uf), sum(uf), corpus["k"], frames))
check(uf == sorted(uf, reverse=True), "unit-frequencies is not sorted")
check(sum(page.charts["run-lengths"]["values"]) == runs, "run-lengths does not count %d runs" % runs)
if have_bpe:
    ma = json.load(open(os.path.join(out, "bpe", "motif_analysis.json")))
    check(sum(page.charts["motif-lengths"]["values"]) == sum(ma["length_distribution"]["tokens"].values()), "motif-lengths does not count the tokens")
    check(abs(page.charts["motif-coverage"]["values"][0] - ma["coverage"]) < 1e-9, "motif-coverage's first bar is not the coverage")
    check(page.tables.get("top-motifs") == 1 + min(20, len(ma["top_motifs"])), "top-motifs has %s rows" % page.tables.get("top-motifs"))
check(page.tables.get("vocoder-metrics") == 1 + len(names) + 1,
      "the metrics table has %s rows, not a header, %d samples and the mean" % (page.tables.get("vocoder-metrics"), len(names)))

# Every spectrogram is a valid PNG (chunk CRCs, image data of its size).
def png_size(uri):
    check(uri and uri.startswith("data:image/png;base64,"), "a spectrogram image is not a PNG data URI")
    b = base64.b64decode(uri.split(",", 1)[1], validate=True)
    check(b[:8] == b"\x89PNG\r\n\x1a\n", "bad PNG signature")
    pos, idat, size = 8, b"", None
    while pos < len(b):
        n, kind = struct.unpack(">I4s", b[pos:pos + 8])
        data = b[pos + 8:pos + 8 + n]
        check(zlib.crc32(kind + data) == struct.unpack(">I", b[pos + 8 + n:pos + 12 + n])[0], "PNG chunk %s: bad CRC" % kind)
        if kind == b"IHDR":
            size = struct.unpack(">II", data[:8])
        if kind == b"IDAT":
            idat += data
        pos += 12 + n
    w, h = size
    check(len(zlib.decompress(idat)) == h * (1 + 3 * w), "PNG data is not %dx%d RGB" % (w, h))
    return size
for n in names:
    for kind in ("orig", "synth"):
        imgs = page.charts["spectrogram-%s-%s" % (kind, n)]["images"]
        check(len(imgs) == 1, "spectrogram-%s-%s has %d images" % (kind, n, len(imgs)))
        w, h = png_size(imgs[0])
        check(h == 80 and 1 <= w <= 300, "spectrogram %dx%d" % (w, h))

# Every player is a 16 kHz mono PCM16 WAV of at most 10 s: 2 per sample and the training sample.
check(len(page.audio) == 2 * len(names) + 1, "%d players, expected %d" % (len(page.audio), 2 * len(names) + 1))
for src in page.audio:
    check(src.startswith("data:audio/wav;base64,"), "a player is not a WAV data URI")
    b = base64.b64decode(src.split(",", 1)[1], validate=True)
    check(b[:4] == b"RIFF" and b[8:16] == b"WAVEfmt ", "not a WAV")
    fmt, ch, rate, _, _, bits = struct.unpack("<HHIIHH", b[20:36])
    n = struct.unpack("<I", b[40:44])[0]
    check((fmt, ch, rate, bits) == (1, 1, 16000, 16) and n == len(b) - 44 and 0 < n <= 2 * 160000, "WAV %s" % ((fmt, ch, rate, bits, n),))

# The screenshot: a PNG of the window, and not a blank page.
shot = open(os.path.join(tmp, "report.png"), "rb").read()
check(shot[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", shot[16:24]) == (1200, 4000), "the screenshot is not a 1200x4000 PNG")
check(len(shot) > 60000, "the screenshot is only %d bytes: a blank page?" % len(shot))
print("report: %d charts, %d tables, %d players; screenshot %d KB; Chromium's DOM matches" % (len(page.charts), len(page.tables), len(page.audio), len(shot) // 1024))
PYEOF

echo "report: --samples 1 --audio-seconds 0: one pair of spectrograms, no player"
"$acoustok" report "$out/vocoder-test" -o "$tmp/small.html" --samples 1 --audio-seconds 0 -q
[ "$(grep -o 'data-chart="spectrogram-' "$tmp/small.html" | wc -l)" = 2 ] || fail "--samples 1: not one pair of spectrograms"
! grep -q '<audio' "$tmp/small.html" || fail "--audio-seconds 0 still embeds audio"

echo "report: a parent folder stands for its sub-folders"
"$acoustok" report "$out" -o "$tmp/parent.html" -q
[ "$(grep -c '<section ' "$tmp/parent.html")" = "$(grep -c '<section ' "$tmp/report.html")" ] ||
  fail "report $out did not find the sections of its sub-folders"

echo "report: strings from files are escaped (the CSP would also block and log a script)"
neg=$tmp/neg
mkdir -p "$neg/evil"
printf '{"start":0.5,"end":2.25,"file":"a.wav","source":"</code><script>console.error(\\"not escaped\\")</script>"}\n' > "$neg/evil/segments.jsonl"
printf '{"corpus":"<img src=x onerror=console.error(1)>","top_motifs":[{"motif":"<b>1-2</b>","occurrences":3,"length":2}],"length_distribution":{"tokens":{"1":4,"2":3}}}\n' \
  > "$neg/evil/motif_analysis.json"
"$acoustok" report "$neg/evil" -o "$tmp/evil.html" -q
! grep -qiE '<script|<img|<b>' "$tmp/evil.html" || fail "a string from a file reached the page unescaped"
grep -q '&lt;script&gt;' "$tmp/evil.html" || fail "the escaped string is not on the page"
chrome "$tmp/evil.log" --dump-dom "file://$tmp/evil.html" > /dev/null
no_console "$tmp/evil.log"

echo "report: failures"
status=0
"$acoustok" report "$tmp/empty" "$tmp/missing" -o "$tmp/none.html" 2> "$tmp/none.err" || status=$?
[ "$status" = 1 ] && [ ! -e "$tmp/none.html" ] || fail "no folder with outputs: status $status (expected 1, no page)"
grep -q "^acoustok: report: none of the folders holds phase outputs" "$tmp/none.err" || fail "no folder with outputs: $(cat "$tmp/none.err")"
mkdir -p "$neg/bad"
echo '{"samples": 3}' > "$neg/bad/metrics.json"
status=0
"$acoustok" report "$neg/bad" -o "$tmp/bad.html" 2> "$tmp/bad.err" || status=$?
[ "$status" = 1 ] && [ ! -e "$tmp/bad.html" ] || fail "malformed metrics.json: status $status (expected 1, no page)"
grep -q "^acoustok: $neg/bad/metrics.json: samples: expected an array" "$tmp/bad.err" || fail "malformed metrics.json: $(cat "$tmp/bad.err")"
echo '[{"epoch": 1, "loss_d": "high"}]' > "$neg/bad/metrics.json"
mv "$neg/bad/metrics.json" "$neg/bad/training_log.json"
status=0
"$acoustok" report "$neg/bad" -o "$tmp/bad.html" 2> "$tmp/bad.err" || status=$?
[ "$status" = 1 ] && grep -q "training_log.json: \[0\].loss_d: expected a number, found string" "$tmp/bad.err" ||
  fail "malformed training_log.json: status $status: $(cat "$tmp/bad.err")"
rm "$neg/bad/training_log.json"
echo '{"k": 4, "segments": [{"file": "a.wav", "units": [1, 2, 7]}]}' > "$neg/bad/corpus_timestamped.json"
status=0
"$acoustok" report "$neg/bad" -o "$tmp/bad.html" 2> "$tmp/bad.err" || status=$?
[ "$status" = 1 ] && grep -q "corpus_timestamped.json: unit id 7 is not below k=4" "$tmp/bad.err" ||
  fail "unit id above k: status $status: $(cat "$tmp/bad.err")"
echo "report: OK"
