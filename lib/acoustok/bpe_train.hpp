// SPDX-License-Identifier: MIT
// Phase 2: a SentencePiece BPE model over unit lines, trained through the
// SentencePiece library with the corpus streamed from the file, and the
// motif analysis of the corpus encoded with it.
#pragma once

#include <cstdint>
#include <string>

namespace acoustok {

struct BpeTrainOptions {
  int vocab_size = 500;
  bool dedup = false;         // collapse repeated units before training (model remembers it)
  int max_motif_length = 64;  // longest piece, in units (SentencePiece allows 1..512)
  int64_t sample_lines = 0;   // train on a random sample of this many lines; 0: all
  unsigned seed = 1;          // for the sample
  int threads = 0;            // SentencePiece and analysis threads; 0: every core
  int top = 50;               // motifs listed in motif_analysis.json
  bool quiet = false;         // no progress on stderr (a lowered vocabulary is still said)
  bool verbose = false;       // SentencePiece's own log on stderr
  void validate() const;
};

struct BpeTrainResult {
  int vocab_requested = 0;
  int vocab_used = 0;
  std::string vocab_note;  // why used < requested; empty otherwise
  int64_t lines = 0, frames = 0, units = 0, tokens = 0;
  double coverage = 0, units_per_token = 0, seconds = 0;
};

// Writes <out_dir>/bpe.model, bpe.vocab and motif_analysis.json, each
// atomically and only once everything succeeded. Throws acoustok::Error.
BpeTrainResult train_bpe(const std::string& units_path, const std::string& out_dir,
                         const BpeTrainOptions& options);

}  // namespace acoustok
