// SPDX-License-Identifier: MIT
// The page: which folders hold which outputs, their sections in phase order,
// the header, the table of contents and the style sheet.
#include "config.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "acoustok/error.hpp"
#include "report/report.hpp"
#include "report/text.hpp"

namespace acoustok::report {
namespace {

struct Found {
  fs::path dir;
  bool segments = false, corpus = false, units_txt = false, kmeans = false, analysis = false, vocab = false,
       log = false, metrics = false;
  bool any() const {
    return segments || corpus || units_txt || kmeans || analysis || vocab || log || metrics;
  }
};

Found probe(const fs::path& dir) {
  Found f;
  f.dir = dir;
  auto has = [&](const char* name) {
    std::error_code ec;
    return fs::is_regular_file(dir / name, ec);
  };
  f.segments = has("segments.jsonl");
  f.corpus = has("corpus_timestamped.json");
  f.units_txt = has("all_units_for_bpe.txt");
  f.kmeans = has("kmeans.safetensors");
  f.analysis = has("motif_analysis.json");
  f.vocab = has("bpe.vocab");
  f.log = has("training_log.json");
  f.metrics = has("metrics.json");
  return f;
}

const char kStyle[] = R"CSS(
body { font: 14px/1.45 "DejaVu Sans", Arial, sans-serif; color: #222; max-width: 1180px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 19px; border-bottom: 2px solid #4e79a7; padding-bottom: 4px; margin-top: 36px; }
h2 .dir, .meta code { font-weight: normal; font-size: 13px; color: #555; }
h3 { font-size: 15px; margin: 20px 0 8px; }
h4 { font-size: 14px; margin: 12px 0 4px; }
.meta { color: #555; margin: 0 0 12px; }
nav ul { margin: 4px 0; padding-left: 20px; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 12.5px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e3e3e3; text-align: left; vertical-align: top; }
table.stats th { font-weight: normal; color: #555; }
table.metrics td, table.motifs td { font-variant-numeric: tabular-nums; }
table.metrics thead th, table.motifs thead th { border-bottom: 2px solid #bbb; }
tr.mean td { font-weight: bold; border-top: 2px solid #bbb; }
td.motif { font-family: "DejaVu Sans Mono", monospace; }
figure.chart-box { display: inline-block; width: min-content; margin: 8px 12px 12px 0; vertical-align: top; }
figcaption { font-size: 12.5px; color: #555; }
svg.chart { background: #fff; border: 1px solid #e3e3e3; display: block; }
svg.chart text { font: 11px "DejaVu Sans", Arial, sans-serif; fill: #333; }
svg.chart text.title { font-size: 14px; font-weight: bold; }
svg.chart text.axis-label { font-size: 12px; fill: #444; }
svg.chart text.no-data { font-size: 14px; fill: #999; }
svg.chart .grid { stroke: #ececec; }
svg.chart .axis, svg.chart .tick-mark { stroke: #888; }
svg.chart .bar { fill: #4e79a7; }
svg.chart .bar:hover { fill: #f28e2b; }
svg.chart .area { fill: #4e79a7; }
svg.chart .line { stroke-width: 2; }
svg.chart .reference, svg.chart .marker { stroke: #e15759; stroke-dasharray: 5 4; }
svg.chart text.reference-label, svg.chart text.marker-label { fill: #e15759; }
.pair { display: flex; flex-wrap: wrap; gap: 0 8px; }
.players { display: flex; flex-wrap: wrap; gap: 8px 24px; margin-bottom: 16px; }
.player span { display: block; font-size: 12.5px; color: #555; }
.note { color: #8a5a00; font-size: 13px; }
footer { margin-top: 40px; color: #777; font-size: 12px; }
)CSS";

constexpr const char kOutputNames[] =
    "segments.jsonl, corpus_timestamped.json, kmeans.safetensors, motif_analysis.json, bpe.vocab, "
    "training_log.json";

// Each DIR, or when it holds nothing itself, its sub-folders (one level).
std::vector<Found> find_folders(const std::vector<std::string>& dirs, const Options& opt) {
  auto skip = [&](const std::string& message) {
    if (opt.skipped) opt.skipped(message);
  };
  std::vector<Found> found;
  for (const std::string& d : dirs) {
    std::error_code ec;
    if (!fs::is_directory(d, ec)) {
      skip(d + ": " + (fs::exists(d, ec) ? "not a folder" : "no such folder"));
      continue;
    }
    Found f = probe(d);
    if (f.any()) {
      found.push_back(f);
      continue;
    }
    std::vector<fs::path> subs;
    for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code ec2;
      if (it->is_directory(ec2) && it->path().filename().string()[0] != '.') subs.push_back(it->path());
    }
    std::sort(subs.begin(), subs.end());
    bool any = false;
    for (const fs::path& s : subs) {
      Found fs2 = probe(s);
      if (fs2.any()) found.push_back(fs2), any = true;
    }
    if (!any) skip(d + ": no phase outputs found (" + kOutputNames + ", metrics.json)");
  }
  if (found.empty())
    throw Error(std::string("report: none of the folders holds phase outputs (") + kOutputNames +
                " or metrics.json)");
  return found;
}

std::vector<Section> sections_of(const std::vector<Found>& found, const Options& opt, Counters& n) {
  std::vector<Section> sections;
  for (const Found& f : found) {
    if (f.segments) sections.push_back(segments_section(f.dir, n));
    if (f.corpus || f.units_txt || f.kmeans)
      sections.push_back(units_section(f.dir, f.corpus, f.units_txt, f.kmeans, n));
    if (f.analysis || f.vocab) sections.push_back(motifs_section(f.dir, f.analysis, n));
    if (f.log) sections.push_back(training_section(f.dir, opt, n));
    if (f.metrics) sections.push_back(vocoder_test_section(f.dir, opt, n));
  }
  std::stable_sort(sections.begin(), sections.end(),
                   [](const Section& a, const Section& b) { return a.phase < b.phase; });
  return sections;
}

std::string render(const std::vector<std::string>& dirs, const std::vector<Section>& sections,
                   const Options& opt) {
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; media-src "
      "data:; style-src 'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" "
      "content=\"acoustok " ACOUSTOK_VERSION "\">\n<title>acoustok report</title>\n<style>";
  html += kStyle;
  html +=
      "</style>\n</head>\n<body>\n<header>\n<h1>acoustok report</h1>\n<p "
      "class=\"meta\">acoustok " ACOUSTOK_VERSION ", " +
      opt.generated + "; from";
  for (const std::string& d : dirs) html += " <code>" + esc(d) + "</code>";
  html += "</p>\n</header>\n<nav>\n<ul>\n";
  for (size_t i = 0; i < sections.size(); ++i)
    html += "<li><a href=\"#section-" + std::to_string(i + 1) + "\">" + esc(sections[i].title) +
            "</a> <code>" + esc(sections[i].dir) + "</code></li>\n";
  html += "</ul>\n</nav>\n";
  for (size_t i = 0; i < sections.size(); ++i) {
    const Section& s = sections[i];
    html += "<section id=\"section-" + std::to_string(i + 1) + "\" class=\"phase\" data-phase=\"" +
            std::to_string(s.phase) + "\">\n<h2>" + esc(s.title) + " <span class=\"dir\">" + esc(s.dir) +
            "</span></h2>\n" + s.body + "</section>\n";
  }
  html +=
      "<footer>Written by <code>acoustok report</code>: one file, no script, nothing fetched from the "
      "network.</footer>\n</body>\n</html>\n";
  return html;
}

}  // namespace

Page build_page(const std::vector<std::string>& dirs, const Options& opt) {
  const std::vector<Found> found = find_folders(dirs, opt);
  Page page;
  const std::vector<Section> sections = sections_of(found, opt, page.counters);
  page.html = render(dirs, sections, opt);
  page.folders = found.size();
  page.sections = sections.size();
  for (const Section& s : sections) page.phases.insert(s.phase);
  return page;
}

}  // namespace acoustok::report
