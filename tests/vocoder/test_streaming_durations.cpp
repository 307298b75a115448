// SPDX-License-Identifier: MIT
// Reduced units through StreamingVocoder: durations predicted as units
// arrive equal the whole utterance's prediction, and the audio equals
// synthesis of the whole expanded utterance, for any chunk and push size;
// known run lengths are expanded. Stand-in vocoders whose generator and
// predictor are local (as convolutions are), computed independently here.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_data.hpp"
#include "test_util.hpp"

using namespace acoustok;

namespace {

// Sample block i depends on frames i-3..i+3 (zero-padded); unit i's
// duration on reduced units within `reach` of it. The config claims a
// predictor of kernel 3, whose context is 3 units: reach 3 is what it says,
// reach 4 lies (the test must then fail).
class DurationVocoder : public Vocoder {
 public:
  explicit DurationVocoder(int reach, bool predictor = true) : reach_(reach) {
    config_.num_units = 100;
    config_.dur_predictor_hidden = predictor ? 8 : 0;
    config_.dur_predictor_kernel = 3;
  }
  const VocoderConfig& config() const override { return config_; }
  std::vector<float> synthesize(const int32_t* u, size_t n) override {
    std::vector<float> out(n * 320);
    for (size_t i = 0; i < n; ++i) {
      double v = 0;
      for (int d = -3; d <= 3; ++d) {
        const auto j = static_cast<int64_t>(i) + d;
        if (j >= 0 && j < static_cast<int64_t>(n)) v += (u[j] + 1) * (d + 7.0);
      }
      for (int s = 0; s < 320; ++s) out[i * 320 + static_cast<size_t>(s)] = static_cast<float>(v + s * 0.01);
    }
    return out;
  }
  std::vector<int32_t> predict_durations(const int32_t* u, size_t n) override {
    std::vector<int32_t> d(n);
    for (size_t i = 0; i < n; ++i) {
      int64_t v = 0;
      for (int k = -reach_; k <= reach_; ++k) {
        const auto j = static_cast<int64_t>(i) + k;
        if (j >= 0 && j < static_cast<int64_t>(n)) v += (u[j] + 1) * (k + reach_ + 1);
      }
      d[i] = static_cast<int32_t>(1 + v % 5);
    }
    return d;
  }

 private:
  VocoderConfig config_;
  int reach_;
};

// Reduced: no two equal neighbours.
std::vector<int32_t> reduced_units(size_t n) {
  std::vector<int32_t> u(n);
  for (size_t i = 0; i < n; ++i) u[i] = static_cast<int32_t>((i * 37 + i * i) % 100);
  for (size_t i = 1; i < n; ++i)
    if (u[i] == u[i - 1]) u[i] = (u[i] + 1) % 100;
  return u;
}

struct Streamed {
  std::vector<float> audio;
  std::vector<int32_t> durations;
};

Streamed stream_reduced(StreamingVocoder& s, const std::vector<int32_t>& units, size_t block) {
  Streamed r;
  for (size_t i = 0; i < units.size(); i += block) {
    const auto part = s.push_reduced(units.data() + i, std::min(block, units.size() - i));
    r.audio.insert(r.audio.end(), part.begin(), part.end());
    EXPECT_LE(s.reduced_pending(), static_cast<size_t>(s.duration_context_units()));
    EXPECT_LE(s.frames_pushed() - s.frames_emitted(), s.latency_frames());
    const auto d = s.take_predicted_durations();
    r.durations.insert(r.durations.end(), d.begin(), d.end());
  }
  const auto tail = s.finish();
  r.audio.insert(r.audio.end(), tail.begin(), tail.end());
  const auto d = s.take_predicted_durations();
  r.durations.insert(r.durations.end(), d.begin(), d.end());
  return r;
}

}  // namespace

TEST(StreamingDurations, PredictedWhileStreamingEqualsTheWholeUtterance) {
  DurationVocoder voc(3);
  ASSERT_EQ(voc.config().duration_context_units(), 3);
  for (size_t n : {1u, 2u, 4u, 7u, 83u}) {
    const auto units = reduced_units(n);
    const auto durations = voc.predict_durations(units.data(), units.size());
    const auto frames = expand_durations(units.data(), units.size(), durations);
    const auto whole = voc.synthesize(frames.data(), frames.size());
    for (int chunk : {1, 5, 40}) {
      for (size_t block : {1u, 2u, 6u, 100u}) {
        SCOPED_TRACE("units " + std::to_string(n) + ", chunk " + std::to_string(chunk) + ", block " +
                     std::to_string(block));
        StreamingVocoder s(voc, chunk, 3);
        const Streamed r = stream_reduced(s, units, block);
        EXPECT_EQ(r.durations, durations);
        EXPECT_EQ(r.audio, whole);  // bit for bit
      }
    }
  }
}

