#include "wav2vec2_model.hpp"

#include <algorithm>
#include <cmath>

namespace acoustok::xlsr {

namespace F = torch::nn::functional;

// ---- oneDNN helpers -------------------------------------------------------------

namespace {

// [rows, in] x packed [out, in]^T (+ bias) -> [rows, out], in blocks of rows so
// the copies (windows made contiguous, oneDNN layouts) stay small.
torch::Tensor matmul_rows(const torch::Tensor& x, const PackedWeight& packed, const torch::Tensor& bias,
                          int64_t block_rows) {
  const int64_t rows = x.size(0);
  if (rows <= block_rows) return packed.apply(x.contiguous(), bias);
  torch::Tensor out = torch::empty({rows, packed.w.size(0)});
  for (int64_t r = 0; r < rows; r += block_rows) {
    const int64_t n = std::min(block_rows, rows - r);
    out.narrow(0, r, n).copy_(packed.apply(x.narrow(0, r, n).contiguous(), bias));
  }
  return out;
}

// Conv over time of a time-major signal [T, C] with a tap-major packed weight
// [out, k * C]: each output row's window is k consecutive input rows, i.e. one
// contiguous run of k * C floats (a strided view, no copy until a block is used).
torch::Tensor conv_time_major(const torch::Tensor& x, const PackedWeight& packed, const torch::Tensor& bias, int64_t k,
                              int64_t stride) {
  const int64_t T = x.size(0), C = x.size(1);
  TORCH_CHECK(T >= k, "conv input of ", T, " steps is shorter than its kernel ", k);
  const int64_t out_T = (T - k) / stride + 1;
  const torch::Tensor xc = x.contiguous();
  const torch::Tensor windows = xc.as_strided({out_T, k * C}, {stride * C, 1});
  // About 4 MB of windows per oneDNN call.
  const int64_t block = std::max<int64_t>(64, (int64_t{1} << 20) / (k * C));
  return matmul_rows(windows, packed, bias, block);
}

// [out, in, k] -> [out, k * in], tap-major.
PackedWeight pack_conv_weight(const torch::Tensor& w, bool mkldnn) {
  return PackedWeight::make(w.permute({0, 2, 1}).reshape({w.size(0), -1}).contiguous(), mkldnn);
}

}  // namespace

PackedWeight PackedWeight::make(const torch::Tensor& w, bool mkldnn) {
  return {mkldnn ? w.contiguous().to_mkldnn() : w, mkldnn};
}

torch::Tensor PackedWeight::apply(const torch::Tensor& x, const torch::Tensor& bias) const {
  if (mkldnn) return at::mkldnn_linear(x.contiguous().to_mkldnn(), w, bias).to_dense();
  return bias.defined() ? torch::addmm(bias, x, w.t()) : torch::mm(x, w.t());
}

// ---- Dense ------------------------------------------------------------------

DenseImpl::DenseImpl(const DenseOptions& o) : options_(o) {
  weight = register_parameter("weight", torch::empty({o.out(), o.in()}), false);
  bias = register_parameter("bias", torch::empty({o.out()}), false);
}

torch::Tensor DenseImpl::forward(const torch::Tensor& x) {
  if (!packed_.mkldnn) return torch::linear(x, weight, bias);
  // oneDNN takes a 2-D input.
  auto shape = x.sizes().vec();
  shape.back() = options_.out();
  return packed_.apply(x.reshape({-1, options_.in()}), bias).view(shape);
}

void DenseImpl::prepare_cpu(bool mkldnn) {
  if (!mkldnn) return;
  packed_ = PackedWeight::make(weight, true);
  // The registered tensor keeps its name (the checkpoint contract) but not its memory.
  weight.set_data(torch::empty({0}));
}

// ---- feature encoder ---------------------------------------------------------

ConvBlockImpl::ConvBlockImpl(const ConvBlockOptions& o) : options_(o) {
  conv = register_module("conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(o.in(), o.out(), o.kernel()).stride(o.stride()).bias(o.bias())));
  // Both norms carry the Hugging Face name "layer_norm".
  if (o.norm() == ConvNorm::Group) {
    group_norm = register_module("layer_norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(o.out(), o.out())));
  } else if (o.norm() == ConvNorm::Layer) {
    layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.out()})));
  }
}

void ConvBlockImpl::prepare_cpu(bool mkldnn) {
  packed_ = pack_conv_weight(conv->weight, mkldnn);
  conv->weight.set_data(torch::empty({0}));
}

torch::Tensor ConvBlockImpl::forward_time_major(const torch::Tensor& x) {
  torch::Tensor y = conv_time_major(x, packed_, options_.bias() ? conv->bias : torch::Tensor(), options_.kernel(),
                                    options_.stride());  // [T', out]
  if (group_norm) y = group_norm(y.t().unsqueeze(0)).squeeze(0).t();
  if (layer_norm) y = layer_norm(y);
  return torch::gelu_(y);
}

