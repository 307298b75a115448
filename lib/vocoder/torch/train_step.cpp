// SPDX-License-Identifier: MIT
#include "vocoder/torch/train_step.hpp"
#include "acoustok/frame_grid.hpp"

namespace acoustok::vocoder {

StepLosses train_step(Generator& gen, Discriminator& disc, torch::optim::Adam& opt_g, torch::optim::Adam& opt_d,
                      const MelLoss& mel, const torch::Tensor& units, const torch::Tensor& audio) {
  TORCH_CHECK(units.dim() == 2 && audio.dim() == 3 && audio.size(2) == units.size(1) * grid::kHop,
              "train_step: units [batch, frames] and audio [batch, 1, frames * 320] expected");
  auto y_hat = gen->forward(units);  // [batch, 1, samples]

  auto real = disc->forward(audio);
  auto fake = disc->forward(y_hat.detach());
  torch::Tensor loss_d = torch::zeros({}, audio.options());
  for (size_t i = 0; i < real.size(); ++i)
    loss_d = loss_d + torch::mean(torch::pow(1.0 - real[i].score, 2)) + torch::mean(torch::pow(fake[i].score, 2));
  opt_d.zero_grad();
  loss_d.backward();
  opt_d.step();

  torch::Tensor mel_y;
  {
    torch::NoGradGuard no_grad;
    mel_y = mel.mel(audio);
  }
  auto loss_mel = torch::l1_loss(mel.mel(y_hat), mel_y) * kMelWeight;
  auto real_g = disc->forward(audio);
  auto fake_g = disc->forward(y_hat);
  torch::Tensor loss_fm = torch::zeros({}, audio.options()), loss_adv = torch::zeros({}, audio.options());
  for (size_t i = 0; i < fake_g.size(); ++i) {
    for (size_t l = 0; l < fake_g[i].fmaps.size(); ++l)
      loss_fm = loss_fm + torch::mean(torch::abs(real_g[i].fmaps[l].detach() - fake_g[i].fmaps[l]));
    loss_adv = loss_adv + torch::mean(torch::pow(1.0 - fake_g[i].score, 2));
  }
  loss_fm = loss_fm * kFeatureWeight;
  auto loss_g = loss_mel + loss_fm + loss_adv;
  opt_g.zero_grad();
  loss_g.backward();
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
