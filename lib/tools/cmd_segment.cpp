// SPDX-License-Identifier: MIT
// acoustok segment IN... -o DIR: phase 0, cut recordings at silences.
//
// Per input the segment WAVs are written first, then a state file
// DIR/.segment-state/<stem>.json that records them; only an input with a state
// file matching its size, mtime and the options counts as done, so an
// interrupted run resumes without trusting half-written output.
// DIR/segments.jsonl is rebuilt from the state files at the end.
#include "config.h"

#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/process.hpp"
#include "acoustok/error.hpp"
#include "common/fs_util.hpp"
#include "common/progress.hpp"
#include "acoustok/silence.hpp"
#include "commands.hpp"
#include "option_checks.hpp"
#include "std_streams.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace acoustok::tools {
namespace {

struct SegmentArgs {
  bool json_out = false;
  std::vector<std::string> inputs;
  std::string out_dir;
  SilenceOptions silence;
  int jobs = 1;
  bool quiet = false;
};

json options_json(const SilenceOptions& o) {
  return {{"threshold_db", o.threshold_db},
          {"min_silence", o.min_silence},
          {"keep_silence", o.keep_silence},
          {"min_segment", o.min_segment},
          {"max_segment", o.max_segment}};
}

json source_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return nullptr;
  return {{"size", static_cast<int64_t>(st.st_size)},
          {"mtime_ns", static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec}};
}

std::string segment_file_name(const std::string& stem, int64_t index) {
  char num[16];
  std::snprintf(num, sizeof num, "%05lld", static_cast<long long>(index));
  return stem + "_" + num + ".wav";
}

// The state file of one input, or null when it is absent or unreadable.
json read_state(const fs::path& state_path) {
  std::error_code ec;
  if (!fs::exists(state_path, ec)) return nullptr;
  try {
    return json::parse(common::read_text_file(state_path.string()));
  } catch (const std::exception&) {
    return nullptr;
  }
}

// `source` names the input in the outputs; `path` is where its bytes are
// (the same, except for "-": a temporary copy of standard input).
bool state_is_current(const json& state, const std::string& source, const std::string& path,
                      const SilenceOptions& opts) {
  return state.is_object() && state.value("source", "") == source &&
         state["identity"] == source_identity(path) && state["options"] == options_json(opts) &&
         state.contains("segments");
}

// Segment files of one input, written while its audio streams through the
// splitter: a segment whose start is certain is written as its samples come,
// so only the splitter's hold-back (about min-silence + keep-silence, or
// max-segment) is ever in memory, not the input.
class SegmentSink {
 public:
  SegmentSink(const fs::path& out_dir, const std::string& input, const std::string& stem)
      : out_dir_(out_dir), input_(input), stem_(stem) {}

  // Takes the samples after those pushed before; writes what is decided.
  void push(SilenceSplitter& splitter, const float* x, size_t n) {
    held_.insert(held_.end(), x, x + n);
    splitter.push(x, n);
    drain(splitter);
  }
  void finish(SilenceSplitter& splitter) {
    splitter.finish();
    drain(splitter);
  }
  json& records() { return records_; }

 private:
  void drain(SilenceSplitter& splitter) {
    for (const Segment& seg : splitter.take_segments()) {
      if (!writer_ || writer_index_ != seg.index || writer_start_ != seg.start)
        start_writer(seg.index, seg.start);
      write_until(seg.end);
      writer_->commit();
      writer_.reset();
      records_.push_back({{"source", input_},
                          {"index", seg.index},
                          {"start", static_cast<double>(seg.start) / grid::kSampleRate},
                          {"end", static_cast<double>(seg.end) / grid::kSampleRate},
                          {"file", segment_file_name(stem_, seg.index)}});
      next_index_ = seg.index + 1;
    }
    if (auto open = splitter.open_segment()) {
      if (open->certain_end > open->start) {
        if (writer_ && writer_start_ != open->start)
          throw Error("segment: internal error: the open segment moved");
        if (!writer_) start_writer(next_index_, open->start);
        write_until(open->certain_end);
      }
    }
    // Audio before this is written or silence no segment keeps.
    int64_t keep = splitter.keep_from();
    if (writer_ && keep >= writer_start_) keep = std::max(keep, written_to_);
    drop_until(keep);
  }

  void start_writer(int64_t index, int64_t start) {
    if (start < held_from_)
      throw Error("segment: internal error: segment " + std::to_string(index) + " starts in dropped audio");
    writer_ = std::make_unique<WavWriter>((out_dir_ / segment_file_name(stem_, index)).string());
    writer_index_ = index;
    writer_start_ = written_to_ = start;
  }

