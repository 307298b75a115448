// SPDX-License-Identifier: MIT
// Phase 3: vocoder test's metrics, spectrograms and players.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "report/audio_clip.hpp"
#include "report/chart.hpp"
#include "report/json_file.hpp"
#include "report/section.hpp"
#include "report/spectrogram.hpp"

namespace acoustok::report {
namespace {

std::string to_s(const fs::path& p) { return p.string(); }

bool plain_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-'))
      return false;
  return true;
}

}  // namespace

Section vocoder_test_section(const fs::path& dir, const Options& opt, Counters& n) {
  Section sec{3, "Phase 3 \xC2\xB7 vocoder test", to_s(dir), ""};
  const std::string path = to_s(dir / "metrics.json");
  const JsonFile jf{path};
  const json doc = read_json_file(path);
  jf.object(doc, "");
  if (!doc.contains("samples")) jf.fail("", "missing \"samples\"");
  const json& samples = jf.array(doc["samples"], "samples");
  struct Column {
    const char* key;
    const char* head;
    int decimals;
  };
  static const Column kColumns[] = {{"snr_db", "SNR dB", 2},
                                    {"mcd_db", "MCD dB", 2},
                                    {"length_ratio", "length", 4},
                                    {"gpe", "GPE", 3},
                                    {"vde", "VDE", 3},
                                    {"ffe", "FFE", 3},
                                    {"f0_rmse_hz", "F0 RMSE Hz", 1},
                                    {"voicing_error", "V/UV err", 3},
                                    {"unit_agreement", "unit agr", 3}};
  const json empty = json::object();
  const json& mean = doc.contains("mean") && !doc["mean"].is_null() ? jf.object(doc["mean"], "mean") : empty;
  std::vector<const Column*> cols;
  for (const Column& c : kColumns) {
    bool present = mean.contains(c.key);
    for (const json& s : samples) present = present || (s.is_object() && s.contains(c.key));
    if (present) cols.push_back(&c);
  }
  if (auto ck = jf.opt_string(doc, "checkpoint", ""))
    sec.body += "<p>Checkpoint: <code>" + esc(*ck) + "</code></p>\n";

  std::string table =
      "<table class=\"metrics\" "
      "data-table=\"vocoder-metrics\"><thead><tr><th>sample</th><th>segment</th><th>units</th>";
  for (const Column* c : cols) table += std::string("<th>") + c->head + "</th>";
  table += "</tr></thead><tbody>";
  std::vector<std::string> names;
  for (size_t i = 0; i < samples.size(); ++i) {
    const std::string where = "samples[" + std::to_string(i) + "]";
    const json& s = jf.object(samples[i], where);
    const std::string name = jf.opt_string(s, "name", where).value_or("");
    names.push_back(name);
    table += "<tr><td>" + esc(name) + "</td><td>" + esc(jf.opt_string(s, "segment", where).value_or("")) +
             "</td><td>" + num(jf.number_or_nan(s, "units", where), 12) + "</td>";
    for (const Column* c : cols)
      table += "<td>" + fixed(jf.number_or_nan(s, c->key, where), c->decimals) + "</td>";
    table += "</tr>";
  }
  if (!mean.empty()) {
    table += "<tr class=\"mean\"><td>mean</td><td></td><td></td>";
    for (const Column* c : cols)
      table += "<td>" + fixed(jf.number_or_nan(mean, c->key, "mean"), c->decimals) + "</td>";
    table += "</tr>";
  }
  table += "</tbody></table>\n";
  sec.body += table + "<p class=\"note\">Definitions: docs/metrics.md. \xE2\x80\x93: undefined.</p>\n";

  const size_t shown = std::min(names.size(), static_cast<size_t>(std::max(0, opt.samples)));
  if (shown == 0) return sec;
  sec.body +=
      "<h3>Recordings and their synthesis</h3>\n<p>Log-mel spectrograms (80 bands, 0\xE2\x80\x93"
      "8 kHz, "
      "80 dB below the loudest cell of each pair) of ";
  sec.body += shown < names.size() ? "the first " + std::to_string(shown) + " of " +
                                         std::to_string(names.size()) + " samples (<code>--samples</code>)"
                                   : "every sample";
  sec.body += opt.audio_seconds > 0 ? "; the players hold the first " + num(opt.audio_seconds) +
                                          " s of each file (<code>--audio-seconds</code>).</p>\n"
                                    : "; no audio embedded (<code>--audio-seconds 0</code>).</p>\n";
  for (size_t i = 0; i < shown; ++i) {
    const std::string& name = names[i];
    sec.body += "<div class=\"sample\" data-sample=\"" + esc(name) + "\"><h4>sample " + esc(name) + "</h4>\n";
    if (!plain_name(name)) {
      sec.body +=
          "<p class=\"note\">The sample's name is not a plain file name part: its WAV files are not looked "
          "up.</p></div>\n";
      continue;
    }
    std::vector<float> audio[2];
    bool have[2] = {false, false};
    std::string players;
    const char* const kinds[2] = {"orig", "synth"};
    for (int w = 0; w < 2; ++w) {
      const std::string file = std::string(kinds[w]) + "_" + name + ".wav";
      const std::string wav = to_s(dir / file);
      std::error_code ec;
      if (!fs::is_regular_file(wav, ec)) {
        players += "<p class=\"note\">" + esc(file) + " is missing.</p>";
        continue;
      }
      std::string note;
      have[w] = read_wav_for_report(wav, audio[w], note, opt, n);
      if (!have[w])
        players += note;
      else if (opt.audio_seconds > 0)
        players += player_html(file, audio[w], opt.audio_seconds, n);
    }
    Spectrogram sp[2];
    double top = -std::numeric_limits<double>::infinity();
    for (int w = 0; w < 2; ++w)
      if (have[w]) {
        sp[w] = mel_spectrogram(audio[w], 300);
        for (double d : sp[w].db) top = std::max(top, d);
      }
    sec.body += "<div class=\"pair\">";
    for (int w = 0; w < 2; ++w)
      if (have[w]) {
        sec.body += "<figure class=\"chart-box\">" +
                    spectrogram_svg(
                        std::string("spectrogram-") + kinds[w] + "-" + name,
                        std::string(w == 0 ? "recording " : "synthesis ") + kinds[w] + "_" + name + ".wav",
                        sp[w], top) +
                    "</figure>";
        ++n.charts;
      }
    sec.body += "</div>\n<div class=\"players\">" + players + "</div></div>\n";
  }
  return sec;
}

}  // namespace acoustok::report
