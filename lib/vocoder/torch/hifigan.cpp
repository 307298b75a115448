// SPDX-License-Identifier: MIT
#include "vocoder/torch/hifigan.hpp"
#include "acoustok/frame_grid.hpp"

#include <cmath>

#include "audio/spectral.hpp"
#include "vocoder/torch/grouped_conv1d.hpp"

namespace F = torch::nn::functional;

namespace acoustok::vocoder {
namespace {

constexpr double kSpectralEps = 1e-12;  // torch.nn.utils.spectral_norm's default

// PyTorch's default Conv init (kaiming_uniform a=sqrt(5)) or HiFi-GAN's normal(0, std).
void init_conv(torch::Tensor& v, torch::Tensor& bias, int64_t fan_in, double init_std) {
  torch::NoGradGuard no_grad;
  if (init_std > 0)
    v.normal_(0.0, init_std);
  else
    torch::nn::init::kaiming_uniform_(v, std::sqrt(5.0));
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  bias.uniform_(-bound, bound);
}

torch::Tensor weight_norm_g(const torch::Tensor& v) {
  // ||v|| over every dim but 0, shaped [out, 1, ...] as torch.nn.utils.weight_norm makes it.
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < v.dim(); ++d) dims.push_back(d);
  return v.norm(2, dims, /*keepdim=*/true);
}

}  // namespace

WNConv1dImpl::WNConv1dImpl(const WNConv1dOptions& o) : options(o) {
  const int64_t in_per_group = o.in() / o.groups();
  auto v = o.transposed() ? torch::empty({o.in(), o.out(), o.kernel()})
                          : torch::empty({o.out(), in_per_group, o.kernel()});
  auto b = torch::empty({o.out()});
  init_conv(v, b, (o.transposed() ? o.out() : in_per_group) * o.kernel(), o.init_std());
  if (o.spectral_norm()) {
    TORCH_CHECK(!o.transposed(), "spectral norm: plain convolutions only");
    const auto unit = [](torch::Tensor x) {
      return F::normalize(x, F::NormalizeFuncOptions().dim(0).eps(kSpectralEps));
    };
    weight_orig = register_parameter("weight_orig", v);
    weight_u = register_buffer("weight_u", unit(torch::randn({v.size(0)})));
    weight_v = register_buffer("weight_v", unit(torch::randn({v[0].numel()})));
  } else {
    weight_g = register_parameter("weight_g", weight_norm_g(v));
    weight_v = register_parameter("weight_v", v);
  }
  bias = register_parameter("bias", b);
}

torch::Tensor WNConv1dImpl::weight() {
  if (!options.spectral_norm()) return torch::_weight_norm(weight_v, weight_g, 0);
  // As torch.nn.utils.spectral_norm: u and v are constants of the graph.
  const auto mat = weight_orig.reshape({weight_orig.size(0), -1});  // [out, in/groups * kernel]
  torch::Tensor u = weight_u, v = weight_v;
  if (is_training()) {
    torch::NoGradGuard no_grad;
    const auto opts = F::NormalizeFuncOptions().dim(0).eps(kSpectralEps);
    weight_v.copy_(F::normalize(torch::mv(mat.t(), weight_u), opts));
    weight_u.copy_(F::normalize(torch::mv(mat, weight_v), opts));
    u = weight_u.clone();
    v = weight_v.clone();
  }
  const auto sigma = torch::dot(u, torch::mv(mat, v));
  return weight_orig / sigma;
}

torch::Tensor WNConv1dImpl::forward(const torch::Tensor& x) {
  const auto& o = options;
  if (o.transposed())
    return torch::conv_transpose1d(x, weight(), bias, o.stride(), o.padding(), /*output_padding=*/0,
                                   o.groups(), o.dilation());
  const auto w = weight();
  if (o.dilation() == 1 && grouped_conv1d_applies(x, w, o.stride(), o.groups()))
    return grouped_conv1d(x, w, bias, o.stride(), o.padding(), o.groups());  // the MSD's long grouped kernels
  return torch::conv1d(x, w, bias, o.stride(), o.padding(), o.dilation(), o.groups());
}

WNConv2dImpl::WNConv2dImpl(const WNConv2dOptions& o) : options(o) {
  auto v = torch::empty({o.out(), o.in(), o.kernel(), 1});
  auto b = torch::empty({o.out()});
  init_conv(v, b, o.in() * o.kernel(), 0.0);
  weight_g = register_parameter("weight_g", weight_norm_g(v));
  weight_v = register_parameter("weight_v", v);
  bias = register_parameter("bias", b);
}

