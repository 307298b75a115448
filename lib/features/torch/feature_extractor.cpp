// SPDX-License-Identifier: MIT
// FeatureExtractor over the LibTorch wav2vec2 model: folder (or fairseq
// checkpoint) -> config -> weights of blocks 1..L only -> oneDNN-packed CPU
// model (or CUDA).
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "acoustok/error.hpp"
#include "acoustok/features.hpp"
#include "acoustok/frame_grid.hpp"
#include "common/cpu_isa.hpp"
#include "common/malloc_tuning.hpp"
#include "features/fairseq_checkpoint.hpp"
#include "features/wav2vec2_config.hpp"
#include "features/weight_source.hpp"
#include "features/torch/wav2vec2_loader.hpp"
#include "features/torch/wav2vec2_model.hpp"

namespace acoustok {

namespace {

class TorchFeatureExtractor : public FeatureExtractor {
 public:
  TorchFeatureExtractor(const std::string& model_dir, const FeatureOptions& options) {
    // A file is a fairseq checkpoint (config and weights in one); a folder a
    // Hugging Face model.
    std::error_code ec;
    const bool checkpoint = std::filesystem::is_regular_file(model_dir, ec);
    std::unique_ptr<features::WeightSource> weights;
    std::string config_path = model_dir;
    if (checkpoint) {
      features::FairseqFeatureModel m = features::open_fairseq_checkpoint(model_dir);
      config_ = m.config;
      weights = std::move(m.weights);
    } else {
      config_ = features::read_wav2vec2_config(model_dir);
      config_path = (std::filesystem::path(model_dir) / "config.json").string();
    }
    if (options.layer < 1 || options.layer > config_.num_hidden_layers) {
      throw file_error(config_path, "layer " + std::to_string(options.layer) +
                                        " is out of range: the model has layers 1.." +
                                        std::to_string(config_.num_hidden_layers));
    }
    // Every timestamp, element and unit file is on the 20 ms grid: a conv
    // stack with another hop or receptive field would be silently misread.
    if (config_.hop() != grid::kHop || config_.receptive_field() != grid::kReceptiveField) {
      throw file_error(config_path,
                       "the conv stack makes a frame every " + std::to_string(config_.hop()) +
                           " samples seeing " + std::to_string(config_.receptive_field()) +
                           "; acoustok works on wav2vec2's grid of " + std::to_string(grid::kHop) + " and " +
                           std::to_string(grid::kReceptiveField) + " (50 frames per second at 16 kHz)");
    }
    if (options.device == "cuda" || options.device.rfind("cuda:", 0) == 0) {
      if (!torch::cuda::is_available()) {
        throw Error("device '" + options.device +
                    "' requested, but this LibTorch build has no CUDA or no GPU is visible");
      }
      device_ = torch::Device(options.device);
    } else if (options.device == "auto") {
      // bf16 is the CPU path's arithmetic: auto with it is the CPU, not an error.
      if (options.precision != Precision::bf16 && torch::cuda::is_available())
        device_ = torch::Device(torch::kCUDA);
    } else if (options.device != "cpu") {
      throw Error("unknown device '" + options.device + "' (expected auto, cpu or cuda[:N])");
    }
    if (options.precision == Precision::bf16) {
      if (device_.is_cuda())
        throw Error("precision bf16 is for the CPU path; on CUDA the model runs in float32");
      if (!onednn::bf16_supported())
        throw Error(
            common::cpu_isa_capped()
                ? "precision bf16 needs AVX512_BF16 or AMX-BF16, which " +
                      std::string(common::kMaxCpuIsaVariable) + "=" +
                      common::cpu_isa_name(common::cpu_isa()) + " rules out: use fp32"
                : "precision bf16 needs a CPU with AVX512_BF16 or AMX-BF16, and this one has neither: "
                  "use fp32");
    }
    layer_ = options.layer;
    name_ = std::filesystem::path(model_dir).filename().string();
    if (checkpoint) name_ = std::filesystem::path(model_dir).stem().string();
    if (name_.empty()) name_ = std::filesystem::path(model_dir).parent_path().filename().string();

    // When the program opted into configure_process's tune_allocator: every
    // weight in its own mapping while loading and preparing, so whatever is
    // freed then (tensors made at construction and replaced by loaded or
    // merged ones, packing scratch) goes back to the system instead of
    // leaving holes in the heap between long-lived weights (peak memory:
    // README.md, "Speed").
    common::ModelLoadAllocation load_allocation;
    model_ = features::Wav2Vec2(config_, layer_);
    // On the CPU oneDNN runs the products several times faster than the
    // generic BLAS Debian's LibTorch calls. ACOUSTOK_MATMUL=plain runs the
    // modules as written (the CUDA path), for comparisons.
    const char* force = std::getenv("ACOUSTOK_MATMUL");
    const bool onednn = !device_.is_cuda() && !(force && std::string(force) == "plain");
    const bool bf16 = onednn && options.precision == Precision::bf16;
    if (bf16) model_->store_packed_weights_in_bf16();
    if (!weights) weights = features::open_model_weights(model_dir);
    features::load_wav2vec2_weights(*model_, config_, *weights);
    model_->eval();
    if (device_.is_cuda()) model_->to(device_);
    if (onednn) model_->prepare_cpu(bf16 ? onednn::Precision::BF16 : onednn::Precision::F32);
  }

  int64_t dim() const override { return config_.hidden_size; }
  int layer() const override { return layer_; }
  int num_layers() const override { return static_cast<int>(config_.num_hidden_layers); }
  const std::string& model_name() const override { return name_; }

