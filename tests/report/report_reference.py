#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Independent references for the report library's unit tests (Python's
# base64, zlib, xml.etree and NumPy; nothing of acoustok's):
#   base64 IN OUT          OUT = base64 of IN's bytes
#   png IN OUT             decodes the PNG IN (every chunk's CRC checked, all
#                          five filters), writes its RGB bytes to OUT, prints "W H"
#   png64 IN OUT           the same for base64 text IN (a data: URI's payload)
#   svg IN                 parses IN as XML; prints a JSON summary of its elements
#   xml IN                 parses IN (an HTML fragment) as XML inside one root
#   mel IN MAX_COLS OUT    log-mel spectrogram of float32 samples IN as float64 [cols, 80]
import base64
import json
import struct
import sys
import xml.etree.ElementTree as ET
import zlib


def cmd_base64(src, dst):
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(base64.b64encode(f.read()))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def cmd_png(src, dst, encoded=False):
    data = open(src, "rb").read()
    if encoded:
        data = base64.b64decode(data, validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, idat, chunks = 8, b"", []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, "bad CRC of %r" % kind
        chunks.append(kind)
        if kind == b"IHDR":
            w, h, depth, color, comp, filt, inter = struct.unpack(">IIBBBBB", body)
            assert (depth, color, comp, filt, inter) == (8, 2, 0, 0, 0), "not 8-bit RGB"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND", chunks
    raw = zlib.decompress(idat)
    stride = w * 3
    assert len(raw) == h * (stride + 1), "wrong image data size"
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            c = prev[i - 3] if i >= 3 else 0
            pred = [0, a, prev[i], (a + prev[i]) // 2, paeth(a, prev[i], c)][f]
            line[i] = (line[i] + pred) & 0xFF
        out += line
        prev = line
    open(dst, "wb").write(bytes(out))
    print(w, h)


def cmd_svg(src):
    root = ET.parse(src).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    counts, elems = {}, []
    for e in root.iter():
        tag = e.tag.replace(ns, "")
        key = tag + ("." + e.get("class") if e.get("class") else "")
        counts[key] = counts.get(key, 0) + 1
        if tag in ("rect", "circle", "polyline", "line", "image", "path"):
            elems.append(dict(e.attrib, tag=tag))
    print(json.dumps({"root": root.tag.replace(ns, ""), "counts": counts, "elements": elems}))


def cmd_xml(src):
    ET.fromstring("<root>" + open(src, encoding="utf-8").read() + "</root>")


def cmd_mel(src, max_cols, dst):
    import numpy as np
    x = np.fromfile(src, dtype=np.float32).astype(np.float64)
    n_fft, hop, n_mels, sr = 1024, 256, 80, 16000
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = 1 if len(x) <= n_fft else (len(x) - n_fft) // hop + 1
    padded = np.zeros(max(len(x), n_fft))
    padded[:len(x)] = x
    power = np.stack([np.abs(np.fft.rfft(padded[t * hop:t * hop + n_fft] * window)) ** 2 for t in range(frames)])
    # HTK mel triangles over the FFT bins (torchaudio melscale_fbanks, norm=None, mel_scale="htk").
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)
    hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_pts = hz(np.linspace(mel(0.0), mel(sr / 2), n_mels + 2))
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    down = (freqs[:, None] - f_pts[None, :-2]) / (f_pts[1:-1] - f_pts[:-2])[None, :]
    up = (f_pts[None, 2:] - freqs[:, None]) / (f_pts[2:] - f_pts[1:-1])[None, :]
    bank = np.maximum(0, np.minimum(down, up))  # [bins, mels]
    mels = power @ bank
    group = max(1, -(-frames // max_cols))
    cols = -(-frames // group)
    out = np.stack([mels[c * group:(c + 1) * group].mean(axis=0) for c in range(cols)])
    (10 * np.log10(out + 1e-10)).astype(np.float64).tofile(dst)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "base64":
        cmd_base64(*args)
    elif cmd == "png":
        cmd_png(*args)
    elif cmd == "png64":
        cmd_png(*args, encoded=True)
    elif cmd == "svg":
        cmd_svg(*args)
    elif cmd == "xml":
        cmd_xml(*args)
    elif cmd == "mel":
        cmd_mel(args[0], int(args[1]), args[2])
    else:
        sys.exit("unknown command " + cmd)
