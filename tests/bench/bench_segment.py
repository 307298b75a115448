#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Phase 0 speed: ours against pydub on a 10-minute recording, same run.

Makes a 10-minute Portuguese recording (espeak-ng sentences with random
pauses and a low noise floor), then times
  - pydub's detect_nonsilent(min_silence_len=500, silence_thresh=-40, seek_step=1)
  - our core detection on the same samples (build/tests/bench/bench_silence)
  - `acoustok segment` end to end (read, detect, write every segment WAV)
and checks that both find the same segments.
Without pydub (Debian 13 has no python3-pydub) it says so, times ours only
and checks the segments against gen_silence_fixtures.py's NumPy version of
pydub's algorithm instead.
Usage: tests/bench/bench_segment.py [BUILD_DIR]   (default: build)
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
from gen_silence_fixtures import (SENTENCES, length_ms, padded, read_pcm16, speak,  # noqa: E402
                                  to_pcm16, detect_nonsilent as numpy_detect_nonsilent)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import describe  # noqa: E402


def make_recording(path, minutes=10):
    rng = np.random.default_rng(10)
    voices = [speak(s) for s in SENTENCES]
    parts, total = [], 0
    while total < minutes * 60 * 16000:
        v = voices[rng.integers(len(voices))]
        pause = np.zeros(int(rng.uniform(0.2, 1.5) * 16000))
        parts += [v, pause]
        total += len(v) + len(pause)
    x = np.concatenate(parts)[: minutes * 60 * 16000]
    x = x + rng.standard_normal(len(x)) * 10 ** (-55 / 20)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(to_pcm16(x).tobytes())


def main():
    print("machine: " + describe(), flush=True)
    try:
        from pydub import AudioSegment
        from pydub.silence import detect_nonsilent
    except ImportError:
        AudioSegment = None
        print("pydub is NOT installed (Debian 12: python3-pydub; Debian 13 has none): pydub is not timed; "
              "segments are checked against the NumPy version of pydub's algorithm (tests/fixtures/"
              "gen_silence_fixtures.py)", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "ten_minutes.wav")
        make_recording(wav)
        if AudioSegment is not None:
            audio = AudioSegment.from_wav(wav)
            t0 = time.perf_counter()
            ranges = detect_nonsilent(audio, min_silence_len=500, silence_thresh=-40, seek_step=1)
            t_pydub = time.perf_counter() - t0
            audio_ms = len(audio)
        else:
            pcm = read_pcm16(wav)
            ranges = numpy_detect_nonsilent(pcm, 500, -40)
            t_pydub = None
            audio_ms = length_ms(len(pcm))
        reference = "pydub" if t_pydub is not None else "pydub's algorithm (NumPy)"

        subprocess.run(["ninja", "-C", BUILD, "tests/bench_silence"], check=True, capture_output=True)  # not by default
        out = subprocess.run([os.path.join(BUILD, "tests", "bench_silence"), wav, "5"],
                             check=True, capture_output=True, text=True).stdout
        fields = dict(kv.split("=") for kv in out.split())
        t_core = float(fields["seconds"])

        seg_dir = os.path.join(tmp, "segs")
        t0 = time.perf_counter()
        subprocess.run([os.path.join(BUILD, "lib", "tools", "acoustok"), "segment", "-q", wav, "-o", seg_dir],
                       check=True)
        t_cli = time.perf_counter() - t0
        with open(os.path.join(seg_dir, "segments.jsonl")) as f:
            ours = [json.loads(line) for line in f]

        seconds = audio_ms / 1000
        want = padded(ranges, 100, audio_ms)
        worst = max((max(abs(o["start"] * 1000 - w[0]), abs(o["end"] * 1000 - w[1])) for o, w in zip(ours, want)),
                    default=0.0)
        same = len(want) == len(ours) and worst <= 1.0
        print(f"recording: {seconds:.0f} s, {reference} segments {len(ranges)}, ours {len(ours)}, "
              f"largest boundary difference {worst:.3f} ms ({'same' if same else 'DIFFERENT'})")
        if t_pydub is not None:
            print(f"pydub detect_nonsilent:     {t_pydub:8.3f} s")
            print(f"acoustok core detection:    {t_core:8.3f} s   {t_pydub / t_core:8.0f}x pydub")
        else:
            print("pydub detect_nonsilent:     not installed, not timed")
            print(f"acoustok core detection:    {t_core:8.3f} s")
        print(f"acoustok segment (end2end): {t_cli:8.3f} s   {seconds / t_cli:8.0f}x real time")


if __name__ == "__main__":
    main()
