#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# LibTorch (a feature model) and SentencePiece (a BPE model) in one process,
# in both orders; before libacoustok-sentencepiece isolated SentencePiece,
# its private protobuf and LibTorch's libprotobuf crashed such processes with
# SIGSEGV. Each run must exit 0 (never a signal) and compute what each
# library computes alone, in a process of its own: the features equal
# `acoustok features`, the motifs `acoustok bpe encode` (the companion
# program, no LibTorch).
#  1. mixed_process (a C++ program linking libacoustok and libacoustok-motifs),
#     features first, then BPE first;
#  2. with GStreamer: gst-launch-1.0 pipelines holding xlsrfeat and bpemotif,
#     each plugin loaded first; and the same with libacoustok-motifs, then
#     libprotobuf, already in the process's global scope (as in an application
#     that links them: LD_PRELOAD).
# Under the sanitizers (SANITIZE not "none") the preloaded cases are left
# out: their runtimes forbid the RTLD_DEEPBIND that makes SentencePiece win
# over a global libprotobuf (libacoustok-motifs then refuses with an error).
#   test_mixed_process.sh MIXED_PROCESS ACOUSTOK FIXTURES gst|nogst SANITIZE
set -uo pipefail
mixed=$1 acoustok=$2 fix=$3 gst=$4 sanitize=$5
source "$(dirname "${BASH_SOURCE[0]}")/../common/shell_env.sh"
# check_exit NAME STATUS: 0 passes; a signal is named.
check_exit() {
  if [ "$2" -gt 128 ]; then fail "$1: killed by signal $(kill -l $(($2 - 128)) 2>/dev/null || echo $(($2 - 128)))"; return 1; fi
  if [ "$2" -ne 0 ]; then fail "$1: exit $2"; return 1; fi
}
# same_features A.npy B: B is an .npy or raw float32 rows of the same shape.
same_features() {
  $PY - "$1" "$2" <<'PY'
import sys
import numpy as np
ref = np.load(sys.argv[1])
other = np.load(sys.argv[2]) if sys.argv[2].endswith(".npy") else np.fromfile(sys.argv[2], np.float32)
other = other.reshape(ref.shape) if other.size == ref.size else other
assert other.shape == ref.shape, f"shape {other.shape}, acoustok features wrote {ref.shape}"
err = float(np.max(np.abs(other - ref)))
assert np.allclose(other, ref, rtol=1e-4, atol=1e-4), f"differs from acoustok features by {err}"
PY
}

model=$fix/xlsr/xlsr_st layer=2 audio=$fix/xlsr/speech_pt.wav
bpe=$fix/bpe/ref.model units=$fix/bpe/heldout.txt
"$acoustok" features --model "$model" --layer $layer "$audio" -o "$tmp/ref.npy" -q || { echo "FAIL: acoustok features"; exit 1; }
"$acoustok" bpe encode "$bpe" "$units" >"$tmp/ref_motifs.txt" || { echo "FAIL: acoustok bpe encode"; exit 1; }
[ -s "$tmp/ref_motifs.txt" ] || { echo "FAIL: acoustok bpe encode wrote nothing"; exit 1; }

# 1. A C++ program with both libraries.
for order in features-first bpe-first; do
  "$mixed" $order "$model" $layer "$audio" "$tmp/$order.npy" "$bpe" "$units" >"$tmp/$order.txt" 2>"$tmp/$order.err"
  check_exit "mixed_process $order" $? || { cat "$tmp/$order.err"; continue; }
  cmp -s "$tmp/ref_motifs.txt" "$tmp/$order.txt" || fail "mixed_process $order: motifs differ from acoustok bpe encode"
  same_features "$tmp/ref.npy" "$tmp/$order.npy" || fail "mixed_process $order: features"
  echo "mixed_process $order: features and $(wc -l <"$tmp/$order.txt") lines of motifs as the libraries alone compute them"
done

