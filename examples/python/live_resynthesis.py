#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Live speech -> units -> speech from Python, with the acoustok GStreamer elements.

  live_resynthesis.py [AUDIO.wav] --model DIR --layer N --kmeans FILE --vocoder FILE -o OUT.wav

Pushes audio from NumPy into

  appsrc (live) ! audioconvert ! silencesplit ! xlsrfeat ! kmeansunits ! unitvocoder ! appsink

in real-time chunks (as a capture device would), pulls the resynthesised
audio from the appsink as NumPy float32 arrays and writes them, one utterance
after the other, to OUT.wav (16 kHz mono, 16-bit). The input is a PCM WAV
read with the `wave` module (any rate, mixed down to mono), or without AUDIO
a synthetic signal. Prints each segment when silencesplit ends it and, at the
end, the units and samples of every utterance (unitvocoder gives 320 samples
per 20 ms unit):

  segment 0  0.000-2.992 s  ended at 3.61 s (wall)
  ...
  utterance 0: 149 units -> 47680 samples
  pushed 17.73 s of audio in 17.75 s; 663 units -> 212160 samples (320 per unit); wrote out.wav

Needs PyGObject (python3-gi, gir1.2-gstreamer-1.0, gir1.2-gst-plugins-base-1.0)
and NumPy; set GST_PLUGIN_PATH to build/plugins when acoustok is not installed.
"""
import argparse
import sys
import threading
import time
import wave

import numpy as np

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import GLib, Gst, GstApp  # noqa: E402,F401  (GstApp: appsrc/appsink's signals)

RATE = 16000
SAMPLES_PER_UNIT = 320  # 20 ms at 16 kHz


def read_wav(path):
    """A PCM WAV as float32 mono in [-1, 1) and its rate."""
    with wave.open(path, "rb") as w:
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        x = (((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)) >> 8).astype(np.float32) / 8388608.0
    elif width == 4:
        x = (np.frombuffer(raw, "<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    else:
        sys.exit(f"live_resynthesis: {path}: {width}-byte samples are not supported")
    return x.reshape(-1, channels).mean(axis=1, dtype=np.float32), rate


def synthetic_speech(seconds=6.0, rate=RATE):
    """Voiced bursts (a gliding harmonic tone) of 0.6-1.4 s with 0.7 s pauses: something to segment."""
    rng = np.random.default_rng(0)
    out = []
    while sum(map(len, out)) < seconds * rate:
        n = int(rng.uniform(0.6, 1.4) * rate)
        t = np.arange(n) / rate
        f0 = 120 + 60 * np.sin(2 * np.pi * 1.5 * t)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        burst = sum(np.sin(h * phase) / h for h in range(1, 8)) * np.hanning(n) * 0.3
        out += [burst.astype(np.float32), np.zeros(int(0.7 * rate), np.float32)]
    return np.concatenate(out)[: int(seconds * rate)], rate


def write_wav(path, audio):
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def make_pipeline(args, input_rate):
    launch = (
        "appsrc name=src is-live=true format=time do-timestamp=false block=true "
        f"caps=audio/x-raw,format=F32LE,rate={input_rate},channels=1,layout=interleaved ! "
        "audioconvert ! silencesplit name=split ! xlsrfeat name=feat ! "
        "kmeansunits name=km ! application/x-acoustok-units ! unitvocoder name=voc ! "
        "appsink name=sink caps=audio/x-raw,format=F32LE,rate=16000,channels=1 sync=false emit-signals=true"
    )
    try:
        pipeline = Gst.parse_launch(launch)
    except GLib.Error as e:
        sys.exit(f"live_resynthesis: {e.message}\n(are the acoustok plugins on GST_PLUGIN_PATH? "
                 "gst-inspect-1.0 acoustok lists them)")
    feat = pipeline.get_by_name("feat")
    feat.set_property("model", args.model)
    feat.set_property("layer", args.layer)
    feat.set_property("threads", args.threads)
    pipeline.get_by_name("km").set_property("model", args.kmeans)
    pipeline.get_by_name("voc").set_property("model", args.vocoder)
    if args.max_segment_time > 0:
        # Live settings (docs/gstreamer.md): bounded segments, and xlsrfeat's
        # window as long as a segment, so latency stays bounded.
        ns = int(args.max_segment_time * Gst.SECOND)
        pipeline.get_by_name("split").set_property("max-segment-time", ns)
        feat.set_property("max-window-time", ns)
        # context-time: 0.5 s, less for short windows (2 C + 45 ms <= max-window-time, C in whole 20 ms frames).
        frame = 20 * Gst.MSECOND
        feat.set_property("context-time", min(500 * Gst.MSECOND, (ns - 45 * Gst.MSECOND) // 2 // frame * frame))
    return pipeline


class Utterances:
    """What passes a pad, cut at the acoustok-segment events: per utterance the arrays and their PTS."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.done = []  # [(arrays, pts)] of the finished utterances
        self.arrays, self.pts = [], []

    def probe(self, pad, info):
        if info.type & Gst.PadProbeType.BUFFER:
            buf = info.get_buffer()
            self.arrays.append(np.frombuffer(buf.extract_dup(0, buf.get_size()), self.dtype))
            self.pts.append(buf.pts)
        else:
            event = info.get_event()
            s = event.get_structure()
            if (event.type == Gst.EventType.EOS or (s is not None and s.get_name() == "acoustok-segment")) \
                    and self.arrays:
                self.done.append((self.arrays, self.pts))
                self.arrays, self.pts = [], []
        return Gst.PadProbeReturn.OK

    def attach(self, pad):
        pad.add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM, self.probe)