torch::Tensor WNConv2dImpl::forward(const torch::Tensor& x) {
  const auto& o = options;
  return torch::conv2d(x, torch::_weight_norm(weight_v, weight_g, 0), bias, {o.stride(), 1},
                       {o.padding(), 0});
}

ResBlock1Impl::ResBlock1Impl(int64_t channels, int64_t kernel, const std::vector<int>& dilations) {
  convs1 = register_module("convs1", torch::nn::ModuleList());
  convs2 = register_module("convs2", torch::nn::ModuleList());
  for (int d : dilations) {
    convs1->push_back(WNConv1d(WNConv1dOptions(channels, channels, kernel)
                                   .dilation(d)
                                   .padding((kernel * d - d) / 2)
                                   .init_std(0.01)));
    convs2->push_back(
        WNConv1d(WNConv1dOptions(channels, channels, kernel).padding((kernel - 1) / 2).init_std(0.01)));
  }
}

torch::Tensor ResBlock1Impl::forward(torch::Tensor x) {
  for (size_t i = 0; i < convs1->size(); ++i) {
    auto t = F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(kLeakySlope));
    t = convs1[i]->as<WNConv1dImpl>()->forward(t);
    t = F::leaky_relu(t, F::LeakyReLUFuncOptions().negative_slope(kLeakySlope));
    t = convs2[i]->as<WNConv1dImpl>()->forward(t);
    x = x + t;
  }
  return x;
}

DurationPredictorImpl::DurationPredictorImpl(const DurationPredictorOptions& o) : options(o) {
  namespace nn = torch::nn;
  const int64_t k = o.kernel();
  conv1 = register_module(
      "conv1",
      nn::Sequential(nn::Conv1d(nn::Conv1dOptions(o.in(), o.hidden(), k).padding((k - 1) / 2)), nn::ReLU()));
  ln1 = register_module("ln1", nn::LayerNorm(nn::LayerNormOptions({o.hidden()}).eps(1e-5)));
  conv2 = register_module(
      "conv2",
      nn::Sequential(nn::Conv1d(nn::Conv1dOptions(o.hidden(), o.hidden(), k).padding(1)), nn::ReLU()));
  ln2 = register_module("ln2", nn::LayerNorm(nn::LayerNormOptions({o.hidden()}).eps(1e-5)));
  proj = register_module("proj", nn::Linear(o.hidden(), 1));
}

torch::Tensor DurationPredictorImpl::forward(const torch::Tensor& x) {
  // fastspeech2.py's order of operations, transposes included, so that the
  // float32 result is PyTorch's.
  auto h = conv1->forward(x.transpose(1, 2)).transpose(1, 2);  // [batch, frames, hidden]
  h = ln1->forward(h);
  h = conv2->forward(h.transpose(1, 2)).transpose(1, 2);
  h = ln2->forward(h);
  return proj->forward(h).squeeze(2);  // [batch, frames]
}

GeneratorImpl::GeneratorImpl(const VocoderConfig& c) : config(c) {
  {
    auto options = torch::nn::EmbeddingOptions(c.num_units + (c.padding_row ? 1 : 0), c.embedding_dim);
    if (c.padding_row) options.padding_idx(c.num_units);
    dict = register_module("dict", torch::nn::Embedding(options));
  }
  conv_pre = register_module(
      "conv_pre", WNConv1d(WNConv1dOptions(c.model_in_dim(), c.upsample_initial_channel, 7).padding(3)));
  ups = register_module("ups", torch::nn::ModuleList());
  resblocks = register_module("resblocks", torch::nn::ModuleList());
  int64_t ch = c.upsample_initial_channel;
  for (size_t i = 0; i < c.upsample_rates.size(); ++i) {
    const int64_t u = c.upsample_rates[i], k = c.upsample_kernel_sizes[i];
    ups->push_back(WNConv1d(
        WNConv1dOptions(ch, ch / 2, k).stride(u).padding((k - u) / 2).transposed(true).init_std(0.01)));
    ch /= 2;
    for (size_t j = 0; j < c.resblock_kernel_sizes.size(); ++j)
      resblocks->push_back(ResBlock1(ch, c.resblock_kernel_sizes[j], c.resblock_dilation_sizes[j]));
  }
  conv_post = register_module("conv_post", WNConv1d(WNConv1dOptions(ch, 1, 7).padding(3).init_std(0.01)));
  // fairseq's CodeGenerator adds these after the HiFi-GAN layers.
  if (c.has_speaker_table())
    spkr_table = register_module("spkr", torch::nn::Embedding(c.num_speakers, c.embedding_dim));
  else if (c.has_speaker_embedder())
    spkr_embedder = register_module("spkr", torch::nn::Linear(c.speaker_embedding_dim, c.embedding_dim));
  if (c.has_duration_predictor())
    dur_predictor = register_module(
        "dur_predictor", DurationPredictor(DurationPredictorOptions(c.embedding_dim, c.dur_predictor_hidden,
                                                                    c.dur_predictor_kernel)));
}

