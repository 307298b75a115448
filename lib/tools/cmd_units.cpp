// SPDX-License-Identifier: MIT
// acoustok units: phase 1, resumable (see acoustok/units_pipeline.hpp).
#include "config.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "acoustok/process.hpp"
#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/features.hpp"
#include "acoustok/tensor_file.hpp"
#include "acoustok/units_job.hpp"
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "option_checks.hpp"

namespace fs = std::filesystem;

namespace acoustok::tools {
namespace {

struct UnitsArgs {
  bool json_out = false;
  UnitsJobOptions job;
  std::string model_dir;
  std::string features_dir;
  std::string shard;
  std::string device = "auto";
  Precision precision = Precision::fp32;
};

// Features precomputed elsewhere: DIR/<segment stem>.npy, float32 [frames, dim].
Features npy_features(const std::string& dir, const std::string& wav_path) {
  const std::string path = (fs::path(dir) / fs::path(wav_path).stem()).string() + ".npy";
  NpyArray a = read_npy(path);
  if (a.shape.size() != 2) throw file_error(path, "features must be a 2-D [frames, dim] array");
  Features f;
  f.frames = a.shape[0];
  f.dim = a.shape[1];
  f.data = std::move(a.values);
  return f;
}

void run_units(UnitsArgs args, Context& ctx) {
  if (!args.shard.empty()) {
    int i = -1, n = 0;
    char tail = 0;
    if (std::sscanf(args.shard.c_str(), "%d/%d%c", &i, &n, &tail) != 2 || n < 1 || i < 0 || i >= n)
      throw UsageError("--shard must be I/N with 0 <= I < N, not '" + args.shard + "'");
    args.job.shard_index = i;
    args.job.shard_count = n;
  }
  if (args.model_dir.empty() == args.features_dir.empty())
    throw UsageError("give either --model MODEL_DIR (compute features) or --features DIR (precomputed .npy)");

  args.job.feature_model_stand_in =
      feature_model_is_stand_in(args.model_dir) || feature_model_is_stand_in(args.job.feature_model);
  args.job.feature_model = feature_model_name(args.job.feature_model);
  SegmentFeatureFn fn;
  std::unique_ptr<FeatureExtractor> extractor;
  if (!args.model_dir.empty()) {
    FeatureOptions fo;
    fo.layer = args.job.layer;
    fo.device = args.device;
    fo.precision = args.precision;
    args.job.precision = args.precision == Precision::bf16 ? "bf16" : "fp32";
    ctx.configure_process(0, true);
    extractor = FeatureExtractor::load(args.model_dir, fo);
    if (args.job.feature_model.empty()) args.job.feature_model = extractor->model_name();
    FeatureExtractor* ex = extractor.get();
    fn = [ex](const std::string& wav) {
      const std::vector<float> audio = read_audio_16k_mono(wav);
      return ex->extract(audio.data(), audio.size());
    };
  } else {
    if (args.job.feature_model.empty()) args.job.feature_model = "precomputed";
    const std::string dir = args.features_dir;
    fn = [dir](const std::string& wav) { return npy_features(dir, wav); };
  }
  args.job.kmeans.threads = usable_threads(args.job.kmeans.threads);
  const UnitsJobResult r = run_units_job(args.job, fn);
  if (!args.job.quiet) {
    if (r.complete) {
      std::fprintf(stderr, "units: %lld segments, %lld frames, inertia %.6e, %lld skipped -> %s\n",
                   static_cast<long long>(r.segments), static_cast<long long>(r.frames), r.inertia,
                   static_cast<long long>(r.skipped), args.job.out_dir.c_str());
    } else {
      std::fprintf(
          stderr,
          "units: shard %s: features of %lld segments cached; run without --shard to fit and predict\n",
          args.shard.c_str(), static_cast<long long>(r.segments));
    }
  }
  if (args.json_out) {
    const nlohmann::json summary = {
        {"complete", r.complete},
        {"shard", args.shard},
        {"segments", r.segments},
        {"frames", r.frames},
        {"inertia", r.complete ? nlohmann::json(r.inertia) : nlohmann::json(nullptr)},
        {"skipped", r.skipped},
        {"output", args.job.out_dir}};
    std::printf("%s\n", summary.dump().c_str());
  }
  if (r.skipped > 0) ctx.exit_status = 1;
}

}  // namespace

void add_units_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<UnitsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "units", "Phase 1: features of every segment, mini-batch k-means, units with timestamps (resumable)");
  cmd->add_option("segments", args->job.segments_dir,
                  "Folder of segment WAVs (and segments.jsonl) from acoustok segment")
      ->required();
  cmd->add_option(
         "-o,--output", args->job.out_dir,
         "Output folder: kmeans.safetensors, corpus_timestamped.json, all_units_for_bpe.txt, checkpoint")
      ->required();
  cmd->add_option(
      "--model", args->model_dir,
      "Feature model: a Hugging Face wav2vec2 / XLSR-53 / HuBERT folder or a fairseq checkpoint (.pt)");
  cmd->add_option("--features", args->features_dir,
                  "Instead of --model: precomputed features, DIR/<segment stem>.npy float32 [frames, dim]");
  cmd->add_option(
      "--feature-model", args->job.feature_model,
      std::string(kFeatureModelHelp) + " (default: the --model folder's name; with --features: precomputed)");
  cmd->add_option("--layer", args->job.layer, "Transformer layer (1-based)")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  add_device_option(cmd, args->device);
  add_precision_option(cmd, args->precision);
  CLI::Option* k = cmd->add_option("--k", args->job.kmeans.k, "Number of units")
                       ->capture_default_str()
                       ->check(checks::int_between(1, 65535));
  cmd->add_option(
         "--kmeans", args->job.kmeans_model,
         "Apply this fitted k-means model instead of fitting one: kmeans.safetensors, .npy centroids "
         "or fairseq's km.bin (joblib)")
      ->excludes(k);
  cmd->add_option("--batch-size", args->job.kmeans.batch_size, "k-means mini-batch rows")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  cmd->add_option("--max-iter", args->job.kmeans.max_iter, "Most k-means passes over the frames")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  cmd->add_option("--max-no-improvement", args->job.kmeans.max_no_improvement,
                  "Stop k-means after this many steps without a better smoothed inertia (0: never)")
      ->capture_default_str()
      ->check(checks::int_at_least(0));
  cmd->add_option("--n-init", args->job.kmeans.n_init, "k-means++ initialisations")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  cmd->add_option("--seed", args->job.kmeans.seed, "Random seed (same seed, same result)")
      ->capture_default_str();
  add_kmeans_rng_option(cmd, args->job.kmeans.rng);
  args->job.kmeans.threads = 0;  // every usable CPU, as --threads is everywhere
  cmd->add_option("--threads", args->job.kmeans.threads,
                  "k-means threads (results do not depend on it; 0: every CPU)")
      ->capture_default_str()
      ->check(checks::threads());
  cmd->add_option("--checkpoint-every", args->job.checkpoint_every, "Seconds between checkpoints")
      ->capture_default_str()
      ->check(checks::number_at_least(0, "seconds"));
  cmd->add_option(
      "--shard", args->shard,
      "I/N: only cache the features of every N-th segment from the I-th (0-based); a final run without "
      "--shard on the same -o folder uses them");
  cmd->add_flag(
      "--dedup", args->job.dedup,
      "Reduced units: collapse each segment's runs of a repeated unit (5 5 7 -> 5 7) in the outputs, "
      "with every run's length in frames (corpus_timestamped.json: durations)");
  cmd->add_flag("--restart", args->job.restart,
                "Start over: remove the checkpoint, caches and outputs an earlier run left in the -o folder "
                "(without it a rerun resumes)");
  cmd->add_flag("-q,--quiet", args->job.quiet, "No progress or summary on stderr");
  cmd->add_flag("--json", args->json_out, "A summary as one JSON object on stdout");
  cmd->callback([args, &ctx]() { run_units(*args, ctx); });
}

}  // namespace acoustok::tools
