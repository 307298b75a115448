# SPDX-License-Identifier: MIT
"""PyTorch reference of the unit HiFi-GAN, structured like speech-resynthesis.

Over 600 lines on purpose: the whole oracle (generator, both discriminators,
losses, log-mel, one training step) in one module, to be read side by side
with speech-resynthesis' models.py and train.py.

The oracle for acoustok's LibTorch vocoder (lib/vocoder/torch/): the modules,
names, losses, log-mel and training step follow facebookresearch/speech-
resynthesis (models.py CodeGenerator/Generator/ResBlock1, DiscriminatorP/
MultiPeriodDiscriminator, DiscriminatorS/MultiScaleDiscriminator,
feature_loss/discriminator_loss/generator_loss; dataset.py mel_spectrogram;
train.py's step), which adapts jik876/hifi-gan. Written for this project from
the published structure; no code was copied.

Importing this module has no side effects. Nothing here reads acoustok's C++:
tests/vocoder/vocoder_parity.py compares the two.

What "as HiFi-GAN" means here, where it is not obvious:
* Generator init. HiFi-GAN wraps every conv in weight_norm and *then* calls
  init_weights (weight.data.normal_(0, 0.01)) on ups, resblocks and
  conv_post. After weight_norm, `module.weight` is a recomputed tensor, so
  that call changes neither weight_g nor weight_v: the effective init is
  PyTorch's default (jik876/hifi-gan issue #145). init_mode="literal" (the
  default) reproduces exactly that, random draws included, so that
  torch.manual_seed(s) then Generator(h) gives speech-resynthesis'
  CodeGenerator(h) bit for bit. init_mode="intended" draws weight_v ~
  N(0, 0.01) and sets weight_g = ||weight_v|| instead (what the authors meant,
  and what acoustok does).
* Embedding. speech-resynthesis' `dict` is nn.Embedding(num_embeddings,
  embedding_dim), N(0, 1), no padding index. acoustok's config has k units and
  k + 1 rows (row k is padding) unless "padding_row" is false (a released
  vocoder: k rows): `num_embeddings` is therefore a parameter; from an
  acoustok config it is num_units + (1 if padding_row else 0).
* The first scale discriminator uses spectral_norm (parameters weight_orig,
  bias; buffers weight_u, weight_v); in train() mode each forward call runs
  one power iteration and updates weight_u/weight_v in place, so the order of
  calls matters: per sub-discriminator real then generated, MPD before MSD.
* Mel loss: librosa's default (Slaney) mel filterbank with Slaney area
  normalisation, taken from torchaudio.functional.melscale_fbanks(...,
  norm="slaney", mel_scale="slaney"), which equals librosa.filters.mel.
* Optimisers: torch.optim.AdamW(lr, betas=(0.8, 0.99)), default weight decay
  0.01, D optimiser over chain(msd, mpd) parameters.

`variant` switches (all default to HiFi-GAN) exist only to measure a known
deviation in isolation: msd_first_norm="weight", mel_fbank="htk",
optimizer="adam".
"""

import itertools
import json

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import remove_weight_norm, spectral_norm, weight_norm

LRELU_SLOPE = 0.1
MEL_WEIGHT = 45.0
HOP = 320  # samples per unit frame at 16 kHz (product of upsample_rates)

# ---------------------------------------------------------------------------
# acoustok's VocoderConfig (lib/vocoder/vocoder_config.cpp), for building the
# reference from the same JSON.

_V1 = {
    "name": "v1",
    "num_units": 100,
    "embedding_dim": 128,
    "padding_row": True,
    "upsample_rates": [5, 4, 4, 2, 2],
    "upsample_kernel_sizes": [11, 8, 8, 4, 4],
    "upsample_initial_channel": 512,
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "mpd_periods": [2, 3, 5, 7, 11],
    "mpd_channels": [32, 128, 512, 1024, 1024],
    "msd_scales": 3,
    "msd_channels": [128, 128, 256, 512, 1024, 1024, 1024],
    "msd_groups": [1, 4, 16, 16, 16, 16, 1],
    "segment_frames": 50,
}

CONFIG_KEYS = tuple(_V1.keys())


