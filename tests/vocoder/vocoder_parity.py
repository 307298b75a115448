#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Parity of acoustok's LibTorch unit HiFi-GAN with a speech-resynthesis-style
PyTorch reference (tests/vocoder/reference_hifigan.py).
Over 600 lines on purpose: one command for every parity check, so that the
shell tests and the benchmark share the same batches, dumps and tolerances.

Subcommands (each exits 0 on success, 1 on any mismatch, 2 on bad usage):

  batch    (--config CFG | --checkpoint CKPT) --batch-size B --frames F --seed S --out BATCH.pt
  init     --config CFG --out CKPT [--seed S] [--init-mode literal|intended]
  dump     --checkpoint CKPT --batch BATCH.pt --out DUMP.pt      (the reference's own dump)
  step     --checkpoint CKPT --batch BATCH.pt --dump DUMP.pt [--rtol 1e-4]
  released --out-dir DIR --config-preset tiny|small|v1 [--num-units K] [--seed S]
  synth    --checkpoint CKPT [--config config.json] --units UNITS.txt [--out OUT.npy] [--compare-wav WAV]
  selftest [--config tiny] [--workdir DIR]   (the oracle checks itself: determinism,
                                              passes on its own dump, fails on perturbed ones)

CFG is an acoustok vocoder config: tiny, small, v1 or a JSON file
({"base": "tiny", ...overrides}), as `acoustok vocoder train --config`
(--preset is the same option; released takes --config-preset or --preset).

dump, step and init take --msd-first-norm spectral|weight, --mel-fbank
slaney|htk and --optimizer adamw|adam. The defaults are HiFi-GAN's; the
others reproduce one known deviation of acoustok each, to measure it alone.
`step --double` runs the reference in float64.

CHECKPOINT (CKPT): what torch.load(CKPT) reads as a dict
  "format"        "acoustok-vocoder"
  "version"       2
  "config"        str, acoustok's VocoderConfig JSON (VocoderConfig::to_json)
  "state"         str, JSON training state (not used here)
  "generator"     {name: tensor}, names and shapes of the reference Generator's
                  state_dict: "dict.weight" [k + 1, emb] (k rows when the config
                  says "padding_row": false), "conv_pre.weight_g", ...
  "discriminator" {name: tensor}, of the reference Discriminators' state_dict:
                  "mpd.discriminators.N.convs.M.weight_g/_v/bias",
                  "msd.discriminators.0.convs.M.weight_orig/weight_u/weight_v/bias"
                  (spectral norm; weight_u/_v are its power-iteration buffers),
                  "msd.discriminators.N.convs.M.weight_g/_v/bias" for N > 0, conv_post alike.
A key-set or shape mismatch on either side fails `step` and names the keys.

BATCH.pt: {"units": int64 [B, F] in [0, k), "audio": float32 [B, 1, F * 320]}.

DUMP.pt (written by the C++ harness): a flat {key: tensor} dict of one
training step from the checkpoint's weights on the batch, with fresh
optimisers (lr 0.0002, betas (0.8, 0.99), eps 1e-8; AdamW weight decay 0.01 as
speech-resynthesis), modules in train mode:
  "audio_g"                    generator output before any update, [B, 1, F * 320]
  "d.{i}.real.score"           discriminator step: sub-discriminator i's score on the
  "d.{i}.real.fmap.{l}"          real audio and its feature maps l = 0..;
  "d.{i}.fake.score"           the same on the detached generator output;
  "d.{i}.fake.fmap.{l}"          i counts the MPD periods first, then the MSD scales
  "loss_d"                     0-d: sum over sub-discriminators of mean((1-r)^2) + mean(g^2)
  "loss_g"                     0-d: loss_mel + loss_fm + loss_adv
  "loss_mel"                   0-d: 45 x L1 between log-mels
  "loss_fm"                    0-d: 2 x sum of mean |r - g| over every feature map (MPD + MSD)
  "loss_adv"                   0-d: sum of mean((1-g)^2) over sub-discriminators
  "grad_d.{name}"              every discriminator parameter's gradient after the D
                               backward, before the D optimiser step
  "grad_g.{name}"              every generator parameter's gradient after the G backward
  "after_d.{name}"             every discriminator state_dict entry after both steps
                               (spectral-norm buffers weight_u/weight_v included)
  "after_g.{name}"             every generator state_dict entry after both steps
The G step runs the discriminators as updated by the D step. With spectral
norm every discriminator call in train mode does one power iteration, in
speech-resynthesis' order: D step then G step; in each, MPD then MSD; per
sub-discriminator the real audio, then the generated.

COMPARISON: one line per quantity, "OK"/"FAIL", its relative error and name.
The relative error of tensor a (dump) against b (reference) is
  max|a - b| / max(max|b|, 1e-8)
over all elements (a 0-d loss: |a - b| / max(|b|, 1e-8)); a quantity fails
above its tolerance, on a shape mismatch, or when a holds NaN/Inf. Every key
of the contract must be in the dump and nothing else may be. The tolerance is
--rtol (default 1e-4), except for "grad_g.*": --rtol-grad-g (default 1e-3).
The generator's gradients go through the log of the mel spectrogram, which
turns float32 rounding of the generated audio (1e-7) into ~2e-4 relative
gradient error wherever a mel band of the generated audio is near-silent
(measured between this reference in float32 and in float64 on the tiny
config). A float64 C++ dump checked with --double can use far smaller
tolerances (both 1e-9).
"after_*" of a parameter: Adam's first step moves each element by about
+-lr whatever the gradient's size, so an element whose reference gradient
is below the gradient tolerance (|g| <= rtol x max|g|, sign not determined by
the check on the gradients) may differ by up to 2 lr (+ 1e-6 relative); the
others count as above. The note says how many elements were so excused.
Besides the contract keys, "opt_d.{name}" / "opt_g.{name}" check the
optimiser alone: the reference optimiser applied in float64 to the
checkpoint's weights and the dump's own gradients gives expected weights e;
their error is max(0, |after - e| - 2 ulp_float32(e)) over max|e - before|
(so float32 rounding of the weights does not count, an update rule that
differs, e.g. Adam vs AdamW's decoupled weight decay, does).

SYNTH: acoustok synth writes PCM16 (libsndfile, clipping on), so
`synth --compare-wav` compares the WAV's int16 samples with
rint(reference * s) for s = 32767 and s = 32768 (libsndfile's two float
scalings) and passes when the better one is within --tolerance-lsb (default
1 LSB: float rounding may move a sample across a rounding boundary). The
lengths must be equal (320 samples per unit).
"""

import argparse
import contextlib
import io
import json
import math
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_hifigan as ref  # noqa: E402

FORMAT = "acoustok-vocoder"
VERSION = 2


class Mismatch(Exception):
    pass


# ---------------------------------------------------------------------------
# helpers


def variant_of(a):
    return {"msd_first_norm": getattr(a, "msd_first_norm", "spectral"),
            "mel_fbank": getattr(a, "mel_fbank", "slaney"),
            "optimizer": getattr(a, "optimizer", "adamw")}


def add_variant_args(p):
    p.add_argument("--msd-first-norm", choices=("spectral", "weight"), default="spectral",
                   help="norm of the first scale discriminator (HiFi-GAN: spectral)")
    p.add_argument("--mel-fbank", choices=("slaney", "htk"), default="slaney",
                   help="mel filterbank of the loss (HiFi-GAN: librosa's slaney)")
    p.add_argument("--optimizer", choices=("adamw", "adam"), default="adamw",
                   help="optimiser (speech-resynthesis: AdamW, weight decay 0.01)")


def load_checkpoint(path):
    ckpt = torch.load(path, map_location="cpu")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise Mismatch("%s: not an acoustok vocoder checkpoint (no 'format' = %s)" % (path, FORMAT))
    if ckpt.get("version") != VERSION:
        raise Mismatch("%s: checkpoint version %r, this script reads %d" % (path, ckpt.get("version"), VERSION))
    for k in ("config", "generator"):
        if k not in ckpt:
            raise Mismatch("%s: checkpoint has no '%s'" % (path, k))
    cfg = ref.acoustok_config_from_json(ckpt["config"])
    return ckpt, cfg


def check_keys(what, module_state, given):
    """Prints every difference of names and shapes; returns True when equal."""
    want, got = set(module_state), set(given)
    ok = True
    for k in sorted(want - got):
        print("FAIL %s: missing in the checkpoint: %s %s" % (what, k, tuple(module_state[k].shape)))
        ok = False
    for k in sorted(got - want):
        print("FAIL %s: unexpected in the checkpoint (the reference has no such tensor): %s %s"
              % (what, k, tuple(given[k].shape)))
        ok = False
    for k in sorted(want & got):
        if tuple(module_state[k].shape) != tuple(given[k].shape):
            print("FAIL %s: %s has shape %s, the reference needs %s"
                  % (what, k, tuple(given[k].shape), tuple(module_state[k].shape)))
            ok = False
    return ok


def models_from_checkpoint(ckpt, cfg, variant, double=False):
    G, D = ref.build_models(cfg, variant)
    ok = check_keys("generator", G.state_dict(), ckpt["generator"])
    disc = ckpt.get("discriminator")
    if disc is None:
        print("FAIL discriminator: the checkpoint has none")
        ok = False
    else:
        ok = check_keys("discriminator", D.state_dict(), disc) and ok
    if not ok:
        raise Mismatch("the checkpoint's tensors are not the reference's (strict load)")
    G.load_state_dict(dict(ckpt["generator"]), strict=True)
    D.load_state_dict(dict(disc), strict=True)
    if double:
        G.double()
        D.double()
    return G, D


def load_batch(path, cfg, double=False):
    b = torch.load(path, map_location="cpu")
    units, audio = b["units"], b["audio"]
    if units.dtype != torch.int64 or units.dim() != 2:
        raise Mismatch("%s: units must be int64 [B, F]" % path)
    if audio.dim() != 3 or audio.shape[1] != 1 or audio.shape[0] != units.shape[0] \
            or audio.shape[2] != units.shape[1] * ref.HOP:
        raise Mismatch("%s: audio must be [B, 1, F * %d]" % (path, ref.HOP))
    if units.min() < 0 or units.max() >= cfg["num_units"]:
        raise Mismatch("%s: units must be in [0, %d)" % (path, cfg["num_units"]))
    return units, audio.double() if double else audio.float()


def run_reference(ckpt_path, batch_path, variant, double=False):
    ckpt, cfg = load_checkpoint(ckpt_path)
    G, D = models_from_checkpoint(ckpt, cfg, variant, double)
    units, audio = load_batch(batch_path, cfg, double)
    opt_g, opt_d = ref.make_optimizers(G, D.mpd, D.msd, variant=variant)
    out = ref.train_step(G, D.mpd, D.msd, opt_g, opt_d, units, audio, variant)
    return ckpt, cfg, out


def rel_error(a, b):
    a = a.detach().to(torch.float64)
    b = b.detach().to(torch.float64)
    denom = max(b.abs().max().item() if b.numel() else 0.0, 1e-8)
    return (a - b).abs().max().item() / denom if a.numel() else 0.0


class Report:
    def __init__(self, rtol):
        self.rtol = rtol
        self.failures = 0
        self.count = 0

    def line(self, ok, err, name, note=""):
        self.count += 1
        if not ok:
            self.failures += 1
        print("%-4s %10s  %s%s" % ("OK" if ok else "FAIL", "-" if err is None else "%.3e" % err, name,
                                   ("  (" + note + ")") if note else ""))

    def tensor(self, name, a, b, rtol=None, grad=None, grad_rtol=None, lr=0.0002):
        rtol = self.rtol if rtol is None else rtol
        if a is None:
            return self.line(False, None, name, "missing in the dump")
        if tuple(a.shape) != tuple(b.shape):
            return self.line(False, None, name, "shape %s, reference %s" % (tuple(a.shape), tuple(b.shape)))
        if a.is_floating_point() and not torch.isfinite(a).all():
            return self.line(False, None, name, "NaN/Inf")
        if grad is None:
            err = rel_error(a, b)
            return self.line(err <= rtol, err, name)
        # A parameter after Adam's step: excuse elements whose gradient sign is undetermined.
        a64, b64, g64 = (t.detach().to(torch.float64) for t in (a, b, grad))
        undetermined = g64.abs() <= grad_rtol * g64.abs().max()
        diff = (a64 - b64).abs()
        denom = max(b64.abs().max().item() if b64.numel() else 0.0, 1e-8)
        det = diff[~undetermined]
        err = det.max().item() / denom if det.numel() else 0.0
        loose = diff[undetermined] - (2 * lr * 1.001 + 1e-6 * b64.abs()[undetermined])
        loose_ok = loose.numel() == 0 or loose.max().item() <= 0
        n = int(undetermined.sum().item())
        note = "%d element(s) with |grad| below its tolerance allowed 2 lr" % n if n else ""
        if not loose_ok:
            note = "an element with |grad| below its tolerance moved more than 2 lr"
        self.line(err <= rtol and loose_ok, err, name, note)


def optimizer_check(report, group, before, grads, after, variant):
    """The reference optimiser (fresh state, float64) on the dump's gradients."""
    names = sorted(grads)
    params = [before[n].detach().to(torch.float64).clone().requires_grad_(True) for n in names]
    for p, n in zip(params, names):
        p.grad = grads[n].detach().to(torch.float64).clone()
    kind = variant.get("optimizer", "adamw")
    opt = (torch.optim.AdamW if kind == "adamw" else torch.optim.Adam)(params, 0.0002, betas=(0.8, 0.99))
    opt.step()
    for p, n in zip(params, names):
        a = after.get(n)
        if a is None:
            report.line(False, None, "opt_%s.%s" % (group, n), "no after_%s in the dump" % group)
            continue
        e = p.detach()
        a64 = a.detach().to(torch.float64)
        ulp = torch.from_numpy(np.spacing(np.abs(e.numpy()).astype(np.float32)).astype(np.float64))
        err = (a64 - e).abs() - 2 * ulp
        upd = (e - before[n].detach().to(torch.float64)).abs().max().item()
        rel = max(err.max().item(), 0.0) / max(upd, 1e-12)
        report.line(rel <= report.rtol, rel, "opt_%s.%s" % (group, n))


# ---------------------------------------------------------------------------
# subcommands


def cmd_batch(a):
    if (a.config is None) == (a.checkpoint is None):
        raise SystemExit("batch: give --config or --checkpoint (its config), not both")
    cfg = ref.load_acoustok_config(a.config) if a.config else load_checkpoint(a.checkpoint)[1]
    g = torch.Generator().manual_seed(a.seed)
    units = torch.randint(0, cfg["num_units"], (a.batch_size, a.frames), generator=g, dtype=torch.int64)
    n = a.frames * ref.HOP
    t = torch.arange(n, dtype=torch.float64) / 16000.0
    rows = []
    for _ in range(a.batch_size):
        y = torch.zeros(n, dtype=torch.float64)
        for _ in range(3):
            f = 100.0 + 2900.0 * torch.rand(1, generator=g, dtype=torch.float64).item()
            amp = 0.05 + 0.15 * torch.rand(1, generator=g, dtype=torch.float64).item()
            ph = 2 * math.pi * torch.rand(1, generator=g, dtype=torch.float64).item()
            y += amp * torch.sin(2 * math.pi * f * t + ph)
        y += 0.01 * torch.randn(n, generator=g, dtype=torch.float64)
        peak = y.abs().max().item()
        if peak > 0.5:
            y *= 0.5 / peak
        rows.append(y.clamp(-0.5, 0.5))
    audio = torch.stack(rows).view(a.batch_size, 1, n).to(torch.float32)
    torch.save({"units": units, "audio": audio}, a.out)
    print("wrote %s: units %s, audio %s" % (a.out, tuple(units.shape), tuple(audio.shape)))
    return 0


def make_checkpoint(cfg, seed, init_mode, variant):
    torch.manual_seed(seed)
    G, D = ref.build_models(cfg, variant, init_mode=init_mode)
    if cfg.get("padding_row", True):
        with torch.no_grad():
            G.dict.weight[cfg["num_units"]].zero_()  # acoustok: row k is the padding id
    return {
        "format": FORMAT,
        "version": VERSION,
        "config": ref.acoustok_to_json(cfg),
        "state": json.dumps({"epoch": 0, "seed": seed, "init": init_mode, "source": "tests/vocoder/vocoder_parity.py"}),
        "generator": {k: v.detach().clone().contiguous() for k, v in G.state_dict().items()},
        "discriminator": {k: v.detach().clone().contiguous() for k, v in D.state_dict().items()},
    }


def cmd_init(a):
    cfg = ref.load_acoustok_config(a.config)
    if a.num_units is not None:
        cfg["num_units"] = a.num_units
    torch.save(make_checkpoint(cfg, a.seed, a.init_mode, variant_of(a)), a.out)
    print("wrote %s (config %s, k=%d, seed %d, init %s)" % (a.out, cfg["name"], cfg["num_units"], a.seed, a.init_mode))
    return 0


def cmd_dump(a):
    _, _, out = run_reference(a.checkpoint, a.batch, variant_of(a), a.double)
    torch.save(ref.flatten_step(out), a.out)
    print("wrote %s" % a.out)
    return 0


def cmd_step(a):
    variant = variant_of(a)
    ckpt, cfg, out = run_reference(a.checkpoint, a.batch, variant, a.double)
    expected = ref.flatten_step(out)
    # The step dump is the test's own (torch::pickle_save, whose tagged dicts
    # PyTorch 2.6's default weights_only refuses); checkpoints load as they are.
    dump = torch.load(a.dump, map_location="cpu", weights_only=False)
    if not isinstance(dump, dict):
        raise Mismatch("%s: not a dict of tensors" % a.dump)
    report = Report(a.rtol)
    for k in sorted(set(dump) - set(expected)):
        report.line(False, None, k, "unexpected key in the dump")
    for k, b in expected.items():
        if k.startswith("grad_g."):
            report.tensor(k, dump.get(k), b, rtol=a.rtol_grad_g)
        elif k.startswith("after_d.") and k[len("after_d."):] in out["grad_d"]:
            report.tensor(k, dump.get(k), b, grad=out["grad_d"][k[len("after_d."):]], grad_rtol=a.rtol)
        elif k.startswith("after_g.") and k[len("after_g."):] in out["grad_g"]:
            report.tensor(k, dump.get(k), b, grad=out["grad_g"][k[len("after_g."):]], grad_rtol=a.rtol_grad_g)
        else:
            report.tensor(k, dump.get(k), b)
    before_d = {k: v for k, v in ckpt["discriminator"].items()}
    grads_d = {k[len("grad_d."):]: v for k, v in dump.items() if k.startswith("grad_d.")}
    after_d = {k[len("after_d."):]: v for k, v in dump.items() if k.startswith("after_d.")}
    grads_g = {k[len("grad_g."):]: v for k, v in dump.items() if k.startswith("grad_g.")}
    after_g = {k[len("after_g."):]: v for k, v in dump.items() if k.startswith("after_g.")}
    param_d = set(out["grad_d"])
    param_g = set(out["grad_g"])
    optimizer_check(report, "d", before_d, {k: v for k, v in grads_d.items() if k in param_d}, after_d, variant)
    optimizer_check(report, "g", ckpt["generator"], {k: v for k, v in grads_g.items() if k in param_g}, after_g, variant)
    print("%s: %d of %d quantities outside their tolerance (rtol %g, grad_g %g)"
          % ("FAIL" if report.failures else "OK", report.failures, report.count, a.rtol, a.rtol_grad_g))
    return 1 if report.failures else 0


def cmd_released(a):
    cfg = ref.load_acoustok_config(a.config_preset)
    cfg["num_units"] = a.num_units
    h = ref.speech_resynthesis_h(cfg)
    torch.manual_seed(a.seed)
    G = ref.Generator(h, init_mode=a.init_mode)
    os.makedirs(a.out_dir, exist_ok=True)
    torch.save({"generator": G.state_dict()}, os.path.join(a.out_dir, "g_00000000"))
    with open(os.path.join(a.out_dir, "config.json"), "w") as f:
        json.dump(h, f, indent=4)
        f.write("\n")
    print("wrote %s/g_00000000 and config.json (num_embeddings %d)" % (a.out_dir, h["num_embeddings"]))
    return 0


def load_generator_for_synth(a):
    obj = torch.load(a.checkpoint, map_location="cpu")
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        ckpt, cfg = load_checkpoint(a.checkpoint)
        G = ref.Generator(cfg)
        limit = cfg["num_units"]  # acoustok: every id must be below k
    else:
        if not isinstance(obj, dict) or "generator" not in obj:
            raise Mismatch("%s: neither an acoustok checkpoint nor a speech-resynthesis g_ file" % a.checkpoint)
        cfg_path = a.config or os.path.join(os.path.dirname(os.path.abspath(a.checkpoint)), "config.json")
        with open(cfg_path) as f:
            h = json.load(f)
        G = ref.Generator(h)
        limit = h["num_embeddings"]
        ckpt = obj
    if not check_keys("generator", G.state_dict(), ckpt["generator"]):
        raise Mismatch("the generator's tensors are not the reference's (strict load)")
    G.load_state_dict(dict(ckpt["generator"]), strict=True)
    G.eval()
    if not a.keep_weight_norm:
        G.remove_weight_norm()  # as speech-resynthesis' inference.py
    return G, limit


def cmd_synth(a):
    G, limit = load_generator_for_synth(a)
    lines = ref.read_units_file(a.units)
    if not lines:
        raise Mismatch("%s: no unit" % a.units)
    pieces = []
    with torch.no_grad():
        for lineno, ids in lines:
            bad = [u for u in ids if u < 0 or u >= limit]
            if bad:
                raise Mismatch("%s:%d: unit %d is not below %d" % (a.units, lineno, bad[0], limit))
            pieces.append(G(torch.tensor([ids], dtype=torch.int64)).reshape(-1).to(torch.float32).numpy())
    y = np.concatenate(pieces).astype(np.float32)
    if a.out:
        np.save(a.out, y)
    print("synthesised %d samples (%d units)%s" % (y.size, sum(len(i) for _, i in lines),
                                                  " -> " + a.out if a.out else ""))
    if a.compare_wav:
        return compare_wav(a.compare_wav, y, a.tolerance_lsb)
    return 0


def compare_wav(path, y, tol):
    from scipy.io import wavfile
    rate, data = wavfile.read(path)
    if rate != 16000 or data.dtype != np.int16 or data.ndim != 1:
        print("FAIL %s: expected 16 kHz mono PCM16, got %d Hz %s %s" % (path, rate, data.dtype, data.shape))
        return 1
    if data.size != y.size:
        print("FAIL %s: %d samples, the reference has %d" % (path, data.size, y.size))
        return 1
    best = None
    for scale in (32767.0, 32768.0):
        q = np.clip(np.rint(y.astype(np.float64) * scale), -32768, 32767)
        d = np.abs(data.astype(np.float64) - q).max()
        if best is None or d < best[0]:
            best = (d, scale)
    ok = best[0] <= tol
    print("%-4s %10s  wav %s vs reference (scale %d, max difference in LSB; tolerance %g)"
          % ("OK" if ok else "FAIL", "%.0f" % best[0], path, best[1], tol))
    return 0 if ok else 1


# ---------------------------------------------------------------------------
# selftest: the oracle must be deterministic, pass on itself, fail otherwise


def _librosa_slaney_mel(sr, n_fft, n_mels, fmin, fmax):
    """librosa.filters.mel's algorithm (htk=False, norm='slaney'), in numpy."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0

    def hz_to_mel(f):
        return min_log_mel + math.log(f / min_log_hz) / logstep if f >= min_log_hz else f / f_sp

    def mel_to_hz(m):
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    fftfreqs = np.linspace(0, sr / 2.0, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    w = np.zeros((n_mels, 1 + n_fft // 2))
    for i in range(n_mels):
        w[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    return w * (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]


def _quiet(argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            rc = main(argv)
        except Mismatch as e:
            print("FAIL %s" % e)
            rc = 1
    return rc, buf.getvalue()


def _tensors_equal(x, y):
    if isinstance(x, dict):
        return isinstance(y, dict) and set(x) == set(y) and all(_tensors_equal(x[k], y[k]) for k in x)
    if torch.is_tensor(x):
        return torch.is_tensor(y) and x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y)
    return x == y


def cmd_selftest(a):
    failures = []

    def expect(cond, what):
        print("%-4s %s" % ("OK" if cond else "FAIL", what))
        if not cond:
            failures.append(what)

    ctx = tempfile.TemporaryDirectory() if a.workdir is None else contextlib.nullcontext(a.workdir)
    with ctx as d:
        os.makedirs(d, exist_ok=True)
        p = lambda name: os.path.join(d, name)  # noqa: E731
        cfg = a.config

        fb = ref.mel_filterbank(1024, 80, 16000, 0, 8000, "slaney").double().numpy()
        lib = _librosa_slaney_mel(16000, 1024, 80, 0.0, 8000.0)
        expect(np.abs(fb - lib).max() / np.abs(lib).max() < 1e-5,
               "torchaudio slaney filterbank equals librosa.filters.mel's algorithm")

        expect(_quiet(["init", "--config", cfg, "--out", p("a.pt"), "--seed", "7"])[0] == 0, "init")
        _quiet(["init", "--config", cfg, "--out", p("a2.pt"), "--seed", "7"])
        _quiet(["init", "--config", cfg, "--out", p("b.pt"), "--seed", "8"])
        A, A2, B = (torch.load(p(n)) for n in ("a.pt", "a2.pt", "b.pt"))
        expect(_tensors_equal(A, A2), "init is deterministic (same seed, same tensors)")
        expect(not _tensors_equal(A["generator"], B["generator"]), "init depends on the seed")
        torch.manual_seed(7)
        G_ = ref.Generator(ref.load_acoustok_config(cfg))
        w = G_.resblocks[0].convs1[0].weight_v
        expect(w.std().item() > 0.02, "literal HiFi-GAN init keeps PyTorch's default conv init (std %.3f)"
               % w.std().item())

        _quiet(["batch", "--config", cfg, "--batch-size", "2", "--frames", "12", "--seed", "3", "--out", p("x.pt")])
        _quiet(["batch", "--config", cfg, "--batch-size", "2", "--frames", "12", "--seed", "3", "--out", p("x2.pt")])
        X, X2 = torch.load(p("x.pt")), torch.load(p("x2.pt"))
        expect(_tensors_equal(X, X2), "batch is deterministic")
        expect(X["audio"].abs().max().item() <= 0.5, "batch audio within [-0.5, 0.5]")

        rc, _ = _quiet(["dump", "--checkpoint", p("a.pt"), "--batch", p("x.pt"), "--out", p("d.pt")])
        _quiet(["dump", "--checkpoint", p("a.pt"), "--batch", p("x.pt"), "--out", p("d2.pt")])
        D1, D2 = torch.load(p("d.pt")), torch.load(p("d2.pt"))
        expect(rc == 0 and _tensors_equal(D1, D2), "the reference step is deterministic (%d tensors)" % len(D1))
        expect(all(torch.isfinite(v).all() for v in D1.values()), "the reference step is finite")
        sn = [k for k in D1 if k.startswith("after_d.msd.discriminators.0.") and k.endswith("weight_u")]
        expect(len(sn) == 8, "the first scale discriminator has spectral norm (8 weight_u buffers)")
        ck = torch.load(p("a.pt"))
        sn = [k for k in sn if "conv_post" not in k]  # one output channel: u is +-1 and cannot move
        moved = [k for k in sn if not torch.equal(D1[k], ck["discriminator"][k[len("after_d."):]])]
        expect(len(moved) == len(sn), "spectral norm power iterations ran (weight_u moved)")

        def step(dump, *extra):
            return _quiet(["step", "--checkpoint", p("a.pt"), "--batch", p("x.pt"), "--dump", dump] + list(extra))

        rc, text = step(p("d.pt"))
        expect(rc == 0, "step passes against the reference's own dump")
        if rc != 0:
            print(text)
        rc, _ = step(p("d.pt"), "--double")
        expect(rc == 0, "step --double (float64 reference) passes against the float32 dump")

        def perturbed(name, edit):
            dd = {k: v.clone() for k, v in D1.items()}
            edit(dd)
            torch.save(dd, p("bad.pt"))
            rc, text = step(p("bad.pt"))
            expect(rc == 1, "step fails on a perturbed dump: " + name)
            return text

        def bump(key, rel):
            def f(dd):
                t = dd[key]
                i = t.abs().argmax() if t.dim() else None
                if i is None:
                    dd[key] = t * (1 + rel)
                else:
                    t.view(-1)[i] = t.view(-1)[i] * (1 + rel)
            return f

        gk = "grad_g.ups.0.weight_v"
        perturbed("%s x (1 + 1e-3) at one element" % gk, bump(gk, 1e-3))
        perturbed("grad_d of msd scale 0 conv 3", bump("grad_d.msd.discriminators.0.convs.3.weight_orig", 1e-3))
        perturbed("loss_mel x (1 + 1e-3)", bump("loss_mel", 1e-3))
        perturbed("d.6.fake.fmap.2 x (1 + 1e-3)", bump("d.6.fake.fmap.2", 1e-3))
        perturbed("audio_g x (1 + 1e-3)", bump("audio_g", 1e-3))

        def skip_update(dd):  # one weight not updated: caught by the optimiser check
            k = "after_g.conv_post.bias"
            dd[k] = ck["generator"]["conv_post.bias"].clone()
        perturbed("after_g.conv_post.bias not updated", skip_update)
        perturbed("a key missing", lambda dd: dd.pop("grad_d.mpd.discriminators.0.convs.0.bias"))
        perturbed("an extra key", lambda dd: dd.__setitem__("grad_d.mpd.extra", torch.zeros(1)))
        perturbed("a NaN", lambda dd: dd["loss_adv"].fill_(float("nan")))

        for flag, val, what in (("--optimizer", "adam", "Adam instead of AdamW"),
                                ("--mel-fbank", "htk", "HTK mel filterbank instead of librosa's slaney")):
            _quiet(["dump", "--checkpoint", p("a.pt"), "--batch", p("x.pt"), "--out", p("v.pt"), flag, val])
            rc, text = step(p("v.pt"))
            expect(rc == 1, "step fails on a dump made with " + what)
            fails = [ln for ln in text.splitlines() if ln.startswith("FAIL")]
            print("       %d failing lines, e.g. %s" % (len(fails), fails[0] if fails else "-"))
            rc, _ = step(p("v.pt"), flag, val)
            expect(rc == 0, "... and passes when the reference takes the same deviation (%s %s)" % (flag, val))

        # The checkpoint of a model without spectral norm on the first scale
        # (acoustok's layout today) is refused, naming the keys.
        _quiet(["init", "--config", cfg, "--out", p("w.pt"), "--seed", "7", "--msd-first-norm", "weight"])
        rc, text = _quiet(["step", "--checkpoint", p("w.pt"), "--batch", p("x.pt"), "--dump", p("d.pt")])
        expect(rc == 1 and "weight_orig" in text and "weight_g" in text,
               "step refuses a checkpoint with weight norm on the first scale discriminator and names the keys")
        _quiet(["dump", "--checkpoint", p("w.pt"), "--batch", p("x.pt"), "--out", p("wd.pt"), "--msd-first-norm", "weight"])
        rc, _ = _quiet(["step", "--checkpoint", p("w.pt"), "--batch", p("x.pt"), "--dump", p("wd.pt"),
                        "--msd-first-norm", "weight"])
        expect(rc == 0, "... and measures the rest with --msd-first-norm weight")

        # A config without the padding row (an imported released vocoder), and
        # the option spellings of tests/vocoder/test_vocoder_parity.sh.
        with open(p("np.json"), "w") as f:
            json.dump({"base": "tiny", "padding_row": False, "num_units": 20}, f)
        ok = _quiet(["init", "--preset", p("np.json"), "--out", p("np.pt"), "--seed", "1"])[0] == 0
        ok = ok and _quiet(["batch", "--checkpoint", p("np.pt"), "--out", p("npx.pt"), "--batch-size", "1",
                            "--frames", "8", "--seed", "2"])[0] == 0
        ok = ok and _quiet(["dump", "--checkpoint", p("np.pt"), "--batch", p("npx.pt"), "--out", p("npd.pt")])[0] == 0
        ok = ok and _quiet(["step", "--checkpoint", p("np.pt"), "--batch", p("npx.pt"), "--dump", p("npd.pt")])[0] == 0
        expect(ok and tuple(torch.load(p("np.pt"))["generator"]["dict.weight"].shape) == (20, 32),
               "padding_row false: k embedding rows, init/batch --checkpoint/dump/step work")

        # Released vocoder and synth
        rel_dir = p("released")
        expect(_quiet(["released", "--out-dir", rel_dir, "--preset", cfg if cfg in ("tiny", "small", "v1")
                       else "tiny", "--seed", "5"])[0] == 0, "released")
        with open(os.path.join(rel_dir, "config.json")) as f:
            h = json.load(f)
        expect(h["num_embeddings"] == 100 and h["resblock"] == "1" and h["code_hop_size"] == 320,
               "released config.json in speech-resynthesis' format")
        with open(p("units.txt"), "w") as f:
            f.write("1 2 3 4 5 6 7\n\n99 0 42\n")
        rc, _ = _quiet(["synth", "--checkpoint", os.path.join(rel_dir, "g_00000000"), "--units", p("units.txt"),
                        "--out", p("y.npy")])
        y = np.load(p("y.npy"))
        expect(rc == 0 and y.dtype == np.float32 and y.size == 10 * 320, "synth: 320 float32 samples per unit")
        rc, _ = _quiet(["synth", "--checkpoint", os.path.join(rel_dir, "g_00000000"), "--units", p("units.txt"),
                        "--out", p("y2.npy"), "--keep-weight-norm"])
        expect(rc == 0 and np.abs(np.load(p("y2.npy")) - y).max() < 1e-5,
               "synth: removing weight norm changes nothing beyond float rounding")
        from scipy.io import wavfile
        pcm = np.clip(np.rint(y.astype(np.float64) * 32767), -32768, 32767).astype(np.int16)
        wavfile.write(p("s.wav"), 16000, pcm)
        rc, _ = _quiet(["synth", "--checkpoint", os.path.join(rel_dir, "g_00000000"), "--units", p("units.txt"),
                        "--out", p("y3.npy"), "--compare-wav", p("s.wav")])
        expect(rc == 0, "synth --compare-wav passes on the reference's own PCM16 (scale 32767)")
        wavfile.write(p("s8.wav"), 16000, np.clip(np.rint(y.astype(np.float64) * 32768), -32768, 32767).astype(np.int16))
        rc, _ = _quiet(["synth", "--checkpoint", os.path.join(rel_dir, "g_00000000"), "--units", p("units.txt"),
                        "--compare-wav", p("s8.wav")])
        expect(rc == 0, "synth --compare-wav passes on PCM16 scaled by 32768, and without --out")
        pcm[len(pcm) // 2] += 3
        wavfile.write(p("s.wav"), 16000, pcm)
        rc, _ = _quiet(["synth", "--checkpoint", os.path.join(rel_dir, "g_00000000"), "--units", p("units.txt"),
                        "--out", p("y3.npy"), "--compare-wav", p("s.wav")])
        expect(rc == 1, "synth --compare-wav fails when one sample is 3 LSB off")
        rc, _ = _quiet(["synth", "--checkpoint", p("a.pt"), "--units", p("units.txt"), "--out", p("y4.npy")])
        expect(rc == 0, "synth reads acoustok checkpoints too")

    print("selftest: %s (%d failed)" % ("OK" if not failures else "FAIL", len(failures)))
    return 1 if failures else 0


# ---------------------------------------------------------------------------


def parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("batch", help="write a deterministic random batch")
    p.add_argument("--config", "--preset", default=None)
    p.add_argument("--checkpoint", default=None, help="take the config from this checkpoint")
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--frames", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("init", help="write a reference-initialised acoustok checkpoint")
    p.add_argument("--config", "--preset", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--num-units", type=int, default=None, help="override the config's k")
    p.add_argument("--init-mode", choices=("literal", "intended"), default="literal",
                   help="literal: what HiFi-GAN runs (init_weights after weight_norm: a no-op); "
                        "intended: weight_v ~ N(0, 0.01)")
    add_variant_args(p)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("dump", help="write the reference's own step dump")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--batch", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--double", action="store_true", help="run the reference in float64")
    add_variant_args(p)
    p.set_defaults(func=cmd_dump)

    p = sub.add_parser("step", help="compare a training-step dump with the reference")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--batch", required=True)
    p.add_argument("--dump", required=True)
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--rtol-grad-g", type=float, default=1e-3, help="tolerance of the generator's gradients")
    p.add_argument("--double", action="store_true", help="run the reference in float64")
    add_variant_args(p)
    p.set_defaults(func=cmd_step)

    p = sub.add_parser("released", help="write a speech-resynthesis style released vocoder")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--config-preset", "--preset", required=True, help="tiny, small, v1 or an acoustok JSON config")
    p.add_argument("--num-units", type=int, default=100)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--init-mode", choices=("literal", "intended"), default="literal")
    p.set_defaults(func=cmd_released)

    p = sub.add_parser("synth", help="run the reference generator on a unit text file")
    p.add_argument("--checkpoint", required=True, help="speech-resynthesis g_XXXXXXXX or an acoustok checkpoint")
    p.add_argument("--config", default=None, help="speech-resynthesis config.json (default: beside the checkpoint)")
    p.add_argument("--units", required=True)
    p.add_argument("--out", default=None, help="float32 .npy")
    p.add_argument("--compare-wav", default=None, help="acoustok synth's PCM16 WAV to compare with")
    p.add_argument("--tolerance-lsb", type=float, default=1.0)
    p.add_argument("--keep-weight-norm", action="store_true",
                   help="do not remove weight norm (speech-resynthesis' inference removes it)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("selftest", help="check the oracle itself")
    p.add_argument("--config", default="tiny")
    p.add_argument("--workdir", default=None)
    p.set_defaults(func=cmd_selftest)
    return ap


def main(argv=None):
    a = parser().parse_args(argv)
    return a.func(a)


if __name__ == "__main__":
    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
    try:
        sys.exit(main())
    except Mismatch as e:
        print("FAIL %s" % e)
        sys.exit(1)
