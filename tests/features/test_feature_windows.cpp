// SPDX-License-Identifier: MIT
// FeatureWindows, the windowing xlsrfeat and `acoustok features` share, with
// a stand-in extractor (no LibTorch): every frame of a span comes out once,
// in order, from a window that gives it the context asked for.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/feature_windows.hpp"

namespace {

// Samples carry their index in the span; a frame's row says which sample it
// starts at and how much audio its window has before and after it.
class IndexExtractor : public acoustok::FeatureExtractor {
 public:
  int64_t dim() const override { return 3; }
  int layer() const override { return 1; }
  int num_layers() const override { return 1; }
  const std::string& model_name() const override { return name_; }
  acoustok::Features extract(const float* x, size_t count) override {
    acoustok::Features f;
    f.dim = 3;
    f.frames = acoustok::feature_frames(static_cast<int64_t>(count));
    for (int64_t j = 0; j < f.frames; ++j) {
      f.data.push_back(x[320 * j]);
      f.data.push_back(static_cast<float>(320 * j));
      f.data.push_back(static_cast<float>(static_cast<int64_t>(count) - (320 * j + 400)));
    }
    ++calls;
    return f;
  }
  int calls = 0;

 private:
  std::string name_ = "index";
};

struct Frame {
  float start, before, after;
};

// Feeds n samples as the element does (a window whenever one is held, the
// rest at the end) and returns the frames in order.
std::vector<Frame> run_span(acoustok::FeatureWindows& w, IndexExtractor& ex, int64_t n) {
  std::vector<float> held;
  std::vector<Frame> out;
  int64_t next = 0;
  auto step = [&](int64_t count, bool complete) {
    const auto s = w.run(ex, w.gives_frames(count, complete) ? held.data() : nullptr, count, complete);
    EXPECT_EQ(s.first_frame, s.frames > 0 ? static_cast<int64_t>(out.size()) : s.first_frame);
    for (int64_t r = s.row; r < s.row + s.frames; ++r) {
      const float* row = s.features.data.data() + r * 3;
      out.push_back({row[0], row[1], row[2]});
    }
    held.erase(held.begin(), held.begin() + s.drop);
  };
  while (next < n) {
    held.push_back(static_cast<float>(next++));
    if (static_cast<int64_t>(held.size()) >= w.window_samples()) step(w.window_samples(), false);
  }
  step(static_cast<int64_t>(held.size()), true);
  return out;
}

}  // namespace

TEST(FeatureWindows, EveryFrameOnceWithItsContext) {
  // 4 s windows, 1 s of context (50 frames): the element's test settings.
  acoustok::FeatureWindows w({4'000'000'000ull, 1'000'000'000ull});
  EXPECT_EQ(w.window_samples(), 64000);
  EXPECT_EQ(w.context_frames(), 50);
  for (int64_t n : {int64_t{399}, int64_t{400}, int64_t{63999}, int64_t{64000}, int64_t{64001},
                    int64_t{192492}, int64_t{500000}}) {
    IndexExtractor ex;
    const auto frames = run_span(w, ex, n);
    ASSERT_EQ(static_cast<int64_t>(frames.size()), acoustok::feature_frames(n)) << n;
    const float context = 50 * 320;
    for (size_t i = 0; i < frames.size(); ++i) {
      ASSERT_EQ(frames[i].start, static_cast<float>(320 * i)) << n << " frame " << i;
      // At least the context on each side, or the span's own edge.
      EXPECT_TRUE(frames[i].before >= context || frames[i].before == 320.0f * static_cast<float>(i))
          << n << " " << i;
      EXPECT_TRUE(frames[i].after >= context ||
                  frames[i].start + 400 + frames[i].after == static_cast<float>(n))
          << n << " " << i;
    }
    if (n > 64000) {
      EXPECT_GE(ex.calls, 2) << n;
    }
    // Ready for the next span.
    EXPECT_EQ(w.base(), 0);
    EXPECT_EQ(w.next_frame(), 0);
  }
}

TEST(FeatureWindows, RefusesAContextOfHalfTheWindow) {
  EXPECT_FALSE(acoustok::FeatureWindows::fits({4'000'000'000ull, 2'000'000'000ull}));
  EXPECT_TRUE(acoustok::FeatureWindows::fits({4'000'000'000ull, 1'950'000'000ull}));
  EXPECT_THROW(acoustok::FeatureWindows({1'000'000'000ull, 500'000'000ull}), acoustok::Error);
  // Sizes as GStreamer's times allow them do not overflow.
  EXPECT_TRUE(acoustok::FeatureWindows::fits({~0ull, 0}));
  EXPECT_FALSE(acoustok::FeatureWindows::fits({~0ull, ~0ull}));
}
