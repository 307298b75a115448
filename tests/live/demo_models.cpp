// SPDX-License-Identifier: MIT
#include "demo_models.hpp"

#include <gtest/gtest.h>

#include "acoustok/vocoder_config.hpp"
#include "test_util.hpp"
#include "vocoder/torch/checkpoint.hpp"
#include "vocoder/torch/hifigan.hpp"

namespace acoustok::test {

const DemoModels& demo_models() {
  static DemoModels m;
  if (!m.vocoder.empty()) return m;
  const std::string dir = make_temp_dir("live");
  const std::string root = fixtures_dir() + "/../..";
  std::string log;
  m.feature_model = dir + "/demo-model";
  EXPECT_EQ(run_command("/usr/bin/python3 " + root + "/models/make_demo_model.py " + m.feature_model, &log),
            0)
      << log;
  EXPECT_EQ(run_command(acoustok_bin() + " features --model " + m.feature_model + " --layer 3 " +
                            fixture("silence/speech_pauses.wav") + " -o " + dir + "/f.npy",
                        &log),
            0)
      << log;
  m.kmeans = dir + "/km.safetensors";
  EXPECT_EQ(run_command(acoustok_bin() + " kmeans fit " + dir + "/f.npy --k " + std::to_string(kDemoUnits) +
                            " -o " + m.kmeans,
                        &log),
            0)
      << log;
  VocoderConfig c = VocoderConfig::preset("tiny");
  c.num_units = kDemoUnits;
  vocoder::Generator g(c);
  m.vocoder = dir + "/tiny.pt";
  vocoder::write_checkpoint(m.vocoder, c, {}, {&g});
  return m;
}

}  // namespace acoustok::test
