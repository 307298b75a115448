// SPDX-License-Identifier: MIT
// wav2vec2 / XLSR-53 / HuBERT encoder in LibTorch, up to a chosen transformer
// block. Registered module names follow the Hugging Face checkpoint keys
// (without the "wav2vec2." / "hubert." prefix): they are the loading contract
// (a fairseq checkpoint's keys are mapped to them: fairseq_checkpoint.hpp).
//
//   feature_extractor.conv_layers.N.{conv,layer_norm}   conv stack, [B, 1, samples] -> [B, C, frames]
//   feature_projection.{layer_norm,projection}          [B, frames, C] -> [B, frames, D]
//   encoder.pos_conv_embed.conv                          weight-normed grouped conv (folded at load)
//   encoder.pos_conv_embed.batch_norm                    HuBERT variants with conv_pos_batch_norm only
//   encoder.layer_norm                                   post-LN models only (before block 1)
//   encoder.layers.N.{attention,layer_norm,feed_forward,final_layer_norm}
//
// Only blocks 1..L exist, so weights above L are never asked for. The output
// of block L is returned as is: for pre-LN models the encoder's final layer
// norm comes after the last block and is not part of any hidden state below it
// (torchaudio extract_features, Hugging Face hidden_states[L]).
#pragma once

#include <torch/torch.h>

#include "features/wav2vec2_config.hpp"
#include "common/torch/onednn_ops.hpp"

namespace acoustok::features {

// Streaming with reused context: per transformer block, the keys and values
// of the last frames given ([P, D] each, P at most the context), so a chunk
// runs only its own frames and its lookahead through the blocks.
struct BlockCache {
  torch::Tensor keys, values;
};

// nn.Linear with the same parameter names; on the CPU its product runs in oneDNN
// (onednn_ops.hpp) on a packed copy of the weight.
struct DenseOptions {
  DenseOptions(int64_t in, int64_t out) : in_(in), out_(out) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
};
class DenseImpl : public torch::nn::Module {
 public:
  explicit DenseImpl(const DenseOptions& o);
  torch::Tensor forward(const torch::Tensor& x);  // [..., in] -> [..., out]
  // CPU, after loading: products through oneDNN from now on.
  void prepare_cpu(onednn::Precision p = onednn::Precision::F32);
  // oneDNN path: dst [rows, out] (+)= x [rows, in] W^T + b, then GELU if asked.
  void forward_into(const torch::Tensor& x, const torch::Tensor& dst, bool gelu = false,
                    bool accumulate = false);
  int64_t out_features() const { return options_.out(); }
  torch::Tensor weight, bias;

 private:
  DenseOptions options_;
  onednn::PackedWeight packed_;
};
TORCH_MODULE(Dense);

// A conv's weight [out, in / groups, kernel] and bias [out] under the names
// nn.Conv1d gives them, without its random initialisation (the checkpoint
// overwrites them; drawing millions of random numbers slowed every load).
class ConvParamsImpl : public torch::nn::Module {
 public:
  ConvParamsImpl(int64_t in, int64_t out, int64_t kernel, int64_t groups, bool bias);
  torch::Tensor weight, bias;
};
TORCH_MODULE(ConvParams);

enum class ConvNorm { None, Group, Layer };
struct ConvBlockOptions {
  ConvBlockOptions(int64_t in, int64_t out, int64_t kernel, int64_t stride)
      : in_(in), out_(out), kernel_(kernel), stride_(stride) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  TORCH_ARG(int64_t, kernel);
  TORCH_ARG(int64_t, stride);
  TORCH_ARG(bool, bias) = false;
  TORCH_ARG(ConvNorm, norm) = ConvNorm::None;
};
class ConvBlockImpl : public torch::nn::Module {
 public:
  explicit ConvBlockImpl(const ConvBlockOptions& o);
  torch::Tensor forward(const torch::Tensor& x);  // [B, in, T] -> [B, out, T']
  // Time-major path (after prepare_cpu): [T, in] -> [T', out].
  torch::Tensor forward_time_major(const torch::Tensor& x);
  void prepare_cpu(onednn::Precision p = onednn::Precision::F32);