def acoustok_preset(name):
    """acoustok's presets tiny, small and v1 (VocoderConfig::preset)."""
    c = json.loads(json.dumps(_V1))
    if name == "v1":
        return c
    if name == "small":
        c.update(name="small", upsample_initial_channel=256, mpd_channels=[16, 64, 256, 512, 512],
                 msd_channels=[64, 64, 128, 256, 512, 512, 512])
        return c
    if name == "tiny":
        c.update(name="tiny", embedding_dim=32, upsample_initial_channel=64, resblock_kernel_sizes=[3, 7],
                 resblock_dilation_sizes=[[1, 3], [1, 3]], mpd_channels=[4, 8, 16, 32, 32],
                 msd_channels=[8, 8, 16, 32, 32, 32, 32], msd_groups=[1, 2, 4, 4, 4, 4, 1], segment_frames=16)
        return c
    raise ValueError("unknown vocoder config '%s' (tiny, small, v1 or a .json file)" % name)


def acoustok_config_from_json(text):
    """VocoderConfig::from_json: {"base": preset, ...overrides}; unknown keys ignored."""
    j = json.loads(text)
    if not isinstance(j, dict):
        raise ValueError("vocoder config is not a JSON object")
    c = acoustok_preset(j["base"]) if "base" in j else acoustok_preset("v1")
    for k in CONFIG_KEYS:
        if k in j:
            c[k] = j[k]
    check_acoustok_config(c)
    return c


def load_acoustok_config(name_or_file):
    """A preset name or a JSON file (VocoderConfig::from_argument)."""
    if name_or_file in ("tiny", "small", "v1"):
        return acoustok_preset(name_or_file)
    with open(name_or_file) as f:
        return acoustok_config_from_json(f.read())


def check_acoustok_config(c):
    hop = 1
    for r in c["upsample_rates"]:
        hop *= r
    if hop != HOP:
        raise ValueError("the product of upsample_rates must be %d" % HOP)
    if len(c["mpd_channels"]) != 5 or len(c["msd_channels"]) != 7 or len(c["msd_groups"]) != 7:
        raise ValueError("mpd needs 5 channel counts, msd 7 channel counts and 7 groups")
    if len(c["resblock_kernel_sizes"]) != len(c["resblock_dilation_sizes"]):
        raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes differ in length")


def acoustok_to_json(c):
    """The config as acoustok stores it (nlohmann::json: sorted keys, compact)."""
    return json.dumps({k: c[k] for k in CONFIG_KEYS}, sort_keys=True, separators=(",", ":"))


def speech_resynthesis_h(c, num_embeddings=None):
    """speech-resynthesis' generator hyper-parameters (configs/*/hubert100_lut.json
    keys) for a unit-only vocoder (no f0, no speaker) of acoustok config `c`."""
    return {
        "resblock": "1",
        "num_gpus": 0,
        "batch_size": 16,
        "learning_rate": 0.0002,
        "adam_b1": 0.8,
        "adam_b2": 0.99,
        "lr_decay": 0.999,
        "seed": 1234,
        "upsample_rates": list(c["upsample_rates"]),
        "upsample_kernel_sizes": list(c["upsample_kernel_sizes"]),
        "upsample_initial_channel": c["upsample_initial_channel"],
        "resblock_kernel_sizes": list(c["resblock_kernel_sizes"]),
        "resblock_dilation_sizes": [list(d) for d in c["resblock_dilation_sizes"]],
        "num_embeddings": c["num_units"] if num_embeddings is None else num_embeddings,
        "embedding_dim": c["embedding_dim"],
        "model_in_dim": c["embedding_dim"],
        "segment_size": 8960,
        "code_hop_size": HOP,
        "num_mels": 80,
        "num_freq": 1025,
        "n_fft": 1024,
        "hop_size": 256,
        "win_size": 1024,
        "sampling_rate": 16000,
        "fmin": 0,
        "fmax": 8000,
        "fmax_for_loss": None,
    }


# ---------------------------------------------------------------------------
# Generator


def get_padding(kernel_size, dilation=1):
    return (kernel_size * dilation - dilation) // 2


def _init_normal(module, init_mode, std=0.01):
    """HiFi-GAN's `module.apply(init_weights)` on weight-normed convs."""
    for m in module.modules():
        if "Conv" not in m.__class__.__name__:
            continue
        if init_mode == "literal":
            # What HiFi-GAN runs: writes into the recomputed `weight` tensor,
            # which the next forward overwrites from weight_g/weight_v.
            m.weight.data.normal_(0.0, std)
        elif init_mode == "intended":
            with torch.no_grad():
                m.weight_v.normal_(0.0, std)
                m.weight_g.copy_(torch.norm_except_dim(m.weight_v, 2, 0))
        else:
            raise ValueError("init_mode must be 'literal' or 'intended'")