  void write_until(int64_t end) {
    if (end <= written_to_) return;
    if (end > held_from_ + static_cast<int64_t>(held_.size()))
      throw Error("segment: internal error: segment past the input");
    writer_->write(held_.data() + (written_to_ - held_from_), static_cast<size_t>(end - written_to_));
    written_to_ = end;
  }

  void drop_until(int64_t sample) {
    const int64_t n = std::min<int64_t>(sample - held_from_, static_cast<int64_t>(held_.size()));
    if (n <= 0) return;
    held_.erase(held_.begin(), held_.begin() + n);
    held_from_ += n;
  }

  fs::path out_dir_;
  std::string input_, stem_;
  std::vector<float> held_;  // input samples from held_from_ on
  int64_t held_from_ = 0;
  std::unique_ptr<WavWriter> writer_;  // the segment being written
  int64_t writer_index_ = 0, writer_start_ = 0, written_to_ = 0;
  int64_t next_index_ = 0;
  json records_ = json::array();
};

json segment_one_input(const std::string& input, const std::string& path, const std::string& stem,
                       const fs::path& out_dir, const fs::path& state_path, const SilenceOptions& opts) {
  const json identity = source_identity(path);
  // Errors name standard input, not its temporary copy.
  auto renamed = [&](const Error& e) -> Error {
    std::string m = e.what();
    if (path == input || m.compare(0, path.size() + 2, path + ": ") != 0) return e;
    return Error("standard input: " + m.substr(path.size() + 2));
  };
  std::unique_ptr<AudioReader> reader;
  try {
    reader = std::make_unique<AudioReader>(path);
  } catch (const Error& e) {
    throw renamed(e);
  }

  // Files of an earlier, different run of this input would otherwise linger.
  json old = read_state(state_path);
  if (old.is_object() && old.contains("segments")) {
    for (const auto& rec : old["segments"]) {
      if (rec.contains("file")) fs::remove(out_dir / rec["file"].get<std::string>());
    }
  }
  fs::remove(state_path);

  SilenceSplitter splitter(opts);
  SegmentSink sink(out_dir, input, stem);
  json state;
  try {
    std::vector<float> block;
    for (;;) {
      block.clear();
      bool more = false;
      try {
        more = reader->read(block);
      } catch (const Error& e) {
        throw renamed(e);
      }
      if (!more) break;
      sink.push(splitter, block.data(), block.size());
    }
    sink.finish(splitter);
    state = {{"source", input},
             {"identity", identity},
             {"options", options_json(opts)},
             {"duration", static_cast<double>(reader->samples_read()) / grid::kSampleRate},
             {"segments", sink.records()}};
    common::write_text_file(state_path.string(), state.dump());
  } catch (...) {
    // A failed input leaves none of its segments where `units` would read them.
    std::error_code ec;
    for (const auto& rec : sink.records()) fs::remove(out_dir / rec["file"].get<std::string>(), ec);
    throw;
  }
  return state;
}

