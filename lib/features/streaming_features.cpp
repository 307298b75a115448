// SPDX-License-Identifier: MIT
#include "acoustok/streaming_features.hpp"

#include <algorithm>
#include <cmath>

#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"

namespace acoustok {
namespace {

using grid::kHop;
using grid::kReceptiveField;

// Whole frames covering `ns`, rounded up, without overflow for any uint64.
int64_t frames_of(uint64_t ns) {
  return static_cast<int64_t>(ns / grid::kFrameNanoseconds + (ns % grid::kFrameNanoseconds != 0));
}

// The samples frames [first, last) see.
int64_t first_sample(int64_t frame) { return frame * kHop; }
int64_t end_sample(int64_t last_frame) { return (last_frame - 1) * kHop + kReceptiveField; }

}  // namespace

std::string StreamingFeatures::check(const StreamingOptions& o) {
  if (o.chunk_ns < grid::kFrameNanoseconds) return "chunk-time must be at least one frame (20 ms)";
  // Each part below an hour (a typo cannot ask for more), so the sum cannot overflow.
  constexpr uint64_t kHour = 3600ull * 1000000000ull;
  if (o.chunk_ns > kHour || o.lookahead_ns > kHour || o.context_ns > kHour) {
    return "chunk-time, lookahead-time and context-time must each be at most 3600 s";
  }
  const int64_t frames = frames_of(o.context_ns) + frames_of(o.chunk_ns) + frames_of(o.lookahead_ns);
  constexpr uint64_t kNsPerSample = 1000000000ull / grid::kSampleRate;
  const int64_t window_frames =
      grid::frames_for_samples(static_cast<int64_t>(o.max_window_ns / kNsPerSample));
  if (frames > window_frames) {
    return "context-time + chunk-time + lookahead-time (rounded up to 20 ms frames) must fit in "
           "max-window-time";
  }
  return {};
}

StreamingFeatures::StreamingFeatures(FeatureExtractor& extractor, const StreamingOptions& options)
    : extractor_(extractor),
      chunk_(frames_of(options.chunk_ns)),
      lookahead_(frames_of(options.lookahead_ns)),
      context_(frames_of(options.context_ns)),
      recompute_(std::min(frames_of(options.recompute_ns), frames_of(options.context_ns))),
      mode_(options.mode),
      recompute_all_(options.mode == StreamingOptions::Mode::recompute_all),
      normalize_(extractor.normalizes_input()),
      cache_(!recompute_all_ && extractor.frame_local_front_end()) {
  const std::string rule = check(options);
  if (!rule.empty()) throw Error(rule);
  if (mode_ == StreamingOptions::Mode::reuse_context) state_ = extractor_.new_encoder_state();
}

int64_t StreamingFeatures::wait_samples() const { return (chunk_ + lookahead_ - 1) * kHop; }

void StreamingFeatures::reset() {
  pushed_ = 0;
  next_frame_ = 0;
  samples_.clear();
  sample_base_ = 0;
  front_.clear();
  front_base_ = 0;
  front_done_ = 0;
  sum_ = sum_squares_ = 0;
  stats_pos_ = 0;
  if (mode_ == StreamingOptions::Mode::reuse_context) state_ = extractor_.new_encoder_state();
}

bool StreamingFeatures::chunk_ready() const {
  return next_frame_ + chunk_ + lookahead_ <= grid::frames_for_samples(pushed_);
}

StreamStep StreamingFeatures::push(const float* samples, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(samples[i])) {
      throw Error("audio sample " + std::to_string(pushed_ + static_cast<int64_t>(i)) + " is " +
                  (std::isnan(samples[i]) ? "NaN" : "infinite") + ": cannot compute features");
    }
  }
  samples_.insert(samples_.end(), samples, samples + count);
  pushed_ += static_cast<int64_t>(count);
  StreamStep step;
  step.first_frame = next_frame_;
  step.features.dim = extractor_.dim();
  while (chunk_ready()) run_chunk(next_frame_ + chunk_, false, step);
  drop_unneeded();
  return step;
}

StreamStep StreamingFeatures::finish() {
  StreamStep step;
  step.first_frame = next_frame_;
  step.features.dim = extractor_.dim();
  const int64_t all = grid::frames_for_samples(pushed_);
  while (next_frame_ < all) run_chunk(std::min(all, next_frame_ + chunk_), true, step);
  reset();
  return step;
}

