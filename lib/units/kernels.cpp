// SPDX-License-Identifier: MIT
// Compiled once per instruction set; see kernels.hpp. Eigen is renamed per
// variant so that its inline template instances (weak symbols) of different
// instruction sets can never be merged by the linker.
#ifndef ACOUSTOK_KERNEL_NS
#error "ACOUSTOK_KERNEL_NS must name the variant"
#endif
#define Eigen ACOUSTOK_KERNEL_EIGEN
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "acoustok/tensor_file.hpp"
#include "units/kernels.hpp"

namespace acoustok::units::ACOUSTOK_KERNEL_NS {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMat>;

double exact_sq_distance(const float* x, const float* c, int64_t dim) {
  double s = 0;
  for (int64_t d = 0; d < dim; ++d) {
    const double diff = static_cast<double>(x[d]) - static_cast<double>(c[d]);
    s += diff * diff;
  }
  return s;
}

void assign(const float* x, int64_t n, const float* c, const float* c_norms, int64_t k, int64_t dim,
            int32_t* labels, double* dist) {
  if (n == 0) return;
  ConstMap X(x, n, dim), C(c, k, dim);
  RowMat dots(n, k);
  dots.noalias() = X * C.transpose();
  float c_norm_max = 0;
  for (int64_t j = 0; j < k; ++j) c_norm_max = std::max(c_norm_max, c_norms[j]);
  std::vector<int64_t> near;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = dots.data() + i * k;
    const float* xi = x + i * dim;
    // ||x||^2 is the same for every centroid: rank by ||c||^2 - 2 x.c.
    int64_t best = 0;
    float best_d = c_norms[0] - 2.0f * row[0];
    for (int64_t j = 1; j < k; ++j) {
      const float d = c_norms[j] - 2.0f * row[j];
      if (d < best_d) {
        best_d = d;
        best = j;
      }
    }
    // Rounding in a float dot product of length dim stays far below this
    // bound (worst case ~dim * 2^-24 * (||x||^2 + ||c||^2)); anything within
    // it of the best is re-ranked exactly.
    const float x_norm = ConstMap(xi, 1, dim).squaredNorm();
    const float tol = 1e-4f * (x_norm + c_norm_max) + 1e-30f;
    near.clear();
    for (int64_t j = 0; j < k; ++j) {
      if (j != best && c_norms[j] - 2.0f * row[j] <= best_d + tol) near.push_back(j);
    }
    double best_exact = -1;
    if (!near.empty()) {
      near.push_back(best);
      std::sort(near.begin(), near.end());
      for (int64_t j : near) {
        const double d = exact_sq_distance(xi, c + j * dim, dim);
        if (best_exact < 0 || d < best_exact) {
          best_exact = d;
          best = j;
        }
      }
    }
    labels[i] = static_cast<int32_t>(best);
    if (dist) dist[i] = best_exact >= 0 ? best_exact : exact_sq_distance(xi, c + best * dim, dim);
  }
}

// Half <-> float: the instructions where the variant has them, the
// project's scalar conversions (tensor_file) elsewhere and for the tails.
void to_half(const float* x, int64_t count, uint16_t* y) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= count; i += 16)
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(y + i),
        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif defined(__F16C__)
  for (; i + 8 <= count; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
  for (; i < count; ++i) y[i] = acoustok::float_to_half(x[i]);
}

void from_half(const uint16_t* x, int64_t count, float* y) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= count; i += 16)
    _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
#elif defined(__F16C__)
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
#endif
  for (; i < count; ++i) y[i] = acoustok::half_to_float(x[i]);
}

#if defined(__AVX512F__)
// The dot products of CM candidates with two half rows, each 16-value chunk
// of a row widened once for all CM candidates (2 x CM accumulators stay in
// registers: the loops over CM unroll).
template <int CM>
void dots_two_rows(const float* a, int64_t dim, const uint16_t* x0, const uint16_t* x1, float* d0,
                   float* d1) {
  __m512 s0[CM], s1[CM];
#pragma GCC unroll 8
  for (int t = 0; t < CM; ++t) s0[t] = s1[t] = _mm512_setzero_ps();
  int64_t d = 0;
  for (; d + 16 <= dim; d += 16) {
    _mm_prefetch(reinterpret_cast<const char*>(x0 + d) + 1024, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(x1 + d) + 1024, _MM_HINT_T0);
    const __m512 v0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x0 + d)));
    const __m512 v1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x1 + d)));
