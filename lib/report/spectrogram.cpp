// SPDX-License-Identifier: MIT
#include "report/spectrogram.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <unsupported/Eigen/FFT>

#include "acoustok/frame_grid.hpp"
#include "audio/spectral.hpp"
#include "report/chart.hpp"
#include "report/colormap.hpp"
#include "report/png.hpp"

namespace acoustok::report {

Spectrogram mel_spectrogram(const std::vector<float>& x, int max_cols) {
  constexpr int kFft = 1024, kHop = 256, kMels = 80, kBins = kFft / 2 + 1;
  static const std::vector<float> window = audio::hann_periodic(kFft);
  static const std::vector<float> bank =
      audio::htk_mel_filterbank(kFft, kMels, grid::kSampleRate, 0, grid::kSampleRate / 2.0);
  Spectrogram sp;
  sp.seconds = static_cast<double>(x.size()) / grid::kSampleRate;
  const size_t frames = x.size() <= static_cast<size_t>(kFft) ? 1 : (x.size() - kFft) / kHop + 1;
  const size_t group =
      std::max<size_t>(1, (frames + static_cast<size_t>(max_cols) - 1) / static_cast<size_t>(max_cols));
  sp.cols = static_cast<int>((frames + group - 1) / group);
  std::vector<double> power(static_cast<size_t>(sp.cols) * kMels, 0.0),
      count(static_cast<size_t>(sp.cols), 0.0);
  Eigen::FFT<float> fft;
  std::vector<float> buf(kFft);
  std::vector<std::complex<float>> spec;
  std::vector<double> bins(kBins);
  for (size_t t = 0; t < frames; ++t) {
    const size_t start = t * kHop;
    for (int i = 0; i < kFft; ++i) {
      const size_t j = start + static_cast<size_t>(i);
      buf[static_cast<size_t>(i)] = j < x.size() ? x[j] * window[static_cast<size_t>(i)] : 0.0f;
    }
    fft.fwd(spec, buf);
    for (int k = 0; k < kBins; ++k) bins[static_cast<size_t>(k)] = std::norm(spec[static_cast<size_t>(k)]);
    const size_t col = t / group;
    for (int m = 0; m < kMels; ++m) {
      double e = 0;
      const float* w = bank.data() + static_cast<size_t>(m) * kBins;
      for (int k = 0; k < kBins; ++k) e += w[k] * bins[static_cast<size_t>(k)];
      power[col * kMels + static_cast<size_t>(m)] += e;
    }
    count[col] += 1;
  }
  sp.db.resize(power.size());
  for (size_t c = 0; c < static_cast<size_t>(sp.cols); ++c)
    for (size_t m = 0; m < kMels; ++m)
      sp.db[c * kMels + m] = 10 * std::log10(power[c * kMels + m] / std::max(1.0, count[c]) + 1e-10);
  return sp;
}

std::string spectrogram_svg(const std::string& id, const std::string& title, const Spectrogram& sp,
                            double top_db) {
  constexpr double kRange = 80;  // dB shown below the pair's maximum
  std::vector<uint8_t> rgb(static_cast<size_t>(sp.cols) * static_cast<size_t>(sp.rows) * 3);
  for (int y = 0; y < sp.rows; ++y)
    for (int c = 0; c < sp.cols; ++c) {
      const double v =
          sp.db[static_cast<size_t>(c) * static_cast<size_t>(sp.rows) + static_cast<size_t>(sp.rows - 1 - y)];
      viridis((v - (top_db - kRange)) / kRange,
              &rgb[(static_cast<size_t>(y) * static_cast<size_t>(sp.cols) + static_cast<size_t>(c)) * 3]);
    }
  const std::string png = encode_png_rgb(sp.cols, sp.rows, rgb);
  Frame f;
  f.width = 440, f.height = 230, f.left = 52, f.right = 10, f.top = 30, f.bottom = 42;
  const Axis ta = nice_axis(0, std::max(sp.seconds, 0.01), 6, true);
  Axis time_axis = ta;
  time_axis.hi = std::max(sp.seconds, 0.01);  // the image spans exactly the signal
  time_axis.ticks.erase(std::remove_if(time_axis.ticks.begin(), time_axis.ticks.end(),
                                       [&](double t) { return t > time_axis.hi + 1e-9; }),
                        time_axis.ticks.end());
  std::string s = svg_open(id, title, f);
  s += "<image x=\"" + coord(f.x0()) + "\" y=\"" + coord(f.y1()) + "\" width=\"" + coord(f.x1() - f.x0()) +
       "\" height=\"" + coord(f.y0() - f.y1()) +
       "\" preserveAspectRatio=\"none\" href=\"data:image/png;base64," + base64(png) + "\"/>";
  // Frequency ticks at their mel position.
  auto mel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
  for (double hz : {0.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0}) {
    const double y = f.y0() - mel(hz) / mel(8000.0) * (f.y0() - f.y1());
    s += "<line class=\"tick-mark\" x1=\"" + coord(f.x0() - 4) + "\" x2=\"" + coord(f.x0()) + "\" y1=\"" +
         coord(y) + "\" y2=\"" + coord(y) + "\"/>";
    s += "<text class=\"tick\" x=\"" + coord(f.x0() - 6) + "\" y=\"" + coord(y + 4) +
         "\" text-anchor=\"end\">" + (hz >= 1000 ? num(hz / 1000) + "k" : num(hz)) + "</text>";
  }
  s += "<text class=\"axis-label\" text-anchor=\"middle\" transform=\"translate(12," +
       coord((f.y0() + f.y1()) / 2) + ") rotate(-90)\">Hz (mel scale)</text>";
  s += x_axis_svg(f, time_axis) + x_label_svg(f, "time (s)") + "</svg>";
  return s;
}

}  // namespace acoustok::report
