// SPDX-License-Identifier: MIT
// What the vocoder reads: the unit corpus that `acoustok units` writes
// (UNITS_DIR/corpus_timestamped.json) and unit text (one segment per line).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace acoustok {

struct UnitSegment {
  std::string file;  // segment WAV, relative to the segments folder
  std::vector<int32_t> units;
  // Run lengths in frames of a reduced corpus (`units --dedup`): one per
  // unit, each >= 1; empty when the units are one per frame.
  std::vector<int32_t> durations;
};

struct UnitCorpus {
  std::string path;  // the corpus_timestamped.json read
  std::string feature_model;
  int layer = 0;
  int k = 0;
  std::vector<UnitSegment> segments;
};

// UNITS_DIR/corpus_timestamped.json. Throws acoustok::Error naming the file
// on bad JSON, a missing field, frame_rate other than 50, a unit id that is
// not an integer in [0, k), "durations" not one integer >= 1 per unit, or a segment file that is not a
// relative path inside the audio folder (absolute, or through "..").
UnitCorpus read_unit_corpus(const std::string& units_dir);

// One unit per frame again: each unit of a reduced segment repeated by its
// run length, and the durations dropped (what training and `vocoder test`
// pair with the audio). Segments without durations are left as they are.
void expand_reduced_segments(UnitCorpus& corpus);

// Space-separated decimal ids, one line per segment; empty lines are kept as
// empty sequences. Throws naming the file and line on anything else.
std::vector<std::vector<int32_t>> parse_unit_lines(const std::string& text, const std::string& where);

// Throws "<where>: unit U at frame F is outside the vocabulary 0..k-1".
void check_units_in_range(const std::vector<int32_t>& units, int k, const std::string& where);

}  // namespace acoustok
