// SPDX-License-Identifier: MIT
// Phase 1: the k-means model and the units.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/tensor_file.hpp"
#include "report/chart.hpp"
#include "report/json_file.hpp"
#include "report/section.hpp"
#include "report/unit_stats.hpp"

namespace acoustok::report {
namespace {

std::string to_s(const fs::path& p) { return p.string(); }

// After a feature model that the outputs mark as a random-weight stand-in.
constexpr const char* kStandInNote =
    " <strong>(a random-weight stand-in, not a trained model: these units only demonstrate the "
    "pipeline)</strong>";

}  // namespace

Section units_section(const fs::path& dir, bool corpus, bool units_txt, bool kmeans, Counters& n) {
  Section sec{1, "Phase 1 \xC2\xB7 units", to_s(dir), ""};
  if (kmeans) {
    const std::string path = to_s(dir / "kmeans.safetensors");
    SafetensorsFile km(path);
    const auto& meta = km.metadata();
    auto field = [&](const char* key) {
      const auto it = meta.find(key);
      return it == meta.end() ? num(kNaN) : esc(it->second);
    };
    std::string shape = num(kNaN);
    if (km.contains("centroids")) {
      const auto& c = km.at("centroids");
      shape.clear();
      for (size_t i = 0; i < c.shape.size(); ++i)
        shape += (i ? " \xC3\x97 " : "") + std::to_string(c.shape[i]);
      shape += " (" + dtype_name(c.dtype) + ")";
    }
    std::string per_frame = num(kNaN);
    if (meta.count("inertia") && meta.count("frames")) {
      const double inertia = std::strtod(meta.at("inertia").c_str(), nullptr),
                   frames = std::strtod(meta.at("frames").c_str(), nullptr);
      if (frames > 0) per_frame = num(inertia / frames);
    }
    sec.body += "<h3>k-means model <code>kmeans.safetensors</code></h3>\n";
    sec.body += stats_table(
        "kmeans", {{"centroids", shape},
                   {"k", field("k")},
                   {"feature model",
                    field("feature_model") + (meta.count("feature_model_stand_in") ? kStandInNote : "")},
                   {"layer", field("layer")},
                   {"frames fitted", field("frames")},
                   {"inertia", meta.count("inertia") ? num(std::strtod(meta.at("inertia").c_str(), nullptr))
                                                     : num(kNaN)},
                   {"inertia per frame", per_frame},
                   {"mini-batch steps", field("steps")},
                   {"seed", field("seed")}});
  }
  if (!corpus && !units_txt) return sec;

  const std::string name = corpus ? "corpus_timestamped.json" : "all_units_for_bpe.txt";
  const std::string path = to_s(dir / name);
  UnitStats st = corpus ? read_corpus(path) : read_units_text(path);
  const int64_t used_ids = static_cast<int64_t>(st.counts.size());
  if (st.k && used_ids > *st.k)
    throw file_error(path,
                     "unit id " + std::to_string(used_ids - 1) + " is not below k=" + std::to_string(*st.k));
  const int64_t k = st.k.value_or(used_ids);
  const double rate = st.frame_rate.value_or(50);
  int64_t used = 0;
  double entropy = 0;
  for (int64_t c : st.counts) {
    if (c == 0) continue;
    ++used;
    const double p = static_cast<double>(c) / static_cast<double>(st.frames);
    entropy -= p * std::log2(p);
  }
  int64_t runs = 0;
  for (const auto& r : st.runs) runs += r.second;
  const double mean_run = runs ? static_cast<double>(st.frames) / static_cast<double>(runs) : kNaN;

  sec.body += "<h3>Units <code>" + esc(name) + "</code></h3>\n";
  std::vector<Row> rows;
  if (st.feature_model)
    rows.push_back({"feature model", esc(*st.feature_model) + (st.stand_in ? kStandInNote : "")});
  if (st.layer) rows.push_back({"layer", integer(*st.layer)});
  rows.push_back({"k", st.k ? integer(*st.k) : integer(k) + " (highest id + 1)"});
  rows.push_back(
      {"segments", integer(st.segments) +
                       (st.empty_segments ? " (" + integer(st.empty_segments) + " without frames)" : "")});
  rows.push_back({"frames", integer(st.frames) + " (" + duration_text(static_cast<double>(st.frames) / rate) +
                                " at " + num(rate) + " frames/s)"});
  rows.push_back({"units used", integer(used) + " of " + integer(k)});
  rows.push_back({"entropy of the unit distribution",
                  num(entropy) + " bits (perplexity " + num(std::pow(2.0, entropy)) + "; " +
                      (k > 1 ? percent(entropy / std::log2(static_cast<double>(k))) : num(kNaN)) +
                      " of log2 k)"});
  rows.push_back(
      {"mean run of one unit", num(mean_run) + " frames (" + num(mean_run * 1000 / rate) + " ms)"});
  sec.body += stats_table("units", rows);

  // Unit frequencies, most frequent first (every unit of 0..k-1, unused ones at 0).
  std::vector<std::pair<int64_t, int64_t>> order;  // (count, unit)
  for (int64_t u = 0; u < k; ++u) order.push_back({u < used_ids ? st.counts[static_cast<size_t>(u)] : 0, u});
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<Bar> bars;
  const bool label_ids = k <= 60;
  for (size_t r = 0; r < order.size(); ++r) {
    const double share = st.frames ? static_cast<double>(order[r].first) / static_cast<double>(st.frames) : 0;
    bars.push_back({label_ids ? std::to_string(order[r].second) : std::to_string(r + 1),
                    static_cast<double>(order[r].first),
                    "unit " + std::to_string(order[r].second) + ": " + std::to_string(order[r].first) +
                        " frames (" + percent(share, 2) + ")"});
  }
  const double uniform = k > 0 ? static_cast<double>(st.frames) / static_cast<double>(k) : kNaN;
  sec.body += figure(bar_chart("unit-frequencies", "Unit frequencies",
                               label_ids ? "unit (most frequent first)" : "rank of the unit", "frames", bars,
                               false, uniform, "uniform: " + num(uniform) + " frames"),
                     "Frames assigned to each of the " + integer(k) +
                         " units, sorted by frequency; the dashed line is a uniform use of every unit.");
  ++n.charts;

  // Run lengths: 1..40 frames, longer ones in the last bar.
  constexpr int64_t kMaxRunBar = 40;
  int64_t longest = 0;
  for (const auto& r : st.runs) longest = std::max(longest, r.first);
  const int64_t last = std::min(longest, kMaxRunBar);
  std::vector<Bar> run_bars;
  for (int64_t len = 1; len <= last; ++len) {
    int64_t c = 0;
    if (len < kMaxRunBar || longest <= kMaxRunBar) {
      const auto it = st.runs.find(len);
      c = it == st.runs.end() ? 0 : it->second;
    } else {
      for (auto it = st.runs.lower_bound(len); it != st.runs.end(); ++it) c += it->second;
    }
    const bool tail = len == kMaxRunBar && longest > kMaxRunBar;
    const double share = runs ? static_cast<double>(c) / static_cast<double>(runs) : 0;
    run_bars.push_back({(tail ? "\xE2\x89\xA5" : "") + std::to_string(len), static_cast<double>(c),
                        (tail ? "\xE2\x89\xA5" : "") + std::to_string(len) + " frames (" +
                            num(static_cast<double>(len) * 1000 / rate) + " ms): " + std::to_string(c) +
                            " runs (" + percent(share, 2) + ")"});
  }
  sec.body +=
      figure(bar_chart("run-lengths", "Run lengths", "frames in a run of one unit", "runs", run_bars, false),
             "A run is a stretch of consecutive frames with the same unit within a segment (one frame = " +
                 num(1000 / rate) + " ms); " + integer(runs) + " runs, the longest " + integer(longest) +
                 " frames.");
  ++n.charts;
  return sec;
}

}  // namespace acoustok::report
