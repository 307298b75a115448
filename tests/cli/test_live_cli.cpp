// SPDX-License-Identifier: MIT
// acoustok live against the GStreamer chain it stands for: the same units
// with the same timestamps as the pipeline written out by hand (filesrc !
// decodebin ! ... ! silencesplit ! xlsrfeat ! kmeansunits ! appsink) and run
// here, for a file, --no-split, --json, standard input (WAV and raw) and
// --motifs (against acoustok bpe encode); --dedup (runs expanded = the units); --vocoder --speech-out writes
// 320 samples per unit; the pace of the clock without --no-realtime; bad options and missing files and
// plugins stop with one line. Demo models (tests/live/demo_models.*).
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "acoustok/audio_io.hpp"
#include "../live/demo_models.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using acoustok::test::acoustok_bin;
using acoustok::test::fixture;

namespace {

// What `acoustok live` is run with here, and what the reference pipeline
// gets: the documented live setting, with silencesplit low-latency=true.
constexpr const char* kChunkNs = "320000000";
constexpr const char* kLookaheadNs = "160000000";
constexpr const char* kContextNs = "1000000000";
const std::string kTimes = " --chunk-time 0.32 --lookahead-time 0.16 --context-time 1";

std::string speech() { return fixture("silence/speech_pauses.wav"); }

std::string dir() {
  static const std::string d = acoustok::test::make_temp_dir("live-cli");
  return d;
}

std::string models_args() {
  const auto& m = acoustok::test::demo_models();
  return " --model " + m.feature_model + " --layer 3 --kmeans " + m.kmeans;
}

struct CliRun {
  int rc = 0;
  std::string out, err;
};

// stdout and stderr apart: units on one, notes and errors on the other.
CliRun live(const std::string& args, const std::string& env = "") {
  const std::string out = dir() + "/stdout", err = dir() + "/stderr";
  CliRun r;
  r.rc = acoustok::test::run_command("{ " + env + " " + acoustok_bin() + " live " + args + " >" + out +
                                     " 2>" + err + "; }");
  r.out = acoustok::test::read_file(out);
  r.err = acoustok::test::read_file(err);
  return r;
}

std::string seconds_text(GstClockTime t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(t) / GST_SECOND);
  return buf;
}

// The chain written out by hand; each output buffer as the tool prints it
// ("START UNIT UNIT ..."), with its PTS.
struct Line {
  GstClockTime pts;
  std::string text;
};

std::vector<Line> reference(const std::string& wav, bool split) {
  const auto& m = acoustok::test::demo_models();
  std::string launch =
      "filesrc name=src ! decodebin ! audioconvert ! audioresample ! "
      "audio/x-raw,format=F32LE,rate=16000,channels=1,layout=interleaved ! ";
  if (split) launch += "silencesplit name=split ! ";
  launch += "xlsrfeat name=feat layer=3 ! kmeansunits name=km ! application/x-acoustok-units ! ";
  launch += "appsink name=sink sync=false";
  GError* err = nullptr;
  GstElement* p = gst_parse_launch(launch.c_str(), &err);
  EXPECT_TRUE(p && !err) << (err ? err->message : "");
  if (!p) return {};
  const auto get = [p](const char* name) { return gst_bin_get_by_name(GST_BIN(p), name); };
  GstElement* e = get("src");
  g_object_set(e, "location", wav.c_str(), nullptr);
  gst_object_unref(e);
  e = get("feat");
  g_object_set(e, "model", m.feature_model.c_str(), nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "chunk-time", kChunkNs);
  gst_util_set_object_arg(G_OBJECT(e), "lookahead-time", kLookaheadNs);
  gst_util_set_object_arg(G_OBJECT(e), "context-time", kContextNs);
  gst_object_unref(e);
  if (split) {
    e = get("split");
    gst_util_set_object_arg(G_OBJECT(e), "low-latency", "true");
    gst_object_unref(e);
  }
  e = get("km");
  g_object_set(e, "model", m.kmeans.c_str(), nullptr);
  gst_object_unref(e);
  GstElement* sink = get("sink");
  EXPECT_NE(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  std::vector<Line> lines;
  while (GstSample* s = gst_app_sink_pull_sample(GST_APP_SINK(sink))) {
    GstBuffer* b = gst_sample_get_buffer(s);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    Line l{GST_BUFFER_PTS(b), seconds_text(GST_BUFFER_PTS(b))};
    const auto* u = reinterpret_cast<const uint16_t*>(map.data);
    for (size_t i = 0; i < map.size / 2; ++i) l.text += " " + std::to_string(u[i]);
    gst_buffer_unmap(b, &map);
    gst_sample_unref(s);
    lines.push_back(l);
  }
  GstBus* bus = gst_element_get_bus(p);
  GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  EXPECT_EQ(msg, nullptr) << "the reference pipeline failed";
  if (msg) gst_message_unref(msg);
  gst_object_unref(bus);
  gst_object_unref(sink);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
  return lines;
}

std::string joined(const std::vector<Line>& lines) {
  std::string s;
  for (const auto& l : lines) s += l.text + "\n";
  return s;
}

size_t unit_count(const std::string& printed) {
  std::istringstream in(printed);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string w;
    words >> w;  // the start time
    while (words >> w) ++n;
  }
  return n;
}

