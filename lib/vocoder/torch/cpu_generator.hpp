// SPDX-License-Identifier: MIT
// The generator's forward pass for float32 CPU inference (synth,
// unitvocoder): weight normalisation applied once, every convolution a packed
// oneDNN primitive over time-major [T, C] signals (common/torch/onednn_ops),
// the leaky ReLU after a convolution and the residual sums fused into it.
// ATen's path converts every convolution's input and output between its
// layout and oneDNN's and recomputes g * v / ||v|| per call: about a third
// of synthesis time. Equal to Generator::forward within float rounding
// (tests/vocoder/test_vocoder_model.cpp).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "common/torch/onednn_ops.hpp"
#include "vocoder/torch/hifigan.hpp"

namespace acoustok::vocoder {

class CpuGenerator {
 public:
  // Copies the generator's weights (it may then change or go away).
  explicit CpuGenerator(GeneratorImpl& generator);
  // units [frames] int64, in range -> audio [frames * hop] float32.
  // speaker: the generator's speaker_vector() [embedding_dim] float32 for a
  // vocoder with a speaker (appended to every frame's unit embedding, as
  // the module's concatenation), else undefined.
  torch::Tensor forward(const torch::Tensor& units, const torch::Tensor& speaker = {}) const;

 private:
  struct Block {  // one (convs1[i], convs2[i]) pair of a residual block
    onednn::TimeConv dilated, plain;
  };
  torch::Tensor embedding_;  // [rows, embedding_dim]
  int64_t in_dim_ = 0;       // conv_pre's input channels: embedding_dim, or twice it with a speaker
  onednn::TimeConv conv_pre_, conv_post_;
  std::vector<onednn::TimeConv> ups_;
  std::vector<std::vector<std::vector<Block>>> resblocks_;  // [stage][kernel][dilation]
  // The kernels' scratch: one forward at a time (Vocoder's promise), so
  // forward stays const to its callers.
  mutable onednn::Workspace workspace_;
};

}  // namespace acoustok::vocoder
