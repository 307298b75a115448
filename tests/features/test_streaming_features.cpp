// SPDX-License-Identifier: MIT
// StreamingFeatures (streaming xlsrfeat) on the fixture models: each chunk is
// the model run on exactly the audio visible to it (the reference is
// FeatureExtractor::extract on that audio, computed here independently), the
// front-end cache changes nothing, a context and lookahead covering the whole
// segment give the offline frames, and the frames never depend on how the
// audio was pushed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/features.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/process.hpp"
#include "acoustok/streaming_features.hpp"
#include "feature_test_util.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using acoustok::test::fixture;
using acoustok::test::load;
using acoustok::test::make_temp_dir;
using acoustok::test::speech;

namespace {

constexpr uint64_t kMs = 1000000;

// A fixture model with do_normalize false: its frames depend on the visible audio only.
std::string unnormalised(const std::string& name) {
  const std::string d = make_temp_dir("stream-" + name) + "/m";
  fs::create_directories(d);
  for (const auto& e : fs::directory_iterator(fixture("xlsr/" + name)))
    fs::copy(e.path(), d / e.path().filename());
  std::ofstream(d + "/preprocessor_config.json") << R"({"do_normalize": false})";
  return d;
}
std::string unnormalised_xlsr() {
  static const std::string dir = unnormalised("xlsr_st");
  return dir;
}

using Mode = acoustok::StreamingOptions::Mode;

acoustok::StreamingOptions options(uint64_t chunk_ms, uint64_t lookahead_ms, uint64_t context_ms,
                                   Mode mode = Mode::recompute_context) {
  acoustok::StreamingOptions o;
  o.mode = mode;
  o.chunk_ns = chunk_ms * kMs;
  o.lookahead_ns = lookahead_ms * kMs;
  o.context_ns = context_ms * kMs;
  o.max_window_ns = 600'000 * kMs;
  return o;
}

// The whole signal pushed in pieces of `piece` samples, then finished.
acoustok::Features stream(acoustok::FeatureExtractor& fx, const acoustok::StreamingOptions& o, size_t piece,
                          const std::vector<float>& x = speech()) {
  acoustok::StreamingFeatures s(fx, o);
  acoustok::Features all;
  all.dim = fx.dim();
  const auto take = [&](const acoustok::StreamStep& step) {
    EXPECT_EQ(step.first_frame, all.frames);
    all.data.insert(all.data.end(), step.features.data.begin(), step.features.data.end());
    all.frames += step.features.frames;
  };
  for (size_t at = 0; at < x.size(); at += piece) take(s.push(x.data() + at, std::min(piece, x.size() - at)));
  take(s.finish());
  return all;
}

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

// max |a - b| over rows [0, frames) of b, relative to max |b|.
float relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float err = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) err = std::max(err, std::abs(a[i] - b[i]));
  return err / max_abs(b);
}

// Chunk by chunk, the model run on the chunk's visible audio.
std::vector<float> visible_audio_reference(acoustok::FeatureExtractor& fx, int64_t chunk, int64_t lookahead,
                                           int64_t context) {
  const auto& x = speech();
  const int64_t all = acoustok::feature_frames(static_cast<int64_t>(x.size()));
  std::vector<float> ref;
  for (int64_t k = 0; k < all; k += chunk) {
    const int64_t end = std::min(all, k + chunk);
    const int64_t first = std::max<int64_t>(0, k - context), last = std::min(all, end + lookahead);
    // The last chunk sees the whole rest of the segment.
    const int64_t from = first * 320,
                  to = last == all ? static_cast<int64_t>(x.size()) : (last - 1) * 320 + 400;
    const acoustok::Features f = fx.extract(x.data() + from, static_cast<size_t>(to - from));
    ref.insert(ref.end(), f.data.begin() + (k - first) * f.dim, f.data.begin() + (end - first) * f.dim);
  }
  return ref;
}

TEST(StreamingFeatures, EachChunkIsTheModelOnItsVisibleAudio) {
  auto fx = load(unnormalised_xlsr());
  const acoustok::Features got = stream(*fx, options(100, 60, 400), 1000);
  EXPECT_EQ(got.frames, acoustok::feature_frames(static_cast<int64_t>(speech().size())));
  // 5 frames of chunk, 3 of lookahead, 20 of context.
  EXPECT_LE(relative_error(got.data, visible_audio_reference(*fx, 5, 3, 20)), 1e-5f);
}

TEST(StreamingFeatures, GroupNormFrontEndsAreRecomputedPerChunk) {
  auto fx = load(unnormalised("base_st"));
  ASSERT_FALSE(fx->frame_local_front_end());
  const acoustok::Features got = stream(*fx, options(200, 100, 300), 3000);
  EXPECT_LE(relative_error(got.data, visible_audio_reference(*fx, 10, 5, 15)), 1e-5f);
}

