#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Speech to features and units from Python, with the acoustok GStreamer elements.

  units_from_file.py AUDIO --model DIR --layer N --kmeans FILE [--save-npz OUT.npz]

Builds

  filesrc ! decodebin ! audioconvert ! silencesplit ! xlsrfeat ! tee
      tee. ! queue ! appsink                  (features: float32 [frames, dim] per buffer)
      tee. ! queue ! kmeansunits ! appsink    (units: one uint16 id per 20 ms frame)

runs it to the end of the stream and prints one line per segment that
silencesplit found:

  segment 0  0.000-4.474 s  223 frames  units: 12 2 20 19 15 0 23 10 11 18 5 17 19 10 9 23 ...

--save-npz writes every frame (see the README for the arrays). Needs
PyGObject (python3-gi, gir1.2-gstreamer-1.0, gir1.2-gst-plugins-base-1.0)
and NumPy; set GST_PLUGIN_PATH to build/plugins when acoustok is not installed.
"""
import argparse
import sys

import numpy as np

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import GLib, Gst, GstApp  # noqa: E402,F401  (GstApp: appsink's methods)

FRAME_NS = 20 * Gst.MSECOND  # one feature frame / one unit


class Collector:
    """Everything an appsink hands over, one entry per buffer."""

    def __init__(self):
        self.arrays = []  # NumPy arrays, one per buffer
        self.pts = []  # PTS of the buffer's first frame (ns)
        self.caps = None  # the caps of the first sample


def buffer_bytes(buf):
    # extract_dup copies the payload into a bytes object; it needs no
    # gst-python overrides (Gst.Buffer.map's result differs between versions).
    return buf.extract_dup(0, buf.get_size())


def features_from_sample(sample, into):
    """application/x-acoustok-features: float32 [n, dim], row-major; dim is in the caps."""
    caps = sample.get_caps()
    ok, dim = caps.get_structure(0).get_int("dim")
    if not ok:
        raise RuntimeError(f"features caps without dim: {caps.to_string()}")
    buf = sample.get_buffer()
    a = np.frombuffer(buffer_bytes(buf), dtype=np.float32).reshape(-1, dim)
    into.arrays.append(a)
    into.pts.append(buf.pts)
    into.caps = into.caps or caps


def units_from_sample(sample, into):
    """application/x-acoustok-units: one uint16 (native byte order) per 20 ms frame."""
    buf = sample.get_buffer()
    into.arrays.append(np.frombuffer(buffer_bytes(buf), dtype=np.uint16).astype(np.int32))
    into.pts.append(buf.pts)
    into.caps = into.caps or sample.get_caps()


def on_new_sample(sink, handler, into):
    # Called from the streaming thread; appending to a list is safe under the GIL.
    handler(sink.emit("pull-sample"), into)
    return Gst.FlowReturn.OK


def caps_int(caps, field):
    ok, value = caps.get_structure(0).get_int(field) if caps else (False, 0)
    return value if ok else -1


def make_pipeline(args):
    # Elements are named here and their properties set from Python, so paths
    # with spaces or quotes need no escaping.
    launch = (
        "filesrc name=src ! decodebin ! audioconvert ! silencesplit name=split ! "
        "xlsrfeat name=feat ! tee name=t "
        "t. ! queue ! appsink name=features caps=application/x-acoustok-features sync=false emit-signals=true "
        "t. ! queue ! kmeansunits name=km ! appsink name=units caps=application/x-acoustok-units "
        "sync=false emit-signals=true"
    )
    try:
        pipeline = Gst.parse_launch(launch)
    except GLib.Error as e:
        sys.exit(f"units_from_file: {e.message}\n(are the acoustok plugins on GST_PLUGIN_PATH? "
                 "gst-inspect-1.0 acoustok lists them)")
    pipeline.get_by_name("src").set_property("location", args.audio)
    feat = pipeline.get_by_name("feat")
    feat.set_property("model", args.model)
    feat.set_property("layer", args.layer)
    feat.set_property("threads", args.threads)
    pipeline.get_by_name("km").set_property("model", args.kmeans)
    return pipeline


def run(pipeline, features, units):
    """Plays the pipeline to EOS; returns the silencesplit segments [(index, start, stop)] or exits 1."""
    pipeline.get_by_name("features").connect("new-sample", on_new_sample, features_from_sample, features)
    pipeline.get_by_name("units").connect("new-sample", on_new_sample, units_from_sample, units)
    bus = pipeline.get_bus()
    segments = []
    pipeline.set_state(Gst.State.PLAYING)  # a model that fails to load posts an ERROR below
    try:
        while True:
            # A timeout rather than waiting for ever, so that Ctrl-C gets through.
            msg = bus.timed_pop_filtered(
                100 * Gst.MSECOND, Gst.MessageType.ERROR | Gst.MessageType.EOS | Gst.MessageType.ELEMENT)
            if msg is None:
                continue
            if msg.type == Gst.MessageType.ERROR:
                err, debug = msg.parse_error()
                print(f"units_from_file: {msg.src.get_name()}: {err.message}", file=sys.stderr)
                if debug:
                    print(f"  ({debug})", file=sys.stderr)
                sys.exit(1)
            if msg.type == Gst.MessageType.EOS:
                return segments
            s = msg.get_structure()
            if s is not None and s.get_name() == "silencesplit":
                segments.append((s.get_value("index"), s.get_value("start"), s.get_value("stop")))
    finally:
        pipeline.set_state(Gst.State.NULL)


def per_frame(collector, dtype):
    """The buffers joined, and each frame's PTS (buffer PTS + 20 ms per frame)."""
    if not collector.arrays:
        return np.zeros((0,), dtype), np.zeros((0,), np.uint64)
    pts = [p + FRAME_NS * np.arange(len(a), dtype=np.uint64) for a, p in zip(collector.arrays, collector.pts)]
    return np.concatenate(collector.arrays).astype(dtype), np.concatenate(pts).astype(np.uint64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("audio", help="any audio file GStreamer can decode")
    ap.add_argument("--model", required=True, help="feature model folder (wav2vec2 / XLSR-53 / HuBERT)")
    ap.add_argument("--layer", type=int, default=14, help="transformer layer, 1-based (default 14)")
    ap.add_argument("--kmeans", required=True, help="k-means model (kmeans.safetensors, .npy of centroids or fairseq's km.bin)")
    ap.add_argument("--threads", type=int, default=0, help="LibTorch threads (0: every CPU)")
    ap.add_argument("--save-npz", metavar="OUT.npz", help="write features, units, timestamps and segments")
    ap.add_argument("--head", type=int, default=20, help="units printed per segment (default 20)")
    args = ap.parse_args()

    Gst.init(None)
    features, units = Collector(), Collector()
    segments = run(make_pipeline(args), features, units)

    feats, feat_pts = per_frame(features, np.float32)
    ids, unit_pts = per_frame(units, np.int32)
    dim, layer = caps_int(features.caps, "dim"), caps_int(features.caps, "layer")
    if features.arrays:
        feats = feats.reshape(-1, dim)
    k = caps_int(units.caps, "vocab-size")
    # kmeansunits turns each feature buffer into one units buffer with the same PTS.
    if len(ids) != len(feats) or not np.array_equal(unit_pts, feat_pts):
        print(f"units_from_file: warning: {len(ids)} units for {len(feats)} feature frames", file=sys.stderr)

    # Frame -> segment by time: the frames of a segment start at its start.
    seg_of_frame = np.full(len(ids), -1, np.int64)
    for index, start, stop in segments:
        seg_of_frame[(unit_pts >= start) & (unit_pts < stop)] = index

    print(f"{args.audio}: {len(segments)} segments, {len(feats)} frames of dim {dim} (layer {layer}), "
          f"{len(ids)} units of k={k}")
    for index, start, stop in segments:
        u = ids[seg_of_frame == index]
        head = " ".join(map(str, u[: args.head])) + (" ..." if len(u) > args.head else "")
        print(f"segment {index}  {start / Gst.SECOND:.3f}-{stop / Gst.SECOND:.3f} s  {len(u)} frames  units: {head}")

    if args.save_npz:
        np.savez(args.save_npz,
                 features=feats,  # float32 [frames, dim]
                 feature_pts=feat_pts,  # uint64 ns, per frame
                 units=ids,  # int32 [frames]
                 unit_pts=unit_pts,  # uint64 ns, per frame
                 segment=seg_of_frame,  # int64 [frames]: silencesplit index of the frame's segment
                 segments=np.array([[s, e] for _, s, e in segments], np.uint64).reshape(-1, 2),  # [start, stop) ns
                 dim=dim, layer=layer, k=k)
        print(f"wrote {args.save_npz}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
