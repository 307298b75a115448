// SPDX-License-Identifier: MIT
// One command-line convention (issue 15): every error line starts with
// "acoustok:", usage errors (unknown subcommands, bad choices, options that
// cannot go together, values out of range) exit 2 and say what is valid; a
// failed run exits 1.
#include "config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
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

}  // namespace

TEST(CliConventions, UsageErrorsExit2AndSayWhatIsValid) {
  const std::string dir = make_temp_dir("cli");
  expect_usage_error("bogus", "unknown subcommand 'bogus': expected one of segment, features, kmeans, units");
  expect_usage_error("segment -o " + dir + "/s", "inputs");
  expect_usage_error("segment x.wav -o " + dir + "/s --threshold-db 3", "threshold");
  expect_usage_error("units " + dir + " -o " + dir + "/u", "give either --model");
  expect_usage_error("units --features " + dir + " " + dir + " -o " + dir + "/u --shard 3/2", "--shard must be I/N");
  expect_usage_error("kmeans fit x.npy --k 0 -o " + dir + "/k.safetensors", "k");
}

TEST(CliConventions, EverySubcommandHasQuietAndVerbose) {
  std::vector<std::string> subs = {"segment", "features", "kmeans fit", "kmeans predict", "units", "report"};
#if HAVE_SENTENCEPIECE
  subs.insert(subs.end(), {"bpe", "bpe encode"});
#endif
#if HAVE_TORCH
  subs.insert(subs.end(), {"vocoder train", "vocoder test", "vocoder compare", "synth"});
#endif
  for (const auto& sub : subs) {
    std::string out;
    ASSERT_EQ(run_command(acoustok_bin() + " " + sub + " --help", &out), 0) << sub;
    EXPECT_NE(out.find("-q,--quiet"), std::string::npos) << sub << "\n" << out;
    EXPECT_NE(out.find("-v,--verbose"), std::string::npos) << sub << "\n" << out;
  }
#if HAVE_TORCH
  // --verbose says what the process runs with.
  std::string out;
  ASSERT_EQ(run_command(acoustok_bin() + " vocoder compare -v " + acoustok::test::fixture("xlsr/speech_pt.wav") + " " +
                            acoustok::test::fixture("xlsr/speech_pt.wav"),
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
  ASSERT_EQ(run_command(bin + " kmeans fit -q --k 4 --seed 1 " + dir + "/f.npy -o " + dir + "/km.safetensors", &out), 0) << out;
  ASSERT_EQ(run_command(bin + " kmeans predict " + dir + "/km.safetensors " + dir + "/f.npy -o " + dir + "/u.txt", &out), 0) << out;
  ASSERT_EQ(run_command("cat " + wav + " | " + bin + " features" + model + "- -o - | " + bin + " kmeans predict " + dir +
                            "/km.safetensors - -o - > " + dir + "/u_pipe.txt",
                        &out),
            0)
      << out;
  EXPECT_EQ(acoustok::test::read_file(dir + "/u_pipe.txt"), acoustok::test::read_file(dir + "/u.txt"));
  ASSERT_EQ(run_command(bin + " features" + model + "- -o - < " + wav + " > " + dir + "/f_pipe.npy", &out), 0) << out;
  EXPECT_EQ(acoustok::test::read_file(dir + "/f_pipe.npy"), acoustok::test::read_file(dir + "/f.npy"));
  // The temporary files behind "-" are removed, also by features, which
  // leaves with _Exit.
  const std::string tmp = dir + "/tmp";
  std::filesystem::create_directories(tmp);
  ASSERT_EQ(run_command("TMPDIR=" + tmp + " " + bin + " features" + model + "- -o - < " + wav + " > " + dir + "/f_pipe2.npy", &out), 0) << out;
  ASSERT_EQ(run_command("TMPDIR=" + tmp + " " + bin + " kmeans predict " + dir + "/km.safetensors - -o - < " + dir + "/f.npy > /dev/null", &out), 0) << out;
  EXPECT_TRUE(std::filesystem::is_empty(tmp)) << "temporary files left in " << tmp;
  // kmeans fit from standard input to standard output: the same model.
  ASSERT_EQ(run_command("cat " + dir + "/f.npy | " + bin + " kmeans fit -q --k 4 --seed 1 - -o - > " + dir + "/km_pipe.safetensors", &out),
            0)
      << out;
  ASSERT_EQ(run_command(bin + " kmeans predict " + dir + "/km_pipe.safetensors " + dir + "/f.npy -o " + dir + "/u2.txt", &out), 0)
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
  ASSERT_EQ(run_command(acoustok_bin() + " bpe -q --json --vocab-size 150 " + acoustok::test::fixture("bpe/heldout.txt") +
                            " -o " + dir + "/bpe 2>/dev/null",
                        &out),
            0)
      << out;
  const auto bpe = nlohmann::json::parse(out);
  EXPECT_GT(bpe["pieces"].get<int>(), 0);
  EXPECT_GT(bpe["lines"].get<int>(), 0);
  EXPECT_GE(bpe["coverage"].get<double>(), 0.0);
#endif
}
