// SPDX-License-Identifier: MIT
// fairseq's k-means files: learn_kmeans.py saves scikit-learn's fitted
// MiniBatchKMeans with joblib.dump (km.bin), a pickle whose NumPy arrays are
// written raw right after each joblib NumpyArrayWrapper's BUILD.
//
// Read through the safe unpickler (common/pickle.hpp) with only the globals
// such a file needs: the scikit-learn k-means classes, joblib's array
// wrapper, numpy.ndarray / numpy.dtype, numpy scalars and ndarray
// reconstruction (a plain pickle.dump). Nothing is executed; every array's
// bytes are checked against what is left of the file before they are used.
// Compressed joblib files (compress=...) are refused with a way out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "acoustok/kmeans.hpp"

namespace acoustok::units {

// True for bytes that start a pickle (PROTO 2..5) or a joblib compressed file.
bool looks_like_joblib(const uint8_t* head, size_t n);

// Centroids [k, dim] as float32 from `cluster_centers_`; metadata "source".
KMeansModel read_joblib_kmeans(const std::string& path);

}  // namespace acoustok::units