// A predictor that reaches further than its config says is caught: the
// windows are then too short and the durations differ (the test can fail).
TEST(StreamingDurations, APredictorReachingBeyondItsContextDiffers) {
  DurationVocoder voc(5);
  const auto units = reduced_units(83);
  const auto durations = voc.predict_durations(units.data(), units.size());
  StreamingVocoder s(voc, 5, 3);
  EXPECT_NE(stream_reduced(s, units, 1).durations, durations);
}

TEST(StreamingDurations, KnownRunLengthsAreExpanded) {
  DurationVocoder voc(3, false);
  const auto units = reduced_units(40);
  std::vector<int32_t> runs(units.size());
  for (size_t i = 0; i < runs.size(); ++i) runs[i] = static_cast<int32_t>(1 + (i * 7) % 4);
  std::vector<int32_t> frames;
  for (size_t i = 0; i < units.size(); ++i)
    frames.insert(frames.end(), static_cast<size_t>(runs[i]), units[i]);
  const auto whole = voc.synthesize(frames.data(), frames.size());
  StreamingVocoder s(voc, 4, 3);
  std::vector<float> out;
  for (size_t i = 0; i < units.size(); i += 3) {
    const size_t n = std::min<size_t>(3, units.size() - i);
    const auto part = s.push_reduced(units.data() + i, runs.data() + i, n);
    out.insert(out.end(), part.begin(), part.end());
  }
  const auto tail = s.finish();
  out.insert(out.end(), tail.begin(), tail.end());
  EXPECT_EQ(out, whole);
  EXPECT_TRUE(s.take_predicted_durations().empty());
  const int32_t zero = 0;
  EXPECT_THROW(s.push_reduced(units.data(), &zero, 1), Error);
}

TEST(StreamingDurations, RefusalsAndReset) {
  DurationVocoder plain(3, false);
  StreamingVocoder without(plain, 4, 3);
  const auto units = reduced_units(10);
  try {
    without.push_reduced(units.data(), units.size());
    FAIL() << "prediction without a predictor accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("duration predictor"), std::string::npos) << e.what();
  }
  DurationVocoder voc(3);
  StreamingVocoder s(voc, 4, 3);
  s.push_reduced(units.data(), units.size());
  EXPECT_EQ(s.reduced_pending(), 3u);
  // Frames would overtake the units waiting for their durations.
  EXPECT_THROW(s.push(units.data(), 1), Error);
  s.reset();
  EXPECT_EQ(s.reduced_pending(), 0u);
  EXPECT_TRUE(s.take_predicted_durations().empty());
  EXPECT_TRUE(s.finish().empty());
}

// Training and `vocoder test` pair units with audio frame by frame: a
// `units --dedup` corpus is expanded back by its run lengths; an absurd sum
// of run lengths is refused before anything is materialised.
TEST(ReducedCorpus, ExpandsBackToFramesAndBoundsTheSum) {
  const std::string dir = acoustok::test::make_temp_dir("reduced_corpus");
  auto write = [&](const std::string& durations) {
    std::ofstream(dir + "/corpus_timestamped.json")
        << R"({"k": 10, "frame_rate": 50, "segments": [{"file": "a_00000.wav", "units": [3, 7, 3], "durations": )"
        << durations << R"(}, {"file": "b_00000.wav", "units": [1, 1, 2]}]})";
  };
  write("[2, 1, 3]");
  UnitCorpus c = read_unit_corpus(dir);
  ASSERT_EQ(c.segments.size(), 2u);
  EXPECT_EQ(c.segments[0].durations, (std::vector<int32_t>{2, 1, 3}));
  expand_reduced_segments(c);
  EXPECT_EQ(c.segments[0].units, (std::vector<int32_t>{3, 3, 7, 3, 3, 3}));
  EXPECT_TRUE(c.segments[0].durations.empty());
  EXPECT_EQ(c.segments[1].units, (std::vector<int32_t>{1, 1, 2}));
  write("[65535, 65535, 40000]");  // 57 minutes
  EXPECT_NO_THROW(read_unit_corpus(dir));
  std::ofstream(dir + "/corpus_timestamped.json") << [&] {
    std::string units = "[", runs = "[";
    for (int i = 0; i < 70; ++i) {
      units += std::string(i ? ", " : "") + std::to_string(i % 2);
      runs += std::string(i ? ", " : "") + "65535";
    }
    return R"({"k": 10, "segments": [{"file": "a.wav", "units": )" + units + "], \"durations\": " + runs +
           "]}]}";
  }();
  try {
    read_unit_corpus(dir);
    FAIL() << "70 runs of 65535 frames (25 hours) accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than an hour"), std::string::npos) << e.what();
  }
}