  Features extract(const float* samples, size_t count) override {
    check_finite(samples, count);
    if (config_.frames_for(static_cast<int64_t>(count)) == 0) return empty();
    // Zero mean, unit variance over the span (as Wav2Vec2FeatureExtractor does).
    std::vector<float> x(samples, samples + count);
    if (config_.do_normalize) normalize(x);
    return run(x.data(), static_cast<int64_t>(count),
               [this](const torch::Tensor& input) { return model_->forward(input); });
  }

  bool normalizes_input() const override { return config_.do_normalize; }
  bool frame_local_front_end() const override { return config_.feat_extract_layer_norm; }

  Features front_end(const float* samples, size_t count) override {
    check_finite(samples, count);
    if (config_.frames_for(static_cast<int64_t>(count)) == 0) return empty();
    return run(samples, static_cast<int64_t>(count),
               [this](const torch::Tensor& input) { return model_->front_end(input); });
  }

  Features encode(const Features& front) override {
    if (front.dim != config_.hidden_size ||
        front.data.size() != static_cast<size_t>(front.frames * front.dim)) {
      throw Error("internal error: encode() got frames of the wrong shape");
    }
    if (front.frames == 0) return empty();
    c10::InferenceMode guard;
    torch::Tensor y;
    try {
      const torch::Tensor input = torch::from_blob(const_cast<float*>(front.data.data()),
                                                   {1, front.frames, front.dim}, torch::kFloat32)
                                      .to(device_);
      y = model_->encode(input).squeeze(0).to(torch::kCPU).contiguous();
    } catch (const c10::Error& e) {
      throw Error(std::string("feature extraction failed in LibTorch: ") + e.what_without_backtrace());
    }
    return to_features(y, front.frames);
  }

  std::unique_ptr<EncoderState> new_encoder_state() override { return std::make_unique<TorchEncoderState>(); }

  Features encode_next(EncoderState& state, const Features& front, int64_t new_from, int64_t keep,
                       int64_t max_past, int64_t forget) override {
    if (front.dim != config_.hidden_size ||
        front.data.size() != static_cast<size_t>(front.frames * front.dim) || new_from < 0 ||
        new_from >= front.frames || keep < 0 || max_past < 0 || forget < 0) {
      throw Error("internal error: encode_next() got frames of the wrong shape");
    }
    auto& blocks = dynamic_cast<TorchEncoderState&>(state).blocks;
    for (features::BlockCache& b : blocks) {
      if (!b.keys.defined()) continue;
      const int64_t stay = b.keys.size(0) - std::min(forget, b.keys.size(0));
      b.keys = b.keys.narrow(0, 0, stay);
      b.values = b.values.narrow(0, 0, stay);
    }
    c10::InferenceMode guard;
    torch::Tensor y;
    try {
      const torch::Tensor input =
          torch::from_blob(const_cast<float*>(front.data.data()), {front.frames, front.dim}, torch::kFloat32)
              .to(device_);
      y = model_->encode_cached(input, new_from, blocks, keep, max_past).to(torch::kCPU).contiguous();
    } catch (const c10::Error& e) {
      throw Error(std::string("feature extraction failed in LibTorch: ") + e.what_without_backtrace());
    }
    return to_features(y, front.frames - new_from);
  }

 private:
  struct TorchEncoderState : EncoderState {
    std::vector<features::BlockCache> blocks;
  };

  static void check_finite(const float* samples, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      if (!std::isfinite(samples[i])) {
        throw Error("audio sample " + std::to_string(i) + " is " +
                    (std::isnan(samples[i]) ? "NaN" : "infinite") + ": cannot compute features");
      }
    }
  }

  static void normalize(std::vector<float>& x) {
    double sum = 0;
    for (float v : x) sum += v;
    const double mean = sum / static_cast<double>(x.size());
    double var = 0;
    for (float v : x) var += (v - mean) * (v - mean);
    var /= static_cast<double>(x.size());
    const double scale = 1.0 / std::sqrt(var + 1e-7);
    for (float& v : x) v = static_cast<float>((v - mean) * scale);
  }

  Features empty() const {
    Features out;
    out.dim = config_.hidden_size;
    return out;
  }

  // samples [count] -> model part [1, frames, dim] -> Features.
  template <typename Part>
  Features run(const float* samples, int64_t count, const Part& part) {
    c10::InferenceMode guard;
    torch::Tensor y;
    try {
      const torch::Tensor input =
          torch::from_blob(const_cast<float*>(samples), {1, count}, torch::kFloat32).to(device_);
      y = part(input).squeeze(0).to(torch::kCPU).contiguous();  // [frames, dim]
    } catch (const c10::Error& e) {                             // out of memory, CUDA failures
      throw Error(std::string("feature extraction failed in LibTorch: ") + e.what_without_backtrace());
    }
    return to_features(y, config_.frames_for(count));
  }

  Features to_features(const torch::Tensor& y, int64_t frames) const {
    if (y.size(0) != frames) {
      throw Error("internal error: model made " + std::to_string(y.size(0)) + " frames, expected " +
                  std::to_string(frames));
    }
    Features out = empty();
    out.frames = frames;
    out.data.assign(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
    return out;
  }

  features::Wav2Vec2Config config_;
  int layer_ = 14;
  std::string name_;
  torch::Device device_{torch::kCPU};
  features::Wav2Vec2 model_{nullptr};
};

}  // namespace

namespace torch_backend {

std::unique_ptr<FeatureExtractor> load_features(const std::string& model_dir, const FeatureOptions& options) {
  try {
    return std::make_unique<TorchFeatureExtractor>(model_dir, options);
  } catch (const c10::Error& e) {
    throw file_error(model_dir, std::string("LibTorch: ") + e.what_without_backtrace());
  }
}

}  // namespace torch_backend

}  // namespace acoustok
