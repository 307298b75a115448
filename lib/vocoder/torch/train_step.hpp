// SPDX-License-Identifier: MIT
// One HiFi-GAN training step (shared by the trainer and the benchmark).
// Torch-only header.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vocoder/torch/hifigan.hpp"

namespace acoustok::vocoder {

constexpr double kMelWeight = 45.0;
constexpr double kFeatureWeight = 2.0;

struct StepLosses {
  double d = 0, g = 0, mel = 0, fm = 0, adv = 0;
};

// Everything one step computed, for the parity test against the PyTorch
// reference (tests/vocoder/vocoder_parity.py): the generator's audio, the
// discriminators' outputs in the discriminator step, both losses with their
// terms, and the gradients before each optimiser step.
struct StepTrace {
  torch::Tensor audio_g;
  std::vector<DiscOutput> d_real, d_fake;
  torch::Tensor loss_d, loss_g, loss_mel, loss_fm, loss_adv;
  std::vector<std::pair<std::string, torch::Tensor>> grad_d, grad_g;
};

// HiFi-GAN's optimiser: AdamW, betas (0.8, 0.99), weight decay 0.01
// (PyTorch's AdamW default, which speech-resynthesis keeps).
std::unique_ptr<torch::optim::AdamW> make_optimizer(const std::vector<torch::Tensor>& params, double lr);

// Discriminators first (least squares: real -> 1, generated -> 0), then the
// generator with 45 x L1 log-mel + 2 x feature matching + least-squares
// adversarial loss, as speech-resynthesis's train.py: the generator's terms
// see the discriminators after their update. units [batch, frames] int64,
// audio [batch, 1, frames * 320]. `trace`, when given, receives the
// intermediate values.
// `sync`, when given, is called after each backward pass with the module
// whose gradients are ready (data-parallel training all-reduces them there).
using GradientSync = std::function<void(torch::nn::Module&)>;
StepLosses train_step(Generator& gen, Discriminator& disc, torch::optim::AdamW& opt_g,
                      torch::optim::AdamW& opt_d, const MelLoss& mel, const torch::Tensor& units,
                      const torch::Tensor& audio, StepTrace* trace = nullptr,
                      const GradientSync& sync = nullptr);

}  // namespace acoustok::vocoder
