// SPDX-License-Identifier: MIT
#include "vocoder/torch/cpu_generator.hpp"

namespace acoustok::vocoder {
namespace {

onednn::TimeConv pack(WNConv1dImpl& conv) {
  torch::NoGradGuard no_grad;
  const WNConv1dOptions& o = conv.options;
  TORCH_CHECK(o.groups() == 1 && o.stride() >= 1, "the CPU generator takes ungrouped convolutions");
  return onednn::TimeConv::pack(conv.weight(), conv.bias,
                                onednn::TimeConvOptions()
                                    .stride(o.stride())
                                    .padding(o.padding())
                                    .dilation(o.dilation())
                                    .transposed(o.transposed()));
}

torch::Tensor steps(int64_t t, int64_t channels) { return torch::empty({t, channels}); }

}  // namespace

CpuGenerator::CpuGenerator(GeneratorImpl& g) {
  torch::NoGradGuard no_grad;
  embedding_ = g.dict->weight.detach().to(torch::kCPU, torch::kFloat32).contiguous().clone();
  conv_pre_ = pack(*g.conv_pre);
  in_dim_ = g.config.model_in_dim();
  conv_post_ = pack(*g.conv_post);
  const size_t nk = g.config.resblock_kernel_sizes.size();
  for (size_t i = 0; i < g.ups->size(); ++i) {
    ups_.push_back(pack(*g.ups[i]->as<WNConv1dImpl>()));
    resblocks_.emplace_back();
    for (size_t j = 0; j < nk; ++j) {
      auto* rb = g.resblocks[i * nk + j]->as<ResBlock1Impl>();
      std::vector<Block> blocks;
      for (size_t d = 0; d < rb->convs1->size(); ++d)
        blocks.push_back(
            {pack(*rb->convs1[d]->as<WNConv1dImpl>()), pack(*rb->convs2[d]->as<WNConv1dImpl>())});
      resblocks_.back().push_back(std::move(blocks));
    }
  }
}

torch::Tensor CpuGenerator::forward(const torch::Tensor& units, const torch::Tensor& speaker) const {
  TORCH_CHECK(units.dim() == 1 && units.scalar_type() == torch::kInt64 && units.numel() > 0,
              "CPU generator: units must be a non-empty [frames] int64 tensor");
  const int64_t dim = embedding_.size(1);
  TORCH_CHECK(in_dim_ == dim ? !speaker.defined() : (speaker.defined() && speaker.numel() == dim),
              "CPU generator: a speaker vector of embedding_dim floats is needed exactly when the vocoder "
              "has a speaker");
  c10::InferenceMode guard;
  onednn::Workspace::Scope scope(workspace_);
  const auto slope = static_cast<float>(kLeakySlope);
  // Generator::forward, step for step, time-major ([T, C] where it has [1, C, T]).
  torch::Tensor emb = embedding_.index_select(0, units);  // [frames, embedding_dim]
  if (speaker.defined()) {
    // The speaker's channels on every frame, zero-padded at the ends by
    // conv_pre like the units' (a constant bias would differ there).
    emb = torch::cat({emb, speaker.to(torch::kFloat32).reshape({1, dim}).expand({emb.size(0), dim})}, 1)
              .contiguous();
  }
  torch::Tensor x = steps(emb.size(0), conv_pre_.out());
  conv_pre_.run(emb, x, false,
                slope);  // x = lrelu(conv_pre(emb)): conv_pre's output only feeds the first lrelu
  for (size_t i = 0; i < ups_.size(); ++i) {
    const torch::Tensor y = steps(ups_[i].out_steps(x.size(0)), ups_[i].out());
    ups_[i].run(x, y);
    const int64_t t = y.size(0), ch = y.size(1);
    torch::Tensor sum, act = steps(t, ch), mid = steps(t, ch);
    for (size_t j = 0; j < resblocks_[i].size(); ++j) {
      // ResBlock1: per dilation, r += plain(lrelu(dilated(lrelu(r)))).
      torch::Tensor r = j + 1 < resblocks_[i].size() ? y.clone() : y;
      for (const Block& b : resblocks_[i][j]) {
        torch::leaky_relu_out(act, r, kLeakySlope);
        b.dilated.run(act, mid, false, slope);
        b.plain.run(mid, r, /*accumulate=*/true);
      }
      sum = j == 0 ? r : sum.add_(r);
    }
    x = sum.div_(static_cast<double>(resblocks_[i].size()));
    torch::leaky_relu_(
        x, i + 1 < ups_.size() ? kLeakySlope : 0.01);  // HiFi-GAN's last one: PyTorch's default slope
  }
  const torch::Tensor audio = steps(conv_post_.out_steps(x.size(0)), 1);
  conv_post_.run(x, audio);
  return audio.view({-1}).tanh_();
}

}  // namespace acoustok::vocoder
