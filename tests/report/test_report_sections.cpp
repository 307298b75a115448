// SPDX-License-Identifier: MIT
// Each page section from a small fixture the test writes, its figures
// against values computed here; and the page over folders and sub-folders.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/tensor_file.hpp"
#include "report/report.hpp"
#include "report/text.hpp"
#include "report_test_util.hpp"
#include "test_util.hpp"

using namespace acoustok::report;
using acoustok::test::count_of;
using acoustok::test::make_temp_dir;
using acoustok::test::well_formed;
using acoustok::test::write_file;

namespace {

std::string folder(const std::string& tag) { return make_temp_dir("report-" + tag); }

// The value cell of a stats table's row.
std::string row(const std::string& html, const std::string& label) {
  const std::string key = "<tr><th>" + label + "</th><td>";
  const size_t at = html.find(key);
  if (at == std::string::npos) return "(no row " + label + ")";
  return html.substr(at + key.size(), html.find("</td></tr>", at) - at - key.size());
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const acoustok::Error& e) {
    return e.what();
  }
  return "";
}

TEST(ReportSections, Segments) {
  const std::string dir = folder("segments");
  const std::vector<double> lengths = {1.5, 3.25, 0.5, 12.0, 4.0};
  std::string jsonl;
  double total = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    const double start = 10.0 * static_cast<double>(i);
    jsonl += "{\"source\": \"" + std::string(i < 3 ? "a<1>.wav" : "b.wav") +
             "\", \"index\": " + std::to_string(i) + ", \"start\": " + std::to_string(start) +
             ", \"end\": " + std::to_string(start + lengths[i]) + "}\n";
    total += lengths[i];
  }
  write_file(dir + "/segments.jsonl", jsonl + "\n");
  Counters n;
  const Section s = segments_section(dir, n);
  EXPECT_EQ(s.phase, 0);
  EXPECT_EQ(n.charts, 1);
  EXPECT_TRUE(well_formed(s.body));
  std::vector<double> sorted = lengths;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(row(s.body, "segments"), "5");
  EXPECT_EQ(row(s.body, "recordings"), "2");
  EXPECT_EQ(row(s.body, "total duration"), duration_text(total));
  EXPECT_EQ(row(s.body, "mean length"), fixed(total / 5, 2) + " s");
  EXPECT_EQ(row(s.body, "median length"), fixed(sorted[2], 2) + " s");
  EXPECT_EQ(row(s.body, "shortest / longest"), "0.50 s / 12.00 s");
  EXPECT_NE(s.body.find("<td><code>a&lt;1&gt;.wav</code></td><td>3</td><td>5.2</td>"), std::string::npos)
      << s.body;
  // Bins of 0.5 s from 0: 25 bins, one segment in each of 5.
  EXPECT_EQ(count_of(s.body, "<rect class=\"bar\""), 25u);
  EXPECT_EQ(count_of(s.body, "data-value=\"1\""), 5u);

  write_file(dir + "/segments.jsonl", jsonl + "{\"start\": 2, \"end\": 1}\n");
  EXPECT_EQ(error_of([&] { segments_section(dir, n); }),
            dir + "/segments.jsonl: line 6: \"end\" is before \"start\"");
  write_file(dir + "/segments.jsonl", "{\"start\": 0, \"end\": \"1\"}\n");
  EXPECT_EQ(error_of([&] { segments_section(dir, n); }),
            dir + "/segments.jsonl: line 1: end: expected a number, found string");
  write_file(dir + "/segments.jsonl", "{\"start\": 0,\n");
  EXPECT_NE(error_of([&] { segments_section(dir, n); }).find("line 1: not valid JSON"), std::string::npos);
}

