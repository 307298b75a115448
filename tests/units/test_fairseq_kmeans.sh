#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fairseq's k-means files (learn_kmeans.py: scikit-learn's MiniBatchKMeans
# saved with joblib.dump, "km.bin") in `kmeans predict`, `units --kmeans` and
# `kmeansunits model=`: the units equal scikit-learn's predict() on the same
# file; variants (KMeans, float64, big-endian, Fortran order, plain
# pickle.dump) load too; hostile or broken files are refused by name with
# exit 1 and nothing runs. Also: the feature cache of `units` is a NumPy
# float16 file equal to the features.
#   test_fairseq_kmeans.sh ACOUSTOK
set -euo pipefail
acoustok=$1
source "$(dirname "${BASH_SOURCE[0]}")/../common/shell_env.sh"
cd "$tmp"

echo "fairseq k-means: fitting scikit-learn with learn_kmeans.py's settings, writing km.bin variants"
$PY - <<'PYEOF'
import os, pickle
import joblib
import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

rng = np.random.default_rng(7)
dim, comps = 24, 12
means = rng.normal(0, 2.0, size=(comps, dim))
def frames(n):
    lab = rng.integers(0, comps, size=n)
    return (means[lab] + rng.normal(0, 0.7, size=(n, dim))).astype(np.float32)

# A corpus of segments (features per segment, 16-bit WAVs of any content).
os.makedirs("segments"); os.makedirs("features")
import wave
segs = []
for i in range(6):
    x = frames(40 + 17 * i)
    name = "seg_%02d" % i
    np.save("features/%s.npy" % name, x)
    with wave.open("segments/%s.wav" % name, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(b"\0\0" * 1600)
    segs.append(x)
x = np.concatenate(segs)
np.save("x.npy", x)

km = MiniBatchKMeans(n_clusters=16, init="k-means++", max_iter=100, batch_size=10000, verbose=0,
                     compute_labels=False, tol=0.0, max_no_improvement=100, init_size=None, n_init=20,
                     reassignment_ratio=0.0, random_state=0).fit(x)
joblib.dump(km, "km.bin")

def margin_ok(c, rows):
    d = ((rows[:, None, :].astype(np.float64) - c[None].astype(np.float64)) ** 2).sum(-1)
    d.sort(axis=1)
    return bool((d[:, 1] - d[:, 0] > 1e-3 * d[:, 1]).all())
# No float32 near-tie in the data: the labels are then the same in any exact arithmetic.
assert margin_ok(km.cluster_centers_, x)
x16 = x.astype(np.float16).astype(np.float32)
assert margin_ok(km.cluster_centers_, x16)
np.savetxt("want.txt", km.predict(x)[None], fmt="%d")
np.savetxt("want16.txt", km.predict(x16)[None], fmt="%d")
x16.astype(np.float16).tofile("features_f16.raw")
x.tofile("x.f32")
km.cluster_centers_.astype(np.float32).tofile("centroids.f32")

# Variants that must load and predict the same: a full KMeans, float64
# centres (features fitted in float64), big-endian, Fortran order, pickle.dump.
full = KMeans(n_clusters=9, n_init=3, random_state=0).fit(x.astype(np.float64))
assert margin_ok(full.cluster_centers_.astype(np.float32), x)
joblib.dump(full, "km_full64.bin")
np.savetxt("want_full64.txt", full.predict(x.astype(np.float64))[None], fmt="%d")
import copy
be = copy.deepcopy(km); be.cluster_centers_ = km.cluster_centers_.astype(">f8"); joblib.dump(be, "km_bigendian.bin")
fo = copy.deepcopy(km); fo.cluster_centers_ = np.asfortranarray(km.cluster_centers_); joblib.dump(fo, "km_fortran.bin")
pickle.dump(km, open("km_pickle.pkl", "wb"), protocol=4)
pickle.dump(km, open("km_pickle2.pkl", "wb"), protocol=2)

# Broken and hostile files.
os.makedirs("bad")
joblib.dump(km, "bad/compressed.bin", compress=3)
raw = open("km.bin", "rb").read()
open("bad/truncated.bin", "wb").write(raw[:len(raw) - 100])
open("bad/empty.bin", "wb").write(b"")
class Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))
ev = copy.deepcopy(km); ev.cluster_centers_ = Evil(); joblib.dump(ev, "bad/os_system.bin")
ob = copy.deepcopy(km); ob.cluster_centers_ = km.cluster_centers_.astype(object); joblib.dump(ob, "bad/object_array.bin")
nk = copy.deepcopy(km); nk.n_clusters = 99; joblib.dump(nk, "bad/n_clusters.bin")
na = copy.deepcopy(km); na.cluster_centers_ = km.cluster_centers_.copy(); na.cluster_centers_[3, 5] = np.nan
joblib.dump(na, "bad/nan.bin")
v1 = copy.deepcopy(km); v1.cluster_centers_ = km.cluster_centers_[0]; joblib.dump(v1, "bad/one_dim.bin")
nf = copy.deepcopy(km); del nf.cluster_centers_; joblib.dump(nf, "bad/unfitted.bin")
from joblib.numpy_pickle import NumpyArrayWrapper
huge = NumpyArrayWrapper.__new__(NumpyArrayWrapper)
huge.__dict__.update(subclass=np.ndarray, shape=(1 << 20, 1 << 20), order="C", dtype=np.dtype("f4"),
                     allow_mmap=True, numpy_array_alignment_bytes=16)
