// SPDX-License-Identifier: MIT
// Silence detection against pydub (expected values from
// tests/fixtures/gen_silence_fixtures.py) and the streaming behaviour.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/silence.hpp"
#include "test_util.hpp"

using acoustok::Segment;
using acoustok::SilenceOptions;
using acoustok::SilenceSplitter;
using nlohmann::json;

namespace {

json expected() {
  static json e = json::parse(acoustok::test::read_file(acoustok::test::fixture("silence/expected.json")));
  return e;
}

SilenceOptions options_from(const json& p) {
  SilenceOptions o;
  o.threshold_db = p["threshold_db"].get<double>();
  o.min_silence = p["min_silence"].get<double>() / 1000.0;
  o.keep_silence = p["keep_silence"].get<double>() / 1000.0;
  return o;
}

// Feeds the splitter in chunks drawn by `next_chunk` and collects segments.
template <typename ChunkFn>
std::vector<Segment> run_streaming(const std::vector<float>& x, const SilenceOptions& o, ChunkFn next_chunk) {
  SilenceSplitter s(o);
  std::vector<Segment> out;
  size_t pos = 0;
  while (pos < x.size()) {
    const size_t n = std::min(next_chunk(), x.size() - pos);
    s.push(x.data() + pos, n);
    pos += n;
    for (auto& seg : s.take_segments()) out.push_back(seg);
  }
  s.finish();
  for (auto& seg : s.take_segments()) out.push_back(seg);
  return out;
}

// pydub works on a ms grid; a boundary at the recording's end may differ from
// the true sample count by less than 1 ms. Everything else must be exact.
void expect_matches_pydub(const std::vector<Segment>& ours, const json& ranges, int64_t length_ms,
                          const std::string& what) {
  ASSERT_EQ(ours.size(), ranges.size()) << what;
  for (size_t k = 0; k < ours.size(); ++k) {
    const int64_t s_ms = ranges[k][0].get<int64_t>(), e_ms = ranges[k][1].get<int64_t>();
    EXPECT_EQ(ours[k].index, static_cast<int64_t>(k)) << what;
    EXPECT_EQ(ours[k].start, s_ms * 16) << what << " segment " << k;
    if (e_ms == length_ms) {
      EXPECT_NEAR(ours[k].end, e_ms * 16, 16) << what << " segment " << k;
    } else {
      EXPECT_EQ(ours[k].end, e_ms * 16) << what << " segment " << k;
    }
  }
}

}  // namespace

TEST(Silence, MatchesPydubOnAllFixturesAndParameters) {
  const json e = expected();
  int checked = 0;
  for (const auto& [name, c] : e["cases"].items()) {
    const auto x = acoustok::read_audio_16k_mono(acoustok::test::fixture("silence/" + name));
    ASSERT_EQ(static_cast<int64_t>(x.size()), c["samples"].get<int64_t>()) << name;
    for (size_t p = 0; p < e["params"].size(); ++p) {
      const auto opts = options_from(e["params"][p]);
      const auto segs = acoustok::split_on_silence(x, opts);
      expect_matches_pydub(segs, c["runs"][p]["padded_ms"], c["length_ms"].get<int64_t>(),
                           name + " params " + std::to_string(p));
      ++checked;
    }
  }
  EXPECT_GE(checked, 40);
}

TEST(Silence, StreamingInAnyChunkSizeGivesTheSameSegments) {
  const json e = expected();
  std::mt19937 rng(7);
  for (const std::string name : {"speech_pauses.wav", "bursts_a.wav", "silence_at_ends.wav", "speech_noisy.wav"}) {
    const auto x = acoustok::read_audio_16k_mono(acoustok::test::fixture("silence/" + name));
    const auto& c = e["cases"][name];
    for (size_t p = 0; p < e["params"].size(); ++p) {
      const auto opts = options_from(e["params"][p]);
      std::uniform_int_distribution<size_t> chunk(1, 5000);
      auto random_chunks = run_streaming(x, opts, [&] { return chunk(rng); });
      expect_matches_pydub(random_chunks, c["runs"][p]["padded_ms"], c["length_ms"].get<int64_t>(),
                           name + " random chunks, params " + std::to_string(p));
    }
    auto single = run_streaming(x, options_from(e["params"][0]), [] { return size_t{1}; });
    expect_matches_pydub(single, c["runs"][0]["padded_ms"], c["length_ms"].get<int64_t>(), name + " 1-sample chunks");
  }
}

TEST(Silence, BoundariesAreReportedBeforeTheEndOfInput) {
  const auto x = acoustok::read_audio_16k_mono(acoustok::test::fixture("silence/speech_pauses.wav"));
  SilenceSplitter s{SilenceOptions{}};
  std::vector<int64_t> reported_at;
  for (size_t pos = 0; pos < x.size(); pos += 160) {
    s.push(x.data() + pos, std::min<size_t>(160, x.size() - pos));
    for (const auto& seg : s.take_segments()) {
      reported_at.push_back(s.samples_pushed());
      // Never later than the hold-back the element reports as latency.
      EXPECT_LE(s.samples_pushed() - seg.end, s.latency_samples());
    }
  }
  s.finish();
  const auto last = s.take_segments();
  const auto whole = acoustok::split_on_silence(x, SilenceOptions{});
  EXPECT_EQ(reported_at.size() + last.size(), whole.size());
  EXPECT_GE(reported_at.size() + 1, whole.size());  // at most the last waits for the end
}

