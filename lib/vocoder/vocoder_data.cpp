// SPDX-License-Identifier: MIT
#include "acoustok/vocoder_data.hpp"
#include "acoustok/frame_grid.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "acoustok/error.hpp"
#include "common/fs_util.hpp"

using nlohmann::json;

namespace acoustok {

void check_units_in_range(const std::vector<int32_t>& units, int k, const std::string& where) {
  for (size_t i = 0; i < units.size(); ++i) {
    if (units[i] < 0 || units[i] >= k)
      throw Error(where + ": unit " + std::to_string(units[i]) + " at frame " + std::to_string(i) +
                  " is outside the vocabulary 0.." + std::to_string(k - 1));
  }
}

UnitCorpus read_unit_corpus(const std::string& units_dir) {
  UnitCorpus c;
  c.path = (std::filesystem::path(units_dir) / "corpus_timestamped.json").string();
  const std::string text = common::read_text_file(c.path);
  try {
    const json j = json::parse(text);
    c.k = j.at("k").get<int>();
    if (c.k < 1 || c.k > 65535) throw file_error(c.path, "k must be in 1..65535");
    c.layer = j.value("layer", 0);
    c.feature_model = j.value("feature_model", std::string());
    if (j.contains("frame_rate") && j.at("frame_rate").get<double>() != grid::kFrameRate)
      throw file_error(c.path, "frame_rate must be 50 (20 ms units)");
    for (const auto& s : j.at("segments")) {
      UnitSegment seg;
      seg.file = s.at("file").get<std::string>();
      seg.units = s.at("units").get<std::vector<int32_t>>();
      check_units_in_range(seg.units, c.k, c.path + ": segment " + seg.file);
      c.segments.push_back(std::move(seg));
    }
  } catch (const json::exception& e) {
    throw file_error(c.path, std::string("not a unit corpus: ") + e.what());
  }
  if (c.segments.empty()) throw file_error(c.path, "holds no segments");
  return c;
}

std::vector<std::vector<int32_t>> parse_unit_lines(const std::string& text, const std::string& where) {
  std::vector<std::vector<int32_t>> lines;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::vector<int32_t> units;
    size_t i = 0;
    while (i < line.size()) {
      const char ch = line[i];
      if (ch == ' ' || ch == '\t' || ch == '\r') { ++i; continue; }
      if (ch < '0' || ch > '9')
        throw Error(where + ": line " + std::to_string(number) + ": '" + std::string(1, ch) +
                    "' is not part of a unit id (space-separated decimal ids expected)");
      int64_t v = 0;
      while (i < line.size() && line[i] >= '0' && line[i] <= '9') {
        v = v * 10 + (line[i] - '0');
        if (v > 65535) throw Error(where + ": line " + std::to_string(number) + ": unit id too large");
        ++i;
      }
      units.push_back(static_cast<int32_t>(v));
    }
    lines.push_back(std::move(units));
  }
  return lines;
}

}  // namespace acoustok
