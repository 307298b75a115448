// SPDX-License-Identifier: MIT
// The report's readers on good and hostile files (every file is untrusted):
// the typed JSON access, the streamed corpus_timestamped.json (plain and
// reduced), all_units_for_bpe.txt. A bad file is an acoustok::Error naming
// it and the place, never a crash.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "report/json_file.hpp"
#include "report/unit_stats.hpp"
#include "report_test_util.hpp"
#include "test_util.hpp"

using namespace acoustok::report;
using acoustok::test::make_temp_dir;
using acoustok::test::write_file;

namespace {

// The error `f` throws, or "" when it throws none.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const acoustok::Error& e) {
    return e.what();
  }
  return "";
}

std::string file_with(const std::string& name, const std::string& text) {
  const std::string path = make_temp_dir("report-readers") + "/" + name;
  write_file(path, text);
  return path;
}

std::string corpus_error(const std::string& text) {
  const std::string path = file_with("corpus_timestamped.json", text);
  const std::string e = error_of([&] { read_corpus(path); });
  EXPECT_NE(e.find(path), std::string::npos) << "the error does not name the file: " << e;
  return e;
}

TEST(ReportReaders, JsonFileTypedAccess) {
  const std::string path =
      file_with("metrics.json", R"({"samples": [{"snr_db": 3.5}, {"snr_db": "x"}], "ok": true, "n": null})");
  const json doc = read_json_file(path);
  const JsonFile jf{path};
  const json& samples = jf.array(doc["samples"], "samples");
  EXPECT_EQ(jf.number(samples[0], "snr_db", "samples[0]"), 3.5);
  EXPECT_FALSE(jf.opt_number(doc, "n", "").has_value());
  EXPECT_TRUE(std::isnan(jf.number_or_nan(doc, "absent", "")));
  EXPECT_EQ(jf.opt_bool(doc, "ok", ""), true);
  EXPECT_EQ(error_of([&] { jf.number(samples[1], "snr_db", "samples[1]"); }),
            path + ": samples[1].snr_db: expected a number, found string");
  EXPECT_EQ(error_of([&] { jf.number(samples[0], "mcd_db", "samples[0]"); }),
            path + ": samples[0]: missing \"mcd_db\"");
  EXPECT_EQ(error_of([&] { jf.object(doc["samples"], "samples"); }),
            path + ": samples: expected an object, found array");
  EXPECT_EQ(error_of([&] { jf.opt_string(doc, "ok", ""); }), path + ": ok: expected a string, found boolean");
  EXPECT_EQ(JsonFile::at("line 3", "start"), "line 3: start");
}

TEST(ReportReaders, HostileJsonFiles) {
  EXPECT_NE(error_of([&] { read_json_file(file_with("a.json", R"({"a": [1, 2)")); }).find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_json_file(file_with("a.json", "")); }).find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_json_file(file_with("a.json", "[1e999]")); }).find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_json_file(file_with("a.json", "\"\\ud800\"")); }).find("not valid JSON"),
            std::string::npos);
  // Deep nesting, closed and unclosed: parsed or refused, never a stack overflow.
  const std::string deep(200000, '[');
  EXPECT_EQ(error_of([&] { read_json_file(file_with("a.json", deep + std::string(200000, ']'))); }), "");
  EXPECT_NE(error_of([&] { read_json_file(file_with("a.json", deep)); }).find("not valid JSON"),
            std::string::npos);
  const std::string missing = make_temp_dir("report-readers") + "/absent.json";
  EXPECT_NE(error_of([&] { read_json_file(missing); }).find(missing), std::string::npos);
}

TEST(ReportReaders, CorpusStatistics) {
  const std::string path = file_with("corpus_timestamped.json", R"({
    "feature_model": "xlsr", "feature_model_stand_in": true, "layer": 14, "k": 5, "frame_rate": 50,
    "other": {"nested": [[1, 2], {"units": "ignored"}]},
    "segments": [
      {"file": "a.wav", "units": [1, 1, 2, 3, 3, 3], "unit_times": [0, 0.02]},
      {"file": "b.wav", "units": []},
      {"file": "c.wav", "units": [4]}
    ]})");
  const UnitStats st = read_corpus(path);
  EXPECT_EQ(st.k, 5);
  EXPECT_EQ(st.layer, 14);
  EXPECT_EQ(st.frame_rate, 50.0);
  EXPECT_EQ(st.feature_model, "xlsr");
  EXPECT_TRUE(st.stand_in);
  EXPECT_EQ(st.segments, 3);
  EXPECT_EQ(st.empty_segments, 1);
  EXPECT_EQ(st.frames, 7);
  EXPECT_EQ(st.counts, (std::vector<int64_t>{0, 2, 1, 3, 1}));
  EXPECT_EQ(st.runs, (std::map<int64_t, int64_t>{{1, 2}, {2, 1}, {3, 1}}));
}