TEST(StreamingFeatures, RecomputeModeNormalisesEachWindowOnItsOwn) {
  for (const std::string& model : {fixture("xlsr/xlsr_st"), fixture("xlsr/base_st")}) {
    auto fx = load(model);
    ASSERT_TRUE(fx->normalizes_input());
    acoustok::StreamingOptions o = options(200, 100, 300);
    o.mode = Mode::recompute_all;
    const acoustok::Features got = stream(*fx, o, 3000);
    EXPECT_LE(relative_error(got.data, visible_audio_reference(*fx, 10, 5, 15)), 1e-5f) << model;
    // The running normalisation is not that, but close.
    const acoustok::Features running = stream(*fx, options(200, 100, 300, Mode::recompute_context), 3000);
    const float d = relative_error(running.data, got.data);
    EXPECT_GT(d, 0.0f) << model;
    EXPECT_LT(d, 0.5f) << model;
  }
}

TEST(StreamingFeatures, TheFrontEndCacheChangesNothing) {
  auto fx = load(unnormalised_xlsr());
  ASSERT_TRUE(fx->frame_local_front_end());
  acoustok::StreamingOptions cached = options(40, 20, 200), recomputed = cached;
  recomputed.mode = Mode::recompute_all;
  EXPECT_LE(relative_error(stream(*fx, cached, 640).data, stream(*fx, recomputed, 640).data), 1e-5f);
}

// Also proves the running normalisation reaches the whole segment's, and,
// reusing the context, that every chunk attends to exactly the keys and
// values its predecessors left (they saw the whole segment too).
TEST(StreamingFeatures, ContextAndLookaheadCoveringTheSegmentGiveOfflineFrames) {
  for (const std::string& model :
       {fixture("xlsr/xlsr_st"), fixture("xlsr/base_st"), fixture("xlsr/hubert_bin")}) {
    auto fx = load(model);
    ASSERT_TRUE(fx->normalizes_input()) << model;
    const acoustok::Features offline = fx->extract(speech().data(), speech().size());
    for (Mode mode : {Mode::reuse_context, Mode::recompute_context, Mode::recompute_all}) {
      const acoustok::Features got = stream(*fx, options(60, 10'000, 10'000, mode), 800);
      EXPECT_EQ(got.frames, offline.frames) << model;
      EXPECT_LE(relative_error(got.data, offline.data), 1e-5f) << model << " mode " << static_cast<int>(mode);
    }
  }
}

// Recomputing the whole context reuses nothing: the model on the visible audio.
TEST(StreamingFeatures, RecomputingTheWholeContextIsTheRecomputeMode) {
  auto fx = load(fixture("xlsr/xlsr_st"), 3);
  acoustok::StreamingOptions all = options(100, 60, 500, Mode::reuse_context);
  all.recompute_ns = 500 * kMs;
  EXPECT_LE(relative_error(stream(*fx, all, 1000).data,
                           stream(*fx, options(100, 60, 500, Mode::recompute_context), 1000).data),
            1e-5f);
  // Recomputing part of it lies in between, and is closer than reusing it all.
  const acoustok::Features recomputed = stream(*fx, options(100, 60, 500, Mode::recompute_context), 1000);
  acoustok::StreamingOptions part = all;
  part.recompute_ns = 200 * kMs;
  const float d_part = relative_error(stream(*fx, part, 1000).data, recomputed.data);
  acoustok::StreamingOptions none = all;
  none.recompute_ns = 0;
  const float d_none = relative_error(stream(*fx, none, 1000).data, recomputed.data);
  EXPECT_GT(d_part, 1e-6f);
  EXPECT_LT(d_part, d_none);
  part.recompute_ns = 600 * kMs;  // more than the context: all of it
  EXPECT_EQ(stream(*fx, part, 1000).data, stream(*fx, all, 1000).data);
}

// Without context there is nothing to reuse: both modes run each chunk and
// its lookahead alone.
TEST(StreamingFeatures, ReusingNoContextIsRecomputingNone) {
  auto fx = load(fixture("xlsr/xlsr_st"));
  EXPECT_LE(relative_error(stream(*fx, options(100, 60, 0, Mode::reuse_context), 1000).data,
                           stream(*fx, options(100, 60, 0, Mode::recompute_context), 1000).data),
            1e-5f);
}

