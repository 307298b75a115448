// SPDX-License-Identifier: MIT
#include "units/segment_list.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "acoustok/error.hpp"
#include "common/fs_util.hpp"
#include "common/log_printf.hpp"
#include "units/units_checkpoint.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace acoustok::units {
namespace {

bool ends_with_wav(const std::string& name) {
  if (name.size() < 4) return false;
  std::string ext = name.substr(name.size() - 4);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return ext == ".wav";
}

// A name the checkpoint and the JSON outputs can hold (UTF-8).
bool is_utf8(const std::string& name) {
  try {
    (void)json(name).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

// A segment's start in its recording: at most 30 years.
constexpr double kMaxSourceSeconds = 1e9;

}  // namespace

std::vector<std::string> list_segments(const std::string& dir, int64_t* unusable) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw file_error(dir, "not a folder");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || !ends_with_wav(name) || name.find(".tmp-") != std::string::npos) continue;
    if (!is_utf8(name)) {
      common::log(LogLevel::warning, "acoustok: %s: file name is not UTF-8 (skipped)",
                  printable((fs::path(dir) / name).string()).c_str());
      ++*unusable;
      continue;
    }
    names.push_back(name);
  }
  if (ec) throw file_error(dir, "cannot list: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

std::map<std::string, SourceInfo> read_segment_index(const std::string& dir) {
  std::map<std::string, SourceInfo> out;
  const std::string path = (fs::path(dir) / "segments.jsonl").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return out;
  std::istringstream in(common::read_text_file(path));
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    // Offsets become every unit's source time: a start that is not a sane
    // number of seconds is refused, never turned into null times.
    const std::string where = "line " + std::to_string(line_no);
    try {
      const json j = json::parse(line);
      const std::string file = string_at(j, "", "file");
      const double start = number_at(j, "", "start", 0, kMaxSourceSeconds);
      if (j.contains("end")) number_at(j, "", "end", start, kMaxSourceSeconds);
      out[file] = {field(j, "", "source"), start};
    } catch (const BadState& b) {
      throw file_error(path, where + ": " + b.what);
    } catch (const json::exception& e) {
      throw file_error(path, where + ": not a JSON object (" + std::string(e.what()) + ")");
    }
  }
  return out;
}

}  // namespace acoustok::units
