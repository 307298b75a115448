// SPDX-License-Identifier: MIT
// One command-line convention (issue 15): every error line starts with
// "acoustok:", usage errors (unknown subcommands, bad choices, options that
// cannot go together, values out of range) exit 2 and say what is valid; a
// failed run exits 1.
#include "config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "test_util.hpp"

using acoustok::test::acoustok_bin;
using acoustok::test::make_temp_dir;
using acoustok::test::run_command;

namespace {

void expect_usage_error(const std::string& args, const std::string& words) {
  std::string out;
  EXPECT_EQ(run_command(acoustok_bin() + " " + args, &out), 2) << args << "\n" << out;
  EXPECT_EQ(out.rfind("acoustok: ", 0), 0u) << args << "\n" << out;
  EXPECT_NE(out.find(words), std::string::npos) << args << "\n" << out;
}

// Every leaf subcommand this build has (live only where GStreamer's app library was found).
std::vector<std::string> leaf_subcommands() {
  std::vector<std::string> subs = {"segment", "features", "kmeans fit", "kmeans predict", "units", "report"};
#if HAVE_SENTENCEPIECE
  subs.insert(subs.end(), {"bpe", "bpe encode"});
#endif
#if HAVE_TORCH
  subs.insert(subs.end(), {"vocoder train", "vocoder test", "vocoder compare", "synth"});
#endif
  if (run_command(acoustok_bin() + " live --help") == 0) subs.push_back("live");
  return subs;
}

}  // namespace

TEST(CliConventions, UsageErrorsExit2AndSayWhatIsValid) {
  const std::string dir = make_temp_dir("cli");
  expect_usage_error("bogus", "unknown subcommand 'bogus': expected one of segment, features, kmeans, units");
  expect_usage_error("segment -o " + dir + "/s", "inputs");
  expect_usage_error("segment x.wav -o " + dir + "/s --threshold-db 3", "threshold");
  expect_usage_error("units " + dir + " -o " + dir + "/u", "give either --model");
  expect_usage_error("units --features " + dir + " " + dir + " -o " + dir + "/u --shard 3/2",
                     "--shard must be I/N");
  expect_usage_error("kmeans fit x.npy --k 0 -o " + dir + "/k.safetensors", "k");
}

TEST(CliConventions, EverySubcommandHasQuietAndVerbose) {
  for (const auto& sub : leaf_subcommands()) {
    std::string out;
    ASSERT_EQ(run_command(acoustok_bin() + " " + sub + " --help", &out), 0) << sub;
    EXPECT_NE(out.find("-q,--quiet"), std::string::npos) << sub << "\n" << out;
    EXPECT_NE(out.find("-v,--verbose"), std::string::npos) << sub << "\n" << out;
  }
#if HAVE_TORCH
  // --verbose says what the process runs with.
  std::string out;
  ASSERT_EQ(
      run_command(acoustok_bin() + " vocoder compare -v " + acoustok::test::fixture("xlsr/speech_pt.wav") +
                      " " + acoustok::test::fixture("xlsr/speech_pt.wav"),
                  &out),
      0)
      << out;
  EXPECT_NE(out.find("acoustok 0."), std::string::npos) << out;
#endif
}

TEST(CliConventions, BytesFromFilesAreEscapedInMessages) {
  // A name with an escape sequence and a byte that is not UTF-8: the error
  // line shows them as \xNN, never raw (they would recolour a terminal).
  EXPECT_EQ(acoustok::printable("ok é \x1b[31m\xff\n"), "ok é \\x1b[31m\\xff\\x0a");
  const std::string dir = acoustok::test::make_temp_dir("escape");
  std::string out;
  const std::string bad = dir + "/bad\x1b[31mname\xfe.wav";
  EXPECT_EQ(run_command(acoustok_bin() + " segment -q -o " + dir + "/out '" + bad + "'", &out), 1) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_NE(out.find("bad\\x1b[31mname\\xfe.wav"), std::string::npos) << out;
}

