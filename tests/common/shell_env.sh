# SPDX-License-Identifier: MIT
# Sourced by the shell tests after `set -uo pipefail` (most add -e): the
# Python with the reference packages ($PY), a fresh folder $tmp removed at
# exit, and a failure counter: fail MESSAGE counts and goes on,
# exit_on_failures ends the test with status 1 when anything failed.
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
exit_on_failures() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
  fi
}
