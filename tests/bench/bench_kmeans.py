#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""k-means quality and speed against scikit-learn (issue 31, point 4).

On each data set (a hidden Gaussian mixture of uneven, anisotropic
clusters; uniform noise; or a features .npy such as the demo corpus's), for
every seed (default 1..5) on both sides:
  - scikit-learn's MiniBatchKMeans with fairseq learn_kmeans.py's settings,
    random_state=seed;
  - `acoustok kmeans fit` with fairseq's settings, our own random streams;
  - the same with --rng numpy (scikit-learn's own draws and arithmetic);
  - `acoustok kmeans fit` with its defaults.
Every model is scored by the inertia of all the data (float64, the same code
for all). Printed: per seed, then per configuration the mean inertia, the
standard error of the mean, the ratio to scikit-learn's mean, the mean wall
time and the speed ratio, with the CPU. Run it under the shared lock:

    flock /tmp/acoustok-build.lock tests/bench/bench_kmeans.py --bin build/lib/tools/acoustok

Targets: fairseq's settings within +-0.2 % of scikit-learn's mean, the
defaults within 0.3 % (at most 1.003 x) and >= 5x faster.
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
    """Zipf-weighted components, each with its own axis scales (anisotropic)
    and spread, over a shared low-rank correlation, so clusters overlap
    unevenly as real speech features do."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, components + 1) ** 1.1
    weights /= weights.sum()
    means = rng.normal(0.0, 0.6, size=(components, dim)).astype(np.float32)
    spread = rng.uniform(0.5, 1.5, size=components).astype(np.float32)
    axes = rng.lognormal(0.0, 0.5, size=(components, dim)).astype(np.float32)
    axes /= np.sqrt((axes * axes).mean(1, keepdims=True))
    mixing = rng.normal(0.0, 0.35, size=(32, dim)).astype(np.float32)
    labels = rng.choice(components, size=n, p=weights)
    x = np.empty((n, dim), dtype=np.float32)
    step = 20000
    for s in range(0, n, step):
        e = min(n, s + step)
        lab = labels[s:e]
        noise = rng.standard_normal((e - s, dim), dtype=np.float32) * (spread[lab, None] * axes[lab])
        shared = rng.standard_normal((e - s, 32), dtype=np.float32) @ mixing
        x[s:e] = means[lab] + noise + shared
    return x


def make_uniform(n, dim, seed):
    return np.random.default_rng(seed).random((n, dim), dtype=np.float32)


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


def mean_sem(values):
    v = np.asarray(values, dtype=np.float64)
    return v.mean(), (v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan"))


def bench_data(name, x, path, args, seeds, tmp):
    configs = [("sklearn", "scikit-learn, fairseq's settings", None, None, None)]
    configs.append(("fairseq", "acoustok, fairseq's settings", FAIRSEQ_ARGS, 0.002, None))
    configs.append(("fairseq_numpy", "acoustok, fairseq's settings, --rng numpy", FAIRSEQ_ARGS + " --rng numpy",
                    0.002, None))
    configs.append(("defaults", "acoustok, defaults " + args.ours_args, args.ours_args, 0.003, 5.0))
    configs = [c for c in configs if c[0] in args.configs.split(",")]
    runs = {c[0]: [] for c in configs}
    for seed in seeds:
        for key, label, extra, _, _ in configs:
            r = run_sklearn(x, args.k, seed) if extra is None else run_ours(args.bin, path, x, args.k, seed, extra, tmp)
            runs[key].append(r)
            print(f"{name} seed {seed}: {label}: {r[1]:7.2f} s, {r[2]:5d} steps, inertia {r[0]:.6e}", flush=True)
    print(f"{name}: means over seeds {seeds} (+- standard error of the mean)")
    sk_i = mean_sem([r[0] for r in runs["sklearn"]])[0] if runs.get("sklearn") else None
    sk_t = float(np.mean([r[1] for r in runs["sklearn"]])) if runs.get("sklearn") else None
    for key, label, _, target_i, target_t in configs:
        mi, si = mean_sem([r[0] for r in runs[key]])
        mt = float(np.mean([r[1] for r in runs[key]]))
        line = f"  {label}: inertia {mi:.6e} +- {si:.2e}, {mt:.2f} s"
        if sk_i and key != "sklearn":
            ratio, speed = mi / sk_i, sk_t / mt
            line += f"; {ratio:.4f} +- {si / sk_i:.4f} x sklearn's mean, {speed:.2f}x faster"
            if target_i is not None:
                ok = ratio <= 1 + target_i if key == "defaults" else abs(ratio - 1) <= target_i
                line += f" (inertia target {'<= ' if key == 'defaults' else '+-'}{100 * target_i:.1f} %: " \
                        f"{'OK' if ok else 'MISSED'}"
                if target_t is not None:
                    line += f"; speed target >= {target_t}x: {'OK' if speed >= target_t else 'MISSED'}"
                line += ")"
        print(line, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("ACOUSTOK_BIN", "build/lib/tools/acoustok"))
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--components", type=int, default=100)
    ap.add_argument("--data-seed", type=int, default=1, help="seed of the generated data")
    ap.add_argument("--seeds", default="1,2,3,4,5", help="k-means seeds; the means over them are compared")
    ap.add_argument("--data", default="mixture,uniform",
                    help="comma-separated: mixture, uniform, or .npy feature files (e.g. the demo corpus's)")
    ap.add_argument("--configs", default="sklearn,fairseq,fairseq_numpy,defaults",
                    help="which of sklearn, fairseq, fairseq_numpy, defaults to run")
    ap.add_argument("--ours-args", default="", help="extra arguments for acoustok kmeans fit (its defaults otherwise)")
    args = ap.parse_args()
    seeds = [int(v) for v in args.seeds.split(",")]
    print(f"machine: {describe()}; k={args.k}, seeds {seeds}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_kmeans_") as tmp:
        for data in args.data.split(","):
            t = time.time()
            if data == "mixture":
                x = make_mixture(args.n, args.dim, args.components, args.data_seed)
                what = f"{args.components}-component uneven anisotropic Gaussian mixture"
            elif data == "uniform":
                x = make_uniform(args.n, args.dim, args.data_seed)
                what = "uniform noise in [0, 1)"
            else:
                x = np.load(data).astype(np.float32)
                what = data
            path = os.path.join(tmp, "feats.npy")
            np.save(path, x)
            print(f"data {data}: {x.shape[0]} x {x.shape[1]} float32, {what} ({time.time() - t:.1f} s)", flush=True)
            bench_data(os.path.basename(data), x, path, args, seeds, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