class ResBlock1(nn.Module):
    def __init__(self, channels, kernel_size=3, dilation=(1, 3, 5), init_mode="literal"):
        super().__init__()
        self.convs1 = nn.ModuleList([
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=get_padding(kernel_size, d)))
            for d in dilation])
        _init_normal(self.convs1, init_mode)
        self.convs2 = nn.ModuleList([
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=1, padding=get_padding(kernel_size, 1)))
            for _ in dilation])
        _init_normal(self.convs2, init_mode)

    def forward(self, x):
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = F.leaky_relu(x, LRELU_SLOPE)
            xt = c1(xt)
            xt = F.leaky_relu(xt, LRELU_SLOPE)
            xt = c2(xt)
            x = xt + x
        return x

    def remove_weight_norm(self):
        for m in itertools.chain(self.convs1, self.convs2):
            remove_weight_norm(m)


def embedding_rows(cfg):
    """Rows of the unit embedding of an acoustok config."""
    return cfg["num_units"] + (1 if cfg.get("padding_row", True) else 0)


def _generator_h(cfg, num_embeddings=None, conditioned=False):
    """Accepts speech-resynthesis' keys (num_embeddings, model_in_dim) or an
    acoustok config (num_units -> num_units + 1 rows with its padding row).
    conditioned: a subclass (codehifigan_reference.py) models the speaker
    and duration inputs; F0 and VQ stay refused."""
    h = dict(cfg)
    if "num_embeddings" not in h:
        h["num_embeddings"] = embedding_rows(h)
    if num_embeddings is not None:
        h["num_embeddings"] = num_embeddings
    h.setdefault("model_in_dim", h["embedding_dim"])
    if h.get("resblock", "1") != "1":
        raise ValueError("only ResBlock1 (resblock '1') is modelled")
    refused = ("f0", "lambda_commit", "lambda_commit_code", "f0_quantizer_path")
    if not conditioned:
        refused += ("multispkr", "dur_predictor_params")
    for k in refused:
        if h.get(k):
            raise ValueError("config key '%s' (f0/speaker/VQ/duration conditioning) is not modelled" % k)
    if not conditioned and h["model_in_dim"] != h["embedding_dim"]:
        raise ValueError("a unit-only generator needs model_in_dim == embedding_dim")
    return h


