#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every test suite: set-up (packages, build), then meson test; the last line
# is "N passed, M failed" and the exit status is non-zero on any failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

cd "$ACOUSTOK_BUILD"
rm -f ./*.xml tests/*.xml
status=0
meson test --no-rebuild --print-errorlogs "$@" || status=$?
"$PY" "$ACOUSTOK_ROOT/tests/summarize.py" "$ACOUSTOK_BUILD" || status=1
exit $status
