// SPDX-License-Identifier: MIT
// Vocoder checkpoints (.pt): a LibTorch serialize archive (zip, as
// torch::save writes it) holding
//   "format"        string "acoustok-vocoder"
//   "version"       int 1
//   "config"        string, VocoderConfig JSON (enough to rebuild the model)
//   "state"         string, JSON training state (epoch, best held-out mel,
//                   patience, sampling RNG, learning rate, ...)
//   "generator"     archive of named tensors ("dict.weight", "ups.0.weight_g", ...)
//   "discriminator" archive of named tensors (training checkpoints only)
//   "optim_g", "optim_d"  Adam states (training checkpoints only)
// Torch-only header.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

#include "acoustok/vocoder_config.hpp"
#include "vocoder/torch/hifigan.hpp"

namespace acoustok::vocoder {

// "auto" -> CUDA when available, else CPU; "cpu"; "cuda"/"cuda:N".
torch::Device resolve_device(const std::string& name);

struct CheckpointParts {
  Generator* generator = nullptr;
  Discriminator* discriminator = nullptr;  // optional
  torch::optim::Adam* optim_g = nullptr;   // optional
  torch::optim::Adam* optim_d = nullptr;   // optional
};

// Written to a temporary name and renamed into place.
void write_checkpoint(const std::string& path, const VocoderConfig& config, const nlohmann::json& state,
                      const CheckpointParts& parts);

class CheckpointReader {
 public:
  // Throws acoustok::Error naming the file when it is missing, not a
  // LibTorch archive, or not a vocoder checkpoint.
  CheckpointReader(const std::string& path, torch::Device device);
  const VocoderConfig& config() const { return config_; }
  const nlohmann::json& state() const { return state_; }
  bool has_training_state();
  // Each tensor's name and shape must match the module exactly.
  void load(const CheckpointParts& parts);

 private:
  std::string path_;
  torch::serialize::InputArchive archive_;
  VocoderConfig config_;
  nlohmann::json state_;
};

}  // namespace acoustok::vocoder