#if HAVE_TORCH
TEST(CliConventions, DashIsStandardInputAndOutput) {
  // features | kmeans predict through pipes equals the same through files.
  const std::string dir = acoustok::test::make_temp_dir("stdio");
  const std::string bin = acoustok_bin(), wav = acoustok::test::fixture("xlsr/speech_pt.wav");
  const std::string model = " --model " + acoustok::test::fixture("xlsr/xlsr_st") + " --layer 2 -q ";
  std::string out;
  ASSERT_EQ(run_command(bin + " features" + model + wav + " -o " + dir + "/f.npy", &out), 0) << out;
  ASSERT_EQ(run_command(bin + " kmeans fit -q --k 4 --seed 1 " + dir + "/f.npy -o " + dir + "/km.safetensors",
                        &out),
            0)
      << out;
  ASSERT_EQ(
      run_command(bin + " kmeans predict " + dir + "/km.safetensors " + dir + "/f.npy -o " + dir + "/u.txt",
                  &out),
      0)
      << out;
  ASSERT_EQ(run_command("cat " + wav + " | " + bin + " features" + model + "- -o - | " + bin +
                            " kmeans predict " + dir + "/km.safetensors - -o - > " + dir + "/u_pipe.txt",
                        &out),
            0)
      << out;
  EXPECT_EQ(acoustok::test::read_file(dir + "/u_pipe.txt"), acoustok::test::read_file(dir + "/u.txt"));
  ASSERT_EQ(run_command(bin + " features" + model + "- -o - < " + wav + " > " + dir + "/f_pipe.npy", &out), 0)
      << out;
  EXPECT_EQ(acoustok::test::read_file(dir + "/f_pipe.npy"), acoustok::test::read_file(dir + "/f.npy"));
  // The temporary files behind "-" are removed, also by features, which
  // leaves with _Exit.
  const std::string tmp = dir + "/tmp";
  std::filesystem::create_directories(tmp);
  ASSERT_EQ(run_command("TMPDIR=" + tmp + " " + bin + " features" + model + "- -o - < " + wav + " > " + dir +
                            "/f_pipe2.npy",
                        &out),
            0)
      << out;
  ASSERT_EQ(run_command("TMPDIR=" + tmp + " " + bin + " kmeans predict " + dir + "/km.safetensors - -o - < " +
                            dir + "/f.npy > /dev/null",
                        &out),
            0)
      << out;
  EXPECT_TRUE(std::filesystem::is_empty(tmp)) << "temporary files left in " << tmp;
  // kmeans fit from standard input to standard output: the same model.
  ASSERT_EQ(run_command("cat " + dir + "/f.npy | " + bin + " kmeans fit -q --k 4 --seed 1 - -o - > " + dir +
                            "/km_pipe.safetensors",
                        &out),
            0)
      << out;
  ASSERT_EQ(run_command(bin + " kmeans predict " + dir + "/km_pipe.safetensors " + dir + "/f.npy -o " + dir +
                            "/u2.txt",
                        &out),
            0)
      << out;
  EXPECT_EQ(acoustok::test::read_file(dir + "/u2.txt"), acoustok::test::read_file(dir + "/u.txt"));
  // No file named "-" is left behind.
  EXPECT_FALSE(std::filesystem::exists("-"));
}
#endif

TEST(CliConventions, JsonSummariesOnStdout) {
  const std::string dir = acoustok::test::make_temp_dir("json");
  std::string out;
  ASSERT_EQ(run_command(acoustok_bin() + " segment -q --json -o " + dir + "/seg " +
                            acoustok::test::fixture("silence/speech_8k_stereo.mp3") + " 2>/dev/null",
                        &out),
            0)
      << out;
  const auto seg = nlohmann::json::parse(out);
  EXPECT_EQ(seg["inputs"], 1);
  EXPECT_EQ(seg["failed"], 0);
  EXPECT_GT(seg["segments"].get<int>(), 0);
  EXPECT_GT(seg["speech_seconds"].get<double>(), 0.0);
#if HAVE_SENTENCEPIECE
  ASSERT_EQ(run_command(acoustok_bin() + " bpe -q --json --vocab-size 150 " +
                            acoustok::test::fixture("bpe/heldout.txt") + " -o " + dir + "/bpe 2>/dev/null",
                        &out),
            0)
      << out;
  const auto bpe = nlohmann::json::parse(out);
  EXPECT_GT(bpe["pieces"].get<int>(), 0);
  EXPECT_GT(bpe["lines"].get<int>(), 0);
  EXPECT_GE(bpe["coverage"].get<double>(), 0.0);
#endif
}

// --- One meaning per flag, and a man page per command (issue 28) -----------

namespace {

std::string help_of(const std::string& sub) {
  std::string out;
  EXPECT_EQ(run_command(acoustok_bin() + " " + sub + " --help", &out), 0) << sub << "\n" << out;
  return out;
}

// The line of --help that describes `option` ("--device"), or "".
std::string help_line(const std::string& help, const std::string& option) {
  std::istringstream in(help);
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find(option);
    if (at == std::string::npos || line.rfind("  ", 0) != 0) continue;
    const char after = at + option.size() < line.size() ? line[at + option.size()] : ' ';
    if (after == ' ' || after == ',') return line;
  }
  return "";
}

