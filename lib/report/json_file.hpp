// SPDX-License-Identifier: MIT
// The report's JSON files, parsed whole (motif_analysis.json,
// training_log.json, metrics.json, each line of segments.jsonl), with typed
// access whose every wrong type names the file and the place
// ("samples[2].snr_db: expected a number, found string").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace acoustok::report {

using nlohmann::json;

// Files parsed whole are refused above this size.
constexpr uintmax_t kMaxJsonBytes = uintmax_t{256} << 20;

// The parsed file; an error naming it when it is too large or not JSON.
json read_json_file(const std::string& path);

struct JsonFile {
  std::string path;

  [[noreturn]] void fail(const std::string& where, const std::string& what) const;
  // v itself, when it is an object (an array); else fail.
  const json& object(const json& v, const std::string& where) const;
  const json& array(const json& v, const std::string& where) const;
  // The place of `key` inside `where`: "line 3: start", "samples[2].snr_db".
  static std::string at(const std::string& where, const std::string& key);
  // A number, or nullopt when absent or null.
  std::optional<double> opt_number(const json& obj, const std::string& key, const std::string& where) const;
  // A number that must be there.
  double number(const json& obj, const std::string& key, const std::string& where) const;
  double number_or_nan(const json& obj, const std::string& key, const std::string& where) const;
  std::optional<std::string> opt_string(const json& obj, const std::string& key,
                                        const std::string& where) const;
  std::optional<bool> opt_bool(const json& obj, const std::string& key, const std::string& where) const;
};

}  // namespace acoustok::report
