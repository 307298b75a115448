// SPDX-License-Identifier: MIT
#include <algorithm>
#include <cmath>
#include <string>

#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/vocoder.hpp"

namespace acoustok {

static_assert(StreamingVocoder::kCrossfadeSamples <= grid::kHop, "the crossfade lies within one frame");

StreamingVocoder::StreamingVocoder(Vocoder& vocoder, int chunk_frames, int context_frames,
                                   int lookahead_frames)
    : vocoder_(vocoder),
      chunk_(chunk_frames),
      context_(context_frames < 0 ? vocoder.config().receptive_field_frames() : context_frames),
      lookahead_(lookahead_frames < 0 ? context_ : lookahead_frames) {
  if (chunk_ < 1) throw Error("streaming vocoder: chunk must be at least one frame");
  if (lookahead_ > context_)
    throw Error("streaming vocoder: lookahead (" + std::to_string(lookahead_) +
                " frames) must not exceed the context (" + std::to_string(context_) + " frames)");
}

void StreamingVocoder::reset() {
  base_ = 0;
  emitted_ = 0;
  units_.clear();
  continuation_.clear();
  reduced_.clear();
  reduced_decided_ = 0;
  predicted_.clear();
}

std::vector<float> StreamingVocoder::push(const int32_t* units, size_t count) {
  // Frames after reduced units still waiting for their durations would
  // overtake them.
  if (reduced_pending() > 0)
    throw Error("streaming vocoder: frames pushed while reduced units wait for their predicted durations");
  return push_frames(units, count);
}

std::vector<float> StreamingVocoder::push_reduced(const int32_t* units, const int32_t* durations,
                                                  size_t count) {
  const auto frames = expand_durations(units, count, std::vector<int32_t>(durations, durations + count));
  return push(frames.data(), frames.size());
}

std::vector<float> StreamingVocoder::push_reduced(const int32_t* units, size_t count) {
  if (!vocoder_.config().has_duration_predictor())
    throw Error(
        "streaming vocoder: this vocoder has no duration predictor (no dur_predictor_params in its config)");
  reduced_.insert(reduced_.end(), units, units + count);
  return predict_ready(false);
}

std::vector<int32_t> StreamingVocoder::take_predicted_durations() {
  std::vector<int32_t> out;
  out.swap(predicted_);
  return out;
}

// The predictor is local: a unit's duration depends on the units within
// duration_context_units() of it. So the waiting units that have that many
// after them (all of them at the end) are predicted over a window holding
// that many before them too, exactly as over the whole utterance.
std::vector<float> StreamingVocoder::predict_ready(bool at_end) {
  const auto context = static_cast<size_t>(duration_context_units());
  const size_t waiting = reduced_pending();
  const size_t ready = at_end ? waiting : (waiting > context ? waiting - context : 0);
  if (ready == 0) return {};
  const size_t window = at_end ? reduced_.size() : reduced_decided_ + ready + context;
  const auto all = vocoder_.predict_durations(reduced_.data(), window);
  if (all.size() != window)
    throw Error("streaming vocoder: the duration predictor gave a wrong number of durations");
  const std::vector<int32_t> durations(all.begin() + static_cast<std::ptrdiff_t>(reduced_decided_),
                                       all.begin() + static_cast<std::ptrdiff_t>(reduced_decided_ + ready));
  const auto frames = expand_durations(reduced_.data() + reduced_decided_, ready, durations);
  predicted_.insert(predicted_.end(), durations.begin(), durations.end());
  reduced_decided_ += ready;
  // Only the left context of the next window stays.
  const size_t drop = reduced_decided_ > context ? reduced_decided_ - context : 0;
  reduced_.erase(reduced_.begin(), reduced_.begin() + static_cast<std::ptrdiff_t>(drop));
  reduced_decided_ -= drop;
  return push_frames(frames.data(), frames.size());
}

std::vector<float> StreamingVocoder::push_frames(const int32_t* units, size_t count) {
  units_.insert(units_.end(), units, units + count);
  std::vector<float> out;
  // A chunk is final once `lookahead_` frames beyond it have arrived.
  while (frames_pushed() >= emitted_ + chunk_ + lookahead_) {
    std::vector<float> part = synthesize_until(emitted_ + chunk_, false);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::vector<float> StreamingVocoder::finish() {
  std::vector<float> out = predict_ready(true);
  if (frames_pushed() > emitted_) {
    const auto rest = synthesize_until(frames_pushed(), true);
    out.insert(out.end(), rest.begin(), rest.end());
  }
  // The durations predicted here stay for take_predicted_durations().
  std::vector<int32_t> predicted = std::move(predicted_);
  reset();
  predicted_ = std::move(predicted);
  return out;
}

// Samples of units [emitted_, end): synthesises [emitted_ - context, end +
// lookahead) clipped to what exists, keeps the middle. With a short
// lookahead the run goes on to end + context with the last unit repeated
// (units come in runs, so the last one is the likeliest next one: on the
// v1-sized generator this halves the distance from whole synthesis of
// zero-padding, tests/bench/bench_vocoder_lookahead.cpp), and its samples of
// frame `end` are kept as the next chunk's crossfade source.
std::vector<float> StreamingVocoder::synthesize_until(int64_t end, bool at_end) {
  const int64_t from = std::max<int64_t>(base_, emitted_ - context_);
  const int64_t to = at_end ? frames_pushed() : std::min(frames_pushed(), end + lookahead_);
  std::vector<int32_t> input(units_.begin() + (from - base_), units_.begin() + (to - base_));
  const bool continue_past = crossfades() && !at_end;
  const int32_t last = input.back();
  if (continue_past) input.resize(static_cast<size_t>(end + context_ - from), last);
  std::vector<float> audio = vocoder_.synthesize(input.data(), input.size());
  const auto skip = static_cast<size_t>((emitted_ - from) * grid::kHop);
  const auto keep = static_cast<size_t>((end - emitted_) * grid::kHop);
  std::vector<float> out(audio.begin() + static_cast<std::ptrdiff_t>(skip),
                         audio.begin() + static_cast<std::ptrdiff_t>(skip + keep));
  if (!continuation_.empty()) {
    // Equal gain: both are versions of the same frame, strongly correlated.
    constexpr double kPi = 3.14159265358979323846;
    for (size_t i = 0; i < continuation_.size(); ++i) {
      const double w = 0.5 - 0.5 * std::cos(kPi * (static_cast<double>(i) + 0.5) / kCrossfadeSamples);
      out[i] = static_cast<float>((1.0 - w) * continuation_[i] + w * out[i]);
    }
  }
  continuation_.clear();
  if (continue_past) {
    const auto at = audio.begin() + static_cast<std::ptrdiff_t>(skip + keep);
    continuation_.assign(at, at + kCrossfadeSamples);
  }
  emitted_ = end;
  // Units older than the left context of the next chunk are no longer needed.
  const int64_t keep_from = std::max<int64_t>(base_, emitted_ - context_);
  units_.erase(units_.begin(), units_.begin() + (keep_from - base_));
  base_ = keep_from;
  return out;
}

}  // namespace acoustok
