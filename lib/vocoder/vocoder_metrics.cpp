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

std::vector<double> dtw_path_costs(const std::vector<std::vector<double>>& a,
                                   const std::vector<std::vector<double>>& b) {
  const size_t n = a.size(), m = b.size();
  if (n == 0 || m == 0) return {};
  auto cost = [&](size_t i, size_t j) {
    double s = 0;
    for (size_t d = 0; d < a[i].size(); ++d) {
      const double e = a[i][d] - b[j][d];
      s += e * e;
    }
    return std::sqrt(s);
  };
  // Accumulated costs two rows at a time; each cell's step (0 diagonal,
  // 1 from (i-1, j), 2 from (i, j-1)) kept for the way back.
  enum : uint8_t { kDiag, kUp, kLeft };
  std::vector<uint8_t> step(n * m);
  std::vector<double> prev(m), row(m);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < m; ++j) {
      double best = 0;
      uint8_t from = kDiag;
      if (i > 0 && j > 0) {
        const double diag = prev[j - 1], up = prev[j], left = row[j - 1];
        if (diag <= up && diag <= left)
          best = diag;
        else if (up <= left) {
          best = up;
          from = kUp;
        } else {
          best = left;
          from = kLeft;
        }
      } else if (i > 0) {
        best = prev[j];
        from = kUp;
      } else if (j > 0) {
        best = row[j - 1];
        from = kLeft;
      }
      row[j] = cost(i, j) + best;
      step[i * m + j] = from;
    }
    std::swap(prev, row);
  }
  std::vector<double> path;
  size_t i = n - 1, j = m - 1;
  path.push_back(cost(i, j));
  while (i > 0 || j > 0) {
    const uint8_t from = step[i * m + j];
    if (from == kDiag) {
      --i;
      --j;
    } else if (from == kUp)
      --i;
    else
      --j;
    path.push_back(cost(i, j));
  }
  std::reverse(path.begin(), path.end());
  return path;
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
      if (dn[static_cast<size_t>(k)] < kYinThreshold) {
        tau = k;
        break;
      }
    if (tau < 0) continue;
    while (tau + 1 <= kYinTauMax && dn[static_cast<size_t>(tau) + 1] < dn[static_cast<size_t>(tau)]) ++tau;
    double refined = tau;
    if (tau > kYinTauMin && tau < kYinTauMax) {
      const double a = dn[static_cast<size_t>(tau) - 1], b = dn[static_cast<size_t>(tau)],
                   c = dn[static_cast<size_t>(tau) + 1];
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
    e.gpe = e.vde = e.ffe = e.f0_rmse_hz = kNaN;
    return e;
  }
  double sq = 0;
  int64_t differ = 0, gross = 0;
  for (size_t t = 0; t < n; ++t) {
    if (reference.voiced[t] != test.voiced[t]) ++differ;
    if (reference.voiced[t] && test.voiced[t]) {
      const double diff = reference.f0[t] - test.f0[t];
      sq += diff * diff;
      ++e.voiced_both;
      if (std::abs(test.f0[t] / (reference.f0[t] + 1e-8) - 1.0) > 0.2) ++gross;
    }
  }
  const double frames = static_cast<double>(n);
  e.vde = static_cast<double>(differ) / frames;
  e.ffe = static_cast<double>(differ + gross) / frames;
  e.gpe = e.voiced_both > 0 ? static_cast<double>(gross) / static_cast<double>(e.voiced_both) : kNaN;
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
