# SPDX-License-Identifier: MIT
"""PyTorch reference of fairseq's CodeHiFiGAN vocoder, for acoustok's tests.

Structured as fairseq/models/text_to_speech/codehifigan.py CodeGenerator
(and speech-resynthesis models.py CodeGenerator): the unit HiFi-GAN of
reference_hifigan.py plus
* "dur_predictor": fastspeech2.py's VariancePredictor (Conv1d + ReLU,
  LayerNorm, Conv1d + ReLU (padding 1 whatever the kernel), LayerNorm,
  Linear -> log-duration per unit); durations
  clamp(round(exp(log_d) - 1), min=1), units repeated by them;
* "spkr": a speaker table nn.Embedding(num_speakers, embedding_dim)
  (multispkr without embedder_params) or an embedder
  nn.Linear(embedder_dim, embedding_dim) (embedder_params); the speaker's
  vector is repeated over time and concatenated after the unit channels.
Written for this project from the published structure; no code was copied.

  write --out-dir DIR [--preset tiny|small] [--num-units K] [--seed S]
        [--dur-predictor] [--num-speakers N] [--embedder-dim D]
      DIR/g_00000000 (torch.save({"generator": state_dict}), weight norm
      kept, as fairseq ships) and DIR/config.json (fairseq's keys).
  synth --out-dir DIR --units UNITS.txt [--dur-prediction] [--speaker N]
        [--speaker-embedding E.npy] --out-wav OUT.wav
      Reference audio of every line, joined, as a float32 16 kHz WAV; with
      --dur-prediction also OUT.wav.durations.txt (one line of durations
      per input line). Weight norm is removed first, as fairseq's
      CodeHiFiGANVocoder does.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_hifigan as ref  # noqa: E402

FAIRSEQ_DEFAULT_SPEAKERS = 200  # codehifigan.py: cfg.get("num_speakers", 200)
FAIRSEQ_DEFAULT_EMBEDDER_DIM = 256  # cfg.get("embedder_dim", 256)


class VariancePredictor(nn.Module):
    """fastspeech2.py's VariancePredictor in eval mode (dropout is identity)."""

    def __init__(self, p):
        super().__init__()
        k = p["var_pred_kernel_size"]
        hidden = p["var_pred_hidden_dim"]
        self.conv1 = nn.Sequential(nn.Conv1d(p["encoder_embed_dim"], hidden, k, padding=(k - 1) // 2), nn.ReLU())
        self.ln1 = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(p.get("var_pred_dropout", 0.5))
        self.conv2 = nn.Sequential(nn.Conv1d(hidden, hidden, k, padding=1), nn.ReLU())
        self.ln2 = nn.LayerNorm(hidden)
        self.proj = nn.Linear(hidden, 1)

    def forward(self, x):
        """x [B, T, C] -> log-durations [B, T]."""
        x = self.conv1(x.transpose(1, 2)).transpose(1, 2)
        x = self.dropout(self.ln1(x))
        x = self.conv2(x.transpose(1, 2)).transpose(1, 2)
        x = self.dropout(self.ln2(x))
        return self.proj(x).squeeze(dim=2)


class CodeGenerator(ref.Generator):
    def __init__(self, h):
        super().__init__(h, conditioned=True)
        self.multispkr = h.get("multispkr")
        self.embedder = h.get("embedder_params")
        if self.multispkr and not self.embedder:
            self.spkr = nn.Embedding(h.get("num_speakers", FAIRSEQ_DEFAULT_SPEAKERS), h["embedding_dim"])
        elif self.embedder:
            self.spkr = nn.Linear(h.get("embedder_dim", FAIRSEQ_DEFAULT_EMBEDDER_DIM), h["embedding_dim"])
        self.dur_predictor = VariancePredictor(h["dur_predictor_params"]) if h.get("dur_predictor_params") else None

    def durations(self, code):
        """code [1, T] -> durations [T] int64, as codehifigan.py computes them."""
        x = self.dict(code)  # [1, T, emb]
        log_d = self.dur_predictor(x)
        return torch.clamp(torch.round(torch.exp(log_d) - 1).long(), min=1).view(-1)

    def forward(self, code, dur_prediction=False, spkr=None):
        """code [1, T] int64; spkr: [1, 1] int64 (table) or [1, 1, D] float (embedder)."""
        x = self.dict(code).transpose(1, 2)  # [1, emb, T]
        durations = None
        if self.dur_predictor is not None and dur_prediction:
            durations = self.durations(code)
            x = torch.repeat_interleave(x, durations, dim=2)
        if self.multispkr:
            if spkr is None:
                raise ValueError("this vocoder needs a speaker (--speaker or --speaker-embedding)")
            s = self.spkr(spkr).transpose(1, 2)  # [1, emb, 1]
            x = torch.cat([x, s.expand(-1, -1, x.shape[-1])], dim=1)
        return self.generate(x), durations


def fairseq_config(preset, num_units, dur_predictor, num_speakers, embedder_dim):
    c = ref.acoustok_preset(preset)
    c["num_units"] = num_units
    h = ref.speech_resynthesis_h(c)
    emb = h["embedding_dim"]
    if dur_predictor:
        h["dur_predictor_params"] = {"encoder_embed_dim": emb, "var_pred_hidden_dim": emb,
                                     "var_pred_kernel_size": 3, "var_pred_dropout": 0.5}
    if num_speakers or embedder_dim:
        h["multispkr"] = True
        h["model_in_dim"] = 2 * emb
    if num_speakers:
        h["num_speakers"] = num_speakers
    if embedder_dim:
        h["embedder_params"] = {"embedder_dim": embedder_dim}
        h["embedder_dim"] = embedder_dim
    return h


def cmd_write(a):
    h = fairseq_config(a.preset, a.num_units, a.dur_predictor, a.num_speakers, a.embedder_dim)
    torch.manual_seed(a.seed)
    G = CodeGenerator(h)
    if G.dur_predictor is not None:
        # PyTorch's default init predicts durations of about 1 everywhere:
        # spread them (1 to ~6 frames) so that repetition is exercised.
        with torch.no_grad():
            G.dur_predictor.proj.weight.mul_(1.5)
            G.dur_predictor.proj.bias.fill_(1.2)
    # A randomly initialised HiFi-GAN is near silent (std ~4e-4): a 1e-4
    # tolerance would then hide a wrong speaker or duration. Louder output
    # (std ~0.04) makes every input matter.
    with torch.no_grad():
        G.conv_post.weight_g.mul_(100.0)
    os.makedirs(a.out_dir, exist_ok=True)
    torch.save({"generator": G.state_dict()}, os.path.join(a.out_dir, "g_00000000"))
    with open(os.path.join(a.out_dir, "config.json"), "w") as f:
        json.dump(h, f, indent=4)
        f.write("\n")
    print("wrote %s/g_00000000 and config.json" % a.out_dir)
    return 0


def load(out_dir):
    with open(os.path.join(out_dir, "config.json")) as f:
        h = json.load(f)
    G = CodeGenerator(h)
    state = torch.load(os.path.join(out_dir, "g_00000000"), map_location="cpu")["generator"]
    G.load_state_dict(state, strict=True)
    G.eval()
    G.remove_weight_norm()
    return G, h


def speaker_input(G, h, a):
    if a.speaker is not None and a.speaker_embedding:
        raise SystemExit("give --speaker or --speaker-embedding, not both")
    if a.speaker is not None:
        n = h.get("num_speakers", FAIRSEQ_DEFAULT_SPEAKERS)
        if not G.multispkr or G.embedder or not 0 <= a.speaker < n:
            raise SystemExit("speaker %d: this vocoder has no such speaker" % a.speaker)
        return torch.tensor([[a.speaker]], dtype=torch.int64)
    if a.speaker_embedding:
        e = np.load(a.speaker_embedding).astype(np.float32).reshape(-1)
        return torch.from_numpy(e).view(1, 1, -1)
    return None


def cmd_synth(a):
    G, h = load(a.out_dir)
    spkr = speaker_input(G, h, a)
    if G.multispkr and spkr is None:
        raise SystemExit("this vocoder needs a speaker (--speaker or --speaker-embedding)")
    lines = ref.read_units_file(a.units)
    if not lines:
        raise SystemExit("%s: no unit" % a.units)
    pieces, durs = [], []
    with torch.no_grad():
        for lineno, ids in lines:
            bad = [u for u in ids if u < 0 or u >= h["num_embeddings"]]
            if bad:
                raise SystemExit("%s:%d: unit %d is not below %d" % (a.units, lineno, bad[0], h["num_embeddings"]))
            y, d = G(torch.tensor([ids], dtype=torch.int64), a.dur_prediction, spkr)
            pieces.append(y.reshape(-1).numpy().astype(np.float32))
            if d is not None:
                durs.append(" ".join(str(int(v)) for v in d.tolist()))
    y = np.concatenate(pieces)
    from scipy.io import wavfile
    wavfile.write(a.out_wav, 16000, y)
    if a.dur_prediction:
        if G.dur_predictor is None:
            raise SystemExit("this vocoder has no duration predictor")
        with open(a.out_wav + ".durations.txt", "w") as f:
            f.write("\n".join(durs) + "\n")
    print("synthesised %d samples -> %s" % (y.size, a.out_wav))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("--out-dir", required=True)
    w.add_argument("--preset", default="tiny", choices=("tiny", "small"))
    w.add_argument("--num-units", type=int, default=100)
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--dur-predictor", action="store_true")
    w.add_argument("--num-speakers", type=int, default=0)
    w.add_argument("--embedder-dim", type=int, default=0)
    s = sub.add_parser("synth")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--units", required=True)
    s.add_argument("--dur-prediction", action="store_true")
    s.add_argument("--speaker", type=int)
    s.add_argument("--speaker-embedding")
    s.add_argument("--out-wav", required=True)
    a = p.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    return cmd_write(a) if a.cmd == "write" else cmd_synth(a)


if __name__ == "__main__":
    sys.exit(main())