// The first `seconds` of the speech fixture, as a WAV of its own.
std::string clip(double seconds) {
  const std::string path = dir() + "/clip.wav";
  if (fs::exists(path)) return path;
  auto audio = acoustok::read_audio_16k_mono(speech());
  audio.resize(static_cast<size_t>(seconds * 16000));
  acoustok::WavWriter w(path);
  w.write(audio.data(), audio.size());
  w.commit();
  return path;
}

}  // namespace

TEST(LiveCli, FileGivesTheUnitsAndTimesOfTheGStreamerChain) {
  const auto ref = reference(speech(), true);
  ASSERT_GE(ref.size(), 2u) << "the fixture has pauses: several segments";
  const CliRun r = live("-q --no-realtime" + models_args() + kTimes + " " + speech());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, joined(ref));
  EXPECT_EQ(r.err, "");  // -q: no note
}

TEST(LiveCli, NoSplitGivesTheUnitsOfTheChainWithoutSilencesplit) {
  const auto ref = reference(speech(), false);
  ASSERT_FALSE(ref.empty());
  const CliRun r = live("-q --no-realtime --no-split" + models_args() + kTimes + " " + speech());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, joined(ref));
  // Without silencesplit nothing is dropped: every frame of the file is a unit.
  const size_t samples = acoustok::read_audio_16k_mono(speech()).size();
  EXPECT_EQ(unit_count(r.out), (samples - 400) / 320 + 1);
}

TEST(LiveCli, JsonLinesCarryTheSameUnitsAndStarts) {
  const auto ref = reference(speech(), true);
  const CliRun r = live("-q --no-realtime --json" + models_args() + kTimes + " " + speech());
  ASSERT_EQ(r.rc, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  size_t i = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(i, ref.size());
    const auto j = nlohmann::json::parse(line);
    EXPECT_DOUBLE_EQ(j.at("start").get<double>(), static_cast<double>(ref[i].pts) / GST_SECOND);
    std::string units = seconds_text(ref[i].pts);
    for (int u : j.at("units")) units += " " + std::to_string(u);
    EXPECT_EQ(units, ref[i].text);
    ++i;
  }
  EXPECT_EQ(i, ref.size());
}

// --dedup: every run once, with its start and duration; expanded back to
// frames, the runs are the units and times of the plain run, frame by frame.
TEST(LiveCli, DedupPrintsEachRunWithItsStartAndDuration) {
  const std::string args = "-q --no-realtime --json" + models_args() + kTimes + " " + speech();
  const CliRun plain = live(args), reduced = live(args + " --dedup");
  ASSERT_EQ(plain.rc, 0) << plain.err;
  ASSERT_EQ(reduced.rc, 0) << reduced.err;
  using Frame = std::pair<int, long>;  // unit, time in microseconds
  const auto micros = [](double s) { return std::lround(s * 1e6); };
  std::vector<Frame> want, got;
  std::istringstream p(plain.out), r(reduced.out);
  size_t runs = 0;
  for (std::string line; std::getline(p, line);) {
    const auto j = nlohmann::json::parse(line);
    const double start = j.at("start").get<double>();
    for (size_t i = 0; i < j.at("units").size(); ++i)
      want.push_back({j["units"][i].get<int>(), micros(start + 0.02 * static_cast<double>(i))});
  }
  for (std::string line; std::getline(r, line);) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_EQ(j.at("durations").size(), j.at("units").size());
    EXPECT_DOUBLE_EQ(j.at("unit_times")[0].get<double>(), j.at("start").get<double>());
    for (size_t i = 0; i < j["units"].size(); ++i, ++runs) {
      const int d = j["durations"][i].get<int>();
      ASSERT_GE(d, 1);
      for (int f = 0; f < d; ++f)
        got.push_back({j["units"][i].get<int>(), micros(j["unit_times"][i].get<double>() + 0.02 * f)});
    }
  }
  ASSERT_FALSE(want.empty());
  EXPECT_LT(runs, want.size());  // repeats were collapsed
  EXPECT_EQ(got, want);
  // Text: UNIT@START+DURATION.
  const CliRun text = live("-q --no-realtime --dedup" + models_args() + kTimes + " " + speech());
  ASSERT_EQ(text.rc, 0) << text.err;
  std::istringstream t(text.out);
  std::string first;
  std::getline(t, first);
  const auto j = nlohmann::json::parse(reduced.out.substr(0, reduced.out.find('\n')));
  char prefix[96];
  std::snprintf(prefix, sizeof prefix, "%.3f %d@%.3f+%.3f", j["start"].get<double>(),
                j["units"][0].get<int>(), j["unit_times"][0].get<double>(),
                0.02 * j["durations"][0].get<int>());
  EXPECT_TRUE(first == prefix || first.rfind(std::string(prefix) + " ", 0) == 0)
      << first << " does not start with " << prefix;
}

