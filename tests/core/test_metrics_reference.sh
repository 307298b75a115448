#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `acoustok vocoder compare --json` against independent references: SPTK's
# command-line mcep + a NumPy DTW for mcd_db, NumPy gpe/vde/ffe as fairseq's
# eval_f0.py defines them on the printed F0 tracks, and known answers of
# synthetic pairs (tests/core/metrics_reference.py check).
#   tests/core/test_metrics_reference.sh BIN      env: PYTHON (default /usr/bin/python3)
# Fails, saying so, when SPTK or NumPy is missing (scripts/setup.sh installs them).
set -euo pipefail
bin=${1:?usage: $0 path/to/acoustok}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-/usr/bin/python3}
if ! command -v sptk >/dev/null && [[ ! -x /usr/libexec/sptk/bin/mcep ]] && ! command -v mcep >/dev/null; then
  echo "FAIL: SPTK (Debian package sptk) is not installed"
  exit 1
fi
if ! "$python" -c 'import numpy, scipy' 2>/dev/null; then
  echo "FAIL: $python lacks numpy/scipy"
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acoustok-metrics-ref.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$python" "$here/metrics_reference.py" check --acoustok "$bin" --tmp "$tmp"
