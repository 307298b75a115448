// SPDX-License-Identifier: MIT
// `acoustok kmeans fit|predict` end to end: sklearn agreement, model file,
// bad input (exit 1, one line naming the file, earlier outputs intact).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "acoustok/kmeans.hpp"
#include "acoustok/tensor_file.hpp"
#include "test_util.hpp"

using acoustok::test::acoustok_bin;
using acoustok::test::fixture;
using acoustok::test::make_temp_dir;
using acoustok::test::read_file;
using acoustok::test::run_command;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST(KMeansCli, PredictWithSklearnCentroidsGivesSklearnLabels) {
  const std::string out = make_temp_dir("kmp") + "/units.txt";
  std::string log;
  ASSERT_EQ(run_command(acoustok_bin() + " kmeans predict " + fixture("kmeans/mix64_centroids.npy") + " " +
                            fixture("kmeans/mix64.npy") + " -o " + out,
                        &log),
            0)
      << log;
  EXPECT_EQ(read_file(out), read_file(fixture("kmeans/mix64_labels.txt")));
}

TEST(KMeansCli, FitWritesCentroidsAndMetadataThenPredictUsesThem) {
  const std::string dir = make_temp_dir("kmf");
  std::string log;
  ASSERT_EQ(run_command(acoustok_bin() + " kmeans fit " + fixture("kmeans/mix16.npy") +
                            " --k 12 --batch-size 1000 -o " + dir +
                            "/km.safetensors --seed 3 --feature-model test-model --layer 14",
                        &log),
            0)
      << log;
  acoustok::SafetensorsFile f(dir + "/km.safetensors");
  EXPECT_EQ(f.at("centroids").dtype, acoustok::DType::F32);
  EXPECT_EQ(f.at("centroids").shape, (std::vector<int64_t>{12, 16}));
  EXPECT_EQ(f.metadata().at("feature_model"), "test-model");
  EXPECT_EQ(f.metadata().at("layer"), "14");
  EXPECT_EQ(f.metadata().at("k"), "12");
  // The command is the core's fit with the same options, to the bit.
  const auto x = acoustok::read_npy(fixture("kmeans/mix16.npy"));
  acoustok::KMeansOptions o;
  o.k = 12;
  o.batch_size = 1000;
  o.seed = 3;
  acoustok::MiniBatchKMeans km(16, o);
  km.fit(x.values.data(), x.shape[0]);
  EXPECT_EQ(f.float32("centroids"), km.state().centroids);
  const auto model = acoustok::KMeansModel::load(dir + "/km.safetensors");
  std::vector<int32_t> labels(static_cast<size_t>(x.shape[0]));
  EXPECT_DOUBLE_EQ(std::stod(f.metadata().at("inertia")),
                   model.predict(x.values.data(), x.shape[0], labels.data()));

  ASSERT_EQ(run_command(acoustok_bin() + " kmeans predict " + dir + "/km.safetensors " +
                            fixture("kmeans/mix16.npy") + " -o " + dir + "/u.txt",
                        &log),
            0)
      << log;
  std::ostringstream want;
  for (size_t i = 0; i < labels.size(); ++i) want << (i ? " " : "") << labels[i];
  want << "\n";
  EXPECT_EQ(read_file(dir + "/u.txt"), want.str());
}

TEST(KMeansCli, DimensionMismatchNamesBothDimensions) {
  const std::string dir = make_temp_dir("kmd");
  std::ofstream(dir + "/u.txt") << "earlier\n";
  std::string log;
  EXPECT_EQ(run_command(acoustok_bin() + " kmeans predict " + fixture("kmeans/mix16_centroids.npy") + " " +
                            fixture("kmeans/mix64.npy") + " -o " + dir + "/u.txt",
                        &log),
            1);
  EXPECT_TRUE(contains(log, "mix64.npy: feature dimension 64 differs from the k-means model's 16")) << log;
  EXPECT_EQ(read_file(dir + "/u.txt"), "earlier\n");
}

TEST(KMeansCli, BadInputsAreOneLineErrors) {
  const std::string dir = make_temp_dir("kmbad");
  std::vector<float> v(40 * 4, 0.5f);
  acoustok::write_npy(dir + "/small.npy", v.data(), {40, 4});
  v[4 * 7 + 2] = NAN;
  acoustok::write_npy(dir + "/nan.npy", v.data(), {40, 4});
  std::ofstream(dir + "/garbage.safetensors") << "not a model";
  std::ofstream(dir + "/km.safetensors") << "earlier";
  struct Case {
    std::string args, words;
    int status;
  };
  const std::vector<Case> cases = {
      {"kmeans fit " + dir + "/small.npy --k 100 -o " + dir + "/km.safetensors",
       "k=100 is larger than the number of frames (40)", 1},
      {"kmeans fit " + dir + "/nan.npy --k 2 -o " + dir + "/km.safetensors",
       "nan.npy: row 7, column 2 is NaN", 1},
      {"kmeans fit " + dir + "/missing.npy --k 2 -o " + dir + "/km.safetensors", "missing.npy", 1},
      {"kmeans predict " + dir + "/garbage.safetensors " + dir + "/small.npy -o " + dir + "/u.txt",
       "garbage.safetensors", 1},
      {"kmeans predict " + fixture("kmeans/mix16_centroids.npy") + " " + dir + "/nan.npy -o " + dir +
           "/u.txt",
       "is NaN", 1},
      {"kmeans fit " + dir + "/small.npy --k 2", "--output is required", 2},
  };
  for (const auto& c : cases) {
    std::string log;
    EXPECT_EQ(run_command(acoustok_bin() + " " + c.args, &log), c.status) << c.args << "\n" << log;
    EXPECT_TRUE(contains(log, c.words)) << c.args << "\n" << log;
    EXPECT_EQ(read_file(dir + "/km.safetensors"), "earlier");
  }
}