TEST(ReportSections, UnitsAndKmeans) {
  const std::string dir = folder("units");
  write_file(dir + "/corpus_timestamped.json",
             R"({"feature_model": "m<x>", "layer": 2, "k": 4, "frame_rate": 50,
                 "segments": [{"units": [0, 0, 1, 1, 1, 1]}, {"units": [2, 0]}]})");
  acoustok::write_safetensors(
      dir + "/kmeans.safetensors", {{"centroids", {4, 3}, std::vector<float>(12, 0.5f)}},
      {{"k", "4"}, {"layer", "2"}, {"frames", "100"}, {"inertia", "250"}, {"seed", "<7>"}});
  Counters n;
  const Section s = units_section(dir, true, false, true, n);
  EXPECT_EQ(s.phase, 1);
  EXPECT_EQ(n.charts, 2);
  EXPECT_TRUE(well_formed(s.body));
  // Frames 3, 4, 1 of units 0, 1, 2 (unit 3 unused).
  const double p[] = {3.0 / 8, 4.0 / 8, 1.0 / 8};
  double entropy = 0;
  for (double q : p) entropy -= q * std::log2(q);
  const std::string units = s.body.substr(s.body.find("<h3>Units"));  // after the k-means table
  EXPECT_EQ(row(units, "units used"), "3 of 4");
  EXPECT_EQ(row(units, "frames"), "8 (0.2 s at 50.00 frames/s)");
  EXPECT_EQ(row(units, "entropy of the unit distribution"), num(entropy) + " bits (perplexity " +
                                                                num(std::pow(2.0, entropy)) + "; " +
                                                                percent(entropy / 2) + " of log2 k)");
  EXPECT_EQ(row(units, "mean run of one unit"),
            num(2.0) + " frames (" + num(40.0) + " ms)");  // runs of 2, 4, 1, 1
  EXPECT_EQ(row(units, "feature model"), "m&lt;x&gt;");
  EXPECT_EQ(row(s.body, "centroids"), "4 \xC3\x97 3 (F32)");
  EXPECT_EQ(row(s.body, "inertia per frame"), num(2.5));
  EXPECT_EQ(row(s.body, "seed"), "&lt;7&gt;");
  // Unit frequencies, most frequent first: 4, 3, 1, 0 frames.
  const size_t a = s.body.find("data-chart=\"unit-frequencies\"");
  ASSERT_NE(a, std::string::npos);
  const std::string freq = s.body.substr(a, s.body.find("</svg>", a) - a);
  EXPECT_LT(freq.find("data-value=\"4\""), freq.find("data-value=\"3\""));
  EXPECT_LT(freq.find("data-value=\"3\""), freq.find("data-value=\"1\""));
  EXPECT_EQ(count_of(freq, "<rect class=\"bar\""), 4u);

  // A unit id not below k; the units text when the corpus is absent.
  write_file(dir + "/corpus_timestamped.json", R"({"k": 2, "segments": [{"units": [0, 5]}]})");
  EXPECT_EQ(error_of([&] { units_section(dir, true, false, false, n); }),
            dir + "/corpus_timestamped.json: unit id 5 is not below k=2");
  write_file(dir + "/all_units_for_bpe.txt", "0 0 1\n2\n");
  const Section t = units_section(dir, false, true, false, n);
  EXPECT_EQ(row(t.body, "k"), "3 (highest id + 1)");
  EXPECT_EQ(row(t.body, "segments"), "2");
}

