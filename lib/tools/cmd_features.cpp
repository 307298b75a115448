// SPDX-License-Identifier: MIT
// acoustok features --model DIR IN -o OUT.npy: one file's wav2vec2 features
// (layer L, float32 [frames, dim]) as NumPy, what np.load reads.
#include "config.h"

#include <chrono>
#include <map>
#include <cstdlib>
#include <cstdio>
#include <memory>
#include <string>

#include "acoustok/audio_io.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/error.hpp"
#include "acoustok/features.hpp"
#include "acoustok/tensor_file.hpp"
#include "commands.hpp"
#include "std_streams.hpp"

namespace acoustok::tools {
namespace {

struct FeaturesArgs {
  std::string model_dir, input, output;
  FeatureOptions options;
  int threads = 0;
  bool quiet = false;
};

void run_features(const FeaturesArgs& args) {
  using clock = std::chrono::steady_clock;
  configure_process_for(args.threads, true);
  const auto t0 = clock::now();
  auto extractor = FeatureExtractor::load(args.model_dir, args.options);
  const auto t1 = clock::now();
  std::vector<float> audio;
  Features f;
  auto t2 = t1;
  {  // "-" files are temporary: gone before the _Exit below
    const InputArg input(args.input);
    audio = read_audio_16k_mono(input.path());
    try {
      f = extractor->extract(audio.data(), audio.size());
    } catch (const Error& e) {
      throw file_error(args.input, e.what());
    }
    t2 = clock::now();
    OutputArg output(args.output, ".npy");
    write_npy(output.path(), f.data.data(), {f.frames, f.dim});
    output.finish();
  }
  if (f.frames == 0) {
    std::fprintf(stderr, "acoustok: %s: %zu samples is shorter than one frame (400 samples, 25 ms): wrote an empty [0, %lld] array\n",
                 args.input.c_str(), audio.size(), static_cast<long long>(f.dim));
  }
  if (!args.quiet) {
    const double load_s = std::chrono::duration<double>(t1 - t0).count();
    const double run_s = std::chrono::duration<double>(t2 - t1).count();
    std::fprintf(stderr, "features: %s: %lld frames x %lld (layer %d of %s), load %.2f s, audio %.1f s in %.2f s -> %s\n",
                 args.input.c_str(), static_cast<long long>(f.frames), static_cast<long long>(f.dim), extractor->layer(),
                 extractor->model_name().c_str(), load_s, static_cast<double>(audio.size()) / grid::kSampleRate, run_s,
                 args.output.c_str());
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
  cmd->add_option("--layer", args->options.layer, "Transformer layer (1-based output of block L)")->capture_default_str();
  cmd->add_option("input", args->input, "Audio file (any rate and channels; converted to 16 kHz mono); - for standard input")->required();
  cmd->add_option("-o,--output", args->output, "Output .npy; - for standard output")->required();
  cmd->add_option("--device", args->options.device, "cpu or cuda")->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  add_precision_option(cmd, args->options.precision);
  cmd->add_option("--threads", args->threads, "Threads (0: every CPU this process may use)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("-q,--quiet", args->quiet, "No summary on stderr");
  cmd->callback([args]() { run_features(*args); });
}

}  // namespace acoustok::tools
