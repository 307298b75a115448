// SPDX-License-Identifier: MIT
#include "features/torch/wav2vec2_model.hpp"

#include "common/torch/onednn_ops.hpp"
#include "common/torch/row_kernels.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <functional>
#include <cmath>

namespace acoustok::features {

namespace F = torch::nn::functional;

// ---- CPU products ----------------------------------------------------------------

namespace {

// dst [out_T, out] = conv(x [T, C]) + bias in blocks of exactly `block`
// output steps, so that one oneDNN primitive serves every signal length (a
// new length would otherwise cost a new one, ~10 ms of code generation): the
// last block runs on a zero-padded copy of its input and keeps its valid rows.
// `epilogue`, when given, runs on each block in place while it is in cache.
void conv_in_blocks(const onednn::PackedConv& conv, const torch::Tensor& x, const torch::Tensor& bias,
                    const torch::Tensor& dst, int64_t block,
                    const std::function<void(const torch::Tensor&)>& epilogue = {}) {
  const int64_t k = conv.kernel(), stride = conv.stride(), T = x.size(0), out_T = dst.size(0);
  const int64_t block_in = (block - 1) * stride + k;
  for (int64_t r = 0; r < out_T; r += block) {
    const int64_t n = std::min(block, out_T - r);
    const torch::Tensor rows = dst.narrow(0, r, n);
    if (n == block) {
      conv.run(x.narrow(0, r * stride, block_in), bias, rows);
    } else {
      torch::Tensor in = torch::zeros({block_in, x.size(1)});
      const int64_t have = std::min(block_in, T - r * stride);
      in.narrow(0, 0, have).copy_(x.narrow(0, r * stride, have));
      torch::Tensor out = torch::empty({block, dst.size(1)});
      conv.run(in, bias, out);
      rows.copy_(out.narrow(0, 0, n));
    }
    if (epilogue) epilogue(rows);
  }
}

}  // namespace

// ---- Dense ------------------------------------------------------------------

DenseImpl::DenseImpl(const DenseOptions& o) : options_(o) {
  weight = register_parameter("weight", torch::empty({o.out(), o.in()}), false);
  bias = register_parameter("bias", torch::empty({o.out()}), false);
}

void DenseImpl::prepare_cpu(onednn::Precision p) {
  packed_ = onednn::PackedWeight::pack(weight, p);
  // The registered tensor keeps its name (the checkpoint contract) but not its memory.
  weight.set_data(torch::empty({0}));
}

torch::Tensor DenseImpl::forward(const torch::Tensor& x) {
  if (!packed_.defined()) return torch::linear(x, weight, bias);
  auto shape = x.sizes().vec();
  shape.back() = options_.out();
  torch::Tensor out = torch::empty(shape);
  forward_into(x.reshape({-1, options_.in()}), out.view({-1, options_.out()}));
  return out;
}

void DenseImpl::forward_into(const torch::Tensor& x, const torch::Tensor& dst, bool gelu, bool accumulate) {
  onednn::linear(x, packed_, dst,
                 onednn::MatmulOptions()
                     .bias(bias)
                     .activation(gelu ? onednn::Activation::Gelu : onednn::Activation::None)
                     .accumulate(accumulate));
}

// ---- feature encoder ---------------------------------------------------------

ConvParamsImpl::ConvParamsImpl(int64_t in, int64_t out, int64_t kernel, int64_t groups, bool with_bias) {
  weight = register_parameter("weight", torch::empty({out, in / groups, kernel}), false);
  if (with_bias) bias = register_parameter("bias", torch::empty({out}), false);
}

ConvBlockImpl::ConvBlockImpl(const ConvBlockOptions& o) : options_(o) {
  conv = register_module("conv", ConvParams(o.in(), o.out(), o.kernel(), 1, o.bias()));
  // Both norms carry the Hugging Face name "layer_norm".
  if (o.norm() == ConvNorm::Group) {
    group_norm =
        register_module("layer_norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(o.out(), o.out())));
  } else if (o.norm() == ConvNorm::Layer) {
    layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.out()})));
  }
}

void ConvBlockImpl::prepare_cpu(onednn::Precision p) {
  packed_conv_ = onednn::PackedConv::pack(conv->weight, options_.stride(), 1, p);
  // The registered tensor keeps its name (the checkpoint contract) but not its memory.
  conv->weight.set_data(torch::empty({0}));
}

