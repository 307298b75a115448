// SPDX-License-Identifier: MIT
// acoustok bpe UNITS.txt -o DIR: phase 2, BPE motifs over unit lines.
// acoustok bpe encode BPE.model [UNITS.txt]: the motifs of each line.
//
// `bpe` takes a positional corpus and also has the subcommand `encode`; CLI11
// recognises a subcommand name before filling positionals, so the corpus and
// -o are checked in the callback, only when `encode` was not given.
#include "config.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/bpe_train.hpp"
#include "acoustok/error.hpp"
#include "acoustok/process.hpp"
#include "acoustok/motif_model.hpp"
#include "acoustok/unit_text.hpp"
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "option_checks.hpp"
#include "std_streams.hpp"

namespace acoustok::tools {
namespace {

struct BpeArgs {
  bool json_out = false;
  std::string corpus;
  std::string out_dir;
  BpeTrainOptions train;
};

struct EncodeArgs {
  std::string model;
  std::string input;  // empty or "-": stdin
  int jobs = 0;
};

void run_bpe(const BpeArgs& args) {
  const InputArg corpus(args.corpus);
  const BpeTrainResult r = train_bpe(corpus.path(), args.out_dir, args.train);
  if (!args.train.quiet) {
    std::fprintf(stderr,
                 "bpe: %d pieces over %lld lines (%lld frames, %lld units) in %.1f s -> %s; "
                 "%.2f units per token, %.1f%% of frames inside multi-unit motifs\n",
                 r.vocab_used, static_cast<long long>(r.lines), static_cast<long long>(r.frames),
                 static_cast<long long>(r.units), r.seconds, args.out_dir.c_str(), r.units_per_token,
                 100.0 * r.coverage);
  }
  if (args.json_out) {
    const nlohmann::json summary = {{"pieces", r.vocab_used}, {"lines", r.lines},
                                    {"frames", r.frames},     {"units", r.units},
                                    {"seconds", r.seconds},   {"units_per_token", r.units_per_token},
                                    {"coverage", r.coverage}, {"output", args.out_dir}};
    std::printf("%s\n", summary.dump().c_str());
  }
}

void run_encode(const EncodeArgs& args) {
  const MotifModel model(args.model);
  const bool from_stdin = args.input.empty() || args.input == "-";
  const std::string name = from_stdin ? "<stdin>" : args.input;
  std::ifstream file;
  if (!from_stdin) {
    file.open(args.input, std::ios::binary);
    if (!file) throw file_error(args.input, "cannot open");
  }
  std::istream& in = from_stdin ? std::cin : file;
  std::ios::sync_with_stdio(false);
  // Lines are parsed in order (errors name the first bad line), encoded in
  // parallel a batch at a time, and written in order. A line is read at most
  // kPartUnits units at a time: a longer one (5.8 hours of frames) is encoded
  // and written part by part, so memory stays bounded whatever the line's
  // length. Parts are a multiple of the SentencePiece-sized pieces every
  // line is cut into anyway, so the output is the same as whole.
  constexpr size_t kBatch = 512;
  constexpr size_t kPartUnits = 64 * kMaxSentenceUnits;  // 1048576
  std::vector<std::vector<int>> batch;
  std::string part, out;
  int64_t line_no = 0;
  auto write_encoded = [&](const std::vector<std::vector<int>>& lines, const char* end,
                           const char* begin = "") {
    for (const Encoding& e : model.encode_lines(lines, args.jobs)) {
      out = begin;
      out += e.text();
      out += end;
      if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) throw Error("<stdout>: write failed");
    }
  };
  auto flush = [&] {
    write_encoded(batch, "\n");
    batch.clear();
  };
  std::streambuf* sb = in.rdbuf();
  bool eof = false;
  bool continued = false;  // parts of this line were written already
  bool warned_unknown_unit = false;
  while (!eof) {
    // One part: up to a newline, or kPartUnits units cut at a separator.
    part.clear();
    size_t tokens = 0;
    bool in_token = false, line_done = false;
    for (int c; !line_done;) {
      c = sb->sbumpc();
      if (c == std::char_traits<char>::eof()) {
        eof = true;
        break;
      }
      if (c == '\n') {
        line_done = true;
        break;
      }
      const bool sep = c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
      if (sep && in_token && ++tokens == kPartUnits) break;
      in_token = !sep;
      part.push_back(static_cast<char>(c));
      if (part.size() > 16 * kPartUnits)
        throw file_error(name,
                         "line " + std::to_string(line_no + 1) + " has a token longer than any unit id");
    }
    if (eof && part.empty() && !continued) break;
    if (!continued) ++line_no;
    std::vector<int> units;
    parse_unit_line(part, &units, name, line_no);
    // Once per file: a unit the model never saw (an id of another k-means
    // model?) would come out as an unknown piece that looks like a motif.
    if (!warned_unknown_unit) {
      for (int u : units) {
        if (model.knows_unit(u)) continue;
        warned_unknown_unit = true;
        std::fprintf(
            stderr,
            "acoustok: %s: line %lld: unit %d is not one of %s's units (it knows ids up to %d): it is "
            "encoded as an unknown piece; were these units made with another k-means model?\n",
            printable(name).c_str(), static_cast<long long>(line_no), u, printable(model.name()).c_str(),
            model.largest_known_unit());
        break;
      }
    }
    if (line_done || eof) {
      if (continued)
        write_encoded({units}, "\n", units.empty() ? "" : " ");
      else
        batch.push_back(std::move(units));
      continued = false;
      if (batch.size() == kBatch) flush();
    } else {  // the line goes on: write what it has so far, in order
      flush();
      write_encoded({units}, "", continued ? " " : "");
      continued = true;
    }
  }
  if (in.bad()) throw file_error(name, "read error");
  flush();
  if (std::fflush(stdout) != 0) throw Error("<stdout>: write failed");
}

}  // namespace

