// SPDX-License-Identifier: MIT
// AVX-512 and AVX2 kernels for the multi-scale discriminator's grouped convolutions
// with long kernels (41 taps, groups 4 and 16) over time-major signals: one
// correlation kernel serves the forward pass and, phase by phase, the
// gradient of the input; a second one reduces the gradient of the weights.
// oneDNN 2.6 (under ATen) runs these shapes through its gemm fallback, well
// below what its direct kernels reach elsewhere (README.md, "Speed").
// Raw pointers only; grouped_conv1d.cpp splits the work across threads. The
// variant is common::cpu_isa()'s (ACOUSTOK_MAX_CPU_ISA caps it); both give the
// same bits (each value sums the same products in the same order).
#pragma once

#include <cstdint>

namespace acoustok::vocoder::kernels {

// Rows of a correlation with a window of `taps` input rows:
//   out[i * out_row + o] = bias[o] + sum over tap < taps, c < cin of
//                          in[(i * in_step + tap) * in_row + c] * w[(tap * cin + c) * cout + o]
// for i < rows and o < cout; bias may be null (zero).
struct Correlation {
  const float* in = nullptr;
  int64_t in_row = 0;   // floats from one input row (time step) to the next
  int64_t in_step = 0;  // input rows from one output row's window to the next (the stride)
  int64_t taps = 0;
  int64_t cin = 0;
  const float* w = nullptr;  // [taps][cin][cout]
  int64_t cout = 0;
  const float* bias = nullptr;
  float* out = nullptr;
  int64_t out_row = 0;  // floats from one output row to the next
  int64_t rows = 0;
};
void correlate(const Correlation& c);

// The weights' gradient of such a correlation, added into dw:
//   dw[(tap * cin + c) * cout + o] += sum over i < rows of
//                                     in[(i * in_step + tap) * in_row + c] * dy[i * dy_row + o]
// cout a multiple of 16, cin a multiple of 4.
struct WeightGradient {
  const float* in = nullptr;
  int64_t in_row = 0, in_step = 0, taps = 0, cin = 0;
  const float* dy = nullptr;
  int64_t dy_row = 0;
  int64_t cout = 0;
  int64_t rows = 0;
  float* dw = nullptr;  // [taps][cin][cout]
};
void accumulate_weight_gradient(const WeightGradient& g);

// Whether this CPU runs them (common::cpu_isa() at least avx2).
bool supported();

}  // namespace acoustok::vocoder::kernels
