#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Live latency and agreement of streaming xlsrfeat (a benchmark, not a test).

Speech (espeak-ng sentences in several voices with 0.3-0.9 s pauses, SECONDS
long) goes through
  appsrc is-live=true [! silencesplit low-latency=true max-segment-time=S]
      ! xlsrfeat chunk-time=C lookahead-time=L context-time=X
      ! kmeansunits ! appsink     [! tee ! unitvocoder ! appsink with --vocoder]
pushed in 20 ms buffers at the pace of the clock. For every unit it records
the wall-clock delay from the moment the end of its audio (the last of the
400 samples it sees) entered the pipeline to the moment the unit left
kmeansunits; with --vocoder, the delay from a unit's audio entering to its
resynthesised samples leaving unitvocoder. It prints p50 / p95 / max, the
QoS messages (late input) and the CPU used, and the agreement of the
streamed units with offline units of the same audio (the model on the whole
recording, `acoustok features` + `kmeans predict` semantics), next to the
agreement of "the model run exactly on each chunk's visible audio"
(ACOUSTOK_STREAM_RECOMPUTE=1: no cache, each window normalised on its own),
which the caches may cost at most 1 point against.

Usage:
  tests/bench/bench_live.py MODEL LAYER [--kmeans K] [--grid demo|xlsr|quick|explore]
      [--precision fp32|bf16] [--seconds 60] [--split S] [--vocoder CKPT]
      [--vocoder-chunk N --vocoder-lookahead N] [--no-live] [--live-recompute] [--build DIR]
With --split the offline units are those of silencesplit's exact segments,
each run whole (`acoustok segment` + `acoustok units`), and units are
compared by their timestamps.
Without --kmeans a k=100 model is fitted on the offline features.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp  # noqa: E402,F401

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import describe  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MS = 1000000
GRIDS = {
    # (chunk, lookahead, context) in ms
    # (chunk, lookahead, context, recompute) in ms
    "quick": [(320, 160, 2000, 320)],
    "low": [(240, 120, 2000, 240)],
    "explore": [(160, 240, 2000, 0), (160, 240, 2000, 160), (160, 240, 2000, 320), (160, 240, 2000, 640),
                (320, 160, 2000, 0), (320, 160, 2000, 320), (320, 240, 2000, 320)],
    "demo": [(160, 80, 2000, 320), (320, 160, 2000, 320), (320, 160, 2000, 2000)],
    "xlsr": [(160, 240, 2000, 320), (320, 160, 2000, 0), (320, 160, 2000, 320), (320, 160, 2000, 2000),
             (480, 240, 2000, 320)],
}
TEXTS = [
    ("pt", "O rato roeu a roupa do rei de Roma, e a rainha, com raiva, resolveu remendar."),
    ("es", "El perro de San Roque no tiene rabo porque Ramon Ramirez se lo ha robado."),
    ("de", "Fischers Fritz fischt frische Fische, frische Fische fischt Fischers Fritz."),
    ("en", "The quick brown fox jumps over the lazy dog while the old man reads the news."),
]


def speech(tmp, seconds):
    """seconds of espeak-ng speech in several voices, float32 16 kHz."""
    parts, total, i = [], 0, 0
    while total < seconds * 16000:
        voice, text = TEXTS[i % len(TEXTS)]
        wav = os.path.join(tmp, f"s{i}.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", wav, text], check=True)
        raw = subprocess.run(["sox", wav, "-r", "16000", "-c", "1", "-t", "f32", "-"], check=True,
                             capture_output=True).stdout
        x = np.frombuffer(raw, dtype=np.float32)
        pause = np.zeros(int(16000 * (0.3 + 0.2 * (i % 4))), dtype=np.float32)  # 0.3-0.9 s between sentences
        parts += [x, pause]
        total += len(x) + len(pause)
        i += 1
    x = np.concatenate(parts)[: seconds * 16000].astype(np.float32)
    return x


def write_wav(path, x):
    """Writes PCM16 and returns the samples as a reader of that file sees them."""
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    subprocess.run(["sox", "-t", "s16", "-r", "16000", "-c", "1", "-", path], input=pcm.tobytes(), check=True)
    return (pcm.astype(np.float32) / 32768).astype(np.float32)


CAPS = "audio/x-raw,format=F32LE,rate=16000,channels=1,layout=interleaved"


def xlsr(model, layer, precision, chunk=None, lookahead=None, context=None, window=None, recompute=0):
    s = f"xlsrfeat model={model} layer={layer} precision={precision} threads=2"
    if chunk:
        s += f" chunk-time={chunk * MS} lookahead-time={lookahead * MS} context-time={context * MS}"
        s += f" recompute-time={recompute * MS}"
    if window:
        s += f" max-window-time={window * MS} context-time={context * MS}"
    return s


