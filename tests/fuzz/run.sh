#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fuzzing, as CI runs it: builds the libFuzzer targets of tests/fuzz with
# clang, AddressSanitizer and UndefinedBehaviorSanitizer (core library only:
# -Dtorch=disabled -Dgstreamer=disabled), seeds each from the test fixtures,
# runs each for SECONDS (default 20), as many at once as there are CPUs, and
# fails on any finding: a crash, a sanitizer report, an exception other than
# acoustok::Error, a leak, an input that takes over 10 s, or more than 2 GB of
# memory. A finding is saved under $ACOUSTOK_FUZZ_BUILD/findings/<target>/
# for a regression input.
#
#   tests/fuzz/run.sh [SECONDS | --build-only]   env: ACOUSTOK_FUZZ_BUILD (default build-fuzz/)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${ACOUSTOK_FUZZ_BUILD:-$root/build-fuzz}
secs=${1:-20}
build_only=false
[ "$secs" = --build-only ] && build_only=true
fx=$root/tests/fixtures

# Everything goes to stderr, the build's chatter to a log: a CI log that
# keeps only the last lines then shows the findings, not the compiler.
exec 1>&2
mkdir -p "$build"
# As tests/asan/run.sh: tests/run.sh may be building this tree early in the background.
exec 9>"$build.lock"
flock 9
if [ ! -f "$build/build.ninja" ]; then
  # -O1 with line tables only: libFuzzer's usual flags, a third of -O2 -g's compile time.
  if ! CC=clang CXX=clang++ meson setup "$build" "$root" --optimization=1 -Ddebug=false -Dcpp_args=-g1 -Dc_args=-g1 -Dfuzzing=enabled \
      -Dtorch=disabled -Dgstreamer=disabled -Dtests=disabled -Db_sanitize=address,undefined -Db_lundef=false \
      >"${TMPDIR:-/tmp}/acoustok-$(basename "$build")-setup.log" 2>&1; then
    tail -40 "${TMPDIR:-/tmp}/acoustok-$(basename "$build")-setup.log"; exit 1
  fi
fi
# Only the fuzz targets (and the libraries they link): not the command line,
# its man pages or anything else a fuzz run never starts.
if ! ninja -C "$build" fuzz-targets >"$build/ninja.log" 2>&1; then tail -40 "$build/ninja.log"; exit 1; fi
$build_only && exit 0

# Seeds: real files of each kind, from the fixtures (and a few written here).
seeds=$build/seeds
rm -rf "$seeds" && mkdir -p "$seeds"
seed() { local t=$1; shift; mkdir -p "$seeds/$t"; cp "$@" "$seeds/$t/" 2>/dev/null || true; }
seed_as() { mkdir -p "$seeds/$1"; cp "$2" "$seeds/$1/$3"; }
for m in xlsr_st base_st; do seed_as safetensors "$fx/xlsr/$m/model.safetensors" "$m.safetensors"; done
seed npy "$fx/kmeans/mix64_centroids.npy" "$fx/kmeans/partial_init.npy" "$fx/xlsr/refs/xlsr_L1.npy"
for m in xlsr_bin base_bin hubert_bin evil_bin; do seed_as torch_zip "$fx/xlsr/$m/pytorch_model.bin" "$m.bin"; done
for m in hubert_cfg wav2vec2_args evil_cfg; do seed_as torch_zip "$fx/fairseq/$m.pt" "$m.pt"; done
for m in xlsr_st base_st hubert_bin; do seed_as model_config "$fx/xlsr/$m/config.json" "$m.json"; done
# A checkpoint-shaped torch.save file: nested dicts, strings, integers, int64 and half tensors.
/usr/bin/python3 -c '
import sys, torch
torch.save({"format": "acoustok-vocoder", "version": 2, "config": "{}",
            "generator": {"dict.weight": torch.randn(3, 2), "ups.0.weight_g": torch.randn(2, 1, 1).half()},
            "optim_g": {"dict.weight.step": 3, "dict.weight.exp_avg": torch.zeros(3, 2)},
            "units": torch.arange(5), "view": torch.arange(12.0).view(3, 4)[:, 1:3]}, sys.argv[1])