// The parser's internals that --help and the man pages must not show: a
// transformer's mapping, validator codes after the type, CLI11's defaults
// glued to the type ("INT=2": the build machine's CPU count), {false} marks.
void expect_no_parser_internals(const std::string& text, const std::string& where) {
  static const std::regex internals(
      R"((ENUM|value in \{|->[0-9]|\b(INT|UINT|FLOAT|TEXT)[:=]|\{false\}|\{true\}|NONNEGATIVE|POSITIVE))");
  std::smatch m;
  EXPECT_FALSE(std::regex_search(text, m, internals))
      << where << " shows the parser's internals: '" << m.str() << "'";
}

// The long options (--name) of a --help text, positionals and -h aside.
std::set<std::string> long_options(const std::string& help) {
  std::set<std::string> names;
  static const std::regex opt(R"(^  (?:-[A-Za-z], ?)?(--[a-z0-9-]+)(?:,(--[a-z0-9-]+))?)");
  std::istringstream in(help);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, opt)) continue;
    names.insert(m[1]);
    if (m[2].matched) names.insert(m[2]);
  }
  return names;
}

std::string man_page_of(const std::string& sub) {
  const std::string command = sub.substr(0, sub.find(' '));
  return std::string(std::getenv("ACOUSTOK_MAN_DIR")) + "/acoustok-" + command + ".1";
}

// The safetensors header's __metadata__ (8-byte little-endian length, JSON).
nlohmann::json safetensors_metadata(const std::string& path) {
  const std::string bytes = acoustok::test::read_file(path);
  if (bytes.size() < 8) return nullptr;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  return nlohmann::json::parse(bytes.substr(8, n)).value("__metadata__", nlohmann::json::object());
}

}  // namespace

TEST(CliConventions, OneMeaningPerFlagInEveryHelp) {
  std::string out;
  for (const auto& sub : leaf_subcommands()) {
    const std::string help = help_of(sub);
    expect_no_parser_internals(help, sub + " --help");
    // -q, -v and -V in every subcommand, with one meaning each.
    EXPECT_NE(help_line(help, "-q,--quiet"), "") << sub;
    EXPECT_NE(help_line(help, "-v,--verbose").find("what the process runs with"), std::string::npos)
        << sub << "\n"
        << help;
    EXPECT_NE(help_line(help, "-V,--version"), "") << sub;
    ASSERT_EQ(run_command(acoustok_bin() + " " + sub + " -V", &out), 0) << sub << "\n" << out;
    EXPECT_EQ(out.rfind("acoustok 0.", 0), 0u) << sub << "\n" << out;
    // --device: one default everywhere.
    const std::string device = help_line(help, "--device");
    if (!device.empty()) {
      EXPECT_NE(device.find("(default: auto)"), std::string::npos) << sub << "\n" << device;
    }
    // --threads: 0 is every usable CPU, and the default says so in words.
    const std::string threads = help_line(help, "--threads");
    if (!threads.empty()) {
      EXPECT_NE(threads.find("(default: all usable CPUs)"), std::string::npos) << sub << "\n" << threads;
    }
    // --feature-model is the name recorded in outputs wherever it is listed.
    const std::string fm = help_line(help, "--feature-model");
    if (!fm.empty()) {
      EXPECT_NE(fm.find("Feature model recorded in the outputs"), std::string::npos) << sub << "\n" << fm;
    }
  }
  ASSERT_EQ(run_command(acoustok_bin() + " -V", &out), 0) << out;
  EXPECT_EQ(out.rfind("acoustok 0.", 0), 0u) << out;
  // The subcommands that print a summary can print it as JSON.
  std::vector<std::string> with_json = {"segment", "features", "kmeans fit", "units", "report"};
#if HAVE_SENTENCEPIECE
  with_json.push_back("bpe");
#endif
#if HAVE_TORCH
  with_json.insert(with_json.end(), {"vocoder train", "vocoder test", "vocoder compare", "synth"});
#endif
  for (const auto& sub : with_json)
    EXPECT_NE(help_line(help_of(sub), "--json"), "") << sub << " has no --json";
  // A device that is none of the choices: a usage error naming them.
  expect_usage_error("units --device gpu --features x x -o " + acoustok::test::make_temp_dir("dev") + "/u",
                     "must be auto, cpu, cuda or cuda:N, not 'gpu'");
}

