#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Phases 0-1 on Slurm: submits a chain of four jobs, each started only when
# the one before ended well (--dependency=afterok, --kill-on-invalid-dep=yes):
#
#   1. segment.sbatch        array of --segment-tasks tasks: acoustok segment
#                            on every N-th recording -> OUT_DIR/segment-tasks/I-of-N/
#   2. segment-merge.sbatch  one job: the task folders -> OUT_DIR/segments/
#   3. units-array.sbatch    array of --shards tasks: acoustok units --shard I/N
#                            (features, cached) -> OUT_DIR/units/shards/I-of-N/
#   4. units-fit.sbatch      one job: acoustok units (k-means, units) -> OUT_DIR/units/
#
# Usage: submit.sh [OPTION...] CORPUS_DIR MODEL_DIR OUT_DIR [UNITS_OPTION...]
#
#   CORPUS_DIR    folder of recordings (.wav .flac .ogg .oga .opus .mp3, any
#                 case; sub-folders are not read); with --segments, a folder
#                 of segments (phase 0 already done: jobs 1-2 are left out)
#   MODEL_DIR     feature model folder (acoustok units --model)
#   OUT_DIR       run folder, on a file system every node sees
#   UNITS_OPTION  more `acoustok units` options, e.g. --layer 14 --k 100 --seed 0
#
# Options:
#   --segment-tasks N       tasks of the segment array (default 4)
#   --shards N              tasks of the units array (default 8)
#   --segment-options "..." `acoustok segment` options, e.g. "--max-segment 20"
#   --sbatch "..."          sbatch options for every job (--partition, --account, ...)
#   --segment-sbatch "..."  sbatch options for the segment array only
#   --units-sbatch "..."    ... the units array only (e.g. "--gres=gpu:1")
#   --fit-sbatch "..."      ... the fit job only
#   --segments              CORPUS_DIR holds segments: submit jobs 3-4 only
#
# Environment: ACOUSTOK, the acoustok program (default: `acoustok` on PATH);
# its absolute path is handed to the jobs.
#
# Prints one line per job, "NAME JOBID", and writes every sbatch command it
# ran, quoted, to OUT_DIR/submit.log: resubmitting one killed array index is
# that command with --array=I (see README.md). Logs: OUT_DIR/logs/.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
usage() { sed -n '/^# Usage:/,/^# Environment:/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//; $d' >&2; }
die() { echo "submit.sh: $*" >&2; exit 2; }

seg_tasks=4 shards=8 seg_opts='' all_sb='' seg_sb='' units_sb='' fit_sb='' from_segments=0
while [ $# -gt 0 ]; do
  case $1 in
    --segment-tasks) seg_tasks=${2:?}; shift 2 ;;
    --shards) shards=${2:?}; shift 2 ;;
    --segment-options) seg_opts=${2?}; shift 2 ;;
    --sbatch) all_sb=${2?}; shift 2 ;;
    --segment-sbatch) seg_sb=${2?}; shift 2 ;;
    --units-sbatch) units_sb=${2?}; shift 2 ;;
    --fit-sbatch) fit_sb=${2?}; shift 2 ;;
    --segments) from_segments=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage; die "unknown option $1" ;;
    *) break ;;
  esac
done
[ $# -ge 3 ] || { usage; die "CORPUS_DIR, MODEL_DIR and OUT_DIR are required"; }
for v in "$seg_tasks" "$shards"; do
  case $v in '' | *[!0-9]* | 0*) die "task counts must be positive numbers, not '$v'" ;; esac
done
[ -d "$1" ] || die "$1: not a folder"
[ -d "$2" ] || die "$2: not a folder"
corpus=$(readlink -f "$1") model=$(readlink -f "$2") out=$(readlink -m "$3")
shift 3
units_opts=(--model "$model" "$@")

ACOUSTOK=$(command -v "${ACOUSTOK:-acoustok}") || die "no acoustok program: put it on PATH or set ACOUSTOK"
ACOUSTOK=$(readlink -f "$ACOUSTOK")
command -v sbatch >/dev/null || die "sbatch not found: is this a Slurm login node?"
mkdir -p "$out/logs"

# Word splitting of the option strings is intended (globbing is not).
set -f
# shellcheck disable=SC2206
all_sb=($all_sb) seg_sb=($seg_sb) units_sb=($units_sb) fit_sb=($fit_sb) seg_opts=($seg_opts)
set +f
: >"$out/submit.log"
submit() {  # NAME SBATCH_ARG... -> prints NAME JOBID
  local name=$1 id
  shift
  local cmd=(sbatch --parsable --export="ALL,ACOUSTOK=$ACOUSTOK" "$@")
  printf '%q ' "${cmd[@]}" >>"$out/submit.log"
  echo >>"$out/submit.log"
  id=$("${cmd[@]}") || die "sbatch failed for $name"
  id=${id%%;*}  # "id;cluster" on federated setups
  echo "$name $id" >&3
  echo "$id"
}
exec 3>&1

dep=()
if [ "$from_segments" = 1 ]; then
  segments=$corpus
else
  # One sorted list for every task and for the merge.
  find -L "$corpus" -mindepth 1 -maxdepth 1 -type f \( -iname '*.wav' -o -iname '*.flac' -o -iname '*.ogg' \
    -o -iname '*.oga' -o -iname '*.opus' -o -iname '*.mp3' \) | LC_ALL=C sort >"$out/inputs.txt"
  [ -s "$out/inputs.txt" ] || die "$corpus: no recordings (.wav .flac .ogg .oga .opus .mp3)"
  # Same-name inputs would write the same segment files from two tasks.
  dups=$(sed 's|.*/||; s|\(.\)\.[^.]*$|\1|' "$out/inputs.txt" | LC_ALL=C sort | uniq -d | head -5)
  [ -z "$dups" ] || die "recordings with the same name (their segment files would collide): $dups"
  seg=$(submit segment --array=0-$((seg_tasks - 1)) --output="$out/logs/%x-%A_%a.out" \
    "${all_sb[@]}" "${seg_sb[@]}" "$here/segment.sbatch" "$out/inputs.txt" "$out" "$seg_tasks" "${seg_opts[@]}")
  merge=$(submit segment-merge --dependency=afterok:"$seg" --kill-on-invalid-dep=yes \
    --output="$out/logs/%x-%j.out" "${all_sb[@]}" \
    "$here/segment-merge.sbatch" "$out/inputs.txt" "$out" "$seg_tasks" "${seg_opts[@]}")
  segments=$out/segments
  dep=(--dependency=afterok:"$merge" --kill-on-invalid-dep=yes)
fi
array=$(submit units-array --array=0-$((shards - 1)) "${dep[@]}" --output="$out/logs/%x-%A_%a.out" \
  "${all_sb[@]}" "${units_sb[@]}" "$here/units-array.sbatch" "$segments" "$out/units" "$shards" "${units_opts[@]}")
submit units-fit --dependency=afterok:"$array" --kill-on-invalid-dep=yes --output="$out/logs/%x-%j.out" \
  "${all_sb[@]}" "${fit_sb[@]}" "$here/units-fit.sbatch" "$segments" "$out/units" "${units_opts[@]}" >/dev/null
