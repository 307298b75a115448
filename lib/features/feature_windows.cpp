// SPDX-License-Identifier: MIT
#include "acoustok/feature_windows.hpp"

#include <algorithm>

#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"

namespace acoustok {
namespace {

using grid::kHop;

// ns * 16000 / 1e9 exactly, rounded down or up (gst_util_uint64_scale and
// _scale_ceil, which the element used), without overflow for any uint64:
// whole milliseconds give 16 samples each, the rest is below 1e6.
int64_t ns_to_samples(uint64_t ns, bool round_up) {
  constexpr uint64_t kNsPerMs = 1000000, kPerMs = grid::kSampleRate / 1000;
  const uint64_t ms = ns / kNsPerMs, rest = (ns % kNsPerMs) * kPerMs;
  return static_cast<int64_t>(ms * kPerMs + (round_up ? (rest + kNsPerMs - 1) / kNsPerMs : rest / kNsPerMs));
}

int64_t window_of(const WindowOptions& o) { return ns_to_samples(o.max_window_ns, false); }
int64_t context_of(const WindowOptions& o) { return (ns_to_samples(o.context_ns, true) + kHop - 1) / kHop; }

}  // namespace

bool FeatureWindows::fits(const WindowOptions& o) {
  // A window must keep at least one frame beyond its two contexts.
  return (2 * context_of(o) + 1) * kHop + grid::kReceptiveField <= window_of(o);
}

FeatureWindows::FeatureWindows(const WindowOptions& options)
    : window_samples_(window_of(options)), context_frames_(context_of(options)) {
  if (!fits(options)) throw Error("the context must be less than half of the window");
}

void FeatureWindows::reset() {
  base_ = 0;
  next_frame_ = 0;
}

// All frames of the audio when the span is complete, else those that still
// have the context of audio after them.
int64_t FeatureWindows::last_frame(int64_t count, bool complete) const {
  const int64_t all = feature_frames(base_ + count);
  return complete ? all : std::max<int64_t>(next_frame_, all - context_frames_);
}

bool FeatureWindows::gives_frames(int64_t count, bool complete) const {
  return last_frame(count, complete) > next_frame_;
}

WindowStep FeatureWindows::run(FeatureExtractor& extractor, const float* samples, int64_t count,
                               bool complete) {
  WindowStep step;
  const int64_t last = last_frame(count, complete);
  if (last > next_frame_) {
    step.features = extractor.extract(samples, static_cast<size_t>(count));
    step.row = next_frame_ - base_ / kHop;
    step.first_frame = next_frame_;
    step.frames = last - next_frame_;
    if (step.row < 0 || step.row + step.frames > step.features.frames) {
      throw Error("feature windows: internal window arithmetic error");
    }
  }
  if (complete) {
    step.drop = count;
    reset();
  } else if (step.frames > 0) {
    // The next window starts the context before its first frame.
    next_frame_ = last;
    const int64_t keep_from = std::max<int64_t>(base_, (last - context_frames_) * kHop);
    step.drop = keep_from - base_;
    base_ = keep_from;
  }
  return step;
}

}  // namespace acoustok