TEST(CliConventions, FlagsActTheSameInSmallRuns) {
  const std::string dir = acoustok::test::make_temp_dir("flags");
  const std::string feats = acoustok::test::fixture("xlsr/refs/xlsr_L2.npy");  // float32 [150, 32]
  std::string out;
  // kmeans fit --json: the summary on stdout, about what was fitted; a folder
  // given as --feature-model is recorded by its name, as units records --model
  // (here a random-weight stand-in, as models/make_demo_model.py marks one).
  const std::string model = dir + "/demo-model";
  std::filesystem::create_directories(model);
  auto config =
      nlohmann::json::parse(acoustok::test::read_file(acoustok::test::fixture("xlsr/xlsr_st/config.json")));
  config["acoustok_stand_in"] = "random weights";
  std::ofstream(model + "/config.json") << config.dump();
  ASSERT_EQ(
      run_command(acoustok_bin() + " kmeans fit -q --json --k 5 --seed 3 " + feats + " --feature-model " +
                      model + "/ --layer 2 -o " + dir + "/kmeans.safetensors 2>/dev/null",
                  &out),
      0)
      << out;
  const auto fit = nlohmann::json::parse(out);
  EXPECT_EQ(fit["frames"], 150);
  EXPECT_EQ(fit["dim"], 32);
  EXPECT_EQ(fit["k"], 5);
  EXPECT_GT(fit["inertia"].get<double>(), 0.0);
  const auto meta = safetensors_metadata(dir + "/kmeans.safetensors");
  EXPECT_EQ(meta.value("feature_model", ""), "demo-model") << meta.dump();
  EXPECT_EQ(meta.value("feature_model_stand_in", ""), "true") << meta.dump();
  const double inertia = fit["inertia"].get<double>();
  EXPECT_EQ(std::stod(meta.value("inertia", "0")), inertia);
  // report --json; the page says the model is a stand-in and shows the
  // inertia as a figure of 4 significant digits, not its 17 stored ones.
  ASSERT_EQ(
      run_command(acoustok_bin() + " report -q --json " + dir + " -o " + dir + "/r.html 2>/dev/null", &out),
      0)
      << out;
  const auto report = nlohmann::json::parse(out);
  EXPECT_EQ(report["sections"], 1);
  EXPECT_EQ(report["output"], dir + "/r.html");
  const std::string html = acoustok::test::read_file(dir + "/r.html");
  EXPECT_NE(html.find("demo-model <strong>(a random-weight stand-in"), std::string::npos);
  std::smatch row;
  ASSERT_TRUE(std::regex_search(html, row, std::regex("<th>inertia</th><td>([^<]*)</td>")))
      << html.substr(0, 2000);
  const std::string shown = row[1];
  EXPECT_EQ(shown.find('e'), std::string::npos) << shown;
  EXPECT_NEAR(std::stod(shown), inertia, inertia * 5e-4) << shown;
  const size_t digits = static_cast<size_t>(std::count_if(
      shown.begin(), shown.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }));
  EXPECT_LE(digits, std::max<size_t>(4, std::to_string(static_cast<long long>(inertia)).size())) << shown;
  // -v says what the process runs with, in every subcommand (kmeans here).
  ASSERT_EQ(run_command(acoustok_bin() + " kmeans predict -v " + dir + "/kmeans.safetensors " + feats +
                            " -o " + dir + "/u.txt",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("acoustok 0."), std::string::npos) << out;
#if HAVE_SENTENCEPIECE
  // bpe: -v is that report too; SentencePiece's own log has its own flag.
  const std::string units = acoustok::test::fixture("bpe/heldout.txt");
  ASSERT_EQ(run_command(acoustok_bin() + " bpe -v --vocab-size 150 " + units + " -o " + dir + "/bpe", &out),
            0)
      << out;
  EXPECT_NE(out.find("acoustok 0."), std::string::npos) << out;
  EXPECT_EQ(out.find("trainer_interface"), std::string::npos) << "-v printed SentencePiece's log:\n" << out;
#endif
#if HAVE_TORCH
  // vocoder test: the feature model folder is --model, as in features, units
  // and live; its old --feature-model DIR still reaches the same option.
  const std::string test = " vocoder test --checkpoint c.pt --units u --audio a -o " + dir + "/t --kmeans k ";
  expect_usage_error(test + "--model m --feature-model m", "give the feature model folder once, as --model");
  EXPECT_EQ(help_line(help_of("vocoder test"), "--feature-model"), "");
  ASSERT_EQ(run_command(acoustok_bin() + test + "--feature-model m", &out), 1) << out;
  EXPECT_NE(out.find("--feature-model DIR is now --model DIR"), std::string::npos) << out;
  // vocoder train --json: the run's last epoch (here stopped early at epoch 2:
  // no epoch after the first improves by --min-delta 1e9).
  ASSERT_EQ(run_command(acoustok_bin() + " vocoder train --config tiny --units " +
                            acoustok::test::fixture("vocoder/units") + " --audio " +
                            acoustok::test::fixture("vocoder/segments") + " -o " + dir +
                            "/voc --samples-per-epoch 8 --batch-size 4 --threads 1 --save-every 0 --epochs "
                            "10 --min-delta 1e9 "
                            "--patience 1 --device cpu -q --json 2>/dev/null",
                        &out),
            0)
      << out;
  const auto train = nlohmann::json::parse(out);
  const auto log = nlohmann::json::parse(acoustok::test::read_file(dir + "/voc/training_log.json"));
  EXPECT_EQ(train["epochs"], 2);
  EXPECT_EQ(train["epochs"], log.back()["epoch"]);
  EXPECT_EQ(train["best_epoch"], 1);
  EXPECT_EQ(train["best_heldout"], log.front()["heldout_mel"]);
  EXPECT_EQ(train["stopped_early"], true);
  EXPECT_TRUE(std::filesystem::exists(train["output"].get<std::string>())) << out;
#endif
}

