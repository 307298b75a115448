#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The installed Debian packages at work, in a clean root (a chroot or
# container of the release they were built for, nothing of acoustok's
# source or build tree installed), with no environment variables to help
# (no GST_PLUGIN_PATH, no LD_LIBRARY_PATH; every check runs under env -i):
#  - acoustok --version, acoustok-bpe --version;
#  - gst-inspect-1.0 finds the five elements in GStreamer's own plugin folder;
#  - the man page (man -w acoustok where man-db is installed);
#  - segment -> features -> units -> bpe motifs -> a tiny vocoder -> synth with
#    the command line, on a recording with pauses and a small stand-in feature
#    model (tests/fixtures: xlsr/xlsr_st, silence/speech_pauses.wav);
#  - one gst-launch-1.0 pipeline: silencesplit ! xlsrfeat ! kmeansunits, to
#    unit text, to motifs (bpemotif) and back to audio (unitvocoder).
# Usage: smoke.sh [DIR...]
#   A DIR that holds .deb files (as root): apt-get install them first (not the
#   -dbgsym ones). A DIR that holds xlsr/xlsr_st and silence/speech_pauses.wav,
#   or such a smoke-inputs/ folder (what tests/packages/check.sh leaves beside
#   the .debs): the inputs. Else $ACOUSTOK_SMOKE_INPUTS, else smoke-inputs/
#   beside this script, else the source tree's tests/fixtures.
#   The test's own tools, gstreamer1.0-tools (gst-inspect-1.0, gst-launch-1.0)
#   and gstreamer1.0-plugins-base (audioconvert), which no acoustok package
#   needs, are installed when missing (as root).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "${ACOUSTOK_SMOKE_CLEAN_ENV:-0}" != 1 ]; then
  inputs=${ACOUSTOK_SMOKE_INPUTS:-}
  debs=()
  for dir in "$@"; do
    dir=$(cd "$dir" && pwd)
    for f in "$dir"/*.deb; do
      case $f in *-dbgsym_*) ;; *) [ -e "$f" ] && debs+=("$f") ;; esac
    done
    if [ -z "$inputs" ]; then
      if [ -f "$dir/xlsr/xlsr_st/config.json" ]; then inputs=$dir
      elif [ -f "$dir/smoke-inputs/xlsr/xlsr_st/config.json" ]; then inputs=$dir/smoke-inputs
      fi
    fi
  done
  if [ -z "$inputs" ]; then
    if [ -d "$here/smoke-inputs" ]; then inputs=$here/smoke-inputs; else inputs=$(cd "$here/../fixtures" && pwd); fi
  fi
  tools=()
  command -v gst-inspect-1.0 >/dev/null && command -v gst-launch-1.0 >/dev/null || tools+=(gstreamer1.0-tools)
  # audioconvert's plugin file (the test's only element from -base)
  ls /usr/lib/*/gstreamer-1.0/libgstaudioconvert.so >/dev/null 2>&1 || tools+=(gstreamer1.0-plugins-base)
  if [ ${#debs[@]} -gt 0 ] || [ ${#tools[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { echo "FAIL: installing ${debs[*]} ${tools[*]} needs root" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${debs[@]}" "${tools[@]}" >/dev/null
  fi
  echo "installed: $(dpkg-query -W -f='${Package} ${Version}  ' acoustok gstreamer1.0-acoustok libacoustok0 libacoustok-dev python3-acoustok 2>/dev/null)"
  # Everything below runs with an empty environment but for PATH and HOME.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$tmp" ACOUSTOK_SMOKE_CLEAN_ENV=1 \
    ACOUSTOK_SMOKE_INPUTS="$inputs" ACOUSTOK_SMOKE_TMP="$tmp" bash "${BASH_SOURCE[0]}"
  exit $?
fi

fx=$ACOUSTOK_SMOKE_INPUTS
tmp=$ACOUSTOK_SMOKE_TMP
cd "$tmp"
fail() { echo "FAIL: $*"; exit 1; }
check() { echo "ok: $*"; }
model=$fx/xlsr/xlsr_st layer=2
speech=$fx/silence/speech_pauses.wav
[ -f "$model/config.json" ] && [ -f "$speech" ] || fail "no smoke inputs in $fx"

# 1. The programs, from the system's PATH.
[ "$(command -v acoustok)" = /usr/bin/acoustok ] || fail "acoustok is not /usr/bin/acoustok ($(command -v acoustok || echo missing))"
version=$(acoustok --version) || fail "acoustok --version"
check "acoustok --version: $version"
acoustok-bpe --version >/dev/null || fail "acoustok-bpe --version"

# 2. The elements, found by GStreamer itself (a fresh registry in $HOME).
for e in silencesplit xlsrfeat kmeansunits unitvocoder bpemotif; do
  out=$(gst-inspect-1.0 "$e" 2>&1) || { echo "$out" | tail -n 20; fail "gst-inspect-1.0 $e"; }
  grep -q "Long-name" <<<"$out" || fail "gst-inspect-1.0 $e printed no element"
  check "gst-inspect-1.0 $e: $(sed -n 's/^ *Filename *//p' <<<"$out")"
done

# 3. The man pages.
if command -v man >/dev/null; then
  page=$(man -w acoustok) || fail "man -w acoustok"
  for p in acoustok-segment acoustok-features acoustok-kmeans acoustok-units acoustok-bpe acoustok-vocoder acoustok-synth \
    acoustok-report acoustok-live; do
    man -w "$p" >/dev/null || fail "man -w $p"
  done
  check "man -w acoustok: $page"
else
  dpkg -L acoustok | grep -q '/man1/acoustok\.1\.gz$' || fail "acoustok.1 is not in the acoustok package"
  check "acoustok.1 installed (man-db not installed: man -w not tried)"
fi

# 4. The command line: every phase on a recording with pauses.
acoustok segment "$speech" -o segments -q || fail "acoustok segment"
n=$(ls segments/*.wav | wc -l)
[ "$n" -ge 2 ] || fail "acoustok segment cut $n segments"
check "acoustok segment: $n segments"
first=$(ls segments/*.wav | head -n 1)
acoustok features --model "$model" --layer $layer "$first" -o features.npy -q || fail "acoustok features"
[ -s features.npy ] || fail "acoustok features wrote nothing"
check "acoustok features: $(stat -c %s features.npy) bytes of features"
acoustok units segments -o units --model "$model" --layer $layer --k 16 --seed 1 -q || fail "acoustok units"
lines=$(wc -l <units/all_units_for_bpe.txt)
[ "$lines" -eq "$n" ] || fail "acoustok units: $lines unit lines for $n segments"
check "acoustok units: $(wc -w <units/all_units_for_bpe.txt) units in $lines lines"
acoustok bpe units/all_units_for_bpe.txt -o bpe --vocab-size 40 -q || fail "acoustok bpe"
acoustok bpe encode bpe/bpe.model units/all_units_for_bpe.txt >motifs.txt || fail "acoustok bpe encode"
[ "$(wc -l <motifs.txt)" -eq "$n" ] || fail "acoustok bpe encode: $(wc -l <motifs.txt) lines for $n segments"
check "acoustok bpe: $(wc -w <motifs.txt) motifs"
acoustok vocoder train --units units --audio segments -o vocoder --config tiny --epochs 1 \
  --samples-per-epoch 8 --batch-size 4 --save-every 0 -q || fail "acoustok vocoder train"
head -n 1 units/all_units_for_bpe.txt >one.txt
acoustok synth --checkpoint vocoder/vocoder_final.pt one.txt -o synth.wav -q || fail "acoustok synth"
frames=$(wc -w <one.txt)
bytes=$(stat -c %s synth.wav)
[ "$bytes" -ge $((frames * 320 * 2)) ] || fail "acoustok synth: $bytes bytes for $frames frames"
check "acoustok vocoder train + synth: $frames frames -> $bytes bytes of WAV"

# 5. GStreamer: the same recording through one pipeline.
if gst-inspect-1.0 wavparse >/dev/null 2>&1; then
  parse="wavparse"
else  # no gstreamer1.0-plugins-good: read the PCM (the header is 44 bytes of noise)
  parse="rawaudioparse format=pcm pcm-format=s16le sample-rate=16000 num-channels=1"
fi
# shellcheck disable=SC2086
gst-launch-1.0 -q filesrc location="$speech" ! $parse ! audioconvert ! audioresample ! silencesplit ! \
  xlsrfeat model="$model" layer=$layer ! kmeansunits model=units/kmeans.safetensors ! \
  text/x-raw,format=utf8 ! tee name=t \
  t. ! queue ! filesink location=gst_units.txt \
  t. ! queue ! bpemotif model=bpe/bpe.model ! text/x-raw,format=utf8 ! filesink location=gst_motifs.txt \
  t. ! queue ! unitvocoder model=vocoder/vocoder_final.pt ! audioconvert ! audio/x-raw,format=S16LE ! \
  filesink location=gst_speech.raw || fail "gst-launch-1.0 silencesplit ! xlsrfeat ! kmeansunits ! bpemotif / unitvocoder"
[ -s gst_units.txt ] && [ -s gst_motifs.txt ] && [ -s gst_speech.raw ] || fail "the pipeline wrote an empty file"
check "gst-launch-1.0: $(wc -l <gst_units.txt) segments, $(wc -w <gst_units.txt) units, $(wc -w <gst_motifs.txt) motifs, $(( $(stat -c %s gst_speech.raw) / 32 )) ms of speech"
# 6. Python: the installed module gives the command line's features.
if dpkg-query -W python3-acoustok >/dev/null 2>&1; then
  python3 - "$model" "$layer" "$first" features.npy <<'PY' || fail "python3 -c 'import acoustok' (python3-acoustok)"
import sys
import numpy as np
import acoustok
model, layer, wav, ref = sys.argv[1], int(sys.argv[2]), sys.argv[3], np.load(sys.argv[4])
feats = acoustok.FeatureExtractor(model, layer=layer, device="cpu")(acoustok.read_audio(wav))
assert feats.shape == ref.shape and np.array_equal(feats, ref), f"{feats.shape} vs acoustok features' {ref.shape}"
PY
  check "python3: import acoustok $(python3 -c 'import acoustok; print(acoustok.__version__)'): the features acoustok features wrote"
fi
echo "PASS: the installed packages work with no environment (command line, GStreamer elements, man pages, Python)"