torch::Tensor ConvBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = conv(x);                                                   // [B, out, T']
  if (group_norm) y = group_norm(y);                                           // per-channel over time
  if (layer_norm) y = layer_norm(y.transpose(1, 2)).transpose(1, 2);           // over channels, per frame
  return torch::gelu(y);
}

FeatureEncoderImpl::FeatureEncoderImpl(const Wav2Vec2Config& c) : config_(c) {
  conv_layers = register_module("conv_layers", torch::nn::ModuleList());
  int64_t in = 1;
  for (size_t i = 0; i < c.conv_dim.size(); ++i) {
    auto norm = c.feat_extract_layer_norm ? ConvNorm::Layer
                : i == 0                  ? ConvNorm::Group
                                          : ConvNorm::None;
    conv_layers->push_back(ConvBlock(ConvBlockOptions(in, c.conv_dim[i], c.conv_kernel[i], c.conv_stride[i]).bias(c.conv_bias).norm(norm)));
    in = c.conv_dim[i];
  }
}

void FeatureEncoderImpl::prepare_cpu(bool mkldnn) {
  for (const auto& layer : *conv_layers) layer->as<ConvBlock>()->prepare_cpu(mkldnn);
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
  constexpr int64_t kSpanFrames = 250;
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

FeatureProjectionImpl::FeatureProjectionImpl(const Wav2Vec2Config& c) {
  if (c.feat_proj_layer_norm) {
    layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.conv_dim.back()}).eps(c.layer_norm_eps)));
  }
  projection = register_module("projection", Dense(DenseOptions(c.conv_dim.back(), c.hidden_size)));
}

torch::Tensor FeatureProjectionImpl::forward(const torch::Tensor& x) {
  return projection(layer_norm ? layer_norm(x) : x);
}

// ---- transformer ---------------------------------------------------------------

PositionalConvImpl::PositionalConvImpl(const Wav2Vec2Config& c)
    : kernel_(c.num_conv_pos_embeddings), groups_(c.num_conv_pos_embedding_groups) {
  conv = register_module("conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(c.hidden_size, c.hidden_size, kernel_)
                                                       .padding(kernel_ / 2)
                                                       .groups(c.num_conv_pos_embedding_groups)));
}

void PositionalConvImpl::prepare_cpu(bool mkldnn) {
  const int64_t per = conv->weight.size(0) / groups_;
  for (int64_t g = 0; g < groups_; ++g) packed_.push_back(pack_conv_weight(conv->weight.narrow(0, g * per, per), mkldnn));
  conv->weight.set_data(torch::empty({0}));
}

torch::Tensor PositionalConvImpl::forward(const torch::Tensor& x) {
  if (!packed_.empty()) {
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2), per = D / groups_;
    torch::Tensor out = torch::empty({B, T, D});
    for (int64_t b = 0; b < B; ++b) {
      const torch::Tensor padded = F::pad(x[b].t().unsqueeze(0), F::PadFuncOptions({kernel_ / 2, kernel_ / 2})).squeeze(0).t();  // [T + 2p, D]
      for (int64_t g = 0; g < groups_; ++g) {
        const torch::Tensor xg = padded.narrow(1, g * per, per).contiguous();  // [T + 2p, D/G]
        const torch::Tensor yg = conv_time_major(xg, packed_[g], conv->bias.narrow(0, g * per, per), kernel_, 1);
        out[b].narrow(1, g * per, per).copy_(yg.narrow(0, 0, T));  // an even kernel's extra frame is dropped
      }
    }
    return torch::gelu_(out);
  }
  torch::Tensor y = conv(x.transpose(1, 2));  // [B, D, T (+1 for an even kernel)]
  if (kernel_ % 2 == 0) y = y.narrow(2, 0, y.size(2) - 1);
  return torch::gelu(y).transpose(1, 2);
}

