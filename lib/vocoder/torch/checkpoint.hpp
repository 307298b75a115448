// SPDX-License-Identifier: MIT
// Vocoder checkpoints (.pt): what Python's torch.save writes (a zip holding
// data.pkl and raw storages), so `torch.load(path)` reads them, and read back
// through acoustok's safe unpickler (features/torch_zip.hpp: nothing is
// executed, every size, offset and CRC is checked). The dict holds
//   "format"        "acoustok-vocoder"
//   "version"       2
//   "config"        VocoderConfig JSON (enough to rebuild the model)
//   "state"         JSON training state (epoch, best held-out mel, patience,
//                   sampling RNG, learning rate, ...)
//   "generator"     {name: tensor} ("dict.weight", "ups.0.weight_g", ...)
//   "discriminator" {name: tensor} (training checkpoints only)
//   "optim_g", "optim_d"  AdamW states (training checkpoints only):
//                   {"<param>.exp_avg": tensor, "<param>.exp_avg_sq": tensor,
//                    "<param>.step": int}
//
// Released speech-resynthesis / fairseq unit vocoders are read too: a
// torch.save dict whose "generator" entry is the state dict, with its
// config.json (VocoderConfig::from_released_json). Torch-only header.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "acoustok/vocoder_config.hpp"
#include "vocoder/torch/hifigan.hpp"

namespace acoustok::features {
class TorchZipWeights;
}

namespace acoustok::vocoder {

// "auto" -> CUDA when available, else CPU; "cpu"; "cuda"/"cuda:N".
torch::Device resolve_device(const std::string& name);

struct CheckpointParts {
  Generator* generator = nullptr;
  Discriminator* discriminator = nullptr;  // optional
  torch::optim::AdamW* optim_g = nullptr;  // optional
  torch::optim::AdamW* optim_d = nullptr;  // optional
};

// Written to a temporary name and renamed into place.
void write_checkpoint(const std::string& path, const VocoderConfig& config, const nlohmann::json& state,
                      const CheckpointParts& parts);

class CheckpointReader {
 public:
  // An acoustok checkpoint, or a released vocoder whose config is
  // `released_config` (default: config.json beside the checkpoint). Throws
  // acoustok::Error naming the file when it is missing, corrupt, or neither.
  explicit CheckpointReader(const std::string& path, const std::string& released_config = "");
  ~CheckpointReader();
  const VocoderConfig& config() const { return config_; }
  const nlohmann::json& state() const { return state_; }
  bool released() const { return released_; }
  bool has_training_state() const;
  // Each tensor's name and shape must match the module exactly; values are
  // copied onto the modules' device.
  void load(const CheckpointParts& parts);

 private:
  std::string path_;
  std::unique_ptr<features::TorchZipWeights> file_;
  VocoderConfig config_;
  nlohmann::json state_;
  bool released_ = false;
};

}  // namespace acoustok::vocoder