def units_fast(x, chain, kmeans, recompute=False):
    """All audio pushed at once (not live): the units of the chain."""
    os.environ["ACOUSTOK_STREAM_RECOMPUTE"] = "1" if recompute else "0"
    p = Gst.parse_launch(f"appsrc name=src format=time caps={CAPS} ! {chain} ! kmeansunits model={kmeans} ! "
                         "application/x-acoustok-units ! appsink name=sink sync=false")
    src, sink = p.get_by_name("src"), p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    for at in range(0, len(x), 16000):
        part = x[at:at + 16000]
        b = Gst.Buffer.new_wrapped(part.tobytes())
        b.pts = at * Gst.SECOND // 16000
        b.duration = len(part) * Gst.SECOND // 16000
        src.push_buffer(b)
    src.end_of_stream()
    out = {}  # frame time (ns) -> unit
    while True:
        s = sink.emit("try-pull-sample", 600 * Gst.SECOND)
        if s is None:
            break
        b = s.get_buffer()
        for i, u in enumerate(np.frombuffer(b.extract_dup(0, b.get_size()), dtype=np.uint16)):
            out[b.pts + 20 * MS * i] = int(u)
    p.set_state(Gst.State.NULL)
    os.environ["ACOUSTOK_STREAM_RECOMPUTE"] = "0"
    return out