void add_bpe_command(CLI::App& app, Context&) {
  auto args = std::make_shared<BpeArgs>();
  auto enc = std::make_shared<EncodeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bpe", "Phase 2: train a SentencePiece BPE model over unit lines (motifs), with a motif analysis");
  cmd->footer(
      "Usage: acoustok bpe UNITS.txt -o DIR [OPTIONS]\n       acoustok bpe encode BPE.model [UNITS.txt]");
  cmd->add_option("units", args->corpus,
                  "Unit lines: space-separated ids 0..35327, one segment per line; - for standard input");
  cmd->add_option("-o,--output", args->out_dir, "Output folder: bpe.model, bpe.vocab, motif_analysis.json");
  cmd->add_option("--vocab-size", args->train.vocab_size,
                  "Pieces in the model; lowered (with a note) when the corpus cannot support it")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  cmd->add_flag("--dedup", args->train.dedup,
                "Collapse repeated units (5 5 7 -> 5 7) before training; the model remembers it and "
                "encoding does the same, durations still count every frame");
  cmd->add_option("--max-motif-length", args->train.max_motif_length, "Longest motif, in units (1..512)")
      ->capture_default_str()
      ->check(checks::int_between(1, 512));
  cmd->add_option("--sample-lines", args->train.sample_lines,
                  "Train on a random sample of this many lines (0: all, else > 100); the analysis still "
                  "reads every line")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            long long n = -1;
            if (!CLI::detail::lexical_cast(v, n)) return "must be an integer";
            return n == 0 || n > 100 ? "" : "must be 0 (every line) or more than 100";
          },
          "0 or >100"));
  cmd->add_option("--seed", args->train.seed, "Seed of the line sample")->capture_default_str();
  cmd->add_option("--top", args->train.top, "Motifs listed in motif_analysis.json")
      ->capture_default_str()
      ->check(checks::int_at_least(0));
  // --threads as everywhere else; -j/--jobs means parallel inputs elsewhere.
  cmd->add_option("--threads", args->train.threads,
                  "Threads of SentencePiece and of the analysis (0: every core)")
      ->capture_default_str()
      ->check(checks::threads());
  cmd->add_flag("-q,--quiet", args->train.quiet, "No progress or summary on stderr");
  cmd->add_flag("--json", args->json_out, "A summary as one JSON object on stdout");
  // Its own flag: -v says what the process runs with, as in every subcommand.
  cmd->add_flag("--sentencepiece-log", args->train.verbose, "SentencePiece's own training log on stderr");

  CLI::App* encode = cmd->add_subcommand(
      "encode", "Write the motifs of each unit line (ids joined by '-', space separated)");
  encode->add_option("model", enc->model, "BPE model (bpe.model from `acoustok bpe`)")->required();
  encode->add_option("units", enc->input, "Unit lines (default or '-': standard input)");
  encode->add_option("--threads", enc->jobs, "Encoding threads (0: every core)")
      ->capture_default_str()
      ->check(checks::threads());
  encode->callback([enc]() {
    enc->jobs = usable_threads(enc->jobs);
    run_encode(*enc);
  });

  cmd->callback([cmd, args]() {
    if (cmd->got_subcommand("encode")) return;
    if (args->corpus.empty()) throw CLI::RequiredError("UNITS.txt (the unit corpus)");
    if (args->out_dir.empty()) throw CLI::RequiredError("-o,--output");
    args->train.threads = usable_threads(args->train.threads);
    run_bpe(*args);
  });
}

}  // namespace acoustok::tools
