// SPDX-License-Identifier: MIT
#include "features/torch/wav2vec2_loader.hpp"

#include <ATen/Parallel.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <sstream>
#include <vector>

#include "acoustok/error.hpp"

namespace acoustok::features {

namespace {

constexpr const char* kPositionalConvWeight = "encoder.pos_conv_embed.conv.weight";

std::string shape_text(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

// Maps a fresh tensor's pages in one call before it is first written: a page
// fault per 4 kB page is a large share of the load time. The 2 MB blocks
// inside it are asked for as transparent huge pages first: 512 times fewer
// page table entries to fill and fewer TLB misses when the products stream
// the weights (the load times: README.md, "Speed"). (Linux 5.14 and later;
// elsewhere the calls fail and the pages fault in as they are written.)
void prefault(const torch::Tensor& t) {
#ifdef MADV_POPULATE_WRITE
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<uintptr_t>(t.data_ptr());
  const uintptr_t end = begin + t.nbytes();
  const uintptr_t huge_first = (begin + kHuge - 1) & ~(kHuge - 1), huge_last = end & ~(kHuge - 1);
  if (huge_last > huge_first)
    ::madvise(reinterpret_cast<void*>(huge_first), huge_last - huge_first, MADV_HUGEPAGE);
  const uintptr_t first = (begin + page - 1) & ~(page - 1), last = end & ~(page - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_POPULATE_WRITE);
#else
  (void)t;
#endif
}

// Reads `key` into a float tensor of exactly `shape`.
torch::Tensor read_tensor(features::WeightSource& w, const std::string& key,
                          const std::vector<int64_t>& shape) {
  const features::WeightInfo info = w.info(key);  // throws "missing tensor 'key'"
  if (info.shape != shape) {
    throw file_error(w.path(), "tensor '" + w.file_key(key) + "' has shape " + shape_text(info.shape) +
                                   ", but " + w.config_name() + " implies " + shape_text(shape));
  }
  torch::Tensor t = torch::empty(shape, torch::kFloat32);
  w.read_float32_into(key, t.data_ptr<float>());
  return t;
}

// The checkpoint's prefix: keys of a *ForPreTraining / *ForCTC model carry the
// model type, a bare model's do not.
std::string key_prefix(const features::WeightSource& w, const features::Wav2Vec2Config& c) {
  const std::string probe = "feature_projection.projection.weight";
  if (w.contains(c.model_type + "." + probe)) return c.model_type + ".";
  if (w.contains(probe)) return "";
  const std::string expected = w.file_key(probe) != probe ? w.file_key(probe) : c.model_type + "." + probe;
  throw file_error(w.path(),
                   "missing tensor '" + expected + "' (is this a " + c.model_type + " checkpoint?)");
}

// The positional conv weight, w = g * v / ||v|| with the norm taken per
// kernel tap (weight_norm dim=2), computed by the same LibTorch kernel as
// torch.nn.utils.weight_norm.
torch::Tensor positional_conv_weight(features::WeightSource& w, const std::string& prefix,
                                     const std::vector<int64_t>& shape) {
  const std::string base = prefix + "encoder.pos_conv_embed.conv.";
  std::string g_key = base + "weight_g", v_key = base + "weight_v";
  if (!w.contains(g_key) && w.contains(base + "parametrizations.weight.original0")) {
    g_key = base + "parametrizations.weight.original0";
    v_key = base + "parametrizations.weight.original1";
  }
  if (!w.contains(g_key) && w.contains(base + "weight"))
    return read_tensor(w, base + "weight", shape);  // already folded
  const torch::Tensor g = read_tensor(w, g_key, {1, 1, shape[2]});
  const torch::Tensor v = read_tensor(w, v_key, shape);
  return torch::_weight_norm(v, g, 2);
}

}  // namespace

void load_wav2vec2_weights(Wav2Vec2Impl& model, const features::Wav2Vec2Config& config,
                           features::WeightSource& weights) {
  torch::NoGradGuard no_grad;
  const std::string prefix = key_prefix(weights, config);
  auto params = model.named_parameters(/*recurse=*/true);
  // Checked in order first, so the error names the first bad tensor; then read
  // on every thread: most of a load is page faults and copies, which spread.
  std::vector<std::pair<std::string, torch::Tensor>> items;
  for (auto& item : params) {
    const std::string& name = item.key();
    if (name == kPositionalConvWeight) continue;  // weight-normed: checked when read
    const features::WeightInfo info = weights.info(prefix + name);
    if (info.shape != item.value().sizes().vec()) {
      throw file_error(weights.path(), "tensor '" + weights.file_key(prefix + name) + "' has shape " +
                                           shape_text(info.shape) + ", but " + weights.config_name() +
                                           " implies " + shape_text(item.value().sizes().vec()));
    }
    const auto type = item.value().scalar_type();
    TORCH_CHECK(item.value().is_contiguous() && (type == torch::kFloat32 || type == torch::kBFloat16), name,
                " is not a dense float32 or bfloat16 tensor");
    items.emplace_back(name, item.value());
  }
  if (torch::Tensor* pos = params.find(kPositionalConvWeight)) {
    pos->set_data(positional_conv_weight(weights, prefix, pos->sizes().vec()).to(pos->scalar_type()));
  }
  at::parallel_for(0, static_cast<int64_t>(items.size()), 1, [&](int64_t begin, int64_t end) {
    std::vector<float> staging;  // bfloat16 weights: reused by this thread's share, freed after it
    for (int64_t i = begin; i < end; ++i) {
      auto& [name, param] = items[static_cast<size_t>(i)];
      // Straight into the parameter's own memory (for q, k and v, the
      // merged product's operand): no second copy of a block's weights.
      prefault(param);
      if (param.scalar_type() == torch::kFloat32) {
        weights.read_float32_into(prefix + name, param.data_ptr<float>());
        continue;
      }
      // bfloat16 (store_packed_weights_in_bf16): through a float32 buffer,
      // rounded to nearest even as oneDNN rounds.
      staging.resize(static_cast<size_t>(param.numel()));
      weights.read_float32_into(prefix + name, staging.data());
      param.copy_(torch::from_blob(staging.data(), param.sizes(), torch::kFloat32));
    }
  });
}

}  // namespace acoustok::features
