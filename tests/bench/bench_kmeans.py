#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""k-means quality and speed against scikit-learn (issue 4).

Generates N x DIM float32 features from an uneven Gaussian mixture (fixed
seed), fits scikit-learn's MiniBatchKMeans with fairseq learn_kmeans.py's
settings and `acoustok kmeans fit` on the same file, then prints the inertia
of both on all the data (float64, same code for both), both wall times and
the ratios. Run it under the shared CPU lock:

    flock /tmp/acoustok-cpu.lock tests/bench/bench_kmeans.py --bin build/lib/tools/acoustok

Targets: inertia(ours) <= 1.01 x inertia(sklearn), time(sklearn) >= 5 x time(ours).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("ACOUSTOK_BIN", "build/lib/tools/acoustok"))
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--components", type=int, default=150)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--features", help="use this .npy instead of the generated mixture (e.g. real XLSR features)")
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--skip-ours", action="store_true")
    ap.add_argument("--ours-args", default="", help="extra arguments for acoustok kmeans fit")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_kmeans_") as tmp:
        if args.features:
            x = np.load(args.features).astype(np.float32)
            path = args.features
        else:
            t = time.time()
            x = make_mixture(args.n, args.dim, args.components, args.seed)
            path = os.path.join(tmp, "feats.npy")
            np.save(path, x)
            print(f"data: {x.shape[0]} x {x.shape[1]} float32, {args.components}-component uneven mixture "
                  f"(generated in {time.time() - t:.1f} s)", flush=True)
        print(f"machine: {os.cpu_count()} cores", flush=True)
        results = {}
        if not args.skip_sklearn:
            from sklearn.cluster import MiniBatchKMeans
            import sklearn
            t = time.time()
            km = MiniBatchKMeans(n_clusters=args.k, init="k-means++", batch_size=10000, max_iter=100,
                                 max_no_improvement=100, n_init=20, reassignment_ratio=0.0,
                                 compute_labels=False, random_state=args.seed)
            km.fit(x)
            secs = time.time() - t
            results["sklearn"] = (inertia(x, km.cluster_centers_), secs)
            print(f"sklearn {sklearn.__version__} MiniBatchKMeans: {secs:.2f} s, {km.n_steps_} steps, "
                  f"inertia {results['sklearn'][0]:.6e}", flush=True)
        if not args.skip_ours:
            out = os.path.join(tmp, "km.safetensors")
            cmd = [args.bin, "kmeans", "fit", path, "--k", str(args.k), "-o", out,
                   "--seed", str(args.seed)] + args.ours_args.split()
            t = time.time()
            subprocess.run(cmd, check=True)
            secs = time.time() - t
            c, meta = load_centroids(out)
            results["ours"] = (inertia(x, c), secs)
            print(f"acoustok kmeans fit: {secs:.2f} s (whole command, reading the .npy included), "
                  f"inertia {results['ours'][0]:.6e}; metadata {meta}", flush=True)
        if len(results) == 2:
            ri = results["ours"][0] / results["sklearn"][0]
            rs = results["sklearn"][1] / results["ours"][1]
            print(f"inertia ratio ours/sklearn = {ri:.4f} (target <= 1.01): {'OK' if ri <= 1.01 else 'MISSED'}")
            print(f"speed-up sklearn/ours = {rs:.2f}x (target >= 5x): {'OK' if rs >= 5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
