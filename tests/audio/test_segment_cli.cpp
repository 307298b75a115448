// SPDX-License-Identifier: MIT
// `acoustok segment` end to end: outputs, resume, bad inputs, usage errors.
#include <gtest/gtest.h>

#include <cmath>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "acoustok/audio_io.hpp"
#include "acoustok/silence.hpp"
#include "test_util.hpp"
#include "test_wav.hpp"

namespace fs = std::filesystem;
using acoustok::test::acoustok_bin;
using acoustok::test::fixture;
using acoustok::test::make_temp_dir;
using acoustok::test::run_command;
using nlohmann::json;

namespace {

std::vector<json> read_jsonl(const std::string& path) {
  std::vector<json> out;
  std::istringstream in(acoustok::test::read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

std::string inputs() {
  return fixture("silence/speech_pauses.wav") + " " + fixture("silence/speech_noisy.wav") + " " +
         fixture("silence/speech_8k_stereo.mp3");
}

}  // namespace

TEST(SegmentCli, WritesSegmentsAndIndexEqualToTheCore) {
  const std::string out = make_temp_dir("seg");
  std::string log;
  ASSERT_EQ(run_command(acoustok_bin() + " segment " + inputs() + " -o " + out + " --jobs 2", &log), 0)
      << log;
  const auto recs = read_jsonl(out + "/segments.jsonl");
  const auto audio = acoustok::read_audio_16k_mono(fixture("silence/speech_pauses.wav"));
  const auto core = acoustok::split_on_silence(audio, acoustok::SilenceOptions{});
  std::vector<json> first;
  for (const auto& r : recs) {
    if (r["source"] == fixture("silence/speech_pauses.wav")) first.push_back(r);
  }
  ASSERT_EQ(first.size(), core.size());
  for (size_t k = 0; k < core.size(); ++k) {
    EXPECT_EQ(first[k]["index"].get<int64_t>(), core[k].index);
    EXPECT_DOUBLE_EQ(first[k]["start"].get<double>(), core[k].start / 16000.0);
    EXPECT_DOUBLE_EQ(first[k]["end"].get<double>(), core[k].end / 16000.0);
    const std::string file = out + "/" + first[k]["file"].get<std::string>();
    const auto info = acoustok::probe_audio(file);
    EXPECT_EQ(info.sample_rate, 16000);
    EXPECT_EQ(info.channels, 1);
    EXPECT_EQ(info.frames, core[k].end - core[k].start);
  }
  EXPECT_TRUE(fs::exists(out + "/speech_pauses_00000.wav"));
  EXPECT_TRUE(fs::exists(out + "/speech_8k_stereo_00000.wav"));
  // Inputs appear in command-line order.
  EXPECT_EQ(recs.front()["source"], fixture("silence/speech_pauses.wav"));
  EXPECT_EQ(recs.back()["source"], fixture("silence/speech_8k_stereo.mp3"));
}

// "-": the same segments from standard input as from the file, named
// stdin_NNNNN.wav, with "source": "-"; a second "-" is a usage error.
TEST(SegmentCli, DashReadsStandardInput) {
  const std::string out = make_temp_dir("seg-stdin"), file_out = out + "/file", pipe_out = out + "/pipe";
  const std::string wav = fixture("silence/speech_pauses.wav");
  std::string log;
  ASSERT_EQ(run_command(acoustok_bin() + " segment -q " + wav + " -o " + file_out, &log), 0) << log;
  ASSERT_EQ(
      run_command("cat " + wav + " | TMPDIR=" + out + " " + acoustok_bin() + " segment -q - -o " + pipe_out,
                  &log),
      0)
      << log;
  const auto a = read_jsonl(file_out + "/segments.jsonl"), b = read_jsonl(pipe_out + "/segments.jsonl");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 1u);
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(b[k]["source"], "-");
    EXPECT_EQ(b[k]["start"], a[k]["start"]);
    EXPECT_EQ(b[k]["end"], a[k]["end"]);
    const std::string name = b[k]["file"].get<std::string>();
    EXPECT_EQ(name.rfind("stdin_", 0), 0u) << name;
    EXPECT_EQ(acoustok::test::read_file(pipe_out + "/" + name),
              acoustok::test::read_file(file_out + "/" + a[k]["file"].get<std::string>()))
        << name;
  }
  for (const auto& e : fs::directory_iterator(out))  // the buffered copy of stdin is gone
    EXPECT_TRUE(e.path().filename().string().rfind("acoustok-stdio-", 0) != 0) << e.path();
  EXPECT_EQ(run_command(acoustok_bin() + " segment - - -o " + out + "/twice < /dev/null", &log), 2) << log;
}

