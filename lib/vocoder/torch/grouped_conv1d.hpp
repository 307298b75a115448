// SPDX-License-Identifier: MIT
// The multi-scale discriminator's grouped convolutions with long kernels
// (41 taps, groups 4 and 16) on CPU, forward and backward, through our own
// AVX-512 / AVX2 kernels (grouped_conv1d_kernels.*) instead of ATen's conv1d, whose
// oneDNN 2.6 runs these shapes through its gemm fallback: they were about
// half of a v1 training step. Signals stay time-major between layers (the
// result has [batch, time, channels] strides), so consecutive layers convert
// nothing; ATen's elementwise ops keep that layout.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace acoustok::vocoder {

// Whether grouped_conv1d takes this convolution: float32 tensors on a CPU
// with AVX2 + FMA at least (common::cpu_isa(): ACOUSTOK_MAX_CPU_ISA=generic
// leaves them to ATen), groups > 1, a kernel of 9 taps or more (no dilation), a
// stride no longer than the kernel, out_channels / groups a multiple of 16
// and in_channels / groups a multiple of 4. ACOUSTOK_GROUPED_CONV=aten in the
// environment turns it off (ATen's conv1d then runs everything, as before).
bool grouped_conv1d_applies(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride,
                            int64_t groups);

// torch::conv1d(x, weight, bias, stride, padding, /*dilation=*/1, groups),
// differentiable in x, weight and bias (bias may be undefined).
// x [batch, in, time], any strides -> [batch, out, time_out], time-major in memory.
torch::Tensor grouped_conv1d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                             int64_t stride, int64_t padding, int64_t groups);

}  // namespace acoustok::vocoder