torch::Tensor ConvBlockImpl::forward_time_major(const torch::Tensor& x) {
  const torch::Tensor bias = options_.bias() ? conv->bias : torch::Tensor();
  const int64_t k = options_.kernel(), stride = options_.stride();
  // Layer norm and GELU per block of output rows while it is in cache; a
  // group norm needs the statistics of the whole signal first.
  std::function<void(const torch::Tensor&)> epilogue;
  if (!group_norm) {
    epilogue = [this](const torch::Tensor& rows) {
      if (layer_norm) {
        onednn::layer_norm_rows(rows, layer_norm->weight, layer_norm->bias, layer_norm->options.eps(),
                                /*gelu=*/true, rows);
      } else {
        rows.copy_(torch::gelu(rows));
      }
    };
  }
  const torch::Tensor xc = x.contiguous();
  TORCH_CHECK(xc.size(0) >= k, "conv input of ", xc.size(0), " steps is shorter than its kernel ", k);
  torch::Tensor y = torch::empty({(xc.size(0) - k) / stride + 1, options_.out()});
  // 128 steps: a quarter MB of 512 channels, and little padding wasted on
  // the last block of the deeper layers (200 steps per second of audio).
  conv_in_blocks(packed_conv_, xc, bias, y, 128, epilogue);
  if (group_norm) {
    y = group_norm(y.t().unsqueeze(0)).squeeze(0).t();
    torch::gelu_(y);
  }
  return y;
}

torch::Tensor ConvBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = torch::conv1d(x, conv->weight, conv->bias, options_.stride());  // [B, out, T']
  if (group_norm) y = group_norm(y);                                                // per-channel over time
  if (layer_norm) y = layer_norm(y.transpose(1, 2)).transpose(1, 2);  // over channels, per frame
  return torch::gelu(y);
}

FeatureEncoderImpl::FeatureEncoderImpl(const features::Wav2Vec2Config& c) : config_(c) {
  conv_layers = register_module("conv_layers", torch::nn::ModuleList());
  int64_t in = 1;
  for (size_t i = 0; i < c.conv_dim.size(); ++i) {
    auto norm = c.feat_extract_layer_norm ? ConvNorm::Layer : i == 0 ? ConvNorm::Group : ConvNorm::None;
    conv_layers->push_back(ConvBlock(ConvBlockOptions(in, c.conv_dim[i], c.conv_kernel[i], c.conv_stride[i])
                                         .bias(c.conv_bias)
                                         .norm(norm)));
    in = c.conv_dim[i];
  }
}

void FeatureEncoderImpl::prepare_cpu(onednn::Precision p) {
  for (const auto& layer : *conv_layers) layer->as<ConvBlock>()->prepare_cpu(p);
  packed_ = true;
}

torch::Tensor FeatureEncoderImpl::forward_packed(const torch::Tensor& samples) {
  const int64_t n = samples.size(0);
  const int64_t frames = config_.frames_for(n);
  const int64_t rf = config_.receptive_field(), hop = config_.hop();
  auto run = [&](const torch::Tensor& span) {
    torch::Tensor x = span.unsqueeze(1);  // [samples, 1]
    for (const auto& layer : *conv_layers) x = layer->as<ConvBlock>()->forward_time_major(x);
    return x;  // [frames, C]
  };
  // Frame i sees samples [hop i, hop i + rf): spans of frames are exact.
  constexpr int64_t kSpanFrames = 50;
  if (config_.feat_extract_layer_norm == false || frames <= kSpanFrames) return run(samples);
  std::vector<torch::Tensor> parts;
  for (int64_t a = 0; a < frames; a += kSpanFrames) {
    const int64_t b = std::min(frames, a + kSpanFrames);
    parts.push_back(run(samples.narrow(0, hop * a, hop * (b - 1) + rf - hop * a)));
  }
  return torch::cat(parts, 0);
}

