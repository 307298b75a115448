// SPDX-License-Identifier: MIT
// The arithmetic of k-means on one block of rows, single-threaded. The same
// source is compiled once per instruction set (kernels.cpp with
// ACOUSTOK_KERNEL_NS = generic / avx2 / avx512) and the one of
// common::cpu_isa() (the CPU's, capped by ACOUSTOK_MAX_CPU_ISA) is picked at
// first use, so a portable binary still gets wide GEMMs.
#pragma once

#include <cstdint>

namespace acoustok::units {

struct Kernels {
  // labels[i] = argmin_j ||x_i - c_j||^2, exactly: the GEMM form
  // ||c||^2 - 2 x.c is exact enough to rank every centroid except near-ties,
  // which are re-ranked with the double-precision distance (lowest index
  // wins a true tie). dist[i] (if not null) = that double distance.
  // x [n, dim], c [k, dim] row-major; c_norms [k] = ||c_j||^2 in float.
  void (*assign)(const float* x, int64_t n, const float* c, const float* c_norms, int64_t k, int64_t dim,
                 int32_t* labels, double* dist);
  // The k-means++ trials on a half-precision copy of the init sample: the
  // trials are memory-bound (every new centre streams the whole sample), so
  // storing it as IEEE half halves the bytes each pass reads.
  // y[i] = x[i] rounded to half (nearest even); |x| must fit half's range.
  void (*to_half)(const float* x, int64_t count, uint16_t* y);
  // y[i] = x[i] (half -> float, exact).
  void (*from_half)(const uint16_t* x, int64_t count, float* y);
  // out [m, n] = ||a_i - x_j||^2 (float, clamped at 0) for the k-means++
  // trials a [m, dim] against rows x [n, dim] stored as half.
  void (*sq_distances_half)(const float* a, int64_t m, const float* a_norms, const uint16_t* x, int64_t n,
                            const float* x_norms, int64_t dim, float* out);
  const char* name;
};

// The kernels for this CPU.
const Kernels& kernels();

namespace generic {
extern const Kernels table;
}
namespace avx2 {
extern const Kernels table;
}
namespace avx512 {
extern const Kernels table;
}

}  // namespace acoustok::units