TEST(SegmentCli, ResumesAfterAKilledRunWithIdenticalResults) {
  const std::string clean = make_temp_dir("clean");
  const std::string resumed = make_temp_dir("resumed");
  ASSERT_EQ(run_command(acoustok_bin() + " segment -q " + inputs() + " -o " + clean), 0);

  // A run killed part-way: the first input completed, the second left a
  // half-written segment and no state file.
  ASSERT_EQ(
      run_command(acoustok_bin() + " segment -q " + fixture("silence/speech_pauses.wav") + " -o " + resumed),
      0);
  std::ofstream(resumed + "/speech_noisy_00000.wav", std::ios::binary) << "RIFF half";
  std::ofstream(resumed + "/speech_noisy_00001.wav.tmp-1-0", std::ios::binary) << "junk";

  std::string log;
  ASSERT_EQ(run_command(acoustok_bin() + " segment " + inputs() + " -o " + resumed, &log), 0) << log;
  EXPECT_NE(log.find("1 already done"), std::string::npos) << log;
  EXPECT_EQ(acoustok::test::read_file(clean + "/segments.jsonl"),
            acoustok::test::read_file(resumed + "/segments.jsonl"));
  for (const auto& r : read_jsonl(clean + "/segments.jsonl")) {
    const std::string f = r["file"];
    EXPECT_EQ(acoustok::test::read_file(clean + "/" + f), acoustok::test::read_file(resumed + "/" + f)) << f;
  }
  // Killing for real: SIGKILL mid-run, then a rerun completes the same output.
  const std::string killed = make_temp_dir("killed");
  run_command("timeout -s KILL 0.05 " + acoustok_bin() + " segment -q " + inputs() + " -o " + killed);
  ASSERT_EQ(run_command(acoustok_bin() + " segment -q " + inputs() + " -o " + killed), 0);
  EXPECT_EQ(acoustok::test::read_file(clean + "/segments.jsonl"),
            acoustok::test::read_file(killed + "/segments.jsonl"));
}

TEST(SegmentCli, ABadInputIsReportedAndSkippedAndTheOthersAreDone) {
  const std::string out = make_temp_dir("badin");
  std::ofstream(out + "/broken.wav", std::ios::binary) << "not audio at all";
  std::string log;
  const int rc = run_command(acoustok_bin() + " segment " + out + "/broken.wav " +
                                 fixture("silence/speech_pauses.wav") + " -o " + out + "/segs",
                             &log);
  EXPECT_EQ(rc, 1) << log;
  EXPECT_NE(log.find(out + "/broken.wav"), std::string::npos) << log;
  EXPECT_EQ(log.find("Segmentation fault"), std::string::npos);
  const auto recs = read_jsonl(out + "/segs/segments.jsonl");
  EXPECT_EQ(recs.size(), 5u);
}

TEST(SegmentCli, UsageErrorsExitWith2AndHelpWith0) {
  std::string log;
  EXPECT_EQ(run_command(acoustok_bin() + " segment", &log), 2) << log;
  EXPECT_EQ(run_command(acoustok_bin() + " segment a.wav -o /tmp/x --jobs 0", &log), 2) << log;
  EXPECT_EQ(run_command(acoustok_bin() + " nosuchcommand", &log), 2) << log;
  EXPECT_EQ(run_command(acoustok_bin(), &log), 2) << log;
  EXPECT_EQ(run_command(acoustok_bin() + " segment --help", &log), 0) << log;
  EXPECT_NE(log.find("--threshold-db"), std::string::npos);
  EXPECT_EQ(run_command(acoustok_bin() + " --help", &log), 0) << log;
  EXPECT_NE(log.find("segment"), std::string::npos);
  EXPECT_EQ(run_command(acoustok_bin() + " --version", &log), 0) << log;
  EXPECT_NE(log.find("acoustok 0."), std::string::npos);
  // A value out of range is a usage error with one clear line.
  EXPECT_EQ(run_command(acoustok_bin() + " segment " + fixture("silence/speech_pauses.wav") +
                            " -o /tmp/acoustok-never --threshold-db 5",
                        &log),
            2)
      << log;
  EXPECT_NE(log.find("threshold-db"), std::string::npos) << log;
}

