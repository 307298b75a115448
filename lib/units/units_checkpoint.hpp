// SPDX-License-Identifier: MIT
// The checkpoint of `acoustok units` (units_job.cpp): what a rerun needs to
// continue, written as DIR/checkpoint.json and read back as untrusted JSON,
// then checked against the run's segments and the caches on disk before any
// of it is used.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "acoustok/kmeans.hpp"
#include "acoustok/units_job.hpp"

namespace acoustok::units {

// The feature cache is a NumPy file, np.load(DIR/cache/features.npy,
// mmap_mode="r") -> float16 [frames, dim]: a fixed 128-byte NPY 1.0 header
// that each checkpoint rewrites with the rows it covers, then the rows.
constexpr uint64_t kNpyHeaderBytes = 128;
const char* const kFeatureCache = "features.npy";

// One processed segment: its rows in the caches, or why it was skipped.
struct SegmentRecord {
  std::string file;
  int64_t row = 0, frames = 0;
  std::string error;
};

// Everything a rerun needs; written whole and atomically.
struct Checkpoint {
  std::string phase = "features";  // features -> kmeans -> units -> done (shard runs: features -> shard-done)
  nlohmann::json options;
  int64_t dim = 0;
  int64_t feature_rows = 0;
  std::vector<SegmentRecord> segments;
  bool have_kmeans = false;
  KMeansState km;
  int64_t units_done = 0;  // records whose units are in the units cache
  double inertia = 0;
};

nlohmann::json state_json(const KMeansState& s);
nlohmann::json checkpoint_json(const Checkpoint& c);

// What must match for a rerun to continue a checkpoint (not the thread
// count: results do not depend on it).
nlohmann::json options_json(const UnitsJobOptions& o);

// --------------------------------------------------------------------------
// Reading a checkpoint. Every state file is untrusted: a value of the wrong
// type or outside what a run can write is named by its field
// ("segments[3].frames") before anything uses it, and the caller adds the
// file and the way out.

struct BadState {
  std::string what;
};

[[noreturn]] void bad(const std::string& field, const std::string& why);

// A value as the message quotes it (short, never throwing on bad UTF-8).
std::string brief(const nlohmann::json& v);

// obj[key] of the object at `where` ("" for the top level), each checked for
// type and range; BadState names the field otherwise.
const nlohmann::json& field(const nlohmann::json& obj, const std::string& where, const std::string& key);
int64_t int_at(const nlohmann::json& obj, const std::string& where, const std::string& key, int64_t lo,
               int64_t hi);
double number_at(const nlohmann::json& obj, const std::string& where, const std::string& key, double lo,
                 double hi);
bool bool_at(const nlohmann::json& obj, const std::string& where, const std::string& key);
std::string string_at(const nlohmann::json& obj, const std::string& where, const std::string& key);

KMeansState state_from_json(const nlohmann::json& j);

// The checkpoint's fields, each checked for type and range; how they fit
// together is check_consistency's.
Checkpoint checkpoint_from_json(const nlohmann::json& j);

// "k: 12 in the checkpoint, 7 in this run, ..." for the options that differ.
std::string option_differences(const nlohmann::json& theirs, const nlohmann::json& mine);

// How a checkpoint's parts fit together and with its caches on disk, before
// any of it is used: records contiguous and unique, files of this run's
// segment list, rows adding up to feature_rows, the caches as long as the
// checkpoint says, k-means state of this run's k and dim.
void check_consistency(const Checkpoint& c, const std::set<std::string>& names,
                       const std::filesystem::path& cache_dir, bool shard_run, int64_t k);

}  // namespace acoustok::units
