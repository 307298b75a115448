// SPDX-License-Identifier: MIT
// One HiFi-GAN training step (shared by the trainer and the benchmark).
// Torch-only header.
#pragma once

#include "vocoder/torch/hifigan.hpp"

namespace acoustok::vocoder {

constexpr double kMelWeight = 45.0;
constexpr double kFeatureWeight = 2.0;

struct StepLosses {
  double d = 0, g = 0, mel = 0, fm = 0, adv = 0;
};

// Discriminators first (least squares: real -> 1, generated -> 0), then the
// generator with 45 x L1 log-mel + 2 x feature matching + least-squares
// adversarial loss. units [batch, frames] int64, audio [batch, 1, frames * 320].
StepLosses train_step(Generator& gen, Discriminator& disc, torch::optim::Adam& opt_g, torch::optim::Adam& opt_d,
                      const MelLoss& mel, const torch::Tensor& units, const torch::Tensor& audio);

}  // namespace acoustok::vocoder
