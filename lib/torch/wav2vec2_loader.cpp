#include "wav2vec2_loader.hpp"

#include <sstream>

#include "acoustok/error.hpp"

namespace acoustok::xlsr {

namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

// Reads `key` into a float tensor of exactly `shape`.
torch::Tensor read_tensor(WeightSource& w, const std::string& key, const std::vector<int64_t>& shape) {
  const WeightInfo info = w.info(key);  // throws "missing tensor 'key'"
  if (info.shape != shape) {
    throw file_error(w.path(), "tensor '" + key + "' has shape " + shape_text(info.shape) + ", but config.json implies " +
                                   shape_text(shape));
  }
  std::vector<float> values = w.read_float32(key);
  return torch::from_blob(values.data(), shape, torch::kFloat32).clone();
}

// The checkpoint's prefix: keys of a *ForPreTraining / *ForCTC model carry the
// model type, a bare model's do not.
std::string key_prefix(const WeightSource& w, const Wav2Vec2Config& c) {
  const std::string probe = "feature_projection.projection.weight";
  if (w.contains(c.model_type + "." + probe)) return c.model_type + ".";
  if (w.contains(probe)) return "";
  throw file_error(w.path(), "missing tensor '" + c.model_type + "." + probe + "' (is this a " + c.model_type + " checkpoint?)");
}

// The positional conv weight, w = g * v / ||v|| with the norm taken per
// kernel tap (weight_norm dim=2), computed by the same LibTorch kernel as
// torch.nn.utils.weight_norm.
torch::Tensor positional_conv_weight(WeightSource& w, const std::string& prefix, const std::vector<int64_t>& shape) {
  const std::string base = prefix + "encoder.pos_conv_embed.conv.";
  std::string g_key = base + "weight_g", v_key = base + "weight_v";
  if (!w.contains(g_key) && w.contains(base + "parametrizations.weight.original0")) {
    g_key = base + "parametrizations.weight.original0";
    v_key = base + "parametrizations.weight.original1";
  }
  if (!w.contains(g_key) && w.contains(base + "weight")) return read_tensor(w, base + "weight", shape);  // already folded
  const torch::Tensor g = read_tensor(w, g_key, {1, 1, shape[2]});
  const torch::Tensor v = read_tensor(w, v_key, shape);
  return torch::_weight_norm(v, g, 2);
}

}  // namespace

void load_wav2vec2_weights(Wav2Vec2Impl& model, const Wav2Vec2Config& config, WeightSource& weights) {
  torch::NoGradGuard no_grad;
  const std::string prefix = key_prefix(weights, config);
  for (auto& item : model.named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    torch::Tensor& param = item.value();
    const std::vector<int64_t> shape = param.sizes().vec();
    torch::Tensor value = name == "encoder.pos_conv_embed.conv.weight" ? positional_conv_weight(weights, prefix, shape)
                                                                        : read_tensor(weights, prefix + name, shape);
    param.copy_(value);
  }
}

}  // namespace acoustok::xlsr
