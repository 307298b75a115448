// SPDX-License-Identifier: MIT
// Vocoder::load: the generator of a checkpoint, ready for inference.
#include <cmath>
#include <cstdlib>

#include "acoustok/error.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_data.hpp"
#include "vocoder/torch/checkpoint.hpp"
#include "vocoder/torch/cpu_generator.hpp"

namespace acoustok {
namespace {

// 5.5 minutes of one unit.
constexpr int kMaxDurationFrames = 16384;

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
    if (needs_speaker() && !speaker_.defined())
      throw file_error(path_,
                       std::string("this vocoder needs a speaker: give ") +
                           (config_.has_speaker_table()
                                ? "one in 0.." + std::to_string(config_.num_speakers - 1) + " (--speaker)"
                                : "a speaker embedding (--speaker-embedding)"));
    c10::InferenceMode guard;
    const auto in = unit_tensor(units, count);
    if (cpu_) {
      const torch::Tensor audio =
          cpu_->forward(in.view({-1}), speaker_.defined() ? speaker_.view({-1}) : torch::Tensor());
      return std::vector<float>(audio.data_ptr<float>(), audio.data_ptr<float>() + audio.numel());
    }
    auto audio =
        generator_->forward(in, speaker_).reshape({-1}).to(torch::kCPU, torch::kFloat32).contiguous();
    return std::vector<float>(audio.data_ptr<float>(), audio.data_ptr<float>() + audio.numel());
  }

  void set_speaker(int id) override {
    if (!config_.has_speaker_table()) rethrow_naming_file([&] { Vocoder::set_speaker(id); });
    if (id < 0 || id >= config_.num_speakers)
      throw file_error(path_, "speaker " + std::to_string(id) +
                                  " is out of range: this vocoder has speakers 0.." +
                                  std::to_string(config_.num_speakers - 1));
    c10::InferenceMode guard;
    speaker_ =
        generator_->speaker_vector(torch::tensor({static_cast<int64_t>(id)}, torch::kInt64).to(device_));
  }

  void set_speaker_embedding(const std::vector<float>& embedding) override {
    if (!config_.has_speaker_embedder())
      rethrow_naming_file([&] { Vocoder::set_speaker_embedding(embedding); });
    if (embedding.size() != static_cast<size_t>(config_.speaker_embedding_dim))
      throw file_error(path_, "the speaker embedding has " + std::to_string(embedding.size()) +
                                  " values; this vocoder takes " +
                                  std::to_string(config_.speaker_embedding_dim));
    for (float v : embedding)
      if (!std::isfinite(v)) throw file_error(path_, "the speaker embedding holds NaN or Inf");
    c10::InferenceMode guard;
    const auto e = torch::from_blob(const_cast<float*>(embedding.data()),
                                    {1, static_cast<int64_t>(embedding.size())}, torch::kFloat32);
    speaker_ = generator_->speaker_vector(e.to(device_));
  }

  std::vector<int32_t> predict_durations(const int32_t* units, size_t count) override {
    if (!config_.has_duration_predictor())
      rethrow_naming_file([&] { Vocoder::predict_durations(units, count); });
    if (count == 0) return {};
    check_units_in_range(std::vector<int32_t>(units, units + count), config_.num_units, path_);
    c10::InferenceMode guard;
    const auto d =
        generator_->predict_durations(unit_tensor(units, count)).reshape({-1}).to(torch::kCPU).contiguous();
    std::vector<int32_t> out(count);
    for (size_t i = 0; i < count; ++i) {
      const float v = d.data_ptr<float>()[i];
      // A sane predictor gives a few frames; this bound keeps a broken one from asking for hours of audio.
      if (!(v <= kMaxDurationFrames))
        throw file_error(
            path_, "the duration predictor gives unit " + std::to_string(i) +
                       (std::isnan(v) ? " NaN frames"
                                      : " more than " + std::to_string(kMaxDurationFrames) + " frames") +
                       " (a broken model?)");
      out[i] = static_cast<int32_t>(v);
    }
    return out;
  }

 private:
  // The base class's refusal, with the checkpoint's name in front.
  template <typename F>
  void rethrow_naming_file(F refusal) const {
    try {
      refusal();
    } catch (const Error& e) {
      throw file_error(path_, e.what());
    }
  }
  bool needs_speaker() const { return config_.has_speaker_table() || config_.has_speaker_embedder(); }
  torch::Tensor unit_tensor(const int32_t* units, size_t count) const {
    return torch::from_blob(const_cast<int32_t*>(units), {1, static_cast<int64_t>(count)}, torch::kInt32)
        .to(device_, torch::kInt64);
  }

  std::string path_;
  torch::Device device_;
  VocoderConfig config_;
  vocoder::Generator generator_{nullptr};
  std::unique_ptr<vocoder::CpuGenerator> cpu_;  // the CPU path (oneDNN); the module runs elsewhere
  torch::Tensor speaker_;                       // [1, embedding_dim] on device_, once a speaker is set
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
