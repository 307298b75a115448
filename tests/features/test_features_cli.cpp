// SPDX-License-Identifier: MIT
// acoustok features: the NPY it writes equals torchaudio's reference, and its
// failures are one clear line with the right exit status.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "acoustok/audio_io.hpp"
#include "acoustok/features.hpp"
#include "acoustok/tensor_file.hpp"
#include "test_util.hpp"
#include "test_wav.hpp"

using acoustok::test::acoustok_bin;
using acoustok::test::fixture;
using acoustok::test::make_temp_dir;
using acoustok::test::run_command;

TEST(FeaturesCli, WritesTheReferenceFeatures) {
  const std::string dir = make_temp_dir("features-cli");
  std::string out;
  ASSERT_EQ(
      run_command(acoustok_bin() + " features --model " + fixture("xlsr/xlsr_bin") +
                      " --layer 2 --threads 2 " + fixture("xlsr/speech_pt.wav") + " -o " + dir + "/f.npy",
                  &out),
      0)
      << out;
  EXPECT_NE(out.find("150 frames x 32 (layer 2"), std::string::npos) << out;
  const auto ours = acoustok::read_npy(dir + "/f.npy");
  const auto ref = acoustok::read_npy(fixture("xlsr/refs/xlsr_L2.npy"));
  ASSERT_EQ(ours.shape, ref.shape);
  float max_ref = 0, max_err = 0;
  for (size_t i = 0; i < ref.values.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(ref.values[i]));
    max_err = std::max(max_err, std::abs(ref.values[i] - ours.values[i]));
  }
  EXPECT_LE(max_err, 1e-4f * max_ref);
}

