// SPDX-License-Identifier: MIT
// `acoustok bpe` and `acoustok bpe encode` end to end, against the
// SentencePiece Python module (tests/fixtures/gen_bpe_fixtures.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "common/fs_util.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using acoustok::test::acoustok_bin;
using acoustok::test::fixture;
using acoustok::test::make_temp_dir;
using acoustok::test::read_file;
using acoustok::test::run_command;
using nlohmann::json;

namespace {

json expected() { return json::parse(read_file(fixture("bpe/expected.json"))); }

// What training gives with the SentencePiece release this build links:
// releases order merges of equal frequency differently, so a model trained
// by 0.2 numbers some pieces otherwise than 0.1.97's (gen_bpe_fixtures.py
// --training-only writes one file per release; meson passes the version).
json expected_training() {
  const char* version = std::getenv("ACOUSTOK_SENTENCEPIECE_VERSION");
  std::string release = version ? version : "";
  if (const size_t dot = release.find('.', release.find('.') + 1); dot != std::string::npos)
    release.resize(dot);
  const std::string path = fixture("bpe/expected-training-" + release + ".json");
  return std::ifstream(path).good() ? json::parse(read_file(path)) : expected();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// bpe.vocab rows as {"units", "score"}, the generator's form.
json vocab_pieces(const std::string& path) {
  json out = json::array();
  for (const std::string& line : lines_of(read_file(path))) {
    const size_t a = line.find('\t'), b = line.find('\t', a + 1);
    out.push_back({{"units", line.substr(b + 1)}, {"score", std::stod(line.substr(a + 1, b - a - 1))}});
  }
  return out;
}

int train(const std::string& corpus, const std::string& out, const std::string& extra, std::string* log) {
  return run_command(acoustok_bin() + " bpe " + corpus + " -o " + out + " " + extra, log);
}

void expect_statistics_equal(const json& got, const json& want) {
  for (const char* key : {"lines", "frames", "units", "tokens"}) EXPECT_EQ(got[key], want[key]) << key;
  for (const char* key : {"coverage", "units_per_token", "entropy_bits", "normalized_entropy"}) {
    EXPECT_NEAR(got[key].get<double>(), want[key].get<double>(), 1e-12) << key;
  }
  EXPECT_EQ(got["length_distribution"]["tokens"], want["length_distribution"]);
  ASSERT_EQ(got["top_motifs"].size(), want["top_motifs"].size());
  for (size_t i = 0; i < want["top_motifs"].size(); ++i) {
    const json &g = got["top_motifs"][i], &w = want["top_motifs"][i];
    EXPECT_EQ(g["motif"], w["motif"]) << i;
    EXPECT_EQ(g["token_id"], w["token_id"]) << i;
    EXPECT_EQ(g["occurrences"], w["occurrences"]) << i;
    EXPECT_EQ(g["length"], w["length"]) << i;
    EXPECT_NEAR(g["mean_duration"].get<double>(), w["mean_duration"].get<double>(), 1e-12) << i;
  }
}

}  // namespace

// Same settings, same library: the pieces, the encodings and the statistics
// equal what the Python module computes with its own model.
TEST(BpeCli, TrainsTheModelThePythonModuleTrains) {
  const json e = expected_training();
  for (const std::string name : {"ref", "ref_dedup"}) {
    const bool dedup = e[name]["dedup"].get<bool>();
    const std::string out = make_temp_dir("bpe-train");
    std::string log;
    ASSERT_EQ(train(fixture("bpe/corpus.txt"), out,
                    "--vocab-size 300 --top 20" + std::string(dedup ? " --dedup" : ""), &log),
              0)
        << log;
    EXPECT_EQ(vocab_pieces(out + "/bpe.vocab"), e[name]["pieces"]) << name;

    const json analysis = json::parse(read_file(out + "/motif_analysis.json"));
    EXPECT_EQ(analysis["dedup"], dedup);
    EXPECT_EQ(analysis["vocab_size"]["requested"], 300);
    EXPECT_EQ(analysis["vocab_size"]["used"], 300);
    EXPECT_FALSE(analysis["vocab_size"].contains("reason"));
    expect_statistics_equal(analysis, e[name]["statistics"]);

    std::string motifs;
    ASSERT_EQ(run_command("{ " + acoustok_bin() + " bpe encode " + out + "/bpe.model " +
                              fixture("bpe/heldout.txt") + " 2>/dev/null; }",
                          &motifs),
              0);
    EXPECT_EQ(lines_of(motifs), e[name]["heldout"].get<std::vector<std::string>>()) << name;
  }
}

TEST(BpeCli, EncodesHeldOutLinesLikeThePythonModule) {
  const json e = expected();
  for (const std::string name : {"ref", "ref_dedup"}) {
    const std::string model = fixture("bpe/" + name + ".model");
    std::string from_file, from_stdin;
    ASSERT_EQ(run_command("{ " + acoustok_bin() + " bpe encode " + model + " " + fixture("bpe/heldout.txt") +
                              " 2>/dev/null; }",
                          &from_file),
              0)
        << from_file;
    ASSERT_EQ(run_command("{ " + acoustok_bin() + " bpe encode " + model + " < " +
                              fixture("bpe/heldout.txt") + " 2>/dev/null; }",
                          &from_stdin),
              0);
    EXPECT_EQ(lines_of(from_file), e[name]["heldout"].get<std::vector<std::string>>()) << name;
    EXPECT_EQ(from_stdin, from_file);
  }
}

// A unit the model never saw (an id of another k-means model) is said once
// per file, naming the line; the output is unchanged (it encodes as <unk>).
TEST(BpeCli, WarnsOnceAboutUnitsTheModelNeverSaw) {
  const std::string dir = acoustok::test::make_temp_dir("bpe-unknown-unit");
  const std::string model = fixture("bpe/ref.model");
  {
    std::ofstream f(dir + "/units.txt");
    f << "1 2 3\n4 5 3000\n7 3001 8\n";
  }
  std::string err, out;
  ASSERT_EQ(run_command("{ " + acoustok_bin() + " bpe encode " + model + " " + dir + "/units.txt 2>" + dir +
                            "/err.txt >" + dir + "/out.txt; }",
                        &out),
            0)
      << out;
  err = read_file(dir + "/err.txt");
  EXPECT_NE(err.find("line 2: unit 3000 is not one of"), std::string::npos) << err;
  EXPECT_EQ(err.find("3001"), std::string::npos) << "warned twice: " << err;
  EXPECT_EQ(lines_of(read_file(dir + "/out.txt")).size(), 3u);
  // Known units only: no warning.
  {
    std::ofstream f(dir + "/known.txt");
    f << "1 2 3\n4 5 6 7 8\n";
  }
  ASSERT_EQ(run_command("{ " + acoustok_bin() + " bpe encode " + model + " " + dir + "/known.txt 2>" + dir +
                            "/err2.txt >/dev/null; }",
                        &out),
            0)
      << out;
  EXPECT_EQ(read_file(dir + "/err2.txt"), "");
}

// Random units with three planted motifs: the motifs head the analysis.
TEST(BpeCli, PlantedMotifsAreAmongTheTopMotifs) {
  const std::vector<std::vector<int>> planted = {{11, 47, 3, 80}, {64, 9, 31}, {5, 72, 18, 44, 90}};
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> unit(0, 99), pick(0, 2), length(60, 200);
  std::uniform_real_distribution<double> coin(0, 1);
  const std::string dir = make_temp_dir("bpe-planted");
  {
    std::ofstream f(dir + "/units.txt");
    for (int line = 0; line < 300; ++line) {
      const int n = length(rng);
      for (int i = 0; i < n; ++i) {
        if (coin(rng) < 0.05) {
          for (int u : planted[pick(rng)]) f << u << ' ';
        } else {
          f << unit(rng) << ' ';
        }
      }
      f << '\n';
    }
  }
  std::string log;
  ASSERT_EQ(train(dir + "/units.txt", dir + "/out", "--vocab-size 200 --top 5", &log), 0) << log;
  const json analysis = json::parse(read_file(dir + "/out/motif_analysis.json"));
  std::vector<std::string> top;
  for (const json& m : analysis["top_motifs"]) top.push_back(m["motif"]);
  for (const char* motif : {"11-47-3-80", "64-9-31", "5-72-18-44-90"}) {
    EXPECT_NE(std::find(top.begin(), top.end(), motif), top.end())
        << motif << " not in top motifs: " << analysis["top_motifs"].dump();
  }
}

// Too few pairs for 500 pieces: trained with the largest size SentencePiece
// supports, the very model a hard limit of that size gives, and said so.
TEST(BpeCli, LowersTooLargeAVocabularyAndSaysSo) {
  const json e = expected_training()["tiny"];
  const std::string out = make_temp_dir("bpe-tiny");
  std::string log;
  ASSERT_EQ(train(fixture("bpe/tiny.txt"), out, "-q", &log), 0) << log;
  const std::string supported = std::to_string(e["supported"].get<int>());
  EXPECT_NE(log.find("at most " + supported + " pieces"), std::string::npos) << log;
  EXPECT_NE(log.find("trained " + supported + " pieces instead of the requested 500"), std::string::npos)
      << log;
  const json analysis = json::parse(read_file(out + "/motif_analysis.json"));
  EXPECT_EQ(analysis["vocab_size"]["requested"], 500);
  EXPECT_EQ(analysis["vocab_size"]["used"], e["supported"]);
  EXPECT_TRUE(analysis["vocab_size"].contains("reason"));
  EXPECT_EQ(vocab_pieces(out + "/bpe.vocab"), e["pieces"]);
}

TEST(BpeCli, RefusesAVocabularySmallerThanTheUnits) {
  const std::string out = make_temp_dir("bpe-small");
  std::string log;
  EXPECT_EQ(train(fixture("bpe/corpus.txt"), out, "--vocab-size 50", &log), 1);
  EXPECT_NE(log.find("--vocab-size 50 is below the 103 pieces this corpus needs (100 distinct units + 3 "
                     "special pieces)"),
            std::string::npos)
      << log;
}

TEST(BpeCli, BadCorpusIsAClearErrorNamingTheLineAndKeepsEarlierOutputs) {
  const std::string dir = make_temp_dir("bpe-bad");
  std::string log;
  ASSERT_EQ(train(fixture("bpe/tiny.txt"), dir + "/out", "-q", &log), 0) << log;
  const std::string model_before = read_file(dir + "/out/bpe.model");
  const std::string analysis_before = read_file(dir + "/out/motif_analysis.json");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1 2 3\n4 5 x\n", "bad.txt: line 2: 'x' is not a unit id"},
      {"1 2\n\n3 -4\n", "bad.txt: line 3: negative unit id '-4'"},
      {"7 35328\n", "bad.txt: line 1: unit id '35328' is beyond the largest unit id 35327"},
      {"1 2 2.5\n", "bad.txt: line 1: '2.5' is not a unit id"},
      {"\n \n\n", "bad.txt: empty corpus: no unit on any of its 3 lines"},
      {"", "bad.txt: empty corpus: no unit on any of its 0 lines"},
  };
  for (const auto& [text, message] : cases) {
    std::ofstream(dir + "/bad.txt") << text;
    const int rc = run_command("cd " + dir + " && " + acoustok_bin() + " bpe bad.txt -o out -q", &log);
    EXPECT_EQ(rc, 1) << text;
    EXPECT_EQ(log.rfind("acoustok: " + message, 0), 0u) << log;
    EXPECT_EQ(lines_of(log).size(), 1u) << log;
    // encode reports the same line.
    if (message.find(": line ") != std::string::npos) {
      EXPECT_EQ(run_command("cd " + dir + " && { " + acoustok_bin() +
                                " bpe encode out/bpe.model bad.txt > /dev/null; }",
                            &log),
                1);
      EXPECT_NE(log.find(message), std::string::npos) << log;
    }
  }
  EXPECT_EQ(read_file(dir + "/out/bpe.model"), model_before);
  EXPECT_EQ(read_file(dir + "/out/motif_analysis.json"), analysis_before);
}