# 2. GStreamer: both plugins in one pipeline, each one loaded first (elements
# are made, and their plugins loaded, in the order of the launch line).
if [ "$gst" = gst ]; then
  motifs="filesrc location=$units ! text/x-raw,format=utf8 ! bpemotif model=$bpe ! text/x-raw,format=utf8 ! filesink location=$tmp/gst_motifs.txt"
  feats="filesrc location=$audio ! decodebin ! audioconvert ! audioresample ! xlsrfeat model=$model layer=$layer ! filesink location=$tmp/gst_feats.f32"
  motifs_lib=$(ldd "$mixed" | awk '/libacoustok-motifs/{print $3}')
  protobuf=$(ldconfig -p | awk '/libprotobuf\.so\.[0-9]+ /{print $NF; exit}')
  run_gst() {  # run_gst NAME PRELOAD PIPELINE...
    local name=$1 preload=$2; shift 2
    rm -f "$tmp/gst_motifs.txt" "$tmp/gst_feats.f32"
    # A fresh registry, so plugins load in the pipeline's order; --no-fault:
    # a crash ends with its signal (not gst-launch's wait for a debugger).
    env ${preload:+LD_PRELOAD=$preload} GST_REGISTRY="$tmp/registry-$name.bin" \
      gst-launch-1.0 -q --no-fault "$@" >"$tmp/gst.log" 2>&1
    check_exit "gst-launch-1.0 ($name)" $? || { tail -5 "$tmp/gst.log"; return; }
    cmp -s "$tmp/ref_motifs.txt" "$tmp/gst_motifs.txt" || fail "gst-launch-1.0 ($name): bpemotif's motifs differ from acoustok bpe encode"
    same_features "$tmp/ref.npy" "$tmp/gst_feats.f32" || fail "gst-launch-1.0 ($name): xlsrfeat's features"
    echo "gst-launch-1.0 ($name): xlsrfeat and bpemotif as each computes alone"
  }
  run_gst "bpemotif first" "" $motifs $feats
  run_gst "xlsrfeat first" "" $feats $motifs
  [ "$sanitize" = none ] || echo "preloaded libraries: not under the sanitizers ($sanitize)"
  [ "$sanitize" = none ] && for lib in "$motifs_lib" "$protobuf"; do
    [ -n "$lib" ] && [ -f "$lib" ] || { fail "no library to preload ($lib)"; continue; }
    run_gst "xlsrfeat first, $(basename "$lib") global" "$lib" $feats $motifs
    run_gst "bpemotif first, $(basename "$lib") global" "$lib" $motifs $feats
  done
fi

# 3. A program that names std::cerr (a copy relocation of it) with a protobuf
# already global: SentencePiece is bound apart (RTLD_DEEPBIND) and would see
# libstdc++'s unconstructed std::cerr, so its log is kept off and said so;
# training must still work and give the model it gives alone.
protobuf=$(ldconfig -p | awk '/libprotobuf\.so\.[0-9]+ /{print $NF; exit}')
if [ "$sanitize" = none ] && [ -n "$protobuf" ]; then
  train() {  # train NAME PRELOAD
    env ${2:+LD_PRELOAD=$2} "$acoustok" bpe --sentencepiece-log --vocab-size 150 --seed 1 "$units" -o "$tmp/bpe-$1" >"$tmp/bpe-$1.log" 2>&1
  }
  train alone ""; check_exit "acoustok bpe --sentencepiece-log" $? || tail -5 "$tmp/bpe-alone.log"
  train global "$protobuf"
  if check_exit "acoustok bpe --sentencepiece-log, $(basename "$protobuf") global" $?; then
    grep -q "SentencePiece's log is off" "$tmp/bpe-global.log" || fail "bpe with a global protobuf: no word that SentencePiece's log is off"
    cmp -s "$tmp/bpe-alone/bpe.model" "$tmp/bpe-global/bpe.model" || fail "bpe with a global protobuf: another model than alone"
    echo "acoustok bpe with $(basename "$protobuf") global: the model trained alone, SentencePiece's log off and said so"
  else
    tail -5 "$tmp/bpe-global.log"
  fi
fi

exit_on_failures
echo "PASS: LibTorch and SentencePiece share a process in every order"
