// SPDX-License-Identifier: MIT
// The report's images and clips: PNG bytes decoded by Python's zlib (every
// chunk's CRC checked) equal the pixels written; the colour map's stops; WAV
// bytes read back by libsndfile.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "report/audio_clip.hpp"
#include "report/colormap.hpp"
#include "report/png.hpp"
#include "report/text.hpp"
#include "report_test_util.hpp"
#include "test_util.hpp"

using namespace acoustok::report;
using acoustok::test::make_temp_dir;
using acoustok::test::read_file;
using acoustok::test::reference;
using acoustok::test::write_file;

namespace {

TEST(ReportPng, DecodesToThePixelsWritten) {
  const std::string dir = make_temp_dir("report-png");
  std::mt19937 rng(3);
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {7, 3}, {300, 80}}) {
    std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
    for (auto& v : rgb) v = static_cast<uint8_t>(rng() & 0xFF);
    write_file(dir + "/image.png", encode_png_rgb(w, h, rgb));
    std::istringstream size(reference("png " + dir + "/image.png " + dir + "/pixels"));
    int got_w = 0, got_h = 0;
    size >> got_w >> got_h;
    EXPECT_EQ(got_w, w);
    EXPECT_EQ(got_h, h);
    const std::string pixels = read_file(dir + "/pixels");
    EXPECT_EQ(pixels, std::string(rgb.begin(), rgb.end())) << w << "x" << h;
  }
}

TEST(ReportPng, ViridisStopsAndInterpolation) {
  uint8_t c[3];
  viridis(0, c);
  EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{68, 1, 84}));
  viridis(1, c);
  EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{253, 231, 37}));
  viridis(0.5, c);  // the middle stop
  EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{33, 144, 141}));
  viridis(1.0 / 16, c);  // halfway between the first two stops
  EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{70, 23, 103}));
  viridis(-3, c);  // clamped
  EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{68, 1, 84}));
  viridis(7, c);
  EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{253, 231, 37}));
  viridis(NAN, c);
  EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{68, 1, 84}));
}

TEST(ReportPng, WavBytesReadBack) {
  std::vector<float> x(4000);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(0.8 * std::sin(0.01 * static_cast<double>(i)));
  x[5] = 3.0f;  // clipped
  x[6] = -3.0f;
  const std::string path = make_temp_dir("report-wav") + "/clip.wav";
  write_file(path, wav_bytes(x, 1000));
  const std::vector<float> y = acoustok::read_audio_16k_mono(path);
  ASSERT_EQ(y.size(), 1000u);
  for (size_t i = 0; i < y.size(); ++i) {
    const double want = std::max(-1.0, std::min(1.0, static_cast<double>(x[i])));
    EXPECT_NEAR(y[i], want, 1.5 / 32768) << i;
  }
  EXPECT_EQ(wav_bytes(x, 10 * x.size()).size(), 44 + 2 * x.size());  // never past the end
}

TEST(ReportPng, PlayerEmbedsTheFirstSeconds) {
  Counters n;
  const std::vector<float> x(32000, 0.25f);
  const std::string html = player_html("a<b>.wav", x, 0.5, n);
  EXPECT_EQ(n.clips, 1);
  EXPECT_NE(html.find("a&lt;b&gt;.wav (first 0.5000 s of 2.0 s)"), std::string::npos) << html;
  EXPECT_NE(html.find("src=\"data:audio/wav;base64," + base64(wav_bytes(x, 8000)) + "\""), std::string::npos);
}

}  // namespace
