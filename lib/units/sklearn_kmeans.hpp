// SPDX-License-Identifier: MIT
// scikit-learn 1.2's own arithmetic in MiniBatchKMeans on float32 data, for
// `kmeans fit --rng numpy` (lib/units/kmeans.cpp): with the same draws
// (numpy_random.hpp), the same rounding makes the same k-means++ picks and
// the same early stop. Single sums follow NumPy's and sklearn's Cython
// loops operation for operation; products of matrices are taken in double
// and rounded to float as sklearn's float64 upcast does.
#pragma once

#include <cstdint>
#include <vector>

#include "units/numpy_random.hpp"

namespace acoustok::units {

// np.sum of a float32 array: pairwise sums of 8192-element chunks (NumPy's
// buffer), added in order in float.
float numpy_sum(const float* a, int64_t n);

// sklearn's _euclidean_dense_dense: squared distance in float, 4 terms a step.
float sklearn_sq_distance(const float* a, const float* b, int64_t dim);

// sklearn's _inertia_dense on one thread: float sum over rows in order.
float sklearn_inertia(const float* x, int64_t n, const float* centroids, int64_t dim, const int32_t* labels);

// sklearn's _minibatch_update_dense in float: c <- (c * w + rows in batch
// order) * (1 / (w + count)). Centre c's batch rows are
// order[start[c] .. start[c + 1]), ascending; counts hold float values.
void sklearn_update(const float* batch, const int64_t* order, const int64_t* start, float* centroids,
                    double* counts, int64_t k, int64_t dim, int threads);

// sklearn's _kmeans_plusplus on the rows x [m, dim] in their order, drawing
// from rng as it does: the first centre, then per centre 2 + floor(ln k)
// uniforms. Distances are float64 products rounded to float32 (sklearn's
// _euclidean_distances_upcast), potentials NumPy's float32 sums.
std::vector<float> sklearn_kmeans_plusplus(const float* x, int64_t m, int64_t dim, int k,
                                           NumpyRandomState& rng, int threads);

}  // namespace acoustok::units
