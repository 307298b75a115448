// SPDX-License-Identifier: MIT
// `acoustok units` end to end on precomputed features (--features): output
// schema and values, resume after kill -9 equal to an uninterrupted run,
// shards, bad input. The feature model itself is tested by the xlsr suites.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "acoustok/audio_io.hpp"
#include "acoustok/kmeans.hpp"
#include "acoustok/tensor_file.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using acoustok::test::acoustok_bin;
using acoustok::test::make_temp_dir;
using acoustok::test::read_file;
using acoustok::test::run_command;
using nlohmann::json;

namespace {

constexpr int64_t kDim = 24;

// SEGMENTS_DIR with n segment WAVs + segments.jsonl (the last segment is
// left out of it), and FEATS_DIR with each segment's features.
struct Corpus {
  std::string segments, features;
  std::vector<std::string> files;
};

Corpus make_corpus(const std::string& root, int n, int max_frames, unsigned seed) {
  Corpus c{root + "/segments", root + "/features", {}};
  fs::create_directories(c.segments);
  fs::create_directories(c.features);
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.6f);
  std::vector<float> means(16 * kDim);
  for (auto& m : means) m = noise(rng) * 2.0f;
  std::string index;
  const std::vector<float> audio(1600, 0.0f);
  for (int i = n - 1; i >= 0; --i) {  // written out of order: outputs must be sorted anyway
    char name[32];
    std::snprintf(name, sizeof name, "rec_%05d.wav", i);
    const int frames = (i == 3) ? 0 : 20 + static_cast<int>(rng() % static_cast<unsigned>(max_frames));
    std::vector<float> x(static_cast<size_t>(frames) * kDim);
    for (int f = 0; f < frames; ++f) {
      const int comp = static_cast<int>(rng() % 16);
      for (int d = 0; d < kDim; ++d) x[size_t(f * kDim + d)] = means[size_t(comp * kDim + d)] + noise(rng);
    }
    acoustok::write_wav_pcm16(c.segments + "/" + name, audio.data(), audio.size());
    acoustok::write_npy(c.features + "/" + std::string(name).substr(0, 9) + ".npy", x.data(), {frames, kDim});
    if (i != n - 1) {
      index = json{{"source", "/data/talk.mp3"},
                   {"index", i},
                   {"start", 12.5 * i + 0.25},
                   {"end", 12.5 * i + 9},
                   {"file", name}}
                  .dump() +
              "\n" + index;
    }
    c.files.insert(c.files.begin(), name);
  }
  std::ofstream(c.segments + "/segments.jsonl") << index;
  return c;
}

// k=12, batch 300 unless `extra` says otherwise.
std::string units_cmd(const Corpus& c, const std::string& out, const std::string& extra = "") {
  std::string cmd = acoustok_bin() + " units --features " + c.features + " " + c.segments + " -o " + out +
                    " --seed 4 --feature-model test-feats " + extra;
  if (extra.find("--k ") == std::string::npos) cmd += " --k 12";
  if (extra.find("--batch-size ") == std::string::npos) cmd += " --batch-size 300";
  return cmd;
}

const std::vector<std::string> kOutputs = {"kmeans.safetensors", "corpus_timestamped.json",
                                           "all_units_for_bpe.txt"};

void expect_same_outputs(const std::string& a, const std::string& b) {
  for (const auto& name : kOutputs) {
    ASSERT_TRUE(fs::exists(a + "/" + name)) << a << "/" << name;
    ASSERT_TRUE(fs::exists(b + "/" + name)) << b << "/" << name;
    EXPECT_TRUE(read_file(a + "/" + name) == read_file(b + "/" + name)) << name << " differs";
  }
}

std::vector<float> f16_rounded(std::vector<float> v) {
  for (auto& x : v) x = acoustok::half_to_float(acoustok::float_to_half(x));
  return v;
}

}  // namespace

