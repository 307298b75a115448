// SPDX-License-Identifier: MIT
// The report's log-mel spectrogram against a NumPy reference written from
// its definition (periodic Hann, rfft, HTK triangles as torchaudio builds
// them, frames averaged in groups), and its chart: the PNG inside decodes to
// one pixel per cell, the highest band on top, in viridis colours.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "report/colormap.hpp"
#include "report/spectrogram.hpp"
#include "report_test_util.hpp"
#include "test_util.hpp"

using namespace acoustok::report;
using acoustok::test::make_temp_dir;
using acoustok::test::read_file;
using acoustok::test::reference;
using acoustok::test::svg_summary;
using acoustok::test::write_file;

namespace {

std::vector<float> test_signal(size_t n) {
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / 16000;
    x[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * 440 * t) +
                              0.2 * std::sin(2 * M_PI * (1000 + 2000 * t) * t)) +
           noise(rng);
  }
  return x;
}

std::vector<double> numpy_mel(const std::vector<float>& x, int max_cols) {
  const std::string dir = make_temp_dir("report-mel");
  write_file(dir + "/x.f32", std::string(reinterpret_cast<const char*>(x.data()), x.size() * sizeof(float)));
  reference("mel " + dir + "/x.f32 " + std::to_string(max_cols) + " " + dir + "/mel.f64");
  const std::string bytes = read_file(dir + "/mel.f64");
  std::vector<double> out(bytes.size() / sizeof(double));
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(out.data()));
  return out;
}

TEST(ReportSpectrogram, EqualsNumPyReference) {
  for (auto [samples, max_cols] :
       std::vector<std::pair<size_t, int>>{{48000, 60}, {48000, 300}, {500, 300}, {1024, 10}}) {
    const std::vector<float> x = test_signal(samples);
    const Spectrogram sp = mel_spectrogram(x, max_cols);
    const std::vector<double> want = numpy_mel(x, max_cols);
    ASSERT_EQ(sp.rows, 80);
    ASSERT_EQ(sp.db.size(), want.size()) << samples << " samples";
    EXPECT_LE(sp.cols, max_cols);
    EXPECT_DOUBLE_EQ(sp.seconds, static_cast<double>(samples) / 16000);
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(sp.db[i] - want[i]));
    EXPECT_LT(worst, 0.01) << samples << " samples, " << max_cols << " columns: dB apart";
  }
}

TEST(ReportSpectrogram, ChartHoldsTheImage) {
  const Spectrogram sp = mel_spectrogram(test_signal(16000), 40);
  const double top = *std::max_element(sp.db.begin(), sp.db.end());
  const std::string svg = spectrogram_svg("s", "synth_0001.wav", sp, top);
  const auto summary = svg_summary(svg);
  EXPECT_EQ(summary["counts"].value("image", 0), 1);
  EXPECT_EQ(summary["counts"].value("text.tick", 0), 6 + 6);  // 0..8 kHz; 0, 0.2, ... 1 s

  const std::string key = "href=\"data:image/png;base64,";
  const size_t at = svg.find(key);
  ASSERT_NE(at, std::string::npos);
  const size_t end = svg.find('"', at + key.size());
  const std::string dir = make_temp_dir("report-spectrogram");
  write_file(dir + "/png.b64", svg.substr(at + key.size(), end - at - key.size()));
  std::istringstream size(reference("png64 " + dir + "/png.b64 " + dir + "/pixels"));
  int w = 0, h = 0;
  size >> w >> h;
  EXPECT_EQ(w, sp.cols);
  EXPECT_EQ(h, sp.rows);
  const std::string pixels = read_file(dir + "/pixels");
  ASSERT_EQ(pixels.size(), static_cast<size_t>(w) * h * 3);
  // Row y of the image is band rows-1-y; 80 dB below `top` is the darkest colour.
  for (int y : {0, 40, 79})
    for (int c : {0, sp.cols - 1}) {
      uint8_t want[3];
      viridis((sp.db[static_cast<size_t>(c) * 80 + static_cast<size_t>(79 - y)] - (top - 80)) / 80, want);
      const size_t p = (static_cast<size_t>(y) * static_cast<size_t>(w) + static_cast<size_t>(c)) * 3;
      for (int k = 0; k < 3; ++k) EXPECT_EQ(static_cast<uint8_t>(pixels[p + k]), want[k]) << y << "," << c;
    }
}

}  // namespace
