// SPDX-License-Identifier: MIT
#include "units/sklearn_kmeans.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "units/parallel_for.hpp"

namespace acoustok::units {
namespace {

using RowMatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// NumPy's pairwise_sum for float (numpy/core/src/umath/loops_utils.h.src).
float pairwise_sum(const float* a, int64_t n) {
  if (n < 8) {
    float res = 0.f;
    for (int64_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    float r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

constexpr int64_t kRows = 256;  // rows upcast to double at a time

}  // namespace

float numpy_sum(const float* a, int64_t n) {
  constexpr int64_t kBuffer = 8192;
  float total = 0.f;
  for (int64_t lo = 0; lo < n; lo += kBuffer) total += pairwise_sum(a + lo, std::min(kBuffer, n - lo));
  return total;
}

float sklearn_sq_distance(const float* a, const float* b, int64_t dim) {
  float result = 0.f;
  int64_t d = 0;
  for (; d + 4 <= dim; d += 4) {
    const float d0 = a[d] - b[d], d1 = a[d + 1] - b[d + 1], d2 = a[d + 2] - b[d + 2],
                d3 = a[d + 3] - b[d + 3];
    result += d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3;
  }
  for (; d < dim; ++d) result += (a[d] - b[d]) * (a[d] - b[d]);
  return result;
}

float sklearn_inertia(const float* x, int64_t n, const float* centroids, int64_t dim, const int32_t* labels) {
  float inertia = 0.f;
  for (int64_t i = 0; i < n; ++i)
    inertia += sklearn_sq_distance(x + i * dim, centroids + labels[i] * dim, dim);
  return inertia;
}

void sklearn_update(const float* batch, const int64_t* order, const int64_t* start, float* centroids,
                    double* counts, int64_t k, int64_t dim, int threads) {
  parallel_for(k, threads, [&](int64_t c) {
    const int64_t lo = start[c], hi = start[c + 1];
    if (hi == lo) return;
    float* center = centroids + c * dim;
    const float w = static_cast<float>(counts[c]);
    for (int64_t d = 0; d < dim; ++d) center[d] *= w;
    for (int64_t r = lo; r < hi; ++r) {
      const float* row = batch + order[r] * dim;
      for (int64_t d = 0; d < dim; ++d) center[d] += row[d];
    }
    float wsum = 0.f;
    for (int64_t r = lo; r < hi; ++r) wsum += 1.f;
    const float total = w + wsum;
    const float alpha = 1.f / total;
    for (int64_t d = 0; d < dim; ++d) center[d] *= alpha;
    counts[c] = total;
  });
}

std::vector<float> sklearn_kmeans_plusplus(const float* x, int64_t m, int64_t dim, int k,
                                           NumpyRandomState& rng, int threads) {
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  const int64_t blocks = (m + kRows - 1) / kRows;
  std::vector<double> norms(static_cast<size_t>(m));
  parallel_for(blocks, threads, [&](int64_t b) {
    for (int64_t i = b * kRows; i < std::min(m, (b + 1) * kRows); ++i) {
      double s = 0;
      for (int64_t d = 0; d < dim; ++d) s += static_cast<double>(x[i * dim + d]) * x[i * dim + d];
      norms[static_cast<size_t>(i)] = s;
    }
  });
  // out[t * m + i] = max(0, float((-2 a_t.x_i + |a_t|^2) + |x_i|^2)) for the rows ids as a_t.
  auto distances = [&](const std::vector<int64_t>& ids, float* out) {
    const int64_t count = static_cast<int64_t>(ids.size());
    RowMatD a(count, dim);
    for (int64_t t = 0; t < count; ++t)
      for (int64_t d = 0; d < dim; ++d) a(t, d) = x[ids[static_cast<size_t>(t)] * dim + d];
    const Eigen::VectorXd a_norms = a.rowwise().squaredNorm();
    parallel_for(blocks, threads, [&](int64_t b) {
      const int64_t lo = b * kRows, len = std::min(kRows, m - lo);
      const RowMatD rows =
          Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
              x + lo * dim, len, dim)
              .cast<double>();
      const RowMatD dots = a * rows.transpose();
      for (int64_t t = 0; t < count; ++t)
        for (int64_t j = 0; j < len; ++j) {
          const double d = (-2.0 * dots(t, j) + a_norms[t]) + norms[static_cast<size_t>(lo + j)];
          out[t * m + lo + j] = std::max(static_cast<float>(d), 0.f);
        }
    });
  };

  std::vector<float> centers(static_cast<size_t>(k) * dim);
  std::vector<float> closest(static_cast<size_t>(m)), cand(static_cast<size_t>(trials) * m);
  std::vector<double> cumsum(static_cast<size_t>(m));
  std::vector<int64_t> ids{rng.randint(m)};
  std::copy_n(x + ids[0] * dim, dim, centers.begin());
  distances(ids, closest.data());
  float pot = numpy_sum(closest.data(), m);
  ids.resize(static_cast<size_t>(trials));
  for (int c = 1; c < k; ++c) {
    double run = 0;  // sklearn's stable_cumsum: float64
    for (int64_t i = 0; i < m; ++i) cumsum[static_cast<size_t>(i)] = run += closest[static_cast<size_t>(i)];
    for (auto& id : ids) {
      const double v = rng.next_double() * static_cast<double>(pot);
      id = std::min<int64_t>(std::lower_bound(cumsum.begin(), cumsum.end(), v) - cumsum.begin(), m - 1);
    }
    distances(ids, cand.data());
    int best = 0;
    float best_pot = 0.f;
    for (int t = 0; t < trials; ++t) {
      float* row = cand.data() + static_cast<int64_t>(t) * m;
      for (int64_t i = 0; i < m; ++i) row[i] = std::min(closest[static_cast<size_t>(i)], row[i]);
      const float p = numpy_sum(row, m);
      if (t == 0 || p < best_pot) {
        best = t;
        best_pot = p;
      }
    }
    pot = best_pot;
    std::copy_n(cand.begin() + static_cast<int64_t>(best) * m, m, closest.begin());
    std::copy_n(x + ids[static_cast<size_t>(best)] * dim, dim, centers.begin() + c * dim);
  }
  return centers;
}

}  // namespace acoustok::units