def feed(src, audio, rate, chunk, realtime, stop):
    """Pushes the audio in chunks of `chunk` samples, each at its own time, timestamped by sample count."""
    t0 = time.monotonic()
    for pos in range(0, len(audio), chunk):
        if stop.is_set():
            return
        if realtime:
            delay = t0 + pos / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        piece = audio[pos:pos + chunk]
        buf = Gst.Buffer.new_wrapped(piece.astype("<f4").tobytes())
        buf.pts = pos * Gst.SECOND // rate
        buf.duration = (pos + len(piece)) * Gst.SECOND // rate - buf.pts
        buf.offset = pos
        buf.offset_end = pos + len(piece)
        if src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
            return  # flushing or an error: the bus says which
    src.emit("end-of-stream")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("audio", nargs="?", help="PCM WAV (any rate; channels are mixed down); default: a synthetic signal")
    ap.add_argument("--model", required=True, help="feature model folder (wav2vec2 / XLSR-53 / HuBERT)")
    ap.add_argument("--layer", type=int, default=14, help="transformer layer, 1-based (default 14)")
    ap.add_argument("--kmeans", required=True, help="k-means model (kmeans.safetensors, .npy of centroids or fairseq's km.bin)")
    ap.add_argument("--vocoder", required=True, help="vocoder checkpoint from acoustok vocoder train")
    ap.add_argument("-o", "--output", default="resynthesised.wav", help="output WAV (default resynthesised.wav)")
    ap.add_argument("--chunk-ms", type=float, default=20.0, help="audio pushed per buffer (default 20 ms)")
    ap.add_argument("--max-segment-time", type=float, default=3.0,
                    help="longest segment in seconds, also xlsrfeat's window (default 3; 0: unbounded, "
                         "segments then equal acoustok segment's)")
    ap.add_argument("--fast", action="store_true", help="push as fast as the pipeline takes it, not in real time")
    ap.add_argument("--threads", type=int, default=0, help="LibTorch threads (0: every CPU)")
    ap.add_argument("--save-units", metavar="UNITS.npy", help="also write the units unitvocoder received (int32)")
    args = ap.parse_args()

    Gst.init(None)
    audio, rate = read_wav(args.audio) if args.audio else synthetic_speech()
    pipeline = make_pipeline(args, rate)
    src, sink = pipeline.get_by_name("src"), pipeline.get_by_name("sink")

    # Units into the vocoder and audio out of it, both cut per utterance.
    units = Utterances(np.uint16)
    units.attach(pipeline.get_by_name("voc").get_static_pad("sink"))
    speech = Utterances(np.float32)
    speech.attach(sink.get_static_pad("sink"))
    out_buffers = []  # (pts, offset, offset_end, samples) of each appsink buffer

    def on_new_sample(appsink):
        buf = appsink.emit("pull-sample").get_buffer()
        out_buffers.append((buf.pts, buf.offset, buf.offset_end, buf.get_size() // 4))
        return Gst.FlowReturn.OK

    sink.connect("new-sample", on_new_sample)

    bus = pipeline.get_bus()
    stop = threading.Event()
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        pass  # the ERROR message on the bus names the reason
    t0 = time.monotonic()
    feeder = threading.Thread(target=feed, args=(src, audio, rate, max(1, int(rate * args.chunk_ms / 1000)),
                                                 not args.fast, stop))
    feeder.start()
    status = 0
    try:
        while True:
            # A timeout rather than waiting for ever, so that Ctrl-C gets through.
            msg = bus.timed_pop_filtered(
                100 * Gst.MSECOND, Gst.MessageType.ERROR | Gst.MessageType.EOS | Gst.MessageType.ELEMENT)
            if msg is None:
                continue
            if msg.type == Gst.MessageType.ERROR:
                err, debug = msg.parse_error()
                print(f"live_resynthesis: {msg.src.get_name()}: {err.message}", file=sys.stderr)
                if debug:
                    print(f"  ({debug})", file=sys.stderr)
                status = 1
                break
            if msg.type == Gst.MessageType.EOS:
                break
            s = msg.get_structure()
            if s is not None and s.get_name() == "silencesplit":
                print(f"segment {s.get_value('index')}  {s.get_value('start') / Gst.SECOND:.3f}-"
                      f"{s.get_value('stop') / Gst.SECOND:.3f} s  ended at {time.monotonic() - t0:.2f} s (wall)",
                      flush=True)
    finally:
        stop.set()
        pipeline.set_state(Gst.State.NULL)
        feeder.join()
    if status:
        return status
    wall = time.monotonic() - t0

    all_units = [np.concatenate(a) for a, _ in units.done]
    all_audio = [np.concatenate(a) for a, _ in speech.done]
    for i, (u, a) in enumerate(zip(all_units, all_audio)):
        print(f"utterance {i}: {len(u)} units -> {len(a)} samples")
    if len(all_units) != len(all_audio):
        print(f"live_resynthesis: warning: {len(all_units)} utterances of units, {len(all_audio)} of audio",
              file=sys.stderr)
    # unitvocoder's OFFSET counts output samples from the start of the stream.
    for (_, _, prev_end, _), (pts, off, off_end, n) in zip(out_buffers, out_buffers[1:]):
        if off != prev_end or off_end - off != n:
            print(f"live_resynthesis: warning: output buffer at {pts} has offsets {off}-{off_end} "
                  f"for {n} samples after {prev_end}", file=sys.stderr)
            break

    n_units = sum(map(len, all_units))
    out = np.concatenate(all_audio) if all_audio else np.zeros(0, np.float32)
    write_wav(args.output, out)
    if args.save_units:
        np.save(args.save_units, np.concatenate(all_units).astype(np.int32) if all_units else np.zeros(0, np.int32))
    per_unit = f"{len(out) / n_units:g} per unit" if n_units else "no units"
    print(f"pushed {len(audio) / rate:.2f} s of audio in {wall:.2f} s; {n_units} units -> {len(out)} samples "
          f"({per_unit}); wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