TEST(UnitsCli, WritesTheDocumentedOutputs) {
  const std::string root = make_temp_dir("units");
  const Corpus c = make_corpus(root, 9, 150, 1);
  std::string log;
  ASSERT_EQ(run_command(units_cmd(c, root + "/out"), &log), 0) << log;
  EXPECT_NE(log.find("ETA"), std::string::npos) << log;

  const auto model = acoustok::KMeansModel::load(root + "/out/kmeans.safetensors");
  EXPECT_EQ(model.k(), 12);
  EXPECT_EQ(model.dim(), kDim);
  EXPECT_EQ(model.metadata().at("feature_model"), "test-feats");
  EXPECT_EQ(model.metadata().at("layer"), "14");

  const json j = json::parse(read_file(root + "/out/corpus_timestamped.json"));
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"feature_model", "frame_rate", "k", "layer", "segments"}));
  EXPECT_EQ(j["feature_model"], "test-feats");
  EXPECT_EQ(j["layer"], 14);
  EXPECT_EQ(j["k"], 12);
  EXPECT_EQ(j["frame_rate"], 50);
  ASSERT_EQ(j["segments"].size(), c.files.size());

  std::istringstream lines(read_file(root + "/out/all_units_for_bpe.txt"));
  double inertia = 0;
  for (size_t s = 0; s < c.files.size(); ++s) {
    const json& seg = j["segments"][s];
    EXPECT_EQ(seg.size(), 6u);
    EXPECT_EQ(seg["file"], c.files[s]);  // sorted by file name
    const bool indexed = s + 1 < c.files.size();
    EXPECT_EQ(seg["source"], indexed ? json("/data/talk.mp3") : json(nullptr));
    const double offset = indexed ? 12.5 * double(s) + 0.25 : 0.0;
    EXPECT_DOUBLE_EQ(seg["offset"].get<double>(), offset);
    // Units are the model's nearest centroids of the (float16-cached) features.
    const auto x = acoustok::read_npy(c.features + "/" + c.files[s].substr(0, 9) + ".npy");
    const auto feats = f16_rounded(x.values);
    std::vector<int32_t> want(static_cast<size_t>(x.shape[0]));
    inertia += model.predict(feats.data(), x.shape[0], want.data());
    const auto units = seg["units"].get<std::vector<int32_t>>();
    EXPECT_EQ(units, want) << c.files[s];
    const auto ut = seg["unit_times"].get<std::vector<double>>();
    const auto st = seg["source_times"].get<std::vector<double>>();
    ASSERT_EQ(ut.size(), units.size());
    ASSERT_EQ(st.size(), units.size());
    for (size_t i = 0; i < units.size(); ++i) {
      EXPECT_NEAR(ut[i], 0.02 * double(i), 1e-9);
      EXPECT_NEAR(st[i], offset + 0.02 * double(i), 1e-9);
    }
    std::string line, want_line;
    std::getline(lines, line);
    for (size_t i = 0; i < units.size(); ++i) want_line += (i ? " " : "") + std::to_string(units[i]);
    EXPECT_EQ(line, want_line) << s;
  }
  EXPECT_NEAR(std::stod(model.metadata().at("inertia")), inertia, 1e-6 * inertia);
  EXPECT_TRUE(fs::exists(root + "/out/checkpoint.json"));
  const std::string processed = read_file(root + "/out/processed_files.txt");
  EXPECT_EQ(std::count(processed.begin(), processed.end(), '\n'), 9);
}

TEST(UnitsCli, ResultsDoNotDependOnThreads) {
  const std::string root = make_temp_dir("units-thr");
  const Corpus c = make_corpus(root, 6, 200, 2);
  ASSERT_EQ(run_command(units_cmd(c, root + "/a", "-q --threads 1")), 0);
  ASSERT_EQ(run_command(units_cmd(c, root + "/b", "-q --threads 2")), 0);
  expect_same_outputs(root + "/a", root + "/b");
}

TEST(UnitsCli, ResumesAfterKillNineWithTheResultsOfAnUninterruptedRun) {
  const std::string root = make_temp_dir("units-kill");
  const Corpus c = make_corpus(root, 40, 400, 3);
  // Long enough to be killed: every k-means step runs (no early stop).
  const std::string extra = "--batch-size 64 --max-no-improvement 0 --max-iter 200 --checkpoint-every 0.05";
  ASSERT_EQ(run_command(units_cmd(c, root + "/clean", extra + " -q")), 0);

  // kill -9 as soon as a checkpoint inside k-means is on disk; then kill the
  // resumed run too, a moment after it said it resumed.
  const std::string out = root + "/killed";
  std::vector<std::string> logs;
  for (const std::string& wait_for : {"grep -q '\"steps\":[1-9]' " + out + "/checkpoint.json",
                                      "grep -q 'resuming from' " + root + "/log1 && sleep 0.1"}) {
    const std::string log = root + "/log" + std::to_string(logs.size());
    run_command("( " + units_cmd(c, out, extra) + " 2>" + log + " & p=$!; for i in $(seq 400); do " +
                wait_for + " 2>/dev/null && break; sleep 0.02; done; kill -9 $p; wait $p ) 2>/dev/null");
    logs.push_back(read_file(log));
    ASSERT_FALSE(fs::exists(out + "/corpus_timestamped.json"))
        << "finished before the kill: make the run longer";
  }
  std::string log;
  ASSERT_EQ(run_command(units_cmd(c, out, extra), &log), 0) << log;
  EXPECT_NE(logs[1].find("resuming from"), std::string::npos) << logs[1];
  EXPECT_NE(log.find("resuming from"), std::string::npos) << log;
  expect_same_outputs(root + "/clean", out);
}

