// SPDX-License-Identifier: MIT
// Phase 2: the motif analysis, or the vocabulary alone.
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

constexpr size_t kTopMotifs = 20;
constexpr int64_t kMaxMotifLength = 512;  // bpe --max-motif-length

std::string to_s(const fs::path& p) { return p.string(); }

// {"1": 4506, "2": 1782, ...} -> length -> count
std::map<int64_t, double> length_distribution(const JsonFile& jf, const json& obj, const std::string& where) {
  jf.object(obj, where);
  std::map<int64_t, double> out;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& key = it.key();
    int64_t len = 0;
    bool ok = !key.empty() && key.size() <= 3;
    for (char c : key) ok = ok && c >= '0' && c <= '9';
    if (ok) len = std::stoll(key);
    if (!ok || len < 1 || len > kMaxMotifLength)
      jf.fail(where, "\"" + key.substr(0, 40) + "\" is not a motif length (1 to 512 units)");
    if (!it.value().is_number() || it.value().get<double>() < 0)
      jf.fail(where + "." + key, std::string("expected a count, found ") + it.value().type_name());
    out[len] = it.value().get<double>();
  }
  return out;
}

std::vector<Bar> length_bars(const std::map<int64_t, double>& dist, const std::string& what) {
  std::vector<Bar> bars;
  if (dist.empty()) return bars;
  double total = 0;
  for (const auto& d : dist) total += d.second;
  for (int64_t len = 1; len <= dist.rbegin()->first; ++len) {
    const auto it = dist.find(len);
    const double c = it == dist.end() ? 0 : it->second;
    bars.push_back({std::to_string(len), c,
                    std::to_string(len) + (len == 1 ? " unit: " : " units: ") + num(c, 12) + " " + what +
                        " (" + percent(total > 0 ? c / total : 0, 2) + ")"});
  }
  return bars;
}

}  // namespace

