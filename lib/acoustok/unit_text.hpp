// SPDX-License-Identifier: MIT
// Unit sequences as text and as the code points SentencePiece sees.
//
// Text: one segment per line, space-separated decimal unit ids. For BPE every
// unit id maps to one code point U+4E00 + id, so a merge can span units. The
// largest id is 35327: U+4E00 + 35327 = U+D7FF, the last code point before
// the UTF-16 surrogates, so every unit is one valid 3-byte UTF-8 sequence.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "acoustok/frame_grid.hpp"

namespace acoustok {

constexpr char32_t kFirstUnitCodePoint = 0x4E00;
constexpr int kMaxUnitId = 0xD7FF - 0x4E00;  // 35327
constexpr int kUnitUtf8Bytes = 3;
// The most units SentencePiece is given as one sentence: it packs positions
// in 16 bits and crashes from 32768 units on. Longer lines (a segment of
// over 5 minutes) are trained and encoded in pieces of this many units;
// motifs never span two pieces.
constexpr size_t kMaxSentenceUnits = 16384;

// Parses one line of unit text into `units` (cleared first). A bad token
// throws acoustok::Error "<where>: line <line_no>: <reason>": not a decimal
// integer, negative, or beyond kMaxUnitId. Spaces, tabs and a final CR separate.
void parse_unit_line(std::string_view line, std::vector<int>* units, const std::string& where,
                     int64_t line_no);

// Collapses runs of a repeated unit: 5 5 7 7 7 5 -> units 5 7 5, runs 2 3 1.
void collapse_repeats(const std::vector<int>& frames, std::vector<int>* units, std::vector<int64_t>* runs);

// The longest run one entry of binary reduced units holds (its length is a
// uint16); a longer run is cut into several entries of the same unit.
constexpr int64_t kMaxRunFrames = 65535;

struct UnitRun {
  int unit = 0;
  int64_t frames = 0;
};

// collapse_repeats over a stream: frames come one at a time across any
// number of calls, and a run is complete only when a different unit follows,
// it reaches kMaxRunFrames, or finish() ends the sequence (the caller holds
// the last run until then, since the next frame may continue it).
class RunReducer {
 public:
  // Feeds the next frame's unit. True when it starts a new run; the run it
  // completed, if any (frames > 0), is then in *done.
  bool push(int unit, UnitRun* done);
  // Ends the sequence: the held run goes to *done; false when none was held.
  bool finish(UnitRun* done);
  void reset() { held_ = UnitRun(); }
  bool holding() const { return held_.frames > 0; }

 private:
  UnitRun held_;
};

// U+4E00 + id as UTF-8 (3 bytes), appended to `out`. id must be in [0, kMaxUnitId].
void append_unit_utf8(int id, std::string* out);
std::string units_to_utf8(const std::vector<int>& units);

// Inverse of units_to_utf8; false when `text` holds anything but unit code points.
bool utf8_to_units(std::string_view text, std::vector<int>* units);

// "12-7-33": how motifs are written.
std::string join_units(const int* units, size_t count, char separator = '-');

}  // namespace acoustok
