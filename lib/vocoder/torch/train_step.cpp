// SPDX-License-Identifier: MIT
#include "vocoder/torch/train_step.hpp"
#include "acoustok/frame_grid.hpp"

namespace acoustok::vocoder {
namespace {

std::vector<std::pair<std::string, torch::Tensor>> gradients(torch::nn::Module& m) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : m.named_parameters(true))
    out.emplace_back(p.key(),
                     p.value().grad().defined() ? p.value().grad().clone() : torch::zeros_like(p.value()));
  return out;
}

}  // namespace

std::unique_ptr<torch::optim::AdamW> make_optimizer(const std::vector<torch::Tensor>& params, double lr) {
  return std::make_unique<torch::optim::AdamW>(
      params, torch::optim::AdamWOptions(lr).betas({0.8, 0.99}).weight_decay(0.01));
}

StepLosses train_step(Generator& gen, Discriminator& disc, torch::optim::AdamW& opt_g,
                      torch::optim::AdamW& opt_d, const MelLoss& mel, const torch::Tensor& units,
                      const torch::Tensor& audio, StepTrace* trace, const GradientSync& sync) {
  TORCH_CHECK(units.dim() == 2 && audio.dim() == 3 && audio.size(2) == units.size(1) * grid::kHop,
              "train_step: units [batch, frames] and audio [batch, 1, frames * 320] expected");
  auto y_hat = gen->forward(units);  // [batch, 1, samples]

  auto real = disc->forward(audio);
  auto fake = disc->forward(y_hat.detach());
  torch::Tensor loss_d = torch::zeros({}, audio.options());
  for (size_t i = 0; i < real.size(); ++i)
    loss_d =
        loss_d + torch::mean(torch::pow(1.0 - real[i].score, 2)) + torch::mean(torch::pow(fake[i].score, 2));
  opt_d.zero_grad();
  loss_d.backward();
  if (sync) sync(*disc);
  if (trace) {
    trace->audio_g = y_hat.detach().clone();
    trace->d_real = real;
    trace->d_fake = fake;
    trace->grad_d = gradients(*disc);
  }
  opt_d.step();

  torch::Tensor mel_y;
  {
    torch::NoGradGuard no_grad;
    mel_y = mel.mel(audio);
  }
  auto loss_mel = torch::l1_loss(mel.mel(y_hat), mel_y) * kMelWeight;
  // The generator's step needs the updated discriminator's real feature maps
  // as constants (no graph), and its fake pass only as a path back to y_hat:
  // with the discriminator's parameters frozen, backward skips their weight
  // gradients, which this step never uses (opt_d zeroes them before its next
  // backward). Same losses and generator gradients as the reference, less work.
  std::vector<DiscOutput> real_g, fake_g;
  {
    torch::NoGradGuard no_grad;
    real_g = disc->forward(audio);
  }
  std::vector<torch::Tensor> frozen;
  for (auto& p : disc->parameters()) {
    if (p.requires_grad()) {
      p.set_requires_grad(false);
      frozen.push_back(p);
    }
  }
  struct Unfreeze {
    std::vector<torch::Tensor>& params;
    ~Unfreeze() {
      for (auto& p : params) p.set_requires_grad(true);
    }
  } unfreeze{frozen};
  fake_g = disc->forward(y_hat);
  torch::Tensor loss_fm = torch::zeros({}, audio.options()), loss_adv = torch::zeros({}, audio.options());
  for (size_t i = 0; i < fake_g.size(); ++i) {
    for (size_t l = 0; l < fake_g[i].fmaps.size(); ++l)
      loss_fm = loss_fm + torch::mean(torch::abs(real_g[i].fmaps[l] - fake_g[i].fmaps[l]));
    loss_adv = loss_adv + torch::mean(torch::pow(1.0 - fake_g[i].score, 2));
  }
  loss_fm = loss_fm * kFeatureWeight;
  auto loss_g = loss_mel + loss_fm + loss_adv;
  opt_g.zero_grad();
  loss_g.backward();
  if (sync) sync(*gen);
  if (trace) {
    trace->grad_g = gradients(*gen);
    trace->loss_d = loss_d.detach();
    trace->loss_g = loss_g.detach();
    trace->loss_mel = loss_mel.detach();
    trace->loss_fm = loss_fm.detach();
    trace->loss_adv = loss_adv.detach();
  }
  opt_g.step();

  StepLosses out;
  out.d = loss_d.item<double>();
  out.g = loss_g.item<double>();
  out.mel = loss_mel.item<double>();
  out.fm = loss_fm.item<double>();
  out.adv = loss_adv.item<double>();
  return out;
}

}  // namespace acoustok::vocoder