 private:
  ConvBlockOptions options_;
  onednn::PackedConv packed_conv_;  // after prepare_cpu
  ConvParams conv{nullptr};
  torch::nn::GroupNorm group_norm{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(ConvBlock);

class FeatureEncoderImpl : public torch::nn::Module {
 public:
  explicit FeatureEncoderImpl(const features::Wav2Vec2Config& c);
  torch::Tensor forward(const torch::Tensor& samples);  // [B, samples] -> [B, frames, C]
  void prepare_cpu(onednn::Precision p = onednn::Precision::F32);

 private:
  // One signal [samples] -> [frames, C] through the time-major path,
  // in spans of frames (with their receptive fields) when no group norm
  // needs the whole signal: the first convs' outputs of a minute of audio
  // would take gigabytes.
  torch::Tensor forward_packed(const torch::Tensor& samples);
  features::Wav2Vec2Config config_;
  bool packed_ = false;
  torch::nn::ModuleList conv_layers;
};
TORCH_MODULE(FeatureEncoder);

class FeatureProjectionImpl : public torch::nn::Module {
 public:
  explicit FeatureProjectionImpl(const features::Wav2Vec2Config& c);
  torch::Tensor forward(const torch::Tensor& x);  // [B, frames, C] -> [B, frames, D]
  void prepare_cpu(onednn::Precision p = onednn::Precision::F32) { projection->prepare_cpu(p); }

 private:
  torch::nn::LayerNorm layer_norm{nullptr};
  Dense projection{nullptr};
};
TORCH_MODULE(FeatureProjection);

// An inference batch norm's four tensors under nn.BatchNorm1d's names, all
// parameters so the loader reads them like any other weight.
class BatchNormParamsImpl : public torch::nn::Module {
 public:
  explicit BatchNormParamsImpl(int64_t channels);
  // x [B, T, C] normalised per channel with the running statistics (eps 1e-5).
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias, running_mean, running_var;
};
TORCH_MODULE(BatchNormParams);

// HuBERT variants with conv_pos_batch_norm: a batch norm first (its output
// feeds only the conv; the residual adds the conv's output to the input).
// Conv over time (kernel K, groups G, padding K/2) then GELU; an even kernel
// makes one frame too many, which is dropped. The checkpoint holds it weight-
// normed (g, v); the loader folds it into `conv.weight`.
class PositionalConvImpl : public torch::nn::Module {
 public:
  explicit PositionalConvImpl(const features::Wav2Vec2Config& c);
  torch::Tensor forward(const torch::Tensor& x);  // [B, frames, D] -> [B, frames, D]
  void prepare_cpu(onednn::Precision p = onednn::Precision::F32);
  ConvParams conv{nullptr};
  BatchNormParams batch_norm{nullptr};

 private:
  int64_t kernel_, groups_;
  onednn::PackedConv packed_;  // grouped, after prepare_cpu
};
TORCH_MODULE(PositionalConv);

class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t dim, int64_t heads);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, D] -> [B, T, D]
  // CPU: q, k, v in one product (the 1/sqrt(head dim) folded into q's rows),
  // heads one after another, queries in blocks.
  void prepare_cpu(onednn::Precision p = onednn::Precision::F32);
  bool prepared() const { return qkv_weight_.defined(); }
  // After prepare_cpu: residual [T, D] += attention(x [T, D]), x read first
  // (so residual may be x itself).
  void add_to(const torch::Tensor& x, const torch::Tensor& residual);
  // q, k and v's weights become views of a bfloat16 merged weight (a
  // float32 one when scaling_is_exact() is false).
  void store_weights_in_bf16();
  // Whether 1/sqrt(head dim) is a power of two.
  bool scaling_is_exact() const;
  // Streaming: the attention output (out_proj applied) of new frames x
  // [n, D], attending to the cached frames' keys and values and their own;
  // then the first `keep` of them join the cache, which keeps its last
  // `max_past` frames. Either mode (prepared or not).
  torch::Tensor attend_cached(const torch::Tensor& x, BlockCache& cache, int64_t keep, int64_t max_past);