// Frames [next_frame_, end) from the model run on the audio visible to them.
void StreamingFeatures::run_chunk(int64_t end, bool complete, StreamStep& step) {
  const int64_t all = grid::frames_for_samples(pushed_);
  const int64_t first = std::max<int64_t>(0, next_frame_ - context_);
  const int64_t last = complete ? std::min(all, end + lookahead_) : end + lookahead_;
  // The audio it sees: at the end of the segment, also the samples after the
  // last frame's window, as extract() on the whole segment sees them.
  const int64_t audio_end = complete && last == all ? pushed_ : end_sample(last);
  Features out;
  int64_t out_first = first;  // the frame of out's row 0
  if (recompute_all_) {
    const int64_t from = first_sample(first) - sample_base_;
    out = extractor_.extract(samples_.data() + from, static_cast<size_t>(audio_end - first_sample(first)));
  } else if (mode_ == StreamingOptions::Mode::recompute_context) {
    out = extractor_.encode(visible_front_end(first, last, audio_end));
  } else {
    // The recent context goes through the transformer again (its old keys
    // and values forgotten); the rest of the context's front-end rows feed
    // the positional conv only.
    const int64_t again = std::max(first, next_frame_ - recompute_);
    out = extractor_.encode_next(*state_, visible_front_end(first, last, audio_end), again - first,
                                 end - again, context_, next_frame_ - again);
    out_first = again;
  }
  if (out.frames != last - out_first)
    throw Error("streaming features: the model gave the wrong number of frames");
  const auto row = static_cast<size_t>(out.dim);
  step.features.data.insert(
      step.features.data.end(),
      out.data.begin() + static_cast<std::ptrdiff_t>((next_frame_ - out_first) * out.dim),
      out.data.begin() + static_cast<std::ptrdiff_t>((end - out_first) * out.dim));
  step.features.frames = static_cast<int64_t>(step.features.data.size() / row);
  next_frame_ = end;
}

// Front-end frames [first, last): from the cache (frame-local front ends),
// else through the front end on the visible audio.
Features StreamingFeatures::visible_front_end(int64_t first, int64_t last, int64_t audio_end) {
  if (!cache_) {
    const std::vector<float> x = normalized(first_sample(first), audio_end, audio_end);
    return extractor_.front_end(x.data(), x.size());
  }
  cache_front_end(last, audio_end);
  Features f;
  f.dim = extractor_.dim();
  f.frames = last - first;
  f.data.assign(front_.begin() + static_cast<std::ptrdiff_t>((first - front_base_) * f.dim),
                front_.begin() + static_cast<std::ptrdiff_t>((last - front_base_) * f.dim));
  return f;
}

// Frames [front_done_, until) through the front end, once, normalised by the
// statistics of the audio up to audio_end.
void StreamingFeatures::cache_front_end(int64_t until, int64_t audio_end) {
  if (until <= front_done_) return;
  const std::vector<float> x = normalized(first_sample(front_done_), end_sample(until), audio_end);
  const Features f = extractor_.front_end(x.data(), x.size());
  if (f.frames != until - front_done_)
    throw Error("streaming features: the front end gave the wrong number of frames");
  front_.insert(front_.end(), f.data.begin(), f.data.end());
  front_done_ = until;
}

// Samples [from, to), normalised (when the model asks for it) by the running
// statistics of the segment's samples [0, stats_until).
std::vector<float> StreamingFeatures::normalized(int64_t from, int64_t to, int64_t stats_until) {
  std::vector<float> x(samples_.begin() + static_cast<std::ptrdiff_t>(from - sample_base_),
                       samples_.begin() + static_cast<std::ptrdiff_t>(to - sample_base_));
  if (!normalize_) return x;
  count_stats(stats_until);
  const double n = static_cast<double>(stats_pos_);
  const double mean = sum_ / n;
  const double var = std::max(0.0, sum_squares_ / n - mean * mean);
  const double scale = 1.0 / std::sqrt(var + 1e-7);  // as FeatureExtractor::extract
  for (float& v : x) v = static_cast<float>((v - mean) * scale);
  return x;
}

void StreamingFeatures::count_stats(int64_t until) {
  for (; stats_pos_ < until; ++stats_pos_) {
    const double v = samples_[static_cast<size_t>(stats_pos_ - sample_base_)];
    sum_ += v;
    sum_squares_ += v * v;
  }
}

// Keeps what the next chunk needs: its context's front-end frames and the
// samples not yet through the front end (or, recomputing, its visible audio),
// and any sample not yet counted in the statistics.
void StreamingFeatures::drop_unneeded() {
  const int64_t first = std::max<int64_t>(0, next_frame_ - context_);
  if (cache_ && first > front_base_) {
    front_.erase(front_.begin(),
                 front_.begin() + static_cast<std::ptrdiff_t>((first - front_base_) * extractor_.dim()));
    front_base_ = first;
  }
  int64_t keep = cache_ ? first_sample(front_done_) : first_sample(first);
  if (normalize_ && !recompute_all_) keep = std::min(keep, stats_pos_);
  keep = std::min(keep, pushed_);
  if (keep > sample_base_) {
    samples_.erase(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(keep - sample_base_));
    sample_base_ = keep;
  }
}

}  // namespace acoustok
