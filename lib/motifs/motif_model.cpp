// SPDX-License-Identifier: MIT
#include "acoustok/process.hpp"
#include "acoustok/motif_model.hpp"

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
#include "motifs/sentencepiece_backend.hpp"

namespace acoustok {

// SentencePiece's processor, in its own symbol scope (sentencepiece_backend.hpp).
struct MotifModel::Impl {
  std::unique_ptr<motifs::SpmProcessor> sp;
};

namespace {
std::unique_ptr<motifs::SpmProcessor> load_processor(const std::string& path_or_bytes, bool serialized,
                                                     const std::string& name) {
  const motifs::SentencePieceBackend* backend = nullptr;
  try {
    backend = &motifs::sentencepiece_backend();
  } catch (const Error& e) {
    throw file_error(name, e.what());
  }
  motifs::SpmError error;
  auto sp = backend->load(path_or_bytes, serialized, &error);
  if (sp) return sp;
  // SentencePiece's own loader may throw (its trie refuses some garbage).
  if (error.threw) throw file_error(name, "not a SentencePiece model (" + error.message + ")");
  throw file_error(name, serialized ? "not a SentencePiece model (" + error.message + ")"
                                    : std::string("not a SentencePiece model (truncated or another format)"));
}
}  // namespace

MotifModel::MotifModel(const std::string& path) : impl_(std::make_unique<Impl>()), name_(path) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  if (probe.peek() == std::ifstream::traits_type::eof())
    throw file_error(path, "empty file, not a SentencePiece model");
  probe.close();
  impl_->sp = load_processor(path, false, path);
  check_unit_model();
}

MotifModel::MotifModel(const std::string& serialized, const std::string& name)
    : impl_(std::make_unique<Impl>()), name_(name) {
  impl_->sp = load_processor(serialized, true, name);
  check_unit_model();
}

MotifModel::~MotifModel() = default;
MotifModel::MotifModel(MotifModel&&) noexcept = default;
MotifModel& MotifModel::operator=(MotifModel&&) noexcept = default;

// Every ordinary piece must be made of unit code points, and the model must
// encode units without adding anything (no dummy prefix, no normalisation that
// changes them): otherwise its motifs would not map back to units and frames.
void MotifModel::check_unit_model() {
  const auto& sp = *impl_->sp;
  std::vector<int> units;
  for (int id = 0; id < sp.size(); ++id) {
    if (sp.is_byte(id))
      throw file_error(name_, "piece " + std::to_string(id) +
                                  " is a byte piece: byte fallback models are not unit models");
    if (sp.is_control(id) || sp.is_unknown(id) || sp.is_unused(id)) continue;
    if (!utf8_to_units(sp.id_to_piece(id), &units)) {
      throw file_error(name_, "piece " + std::to_string(id) + " '" + sp.id_to_piece(id) +
                                  "' is not made of unit code points (U+4E00 + id): not a unit BPE model");
    }
    if (units.size() == 1) {
      const auto u = static_cast<size_t>(units[0]);
      if (u >= known_units_.size()) known_units_.resize(u + 1, false);
      known_units_[u] = true;
    }
  }
  const int marker = sp.piece_to_id(kDedupMarkerPiece);
  dedup_ = marker != sp.unk_id() && sp.is_control(marker);

  const std::vector<int> probe = {0, 1, 1, kMaxUnitId};
  const Encoding e = encode(probe);
  size_t covered = 0;
  for (const Motif& m : e.motifs) covered += m.length();
  if (covered != e.units.size())
    throw file_error(name_,
                     "the model changes its input (dummy prefix or normalisation): not a unit BPE model");
}

int MotifModel::vocab_size() const { return impl_->sp->size(); }
int MotifModel::unk_id() const { return impl_->sp->unk_id(); }
bool MotifModel::is_control(int id) const { return impl_->sp->is_control(id); }
bool MotifModel::is_unknown(int id) const { return impl_->sp->is_unknown(id); }
const std::string& MotifModel::piece(int id) const { return impl_->sp->id_to_piece(id); }
float MotifModel::score(int id) const { return impl_->sp->score(id); }

bool MotifModel::piece_units(int id, std::vector<int>* units) const {
  const auto& sp = *impl_->sp;
  if (id < 0 || id >= sp.size() || sp.is_control(id) || sp.is_unknown(id) || sp.is_unused(id)) return false;
  return utf8_to_units(sp.id_to_piece(id), units);
}

Encoding MotifModel::encode(const std::vector<int>& frames) const {
  return encode_runs(frames, std::vector<int64_t>(frames.size(), 1));
}

Encoding MotifModel::encode_runs(const std::vector<int>& units, const std::vector<int64_t>& runs_in) const {
  Encoding out;
  std::vector<int64_t> runs;
  if (dedup_) {
    for (size_t i = 0; i < units.size(); ++i) {
      if (!out.units.empty() && out.units.back() == units[i]) {
        runs.back() += runs_in[i];
      } else {
        out.units.push_back(units[i]);
        runs.push_back(runs_in[i]);
      }
    }
  } else {
    out.units = units;
    runs = runs_in;
  }
  if (out.units.empty()) return out;
  // first_frame[i]: the frame where model unit i starts.
  std::vector<int64_t> first_frame(out.units.size() + 1);
  for (size_t i = 0; i < out.units.size(); ++i) first_frame[i + 1] = first_frame[i] + runs[i];

  // SentencePiece takes at most kMaxSentenceUnits at once: a longer line is
  // encoded piece by piece, as it was trained.
  std::vector<motifs::SpmPiece> pieces;
  for (size_t base = 0; base < out.units.size(); base += kMaxSentenceUnits) {
    const size_t n = std::min(kMaxSentenceUnits, out.units.size() - base);
    const std::vector<int> piece(out.units.begin() + static_cast<std::ptrdiff_t>(base),
                                 out.units.begin() + static_cast<std::ptrdiff_t>(base + n));
    motifs::SpmError error;
    if (!impl_->sp->encode(units_to_utf8(piece), &pieces, &error))
      throw file_error(name_, "encoding failed: " + error.message);
    out.motifs.reserve(out.motifs.size() + pieces.size());
    for (const motifs::SpmPiece& p : pieces) {
      Motif m;
      m.id = p.id;
      // Every unit is 3 bytes of UTF-8: byte offsets map straight to units.
      m.unit_begin = base + p.begin / kUnitUtf8Bytes;
      m.unit_end = base + p.end / kUnitUtf8Bytes;
      if (m.unit_end <= m.unit_begin || m.unit_end > base + n)
        continue;  // a piece without surface (dummy prefix)
      m.frame_begin = first_frame[m.unit_begin];
      m.frame_end = first_frame[m.unit_end];
      out.motifs.push_back(m);
    }
  }
  return out;
}

std::vector<Encoding> MotifModel::encode_lines(const std::vector<std::vector<int>>& lines,
                                               int threads) const {
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

std::string Encoding::motif_text(const Motif& m) const {
  return join_units(units.data() + m.unit_begin, m.length());
}

std::string Encoding::text() const {
  std::string s;
  for (size_t k = 0; k < motifs.size(); ++k) {
    if (k) s.push_back(' ');
    s += motif_text(motifs[k]);
  }
  return s;
}

}  // namespace acoustok
