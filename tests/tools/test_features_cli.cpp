// SPDX-License-Identifier: MIT
// acoustok features: the NPY it writes equals torchaudio's reference, and its
// failures are one clear line with the right exit status.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "acoustok/audio_io.hpp"
#include "acoustok/tensor_file.hpp"
#include "test_util.hpp"

using acoustok::test::acoustok_bin;
using acoustok::test::fixture;
using acoustok::test::make_temp_dir;
using acoustok::test::run_command;

TEST(FeaturesCli, WritesTheReferenceFeatures) {
  const std::string dir = make_temp_dir("features-cli");
  std::string out;
  ASSERT_EQ(run_command(acoustok_bin() + " features --model " + fixture("xlsr/xlsr_bin") + " --layer 2 --threads 2 " +
                            fixture("xlsr/speech_pt.wav") + " -o " + dir + "/f.npy",
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
  ASSERT_EQ(run_command(acoustok_bin() + " features -q --model " + fixture("xlsr/base_st") + " --layer 1 " + dir +
                            "/short.wav -o " + dir + "/f.npy",
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
  EXPECT_EQ(run_command(acoustok_bin() + " features --model " + dir + "/none " + speech + " -o " + dir + "/f.npy", &out), 1);
  EXPECT_EQ(out.rfind("acoustok: " + dir + "/none", 0), 0u) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(run_command(acoustok_bin() + " features --model " + fixture("xlsr/xlsr_st") + " --layer 14 " + speech + " -o " +
                            dir + "/f.npy",
                        &out),
            1);
  EXPECT_NE(out.find("layer 14 is out of range"), std::string::npos) << out;
  EXPECT_EQ(run_command(acoustok_bin() + " features --model " + fixture("xlsr/xlsr_st") + " --layer 1 " + dir + "/missing.wav -o " +
                            dir + "/f.npy",
                        &out),
            1);
  EXPECT_NE(out.find("missing.wav"), std::string::npos) << out;
  EXPECT_EQ(run_command(acoustok_bin() + " features --model " + fixture("xlsr/xlsr_st") + " --layer x " + speech + " -o " +
                            dir + "/f.npy",
                        &out),
            2);
  EXPECT_EQ(run_command(acoustok_bin() + " features --model " + fixture("xlsr/xlsr_st") + " --device tpu " + speech +
                            " -o " + dir + "/f.npy",
                        &out),
            2);
}