 private:
  void view_merged_weights();
  int64_t dim_, heads_;
  // q, k and v's weights and biases are views of these ([3D, D], [3D]): the
  // checkpoint is read straight into the merged product's operands.
  torch::Tensor qkv_weight_plain_, qkv_bias_;
  onednn::PackedWeight qkv_weight_;  // after prepare_cpu
  onednn::Precision precision_ = onednn::Precision::F32;
  Dense q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
};
TORCH_MODULE(SelfAttention);

class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t dim, int64_t inner);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, D] -> [B, T, D]
  void prepare_cpu(onednn::Precision p = onednn::Precision::F32);
  // After prepare_cpu: residual [rows, D] += feed_forward(x [rows, D]); each
  // block of rows is read before it is written (residual may be x itself).
  void add_to(const torch::Tensor& x, const torch::Tensor& residual);
  // feed_forward(x) in either mode.
  torch::Tensor apply(const torch::Tensor& x);

 private:
  bool onednn_ = false;
  Dense intermediate_dense{nullptr}, output_dense{nullptr};
};
TORCH_MODULE(FeedForward);

class EncoderLayerImpl : public torch::nn::Module {
 public:
  explicit EncoderLayerImpl(const features::Wav2Vec2Config& c);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, D] -> [B, T, D]
  // Streaming: new frames [n, D] -> [n, D] (SelfAttention::attend_cached).
  torch::Tensor forward_cached(const torch::Tensor& x, BlockCache& cache, int64_t keep, int64_t max_past);

 private:
  bool pre_ln_;
  SelfAttention attention{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
  FeedForward feed_forward{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(EncoderLayer);

class EncoderImpl : public torch::nn::Module {
 public:
  EncoderImpl(const features::Wav2Vec2Config& c, int64_t blocks);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, D] -> output of the last block, [B, T, D]
  // Streaming: front-end frames [F, D], of which rows [new_from, F) are new
  // (the rows before them feed only the positional conv) -> the last
  // block's output for the new rows [F - new_from, D]; see BlockCache.
  torch::Tensor forward_cached(const torch::Tensor& frames, int64_t new_from, std::vector<BlockCache>& cache,
                               int64_t keep, int64_t max_past);
  int64_t blocks() const { return static_cast<int64_t>(layers->size()); }

 private:
  bool pre_ln_;
  PositionalConv pos_conv_embed{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};  // post-LN only
  torch::nn::ModuleList layers;
};
TORCH_MODULE(Encoder);

// Samples [B, samples] (already normalised) -> layer `blocks` [B, frames, D].
class Wav2Vec2Impl : public torch::nn::Module {
 public:
  Wav2Vec2Impl(const features::Wav2Vec2Config& c, int64_t blocks);
  torch::Tensor forward(const torch::Tensor& samples);
  // forward() in two halves, for streaming: the conv stack and projection
  // [B, samples] -> [B, frames, D], then the transformer [B, frames, D] ->
  // [B, frames, D] (its input is left as it was).
  torch::Tensor front_end(const torch::Tensor& samples);
  torch::Tensor encode(const torch::Tensor& frames);
  // Streaming with reused context: EncoderImpl::forward_cached.
  torch::Tensor encode_cached(const torch::Tensor& frames, int64_t new_from, std::vector<BlockCache>& cache,
                              int64_t keep, int64_t max_past);
  int64_t blocks() const { return encoder->blocks(); }
  // CPU inference, after loading: time-major convs, blocked attention, every
  // product in oneDNN (onednn_ops.hpp). Without it the modules run as
  // written (the CUDA path, and the reference the tests compare with).
  void prepare_cpu(onednn::Precision p = onednn::Precision::F32);
  // Before loading, when prepare_cpu(BF16) follows: the weights it packs are
  // given bfloat16 storage, so the loader rounds each one into half the
  // memory and no float32 copy of them is ever filled (half the fresh pages
  // of a load, half the resident weights).
  void store_packed_weights_in_bf16();

 private:
  FeatureEncoder feature_extractor{nullptr};
  FeatureProjection feature_projection{nullptr};
  Encoder encoder{nullptr};
  onednn::Workspace workspace_;  // the CPU kernels' scratch, one call at a time
};
TORCH_MODULE(Wav2Vec2);

}  // namespace acoustok::features