torch::Tensor FeatureEncoderImpl::forward(const torch::Tensor& samples) {
  if (packed_) {
    std::vector<torch::Tensor> batch;
    for (int64_t b = 0; b < samples.size(0); ++b) batch.push_back(forward_packed(samples[b]));
    return torch::stack(batch, 0);  // [B, frames, C]
  }
  torch::Tensor x = samples.unsqueeze(1);  // [B, 1, samples]
  for (const auto& layer : *conv_layers) x = layer->as<ConvBlock>()->forward(x);
  return x.transpose(1, 2);  // [B, frames, C]
}

FeatureProjectionImpl::FeatureProjectionImpl(const features::Wav2Vec2Config& c) {
  if (c.feat_proj_layer_norm) {
    layer_norm = register_module(
        "layer_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.conv_dim.back()}).eps(c.layer_norm_eps)));
  }
  projection = register_module("projection", Dense(DenseOptions(c.conv_dim.back(), c.hidden_size)));
}

torch::Tensor FeatureProjectionImpl::forward(const torch::Tensor& x) {
  return projection(layer_norm ? layer_norm(x) : x);
}

// ---- transformer ---------------------------------------------------------------

BatchNormParamsImpl::BatchNormParamsImpl(int64_t channels) {
  weight = register_parameter("weight", torch::empty({channels}), false);
  bias = register_parameter("bias", torch::empty({channels}), false);
  running_mean = register_parameter("running_mean", torch::empty({channels}), false);
  running_var = register_parameter("running_var", torch::empty({channels}), false);
}

torch::Tensor BatchNormParamsImpl::forward(const torch::Tensor& x) {
  const torch::Tensor scale = weight * torch::rsqrt(running_var + 1e-5);
  return (x - running_mean) * scale + bias;
}

PositionalConvImpl::PositionalConvImpl(const features::Wav2Vec2Config& c)
    : kernel_(c.num_conv_pos_embeddings), groups_(c.num_conv_pos_embedding_groups) {
  conv = register_module("conv", ConvParams(c.hidden_size, c.hidden_size, kernel_, groups_, true));
  if (c.conv_pos_batch_norm) batch_norm = register_module("batch_norm", BatchNormParams(c.hidden_size));
}

void PositionalConvImpl::prepare_cpu(onednn::Precision p) {
  packed_ = onednn::PackedConv::pack(conv->weight, 1, groups_, p);
  conv->weight.set_data(torch::empty({0}));
}

torch::Tensor PositionalConvImpl::forward(const torch::Tensor& input) {
  const torch::Tensor x = batch_norm ? batch_norm(input) : input;
  if (packed_.defined()) {
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2), pad = kernel_ / 2;
    torch::Tensor out = torch::empty({B, T, D});
    torch::Tensor padded = torch::zeros({T + 2 * pad, D});  // time-major, zeros at both ends
    for (int64_t b = 0; b < B; ++b) {
      padded.narrow(0, pad, T).copy_(x[b]);
      // T outputs: an even kernel's extra frame is never made.
      conv_in_blocks(packed_, padded, conv->bias, out[b], 128);
    }
    return torch::gelu_(out);
  }
  torch::Tensor y = torch::conv1d(x.transpose(1, 2), conv->weight, conv->bias, 1, kernel_ / 2, 1,
                                  groups_);  // [B, D, T (+1 for an even kernel)]
  if (kernel_ % 2 == 0) y = y.narrow(2, 0, y.size(2) - 1);
  return torch::gelu(y).transpose(1, 2);
}

SelfAttentionImpl::SelfAttentionImpl(int64_t dim, int64_t heads) : dim_(dim), heads_(heads) {
  k_proj = register_module("k_proj", Dense(DenseOptions(dim, dim)));
  v_proj = register_module("v_proj", Dense(DenseOptions(dim, dim)));
  q_proj = register_module("q_proj", Dense(DenseOptions(dim, dim)));
  out_proj = register_module("out_proj", Dense(DenseOptions(dim, dim)));
  qkv_weight_plain_ = torch::empty({3 * dim, dim});
  qkv_bias_ = torch::empty({3 * dim});
  view_merged_weights();
}

void SelfAttentionImpl::view_merged_weights() {
  int64_t row = 0;
  for (Dense* d : {&q_proj, &k_proj, &v_proj}) {
    (*d)->weight.set_data(qkv_weight_plain_.narrow(0, row, dim_));
    (*d)->bias.set_data(qkv_bias_.narrow(0, row, dim_));
    row += dim_;
  }
}

