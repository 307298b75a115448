// SPDX-License-Identifier: MIT
#include "vocoder/mel_cepstral_distortion.hpp"

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>

#include "acoustok/vocoder_metrics.hpp"
#include "vocoder/mel_cepstrum.hpp"

namespace acoustok::vocoder {
namespace {

constexpr int kFrame = 1024, kHop = 256, kOrder = 24;
constexpr double kAlpha = 0.42, kPeriodogramFloor = 1e-6;
constexpr double kPcmScale = 32768.0;  // the 16-bit range SPTK's tools are used with
constexpr double kMaxDtwCells = 4e8;

// The matrices of the analysis, built once per process (about 10 ms).
const MelCepstralAnalysis& analysis() {
  static const MelCepstralAnalysis a(kFrame, kOrder, kAlpha);
  return a;
}

}  // namespace

std::vector<std::vector<double>> mel_cepstra(const float* x, size_t n) {
  std::vector<std::vector<double>> out;
  const size_t frames = (n + kHop - 1) / kHop;
  out.reserve(frames);
  // Symmetric Hamming, not normalised (SPTK `window -w 1 -n 0`).
  static const std::vector<double> hamming = [] {
    std::vector<double> w(kFrame);
    for (int i = 0; i < kFrame; ++i)
      w[static_cast<size_t>(i)] = 0.54 - 0.46 * std::cos(2.0 * M_PI * i / (kFrame - 1));
    return w;
  }();
  MelCepstralAnalysis::Options options;  // mcep's defaults: 2..30 iterations, end 0.001, floor 1e-6
  options.periodogram_add = kPeriodogramFloor;
  const MelCepstralAnalysis& mcep = analysis();
  std::vector<double> frame(kFrame), mc(kOrder + 1);
  for (size_t k = 0; k < frames; ++k) {
    const ptrdiff_t begin = static_cast<ptrdiff_t>(k * kHop) - kFrame / 2;
    for (int i = 0; i < kFrame; ++i) {
      const ptrdiff_t at = begin + i;
      const double v = at >= 0 && static_cast<size_t>(at) < n ? x[at] * kPcmScale : 0.0;
      frame[static_cast<size_t>(i)] = v * hamming[static_cast<size_t>(i)];
    }
    mcep.analyze(frame.data(), mc.data(), options);
    out.emplace_back(mc.begin() + 1, mc.end());
  }
  return out;
}

namespace {

std::vector<double> path_costs(const float* x, size_t nx, const float* y, size_t ny) {
  const double cells = std::ceil(nx / static_cast<double>(kHop)) * std::ceil(ny / static_cast<double>(kHop));
  if (nx == 0 || ny == 0 || cells > kMaxDtwCells) return {};
  return dtw_path_costs(mel_cepstra(x, nx), mel_cepstra(y, ny));
}

}  // namespace

size_t mcd_path_length(const float* x, size_t nx, const float* y, size_t ny) {
  return path_costs(x, nx, y, ny).size();
}

double mcd_db(const float* x, size_t nx, const float* y, size_t ny) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  const auto path = path_costs(x, nx, y, ny);
  if (path.empty()) return kNaN;
  double sum = 0;
  for (double d : path) sum += d;
  return 10.0 / std::log(10.0) * std::sqrt(2.0) * sum / static_cast<double>(path.size());
}

}  // namespace acoustok::vocoder
