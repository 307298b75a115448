// SPDX-License-Identifier: MIT
// Unit statistics of phase 1's outputs, read as streams: corpus_timestamped.json
// (SAX, so memory does not grow with the corpus) or all_units_for_bpe.txt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace acoustok::report {

// The largest unit id the report reads: units travel as uint16, and the
// report shows files of other tools too, so it does not hold them to
// acoustok's own kMaxUnitId.
constexpr int64_t kMaxReportUnitId = 65535;

struct UnitStats {
  std::string path;  // the file the units came from
  std::optional<int64_t> k, layer;
  std::optional<double> frame_rate;
  std::optional<std::string> feature_model;
  bool stand_in = false;            // feature_model_stand_in: random weights (models/make_demo_model.py)
  std::vector<int64_t> counts;      // frames per unit id
  std::map<int64_t, int64_t> runs;  // run length (frames) -> runs
  int64_t segments = 0, frames = 0, empty_segments = 0;
  int64_t prev = -1, run = 0;  // the run in progress

  void begin_segment() {
    ++segments;
    prev = -1;
    run = 0;
  }
  // `n` frames of unit u (a run of a reduced corpus at once).
  void unit(int64_t u, int64_t n = 1) {
    if (static_cast<size_t>(u) >= counts.size()) counts.resize(static_cast<size_t>(u) + 1, 0);
    counts[static_cast<size_t>(u)] += n;
    frames += n;
    if (u == prev) {
      run += n;
    } else {
      if (run > 0) ++runs[run];
      prev = u;
      run = n;
    }
  }
  void end_segment() {
    if (run > 0)
      ++runs[run];
    else
      ++empty_segments;
    prev = -1;
    run = 0;
  }
};

// Streams corpus_timestamped.json: the header fields and every segment's
// units, never the whole document. A reduced corpus (units --dedup) has one
// unit per run and each run's frames in "durations": its statistics count
// the frames, as those of the frame units it came from.
UnitStats read_corpus(const std::string& path);
// all_units_for_bpe.txt: one line of unit ids per segment.
UnitStats read_units_text(const std::string& path);

}  // namespace acoustok::report
