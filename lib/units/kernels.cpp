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
      if (d < best_d) { best_d = d; best = j; }
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
        if (best_exact < 0 || d < best_exact) { best_exact = d; best = j; }
      }
    }
    labels[i] = static_cast<int32_t>(best);
    if (dist) dist[i] = best_exact >= 0 ? best_exact : exact_sq_distance(xi, c + best * dim, dim);
  }
}

void sq_distances(const float* a, int64_t m, const float* a_norms, const float* x, int64_t n, const float* x_norms,
                  int64_t dim, float* out) {
  if (m == 0 || n == 0) return;
  ConstMap A(a, m, dim), X(x, n, dim);
  Eigen::Map<RowMat> D(out, m, n);
  D.noalias() = A * X.transpose();
  for (int64_t i = 0; i < m; ++i) {
    float* r = out + i * n;
    for (int64_t j = 0; j < n; ++j) r[j] = std::max(0.0f, a_norms[i] + x_norms[j] - 2.0f * r[j]);
  }
}

}  // namespace

const Kernels table = {&assign, &sq_distances, ACOUSTOK_KERNEL_NAME};

}  // namespace acoustok::units::ACOUSTOK_KERNEL_NS