// The input streams through in blocks: on a long 44.1 kHz stereo input (many
// reader blocks, a 40 s stretch without a pause written while it is read)
// every segment file is byte for byte what cutting the whole file with the
// core writes, and the records agree, for several option sets.
TEST(SegmentCli, StreamedSegmentsEqualTheWholeFileCutByteForByte) {
  const std::string dir = make_temp_dir("seg-stream");
  {
    const size_t n = 44100 * 100;
    std::vector<float> x(2 * n);
    uint32_t seed = 7;
    for (size_t i = 0; i < n; ++i) {
      seed = seed * 1664525u + 1013904223u;
      const double noise = static_cast<double>(seed >> 8) / (1 << 24) - 0.5;
      const double t = static_cast<double>(i) / 44100;
      // Pauses of 0.3 to 1.2 s every few seconds, none from 20 s to 60 s.
      const double phase = std::fmod(t, 4.7);
      const double cycle = std::floor(t / 4.7);
      const bool pause = (t < 20 || t > 60) && phase < 0.3 + 0.9 * std::fmod(cycle * 0.618, 1.0);
      const double v =
          pause ? 0.001 * noise
                : 0.25 * std::sin(0.02 * static_cast<double>(i)) * (0.6 + 0.4 * std::sin(t)) + 0.05 * noise;
      x[2 * i] = static_cast<float>(v);
      x[2 * i + 1] = static_cast<float>(0.7 * v);
    }
    acoustok::test::write_wav(dir + "/long.wav", x.data(), n, 44100, 2, /*pcm16=*/true);
  }
  const auto audio = acoustok::read_audio_16k_mono(dir + "/long.wav");
  struct Case {
    std::string args;
    acoustok::SilenceOptions options;
  };
  std::vector<Case> cases(4);
  cases[1].args = "--keep-silence 0.4";
  cases[1].options.keep_silence = 0.4;
  cases[2].args = "--max-segment 7";
  cases[2].options.max_segment = 7;
  cases[3].args = "--min-segment 3 --min-silence 0.25";
  cases[3].options.min_segment = 3;
  cases[3].options.min_silence = 0.25;
  for (const Case& c : cases) {
    const std::string out = make_temp_dir("seg-stream-out"), expected = make_temp_dir("seg-stream-ref");
    std::string log;
    ASSERT_EQ(run_command(acoustok_bin() + " segment -q " + dir + "/long.wav -o " + out + " " + c.args, &log),
              0)
        << log;
    const auto core = acoustok::split_on_silence(audio, c.options);
    const auto recs = read_jsonl(out + "/segments.jsonl");
    ASSERT_EQ(recs.size(), core.size()) << c.args;
    ASSERT_GE(core.size(), 3u) << c.args;
    int64_t longest = 0;
    for (size_t k = 0; k < core.size(); ++k) {
      EXPECT_EQ(recs[k]["index"].get<int64_t>(), core[k].index);
      EXPECT_DOUBLE_EQ(recs[k]["start"].get<double>(), core[k].start / 16000.0);
      EXPECT_DOUBLE_EQ(recs[k]["end"].get<double>(), core[k].end / 16000.0);
      const std::string ref = expected + "/" + recs[k]["file"].get<std::string>();
      acoustok::write_wav_pcm16(ref, audio.data() + core[k].start,
                                static_cast<size_t>(core[k].end - core[k].start));
      EXPECT_EQ(acoustok::test::read_file(out + "/" + recs[k]["file"].get<std::string>()),
                acoustok::test::read_file(ref))
          << c.args << " segment " << k;
      longest = std::max(longest, core[k].end - core[k].start);
    }
    if (c.args.empty()) {
      EXPECT_GT(longest, 16000 * 35) << "the stretch without pauses is one segment";
    }
  }
}