TEST(BpeCli, BadModelIsAClearError) {
  std::string log;
  EXPECT_EQ(run_command(acoustok_bin() + " bpe encode /nonexistent/bpe.model < /dev/null", &log), 1);
  EXPECT_NE(log.find("acoustok: /nonexistent/bpe.model: cannot open"), std::string::npos) << log;
  EXPECT_EQ(run_command(acoustok_bin() + " bpe encode " + fixture("bpe/corpus.txt") + " < /dev/null", &log),
            1);
  EXPECT_NE(log.find("corpus.txt: not a SentencePiece model"), std::string::npos) << log;
  EXPECT_EQ(run_command(acoustok_bin() + " bpe encode " + fixture("bpe/text.model") + " < /dev/null", &log),
            1);
  EXPECT_NE(log.find("text.model: piece 3 "), std::string::npos) << log;
}

TEST(BpeCli, UsageAndHelp) {
  std::string log;
  EXPECT_EQ(run_command(acoustok_bin() + " bpe", &log), 2) << log;
  EXPECT_EQ(run_command(acoustok_bin() + " bpe " + fixture("bpe/tiny.txt"), &log), 2) << log;
  EXPECT_NE(log.find("--output is required"), std::string::npos) << log;
  EXPECT_EQ(run_command(acoustok_bin() + " bpe encode", &log), 2) << log;
  EXPECT_EQ(run_command(acoustok_bin() + " bpe --vocab-size x a.txt -o b", &log), 2) << log;
  for (const char* bad :
       {"--vocab-size 0", "--max-motif-length 513", "--sample-lines 50", "--sample-lines x", "--top -1"}) {
    EXPECT_EQ(run_command(acoustok_bin() + " bpe " + fixture("bpe/tiny.txt") + " -o b " + bad, &log), 2)
        << bad << ": " << log;
  }
  EXPECT_EQ(run_command(acoustok_bin() + " bpe --help", &log), 0);
  EXPECT_NE(log.find("--vocab-size"), std::string::npos);
  EXPECT_NE(log.find("encode"), std::string::npos);
  EXPECT_EQ(run_command(acoustok_bin() + " bpe encode --help", &log), 0);
  EXPECT_NE(log.find("bpe.model"), std::string::npos) << log;
}