class Generator(nn.Module):
    """speech-resynthesis' CodeGenerator without f0/speaker inputs: units
    [B, F] int64 -> audio [B, 1, F * prod(upsample_rates)]."""

    def __init__(self, cfg, num_embeddings=None, init_mode="literal", conditioned=False):
        super().__init__()
        h = _generator_h(cfg, num_embeddings, conditioned)
        self.h = h
        self.num_kernels = len(h["resblock_kernel_sizes"])
        self.num_upsamples = len(h["upsample_rates"])
        ch0 = h["upsample_initial_channel"]
        # Construction order (and so the random stream) as Generator.__init__.
        self.conv_pre = weight_norm(nn.Conv1d(h["model_in_dim"], ch0, 7, 1, padding=3))
        self.ups = nn.ModuleList()
        for i, (u, k) in enumerate(zip(h["upsample_rates"], h["upsample_kernel_sizes"])):
            self.ups.append(weight_norm(nn.ConvTranspose1d(ch0 // (2 ** i), ch0 // (2 ** (i + 1)), k, u,
                                                           padding=(k - u) // 2)))
        self.resblocks = nn.ModuleList()
        ch = ch0
        for i in range(len(self.ups)):
            ch = ch0 // (2 ** (i + 1))
            for k, d in zip(h["resblock_kernel_sizes"], h["resblock_dilation_sizes"]):
                self.resblocks.append(ResBlock1(ch, k, d, init_mode))
        self.conv_post = weight_norm(nn.Conv1d(ch, 1, 7, 1, padding=3))
        _init_normal(self.ups, init_mode)
        _init_normal(self.conv_post, init_mode)
        # CodeGenerator.__init__ adds the embedding after Generator.__init__.
        self.dict = nn.Embedding(h["num_embeddings"], h["embedding_dim"])

    def forward(self, code):
        return self.generate(self.dict(code).transpose(1, 2))

    def generate(self, x):
        """HiFi-GAN's Generator.forward: x [B, model_in_dim, F] -> audio."""
        x = self.conv_pre(x)
        for i in range(self.num_upsamples):
            x = F.leaky_relu(x, LRELU_SLOPE)
            x = self.ups[i](x)
            xs = None
            for j in range(self.num_kernels):
                r = self.resblocks[i * self.num_kernels + j](x)
                xs = r if xs is None else xs + r
            x = xs / self.num_kernels
        x = F.leaky_relu(x)  # PyTorch's default slope 0.01, as HiFi-GAN
        x = self.conv_post(x)
        return torch.tanh(x)

    def remove_weight_norm(self):
        for m in self.ups:
            remove_weight_norm(m)
        for m in self.resblocks:
            m.remove_weight_norm()
        remove_weight_norm(self.conv_pre)
        remove_weight_norm(self.conv_post)


# ---------------------------------------------------------------------------
# Discriminators


class DiscriminatorP(nn.Module):
    def __init__(self, period, channels=(32, 128, 512, 1024, 1024), kernel_size=5, stride=3, use_spectral_norm=False):
        super().__init__()
        self.period = period
        norm_f = spectral_norm if use_spectral_norm else weight_norm
        convs, cin = [], 1
        for i, cout in enumerate(channels):
            s = stride if i < len(channels) - 1 else 1
            convs.append(norm_f(nn.Conv2d(cin, cout, (kernel_size, 1), (s, 1), padding=(get_padding(5, 1), 0))))
            cin = cout
        self.convs = nn.ModuleList(convs)
        self.conv_post = norm_f(nn.Conv2d(cin, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x):
        fmap = []
        b, c, t = x.shape
        if t % self.period != 0:
            n_pad = self.period - (t % self.period)
            x = F.pad(x, (0, n_pad), "reflect")
            t = t + n_pad
        x = x.view(b, c, t // self.period, self.period)
        for layer in self.convs:
            x = F.leaky_relu(layer(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods=(2, 3, 5, 7, 11), channels=(32, 128, 512, 1024, 1024)):
        super().__init__()
        self.discriminators = nn.ModuleList([DiscriminatorP(p, channels) for p in periods])

    def forward(self, y, y_hat):
        y_d_rs, y_d_gs, fmap_rs, fmap_gs = [], [], [], []
        for d in self.discriminators:
            y_d_r, fmap_r = d(y)
            y_d_g, fmap_g = d(y_hat)
            y_d_rs.append(y_d_r)
            fmap_rs.append(fmap_r)
            y_d_gs.append(y_d_g)
            fmap_gs.append(fmap_g)
        return y_d_rs, y_d_gs, fmap_rs, fmap_gs


MSD_KERNELS = (15, 41, 41, 41, 41, 41, 5)
MSD_STRIDES = (1, 2, 2, 4, 4, 1, 1)
MSD_PADDINGS = (7, 20, 20, 20, 20, 20, 2)


class DiscriminatorS(nn.Module):
    def __init__(self, channels=(128, 128, 256, 512, 1024, 1024, 1024), groups=(1, 4, 16, 16, 16, 16, 1),
                 use_spectral_norm=False):
        super().__init__()
        norm_f = spectral_norm if use_spectral_norm else weight_norm
        convs, cin = [], 1
        for cout, k, s, g, p in zip(channels, MSD_KERNELS, MSD_STRIDES, groups, MSD_PADDINGS):
            convs.append(norm_f(nn.Conv1d(cin, cout, k, s, groups=g, padding=p)))
            cin = cout
        self.convs = nn.ModuleList(convs)
        self.conv_post = norm_f(nn.Conv1d(cin, 1, 3, 1, padding=1))

    def forward(self, x):
        fmap = []
        for layer in self.convs:
            x = F.leaky_relu(layer(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class MultiScaleDiscriminator(nn.Module):
    def __init__(self, scales=3, channels=(128, 128, 256, 512, 1024, 1024, 1024), groups=(1, 4, 16, 16, 16, 16, 1),
                 first_norm="spectral"):
        super().__init__()
        if first_norm not in ("spectral", "weight"):
            raise ValueError("first_norm must be 'spectral' or 'weight'")
        self.discriminators = nn.ModuleList([
            DiscriminatorS(channels, groups, use_spectral_norm=(i == 0 and first_norm == "spectral"))
            for i in range(scales)])
        self.meanpools = nn.ModuleList([nn.AvgPool1d(4, 2, padding=2) for _ in range(scales - 1)])

    def forward(self, y, y_hat):
        y_d_rs, y_d_gs, fmap_rs, fmap_gs = [], [], [], []
        for i, d in enumerate(self.discriminators):
            if i != 0:
                y = self.meanpools[i - 1](y)
                y_hat = self.meanpools[i - 1](y_hat)
            y_d_r, fmap_r = d(y)
            y_d_g, fmap_g = d(y_hat)
            y_d_rs.append(y_d_r)
            fmap_rs.append(fmap_r)
            y_d_gs.append(y_d_g)
            fmap_gs.append(fmap_g)
        return y_d_rs, y_d_gs, fmap_rs, fmap_gs


class Discriminators(nn.Module):
    """mpd + msd under one module, so that names are "mpd.discriminators.N..."
    and "msd.discriminators.N..." (acoustok's checkpoint "discriminator")."""

    def __init__(self, cfg, variant=None):
        super().__init__()
        v = dict(variant or {})
        self.mpd = MultiPeriodDiscriminator(cfg.get("mpd_periods", (2, 3, 5, 7, 11)),
                                            cfg.get("mpd_channels", (32, 128, 512, 1024, 1024)))
        self.msd = MultiScaleDiscriminator(cfg.get("msd_scales", 3),
                                           cfg.get("msd_channels", (128, 128, 256, 512, 1024, 1024, 1024)),
                                           cfg.get("msd_groups", (1, 4, 16, 16, 16, 16, 1)),
                                           v.get("msd_first_norm", "spectral"))


# ---------------------------------------------------------------------------
# Losses (least squares GAN, HiFi-GAN's feature matching)


def feature_loss(fmap_r, fmap_g):
    loss = 0
    for dr, dg in zip(fmap_r, fmap_g):
        for rl, gl in zip(dr, dg):
            loss = loss + torch.mean(torch.abs(rl - gl))
    return loss * 2


def discriminator_loss(disc_real_outputs, disc_generated_outputs):
    loss = 0
    r_losses, g_losses = [], []
    for dr, dg in zip(disc_real_outputs, disc_generated_outputs):
        r_loss = torch.mean((1 - dr) ** 2)
        g_loss = torch.mean(dg ** 2)
        loss = loss + (r_loss + g_loss)
        r_losses.append(r_loss.item())
        g_losses.append(g_loss.item())
    return loss, r_losses, g_losses


def generator_loss(disc_outputs):
    loss = 0
    gen_losses = []
    for dg in disc_outputs:
        g = torch.mean((1 - dg) ** 2)
        gen_losses.append(g)
        loss = loss + g
    return loss, gen_losses


# ---------------------------------------------------------------------------
# Log-mel (dataset.py / meldataset.py mel_spectrogram)

_MEL_CACHE = {}


def mel_filterbank(n_fft=1024, num_mels=80, sampling_rate=16000, fmin=0, fmax=8000, kind="slaney",
                   dtype=torch.float32):
    """[num_mels, n_fft // 2 + 1]. kind "slaney": librosa.filters.mel's default
    (Slaney mel scale, Slaney area normalisation); "htk": HTK mel scale,
    triangles of peak 1 (acoustok's audio::htk_mel_filterbank)."""
    import torchaudio.functional as AF
    # torchaudio computes in the default dtype: float64 for a float64 reference.
    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        return _mel_filterbank(n_fft, num_mels, sampling_rate, fmin, fmax, kind)
    finally:
        torch.set_default_dtype(saved)


def _mel_filterbank(n_fft, num_mels, sampling_rate, fmin, fmax, kind):
    import torchaudio.functional as AF
    if fmax is None:
        fmax = sampling_rate / 2.0
    if kind == "slaney":
        fb = AF.melscale_fbanks(n_fft // 2 + 1, float(fmin), float(fmax), num_mels, sampling_rate,
                                norm="slaney", mel_scale="slaney")
    elif kind == "htk":
        fb = AF.melscale_fbanks(n_fft // 2 + 1, float(fmin), float(fmax), num_mels, sampling_rate,
                                norm=None, mel_scale="htk")
    else:
        raise ValueError("mel filterbank must be 'slaney' or 'htk'")
    return fb.T.contiguous()


def mel_spectrogram(y, n_fft=1024, num_mels=80, sampling_rate=16000, hop_size=256, win_size=1024, fmin=0, fmax=8000,
                    center=False, fbank="slaney"):
    """y [B, T] (or [B, 1, T]) -> log-mel [B, num_mels, frames]."""
    if y.dim() == 3:
        y = y.squeeze(1)
    key = (n_fft, num_mels, sampling_rate, win_size, fmin, fmax, fbank, y.dtype, str(y.device))
    if key not in _MEL_CACHE:
        _MEL_CACHE[key] = (mel_filterbank(n_fft, num_mels, sampling_rate, fmin, fmax, fbank, dtype=y.dtype).to(y.device, y.dtype),
                           torch.hann_window(win_size, dtype=y.dtype, device=y.device))
    basis, window = _MEL_CACHE[key]
    pad = int((n_fft - hop_size) / 2)
    y = F.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(y, n_fft, hop_length=hop_size, win_length=win_size, window=window, center=center,
                      pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    spec = torch.view_as_real(spec)
    spec = torch.sqrt(spec.pow(2).sum(-1) + 1e-9)
    spec = torch.matmul(basis, spec)
    return torch.log(torch.clamp(spec, min=1e-5))


# ---------------------------------------------------------------------------
# Optimisers and one training step (train.py)


def make_optimizers(G, D_mpd, D_msd, lr=0.0002, betas=(0.8, 0.99), variant=None):
    """speech-resynthesis: AdamW (weight decay 0.01 by default); the D optimiser
    over chain(msd, mpd). variant optimizer="adam": torch.optim.Adam, no decay."""
    kind = (variant or {}).get("optimizer", "adamw")
    if kind == "adamw":
        opt = torch.optim.AdamW
    elif kind == "adam":
        opt = torch.optim.Adam
    else:
        raise ValueError("optimizer must be 'adamw' or 'adam'")
    optim_g = opt(G.parameters(), lr, betas=betas)
    optim_d = opt(itertools.chain(D_msd.parameters(), D_mpd.parameters()), lr, betas=betas)
    return optim_g, optim_d


def _named(module, prefix, grads=False):
    out = {}
    if grads:
        for n, p in module.named_parameters():
            out[prefix + n] = (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone()
    else:
        for n, t in module.state_dict().items():
            out[prefix + n] = t.detach().clone()
    return out


def train_step(G, D_mpd, D_msd, opt_g, opt_d, units, audio, variant=None):
    """One step of speech-resynthesis' train.py loop (unit-only: x = {"code": units}).

    units [B, F] int64, audio [B, 1, F * 320]. Returns a dict:
      audio_g              generator output before any update
      d_real_scores[i], d_fake_scores[i], d_real_fmaps[i][l], d_fake_fmaps[i][l]
                           D step, i over MPD periods then MSD scales
      loss_d               loss_disc_s + loss_disc_f
      loss_mel             45 x L1 log-mel
      loss_fm              loss_fm_f + loss_fm_s (each already 2 x sum of means)
      loss_adv             loss_gen_f + loss_gen_s
      loss_g               loss_gen_all
      grad_d {name}        every D parameter's gradient after the D backward (before its step)
      grad_g {name}        every G parameter's gradient after the G backward
      after_d, after_g {name}   state_dict entries after both steps (D buffers included)
    D names are "mpd.<...>" and "msd.<...>".
    """
    v = dict(variant or {})
    fbank = v.get("mel_fbank", "slaney")
    G.train()
    D_mpd.train()
    D_msd.train()
    y = audio

    y_g_hat = G(units)
    assert y_g_hat.shape == y.shape, "generator output %s != audio %s" % (tuple(y_g_hat.shape), tuple(y.shape))
    out = {"audio_g": y_g_hat.detach().clone()}
    y_g_hat_mel = mel_spectrogram(y_g_hat.squeeze(1), fbank=fbank, fmax=None)  # fmax_for_loss: null -> sr / 2
    with torch.no_grad():
        y_mel = mel_spectrogram(y.squeeze(1), fbank=fbank, fmax=None)  # the dataset's mel_loss of the real audio

    # Discriminators
    opt_d.zero_grad()
    y_df_hat_r, y_df_hat_g, fmap_f_r, fmap_f_g = D_mpd(y, y_g_hat.detach())
    loss_disc_f, _, _ = discriminator_loss(y_df_hat_r, y_df_hat_g)
    y_ds_hat_r, y_ds_hat_g, fmap_s_r, fmap_s_g = D_msd(y, y_g_hat.detach())
    loss_disc_s, _, _ = discriminator_loss(y_ds_hat_r, y_ds_hat_g)
    loss_disc_all = loss_disc_s + loss_disc_f
    out["d_real_scores"] = [t.detach().clone() for t in y_df_hat_r + y_ds_hat_r]
    out["d_fake_scores"] = [t.detach().clone() for t in y_df_hat_g + y_ds_hat_g]
    out["d_real_fmaps"] = [[t.detach().clone() for t in fm] for fm in fmap_f_r + fmap_s_r]
    out["d_fake_fmaps"] = [[t.detach().clone() for t in fm] for fm in fmap_f_g + fmap_s_g]
    loss_disc_all.backward()
    grad_d = _named(D_mpd, "mpd.", grads=True)
    grad_d.update(_named(D_msd, "msd.", grads=True))
    out["grad_d"] = grad_d
    opt_d.step()

    # Generator
    opt_g.zero_grad()
    loss_mel = F.l1_loss(y_mel, y_g_hat_mel) * MEL_WEIGHT
    y_df_hat_r, y_df_hat_g, fmap_f_r, fmap_f_g = D_mpd(y, y_g_hat)
    y_ds_hat_r, y_ds_hat_g, fmap_s_r, fmap_s_g = D_msd(y, y_g_hat)
    loss_fm_f = feature_loss(fmap_f_r, fmap_f_g)
    loss_fm_s = feature_loss(fmap_s_r, fmap_s_g)
    loss_gen_f, _ = generator_loss(y_df_hat_g)
    loss_gen_s, _ = generator_loss(y_ds_hat_g)
    loss_gen_all = loss_gen_s + loss_gen_f + loss_fm_s + loss_fm_f + loss_mel
    loss_gen_all.backward()
    out["grad_g"] = _named(G, "", grads=True)
    opt_g.step()

    out["loss_d"] = loss_disc_all.detach().clone()
    out["loss_g"] = loss_gen_all.detach().clone()
    out["loss_mel"] = loss_mel.detach().clone()
    out["loss_fm"] = (loss_fm_f + loss_fm_s).detach().clone()
    out["loss_adv"] = (loss_gen_f + loss_gen_s).detach().clone()
    out["after_g"] = _named(G, "")
    after_d = _named(D_mpd, "mpd.")
    after_d.update(_named(D_msd, "msd."))
    out["after_d"] = after_d
    return out


def flatten_step(out):
    """train_step's result as the flat dump of tests/vocoder/vocoder_parity.py."""
    flat = {"audio_g": out["audio_g"]}
    for kind in ("real", "fake"):
        for i, s in enumerate(out["d_%s_scores" % kind]):
            flat["d.%d.%s.score" % (i, kind)] = s
        for i, fm in enumerate(out["d_%s_fmaps" % kind]):
            for l, t in enumerate(fm):
                flat["d.%d.%s.fmap.%d" % (i, kind, l)] = t
    for k in ("loss_d", "loss_g", "loss_mel", "loss_fm", "loss_adv"):
        flat[k] = out[k]
    for group in ("grad_d", "grad_g", "after_d", "after_g"):
        for n, t in out[group].items():
            flat["%s.%s" % (group, n)] = t
    return flat


def build_models(cfg, variant=None, init_mode="literal", num_embeddings=None):
    """Generator and Discriminators of an acoustok config, in train.py's order."""
    G = Generator(cfg, num_embeddings=num_embeddings, init_mode=init_mode)
    D = Discriminators(cfg, variant)
    return G, D


def read_units_file(path):
    """acoustok's UNITS.txt: one utterance per line, space-separated ids."""
    lines = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            ids = [int(t) for t in line.split()]
            if ids:
                lines.append((lineno, ids))
    return lines


__all__ = [
    "Generator", "ResBlock1", "DiscriminatorP", "MultiPeriodDiscriminator", "DiscriminatorS",
    "MultiScaleDiscriminator", "Discriminators", "feature_loss", "discriminator_loss", "generator_loss",
    "mel_filterbank", "mel_spectrogram", "make_optimizers", "train_step", "flatten_step", "build_models",
    "acoustok_preset", "acoustok_config_from_json", "load_acoustok_config", "acoustok_to_json",
    "speech_resynthesis_h", "read_units_file", "get_padding", "embedding_rows",
]
