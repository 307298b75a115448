// SPDX-License-Identifier: MIT
// acoustok features --model DIR IN -o OUT.npy: one file's wav2vec2 features
// (layer L, float32 [frames, dim]) as NumPy, what np.load reads. Many files
// (IN..., --list, --manifest) share one model load: one .npy each in a
// folder, or fairseq's feature shards (--fairseq-shards N --rank R).
#include "config.h"

#include <chrono>
#include <cmath>
#include <map>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "acoustok/audio_io.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/error.hpp"
#include "acoustok/feature_windows.hpp"
#include "acoustok/features.hpp"
#include "acoustok/tensor_file.hpp"
#include "commands.hpp"
#include "common/fs_util.hpp"
#include "common/progress.hpp"
#include "feature_inputs.hpp"
#include "option_checks.hpp"
#include "std_streams.hpp"

namespace acoustok::tools {
namespace {

namespace fs = std::filesystem;

struct FeaturesArgs {
  std::vector<std::string> inputs;
  std::string model_dir, output, list, manifest;
  int shards = 0, rank = -1;  // --fairseq-shards, --rank
  FeatureOptions options;
  double max_window = 30, context = 2;  // seconds, xlsrfeat's defaults
  int threads = 0;
  bool quiet = false, json_out = false;
};

uint64_t to_ns(double seconds) { return static_cast<uint64_t>(std::llround(seconds * 1e9)); }

struct Totals {
  int64_t samples = 0, frames = 0;
};

// What a run did, for the summary line and --json.
struct Summary {
  int64_t inputs = 0, skipped = 0;
  Totals total;
  std::vector<std::string> outputs;  // the files written
  double run_s = 0;
};

using RowSink = std::function<void(const float* rows, int64_t count)>;

// An input that cannot be opened or decoded: a batch names it and goes on;
// anything else (the model, the output) stops the run.
struct InputError : Error {
  using Error::Error;
};

bool read_input(AudioReader& reader, std::vector<float>& held) {
  try {
    return reader.read(held);
  } catch (const InputError&) {
    throw;
  } catch (const Error& e) {
    throw InputError(e.what());
  }
}

// The audio read in blocks and run window by window as xlsrfeat runs a stream
// without segment events, its rows written as they come: memory is bounded
// by the window, not the input. An input no longer than one window is run
// whole, as it always was.
Totals extract_streaming(FeatureExtractor& extractor, FeatureWindows& windows, AudioReader& reader,
                         const RowSink& out, common::Progress& progress) {
  const int64_t window = windows.window_samples();
  std::vector<float> held;  // the audio from windows.base() on
  bool more = true;
  int64_t dropped = 0, frames = 0;
  auto run = [&](int64_t count, bool complete) {
    const float* x = windows.gives_frames(count, complete) ? held.data() : nullptr;
    const WindowStep step = windows.run(extractor, x, count, complete);
    if (step.frames > 0) out(step.features.data.data() + step.row * step.features.dim, step.frames);
    frames += step.frames;
    held.erase(held.begin(), held.begin() + step.drop);
    // In seconds of audio: samples would read as an unlabelled count.
    const int64_t seconds_before = dropped / grid::kSampleRate;
    dropped += step.drop;
    progress.add(dropped / grid::kSampleRate - seconds_before);
  };
  for (;;) {
    // One sample beyond the window tells a window from the whole input.
    while (more && static_cast<int64_t>(held.size()) <= window) more = read_input(reader, held);
    if (more || static_cast<int64_t>(held.size()) > window) {
      run(window, false);
      continue;
    }
    const bool whole_input = windows.base() == 0 && windows.next_frame() == 0;
    if (!whole_input && static_cast<int64_t>(held.size()) == window) run(window, false);
    run(static_cast<int64_t>(held.size()), true);
    break;
  }
  return {reader.samples_read(), frames};
}

bool names_a_folder(const std::string& output) {
  return output != "-" && (output.back() == '/' || fs::is_directory(output));
}

// One input, one output file: the command as it has always been.
Summary run_single(const FeaturesArgs& args, const WindowOptions& window_options, FeatureExtractor& extractor,
                   double load_s) {
  using clock = std::chrono::steady_clock;
  const std::string& input_arg = args.inputs.front();
  FeatureWindows windows(window_options);
  const auto t1 = clock::now();
  Totals done;
  auto t2 = t1;
  {  // "-" files are temporary: gone before the _Exit below
    const InputArg input(input_arg);
    AudioReader reader(input.path());
    const AudioFileInfo& info = reader.info();
    // Estimated (compressed formats only announce a length): progress only.
    const auto expected = static_cast<int64_t>(static_cast<double>(info.frames) / info.sample_rate);
    common::Progress progress("features (s of audio)", expected,
                              !args.quiet && expected * grid::kSampleRate > windows.window_samples());
    OutputArg output(args.output, ".npy");
    NpyRowWriter out(output.path(), extractor.dim());
    try {
      done = extract_streaming(
          extractor, windows, reader, [&](const float* r, int64_t n) { out.write(r, n); }, progress);
    } catch (const Error& e) {
      const std::string m = e.what();
      if (m.rfind(input.path() + ": ", 0) == 0) throw;  // the reader names the file already
      throw file_error(input_arg, m);
    }
    progress.finish();
    t2 = clock::now();
    out.commit();
    output.finish();
  }
  if (done.frames == 0) {
    std::fprintf(stderr,
                 "acoustok: %s: %lld samples is shorter than one frame (400 samples, 25 ms): wrote an empty "
                 "[0, %lld] array\n",
                 input_arg.c_str(), static_cast<long long>(done.samples),
                 static_cast<long long>(extractor.dim()));
  }
  const double run_s = std::chrono::duration<double>(t2 - t1).count();
  if (!args.quiet) {
    std::fprintf(
        stderr,
        "features: %s: %lld frames x %lld (layer %d of %s), load %.2f s, audio %.1f s in %.2f s -> %s\n",
        input_arg.c_str(), static_cast<long long>(done.frames), static_cast<long long>(extractor.dim()),
        extractor.layer(), extractor.model_name().c_str(), load_s,
        static_cast<double>(done.samples) / grid::kSampleRate, run_s, args.output.c_str());
  }
  return {1, 0, done, {args.output}, run_s};
}

// What a batch run reads and where it writes; every usage error is found
// here, before the model loads.
struct Batch {
  std::vector<FeatureInput> inputs;
  std::string shard_npy, shard_len;  // set in shard mode
};

Batch plan_batch(const FeaturesArgs& args) {
  if (args.inputs.empty() && args.list.empty() && args.manifest.empty())
    throw UsageError("give the audio: input files, --list FILE or --manifest FILE.tsv");
  if (!args.manifest.empty() && (!args.inputs.empty() || !args.list.empty()))
    throw UsageError("--manifest: cannot go with input files or --list (a manifest names every input)");
  if (args.shards > 0 && args.manifest.empty())
    throw UsageError("--fairseq-shards: needs --manifest (shards cut its lines)");
  if ((args.shards > 0) != (args.rank >= 0)) throw UsageError("--fairseq-shards and --rank go together");
  if (args.shards > 0 && args.rank >= args.shards)
    throw UsageError("--rank: must be below --fairseq-shards (" + std::to_string(args.shards) + "), not " +
                     std::to_string(args.rank));
  if (args.output == "-")
    throw UsageError("-o: several inputs are written into a folder, not to standard output");
  if (fs::exists(args.output) && !fs::is_directory(args.output))
    throw UsageError("-o: " + args.output + " is a file; several inputs are written into a folder");
  Batch b;
  if (!args.manifest.empty()) {
    if (args.shards > 0 && args.manifest == "-")
      throw UsageError(
          "--fairseq-shards: the shards are named after the manifest's file; give its path, not -");
    const InputArg manifest(args.manifest);
    FairseqManifest m =
        read_fairseq_manifest(manifest.path(), args.manifest == "-" ? "<stdin>" : args.manifest);
    b.inputs = std::move(m.lines);
    if (args.shards > 0) {
      const ShardRange r = fairseq_shard_range(static_cast<int64_t>(b.inputs.size()), args.shards, args.rank);
      if (r.begin >= r.end)
        throw file_error(args.manifest, "its " + std::to_string(b.inputs.size()) + " files leave shard " +
                                            std::to_string(args.rank) + " of " + std::to_string(args.shards) +
                                            " empty; use fewer shards");
      b.inputs = std::vector<FeatureInput>(b.inputs.begin() + r.begin, b.inputs.begin() + r.end);
      const std::string stem = (fs::path(args.output) / manifest_split(args.manifest)).string() + "_" +
                               std::to_string(args.rank) + "_" + std::to_string(args.shards);
      b.shard_npy = stem + ".npy";
      b.shard_len = stem + ".len";
    }
    return b;
  }
  std::vector<std::string> paths = args.inputs;
  if (!args.list.empty()) {
    const InputArg list(args.list);
    for (auto& p : read_path_list(list.path(), args.list == "-" ? "<stdin>" : args.list))
      paths.push_back(std::move(p));
  }
  for (const auto& p : paths)
    if (p == "-") throw UsageError("- (standard input) can only be the one input of a run with -o FILE.npy");
  const auto names = npy_names_for(paths);
  for (size_t i = 0; i < paths.size(); ++i) b.inputs.push_back({paths[i], names[i], "", -1, ""});
  return b;
}

// Runs one input of a batch into `out`; InputError when it cannot be read.
Totals run_input(const FeatureInput& in, const WindowOptions& window_options, FeatureExtractor& extractor,
                 const RowSink& out) {
  if (!in.problem.empty()) throw InputError(in.where + ": " + in.problem);
  std::unique_ptr<AudioReader> reader;
  try {
    reader = std::make_unique<AudioReader>(in.path);
  } catch (const Error& e) {
    throw InputError(e.what());
  }
  FeatureWindows windows(window_options);
  common::Progress silent("", 0, false);
  return extract_streaming(extractor, windows, *reader, out, silent);
}

// Many inputs, one model load: a .npy per input under -o DIR, or one shard.
Summary run_batch(const FeaturesArgs& args, const Batch& batch, const WindowOptions& window_options,
                  FeatureExtractor& extractor, double load_s) {
  using clock = std::chrono::steady_clock;
  const auto t1 = clock::now();
  const int64_t dim = extractor.dim();
  std::error_code ec;
  fs::create_directories(args.output, ec);
  if (ec) throw file_error(args.output, "cannot create the output folder: " + ec.message());
  const bool shard = !batch.shard_npy.empty();
  std::unique_ptr<NpyRowWriter> shard_out;
  if (shard) shard_out = std::make_unique<NpyRowWriter>(batch.shard_npy, dim);
  std::string lengths;  // the shard's .len: frames per file, one a line
  Summary summary;
  summary.inputs = static_cast<int64_t>(batch.inputs.size());
  Totals& total = summary.total;
  int64_t& failed = summary.skipped;
  common::Progress progress("features (files)", static_cast<int64_t>(batch.inputs.size()), !args.quiet);
  for (const FeatureInput& in : batch.inputs) {
    try {
      Totals done;
      if (shard) {
        // A file's rows join the shard only once all of it was read: a file
        // that fails half-way leaves no rows behind.
        std::vector<float> rows;
        done = run_input(in, window_options, extractor,
                         [&](const float* r, int64_t n) { rows.insert(rows.end(), r, r + n * dim); });
        shard_out->write(rows.data(), done.frames);
        lengths += std::to_string(done.frames) + "\n";
      } else {
        const std::string path = (fs::path(args.output) / in.name).string();
        fs::create_directories(fs::path(path).parent_path(), ec);
        if (ec)
          throw file_error(fs::path(path).parent_path().string(),
                           "cannot create the folder: " + ec.message());
        NpyRowWriter out(path, dim);
        done = run_input(in, window_options, extractor, [&](const float* r, int64_t n) { out.write(r, n); });
        out.commit();
        summary.outputs.push_back(path);
      }
      // fairseq's reader warns past 160 samples of difference, too.
      if (in.samples >= 0 && std::llabs(in.samples - done.samples) > 160)
        std::fprintf(
            stderr,
            "acoustok: warning: %s: the manifest says %lld samples, the file has %lld at 16 kHz (%s)\n",
            in.path.c_str(), static_cast<long long>(in.samples), static_cast<long long>(done.samples),
            in.where.c_str());
      if (done.frames == 0 && !args.quiet)
        std::fprintf(stderr,
                     "acoustok: %s: %lld samples is shorter than one frame (400 samples, 25 ms): no frames\n",
                     in.path.c_str(), static_cast<long long>(done.samples));
      total.frames += done.frames;
      total.samples += done.samples;
    } catch (const InputError& e) {
      const std::string where =
          in.problem.empty() && !in.where.empty() ? " (" + in.where + ", skipped)" : " (skipped)";
      std::fprintf(stderr, "acoustok: %s%s\n", e.what(), where.c_str());
      ++failed;
    }
    progress.add();
  }
  progress.finish();
  if (shard) {
    shard_out->commit();
    common::write_text_file(batch.shard_len, lengths);
    summary.outputs = {batch.shard_npy, batch.shard_len};
  }
  summary.run_s = std::chrono::duration<double>(clock::now() - t1).count();
  if (!args.quiet) {
    const auto files = static_cast<long long>(batch.inputs.size());
    std::fprintf(stderr,
                 "features: %lld file%s (%lld skipped): %lld frames x %lld (layer %d of %s), load %.2f s, "
                 "audio %.1f s in %.2f s -> %s\n",
                 files, files == 1 ? "" : "s", static_cast<long long>(failed),
                 static_cast<long long>(total.frames), static_cast<long long>(dim), extractor.layer(),
                 extractor.model_name().c_str(), load_s,
                 static_cast<double>(total.samples) / grid::kSampleRate, summary.run_s,
                 shard ? batch.shard_npy.c_str() : args.output.c_str());
  }
  return summary;
}

void print_json(const Summary& s, const FeatureExtractor& extractor, double load_s) {
  const nlohmann::json summary = {{"inputs", s.inputs},
                                  {"done", s.inputs - s.skipped},
                                  {"skipped", s.skipped},
                                  {"frames", s.total.frames},
                                  {"dim", extractor.dim()},
                                  {"model", extractor.model_name()},
                                  {"layer", extractor.layer()},
                                  {"audio_seconds", static_cast<double>(s.total.samples) / grid::kSampleRate},
                                  {"load_seconds", load_s},
                                  {"seconds", s.run_s},
                                  {"outputs", s.outputs}};
  std::printf("%s\n", summary.dump().c_str());
}

void run_features(const FeaturesArgs& args, const Context& ctx) {
  using clock = std::chrono::steady_clock;
  const WindowOptions window_options{to_ns(args.max_window), to_ns(args.context)};
  if (!FeatureWindows::fits(window_options))
    throw UsageError("--context must be less than half of --max-window");
  if (args.json_out && args.output == "-")
    throw UsageError("features: --json needs -o FILE or DIR (standard output carries the features)");
  const bool single = args.inputs.size() == 1 && args.list.empty() && args.manifest.empty() &&
                      args.shards == 0 && args.rank < 0 && !names_a_folder(args.output);
  const Batch batch = single ? Batch{} : plan_batch(args);
  ctx.configure_process(args.threads, true);
  const auto t0 = clock::now();
  auto extractor = FeatureExtractor::load(args.model_dir, args.options);
  const double load_s = std::chrono::duration<double>(clock::now() - t0).count();
  const Summary summary = single ? run_single(args, window_options, *extractor, load_s)
                                 : run_batch(args, batch, window_options, *extractor, load_s);
  if (args.json_out) print_json(summary, *extractor, load_s);
  const int status = summary.skipped > 0 ? 1 : 0;
  // Everything is written: leave without tearing down a gigabyte of weights
  // and LibTorch's static state one piece at a time (0.1 s of a 60 s run);
  // the system frees it all at once.
  std::fflush(nullptr);
  std::_Exit(status);
}

}  // namespace

CLI::Option* add_precision_option(CLI::App* cmd, Precision& precision) {
  return cmd
      ->add_option(
          "--precision", precision,
          "fp32, or bf16: bfloat16 products with float32 accumulation, about 1.6x faster on CPUs with "
          "AVX512_BF16 or AMX (refused elsewhere)")
      ->transform(CLI::CheckedTransformer(
                      std::map<std::string, Precision>{{"fp32", Precision::fp32}, {"bf16", Precision::bf16}})
                      .description(""))  // not the mapping ("value in {bf16->1,fp32->0}") in --help
      ->type_name("{fp32,bf16}")
      ->default_str("fp32");
}

void add_features_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<FeaturesArgs>();
  CLI::App* cmd = app.add_subcommand(
      "features",
      "wav2vec2 / XLSR-53 / HuBERT features of audio files, as float32 NPY [frames, dim]: one file, many "
      "(one model load), or fairseq's feature shards");
  cmd->add_option("--model", args->model_dir,
                  "Feature model: a Hugging Face folder (config.json, model.safetensors or "
                  "pytorch_model.bin) or a fairseq wav2vec2 / HuBERT checkpoint (.pt)")
      ->required();
  cmd->add_option("--layer", args->options.layer, "Transformer layer (1-based output of block L)")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  cmd->add_option(
      "input", args->inputs,
      "Audio files (any rate and channels; converted to 16 kHz mono); - for standard input (one file only)");
  cmd->add_option("--list", args->list,
                  "File naming more audio files, one path a line (relative to the current folder); - for "
                  "standard input")
      ->type_name("FILE");
  cmd->add_option(
         "--manifest", args->manifest,
         "fairseq manifest (.tsv): the root folder on line 1, then relative/path<TAB>num_samples lines; "
         "writes -o DIR/relative/path.npy")
      ->type_name("FILE.tsv");
  cmd->add_option("--fairseq-shards", args->shards,
                  "With --manifest and --rank: cut its lines into N shards as fairseq's "
                  "dump_hubert_feature.py does and "
                  "write shard R as DIR/SPLIT_R_N.npy (all frames) and DIR/SPLIT_R_N.len (frames per file), "
                  "SPLIT being "
                  "the manifest's name without .tsv")
      ->type_name("N")
      ->check(checks::int_at_least(1));
  cmd->add_option("--rank", args->rank, "The shard --fairseq-shards writes, 0 to N-1")
      ->type_name("R")
      ->check(checks::int_at_least(0));
  cmd->add_option(
         "-o,--output", args->output,
         "Output .npy for one input (- for standard output); a folder for several inputs, or for one when it "
         "is "
         "an existing folder or ends in /: one .npy per input, named after its path below the folder the "
         "inputs share (or the manifest's root)")
      ->required();
  add_device_option(cmd, args->options.device);
  add_precision_option(cmd, args->options.precision);
  cmd->add_option(
         "--max-window", args->max_window,
         "Longest audio run through the model at once, seconds; longer input is cut into overlapping windows "
         "as the xlsrfeat element cuts a stream (at most 3600)")
      ->capture_default_str()
      ->check(checks::seconds(1));
  cmd->add_option(
         "--context", args->context,
         "Audio each frame keeps on both sides where the input is cut into windows, seconds; less than half "
         "of --max-window")
      ->capture_default_str()
      ->check(checks::seconds(0));
  cmd->add_option("--threads", args->threads, "Threads (0: every CPU this process may use)")
      ->capture_default_str()
      ->check(checks::threads());
  cmd->add_flag("-q,--quiet", args->quiet, "No progress or summary on stderr");
  cmd->add_flag("--json", args->json_out, "A summary as one JSON object on stdout");
  cmd->callback([args, &ctx]() { run_features(*args, ctx); });
}

}  // namespace acoustok::tools