TEST(FeaturesCli, ShortAudioGivesAnEmptyArrayAndSaysSo) {
  const std::string dir = make_temp_dir("features-short");
  std::vector<float> x(300, 0.1f);
  acoustok::write_wav_pcm16(dir + "/short.wav", x.data(), x.size());
  std::string out;
  ASSERT_EQ(run_command(acoustok_bin() + " features -q --model " + fixture("xlsr/base_st") + " --layer 1 " +
                            dir + "/short.wav -o " + dir + "/f.npy",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("shorter than one frame"), std::string::npos) << out;
  EXPECT_EQ(acoustok::read_npy(dir + "/f.npy").shape, (std::vector<int64_t>{0, 32}));
}

TEST(FeaturesCli, FailuresAreOneLineWithExitStatus) {
  const std::string dir = make_temp_dir("features-bad");
  const std::string speech = fixture("xlsr/speech_pt.wav");
  std::string out;
  EXPECT_EQ(
      run_command(acoustok_bin() + " features --model " + dir + "/none " + speech + " -o " + dir + "/f.npy",
                  &out),
      1);
  EXPECT_EQ(out.rfind("acoustok: " + dir + "/none", 0), 0u) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(run_command(acoustok_bin() + " features --model " + fixture("xlsr/xlsr_st") + " --layer 14 " +
                            speech + " -o " + dir + "/f.npy",
                        &out),
            1);
  EXPECT_NE(out.find("layer 14 is out of range"), std::string::npos) << out;
  EXPECT_EQ(run_command(acoustok_bin() + " features --model " + fixture("xlsr/xlsr_st") + " --layer 1 " +
                            dir + "/missing.wav -o " + dir + "/f.npy",
                        &out),
            1);
  EXPECT_NE(out.find("missing.wav"), std::string::npos) << out;
  EXPECT_EQ(run_command(acoustok_bin() + " features --model " + fixture("xlsr/xlsr_st") + " --layer x " +
                            speech + " -o " + dir + "/f.npy",
                        &out),
            2);
  EXPECT_EQ(run_command(acoustok_bin() + " features --model " + fixture("xlsr/xlsr_st") + " --device tpu " +
                            speech + " -o " + dir + "/f.npy",
                        &out),
            2);
}

// --json: one object on stdout that describes the files written (a skipped
// input counted, not listed); refused with -o -, where stdout is the array.
TEST(FeaturesCli, JsonSummaryDescribesTheFilesWritten) {
  const std::string dir = make_temp_dir("features-json");
  const auto speech = acoustok::read_audio_16k_mono(fixture("xlsr/speech_pt.wav"));
  const std::vector<float> second(speech.begin(), speech.begin() + 16000);
  acoustok::write_wav_pcm16(dir + "/a.wav", speech.data(), speech.size());
  acoustok::write_wav_pcm16(dir + "/b.wav", second.data(), second.size());
  const std::string cmd =
      acoustok_bin() + " features -q --json --layer 2 --model " + fixture("xlsr/xlsr_st") + " ";
  std::string out;
  // (in a subshell: run_command adds 2>&1, which would undo 2>/dev/null)
  ASSERT_EQ(run_command("(" + cmd + dir + "/a.wav " + dir + "/missing.wav " + dir + "/b.wav -o " + dir +
                            "/feats 2>/dev/null)",
                        &out),
            1)
      << out;
  const auto summary = nlohmann::json::parse(out);
  EXPECT_EQ(summary["inputs"], 3);
  EXPECT_EQ(summary["done"], 2);
  EXPECT_EQ(summary["skipped"], 1);
  EXPECT_EQ(summary["model"], "xlsr_st");
  EXPECT_EQ(summary["layer"], 2);
  EXPECT_NEAR(summary["audio_seconds"].get<double>(), (speech.size() + second.size()) / 16000.0, 1e-9);
  const std::vector<std::string> want = {dir + "/feats/a.npy", dir + "/feats/b.npy"};
  ASSERT_EQ(summary["outputs"].get<std::vector<std::string>>(), want) << out;
  int64_t frames = 0;
  for (const auto& path : want) {
    const auto npy = acoustok::read_npy(path);
    ASSERT_EQ(npy.shape.size(), 2u) << path;
    EXPECT_EQ(summary["dim"], npy.shape[1]) << path;
    frames += npy.shape[0];
  }
  EXPECT_EQ(summary["frames"], frames);
  EXPECT_EQ(frames, static_cast<int64_t>((speech.size() - 400) / 320 + 1 + (second.size() - 400) / 320 + 1));
  // One input into one file.
  ASSERT_EQ(run_command(cmd + dir + "/b.wav -o " + dir + "/b.npy", &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out)["outputs"], nlohmann::json::array({dir + "/b.npy"})) << out;
  EXPECT_EQ(run_command(cmd + dir + "/b.wav -o -", &out), 2);
  EXPECT_NE(out.find("--json needs -o FILE or DIR"), std::string::npos) << out;
}

namespace {

std::vector<float> repeated_speech(int times) {
  const auto s = acoustok::read_audio_16k_mono(fixture("xlsr/speech_pt.wav"));
  std::vector<float> x;
  for (int k = 0; k < times; ++k) x.insert(x.end(), s.begin(), s.end());
  return x;
}

int features(const std::string& args, const std::string& in, const std::string& out, std::string* log) {
  return run_command(acoustok_bin() + " features -q --threads 2 --layer 2 --model " +
                         fixture("xlsr/xlsr_st") + " " + args + " " + in + " -o " + out,
                     log);
}

}  // namespace

// An input no longer than --max-window runs whole, as before windows existed:
// an input of exactly one window gives the same bytes as a far larger window.
TEST(FeaturesCli, AnInputOfAtMostOneWindowRunsWhole) {
  const std::string dir = make_temp_dir("features-window");
  std::vector<float> x = repeated_speech(2);
  x.resize(64000);  // 4 s
  acoustok::write_wav_pcm16(dir + "/a.wav", x.data(), x.size());
  std::string log;
  ASSERT_EQ(features("--max-window 4 --context 1", dir + "/a.wav", dir + "/w4.npy", &log), 0) << log;
  ASSERT_EQ(features("--max-window 600", dir + "/a.wav", dir + "/whole.npy", &log), 0) << log;
  ASSERT_EQ(features("--max-window 3.99 --context 1", dir + "/a.wav", dir + "/cut.npy", &log), 0) << log;
  EXPECT_EQ(acoustok::test::read_file(dir + "/w4.npy"), acoustok::test::read_file(dir + "/whole.npy"));
  // One sample more than a window is cut: the rows differ, their count not.
  const auto whole = acoustok::read_npy(dir + "/whole.npy"), cut = acoustok::read_npy(dir + "/cut.npy");
  ASSERT_EQ(cut.shape, whole.shape);
  EXPECT_NE(cut.values, whole.values);
}

// A long input is cut into windows whose rows are written as they come: the
// array has every frame of the input, and a failure late in the input leaves
// neither the output nor a temporary file behind.
TEST(FeaturesCli, LongInputIsWindowedAndWrittenUnderATemporaryName) {
  const std::string dir = make_temp_dir("features-long");
  const auto x = repeated_speech(5);  // 15 s
  acoustok::write_wav_pcm16(dir + "/long.wav", x.data(), x.size());
  std::string log;
  ASSERT_EQ(features("--max-window 4 --context 1", dir + "/long.wav", dir + "/f.npy", &log), 0) << log;
  const auto f = acoustok::read_npy(dir + "/f.npy");
  EXPECT_EQ(f.shape, (std::vector<int64_t>{acoustok::feature_frames(static_cast<int64_t>(x.size())), 32}));
  for (float v : f.values) ASSERT_TRUE(std::isfinite(v));

  std::vector<float> bad(x.begin(), x.end());
  bad.resize(3 << 20, 0.01f);  // past the reader's first block
  bad.back() = std::nanf("");
  acoustok::test::write_wav(dir + "/nan.wav", bad.data(), bad.size(), 16000);
  const std::string out_dir = make_temp_dir("features-long-out");
  EXPECT_EQ(features("--max-window 4 --context 1", dir + "/nan.wav", out_dir + "/g.npy", &log), 1);
  EXPECT_NE(log.find("nan.wav: contains NaN"), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_TRUE(std::filesystem::is_empty(out_dir));
}

TEST(FeaturesCli, WindowOptionsAreCheckedAsUsageErrors) {
  const std::string dir = make_temp_dir("features-window-bad");
  const std::string speech = fixture("xlsr/speech_pt.wav");
  std::string log;
  EXPECT_EQ(features("--max-window 4 --context 2", speech, dir + "/f.npy", &log), 2);
  EXPECT_NE(log.find("--context must be less than half of --max-window"), std::string::npos) << log;
  EXPECT_EQ(features("--max-window 0.5", speech, dir + "/f.npy", &log), 2);
  EXPECT_NE(log.find("--max-window"), std::string::npos) << log;
  EXPECT_EQ(features("--context -1", speech, dir + "/f.npy", &log), 2);
  EXPECT_NE(log.find("--context"), std::string::npos) << log;
  EXPECT_EQ(features("--max-window 1e9", speech, dir + "/f.npy", &log), 2);
  EXPECT_FALSE(std::filesystem::exists(dir + "/f.npy"));
}
