// SPDX-License-Identifier: MIT
// acoustok report: one self-contained HTML page from whatever phase outputs
// the folders hold. Charts are inline SVG, spectrograms PNG and players WAV
// as data: URIs; no script, and a Content-Security-Policy that forbids every
// fetch, so the page never touches the network.
//
//   phase 0  segments.jsonl                 segment-length histogram
//   phase 1  corpus_timestamped.json        unit frequencies, run lengths
//            (all_units_for_bpe.txt when the corpus is absent),
//            kmeans.safetensors             its metadata
//   phase 2  motif_analysis.json            motif lengths, coverage, top motifs
//            (bpe.vocab alone: vocabulary lengths)
//   phase 3  training_log.json              loss, held-out mel and MCD curves
//            metrics.json (vocoder test)    table, spectrograms, players
//
// The files: text.hpp (escaping, base64, number formats), png.hpp,
// colormap.hpp, chart.hpp (the SVG chart kit), json_file.hpp and
// unit_stats.hpp (the readers), spectrogram.hpp, audio_clip.hpp, and one
// section_*.cpp per phase (section.hpp).
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "report/section.hpp"

namespace acoustok::report {

struct Page {
  std::string html;
  size_t folders = 0;  // folders that held phase outputs
  size_t sections = 0;
  std::set<int> phases;
  Counters counters;
};

// The page over each of `dirs`, or when one holds nothing itself, over its
// sub-folders (one level). A folder without outputs is only reported
// (opt.skipped); none at all is an acoustok::Error.
Page build_page(const std::vector<std::string>& dirs, const Options& opt);

}  // namespace acoustok::report
