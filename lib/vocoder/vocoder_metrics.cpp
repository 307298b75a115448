// SPDX-License-Identifier: MIT
#include "acoustok/vocoder_metrics.hpp"
#include "acoustok/frame_grid.hpp"

#include <unsupported/Eigen/FFT>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>

#include "audio/spectral.hpp"

namespace acoustok {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kMcdFft = 1024, kMcdHop = 256, kMcdMels = 80, kMcdCoeffs = 24;
constexpr int kYinHop = 160, kYinWindow = 400, kYinTauMin = 40, kYinTauMax = 266;
constexpr double kYinThreshold = 0.15, kYinSilenceRms = 1e-3;

}  // namespace

double snr_db(const float* x, size_t nx, const float* y, size_t ny) {
  const size_t n = std::min(nx, ny);
  double sig = 0, noise = 0;
  for (size_t i = 0; i < n; ++i) {
    const double a = x[i], e = static_cast<double>(x[i]) - y[i];
    sig += a * a;
    noise += e * e;
  }
  if (n == 0 || sig == 0) return kNaN;
  if (noise == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(sig / noise);
}

double length_ratio(size_t synth_len, size_t orig_len) {
  return orig_len == 0 ? kNaN : static_cast<double>(synth_len) / static_cast<double>(orig_len);
}

std::vector<std::vector<double>> mel_cepstra(const float* x, size_t n) {
  std::vector<std::vector<double>> out;
  if (n < static_cast<size_t>(kMcdFft)) return out;
  const size_t frames = (n - kMcdFft) / kMcdHop + 1;
  const int bins = kMcdFft / 2 + 1;
  const std::vector<float> window = audio::hann_periodic(kMcdFft);
  const std::vector<float> fb = audio::htk_mel_filterbank(kMcdFft, kMcdMels, grid::kSampleRate, 0.0, grid::kSampleRate / 2.0);
  const std::vector<double> dct = audio::dct2_ortho_matrix(kMcdMels, kMcdCoeffs + 1);
  Eigen::FFT<double> fft;
  fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
  std::vector<double> frame(kMcdFft);
  std::vector<std::complex<double>> spec;
  std::vector<double> mag(bins), logmel(kMcdMels);
  out.reserve(frames);
  for (size_t t = 0; t < frames; ++t) {
    const float* s = x + t * kMcdHop;
    for (int i = 0; i < kMcdFft; ++i) frame[static_cast<size_t>(i)] = static_cast<double>(s[i]) * window[static_cast<size_t>(i)];
    fft.fwd(spec, frame);
    for (int k = 0; k < bins; ++k) mag[static_cast<size_t>(k)] = std::abs(spec[static_cast<size_t>(k)]);
    for (int m = 0; m < kMcdMels; ++m) {
      double e = 0;
      const float* row = fb.data() + static_cast<size_t>(m) * bins;
      for (int k = 0; k < bins; ++k) e += row[k] * mag[static_cast<size_t>(k)];
      logmel[static_cast<size_t>(m)] = std::log(std::max(e, 1e-5));
    }
    std::vector<double> c(kMcdCoeffs);
    for (int k = 1; k <= kMcdCoeffs; ++k) {
      double v = 0;
      const double* row = dct.data() + static_cast<size_t>(k) * kMcdMels;
      for (int m = 0; m < kMcdMels; ++m) v += row[m] * logmel[static_cast<size_t>(m)];
      c[static_cast<size_t>(k - 1)] = v;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<double> dtw_path_costs(const std::vector<std::vector<double>>& a,
                                   const std::vector<std::vector<double>>& b) {
  const size_t n = a.size(), m = b.size();
  if (n == 0 || m == 0) return {};
  std::vector<double> cost(n * m), acc(n * m);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m; ++j) {
      double s = 0;
      for (size_t d = 0; d < a[i].size(); ++d) {
        const double e = a[i][d] - b[j][d];
        s += e * e;
      }
      cost[i * m + j] = std::sqrt(s);
    }
  constexpr double inf = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m; ++j) {
      double best = inf;
      if (i == 0 && j == 0) best = 0;
      if (i > 0 && j > 0) best = std::min(best, acc[(i - 1) * m + j - 1]);
      if (i > 0) best = std::min(best, acc[(i - 1) * m + j]);
      if (j > 0) best = std::min(best, acc[i * m + j - 1]);
      acc[i * m + j] = cost[i * m + j] + best;
    }
  std::vector<double> path;
  size_t i = n - 1, j = m - 1;
  path.push_back(cost[i * m + j]);
  while (i > 0 || j > 0) {
    if (i == 0) --j;
    else if (j == 0) --i;
    else {
      const double diag = acc[(i - 1) * m + j - 1], up = acc[(i - 1) * m + j], left = acc[i * m + j - 1];
      if (diag <= up && diag <= left) { --i; --j; }
      else if (up <= left) --i;
      else --j;
    }
    path.push_back(cost[i * m + j]);
  }
  std::reverse(path.begin(), path.end());
  return path;
}

double mcd_db(const float* x, size_t nx, const float* y, size_t ny) {
  const auto a = mel_cepstra(x, nx), b = mel_cepstra(y, ny);
  const auto path = dtw_path_costs(a, b);
  if (path.empty()) return kNaN;
  double sum = 0;
  for (double d : path) sum += d;
  return 10.0 / std::log(10.0) * std::sqrt(2.0) * sum / static_cast<double>(path.size());
}

PitchTrack yin_pitch(const float* x, size_t n) {
  PitchTrack p;
  const size_t span = kYinWindow + kYinTauMax;
  if (n < span) return p;
  const size_t frames = (n - span) / kYinHop + 1;
  p.f0.assign(frames, 0.0);
  p.voiced.assign(frames, false);
  std::vector<double> d(kYinTauMax + 1), dn(kYinTauMax + 1);
  for (size_t t = 0; t < frames; ++t) {
    const float* s = x + t * kYinHop;
    double energy = 0;
    for (int j = 0; j < kYinWindow; ++j) energy += static_cast<double>(s[j]) * s[j];
    if (std::sqrt(energy / kYinWindow) < kYinSilenceRms) continue;
    double running = 0;
    dn[0] = 1.0;
    for (int tau = 1; tau <= kYinTauMax; ++tau) {
      double v = 0;
      for (int j = 0; j < kYinWindow; ++j) {
        const double e = static_cast<double>(s[j]) - s[j + tau];
        v += e * e;
      }
      d[static_cast<size_t>(tau)] = v;
      running += v;
      dn[static_cast<size_t>(tau)] = running > 0 ? v * tau / running : 1.0;
    }
    int tau = -1;
    for (int k = kYinTauMin; k <= kYinTauMax; ++k)
      if (dn[static_cast<size_t>(k)] < kYinThreshold) { tau = k; break; }
    if (tau < 0) continue;
    while (tau + 1 <= kYinTauMax && dn[static_cast<size_t>(tau) + 1] < dn[static_cast<size_t>(tau)]) ++tau;
    double refined = tau;
    if (tau > kYinTauMin && tau < kYinTauMax) {
      const double a = dn[static_cast<size_t>(tau) - 1], b = dn[static_cast<size_t>(tau)], c = dn[static_cast<size_t>(tau) + 1];
      const double den = a - 2.0 * b + c;
      if (den > 0) refined = tau + (a - c) / (2.0 * den);
    }
    p.f0[t] = grid::kSampleRate / refined;
    p.voiced[t] = true;
  }
  return p;
}

PitchErrors pitch_errors(const PitchTrack& reference, const PitchTrack& test) {
  PitchErrors e;
  const size_t n = std::min(reference.f0.size(), test.f0.size());
  e.frames = static_cast<int64_t>(n);
  if (n == 0) {
    e.f0_rmse_hz = e.voicing_error = kNaN;
    return e;
  }
  double sq = 0;
  int64_t differ = 0;
  for (size_t t = 0; t < n; ++t) {
    if (reference.voiced[t] != test.voiced[t]) ++differ;
    if (reference.voiced[t] && test.voiced[t]) {
      const double diff = reference.f0[t] - test.f0[t];
      sq += diff * diff;
      ++e.voiced_both;
    }
  }
  e.voicing_error = static_cast<double>(differ) / static_cast<double>(n);
  e.f0_rmse_hz = e.voiced_both > 0 ? std::sqrt(sq / static_cast<double>(e.voiced_both)) : kNaN;
  return e;
}

double unit_agreement(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  if (n == 0) return kNaN;
  size_t same = 0;
  for (size_t i = 0; i < n; ++i) same += a[i] == b[i];
  return static_cast<double>(same) / static_cast<double>(n);
}

}  // namespace acoustok
