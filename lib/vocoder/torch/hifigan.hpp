// SPDX-License-Identifier: MIT
// The unit HiFi-GAN in LibTorch: generator (unit embedding -> 320x
// upsampling) and the multi-period + multi-scale discriminators. Registered
// names follow speech-resynthesis/HiFi-GAN ("dict.weight",
// "ups.0.weight_g", "resblocks.3.convs1.2.weight_v", ...): they are the
// checkpoint contract (tests/vocoder/test_vocoder_model.cpp checks them).
// Torch-only header: include it only from lib/vocoder/*.cpp and torch tests.
#pragma once

#include <torch/torch.h>

#include <utility>
#include <vector>

#include "acoustok/vocoder_config.hpp"

namespace acoustok::vocoder {

constexpr double kLeakySlope = 0.1;

// Convolutions with PyTorch's weight normalisation (dim 0): weight =
// g * v / ||v||, parameters weight_g, weight_v and bias. With
// spectral_norm, PyTorch's spectral normalisation instead (HiFi-GAN's first
// scale discriminator): weight = weight_orig / sigma, sigma estimated by one
// power iteration per forward call in training mode (buffers weight_u,
// weight_v), parameters weight_orig and bias.
struct WNConv1dOptions {
  WNConv1dOptions(int64_t in, int64_t out, int64_t kernel) : in_(in), out_(out), kernel_(kernel) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  TORCH_ARG(int64_t, kernel);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(int64_t, padding) = 0;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(bool, transposed) = false;  // ConvTranspose1d (weight [in, out, k])
  TORCH_ARG(double, init_std) = 0.0;    // > 0: normal(0, std) as HiFi-GAN's generator; else PyTorch's default
  TORCH_ARG(bool, spectral_norm) = false;
};

class WNConv1dImpl : public torch::nn::Module {
 public:
  explicit WNConv1dImpl(const WNConv1dOptions& options);
  // [batch, in, time] -> [batch, out, time']
  torch::Tensor forward(const torch::Tensor& x);
  // g * v / ||v|| (or weight_orig / sigma), recomputed per call (caching it
  // made CPU inference slower).
  torch::Tensor weight();
  WNConv1dOptions options;
  torch::Tensor weight_g, weight_v, bias;  // weight_v: the direction, or spectral norm's right vector
  torch::Tensor weight_orig, weight_u;     // spectral norm only
};
TORCH_MODULE(WNConv1d);

// Conv2d with kernel (k, 1) over [batch, ch, time/period, period] (the
// multi-period discriminator's layout).
struct WNConv2dOptions {
  WNConv2dOptions(int64_t in, int64_t out, int64_t kernel) : in_(in), out_(out), kernel_(kernel) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  TORCH_ARG(int64_t, kernel);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding) = 0;
};

class WNConv2dImpl : public torch::nn::Module {
 public:
  explicit WNConv2dImpl(const WNConv2dOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  WNConv2dOptions options;
  torch::Tensor weight_g, weight_v, bias;
};
TORCH_MODULE(WNConv2d);

// HiFi-GAN residual block type 1: per dilation d, x += conv(lrelu(conv_d(lrelu(x)))).
class ResBlock1Impl : public torch::nn::Module {
 public:
  ResBlock1Impl(int64_t channels, int64_t kernel, const std::vector<int>& dilations);
  torch::Tensor forward(torch::Tensor x);  // [batch, ch, time] -> same
  torch::nn::ModuleList convs1{nullptr}, convs2{nullptr};
};
TORCH_MODULE(ResBlock1);

// fairseq's VariancePredictor (fastspeech2.py) as CodeHiFiGAN's duration
// predictor, in inference (dropout off). Names: conv1.0, ln1, conv2.0, ln2,
// proj. Plain convolutions (no weight norm), LayerNorm eps 1e-5.
struct DurationPredictorOptions {
  DurationPredictorOptions(int64_t in, int64_t hidden, int64_t kernel)
      : in_(in), hidden_(hidden), kernel_(kernel) {}
  TORCH_ARG(int64_t, in);      // encoder_embed_dim (= the unit embedding's)
  TORCH_ARG(int64_t, hidden);  // var_pred_hidden_dim
  TORCH_ARG(int64_t, kernel);  // var_pred_kernel_size (3: conv2 pads by 1 whatever it is)
};

class DurationPredictorImpl : public torch::nn::Module {
 public:
  explicit DurationPredictorImpl(const DurationPredictorOptions& options);
  // x [batch, frames, in] (the unit embedding, time-major) -> log-durations [batch, frames]
  torch::Tensor forward(const torch::Tensor& x);
  DurationPredictorOptions options;
  torch::nn::Sequential conv1{nullptr}, conv2{nullptr};  // Conv1d [hidden, in|hidden, kernel] + ReLU
  torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};       // [hidden]
  torch::nn::Linear proj{nullptr};                       // weight [1, hidden], bias [1]
};
TORCH_MODULE(DurationPredictor);