// Issue 14: a line of 32768 units or more crashed SentencePiece (rc 139).
// Such a line is trained in pieces, says so, and encodes with motifs that
// cover every unit of it.
TEST(BpeCli, TrainsAndEncodesALineLongerThanSentencePieceTakes) {
  const std::string dir = make_temp_dir("bpelong");
  std::string corpus = read_file(fixture("bpe/heldout.txt"));
  std::string longline;
  for (int i = 0; i < 40000; ++i)
    longline += std::to_string((i * 7 + i / 13) % 50) + (i + 1 < 40000 ? " " : "\n");
  corpus += longline;
  std::ofstream(dir + "/units.txt") << corpus;
  std::string log;
  ASSERT_EQ(train(dir + "/units.txt", dir + "/out", "--vocab-size 200 2>&1", &log), 0) << log;
  EXPECT_NE(log.find("40000 units"), std::string::npos) << log;
  EXPECT_NE(log.find("trained as 3 pieces"), std::string::npos) << log;
  std::ofstream(dir + "/long.txt") << longline;
  std::string motifs;
  ASSERT_EQ(run_command("{ " + acoustok_bin() + " bpe encode " + dir + "/out/bpe.model " + dir +
                            "/long.txt 2>/dev/null; }",
                        &motifs),
            0);
  size_t units = 0;
  std::istringstream in(motifs);
  for (std::string motif; in >> motif;)
    units += 1 + static_cast<size_t>(std::count(motif.begin(), motif.end(), '-'));
  EXPECT_EQ(units, 40000u);
}

