// SPDX-License-Identifier: MIT
// Every state file is untrusted (issue 26): a resumable folder whose
// checkpoint, caches, lists, logs or corpus were edited, truncated or made
// inconsistent is refused with one line naming the file and the field (exit
// 1), never a crash, a read outside a file or exit 0 with wrong outputs;
// --restart starts over; a second run on a folder in use fails at once
// naming the holder's PID, and a dead holder's lock is taken over.
//
// One table row per case: how the real state is corrupted, the command, the
// exit status, the words of the message, files that must (not) exist after.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/tensor_file.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using acoustok::test::acoustok_bin;
using acoustok::test::make_temp_dir;
using acoustok::test::read_file;
using acoustok::test::run_command;
using nlohmann::json;

namespace {

constexpr int64_t kDim = 24;
constexpr int kSegments = 6;

// ROOT/segments (WAVs + segments.jsonl) and ROOT/features (.npy per segment).
void make_corpus(const std::string& root) {
  fs::create_directories(root + "/segments");
  fs::create_directories(root + "/features");
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::string index;
  const std::vector<float> audio(1600, 0.0f);
  for (int i = 0; i < kSegments; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "rec_%05d", i);
    const int frames = 30 + 7 * i;
    std::vector<float> x(static_cast<size_t>(frames * kDim));
    for (auto& v : x) v = noise(rng) + static_cast<float>(i % 3);
    acoustok::write_wav_pcm16(root + "/segments/" + name + ".wav", audio.data(), audio.size());
    acoustok::write_npy(root + "/features/" + name + ".npy", x.data(), {frames, kDim});
    index += json{{"source", "/data/talk.mp3"},
                  {"index", i},
                  {"start", 10.0 * i},
                  {"end", 10.0 * i + 5},
                  {"file", std::string(name) + ".wav"}}
                 .dump() +
             "\n";
  }
  std::ofstream(root + "/segments/segments.jsonl") << index;
}

std::string units_cmd(const std::string& root, const std::string& extra = "") {
  return acoustok_bin() + " units --features " + root + "/features " + root + "/segments -o " + root +
         "/out --seed 4 --feature-model test-feats --k 4 --batch-size 100 " + extra;
}

void edit_json(const std::string& path, const std::function<void(json&)>& edit) {
  json j = json::parse(read_file(path));
  edit(j);
  std::ofstream(path, std::ios::trunc) << j.dump();
}

std::function<void(const std::string&)> checkpoint(const std::function<void(json&)>& edit) {
  return [edit](const std::string& root) { edit_json(root + "/out/checkpoint.json", edit); };
}

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::trunc) << text; }

// A corruption that leaves segments.jsonl one line with these start and end.
std::function<void(const std::string&)> one_segment_line(const std::string& start, const std::string& end) {
  return [start, end](const std::string& root) {
    write(root + "/segments/segments.jsonl", R"({"source": "a", "index": 0, "start": )" + start +
                                                 R"(, "end": )" + end + R"(, "file": "rec_00000.wav"})" +
                                                 "\n");
  };
}

void truncate_to(const std::string& path, double share) {
  fs::resize_file(path, static_cast<uintmax_t>(static_cast<double>(fs::file_size(path)) * share));
}