class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const VocoderConfig& config);
  // units [batch, frames] int64 in [0, k] (k = padding) -> audio [batch, 1, frames * 320].
  // speaker (a vocoder with a speaker): speaker_vector()'s [batch,
  // embedding_dim], concatenated after the unit channels at every frame.
  torch::Tensor forward(const torch::Tensor& units, const torch::Tensor& speaker = {});
  // The speaker's conditioning vector [batch, embedding_dim]: the table's
  // rows of ids [batch] int64, or the embedder's Linear of vectors
  // [batch, speaker_embedding_dim] float.
  torch::Tensor speaker_vector(const torch::Tensor& speaker);
  // durations [batch, frames] of units [batch, frames], as fairseq's
  // CodeGenerator: clamp(round(exp(log_d) - 1), min=1), kept in float32
  // (whole numbers; inf or NaN from a bad model stay visible to the caller).
  torch::Tensor predict_durations(const torch::Tensor& units);
  VocoderConfig config;
  torch::nn::Embedding dict{nullptr};
  WNConv1d conv_pre{nullptr}, conv_post{nullptr};  // conv_pre: [C, model_in_dim, 7]
  torch::nn::ModuleList ups{nullptr}, resblocks{nullptr};
  // "spkr": one of the two, or neither (a unit-only vocoder).
  torch::nn::Embedding spkr_table{nullptr};  // [num_speakers, embedding_dim]
  torch::nn::Linear spkr_embedder{
      nullptr};  // weight [embedding_dim, speaker_embedding_dim], bias [embedding_dim]
  DurationPredictor dur_predictor{nullptr};  // "dur_predictor", when the config has one
};
TORCH_MODULE(Generator);

// Score and feature maps of one sub-discriminator.
struct DiscOutput {
  torch::Tensor score;               // [batch, n]
  std::vector<torch::Tensor> fmaps;  // every layer's activation
};

class PeriodDiscriminatorImpl : public torch::nn::Module {
 public:
  PeriodDiscriminatorImpl(int64_t period, const std::vector<int>& channels);
  DiscOutput forward(torch::Tensor x);  // [batch, 1, time]
  int64_t period;
  torch::nn::ModuleList convs{nullptr};
  WNConv2d conv_post{nullptr};
};
TORCH_MODULE(PeriodDiscriminator);

class ScaleDiscriminatorImpl : public torch::nn::Module {
 public:
  // spectral_norm: HiFi-GAN's first scale; the others use weight norm.
  ScaleDiscriminatorImpl(const std::vector<int>& channels, const std::vector<int>& groups,
                         bool spectral_norm);
  DiscOutput forward(torch::Tensor x);  // [batch, 1, time]
  torch::nn::ModuleList convs{nullptr};
  WNConv1d conv_post{nullptr};
};
TORCH_MODULE(ScaleDiscriminator);

// Multi-period ("mpd.discriminators.N") and multi-scale ("msd.discriminators.N")
// discriminators together.
class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(const VocoderConfig& config);
  // One output per sub-discriminator: the periods first, then the scales.
  std::vector<DiscOutput> forward(const torch::Tensor& audio);  // [batch, 1, time]
  std::vector<PeriodDiscriminator> periods;
  std::vector<ScaleDiscriminator> scales;
};
TORCH_MODULE(Discriminator);

// Log-mel spectrogram of the training loss: HiFi-GAN's recipe (reflect pad
// (1024-256)/2, 1024-point periodic Hann, hop 256, magnitude
// sqrt(re^2 + im^2 + 1e-9), librosa's 80 Slaney mel bands 0-8000 Hz, ln with
// floor 1e-5), computed on `device`.
class MelLoss {
 public:
  explicit MelLoss(torch::Device device);
  torch::Tensor mel(const torch::Tensor& audio) const;  // [batch, 1, time] -> [batch, 80, frames]
 private:
  torch::Tensor window_, fbank_;
};

}  // namespace acoustok::vocoder
