#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every C and C++ file of the tree is formatted as .clang-format says, by the
# clang-format of Debian 12 (14): another major version formats some
# constructs differently, so with another one the check is skipped (exit 77),
# unless ACOUSTOK_REQUIRE_FORMAT=1 (tests/run.sh on Debian 12) makes that a
# failure. Prints each file that differs and the first lines of its diff;
# `clang-format -i FILE` fixes it.
#   check_format.sh SOURCE_ROOT
set -euo pipefail
root=$1
want=14
fmt=$(command -v "clang-format-$want" || command -v clang-format || true)
have=$("${fmt:-false}" --version 2>/dev/null | grep -oE 'version [0-9]+' | grep -oE '[0-9]+' || true)
if [ "$have" != "$want" ]; then
  msg="clang-format $want is needed to check the format (found: ${have:-none})"
  [ "${ACOUSTOK_REQUIRE_FORMAT:-0}" = 1 ] && { echo "FAIL: $msg"; exit 1; }
  echo "SKIP: $msg"; exit 77
fi
cd "$root"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.cpp' '*.hpp' '*.c' '*.h')
else
  mapfile -t files < <(find lib plugins tests examples python -name '*.[ch]pp' -o -name '*.[ch]' | sort)
fi
bad=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  if ! "$fmt" --style=file "$f" | cmp -s - "$f"; then
    echo "not formatted: $f"
    "$fmt" --style=file "$f" | diff -u "$f" - | sed -n '3,12p' || true
    bad=$((bad + 1))
  fi
done
echo "${#files[@]} files checked, $bad not formatted"
[ "$bad" -eq 0 ]
