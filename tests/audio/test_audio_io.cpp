// SPDX-License-Identifier: MIT
// Reading any libsndfile format to 16 kHz mono, writing PCM16, bad files.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <nlohmann/json.hpp>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/silence.hpp"
#include "test_util.hpp"
#include "test_wav.hpp"

namespace fs = std::filesystem;
using acoustok::test::fixture;
using acoustok::test::make_temp_dir;

TEST(AudioIo, WavRoundTripIsExactForPcm16Values) {
  const std::string dir = make_temp_dir("audio");
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(static_cast<int>(i * 37 % 2001) - 1000) / 32768.0f;
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
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * 440 * static_cast<double>(i) / 44100));
  const auto y = acoustok::resample(x, 44100, 16000);
  EXPECT_NEAR(static_cast<double>(y.size()), 16000.0, 1.0);
  // Compare with the ideal tone away from the edges.
  double err = 0;
  for (size_t i = 1000; i < 15000; ++i)
    err = std::max(err, std::fabs(y[i] - 0.5 * std::sin(2 * M_PI * 440 * static_cast<double>(i) / 16000)));
  EXPECT_LT(err, 1e-3);
}

// The public streaming resampler, fed in random pieces (empty ones, single
// samples, several soxr blocks), equals resample() of the whole signal bit
// for bit at every rate the elements take, into 16 kHz (and back out). Its
// output never lags the input by more than delay() says.
TEST(AudioIo, StreamResamplerInRandomPiecesEqualsResampleBitForBit) {
  std::mt19937 rng(7);
  for (const auto& [in_rate, out_rate] : std::vector<std::pair<int, int>>{{8000, 16000},
                                                                          {11025, 16000},
                                                                          {22050, 16000},
                                                                          {44100, 16000},
                                                                          {48000, 16000},
                                                                          {96000, 16000},
                                                                          {1000, 16000},
                                                                          {16000, 16000},
                                                                          {16000, 44100}}) {
    std::vector<float> x(static_cast<size_t>(in_rate * 2.3) + 17);
    std::uniform_real_distribution<float> noise(-0.1f, 0.1f);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.4f * std::sin(0.013f * static_cast<float>(i)) + noise(rng);
    const std::vector<float> whole = acoustok::resample(x, in_rate, out_rate);
    for (int cut = 0; cut < 3; ++cut) {
      acoustok::StreamResampler r(in_rate, out_rate);
      const double delay = r.delay();
      std::vector<float> out;
      std::uniform_int_distribution<size_t> piece(0, cut == 0 ? 3 : 9000);
      for (size_t at = 0; at < x.size();) {
        const size_t n = std::min(piece(rng), x.size() - at);
        r.process(x.data() + at, n, out);
        at += n;
        const double lag = static_cast<double>(at) * out_rate / in_rate - static_cast<double>(out.size());
        ASSERT_LE(lag, delay + 1) << in_rate << " -> " << out_rate << " after " << at << " samples";
      }
      r.flush(out);
      ASSERT_EQ(out.size(), whole.size()) << in_rate << " -> " << out_rate << ", cut " << cut;
      EXPECT_EQ(std::memcmp(out.data(), whole.data(), whole.size() * sizeof(float)), 0)
          << in_rate << " -> " << out_rate << ", cut " << cut;
    }
  }
  // Less than one output sample: nothing, as resample() gives.
  acoustok::StreamResampler r(44100, 16000);
  std::vector<float> out;
  const float one = 0.5f;
  r.process(&one, 1, out);
  r.flush(out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(acoustok::resample({one}, 44100, 16000).empty());
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

namespace {

// A 44.1 kHz stereo PCM16 WAV of `seconds`: tone bursts and noise, pauses
// between them, the channels different (so the downmix matters).
void write_stereo_44k(const std::string& path, double seconds) {
  const auto n = static_cast<size_t>(seconds * 44100);
  std::vector<float> x(2 * n);
  uint32_t seed = 1;
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    const double noise = static_cast<double>(seed >> 8) / (1 << 24) - 0.5;
    const bool pause = (i / 44100) % 7 == 3;  // one second in seven
    const double v = pause ? 0.0 : 0.3 * std::sin(0.03 * static_cast<double>(i)) + 0.1 * noise;
    x[2 * i] = static_cast<float>(v);
    x[2 * i + 1] = static_cast<float>(0.5 * v + 0.05 * noise);
  }
  acoustok::test::write_wav(path, x.data(), n, 44100, 2, /*pcm16=*/true);
}

std::vector<float> read_streaming(const std::string& path) {
  acoustok::AudioReader reader(path);
  std::vector<float> all, block;
  while (reader.read(block)) {
    all.insert(all.end(), block.begin(), block.end());
    block.clear();
  }
  EXPECT_EQ(reader.samples_read(), static_cast<int64_t>(all.size()));
  return all;
}

}  // namespace

// The streaming reader resamples piece by piece: joined, its blocks equal the
// whole-file reader's samples bit for bit (several 1 M-sample blocks here).
TEST(AudioIo, StreamingReaderEqualsTheWholeFileReader) {
  const std::string dir = make_temp_dir("audio-stream");
  write_stereo_44k(dir + "/long.wav", 30.3);
  for (const std::string& path :
       {dir + "/long.wav", fixture("silence/speech_8k_stereo.mp3"), fixture("silence/speech_pauses.wav")}) {
    const auto whole = acoustok::read_audio_16k_mono(path);
    const auto streamed = read_streaming(path);
    ASSERT_EQ(streamed.size(), whole.size()) << path;
    EXPECT_EQ(std::memcmp(streamed.data(), whole.data(), whole.size() * sizeof(float)), 0) << path;
  }
}

TEST(AudioIo, StreamingReaderRefusesWhatTheWholeFileReaderRefuses) {
  const std::string dir = make_temp_dir("audio-stream-bad");
  // A NaN in the last block, after good audio.
  std::vector<float> x(3 << 20, 0.1f);
  x.back() = std::nanf("");
  acoustok::test::write_wav(dir + "/nan.wav", x.data(), x.size(), 16000);
  // And a WAV cut short in its data.
  std::vector<float> y(20000, 0.2f);
  acoustok::write_wav_pcm16(dir + "/cut.wav", y.data(), y.size());
  fs::resize_file(dir + "/cut.wav", 20000);
  for (const char* name : {"nan.wav", "cut.wav", "missing.wav"}) {
    std::string whole_msg, stream_msg;
    try {
      acoustok::read_audio_16k_mono(dir + "/" + name);
    } catch (const acoustok::Error& e) {
      whole_msg = e.what();
    }
    try {
      read_streaming(dir + "/" + name);
    } catch (const acoustok::Error& e) {
      stream_msg = e.what();
    }
    EXPECT_FALSE(stream_msg.empty()) << name;
    EXPECT_EQ(stream_msg, whole_msg) << name;
  }
}
