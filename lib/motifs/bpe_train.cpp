// SPDX-License-Identifier: MIT
#include "acoustok/process.hpp"
#include "acoustok/bpe_train.hpp"
#include "acoustok/frame_grid.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "acoustok/error.hpp"
#include "common/log_printf.hpp"
#include "common/fs_util.hpp"
#include "acoustok/motif_analysis.hpp"
#include "acoustok/motif_model.hpp"
#include "common/progress.hpp"
#include "acoustok/unit_text.hpp"
#include "motifs/sentencepiece_backend.hpp"

namespace fs = std::filesystem;

namespace acoustok {

namespace {

// Reads a unit text file one line at a time, for training (UnitSentences) and
// for the analysis pass. Empty lines are counted but carry no units.
class UnitLineReader {
 public:
  UnitLineReader(const std::string& path, bool show_progress, const char* label) : path_(path) {
    in_.open(path, std::ios::binary);
    if (!in_) throw file_error(path, "cannot open");
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    progress_ = std::make_unique<common::Progress>(
        label, ec ? 1 : static_cast<int64_t>(std::max<uintmax_t>(size, 1)), show_progress);
  }
  // Next line's frame units; false at the end of the file. Throws on bad input.
  bool next(std::vector<int>* frames) {
    if (!std::getline(in_, line_)) {
      if (in_.bad()) throw file_error(path_, "read error after line " + std::to_string(line_no_));
      progress_->finish();
      return false;
    }
    ++line_no_;
    progress_->add(static_cast<int64_t>(line_.size()) + 1);
    parse_unit_line(line_, frames, path_, line_no_);
    return true;
  }
  int64_t line_no() const { return line_no_; }

 private:
  std::string path_;
  std::ifstream in_;
  std::string line_;
  int64_t line_no_ = 0;
  std::unique_ptr<common::Progress> progress_;
};

// The training corpus as SentencePiece sees it: one sentence of unit code
// points per non-empty line, streamed. A bad line ends the iteration with an
// error (no exception crosses the library), kept for the caller.
class UnitSentences : public motifs::SpmSentences {
 public:
  UnitSentences(const std::string& path, bool dedup, bool show_progress)
      : reader_(path, show_progress, "bpe: reading"), dedup_(dedup), seen_(kMaxUnitId + 1, false) {
    advance();
  }
  bool done() const override { return done_; }
  void next() override { advance(); }
  const std::string& value() const override { return value_; }
  const std::string& error() const override { return error_; }

  int64_t lines() const { return reader_.line_no(); }
  int64_t sentences() const { return sentences_; }
  int distinct_units() const { return distinct_; }

 private:
  // The next sentence: the rest of a long line, or the next non-empty line.
  void advance() {
    try {
      while (next_unit_ < line_units_.size() || next_line()) {
        const size_t n = std::min(kMaxSentenceUnits, line_units_.size() - next_unit_);
        value_.clear();
        for (size_t i = next_unit_; i < next_unit_ + n; ++i) {
          const int u = line_units_[i];
          append_unit_utf8(u, &value_);
          if (!seen_[u]) {
            seen_[u] = true;
            ++distinct_;
          }
        }
        next_unit_ += n;
        ++sentences_;
        return;
      }
    } catch (const std::exception& e) {
      error_ = e.what();
    }
    done_ = true;
    value_.clear();
  }

  // Reads the next non-empty line into line_units_ (repeats collapsed with
  // --dedup); false at the end.
  bool next_line() {
    while (reader_.next(&frames_)) {
      if (frames_.empty()) continue;
      if (dedup_) {
        collapse_repeats(frames_, &line_units_, &runs_);
      } else {
        line_units_.swap(frames_);
      }
      next_unit_ = 0;
      if (line_units_.size() > kMaxSentenceUnits) {
        common::log(LogLevel::warning,
                    "bpe: line %lld has %zu units, more than SentencePiece takes in one sentence (%zu): "
                    "trained as %zu pieces",
                    static_cast<long long>(reader_.line_no()), line_units_.size(), kMaxSentenceUnits,
                    (line_units_.size() + kMaxSentenceUnits - 1) / kMaxSentenceUnits);
      }
      return true;
    }
    line_units_.clear();
    next_unit_ = 0;
    return false;
  }

