// SPDX-License-Identifier: MIT
#include "units/units_checkpoint.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace acoustok::units {

namespace {

std::string join(const std::string& where, const std::string& key) {
  return where.empty() ? key : where + "." + key;
}

int64_t int_value(const json& v, const std::string& name, int64_t lo, int64_t hi) {
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi)))
    bad(name, "is " + brief(v) + ", not an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi)
    bad(name, "is " + std::to_string(x) + ", outside " + std::to_string(lo) + ".." + std::to_string(hi));
  return x;
}

double number_value(const json& v, const std::string& name, double lo, double hi) {
  if (!v.is_number()) bad(name, "is " + brief(v) + ", not a number");
  const double x = v.get<double>();
  if (!(x >= lo && x <= hi))
    bad(name, "is " + brief(v) + ", outside " + brief(json(lo)) + ".." + brief(json(hi)));
  return x;
}

// A segment is a file of SEGMENTS_DIR itself: a name, never a path that
// could lead out of the folder.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// Bounds no run can exceed (the products below stay far from overflow).
constexpr int64_t kMaxRows = int64_t{1} << 40;  // 700 years of 20 ms frames
constexpr int64_t kMaxDim = 65536;
constexpr int64_t kMaxSteps = int64_t{1} << 50;
// Centroids are means of float16 features: a larger magnitude is no
// centroid, and its squared distances would overflow.
constexpr double kMaxCentroid = 1e5;

// Size of a file in bytes, -1 when it cannot be read.
int64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return static_cast<int64_t>(st.st_size);
}

// The shape (rows, dim) the NPY header of a feature cache states.
bool read_cache_shape(const std::string& path, int64_t* rows, int64_t* dim) {
  std::ifstream f(path, std::ios::binary);
  char buf[kNpyHeaderBytes];
  if (!f.read(buf, sizeof buf)) return false;
  const std::string h(buf, sizeof buf);
  const size_t at = h.find("'shape': (");
  if (h.compare(0, 6, "\x93NUMPY") != 0 || h.find("'descr': '<f2'") == std::string::npos ||
      at == std::string::npos)
    return false;
  char* end = nullptr;
  const char* p = h.c_str() + at + 10;
  const long long r = std::strtoll(p, &end, 10);
  if (end == p || std::strncmp(end, ", ", 2) != 0) return false;
  p = end + 2;
  const long long d = std::strtoll(p, &end, 10);
  if (end == p || *end != ')' || r < 0 || d < 0) return false;
  *rows = r;
  *dim = d;
  return true;
}

}  // namespace

json state_json(const KMeansState& s) {
  json j = {{"k", s.k},
            {"dim", s.dim},
            {"centroids", s.centroids},
            {"counts", s.counts},
            {"steps", s.steps},
            {"since_reassign", s.since_reassign},
            {"have_ewa", s.have_ewa},
            {"ewa_inertia", s.ewa_inertia},
            {"ewa_min", s.ewa_min},
            {"no_improvement", s.no_improvement},
            {"converged", s.converged}};
  if (!s.rng_state.empty()) j["rng_state"] = s.rng_state;  // --rng numpy: where its generator stands
  return j;
}

json checkpoint_json(const Checkpoint& c) {
  json segs = json::array();
  for (const auto& r : c.segments) {
    json s = {{"file", r.file}, {"row", r.row}, {"frames", r.frames}};
    if (!r.error.empty()) s["error"] = r.error;
    segs.push_back(std::move(s));
  }
  json j = {{"version", 1},
            {"phase", c.phase},
            {"options", c.options},
            {"dim", c.dim},
            {"feature_rows", c.feature_rows},
            {"segments", segs},
            {"units_done", c.units_done},
            {"inertia", c.inertia}};
  if (c.have_kmeans) j["kmeans"] = state_json(c.km);
  return j;
}

