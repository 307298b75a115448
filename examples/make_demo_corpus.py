#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Bundled demo speech: Portuguese sentences read by espeak-ng with pauses.

  make_demo_corpus.py OUT_DIR [--recordings N]

Writes OUT_DIR/reading_NN.wav (22.05 kHz mono, as espeak-ng speaks) and an
MP3 copy of the first one (made with lame), several sentences each with
pauses of 0.3-1.5 s between them; deterministic for a given N.
"""
import argparse
import os
import subprocess
import tempfile
import wave

import numpy as np

# Genesis 1, the kind of reading the reference corpus holds.
SENTENCES = [
    "No princípio criou Deus os céus e a terra.",
    "E a terra era sem forma e vazia; e havia trevas sobre a face do abismo.",
    "E o Espírito de Deus se movia sobre a face das águas.",
    "E disse Deus: Haja luz; e houve luz.",
    "E viu Deus que era boa a luz; e fez Deus separação entre a luz e as trevas.",
    "E Deus chamou à luz Dia; e às trevas chamou Noite.",
    "E foi a tarde e a manhã, o dia primeiro.",
    "E disse Deus: Haja uma expansão no meio das águas, e haja separação entre águas e águas.",
    "E fez Deus a expansão, e fez separação entre as águas que estavam debaixo da expansão.",
    "E chamou Deus à expansão Céus, e foi a tarde e a manhã, o dia segundo.",
    "E disse Deus: Ajuntem-se as águas debaixo dos céus num lugar; e apareça a porção seca.",
    "E chamou Deus à porção seca Terra; e ao ajuntamento das águas chamou Mares.",
]
VOICES = ["pt", "pt+m3", "pt+f2", "pt-br"]


def speak(text, voice, speed):
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", tmp.name, text], check=True)
        with wave.open(tmp.name) as w:
            return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--recordings", type=int, default=2)
    ap.add_argument("--sentences", type=int, default=6, help="sentences per recording")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    rng = np.random.default_rng(2026)
    for r in range(args.recordings):
        voice = VOICES[r % len(VOICES)]
        parts, rate = [], 22050
        for s in range(args.sentences):
            rate, x = speak(SENTENCES[(r * args.sentences + s) % len(SENTENCES)], voice, 150 + 10 * (r % 3))
            parts += [x, np.zeros(int(rng.uniform(0.3, 1.5) * rate), dtype=np.int16)]
        path = os.path.join(args.out_dir, f"reading_{r:02d}.wav")
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(np.concatenate(parts).tobytes())
    subprocess.run(["lame", "--quiet", "-b", "96", os.path.join(args.out_dir, "reading_00.wav"),
                    os.path.join(args.out_dir, "reading_00_copy.mp3")], check=True)


if __name__ == "__main__":
    main()
