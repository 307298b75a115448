#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Independent references for `acoustok vocoder compare --json`.
Over 600 lines on purpose: every metric's reference in one place, each
written from its definition below, none from acoustok's code.

mcd_db (SPTK mel-cepstral distortion), by the real SPTK 3.9 command-line tools
(Debian 12's package sptk; `check` says "SPTK not installed: mcd_db not
compared to SPTK" and checks the rest where they are missing, as on Debian 13):
  * samples in the 16-bit range: PCM16 as its int16 values, float WAVs as
    x * 32768 (so a PCM16 file and the float file of the same values / 32768
    give identical cepstra);
  * `frame -l 1024 -p 256` (default: centred start).  Measured on SPTK 3.9:
    n samples give ceil(n / 256) frames (0 frames for n = 0); frame k holds
    samples k*256 - 512 .. k*256 + 511, i.e. sample k*256 sits at index 512 =
    l/2 of the frame and everything outside 0 .. n-1 is zero.  The first frame
    is thus centred on sample 0 and the last frame centre is the last multiple
    of 256 below n;
  * `window -l 1024 -w 1 -n 0`: symmetric Hamming 0.54 - 0.46 cos(2 pi i / 1023),
    not normalised;
  * `mcep -l 1024 -m 24 -a 0.42 -e 1e-6` with SPTK's defaults for the rest:
    -i 2 (minimum iterations), -j 30 (maximum iterations), -d 0.001 (end
    condition), -f 1e-6 (minimum determinant of the normal matrix), -q 0
    (windowed-sequence input); 25 floats per frame, c0 is dropped;
  * DTW between the two c1..c24 sequences: local cost Euclidean distance,
    D(i,j) = d(i,j) + min(D(i-1,j-1), D(i-1,j), D(i,j-1)), D(0,0) = d(0,0);
    traced back from (N-1, M-1) to (0, 0) preferring on ties the diagonal, then
    (i-1, j), then (i, j-1);
  * mcd_db = mean over the path cells of (10 / ln 10) sqrt(2 sum_d (c_d - c'_d)^2).

gpe / vde / ffe as fairseq's examples/speech_synthesis/evaluation/eval_f0.py
reports them (the functions live in examples/speech_synthesis/utils.py), with
true = the original's track, est = the synthesis' track:
  * voiced means f0 != 0;
  * gross pitch error frame: voiced in both and |est / (true + 1e-8) - 1| > 0.2
    (the 1e-8 makes a frame exactly 20 % *below* count as an error, exactly
    20 % above does not; `|est - true| > 0.2 true` differs from it only there);
  * gpe = gross error frames / frames voiced in both (0/0 = NaN in fairseq,
    null here);
  * vde = frames whose voicing differs / number of frames;
  * ffe = (gross error frames + voicing error frames) / number of frames (the
    two sets are disjoint, so this is the share of frames with either);
  * frames: fairseq maps est onto true's time grid with nearest-neighbour
    interpolation and fill 0, i.e. over len(true) frames with est cut or
    padded with unvoiced frames.  acoustok's contract uses the first
    min(len) frames of both; `f0_errors(..., length="ref")` gives fairseq's.

Subcommands:
  selftest                         check these references (no acoustok needed)
  check --acoustok BIN --tmp DIR   generate WAV pairs in DIR, run
                                   `BIN vocoder compare --json --f0-tracks A B`
                                   and compare with the references
  mcep WAV                         print the c1..c24 matrix shape and MCD vs itself
"""
import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import threading
import wave

import numpy as np

SR = 16000
FRAME_LEN = 1024
FRAME_HOP = 256
MCEP_ORDER = 24
MCEP_ALPHA = 0.42
MCEP_EPS = 1e-6
MCD_K = 10.0 / math.log(10.0)
GPE_THRESHOLD = 0.2
FAIRSEQ_EPS = 1e-8

MCD_TOL_DB = 0.01
F0_METRIC_TOL = 1e-9


# ---------------------------------------------------------------- WAV I/O

def read_wav(path):
    """Mono 16 kHz WAV (PCM16, or IEEE float 32/64) -> float64 samples in the
    16-bit range (int16 values; float samples * 32768)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, ch, sr, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, ch, sr, bits)
        elif cid == b"data":
            payload = body
        pos += 8 + size + (size & 1)
    if fmt is None or payload is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    tag, ch, sr, bits = fmt
    if ch != 1 or sr != SR:
        raise ValueError(f"{path}: need mono {SR} Hz, got {ch} channel(s) at {sr} Hz")
    if tag == 1 and bits == 16:
        n = len(payload) // 2
        return np.frombuffer(payload[:2 * n], dtype="<i2").astype(np.float64)
    if tag == 3 and bits in (32, 64):
        dt = "<f4" if bits == 32 else "<f8"
        n = len(payload) // (bits // 8)
        return np.frombuffer(payload[:n * bits // 8], dtype=dt).astype(np.float64) * 32768.0
    raise ValueError(f"{path}: unsupported format tag {tag} with {bits} bits")


def to_pcm16(x):
    """Float signal in [-1, 1] -> int16 (rounded, clipped)."""
    return np.clip(np.round(np.asarray(x, np.float64) * 32768.0), -32768, 32767).astype("<i2")


def write_wav_pcm16(path, x):
    """x: float samples in [-1, 1] (or an int16 array, written as is)."""
    x = np.asarray(x)
    pcm = x.astype("<i2") if x.dtype == np.int16 else to_pcm16(x)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


def write_wav_float32(path, x):
    """IEEE float WAV (tag 3, 18-byte fmt chunk, fact chunk), samples as given."""
    body = np.asarray(x, "<f4").tobytes()
    fmt = struct.pack("<HHIIHHH", 3, 1, SR, SR * 4, 4, 32, 0)
    fact = struct.pack("<I", len(body) // 4)
    chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<I", 4) + fact
              + b"data" + struct.pack("<I", len(body)) + body)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)


# ---------------------------------------------------------------- SPTK

def sptk_available():
    """Whether SPTK's command-line tools (Debian 12's package sptk) are here
    and run: frame | window | mcep on one short frame."""
    try:
        out, _ = sptk_pipeline([sptk_cmd("frame") + ["-l", "8", "-p", "8"],
                                sptk_cmd("window") + ["-l", "8", "-w", "1", "-n", "0"],
                                sptk_cmd("mcep") + ["-l", "8", "-m", "2", "-a", "0.42", "-e", "1e-6"]],
                               np.arange(1, 9, dtype=np.float32).tobytes())
        return len(out) > 0 and len(out) % (3 * 4) == 0  # frames of c0..c2, float32
    except (FileNotFoundError, OSError, RuntimeError):
        return False


def sptk_cmd(tool):
    if shutil.which("sptk"):
        return ["sptk", tool]
    direct = os.path.join("/usr/libexec/sptk/bin", tool)
    if os.access(direct, os.X_OK):
        return [direct]
    if shutil.which(tool):
        return [tool]
    raise FileNotFoundError(f"SPTK tool {tool!r} not found (Debian package sptk)")


def sptk_pipeline(stages, data):
    """Run stage0 | stage1 | ... with `data` (bytes) on stdin; return stdout bytes."""
    procs = []
    prev = subprocess.PIPE
    for k, argv in enumerate(stages):
        p = subprocess.Popen(argv, stdin=prev, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if k > 0:
            procs[-1].stdout.close()  # so the upstream stage sees SIGPIPE if this one dies
        procs.append(p)
        prev = p.stdout

    def feed():
        try:
            procs[0].stdin.write(data)
        except BrokenPipeError:
            pass
        finally:
            procs[0].stdin.close()

    errs = [b""] * len(procs)

    def drain(k):
        errs[k] = procs[k].stderr.read()

    threads = [threading.Thread(target=feed)] + [threading.Thread(target=drain, args=(k,)) for k in range(len(procs))]
    for t in threads:
        t.start()
    out = procs[-1].stdout.read()
    for t in threads:
        t.join()
    for p in procs:
        p.wait()
    for argv, p, err in zip(stages, procs, errs):
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {p.returncode}: {err.decode(errors='replace')}")
    return out, [e.decode(errors="replace") for e in errs]


def sptk_frame_count(n):
    """Frames SPTK 3.9 `frame -l 1024 -p 256` (centred) emits for n samples."""
    return -(-n // FRAME_HOP)


def sptk_mcep_samples(x16, return_c0=False, warnings=None):
    """x16: samples in the 16-bit range -> [frames, 24] float64 (c1..c24)."""
    x = np.asarray(x16, np.float64).astype(np.float32)
    stages = [
        sptk_cmd("frame") + ["-l", str(FRAME_LEN), "-p", str(FRAME_HOP)],
        sptk_cmd("window") + ["-l", str(FRAME_LEN), "-w", "1", "-n", "0"],
        sptk_cmd("mcep") + ["-l", str(FRAME_LEN), "-m", str(MCEP_ORDER), "-a", str(MCEP_ALPHA), "-e", str(MCEP_EPS)],
    ]
    out, errs = sptk_pipeline(stages, x.tobytes())
    if warnings is not None:
        warnings.extend(e.strip() for e in errs if e.strip())
    c = np.frombuffer(out, dtype=np.float32).astype(np.float64)
    if c.size % (MCEP_ORDER + 1):
        raise RuntimeError(f"mcep wrote {c.size} floats, not a multiple of {MCEP_ORDER + 1}")
    c = c.reshape(-1, MCEP_ORDER + 1)
    if c.shape[0] != sptk_frame_count(len(x)):
        raise RuntimeError(f"SPTK gave {c.shape[0]} frames for {len(x)} samples, expected {sptk_frame_count(len(x))}")
    return c if return_c0 else c[:, 1:]


def sptk_mcep(wav_path):
    """WAV -> [frames, 24] mel-cepstra c1..c24 from the SPTK command-line tools."""
    return sptk_mcep_samples(read_wav(wav_path))


# ---------------------------------------------------------------- DTW / MCD

def dtw_accumulate(cost):
    """Plain accumulated-cost DTW, steps (1,0), (0,1), (1,1)."""
    cost = np.asarray(cost, np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        raise ValueError("DTW of an empty sequence")
    rows = []
    prev = None
    for i in range(n):
        c = cost[i].tolist()
        row = [0.0] * m
        if prev is None:
            row[0] = c[0]
            for j in range(1, m):
                row[j] = c[j] + row[j - 1]
        else:
            row[0] = c[0] + prev[0]
            for j in range(1, m):
                a, b, l = prev[j - 1], prev[j], row[j - 1]
                best = a if a <= b else b
                if l < best:
                    best = l
                row[j] = c[j] + best
        rows.append(row)
        prev = row
    return rows


def dtw_backtrack(acc):
    """Path from (0,0) to (N-1,M-1); ties: diagonal, then (i-1,j), then (i,j-1)."""
    i, j = len(acc) - 1, len(acc[0]) - 1
    path = [(i, j)]
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            diag, up, left = acc[i - 1][j - 1], acc[i - 1][j], acc[i][j - 1]
            if diag <= up and diag <= left:
                i, j = i - 1, j - 1
            elif up <= left:
                i -= 1
            else:
                j -= 1
        path.append((i, j))
    path.reverse()
    return path


def dtw_align(a, b):
    """a [N, D], b [M, D] -> (path, accumulated cost at the end)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"DTW needs [N, D] and [M, D], got {a.shape} and {b.shape}")
    cost = np.empty((a.shape[0], b.shape[0]))
    for i in range(a.shape[0]):
        cost[i] = np.sqrt(((b - a[i]) ** 2).sum(axis=1))
    acc = dtw_accumulate(cost)
    return dtw_backtrack(acc), acc[-1][-1]


def dtw_mcd(a, b, return_path=False):
    """MCD in dB over the DTW path between cepstra a [N, 24] and b [M, 24]."""
    path, _ = dtw_align(a, b)
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    ii = np.array([p[0] for p in path])
    jj = np.array([p[1] for p in path])
    per_cell = MCD_K * np.sqrt(2.0 * ((a[ii] - b[jj]) ** 2).sum(axis=1))
    mcd = float(per_cell.mean())
    return (mcd, path) if return_path else mcd


# ---------------------------------------------------------------- F0 errors

def f0_errors(ref_track, test_track, length="min", rule="fairseq"):
    """gpe / vde / ffe of test (synthesis) against ref (original).

    length: "min" = first min(len) frames of both (acoustok's contract);
            "ref" = fairseq: len(ref) frames, test cut or padded with 0.
    rule:   "fairseq" = |test / (ref + 1e-8) - 1| > 0.2;
            "contract" = |test - ref| > 0.2 ref.
    Values are None where the denominator is 0."""
    r = np.asarray(ref_track, np.float64).ravel()
    t = np.asarray(test_track, np.float64).ravel()
    if length == "min":
        n = min(len(r), len(t))
        r, t = r[:n], t[:n]
    elif length == "ref":
        n = len(r)
        t = np.concatenate([t[:n], np.zeros(max(0, n - len(t)))])
    else:
        raise ValueError(length)
    rv, tv = r != 0, t != 0
    both = rv & tv
    with np.errstate(divide="ignore", invalid="ignore"):
        if rule == "fairseq":
            off = np.abs(t / (r + FAIRSEQ_EPS) - 1) > GPE_THRESHOLD
        elif rule == "contract":
            off = np.abs(t - r) > GPE_THRESHOLD * r
        else:
            raise ValueError(rule)
    gross = both & off
    vde_frames = rv != tv
    nb, ng, nv = int(both.sum()), int(gross.sum()), int(vde_frames.sum())
    return {
        "gpe": ng / nb if nb else None,
        "vde": nv / n if n else None,
        "ffe": (ng + nv) / n if n else None,
        "frames": n,
        "both_voiced": nb,
        "gross_frames": ng,
        "voicing_error_frames": nv,
    }


def fairseq_style_f0_errors(ref_track, test_track, hop_s=0.01):
    """A second, literal-minded implementation in fairseq's shape (times,
    scipy nearest interpolation with fill 0 onto the reference grid), used
    only by selftest to cross-check f0_errors(length="ref")."""
    from scipy.interpolate import interp1d
    true_f = np.asarray(ref_track, np.float64)
    est_f = np.asarray(test_track, np.float64)
    true_t = np.arange(len(true_f)) * hop_s
    est_t = np.arange(len(est_f)) * hop_s
    est_on_true = interp1d(est_t, est_f, bounds_error=False, kind="nearest", fill_value=0)(true_t)
    voiced_both = (est_on_true != 0) & (true_f != 0)
    gross = voiced_both & (np.abs(est_on_true / np.array([x + FAIRSEQ_EPS for x in true_f]) - 1) > 0.2)
    vde = (est_on_true != 0) != (true_f != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gpe = np.sum(gross) / np.sum(voiced_both)
    return {"gpe": None if np.isnan(gpe) else float(gpe),
            "vde": float(np.sum(vde) / len(true_t)),
            "ffe": float((np.sum(gross) + np.sum(vde)) / len(true_t))}


# ---------------------------------------------------------------- comparisons

def close(got, want, tol):
    """Numbers within tol; None only matches None; non-numbers never match."""
    if want is None or got is None:
        return got is None and want is None
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    if not (math.isfinite(got) and math.isfinite(want)):
        return got == want
    return abs(got - want) <= tol


def fmt(v, digits=9):
    return "null" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))


class Report:
    def __init__(self):
        self.failures = 0
        self.count = 0

    def line(self, ok, what, detail):
        self.count += 1
        if not ok:
            self.failures += 1
        print(f"{'PASS' if ok else 'FAIL'} {what}: {detail}", flush=True)
        return ok


# ---------------------------------------------------------------- signals

def harmonic_glide(dur, f_start, f_end, seed, tilt=1.0, noise=0.004, peak=0.5, fmax=7000.0):
    n = int(round(dur * SR))
    t = np.arange(n) / SR
    f = f_start + (f_end - f_start) * t / dur
    phase = 2 * np.pi * np.cumsum(f) / SR
    x = np.zeros(n)
    for k in range(1, int(fmax // max(f_start, f_end)) + 1):
        x += np.sin(k * phase + 0.7 * k) / k ** tilt
    x *= 0.75 + 0.25 * np.sin(2 * np.pi * 1.5 * t)
    x *= peak / np.abs(x).max()
    x += np.random.default_rng(seed).normal(0, noise, n)
    return x


def tone(hz, dur, phase=0.0, noise=0.0, seed=0, amp=0.5):
    n = int(round(dur * SR))
    x = amp * np.sin(2 * np.pi * hz * np.arange(n) / SR + phase)
    if noise:
        x += np.random.default_rng(seed).normal(0, noise, n)
    return x


def glide(f0, f1, dur, amp=0.5):
    n = int(round(dur * SR))
    t = np.arange(n) / SR
    return amp * np.sin(2 * np.pi * np.cumsum(f0 + (f1 - f0) * t / dur) / SR)


def linear_f0(f0, f1, t0, dur):
    return lambda t: f0 + (f1 - f0) * (t - t0) / dur


def const_f0(hz):
    return lambda t: hz


# ---------------------------------------------------------------- check

def build_cases(tmp):
    """Write the WAVs; return the pairs with their expectations.

    truth per file: list of (t0, t1, f0_fn or None) regions where the tracker
    is held to the truth (None = digital silence: every frame unvoiced)."""
    os.makedirs(tmp, exist_ok=True)
    files = {}

    def put(name, x, truth, writer=write_wav_pcm16):
        path = os.path.join(tmp, name + ".wav")
        writer(path, x)
        files[name] = {"path": path, "n": len(x), "truth": truth}

    voiced = harmonic_glide(2.0, 140, 180, seed=1)
    voiced16 = to_pcm16(voiced)
    put("voiced", voiced16, [(0.1, 1.9, linear_f0(140, 180, 0.0, 2.0))])
    put("voiced_copy", voiced16, [(0.1, 1.9, linear_f0(140, 180, 0.0, 2.0))])
    put("voiced_float32", voiced16.astype(np.float64) / 32768.0, [(0.1, 1.9, linear_f0(140, 180, 0.0, 2.0))],
        writer=write_wav_float32)
    put("voiced_pad300ms", np.concatenate([np.zeros(int(0.3 * SR)), voiced]),
        [(0.0, 0.3, None), (0.4, 2.2, linear_f0(140, 180, 0.3, 2.0))])
    put("voiced_minus6db", voiced * 10 ** (-6 / 20), [(0.1, 1.9, linear_f0(140, 180, 0.0, 2.0))])
    put("other_glide", harmonic_glide(2.6, 180, 220, seed=2, tilt=1.5), [(0.1, 2.5, linear_f0(180, 220, 0.0, 2.6))])
    put("tone200", tone(200, 2.0), [(0.1, 1.9, const_f0(200))])
    put("tone200b", tone(200, 2.0, phase=1.0, noise=0.002, seed=3), [(0.1, 1.9, const_f0(200))])
    put("tone260", tone(260, 2.0), [(0.1, 1.9, const_f0(260))])
    put("tone230", tone(230, 2.0), [(0.1, 1.9, const_f0(230))])
    g = glide(120, 240, 3.0)
    put("glide120_240", g, [(0.1, 2.9, linear_f0(120, 240, 0.0, 3.0))])
    put("glide120_240_copy", g, [(0.1, 2.9, linear_f0(120, 240, 0.0, 3.0))])
    put("silence", np.zeros(2 * SR), [(0.0, 2.0, None)])
    put("half_voiced", np.concatenate([np.zeros(SR), tone(200, 1.0)]), [(0.0, 0.95, None), (1.1, 1.9, const_f0(200))])

    def near(v, tol=0.05):
        return ("near", v, tol)

    pairs = [
        # name, orig, synth, expectations {metric: ("exact", v) | ("near", v, tol) | ("null",) | ("le", v)}
        ("voiced_vs_pad300ms", "voiced", "voiced_pad300ms", {}),
        ("voiced_vs_minus6db", "voiced", "voiced_minus6db", {"gpe": near(0.0), "vde": near(0.0)}),
        ("voiced_vs_other_longer", "voiced", "other_glide", {}),
        ("identical", "voiced", "voiced_copy",
         {"mcd_db": ("exact", 0.0), "gpe": ("exact", 0.0), "vde": ("exact", 0.0), "ffe": ("exact", 0.0)}),
        ("pcm16_vs_float32", "voiced", "voiced_float32",
         {"mcd_db": ("exact", 0.0), "gpe": ("exact", 0.0), "vde": ("exact", 0.0), "ffe": ("exact", 0.0)}),
        ("tone200_vs_200", "tone200", "tone200b", {"gpe": near(0.0), "vde": near(0.0), "ffe": near(0.0)}),
        ("tone200_vs_260", "tone200", "tone260", {"gpe": near(1.0), "vde": near(0.0), "ffe": near(1.0)}),
        ("tone200_vs_230", "tone200", "tone230", {"gpe": near(0.0), "vde": near(0.0), "ffe": near(0.0)}),
        ("glide_vs_itself", "glide120_240", "glide120_240_copy",
         {"mcd_db": ("exact", 0.0), "gpe": ("exact", 0.0), "vde": ("exact", 0.0), "ffe": ("exact", 0.0)}),
        ("tone_vs_silence", "tone200", "silence", {"gpe": ("null",), "vde": near(1.0), "ffe": near(1.0)}),
        ("half_voiced_vs_voiced", "half_voiced", "tone200", {"gpe": near(0.0), "vde": near(0.5), "ffe": near(0.5)}),
    ]
    return files, pairs


def check_tracker(rep, label, track, info, hop_s=0.01, tol=0.02, share=0.9):
    """Tracker sanity against the known F0.  Frame k is held to the truth over
    [k hop - 10 ms, k hop + 50 ms] (covers frame-time conventions from frame
    start to the centre of a ~42 ms analysis span): it must lie within
    [min f0 (1 - tol), max f0 (1 + tol)] of that span."""
    track = np.asarray(track, np.float64)
    n_expect = info["n"] / (hop_s * SR)
    ok = abs(len(track) - n_expect) <= 10
    rep.line(ok, f"{label} track length", f"{len(track)} frames for {info['n']} samples (~{n_expect:.1f} at 10 ms)")
    for t0, t1, fn in info["truth"]:
        lo_t = np.arange(len(track)) * hop_s - 0.010
        hi_t = np.arange(len(track)) * hop_s + 0.050
        sel = np.nonzero((lo_t >= t0) & (hi_t <= t1))[0]
        if len(sel) < 10:
            rep.line(False, f"{label} region {t0:.2f}-{t1:.2f} s", f"only {len(sel)} frames fall in it")
            continue
        if fn is None:
            unv = int((track[sel] == 0).sum())
            rep.line(unv == len(sel), f"{label} silence {t0:.2f}-{t1:.2f} s unvoiced",
                     f"{unv}/{len(sel)} frames unvoiced (need all)")
            continue
        good = 0
        worst = 0.0
        for k in sel:
            span = [fn(lo_t[k]), fn(hi_t[k])]
            f = track[k]
            if f > 0 and min(span) * (1 - tol) <= f <= max(span) * (1 + tol):
                good += 1
            elif f > 0:
                worst = max(worst, min(abs(f / s - 1) for s in span))
        rep.line(good >= share * len(sel), f"{label} F0 {t0:.2f}-{t1:.2f} s",
                 f"{good}/{len(sel)} frames voiced within {tol:.0%} of the true F0 (need {share:.0%}; "
                 f"worst voiced miss {worst:.1%})")


def expect(rep, pair, metric, got, spec):
    kind = spec[0]
    if kind == "null":
        return rep.line(got is None, f"{pair} expected {metric}", f"{fmt(got)} (want null)")
    if got is None:
        return rep.line(False, f"{pair} expected {metric}", f"null (want {spec[1]})")
    if kind == "exact":
        return rep.line(abs(got - spec[1]) <= 1e-9, f"{pair} expected {metric}", f"{fmt(got)} (want {spec[1]})")
    if kind == "near":
        return rep.line(abs(got - spec[1]) <= spec[2], f"{pair} expected {metric}",
                        f"{fmt(got)} (want {spec[1]} +- {spec[2]})")
    raise ValueError(kind)


def run_compare(binary, a, b, timeout=600):
    argv = [binary, "vocoder", "compare", "--json", "--f0-tracks", a, b]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.strip()}")
    try:
        obj = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"stdout is not one JSON object ({e}): {p.stdout[:500]!r}")
    if not isinstance(obj, dict):
        raise RuntimeError(f"stdout is JSON but not an object: {p.stdout[:200]!r}")
    return obj


def cmd_check(args):
    rep = Report()
    files, pairs = build_cases(args.tmp)
    mcep_cache = {}
    tracker_done = set()
    have_sptk = sptk_available()
    if not have_sptk and os.environ.get("ACOUSTOK_REQUIRE_SPTK") == "1":
        rep.line(False, "SPTK", "its command-line tools do not run here and ACOUSTOK_REQUIRE_SPTK=1")
        return 1
    if not have_sptk:
        print("NOTE SPTK not installed: mcd_db not compared to SPTK (the known answers below still hold it; "
              "test_vocoder_metrics compares our mcep with SPTK's committed numbers)", flush=True)

    def ceps(name):
        if name not in mcep_cache:
            warn = []
            mcep_cache[name] = sptk_mcep_samples(read_wav(files[name]["path"]), warnings=warn)
            for w in warn:
                print(f"NOTE sptk on {name}: {w}")
        return mcep_cache[name]

    for pair, orig, synth, expectations in pairs:
        a, b = files[orig]["path"], files[synth]["path"]
        try:
            got = run_compare(args.acoustok, a, b)
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
            rep.line(False, f"{pair} run", str(e))
            continue
        missing = [k for k in ("snr_db", "length_ratio", "mcd_db", "gpe", "vde", "ffe", "frames", "f0_orig", "f0_synth")
                   if k not in got]
        if not rep.line(not missing, f"{pair} JSON keys", f"missing {missing}" if missing else "all present"):
            continue
        print(f"INFO {pair}: snr_db={fmt(got['snr_db'], 3)} length_ratio={fmt(got['length_ratio'], 4)} "
              f"frames={json.dumps(got['frames'])}")

        # mcd_db: SPTK CLI + NumPy DTW
        frames = got["frames"] if isinstance(got["frames"], dict) else {}
        if have_sptk:
            ca, cb = ceps(orig), ceps(synth)
            mcd, path = dtw_mcd(ca, cb, return_path=True)
            rep.line(close(got["mcd_db"], mcd, MCD_TOL_DB), f"{pair} mcd_db",
                     f"acoustok={fmt(got['mcd_db'], 4)} sptk+dtw={mcd:.4f} (diff {got['mcd_db'] - mcd:+.1e}; "
                     f"tol {MCD_TOL_DB}; frames {len(ca)} x {len(cb)})" if got["mcd_db"] is not None else
                     f"acoustok=null sptk+dtw={mcd:.4f}")
            rep.line(frames.get("mcd_path") == len(path), f"{pair} frames.mcd_path",
                     f"acoustok={frames.get('mcd_path')} reference={len(path)} (DTW path cells over "
                     f"{sptk_frame_count(files[orig]['n'])} x {sptk_frame_count(files[synth]['n'])} SPTK frames)")
        else:
            print(f"INFO {pair}: mcd_db={fmt(got['mcd_db'], 4)} (SPTK not installed: not compared to SPTK)")

        # F0 metrics on the printed tracks
        fo, fs = got["f0_orig"], got["f0_synth"]
        if not rep.line(isinstance(fo, list) and isinstance(fs, list) and
                        all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in fo + fs),
                        f"{pair} f0 tracks", "lists of numbers >= 0"):
            continue
        ref = f0_errors(fo, fs, length=args.f0_length, rule="fairseq")
        alt = f0_errors(fo, fs, length=args.f0_length, rule="contract")
        fair = f0_errors(fo, fs, length="ref", rule="fairseq")
        want_frames = ref["frames"]
        rep.line(frames.get("f0") == want_frames, f"{pair} frames.f0",
                 f"acoustok={frames.get('f0')} reference={want_frames} "
                 f"({'min' if args.f0_length == 'min' else 'orig'} of {len(fo)}, {len(fs)})")
        for m in ("gpe", "vde", "ffe"):
            ok = close(got[m], ref[m], F0_METRIC_TOL)
            note = ""
            if not ok and alt[m] != ref[m] and close(got[m], alt[m], F0_METRIC_TOL):
                ok, note = True, " (matches |f_s - f_o| > 0.2 f_o; fairseq's 1e-8 form differs on a boundary frame)"
            if fair[m] != ref[m]:
                note += f" [fairseq over len(orig) frames would give {fmt(fair[m])}]"
            rep.line(ok, f"{pair} {m}", f"acoustok={fmt(got[m])} numpy={fmt(ref[m])} (tol {F0_METRIC_TOL}){note}")

        # expected values of the synthetic pairs
        for metric, spec in expectations.items():
            expect(rep, pair, metric, got[metric], spec)

        # tracker sanity, once per file
        for name, track in ((orig, fo), (synth, fs)):
            if name not in tracker_done:
                tracker_done.add(name)
                check_tracker(rep, f"tracker {name}", track, files[name])

    print(f"{rep.count - rep.failures}/{rep.count} checks passed"
          + ("" if have_sptk else " (SPTK not installed: mcd_db not compared to SPTK)"))
    return 1 if rep.failures else 0


# ---------------------------------------------------------------- selftest

def cmd_selftest(args):
    rep = Report()
    rng = np.random.default_rng(7)

    # SPTK frame semantics: ramp 1..n, frame k index j holds sample k*256 + j - 512
    for n in (1, 255, 256, 257, 1000, 1024, 1025, 4097):
        x = np.arange(1, n + 1, dtype=np.float32)
        out, _ = sptk_pipeline([sptk_cmd("frame") + ["-l", str(FRAME_LEN), "-p", str(FRAME_HOP)]], x.tobytes())
        fr = np.frombuffer(out, np.float32).reshape(-1, FRAME_LEN)
        idx = np.arange(fr.shape[0])[:, None] * FRAME_HOP + np.arange(FRAME_LEN)[None, :] - FRAME_LEN // 2
        want = np.where((idx >= 0) & (idx < n), idx + 1, 0).astype(np.float32)
        rep.line(fr.shape[0] == sptk_frame_count(n) and np.array_equal(fr, want), f"sptk frame n={n}",
                 f"{fr.shape[0]} frames (ceil(n/256) = {sptk_frame_count(n)}), sample 0 at index 512 of frame 0")
    out, _ = sptk_pipeline([sptk_cmd("window") + ["-l", str(FRAME_LEN), "-w", "1", "-n", "0"]],
                           np.ones(FRAME_LEN, np.float32).tobytes())
    w = np.frombuffer(out, np.float32)
    rep.line(np.abs(w - np.hamming(FRAME_LEN)).max() < 1e-6, "sptk window -w 1 -n 0",
             f"max |w - numpy.hamming(1024)| = {np.abs(w - np.hamming(FRAME_LEN)).max():.2e}")

    # mcep pipeline on a signal, its gain invariance (c1..c24) and digital silence
    x = to_pcm16(harmonic_glide(1.0, 140, 180, seed=5)).astype(np.float64)
    c = sptk_mcep_samples(x, return_c0=True)
    rep.line(c.shape == (sptk_frame_count(len(x)), 25) and np.isfinite(c).all(), "sptk mcep shape",
             f"{c.shape} for {len(x)} samples")
    c_half = sptk_mcep_samples(x * 0.5, return_c0=True)
    d_c0 = float(np.median(c_half[:, 0] - c[:, 0]))
    rep.line(abs(d_c0 - math.log(0.5)) < 1e-3, "sptk mcep gain -> c0 only", f"median c0 shift {d_c0:.5f} (ln 0.5 = {math.log(0.5):.5f}), "
             f"MCD(c1..c24) = {dtw_mcd(c[:, 1:], c_half[:, 1:]):.5f} dB")
    z = sptk_mcep_samples(np.zeros(3000), return_c0=True)
    rep.line(np.isfinite(z).all() and abs(z[0, 0] - 0.5 * math.log(MCEP_EPS)) < 1e-4 and np.abs(z[:, 1:]).max() < 1e-6,
             "sptk mcep of digital silence", f"c0 = {z[0, 0]:.5f} (= ln(1e-6)/2), max |c1..c24| = {np.abs(z[:, 1:]).max():.1e}")

    # WAV round trips
    tmpd = args.tmp or "/tmp"
    os.makedirs(tmpd, exist_ok=True)
    p16, pf = os.path.join(tmpd, f"selftest_{os.getpid()}_16.wav"), os.path.join(tmpd, f"selftest_{os.getpid()}_f.wav")
    try:
        pcm = to_pcm16(harmonic_glide(0.5, 150, 160, seed=6))
        write_wav_pcm16(p16, pcm)
        write_wav_float32(pf, pcm.astype(np.float64) / 32768.0)
        a16, af = read_wav(p16), read_wav(pf)
        rep.line(np.array_equal(a16, pcm.astype(np.float64)) and np.array_equal(a16, af), "wav pcm16 == float32 * 32768",
                 f"{len(a16)} samples")
        rep.line(np.array_equal(sptk_mcep(p16), sptk_mcep(pf)), "sptk_mcep(pcm16) == sptk_mcep(float32)", "identical cepstra")
    finally:
        for p in (p16, pf):
            if os.path.exists(p):
                os.remove(p)

    # DTW
    a = rng.normal(size=(40, 24))
    mcd, path = dtw_mcd(a, a, return_path=True)
    rep.line(mcd == 0.0 and path == [(i, i) for i in range(40)], "dtw identical", f"mcd {mcd}, path = diagonal of {len(path)}")
    zero3, one3 = np.zeros((3, 24)), np.zeros((3, 24))
    one3[:, 0] = 1.0
    want = MCD_K * math.sqrt(2.0)
    got = dtw_mcd(zero3, one3)
    rep.line(abs(got - want) < 1e-12, "dtw known answer", f"{got:.12f} (want 10/ln10*sqrt2 = {want:.12f})")
    cm = np.array([[0, 0, 0], [0, 9, 0], [0, 0, 0]], float)
    tie_path = dtw_backtrack(dtw_accumulate(cm))
    rep.line(tie_path == [(0, 0), (0, 1), (1, 2), (2, 2)], "dtw tie order diag > up > left", f"path {tie_path}")
    tie2 = dtw_backtrack(dtw_accumulate(np.zeros((3, 2))))
    rep.line(tie2 == [(0, 0), (1, 0), (2, 1)], "dtw tie diagonal first", f"path {tie2}")
    brute_ok = True
    for trial in range(30):
        n, m = rng.integers(1, 6, size=2)
        cost = rng.integers(0, 4, size=(n, m)).astype(float)
        acc = dtw_accumulate(cost)
        best = brute_force_dtw(cost)
        p = dtw_backtrack(acc)
        brute_ok &= abs(acc[-1][-1] - best) < 1e-12 and abs(sum(cost[i, j] for i, j in p) - best) < 1e-12
        brute_ok &= p[0] == (0, 0) and p[-1] == (n - 1, m - 1) and all(
            (i2 - i1, j2 - j1) in ((1, 0), (0, 1), (1, 1)) for (i1, j1), (i2, j2) in zip(p, p[1:]))
    rep.line(brute_ok, "dtw vs brute force", "30 random integer cost matrices up to 5x5: optimal cost and a valid path")
    b = rng.normal(size=(55, 24))
    mcd_ab, p_ab = dtw_mcd(a, b, return_path=True)
    rep.line(max(40, 55) <= len(p_ab) <= 40 + 55 - 1 and mcd_ab > 0, "dtw path length bounds", f"{len(p_ab)} cells, mcd {mcd_ab:.3f}")

    # F0 errors
    tr = rng.uniform(80, 300, size=200) * (rng.random(200) > 0.3)
    e = f0_errors(tr, tr)
    rep.line(e["gpe"] == 0 and e["vde"] == 0 and e["ffe"] == 0, "f0 identical", f"{e}")
    ref = [0, 100, 100, 100, 200, 0]
    tst = [0, 0, 125, 110, 200, 50]
    e = f0_errors(ref, tst)
    rep.line(close(e["gpe"], 1 / 3, 1e-15) and close(e["vde"], 2 / 6, 1e-15) and close(e["ffe"], 3 / 6, 1e-15),
             "f0 known answer", f"gpe {e['gpe']} vde {e['vde']} ffe {e['ffe']} (want 1/3, 1/3, 1/2)")
    b80 = f0_errors([100], [80])["gpe"], f0_errors([100], [80], rule="contract")["gpe"]
    b120 = f0_errors([100], [120])["gpe"], f0_errors([100], [120], rule="contract")["gpe"]
    rep.line(b80 == (1.0, 0.0) and b120 == (0.0, 0.0), "f0 20 % boundary",
             f"100->80: fairseq {b80[0]} contract {b80[1]}; 100->120: fairseq {b120[0]} contract {b120[1]}")
    e = f0_errors([100, 100, 0], [0, 0, 0])
    rep.line(e["gpe"] is None and e["vde"] == 2 / 3 and e["ffe"] == 2 / 3, "f0 no frame voiced in both -> gpe null", f"{e}")
    rep.line(f0_errors([], [100])["vde"] is None, "f0 no frames -> null", "vde/ffe null")
    e = f0_errors([100, 100, 100, 100], [100, 100])
    e_ref = f0_errors([100, 100, 100, 100], [100, 100], length="ref")
    rep.line(e["frames"] == 2 and e["vde"] == 0 and e_ref["frames"] == 4 and e_ref["vde"] == 0.5,
             "f0 length modes", f"min: {e['frames']} frames vde {e['vde']}; ref (fairseq): {e_ref['frames']} frames vde {e_ref['vde']}")
    ffe_ok = cross_ok = True
    for trial in range(200):
        n1, n2 = rng.integers(2, 60, size=2)
        r = np.round(rng.uniform(60, 400, n1) * (rng.random(n1) > 0.4), 1)
        base = np.concatenate([r, rng.uniform(60, 400, n2)])[:n2]  # test frame k near ref frame k
        t = np.where(rng.random(n2) < 0.7, base * rng.choice([0.5, 0.8, 0.85, 1.0, 1.19, 1.2, 1.3, 2.0], n2),
                     rng.uniform(60, 400, n2))
        t = t * (rng.random(n2) > 0.3)
        e = f0_errors(r, t)
        gpart = e["gross_frames"] / e["frames"]
        ffe_ok &= e["ffe"] >= max(gpart, e["vde"]) - 1e-15 and e["ffe"] <= 1.0
        if e["gpe"] is not None:
            ffe_ok &= e["ffe"] >= e["gpe"] * e["both_voiced"] / e["frames"] - 1e-15
        fr = f0_errors(r, t, length="ref")
        lit = fairseq_style_f0_errors(r, t)
        cross_ok &= all(close(fr[k], lit[k], 1e-12) for k in ("gpe", "vde", "ffe"))
        if n1 == n2:
            cross_ok &= all(close(e[k], lit[k], 1e-12) for k in ("gpe", "vde", "ffe"))
    rep.line(ffe_ok, "ffe >= max(gross/frames, vde)", "200 random track pairs")
    rep.line(cross_ok, "f0_errors vs fairseq-shaped scipy interp1d version", "200 random pairs (length='ref'; equal lengths also 'min')")

    # a perturbed value must fail the comparisons check uses
    rep.line(close(1.2345, 1.2345 + 0.005, MCD_TOL_DB) and not close(1.2345 + 0.02, 1.2345, MCD_TOL_DB),
             "mcd tolerance", "+0.005 dB accepted, +0.02 dB rejected")
    rep.line(not close(0.25 + 1e-6, 0.25, F0_METRIC_TOL) and not close(None, 0.25, F0_METRIC_TOL)
             and not close(0.0, None, F0_METRIC_TOL) and close(None, None, F0_METRIC_TOL),
             "f0 metric tolerance", "+1e-6 rejected; null only matches null")
    print(f"{rep.count - rep.failures}/{rep.count} selftest checks passed")
    return 1 if rep.failures else 0


def brute_force_dtw(cost):
    n, m = cost.shape
    best = math.inf

    def walk(i, j, acc):
        nonlocal best
        acc += cost[i, j]
        if acc >= best:
            return
        if (i, j) == (n - 1, m - 1):
            best = acc
            return
        for di, dj in ((1, 1), (1, 0), (0, 1)):
            if i + di < n and j + dj < m:
                walk(i + di, j + dj, acc)

    walk(0, 0, 0.0)
    return best


def cmd_mcep(args):
    c = sptk_mcep(args.wav)
    print(f"{args.wav}: {read_wav(args.wav).size} samples -> c1..c24 {c.shape}; MCD vs itself {dtw_mcd(c, c):.4f}")
    if args.other:
        o = sptk_mcep(args.other)
        mcd, path = dtw_mcd(c, o, return_path=True)
        print(f"MCD vs {args.other}: {mcd:.4f} dB over {len(path)} path cells ({len(c)} x {len(o)} frames)")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ck = sub.add_parser("check", help="compare acoustok vocoder compare with the references")
    ck.add_argument("--acoustok", required=True, help="acoustok binary")
    ck.add_argument("--tmp", required=True, help="folder for the generated WAVs")
    ck.add_argument("--f0-length", choices=("min", "ref"), default="min",
                    help="frames the F0 metrics cover: min(len) (contract) or len(orig) (fairseq)")
    st = sub.add_parser("selftest", help="check the references themselves")
    st.add_argument("--tmp", default=None, help="folder for scratch WAVs (default /tmp)")
    mc = sub.add_parser("mcep", help="SPTK mel-cepstra of a WAV (and MCD against another)")
    mc.add_argument("wav")
    mc.add_argument("other", nargs="?")
    args = ap.parse_args(argv)
    return {"check": cmd_check, "selftest": cmd_selftest, "mcep": cmd_mcep}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