void run_segment(const SegmentArgs& args, Context& ctx) {
  try {
    args.silence.validate();
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  const fs::path out_dir(args.out_dir);
  const fs::path state_dir = out_dir / ".segment-state";
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) throw file_error(args.out_dir, "cannot create output folder: " + ec.message());
  const common::DirLock lock(args.out_dir, "segment");  // one run at a time per folder

  // "-": standard input, buffered in a temporary file; its segments are
  // stdin_NNNNN.wav and its records say "source": "-".
  std::unique_ptr<InputArg> from_stdin;
  std::vector<std::string> paths = args.inputs;
  std::vector<std::string> stems;
  std::map<std::string, std::string> stem_owner;
  for (size_t i = 0; i < args.inputs.size(); ++i) {
    const std::string& in = args.inputs[i];
    if (in == "-") {
      if (from_stdin) throw UsageError("'-' (standard input) is given more than once");
      from_stdin = std::make_unique<InputArg>(in);
      paths[i] = from_stdin->path();
    }
    std::string stem = in == "-" ? "stdin" : fs::path(in).stem().string();
    auto [it, fresh] = stem_owner.emplace(stem, in);
    if (!fresh)
      throw Error("inputs " + it->second + " and " + in + " have the same name '" + stem +
                  "': their segment files would collide");
    stems.push_back(stem);
  }

  const size_t n = args.inputs.size();
  std::vector<json> states(n);
  std::vector<std::string> failures(n);
  std::atomic<size_t> next{0};
  std::atomic<int> skipped{0};
  common::Progress progress("segment", static_cast<int64_t>(n), !args.quiet);

  auto worker = [&]() {
    for (size_t i = next++; i < n; i = next++) {
      const std::string& input = args.inputs[i];
      const fs::path state_path = state_dir / (stems[i] + ".json");
      try {
        // Its name goes into segments.jsonl (JSON, UTF-8): one that is not
        // UTF-8 is skipped, named with its bytes escaped.
        try {
          (void)json(input).dump();
        } catch (const json::exception&) {
          throw file_error(input, "file name is not UTF-8");
        }
        json state = read_state(state_path);
        if (state_is_current(state, input, paths[i], args.silence)) {
          ++skipped;
        } else {
          state = segment_one_input(input, paths[i], stems[i], out_dir, state_path, args.silence);
        }
        states[i] = std::move(state);
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
      progress.add(1);
    }
  };
  const int jobs = std::max(1, std::min<int>(usable_threads(args.jobs), static_cast<int>(n)));
  std::vector<std::thread> pool;
  for (int j = 1; j < jobs; ++j) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  progress.finish();

  // segments.jsonl lists every completed input, in command-line order.
  std::string lines;
  size_t segment_count = 0, failed = 0;
  double speech = 0, total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!failures[i].empty()) {
      std::fprintf(stderr, "acoustok: %s (skipped)\n", failures[i].c_str());
      ++failed;
      continue;
    }
    total += states[i].value("duration", 0.0);
    for (const auto& rec : states[i]["segments"]) {
      lines += rec.dump() + "\n";
      speech += rec["end"].get<double>() - rec["start"].get<double>();
      ++segment_count;
    }
  }
  // Nothing completed: no segments.jsonl either (a full disk leaves nothing).
  if (failed < n) common::write_text_file((out_dir / "segments.jsonl").string(), lines);
  if (!args.quiet) {
    std::fprintf(
        stderr,
        "segment: %zu input(s), %d already done, %zu failed; %zu segments, %.1f s of %.1f s kept -> %s\n", n,
        skipped.load(), failed, segment_count, speech, total, (out_dir / "segments.jsonl").c_str());
  }
  if (args.json_out) {
    const json summary = {{"inputs", n},
                          {"already_done", skipped.load()},
                          {"failed", failed},
                          {"segments", segment_count},
                          {"speech_seconds", speech},
                          {"input_seconds", total},
                          {"output", (out_dir / "segments.jsonl").string()}};
    std::printf("%s\n", summary.dump().c_str());
  }
  if (failed > 0) ctx.exit_status = 1;
}

}  // namespace

void add_segment_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<SegmentArgs>();
  CLI::App* cmd =
      app.add_subcommand("segment", "Phase 0: cut recordings at silences into 16 kHz mono WAV segments");
  cmd->add_option("inputs", args->inputs,
                  "Audio files (WAV, FLAC, OGG, MP3; any rate and channels); - for standard input (segments "
                  "stdin_NNNNN.wav)")
      ->required();
  cmd->add_option("-o,--output", args->out_dir, "Output folder: <stem>_NNNNN.wav and segments.jsonl")
      ->required();
  // The durations size the analysis buffers: at most an hour each.
  cmd->add_option("--threshold-db", args->silence.threshold_db, "Silence threshold in dBFS")
      ->capture_default_str()
      ->check(checks::number_between(-200, 0, "dBFS"));
  cmd->add_option("--min-silence", args->silence.min_silence,
                  "Shortest pause that splits, seconds (at most 3600)")
      ->capture_default_str()
      ->check(checks::seconds(0.001));
  cmd->add_option("--keep-silence", args->silence.keep_silence,
                  "Silence kept around each segment, seconds (at most 3600)")
      ->capture_default_str()
      ->check(checks::seconds(0));
  cmd->add_option("--min-segment", args->silence.min_segment,
                  "Merge segments shorter than this into a neighbour, seconds (0: off; at most 3600)")
      ->capture_default_str()
      ->check(checks::seconds(0));
  cmd->add_option("--max-segment", args->silence.max_segment,
                  "Split longer speech at its quietest point, seconds (0: off; at most 3600)")
      ->capture_default_str()
      ->check(checks::seconds(0));
  cmd->add_option("-j,--jobs", args->jobs,
                  "Inputs processed in parallel (at most the CPUs this process may use)")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  cmd->add_flag("-q,--quiet", args->quiet, "No progress or summary on stderr");
  cmd->add_flag("--json", args->json_out, "A summary as one JSON object on stdout");
  cmd->callback([args, &ctx]() { run_segment(*args, ctx); });
}

}  // namespace acoustok::tools
