# SPDX-License-Identifier: MIT
"""The Python package (import acoustok) against the command line's files.

Small real models made by the command line (the test wav2vec2 model at layer
2, k-means k=24 from `acoustok units` on the vocoder fixture segments, a
one-epoch `tiny` vocoder, a 60-piece BPE model), then every call compared
with what the command line writes for the same input:
  FeatureExtractor    == `acoustok features` (16 kHz, 22.05 kHz through
                         sample_rate=, an MP3 through read_audio, and input
                         cut into windows), bit for bit
  KMeans.predict      == `acoustok kmeans predict`
  encode              == `acoustok features` + `acoustok kmeans predict`
  Vocoder             == `acoustok synth` (to the PCM16 step; whole and
                         chunked lines)
  split_on_silence    == `acoustok segment`'s segments.jsonl (defaults and others)
  MotifModel          == `acoustok bpe encode`
  read_audio, resample, write_wav against NumPy / the wave module.
Then bad arguments: each raises ValueError naming the problem (acoustok.Error
for the library's own errors), never a crash; the GIL is released while a
model runs; LibTorch and SentencePiece in one process in either order.
  test_api.py [--motifs]   (ACOUSTOK_BIN, ACOUSTOK_FIXTURES; PYTHONPATH: the build's python/)
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import wave

import numpy as np

import acoustok

ACOUSTOK = os.environ["ACOUSTOK_BIN"]
FX = os.environ["ACOUSTOK_FIXTURES"]
MOTIFS = "--motifs" in sys.argv
THREADS = 2  # LibTorch threads here and in every reference run: the same sums
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def cli(*args, stdout=None):
    r = subprocess.run([ACOUSTOK, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: acoustok {' '.join(map(str, args))}: exit {r.returncode}\n{r.stderr}")
    return r.stdout


def read_wav(path):
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), "<i2"), w.getframerate()


def raises(exc, fragment, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc as e:
        return fragment in str(e), f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - the wrong type is the failure
        return False, f"{type(e).__name__} instead of {exc.__name__}: {e}"
    return False, "no exception"


def check_raises(exc, fragment, what, fn, *args, **kwargs):
    ok, text = raises(exc, fragment, fn, *args, **kwargs)
    check(ok, f"{what}: {text}")


tmp = tempfile.mkdtemp(prefix="acoustok-python-")
model, layer, k = os.path.join(FX, "xlsr", "xlsr_st"), 2, 24
segments = os.path.join(FX, "vocoder", "segments")
one = os.path.join(segments, "espeak_pt_00000.wav")
pauses = os.path.join(FX, "silence", "speech_pauses.wav")
mp3 = os.path.join(FX, "silence", "speech_8k_stereo.mp3")

print("models: k-means (k=24), a tiny vocoder and a BPE model, by the command line", flush=True)
cli("units", segments, "-o", f"{tmp}/units", "--model", model, "--layer", layer, "--k", k, "--seed", 1,
    "--threads", THREADS, "-q")
cli("vocoder", "train", "--units", f"{tmp}/units", "--audio", segments, "-o", f"{tmp}/voc", "--config", "tiny",
    "--epochs", 1, "--samples-per-epoch", 8, "--batch-size", 4, "--save-every", 0, "--threads", THREADS, "-q")
km_path, voc_path = f"{tmp}/units/kmeans.safetensors", f"{tmp}/voc/vocoder_final.pt"

check(isinstance(acoustok.__version__, str) and cli("--version").strip().endswith(acoustok.__version__),
      f"__version__ {acoustok.__version__} is the command line's")
acoustok.configure_process(threads=THREADS)

# --- features ---------------------------------------------------------------
fx = acoustok.FeatureExtractor(model, layer=layer, device="cpu")
check((fx.dim, fx.layer, fx.num_layers) == (32, 2, 3), f"FeatureExtractor: dim {fx.dim}, layer {fx.layer} of {fx.num_layers}")
pcm, rate = read_wav(pauses)
wave16k = pcm.astype(np.float32) / 32768
check(rate == 16000 and np.array_equal(acoustok.read_audio(pauses), wave16k),
      "read_audio of a 16 kHz PCM16 WAV equals its samples / 32768")
subprocess.run(["sox", pauses, "-r", "22050", f"{tmp}/pauses22k.wav"], check=True)
pcm22, rate22 = read_wav(f"{tmp}/pauses22k.wav")
wave22k = pcm22.astype(np.float32) / 32768
check(np.array_equal(acoustok.resample(wave22k, 22050), acoustok.read_audio(f"{tmp}/pauses22k.wav")),
      "resample(22.05 kHz samples) equals read_audio of that 22.05 kHz file")


def features_cli(path, name, *extra):
    cli("features", "--model", model, "--layer", layer, "--device", "cpu", "--threads", THREADS, "-q", path,
        "-o", f"{tmp}/{name}.npy", *extra)
    return np.load(f"{tmp}/{name}.npy")


cases = [
    ("16 kHz", fx(wave16k), features_cli(pauses, "f16k")),
    ("float64 input", fx(wave16k.astype(np.float64)), features_cli(pauses, "f16k")),
    ("22.05 kHz, sample_rate=22050", fx(wave22k, sample_rate=rate22), features_cli(f"{tmp}/pauses22k.wav", "f22k")),
    ("8 kHz stereo MP3 through read_audio", fx(acoustok.read_audio(mp3)), features_cli(mp3, "fmp3")),
    ("windows of 3 s with 1 s of context",
     acoustok.FeatureExtractor(model, layer=layer, device="cpu", max_window=3, context=1)(wave16k),
     features_cli(pauses, "fwin", "--max-window", 3, "--context", 1)),
]
for name, got, ref in cases:
    check(got.dtype == np.float32 and got.shape == ref.shape and np.array_equal(got, ref),
          f"FeatureExtractor, {name}: {got.dtype} {got.shape} equals acoustok features' {ref.shape}")
check(not np.array_equal(cases[0][1], cases[4][1]), "the windowed features differ from the whole run (the windows are used)")
check(fx(np.zeros(399, np.float32)).shape == (0, 32), "fewer than 400 samples: [0, dim]")

# --- k-means and encode -----------------------------------------------------
km = acoustok.KMeans.load(km_path)
check((km.k, km.dim) == (24, 32) and km.centroids.shape == (24, 32), f"KMeans: k {km.k}, dim {km.dim}")
for name, feats in (("f16k", cases[0][1]), ("f22k", cases[2][1])):
    cli("kmeans", "predict", km_path, f"{tmp}/{name}.npy", "-o", f"{tmp}/{name}.txt")
    ref = np.loadtxt(f"{tmp}/{name}.txt", dtype=np.int64, ndmin=1)
    units = km.predict(feats)
    check(units.dtype == np.int32 and np.array_equal(units, ref), f"KMeans.predict ({name}) equals acoustok kmeans predict's {len(ref)} units")
    check(np.array_equal(acoustok.KMeans(km.centroids).predict(feats, threads=1), ref), f"KMeans(centroids).predict ({name}), 1 thread, the same")
    path = pauses if name == "f16k" else f"{tmp}/pauses22k.wav"
    check(np.array_equal(acoustok.encode(path, model=model, layer=layer, kmeans=km_path, device="cpu"), ref),
          f"encode('{os.path.basename(path)}') equals acoustok features + kmeans predict")
check(np.array_equal(acoustok.encode(pauses, model=fx, kmeans=km), km.predict(cases[0][1])), "encode with loaded models, the same")

# --- vocoder ----------------------------------------------------------------
voc = acoustok.Vocoder.load(voc_path, device="cpu")
check((voc.sample_rate, voc.hop, voc.num_units) == (16000, 320, k), f"Vocoder: {voc.sample_rate} Hz, hop {voc.hop}, k {voc.num_units}")
units = km.predict(cases[0][1])
rng = np.random.default_rng(0)
long_units = rng.integers(0, k, 3100)  # over a minute: synthesised in chunks, as acoustok synth does
for name, u in (("one line", units), ("3100 units, chunked", long_units)):
    with open(f"{tmp}/{name[:3]}.txt", "w") as f:
        f.write(" ".join(map(str, u)) + "\n")
    cli("synth", "--checkpoint", voc_path, "--device", "cpu", "--threads", THREADS, f"{tmp}/{name[:3]}.txt", "-o", f"{tmp}/{name[:3]}.wav")
    ref, ref_rate = read_wav(f"{tmp}/{name[:3]}.wav")
    got = voc(u)
    check(got.dtype == np.float32 and got.shape == (320 * len(u),), f"Vocoder ({name}): float32, 320 samples per unit")
    acoustok.write_wav(f"{tmp}/{name[:3]}_py.wav", got)
    mine, _ = read_wav(f"{tmp}/{name[:3]}_py.wav")
    check(ref_rate == 16000 and np.array_equal(mine, ref), f"Vocoder ({name}): its PCM16 equals acoustok synth's WAV")
    check(np.abs(got - ref / 32768.0).max() <= 1.5 / 32768 and np.abs(ref).max() > 0,
          f"Vocoder ({name}): floats within one PCM16 step of the WAV")
check(np.array_equal(voc(units.tolist()), voc(units.astype(np.int64))), "Vocoder: a list of ints equals an int array")

# A released CodeHiFiGAN with a duration predictor and 4 speakers (the
# fairseq-structured reference of tests/vocoder): reduced units are predicted
# by default, as acoustok synth does, and the speaker is given per call.
code_dir = f"{tmp}/codehifigan"
subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vocoder", "codehifigan_reference.py"),
                "write", "--out-dir", code_dir, "--num-units", str(k), "--dur-predictor", "--num-speakers", "4", "--seed", "3"],
               check=True, stdout=subprocess.DEVNULL)
code = acoustok.Vocoder.load(f"{code_dir}/g_00000000", device="cpu")
check((code.num_speakers, code.has_duration_predictor, code.speaker_embedding_dim) == (4, True, 0),
      "Vocoder: a CodeHiFiGAN's speakers and duration predictor")
reduced = [int(u) for i, u in enumerate(units) if i == 0 or u != units[i - 1]]
with open(f"{tmp}/reduced.txt", "w") as f:
    f.write(" ".join(map(str, reduced)) + "\n")
cli("synth", "--checkpoint", f"{code_dir}/g_00000000", "--device", "cpu", "--threads", THREADS, "--speaker", "2",
    f"{tmp}/reduced.txt", "-o", f"{tmp}/reduced.wav")
ref, _ = read_wav(f"{tmp}/reduced.wav")
got = code(reduced, speaker=2)
check(got.shape == ref.shape and len(got) != 320 * len(reduced) and np.abs(got - ref / 32768.0).max() <= 1.5 / 32768,
      f"Vocoder (CodeHiFiGAN, speaker 2): {len(reduced)} reduced units -> {len(got) // 320} predicted frames, as acoustok synth")
check(len(code(reduced, speaker=2, dur_prediction=False)) == 320 * len(reduced), "Vocoder: dur_prediction=False keeps one frame per unit")
check(np.abs(code(reduced, speaker=1) - got).max() > 1e-3, "Vocoder: another speaker speaks differently")
check_raises(ValueError, "give speaker=0..3", "Vocoder(no speaker)", code, reduced)
check_raises(acoustok.Error, "out of range", "Vocoder(speaker 4)", code, reduced, speaker=4)
check_raises(acoustok.Error, "no speaker", "Vocoder(speaker on a single-speaker vocoder)", voc, units, speaker=0)

# --- silence ----------------------------------------------------------------
for name, opts, args in (("defaults", {}, []),
                         ("-35 dB, 0.3 s, keep 0.05 s", dict(threshold_db=-35, min_silence=0.3, keep_silence=0.05),
                          ["--threshold-db", -35, "--min-silence", 0.3, "--keep-silence", 0.05])):
    out = f"{tmp}/seg{len(args)}"
    cli("segment", "-q", pauses, "-o", out, *args)
    ref = [json.loads(line) for line in open(f"{out}/segments.jsonl")]
    got = acoustok.split_on_silence(wave16k, **opts)
    check(len(got) > 1 and [(s.index, s.start, s.end) for s in got] ==
          [(r["index"], round(r["start"] * 16000), round(r["end"] * 16000)) for r in ref],
          f"split_on_silence ({name}): {len(got)} segments equal acoustok segment's")
    for s, r in zip(got, ref):
        seg, _ = read_wav(os.path.join(out, r["file"]))
        if not np.array_equal(seg, pcm[s.start:s.end]):
            check(False, f"split_on_silence ({name}): segment {s.index}'s samples equal its WAV")
    check(abs(got[-1].end_time - ref[-1]["end"]) < 1e-9, f"split_on_silence ({name}): end_time in seconds")
cli("segment", "-q", f"{tmp}/pauses22k.wav", "-o", f"{tmp}/seg22k")
ref = [json.loads(line) for line in open(f"{tmp}/seg22k/segments.jsonl")]
got = acoustok.split_on_silence(acoustok.resample(wave22k, 22050))
check([(s.start, s.end) for s in got] == [(round(r["start"] * 16000), round(r["end"] * 16000)) for r in ref],
      "split_on_silence(resample(22.05 kHz)) equals acoustok segment on the 22.05 kHz file")

# --- motifs -----------------------------------------------------------------
if MOTIFS:
    cli("bpe", f"{tmp}/units/all_units_for_bpe.txt", "-o", f"{tmp}/bpe", "--vocab-size", 60, "-q")
    mm = acoustok.MotifModel.load(f"{tmp}/bpe/bpe.model")
    lines = [list(map(int, line.split())) for line in open(f"{tmp}/units/all_units_for_bpe.txt")]
    lines.append(units.tolist())
    with open(f"{tmp}/lines.txt", "w") as f:
        f.write("".join(" ".join(map(str, u)) + "\n" for u in lines))
    ref = cli("bpe", "encode", f"{tmp}/bpe/bpe.model", f"{tmp}/lines.txt").splitlines()
    got = [mm.encode(np.asarray(u, dtype=np.int32)) for u in lines]
    check(mm.vocab_size == 60 and [" ".join(map(str, m)) for m in got] == ref,
          f"MotifModel.encode: {len(lines)} lines equal acoustok bpe encode's")
    check([mm.encode_text(u) for u in lines] == ref, "MotifModel.encode_text equals acoustok bpe encode's lines")
    tiling = all(m[0].start == 0 and m[-1].end == len(u) and all(a.end == b.start for a, b in zip(m, m[1:])) and
                 all(list(x.units) == u[x.start:x.end] for x in m) for m, u in zip(got, lines))
    check(tiling, "MotifModel.encode: motifs tile the frames, each with its units")
    check(all(mm.units_of(x.id) == list(x.units) for m in got[:-1] for x in m),  # the training lines: no <unk>
          "MotifModel.units_of(motif.id) is the motif's units")
    check_raises(ValueError, "unit -1 at position 1", "MotifModel.encode([3, -1])", mm.encode, [3, -1])
    check_raises(acoustok.Error, "nope.model", "MotifModel.load of a missing file", acoustok.MotifModel.load, f"{tmp}/nope.model")

# --- bad input --------------------------------------------------------------
print("bad input", flush=True)
check_raises(ValueError, "dtype int16", "FeatureExtractor(int16)", fx, pcm)
check_raises(ValueError, "dtype float16", "FeatureExtractor(float16)", fx, wave16k.astype(np.float16))
check_raises(ValueError, "shape (2, 1000)", "FeatureExtractor(2-D)", fx, np.zeros((2, 1000), np.float32))
check_raises(ValueError, "sample 5 is NaN", "FeatureExtractor(NaN)", fx, np.where(np.arange(1000) == 5, np.nan, 0).astype(np.float32))
check_raises(ValueError, "sample_rate: 0 Hz", "FeatureExtractor(sample_rate=0)", fx, wave16k, sample_rate=0)
check_raises(ValueError, "sample_rate: 22050.0", "FeatureExtractor(sample_rate=22050.0)", fx, wave16k, sample_rate=22050.0)
check_raises(ValueError, "layer: 0", "FeatureExtractor(layer=0)", acoustok.FeatureExtractor, model, layer=0)
check_raises(ValueError, "precision: 'fp16'", "FeatureExtractor(precision='fp16')", acoustok.FeatureExtractor, model, precision="fp16")
check_raises(ValueError, "device: 'gpu'", "FeatureExtractor(device='gpu')", acoustok.FeatureExtractor, model, device="gpu")
check_raises(ValueError, "max_window", "FeatureExtractor(max_window=2, context=1)", acoustok.FeatureExtractor, model, max_window=2, context=1)
check_raises(acoustok.Error, "layer 9 is out of range", "FeatureExtractor(layer=9) of a 3-layer model", acoustok.FeatureExtractor, model, layer=9)
check_raises(acoustok.Error, "nope", "FeatureExtractor of a missing folder", acoustok.FeatureExtractor, f"{tmp}/nope")
check(issubclass(acoustok.Error, RuntimeError), "acoustok.Error is a RuntimeError")
check_raises(ValueError, "shape (10, 31) is not [frames, 32]", "KMeans.predict(wrong dim)", km.predict, np.zeros((10, 31), np.float32))
check_raises(ValueError, "shape (32,)", "KMeans.predict(1-D)", km.predict, np.zeros(32, np.float32))
check_raises(ValueError, "dtype int32", "KMeans.predict(int32)", km.predict, np.zeros((3, 32), np.int32))
check_raises(ValueError, "row 1, column 2 is Inf", "KMeans.predict(Inf)", km.predict, np.where(np.arange(96).reshape(3, 32) == 34, np.inf, 0))
check_raises(ValueError, "threads: -1", "KMeans.predict(threads=-1)", km.predict, cases[0][1], threads=-1)
check_raises(acoustok.Error, "nope.safetensors", "KMeans.load of a missing file", acoustok.KMeans.load, f"{tmp}/nope.safetensors")
check_raises(ValueError, f"unit {k} at position 2 is outside", "Vocoder(unit k)", voc, [1, 2, k])
check_raises(ValueError, "dtype float32", "Vocoder(float units)", voc, np.ones(5, np.float32))
check_raises(ValueError, "shape (2, 5)", "Vocoder(2-D units)", voc, np.ones((2, 5), np.int32))
check_raises(acoustok.Error, "nope.pt", "Vocoder.load of a missing file", acoustok.Vocoder.load, f"{tmp}/nope.pt")
check_raises(ValueError, "dtype int16", "split_on_silence(int16)", acoustok.split_on_silence, pcm)
check_raises(ValueError, "sample_rate: 22050 Hz is not a multiple of 1000", "split_on_silence(sample_rate=22050)", acoustok.split_on_silence, wave22k, sample_rate=22050)
check_raises(ValueError, "split_on_silence: threshold", "split_on_silence(threshold_db=5)", acoustok.split_on_silence, wave16k, threshold_db=5)
check_raises(ValueError, "dtype int16", "resample(int16)", acoustok.resample, pcm, 22050)
check_raises(ValueError, "from_rate: True", "resample(from_rate=True)", acoustok.resample, wave16k, True)
check_raises(ValueError, "to_rate: 999999999", "resample(to_rate=999999999)", acoustok.resample, wave16k, 16000, 999999999)
check_raises(acoustok.Error, "nope.wav", "read_audio of a missing file", acoustok.read_audio, f"{tmp}/nope.wav")
check_raises(acoustok.Error, "nope.wav", "encode of a missing file", acoustok.encode, f"{tmp}/nope.wav", model=fx, kmeans=km)

# --- the GIL ----------------------------------------------------------------
# With a switch interval of an hour, the main thread runs while the worker is
# inside the call only if the call released the GIL; a call that held it
# would finish (and the worker end) before the main thread ran again.
def releases_gil(fn):
    done = []
    worker = threading.Thread(target=lambda: done.append(fn()))
    old = sys.getswitchinterval()
    sys.setswitchinterval(3600)
    try:
        worker.start()
        ran_during_call = not done
    finally:
        sys.setswitchinterval(old)
    worker.join()
    return ran_during_call and len(done) == 1


long_wave = np.tile(wave16k, 2)
check(releases_gil(lambda: fx(long_wave)), "FeatureExtractor releases the GIL while it runs")
check(releases_gil(lambda: voc(long_units)), "Vocoder releases the GIL while it runs")
# Two Python threads on one extractor take turns (one extract() at a time).
results = [None, None]
threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, fx(wave16k))) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check(all(np.array_equal(r, cases[0][1]) for r in results), "two threads on one FeatureExtractor: both results exact")

# --- LibTorch and SentencePiece in one process, either order ----------------
if MOTIFS:
    for order in (("motifs", "features"), ("features", "motifs")):
        code = f"""
import acoustok, numpy as np
steps = {{
    "motifs": lambda: acoustok.MotifModel.load({f'{tmp}/bpe/bpe.model'!r}).encode_text([1, 2, 3]),
    "features": lambda: acoustok.FeatureExtractor({model!r}, layer=2, device="cpu")(np.zeros(16000, np.float32)).shape,
}}
for name in {order!r}:
    print(name, steps[name]())
"""
        r = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(r.returncode == 0, f"one process, {' then '.join(order)}: exit {r.returncode} {r.stdout.strip()!r}")

print(f"{'FAIL' if failures else 'ok'}: {len(failures)} failed checks")
subprocess.run(["rm", "-rf", tmp], check=False)
sys.exit(1 if failures else 0)