TEST(ReportSections, Motifs) {
  const std::string dir = folder("motifs");
  write_file(dir + "/motif_analysis.json", R"({
    "corpus": "all_units_for_bpe.txt", "vocab_size": {"requested": 500, "used": 60, "reason": "<small>"},
    "dedup": false, "frames": 1000, "units": 1000, "tokens": 400, "coverage": 0.7,
    "length_distribution": {"tokens": {"1": 200, "2": 150, "3": 50}, "vocabulary": {"1": 20, "2": 30, "4": 10}},
    "top_motifs": [{"motif": "1-2<", "length": 2, "occurrences": 40, "mean_duration": 0.05, "token_id": 7},
                   {"motif": "3-4-5", "length": 3, "occurrences": 20, "mean_duration": 0.1, "token_id": 9}]})");
  Counters n;
  const Section s = motifs_section(dir, true, n);
  EXPECT_EQ(s.phase, 2);
  EXPECT_EQ(n.charts, 3);
  EXPECT_TRUE(well_formed(s.body));
  EXPECT_EQ(row(s.body, "vocabulary"), "60.0000000000 of 500.000000000 requested (&lt;small&gt;)");
  EXPECT_EQ(row(s.body, "coverage (frames inside motifs of 2+ units)"), "70.0 %");
  EXPECT_NE(s.body.find("<td class=\"motif\">1-2&lt;</td>"), std::string::npos);
  EXPECT_NE(s.body.find("<td>10.00 %</td><td>50 ms</td>"), std::string::npos);  // 40 of 400 tokens
  // Coverage: units in motifs of >= 2 and >= 3 units, of 200 + 300 + 150.
  const size_t a = s.body.find("data-chart=\"motif-coverage\"");
  const std::string cover = s.body.substr(a, s.body.find("</svg>", a) - a);
  EXPECT_EQ(count_of(cover, "<rect class=\"bar\""), 2u);
  EXPECT_NE(cover.find(printf_string("data-value=\"%.17g\"", 450.0 / 650)), std::string::npos);
  EXPECT_NE(cover.find(printf_string("data-value=\"%.17g\"", 150.0 / 650)), std::string::npos);

  write_file(dir + "/motif_analysis.json", R"({"length_distribution": {"tokens": {"999": 1}}})");
  EXPECT_NE(error_of([&] { motifs_section(dir, true, n); }).find("is not a motif length"), std::string::npos);
  write_file(dir + "/motif_analysis.json", R"({"top_motifs": {}})");
  EXPECT_NE(error_of([&] { motifs_section(dir, true, n); }).find("top_motifs: expected an array"),
            std::string::npos);

  // bpe.vocab alone: lengths of the pieces, special pieces left out.
  write_file(dir + "/bpe.vocab",
             "<unk>\t0\t\n\xE4\xB8\x80\t-1\t0\n\xE4\xB8\x80\xE4\xB8\x81\t-2\t0-1\nx\t-3\t4-5-6\n");
  const Section v = motifs_section(dir, false, n);
  EXPECT_EQ(count_of(v.body, "<rect class=\"bar\""), 3u);  // lengths 1, 2, 3
  EXPECT_EQ(count_of(v.body, "data-value=\"1\""), 3u);
  write_file(dir + "/bpe.vocab", "a\t1\n");
  EXPECT_NE(
      error_of([&] { motifs_section(dir, false, n); }).find("line 1: expected three tab-separated columns"),
      std::string::npos);
}

TEST(ReportSections, Training) {
  const std::string dir = folder("training");
  write_file(dir + "/training_log.json", R"([
    {"epoch": 1, "loss_g": 50, "loss_mel": 40, "loss_d": 2, "heldout_mel": 45, "seconds": 60, "best_epoch": 1, "best_heldout": 45},
    {"epoch": 2, "loss_g": 45, "loss_mel": 35, "loss_d": 2.1, "heldout_mel": 41, "heldout_mcd": 9.5, "seconds": 61,
     "best_epoch": 2, "best_heldout": 41, "lr": 0.0002, "patience": 0, "patience_limit": 50, "warning": "collapse"}])");
  Options opt;
  Counters n;
  const Section s = training_section(dir, opt, n);
  EXPECT_EQ(s.phase, 3);
  EXPECT_EQ(n.charts, 4);  // with the held-out MCD
  EXPECT_TRUE(well_formed(s.body));
  EXPECT_EQ(row(s.body, "epochs logged"), "2 (last: 2.00000000000)");
  EXPECT_EQ(row(s.body, "training time"), duration_text(121));
  EXPECT_EQ(row(s.body, "epochs with a discriminator-collapse warning"), "1");
  EXPECT_EQ(count_of(s.body, "<svg class=\"chart\""), 4u);
  EXPECT_EQ(count_of(s.body, "<line class=\"marker\""), 2u);  // the best epoch on the held-out charts

  write_file(dir + "/training_log.json", R"([{"epoch": "1"}])");
  EXPECT_EQ(error_of([&] { training_section(dir, opt, n); }),
            dir + "/training_log.json: [0].epoch: expected a number, found string");
  write_file(dir + "/training_log.json", R"({})");
  EXPECT_NE(error_of([&] { training_section(dir, opt, n); }).find("expected an array"), std::string::npos);
}

