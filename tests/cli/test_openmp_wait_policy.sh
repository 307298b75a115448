#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# acoustok makes OpenMP's threads wait passively (no spinning) unless the
# environment chooses (lib/tools/openmp_wait_policy.cpp: it starts itself
# again with OMP_WAIT_POLICY=passive). The witness is libgomp itself:
# OMP_DISPLAY_ENV=verbose prints the settings it starts with, in each process
# (the last display is the one the run goes on with): GOMP_SPINCOUNT 0 when
# passive, 300000 by its own default.
#   tests/cli/test_openmp_wait_policy.sh ACOUSTOK_BIN
set -euo pipefail
bin=$1
# "POLICY SPINCOUNT" the program runs with (libgomp's last display), in the
# environment given.
settings() {
  env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$@" 2>&1 |
    sed -n "s/^ *\(\[[a-z]*\] \)\?\(OMP_WAIT_POLICY\|GOMP_SPINCOUNT\) = '\(.*\)'/\3/p" | tail -2 | tr '\n' ' ' |
    sed 's/ $//'
}
check() {  # check WHAT EXPECTED GOT
  if [ "$2" = "$3" ]; then echo "ok: $1: $3"; else echo "FAIL: $1: expected '$2', got '$3'"; status=1; fi
}
status=0
check "the command line, nothing set" "PASSIVE 0" "$(settings "$bin" --version)"
# The same arguments after the restart.
check "arguments kept" "acoustok: --threads: must be an integer ≥ 0, not 'x'" \
  "$(env -u OMP_WAIT_POLICY "$bin" kmeans predict a b -o - --threads x 2>&1 | head -1)"
check "OMP_WAIT_POLICY=active kept" "ACTIVE" "$(settings OMP_WAIT_POLICY=active "$bin" --version | cut -d' ' -f1)"
check "GOMP_SPINCOUNT=1000 kept" "PASSIVE 1000" "$(settings GOMP_SPINCOUNT=1000 "$bin" --version)"
# The same display from a program without our setting: libgomp's default spins.
check "libgomp's default elsewhere" "PASSIVE 300000" \
  "$(settings /usr/bin/python3 -c 'import ctypes; ctypes.CDLL("libgomp.so.1")')"
exit $status