def live_run(x, chain, kmeans, vocoder=None, vocoder_props=""):
    """Real time: 20 ms buffers at the clock's pace. Returns per-unit delays (s),
    per-unit speech delays, QoS count, CPU fraction."""
    tail = ""
    if vocoder:
        tail = (" t. ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! unitvocoder model=" + vocoder + " " + vocoder_props +
                " ! appsink name=speech sync=false emit-signals=true")
    p = Gst.parse_launch(f"appsrc name=src is-live=true format=time caps={CAPS} ! {chain} ! kmeansunits model={kmeans} ! "
                         f"application/x-acoustok-units ! tee name=t t. ! queue ! appsink name=units sync=false "
                         f"emit-signals=true{tail}")
    src = p.get_by_name("src")
    pushed = []  # wall time each 320-sample buffer went in
    unit_out = []  # (first frame index, frames, wall time)
    speech_out = []

    def on_units(sink):
        s = sink.emit("pull-sample")
        b = s.get_buffer()
        unit_out.append((b.pts, b.get_size() // 2, time.monotonic()))
        return Gst.FlowReturn.OK

    def on_speech(sink):
        s = sink.emit("pull-sample")
        b = s.get_buffer()
        speech_out.append((b.pts, b.get_size() // 4, time.monotonic()))
        return Gst.FlowReturn.OK

    p.get_by_name("units").connect("new-sample", on_units)
    if vocoder:
        p.get_by_name("speech").connect("new-sample", on_speech)
    qos = [0]
    bus = p.get_bus()
    p.set_state(Gst.State.PLAYING)  # live: no preroll to wait for, the clock starts now
    ru0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    for i, at in enumerate(range(0, len(x) - 319, 320)):
        target = t0 + (i + 1) * 0.02  # the buffer's audio has "arrived" at its end
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        b = Gst.Buffer.new_wrapped(x[at:at + 320].tobytes())
        b.pts = at * Gst.SECOND // 16000
        b.duration = 20 * MS
        pushed.append(time.monotonic())
        src.push_buffer(b)
        while True:
            m = bus.pop_filtered(Gst.MessageType.QOS | Gst.MessageType.ERROR)
            if m is None:
                break
            if m.type == Gst.MessageType.ERROR:
                raise RuntimeError(m.parse_error()[0].message)
            qos[0] += 1
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    src.end_of_stream()
    bus.timed_pop_filtered(600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    cpu = (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime) / wall
    def delays_of(outputs, per_unit):
        d = []
        for pts, n, t in outputs:
            start = pts * 16000 // Gst.SECOND  # sample of the first unit
            for i in range(n // per_unit):
                end_sample = start + 320 * i + 400  # the unit's audio ends here
                k = (end_sample + 319) // 320 - 1  # the buffer that brought that sample
                if k < len(pushed):
                    d.append(t - pushed[k])
        return d

    delays, sdelays = delays_of(unit_out, 1), delays_of(speech_out, 320)
    return np.array(delays), np.array(sdelays), qos[0], cpu


def pct(d):
    if len(d) == 0:
        return "—"
    return f"{np.percentile(d, 50):.3f} / {np.percentile(d, 95):.3f} / {d.max():.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("layer", type=int)
    ap.add_argument("--kmeans")
    ap.add_argument("--grid", default="demo", choices=sorted(GRIDS))
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--vocoder")
    ap.add_argument("--vocoder-chunk", type=int, default=25)
    ap.add_argument("--vocoder-lookahead", type=int, default=1)
    ap.add_argument("--no-live", action="store_true", help="agreement only")
    ap.add_argument("--fast", action="store_true", help="no recomputed references for the agreement")
    ap.add_argument("--split", type=int, default=0, metavar="MAX_SEGMENT_S",
                    help="silencesplit low-latency=true max-segment-time=S first (offline: silencesplit, whole segments)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    os.environ["GST_PLUGIN_PATH"] = os.path.join(build, "plugins")
    Gst.init(None)
    tool = os.path.join(build, "lib", "tools", "acoustok")
    print(f"machine: {describe()}", flush=True)
    print(f"model: {a.model} layer {a.layer} {a.precision}; {a.seconds} s of espeak-ng speech ({len(TEXTS)} voices)")
    if a.vocoder:
        print(f"vocoder: {a.vocoder} chunk-frames={a.vocoder_chunk} lookahead-frames={a.vocoder_lookahead}")
    with tempfile.TemporaryDirectory() as tmp:
        x = speech(tmp, a.seconds)
        wav = os.path.join(tmp, "speech.wav")
        x = write_wav(wav, x)
        kmeans = a.kmeans
        offline_chain = xlsr(a.model, a.layer, a.precision, window=(a.seconds + 5) * 1000, context=0)
        split = ""
        if a.split:
            # Offline: exact segments, each run whole; live: speech passed on while pauses are decided.
            offline_chain = "silencesplit ! " + offline_chain
            split = f"silencesplit low-latency=true max-segment-time={a.split * Gst.SECOND} ! "
        if not kmeans:
            subprocess.run([tool, "features", "-q", "--model", a.model, "--layer", str(a.layer), "--precision",
                            a.precision, "--max-window", str(a.seconds + 5), wav, "-o", tmp + "/f.npy"], check=True)
            kmeans = tmp + "/kmeans.safetensors"
            subprocess.run([tool, "kmeans", "fit", "-q", "--k", "100", tmp + "/f.npy", "-o", kmeans], check=True)
        offline = units_fast(x, offline_chain, kmeans)
        what = "each segment of silencesplit run whole" if a.split else "the model on the whole recording"
        print(f"{len(offline)} offline units ({what})\n", flush=True)
        print("Units agreeing with offline: as streamed / with recompute-time = context-time (the model on each "
              "chunk's visible audio, front end cached) / that with no cache at all (ACOUSTOK_STREAM_RECOMPUTE=1). "
              "Latency and CPU with the settings of the row.\n")
        print("| chunk / lookahead / context | recompute | units agreeing with offline | "
              "audio → units p50 / p95 / max (s) | audio → speech p50 / p95 / max (s) | QoS (late) | CPU (of 2) |")
        print("|---|---|---|---|---|---|---|")
        before = "silencesplit max-segment-time=3000000000 ! " if a.split else ""
        configs = [("3 s windows, 0.5 s context (before)", "—",
                    before + xlsr(a.model, a.layer, a.precision, window=3000, context=500))]
        for c, l, ctx, r in GRIDS[a.grid]:
            name = f"{c / 1000:g} / {l / 1000:g} / {ctx / 1000:g} s"
            configs.append((name, f"{r / 1000:g} s", split + xlsr(a.model, a.layer, a.precision, chunk=c,
                                                                  lookahead=l, context=ctx, recompute=r)))

        def agreement(units):
            same = [units[t] == u for t, u in offline.items() if t in units]
            return 100 * np.mean(same) if same else 0.0

        references = {}
        for name, again, chain in configs:
            agree = f"{agreement(units_fast(x, chain, kmeans)):.1f} %"
            if "chunk-time" in chain and not a.fast:
                key = chain.split(" recompute-time=")[0]  # the references do not depend on recompute-time
                if key not in references:
                    whole = key + f" recompute-time={chain.split('context-time=')[1].split()[0]}"
                    references[key] = (f" / {agreement(units_fast(x, whole, kmeans)):.1f} %"
                                       f" / {agreement(units_fast(x, chain, kmeans, recompute=True)):.1f} %")
                agree += references[key]
            if a.no_live:
                print(f"| {name} | {again} | {agree} | — | — | — | — |", flush=True)
                continue
            d, sd, qos, cpu = live_run(x, chain, kmeans, a.vocoder,
                                       f"chunk-frames={a.vocoder_chunk} lookahead-frames={a.vocoder_lookahead}")
            print(f"| {name} | {again} | {agree} | {pct(d)} | {pct(sd)} | {qos} | {50 * cpu:.0f} % |", flush=True)


if __name__ == "__main__":
    main()