TEST(LiveCli, StandardInputWavAndRawGiveTheUnitsOfTheFile) {
  const CliRun file = live("-q --no-realtime" + models_args() + kTimes + " " + speech());
  ASSERT_EQ(file.rc, 0) << file.err;
  ASSERT_FALSE(file.out.empty());
  const CliRun wav = live("-q --no-realtime" + models_args() + kTimes + " - <" + speech());
  ASSERT_EQ(wav.rc, 0) << wav.err;
  EXPECT_EQ(wav.out, file.out);
  // The same samples without a header: the fixture is 16 kHz mono PCM16.
  const std::string bytes = acoustok::test::read_file(speech());
  const size_t data = bytes.find("data");
  ASSERT_NE(data, std::string::npos);
  const std::string raw = dir() + "/speech.s16";
  {
    FILE* f = std::fopen(raw.c_str(), "wb");
    std::fwrite(bytes.data() + data + 8, 1, bytes.size() - data - 8, f);
    std::fclose(f);
  }
  const CliRun s16 = live("-q --no-realtime" + models_args() + kTimes + " - <" + raw);
  ASSERT_EQ(s16.rc, 0) << s16.err;
  EXPECT_EQ(s16.out, file.out);
  // Float samples (PCM16 / 32768, as the decoder makes them), from a pipe.
  const auto samples = acoustok::read_audio_16k_mono(speech());
  const std::string f32 = dir() + "/speech.f32";
  {
    FILE* f = std::fopen(f32.c_str(), "wb");
    std::fwrite(samples.data(), sizeof(float), samples.size(), f);
    std::fclose(f);
  }
  const CliRun fl =
      live("-q --no-realtime --raw-format f32le --raw-rate 16000" + models_args() + kTimes + " - ",
           "cat " + f32 + " |");
  ASSERT_EQ(fl.rc, 0) << fl.err;
  EXPECT_EQ(fl.out, file.out);
}

TEST(LiveCli, VocoderWritesAWavOf320SamplesPerUnit) {
  const auto& m = acoustok::test::demo_models();
  const std::string wav = dir() + "/speech-out.wav";
  const CliRun r = live("-q --no-realtime" + models_args() + kTimes + " --vocoder " + m.vocoder +
                        " --speech-out " + wav + " " + speech());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, joined(reference(speech(), true)));  // the tee changes nothing
  const size_t units = unit_count(r.out);
  ASSERT_GT(units, 100u);
  EXPECT_EQ(acoustok::read_audio_16k_mono(wav).size(), 320 * units);
  // Written under a temporary name and renamed: nothing else left beside it.
  for (const auto& f : fs::directory_iterator(dir()))
    EXPECT_EQ(f.path().filename().string().find(".tmp"), std::string::npos) << f.path();
  // Fewer units of lookahead (where unitvocoder has the property): as many samples.
  const CliRun low = live("-q --no-realtime" + models_args() + kTimes + " --vocoder " + m.vocoder +
                          " --vocoder-lookahead-frames 2 --speech-out " + wav + " " + speech());
  ASSERT_EQ(low.rc, 0) << low.err;
  EXPECT_EQ(acoustok::read_audio_16k_mono(wav).size(), 320 * units);
}

