// SPDX-License-Identifier: MIT
// Reading any libsndfile format to 16 kHz mono, writing PCM16, bad files.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/silence.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using acoustok::test::fixture;
using acoustok::test::make_temp_dir;

TEST(AudioIo, WavRoundTripIsExactForPcm16Values) {
  const std::string dir = make_temp_dir("audio");
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i * 37 % 2001) - 1000) / 32768.0f;
  acoustok::write_wav_pcm16(dir + "/a.wav", x.data(), x.size());
  const auto info = acoustok::probe_audio(dir + "/a.wav");
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  const auto y = acoustok::read_audio_16k_mono(dir + "/a.wav");
  ASSERT_EQ(y.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], x[i]) << i;
  // No temporary file is left beside the output.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1);
}

TEST(AudioIo, Mp3At8kStereoIsDownmixedAndResampled) {
  const auto info = acoustok::probe_audio(fixture("silence/speech_8k_stereo.mp3"));
  EXPECT_EQ(info.sample_rate, 8000);
  EXPECT_EQ(info.channels, 2);
  const auto x = acoustok::read_audio_16k_mono(fixture("silence/speech_8k_stereo.mp3"));
  const auto ref = acoustok::read_audio_16k_mono(fixture("silence/speech_8k_stereo_reference.wav"));
  // MP3 adds encoder delay and padding: the length agrees to within 0.1 s.
  EXPECT_NEAR(static_cast<double>(x.size()), static_cast<double>(ref.size()), 1600.0);
  double peak = 0;
  for (float v : x) peak = std::max(peak, std::fabs(static_cast<double>(v)));
  EXPECT_GT(peak, 0.05);

  // Segmented, it finds the same three sentences as pydub does on the
  // 16 kHz original, within 30 ms (codec delay and band limit).
  const auto e = nlohmann::json::parse(acoustok::test::read_file(fixture("silence/expected.json")));
  const auto& ranges = e["mp3"]["nonsilent_ms"];
  acoustok::SilenceOptions o;
  o.keep_silence = 0;
  const auto segs = acoustok::split_on_silence(x, o);
  ASSERT_EQ(segs.size(), ranges.size());
  for (size_t k = 0; k < segs.size(); ++k) {
    EXPECT_NEAR(segs[k].start / 16.0, ranges[k][0].get<double>(), 30.0) << k;
    EXPECT_NEAR(segs[k].end / 16.0, ranges[k][1].get<double>(), 30.0) << k;
  }
}

TEST(AudioIo, MissingEmptyTruncatedAndGarbageFilesNameTheFile) {
  const std::string dir = make_temp_dir("bad");
  auto expect_error = [](const std::string& path, const std::string& reason) {
    try {
      acoustok::read_audio_16k_mono(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const acoustok::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(reason), std::string::npos) << msg;
    }
  };
  expect_error(dir + "/missing.wav", "cannot read audio");

  std::ofstream(dir + "/empty.wav").close();
  expect_error(dir + "/empty.wav", "cannot read audio");

  std::vector<float> none;
  std::vector<float> one(1, 0.0f);
  acoustok::write_wav_pcm16(dir + "/zero.wav", one.data(), 0);
  expect_error(dir + "/zero.wav", "no audio");

  std::vector<float> x(16000, 0.25f);
  acoustok::write_wav_pcm16(dir + "/full.wav", x.data(), x.size());
  const std::string bytes = acoustok::test::read_file(dir + "/full.wav");
  std::ofstream(dir + "/truncated.wav", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_error(dir + "/truncated.wav", "truncated");

  std::ofstream(dir + "/garbage.mp3", std::ios::binary) << std::string(5000, '\x5a');
  expect_error(dir + "/garbage.mp3", "cannot read audio");
}

TEST(AudioIo, ResampleKeepsDurationAndTone) {
  std::vector<float> x(44100);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * 440 * static_cast<double>(i) / 44100));
  const auto y = acoustok::resample(x, 44100, 16000);
  EXPECT_NEAR(static_cast<double>(y.size()), 16000.0, 1.0);
  // Compare with the ideal tone away from the edges.
  double err = 0;
  for (size_t i = 1000; i < 15000; ++i) err = std::max(err, std::fabs(y[i] - 0.5 * std::sin(2 * M_PI * 440 * static_cast<double>(i) / 16000)));
  EXPECT_LT(err, 1e-3);
}

// Issue 14: hostile headers and special files never crash or hang.
TEST(AudioIo, OneSampleAtAnotherRateIsEmptyNotACrash) {
  const std::string dir = make_temp_dir("one");
  const float one = 0.5f;
  for (int rate : {44100, 48000}) {
    const std::string path = dir + "/one_" + std::to_string(rate) + ".wav";
    acoustok::write_wav_pcm16(path, &one, 1, rate);
    EXPECT_TRUE(acoustok::read_audio_16k_mono(path).empty()) << rate;
  }
}

TEST(AudioIo, SampleRatesOutsideTheDocumentedRangeAreRefusedByName) {
  const std::string dir = make_temp_dir("rate");
  std::vector<float> x(32000, 0.1f);
  for (int rate : {1, 999}) {
    const std::string path = dir + "/r" + std::to_string(rate) + ".wav";
    acoustok::write_wav_pcm16(path, x.data(), x.size(), rate);
    try {
      acoustok::read_audio_16k_mono(path);
      ADD_FAILURE() << "no error for " << rate << " Hz";
    } catch (const acoustok::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find("sample rate " + std::to_string(rate) + " Hz"), std::string::npos) << msg;
    }
  }
  acoustok::write_wav_pcm16(dir + "/ok.wav", x.data(), x.size(), acoustok::kMinSampleRate);
  EXPECT_EQ(acoustok::read_audio_16k_mono(dir + "/ok.wav").size(), x.size() * 16);
}

TEST(AudioIo, AFifoIsRefusedInsteadOfBlocking) {
  const std::string path = make_temp_dir("fifo") + "/input.wav";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  try {
    acoustok::read_audio_16k_mono(path);
    ADD_FAILURE() << "a FIFO was read";
  } catch (const acoustok::Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
}
