// SPDX-License-Identifier: MIT
// Each subcommand of `acoustok` registers itself on the parent app. Its
// callback throws acoustok::Error for a failed run (exit 1) and may return a
// non-zero status through `exit_status` for partial failures.
#pragma once

#include "config.h"

#include <CLI/CLI.hpp>

#include "acoustok/error.hpp"
#include "acoustok/features.hpp"

namespace acoustok::tools {

// Options that cannot go together or a value out of range: exit 2, like a
// parse error (a failed run is acoustok::Error, exit 1).
struct UsageError : Error {
  using Error::Error;
};

// Set by a subcommand that finished but had failures to report (exit 1).
extern int exit_status;

// The process settings of the command line (acoustok/process.hpp): LibTorch
// threads from --threads (0: every CPU this process may use) and, for commands that
// run a model over long signals (the feature model, vocoder synthesis), the
// allocator settings measured for them: large activations reuse the heap
// instead of a fresh mapping (and its page faults) per call.
void configure_process_for(int threads, bool tune_allocator);

// --precision fp32|bf16 of the feature model (acoustok/features.hpp).
CLI::Option* add_precision_option(CLI::App* cmd, Precision& precision);

void add_segment_command(CLI::App& app);
#ifdef HAVE_SENTENCEPIECE
void add_bpe_command(CLI::App& app);
#endif
void add_kmeans_command(CLI::App& app);
void add_units_command(CLI::App& app);
void add_features_command(CLI::App& app);
#if HAVE_TORCH
void add_vocoder_command(CLI::App& app);
void add_synth_command(CLI::App& app);
#endif
void add_report_command(CLI::App& app);
#ifdef ACOUSTOK_TOOL_LIVE
void add_live_command(CLI::App& app);
#endif

}  // namespace acoustok::tools