// bpemotif cannot load into this process (LibTorch's protobuf is linked
// here; SentencePiece's own clashes with it), so the reference is `acoustok
// bpe encode` (what bpemotif equals) on the units of each segment: whole
// segments (--chunk-time 0) give one line of units per segment.
TEST(LiveCli, MotifsAreTheBpeEncodingOfEachSegmentsUnits) {
  const std::string bpe = fixture("bpe/ref.model");
  const std::string whole = " --chunk-time 0";
  const CliRun units = live("-q --no-realtime" + models_args() + whole + " " + speech());
  ASSERT_EQ(units.rc, 0) << units.err;
  const CliRun motifs =
      live("-q --no-realtime" + models_args() + whole + " --motifs " + bpe + " " + speech());
  if (motifs.rc != 0 && motifs.err.find("acoustokbpe") != std::string::npos) GTEST_SKIP() << motifs.err;
  ASSERT_EQ(motifs.rc, 0) << motifs.err;
  // Starts apart from units.
  std::istringstream in(units.out);
  std::string line, starts, lines;
  while (std::getline(in, line)) {
    const size_t sp = line.find(' ');
    starts += line.substr(0, sp) + "\n";
    lines += (sp == std::string::npos ? "" : line.substr(sp + 1)) + "\n";
  }
  ASSERT_GE(std::count(starts.begin(), starts.end(), '\n'), 2);
  const std::string units_txt = dir() + "/units.txt";
  {
    FILE* f = std::fopen(units_txt.c_str(), "wb");
    std::fwrite(lines.data(), 1, lines.size(), f);
    std::fclose(f);
  }
  std::string encoded;
  ASSERT_EQ(acoustok::test::run_command(
                acoustok_bin() + " bpe encode " + bpe + " " + units_txt + " 2>/dev/null", &encoded),
            0)
      << encoded;
  std::istringstream enc(encoded), st(starts);
  std::string expected, e, s;
  while (std::getline(st, s) && std::getline(enc, e)) expected += s + (e.empty() ? "" : " " + e) + "\n";
  EXPECT_EQ(motifs.out, expected);
  // With the vocoder beside them (a tee): the same motifs, and speech for
  // every unit (no stall while bpemotif waits for a segment's end).
  const std::string wav = dir() + "/motif-speech.wav";
  const CliRun both =
      live("-q --no-realtime" + models_args() + whole + " --motifs " + bpe + " --vocoder " +
               acoustok::test::demo_models().vocoder + " --speech-out " + wav + " " + speech(),
           "timeout 120");
  ASSERT_EQ(both.rc, 0) << both.err;
  EXPECT_EQ(both.out, motifs.out);
  EXPECT_EQ(acoustok::read_audio_16k_mono(wav).size(), 320 * unit_count(units.out));
  // --json: the same motifs as an array.
  const CliRun j =
      live("-q --no-realtime --json" + models_args() + whole + " --motifs " + bpe + " " + speech());
  ASSERT_EQ(j.rc, 0) << j.err;
  const auto first = nlohmann::json::parse(j.out.substr(0, j.out.find('\n')));
  std::string first_line;
  for (const auto& m : first.at("motifs")) first_line += " " + m.get<std::string>();
  EXPECT_EQ(seconds_text(static_cast<GstClockTime>(first.at("start").get<double>() * GST_SECOND + 0.5)) +
                first_line,
            motifs.out.substr(0, motifs.out.find('\n')));
}

TEST(LiveCli, AFilePlaysAtThePaceOfTheClockWithoutNoRealtime) {
  const std::string wav = clip(3.0);
  const CliRun fast = live("-q --no-realtime" + models_args() + kTimes + " " + wav);
  ASSERT_EQ(fast.rc, 0) << fast.err;
  const auto t0 = std::chrono::steady_clock::now();
  const CliRun paced = live("-q" + models_args() + kTimes + " " + wav);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(paced.rc, 0) << paced.err;
  EXPECT_GE(wall, 2.9);
  EXPECT_EQ(paced.out, fast.out);
}

TEST(LiveCli, CtrlCFlushesTheSegmentUnderWayAndCompletesTheWav) {
  // At the real pace, interrupted 2 s after its first units (a loaded
  // machine may take seconds to load the models), in 17.7 s of speech.
  const auto& m = acoustok::test::demo_models();
  const std::string wav = dir() + "/interrupted.wav", out = dir() + "/int.out", err = dir() + "/int.err";
  const int rc = acoustok::test::run_command(
      "{ " + acoustok_bin() + " live -q" + models_args() + kTimes + " --vocoder " + m.vocoder +
      " --speech-out " + wav + " " + speech() + " >" + out + " 2>" + err + " & pid=$!; i=0; while [ ! -s " +
      out + " ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; sleep 2; kill -INT $pid; wait $pid; }");
  ASSERT_EQ(rc, 0) << acoustok::test::read_file(err);
  const std::string printed = acoustok::test::read_file(out);
  const size_t units = unit_count(printed);
  // The units up to the interruption, and not the rest of the file.
  EXPECT_GT(units, 50u) << printed;
  EXPECT_LT(units, 17 * 50u) << printed;
  ASSERT_TRUE(fs::exists(wav));
  EXPECT_EQ(acoustok::read_audio_16k_mono(wav).size(), 320 * units);
  // The file's first lines; the last one ends where the input was cut.
  const size_t last = printed.rfind('\n', printed.size() - 2);
  ASSERT_NE(last, std::string::npos);
  EXPECT_EQ(joined(reference(speech(), true)).rfind(printed.substr(0, last + 1), 0), 0u) << printed;
}

