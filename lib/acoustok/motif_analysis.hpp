// SPDX-License-Identifier: MIT
// Frequency analysis of a corpus encoded into motifs (motif_analysis.json).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "acoustok/motif_model.hpp"

namespace acoustok {

// Thread-safety: one thread at a time while adding; const afterwards.
class MotifAnalysis {
 public:
  explicit MotifAnalysis(const MotifModel& model);
  void add(const Encoding& encoding);

  int64_t lines() const { return lines_; }
  int64_t frames() const { return frames_; }
  int64_t units() const { return units_; }
  int64_t tokens() const { return tokens_; }
  // Share of frames inside motifs of two units or more.
  double coverage() const;
  double units_per_token() const;
  double entropy_bits() const;
  // entropy_bits / log2(number of pieces encoding can produce: all but control pieces).
  double normalized_entropy() const;

  // The statistics; top_motifs lists the `top` most frequent motifs of two
  // units or more (ties: lower token id first).
  nlohmann::ordered_json to_json(size_t top) const;

 private:
  const MotifModel& model_;
  std::vector<int64_t> occurrences_;         // per token id
  std::vector<int64_t> frames_of_;           // frames covered, per token id
  std::map<size_t, int64_t> token_lengths_;  // motif length in units -> occurrences
  int64_t lines_ = 0, frames_ = 0, units_ = 0, tokens_ = 0, multi_unit_frames_ = 0;
};

}  // namespace acoustok
