// SPDX-License-Identifier: MIT
// Features of audio too long to run through the model at once: the span is
// cut into windows of at most max-window which overlap so that every frame
// comes from a window where it has at least `context` of audio on each side
// (or the span's edge). Each window is normalised and run on its own; of its
// frames, those that still lack right context are left to the next window.
// The xlsrfeat element (a stream without segment events, or a long segment)
// and `acoustok features` both cut this way, so their frames are the same.
#pragma once

#include <cstdint>

#include "acoustok/features.hpp"

namespace acoustok {

// Sizes in nanoseconds, as the element's properties give them.
struct WindowOptions {
  uint64_t max_window_ns = 30'000'000'000ull;
  uint64_t context_ns = 2'000'000'000ull;
};

// What one window gives: rows [row, row + frames) of `features` are the span's
// frames [first_frame, first_frame + frames); the caller then drops `drop`
// samples from the head of the audio it holds.
struct WindowStep {
  Features features;
  int64_t row = 0;
  int64_t first_frame = 0;
  int64_t frames = 0;
  int64_t drop = 0;
};

// Thread-safety: one thread at a time; it holds one span's position.
class FeatureWindows {
 public:
  // Throws acoustok::Error unless a window keeps at least one frame beyond
  // its two contexts (the context is less than half of the window).
  explicit FeatureWindows(const WindowOptions& options);
  static bool fits(const WindowOptions& options);

  int64_t window_samples() const { return window_samples_; }
  int64_t context_frames() const { return context_frames_; }
  // The caller holds the span's audio from this sample on.
  int64_t base() const { return base_; }
  // Frames before this one were given.
  int64_t next_frame() const { return next_frame_; }

  // Whether running `count` held samples gives frames: else run() needs no
  // samples (it may get null).
  bool gives_frames(int64_t count, bool complete) const;
  // Runs `count` held samples: a full window (window_samples(), more of the
  // span to come) or, `complete`, the rest of the span, after which this
  // object is ready for a new span.
  WindowStep run(FeatureExtractor& extractor, const float* samples, int64_t count, bool complete);
  void reset();

 private:
  int64_t last_frame(int64_t count, bool complete) const;

  int64_t window_samples_ = 0;
  int64_t context_frames_ = 0;
  int64_t base_ = 0;  // a multiple of the hop: window frames sit on the span's grid
  int64_t next_frame_ = 0;
};

}  // namespace acoustok
