// SPDX-License-Identifier: MIT
// The page's sections: one function per phase output, each reading its
// files from one folder. Every file is untrusted input: a wrong type or a
// malformed line is an acoustok::Error naming the file, and every string
// taken from a file is HTML-escaped.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace acoustok::report {

struct Options {
  int samples = 8;            // vocoder test samples with spectrograms and players
  double audio_seconds = 10;  // embedded per clip (0: no players)
  std::string generated;      // when the page was written, as its header says
  // Told of each input left out (a folder without outputs, an unreadable WAV),
  // as "PATH: reason".
  std::function<void(const std::string&)> skipped;
};

struct Counters {
  int charts = 0, clips = 0, skipped_audio = 0;
};

struct Section {
  int phase = 0;
  std::string title;  // plain text
  std::string dir;
  std::string body;  // HTML
};

namespace fs = std::filesystem;

// Phase 0: segments.jsonl.
Section segments_section(const fs::path& dir, Counters& n);
// Phase 1: corpus_timestamped.json, or all_units_for_bpe.txt, and
// kmeans.safetensors, each when its flag says the folder has it.
Section units_section(const fs::path& dir, bool corpus, bool units_txt, bool kmeans, Counters& n);
// Phase 2: motif_analysis.json (`analysis`), else bpe.vocab.
Section motifs_section(const fs::path& dir, bool analysis, Counters& n);
// Phase 3: training_log.json and the latest sample_epoch_XXXX.wav.
Section training_section(const fs::path& dir, const Options& opt, Counters& n);
// Phase 3: metrics.json of vocoder test, its orig_/synth_ WAV files.
Section vocoder_test_section(const fs::path& dir, const Options& opt, Counters& n);

}  // namespace acoustok::report
