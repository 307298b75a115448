// SPDX-License-Identifier: MIT
// acoustok: the command line of the offline trainers (see README.md).
// Exit status: 0 success, 2 bad usage, 1 failed run (one line on stderr).
#include "config.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/log.hpp"
#include "acoustok/process.hpp"
#include "commands.hpp"
#include "option_checks.hpp"

namespace acoustok::tools {

int exit_status = 0;

namespace {

bool verbose = false;
bool quiet = false;
#if HAVE_TORCH
constexpr const char* kHaveTorch = "yes";
#else
constexpr const char* kHaveTorch = "no";
#endif
#if defined(HAVE_GSTREAMER) && HAVE_GSTREAMER
constexpr const char* kHaveGst = "yes";
#else
constexpr const char* kHaveGst = "no";
#endif

// -q where a subcommand has no quiet option of its own: warnings and errors only.
void quiet_sink(LogLevel level, const char* message, void*) {
  if (level == LogLevel::error || level == LogLevel::warning) std::fprintf(stderr, "%s\n", message);
}

}  // namespace

#ifndef ACOUSTOK_TOOL_BPE
void configure_process_for(int threads, bool tune_allocator) {
  ProcessOptions options;
  options.threads = threads;
  options.tune_allocator = tune_allocator;
  configure_process(options);
  if (verbose) std::fprintf(stderr, "acoustok: %s\n", process_report().c_str());
}
#endif

// -q/--quiet and -v/--verbose on every subcommand (those with their own keep
// them): -q leaves warnings and errors only, -v says what the process runs
// with (CPUs, threads of LibTorch, OpenMP and oneDNN).
void add_common_flags(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == "bpe" && sub->get_help_ptr() == nullptr) continue;  // forwarded to acoustok-bpe
    const bool parent = !sub->get_subcommands({}).empty();
    if (parent) add_common_flags(*sub);
    if (CLI::Option* out = sub->get_option_no_throw("--output")) out->check(checks::non_empty_path());
    // A parent that runs nothing itself (vocoder, kmeans) leaves the flags to its subcommands.
    if (parent && !sub->get_option_no_throw("--quiet")) continue;
    if (!sub->get_option_no_throw("--quiet"))
      sub->add_flag("-q,--quiet", quiet, "No progress or notes on stderr (warnings and errors remain)");
    if (!sub->get_option_no_throw("--verbose"))
      sub->add_flag("-v,--verbose", verbose, "Say on stderr what the process runs with (CPUs, threads)");
    sub->parse_complete_callback([] {
      static bool announced = false;
      if (quiet) set_log_callback(quiet_sink);
      if (verbose && !announced && (announced = true))
        std::fprintf(stderr, "acoustok %s (LibTorch %s, GStreamer elements %s)\n", ACOUSTOK_VERSION, kHaveTorch, kHaveGst);
    });
  }
}

}  // namespace acoustok::tools

namespace {

#if defined(HAVE_SENTENCEPIECE) && !defined(ACOUSTOK_TOOL_BPE)
// `acoustok bpe ...` becomes `acoustok-bpe bpe ...`, the companion program
// installed beside this one: SentencePiece's private protobuf and LibTorch's
// libprotobuf crash when loaded into one process.
void add_bpe_forwarder(CLI::App& app) {
  CLI::App* bpe = app.add_subcommand("bpe", "Phase 2: BPE motifs over unit sequences (train, encode); see `acoustok bpe --help`");
  bpe->set_help_flag();  // --help goes to the companion
  bpe->prefix_command();
  bpe->allow_extras();
  bpe->callback([bpe]() {
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
    dir = dir.substr(0, dir.find_last_of('/') + 1);
    const std::string companion = dir + "acoustok-bpe";
    std::vector<std::string> args = {"acoustok", "bpe"};
    for (const auto& a : bpe->remaining()) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::fflush(nullptr);
    ::execv(companion.c_str(), argv.data());
    throw acoustok::file_error(companion, std::string("cannot run the bpe companion program: ") + std::strerror(errno));
  });
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"acoustok: speech to discrete units, motifs and back"};
  app.name("acoustok");
  app.set_version_flag("--version", std::string("acoustok ") + ACOUSTOK_VERSION);
  app.require_subcommand(1);
#ifdef ACOUSTOK_TOOL_BPE
  acoustok::tools::add_bpe_command(app);
#else
  acoustok::tools::add_segment_command(app);
  acoustok::tools::add_features_command(app);
  acoustok::tools::add_kmeans_command(app);
  acoustok::tools::add_units_command(app);
#ifdef HAVE_SENTENCEPIECE
  add_bpe_forwarder(app);
#endif
#if HAVE_TORCH
  acoustok::tools::add_vocoder_command(app);
  acoustok::tools::add_synth_command(app);
#endif
  acoustok::tools::add_report_command(app);
#ifdef ACOUSTOK_TOOL_LIVE
  acoustok::tools::add_live_command(app);
#endif
#endif
  acoustok::tools::add_common_flags(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive as "errors" with exit code 0.
    if (e.get_exit_code() == 0) return app.exit(e);
    // An unknown subcommand: say so and list the valid ones.
    std::string names;
    bool known = false;
    std::string help_of;  // "vocoder train": the subcommand whose --help has the options
    for (const CLI::App* sub : app.get_subcommands({})) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
      if (argc > 1 && sub->get_name() == argv[1]) {
        known = true;
        help_of = std::string(" ") + argv[1];
        for (const CLI::App* leaf : sub->get_subcommands({}))
          if (argc > 2 && leaf->get_name() == argv[2]) help_of += std::string(" ") + argv[2];
      }
    }
    if (argc > 1 && argv[1][0] != '-' && !known) {
      std::fprintf(stderr, "acoustok: unknown subcommand '%s': expected one of %s\n", argv[1], names.c_str());
    } else {
      std::fprintf(stderr, "acoustok: %s\nRun 'acoustok%s --help' for the options.\n", e.what(), help_of.c_str());
    }
    return 2;
  } catch (const acoustok::tools::UsageError& e) {
    std::fprintf(stderr, "acoustok: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "acoustok: out of memory\n");
    return 1;
  } catch (const acoustok::Error& e) {
    std::fprintf(stderr, "acoustok: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "acoustok: unexpected error: %s\n", e.what());
    return 1;
  }
  return acoustok::tools::exit_status;
}