#if HAVE_SENTENCEPIECE
TEST(CliConventions, SentencePieceLogHasItsOwnFlag) {
  const std::string dir = acoustok::test::make_temp_dir("spmlog");
  std::string out;
  ASSERT_EQ(run_command(acoustok_bin() + " bpe -q --sentencepiece-log --vocab-size 150 " +
                            acoustok::test::fixture("bpe/heldout.txt") + " -o " + dir + "/bpe",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("trainer_interface"), std::string::npos)
      << "--sentencepiece-log printed no SentencePiece log:\n"
      << out;
}
#endif

TEST(CliConventions, ManPagePerCommand) {
  ASSERT_NE(std::getenv("ACOUSTOK_MAN_DIR"), nullptr);
  const std::string man_dir = std::getenv("ACOUSTOK_MAN_DIR");
  const bool have_groff = run_command("command -v groff >/dev/null") == 0;
  std::vector<std::string> pages = {
      "acoustok",     "acoustok-segment", "acoustok-features", "acoustok-kmeans", "acoustok-units",
      "acoustok-bpe", "acoustok-vocoder", "acoustok-synth",    "acoustok-report", "acoustok-live"};
  for (const auto& name : pages) {
    const std::string path = man_dir + "/" + name + ".1";
    const std::string page = acoustok::test::read_file(path);
    ASSERT_FALSE(page.empty()) << path;
    // Titled by its own name, section 1.
    std::string title = name;
    for (char& c : title) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string roff_title;
    for (char c : title) roff_title += c == '-' ? std::string("\\-") : std::string(1, c);
    EXPECT_NE(page.find("\n.TH " + roff_title + " 1 "), std::string::npos) << path;
    for (const std::string s :
         {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"}) {
      EXPECT_TRUE(page.find("\n.SH " + s + "\n") != std::string::npos ||
                  page.find("\n.SH \"" + s + "\"\n") != std::string::npos)
          << path << " has no " << s;
    }
    EXPECT_NE(
        page.find("\n.SH NAME\n" +
                  std::string(name == "acoustok" ? "acoustok" : "acoustok\\-" + name.substr(9)) + " \\- "),
        std::string::npos)
        << path << ": NAME does not start with the page's own name";
    expect_no_parser_internals(page, path);
    if (have_groff) {
      std::string warnings;
      EXPECT_EQ(run_command("groff -ww -man -z " + path, &warnings), 0) << path;
      EXPECT_EQ(warnings, "") << path;
    }
  }
  // Every option of every subcommand's --help is in its command's page.
  for (const auto& sub : leaf_subcommands()) {
    const std::string page = acoustok::test::read_file(man_page_of(sub));
    for (const std::string& opt : long_options(help_of(sub))) {
      std::string roff;
      for (char c : opt) roff += c == '-' ? std::string("\\-") : std::string(1, c);
      EXPECT_NE(page.find("\\fB" + roff + "\\fR"), std::string::npos)
          << man_page_of(sub) << " does not document " << sub << " " << opt
          << " (man/update_options.py refreshes it)";
    }
  }
}