// The lock of DIR held by this process, as a running acoustok would hold it.
class HeldLock {
 public:
  explicit HeldLock(const std::string& dir) {
    fs::create_directories(dir);
    fd_ = ::open((dir + "/.acoustok.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::flock(fd_, LOCK_EX | LOCK_NB), 0);
    const std::string me = std::to_string(::getpid()) + " test\n";
    EXPECT_EQ(::ftruncate(fd_, 0), 0);
    EXPECT_EQ(::write(fd_, me.data(), me.size()), static_cast<ssize_t>(me.size()));
  }
  ~HeldLock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

struct Case {
  std::string name;
  std::function<void(const std::string& root)> corrupt;
  std::string extra;  // added to the units command
  int status;
  std::vector<std::string> words;
  std::vector<std::string> must_exist = {}, must_not_exist = {};
  std::string locked = "";  // a folder whose lock this process holds meanwhile
};

const std::string kPid = std::to_string(::getpid());

// Words every refusal of a checkpoint says: the file and the way out.
std::vector<std::string> ck(std::vector<std::string> words) {
  words.insert(words.begin(), {"out/checkpoint.json: ", "--restart"});
  return words;
}

void run_case(const Case& c, const std::string& root, const std::string& cmd) {
  SCOPED_TRACE(c.name);
  if (c.corrupt) c.corrupt(root);
  std::unique_ptr<HeldLock> lock;
  if (!c.locked.empty()) lock = std::make_unique<HeldLock>(root + "/" + c.locked);
  std::string log;
  EXPECT_EQ(run_command(cmd, &log), c.status) << cmd << "\n" << log;
  for (const auto& w : c.words) EXPECT_NE(log.find(w), std::string::npos) << "'" << w << "' not in:\n" << log;
  for (const char* raw : {"json.exception", "terminate called", "what()", "_M_", "max_size", "Segmentation"})
    EXPECT_EQ(log.find(raw), std::string::npos) << raw << " in:\n" << log;
  for (const auto& f : c.must_exist) EXPECT_TRUE(fs::exists(root + "/" + f)) << f;
  for (const auto& f : c.must_not_exist) EXPECT_FALSE(fs::exists(root + "/" + f)) << f;
}

}  // namespace

// `acoustok units` resumed from a finished run's state, edited.
TEST(HostileState, UnitsRefusesStateThatDoesNotFitTogether) {
  const std::vector<Case> cases = {
      {"frames 100000", checkpoint([](json& j) { j["segments"][1]["frames"] = 100000; }), "", 1,
       ck({"segments[1].frames is 100000", "past feature_rows"})},
      {"frames -1",
       checkpoint([](json& j) { j["segments"][1]["frames"] = -1; }),
       "",
       1,
       ck({"segments[1].frames is -1"}),
       {"out/checkpoint.json"},
       {"out/.acoustok.lock"}},
      {"frames 1.5", checkpoint([](json& j) { j["segments"][1]["frames"] = 1.5; }), "", 1,
       ck({"segments[1].frames is 1.5, not an integer"})},
      {"row 999999", checkpoint([](json& j) { j["segments"][2]["row"] = 999999; }), "", 1,
       ck({"segments[2].row is 999999, but the records before it end at row"})},
      {"units_done -5", checkpoint([](json& j) { j["units_done"] = -5; }), "", 1, ck({"units_done is -5"})},
      {"units_done 100", checkpoint([](json& j) { j["units_done"] = 100; }), "", 1,
       ck({"units_done is 100"})},
      {"units_done 3 in phase done", checkpoint([](json& j) { j["units_done"] = 3; }), "", 1,
       ck({"units_done is 3 in phase done"})},
      {"feature_rows 0", checkpoint([](json& j) { j["feature_rows"] = 0; }), "", 1, ck({"feature_rows 0"})},
      {"feature_rows larger than the records", checkpoint([](json& j) { j["feature_rows"] = 5000; }), "", 1,
       ck({"feature_rows is 5000, but the segment records hold"})},
      {"dim 64", checkpoint([](json& j) {
         j["dim"] = 64;
         j["phase"] = "units";
         j["units_done"] = 0;
       }),
       "", 1, ck({"dim is 64", "features.npy holds rows of 24"})},
      {"dim 64 when done", checkpoint([](json& j) { j["dim"] = 64; }), "", 1,
       ck({"kmeans.dim is 24, but the features have dim 64"})},
      {"phase bogus", checkpoint([](json& j) { j["phase"] = "bogus"; }), "", 1, ck({"phase is \"bogus\""})},
      {"phase shard-done", checkpoint([](json& j) { j["phase"] = "shard-done"; }), "", 1,
       ck({"no --shard run"})},
      {"file ../../etc/passwd", checkpoint([](json& j) { j["segments"][0]["file"] = "../../etc/passwd"; }),
       "", 1, ck({"segments[0].file is \"../../etc/passwd\""})},
      {"file not in the folder", checkpoint([](json& j) { j["segments"][0]["file"] = "other.wav"; }), "", 1,
       ck({"segments[0].file is \"other.wav\", not a .wav segment of the segments folder"})},
      {"duplicated record", checkpoint([](json& j) { j["segments"].push_back(j["segments"][0]); }), "", 1,
       ck({"segments[6].file", "duplicated record"})},
      {"centroid 1e308", checkpoint([](json& j) { j["kmeans"]["centroids"][0] = 1e308; }), "", 1,
       ck({"kmeans.centroids[0] is 1e+308"})},
      // Phase units: a kmeans.safetensors holding inf must never be written.
      {"centroid 1e308 before the units phase",
       [](const std::string& root) {
         edit_json(root + "/out/checkpoint.json", [](json& j) {
           j["phase"] = "units";
           j["units_done"] = 0;
           j["kmeans"]["centroids"][5] = 1e308;
         });
         fs::remove(root + "/out/kmeans.safetensors");
       },
       "",
       1,
       ck({"kmeans.centroids[5]"}),
       {},
       {"out/kmeans.safetensors"}},
      {"centroid not a number", checkpoint([](json& j) { j["kmeans"]["centroids"][3] = "NaN"; }), "", 1,
       ck({"kmeans.centroids[3] is \"NaN\", not a number"})},
      {"centroids of another dim", checkpoint([](json& j) { j["kmeans"]["dim"] = 12; }), "", 1,
       ck({"kmeans.centroids must be an array of k x dim"})},
      {"k-means state missing in phase units", checkpoint([](json& j) { j.erase("kmeans"); }), "", 1,
       ck({"kmeans is missing in phase done"})},
      {"k-means counts negative", checkpoint([](json& j) { j["kmeans"]["counts"][0] = -3; }), "", 1,
       ck({"kmeans.counts[0] is -3"})},
      {"inertia negative", checkpoint([](json& j) { j["inertia"] = -1; }), "", 1, ck({"inertia is -1"})},
      {"options not an object", checkpoint([](json& j) { j["options"] = 7; }), "", 1,
       ck({"made by a run with other options (options: 7 in the checkpoint)"})},
      {"another k", checkpoint([](json& j) { j["options"]["k"] = 9; }), "", 1,
       ck({"made by a run with other options (k: 9 in the checkpoint, 4 in this run)"})},
      {"segments not an array", checkpoint([](json& j) { j["segments"] = "x"; }), "", 1,
       ck({"segments is \"x\""})},
      {"field missing", checkpoint([](json& j) { j["segments"][2].erase("row"); }), "", 1,
       ck({"segments[2].row is missing"})},
      {"checkpoint truncated",
       [](const std::string& root) { truncate_to(root + "/out/checkpoint.json", 0.5); }, "", 1,
       ck({"not valid JSON"})},
      {"checkpoint garbage",
       [](const std::string& root) { write(root + "/out/checkpoint.json", "\x01\xff garbage"); }, "", 1,
       ck({"not valid JSON"})},
      {"feature cache truncated",
       [](const std::string& root) {
         edit_json(root + "/out/checkpoint.json", [](json& j) {
           j["phase"] = "kmeans";
           j["units_done"] = 0;
           j.erase("kmeans");
         });
         truncate_to(root + "/out/cache/features.npy", 0.6);
       },
       "", 1, ck({"feature_rows is", "features.npy holds"})},
      {"feature cache missing",
       [](const std::string& root) {
         edit_json(root + "/out/checkpoint.json", [](json& j) {
           j["phase"] = "units";
           j["units_done"] = 0;
         });
         fs::remove(root + "/out/cache/features.npy");
       },
       "", 1, ck({"features.npy is missing or no feature cache"})},
      // The caches may go once a job is done (the docs say so).
      {"caches deleted when done",
       [](const std::string& root) { fs::remove_all(root + "/out/cache"); },
       "",
       0,
       {"is already complete"}},
      {"processed_files.txt one checkpoint behind",
       [](const std::string& root) {
         write(root + "/out/processed_files.txt", "rec_00000.wav\nrec_00001.wav\n");
       },
       "",
       0,
       {"is already complete"}},
      {"unit cache truncated in phase units",
       [](const std::string& root) {
         edit_json(root + "/out/checkpoint.json", [](json& j) {
           j["phase"] = "units";
           j["units_done"] = 4;
         });
         truncate_to(root + "/out/cache/units.u16", 0.3);
       },
       "", 1, ck({"units_done is 4", "units.u16 holds"})},
      {"processed_files.txt edited",
       [](const std::string& root) { write(root + "/out/processed_files.txt", "../../etc/passwd\n"); },
       "",
       1,
       {"out/processed_files.txt: line 1 (\"../../etc/passwd\")", "--restart"}},
      {"processed_files.txt with an extra line",
       [](const std::string& root) {
         std::ofstream(root + "/out/processed_files.txt", std::ios::app) << "rec_00009.wav\n";
       },
       "",
       1,
       {"out/processed_files.txt: line 7 (\"rec_00009.wav\")"}},
      {"segments.jsonl start 1e308",
       one_segment_line("1e308", "1e308"),
       "",
       1,
       {"segments/segments.jsonl: line 1: start is 1e+308"}},
      {"segments.jsonl start -1e308",
       one_segment_line("-1e308", "2"),
       "",
       1,
       {"segments/segments.jsonl: line 1: start is -1e+308"}},
      {"segments.jsonl end before start",
       one_segment_line("5", "2"),
       "",
       1,
       {"segments/segments.jsonl: line 1: end is 2"}},
      // A final run reads the --shard runs' checkpoints: untrusted as well.
      {"shard checkpoint edited",
       [](const std::string& root) {
         fs::remove_all(root + "/out");
         for (const char* shard : {"0/2", "1/2"})
           ASSERT_EQ(run_command(units_cmd(root, std::string("-q --shard ") + shard)), 0);
         edit_json(root + "/out/shards/1-of-2/checkpoint.json",
                   [](json& j) { j["segments"][0]["frames"] = 100000; });
       },
       "",
       1,
       {"out/shards/1-of-2/checkpoint.json: segments[0].frames is 100000", "--restart"},
       {},
       {"out/kmeans.safetensors"}},
      // A name that JSON cannot hold: that file is named and skipped.
      {"file name not UTF-8",
       [](const std::string& root) {
         fs::copy_file(root + "/segments/rec_00000.wav", root + "/segments/bad\xff.wav");
       },
       "",
       1,
       {"segments/bad\\xff.wav: file name is not UTF-8 (skipped)"},
       {"out/corpus_timestamped.json"}},
      // The way out: --restart starts over and ends with the outputs.
      {"--restart after frames 100000",
       checkpoint([](json& j) { j["segments"][1]["frames"] = 100000; }),
       "--restart",
       0,
       {"--restart: starting"},
       {"out/kmeans.safetensors", "out/corpus_timestamped.json", "out/checkpoint.json"},
       {"out/.acoustok.lock"}},
      {"--restart after a garbage checkpoint",
       [](const std::string& root) { write(root + "/out/checkpoint.json", "{"); },
       "--restart",
       0,
       {},
       {"out/kmeans.safetensors", "out/all_units_for_bpe.txt"}},
      // Outputs deleted after a finished run come back from the cache.
      {"outputs removed after the run",
       [](const std::string& root) {
         fs::remove(root + "/out/kmeans.safetensors");
         fs::remove(root + "/out/corpus_timestamped.json");
       },
       "",
       0,
       {"writing the missing outputs again"},
       {"out/kmeans.safetensors", "out/corpus_timestamped.json"}},
      // A second run on a folder in use, and a lock left by a killed run.
      {"folder in use",
       nullptr,
       "",
       1,
       {"out: in use by another run (acoustok test, PID " + kPid + ")"},
       {},
       {},
       "out"},
      {"stale lock",
       [](const std::string& root) { write(root + "/out/.acoustok.lock", "999999999 units\n"); },
       "",
       0,
       {"taking over"},
       {},
       {"out/.acoustok.lock"}},
  };
  for (const Case& c : cases) {
    const std::string root = make_temp_dir("hostile-units");
    make_corpus(root);
    std::string log;
    ASSERT_EQ(run_command(units_cmd(root, "-q"), &log), 0) << log;
    const std::string outputs_before = read_file(root + "/out/all_units_for_bpe.txt");
    run_case(c, root, units_cmd(root, c.extra));
    // A refused resume leaves the earlier outputs as they were.
    if (c.status != 0 && fs::exists(root + "/out/all_units_for_bpe.txt")) {
      EXPECT_EQ(read_file(root + "/out/all_units_for_bpe.txt"), outputs_before) << c.name;
    }
  }
}

// Restarted or not, the outputs of a --restart run equal a fresh run's.
TEST(HostileState, UnitsRestartEqualsAFreshRun) {
  const std::string a = make_temp_dir("hostile-fresh"), b = make_temp_dir("hostile-restart");
  make_corpus(a);
  make_corpus(b);
  ASSERT_EQ(run_command(units_cmd(a, "-q")), 0);
  ASSERT_EQ(run_command(units_cmd(b, "-q")), 0);
  edit_json(b + "/out/checkpoint.json", [](json& j) { j["segments"][0]["row"] = 3; });
  std::string log;
  ASSERT_EQ(run_command(units_cmd(b, "-q --restart"), &log), 0) << log;
  for (const char* f : {"kmeans.safetensors", "corpus_timestamped.json", "all_units_for_bpe.txt"})
    EXPECT_TRUE(read_file(a + "/out/" + f) == read_file(b + "/out/" + f)) << f;
}

// A units run holds its folder; a second one fails at once naming its PID;
// after kill -9 the next run takes the folder over and finishes.
TEST(HostileState, SecondUnitsRunOnAFolderInUseFailsNamingThePid) {
  const std::string root = make_temp_dir("hostile-lock");
  make_corpus(root);
  // A FIFO in place of segment 2's features holds the first run there.
  const std::string held = root + "/features/rec_00002.npy";
  fs::rename(held, held + ".real");
  ASSERT_EQ(run_command("mkfifo " + held), 0);
  std::string log;
  const std::string first = root + "/first.log";
  const int rc = run_command("( " + units_cmd(root, "-q") + " 2>" + first + " & p=$!; echo $p > " + root +
                                 "/pid; for i in $(seq 200); do grep -q units " + root +
                                 "/out/.acoustok.lock 2>/dev/null && break; sleep 0.05; done; " +
                                 units_cmd(root) + " > " + root + "/second.log 2>&1; echo $? > " + root +
                                 "/second.rc; kill -9 $p; wait $p )",
                             &log);
  EXPECT_EQ(rc, 137) << log;
  const std::string pid = read_file(root + "/pid").substr(0, read_file(root + "/pid").find('\n'));
  EXPECT_EQ(read_file(root + "/second.rc"), "1\n");
  EXPECT_NE(read_file(root + "/second.log").find("in use by another run (acoustok units, PID " + pid + ")"),
            std::string::npos)
      << read_file(root + "/second.log");
  fs::remove(held);
  fs::rename(held + ".real", held);
  ASSERT_EQ(run_command(units_cmd(root), &log), 0) << log;
  EXPECT_NE(log.find("was killed; taking over"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(root + "/out/corpus_timestamped.json"));
}

// segment and bpe hold their output folders too.
TEST(HostileState, SegmentAndBpeRefuseAFolderInUse) {
  const std::string root = make_temp_dir("hostile-lock2");
  make_corpus(root);
  std::vector<float> tone(16000);
  for (size_t i = 0; i < tone.size(); ++i)
    tone[i] = 0.3f * static_cast<float>(std::sin(0.05 * static_cast<double>(i)));
  acoustok::write_wav_pcm16(root + "/talk.wav", tone.data(), tone.size());
  write(root + "/units.txt", "1 2 3 4 1 2 3 4\n5 6 7 5 6 7\n");
  struct Run {
    std::string cmd, folder;
  };
  std::vector<Run> runs = {{acoustok_bin() + " segment " + root + "/talk.wav -o " + root + "/seg", "seg"}};
  if (run_command(acoustok_bin() + " bpe --help") == 0)
    runs.push_back(
        {acoustok_bin() + " bpe " + root + "/units.txt -o " + root + "/bpe --vocab-size 12", "bpe"});
  for (const Run& r : runs) {
    Case c{r.folder + " in use",
           nullptr,
           "",
           1,
           {r.folder + ": in use by another run (acoustok test, PID " + kPid + ")"},
           {},
           {},
           r.folder};
    run_case(c, root, r.cmd);
    // Free again: the run goes through.
    std::string log;
    EXPECT_EQ(run_command(r.cmd, &log), 0) << r.cmd << "\n" << log;
  }
}

// vocoder train and vocoder test: the training log and the unit corpus.
TEST(HostileState, VocoderRefusesBadLogsAndCorpora) {
  const std::string base = make_temp_dir("hostile-voc");
  const std::string units = base + "/units", audio = acoustok::test::fixture("vocoder/segments");
  fs::copy(acoustok::test::fixture("vocoder/units"), units);
  const std::string train_opts =
      " --audio " + audio +
      " --config tiny --samples-per-epoch 4 --batch-size 4 --threads 1 --save-every 0 --epochs ";
  std::string log;
  const int rc = run_command(
      acoustok_bin() + " vocoder train -q --units " + units + " -o " + base + "/trained" + train_opts + "1",
      &log);
  if (log.find("without LibTorch") != std::string::npos) GTEST_SKIP() << "no LibTorch in this build";
  ASSERT_EQ(rc, 0) << log;

  // {root}/out: a copy of the trained run; {root}/units: a copy of the corpus.
  const auto train = [&](const std::string& extra) {
    return acoustok_bin() + " vocoder train --units {root}/units -o {root}/out" + train_opts + extra;
  };
  const std::string test_cmd = acoustok_bin() +
                               " vocoder test --checkpoint {root}/out/vocoder_final.pt --units "
                               "{root}/units --audio " +
                               audio + " --num-samples 1 -o {root}/test";
  const auto corpus = [](const std::function<void(json&)>& edit) {
    return [edit](const std::string& root) { edit_json(root + "/units/corpus_timestamped.json", edit); };
  };
  const auto unit = [](const json& v) { return [v](json& j) { j["segments"][2]["units"][7] = v; }; };
  const std::vector<std::string> log_way_out = {"out/training_log.json: not valid JSON", "remove it",
                                                "--restart"};
  struct VCase {
    Case c;
    std::string cmd;
  };
  const std::vector<VCase> cases = {
      {{"log truncated",
        [](const std::string& root) { truncate_to(root + "/out/training_log.json", 0.5); },
        "",
        1,
        {"out/training_log.json: not valid JSON", "remove it", "--restart"},
        {"out/training_log.json"}},
       train("2")},
      {{"log garbage",
        [](const std::string& root) { write(root + "/out/training_log.json", "\xff\xfe garbage"); }, "", 1,
        log_way_out},
       train("2")},
      {{"log not an array",
        [](const std::string& root) { write(root + "/out/training_log.json", "{\"epoch\": 1}"); },
        "",
        1,
        {"not a training log"}},
       train("2")},
      {{"log epochs out of order",
        [](const std::string& root) {
          write(root + "/out/training_log.json", R"([{"epoch": 2}, {"epoch": 1}])");
        },
        "",
        1,
        {"record 1 has no epoch number following 2"}},
       train("2")},
      {{"log garbage, --restart",
        [](const std::string& root) { write(root + "/out/training_log.json", "garbage"); },
        "",
        0,
        {},
        {"out/training_log.json", "out/vocoder_final.pt"}},
       train("1 --restart")},
      {{"log removed: a new log",
        [](const std::string& root) { fs::remove(root + "/out/training_log.json"); },
        "",
        0,
        {},
        {"out/training_log.json"}},
       train("2")},
      {{"unit 1.5",
        corpus(unit(1.5)),
        "",
        1,
        {"units/corpus_timestamped.json: segment espeak_pt_00002.wav: unit 1.5 at frame 7 is not an integer "
         "unit id"}},
       train("2")},
      {{"unit 1e30",
        corpus(unit(1e30)),
        "",
        1,
        {"segment espeak_pt_00002.wav: unit 1e+30 at frame 7 is not an integer"}},
       train("2")},
      {{"unit 2^63",
        corpus(unit(json(uint64_t{1} << 63))),
        "",
        1,
        {"segment espeak_pt_00002.wav: unit 9223372036854775808 at frame 7 is outside the vocabulary 0..23"}},
       train("2")},
      {{"unit -1", corpus(unit(-1)), "", 1, {"unit -1 at frame 7 is outside the vocabulary"}}, train("2")},
      {{"unit 1.5 in vocoder test", corpus(unit(1.5)), "", 1, {"unit 1.5 at frame 7 is not an integer"}},
       test_cmd},
      {{"path with ..",
        corpus([](json& j) { j["segments"][0]["file"] = "../segments/espeak_pt_00000.wav"; }),
        "",
        1,
        {"segment \"../segments/espeak_pt_00000.wav\"", "inside the --audio folder"}},
       train("2")},
      {{"absolute path",
        corpus([](json& j) { j["segments"][0]["file"] = "/etc/passwd"; }),
        "",
        1,
        {"segment \"/etc/passwd\"", "inside the --audio folder"}},
       train("2")},
      {{"absolute path in vocoder test",
        corpus([](json& j) { j["segments"][0]["file"] = "/etc/passwd"; }),
        "",
        1,
        {"inside the --audio folder"}},
       test_cmd},
      {{"folder in use",
        nullptr,
        "",
        1,
        {"out: in use by another run (acoustok test, PID " + kPid + ")"},
        {},
        {},
        "out"},
       train("2")},
  };
  for (const VCase& v : cases) {
    const std::string root = make_temp_dir("hostile-voc-case");
    fs::copy(base + "/trained", root + "/out", fs::copy_options::recursive);
    fs::copy(units, root + "/units");
    std::string cmd = v.cmd;
    for (size_t at; (at = cmd.find("{root}")) != std::string::npos;) cmd.replace(at, 6, root);
    if (v.c.corrupt) v.c.corrupt(root);
    const std::string log_before = read_file(root + "/out/training_log.json");
    Case c = v.c;
    c.corrupt = nullptr;
    run_case(c, root, cmd);
    // A refused run leaves the training log as it found it (never replaced).
    if (c.status != 0) {
      EXPECT_EQ(read_file(root + "/out/training_log.json"), log_before) << c.name;
    }
  }
}