bool SelfAttentionImpl::scaling_is_exact() const {
  int exponent = 0;
  return std::frexp(1.0 / std::sqrt(static_cast<double>(dim_ / heads_)), &exponent) == 0.5;
}

void SelfAttentionImpl::store_weights_in_bf16() {
  // prepare_cpu scales q's rows by 1/sqrt(head dim): on weights already
  // rounded to bfloat16 that is exact only for a power of two (head dims
  // 16, 64, 256: every released wav2vec2). Otherwise q, k and v stay float32
  // and are rounded once, after the scaling, as a float32 load is.
  qkv_weight_plain_ = torch::empty({3 * dim_, dim_}, scaling_is_exact() ? torch::kBFloat16 : torch::kFloat32);
  view_merged_weights();
}

void SelfAttentionImpl::prepare_cpu(onednn::Precision p) {
  // A power of two for 64 (every wav2vec2 model): exact (scaling_is_exact).
  const double scaling = 1.0 / std::sqrt(static_cast<double>(dim_ / heads_));
  qkv_weight_plain_.narrow(0, 0, dim_).mul_(scaling);
  qkv_bias_.narrow(0, 0, dim_).mul_(scaling);
  qkv_weight_ = onednn::PackedWeight::pack(qkv_weight_plain_, p);  // takes the memory over
  precision_ = p;
  qkv_weight_plain_ = torch::Tensor();
  for (Dense* d : {&q_proj, &k_proj, &v_proj}) {
    (*d)->weight.set_data(torch::empty({0}));
    (*d)->bias.set_data(torch::empty({0}));
  }
  out_proj->prepare_cpu(p);
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), hd = dim_ / heads_;
  TORCH_CHECK(!prepared(), "after prepare_cpu, self-attention runs through add_to");
  const double scaling = 1.0 / std::sqrt(static_cast<double>(hd));
  const torch::Tensor q = (q_proj(x) * scaling).view({B, T, heads_, hd}).transpose(1, 2);  // [B, H, T, hd]
  const torch::Tensor k = k_proj(x).view({B, T, heads_, hd}).transpose(1, 2);
  const torch::Tensor v = v_proj(x).view({B, T, heads_, hd}).transpose(1, 2);
  const torch::Tensor w = torch::softmax(torch::matmul(q, k.transpose(2, 3)), -1);  // [B, H, T, T]
  return out_proj(torch::matmul(w, v).transpose(1, 2).reshape({B, T, dim_}));
}