torch::Tensor GeneratorImpl::speaker_vector(const torch::Tensor& speaker) {
  if (spkr_table) return spkr_table->forward(speaker);
  TORCH_CHECK(spkr_embedder, "generator: this vocoder takes no speaker");
  return spkr_embedder->forward(speaker);
}

torch::Tensor GeneratorImpl::predict_durations(const torch::Tensor& units) {
  TORCH_CHECK(dur_predictor, "generator: this vocoder has no duration predictor");
  const auto log_d = dur_predictor->forward(dict->forward(units));  // [batch, frames]
  // torch.round rounds half to even, as std::nearbyint in the default mode.
  return torch::clamp_min(torch::round(torch::exp(log_d) - 1), 1);
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& units, const torch::Tensor& speaker) {
  TORCH_CHECK(units.dim() == 2, "generator: units must be [batch, frames], got ", units.sizes());
  auto x = dict->forward(units).transpose(1, 2);  // [batch, emb, frames]
  if (spkr_table || spkr_embedder) {
    TORCH_CHECK(speaker.defined() && speaker.dim() == 2 && speaker.size(0) == units.size(0) &&
                    speaker.size(1) == config.embedding_dim,
                "generator: this vocoder needs a speaker vector [batch, embedding_dim]");
    x = torch::cat({x, speaker.unsqueeze(2).expand({-1, -1, x.size(2)})}, 1);  // [batch, 2 emb, frames]
  }
  x = conv_pre->forward(x);  // [batch, C, frames]
  const size_t nk = config.resblock_kernel_sizes.size();
  for (size_t i = 0; i < ups->size(); ++i) {
    x = F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(kLeakySlope));
    x = ups[i]->as<WNConv1dImpl>()->forward(x);  // [batch, C / 2^(i+1), frames * prod(rates[..i])]
    torch::Tensor sum;
    for (size_t j = 0; j < nk; ++j) {
      auto r = resblocks[i * nk + j]->as<ResBlock1Impl>()->forward(x);
      sum = j == 0 ? r : sum + r;
    }
    x = sum / static_cast<double>(nk);
  }
  x = F::leaky_relu(x);                       // HiFi-GAN uses the default slope 0.01 here
  return torch::tanh(conv_post->forward(x));  // [batch, 1, frames * 320]
}

PeriodDiscriminatorImpl::PeriodDiscriminatorImpl(int64_t p, const std::vector<int>& ch) : period(p) {
  convs = register_module("convs", torch::nn::ModuleList());
  int64_t in = 1;
  for (int i = 0; i < 5; ++i) {
    convs->push_back(
        WNConv2d(WNConv2dOptions(in, ch[static_cast<size_t>(i)], 5).stride(i < 4 ? 3 : 1).padding(2)));
    in = ch[static_cast<size_t>(i)];
  }
  conv_post = register_module("conv_post", WNConv2d(WNConv2dOptions(in, 1, 3).padding(1)));
}

namespace {
// Both discriminators' stacks: leaky ReLU after each conv (every output a
// feature map for the matching loss), then conv_post, whose output is also the
// flattened score.
template <typename ConvImpl, typename Post>
DiscOutput discriminator_layers(torch::nn::ModuleListImpl& convs, Post& conv_post, torch::Tensor x) {
  DiscOutput out;
  for (auto& m : convs) {
    x = F::leaky_relu(m->as<ConvImpl>()->forward(x), F::LeakyReLUFuncOptions().negative_slope(kLeakySlope));
    out.fmaps.push_back(x);
  }
  x = conv_post->forward(x);
  out.fmaps.push_back(x);
  out.score = torch::flatten(x, 1, -1);
  return out;
}
}  // namespace