Section motifs_section(const fs::path& dir, bool analysis, Counters& n) {
  Section sec{2, "Phase 2 \xC2\xB7 motifs", to_s(dir), ""};
  if (!analysis) {
    // bpe.vocab alone: the lengths of the pieces (column 3: unit ids joined by '-').
    const std::string path = to_s(dir / "bpe.vocab");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
    std::map<int64_t, double> dist;
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      const size_t t2 = line.rfind('\t');
      if (t2 == std::string::npos || line.find('\t') == t2)
        throw file_error(path, "line " + std::to_string(line_no) + ": expected three tab-separated columns");
      const std::string ids = line.substr(t2 + 1);
      if (ids.empty() || ids[0] < '0' || ids[0] > '9') continue;  // <unk>, <s>, </s>, control pieces
      int64_t len = 1;
      for (char c : ids) {
        if (c == '-')
          ++len;
        else if (c < '0' || c > '9')
          throw file_error(path,
                           "line " + std::to_string(line_no) + ": column 3 is not unit ids joined by '-'");
      }
      if (len > kMaxMotifLength)
        throw file_error(path, "line " + std::to_string(line_no) + ": a piece of more than 512 units");
      dist[len] += 1;
    }
    sec.body +=
        "<p>Only <code>bpe.vocab</code> is here (no <code>motif_analysis.json</code>): the lengths of the "
        "pieces.</p>\n";
    sec.body +=
        figure(bar_chart("motif-vocabulary-lengths", "Motif vocabulary by length", "motif length (units)",
                         "pieces", length_bars(dist, "pieces"), false),
               "Pieces of <code>bpe.vocab</code> by their number of units (special pieces left out).");
    ++n.charts;
    return sec;
  }

  const std::string path = to_s(dir / "motif_analysis.json");
  const JsonFile jf{path};
  const json doc = read_json_file(path);
  jf.object(doc, "");
  std::string vocab_text = num(kNaN);
  if (doc.contains("vocab_size")) {
    const json& vs = jf.object(doc["vocab_size"], "vocab_size");
    vocab_text = num(jf.number_or_nan(vs, "used", "vocab_size"), 12) + " of " +
                 num(jf.number_or_nan(vs, "requested", "vocab_size"), 12) + " requested";
    if (auto reason = jf.opt_string(vs, "reason", "vocab_size")) vocab_text += " (" + esc(*reason) + ")";
  }
  const bool dedup = jf.opt_bool(doc, "dedup", "").value_or(false);
  const double frames = jf.number_or_nan(doc, "frames", ""), units = jf.number_or_nan(doc, "units", ""),
               tokens = jf.number_or_nan(doc, "tokens", "");
  std::vector<Row> rows = {
      {"corpus", esc(jf.opt_string(doc, "corpus", "").value_or("\xE2\x80\x93"))},
      {"vocabulary", vocab_text},
      {"collapsed repeats (--dedup)", dedup ? "yes" : "no"},
      {"longest motif allowed", num(jf.number_or_nan(doc, "max_motif_length", ""), 12) + " units"},
      {"lines", num(jf.number_or_nan(doc, "lines", ""), 12)},
      {"frames / units / tokens", num(frames, 12) + " / " + num(units, 12) + " / " + num(tokens, 12)},
      {"unknown tokens", num(jf.number_or_nan(doc, "unknown_tokens", ""), 12)},
      {"coverage (frames inside motifs of 2+ units)", percent(jf.number_or_nan(doc, "coverage", ""))},
      {"units per token", num(jf.number_or_nan(doc, "units_per_token", ""))},
      {"frames per token", num(jf.number_or_nan(doc, "frames_per_token", ""))},
      {"entropy", num(jf.number_or_nan(doc, "entropy_bits", "")) + " bits (normalised " +
                      num(jf.number_or_nan(doc, "normalized_entropy", "")) + ")"},
  };
  sec.body += stats_table("motifs", rows);

  std::map<int64_t, double> tok_dist, voc_dist;
  if (doc.contains("length_distribution")) {
    const json& ld = jf.object(doc["length_distribution"], "length_distribution");
    if (ld.contains("tokens")) tok_dist = length_distribution(jf, ld["tokens"], "length_distribution.tokens");
    if (ld.contains("vocabulary"))
      voc_dist = length_distribution(jf, ld["vocabulary"], "length_distribution.vocabulary");
  }
  sec.body += figure(
      bar_chart("motif-lengths", "Motif lengths in the encoded corpus", "motif length (units)", "tokens",
                length_bars(tok_dist, "tokens"), false),
      "Tokens of the encoded corpus by their length in units (<code>length_distribution.tokens</code>).");
  ++n.charts;
  sec.body += figure(bar_chart("motif-vocabulary-lengths", "Motif vocabulary by length",
                               "motif length (units)", "pieces", length_bars(voc_dist, "pieces"), false),
                     "Pieces of the model by their length in units, special pieces left out "
                     "(<code>length_distribution.vocabulary</code>).");
  ++n.charts;

  // Coverage: the share of units inside motifs of at least L units.
  std::vector<Bar> cover;
  double covered_total = 0;
  for (const auto& d : tok_dist) covered_total += static_cast<double>(d.first) * d.second;
  if (covered_total > 0) {
    for (int64_t len = 2; len <= tok_dist.rbegin()->first; ++len) {
      double c = 0;
      for (auto it = tok_dist.lower_bound(len); it != tok_dist.end(); ++it)
        c += static_cast<double>(it->first) * it->second;
      cover.push_back({"\xE2\x89\xA5" + std::to_string(len), c / covered_total,
                       "motifs of " + std::to_string(len) + "+ units hold " + percent(c / covered_total, 2) +
                           " of the " + (dedup ? "units" : "frames")});
    }
  }
  sec.body += figure(bar_chart("motif-coverage", "Coverage by motif length", "motifs of at least L units",
                               dedup ? "share of units" : "share of frames", cover, true),
                     std::string("Share of the corpus' ") + (dedup ? "(collapsed) units" : "frames") +
                         " that lie inside motifs of at least L units; the first bar is the coverage.");
  ++n.charts;

  // The top motifs.
  std::string table =
      "<table class=\"motifs\" data-table=\"top-motifs\"><thead><tr><th>#</th><th>motif (unit "
      "ids)</th><th>length</th>"
      "<th>occurrences</th><th>share of tokens</th><th>mean duration</th><th>token "
      "id</th></tr></thead><tbody>";
  size_t shown = 0, listed = 0;
  if (doc.contains("top_motifs")) {
    const json& top = jf.array(doc["top_motifs"], "top_motifs");
    listed = top.size();
    for (size_t i = 0; i < top.size() && shown < kTopMotifs; ++i) {
      const std::string where = "top_motifs[" + std::to_string(i) + "]";
      const json& m = jf.object(top[i], where);
      const double occ = jf.number_or_nan(m, "occurrences", where);
      table += "<tr><td>" + std::to_string(i + 1) + "</td><td class=\"motif\">" +
               esc(jf.opt_string(m, "motif", where).value_or("?")) + "</td><td>" +
               num(jf.number_or_nan(m, "length", where), 12) + "</td><td>" + num(occ, 12) + "</td><td>" +
               percent(tokens > 0 ? occ / tokens : kNaN, 2) + "</td><td>" +
               fixed(jf.number_or_nan(m, "mean_duration", where) * 1000, 0) + " ms</td><td>" +
               num(jf.number_or_nan(m, "token_id", where), 12) + "</td></tr>";
      ++shown;
    }
  }
  table += "</tbody></table>\n";
  sec.body +=
      "<h3>Top motifs</h3>\n<p>The " + std::to_string(shown) + " most frequent motifs of two units or more" +
      (listed > shown ? " (of the " + std::to_string(listed) + " listed in <code>motif_analysis.json</code>)"
                      : "") +
      ".</p>\n" + table;
  return sec;
}

}  // namespace acoustok::report
