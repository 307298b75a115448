#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Phase 2 speed: `acoustok bpe` against the SentencePiece Python module.

Makes a unit corpus shaped like phase 1 output (k=100 units at 50 frames/s,
runs of 1-4 frames, recurring phrases; LINES segments of 8-26 s), then times
  - `acoustok bpe corpus -o DIR` (streamed training + encoding the corpus for
    motif_analysis.json), and the same with --dedup
  - the Python module on the same corpus with the same settings: training from
    an iterator of mapped lines, then encoding every line (what our analysis does)
  - `acoustok bpe encode` against the module's encode over the whole corpus
  - the `bpemotif` element on the same corpus, text to text, in one
    gst-launch-1.0 pipeline (process start and plugin load included)
and checks the pieces and the motifs are identical.
Usage: tests/bench/bench_bpe.py [BUILD_DIR] [LINES]   (default: build, 2000)
"""
import io
import os
import random
import subprocess
import sys
import tempfile
import time

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
LINES = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
ACOUSTOK = os.path.join(BUILD, "lib", "tools", "acoustok")
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
from gen_bpe_fixtures import collapse, to_text, to_units, train  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import describe  # noqa: E402


def make_corpus(path):
    rng = random.Random(5)
    phrases = [[rng.randrange(100) for _ in range(rng.randrange(3, 9))] for _ in range(300)]
    frames_total = 0
    with open(path, "w") as f:
        for _ in range(LINES):
            n = rng.randrange(400, 1300)
            frames = []
            while len(frames) < n:
                seq = rng.choice(phrases) if rng.random() < 0.3 else [rng.randrange(100)]
                for u in seq:
                    frames += [u] * rng.choice([1, 1, 2, 2, 2, 3, 4])
            frames = frames[:n]
            frames_total += n
            f.write(" ".join(map(str, frames)) + "\n")
    return frames_total


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def python_pipeline(lines, dedup):
    blob = train(lines, 500, dedup)
    sp = spm.SentencePieceProcessor(model_proto=blob)
    return sp, blob


def main():
    print("machine: " + describe(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "units.txt")
        frames = make_corpus(corpus)
        hours = frames * 0.02 / 3600
        print(f"corpus: {LINES} lines, {frames} frames ({hours:.1f} h of speech at 50 frames/s), "
              f"{os.path.getsize(corpus) / 1e6:.1f} MB")
        lines = [list(map(int, l.split())) for l in open(corpus)]
        for dedup in (False, True):
            label = "dedup" if dedup else "plain"
            out = os.path.join(tmp, "out_" + label)
            args = [ACOUSTOK, "bpe", corpus, "-o", out, "-q"] + (["--dedup"] if dedup else [])
            _, t_ours = timed(lambda: subprocess.run(args, check=True))

            def reference():
                sp, _ = python_pipeline(lines, dedup)
                texts = [to_text(collapse(f)[0] if dedup else f) for f in lines]
                encoded = [sp.encode_as_immutable_proto(t) for t in texts]
                return sp, encoded
            (sp, _), t_py = timed(reference)
            ours = [l.split("\t")[2] for l in open(os.path.join(out, "bpe.vocab")).read().splitlines()]
            theirs = []
            for i in range(sp.get_piece_size()):
                p = sp.id_to_piece(i)
                plain = not (sp.is_control(i) or sp.is_unknown(i))
                theirs.append("-".join(map(str, to_units(p))) if plain else p)
            print(f"train+analysis {label}: acoustok {t_ours:.2f} s, python module {t_py:.2f} s "
                  f"(x{t_py / t_ours:.2f}); pieces identical: {ours == theirs}")

        model = os.path.join(tmp, "out_plain", "bpe.model")
        res, t_enc = timed(lambda: subprocess.run([ACOUSTOK, "bpe", "encode", model, corpus], check=True,
                                                   capture_output=True, text=True).stdout)
        sp = spm.SentencePieceProcessor(model_file=model)

        def py_encode():
            out = []
            for f in lines:
                pieces = sp.encode_as_immutable_proto(to_text(f)).pieces
                out.append(" ".join("-".join(map(str, to_units(p.surface))) for p in pieces))
            return out
        ref, t_py_enc = timed(py_encode)
        same = res.splitlines() == ref
        print(f"encode {frames} frames: acoustok {t_enc:.2f} s ({frames / t_enc / 1e6:.2f} M frames/s), "
              f"python module {t_py_enc:.2f} s (x{t_py_enc / t_enc:.2f}); motifs identical: {same}")

        motifs = os.path.join(tmp, "motifs.txt")
        env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(BUILD, "plugins"))
        text = "text/x-raw,format=utf8"
        launch = ["gst-launch-1.0", "-q", "filesrc", f"location={corpus}", "!", text, "!", "bpemotif", f"model={model}",
                  "!", text, "!", "filesink", f"location={motifs}"]
        _, t_gst = timed(lambda: subprocess.run(launch, check=True, env=env))
        same = open(motifs).read().splitlines() == ref
        print(f"bpemotif element, text to text: {t_gst:.2f} s for {hours:.1f} h of units: real-time factor "
              f"{t_gst / (hours * 3600):.1e}; motifs identical to the module's: {same}")


if __name__ == "__main__":
    main()
