// SPDX-License-Identifier: MIT
#include "acoustok/process.hpp"
#include "acoustok/motif_model.hpp"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <exception>
#include <mutex>
#include <thread>
#include <cstring>
#include <fstream>

#include "acoustok/error.hpp"
#include "acoustok/unit_text.hpp"

namespace acoustok {

struct MotifModel::Impl {
  sentencepiece::SentencePieceProcessor sp;
};

namespace {
std::string status_text(const sentencepiece::util::Status& s) { return s.ToString(); }
}  // namespace

MotifModel::MotifModel(const std::string& path) : impl_(std::make_unique<Impl>()), name_(path) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  if (probe.peek() == std::ifstream::traits_type::eof()) throw file_error(path, "empty file, not a SentencePiece model");
  probe.close();
  // SentencePiece's own loader may throw (its trie refuses some garbage).
  sentencepiece::util::Status status;
  try {
    status = impl_->sp.Load(path);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("not a SentencePiece model (") + e.what() + ")");
  }
  if (!status.ok()) throw file_error(path, "not a SentencePiece model (truncated or another format)");
  check_unit_model();
}

MotifModel::MotifModel(const std::string& serialized, const std::string& name)
    : impl_(std::make_unique<Impl>()), name_(name) {
  sentencepiece::util::Status status;
  try {
    status = impl_->sp.LoadFromSerializedProto(serialized);
  } catch (const std::exception& e) {
    throw file_error(name, std::string("not a SentencePiece model (") + e.what() + ")");
  }
  if (!status.ok()) throw file_error(name, "not a SentencePiece model (" + status_text(status) + ")");
  check_unit_model();
}

MotifModel::~MotifModel() = default;
MotifModel::MotifModel(MotifModel&&) noexcept = default;
MotifModel& MotifModel::operator=(MotifModel&&) noexcept = default;

// Every ordinary piece must be made of unit code points, and the model must
// encode units without adding anything (no dummy prefix, no normalisation that
// changes them): otherwise its motifs would not map back to units and frames.
void MotifModel::check_unit_model() {
  const auto& sp = impl_->sp;
  std::vector<int> units;
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    if (sp.IsByte(id)) throw file_error(name_, "piece " + std::to_string(id) + " is a byte piece: byte fallback models are not unit models");
    if (sp.IsControl(id) || sp.IsUnknown(id) || sp.IsUnused(id)) continue;
    if (!utf8_to_units(sp.IdToPiece(id), &units)) {
      throw file_error(name_, "piece " + std::to_string(id) + " '" + sp.IdToPiece(id) +
                                  "' is not made of unit code points (U+4E00 + id): not a unit BPE model");
    }
    if (units.size() == 1) {
      const auto u = static_cast<size_t>(units[0]);
      if (u >= known_units_.size()) known_units_.resize(u + 1, false);
      known_units_[u] = true;
    }
  }
  const int marker = sp.PieceToId(kDedupMarkerPiece);
  dedup_ = marker != sp.unk_id() && sp.IsControl(marker);

  const std::vector<int> probe = {0, 1, 1, kMaxUnitId};
  const Encoding e = encode(probe);
  size_t covered = 0;
  for (const Motif& m : e.motifs) covered += m.length();
  if (covered != e.units.size()) throw file_error(name_, "the model changes its input (dummy prefix or normalisation): not a unit BPE model");
}

int MotifModel::vocab_size() const { return impl_->sp.GetPieceSize(); }
int MotifModel::unk_id() const { return impl_->sp.unk_id(); }
bool MotifModel::is_control(int id) const { return impl_->sp.IsControl(id); }
bool MotifModel::is_unknown(int id) const { return impl_->sp.IsUnknown(id); }
const std::string& MotifModel::piece(int id) const { return impl_->sp.IdToPiece(id); }
float MotifModel::score(int id) const { return impl_->sp.GetScore(id); }

bool MotifModel::piece_units(int id, std::vector<int>* units) const {
  const auto& sp = impl_->sp;
  if (id < 0 || id >= sp.GetPieceSize() || sp.IsControl(id) || sp.IsUnknown(id) || sp.IsUnused(id)) return false;
  return utf8_to_units(sp.IdToPiece(id), units);
}

Encoding MotifModel::encode(const std::vector<int>& frames) const {
  Encoding out;
  std::vector<int64_t> runs;
  if (dedup_) {
    collapse_repeats(frames, &out.units, &runs);
  } else {
    out.units = frames;
  }
  if (out.units.empty()) return out;
  // first_frame[i]: the frame where model unit i starts.
  std::vector<int64_t> first_frame(out.units.size() + 1);
  for (size_t i = 0; i < out.units.size(); ++i) first_frame[i + 1] = first_frame[i] + (dedup_ ? runs[i] : 1);

  // SentencePiece takes at most kMaxSentenceUnits at once: a longer line is
  // encoded piece by piece, as it was trained.
  for (size_t base = 0; base < out.units.size(); base += kMaxSentenceUnits) {
    const size_t n = std::min(kMaxSentenceUnits, out.units.size() - base);
    const std::vector<int> piece(out.units.begin() + static_cast<std::ptrdiff_t>(base),
                                 out.units.begin() + static_cast<std::ptrdiff_t>(base + n));
    sentencepiece::ImmutableSentencePieceText spt;
    const auto status = impl_->sp.Encode(units_to_utf8(piece), spt.mutable_proto());
    if (!status.ok()) throw file_error(name_, "encoding failed: " + status_text(status));
    out.motifs.reserve(out.motifs.size() + spt.pieces_size());
    for (size_t k = 0; k < spt.pieces_size(); ++k) {
      const auto p = spt.pieces(static_cast<int>(k));
      Motif m;
      m.id = static_cast<int>(p.id());
      // Every unit is 3 bytes of UTF-8: byte offsets map straight to units.
      m.unit_begin = base + p.begin() / kUnitUtf8Bytes;
      m.unit_end = base + p.end() / kUnitUtf8Bytes;
      if (m.unit_end <= m.unit_begin || m.unit_end > base + n) continue;  // a piece without surface (dummy prefix)
      m.frame_begin = first_frame[m.unit_begin];
      m.frame_end = first_frame[m.unit_end];
      out.motifs.push_back(m);
    }
  }
  return out;
}

std::vector<Encoding> MotifModel::encode_lines(const std::vector<std::vector<int>>& lines, int threads) const {
  std::vector<Encoding> out(lines.size());
  if (threads <= 0) threads = available_cpus();
  threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), lines.size()));
  if (threads <= 1) {
    for (size_t i = 0; i < lines.size(); ++i) out[i] = encode(lines[i]);
    return out;
  }
  // SentencePieceProcessor::Encode is const and thread-safe.
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&] {
    try {
      for (size_t i = next++; i < lines.size(); i = next++) out[i] = encode(lines[i]);
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  return out;
}

std::string Encoding::motif_text(const Motif& m) const { return join_units(units.data() + m.unit_begin, m.length()); }

std::string Encoding::text() const {
  std::string s;
  for (size_t k = 0; k < motifs.size(); ++k) {
    if (k) s.push_back(' ');
    s += motif_text(motifs[k]);
  }
  return s;
}

}  // namespace acoustok