hu = copy.deepcopy(km); hu.cluster_centers_ = huge; pickle.dump(hu, open("bad/huge_shape.bin", "wb"), protocol=4)
open("bad/none_flood.bin", "wb").write(b"\x80\x04" + b"N" * 3000000 + b".")
open("bad/deep_lists.bin", "wb").write(b"\x80\x04]" + b"(]" * 400000 + b"e" * 400000 + b".")
open("bad/list.bin", "wb").write(pickle.dumps([1, 2, 3], protocol=4))
PYEOF

same_labels() {  # got want: one line of ids each
  if ! cmp -s <(tr -s ' \n' '\n\n' <"$1" | grep .) <(tr -s ' \n' '\n\n' <"$2" | grep .); then
    fail "$1 differs from $2"
    return 1
  fi
}

echo "kmeans predict: km.bin and its variants give scikit-learn's labels"
"$acoustok" kmeans predict km.bin x.npy -o got.txt -q
same_labels got.txt want.txt && echo "  km.bin: $(wc -w <got.txt) frames equal"
for v in km_bigendian.bin km_fortran.bin km_pickle.pkl km_pickle2.pkl; do
  "$acoustok" kmeans predict "$v" x.npy -o "got_$v.txt" -q
  same_labels "got_$v.txt" want.txt && echo "  $v: equal"
done
"$acoustok" kmeans predict km_full64.bin x.npy -o got_full64.txt -q
same_labels got_full64.txt want_full64.txt && echo "  km_full64.bin (KMeans, float64): equal"

echo "units --kmeans km.bin: the corpus units are scikit-learn's predict() of the cached features"
"$acoustok" units --features features segments -o units --kmeans km.bin --feature-model test -q --json >units.json
$PY - <<'PYEOF' || fail "units --kmeans"
import json, struct, numpy as np
x16 = np.fromfile("features_f16.raw", dtype=np.float16).reshape(-1, 24)
want = np.loadtxt("want16.txt", dtype=np.int64).reshape(-1)
# The cache is a NumPy file: float16 [frames, dim], the features in order.
cache = np.load("units/cache/features.npy", mmap_mode="r")
assert cache.dtype == np.float16 and cache.shape == x16.shape, (cache.dtype, cache.shape)
assert np.array_equal(np.asarray(cache), x16), "cache differs from the float16 features"
got = np.concatenate([np.array(s["units"]) for s in json.load(open("units/corpus_timestamped.json"))["segments"]])
assert np.array_equal(got, want), (got[:20], want[:20])
raw = open("units/kmeans.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
a, b = h["centroids"]["data_offsets"]
c = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.float32).reshape(h["centroids"]["shape"])
assert np.array_equal(c, np.fromfile("centroids.f32", dtype=np.float32).reshape(c.shape))
assert h["__metadata__"]["kmeans_model"].endswith("km.bin"), h["__metadata__"]
print("  %d frames equal; cache/features.npy loads with np.load; kmeans.safetensors holds km.bin's centres" % len(got))
PYEOF
if "$acoustok" units --features features segments -o units_k --kmeans km.bin --k 5 -q 2>err.txt; then
  fail "--kmeans with --k accepted"
else
  [ $? -eq 2 ] || fail "--kmeans with --k: not a usage error (exit 2)"
fi

if command -v gst-launch-1.0 >/dev/null && gst-inspect-1.0 kmeansunits >/dev/null 2>&1; then
  echo "kmeansunits model=km.bin: the same labels"
  gst-launch-1.0 -q filesrc location=x.f32 ! "application/x-acoustok-features,dim=(int)24,layer=(int)14,frame-rate=(fraction)50/1" \
    ! kmeansunits model=km.bin ! "text/x-raw,format=utf8" ! filesink location=gst.txt
  same_labels gst.txt want.txt && echo "  equal"
else
  echo "kmeansunits: GStreamer plugin not built here, skipped"
fi

echo "broken and hostile files: refused by name, exit 1, nothing executed"
expect_refused() {  # file, words the message must hold
  local f=$1 want=$2 rc=0
  "$acoustok" kmeans predict "$f" x.npy -o out.txt -q 2>err.txt || rc=$?
  local msg; msg=$(head -c 400 err.txt)
  if [ "$rc" -ne 1 ]; then fail "$f: exit $rc ($msg)"; return; fi
  case "$msg" in *"$f"*"$want"*) echo "  $f: $msg" ;; *) fail "$f: message '$msg' lacks '$want'";; esac
  [ ! -e out.txt ] || fail "$f: out.txt written"
  rm -f out.txt
}
expect_refused bad/compressed.bin "compressed joblib file"
expect_refused bad/truncated.bin "truncated"
expect_refused bad/empty.bin ""
expect_refused bad/os_system.bin "refuses pickle global 'posix.system'"
expect_refused bad/object_array.bin "dtype 'O8'"
expect_refused bad/n_clusters.bin "n_clusters is 99"
expect_refused bad/nan.bin "NaN"
expect_refused bad/one_dim.bin "not a [k, dim] matrix"
expect_refused bad/unfitted.bin "no cluster_centers_"
expect_refused bad/huge_shape.bin "array too large"
expect_refused bad/none_flood.bin "objects"
expect_refused bad/deep_lists.bin ""
expect_refused bad/list.bin "does not hold a scikit-learn KMeans"
[ ! -e PWNED ] || fail "a pickle ran a command"

exit_on_failures
echo "all fairseq k-means checks passed"
