// SPDX-License-Identifier: MIT
// Streaming silence detection and segmentation (phase 0).
//
// With its defaults the segments are exactly those of pydub's
// detect_nonsilent(audio, min_silence_len=500, silence_thresh=-40,
// seek_step=1) followed by split_on_silence's keep_silence padding:
// a 1 ms step, windows of min_silence, a window is silent when
// floor(rms) <= 10^(dB/20) * 32768 (pydub's integer audioop.rms on 16-bit
// samples), overlapping silent windows form one silent range, and the speech
// between ranges is a segment padded by keep_silence on both sides (split at
// the midpoint when two paddings would overlap).
//
// Samples arrive in chunks of any size; a boundary is reported as soon as no
// later sample can change it. Memory is bounded by min_silence and
// max_segment, never by the input length.
//
// Low-latency mode (SilenceOptions::low_latency) gives the same segments but
// lets a consumer pass speech on before its end is decided: see
// take_releases(). A pause is known only min_silence after it began, but a
// segment's start is never before keep_from(), which trails the input by
// keep_silence while the input is silent; so every sample a segment may
// still take can go out within keep_silence + 1 ms of its arrival. Two rules
// change: min_segment is refused (merging needs the segment after it) and
// max_segment cuts where the limit is reached (the quietest point would lie
// in audio already passed on).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "acoustok/frame_grid.hpp"

namespace acoustok {

struct SilenceOptions {
  double threshold_db = -40.0;          // dBFS; windows at or below are silent
  double min_silence = 0.5;             // s; shortest pause that splits
  double keep_silence = 0.1;            // s of silence kept on each side of a segment
  double min_segment = 0.0;             // s; shorter segments merge with a neighbour (0: off)
  double max_segment = 0.0;             // s; longer speech is split at its quietest point (0: off)
  int sample_rate = grid::kSampleRate;  // a multiple of 1000
  // Speech may be passed on before its segment is decided (take_releases());
  // needs min_segment 0 and max_segment 0 or longer than min_silence, and
  // cuts at max_segment exactly instead of at the quietest point.
  bool low_latency = false;

  // Throws acoustok::Error when a value is out of range.
  void validate() const;
};

// A segment in samples of the input: [start, end), padding included.
struct Segment {
  int64_t index = 0;
  int64_t start = 0;
  int64_t end = 0;
};

// A segment that has started but not yet ended: samples [start, certain_end)
// are sure to belong to it.
struct OpenSegment {
  int64_t start = 0;
  int64_t certain_end = 0;
};

// Thread-safety: one thread at a time; it holds the stream's state.
class SilenceSplitter {
 public:
  explicit SilenceSplitter(const SilenceOptions& options);

  void push(const float* samples, size_t count);
  // End of input: decides everything still open.
  void finish();
  // Completed segments since the last call, in order.
  std::vector<Segment> take_segments();

  // The segment in progress, when its start is certain; absent while
  // min_segment may still merge it.
  std::optional<OpenSegment> open_segment() const;
  // No segment that is not yet taken can start before this sample: earlier
  // samples that are in no taken or open segment are silence.
  int64_t keep_from() const;
  int64_t samples_pushed() const { return pushed_; }
  // The most audio the splitter holds back before deciding, in samples.
  int64_t latency_samples() const;
  // Low-latency mode: what to do with the input since the last call, in
  // order: drop or pass on the samples up to `end`, or announce `segment`
  // (its samples were passed on before it). Whatever may still
  // belong to a segment is passed on before the segment is decided, less
  // than release_latency_samples() after it arrived (when it turns out to be
  // silence, e.g. the beginning of the pause that ends a segment, it went out
  // anyway); a segment is announced as soon as it is decided. Decided at
  // whole milliseconds of input, so any chunking of the same input gives the
  // same releases; while the input stays silent nothing is passed on. Takes
  // the segments too (take_segments() does not give them again).
  struct Release {
    enum Kind { drop, pass, announce } kind;
    int64_t end;      // drop, pass: up to this sample
    Segment segment;  // announce
  };
  std::vector<Release> take_releases();
  // keep_silence + 1 ms in samples: no release holds a sample that long.
  int64_t release_latency_samples() const;
  const SilenceOptions& options() const { return opt_; }

 private:
  // All positions below are in milliseconds of the analysis grid.
  void add_block(double energy);
  void evaluate_window(int64_t i, bool silent);
  double window_energy_sum() const;
  void raw_segment_done(int64_t start, int64_t end, bool forced_end);
  void place_pending(std::optional<int64_t> next_padded_start);
  void emit(int64_t start_ms, int64_t end_ms);
  void emit_samples(int64_t start, int64_t end);
  void maybe_force_split(int64_t segment_reaches);
  void maybe_cut_at_limit();
  void release(Release::Kind kind, int64_t end);
  void release_undecided();
  int64_t quietest_ms(int64_t lo, int64_t hi) const;
  double block_energy(int64_t ms) const;

  SilenceOptions opt_;
  int64_t step_ = 16;         // samples per ms
  int64_t min_sil_ = 500;     // ms
  int64_t keep_ = 100;        // ms
  int64_t min_seg_ = 0;       // ms
  int64_t max_seg_ = 0;       // ms
  double threshold_amp_ = 0;  // on the 16-bit scale

  // Sample accumulation into 1 ms energy blocks (sum of squares, 16-bit scale).
  int64_t pushed_ = 0;
  double partial_energy_ = 0;
  int64_t partial_count_ = 0;
  int64_t blocks_ = 0;               // complete blocks so far
  std::vector<double> window_ring_;  // the last min_sil_ blocks
  double window_sum_ = 0;
  int64_t since_resum_ = 0;
  std::vector<double> energy_ring_;  // the last blocks for max_segment's search
  int64_t next_window_ = 0;

  // pydub's range logic.
  bool in_silence_ = false;  // a silent range is open
  int64_t range_start_ = 0;
  int64_t last_silent_ = 0;  // pydub's prev_i
  int64_t open_start_ = 0;   // raw start of the speech in progress
  int64_t open_padded_ = 0;  // its padded start
  bool finished_ = false;

  // A segment whose end padding waits for the next segment's start.
  struct Pending {
    int64_t start, raw_end;
    bool forced;
  };
  std::optional<Pending> pending_;
  int64_t last_end_ms_ = 0;

  // min_segment: the last segment is held until its neighbour is known.
  std::optional<Segment> held_;
  int64_t next_index_ = 0;
  std::deque<Segment> ready_;

  // Low latency: releases not yet taken, and the samples they cover.
  std::vector<Release> releases_;
  int64_t released_ = 0;
};

// Whole-signal convenience: the segments of a complete recording.
std::vector<Segment> split_on_silence(const std::vector<float>& samples, const SilenceOptions& options);

}  // namespace acoustok