DiscOutput PeriodDiscriminatorImpl::forward(torch::Tensor x) {
  const int64_t b = x.size(0), c = x.size(1), t = x.size(2);
  int64_t len = t;
  if (t % period != 0) {
    const int64_t pad = period - t % period;
    x = F::pad(x, F::PadFuncOptions({0, pad}).mode(torch::kReflect));
    len = t + pad;
  }
  x = x.view({b, c, len / period, period});  // [batch, 1, time/period, period]
  return discriminator_layers<WNConv2dImpl>(*convs, conv_post, x);
}

ScaleDiscriminatorImpl::ScaleDiscriminatorImpl(const std::vector<int>& ch, const std::vector<int>& groups,
                                               bool spectral_norm) {
  static const int kernels[7] = {15, 41, 41, 41, 41, 41, 5};
  static const int strides[7] = {1, 2, 2, 4, 4, 1, 1};
  convs = register_module("convs", torch::nn::ModuleList());
  int64_t in = 1;
  for (size_t i = 0; i < 7; ++i) {
    convs->push_back(WNConv1d(WNConv1dOptions(in, ch[i], kernels[i])
                                  .stride(strides[i])
                                  .groups(groups[i])
                                  .padding((kernels[i] - 1) / 2)
                                  .spectral_norm(spectral_norm)));
    in = ch[i];
  }
  conv_post = register_module("conv_post",
                              WNConv1d(WNConv1dOptions(in, 1, 3).padding(1).spectral_norm(spectral_norm)));
}

DiscOutput ScaleDiscriminatorImpl::forward(torch::Tensor x) {
  return discriminator_layers<WNConv1dImpl>(*convs, conv_post, x);
}

DiscriminatorImpl::DiscriminatorImpl(const VocoderConfig& c) {
  auto mpd = register_module("mpd", std::make_shared<torch::nn::Module>());
  auto mpd_list = mpd->register_module("discriminators", torch::nn::ModuleList());
  for (int p : c.mpd_periods) {
    periods.emplace_back(p, c.mpd_channels);
    mpd_list->push_back(periods.back());
  }
  auto msd = register_module("msd", std::make_shared<torch::nn::Module>());
  auto msd_list = msd->register_module("discriminators", torch::nn::ModuleList());
  for (int s = 0; s < c.msd_scales; ++s) {
    scales.emplace_back(c.msd_channels, c.msd_groups, /*spectral_norm=*/s == 0);
    msd_list->push_back(scales.back());
  }
}

std::vector<DiscOutput> DiscriminatorImpl::forward(const torch::Tensor& audio) {
  TORCH_CHECK(audio.dim() == 3 && audio.size(1) == 1, "discriminator: audio must be [batch, 1, time], got ",
              audio.sizes());
  std::vector<DiscOutput> out;
  for (auto& d : periods) out.push_back(d->forward(audio));
  torch::Tensor x = audio;
  for (size_t s = 0; s < scales.size(); ++s) {
    if (s > 0) x = F::avg_pool1d(x, F::AvgPool1dFuncOptions(4).stride(2).padding(2));
    out.push_back(scales[s]->forward(x));
  }
  return out;
}

MelLoss::MelLoss(torch::Device device) {
  // Kept in float64; mel() uses them in the audio's precision.
  window_ = torch::hann_window(1024, torch::TensorOptions().dtype(torch::kFloat64)).to(device);
  const auto fb = audio::slaney_mel_filterbank(1024, 80, grid::kSampleRate, 0.0, grid::kSampleRate / 2.0);
  fbank_ = torch::tensor(fb, torch::kFloat64).view({80, 513}).to(device);
}

torch::Tensor MelLoss::mel(const torch::Tensor& audio) const {
  auto x =
      F::pad(audio, F::PadFuncOptions({384, 384}).mode(torch::kReflect)).squeeze(1);  // [batch, time + 768]
  // In the audio's precision (float32 in training; float64 in the parity test).
  const auto window = window_.to(audio.scalar_type()), fbank = fbank_.to(audio.scalar_type());
  auto spec = torch::stft(x, 1024, 256, 1024, window, /*normalized=*/false, /*onesided=*/true,
                          /*return_complex=*/true);
  auto ri = torch::view_as_real(spec);               // [batch, 513, frames, 2]
  auto mag = torch::sqrt(ri.pow(2).sum(-1) + 1e-9);  // [batch, 513, frames]
  auto mel = torch::matmul(fbank, mag);              // [batch, 80, frames]
  return torch::log(torch::clamp_min(mel, 1e-5));
}

}  // namespace acoustok::vocoder
