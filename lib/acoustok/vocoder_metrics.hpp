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

// DTW between two cepstra sequences, steps (1,0), (0,1), (1,1), Euclidean
// cost, ties broken diagonal first, then (i-1, j), then (i, j-1). Returns
// the path cost terms d(i, j) in path order. Memory: one byte per cell.
// mcd_db, on mel-cepstra computed as SPTK's mcep computes them (our own
// code), is in lib/vocoder/mel_cepstral_distortion.hpp.
std::vector<double> dtw_path_costs(const std::vector<std::vector<double>>& a,
                                   const std::vector<std::vector<double>>& b);

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

// Frame by frame over the first min(frames) frames, as fairseq's
// eval_f0.py defines them (reference = the original, test = the synthesis):
// gpe, frames voiced in both whose F0 is off by more than 20 %
// (|f_test / (f_ref + 1e-8) - 1| > 0.2) over the frames voiced in both (NaN
// when none); vde, frames whose voicing decisions differ over all frames;
// ffe, frames with either error over all frames; and the RMS of the F0
// difference in Hz over the frames voiced in both (NaN when none).
struct PitchErrors {
  double gpe = 0, vde = 0, ffe = 0;
  double f0_rmse_hz = 0;
  int64_t frames = 0;
  int64_t voiced_both = 0;
};
PitchErrors pitch_errors(const PitchTrack& reference, const PitchTrack& test);

// Fraction of frames (over the first min(len)) with the same unit; NaN when empty.
double unit_agreement(const std::vector<int32_t>& a, const std::vector<int32_t>& b);

}  // namespace acoustok