  UnitLineReader reader_;
  bool dedup_;
  std::vector<int> line_units_;
  size_t next_unit_ = 0;
  std::vector<int> frames_, units_;
  std::vector<int64_t> runs_;
  std::vector<bool> seen_;
  int distinct_ = 0;
  int64_t sentences_ = 0;
  std::string value_, error_;
  bool done_ = false;
};

// Settings that make SentencePiece treat every unit as one symbol, untouched:
// no normalisation or dummy prefix, no splitting by script or number (units
// span several Unicode scripts), every unit kept, long lines kept whole.
std::unordered_map<std::string, std::string> trainer_arguments(const BpeTrainOptions& o) {
  const int threads = o.threads > 0 ? o.threads : available_cpus();
  std::unordered_map<std::string, std::string> a = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(o.vocab_size)},
      // Soft limit: when the data runs out of pairs to merge, SentencePiece
      // stops there and stores the size it reached (the largest it supports).
      {"hard_vocab_limit", "false"},
      {"character_coverage", "1.0"},
      {"normalization_rule_name", "identity"},
      {"add_dummy_prefix", "false"},
      {"remove_extra_whitespaces", "false"},
      {"split_by_whitespace", "false"},
      {"split_by_unicode_script", "false"},
      {"split_by_number", "false"},
      {"split_digits", "false"},
      {"byte_fallback", "false"},
      {"max_sentencepiece_length", std::to_string(o.max_motif_length)},
      {"max_sentence_length", std::to_string(1 << 30)},
      {"input_sentence_size", std::to_string(o.sample_lines)},
      {"shuffle_input_sentence", "true"},
      {"num_threads", std::to_string(threads)},
      // 4 is above FATAL: SentencePiece writes nothing (see sentencepiece_log_usable).
      {"minloglevel", !motifs::sentencepiece_log_usable() ? "4"
                      : o.verbose                         ? "0"
                                                          : "2"},
  };
  if (o.dedup) a["control_symbols"] = kDedupMarkerPiece;
  return a;
}

// bpe.vocab: SentencePiece's "piece<TAB>score" lines, plus the piece's unit ids.
std::string vocab_text(const MotifModel& model) {
  std::ostringstream out;
  std::vector<int> units;
  for (int id = 0; id < model.vocab_size(); ++id) {
    out << model.piece(id) << '\t' << model.score(id) << '\t';
    if (model.piece_units(id, &units)) {
      out << join_units(units.data(), units.size());
    } else {
      out << model.piece(id);
    }
    out << '\n';
  }
  return out.str();
}

void write_binary_file(const std::string& path, const std::string& bytes) {
  common::AtomicFile out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    if (!f) throw file_error(path, "cannot write");
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) throw file_error(path, "write failed (disk full?)");
  }
  out.commit();
}

}  // namespace

void BpeTrainOptions::validate() const {
  if (vocab_size < 1) throw Error("--vocab-size must be positive");
  if (max_motif_length < 1 || max_motif_length > 512) throw Error("--max-motif-length must be in 1..512");
  if (sample_lines < 0 || (sample_lines > 0 && sample_lines <= 100)) {
    throw Error("--sample-lines must be 0 (every line) or more than 100 (SentencePiece's smallest sample)");
  }
  if (top < 0) throw Error("--top must not be negative");
}

