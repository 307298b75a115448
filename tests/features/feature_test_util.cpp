// SPDX-License-Identifier: MIT
#include "feature_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/process.hpp"
#include "acoustok/tensor_file.hpp"
#include "test_util.hpp"

namespace acoustok::test {

const std::vector<float>& speech() {
  static const std::vector<float> s = read_audio_16k_mono(fixture("xlsr/speech_pt.wav"));
  return s;
}

std::unique_ptr<FeatureExtractor> load(const std::string& path, int layer) {
  FeatureOptions o;
  o.layer = layer;
  ProcessOptions process;
  process.threads = 2;
  configure_process(process);
  return FeatureExtractor::load(path, o);
}

void expect_matches_reference(const Features& f, const std::string& refs_dir, const std::string& ref_name) {
  const NpyArray ref = read_npy(fixture(refs_dir + "/" + ref_name + ".npy"));
  ASSERT_EQ(ref.shape.size(), 2u);
  ASSERT_EQ(f.frames, ref.shape[0]) << ref_name;
  ASSERT_EQ(f.dim, ref.shape[1]) << ref_name;
  ASSERT_EQ(f.data.size(), ref.values.size());
  float max_ref = 0, max_err = 0;
  for (size_t i = 0; i < ref.values.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(ref.values[i]));
    max_err = std::max(max_err, std::abs(ref.values[i] - f.data[i]));
  }
  EXPECT_GT(max_ref, 0.1f);
  EXPECT_LE(max_err, 1e-4f * max_ref) << ref_name << ": max error " << max_err << " of max " << max_ref;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace acoustok::test
