#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `acoustok vocoder compare --json` against independent references: SPTK's
# command-line mcep + a NumPy DTW for mcd_db, NumPy gpe/vde/ffe as fairseq's
# eval_f0.py defines them on the printed F0 tracks, and known answers of
# synthetic pairs (tests/vocoder/metrics_reference.py check).
#   tests/vocoder/test_metrics_reference.sh BIN
#   env: PYTHON (default /usr/bin/python3); ACOUSTOK_REQUIRE_SPTK=1: fail without SPTK
# Without SPTK's tools (Debian 12's package sptk; Debian 13 has none) mcd_db
# is not compared to SPTK here, which the output says, and the rest is
# checked (test_vocoder_metrics still holds our mcep to SPTK's numbers,
# committed in fixtures/vocoder/metrics/sptk_mcep.json). Fails, saying so,
# when NumPy/SciPy is missing (scripts/setup.sh installs them).
set -euo pipefail
bin=${1:?usage: $0 path/to/acoustok}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-/usr/bin/python3}
if ! "$python" -c 'import numpy, scipy' 2>/dev/null; then
  echo "FAIL: $python lacks numpy/scipy"
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acoustok-metrics-ref.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$python" "$here/metrics_reference.py" check --acoustok "$bin" --tmp "$tmp"
