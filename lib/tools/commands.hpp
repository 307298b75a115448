// SPDX-License-Identifier: MIT
// Each subcommand of `acoustok` registers itself on the parent app with the
// program's Context. Its callback throws acoustok::Error for a failed run
// (exit 1) and may set Context::exit_status for partial failures.
#pragma once

#include "config.h"

#include <CLI/CLI.hpp>

#include "acoustok/error.hpp"
#include "acoustok/features.hpp"
#include "acoustok/kmeans.hpp"

namespace acoustok::tools {

// Options that cannot go together or a value out of range: exit 2, like a
// parse error (a failed run is acoustok::Error, exit 1).
struct UsageError : Error {
  using Error::Error;
};

// What main shares with the subcommands it runs: the common flags and the
// exit status. One per program run, alive while the subcommands are.
struct Context {
  bool verbose = false;  // -v: say on stderr what the process runs with
  bool quiet = false;    // -q where a subcommand has no quiet option of its own
  int exit_status = 0;   // 1: a subcommand finished but had failures to report

  // The process settings of the command line (acoustok/process.hpp): LibTorch
  // threads from --threads (0: every CPU this process may use) and, for
  // commands that run a model over long signals (the feature model, vocoder
  // synthesis), the allocator settings that suit them: large activations
  // reuse the heap instead of a fresh mapping (and its page faults) per call.
  void configure_process(int threads, bool tune_allocator) const;
};

// --feature-model, one meaning everywhere: the feature model recorded in the
// outputs (k-means metadata, corpus_timestamped.json), by name; a folder
// (what --model takes) stands for its own name.
constexpr const char* kFeatureModelHelp =
    "Feature model recorded in the outputs: a name, or its folder (recorded by the folder's name)";
std::string feature_model_name(const std::string& name_or_folder);
// A feature model folder whose config.json marks it a random-weight stand-in
// ("acoustok_stand_in", models/make_demo_model.py).
bool feature_model_is_stand_in(const std::string& folder);

// --device of every command that runs a model, one meaning everywhere: auto
// (default: a GPU when LibTorch has CUDA and one is visible, else the CPU),
// cpu, cuda or cuda:N. Sets `device` to "auto" before parsing.
CLI::Option* add_device_option(CLI::App* cmd, std::string& device);

// --precision fp32|bf16 of the feature model (acoustok/features.hpp).
CLI::Option* add_precision_option(CLI::App* cmd, Precision& precision);

// --rng streams|numpy of `kmeans fit` and `units` (acoustok/kmeans.hpp).
CLI::Option* add_kmeans_rng_option(CLI::App* cmd, KMeansRng& rng);

void add_segment_command(CLI::App& app, Context& ctx);
#ifdef HAVE_SENTENCEPIECE
void add_bpe_command(CLI::App& app, Context& ctx);
#endif
void add_kmeans_command(CLI::App& app, Context& ctx);
void add_units_command(CLI::App& app, Context& ctx);
void add_features_command(CLI::App& app, Context& ctx);
#if HAVE_TORCH
void add_vocoder_command(CLI::App& app, Context& ctx);
void add_synth_command(CLI::App& app, Context& ctx);
#endif
void add_report_command(CLI::App& app, Context& ctx);
#ifdef ACOUSTOK_TOOL_LIVE
void add_live_command(CLI::App& app, Context& ctx);
#endif

}  // namespace acoustok::tools
