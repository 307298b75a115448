#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (not a test): the feature model on Debian 12's libraries (LibTorch
# 1.13, oneDNN 2.6, GCC 12: this machine's build) beside Debian 13's (LibTorch
# 2.6, oneDNN 3.7, GCC 14: the build the Debian 13 CI stage leaves in its root,
# tests/debian13/run.sh), same source, same machine, same run: `acoustok
# features` on the XLSR-53-sized random model and speech of bench_xlsr.sh
# (layer 14, 2 threads), fp32 and, where the CPU has AVX512_BF16 or AMX, bf16;
# three runs each, alternating, the median counts. Also the largest difference
# between the two builds' features.
#   tests/bench/bench_debian13.sh [SECONDS (60)]
#   env: ACOUSTOK_BUILD (default build/), ACOUSTOK_DEBIAN13_CACHE (default
#        /var/cache/acoustok-ci), BENCH_DIR (/tmp/acoustok-bench-xlsr)
# As root (chroot). Run it under the shared lock: flock /tmp/acoustok-cpu.lock ...
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${ACOUSTOK_BUILD:-$root/build}
trixie=${ACOUSTOK_DEBIAN13_CACHE:-/var/cache/acoustok-ci}/trixie-build
dir=${BENCH_DIR:-/tmp/acoustok-bench-xlsr}
secs=${1:-60}
py=/usr/bin/python3
[ -x "$build/lib/tools/acoustok" ] || { echo "bench: $build/lib/tools/acoustok not built" >&2; exit 1; }
# The build tree of the stage's packages (tests/debian13/run.sh).
obj=$(cd "$trixie" 2>/dev/null && ls -d src/pkg/acoustok-*/obj-* 2>/dev/null | head -1)
[ -n "$obj" ] && [ -x "$trixie/$obj/lib/tools/acoustok" ] ||
  { echo "bench: no Debian 13 build in $trixie (run tests/debian13/run.sh --prepare)" >&2; exit 1; }
# The model and the speech, as bench_xlsr.sh makes them (it writes them once).
if [ ! -f "$dir/model/pytorch_model.bin" ] || [ ! -f "$dir/speech_${secs}s.wav" ]; then
  echo "bench: making the model and speech with bench_xlsr.sh's set-up ..." >&2
  mkdir -p "$dir"
  [ -f "$dir/model/pytorch_model.bin" ] || "$py" "$root/tests/bench/gen_xlsr53_random.py" "$dir/model"
  tmp=$(mktemp -d)
  text="O rato roeu a roupa do rei de Roma, e a rainha, com raiva, resolveu remendar. A avó de Ana comprou pão, queijo e fruta no mercado da vila. Ontem choveu muito em Lisboa e no Porto, mas hoje o sol voltou a brilhar sobre o rio."
  for _ in $(seq $((secs / 15 + 1))); do echo "$text"; done >"$tmp/text.txt"
  espeak-ng -v pt -s 150 -f "$tmp/text.txt" -w "$tmp/raw.wav"
  sox -q "$tmp/raw.wav" -r 16000 -c 1 -b 16 "$tmp/16k.wav" gain -n -3
  sox -q "$tmp/16k.wav" "$dir/speech_${secs}s.wav" trim 0 "$secs"
  rm -rf "$tmp"
fi

mkdir -p "$trixie/mnt/bench"
mount --bind "$dir" "$trixie/mnt/bench"
mount -t proc proc "$trixie/proc" 2>/dev/null && proc_mounted=1 || proc_mounted=0
trap 'umount "$trixie/mnt/bench"; [ "$proc_mounted" = 1 ] && umount "$trixie/proc"' EXIT

# "seconds" of one run: gen 12|13, precision fp32|bf16
run() {
  local gen=$1 precision=$2 t0 t1
  t0=$(date +%s.%N)
  if [ "$gen" = 12 ]; then
    "$build/lib/tools/acoustok" features --model "$dir/model" --layer 14 --threads 2 --precision "$precision" \
      "$dir/speech_${secs}s.wav" -o "$dir/debian12_$precision.npy" -q
  else
    chroot "$trixie" "/$obj/lib/tools/acoustok" features --model /mnt/bench/model --layer 14 --threads 2 \
      --precision "$precision" "/mnt/bench/speech_${secs}s.wav" -o "/mnt/bench/debian13_$precision.npy" -q
  fi
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

echo "bench: machine: $("$py" "$root/tests/bench/machine.py"); ${secs} s of speech, layer 14, 2 threads"
echo "bench: Debian 12: LibTorch $(dpkg-query -W -f='${Version}' libtorch-dev), oneDNN $(dpkg-query -W -f='${Version}' libdnnl-dev), $(g++ --version | head -1)"
echo "bench: Debian 13: LibTorch $(chroot "$trixie" dpkg-query -W -f='${Version}' libtorch-dev), oneDNN $(chroot "$trixie" dpkg-query -W -f='${Version}' libdnnl-dev), $(chroot "$trixie" g++ --version | head -1)"
precisions=(fp32)
grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo && precisions+=(bf16)
for p in "${precisions[@]}"; do
  a=() b=()
  for i in 1 2 3; do
    a+=("$(run 12 "$p")")
    b+=("$(run 13 "$p")")
    printf "  %s run %d: Debian 12 %6.2f s, Debian 13 %6.2f s\n" "$p" "$i" "${a[-1]}" "${b[-1]}"
  done
  ma=$(printf "%s\n" "${a[@]}" | sort -n | sed -n 2p)
  mb=$(printf "%s\n" "${b[@]}" | sort -n | sed -n 2p)
  printf "bench: %s median: Debian 12 %.2f s, Debian 13 %.2f s: Debian 13 takes %.3fx Debian 12's time\n" "$p" "$ma" "$mb" \
    "$(echo "$mb / $ma" | bc -l)"
  "$py" - "$dir/debian12_$p.npy" "$dir/debian13_$p.npy" "$p" <<'PY'
import sys
import numpy as np
a, b = np.load(sys.argv[1]).astype(np.float64), np.load(sys.argv[2]).astype(np.float64)
print("bench: %s features %s: max |Debian 13 - Debian 12| %.3g, %.3g of the largest value"
      % (sys.argv[3], a.shape, np.abs(a - b).max(), np.abs(a - b).max() / np.abs(a).max()))
PY
done
