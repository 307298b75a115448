// SPDX-License-Identifier: MIT
// acoustok: the command line of the offline trainers (see README.md).
// Exit status: 0 success, 2 bad usage, 1 failed run (one line on stderr).
#include "config.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "acoustok/error.hpp"
#include "acoustok/log.hpp"
#include "acoustok/process.hpp"
#include "commands.hpp"
#include "openmp_wait_policy.hpp"
#include "common/cpu_isa.hpp"
#include "option_checks.hpp"

namespace acoustok::tools {

namespace {

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

// --help without the parser's internals: a value's kind (INT, FLOAT, TEXT) or
// its choices ({cpu,cuda}), never a validator's range code or a transformer's
// mapping; the default in words at the end of the description, where a man
// page and a reader look for it ("all usable CPUs", not the build machine's
// count); flags without CLI11's {false} marks.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* opt, bool positional) const override {
    std::string name = CLI::Formatter::make_option_name(opt, positional);
    for (size_t open; (open = name.find('{')) != std::string::npos;) {
      const size_t close = name.find('}', open);
      if (close == std::string::npos) break;
      name.erase(open, close - open + 1);
    }
    return name;
  }
  std::string make_option_opts(const CLI::Option* opt) const override {
    if (!opt->get_option_text().empty()) return " " + opt->get_option_text();
    std::string out;
    if (opt->get_type_size() != 0 && !opt->get_type_name().empty()) {  // not a flag
      if (opt->get_positional()) {
        if (opt->get_expected_max() > 1) out += " ...";
      } else {
        out += " " + value_name(opt->get_type_name());
      }
      if (opt->get_required()) out += " (required)";
    }
    return out;
  }
  std::string make_option_desc(const CLI::Option* opt) const override {
    std::string desc = opt->get_description();
    const std::string def = default_words(opt);
    if (!def.empty()) desc += " (default: " + def + ")";
    return desc;
  }

  // "INT:POSITIVE" -> INT; "TEXT:{cpu,cuda}" -> {cpu,cuda}; "UINT" -> INT.
  static std::string value_name(const std::string& type) {
    const size_t choices = type.find(":{");
    if (choices != std::string::npos) return type.substr(choices + 1, type.find('}', choices) - choices);
    std::string base = type.substr(0, type.find(':'));
    if (base == "UINT") base = "INT";
    return base.empty() ? "VALUE" : base;
  }
  static std::string default_words(const CLI::Option* opt) {
    const std::string def = opt->get_default_str();
    if (def.empty() || opt->get_type_size() == 0 ||
        opt->get_description().find("(default") != std::string::npos)
      return "";
    if (opt->check_lname("threads") && def == "0") return "all usable CPUs";
    return def;
  }
};

}  // namespace

#ifndef ACOUSTOK_TOOL_BPE
void Context::configure_process(int threads, bool tune_allocator) const {
  ProcessOptions options;
  options.threads = threads;
  options.tune_allocator = tune_allocator;
  acoustok::configure_process(options);
  if (verbose) std::fprintf(stderr, "acoustok: %s\n", process_report().c_str());
}

std::string feature_model_name(const std::string& name_or_folder) {
  std::error_code ec;
  if (name_or_folder.empty() || !std::filesystem::is_directory(name_or_folder, ec)) return name_or_folder;
  std::filesystem::path dir(name_or_folder);
  if (dir.filename().empty()) dir = dir.parent_path();  // "models/xlsr53/"
  return dir.filename().string();
}

bool feature_model_is_stand_in(const std::string& folder) {
  std::error_code ec;
  const std::filesystem::path config = std::filesystem::path(folder) / "config.json";
  if (folder.empty() || !std::filesystem::is_regular_file(config, ec)) return false;
  std::ifstream in(config);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("acoustok_stand_in");
}

CLI::Option* add_device_option(CLI::App* cmd, std::string& device) {
  // auto, so a GPU a user has is used (hours of training, a corpus of
  // features) and a machine without one, or a LibTorch without CUDA (Debian's),
  // runs on the CPU instead of failing; --device cpu for results that do not
  // depend on the machine.
  device = "auto";
  return cmd
      ->add_option(
          "--device", device,
          "Where the model runs: auto (a GPU when LibTorch has CUDA and one is visible, else the CPU), cpu, "
          "cuda or cuda:N")
      ->type_name("DEVICE")
      ->capture_default_str()
      ->check(checks::device());
}
#endif