SelfAttentionImpl::SelfAttentionImpl(int64_t dim, int64_t heads) : dim_(dim), heads_(heads) {
  k_proj = register_module("k_proj", Dense(DenseOptions(dim, dim)));
  v_proj = register_module("v_proj", Dense(DenseOptions(dim, dim)));
  q_proj = register_module("q_proj", Dense(DenseOptions(dim, dim)));
  out_proj = register_module("out_proj", Dense(DenseOptions(dim, dim)));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), hd = dim_ / heads_;
  const double scaling = 1.0 / std::sqrt(static_cast<double>(hd));
  const torch::Tensor q = (q_proj(x) * scaling).view({B, T, heads_, hd});  // [B, T, H, hd]
  const torch::Tensor k = k_proj(x).view({B, T, heads_, hd});
  const torch::Tensor v = v_proj(x).view({B, T, heads_, hd});
  if (!blocked_) {
    const torch::Tensor w = torch::softmax(torch::matmul(q.transpose(1, 2), k.permute({0, 2, 3, 1})), -1);  // [B, H, T, T]
    return out_proj(torch::matmul(w, v.transpose(1, 2)).transpose(1, 2).reshape({B, T, dim_}));
  }
  // CPU: one head at a time and queries in blocks: the [T, T] weights of all
  // heads would not fit in cache (nor, for a minute of audio, comfortably in
  // memory).
  constexpr int64_t kRows = 256;
  torch::Tensor out = torch::empty({B, T, heads_, hd});
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < heads_; ++h) {
      const torch::Tensor qh = q.select(0, b).select(1, h).contiguous();                   // [T, hd]
      const auto kh = PackedWeight::make(k.select(0, b).select(1, h).contiguous(), mkldnn_);      // [T, hd]
      const auto vt = PackedWeight::make(v.select(0, b).select(1, h).t().contiguous(), mkldnn_);  // [hd, T]
      for (int64_t r = 0; r < T; r += kRows) {
        const int64_t n = std::min(kRows, T - r);
        const torch::Tensor s = torch::softmax(kh.apply(qh.narrow(0, r, n)), -1);  // [n, T]
        out.select(0, b).select(1, h).narrow(0, r, n).copy_(vt.apply(s));
      }
    }
  }
  return out_proj(out.view({B, T, dim_}));
}

FeedForwardImpl::FeedForwardImpl(int64_t dim, int64_t inner) {
  intermediate_dense = register_module("intermediate_dense", Dense(DenseOptions(dim, inner)));
  output_dense = register_module("output_dense", Dense(DenseOptions(inner, dim)));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  // Rows are independent: in spans, the [rows, inner] intermediate of a long
  // input stays a few MB instead of hundreds.
  constexpr int64_t kRows = 512;
  const torch::Tensor flat = x.reshape({-1, x.size(-1)});
  if (flat.size(0) <= kRows) return output_dense(torch::gelu(intermediate_dense(x)));
  torch::Tensor out = torch::empty_like(flat);
  for (int64_t r = 0; r < flat.size(0); r += kRows) {
    const int64_t n = std::min(kRows, flat.size(0) - r);
    out.narrow(0, r, n).copy_(output_dense(torch::gelu(intermediate_dense(flat.narrow(0, r, n)))));
  }
  return out.view(x.sizes());
}

EncoderLayerImpl::EncoderLayerImpl(const Wav2Vec2Config& c) : pre_ln_(c.do_stable_layer_norm) {
  const auto ln = torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps);
  attention = register_module("attention", SelfAttention(c.hidden_size, c.num_attention_heads));
  layer_norm = register_module("layer_norm", torch::nn::LayerNorm(ln));
  feed_forward = register_module("feed_forward", FeedForward(c.hidden_size, c.intermediate_size));
  final_layer_norm = register_module("final_layer_norm", torch::nn::LayerNorm(ln));
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x) {
  if (pre_ln_) {
    torch::Tensor y = x + attention(layer_norm(x));
    return y + feed_forward(final_layer_norm(y));
  }
  torch::Tensor y = layer_norm(x + attention(x));
  return final_layer_norm(y + feed_forward(y));
}

EncoderImpl::EncoderImpl(const Wav2Vec2Config& c, int64_t blocks) : pre_ln_(c.do_stable_layer_norm) {
  pos_conv_embed = register_module("pos_conv_embed", PositionalConv(c));
  // A pre-LN model's encoder.layer_norm follows the last block: never used for
  // an inner layer, so never loaded.
  if (!pre_ln_) {
    layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
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

Wav2Vec2Impl::Wav2Vec2Impl(const Wav2Vec2Config& c, int64_t blocks) {
  feature_extractor = register_module("feature_extractor", FeatureEncoder(c));
  feature_projection = register_module("feature_projection", FeatureProjection(c));
  encoder = register_module("encoder", Encoder(c, blocks));
}

torch::Tensor Wav2Vec2Impl::forward(const torch::Tensor& samples) {
  TORCH_CHECK(samples.dim() == 2, "wav2vec2 expects samples [batch, time], got ", samples.sizes());
  return encoder(feature_projection(feature_extractor(samples)));
}

void Wav2Vec2Impl::prepare_cpu(bool mkldnn, bool mkldnn_dense) {
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* d = m->as<DenseImpl>()) d->prepare_cpu(mkldnn_dense);
    if (auto* a = m->as<SelfAttentionImpl>()) a->prepare_cpu(mkldnn);
    if (auto* p = m->as<PositionalConvImpl>()) p->prepare_cpu(mkldnn);
  }
  feature_extractor->prepare_cpu(mkldnn);
}

}  // namespace acoustok::xlsr