void SelfAttentionImpl::add_to(const torch::Tensor& x, const torch::Tensor& residual) {
  const int64_t T = x.size(0), H = heads_, hd = dim_ / heads_;
  // q, k, v of a block of rows at a time, scattered head-major [3, H, T, hd]:
  // each head's rows contiguous (oneDNN's fastest kernels want that), and no
  // [T, 3D] intermediate next to it.
  constexpr int64_t kRows = 512;
  const torch::Tensor xc = x.contiguous();
  // In the model's workspace, reused across blocks and calls: at 60 s it is
  // 37 MB, above what glibc keeps in its heap, and a fresh mapping costs
  // 9000 page faults per block. In bf16, q, k, v are kept rounded to bf16
  // and the scores' numerators rounded again for the product with V; scores
  // and sums stay float32.
  const bool bf16 = precision_ == onednn::Precision::BF16;
  const auto heads_type = bf16 ? torch::kBFloat16 : torch::kFloat32;
  const torch::Tensor heads =
      onednn::Workspace::scratch(onednn::Workspace::Slot::attention_heads, 3 * T * dim_, heads_type)
          .view({3, H, T, hd});
  torch::Tensor qkv = torch::empty({std::min(kRows, T), 3 * dim_});
  for (int64_t r = 0; r < T; r += kRows) {
    const int64_t n = std::min(kRows, T - r);
    const torch::Tensor block = qkv.narrow(0, 0, n);
    onednn::linear(xc.narrow(0, r, n), qkv_weight_, block, onednn::MatmulOptions().bias(qkv_bias_));
    heads.narrow(2, r, n).copy_(block.view({n, 3, H, hd}).permute({1, 2, 0, 3}));
  }
  // Queries in blocks of 512 (fastest of 128..1024 here): a block's scores
  // [rows, T] are a few MB, never the [H, T, T] weights of all heads.
  torch::Tensor scores = torch::empty({std::min(kRows, T), T});
  torch::Tensor scores16 = bf16 ? torch::empty({std::min(kRows, T), T}, torch::kBFloat16) : torch::Tensor();
  torch::Tensor inv_sum = torch::empty({H, T});
  torch::Tensor context = torch::empty({H, T, hd});
  for (int64_t h = 0; h < H; ++h) {
    const torch::Tensor q = heads[0][h], k = heads[1][h], v = heads[2][h];  // [T, hd]
    for (int64_t r = 0; r < T; r += kRows) {
      const int64_t n = std::min(kRows, T - r);
      const torch::Tensor s = scores.narrow(0, 0, n);
      onednn::matmul(q.narrow(0, r, n), k.t(), s);  // [n, T]
      if (bf16) {
        const torch::Tensor s16 = scores16.narrow(0, 0, n);
        onednn::softmax_numerators(s, inv_sum[h].narrow(0, r, n), s16);
        onednn::matmul(s16, v, context[h].narrow(0, r, n));
        continue;
      }
      onednn::softmax_numerators(s, inv_sum[h].narrow(0, r, n));  // exp(s - max) and 1 / sum
      onednn::matmul(s, v, context[h].narrow(0, r, n));           // [n, hd]
    }
  }
  // softmax's division, on [T, hd] instead of [T, T], in the copy back to [T, D].
  const torch::Tensor merged = context.mul_(inv_sum.unsqueeze(-1)).permute({1, 0, 2}).reshape({T, dim_});
  out_proj->forward_into(merged, residual, /*gelu=*/false, /*accumulate=*/true);
}

torch::Tensor SelfAttentionImpl::attend_cached(const torch::Tensor& x, BlockCache& cache, int64_t keep,
                                               int64_t max_past) {
  const int64_t n = x.size(0), H = heads_, hd = dim_ / heads_;
  torch::Tensor q, k, v;  // [n, D] each, q scaled by 1/sqrt(hd)
  if (prepared()) {
    torch::Tensor qkv = torch::empty({n, 3 * dim_});
    onednn::linear(x.contiguous(), qkv_weight_, qkv,
                   onednn::MatmulOptions().bias(qkv_bias_));  // q's rows pre-scaled
    q = qkv.narrow(1, 0, dim_);
    k = qkv.narrow(1, dim_, dim_);
    v = qkv.narrow(1, 2 * dim_, dim_);
  } else {
    q = q_proj(x) * (1.0 / std::sqrt(static_cast<double>(hd)));
    k = k_proj(x);
    v = v_proj(x);
  }
  const bool past = cache.keys.defined() && cache.keys.size(0) > 0;
  const torch::Tensor keys = past ? torch::cat({cache.keys, k}, 0) : k;  // [P + n, D]
  const torch::Tensor values = past ? torch::cat({cache.values, v}, 0) : v;
  const int64_t T = keys.size(0);
  const torch::Tensor qh = q.reshape({n, H, hd}).transpose(0, 1);        // [H, n, hd]
  const torch::Tensor kh = keys.reshape({T, H, hd}).permute({1, 2, 0});  // [H, hd, T]
  const torch::Tensor vh = values.reshape({T, H, hd}).transpose(0, 1);   // [H, T, hd]
  const torch::Tensor w = torch::softmax(torch::matmul(qh, kh), -1);     // [H, n, T]
  const torch::Tensor context = torch::matmul(w, vh).transpose(0, 1).reshape({n, dim_});
  // The chunk's frames join the cache; its lookahead is computed again next time.
  const int64_t before = T - n, kept = std::min(before + keep, max_past);
  cache.keys = keys.narrow(0, before + keep - kept, kept).clone();
  cache.values = values.narrow(0, before + keep - kept, kept).clone();
  return out_proj(context);
}

FeedForwardImpl::FeedForwardImpl(int64_t dim, int64_t inner) {
  intermediate_dense = register_module("intermediate_dense", Dense(DenseOptions(dim, inner)));
  output_dense = register_module("output_dense", Dense(DenseOptions(inner, dim)));
}

