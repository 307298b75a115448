#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""k-means quality and speed against scikit-learn (issue 4).

Generates N x DIM float32 features from an uneven Gaussian mixture (fixed
seed), fits scikit-learn's MiniBatchKMeans with fairseq learn_kmeans.py's
settings and `acoustok kmeans fit` on the same file, then prints the inertia
of both on all the data (float64, same code for both), both wall times and
the ratios. Run it under the shared CPU lock:

    flock /tmp/acoustok-cpu.lock tests/bench/bench_kmeans.py --bin build/lib/tools/acoustok

Over several seeds (default 1, 2, 3), the means. Targets: with acoustok's
defaults, inertia <= 1.003 x scikit-learn's and >= 5x faster; with fairseq's
exact settings (also run) >= 4x faster.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import describe  # noqa: E402


def make_mixture(n, dim, components, seed):
    """Zipf-weighted components with their own spread over a shared low-rank
    correlation, so clusters overlap unevenly as real speech features do."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, components + 1) ** 1.1
    weights /= weights.sum()
    means = rng.normal(0.0, 0.6, size=(components, dim)).astype(np.float32)
    spread = rng.uniform(0.5, 1.5, size=components).astype(np.float32)
    mixing = rng.normal(0.0, 0.35, size=(32, dim)).astype(np.float32)
    labels = rng.choice(components, size=n, p=weights)
    x = np.empty((n, dim), dtype=np.float32)
    step = 20000
    for s in range(0, n, step):
        e = min(n, s + step)
        lab = labels[s:e]
        noise = rng.standard_normal((e - s, dim), dtype=np.float32) * spread[lab, None]
        shared = rng.standard_normal((e - s, 32), dtype=np.float32) @ mixing
        x[s:e] = means[lab] + noise + shared
    return x


def inertia(x, centroids):
    """Sum of squared distances to the nearest centroid, in float64."""
    c = centroids.astype(np.float64)
    cn = (c * c).sum(1)
    total = 0.0
    for s in range(0, x.shape[0], 20000):
        xb = x[s:s + 20000].astype(np.float64)
        d = (xb * xb).sum(1)[:, None] - 2.0 * xb @ c.T + cn[None, :]
        total += np.maximum(d.min(1), 0.0).sum()
    return total


def load_centroids(path):
    import json
    import struct
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    t = header["centroids"]
    a, b = t["data_offsets"]
    assert t["dtype"] == "F32"
    return np.frombuffer(data[a:b], dtype="<f4").reshape(t["shape"]), header.get("__metadata__", {})


FAIRSEQ_ARGS = "--batch-size 10000 --max-iter 100 --max-no-improvement 100 --n-init 20 --reassignment-ratio 0"


def run_sklearn(x, k, seed):
    from sklearn.cluster import MiniBatchKMeans
    t = time.time()
    # fairseq examples/hubert/simple_kmeans/learn_kmeans.py's settings.
    km = MiniBatchKMeans(n_clusters=k, init="k-means++", batch_size=10000, max_iter=100,
                         max_no_improvement=100, n_init=20, reassignment_ratio=0.0, tol=0.0,
                         compute_labels=False, init_size=None, random_state=seed)
    km.fit(x)
    return inertia(x, km.cluster_centers_), time.time() - t, km.n_steps_


def run_ours(binary, path, x, k, seed, extra, tmp):
    out = os.path.join(tmp, "km.safetensors")
    cmd = [binary, "kmeans", "fit", path, "--k", str(k), "-o", out, "--seed", str(seed), "-q"] + extra.split()
    t = time.time()
    subprocess.run(cmd, check=True)
    secs = time.time() - t
    c, meta = load_centroids(out)
    return inertia(x, c), secs, int(meta.get("steps", 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("ACOUSTOK_BIN", "build/lib/tools/acoustok"))
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--components", type=int, default=150)
    ap.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    ap.add_argument("--seeds", default="1,2,3", help="k-means seeds; the means over them are compared")
    ap.add_argument("--features", help="use this .npy instead of the generated mixture (e.g. real XLSR features)")
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--no-fairseq-settings", action="store_true",
                    help="do not also run acoustok with fairseq's exact settings")
    ap.add_argument("--ours-args", default="", help="extra arguments for acoustok kmeans fit (its defaults otherwise)")
    args = ap.parse_args()
    seeds = [int(v) for v in args.seeds.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench_kmeans_") as tmp:
        if args.features:
            x = np.load(args.features).astype(np.float32)
            path = args.features
            print(f"data: {args.features}: {x.shape[0]} x {x.shape[1]}", flush=True)
        else:
            t = time.time()
            x = make_mixture(args.n, args.dim, args.components, args.seed)
            path = os.path.join(tmp, "feats.npy")
            np.save(path, x)
            print(f"data: {x.shape[0]} x {x.shape[1]} float32, {args.components}-component uneven mixture "
                  f"(generated in {time.time() - t:.1f} s)", flush=True)
        print(f"machine: {describe()}; k={args.k}, seeds {seeds}", flush=True)
        runs = {"sklearn": [], "ours": [], "ours_fairseq": []}
        for seed in seeds:
            if not args.skip_sklearn:
                runs["sklearn"].append(run_sklearn(x, args.k, seed))
                i, t, steps = runs["sklearn"][-1]
                print(f"seed {seed}: sklearn MiniBatchKMeans (fairseq settings): {t:7.2f} s, {steps:5d} steps, inertia {i:.6e}", flush=True)
            runs["ours"].append(run_ours(args.bin, path, x, args.k, seed, args.ours_args, tmp))
            i, t, steps = runs["ours"][-1]
            print(f"seed {seed}: acoustok kmeans fit (defaults {args.ours_args}): {t:7.2f} s, {steps:5d} steps, inertia {i:.6e}", flush=True)
            if not args.no_fairseq_settings:
                runs["ours_fairseq"].append(run_ours(args.bin, path, x, args.k, seed, FAIRSEQ_ARGS, tmp))
                i, t, steps = runs["ours_fairseq"][-1]
                print(f"seed {seed}: acoustok kmeans fit (fairseq settings): {t:7.2f} s, {steps:5d} steps, inertia {i:.6e}", flush=True)

        def mean(name, field):
            return sum(r[field] for r in runs[name]) / len(runs[name])
        if runs["sklearn"]:
            sk_i, sk_t = mean("sklearn", 0), mean("sklearn", 1)
            print(f"mean over {len(seeds)} seeds: sklearn inertia {sk_i:.6e} in {sk_t:.2f} s")
            for name, label, target_i, target_t in (("ours", "defaults", 1.003, 5.0),
                                                    ("ours_fairseq", "fairseq settings", None, 4.0)):
                if not runs[name]:
                    continue
                ri, rt = mean(name, 0) / sk_i, sk_t / mean(name, 1)
                verdict_i = "" if target_i is None else (
                    f" (target <= {target_i}: {'OK' if ri <= target_i else 'MISSED'})")
                print(f"acoustok {label}: inertia {mean(name, 0):.6e} = {ri:.4f} x sklearn{verdict_i}; "
                      f"{mean(name, 1):.2f} s = {rt:.2f}x faster (target >= {target_t}x: {'OK' if rt >= target_t else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
