// SPDX-License-Identifier: MIT
// Vocoder::load: the generator of a checkpoint, ready for inference.
#include <cstdlib>

#include "acoustok/error.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_data.hpp"
#include "vocoder/torch/checkpoint.hpp"
#include "vocoder/torch/cpu_generator.hpp"

namespace acoustok {
namespace {

class TorchVocoder : public Vocoder {
 public:
  TorchVocoder(const std::string& path, const std::string& device_name, const std::string& released_config)
      : path_(path), device_(vocoder::resolve_device(device_name)) {
    vocoder::CheckpointReader reader(path, released_config);
    config_ = reader.config();
    generator_ = vocoder::Generator(config_);
    reader.load({&generator_});
    generator_->eval();
    generator_->to(device_);
    // ACOUSTOK_VOCODER_CPU_PATH=module runs the LibTorch module on CPU too (a
    // comparison; the sanitizer stage's slow-unwinding part uses it, where
    // creating oneDNN's primitives for every new chunk length costs minutes).
    const char* path_choice = std::getenv("ACOUSTOK_VOCODER_CPU_PATH");
    if (device_.is_cpu() && !(path_choice && std::string(path_choice) == "module"))
      cpu_ = std::make_unique<vocoder::CpuGenerator>(*generator_);
  }

  const VocoderConfig& config() const override { return config_; }

  std::vector<float> synthesize(const int32_t* units, size_t count) override {
    if (count == 0) return {};
    check_units_in_range(std::vector<int32_t>(units, units + count), config_.num_units, path_);
    c10::InferenceMode guard;
    auto in = torch::from_blob(const_cast<int32_t*>(units), {1, static_cast<int64_t>(count)}, torch::kInt32)
                  .to(device_, torch::kInt64);
    if (cpu_) {
      const torch::Tensor audio = cpu_->forward(in.view({-1}));
      return std::vector<float>(audio.data_ptr<float>(), audio.data_ptr<float>() + audio.numel());
    }
    auto audio = generator_->forward(in).reshape({-1}).to(torch::kCPU, torch::kFloat32).contiguous();
    return std::vector<float>(audio.data_ptr<float>(), audio.data_ptr<float>() + audio.numel());
  }

 private:
  std::string path_;
  torch::Device device_;
  VocoderConfig config_;
  vocoder::Generator generator_{nullptr};
  std::unique_ptr<vocoder::CpuGenerator> cpu_;  // the CPU path (oneDNN); the module runs elsewhere
};

}  // namespace

namespace torch_backend {

std::unique_ptr<Vocoder> load_vocoder(const std::string& checkpoint, const std::string& device,
                                      const std::string& released_config) {
  try {
    return std::make_unique<TorchVocoder>(checkpoint, device, released_config);
  } catch (const c10::Error& e) {
    throw file_error(checkpoint, std::string("cannot load the vocoder: ") + e.what_without_backtrace());
  }
}

}  // namespace torch_backend

}  // namespace acoustok