TEST(ReportSections, VocoderTest) {
  const std::string dir = folder("vocoder-test");
  write_file(dir + "/metrics.json", R"({"checkpoint": "v<1>.pt",
    "samples": [{"name": "0000", "segment": "s.wav", "units": 50, "snr_db": 1.5, "mcd_db": 9.25},
                {"name": "0001", "units": 10, "snr_db": null},
                {"name": "../etc", "snr_db": 2}],
    "mean": {"snr_db": 1.75, "mcd_db": 9.25}})");
  std::vector<float> x(24000);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(0.3 * std::sin(0.05 * static_cast<double>(i)));
  acoustok::write_wav_pcm16(dir + "/orig_0000.wav", x.data(), x.size());
  acoustok::write_wav_pcm16(dir + "/synth_0000.wav", x.data(), 16000);
  write_file(dir + "/orig_0001.wav", "not a wav");
  std::vector<std::string> skipped;
  Options opt;
  opt.audio_seconds = 1;
  opt.skipped = [&](const std::string& what) { skipped.push_back(what); };
  Counters n;
  const Section s = vocoder_test_section(dir, opt, n);
  EXPECT_EQ(s.phase, 3);
  EXPECT_EQ(n.charts, 2);  // the pair of sample 0000
  EXPECT_EQ(n.clips, 2);
  EXPECT_EQ(n.skipped_audio, 1);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find(dir + "/orig_0001.wav"), std::string::npos);
  EXPECT_NE(s.body.find("<code>v&lt;1&gt;.pt</code>"), std::string::npos);
  EXPECT_NE(s.body.find("<th>SNR dB</th><th>MCD dB</th></tr>"),
            std::string::npos);  // only the columns present
  EXPECT_NE(s.body.find("<tr class=\"mean\"><td>mean</td><td></td><td></td><td>1.75</td><td>9.25</td></tr>"),
            std::string::npos);
  EXPECT_NE(s.body.find("<td>0001</td><td></td><td>10.0000000000</td><td>\xE2\x80\x93</td>"),
            std::string::npos);
  EXPECT_NE(s.body.find("synth_0001.wav is missing"), std::string::npos);
  EXPECT_NE(s.body.find("not a plain file name part"), std::string::npos);  // ../etc is never opened
  EXPECT_NE(s.body.find("orig_0000.wav (first 1.000 s of 1.5 s)"), std::string::npos);

  opt.samples = 1;
  opt.audio_seconds = 0;
  Counters m;
  const Section one = vocoder_test_section(dir, opt, m);
  EXPECT_EQ(m.clips, 0);
  EXPECT_EQ(count_of(one.body, "<div class=\"sample\""), 1u);

  write_file(dir + "/metrics.json", R"({"samples": 3})");
  EXPECT_EQ(error_of([&] { vocoder_test_section(dir, opt, m); }),
            dir + "/metrics.json: samples: expected an array, found number");
}

TEST(ReportPage, FoldersSubFoldersAndOrder) {
  const std::string root = folder("page");
  std::filesystem::create_directories(root + "/parent/b-segments");
  std::filesystem::create_directories(root + "/parent/a-training");
  std::filesystem::create_directories(root + "/empty");
  write_file(root + "/parent/b-segments/segments.jsonl", "{\"start\": 0, \"end\": 2}\n");
  write_file(root + "/parent/a-training/training_log.json", "[]");
  std::vector<std::string> skipped;
  Options opt;
  opt.generated = "GENERATED<";
  opt.skipped = [&](const std::string& what) { skipped.push_back(what); };
  const Page page = build_page({root + "/parent", root + "/empty", root + "/absent"}, opt);
  EXPECT_EQ(page.folders, 2u);
  EXPECT_EQ(page.sections, 2u);
  EXPECT_EQ(page.phases, (std::set<int>{0, 3}));
  EXPECT_EQ(page.counters.charts, 4);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0].rfind(root + "/empty: no phase outputs found (", 0), 0u) << skipped[0];
  EXPECT_EQ(skipped[1], root + "/absent: no such folder");
  // Phase 0 before phase 3, though its folder sorts second.
  EXPECT_LT(page.html.find("data-phase=\"0\""), page.html.find("data-phase=\"3\""));
  EXPECT_NE(page.html.find(", GENERATED<; from"), std::string::npos);  // as given: the command writes a date
  EXPECT_EQ(page.html.rfind("<!DOCTYPE html>\n", 0), 0u);
  EXPECT_NE(page.html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  EXPECT_EQ(count_of(page.html, "<script"), 0u);

  EXPECT_NE(
      error_of([&] { build_page({root + "/empty"}, opt); }).find("none of the folders holds phase outputs"),
      std::string::npos);
}

}  // namespace