// What must match for a rerun to continue a checkpoint (not the thread
// count: results do not depend on it).
json options_json(const UnitsJobOptions& o) {
  const KMeansOptions& k = o.kmeans;
  json j = {{"segments_dir", fs::absolute(o.segments_dir).lexically_normal().string()},
            {"feature_model", o.feature_model},
            {"layer", o.layer},
            {"k", k.k},
            {"shard", std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count)},
            {"cache", "npy-f16"},
            {"precision", o.precision}};
  if (o.kmeans_model.empty()) {
    j.update({{"batch_size", k.batch_size},
              {"max_iter", k.max_iter},
              {"max_no_improvement", k.max_no_improvement},
              {"n_init", k.n_init},
              {"init_size", k.init_size},
              {"reassignment_ratio", k.reassignment_ratio},
              {"seed", k.seed}});
    if (k.rng == KMeansRng::numpy) j["rng"] = "numpy";  // only when set: older checkpoints still match
  } else {
    j["kmeans_model"] = fs::absolute(o.kmeans_model).lexically_normal().string();
  }
  // Only when set: checkpoints of runs before --dedup existed still match.
  if (o.dedup) j["dedup"] = true;
  return j;
}

[[noreturn]] void bad(const std::string& field, const std::string& why) { throw BadState{field + " " + why}; }

std::string brief(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

const json& field(const json& obj, const std::string& where, const std::string& key) {
  if (!obj.is_object())
    bad(where.empty() ? "the checkpoint" : where, "is " + brief(obj) + ", not a JSON object");
  const auto it = obj.find(key);
  if (it == obj.end()) bad(join(where, key), "is missing");
  return *it;
}

int64_t int_at(const json& obj, const std::string& where, const std::string& key, int64_t lo, int64_t hi) {
  return int_value(field(obj, where, key), join(where, key), lo, hi);
}

double number_at(const json& obj, const std::string& where, const std::string& key, double lo, double hi) {
  return number_value(field(obj, where, key), join(where, key), lo, hi);
}

bool bool_at(const json& obj, const std::string& where, const std::string& key) {
  const json& v = field(obj, where, key);
  if (!v.is_boolean()) bad(join(where, key), "is " + brief(v) + ", not true or false");
  return v.get<bool>();
}

std::string string_at(const json& obj, const std::string& where, const std::string& key) {
  const json& v = field(obj, where, key);
  if (!v.is_string()) bad(join(where, key), "is " + brief(v) + ", not a string");
  return v.get<std::string>();
}

KMeansState state_from_json(const json& j) {
  const std::string w = "kmeans";
  KMeansState s;
  s.k = int_at(j, w, "k", 1, 65535);
  s.dim = int_at(j, w, "dim", 1, kMaxDim);
  const json& c = field(j, w, "centroids");
  if (!c.is_array() || c.size() != static_cast<size_t>(s.k * s.dim))
    bad("kmeans.centroids", "must be an array of k x dim = " + std::to_string(s.k * s.dim) + " numbers");
  s.centroids.reserve(c.size());
  for (size_t i = 0; i < c.size(); ++i)
    s.centroids.push_back(static_cast<float>(
        number_value(c[i], "kmeans.centroids[" + std::to_string(i) + "]", -kMaxCentroid, kMaxCentroid)));
  const json& n = field(j, w, "counts");
  if (!n.is_array() || n.size() != static_cast<size_t>(s.k))
    bad("kmeans.counts", "must be an array of k numbers");
  for (size_t i = 0; i < n.size(); ++i)
    s.counts.push_back(number_value(n[i], "kmeans.counts[" + std::to_string(i) + "]", 0, 1e300));
  s.steps = int_at(j, w, "steps", 0, kMaxSteps);
  s.since_reassign = int_at(j, w, "since_reassign", 0, kMaxSteps);
  s.have_ewa = bool_at(j, w, "have_ewa");
  s.ewa_inertia = number_at(j, w, "ewa_inertia", 0, 1e300);
  s.ewa_min = number_at(j, w, "ewa_min", 0, 1e300);
  s.no_improvement = static_cast<int>(int_at(j, w, "no_improvement", 0, INT32_MAX));
  s.converged = bool_at(j, w, "converged");
  if (j.contains("rng_state")) {
    const json& r = j["rng_state"];
    if (!r.is_array() || r.size() != 625)
      bad("kmeans.rng_state", "must be an array of 625 numbers (MT19937's 624 words and its position)");
    for (size_t i = 0; i < r.size(); ++i)
      s.rng_state.push_back(static_cast<uint32_t>(
          int_value(r[i], "kmeans.rng_state[" + std::to_string(i) + "]", 0, i < 624 ? 0xffffffffLL : 624)));
  }
  return s;
}

// The checkpoint's fields, each checked for type and range; how they fit
// together is check_consistency's.
Checkpoint checkpoint_from_json(const json& j) {
  Checkpoint c;
  if (j.contains("version") && int_at(j, "", "version", 0, INT32_MAX) != 1)
    bad("version", "is not 1 (another acoustok?)");
  c.phase = string_at(j, "", "phase");
  static const std::set<std::string> phases = {"features", "kmeans", "units", "done", "shard-done"};
  if (!phases.count(c.phase))
    bad("phase", "is " + brief(json(c.phase)) + ", not one of features, kmeans, units, done, shard-done");
  c.options = field(j, "", "options");
  c.dim = int_at(j, "", "dim", 0, kMaxDim);
  c.feature_rows = int_at(j, "", "feature_rows", 0, kMaxRows);
  const json& segs = field(j, "", "segments");
  if (!segs.is_array()) bad("segments", "is " + brief(segs) + ", not an array");
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string w = "segments[" + std::to_string(i) + "]";
    SegmentRecord r;
    r.file = string_at(segs[i], w, "file");
    r.row = int_at(segs[i], w, "row", 0, kMaxRows);
    r.frames = int_at(segs[i], w, "frames", 0, kMaxRows);
    if (segs[i].contains("error")) r.error = string_at(segs[i], w, "error");
    c.segments.push_back(std::move(r));
  }
  c.units_done = int_at(j, "", "units_done", 0, static_cast<int64_t>(c.segments.size()));
  c.inertia = number_at(j, "", "inertia", 0, 1e300);
  if (j.contains("kmeans")) {
    c.have_kmeans = true;
    c.km = state_from_json(field(j, "", "kmeans"));
  }
  return c;
}