TEST(BpeCli, EncodesAnHoursLongLineInBoundedMemory) {
  // 8.4 M units on one line (46 hours of frames, 24 MB of text): encoded part
  // by part (1048576 units each), so the output equals the line cut at those
  // points and joined again, and memory does not grow with the line
  // (it took 2.9 GB for 30 M units when the line was held whole). Under
  // ASan, where the memory figure is not checked, 3 parts show the cutting
  // (8 took 140 s there).
  const std::string dir = acoustok::test::make_temp_dir("bpe-long");
  const std::string model = fixture("bpe/ref.model");
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> unit(0, 99);
  const size_t part = 1048576, n = (acoustok::test::kUnderAddressSanitizer ? 2 : 8) * part + 12345;
  std::string line, cut;
  for (size_t i = 0; i < n; ++i) {
    const std::string u = std::to_string(unit(rng));
    line += (i ? " " : "") + u;
    cut += (i == 0 ? "" : i % part == 0 ? "\n" : " ") + u;
  }
  acoustok::common::write_text_file(dir + "/long.txt", "3 4\n" + line + "\n5 6 7\n");
  acoustok::common::write_text_file(dir + "/cut.txt", cut + "\n");
  std::string log;
  ASSERT_EQ(run_command("/usr/bin/time -f 'peak %M' -o " + dir + "/mem " + acoustok_bin() + " bpe encode " +
                            model + " " + dir + "/long.txt > " + dir + "/long.out",
                        &log),
            0)
      << log;
  ASSERT_EQ(run_command(
                acoustok_bin() + " bpe encode " + model + " " + dir + "/cut.txt > " + dir + "/cut.out", &log),
            0)
      << log;
  const std::string whole = acoustok::test::read_file(dir + "/long.out");
  std::string joined = acoustok::test::read_file(dir + "/cut.out");
  for (char& c : joined) c = c == '\n' ? ' ' : c;
  joined.back() = '\n';
  const size_t first = whole.find('\n'), last = whole.rfind('\n', whole.size() - 2);
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(whole.substr(first + 1, last - first), joined);
  EXPECT_EQ(std::count(whole.begin(), whole.end(), '\n'), 3);
  if (!acoustok::test::kUnderAddressSanitizer) {  // ASan's shadow memory and quarantine change the figure
    const std::string mem = acoustok::test::read_file(dir + "/mem");
    const long peak_kb = std::stol(mem.substr(mem.find("peak ") + 5));
    EXPECT_LT(peak_kb, 400 * 1024) << "peak RSS " << peak_kb << " KB";
  }
}
