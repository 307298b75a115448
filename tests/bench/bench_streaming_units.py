#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""How often streamed units equal offline units, for xlsrfeat window settings.

A 40 s recording without pauses-as-events goes through
  filesrc ! wavparse ! audioconvert ! xlsrfeat max-window-time=W context-time=C ! kmeansunits ! text
(no silencesplit: the stream is cut into windows of W overlapping by C) and
the units are compared frame by frame with `acoustok features` on the whole
file followed by `acoustok kmeans predict`.
Usage: tests/bench/bench_streaming_units.py FEATURE_MODEL LAYER KMEANS [BUILD_DIR]
"""
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import describe  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    print("machine: " + describe(), flush=True)
    model, layer, kmeans = sys.argv[1:4]
    build = os.path.abspath(sys.argv[4] if len(sys.argv) > 4 else os.path.join(ROOT, "build"))
    tool = os.path.join(build, "lib", "tools", "acoustok")
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugins"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, os.path.join(ROOT, "examples", "make_demo_corpus.py"), tmp,
                        "--recordings", "1", "--sentences", "8"], check=True)
        wav16 = os.path.join(tmp, "long16k.wav")
        subprocess.run(["sox", os.path.join(tmp, "reading_00.wav"), "-r", "16000", "-b", "16", wav16], check=True)
        with wave.open(wav16) as w:
            seconds = w.getnframes() / 16000
        subprocess.run([tool, "features", "--model", model, "--layer", layer, wav16, "-o", tmp + "/f.npy"],
                       check=True, capture_output=True)
        subprocess.run([tool, "kmeans", "predict", kmeans, tmp + "/f.npy", "-o", tmp + "/offline.txt"],
                       check=True, capture_output=True)
        offline = np.array(open(tmp + "/offline.txt").read().split(), dtype=int)
        print(f"{seconds:.1f} s recording, {len(offline)} offline frames")
        print("| max-window-time | context-time | frames equal to offline |")
        print("|---|---|---|")
        for window, context in [(30, 2), (10, 2), (10, 0.5), (5, 1), (5, 0.25), (3, 1), (3, 0)]:
            out = os.path.join(tmp, "stream.txt")
            subprocess.run(
                f"gst-launch-1.0 -q filesrc location={wav16} ! wavparse ! audioconvert ! "
                f"xlsrfeat model={model} layer={layer} max-window-time={int(window * 1e9)} "
                f"context-time={int(context * 1e9)} ! kmeansunits model={kmeans} ! "
                f"application/x-acoustok-units ! filesink location={out}", shell=True, check=True, env=env)
            streamed = np.fromfile(out, dtype=np.uint16).astype(int)
            n = min(len(streamed), len(offline))
            same = (streamed[:n] == offline[:n]).mean() if n else 0.0
            note = "" if len(streamed) == len(offline) else f" ({len(streamed)} frames streamed)"
            print(f"| {window:g} s | {context:g} s | {100 * same:.1f} %{note} |")


if __name__ == "__main__":
    main()
