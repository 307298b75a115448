// SPDX-License-Identifier: MIT
#include "vocoder/torch/grouped_conv1d_kernels.hpp"

#include <immintrin.h>

#include "common/cpu_isa.hpp"

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

// The same tiles in AVX2 + FMA: vectors of 8 output channels in 16 ymm
// registers. Every output value sums the same products in the same order as
// the AVX-512 tiles, so both give the same bits.
#define ACOUSTOK_AVX2 __attribute__((target("avx2,fma")))
constexpr int64_t kLanes8 = 8;

// A mask of the first `count` of 8 lanes (for the last columns of a cout not a multiple of 8).
ACOUSTOK_AVX2 inline __m256i first_lanes(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Masked: NV = 1 and `lanes` from first_lanes; otherwise all 8 lanes of each vector.
template <int NV, int R, bool Masked>
ACOUSTOK_AVX2 void correlate_tile8(const Correlation& c, int64_t i0, int64_t o0, __m256i lanes) {
  __m256 acc[R][NV];
#pragma GCC unroll 4
  for (int n = 0; n < NV; ++n) {
    __m256 bv = _mm256_setzero_ps();
    if (c.bias) {
      const float* b = c.bias + o0 + n * kLanes8;
      bv = Masked ? _mm256_maskload_ps(b, lanes) : _mm256_loadu_ps(b);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r][n] = bv;
  }
  const int64_t rs = c.in_step * c.in_row;
  const float* base = c.in + i0 * rs;
  for (int64_t tap = 0; tap < c.taps; ++tap) {
    const float* row = base + tap * c.in_row;
    const float* wt = c.w + tap * c.cin * c.cout + o0;
    for (int64_t ch = 0; ch < c.cin; ++ch) {
      __m256 wv[NV];
#pragma GCC unroll 4
      for (int n = 0; n < NV; ++n) {
        const float* w = wt + ch * c.cout + n * kLanes8;
        wv[n] = Masked ? _mm256_maskload_ps(w, lanes) : _mm256_loadu_ps(w);
      }
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m256 x = _mm256_broadcast_ss(row + r * rs + ch);
#pragma GCC unroll 4
        for (int n = 0; n < NV; ++n) acc[r][n] = _mm256_fmadd_ps(x, wv[n], acc[r][n]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int n = 0; n < NV; ++n) {
      float* o = c.out + (i0 + r) * c.out_row + o0 + n * kLanes8;
      if (Masked)
        _mm256_maskstore_ps(o, lanes, acc[r][n]);
      else
        _mm256_storeu_ps(o, acc[r][n]);
    }
}

template <int NV, int R, bool Masked = false>
ACOUSTOK_AVX2 void correlate_columns8(const Correlation& c, int64_t o0, __m256i lanes = __m256i()) {
  int64_t i = 0;
  for (; i + R <= c.rows; i += R) correlate_tile8<NV, R, Masked>(c, i, o0, lanes);
  for (; i < c.rows; ++i) correlate_tile8<NV, 1, Masked>(c, i, o0, lanes);
}

template <int NV, int R>
ACOUSTOK_AVX2 void weight_gradient_tile8(const WeightGradient& g, int64_t tap, int64_t c0, int64_t o0) {
  float* d = g.dw + (tap * g.cin + c0) * g.cout + o0;
  __m256 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int n = 0; n < NV; ++n) acc[r][n] = _mm256_loadu_ps(d + r * g.cout + n * kLanes8);
  const int64_t rs = g.in_step * g.in_row;
  const float* x = g.in + tap * g.in_row + c0;
  const float* y = g.dy + o0;
  for (int64_t i = 0; i < g.rows; ++i) {
    __m256 yv[NV];
#pragma GCC unroll 4
    for (int n = 0; n < NV; ++n) yv[n] = _mm256_loadu_ps(y + i * g.dy_row + n * kLanes8);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_broadcast_ss(x + i * rs + r);
#pragma GCC unroll 4
      for (int n = 0; n < NV; ++n) acc[r][n] = _mm256_fmadd_ps(xv, yv[n], acc[r][n]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int n = 0; n < NV; ++n) _mm256_storeu_ps(d + r * g.cout + n * kLanes8, acc[r][n]);
}

// Input channels 6 at a time (12 accumulators), the last 2 or 4 (cin is even) after.
template <int NV>
ACOUSTOK_AVX2 void weight_gradient_columns8(const WeightGradient& g, int64_t o0) {
  for (int64_t tap = 0; tap < g.taps; ++tap) {
    int64_t c0 = 0;
    for (; c0 + 6 <= g.cin; c0 += 6) weight_gradient_tile8<NV, 6>(g, tap, c0, o0);
    if (c0 + 4 <= g.cin) {
      weight_gradient_tile8<NV, 4>(g, tap, c0, o0);
      c0 += 4;
    }
    if (c0 + 2 <= g.cin) weight_gradient_tile8<NV, 2>(g, tap, c0, o0);
  }
}

ACOUSTOK_AVX2 void correlate_avx2(const Correlation& c) {
  // 16 channels: 6 x 2 = 12 accumulators; 8: 12 x 1 (of 16 ymm registers).
  int64_t o = 0;
  for (; o + 2 * kLanes8 <= c.cout; o += 2 * kLanes8) correlate_columns8<2, 6>(c, o);
  for (; o + kLanes8 <= c.cout; o += kLanes8) correlate_columns8<1, 12>(c, o);
  if (o < c.cout) correlate_columns8<1, 12, true>(c, o, first_lanes(c.cout - o));
}

ACOUSTOK_AVX2 void accumulate_weight_gradient_avx2(const WeightGradient& g) {
  int64_t o = 0;
  for (; o + 2 * kLanes8 <= g.cout; o += 2 * kLanes8) weight_gradient_columns8<2>(g, o);
  for (; o + kLanes8 <= g.cout; o += kLanes8) weight_gradient_columns8<1>(g, o);
}

void correlate_avx512(const Correlation& c) {
  // 64 channels: 6 x 4 = 24 accumulators; 32: 12 x 2; 16: 14 x 1 (of 32 zmm registers).
  int64_t o = 0;
  for (; o + 4 * kLanes <= c.cout; o += 4 * kLanes) correlate_columns<4, 6>(c, o);
  for (; o + 2 * kLanes <= c.cout; o += 2 * kLanes) correlate_columns<2, 12>(c, o);
  for (; o + kLanes <= c.cout; o += kLanes) correlate_columns<1, 14>(c, o);
  if (o < c.cout) correlate_columns<1, 14>(c, o, static_cast<__mmask16>((1u << (c.cout - o)) - 1));
}

void accumulate_weight_gradient_avx512(const WeightGradient& g) {
  // 16 accumulators (4 x 4, 8 x 2) when cin allows, enough to hide the FMA latency.
  const bool by8 = g.cin % 8 == 0;
  int64_t o = 0;
  for (; o + 4 * kLanes <= g.cout; o += 4 * kLanes) weight_gradient_columns<4, 4>(g, o);
  for (; o + 2 * kLanes <= g.cout; o += 2 * kLanes)
    by8 ? weight_gradient_columns<2, 8>(g, o) : weight_gradient_columns<2, 4>(g, o);
  for (; o + kLanes <= g.cout; o += kLanes)
    by8 ? weight_gradient_columns<1, 8>(g, o) : weight_gradient_columns<1, 4>(g, o);
}

}  // namespace

void correlate(const Correlation& c) {
  if (common::cpu_isa() == common::CpuIsa::avx512)
    correlate_avx512(c);
  else
    correlate_avx2(c);
}

void accumulate_weight_gradient(const WeightGradient& g) {
  if (common::cpu_isa() == common::CpuIsa::avx512)
    accumulate_weight_gradient_avx512(g);
  else
    accumulate_weight_gradient_avx2(g);
}

bool supported() { return common::cpu_isa() >= common::CpuIsa::avx2; }

}  // namespace acoustok::vocoder::kernels
