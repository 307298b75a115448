// SPDX-License-Identifier: MIT
// acoustok features --model DIR IN -o OUT.npy: one file's wav2vec2 features
// (layer L, float32 [frames, dim]) as NumPy, what np.load reads.
#include "config.h"

#include <chrono>
#include <cmath>
#include <map>
#include <cstdlib>
#include <cstdio>
#include <memory>
#include <string>

#include "acoustok/audio_io.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/error.hpp"
#include "acoustok/feature_windows.hpp"
#include "acoustok/features.hpp"
#include "acoustok/tensor_file.hpp"
#include "commands.hpp"
#include "common/progress.hpp"
#include "option_checks.hpp"
#include "std_streams.hpp"

namespace acoustok::tools {
namespace {

struct FeaturesArgs {
  std::string model_dir, input, output;
  FeatureOptions options;
  double max_window = 30, context = 2;  // seconds, xlsrfeat's defaults
  int threads = 0;
  bool quiet = false;
};

uint64_t to_ns(double seconds) { return static_cast<uint64_t>(std::llround(seconds * 1e9)); }

struct Totals {
  int64_t samples = 0, frames = 0;
};

// The audio read in blocks and run window by window as xlsrfeat runs a stream
// without segment events, its rows written as they come: memory is bounded
// by the window, not the input. An input no longer than one window is run
// whole, as it always was.
Totals extract_streaming(FeatureExtractor& extractor, FeatureWindows& windows, AudioReader& reader, NpyRowWriter& out,
                         common::Progress& progress) {
  const int64_t window = windows.window_samples();
  std::vector<float> held;  // the audio from windows.base() on
  bool more = true;
  int64_t dropped = 0;
  auto run = [&](int64_t count, bool complete) {
    const float* x = windows.gives_frames(count, complete) ? held.data() : nullptr;
    const WindowStep step = windows.run(extractor, x, count, complete);
    if (step.frames > 0) out.write(step.features.data.data() + step.row * step.features.dim, step.frames);
    held.erase(held.begin(), held.begin() + step.drop);
    // In seconds of audio: samples would read as an unlabelled count.
    const int64_t seconds_before = dropped / grid::kSampleRate;
    dropped += step.drop;
    progress.add(dropped / grid::kSampleRate - seconds_before);
  };
  for (;;) {
    // One sample beyond the window tells a window from the whole input.
    while (more && static_cast<int64_t>(held.size()) <= window) more = reader.read(held);
    if (more || static_cast<int64_t>(held.size()) > window) {
      run(window, false);
      continue;
    }
    const bool whole_input = windows.base() == 0 && windows.next_frame() == 0;
    if (!whole_input && static_cast<int64_t>(held.size()) == window) run(window, false);
    run(static_cast<int64_t>(held.size()), true);
    break;
  }
  return {reader.samples_read(), out.rows()};
}

void run_features(const FeaturesArgs& args) {
  using clock = std::chrono::steady_clock;
  const WindowOptions window_options{to_ns(args.max_window), to_ns(args.context)};
  if (!FeatureWindows::fits(window_options)) throw UsageError("--context must be less than half of --max-window");
  FeatureWindows windows(window_options);
  configure_process_for(args.threads, true);
  const auto t0 = clock::now();
  auto extractor = FeatureExtractor::load(args.model_dir, args.options);
  const auto t1 = clock::now();
  Totals done;
  auto t2 = t1;
  {  // "-" files are temporary: gone before the _Exit below
    const InputArg input(args.input);
    AudioReader reader(input.path());
    const AudioFileInfo& info = reader.info();
    // Estimated (compressed formats only announce a length): progress only.
    const auto expected = static_cast<int64_t>(static_cast<double>(info.frames) / info.sample_rate);
    common::Progress progress("features (s of audio)", expected,
                              !args.quiet && expected * grid::kSampleRate > windows.window_samples());
    OutputArg output(args.output, ".npy");
    NpyRowWriter out(output.path(), extractor->dim());
    try {
      done = extract_streaming(*extractor, windows, reader, out, progress);
    } catch (const Error& e) {
      const std::string m = e.what();
      if (m.rfind(input.path() + ": ", 0) == 0) throw;  // the reader names the file already
      throw file_error(args.input, m);
    }
    progress.finish();
    t2 = clock::now();
    out.commit();
    output.finish();
  }
  if (done.frames == 0) {
    std::fprintf(stderr, "acoustok: %s: %lld samples is shorter than one frame (400 samples, 25 ms): wrote an empty [0, %lld] array\n",
                 args.input.c_str(), static_cast<long long>(done.samples), static_cast<long long>(extractor->dim()));
  }
  if (!args.quiet) {
    const double load_s = std::chrono::duration<double>(t1 - t0).count();
    const double run_s = std::chrono::duration<double>(t2 - t1).count();
    std::fprintf(stderr, "features: %s: %lld frames x %lld (layer %d of %s), load %.2f s, audio %.1f s in %.2f s -> %s\n",
                 args.input.c_str(), static_cast<long long>(done.frames), static_cast<long long>(extractor->dim()),
                 extractor->layer(), extractor->model_name().c_str(), load_s,
                 static_cast<double>(done.samples) / grid::kSampleRate, run_s, args.output.c_str());
  }
  // Everything is written: leave without tearing down a gigabyte of weights
  // and LibTorch's static state one piece at a time (0.1 s of a 60 s run);
  // the system frees it all at once.
  std::fflush(nullptr);
  std::_Exit(0);
}

}  // namespace

CLI::Option* add_precision_option(CLI::App* cmd, Precision& precision) {
  return cmd
      ->add_option("--precision", precision,
                   "fp32, or bf16: bfloat16 products with float32 accumulation, about 1.6x faster on CPUs with "
                   "AVX512_BF16 or AMX (refused elsewhere)")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Precision>{{"fp32", Precision::fp32}, {"bf16", Precision::bf16}}))
      ->default_str("fp32");
}

void add_features_command(CLI::App& app) {
  auto args = std::make_shared<FeaturesArgs>();
  CLI::App* cmd = app.add_subcommand("features", "wav2vec2 / XLSR-53 / HuBERT features of one audio file, as float32 NPY [frames, dim]");
  cmd->add_option("--model", args->model_dir, "Hugging Face model folder (config.json, model.safetensors or pytorch_model.bin)")
      ->required();
  cmd->add_option("--layer", args->options.layer, "Transformer layer (1-based output of block L)")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  cmd->add_option("input", args->input, "Audio file (any rate and channels; converted to 16 kHz mono); - for standard input")->required();
  cmd->add_option("-o,--output", args->output, "Output .npy; - for standard output")->required();
  cmd->add_option("--device", args->options.device, "cpu or cuda")->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  add_precision_option(cmd, args->options.precision);
  cmd->add_option("--max-window", args->max_window,
                  "Longest audio run through the model at once, seconds; longer input is cut into overlapping windows "
                  "as the xlsrfeat element cuts a stream (at most 3600)")
      ->capture_default_str()
      ->check(checks::seconds(1));
  cmd->add_option("--context", args->context,
                  "Audio each frame keeps on both sides where the input is cut into windows, seconds; less than half "
                  "of --max-window")
      ->capture_default_str()
      ->check(checks::seconds(0));
  cmd->add_option("--threads", args->threads, "Threads (0: every CPU this process may use)")
      ->capture_default_str()
      ->check(checks::threads());
  cmd->add_flag("-q,--quiet", args->quiet, "No progress or summary on stderr");
  cmd->callback([args]() { run_features(*args); });
}

}  // namespace acoustok::tools
