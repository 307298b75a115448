#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/slurm on a real Slurm: starts munged, slurmctld and slurmd on this
# machine (one node, its `nproc` CPUs, everything in a temporary folder, free
# ports), then
#  - submits phases 0-1 with examples/slurm/submit.sh (a segment array of 3
#    tasks, the merge, a units array of 3 shards, the dependent fit) on a
#    corpus of the test recordings with the small test feature model, and
#    checks that OUT/segments equals one `acoustok segment` run and OUT/units
#    one `acoustok units` run, file by file, byte for byte;
#  - damages one shard as a killed task leaves it, resubmits that index alone
#    (--array=1) and the fit, and checks the files come back the same.
# Every daemon it started is stopped and the folder removed on exit. If Slurm
# cannot start, the test fails and shows why (the daemons' log tails).
# Needs root and Debian's munge, slurmctld and slurmd packages.
#
# Usage: test_slurm.sh ACOUSTOK_BIN SOURCE_ROOT
#        (defaults: $ACOUSTOK_BIN, and the tree this script is in)
# Progress lines start with "slurm:". A step is a function named step_NAME
# listed in `steps` below; it may use $work, $run, $acoustok, $src, $model.
set -euo pipefail

say() { echo "slurm: $*"; }
why=''
fail() {
  why=$*
  echo "slurm: FAIL: $why" >&2
  exit 1
}

