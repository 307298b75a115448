#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""How much arithmetic a wav2vec2 forward pass is, and how much this machine
can do: the ceiling any implementation meets, so a speed ratio can be read
against it.

Counts the multiply-adds of the products (the conv feature encoder, the
feature projection, the positional convolution, each block's q/k/v/out
projections, attention's q.k^T and p.v, the feed-forward) from the model's
config.json, for SAMPLES of 16 kHz audio up to LAYER; element-wise work
(norms, GELU, softmax) is left out (a few percent). Then times oneDNN's
matrix product of the feed-forward's shape at fp32 and bf16 with THREADS
threads (PyTorch's mkldnn path), the best rate this CPU sustains on this
model's products, and NumPy's sgemm 4096 x 4096 (OpenBLAS: an independent
BLAS, its best kernel for the CPU among the OPENBLAS_CORETYPE values that run
here), the rate issue 31's "85 % of the machine" is read against.

    tests/bench/xlsr_work.py MODEL_DIR SAMPLES LAYER THREADS [--ours S] [--ours-bf16 S] [--reference S]

With the end-to-end seconds of runs, says what rate each reached and what a
5x ratio over the reference would need.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def work(config, samples, layer):
    """Floating-point operations (2 per multiply-add) by part."""
    parts = {}
    n, c_in, conv = samples, 1, 0
    for dim, kernel, stride in zip(config["conv_dim"], config["conv_kernel"], config["conv_stride"]):
        n = (n - kernel) // stride + 1
        conv += 2 * n * dim * c_in * kernel
        c_in = dim
    frames, h = n, config["hidden_size"]
    parts["conv feature encoder"] = conv
    groups, kernel = config["num_conv_pos_embedding_groups"], config["num_conv_pos_embeddings"]
    parts["projection + positional conv"] = 2 * frames * c_in * h + 2 * frames * h * (h // groups) * kernel
    parts["q/k/v/out + feed-forward"] = layer * 2 * frames * (4 * h * h + 2 * h * config["intermediate_size"])
    parts["attention q.k^T, p.v"] = layer * 2 * 2 * frames * frames * h
    return frames, parts


def gemm_rate(threads, dtype, m, k, n):
    """GFLOPS of oneDNN's inner product [m, k] x [k, n] (PyTorch's mkldnn Linear)."""
    import torch
    import torch.utils.mkldnn as mkldnn_utils
    torch.set_num_threads(threads)
    with torch.no_grad():
        lin = torch.nn.Linear(k, n, bias=False)
        x = torch.randn(m, k)
        if dtype == "bf16":
            lin = mkldnn_utils.to_mkldnn(lin, torch.bfloat16)
            x = x.to(torch.bfloat16).to_mkldnn()
        else:
            lin = mkldnn_utils.to_mkldnn(lin)
            x = x.to_mkldnn()
        for _ in range(3):
            lin(x)
        reps, t = 0, time.perf_counter()
        while reps < 10 or time.perf_counter() - t < 2.0:
            lin(x)
            reps += 1
        return 2.0 * m * k * n * reps / (time.perf_counter() - t) / 1e9


BLAS_PROGRAM = """
import sys, time
import numpy as np
n = int(sys.argv[1])
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
for _ in range(2):
    a @ b
reps, t = 0, time.perf_counter()
while reps < 5 or time.perf_counter() - t < 3.0:
    a @ b
    reps += 1
print(2.0 * n ** 3 * reps / (time.perf_counter() - t) / 1e9)
"""


def blas_rate(threads, coretypes, n=4096):
    """GFLOPS of NumPy's sgemm n x n (OpenBLAS, an implementation independent
    of ours) with each OPENBLAS_CORETYPE given ("default": as installed), each
    in its own process; a kernel this CPU cannot run fails and is left out."""
    rates = {}
    for core in coretypes:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        if core != "default":
            env["OPENBLAS_CORETYPE"] = core
        r = subprocess.run([sys.executable, "-c", BLAS_PROGRAM, str(n)], env=env, capture_output=True, text=True)
        if r.returncode == 0:
            rates[core] = float(r.stdout.strip())
    return rates


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("samples", type=int)
    ap.add_argument("layer", type=int)
    ap.add_argument("threads", type=int)
    ap.add_argument("--ours", type=float, help="seconds of acoustok features at fp32")
    ap.add_argument("--ours-bf16", type=float, help="seconds of acoustok features --precision bf16")
    ap.add_argument("--reference", type=float, help="seconds of the reference (torchaudio, fp32)")
    ap.add_argument("--blas-coretypes", default="default,Haswell,SkylakeX,Zen",
                    help="OPENBLAS_CORETYPE values to try for the independent sgemm rate (best counts)")
    a = ap.parse_args()
    config = json.load(open(os.path.join(a.model, "config.json")))
    frames, parts = work(config, a.samples, a.layer)
    total = sum(parts.values())
    print(f"work: {total / 1e12:.2f} TFLOP for {frames} frames to layer {a.layer} (" +
          ", ".join(f"{k} {v / 1e12:.2f}" for k, v in parts.items()) + ")")
    m, k, n = frames, config["hidden_size"], config["intermediate_size"]
    peak = {d: gemm_rate(a.threads, d, m, k, n) for d in ("fp32", "bf16")}
    print(f"work: this CPU's oneDNN product [{m}x{k}]x[{k}x{n}], {a.threads} threads: "
          f"fp32 {peak['fp32']:.0f} GFLOPS, bf16 {peak['bf16']:.0f} GFLOPS")
    blas = blas_rate(a.threads, a.blas_coretypes.split(","))
    best_core = max(blas, key=blas.get) if blas else None
    if best_core:
        print("work: NumPy/OpenBLAS sgemm 4096x4096, %d threads: " % a.threads +
              ", ".join(f"{c} {r:.0f}" for c, r in blas.items()) + f" GFLOPS; best {best_core}")
    for label, secs, p in (("ours fp32", a.ours, "fp32"), ("ours bf16", a.ours_bf16, "bf16"),
                           ("reference", a.reference, "fp32")):
        if secs:
            rate = total / secs / 1e9
            line = (f"work: {label}: {secs:.2f} s end to end = {rate:.0f} GFLOPS, {100 * rate / peak[p]:.0f} % of "
                    f"the {p} product rate")
            if best_core:
                line += f", {100 * rate / blas[best_core]:.0f} % of OpenBLAS's best sgemm (target for ours fp32: >= 85 %)"
            print(line)
    if a.reference:
        need = total / (a.reference / 5) / 1e9
        print(f"work: 5x the reference is {a.reference / 5:.2f} s end to end: {need:.0f} GFLOPS, "
              f"{100 * need / peak['fp32']:.0f} % of the fp32 product rate, with no time left for start-up or loading")


if __name__ == "__main__":
    main()
