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

namespace {

// Segment files are read from the --audio folder: a name in the corpus must
// lead to a file inside it, never an absolute path or one through "..".
void check_segment_path(const std::string& file, const std::string& corpus) {
  const std::filesystem::path p(file);
  bool escapes = file.empty() || p.is_absolute() || p.has_root_name() || file.find('\0') != std::string::npos;
  for (const auto& part : p)
    if (part == "..") escapes = true;
  if (escapes)
    throw file_error(
        corpus, "segment \"" + file +
                    "\": a segment file must be a path inside the --audio folder (relative, without \"..\")");
}

// A segment's "units": integer ids in [0, k); 1.5 or 1e30 are no unit id.
std::vector<int32_t> unit_ids(const json& units, int k, const std::string& where) {
  if (!units.is_array()) throw Error(where + ": \"units\" must be an array of unit ids");
  std::vector<int32_t> ids;
  ids.reserve(units.size());
  for (size_t i = 0; i < units.size(); ++i) {
    const json& u = units[i];
    const std::string value = u.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 40);
    if (!u.is_number_integer())
      throw Error(where + ": unit " + value + " at frame " + std::to_string(i) +
                  " is not an integer unit id");
    if ((u.is_number_unsigned() && u.get<uint64_t>() >= static_cast<uint64_t>(k)) ||
        (!u.is_number_unsigned() && (u.get<int64_t>() < 0 || u.get<int64_t>() >= k)))
      throw Error(where + ": unit " + value + " at frame " + std::to_string(i) +
                  " is outside the vocabulary 0.." + std::to_string(k - 1));
    ids.push_back(static_cast<int32_t>(u.get<int64_t>()));
  }
  return ids;
}

// A reduced segment's "durations": one run length (frames >= 1) per unit.
std::vector<int32_t> run_lengths(const json& runs, size_t units, const std::string& where) {
  if (!runs.is_array() || runs.size() != units)
    throw Error(where + ": \"durations\" must be an array of one run length per unit (" +
                std::to_string(units) + ")");
  std::vector<int32_t> out;
  out.reserve(units);
  for (const json& r : runs) {
    if (!r.is_number_integer() || r.get<int64_t>() < 1 || r.get<int64_t>() > 65535)
      throw Error(where + ": duration " +
                  r.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 40) +
                  " is not a run length in 1..65535 frames");
    out.push_back(static_cast<int32_t>(r.get<int64_t>()));
  }
  // The expanded segment and its audio are materialised: an untrusted file
  // must not turn a few bytes per run into gigabytes. A segment of
  // `acoustok segment` lasts seconds; an hour is far beyond any.
  constexpr int64_t kMaxSegmentFrames = int64_t{3600} * grid::kFrameRate;
  int64_t total = 0;
  for (int32_t d : out) total += d;
  if (total > kMaxSegmentFrames)
    throw Error(where + ": \"durations\" add up to " + std::to_string(total) + " frames, more than an hour");
  return out;
}

}  // namespace

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
      check_segment_path(seg.file, c.path);
      seg.units = unit_ids(s.at("units"), c.k, c.path + ": segment " + seg.file);
      if (s.contains("durations"))
        seg.durations = run_lengths(s.at("durations"), seg.units.size(), c.path + ": segment " + seg.file);
      c.segments.push_back(std::move(seg));
    }
  } catch (const json::exception& e) {
    throw file_error(c.path, std::string("not a unit corpus: ") + e.what());
  }
  if (c.segments.empty()) throw file_error(c.path, "holds no segments");
  return c;
}

void expand_reduced_segments(UnitCorpus& corpus) {
  for (auto& seg : corpus.segments) {
    if (seg.durations.empty()) continue;
    std::vector<int32_t> frames;
    for (size_t i = 0; i < seg.units.size(); ++i)
      frames.insert(frames.end(), static_cast<size_t>(seg.durations[i]), seg.units[i]);
    seg.units = std::move(frames);
    seg.durations.clear();
  }
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
      if (ch == ' ' || ch == '\t' || ch == '\r') {
        ++i;
        continue;
      }
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
