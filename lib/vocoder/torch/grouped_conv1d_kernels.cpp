// SPDX-License-Identifier: MIT
#include "vocoder/torch/grouped_conv1d_kernels.hpp"

#include <immintrin.h>

// Register tiles: R rows of the output by NV vectors of 16 output channels,
// all in zmm registers for the whole reduction. Each step of the reduction
// loads NV weight vectors and broadcasts R input values: an outer product,
// as a GEMM micro-kernel does, with the im2col matrix read in place (rows of
// the window overlap in memory, so nothing is copied).
#define ACOUSTOK_AVX512 __attribute__((target("avx512f")))

namespace acoustok::vocoder::kernels {
namespace {

constexpr int64_t kLanes = 16;

// Lanes: all 16 of each vector, or (NV = 1) the first few, for the last
// columns of a cout that is not a multiple of 16.
template <int NV, int R>
ACOUSTOK_AVX512 void correlate_tile(const Correlation& c, int64_t i0, int64_t o0, __mmask16 lanes = 0xffff) {
  __m512 acc[R][NV];
#pragma GCC unroll 4
  for (int n = 0; n < NV; ++n) {
    const __m512 b = c.bias ? _mm512_maskz_loadu_ps(lanes, c.bias + o0 + n * kLanes) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r][n] = b;
  }
  const int64_t rs = c.in_step * c.in_row;  // floats between the windows of consecutive output rows
  const float* base = c.in + i0 * rs;
  for (int64_t tap = 0; tap < c.taps; ++tap) {
    const float* row = base + tap * c.in_row;
    const float* wt = c.w + tap * c.cin * c.cout + o0;
    for (int64_t ch = 0; ch < c.cin; ++ch) {
      __m512 wv[NV];
#pragma GCC unroll 4
      for (int n = 0; n < NV; ++n) wv[n] = _mm512_maskz_loadu_ps(lanes, wt + ch * c.cout + n * kLanes);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 x = _mm512_set1_ps(row[r * rs + ch]);
#pragma GCC unroll 4
        for (int n = 0; n < NV; ++n) acc[r][n] = _mm512_fmadd_ps(x, wv[n], acc[r][n]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int n = 0; n < NV; ++n)
      _mm512_mask_storeu_ps(c.out + (i0 + r) * c.out_row + o0 + n * kLanes, lanes, acc[r][n]);
}

template <int NV, int R>
ACOUSTOK_AVX512 void correlate_columns(const Correlation& c, int64_t o0, __mmask16 lanes = 0xffff) {
  int64_t i = 0;
  for (; i + R <= c.rows; i += R) correlate_tile<NV, R>(c, i, o0, lanes);
  for (; i < c.rows; ++i) correlate_tile<NV, 1>(c, i, o0, lanes);
}

template <int NV, int R>
ACOUSTOK_AVX512 void weight_gradient_tile(const WeightGradient& g, int64_t tap, int64_t c0, int64_t o0) {
  float* d = g.dw + (tap * g.cin + c0) * g.cout + o0;
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int n = 0; n < NV; ++n) acc[r][n] = _mm512_loadu_ps(d + r * g.cout + n * kLanes);
  const int64_t rs = g.in_step * g.in_row;
  const float* x = g.in + tap * g.in_row + c0;
  const float* y = g.dy + o0;
  for (int64_t i = 0; i < g.rows; ++i) {
    __m512 yv[NV];
#pragma GCC unroll 4
    for (int n = 0; n < NV; ++n) yv[n] = _mm512_loadu_ps(y + i * g.dy_row + n * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_set1_ps(x[i * rs + r]);
#pragma GCC unroll 4
      for (int n = 0; n < NV; ++n) acc[r][n] = _mm512_fmadd_ps(xv, yv[n], acc[r][n]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int n = 0; n < NV; ++n) _mm512_storeu_ps(d + r * g.cout + n * kLanes, acc[r][n]);
}

template <int NV, int R>
ACOUSTOK_AVX512 void weight_gradient_columns(const WeightGradient& g, int64_t o0) {
  for (int64_t tap = 0; tap < g.taps; ++tap)
    for (int64_t c0 = 0; c0 < g.cin; c0 += R) weight_gradient_tile<NV, R>(g, tap, c0, o0);
}

}  // namespace

void correlate(const Correlation& c) {
  // 64 channels: 6 x 4 = 24 accumulators; 32: 12 x 2; 16: 14 x 1 (of 32 zmm registers).
  int64_t o = 0;
  for (; o + 4 * kLanes <= c.cout; o += 4 * kLanes) correlate_columns<4, 6>(c, o);
  for (; o + 2 * kLanes <= c.cout; o += 2 * kLanes) correlate_columns<2, 12>(c, o);
  for (; o + kLanes <= c.cout; o += kLanes) correlate_columns<1, 14>(c, o);
  if (o < c.cout) correlate_columns<1, 14>(c, o, static_cast<__mmask16>((1u << (c.cout - o)) - 1));
}

void accumulate_weight_gradient(const WeightGradient& g) {
  // 16 accumulators (4 x 4, 8 x 2) when cin allows, enough to hide the FMA latency.
  const bool by8 = g.cin % 8 == 0;
  int64_t o = 0;
  for (; o + 4 * kLanes <= g.cout; o += 4 * kLanes) weight_gradient_columns<4, 4>(g, o);
  for (; o + 2 * kLanes <= g.cout; o += 2 * kLanes)
    by8 ? weight_gradient_columns<2, 8>(g, o) : weight_gradient_columns<2, 4>(g, o);
  for (; o + kLanes <= g.cout; o += kLanes)
    by8 ? weight_gradient_columns<1, 8>(g, o) : weight_gradient_columns<1, 4>(g, o);
}

bool supported() { return __builtin_cpu_supports("avx512f"); }

}  // namespace acoustok::vocoder::kernels
