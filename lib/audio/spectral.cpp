// SPDX-License-Identifier: MIT
#include "audio/spectral.hpp"

#include <algorithm>
#include <cmath>

namespace acoustok::audio {

std::vector<float> hann_periodic(int size) {
  std::vector<float> w(static_cast<size_t>(size));
  for (int n = 0; n < size; ++n)
    w[static_cast<size_t>(n)] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * M_PI * n / size));
  return w;
}

namespace {

// Triangles over the FFT bins between consecutive mel edges (n_mels + 2
// points, evenly spaced in mel), rows [n_mels, n_fft / 2 + 1]; unit_area
// scales each to area 1 (Slaney's normalisation), else peak 1.
template <typename HzToMel, typename MelToHz>
std::vector<double> mel_triangles(int n_fft, int n_mels, double sample_rate, double fmin, double fmax,
                                  HzToMel hz_to_mel, MelToHz mel_to_hz, bool unit_area) {
  const int bins = n_fft / 2 + 1;
  const double mel_lo = hz_to_mel(fmin), mel_hi = hz_to_mel(fmax);
  std::vector<double> edges(static_cast<size_t>(n_mels + 2));
  for (int i = 0; i < n_mels + 2; ++i)
    edges[static_cast<size_t>(i)] = mel_to_hz(mel_lo + (mel_hi - mel_lo) * i / (n_mels + 1));
  std::vector<double> fb(static_cast<size_t>(n_mels) * static_cast<size_t>(bins), 0.0);
  for (int m = 0; m < n_mels; ++m) {
    const double lo = edges[static_cast<size_t>(m)], mid = edges[static_cast<size_t>(m) + 1],
                 hi = edges[static_cast<size_t>(m) + 2];
    const double scale = unit_area ? 2.0 / (hi - lo) : 1.0;
    for (int k = 0; k < bins; ++k) {
      const double f = sample_rate / 2.0 * k / (bins - 1);
      const double w = std::max(0.0, std::min((f - lo) / (mid - lo), (hi - f) / (hi - mid)));
      fb[static_cast<size_t>(m) * static_cast<size_t>(bins) + static_cast<size_t>(k)] = w * scale;
    }
  }
  return fb;
}

}  // namespace

std::vector<float> htk_mel_filterbank(int n_fft, int n_mels, double sample_rate, double fmin, double fmax) {
  auto hz_to_mel = [](double f) { return 2595.0 * std::log10(1.0 + f / 700.0); };
  auto mel_to_hz = [](double m) { return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0); };
  const auto fb = mel_triangles(n_fft, n_mels, sample_rate, fmin, fmax, hz_to_mel, mel_to_hz, false);
  return std::vector<float>(fb.begin(), fb.end());
}

std::vector<double> slaney_mel_filterbank(int n_fft, int n_mels, double sample_rate, double fmin,
                                          double fmax) {
  // Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
  constexpr double kLinearHz = 200.0 / 3.0, kBreakHz = 1000.0, kBreakMel = kBreakHz / kLinearHz;
  const double log_step = std::log(6.4) / 27.0;
  auto hz_to_mel = [&](double f) {
    return f < kBreakHz ? f / kLinearHz : kBreakMel + std::log(f / kBreakHz) / log_step;
  };
  auto mel_to_hz = [&](double m) {
    return m < kBreakMel ? m * kLinearHz : kBreakHz * std::exp(log_step * (m - kBreakMel));
  };
  return mel_triangles(n_fft, n_mels, sample_rate, fmin, fmax, hz_to_mel, mel_to_hz, true);
}

std::vector<double> dct2_ortho_matrix(int n_in, int n_out) {
  std::vector<double> d(static_cast<size_t>(n_in) * static_cast<size_t>(n_out));
  for (int k = 0; k < n_out; ++k) {
    const double s = k == 0 ? std::sqrt(1.0 / n_in) : std::sqrt(2.0 / n_in);
    for (int n = 0; n < n_in; ++n)
      d[static_cast<size_t>(k) * static_cast<size_t>(n_in) + static_cast<size_t>(n)] =
          s * std::cos(M_PI * k * (2.0 * n + 1.0) / (2.0 * n_in));
  }
  return d;
}

}  // namespace acoustok::audio