BpeTrainResult train_bpe(const std::string& units_path, const std::string& out_dir,
                         const BpeTrainOptions& options) {
  options.validate();
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw file_error(out_dir, "cannot create output folder: " + ec.message());
  const common::DirLock lock(out_dir, "bpe");  // one run at a time per folder

  const motifs::SentencePieceBackend& spm = motifs::sentencepiece_backend();
  if (options.verbose && !motifs::sentencepiece_log_usable()) {
    common::log(LogLevel::warning,
                "bpe: SentencePiece's log is off in this process (it holds a protobuf library "
                "globally, so SentencePiece is bound apart and cannot reach its std::cerr)");
  }
  spm.set_random_seed(options.seed);
  UnitSentences corpus(units_path, options.dedup, !options.quiet);
  if (corpus.done()) {
    if (!corpus.error().empty()) throw Error(corpus.error());
    throw file_error(units_path,
                     "empty corpus: no unit on any of its " + std::to_string(corpus.lines()) + " lines");
  }
  std::string serialized;
  motifs::SpmError train_error;
  const bool trained = spm.train(trainer_arguments(options), &corpus, &serialized, &train_error);
  if (!corpus.error().empty()) throw Error(corpus.error());
  const int special = 3 + (options.dedup ? 1 : 0);  // <unk>, <s>, </s> and the dedup marker
  const int needed = corpus.distinct_units() + special;
  if (options.vocab_size < needed) {
    throw file_error(units_path, "--vocab-size " + std::to_string(options.vocab_size) + " is below the " +
                                     std::to_string(needed) + " pieces this corpus needs (" +
                                     std::to_string(corpus.distinct_units()) + " distinct units + " +
                                     std::to_string(special) + " special pieces)");
  }
  if (!trained) throw file_error(units_path, "SentencePiece training failed: " + train_error.message);

  const std::string model_path = (fs::path(out_dir) / "bpe.model").string();
  MotifModel model(serialized, model_path);

  BpeTrainResult r;
  r.vocab_requested = options.vocab_size;
  r.vocab_used = model.vocab_size();
  if (r.vocab_used < r.vocab_requested) {
    r.vocab_note = "the corpus supports at most " + std::to_string(r.vocab_used) +
                   " pieces: SentencePiece found no further pair of units to merge";
    // Said even with --quiet: the model is not what was asked for.
    common::log(LogLevel::warning, "bpe: %s; trained %d pieces instead of the requested %d",
                r.vocab_note.c_str(), r.vocab_used, r.vocab_requested);
  }

  // The analysis encodes the whole corpus with the model, streamed again.
  MotifAnalysis analysis(model);
  {
    UnitLineReader reader(units_path, !options.quiet, "bpe: analysis");
    std::vector<std::vector<int>> batch(512);
    for (bool more = true; more;) {
      size_t n = 0;
      while (n < batch.size() && (more = reader.next(&batch[n]))) ++n;
      batch.resize(n);
      for (const Encoding& e : model.encode_lines(batch, options.threads)) analysis.add(e);
      batch.resize(512);
    }
  }
  nlohmann::ordered_json vocab = {{"requested", r.vocab_requested}, {"used", r.vocab_used}};
  if (!r.vocab_note.empty()) vocab["reason"] = r.vocab_note;
  nlohmann::ordered_json doc = {{"model", "bpe.model"},
                                {"corpus", units_path},
                                {"model_type", "bpe"},
                                {"dedup", options.dedup},
                                {"frame_seconds", grid::kFrameSeconds},
                                {"max_motif_length", options.max_motif_length},
                                {"training_lines", corpus.sentences()},
                                {"sample_lines", options.sample_lines},
                                {"vocab_size", vocab}};
  doc.update(analysis.to_json(static_cast<size_t>(options.top)));

  write_binary_file(model_path, serialized);
  common::write_text_file((fs::path(out_dir) / "bpe.vocab").string(), vocab_text(model));
  common::write_text_file((fs::path(out_dir) / "motif_analysis.json").string(), doc.dump(2) + "\n");

  r.lines = analysis.lines();
  r.frames = analysis.frames();
  r.units = analysis.units();
  r.tokens = analysis.tokens();
  r.coverage = analysis.coverage();
  r.units_per_token = analysis.units_per_token();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace acoustok