#pragma GCC unroll 8
    for (int t = 0; t < CM; ++t) {
      const __m512 c = _mm512_loadu_ps(a + t * dim + d);
      s0[t] = _mm512_fmadd_ps(c, v0, s0[t]);
      s1[t] = _mm512_fmadd_ps(c, v1, s1[t]);
    }
  }
  if (d < dim) {  // the last dim % 16 values
    const __mmask16 mask = __mmask16((1u << (dim - d)) - 1);
    const __m512 v0 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, x0 + d));
    const __m512 v1 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, x1 + d));
#pragma GCC unroll 8
    for (int t = 0; t < CM; ++t) {
      const __m512 c = _mm512_maskz_loadu_ps(mask, a + t * dim + d);
      s0[t] = _mm512_fmadd_ps(c, v0, s0[t]);
      s1[t] = _mm512_fmadd_ps(c, v1, s1[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < CM; ++t) {
    d0[t] = _mm512_reduce_add_ps(s0[t]);
    d1[t] = _mm512_reduce_add_ps(s1[t]);
  }
}

using DotsTwoRows = void (*)(const float*, int64_t, const uint16_t*, const uint16_t*, float*, float*);
constexpr DotsTwoRows kDotsTwoRows[] = {nullptr,           &dots_two_rows<1>, &dots_two_rows<2>,
                                        &dots_two_rows<3>, &dots_two_rows<4>, &dots_two_rows<5>,
                                        &dots_two_rows<6>, &dots_two_rows<7>, &dots_two_rows<8>};

// Fused: rows two at a time, candidates up to eight at a time, no float copy
// of the rows; the next rows are prefetched (the passes still wait on
// memory more than on arithmetic).
void sq_distances_half(const float* a, int64_t m, const float* a_norms, const uint16_t* x, int64_t n,
                       const float* x_norms, int64_t dim, float* out) {
  float d0[8], d1[8];
  for (int64_t g = 0; g < m; g += 8) {
    const int cm = static_cast<int>(std::min<int64_t>(8, m - g));
    for (int64_t j = 0; j < n; j += 2) {
      const bool pair = j + 1 < n;
      const uint16_t* x0 = x + j * dim;
      kDotsTwoRows[cm](a + g * dim, dim, x0, pair ? x0 + dim : x0, d0, d1);
      for (int t = 0; t < cm; ++t) {
        float* o = out + (g + t) * n + j;
        o[0] = std::max(0.0f, a_norms[g + t] + x_norms[j] - 2.0f * d0[t]);
        if (pair) o[1] = std::max(0.0f, a_norms[g + t] + x_norms[j + 1] - 2.0f * d1[t]);
      }
    }
  }
}
#else
// One row at a time: widened into a float row that stays in L1, then m dot
// products with the candidates (m is small: 2 + ln k).
void sq_distances_half(const float* a, int64_t m, const float* a_norms, const uint16_t* x, int64_t n,
                       const float* x_norms, int64_t dim, float* out) {
  if (m == 0 || n == 0) return;
  ConstMap A(a, m, dim);
  Eigen::VectorXf row(dim), dots(m);
  for (int64_t j = 0; j < n; ++j) {
    from_half(x + j * dim, dim, row.data());
    dots.noalias() = A * row;
    for (int64_t i = 0; i < m; ++i) out[i * n + j] = std::max(0.0f, a_norms[i] + x_norms[j] - 2.0f * dots[i]);
  }
}
#endif

}  // namespace

const Kernels table = {&assign, &to_half, &from_half, &sq_distances_half, ACOUSTOK_KERNEL_NAME};

}  // namespace acoustok::units::ACOUSTOK_KERNEL_NS
