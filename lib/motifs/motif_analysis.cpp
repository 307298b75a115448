// SPDX-License-Identifier: MIT
#include "acoustok/motif_analysis.hpp"
#include "acoustok/frame_grid.hpp"

#include <algorithm>
#include <cmath>

#include "acoustok/unit_text.hpp"

namespace acoustok {

MotifAnalysis::MotifAnalysis(const MotifModel& model)
    : model_(model), occurrences_(model.vocab_size()), frames_of_(model.vocab_size()) {}

void MotifAnalysis::add(const Encoding& e) {
  ++lines_;
  units_ += static_cast<int64_t>(e.units.size());
  for (const Motif& m : e.motifs) {
    ++occurrences_[m.id];
    frames_of_[m.id] += m.frames();
    ++token_lengths_[m.length()];
    frames_ += m.frames();
    if (m.length() >= 2) multi_unit_frames_ += m.frames();
    ++tokens_;
  }
}

double MotifAnalysis::coverage() const {
  return frames_ ? static_cast<double>(multi_unit_frames_) / frames_ : 0.0;
}
double MotifAnalysis::units_per_token() const {
  return tokens_ ? static_cast<double>(units_) / tokens_ : 0.0;
}

double MotifAnalysis::entropy_bits() const {
  double h = 0;
  for (int64_t c : occurrences_) {
    if (c == 0) continue;
    const double p = static_cast<double>(c) / tokens_;
    h -= p * std::log2(p);
  }
  return h;
}

double MotifAnalysis::normalized_entropy() const {
  int possible = 0;
  for (int id = 0; id < model_.vocab_size(); ++id) possible += model_.is_control(id) ? 0 : 1;
  return possible > 1 ? entropy_bits() / std::log2(static_cast<double>(possible)) : 0.0;
}

nlohmann::ordered_json MotifAnalysis::to_json(size_t top) const {
  using json = nlohmann::ordered_json;
  std::vector<int> ids;
  std::map<size_t, int64_t> vocab_lengths;
  std::vector<int> units;
  for (int id = 0; id < model_.vocab_size(); ++id) {
    if (!model_.piece_units(id, &units)) continue;
    ++vocab_lengths[units.size()];
    if (units.size() >= 2 && occurrences_[id] > 0) ids.push_back(id);
  }
  std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) { return occurrences_[a] > occurrences_[b]; });
  if (ids.size() > top) ids.resize(top);

  json top_motifs = json::array();
  for (int id : ids) {
    model_.piece_units(id, &units);
    top_motifs.push_back(
        {{"motif", join_units(units.data(), units.size())},
         {"token_id", id},
         {"occurrences", occurrences_[id]},
         {"length", units.size()},
         {"mean_duration", grid::kFrameSeconds * static_cast<double>(frames_of_[id]) / occurrences_[id]}});
  }
  json by_tokens = json::object(), by_vocab = json::object();
  for (const auto& [len, n] : token_lengths_) by_tokens[std::to_string(len)] = n;
  for (const auto& [len, n] : vocab_lengths) by_vocab[std::to_string(len)] = n;
  const int64_t unknown = model_.unk_id() >= 0 ? occurrences_[model_.unk_id()] : 0;
  return {{"lines", lines_},
          {"frames", frames_},
          {"units", units_},
          {"tokens", tokens_},
          {"unknown_tokens", unknown},
          {"coverage", coverage()},
          {"units_per_token", units_per_token()},
          {"frames_per_token", tokens_ ? static_cast<double>(frames_) / tokens_ : 0.0},
          {"entropy_bits", entropy_bits()},
          {"normalized_entropy", normalized_entropy()},
          {"length_distribution", {{"tokens", by_tokens}, {"vocabulary", by_vocab}}},
          {"top_motifs", top_motifs}};
}

}  // namespace acoustok
