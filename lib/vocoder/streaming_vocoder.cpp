// SPDX-License-Identifier: MIT
#include <algorithm>

#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/vocoder.hpp"

namespace acoustok {

StreamingVocoder::StreamingVocoder(Vocoder& vocoder, int chunk_frames, int context_frames)
    : vocoder_(vocoder),
      chunk_(chunk_frames),
      context_(context_frames < 0 ? vocoder.config().receptive_field_frames() : context_frames) {
  if (chunk_ < 1) throw Error("streaming vocoder: chunk must be at least one frame");
}

void StreamingVocoder::reset() {
  base_ = 0;
  emitted_ = 0;
  units_.clear();
}

std::vector<float> StreamingVocoder::push(const int32_t* units, size_t count) {
  units_.insert(units_.end(), units, units + count);
  std::vector<float> out;
  // A chunk is final once `context_` frames beyond it have arrived.
  while (frames_pushed() >= emitted_ + chunk_ + context_) {
    std::vector<float> part = synthesize_until(emitted_ + chunk_, false);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::vector<float> StreamingVocoder::finish() {
  std::vector<float> out;
  if (frames_pushed() > emitted_) out = synthesize_until(frames_pushed(), true);
  reset();
  return out;
}

// Samples of units [emitted_, end): synthesises [emitted_ - context, end +
// context) clipped to what exists, keeps the middle.
std::vector<float> StreamingVocoder::synthesize_until(int64_t end, bool at_end) {
  const int64_t from = std::max<int64_t>(base_, emitted_ - context_);
  const int64_t to = at_end ? frames_pushed() : std::min(frames_pushed(), end + context_);
  std::vector<float> audio = vocoder_.synthesize(units_.data() + (from - base_), static_cast<size_t>(to - from));
  const auto skip = static_cast<size_t>((emitted_ - from) * grid::kHop);
  const auto keep = static_cast<size_t>((end - emitted_) * grid::kHop);
  std::vector<float> out(audio.begin() + static_cast<std::ptrdiff_t>(skip),
                         audio.begin() + static_cast<std::ptrdiff_t>(skip + keep));
  emitted_ = end;
  // Units older than the left context of the next chunk are no longer needed.
  const int64_t keep_from = std::max<int64_t>(base_, emitted_ - context_);
  units_.erase(units_.begin(), units_.begin() + (keep_from - base_));
  base_ = keep_from;
  return out;
}

}  // namespace acoustok
