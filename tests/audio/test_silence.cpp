// SPDX-License-Identifier: MIT
// Silence detection against pydub (expected values from
// tests/fixtures/gen_silence_fixtures.py) and the streaming behaviour.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <cmath>
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
  for (const std::string name :
       {"speech_pauses.wav", "bursts_a.wav", "silence_at_ends.wav", "speech_noisy.wav"}) {
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
    expect_matches_pydub(single, c["runs"][0]["padded_ms"], c["length_ms"].get<int64_t>(),
                         name + " 1-sample chunks");
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
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.3f * static_cast<float>(std::sin(0.05 * static_cast<double>(i)));
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
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = 0.3f * static_cast<float>(std::sin(0.05 * static_cast<double>(i)));
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
  for (auto part :
       {tone(32000), std::vector<float>(16000), tone(3200), std::vector<float>(16000), tone(32000)}) {
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

// ---- low latency: take_releases() -------------------------------------------

namespace {

// What a low-latency consumer (the silencesplit element) does with the
// splitter: per chunk, follow its releases.
struct LowLatencyRun {
  std::vector<Segment> segments;
  std::vector<int64_t> left_at;  // per sample: samples pushed when it was passed on; -1: dropped
  std::vector<int64_t> segment_reported_at;
  std::vector<int64_t> passed_before_segment;  // samples decided before each segment's release
};

// sound[n]: with n samples pushed, the last whole window of min-silence
// (whole ms; none yet: the start of the input) is above the threshold, by an
// RMS computed here on the 16-bit scale as pydub does.
std::vector<bool> sound_before(const std::vector<float>& x, const SilenceOptions& o) {
  const int64_t win = std::llround(o.min_silence * 1000) * 16;
  const double threshold = std::pow(10.0, o.threshold_db / 20.0) * 32768.0;
  std::vector<double> prefix(x.size() + 1, 0.0);
  for (size_t i = 0; i < x.size(); ++i)
    prefix[i + 1] = prefix[i] + std::pow(static_cast<double>(x[i]) * 32768.0, 2);
  std::vector<bool> sound(x.size() + 1, true);
  for (int64_t n = 0; n <= static_cast<int64_t>(x.size()); ++n) {
    const int64_t end = n / 16 * 16;
    if (end < win) continue;
    const double e = prefix[static_cast<size_t>(end)] - prefix[static_cast<size_t>(end - win)];
    sound[static_cast<size_t>(n)] =
        std::floor(std::sqrt(std::max(e, 0.0) / static_cast<double>(win))) > threshold;
  }
  return sound;
}

LowLatencyRun run_low_latency(const std::vector<float>& x, SilenceOptions o, size_t chunk) {
  o.low_latency = true;
  SilenceSplitter s(o);
  LowLatencyRun run;
  run.left_at.assign(x.size(), -2);  // -2: never decided
  int64_t done = 0;
  const auto advance = [&](int64_t until, bool pass) {
    for (; done < until; ++done) run.left_at[static_cast<size_t>(done)] = pass ? s.samples_pushed() : -1;
  };
  const auto drain = [&] {
    for (const auto& r : s.take_releases()) {
      if (r.kind == SilenceSplitter::Release::announce) {
        run.segments.push_back(r.segment);
        run.segment_reported_at.push_back(s.samples_pushed());
        run.passed_before_segment.push_back(done);
      } else {
        EXPECT_GT(r.end, done) << "a release that does nothing";
        advance(r.end, r.kind == SilenceSplitter::Release::pass);
      }
    }
    EXPECT_TRUE(s.take_segments().empty()) << "the releases took them";
  };
  for (size_t pos = 0; pos < x.size(); pos += chunk) {
    s.push(x.data() + pos, std::min(chunk, x.size() - pos));
    drain();
  }
  s.finish();
  drain();
  return run;
}

}  // namespace

TEST(Silence, LowLatencyPassesEverySegmentSampleWithinItsLatencyAndKeepsTheSegments) {
  const json e = expected();
  for (const std::string name : {"speech_pauses.wav", "speech_noisy.wav", "bursts_a.wav", "bursts_c.wav",
                                 "silence_at_ends.wav", "speech_no_lead.wav", "all_silence.wav"}) {
    const auto x = acoustok::read_audio_16k_mono(acoustok::test::fixture("silence/" + name));
    for (size_t p = 0; p < e["params"].size(); ++p) {
      const auto opts = options_from(e["params"][p]);
      const auto one = run_low_latency(x, opts, 1);
      for (const size_t chunk : {size_t{1}, size_t{160}, size_t{1031}}) {
        const std::string what = name + " params " + std::to_string(p) + " chunk " + std::to_string(chunk);
        const auto offline = acoustok::split_on_silence(x, opts);
        const auto run = chunk == 1 ? one : run_low_latency(x, opts, chunk);
        // The same segments as offline (pydub's, checked above).
        ASSERT_EQ(run.segments.size(), offline.size()) << what;
        for (size_t k = 0; k < offline.size(); ++k) {
          EXPECT_EQ(run.segments[k].start, offline[k].start) << what << " segment " << k;
          EXPECT_EQ(run.segments[k].end, offline[k].end) << what << " segment " << k;
        }
        // Every sample of every segment leaves less than keep-silence + 1 ms
        // (plus the rest of its chunk) after it arrived.
        const int64_t latency = (std::llround(opts.keep_silence * 1000) + 1) * 16;
        ASSERT_EQ(SilenceSplitter(opts).release_latency_samples(), latency);
        int64_t worst = 0;
        for (const auto& seg : offline) {
          for (int64_t i = seg.start; i < seg.end; ++i) {
            const int64_t left = run.left_at[static_cast<size_t>(i)];
            ASSERT_GE(left, 0) << what << ": sample " << i << " of a segment was not passed on";
            worst = std::max(worst, left - (i + 1));
          }
        }
        if (!offline.empty()) {
          EXPECT_LE(worst, latency - 1 + static_cast<int64_t>(chunk) - 1) << what;
          // The bound is reached: the padding before a segment waits that long.
          EXPECT_GE(worst, latency - static_cast<int64_t>(chunk)) << what;
        }
        // The same releases whatever the chunks: each segment after the same samples.
        if (chunk != 1) {
          EXPECT_EQ(run.passed_before_segment, one.passed_before_segment) << what;
          for (size_t i = 0; i < x.size(); ++i) {
            ASSERT_EQ(run.left_at[i] >= 0, one.left_at[i] >= 0) << what << ": sample " << i;
          }
        }
        // Samples outside every segment that still went out (the beginning of
        // a pause, a noise too short to start a segment) left while sound was
        // heard: the last window of min-silence before they left (pushed one
        // sample at a time) is above the threshold. Silence is never passed on.
        std::vector<bool> in_segment(x.size(), false);
        for (const auto& seg : offline)
          std::fill(in_segment.begin() + seg.start, in_segment.begin() + seg.end, true);
        const auto sound = sound_before(x, opts);
        for (size_t i = 0; i < x.size(); ++i) {
          ASSERT_NE(run.left_at[i], -2) << what << ": sample " << i << " undecided";
          if (chunk != 1 || in_segment[i] || run.left_at[i] < 0) continue;
          ASSERT_TRUE(sound[static_cast<size_t>(run.left_at[i])])
              << what << ": silence at sample " << i << " was passed on";
        }
      }
    }
  }
}

TEST(Silence, LowLatencyCutsAtMaxSegmentWhenItsAudioReachesIt) {
  // 25 s of speech-like tone with a quiet dip at 4.5 s: offline cuts at the
  // dip; low latency cuts exactly every 4 s, decided when the speculative end
  // reaches the cut, so no audio after a cut leaves before its segment's end.
  std::vector<float> y(16000 * 25);
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = 0.3f * static_cast<float>(std::sin(0.05 * static_cast<double>(i)));
  for (size_t i = 72000 - 80; i < 72000 + 80; ++i) y[i] *= 0.05f;
  SilenceOptions o;
  o.max_segment = 4.0;
  const auto run = run_low_latency(y, o, 160);
  ASSERT_EQ(run.segments.size(), 7u);
  for (size_t k = 0; k < run.segments.size(); ++k) {
    EXPECT_EQ(run.segments[k].start, static_cast<int64_t>(k) * 64000) << k;
    EXPECT_EQ(run.segments[k].end, std::min<int64_t>((static_cast<int64_t>(k) + 1) * 64000, 16000 * 25)) << k;
    if (k + 1 < run.segments.size()) {
      // Decided when the releases reach the cut (keep-silence later), in the
      // chunk of that sample, right after the cut's last sample.
      EXPECT_GE(run.segment_reported_at[k], run.segments[k].end + 1600) << k;
      EXPECT_LT(run.segment_reported_at[k], run.segments[k].end + 1600 + 160) << k;
      EXPECT_EQ(run.passed_before_segment[k], run.segments[k].end) << k;
    }
  }
  for (const int64_t left : run.left_at) EXPECT_GE(left, 0);
}

TEST(Silence, LowLatencyRejectsWhatNeedsTheFuture) {
  SilenceOptions o;
  o.low_latency = true;
  EXPECT_NO_THROW(SilenceSplitter{o});
  o.min_segment = 0.5;
  try {
    SilenceSplitter s{o};
    ADD_FAILURE() << "min-segment accepted in low-latency mode";
  } catch (const acoustok::Error& err) {
    EXPECT_NE(std::string(err.what()).find("min-segment must be 0 in low-latency mode"), std::string::npos)
        << err.what();
  }
  o.min_segment = 0;
  o.max_segment = 0.5;  // = min-silence: a segment's start is known too late to cut there
  EXPECT_THROW(SilenceSplitter{o}, acoustok::Error);
  o.max_segment = 0.6;
  EXPECT_NO_THROW(SilenceSplitter{o});
  o.low_latency = false;
  o.max_segment = 0.5;
  EXPECT_NO_THROW(SilenceSplitter{o});
}

TEST(Silence, LowLatencyCutAtTheLastMillisecondStaysInsideTheInput) {
  // keep-silence 0: a cut is due when the releases reach it. The input ends
  // 8 samples into ms 2101, which pydub's length (2102 ms) counts whole, so
  // the end of the input adds a block past the data where the cut falls.
  std::vector<float> y(16 * 2101 + 8);
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = 0.3f * static_cast<float>(std::sin(0.05 * static_cast<double>(i)));
  SilenceOptions o;
  o.keep_silence = 0;
  o.max_segment = 2.102;
  const auto run = run_low_latency(y, o, 160);
  ASSERT_FALSE(run.segments.empty());
  EXPECT_EQ(run.segments.front().start, 0);
  EXPECT_EQ(run.segments.back().end, static_cast<int64_t>(y.size()));
  for (const auto& seg : run.segments) EXPECT_LE(seg.end, static_cast<int64_t>(y.size()));
}
