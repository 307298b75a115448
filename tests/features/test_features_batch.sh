#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# acoustok features over many inputs with one model load: input files, a
# --list file and a fairseq manifest give, bit for bit, the .npy of one call
# per file; --fairseq-shards N --rank R writes the {split}_{R}_{N}.npy/.len
# pair that fairseq's learn_kmeans.py reads (its loader re-implemented here
# with NumPy, then scikit-learn's MiniBatchKMeans fitted on it), its shards
# cut as fairseq's get_shard_range cuts them (Python's round: half to even);
# a manifest line whose file is missing is named, skipped, and exit status 1.
#   test_features_batch.sh ACOUSTOK FIXTURES
set -euo pipefail
acoustok=$1
fx=$2
source "$(dirname "${BASH_SOURCE[0]}")/../common/shell_env.sh"
cd "$tmp"
feat() { "$acoustok" features -q --model "$fx/xlsr/base_st" --layer 2 --threads 2 "$@"; }

# Five inputs in two folders, one of them shorter than a frame (0 rows).
mkdir -p audio/a audio/b/deep
cp "$fx/vocoder/segments/espeak_pt_00000.wav" "$fx/vocoder/segments/espeak_pt_00001.wav" audio/a/
cp "$fx/vocoder/segments/espeak_pt_00002.wav" audio/b/
cp "$fx/xlsr/speech_pt.wav" audio/b/deep/
$PY -c "
import wave, struct
w = wave.open('audio/a/short.wav', 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
w.writeframes(struct.pack('<300h', *([1000] * 300))); w.close()"
rels=(a/espeak_pt_00000.wav a/espeak_pt_00001.wav a/short.wav b/espeak_pt_00002.wav b/deep/speech_pt.wav)

echo "one call per file (the reference)"
for r in "${rels[@]}"; do
  mkdir -p "ref/$(dirname "$r")"
  feat "audio/$r" -o "ref/${r%.wav}.npy" 2>/dev/null
done

same_as_ref() {  # DIR: every input's .npy, byte for byte
  for r in "${rels[@]}"; do
    cmp -s "ref/${r%.wav}.npy" "$1/${r%.wav}.npy" || fail "$1/${r%.wav}.npy differs from one call on audio/$r"
  done
}

echo "input files: named below the folder they share"
feat "${rels[@]/#/audio/}" -o many 2>/dev/null || fail "features with many inputs exited $?"
same_as_ref many

echo "--list (blank lines and CRLF ends allowed)"
{ for r in "${rels[@]}"; do printf 'audio/%s\r\n\n' "$r"; done; } >list.txt
feat --list list.txt -o listed 2>/dev/null || fail "features --list exited $?"
same_as_ref listed

echo "--manifest: DIR/relative/path.npy"
samples() { $PY -c "import sys, wave; print(wave.open(sys.argv[1]).getnframes())" "$1"; }
{ echo "$tmp/audio"; for r in "${rels[@]}"; do printf '%s\t%s\n' "$r" "$(samples "audio/$r")"; done; } >train.tsv
feat --manifest train.tsv -o manifest 2>err.txt || fail "features --manifest exited $?: $(cat err.txt)"
grep -q warning err.txt && fail "a manifest with the right sample counts warned: $(cat err.txt)"
same_as_ref manifest

echo "--fairseq-shards 2 and 3"
for n in 2 3; do
  for ((r = 0; r < n; ++r)); do
    feat --manifest train.tsv -o shards --fairseq-shards $n --rank $r || fail "shard $r of $n exited $?"
  done
done
$PY - "$tmp" <<'PYEOF' || fail "the shards are not what learn_kmeans.py reads"
import sys
import numpy as np
from sklearn.cluster import MiniBatchKMeans

tmp = sys.argv[1]
with open(f"{tmp}/train.tsv") as f:
    root = f.readline().rstrip()
    lines = [line.rstrip() for line in f]
refs = [np.load(f"{tmp}/ref/{line.split(chr(9))[0][:-4]}.npy") for line in lines]

def shard_range(tot, nshard, rank):  # fairseq's get_shard_range
    return round(tot / nshard * rank), round(tot / nshard * (rank + 1))

def load_feature_shard(feat_dir, split, nshard, rank, percent):  # learn_kmeans.py's reading
    feat_path = f"{feat_dir}/{split}_{rank}_{nshard}.npy"
    leng_path = f"{feat_dir}/{split}_{rank}_{nshard}.len"
    with open(leng_path, "r") as f:
        lengs = [int(line.rstrip()) for line in f]
        offsets = [0] + np.cumsum(lengs[:-1]).tolist()
    feat = np.load(feat_path, mmap_mode="r")
    if percent < 0:
        return feat, lengs, offsets
    return np.concatenate([feat[offsets[i]:offsets[i] + lengs[i]] for i in range(len(lengs))], axis=0), lengs, offsets

bad = 0
def check(ok, what):
    global bad
    if not ok:
        print("FAIL:", what)
        bad += 1

assert shard_range(5, 2, 1) == (2, 5)  # round(2.5) is 2 in Python: half to even
for n in (2, 3):
    allfeat = []
    for r in range(n):
        begin, end = shard_range(len(lines), n, r)
        feat, lengs, offsets = load_feature_shard(f"{tmp}/shards", "train", n, r, -1)
        check(feat.dtype == np.float32 and feat.ndim == 2, f"shard {r}/{n}: dtype {feat.dtype}, ndim {feat.ndim}")
        check(lengs == [len(x) for x in refs[begin:end]], f"shard {r}/{n}: .len {lengs} for lines {begin}..{end}")
        check(feat.shape[0] == sum(lengs), f"shard {r}/{n}: {feat.shape[0]} rows, .len sums to {sum(lengs)}")
        for i, j in enumerate(range(begin, end)):
            check(np.array_equal(feat[offsets[i]:offsets[i] + lengs[i]], refs[j]), f"shard {r}/{n}: file {j} differs")
        sampled, _, _ = load_feature_shard(f"{tmp}/shards", "train", n, r, 1.0)
        check(np.array_equal(sampled, np.asarray(feat)), f"shard {r}/{n}: the sampled reading differs")
        allfeat.append(feat)
    feat = np.concatenate(allfeat, axis=0)
    check(np.array_equal(feat, np.concatenate(refs, axis=0)), f"{n} shards do not add up to every file's features")
    km = MiniBatchKMeans(n_clusters=8, batch_size=256, n_init=3, max_iter=20, random_state=0, compute_labels=False)
    km.fit(feat)
    check(km.cluster_centers_.shape == (8, feat.shape[1]), "MiniBatchKMeans did not fit")
    print(f"{n} shards: {feat.shape[0]} frames x {feat.shape[1]}, MiniBatchKMeans inertia {-km.score(feat) / len(feat):.4f}")
sys.exit(1 if bad else 0)
PYEOF

echo "a missing file in the manifest: named, skipped, the others done, exit 1"
{ echo "$tmp/audio"; printf 'a/espeak_pt_00000.wav\t71588\na/gone.wav\t16000\nb/espeak_pt_00002.wav\t1\n'; } >gaps.tsv
rc=0
feat --manifest gaps.tsv -o gaps 2>err.txt || rc=$?
[ "$rc" = 1 ] || fail "a missing file gave exit $rc, not 1"
grep -q "audio/a/gone.wav: .*gaps.tsv: line 3, skipped" err.txt || fail "the missing file is not named: $(cat err.txt)"
grep -q "warning: .*espeak_pt_00002.wav: the manifest says 1 samples" err.txt || fail "a wrong sample count is not warned about: $(cat err.txt)"
cmp -s ref/a/espeak_pt_00000.npy gaps/a/espeak_pt_00000.npy || fail "the file before the missing one was not done"
cmp -s ref/b/espeak_pt_00002.npy gaps/b/espeak_pt_00002.npy || fail "the file after the missing one was not done"
[ ! -e gaps/a/gone.npy ] || fail "the missing file has an output"
rc=0
feat --manifest gaps.tsv -o gapshard --fairseq-shards 1 --rank 0 2>err.txt || rc=$?
[ "$rc" = 1 ] || fail "a missing file in a shard gave exit $rc, not 1"
rows() { $PY -c "import sys, numpy; print(len(numpy.load(sys.argv[1])))" "$1"; }
want=$(printf '%s\n' "$(rows ref/a/espeak_pt_00000.npy)" "$(rows ref/b/espeak_pt_00002.npy)")
[ "$(cat gapshard/gaps_0_1.len)" = "$want" ] || fail "the shard's .len: $(cat gapshard/gaps_0_1.len), not $want"

echo "usage errors: exit 2 before the model loads"
for args in "--manifest train.tsv -o x --rank 0" "--manifest train.tsv -o x --fairseq-shards 2" \
            "--manifest train.tsv -o x --fairseq-shards 2 --rank 2" "audio/a/short.wav --fairseq-shards 2 --rank 0 -o x" \
            "audio/a/short.wav audio/a/short.wav -o x" "audio/a/short.wav audio/b/espeak_pt_00002.wav -o -" \
            "--manifest train.tsv audio/a/short.wav -o x"; do
  rc=0
  # shellcheck disable=SC2086
  feat $args >/dev/null 2>err.txt || rc=$?
  [ "$rc" = 2 ] || fail "features $args: exit $rc, not 2 ($(cat err.txt))"
done

exit_on_failures
echo "all passed"