std::string option_differences(const json& theirs, const json& mine) {
  if (!theirs.is_object()) return "options: " + brief(theirs) + " in the checkpoint";
  std::string out;
  const auto add = [&](const std::string& key, const std::string& there, const std::string& here) {
    out += (out.empty() ? "" : ", ") + key + ": " + there + " in the checkpoint, " + here + " in this run";
  };
  for (auto it = mine.begin(); it != mine.end(); ++it) {
    const auto t = theirs.find(it.key());
    if (t == theirs.end())
      add(it.key(), "none", brief(it.value()));
    else if (*t != it.value())
      add(it.key(), brief(*t), brief(it.value()));
  }
  for (auto it = theirs.begin(); it != theirs.end(); ++it)
    if (!mine.contains(it.key())) add(it.key(), brief(it.value()), "none");
  return out;
}

void check_consistency(const Checkpoint& c, const std::set<std::string>& names, const fs::path& cache_dir,
                       bool shard_run, int64_t k) {
  if (shard_run && c.phase != "features" && c.phase != "shard-done")
    bad("phase",
        "is " + brief(json(c.phase)) + ", but a --shard run has only the phases features and shard-done");
  if (!shard_run && c.phase == "shard-done") bad("phase", "is \"shard-done\", but this is no --shard run");
  std::set<std::string> seen;
  int64_t next_row = 0;
  for (size_t i = 0; i < c.segments.size(); ++i) {
    const SegmentRecord& r = c.segments[i];
    const std::string w = "segments[" + std::to_string(i) + "]";
    if (!is_plain_file_name(r.file))
      bad(w + ".file", "is " + brief(json(r.file)) + ", not the name of a file in the segments folder");
    if (!names.count(r.file))
      bad(w + ".file", "is " + brief(json(r.file)) + ", not a .wav segment of the segments folder");
    if (!seen.insert(r.file).second)
      bad(w + ".file", "is " + brief(json(r.file)) + " again (a duplicated record)");
    if (!r.error.empty() && r.frames != 0)
      bad(w + ".frames", "is " + std::to_string(r.frames) + " for a skipped segment (must be 0)");
    if (r.row != next_row)
      bad(w + ".row", "is " + std::to_string(r.row) + ", but the records before it end at row " +
                          std::to_string(next_row));
    next_row += r.frames;
    if (next_row > c.feature_rows)
      bad(w + ".frames", "is " + std::to_string(r.frames) + ": the records would end at row " +
                             std::to_string(next_row) + ", past feature_rows " +
                             std::to_string(c.feature_rows));
  }
  if (next_row != c.feature_rows)
    bad("feature_rows", "is " + std::to_string(c.feature_rows) + ", but the segment records hold " +
                            std::to_string(next_row) + " frames");
  if (c.feature_rows > 0 && c.dim == 0)
    bad("dim", "is 0, but feature_rows is " + std::to_string(c.feature_rows));
  // A done job no longer reads its feature cache (it may be deleted then).
  if (c.feature_rows > 0 && c.phase != "done") {
    const std::string cache = (cache_dir / kFeatureCache).string();
    int64_t rows = 0, dim = 0;
    if (!read_cache_shape(cache, &rows, &dim))
      bad("feature_rows",
          "is " + std::to_string(c.feature_rows) + ", but " + cache + " is missing or no feature cache");
    if (dim != c.dim)
      bad("dim", "is " + std::to_string(c.dim) + ", but " + cache + " holds rows of " + std::to_string(dim));
    const int64_t need = static_cast<int64_t>(kNpyHeaderBytes) + c.feature_rows * c.dim * 2;
    const int64_t size = file_size(cache);
    if (rows < c.feature_rows || size < need)
      bad("feature_rows", "is " + std::to_string(c.feature_rows) + " (" + std::to_string(need) +
                              " bytes), but " + cache + " holds " +
                              std::to_string(std::min(rows, (size - static_cast<int64_t>(kNpyHeaderBytes)) /
                                                                std::max<int64_t>(1, 2 * c.dim))) +
                              " rows");
  }
  const bool predicting = c.phase == "units" || c.phase == "done";
  if (predicting && !c.have_kmeans) bad("kmeans", "is missing in phase " + c.phase);
  if (c.have_kmeans) {
    if (c.km.k != k)
      bad("kmeans.k", "is " + std::to_string(c.km.k) + ", but the run's k is " + std::to_string(k));
    if (c.km.dim != c.dim)
      bad("kmeans.dim",
          "is " + std::to_string(c.km.dim) + ", but the features have dim " + std::to_string(c.dim));
  }
  if (!predicting && c.units_done != 0)
    bad("units_done",
        "is " + std::to_string(c.units_done) + " in phase " + c.phase + " (units come after k-means)");
  if (c.phase == "done" && c.units_done != static_cast<int64_t>(c.segments.size()))
    bad("units_done", "is " + std::to_string(c.units_done) + " in phase done, not all " +
                          std::to_string(c.segments.size()) + " segments");
  if (c.phase == "units") {
    int64_t unit_rows = 0;
    for (int64_t i = 0; i < c.units_done; ++i) unit_rows += c.segments[static_cast<size_t>(i)].frames;
    const std::string units = (cache_dir / "units.u16").string();
    const int64_t size = file_size(units);
    if (unit_rows > 0 && size < unit_rows * 2)
      bad("units_done", "is " + std::to_string(c.units_done) + " (" + std::to_string(unit_rows) +
                            " units), but " + units + " holds " +
                            std::to_string(std::max<int64_t>(0, size / 2)));
  }
}

}  // namespace acoustok::units