void FeedForwardImpl::prepare_cpu(onednn::Precision p) {
  intermediate_dense->prepare_cpu(p);
  output_dense->prepare_cpu(p);
  onednn_ = true;
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(!onednn_, "after prepare_cpu, the feed-forward block runs through add_to");
  return output_dense(torch::gelu(intermediate_dense(x)));
}

void FeedForwardImpl::add_to(const torch::Tensor& x, const torch::Tensor& residual) {
  // Rows are independent: in blocks, the [rows, inner] intermediate of a long
  // input stays a few MB instead of hundreds.
  constexpr int64_t kRows = 512;
  const int64_t rows = x.size(0);
  torch::Tensor inner = torch::empty({std::min(kRows, rows), intermediate_dense->out_features()});
  for (int64_t r = 0; r < rows; r += kRows) {
    const int64_t n = std::min(kRows, rows - r);
    intermediate_dense->forward_into(x.narrow(0, r, n), inner.narrow(0, 0, n), /*gelu=*/true);
    output_dense->forward_into(inner.narrow(0, 0, n), residual.narrow(0, r, n), /*gelu=*/false,
                               /*accumulate=*/true);
  }
}

torch::Tensor FeedForwardImpl::apply(const torch::Tensor& x) {
  if (!onednn_) return forward(x);
  torch::Tensor out = torch::zeros_like(x);
  add_to(x.contiguous(), out);
  return out;
}

EncoderLayerImpl::EncoderLayerImpl(const features::Wav2Vec2Config& c) : pre_ln_(c.do_stable_layer_norm) {
  const auto ln = torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps);
  attention = register_module("attention", SelfAttention(c.hidden_size, c.num_attention_heads));
  layer_norm = register_module("layer_norm", torch::nn::LayerNorm(ln));
  feed_forward = register_module("feed_forward", FeedForward(c.hidden_size, c.intermediate_size));
  final_layer_norm = register_module("final_layer_norm", torch::nn::LayerNorm(ln));
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x) {
  if (attention->prepared()) {
    // CPU: residual sums accumulated in place by the output products. The
    // input is this encoder's own intermediate, free to be overwritten.
    for (int64_t b = 0; b < x.size(0); ++b) {
      const torch::Tensor y = x[b];  // [T, D]
      const auto norm = [](const torch::nn::LayerNorm& ln, const torch::Tensor& in,
                           const torch::Tensor& out) {
        onednn::layer_norm_rows(in, ln->weight, ln->bias, ln->options.eps(), /*gelu=*/false, out);
        return out;
      };
      if (pre_ln_) {
        attention->add_to(norm(layer_norm, y, torch::empty_like(y)), y);
        feed_forward->add_to(norm(final_layer_norm, y, torch::empty_like(y)), y);
      } else {
        attention->add_to(y, y);
        norm(layer_norm, y, y);
        feed_forward->add_to(y, y);
        norm(final_layer_norm, y, y);
      }
    }
    return x;
  }
  if (pre_ln_) {
    torch::Tensor y = x + attention(layer_norm(x));
    return y + feed_forward(final_layer_norm(y));
  }
  torch::Tensor y = layer_norm(x + attention(x));
  return final_layer_norm(y + feed_forward(y));
}

torch::Tensor EncoderLayerImpl::forward_cached(const torch::Tensor& x, BlockCache& cache, int64_t keep,
                                               int64_t max_past) {
  if (pre_ln_) {
    const torch::Tensor y = x + attention->attend_cached(layer_norm(x), cache, keep, max_past);
    return y + feed_forward->apply(final_layer_norm(y));
  }
  const torch::Tensor y = layer_norm(x + attention->attend_cached(x, cache, keep, max_past));
  return final_layer_norm(y + feed_forward->apply(y));
}

EncoderImpl::EncoderImpl(const features::Wav2Vec2Config& c, int64_t blocks)
    : pre_ln_(c.do_stable_layer_norm) {
  pos_conv_embed = register_module("pos_conv_embed", PositionalConv(c));
  // A pre-LN model's encoder.layer_norm follows the last block: never used for
  // an inner layer, so never loaded.
  if (!pre_ln_) {
    layer_norm = register_module(
        "layer_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  }
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < blocks; ++i) layers->push_back(EncoderLayer(c));
}

torch::Tensor EncoderImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = x + pos_conv_embed(x);
  if (layer_norm) y = layer_norm(y);
  for (const auto& layer : *layers) y = layer->as<EncoderLayer>()->forward(y);
  return y;
}

