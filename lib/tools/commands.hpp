// Each subcommand of `acoustok` registers itself on the parent app. Its
// callback throws acoustok::Error for a failed run (exit 1) and may return a
// non-zero status through `exit_status` for partial failures.
#pragma once

#include <CLI/CLI.hpp>

namespace acoustok::tools {

// Set by a subcommand that finished but had failures to report (exit 1).
extern int exit_status;

void add_segment_command(CLI::App& app);
#ifdef ACOUSTOK_HAVE_SENTENCEPIECE
void add_bpe_command(CLI::App& app);
#endif
void add_kmeans_command(CLI::App& app);
void add_units_command(CLI::App& app);
void add_features_command(CLI::App& app);
#if ACOUSTOK_HAVE_TORCH
void add_vocoder_command(CLI::App& app);
void add_synth_command(CLI::App& app);
#endif

}  // namespace acoustok::tools