// Reusing a context is an approximation: the context frames' keys and values
// are those of their own run. Close to recomputing it, not equal.
TEST(StreamingFeatures, ReusedContextIsCloseToTheRecomputedOne) {
  auto fx = load(fixture("xlsr/xlsr_st"), 3);
  acoustok::StreamingOptions o = options(100, 60, 500, Mode::reuse_context);
  o.recompute_ns = 0;
  const acoustok::Features reused = stream(*fx, o, 1000);
  const acoustok::Features recomputed = stream(*fx, options(100, 60, 500, Mode::recompute_context), 1000);
  ASSERT_EQ(reused.frames, recomputed.frames);
  const float d = relative_error(reused.data, recomputed.data);
  EXPECT_GT(d, 1e-4f);
  EXPECT_LT(d, 0.5f);
  // The first chunk has no context to reuse: equal.
  const size_t first_chunk = static_cast<size_t>(5 * reused.dim);
  EXPECT_LE(
      relative_error(std::vector<float>(reused.data.begin(), reused.data.begin() + first_chunk),
                     std::vector<float>(recomputed.data.begin(), recomputed.data.begin() + first_chunk)),
      1e-5f);
}

// The oneDNN path (merged q/k/v product, packed weights) and the modules as
// written (the CUDA path) reuse the context alike.
TEST(StreamingFeatures, ReusedContextIsTheSameOnBothMatmulPaths) {
  auto fast = load(fixture("xlsr/xlsr_st"), 3);
  setenv("ACOUSTOK_MATMUL", "plain", 1);
  auto plain = load(fixture("xlsr/xlsr_st"), 3);
  unsetenv("ACOUSTOK_MATMUL");
  acoustok::StreamingOptions o = options(100, 60, 500, Mode::reuse_context);
  o.recompute_ns = 200 * kMs;  // some of the context again, some reused
  EXPECT_LE(relative_error(stream(*fast, o, 1000).data, stream(*plain, o, 1000).data), 1e-4f);
}

TEST(StreamingFeatures, FramesDoNotDependOnPushSizes) {
  auto fx = load(fixture("xlsr/xlsr_st"));  // running normalisation included
  for (Mode mode : {Mode::reuse_context, Mode::recompute_context}) {
    const acoustok::StreamingOptions o = options(80, 40, 300, mode);
    const acoustok::Features a = stream(*fx, o, 160), b = stream(*fx, o, 7777),
                             c = stream(*fx, o, speech().size());
    EXPECT_EQ(a.data, b.data);
    EXPECT_EQ(a.data, c.data);
  }
}

TEST(StreamingFeatures, ChunksLeaveAsSoonAsTheirLookaheadIsIn) {
  auto fx = load(unnormalised_xlsr());
  acoustok::StreamingFeatures s(*fx, options(100, 60, 400));
  EXPECT_EQ(s.wait_samples(), (5 + 3 - 1) * 320);
  // Frame 0's audio ends at sample 400; chunk 0 (frames 0..4) needs frame 7 (samples to 7 * 320 + 400).
  const auto& x = speech();
  const int64_t needed = 7 * 320 + 400;
  EXPECT_EQ(s.push(x.data(), static_cast<size_t>(needed - 1)).features.frames, 0);
  const acoustok::StreamStep step = s.push(x.data() + needed - 1, 1);
  EXPECT_EQ(step.first_frame, 0);
  EXPECT_EQ(step.features.frames, 5);
  s.push(x.data() + needed, 320 * 12);  // 12 frames more: two chunks leave, 2 frames wait
  EXPECT_EQ(s.frames_given(), 15);
  EXPECT_EQ(s.finish().features.frames, 5);  // at the end, the last chunk sees what there is
}

TEST(StreamingFeatures, SettingsThatCannotWorkAreRefusedNamingTheRule) {
  auto fx = load(unnormalised_xlsr());
  const auto error_of = [&](const acoustok::StreamingOptions& o) -> std::string {
    try {
      acoustok::StreamingFeatures s(*fx, o);
    } catch (const acoustok::Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of(options(10, 100, 100)).find("at least one frame"), std::string::npos);
  acoustok::StreamingOptions wide = options(320, 2000, 1000);
  wide.max_window_ns = 3000 * kMs;
  EXPECT_NE(error_of(wide).find("fit in max-window-time"), std::string::npos);
  wide.lookahead_ns = 1600 * kMs;  // 16 + 80 + 50 frames = 2.92 s: fits
  EXPECT_EQ(error_of(wide), "");
  EXPECT_NE(error_of(options(320, 4'000'000, 0)).find("at most 3600 s"), std::string::npos);
}

TEST(StreamingFeatures, NonFiniteSamplesAreAnError) {
  auto fx = load(unnormalised_xlsr());
  acoustok::StreamingFeatures s(*fx, options(100, 60, 400));
  std::vector<float> x(1000, 0.1f);
  x[500] = NAN;
  EXPECT_THROW(s.push(x.data(), x.size()), acoustok::Error);
}

}  // namespace
