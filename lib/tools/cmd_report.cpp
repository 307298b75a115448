// SPDX-License-Identifier: MIT
// acoustok report DIR... -o report.html: the options, and the page written
// by the report library (lib/report/report.hpp) to a file or stdout.
#include "config.h"

#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common/fs_util.hpp"
#include "option_checks.hpp"
#include "report/report.hpp"
#include "std_streams.hpp"

namespace acoustok::tools {
namespace {

struct ReportArgs {
  std::vector<std::string> dirs;
  std::string output;
  report::Options options;
  bool quiet = false;
  bool json_out = false;
};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

void print_summary(const ReportArgs& args, const report::Page& page) {
  const report::Counters& n = page.counters;
  if (args.json_out) {
    const nlohmann::json summary = {{"sections", page.sections}, {"phases", page.phases},
                                    {"folders", page.folders},   {"charts", n.charts},
                                    {"audio_clips", n.clips},    {"output", args.output},
                                    {"bytes", page.html.size()}};
    std::printf("%s\n", summary.dump().c_str());
  }
  if (!args.quiet) {
    std::string list;
    for (int p : page.phases) list += (list.empty() ? "" : ", ") + std::to_string(p);
    std::fprintf(
        stderr,
        "report: %zu section(s) (phase%s %s) from %zu folder(s), %d charts, %d audio clips -> %s (%.1f MB)\n",
        page.sections, page.phases.size() > 1 ? "s" : "", list.c_str(), page.folders, n.charts, n.clips,
        args.output.c_str(), static_cast<double>(page.html.size()) / 1e6);
  }
}

void run_report(ReportArgs& args, Context& ctx) {
  report::Options& opt = args.options;
  if (opt.samples < 0) throw UsageError("report: --samples must be 0 or more");
  if (!(opt.audio_seconds >= 0) || opt.audio_seconds > 3600)
    throw UsageError("report: --audio-seconds must be from 0 to 3600");
  opt.generated = utc_now();
  opt.skipped = [](const std::string& what) {
    std::fprintf(stderr, "acoustok: %s (skipped)\n", what.c_str());
  };
  const report::Page page = report::build_page(args.dirs, opt);
  OutputArg output(args.output, ".html");
  common::write_text_file(output.path(), page.html);
  output.finish();
  if (page.counters.skipped_audio) ctx.exit_status = 1;
  print_summary(args, page);
}

}  // namespace

void add_report_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report", "One self-contained HTML page of charts from the outputs of phases 0 to 3");
  cmd->add_option("dirs", args->dirs,
                  "Folders written by segment, units, bpe, vocoder train or vocoder test (a folder holding "
                  "none of their files: its "
                  "sub-folders)")
      ->required();
  cmd->add_option("-o,--output", args->output, "The HTML file to write; - for standard output")->required();
  cmd->add_option("--samples", args->options.samples,
                  "Vocoder test samples shown with spectrograms and players (the table lists all)")
      ->capture_default_str()
      ->check(checks::int_at_least(0));
  cmd->add_option("--audio-seconds", args->options.audio_seconds,
                  "Seconds of each WAV embedded in a player (0: no players)")
      ->capture_default_str()
      ->check(checks::seconds(0));
  cmd->add_flag("-q,--quiet", args->quiet, "No summary on stderr");
  cmd->add_flag("--json", args->json_out, "A summary as one JSON object on stdout");
  cmd->callback([args, &ctx]() {
    if (args->json_out && args->output == "-")
      throw UsageError("report: --json needs -o FILE (standard output carries the page)");
    run_report(*args, ctx);
  });
}

}  // namespace acoustok::tools