torch::Tensor EncoderImpl::forward_cached(const torch::Tensor& frames, int64_t new_from,
                                          std::vector<BlockCache>& cache, int64_t keep, int64_t max_past) {
  // The positional conv sees the frames before the new ones (and zeros after
  // the last), as it would over the whole visible span.
  const torch::Tensor x = frames.unsqueeze(0);
  torch::Tensor y = (x + pos_conv_embed(x)).squeeze(0).narrow(0, new_from, frames.size(0) - new_from);
  if (layer_norm) y = layer_norm(y);
  cache.resize(layers->size());
  for (size_t i = 0; i < layers->size(); ++i) {
    y = layers[i]->as<EncoderLayer>()->forward_cached(y, cache[i], keep, max_past);
  }
  return y;
}

Wav2Vec2Impl::Wav2Vec2Impl(const features::Wav2Vec2Config& c, int64_t blocks) {
  feature_extractor = register_module("feature_extractor", FeatureEncoder(c));
  feature_projection = register_module("feature_projection", FeatureProjection(c));
  encoder = register_module("encoder", Encoder(c, blocks));
}

torch::Tensor Wav2Vec2Impl::forward(const torch::Tensor& samples) {
  TORCH_CHECK(samples.dim() == 2, "wav2vec2 expects samples [batch, time], got ", samples.sizes());
  return encode(front_end(samples));
}

torch::Tensor Wav2Vec2Impl::front_end(const torch::Tensor& samples) {
  onednn::Workspace::Scope scope(workspace_);
  return feature_projection(feature_extractor(samples));
}

torch::Tensor Wav2Vec2Impl::encode(const torch::Tensor& frames) {
  onednn::Workspace::Scope scope(workspace_);
  return encoder(frames);
}

torch::Tensor Wav2Vec2Impl::encode_cached(const torch::Tensor& frames, int64_t new_from,
                                          std::vector<BlockCache>& cache, int64_t keep, int64_t max_past) {
  onednn::Workspace::Scope scope(workspace_);
  return encoder->forward_cached(frames, new_from, cache, keep, max_past);
}

void Wav2Vec2Impl::store_packed_weights_in_bf16() {
  // Every product's and conv's weight is packed (the positional conv's is
  // folded from weight_g and weight_v in float32 first, then rounded).
  const auto bf16 = [](torch::Tensor& w) { w.set_data(torch::empty(w.sizes(), torch::kBFloat16)); };
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* d = m->as<DenseImpl>()) bf16(d->weight);
    if (auto* c = m->as<ConvParamsImpl>()) bf16(c->weight);
  }
  // Then q, k and v as views of one merged weight again.
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* a = m->as<SelfAttentionImpl>()) a->store_weights_in_bf16();
  }
}

void Wav2Vec2Impl::prepare_cpu(onednn::Precision p) {
  // Packing copies every weight once: spread over the threads like loading.
  std::vector<std::function<void()>> tasks;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* a = m->as<SelfAttentionImpl>())
      tasks.emplace_back([a, p] { a->prepare_cpu(p); });  // q, k, v and out_proj
    if (auto* f = m->as<FeedForwardImpl>()) tasks.emplace_back([f, p] { f->prepare_cpu(p); });
    if (auto* c = m->as<PositionalConvImpl>()) tasks.emplace_back([c, p] { c->prepare_cpu(p); });
  }
  tasks.emplace_back([this, p] { feature_projection->prepare_cpu(p); });
  tasks.emplace_back([this, p] { feature_extractor->prepare_cpu(p); });
  at::parallel_for(0, static_cast<int64_t>(tasks.size()), 1, [&](int64_t begin, int64_t end) {
    onednn::Workspace packing;  // one scratch for this thread's weights, freed when they are packed
    onednn::Workspace::Scope scope(packing);
    for (int64_t i = begin; i < end; ++i) tasks[static_cast<size_t>(i)]();
  });
}

}  // namespace acoustok::features
