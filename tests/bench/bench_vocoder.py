#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Phase 3 speed: unit HiFi-GAN synthesis real-time factor and training step time.

Runs build/tests/bench_vocoder (LibTorch, ours) and times the same V1
generator in PyTorch eager (written here independently, weight norm removed as
speech-resynthesis runs it) on the same threads and input: 10 s of units;
and one training step (G and D forward, backward, both AdamW steps, batch
of 1 s windows) of the PyTorch reference of tests/vocoder/reference_hifigan.py
(speech-resynthesis' train.py step) beside ours, same config and threads.
Usage: tests/bench/bench_vocoder.py [BUILD_DIR] [--threads 2] [--batch 4] [--device cpu] [--configs tiny,small,v1]
Prints every figure and the ours/PyTorch ratio. Never asserts a time.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import weight_norm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import describe  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ResBlock1(nn.Module):
    def __init__(self, ch, k, dil):
        super().__init__()
        self.convs1 = nn.ModuleList(weight_norm(nn.Conv1d(ch, ch, k, 1, dilation=d, padding=(k * d - d) // 2)) for d in dil)
        self.convs2 = nn.ModuleList(weight_norm(nn.Conv1d(ch, ch, k, 1, padding=(k - 1) // 2)) for _ in dil)

    def forward(self, x):
        for c1, c2 in zip(self.convs1, self.convs2):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, 0.1)), 0.1))
        return x


class CodeGenerator(nn.Module):
    def __init__(self, k=100, rates=(5, 4, 4, 2, 2), kernels=(11, 8, 8, 4, 4), ch=512, rk=(3, 7, 11), rd=((1, 3, 5),) * 3):
        super().__init__()
        self.dict = nn.Embedding(k + 1, 128, padding_idx=k)
        self.conv_pre = weight_norm(nn.Conv1d(128, ch, 7, 1, padding=3))
        self.ups, self.resblocks = nn.ModuleList(), nn.ModuleList()
        for u, kk in zip(rates, kernels):
            self.ups.append(weight_norm(nn.ConvTranspose1d(ch, ch // 2, kk, u, padding=(kk - u) // 2)))
            ch //= 2
            for a, b in zip(rk, rd):
                self.resblocks.append(ResBlock1(ch, a, b))
        self.conv_post = weight_norm(nn.Conv1d(ch, 1, 7, 1, padding=3))
        self.nk = len(rk)

    def forward(self, units):
        x = self.conv_pre(self.dict(units).transpose(1, 2))
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, 0.1))
            x = sum(self.resblocks[i * self.nk + j](x) for j in range(self.nk)) / self.nk
        return torch.tanh(self.conv_post(F.leaky_relu(x)))


def pytorch_rtf(threads):
    """As speech-resynthesis' inference.py runs it: eval, weight norm removed."""
    torch.set_num_threads(threads)
    g = CodeGenerator().eval()
    for m in g.modules():
        if hasattr(m, "weight_g"):
            torch.nn.utils.remove_weight_norm(m)
    units = torch.randint(0, 100, (1, 500))
    with torch.inference_mode():
        g(units)
        best = 1e9
        for _ in range(3):
            t0 = time.perf_counter()
            g(units)
            best = min(best, time.perf_counter() - t0)
    return best / 10.0


def pytorch_train_step(config, threads, batch, steps):
    """Seconds per training step of the PyTorch reference, mean after a warm-up."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "tests", "vocoder"))
    import reference_hifigan as ref
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = ref.acoustok_preset(config)
    cfg["num_units"] = 100
    G, D = ref.build_models(cfg)
    opt_g, opt_d = ref.make_optimizers(G, D.mpd, D.msd)
    units = torch.randint(0, 100, (batch, 50))
    audio = torch.randn(batch, 1, 50 * 320) * 0.1
    ref.train_step(G, D.mpd, D.msd, opt_g, opt_d, units, audio)
    t0 = time.perf_counter()
    for _ in range(steps):
        ref.train_step(G, D.mpd, D.msd, opt_g, opt_d, units, audio)
    return (time.perf_counter() - t0) / steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--configs", default="tiny,small,v1")
    a = ap.parse_args()
    exe = os.path.join(os.path.abspath(a.build), "tests", "bench_vocoder")
    subprocess.run(["ninja", "-C", a.build, "tests/bench_vocoder"], check=True, capture_output=True)  # not built by default
    out = subprocess.run([exe, str(a.threads), str(a.batch), a.device, a.configs], check=True,
                         capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    print("machine: %s; %d threads" % (describe(), a.threads))
    for r in rows:
        if r["what"] == "synthesis":
            print("synthesis  %-5s %s: %.3f s for 10 s of audio, RTF %.4f (the LibTorch module: %.3f s; max |diff| %.1e of peak)" % (
                r["config"], r["device"], r["seconds"], r["rtf"], r["module_seconds"], r["max_rel_diff_to_module"]))
        else:
            print("train step %-5s %s: batch %d x 1 s: %.3f s/step, %.2f windows/s" % (
                r["config"], r["device"], r["batch"], r["seconds_per_step"], r["windows_per_s"]))
    for r in rows:
        if r["what"] == "train_step" and a.device == "cpu":
            py = pytorch_train_step(r["config"], a.threads, a.batch, 2 if r["config"] == "v1" else 5)
            print("train step %-5s PyTorch %s eager (reference_hifigan): %.3f s/step; PyTorch/ours %.2fx (target >= 1.5x)" % (
                r["config"], torch.__version__, py, py / r["seconds_per_step"]))
    v1 = [r for r in rows if r["what"] == "synthesis" and r["config"] == "v1"]
    if v1 and a.device == "cpu":
        py = pytorch_rtf(a.threads)
        print("synthesis  v1    PyTorch %s eager (weight norm removed): RTF %.4f; ours/PyTorch time ratio %.2f (target RTF <= 0.05)" % (
            torch.__version__, py, v1[0]["rtf"] / py))


if __name__ == "__main__":
    main()
