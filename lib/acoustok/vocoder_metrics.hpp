// SPDX-License-Identifier: MIT
// Quality metrics of `acoustok vocoder test` (DESIGN.md, "Metrics"). Plain
// C++/Eigen, double precision throughout. Undefined values are NaN (written
// as null in metrics.json).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace acoustok {

// 10 log10(sum x^2 / sum (x - y)^2) over the first min(nx, ny) samples
// (+inf when identical).
double snr_db(const float* x, size_t nx, const float* y, size_t ny);
// len(synth) / len(orig).
double length_ratio(size_t synth_len, size_t orig_len);

// Mel-cepstra c1..c24 of 16 kHz audio, one row per frame: 1024-sample frames
// (periodic Hann), hop 256, no centering or padding (floor((n-1024)/256)+1
// frames); |FFT| -> 80 HTK-mel triangles 0-8000 Hz (peak 1, unnormalised) ->
// ln(max(., 1e-5)) -> orthonormal DCT-II, coefficients 1..24.
std::vector<std::vector<double>> mel_cepstra(const float* x, size_t n);

// DTW between two cepstra sequences, steps (1,0), (0,1), (1,1), Euclidean
// cost, ties broken diagonal first, then (i-1, j), then (i, j-1). Returns
// the path cost terms d(i, j) in path order.
std::vector<double> dtw_path_costs(const std::vector<std::vector<double>>& a,
                                   const std::vector<std::vector<double>>& b);

// MCD in dB: mean over the DTW path of (10 / ln 10) sqrt(2 sum_d (c_d - c'_d)^2).
// NaN when either signal is shorter than one frame (1024 samples).
double mcd_db(const float* x, size_t nx, const float* y, size_t ny);

// YIN pitch (de Cheveigne & Kawahara 2002, steps 1-5) at 16 kHz: frames
// every 160 samples (10 ms), integration window W = 400, lags 40..266
// (400..60 Hz); frame t uses samples [160 t, 160 t + 666). Cumulative mean
// normalised difference d'; the first lag with d' < 0.15, moved on to the
// bottom of its dip, refined by a parabola through d'; no such lag, or a
// window RMS below 1e-3 (-60 dBFS), means unvoiced (f0 = 0).
struct PitchTrack {
  std::vector<double> f0;  // Hz, 0 when unvoiced
  std::vector<bool> voiced;
};
PitchTrack yin_pitch(const float* x, size_t n);

// Frame by frame over the first min(frames) frames: RMS of the f0
// difference in Hz over frames voiced in both (NaN when none), and the
// fraction of frames whose voicing decisions differ.
struct PitchErrors {
  double f0_rmse_hz = 0;
  double voicing_error = 0;
  int64_t frames = 0;
  int64_t voiced_both = 0;
};
PitchErrors pitch_errors(const PitchTrack& reference, const PitchTrack& test);

// Fraction of frames (over the first min(len)) with the same unit; NaN when empty.
double unit_agreement(const std::vector<int32_t>& a, const std::vector<int32_t>& b);

}  // namespace acoustok