src=$(cd "${2:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd)
acoustok=${1:-${ACOUSTOK_BIN:-}}
[ -n "$acoustok" ] || fail "no acoustok program: usage: test_slurm.sh ACOUSTOK_BIN SOURCE_ROOT"
[ -x "$acoustok" ] || fail "$acoustok is not an executable program"
acoustok=$(readlink -f "$acoustok")
model=$src/tests/fixtures/xlsr/xlsr_st
[ -f "$model/config.json" ] || fail "no test feature model at $model"

PATH=$PATH:/usr/sbin:/sbin  # the daemons, for a root without them on PATH
[ "$(id -u)" = 0 ] || fail "must run as root (slurmctld and slurmd run as root here, as in CI)"
missing=()
for c in munged munge unmunge slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
  command -v "$c" >/dev/null || missing+=("$c")
done
[ ${#missing[@]} -eq 0 ] ||
  fail "missing ${missing[*]}: apt-get install -y slurmctld slurmd munge (scripts/setup.sh installs them)"

t_start=$SECONDS
work=$(readlink -f "$(mktemp -d -t acoustok-slurm.XXXXXX)")
chmod 0755 "$work"
run=$work/run
daemons=()  # "name pid", in start order
jobs=()     # every job id submitted

show_logs() {
  local f
  for f in "$work"/log/slurmctld.log "$work"/log/slurmd.log "$work"/log/munged.out "$run"/logs/*.out; do
    # What a daemon said before it opened its log file is only in its .out.
    [ -s "$f" ] || f=${f%.log}.out
    [ -s "$f" ] || continue
    echo "----- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
}

stop_pid() {  # NAME PID: TERM, 15 s, then KILL
  local name=$1 pid=$2 k
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((k = 0; k < 150; k++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "slurm: $name ($pid) ignored SIGTERM, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Live slurmstepd processes of this test's Slurm (they leave slurmd at once:
# stopping it does not stop them).
our_stepds() {
  local p c
  for p in /proc/[0-9]*; do
    read -r c 2>/dev/null <"$p/comm" || continue
    [ "$c" = slurmstepd ] || continue
    tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "SLURM_CONF=$work/etc/slurm.conf" && echo "${p#/proc/}"
  done
  return 0
}

cleanup() {
  local rc=$? k i
  set +e
  trap - EXIT INT TERM
  [ $rc -ne 0 ] && show_logs
  # Jobs first: their processes are not the daemons' children.
  if [ ${#jobs[@]} -gt 0 ] && [ -n "${SLURM_CONF:-}" ]; then
    scancel "${jobs[@]}" 2>/dev/null
    for ((k = 0; k < 100; k++)); do
      [ -z "$(squeue -h -j "$(IFS=,; echo "${jobs[*]}")" -t PD,R,CG,S,CF 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  for ((k = 0; k < 50; k++)); do
    [ -z "$(our_stepds)" ] && break
    sleep 0.2
  done
  for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do
    # shellcheck disable=SC2086 # "name pid"
    stop_pid ${daemons[i]}
  done
  for k in $(our_stepds); do
    echo "slurm: slurmstepd $k outlived its job, stopping it" >&2
    stop_pid slurmstepd "$k"
  done
  rm -rf "$work"
  say "$([ $rc -eq 0 ] && echo PASS || echo "FAIL (status $rc${why:+: $why})") in $((SECONDS - t_start)) s; daemons stopped, $work removed"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- munge and Slurm ---------------------------------------------------------

free_port() {  # a TCP port nothing listens on, not one of $@
  local p k
  for ((k = 0; k < 200; k++)); do
    p=$((20000 + RANDOM % 40000))
    [[ " $* " == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    echo "$p"
    return 0
  done
  fail "no free TCP port found"
}

start_munge() {
  local d=$work/munge k
  mkdir -p "$d" "$work/log"
  chmod 0755 "$d"  # clients must reach the socket
  # A key of our own (munged wants it owned by its user and readable by no one else).
  head -c 1024 /dev/urandom >"$d/munge.key"
  chmod 0400 "$d/munge.key"
  munged --foreground --force --socket="$d/munge.socket" --key-file="$d/munge.key" \
    --pid-file="$d/munged.pid" --log-file="$work/log/munged.log" --seed-file="$d/munged.seed" \
    >"$work/log/munged.out" 2>&1 &
  daemons+=("munged $!")
  for ((k = 0; k < 100; k++)); do
    munge -S "$d/munge.socket" -n 2>/dev/null | unmunge -S "$d/munge.socket" >/dev/null 2>&1 && return 0
    kill -0 "$!" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/log/munged.out" >&2
  fail "munged did not start (a credential could not be made and decoded on $d/munge.socket)"
}

write_slurm_conf() {
  local node cpus ctld_port slurmd_port
  node=$(hostname -s)
  cpus=$(nproc)
  ctld_port=$(free_port)
  slurmd_port=$(free_port "$ctld_port")
  mkdir -p "$work/etc" "$work/state" "$work/spool"
  : >"$work/etc/plugstack.conf"  # not the machine's
  # SlurmdParameters=config_overrides: the node is what this file says
  # (CPUs only), whatever sockets/cores the hardware reports; the addresses in
  # parentheses spare a lookup of the host name, which containers often lack.
  cat >"$work/etc/slurm.conf" <<EOF
ClusterName=acoustoktest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$work/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdParameters=config_overrides
DependencyParameters=kill_invalid_depend
MinJobAge=600
KillWait=5
InactiveLimit=0
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$work/etc/slurm.conf
  say "slurm.conf: node $node, $cpus CPUs, slurmctld port $ctld_port, slurmd port $slurmd_port"
}

start_slurm() {
  local k state
  slurmctld -D -f "$SLURM_CONF" >"$work/log/slurmctld.out" 2>&1 &
  daemons+=("slurmctld $!")
  local ctld=$!
  slurmd -D -f "$SLURM_CONF" -N "$(hostname -s)" >"$work/log/slurmd.out" 2>&1 &
  daemons+=("slurmd $!")
  local slurmd_pid=$!
  for ((k = 0; k < 120; k++)); do  # 60 s
    state=$(sinfo -h -N -o '%T' 2>/dev/null || true)
    [ "$state" = idle ] && return 0
    if ! kill -0 "$ctld" 2>/dev/null || ! kill -0 "$slurmd_pid" 2>/dev/null; then
      cat "$work/log/slurmctld.out" "$work/log/slurmd.out" >&2
      fail "slurmctld or slurmd exited (logs above and below)"
    fi
    sleep 0.5
  done
  sinfo -N -l >&2 || true
  scontrol show node >&2 || true
  fail "the node is not idle after 60 s (state: '${state:-none}')"
}

# --- jobs --------------------------------------------------------------------

# wait_jobs SECONDS ID...: until every job (every task of an array) has ended;
# fails unless each one COMPLETED.
wait_jobs() {
  local limit=$1 ids k out bad
  shift
  ids=$(IFS=,; echo "$*")
  for ((k = 0; k < limit * 2; k++)); do
    out=$(squeue -h -r -t all -j "$ids" -o '%i %T %r' 2>&1) || fail "squeue failed (is slurmctld still up?): $out"
    if [ -n "$out" ] && ! grep -qvE ' (COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) ' <<<"$out"; then
      bad=$(grep -v ' COMPLETED ' <<<"$out" || true)
      [ -z "$bad" ] || { echo "$out" >&2; fail "jobs did not complete: $bad"; }
      return 0
    fi
    sleep 0.5
  done
  echo "$out" >&2
  scontrol show job "${@:1:1}" >&2 || true
  fail "jobs $ids still not done after $limit s"
}

# same_tree A B [FIND_EXCLUSION...]: the same regular files under A and B,
# byte for byte (the exclusions apply to A).
same_tree() {
  local a=$1 b=$2 f n=0
  shift 2
  (cd "$a" && find . -type f "$@" | LC_ALL=C sort) >"$work/files.a"
  (cd "$b" && find . -type f | LC_ALL=C sort) >"$work/files.b"
  diff "$work/files.a" "$work/files.b" >&2 || fail "$a and $b hold different files (diff above)"
  while IFS= read -r f; do
    cmp "$a/$f" "$b/$f" >&2 || fail "$a/$f and $b/$f differ"
    n=$((n + 1))
  done <"$work/files.a"
  [ $n -gt 0 ] || fail "$a is empty"
  say "  $n files identical: $(sed 's|^\./||' "$work/files.a" | tr '\n' ' ' | cut -c1-400)"
}

# The job ids submit.sh printed ("NAME JOBID" lines).
job_id() { awk -v n="$1" '$1 == n { print $2 }' "$work/submitted.txt"; }

# --- steps -------------------------------------------------------------------

units_opts=(--layer 2 --k 8 --seed 3 --batch-size 500)
export OMP_WAIT_POLICY=PASSIVE  # two CPUs, several processes: no spinning

step_corpus() {
  mkdir -p "$work/corpus"
  cp "$src"/tests/fixtures/silence/*.wav "$src"/tests/fixtures/silence/*.mp3 "$work/corpus/"
  say "  corpus: $(find "$work/corpus" -type f | wc -l) recordings"
}

step_phases_0_1() {
  ACOUSTOK=$acoustok "$src/examples/slurm/submit.sh" --segment-tasks 3 --shards 3 \
    --sbatch "--cpus-per-task=1 --mem=200M --time=10" \
    "$work/corpus" "$model" "$run" "${units_opts[@]}" >"$work/submitted.txt"
  say "  jobs: $(tr '\n' ' ' <"$work/submitted.txt")"
  local name
  for name in segment segment-merge units-array units-fit; do
    [ -n "$(job_id $name)" ] || fail "submit.sh printed no $name job"
    jobs+=("$(job_id $name)")
  done
  wait_jobs 300 "${jobs[@]}"
  local n shards
  n=$(find "$run/segments" -maxdepth 1 -name '*.wav' | wc -l)
  say "  $n segments; $(wc -l <"$run/units/all_units_for_bpe.txt") lines of units"
  shards=$(grep -l '"phase":"shard-done"' "$run"/units/shards/*-of-3/checkpoint.json | wc -l)
  [ "$shards" = 3 ] || fail "$shards of 3 shards say shard-done"
  grep -q "units: $n segments' features come from --shard runs" "$run"/logs/acoustok-units-fit-*.out ||
    fail "the fit job did not take its features from the shards"
}

step_segment_equals_one_run() {
  local list
  mapfile -t list < <(find "$work/corpus" -mindepth 1 -maxdepth 1 -type f | LC_ALL=C sort)
  printf '%s\n' "${list[@]}" | cmp - "$run/inputs.txt" || fail "submit.sh listed other inputs"
  "$acoustok" segment -q -o "$work/plain/segments" -- "${list[@]}"
  same_tree "$run/segments" "$work/plain/segments"
}

step_units_equals_one_run() {
  # On the same segments folder (its absolute path is in checkpoint.json).
  "$acoustok" units -q "$run/segments" -o "$work/plain/units" --model "$model" "${units_opts[@]}"
  # shards/ is the array's own feature cache (one folder per task, read by
  # the fit): a plain run has none. The fit's cache/ is compared too.
  same_tree "$run/units" "$work/plain/units" -not -path './shards/*'
}

step_resubmit_killed_shard() {
  local sh=$run/units/shards/1-of-3 line id
  cp -a "$sh" "$work/shard1.done"
  # As a task killed before its first checkpoint leaves it: part of a cache.
  rm "$sh/checkpoint.json" "$sh/processed_files.txt"
  head -c 777 "$work/shard1.done/cache/features.npy" >"$sh/cache/features.npy"
  # The logged command, with --array=1 (README.md: resubmitting an index).
  line=$(grep 'units-array.sbatch' "$run/submit.log" | sed 's/ --array=[^ ]* / --array=1 /; s/ --dependency=[^ ]* / /')
  id=$(eval "$line")
  jobs+=("$id")
  wait_jobs 120 "$id"
  same_tree "$sh" "$work/shard1.done"
  # The fit again: nothing to do, nothing changed.
  line=$(grep 'units-fit.sbatch' "$run/submit.log" | sed 's/ --dependency=[^ ]* / /')
  id=$(eval "$line")
  jobs+=("$id")
  wait_jobs 120 "$id"
  grep -q "is already complete" "$run/logs/acoustok-units-fit-$id.out" || fail "the fit job ran again"
  same_tree "$run/units" "$work/plain/units" -not -path './shards/*'
}

step_vocoder_srun() {
  # examples/slurm/vocoder.sbatch on 2 tasks (one node here) equals 1 process
  # with the same global batch (tests/vocoder/test_vocoder_ddp.sh compares the same way).
  local opts=(--config tiny --epochs 2 --samples-per-epoch 8 --batch-size 4 --lr 1e-6 --save-every 0)
  local fx=$src/tests/fixtures/vocoder id
  id=$(ACOUSTOK=$acoustok sbatch --parsable --nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 --mem=400M \
        --time=10 --output="$work/vocoder-%j.out" "$src/examples/slurm/vocoder.sbatch" \
        "$fx/units" "$fx/segments" "$work/vocoder-srun" "${opts[@]}") || fail "sbatch vocoder.sbatch failed: $id"
  jobs+=("$id")
  wait_jobs 300 "$id"
  grep -q "2 ranks (Slurm (srun))" "$work/vocoder-$id.out" ||
    { cat "$work/vocoder-$id.out" >&2; fail "the srun tasks did not train as 2 ranks"; }
  "$acoustok" vocoder train --units "$fx/units" --audio "$fx/segments" -o "$work/vocoder-one" --threads 1 -q "${opts[@]}"
  /usr/bin/python3 - "$work/vocoder-srun/vocoder_latest.pt" "$work/vocoder-one/vocoder_latest.pt" <<'PYEOF' || fail "srun -n 2 training differs from one process"
import sys, torch
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
worst = max((a[p][k] - b[p][k]).abs().max().item() for p in ("generator", "discriminator") for k in a[p])
d = max(((a["optim_d"][k] - b["optim_d"][k]).abs().max() / b["optim_d"][k].abs().max().clamp_min(1e-12)).item()
        for k in a["optim_d"] if not k.endswith(".step"))
print("slurm:   srun -n 2 vs 1 process: weights max |diff| %.2e, D moments max rel %.2e" % (worst, d))
assert worst <= 1e-5 and d <= 1e-4
PYEOF
}

steps=(corpus phases_0_1 segment_equals_one_run units_equals_one_run resubmit_killed_shard vocoder_srun)

say "acoustok $acoustok; work folder $work"
start_munge
write_slurm_conf
start_slurm
say "munged, slurmctld and slurmd up in $((SECONDS - t_start)) s: $(sinfo -h -o '%P %D node(s) %c CPUs %T')"
for s in "${steps[@]}"; do
  t=$SECONDS
  say "step $s"
  "step_$s"
  say "step $s: ok ($((SECONDS - t)) s)"
done
