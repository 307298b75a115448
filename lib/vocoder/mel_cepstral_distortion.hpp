// SPDX-License-Identifier: MIT
// mcd_db as the field computes it (docs/metrics.md): SPTK's mel-cepstral
// analysis pipeline, in our own code (vocoder/mel_cepstrum.hpp), and DTW.
#pragma once

#include <cstddef>
#include <vector>

namespace acoustok::vocoder {

// Mel-cepstra c1..c24 of 16 kHz audio in [-1, 1], one row per frame, as the
// SPTK pipeline `x2x +sf | frame -l 1024 -p 256 | window -l 1024 -w 1 -n 0 |
// mcep -l 1024 -m 24 -a 0.42 -e 1e-6` makes them on the audio scaled by
// 32768: ceil(n / 256) frames, frame k holding samples [256 k - 512,
// 256 k + 512) (zeros outside), a symmetric Hamming window, mcep's default
// iterations (2..30, end 0.001, determinant floor 1e-6); c0 (the gain) dropped.
std::vector<std::vector<double>> mel_cepstra(const float* x, size_t n);

// Mean over the DTW path (acoustok/vocoder_metrics.hpp: dtw_path_costs) of
// (10 / ln 10) sqrt(2 sum_d (c_d - c'_d)^2). NaN when either signal is empty,
// and when the DTW would need more than 4e8 cells (about 3 hours of frames
// squared: 55 minutes against 55 minutes).
double mcd_db(const float* x, size_t nx, const float* y, size_t ny);
// The number of cells on that DTW path (0 when mcd_db is NaN).
size_t mcd_path_length(const float* x, size_t nx, const float* y, size_t ny);

}  // namespace acoustok::vocoder
