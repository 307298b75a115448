// SPDX-License-Identifier: MIT
#include "common/torch/row_kernels.hpp"

#include <ATen/Parallel.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/cpu_isa.hpp"

namespace acoustok::onednn {
namespace {

using common::CpuIsa;

#if defined(__x86_64__)
// GCC 12 flags the _mm512_undefined_ps() inside its own intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// exp(x) for x <= 0 in 16 lanes: x = n ln2 + f with |f| <= ln2/2, e^f by its
// Taylor series to f^7 (remainder below 5e-9 relative), times 2^n.
__attribute__((target("avx512f"))) inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));  // below that e^x underflows float anyway
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 f = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2 split in two for exactness
  f = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), f);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// Across the 16 lanes (GCC 12's _mm512_reduce_* warn in the same way).
template <class Op>
__attribute__((target("avx512f"))) float horizontal(__m512 v, Op op) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float r = lanes[0];
  for (int i = 1; i < 16; ++i) r = op(r, lanes[i]);
  return r;
}

__attribute__((target("avx512f"))) float exp_row_avx512(float* row, int64_t n) {
  const int64_t full = n & ~int64_t{15};
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - full)) - 1);
  __m512 m = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < full; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(row + i));
  m = _mm512_mask_max_ps(m, tail, m, _mm512_maskz_loadu_ps(tail, row + full));
  const __m512 max = _mm512_set1_ps(horizontal(m, [](float a, float b) { return std::max(a, b); }));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < full; i += 16) {
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(row + i), max));
    _mm512_storeu_ps(row + i, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (tail) {
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, row + full), max));
    _mm512_mask_storeu_ps(row + full, tail, e);
    sum = _mm512_mask_add_ps(sum, tail, sum, e);
  }
  return horizontal(sum, [](float a, float b) { return a + b; });
}

// erf(x) for x >= 0 (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
__attribute__((target("avx512f"))) inline __m512 erf_nonnegative(__m512 x) {
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f),
                                 _mm512_fmadd_ps(x, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  p = _mm512_mul_ps(p, t);
  const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(x, x)));
  return _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
}

// GELU(y) = y / 2 (1 + erf(y / sqrt 2)), erf being odd.
__attribute__((target("avx512f"))) inline __m512 gelu(__m512 y) {
  const __m512 a = _mm512_abs_ps(_mm512_mul_ps(y, _mm512_set1_ps(0.70710678118654752f)));
  __m512 erf = erf_nonnegative(a);
  erf = _mm512_mask_sub_ps(erf, _mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_setzero_ps(),
                           erf);
  return _mm512_mul_ps(_mm512_mul_ps(y, _mm512_set1_ps(0.5f)), _mm512_add_ps(erf, _mm512_set1_ps(1.0f)));
}

// One row of n (a multiple of 16) values: layer norm, then GELU if asked.
__attribute__((target("avx512f"))) void norm_row_avx512(const float* x, float* y, int64_t n,
                                                        const float* gamma, const float* beta, float eps,
                                                        bool with_gelu) {
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) sum = _mm512_add_ps(sum, _mm512_loadu_ps(x + i));
  const float mean = horizontal(sum, [](float a, float b) { return a + b; }) / static_cast<float>(n);
  const __m512 m = _mm512_set1_ps(mean);
  __m512 sq = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), m);
    sq = _mm512_fmadd_ps(d, d, sq);
  }
  const float var = horizontal(sq, [](float a, float b) { return a + b; }) / static_cast<float>(n);
  const __m512 rstd = _mm512_set1_ps(1.0f / std::sqrt(var + eps));
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), m), rstd);
    __m512 v = _mm512_fmadd_ps(d, _mm512_loadu_ps(gamma + i), _mm512_loadu_ps(beta + i));
    if (with_gelu) v = gelu(v);
    _mm512_storeu_ps(y + i, v);
  }
}

// float -> bfloat16 rounded to nearest even, 16 values at a time (finite
// values: softmax numerators); returns how many it did, a multiple of 16.
__attribute__((target("avx512f"))) int64_t round_row_to_bf16_avx512(const float* src, uint16_t* dst,
                                                                    int64_t n) {
  const int64_t full = n & ~int64_t{15};
  for (int64_t i = 0; i < full; i += 16) {
    const __m512i bits = _mm512_castps_si512(_mm512_loadu_ps(src + i));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i rounded =
        _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtepi32_epi16(rounded));
  }
  return full;
}

#pragma GCC diagnostic pop

// The same kernels in AVX2 + FMA, as 16 lanes in two 8-lane halves: every
// lane sees the same operations in the same order as in the AVX-512 kernels
// (the sums across lanes too), so both give the same bits.
#define ACOUSTOK_AVX2 __attribute__((target("avx2,fma")))

struct Lanes16 {
  __m256 lo, hi;
};

// exp_nonpositive in 8 lanes: 2^n built from its exponent bits (n is in
// [-126, 0], a normal float) where AVX-512 has scalef; the product rounds alike.
ACOUSTOK_AVX2 inline __m256 exp_nonpositive(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 f = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  f = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), f);
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  const __m256i two_n =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(two_n));
}