TEST(LiveCli, FindsThePluginsOfItsBuildTreeWithoutGstPluginPath) {
  const CliRun r = live("-q --no-realtime" + models_args() + kTimes + " " + clip(3.0),
                        "env -u GST_PLUGIN_PATH GST_REGISTRY=" + dir() + "/registry.bin");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
}

TEST(LiveCli, AMissingPluginIsOneLine) {
  // A copy of the program outside the build tree, with no plugin anywhere.
  const std::string bin = dir() + "/bin";
  fs::create_directories(bin);
  fs::copy_file(acoustok_bin(), bin + "/acoustok", fs::copy_options::overwrite_existing);
  const std::string out = dir() + "/out";
  const int rc = acoustok::test::run_command(
      "{ env LD_LIBRARY_PATH=" + fs::path(acoustok_bin()).parent_path().parent_path().string() +
      " GST_PLUGIN_PATH= GST_PLUGIN_SYSTEM_PATH=" + dir() + "/none GST_REGISTRY=" + dir() + "/empty.bin " +
      bin + "/acoustok live --no-realtime" + models_args() + " " + speech() + " >/dev/null 2>" + out + "; }");
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(acoustok::test::read_file(out),
            "acoustok: the acoustok GStreamer plugin is not installed: gst-inspect-1.0 silencesplit finds "
            "nothing\n");
}

TEST(LiveCli, BadOptionsAndFilesStopWithOneLine) {
  const auto& m = acoustok::test::demo_models();
  const std::string km = " --kmeans " + m.kmeans;
  struct Case {
    std::string args;
    int rc;
    std::string names;
  };
  const std::vector<Case> cases = {
      {"--no-realtime --kmeans " + m.kmeans + " " + speech(), 2, "--model"},
      {"--no-realtime --model " + m.feature_model + " " + speech(), 2, "--kmeans"},
      {models_args() + " --chunk-time -0.5 " + speech(), 2, "--chunk-time"},
      {models_args() + " --lookahead-time nan " + speech(), 2, "--lookahead-time"},
      {models_args() + " --context-time -1 " + speech(), 2, "--context-time"},
      {models_args() + " --mic " + speech(), 2, "--mic"},
      {models_args() + " --speech-out x.wav " + speech(), 2, "--speech-out"},
      {models_args() + " --raw-format s24le - </dev/null", 2, "--raw-format"},
      {models_args() + " --raw-rate 44100 " + speech(), 2, "--raw-rate"},
      {models_args() + " " + dir() + "/no-such.wav", 1, dir() + "/no-such.wav"},
      {" --model " + dir() + "/no-model --layer 3" + km + " " + speech(), 1, dir() + "/no-model"},
      {" --model " + m.feature_model + " --layer 3 --kmeans " + dir() + "/no-km " + speech(), 1,
       dir() + "/no-km"},
      {" --no-realtime --model " + m.feature_model + " --layer 99" + km + " " + speech(), 1, "xlsrfeat"},
      {"--no-realtime" + models_args() + " " + fixture("bpe/corpus.txt"), 1, fixture("bpe/corpus.txt")},
  };
  for (const auto& c : cases) {
    const CliRun r = live("-q " + c.args);
    EXPECT_EQ(r.rc, c.rc) << c.args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("acoustok: ", 0), 0u) << c.args << "\n" << r.err;
    const std::string first = r.err.substr(0, r.err.find('\n'));
    EXPECT_NE(first.find(c.names), std::string::npos) << c.args << "\n" << r.err;
    // One line; a usage error adds CLI11's hint to --help.
    const size_t lines = static_cast<size_t>(std::count(r.err.begin(), r.err.end(), '\n'));
    EXPECT_LE(lines, r.err.find("--help") == std::string::npos ? 1u : 2u) << c.args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args;
  }
}