TEST(ReportReaders, ReducedCorpusCountsFrames) {
  // units --dedup: one unit per run, the run's frames in "durations" (after "units").
  const UnitStats st = read_corpus(file_with(
      "corpus_timestamped.json",
      R"({"k": 3, "segments": [{"units": [1, 2, 1], "durations": [3, 1, 2]}, {"units": [0, 0], "durations": [2, 65535]}]})"));
  EXPECT_EQ(st.frames, 6 + 65537);
  EXPECT_EQ(st.counts, (std::vector<int64_t>{65537, 5, 1}));
  // The two runs of unit 0 in a row are one run of 65537 frames.
  EXPECT_EQ(st.runs, (std::map<int64_t, int64_t>{{1, 1}, {2, 1}, {3, 1}, {65537, 1}}));
}

TEST(ReportReaders, HostileCorpus) {
  EXPECT_NE(
      corpus_error(R"({"segments": [{"units": [1, "x"]}]})").find("segments[0].units[1]: expected a unit id"),
      std::string::npos);
  EXPECT_NE(corpus_error(R"({"segments": [{"units": [70000]}]})").find("found 70000"), std::string::npos);
  EXPECT_NE(corpus_error(R"({"segments": [{"units": [-1]}]})").find("segments[0].units[0]"),
            std::string::npos);
  EXPECT_NE(
      corpus_error(R"({"segments": [{"units": [99999999999999999999999]}]})").find("segments[0].units[0]"),
      std::string::npos);
  EXPECT_NE(corpus_error(R"({"segments": [{"units": [1.5]}]})").find("found a number"), std::string::npos);
  EXPECT_NE(corpus_error(R"({"segments": [{"units": [[1]]}]})").find("nested list"), std::string::npos);
  EXPECT_NE(corpus_error(R"({"segments": [{"units": [1, 2], "durations": [1]}]})")
                .find("1 run lengths for 2 units"),
            std::string::npos);
  EXPECT_NE(corpus_error(R"({"segments": [{"units": [1], "durations": [0]}]})").find("durations[0]"),
            std::string::npos);
  EXPECT_NE(corpus_error(R"({"segments": {}})").find("segments: expected an array"), std::string::npos);
  EXPECT_NE(corpus_error(R"({"segments": [7]})").find("segments[0]: expected an object"), std::string::npos);
  EXPECT_NE(corpus_error(R"({"k": 0, "segments": []})").find("k: expected an integer from 1 to 65535"),
            std::string::npos);
  EXPECT_NE(corpus_error(R"({"k": 1e999, "segments": []})").find("not valid JSON"), std::string::npos);
  EXPECT_NE(corpus_error(R"({"layer": "x", "segments": []})").find("layer: expected an integer"),
            std::string::npos);
  EXPECT_NE(corpus_error(R"({"frame_rate": -50, "segments": []})").find("frame_rate"), std::string::npos);
  EXPECT_NE(corpus_error(R"({"feature_model": [1], "segments": []})").find("feature_model"),
            std::string::npos);
  EXPECT_NE(corpus_error(R"([1, 2])").find("expected an object"), std::string::npos);
  EXPECT_NE(corpus_error(R"(3)").find("expected an object"), std::string::npos);
  EXPECT_NE(corpus_error(R"({"k": 3})").find("missing \"segments\""), std::string::npos);
  EXPECT_NE(corpus_error(R"({"segments": [{"units": [1, 2)").find("not valid JSON"), std::string::npos);
  EXPECT_NE(corpus_error("").find("not valid JSON"), std::string::npos);
  // Deep nesting where the reader ignores it: streamed, no recursion.
  const std::string deep = R"({"x": )" + std::string(100000, '[') + std::string(100000, ']') +
                           R"(, "segments": [{"units": [2]}]})";
  const UnitStats st = read_corpus(file_with("corpus_timestamped.json", deep));
  EXPECT_EQ(st.frames, 1);
}

TEST(ReportReaders, UnitsText) {
  const UnitStats st = read_units_text(file_with("all_units_for_bpe.txt", "1 1 2\r\n\n 3\t3  0 \n"));
  EXPECT_EQ(st.segments, 3);
  EXPECT_EQ(st.empty_segments, 1);
  EXPECT_EQ(st.frames, 6);
  EXPECT_EQ(st.counts, (std::vector<int64_t>{1, 2, 1, 2}));
  EXPECT_EQ(st.runs, (std::map<int64_t, int64_t>{{1, 2}, {2, 2}}));
  const std::string path = file_with("all_units_for_bpe.txt", "1 2\n3 x4 5\n");
  EXPECT_EQ(error_of([&] { read_units_text(path); }),
            path + ": line 2: 'x4' is not a unit id (an integer from 0 to 65535)");
  const std::string big = file_with("all_units_for_bpe.txt", "65536\n");
  EXPECT_NE(error_of([&] { read_units_text(big); }).find("'65536' is not a unit id"), std::string::npos);
  const std::string huge = file_with("all_units_for_bpe.txt", std::string(5000, '9') + "\n");
  EXPECT_NE(error_of([&] { read_units_text(huge); }).find("is not a unit id"), std::string::npos);
  EXPECT_NE(error_of([&] { read_units_text(huge + ".absent"); }).find("cannot open"), std::string::npos);
}

}  // namespace