template <class Op>
ACOUSTOK_AVX2 float horizontal(Lanes16 v, Op op) {
  alignas(32) float lanes[16];
  _mm256_store_ps(lanes, v.lo);
  _mm256_store_ps(lanes + 8, v.hi);
  float r = lanes[0];
  for (int i = 1; i < 16; ++i) r = op(r, lanes[i]);
  return r;
}

ACOUSTOK_AVX2 float exp_row_avx2(float* row, int64_t n) {
  const int64_t full = n & ~int64_t{15}, rest = n - full;
  // The last n % 16 values, padded as AVX-512's masked loads see them.
  alignas(32) float tail[16];
  std::fill(tail, tail + 16, -INFINITY);
  std::copy(row + full, row + n, tail);
  Lanes16 m = {_mm256_set1_ps(-INFINITY), _mm256_set1_ps(-INFINITY)};
  for (int64_t i = 0; i <= full; i += 16) {
    const float* p = i < full ? row + i : tail;
    m.lo = _mm256_max_ps(m.lo, _mm256_loadu_ps(p));
    m.hi = _mm256_max_ps(m.hi, _mm256_loadu_ps(p + 8));
  }
  const __m256 max = _mm256_set1_ps(horizontal(m, [](float a, float b) { return std::max(a, b); }));
  Lanes16 sum = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t i = 0; i < full; i += 16) {
    const __m256 lo = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(row + i), max));
    const __m256 hi = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(row + i + 8), max));
    _mm256_storeu_ps(row + i, lo);
    _mm256_storeu_ps(row + i + 8, hi);
    sum.lo = _mm256_add_ps(sum.lo, lo);
    sum.hi = _mm256_add_ps(sum.hi, hi);
  }
  if (rest) {
    // Lanes past the row add +0, which leaves their sums as they are.
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 in_lo =
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rest)), index));
    const __m256 in_hi =
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rest) - 8), index));
    std::fill(tail + rest, tail + 16, 0.0f);
    const __m256 lo = exp_nonpositive(_mm256_sub_ps(_mm256_load_ps(tail), max));
    const __m256 hi = exp_nonpositive(_mm256_sub_ps(_mm256_load_ps(tail + 8), max));
    _mm256_store_ps(tail, lo);
    _mm256_store_ps(tail + 8, hi);
    std::copy(tail, tail + rest, row + full);
    sum.lo = _mm256_add_ps(sum.lo, _mm256_and_ps(lo, in_lo));
    sum.hi = _mm256_add_ps(sum.hi, _mm256_and_ps(hi, in_hi));
  }
  return horizontal(sum, [](float a, float b) { return a + b; });
}

ACOUSTOK_AVX2 inline __m256 erf_nonnegative(__m256 x) {
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                                 _mm256_fmadd_ps(x, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  p = _mm256_mul_ps(p, t);
  const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(x, x)));
  return _mm256_fnmadd_ps(p, e, _mm256_set1_ps(1.0f));
}

ACOUSTOK_AVX2 inline __m256 gelu(__m256 y) {
  const __m256 scaled = _mm256_mul_ps(y, _mm256_set1_ps(0.70710678118654752f));
  const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), scaled);  // |y / sqrt 2|
  const __m256 erf_abs = erf_nonnegative(a);
  const __m256 negative = _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 erf = _mm256_blendv_ps(erf_abs, _mm256_sub_ps(_mm256_setzero_ps(), erf_abs), negative);
  return _mm256_mul_ps(_mm256_mul_ps(y, _mm256_set1_ps(0.5f)), _mm256_add_ps(erf, _mm256_set1_ps(1.0f)));
}

ACOUSTOK_AVX2 void norm_row_avx2(const float* x, float* y, int64_t n, const float* gamma, const float* beta,
                                 float eps, bool with_gelu) {
  Lanes16 sum = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t i = 0; i < n; i += 16) {
    sum.lo = _mm256_add_ps(sum.lo, _mm256_loadu_ps(x + i));
    sum.hi = _mm256_add_ps(sum.hi, _mm256_loadu_ps(x + i + 8));
  }
  const float mean = horizontal(sum, [](float a, float b) { return a + b; }) / static_cast<float>(n);
  const __m256 m = _mm256_set1_ps(mean);
  Lanes16 sq = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t i = 0; i < n; i += 16) {
    const __m256 lo = _mm256_sub_ps(_mm256_loadu_ps(x + i), m),
                 hi = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m);
    sq.lo = _mm256_fmadd_ps(lo, lo, sq.lo);
    sq.hi = _mm256_fmadd_ps(hi, hi, sq.hi);
  }
  const float var = horizontal(sq, [](float a, float b) { return a + b; }) / static_cast<float>(n);
  const __m256 rstd = _mm256_set1_ps(1.0f / std::sqrt(var + eps));
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), rstd);
    __m256 v = _mm256_fmadd_ps(d, _mm256_loadu_ps(gamma + i), _mm256_loadu_ps(beta + i));
    if (with_gelu) v = gelu(v);
    _mm256_storeu_ps(y + i, v);
  }
}