TEST(Silence, OpenSegmentAndKeepFromAreConsistent) {
  const auto x = acoustok::read_audio_16k_mono(acoustok::test::fixture("silence/speech_pauses.wav"));
  const auto whole = acoustok::split_on_silence(x, SilenceOptions{});
  SilenceSplitter s{SilenceOptions{}};
  size_t next = 0;
  for (size_t pos = 0; pos < x.size(); pos += 320) {
    s.push(x.data() + pos, std::min<size_t>(320, x.size() - pos));
    next += s.take_segments().size();
    auto open = s.open_segment();
    if (open && open->certain_end > open->start) {
      // Samples called certain really end up inside the next segment.
      ASSERT_LT(next, whole.size());
      EXPECT_EQ(open->start, whole[next].start);
      EXPECT_LE(open->certain_end, whole[next].end);
    }
    // No segment still to come starts before keep_from().
    if (next < whole.size()) {
      EXPECT_LE(s.keep_from(), whole[next].start);
    }
  }
}

TEST(Silence, EmptyInputGivesNoSegment) {
  SilenceSplitter s{SilenceOptions{}};
  s.finish();
  EXPECT_TRUE(s.take_segments().empty());
}

TEST(Silence, MaxSegmentSplitsLongSpeechAtAQuietPoint) {
  // 10 s of speech-like tone with one quiet dip (well above the threshold)
  // at 4.5 s: a 6 s limit must cut at the dip.
  std::vector<float> x(160000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.3f * static_cast<float>(std::sin(0.05 * static_cast<double>(i)));
  for (size_t i = 72000 - 80; i < 72000 + 80; ++i) x[i] *= 0.05f;
  SilenceOptions o;
  o.max_segment = 6.0;
  const auto segs = acoustok::split_on_silence(x, o);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].start, 0);
  EXPECT_NEAR(segs[0].end, 72000, 16 * 10);
  EXPECT_EQ(segs[1].start, segs[0].end);
  EXPECT_EQ(segs[1].end, 160000);
  for (const auto& s : segs) EXPECT_LE(s.end - s.start, 6 * 16000);

  // Without a dip, every piece still respects the limit and they tile the input.
  std::vector<float> y(16000 * 25);
  for (size_t i = 0; i < y.size(); ++i) y[i] = 0.3f * static_cast<float>(std::sin(0.05 * static_cast<double>(i)));
  o.max_segment = 4.0;
  const auto pieces = acoustok::split_on_silence(y, o);
  ASSERT_GE(pieces.size(), 7u);
  for (size_t k = 0; k < pieces.size(); ++k) {
    EXPECT_LE(pieces[k].end - pieces[k].start, 4 * 16000);
    if (k > 0) {
      EXPECT_EQ(pieces[k].start, pieces[k - 1].end);
    }
  }
  EXPECT_EQ(pieces.back().end, static_cast<int64_t>(y.size()));
}

TEST(Silence, MinSegmentMergesShortSegmentsIntoANeighbour) {
  // Speech 2 s, pause 1 s, blip 0.2 s, pause 1 s, speech 2 s.
  auto tone = [](size_t n) {
    std::vector<float> t(n);
    for (size_t i = 0; i < n; ++i) t[i] = 0.3f * static_cast<float>(std::sin(0.05 * static_cast<double>(i)));
    return t;
  };
  std::vector<float> x;
  for (auto part : {tone(32000), std::vector<float>(16000), tone(3200), std::vector<float>(16000), tone(32000)}) {
    x.insert(x.end(), part.begin(), part.end());
  }
  SilenceOptions o;
  EXPECT_EQ(acoustok::split_on_silence(x, o).size(), 3u);
  o.min_segment = 0.5;
  const auto merged = acoustok::split_on_silence(x, o);
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].start, 0);
  EXPECT_GT(merged[0].end, 48000 + 3200);  // the blip joined the first segment
  EXPECT_EQ(merged[1].end, static_cast<int64_t>(x.size()));
  EXPECT_EQ(merged[1].index, 1);
}

TEST(Silence, RejectsInvalidOptions) {
  SilenceOptions o;
  o.threshold_db = 3;
  EXPECT_THROW(SilenceSplitter{o}, acoustok::Error);
  o = SilenceOptions{};
  o.min_silence = 0;
  EXPECT_THROW(SilenceSplitter{o}, acoustok::Error);
  o = SilenceOptions{};
  o.max_segment = 0.1;
  EXPECT_THROW(SilenceSplitter{o}, acoustok::Error);
  o = SilenceOptions{};
  o.sample_rate = 22050;
  EXPECT_THROW(SilenceSplitter{o}, acoustok::Error);
}
