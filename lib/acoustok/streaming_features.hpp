// SPDX-License-Identifier: MIT
// Features of a live stream, a fixed chunk of frames at a time, each chunk as
// soon as a fixed lookahead of audio after it has arrived.
//
// wav2vec2 / XLSR-53 / HuBERT attend in both directions over whatever audio
// they are given, so a frame computed before its segment ends cannot equal
// the offline one. Chunk k (frames [k c, k c + c) of the segment) sees
// `context` frames before it, itself, and `lookahead` frames after it
// (clipped to the segment).
//  - The conv front end and feature projection of each frame depend only on
//    the frame's own 400 samples (layer-norm front ends: XLSR-53, large
//    models), so each frame goes through them once and is kept for the runs
//    that see it: exact. Group-norm front ends (wav2vec2-base, HuBERT-base)
//    normalise over the whole span and are computed again per run over the
//    visible audio.
//  - Mode::reuse_context (the default): only the chunk, its lookahead and
//    the most recent `recompute` frames of the context go through the
//    transformer; in every block they attend to the keys and values the
//    older context frames had when they last went through it (they are not
//    recomputed with the audio that arrived since). A run costs recompute +
//    chunk + lookahead instead of context + chunk + lookahead.
//  - Mode::recompute_context: the transformer runs over context + chunk +
//    lookahead each time, i.e. the model on exactly the visible audio.
//  - Mode::recompute_all: that, with the front end recomputed too and each
//    window normalised on its own (no cache at all): the reference the
//    benchmark measures the caches against (tests/bench/bench_live.py).
// What is approximate: attention over a truncated context and, reusing it,
// context frames that did not see the later audio; for models that
// normalise their input (do_normalize), a running normalisation: the mean
// and variance of the segment's audio up to the end of the visible audio when
// a frame first goes through the front end, instead of the whole segment's.
// With a context and lookahead that cover the whole segment, every mode gives
// FeatureExtractor::extract() on the segment (to float rounding).
//
// Chunks sit on a fixed grid of the segment's frames and each run sees the
// same audio whatever the sizes of the pushes: the frames do not depend on
// how the audio was buffered.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/features.hpp"

namespace acoustok {

// Times in nanoseconds, as the element's properties give them; each is
// rounded up to whole 20 ms frames.
struct StreamingOptions {
  uint64_t chunk_ns = 320'000'000ull;      // new frames per model run (at least one frame)
  uint64_t lookahead_ns = 160'000'000ull;  // audio after the chunk the model sees
  uint64_t context_ns = 1'000'000'000ull;  // audio before the chunk the model sees
  // Mode::reuse_context: the most recent part of the context that goes
  // through the transformer again each run (the rest is reused). 0 reuses
  // all of it; the context's length or more recomputes all of it.
  uint64_t recompute_ns = 320'000'000ull;
  uint64_t max_window_ns = 30'000'000'000ull;  // context + chunk + lookahead may not exceed it
  enum class Mode { reuse_context, recompute_context, recompute_all };
  Mode mode = Mode::reuse_context;
};

// What a push gives: frames [first_frame, first_frame + features.frames) of
// the segment, in order, none given twice.
struct StreamStep {
  Features features;
  int64_t first_frame = 0;
};

// Thread-safety: one thread at a time; it holds one segment's state and
// uses its FeatureExtractor, which no other thread may use meanwhile.
class StreamingFeatures {
 public:
  // Throws acoustok::Error naming the rule when the settings cannot work
  // (check() says it without throwing), or when the extractor cannot stream.
  StreamingFeatures(FeatureExtractor& extractor, const StreamingOptions& options);
  // Empty when the settings work, else the rule they break.
  static std::string check(const StreamingOptions& options);

  int64_t chunk_frames() const { return chunk_; }
  int64_t lookahead_frames() const { return lookahead_; }
  int64_t context_frames() const { return context_; }
  int64_t recompute_frames() const { return recompute_; }
  // How long the first frame of a chunk waits for the rest of the chunk and
  // its lookahead once its own audio is in (before compute): in samples.
  int64_t wait_samples() const;

  // Appends samples of the segment; gives every chunk whose lookahead is now
  // complete.
  StreamStep push(const float* samples, size_t count);
  // End of the segment: the remaining frames (each remaining chunk seeing
  // what audio there is); then ready for a new segment.
  StreamStep finish();
  void reset();

  int64_t samples_pushed() const { return pushed_; }
  int64_t frames_given() const { return next_frame_; }

 private:
  bool chunk_ready() const;
  void run_chunk(int64_t end_frame, bool complete, StreamStep& step);
  Features visible_front_end(int64_t first, int64_t last, int64_t audio_end);
  void cache_front_end(int64_t until, int64_t audio_end);
  std::vector<float> normalized(int64_t from_sample, int64_t to_sample, int64_t stats_until);
  void count_stats(int64_t until);
  void drop_unneeded();

  FeatureExtractor& extractor_;
  int64_t chunk_ = 0, lookahead_ = 0, context_ = 0, recompute_ = 0;
  StreamingOptions::Mode mode_;
  bool recompute_all_ = false;
  bool normalize_ = false;
  bool cache_ = false;  // front-end frames computed once

  int64_t pushed_ = 0;          // samples of the segment so far
  int64_t next_frame_ = 0;      // first frame not yet given
  std::vector<float> samples_;  // the segment's samples from sample_base_ on
  int64_t sample_base_ = 0;
  std::vector<float> front_;  // cached front-end frames [n, dim] from front_base_ on
  int64_t front_base_ = 0;
  int64_t front_done_ = 0;            // frames through the front end so far
  double sum_ = 0, sum_squares_ = 0;  // running statistics of samples [0, stats_pos_)
  int64_t stats_pos_ = 0;
  std::unique_ptr<FeatureExtractor::EncoderState> state_;  // Mode::reuse_context
};

}  // namespace acoustok