ACOUSTOK_AVX2 int64_t round_row_to_bf16_avx2(const float* src, uint16_t* dst, int64_t n) {
  const int64_t full = n & ~int64_t{7};
  for (int64_t i = 0; i < full; i += 8) {
    const __m256i bits = _mm256_castps_si256(_mm256_loadu_ps(src + i));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    const __m256i rounded =
        _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    // 32 -> 16 bits: packs work within 128-bit halves; the permute joins the halves' low quads.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(rounded, rounded), 0xd8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_castsi256_si128(packed));
  }
  return full;
}
#else
float exp_row_avx512(float*, int64_t) { return 0; }
int64_t round_row_to_bf16_avx512(const float*, uint16_t*, int64_t) { return 0; }
void norm_row_avx512(const float*, float*, int64_t, const float*, const float*, float, bool) {}
float exp_row_avx2(float*, int64_t) { return 0; }
int64_t round_row_to_bf16_avx2(const float*, uint16_t*, int64_t) { return 0; }
void norm_row_avx2(const float*, float*, int64_t, const float*, const float*, float, bool) {}
#endif

// The rest of a row, with c10's own rounding (the vector loops', per value).
void round_row_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = c10::detail::round_to_nearest_even(src[i]);
}

int64_t round_row_to_bf16_none(const float*, uint16_t*, int64_t) { return 0; }

float exp_row_scalar(float* row, int64_t n) {
  const float max = *std::max_element(row, row + n);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += row[i] = std::exp(row[i] - max);
  return sum;
}

}  // namespace

void layer_norm_rows(const torch::Tensor& x, const torch::Tensor& gamma, const torch::Tensor& beta,
                     double eps, bool with_gelu, const torch::Tensor& dst) {
  TORCH_CHECK(x.dim() == 2 && dst.sizes() == x.sizes() && x.stride(1) == 1 && dst.stride(1) == 1,
              "layer_norm_rows takes [rows, C] with contiguous rows");
  const int64_t C = x.size(1);
  const CpuIsa isa = common::cpu_isa();
  if (isa == CpuIsa::generic || C % 16 != 0) {
    const torch::Tensor y = torch::layer_norm(x, {C}, gamma, beta, eps);
    dst.copy_(with_gelu ? torch::gelu(y) : y);
    return;
  }
  const auto norm_row = isa == CpuIsa::avx512 ? &norm_row_avx512 : &norm_row_avx2;
  const torch::Tensor g = gamma.contiguous(), b = beta.contiguous();
  const float* xp = x.data_ptr<float>();
  float* yp = dst.data_ptr<float>();
  const int64_t xs = x.stride(0), ys = dst.stride(0);
  at::parallel_for(0, x.size(0), 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      norm_row(xp + r * xs, yp + r * ys, C, g.data_ptr<float>(), b.data_ptr<float>(), static_cast<float>(eps),
               with_gelu);
    }
  });
}

void softmax_numerators(const torch::Tensor& scores, const torch::Tensor& inv_sum,
                        const torch::Tensor& as_bf16) {
  TORCH_CHECK(scores.dim() == 2 && scores.is_contiguous() && scores.scalar_type() == torch::kFloat32,
              "softmax_numerators takes a contiguous float32 [rows, cols] block");
  TORCH_CHECK(inv_sum.is_contiguous() && inv_sum.numel() == scores.size(0),
              "inv_sum needs one value per row");
  TORCH_CHECK(!as_bf16.defined() || (as_bf16.scalar_type() == torch::kBFloat16 && as_bf16.is_contiguous() &&
                                     as_bf16.sizes() == scores.sizes()),
              "the bf16 numerators are a contiguous bfloat16 block of the scores' shape");
  const int64_t cols = scores.size(1);
  float* data = scores.data_ptr<float>();
  float* inv = inv_sum.data_ptr<float>();
  uint16_t* out16 = as_bf16.defined() ? reinterpret_cast<uint16_t*>(as_bf16.data_ptr()) : nullptr;
  const CpuIsa isa = common::cpu_isa();
  const auto exp_row = isa == CpuIsa::avx512 ? &exp_row_avx512
                       : isa == CpuIsa::avx2 ? &exp_row_avx2
                                             : &exp_row_scalar;
  const auto round_row = isa == CpuIsa::avx512 ? &round_row_to_bf16_avx512
                         : isa == CpuIsa::avx2 ? &round_row_to_bf16_avx2
                                               : &round_row_to_bf16_none;
  at::parallel_for(0, scores.size(0), 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* row = data + r * cols;
      inv[r] = 1.0f / exp_row(row, cols);
      if (out16) {  // while the row is in cache
        const int64_t done = round_row(row, out16 + r * cols, cols);
        round_row_to_bf16(row + done, out16 + r * cols + done, cols - done);
      }
    }
  });
}

}  // namespace acoustok::onednn
