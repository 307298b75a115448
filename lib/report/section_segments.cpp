// SPDX-License-Identifier: MIT
// Phase 0: segments.jsonl.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "report/chart.hpp"
#include "report/json_file.hpp"
#include "report/section.hpp"

namespace acoustok::report {
namespace {

std::string to_s(const fs::path& p) { return p.string(); }

}  // namespace

Section segments_section(const fs::path& dir, Counters& n) {
  const std::string path = to_s(dir / "segments.jsonl");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  const JsonFile jf{path};
  std::vector<double> durations;
  std::vector<std::string> sources;                              // in order of appearance
  std::map<std::string, std::pair<int64_t, double>> per_source;  // segments, seconds
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = "line " + std::to_string(line_no);
    json rec;
    try {
      rec = json::parse(line);
    } catch (const json::exception& e) {
      jf.fail(where, std::string("not valid JSON: ") + e.what());
    }
    jf.object(rec, where);
    const double start = jf.number(rec, "start", where), end = jf.number(rec, "end", where);
    if (end < start) jf.fail(where, "\"end\" is before \"start\"");
    if (!std::isfinite(end - start)) jf.fail(where, "\"start\" or \"end\" is out of range");
    durations.push_back(end - start);
    const std::string src = jf.opt_string(rec, "source", where).value_or("");
    auto& ps = per_source[src];
    if (ps.first++ == 0) sources.push_back(src);
    ps.second += end - start;
  }
  if (in.bad()) throw file_error(path, "read error");

  Section sec{0, "Phase 0 \xC2\xB7 segments", to_s(dir), ""};
  std::vector<double> sorted = durations;
  std::sort(sorted.begin(), sorted.end());
  double total = 0;
  for (double d : durations) total += d;
  const size_t count = durations.size();
  auto quantile = [&](double q) {
    return count ? sorted[std::min(count - 1, static_cast<size_t>(q * static_cast<double>(count)))] : kNaN;
  };
  sec.body += stats_table(
      "segments",
      {
          {"segments", integer(static_cast<int64_t>(count))},
          {"recordings", integer(static_cast<int64_t>(sources.size()))},
          {"total duration", duration_text(total)},
          {"mean length", count ? fixed(total / static_cast<double>(count), 2) + " s" : num(kNaN)},
          {"median length", count ? fixed(quantile(0.5), 2) + " s" : num(kNaN)},
          {"shortest / longest",
           count ? fixed(sorted.front(), 2) + " s / " + fixed(sorted.back(), 2) + " s" : num(kNaN)},
      });
  // Bins of a round width, about 30 of them, from 0.
  const double longest = count ? sorted.back() : 0;
  const double width = nice_step(std::max(longest, 0.1) / 30);
  const size_t bins =
      std::max<size_t>(1, std::min<size_t>(200, static_cast<size_t>(std::floor(longest / width)) + 1));
  std::vector<double> edges(bins + 1), counts(bins, 0);
  for (size_t i = 0; i <= bins; ++i) edges[i] = width * static_cast<double>(i);
  for (double d : durations) counts[std::min(bins - 1, static_cast<size_t>(std::max(0.0, d / width)))] += 1;
  sec.body += figure(
      histogram_chart("segment-lengths", "Segment lengths", "length (s)", "segments", edges, counts, "s"),
      "Length of each segment of <code>segments.jsonl</code> (<code>end \xE2\x88\x92 start</code>, padding "
      "included), in bins of " +
          num(width) + " s.");
  ++n.charts;

  // Segments per recording (the first 50).
  constexpr size_t kRecordings = 50;
  std::string table =
      "<h3>Recordings</h3>\n<table class=\"recordings\" "
      "data-table=\"recordings\"><thead><tr><th>recording</th><th>segments</th>"
      "<th>seconds in segments</th></tr></thead><tbody>";
  for (size_t i = 0; i < sources.size() && i < kRecordings; ++i) {
    const auto& ps = per_source[sources[i]];
    table += "<tr><td><code>" + (sources[i].empty() ? std::string("(no source)") : esc(sources[i])) +
             "</code></td><td>" + integer(ps.first) + "</td><td>" + fixed(ps.second, 1) + "</td></tr>";
  }
  table += "</tbody></table>\n";
  if (sources.size() > kRecordings)
    table += "<p class=\"note\">The first " + std::to_string(kRecordings) + " of " +
             std::to_string(sources.size()) + " recordings.</p>\n";
  sec.body += table;
  return sec;
}

}  // namespace acoustok::report
