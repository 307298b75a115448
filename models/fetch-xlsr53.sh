#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Downloads facebook/wav2vec2-large-xlsr-53 from Hugging Face into
# models/xlsr53/ (config.json, preprocessor_config.json, pytorch_model.bin:
# 1.27 GB). Resumes an interrupted download (curl -C -); each file's size is
# checked against the size the server announces, and the weights must be a
# torch.save archive. Set XLSR53_SHA256 to also check the weights' checksum.
#
#   models/fetch-xlsr53.sh [DEST (models/xlsr53)]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dest=${1:-$here/xlsr53}
repo=${XLSR53_REPO:-facebook/wav2vec2-large-xlsr-53}
base="https://huggingface.co/$repo/resolve/main"
mkdir -p "$dest"

if ! curl -sS --head --max-time 20 -o /dev/null "https://huggingface.co/$repo" 2>/dev/null; then
  echo "fetch-xlsr53: cannot reach huggingface.co (offline?). Nothing was downloaded." >&2
  echo "fetch-xlsr53: on a connected machine run this script, then copy $dest here;" >&2
  echo "fetch-xlsr53: the tests and examples/demo.sh do not need it (they use small stand-in models)." >&2
  exit 1
fi

# Size the server announces for a file (the LFS size for large files), or "".
remote_size() {
  curl -sSIL --max-time 30 "$base/$1" | tr -d '\r' |
    awk 'tolower($1)=="x-linked-size:" {s=$2} tolower($1)=="content-length:" {c=$2} END {print (s != "" ? s : c)}' || true
}

for f in config.json preprocessor_config.json pytorch_model.bin; do
  want=$(remote_size "$f")
  have=$(stat -c %s "$dest/$f" 2>/dev/null || echo 0)
  if [ -n "$want" ] && [ "$have" = "$want" ]; then
    echo "fetch-xlsr53: $f already complete ($have bytes)"
    continue
  fi
  echo "fetch-xlsr53: $f (${want:-unknown size} bytes)..." >&2
  # Resume into a .part file; it becomes $f only once complete.
  [ -f "$dest/$f" ] && [ ! -f "$dest/$f.part" ] && mv "$dest/$f" "$dest/$f.part"
  curl -fL --retry 5 --retry-delay 5 -C - -o "$dest/$f.part" "$base/$f"
  have=$(stat -c %s "$dest/$f.part")
  if [ -n "$want" ] && [ "$have" != "$want" ]; then
    echo "fetch-xlsr53: $f is $have bytes, the server announced $want: run this script again to resume" >&2
    exit 1
  fi
  mv "$dest/$f.part" "$dest/$f"
done

if [ -n "${XLSR53_SHA256:-}" ]; then
  echo "$XLSR53_SHA256  $dest/pytorch_model.bin" | sha256sum -c - >&2 || {
    echo "fetch-xlsr53: checksum mismatch: delete $dest/pytorch_model.bin and fetch again" >&2; exit 1; }
fi
/usr/bin/python3 - "$dest/pytorch_model.bin" <<'PY' || { echo "fetch-xlsr53: pytorch_model.bin is not a torch.save archive" >&2; exit 1; }
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
assert any(n.endswith("/data.pkl") for n in names)
PY
echo "fetch-xlsr53: ready: $dest (use: acoustok features --model $dest --layer 14 IN.wav -o OUT.npy)"