' "$seeds/torch_zip/checkpoint.pt"
mkdir -p "$seeds/vocoder_config"
echo '{"resblock": "1", "upsample_rates": [5, 4, 4, 2, 2], "upsample_kernel_sizes": [11, 8, 8, 4, 4], "upsample_initial_channel": 512, "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "num_embeddings": 100, "embedding_dim": 128, "model_in_dim": 128, "sampling_rate": 16000, "code_hop_size": 320, "f0": false}' > "$seeds/vocoder_config/released.json"
echo '{"base": "tiny", "num_units": 50}' > "$seeds/vocoder_config/a.json"
echo '{"base": "v1", "upsample_rates": [8, 8, 5], "upsample_kernel_sizes": [16, 16, 10]}' > "$seeds/vocoder_config/b.json"
seed kmeans "$fx/kmeans/mix16_centroids.npy" "$fx/kmeans/mix64_centroids.npy"
# fairseq's km.bin: scikit-learn's MiniBatchKMeans through joblib, and plain pickles of it.
/usr/bin/python3 -c '
import sys, pickle, joblib, numpy as np
from sklearn.cluster import MiniBatchKMeans
x = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
km = MiniBatchKMeans(n_clusters=4, n_init=1, batch_size=100, random_state=0, compute_labels=True).fit(x)
joblib.dump(km, sys.argv[1] + "/km.bin")
pickle.dump(km, open(sys.argv[1] + "/km_p2.pkl", "wb"), protocol=2)
km.cluster_centers_ = km.cluster_centers_.astype(">f8")
pickle.dump(km, open(sys.argv[1] + "/km_p4_be.pkl", "wb"), protocol=4)
' "$seeds/kmeans"
seed unit_text "$fx/bpe/heldout.txt"
printf '1 2 3\n\n4 5\r\n 6\t7 \n' > "$seeds/unit_text/small.txt"
seed audio "$fx/silence/short_silence_only.wav" "$fx/silence/shorter_than_min_silence.wav" "$fx/silence/speech_8k_stereo.mp3"
seed bpe_model "$fx/bpe/ref.model" "$fx/bpe/ref_dedup.model"

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# One target: its regression inputs, then SECONDS of fuzzing; the report goes
# to $build/report_<target>.txt and the status says whether it was clean.
fuzz_one() {
  local t=$1 exe=$2 corpus=$build/corpus/$1 findings=$build/findings/$1
  mkdir -p "$corpus" "$findings"
  # Every earlier finding first: each must now end cleanly.
  local regressions=("$root/tests/fuzz/regressions/$t"/*)
  if [ -e "${regressions[0]}" ] && ! "$exe" "${regressions[@]}" >"$build/regress_$t.log" 2>&1; then
    echo "fuzz $t: a regression input fails again (see $build/regress_$t.log)"
    tail -30 "$build/regress_$t.log"
    return 1
  fi
  if "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=262144 \
       -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "$seeds/$t" >"$build/fuzz_$t.log" 2>&1; then
    local runs cov
    runs=$(grep -m1 'stat::number_of_executed_units' "$build/fuzz_$t.log" | awk '{print $2}')
    cov=$(grep -o 'cov: [0-9]*' "$build/fuzz_$t.log" | tail -1)
    echo "fuzz $t: OK, ${runs:-?} runs in ${secs} s, $cov"
  else
    echo "fuzz $t: FINDING (see $build/fuzz_$t.log, input in $findings/)"
    grep -E -A12 "ERROR|SUMMARY|terminate|what\(\)|runtime error|Test unit written" "$build/fuzz_$t.log" | head -40
    for f in "$findings"/*; do [ -f "$f" ] && { echo "  input $f (base64):"; head -c 4096 "$f" | base64 | head -60; }; done
    return 1
  fi
}

# The targets side by side, one per CPU (each libFuzzer process is single-
# threaded); reports in target order.
jobs=$(nproc)
targets=()
for exe in "$build"/tests/fuzz/fuzz_*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  t=${exe##*/fuzz_}
  targets+=("$t")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  ( fuzz_one "$t" "$exe" >"$build/report_$t.txt" 2>&1; echo $? >"$build/status_$t" ) &
done
wait
failed=0
for t in "${targets[@]}"; do
  cat "$build/report_$t.txt"
  [ "$(cat "$build/status_$t")" = 0 ] || failed=1
done
exit $failed
