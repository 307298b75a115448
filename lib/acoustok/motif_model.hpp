// SPDX-License-Identifier: MIT
// A SentencePiece BPE model over units (see unit_text.hpp), read through the
// SentencePiece library. encode() turns one segment of frame units into
// motifs, each knowing the units and the frames it covers.
//
// A model trained with --dedup carries the control piece "<acoustok-dedup>";
// encode() then collapses repeated units first, as training did, and a motif
// still covers every frame of its runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace acoustok {

constexpr const char* kDedupMarkerPiece = "<acoustok-dedup>";

struct Motif {
  int id = 0;             // token id in the model (the <unk> id for units it never saw)
  size_t unit_begin = 0;  // [unit_begin, unit_end) in Encoding::units
  size_t unit_end = 0;
  int64_t frame_begin = 0;  // [frame_begin, frame_end) in the input frames
  int64_t frame_end = 0;
  size_t length() const { return unit_end - unit_begin; }
  int64_t frames() const { return frame_end - frame_begin; }
};

struct Encoding {
  std::vector<int> units;  // what the model saw: the frames, or their collapsed runs
  std::vector<Motif> motifs;
  // "3-4 17 5-5-9": every motif as its unit ids joined by '-', space separated.
  std::string text() const;
  std::string motif_text(const Motif& m) const;
};

// Thread-safety: const after loading: encode() from any number of threads.
class MotifModel {
 public:
  // Throws acoustok::Error naming `path` when the file is missing, is not a
  // SentencePiece model, or holds pieces that are not units.
  explicit MotifModel(const std::string& path);
  // From a serialized ModelProto (what training returns); `name` names it in errors.
  MotifModel(const std::string& serialized, const std::string& name);
  ~MotifModel();
  MotifModel(MotifModel&&) noexcept;
  MotifModel& operator=(MotifModel&&) noexcept;

  int vocab_size() const;
  bool dedup() const { return dedup_; }
  int unk_id() const;
  bool is_control(int id) const;  // <s>, </s> and control pieces: never produced by encode()
  bool is_unknown(int id) const;
  // The piece's units, or false for <unk> and control pieces.
  bool piece_units(int id, std::vector<int>* units) const;
  const std::string& piece(int id) const;
  float score(int id) const;
  const std::string& name() const { return name_; }
  // Whether the model has a piece of this unit alone: every unit of its
  // training corpus has one, so a unit without is one the model never saw
  // (typically an id of another k-means model) and encodes as <unk>.
  bool knows_unit(int unit) const {
    return unit >= 0 && static_cast<size_t>(unit) < known_units_.size() &&
           known_units_[static_cast<size_t>(unit)];
  }
  int largest_known_unit() const { return static_cast<int>(known_units_.size()) - 1; }

  // frames: one unit id per frame, each in [0, kMaxUnitId].
  Encoding encode(const std::vector<int>& frames) const;
  // Reduced units: units[i] covers runs[i] >= 1 frames. The motifs are over
  // these units (a --dedup model first merges neighbours of one unit: a run
  // cut in two); their frames count the runs they cover.
  Encoding encode_runs(const std::vector<int>& units, const std::vector<int64_t>& runs) const;
  // encode() of every line, spread over `threads` threads (0: every core).
  std::vector<Encoding> encode_lines(const std::vector<std::vector<int>>& lines, int threads = 0) const;

 private:
  void check_unit_model();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string name_;
  bool dedup_ = false;
  std::vector<bool> known_units_;
};

}  // namespace acoustok