// -q/--quiet and -v/--verbose on every subcommand (those with their own keep
// them): -q leaves warnings and errors only, -v says what the process runs
// with (CPUs, threads of LibTorch, OpenMP and oneDNN).
void add_common_flags(CLI::App& app, Context& ctx) {
  for (CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == "bpe" && sub->get_help_ptr() == nullptr) continue;  // forwarded to acoustok-bpe
    const bool parent = !sub->get_subcommands({}).empty();
    if (parent) add_common_flags(*sub, ctx);
    if (CLI::Option* out = sub->get_option_no_throw("--output")) out->check(checks::non_empty_path());
    sub->set_version_flag("-V,--version", std::string("acoustok ") + ACOUSTOK_VERSION);
    // A parent that runs nothing itself (vocoder, kmeans) leaves the other flags to its subcommands.
    if (parent && !sub->get_option_no_throw("--quiet")) continue;
    if (!sub->get_option_no_throw("--quiet"))
      sub->add_flag("-q,--quiet", ctx.quiet, "No progress or notes on stderr (warnings and errors remain)");
    if (!sub->get_option_no_throw("--verbose"))
      sub->add_flag("-v,--verbose", ctx.verbose, "Say on stderr what the process runs with (CPUs, threads)");
    sub->parse_complete_callback([&ctx] {
      static bool announced = false;
      common::cpu_isa();  // a bad ACOUSTOK_MAX_CPU_ISA is refused before any work
      if (ctx.quiet) set_log_callback(quiet_sink);
      if (ctx.verbose && !announced && (announced = true))
        std::fprintf(stderr, "acoustok %s (LibTorch %s, GStreamer elements %s)\n", ACOUSTOK_VERSION,
                     kHaveTorch, kHaveGst);
    });
  }
}

}  // namespace acoustok::tools

namespace {

#if defined(HAVE_SENTENCEPIECE) && !defined(ACOUSTOK_TOOL_BPE)
// `acoustok bpe ...` becomes `acoustok-bpe bpe ...`, the companion program
// installed beside this one, so that this program never loads SentencePiece.
void add_bpe_forwarder(CLI::App& app) {
  CLI::App* bpe = app.add_subcommand(
      "bpe", "Phase 2: BPE motifs over unit sequences (train, encode); see `acoustok bpe --help`");
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
    throw acoustok::file_error(companion,
                               std::string("cannot run the bpe companion program: ") + std::strerror(errno));
  });
}
#endif

}  // namespace

int main(int argc, char** argv) {
  acoustok::tools::use_passive_openmp_wait(argv);
  CLI::App app{"acoustok: speech to discrete units, motifs and back"};
  app.name("acoustok");
  app.formatter(
      std::make_shared<acoustok::tools::HelpFormatter>());  // inherited by every subcommand added below
  app.set_version_flag("-V,--version", std::string("acoustok ") + ACOUSTOK_VERSION);
  app.require_subcommand(1);
  acoustok::tools::Context ctx;  // outlives every subcommand's callback
#ifdef ACOUSTOK_TOOL_BPE
  acoustok::tools::add_bpe_command(app, ctx);
#else
  acoustok::tools::add_segment_command(app, ctx);
  acoustok::tools::add_features_command(app, ctx);
  acoustok::tools::add_kmeans_command(app, ctx);
  acoustok::tools::add_units_command(app, ctx);
#ifdef HAVE_SENTENCEPIECE
  add_bpe_forwarder(app);
#endif
#if HAVE_TORCH
  acoustok::tools::add_vocoder_command(app, ctx);
  acoustok::tools::add_synth_command(app, ctx);
#endif
  acoustok::tools::add_report_command(app, ctx);
#ifdef ACOUSTOK_TOOL_LIVE
  acoustok::tools::add_live_command(app, ctx);
#endif
#endif
  acoustok::tools::add_common_flags(app, ctx);

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
      std::fprintf(stderr, "acoustok: %s\nRun 'acoustok%s --help' for the options.\n", e.what(),
                   help_of.c_str());
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
  return ctx.exit_status;
}