TEST(UnitsCli, ResumesInTheFeaturePhaseDroppingRowsAfterTheCheckpoint) {
  const std::string root = make_temp_dir("units-kill-feat");
  const Corpus c = make_corpus(root, 10, 200, 7);
  ASSERT_EQ(run_command(units_cmd(c, root + "/clean", "-q")), 0);
  // A FIFO in place of segment 6's features holds the run there, in the
  // feature phase, after segments 0..5 were checkpointed; then kill -9.
  const std::string held = c.features + "/rec_00006.npy";
  fs::rename(held, held + ".real");
  ASSERT_EQ(run_command("mkfifo " + held), 0);
  const std::string out = root + "/killed";
  ASSERT_EQ(run_command("( " + units_cmd(c, out, "-q --checkpoint-every 0") + " & p=$!; " +
                        "for i in $(seq 200); do [ \"$(cat " + out +
                        "/processed_files.txt 2>/dev/null | wc -l)\" = 6 ] && break; sleep 0.05; done; " +
                        "kill -9 $p; wait $p ) 2>/dev/null"),
            137);
  fs::remove(held);
  fs::rename(held + ".real", held);
  // As if the killed run had written rows after its last checkpoint.
  std::ofstream(out + "/cache/features.npy", std::ios::app | std::ios::binary) << std::string(1000, 'x');
  std::string log;
  ASSERT_EQ(run_command(units_cmd(c, out), &log), 0) << log;
  EXPECT_NE(log.find("(phase features, 6 segments cached)"), std::string::npos) << log;
  expect_same_outputs(root + "/clean", out);
}

TEST(UnitsCli, ShardsThenAFinalRunEqualOneRun) {
  const std::string root = make_temp_dir("units-shard");
  const Corpus c = make_corpus(root, 7, 120, 4);
  ASSERT_EQ(run_command(units_cmd(c, root + "/one", "-q")), 0);
  std::string log;
  ASSERT_EQ(run_command(units_cmd(c, root + "/sh", "--shard 0/2"), &log), 0) << log;
  EXPECT_NE(log.find("run without --shard"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(root + "/sh/corpus_timestamped.json"));
  ASSERT_EQ(run_command(units_cmd(c, root + "/sh", "-q --shard 1/2")), 0);
  // The final run must take every feature from the shards: hide the .npy files.
  fs::rename(c.features, c.features + ".hidden");
  ASSERT_EQ(run_command(units_cmd(c, root + "/sh"), &log), 0) << log;
  EXPECT_NE(log.find("7 segments' features come from --shard runs"), std::string::npos) << log;
  fs::rename(c.features + ".hidden", c.features);
  expect_same_outputs(root + "/one", root + "/sh");
}

TEST(UnitsCli, BadSegmentsAreNamedAndSkipped) {
  const std::string root = make_temp_dir("units-bad");
  const Corpus c = make_corpus(root, 6, 100, 5);
  std::vector<float> x(30 * kDim, 1.0f);
  x[5 * kDim + 7] = NAN;
  acoustok::write_npy(c.features + "/rec_00002.npy", x.data(), {30, kDim});
  fs::remove(c.features + "/rec_00004.npy");
  std::string log;
  EXPECT_EQ(run_command(units_cmd(c, root + "/out"), &log), 1) << log;
  EXPECT_NE(log.find("rec_00002.wav: features: row 5, column 7 is NaN (skipped)"), std::string::npos) << log;
  EXPECT_NE(log.find("rec_00004.npy"), std::string::npos) << log;
  const json j = json::parse(read_file(root + "/out/corpus_timestamped.json"));
  std::vector<std::string> files;
  for (const auto& s : j["segments"]) files.push_back(s["file"]);
  EXPECT_EQ(files,
            (std::vector<std::string>{"rec_00000.wav", "rec_00001.wav", "rec_00003.wav", "rec_00005.wav"}));
}

TEST(UnitsCli, BadRunsAreClearErrorsAndLeaveEarlierOutputsIntact) {
  const std::string root = make_temp_dir("units-err");
  const Corpus c = make_corpus(root, 3, 30, 6);
  fs::create_directories(root + "/empty");
  fs::create_directories(root + "/out");
  for (const auto& name : kOutputs) std::ofstream(root + "/out/" + name) << "earlier";
  struct Case {
    std::string cmd, words;
    int status;
  };
  const std::vector<Case> cases = {
      {acoustok_bin() + " units --features " + c.features + " " + root + "/empty -o " + root + "/out",
       "empty: no .wav segments to process", 1},
      {units_cmd(c, root + "/out", "--k 5000"), "k=5000 is larger than the number of feature frames", 1},
      {acoustok_bin() + " units --model " + root + "/no-model " + c.segments + " -o " + root + "/out2",
       "no-model", 1},
      // Usage errors exit 2 (issue 15).
      {acoustok_bin() + " units " + c.segments + " -o " + root + "/out", "either --model", 2},
      {units_cmd(c, root + "/out", "--shard 2/2"), "--shard", 2},
      {units_cmd(c, root + "/out", "--k 7"), "checkpoint.json: made by a run with other options", 1},
  };
  for (const auto& cs : cases) {
    std::string log;
    EXPECT_EQ(run_command(cs.cmd, &log), cs.status) << cs.cmd << "\n" << log;
    EXPECT_NE(log.find(cs.words), std::string::npos) << cs.cmd << "\n" << log;
    for (const auto& name : kOutputs) EXPECT_EQ(read_file(root + "/out/" + name), "earlier") << name;
  }
}
