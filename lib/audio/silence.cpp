// SPDX-License-Identifier: MIT
#include "acoustok/silence.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "acoustok/error.hpp"

namespace acoustok {
namespace {

int64_t to_ms(double seconds) { return static_cast<int64_t>(std::llround(seconds * 1000.0)); }

constexpr double kMaxSeconds = grid::kMaxDurationSeconds;

}  // namespace

void SilenceOptions::validate() const {
  if (sample_rate <= 0 || sample_rate % 1000 != 0)
    throw Error("sample rate must be a positive multiple of 1000 Hz");
  if (!std::isfinite(threshold_db) || threshold_db > 0)
    throw Error("threshold-db must be a finite value <= 0 dBFS");
  // Each duration sizes a buffer of the splitter (8 bytes per millisecond):
  // an hour at most, so a typo cannot ask for gigabytes.
  if (!(min_silence >= 0.001 && min_silence <= kMaxSeconds))
    throw Error("min-silence must be between 1 ms and 3600 s (1 hour)");
  if (!(keep_silence >= 0 && keep_silence <= kMaxSeconds))
    throw Error("keep-silence must be between 0 and 3600 s (1 hour)");
  if (!(min_segment >= 0 && min_segment <= kMaxSeconds))
    throw Error("min-segment must be between 0 and 3600 s (1 hour)");
  if (!(max_segment >= 0 && max_segment <= kMaxSeconds))
    throw Error("max-segment must be between 0 and 3600 s (1 hour)");
  if (max_segment > 0 && max_segment < 2 * keep_silence + 0.04) {
    throw Error("max-segment must be at least twice keep-silence plus 40 ms");
  }
  if (max_segment > 0 && min_segment > 0 && max_segment < 2 * min_segment) {
    throw Error("max-segment must be at least twice min-segment");
  }
  // Low latency passes speech on before its segment is decided, so nothing
  // may depend on the audio after it.
  if (low_latency && min_segment > 0) {
    throw Error(
        "min-segment must be 0 in low-latency mode (merging a short segment needs the segment after it)");
  }
  if (low_latency && max_segment > 0 && max_segment <= min_silence) {
    throw Error(
        "max-segment must be longer than min-silence in low-latency mode (a segment's start is known only "
        "min-silence after it)");
  }
}

SilenceSplitter::SilenceSplitter(const SilenceOptions& options) : opt_(options) {
  opt_.validate();
  step_ = opt_.sample_rate / 1000;
  min_sil_ = to_ms(opt_.min_silence);
  keep_ = to_ms(opt_.keep_silence);
  min_seg_ = to_ms(opt_.min_segment);
  max_seg_ = to_ms(opt_.max_segment);
  // pydub: db_to_float(dB) * max_possible_amplitude, compared with audioop.rms.
  threshold_amp_ = std::pow(10.0, opt_.threshold_db / 20.0) * 32768.0;
  window_ring_.assign(static_cast<size_t>(min_sil_), 0.0);
  if (max_seg_ > 0) energy_ring_.assign(static_cast<size_t>(max_seg_ + min_sil_ + 64), 0.0);
}

void SilenceSplitter::push(const float* samples, size_t count) {
  if (finished_) throw Error("silence splitter: push after finish");
  for (size_t k = 0; k < count; ++k) {
    // 16-bit scale: PCM16 input gives exact integers, as audioop sees them.
    const double v = static_cast<double>(samples[k]) * 32768.0;
    partial_energy_ += v * v;
    ++pushed_;  // counted first: a block's decisions see all of its samples
    if (++partial_count_ == step_) {
      add_block(partial_energy_);
      partial_energy_ = 0;
      partial_count_ = 0;
    }
  }
}

void SilenceSplitter::add_block(double energy) {
  const int64_t b = blocks_++;
  double& slot = window_ring_[static_cast<size_t>(b % min_sil_)];
  window_sum_ += energy - slot;
  slot = energy;
  if (!energy_ring_.empty())
    energy_ring_[static_cast<size_t>(b % static_cast<int64_t>(energy_ring_.size()))] = energy;
  // Integer energies keep the running sum exact; for other input, re-add the
  // ring now and then so rounding cannot drift.
  if (++since_resum_ >= 4096) {
    since_resum_ = 0;
    window_sum_ = 0;
    for (double e : window_ring_) window_sum_ += e;
  }
  const int64_t i = blocks_ - min_sil_;
  if (i < 0) {
    if (opt_.low_latency) release_undecided();  // the input's start may be speech
    return;
  }
  // audioop.rms: (unsigned int)sqrt(sum_squares / n)
  // Rounding can leave a tiny negative sum after loud input: clamp it.
  const double sum = std::max(window_sum_, 0.0);
  const double rms = std::floor(std::sqrt(sum / static_cast<double>(min_sil_ * step_)));
  next_window_ = i + 1;
  evaluate_window(i, rms <= threshold_amp_);
  if (opt_.low_latency && max_seg_ > 0) maybe_cut_at_limit();
  if (opt_.low_latency) release_undecided();
}

void SilenceSplitter::evaluate_window(int64_t i, bool silent) {
  if (!in_silence_) {
    if (silent) {
      raw_segment_done(open_start_, i, false);
      in_silence_ = true;
      range_start_ = last_silent_ = i;
    } else if (max_seg_ > 0 && !opt_.low_latency) {
      maybe_force_split(i + 1);
    }
    return;
  }
  if (silent) {
    last_silent_ = i;  // overlaps or continues the open range
  } else if (i >= last_silent_ + min_sil_) {
    // No later silent window can join this range: it ends here.
    in_silence_ = false;
    open_start_ = last_silent_ + min_sil_;
    place_pending(open_start_ - keep_);
  }
}

void SilenceSplitter::raw_segment_done(int64_t start, int64_t end, bool forced_end) {
  if (start == 0 && end == 0) return;  // pydub drops a leading [0, 0]
  pending_ = Pending{open_padded_, end, forced_end};
  // Paddings can only collide when the pause is shorter than two paddings.
  if (2 * keep_ <= min_sil_) place_pending(std::nullopt);
}

void SilenceSplitter::place_pending(std::optional<int64_t> next_padded_start) {
  int64_t next_start = next_padded_start.value_or(std::numeric_limits<int64_t>::max());
  if (pending_) {
    int64_t end = pending_->raw_end + keep_;
    if (next_padded_start && next_start < end) {
      // split_on_silence: both paddings meet at the midpoint.
      end = (end + next_start) / 2;
      next_start = end;
    }
    emit(pending_->start, end);
    pending_.reset();
  }
  if (next_padded_start) open_padded_ = std::max<int64_t>(next_start, 0);
}

void SilenceSplitter::maybe_force_split(int64_t segment_reaches) {
  if (segment_reaches + keep_ - open_padded_ < max_seg_) return;
  const int64_t q = quietest_ms(open_padded_ + max_seg_ / 2, segment_reaches);
  emit(open_padded_, q);
  open_start_ = open_padded_ = q;
}

// Low latency: the speech up to the last release is gone already, so the
// segment ends where its audio reaches max_segment, decided when the
// releases get there (the next one starts at that sample). Until the pause
// is heard, speech that ended just before counts as open.
void SilenceSplitter::maybe_cut_at_limit() {
  if (in_silence_ || pending_) return;
  const int64_t cut = open_padded_ + max_seg_;
  // finish() adds a block past the data: a cut there is the input's end.
  if (blocks_ - keep_ < cut || cut * step_ > pushed_) return;
  emit(open_padded_, cut);
  open_start_ = open_padded_ = cut;
}

double SilenceSplitter::block_energy(int64_t ms) const {
  const auto ring = static_cast<int64_t>(energy_ring_.size());
  if (ms < 0 || ms >= blocks_ || ms <= blocks_ - ring) return 0.0;
  return energy_ring_[static_cast<size_t>(ms % ring)];
}

int64_t SilenceSplitter::quietest_ms(int64_t lo, int64_t hi) const {
  // Energy of the 20 ms around each candidate cut; the first minimum wins.
  constexpr int64_t kHalf = 10;
  int64_t best = hi;
  double best_energy = std::numeric_limits<double>::infinity();
  for (int64_t j = lo; j <= hi; ++j) {
    double e = 0;
    for (int64_t k = j - kHalf; k < j + kHalf; ++k) e += block_energy(k);
    if (e < best_energy) {
      best_energy = e;
      best = j;
    }
  }
  return best;
}

void SilenceSplitter::emit(int64_t start_ms, int64_t end_ms) {
  int64_t start = std::max<int64_t>(start_ms, 0) * step_;
  int64_t end = end_ms * step_;
  if (finished_) end = std::min(end, pushed_);
  start = std::min(start, end);
  last_end_ms_ = end_ms;
  emit_samples(start, end);
}

void SilenceSplitter::emit_samples(int64_t start, int64_t end) {
  if (end <= start) return;
  const Segment seg{0, start, end};
  if (min_seg_ == 0) {
    ready_.push_back(Segment{next_index_++, start, end});
    if (opt_.low_latency) {
      release(Release::drop, start);
      release(Release::pass, end);
      releases_.push_back({Release::announce, end, ready_.back()});
    }
    return;
  }
  if (!held_) {
    held_ = seg;
    return;
  }
  const int64_t min_len = min_seg_ * step_;
  const bool one_is_short = held_->end - held_->start < min_len || end - start < min_len;
  const bool merged_fits = max_seg_ == 0 || end - held_->start <= max_seg_ * step_;
  if (one_is_short && merged_fits) {
    held_->end = end;
  } else {
    held_->index = next_index_++;
    ready_.push_back(*held_);
    held_ = seg;
  }
}

void SilenceSplitter::finish() {
  if (finished_) return;
  // pydub's length in ms: round(1000 * (frames / rate)), half to even.
  const int64_t len_ms =
      static_cast<int64_t>(std::nearbyint(1000.0 * (static_cast<double>(pushed_) / opt_.sample_rate)));
  // Windows that reach past the data see zeros, as pydub pads a short slice.
  if (blocks_ < len_ms) {
    add_block(partial_energy_);
    while (blocks_ < len_ms) add_block(0.0);
  }
  finished_ = true;
  if (in_silence_) {
    const int64_t end = last_silent_ + min_sil_;
    in_silence_ = false;
    if (end < len_ms) {
      open_start_ = end;
      place_pending(end - keep_);
      raw_segment_done(open_start_, len_ms, false);
    }
  } else if (open_start_ < len_ms || (open_start_ == 0 && len_ms == 0 && pushed_ > 0)) {
    raw_segment_done(open_start_, len_ms, false);
  }
  // The last segment runs to the true end of the input, not pydub's ms grid.
  if (pending_ && pending_->raw_end >= len_ms) {
    emit_samples(std::max<int64_t>(pending_->start, 0) * step_, pushed_);
    pending_.reset();
  } else {
    place_pending(std::nullopt);
  }
  if (held_) {
    held_->index = next_index_++;
    ready_.push_back(*held_);
    held_.reset();
  }
  if (opt_.low_latency) release(Release::drop, pushed_);
}

std::vector<Segment> SilenceSplitter::take_segments() {
  std::vector<Segment> out(ready_.begin(), ready_.end());
  ready_.clear();
  return out;
}

std::optional<OpenSegment> SilenceSplitter::open_segment() const {
  if (finished_ || in_silence_ || min_seg_ > 0 || pending_) return std::nullopt;
  OpenSegment open{open_padded_ * step_, next_window_ * step_};
  // A forced split can still cut at max_segment/2 after the start (low
  // latency: at max_segment).
  if (max_seg_ > 0) {
    const int64_t earliest_cut = open_padded_ + (opt_.low_latency ? max_seg_ : max_seg_ / 2);
    open.certain_end = std::min(open.certain_end, earliest_cut * step_);
  }
  open.certain_end = std::max(open.certain_end, open.start);
  return open;
}

int64_t SilenceSplitter::keep_from() const {
  int64_t from;
  if (finished_) {
    from = pushed_;
  } else if (in_silence_) {
    from = std::max<int64_t>(last_silent_ + min_sil_ - keep_, 0) * step_;
  } else {
    from = open_padded_ * step_;
  }
  if (pending_) from = std::min(from, std::max<int64_t>(pending_->start, 0) * step_);
  if (held_) from = std::min(from, held_->start);
  return std::min(from, pushed_);
}

int64_t SilenceSplitter::latency_samples() const { return (min_sil_ + keep_ + 1) * step_; }

void SilenceSplitter::release(Release::Kind kind, int64_t end) {
  if (end <= released_) return;
  if (!releases_.empty() && releases_.back().kind == kind) {
    releases_.back().end = end;
  } else {
    releases_.push_back({kind, end, {}});
  }
  released_ = end;
}

// After each whole ms: while the input stays silent keep_from() is the start
// of its last keep_silence, so releasing up to there passes nothing it will
// call silence; once a window hears sound, keep_from() stops where that
// segment would start, and everything after it goes out keep_silence later.
void SilenceSplitter::release_undecided() {
  const int64_t now = std::min(blocks_ * step_, pushed_);  // finish() adds blocks past the data
  const int64_t reach = std::max<int64_t>(now - keep_ * step_, 0);
  if (pending_) {
    // Paddings that may overlap: every sample up to the pending segment's
    // latest end belongs to it or to the next one (they meet at a midpoint);
    // after it, silence up to where the next segment may start.
    const int64_t pending_end = std::min((pending_->raw_end + keep_) * step_, now);
    release(Release::drop, std::max<int64_t>(pending_->start, 0) * step_);
    release(Release::pass, std::min(reach, pending_end));
    if (reach <= pending_end) return;
    const int64_t next_from =
        in_silence_ ? std::max<int64_t>(last_silent_ + min_sil_ - keep_, 0) * step_ : pending_end;
    release(Release::drop, std::min(next_from, now));
    release(Release::pass, reach);
    return;
  }
  release(Release::drop, keep_from());
  int64_t end = reach;
  if (const auto open = open_segment()) end = std::max(end, open->certain_end);
  release(Release::pass, std::min(end, now));
}

std::vector<SilenceSplitter::Release> SilenceSplitter::take_releases() {
  std::vector<Release> out;
  out.swap(releases_);
  ready_.clear();
  return out;
}

int64_t SilenceSplitter::release_latency_samples() const { return (keep_ + 1) * step_; }

std::vector<Segment> split_on_silence(const std::vector<float>& samples, const SilenceOptions& options) {
  SilenceSplitter splitter(options);
  splitter.push(samples.data(), samples.size());
  splitter.finish();
  return splitter.take_segments();
}

}  // namespace acoustok
