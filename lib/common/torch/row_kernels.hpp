// SPDX-License-Identifier: MIT
// Row kernels of the wav2vec2 forward pass that oneDNN's primitives do not
// fuse the way the model needs: layer norm with GELU, and softmax numerators
// with their bf16 copy, each in one pass over a row in cache. AVX-512 or AVX2
// as common::cpu_isa() says (the two give the same bits; ACOUSTOK_MAX_CPU_ISA
// caps them, as the tests do), LibTorch's kernels or plain loops otherwise.
#pragma once

#include <torch/torch.h>

namespace acoustok::onednn {

// dst = LayerNorm(x) over each row (then exact-erf GELU if asked) in one pass
// over a row in cache: AVX-512 or AVX2 when C is a multiple of 16, LibTorch's
// kernels otherwise (exact erf there; the vector paths' erf is within 1.5e-7).
// dst may be x.
void layer_norm_rows(const torch::Tensor& x, const torch::Tensor& gamma, const torch::Tensor& beta,
                     double eps, bool gelu, const torch::Tensor& dst);

// Row-wise exp(x - max(row)) in place over a contiguous [rows, cols] block,
// returning 1 / sum(row) per row in inv_sum [rows]: softmax without its last
// division, which the caller applies to the much smaller product with V.
// With `as_bf16` (bfloat16, same shape, contiguous) the numerators are also
// written there rounded to bf16 (the sums stay float32).
void softmax_numerators(const torch::Tensor& scores, const torch::Tensor& inv_sum,
                        const torch::Tensor& as_bf16 = torch::Tensor());

}  // namespace acoustok::onednn
