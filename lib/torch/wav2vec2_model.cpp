#include "wav2vec2_model.hpp"

#include <cmath>

namespace acoustok::xlsr {

namespace F = torch::nn::functional;

// ---- Dense ------------------------------------------------------------------

DenseImpl::DenseImpl(const DenseOptions& o) : options_(o) {
  weight = register_parameter("weight", torch::empty({o.out(), o.in()}), false);
  bias = register_parameter("bias", torch::empty({o.out()}), false);
}

torch::Tensor DenseImpl::forward(const torch::Tensor& x) {
  if (!packed_.defined()) return torch::linear(x, weight, bias);
  // oneDNN takes a 2-D input in its own layout.
  auto shape = x.sizes().vec();
  const torch::Tensor x2 = x.reshape({-1, options_.in()}).contiguous().to_mkldnn();
  shape.back() = options_.out();
  return at::mkldnn_linear(x2, packed_, bias).to_dense().view(shape);
}

void DenseImpl::pack_for_mkldnn() {
  packed_ = weight.contiguous().to_mkldnn();
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

torch::Tensor ConvBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = conv(x);                                                   // [B, out, T']
  if (group_norm) y = group_norm(y);                                           // per-channel over time
  if (layer_norm) y = layer_norm(y.transpose(1, 2)).transpose(1, 2);           // over channels, per frame
  return torch::gelu(y);
}

FeatureEncoderImpl::FeatureEncoderImpl(const Wav2Vec2Config& c) {
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

torch::Tensor FeatureEncoderImpl::forward(const torch::Tensor& samples) {
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

PositionalConvImpl::PositionalConvImpl(const Wav2Vec2Config& c) : kernel_(c.num_conv_pos_embeddings) {
  conv = register_module("conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(c.hidden_size, c.hidden_size, kernel_)
                                                       .padding(kernel_ / 2)
                                                       .groups(c.num_conv_pos_embedding_groups)));
}

torch::Tensor PositionalConvImpl::forward(const torch::Tensor& x) {
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
  if (!x.is_cpu() || !at::hasMKLDNN()) {
    const torch::Tensor w = torch::softmax(torch::matmul(q.transpose(1, 2), k.permute({0, 2, 3, 1})), -1);  // [B, H, T, T]
    return out_proj(torch::matmul(w, v.transpose(1, 2)).transpose(1, 2).reshape({B, T, dim_}));
  }
  // CPU: one head at a time and queries in blocks, each product through
  // oneDNN: the [T, T] weights of all heads would not fit in cache (nor, for
  // a minute of audio, comfortably in memory), and the generic BLAS is slow.
  constexpr int64_t kRows = 256;
  torch::Tensor out = torch::empty({B, T, heads_, hd});
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < heads_; ++h) {
      const torch::Tensor qh = q.select(0, b).select(1, h).contiguous();                   // [T, hd]
      const torch::Tensor kh = k.select(0, b).select(1, h).contiguous().to_mkldnn();      // [T, hd] as weight
      const torch::Tensor vt = v.select(0, b).select(1, h).t().contiguous().to_mkldnn();  // [hd, T] as weight
      for (int64_t r = 0; r < T; r += kRows) {
        const int64_t n = std::min(kRows, T - r);
        torch::Tensor s = at::mkldnn_linear(qh.narrow(0, r, n).contiguous().to_mkldnn(), kh).to_dense();  // [n, T]
        s = torch::softmax(s, -1);
        out.select(0, b).select(1, h).narrow(0, r, n).copy_(at::mkldnn_linear(s.to_mkldnn(), vt).to_dense());
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
  return output_dense(torch::gelu(intermediate_dense(x)));
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

void Wav2Vec2Impl::pack_for_mkldnn() {
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* d = m->as<DenseImpl>()) d->pack_for_mkldnn();
  }
}

}  // namespace acoustok::xlsr
