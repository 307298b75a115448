// SPDX-License-Identifier: MIT
// acoustok kmeans fit / predict: k-means alone, on feature .npy files.
#include "config.h"

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "acoustok/process.hpp"
#include "acoustok/error.hpp"
#include "common/fs_util.hpp"
#include "acoustok/kmeans.hpp"
#include "acoustok/tensor_file.hpp"
#include "commands.hpp"
#include "option_checks.hpp"
#include "std_streams.hpp"

namespace acoustok::tools {
namespace {

struct FitArgs {
  std::vector<std::string> inputs;
  std::string output;
  KMeansOptions km;
  std::string feature_model;
  int layer = 0;
  bool quiet = false;
  bool json_out = false;
};

struct PredictArgs {
  std::string model, input, output;
  int threads = 0;
};

// [frames, dim] features of one .npy, checked.
NpyArray read_features(const std::string& path) {
  NpyArray a = read_npy(path);
  if (a.shape.size() != 2 || a.shape[1] < 1)
    throw file_error(path, "features must be a 2-D [frames, dim] array");
  check_finite(a.values.data(), a.shape[0], a.shape[1], path);
  return a;
}

void run_fit(FitArgs args, const Context& ctx) {
  args.km.threads = usable_threads(args.km.threads);
  try {
    args.km.validate();
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  // The tuned allocator keeps each k-means++ run's and each step's large
  // buffers in the heap instead of faulting fresh pages in every time.
  ctx.configure_process(args.km.threads, true);
  std::vector<float> x;
  int64_t rows = 0, dim = 0;
  if (args.json_out && args.output == "-")
    throw UsageError("kmeans fit: --json needs -o FILE (standard output carries the model)");
  if (std::count(args.inputs.begin(), args.inputs.end(), std::string("-")) > 1)
    throw UsageError("kmeans fit: standard input ('-') can be given once");
  std::unique_ptr<InputArg> from_stdin;
  for (auto& path : args.inputs) {
    if (path == "-") {
      from_stdin = std::make_unique<InputArg>(path);
      path = from_stdin->path();
    }
    NpyArray a = read_features(path);
    if (dim == 0) dim = a.shape[1];
    if (a.shape[1] != dim) {
      throw file_error(path, "feature dimension " + std::to_string(a.shape[1]) + " differs from " +
                                 std::to_string(dim) + " of " + args.inputs.front());
    }
    x.insert(x.end(), a.values.begin(), a.values.end());
    rows += a.shape[0];
  }
  if (rows < args.km.k) {
    throw file_error(args.inputs.front(), "k=" + std::to_string(args.km.k) +
                                              " is larger than the number of frames (" +
                                              std::to_string(rows) + ")");
  }
  const auto t0 = std::chrono::steady_clock::now();
  MiniBatchKMeans km(dim, args.km);
  km.fit(x.data(), rows);
  KMeansModel model(km.state().centroids, args.km.k, dim);
  std::vector<int32_t> labels(static_cast<size_t>(rows));
  const double inertia = model.predict(x.data(), rows, labels.data(), args.km.threads);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", inertia);
  model.metadata() = {{"feature_model", feature_model_name(args.feature_model)},
                      {"layer", std::to_string(args.layer)},
                      {"inertia", buf},
                      {"frames", std::to_string(rows)},
                      {"steps", std::to_string(km.state().steps)},
                      {"seed", std::to_string(args.km.seed)}};
  if (args.km.rng == KMeansRng::numpy) model.metadata()["rng"] = "numpy";
  if (feature_model_is_stand_in(args.feature_model)) model.metadata()["feature_model_stand_in"] = "true";
  OutputArg output(args.output, ".safetensors");
  model.save(output.path());
  output.finish();
  if (args.json_out) {
    const nlohmann::json summary = {{"frames", rows},
                                    {"dim", dim},
                                    {"k", args.km.k},
                                    {"steps", km.state().steps},
                                    {"converged", km.state().converged},
                                    {"inertia", inertia},
                                    {"inertia_per_frame", inertia / static_cast<double>(rows)},
                                    {"seconds", secs},
                                    {"output", args.output}};
    std::printf("%s\n", summary.dump().c_str());
  }
  if (!args.quiet) {
    std::fprintf(
        stderr,
        "kmeans: %lld frames x %lld, k=%d: %lld steps%s, inertia %.6e (%.6g per frame), %.1f s -> %s\n",
        static_cast<long long>(rows), static_cast<long long>(dim), args.km.k,
        static_cast<long long>(km.state().steps), km.state().converged ? " (converged)" : "", inertia,
        inertia / static_cast<double>(rows), secs, args.output.c_str());
  }
}

void run_predict(const PredictArgs& args) {
  const KMeansModel model = KMeansModel::load(args.model);
  const InputArg input(args.input);
  NpyArray a = read_features(input.path());
  if (a.shape[1] != model.dim()) {
    throw file_error(args.input, "feature dimension " + std::to_string(a.shape[1]) +
                                     " differs from the k-means model's " + std::to_string(model.dim()) +
                                     " (" + args.model + ")");
  }
  const auto labels = model.predict(a.values.data(), a.shape[0], usable_threads(args.threads));
  std::string line;
  line.reserve(labels.size() * 3);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(labels[i]);
  }
  line += '\n';
  OutputArg output(args.output, ".txt");
  common::write_text_file(output.path(), line);
  output.finish();
}

}  // namespace

CLI::Option* add_kmeans_rng_option(CLI::App* cmd, KMeansRng& rng) {
  return cmd
      ->add_option(
          "--rng", rng,
          "Random draws: streams (one counter-based stream per step), or numpy: NumPy's "
          "RandomState(seed), drawing what scikit-learn 1.2's MiniBatchKMeans(random_state=seed) "
          "draws, with its float32 arithmetic (seed < 2^32). Either resumes exactly, any thread count")
      ->transform(CLI::CheckedTransformer(std::map<std::string, KMeansRng>{{"streams", KMeansRng::streams},
                                                                           {"numpy", KMeansRng::numpy}})
                      .description(""))
      ->type_name("{streams,numpy}")
      ->default_str("streams");
}

void add_kmeans_command(CLI::App& app, Context& ctx) {
  CLI::App* cmd =
      app.add_subcommand("kmeans", "Mini-batch k-means on feature files (fit a model, or assign units)");
  cmd->require_subcommand(1);

  auto fit = std::make_shared<FitArgs>();
  fit->km.threads = 0;  // every usable CPU, as --threads is everywhere
  CLI::App* f = cmd->add_subcommand(
      "fit", "Fit k-means (scikit-learn MiniBatchKMeans semantics) on float32 [frames, dim] .npy files");
  f->add_option("features", fit->inputs,
                "Feature .npy files [frames, dim], concatenated; - for standard input")
      ->required();
  f->add_option("-o,--output", fit->output, "Output k-means model (.safetensors)")->required();
  f->add_option("--k", fit->km.k, "Number of clusters (units)")
      ->capture_default_str()
      ->check(checks::int_between(1, 65535));
  f->add_option("--batch-size", fit->km.batch_size, "Rows per mini-batch")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  f->add_option("--max-iter", fit->km.max_iter, "Most passes over the data")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  f->add_option("--max-no-improvement", fit->km.max_no_improvement,
                "Stop after this many steps without a better smoothed batch inertia (0: never)")
      ->capture_default_str()
      ->check(checks::int_at_least(0));
  f->add_option("--n-init", fit->km.n_init,
                "k-means++ initialisations; the best on a validation subset is kept")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  f->add_option("--init-size", fit->km.init_size, "Rows per initialisation (0: 3 x batch size)")
      ->capture_default_str()
      ->check(checks::int_at_least(0));
  f->add_option("--reassignment-ratio", fit->km.reassignment_ratio,
                "Move centres with fewer than this fraction of the largest count onto random rows")
      ->capture_default_str()
      ->check(checks::number_between(0, 1));
  f->add_option("--seed", fit->km.seed, "Random seed (same seed, same result)")->capture_default_str();
  add_kmeans_rng_option(f, fit->km.rng);
  f->add_option("--threads", fit->km.threads, "Threads (the result does not depend on it; 0: every CPU)")
      ->capture_default_str()
      ->check(checks::threads());
  f->add_option("--feature-model", fit->feature_model, kFeatureModelHelp);
  f->add_option("--layer", fit->layer, "Feature layer stored in the metadata");
  f->add_flag("-q,--quiet", fit->quiet, "No summary on stderr");
  f->add_flag("--json", fit->json_out, "A summary as one JSON object on stdout");
  f->callback([fit, &ctx]() { run_fit(*fit, ctx); });

  auto pred = std::make_shared<PredictArgs>();
  CLI::App* p = cmd->add_subcommand("predict", "Nearest-centroid unit of every frame of a feature file");
  p->add_option(
       "model", pred->model,
       "k-means model: .safetensors (centroids [k, dim]), .npy of centroids, or fairseq's km.bin (joblib)")
      ->required();
  p->add_option("features", pred->input, "Feature .npy [frames, dim]; - for standard input")->required();
  p->add_option("-o,--output", pred->output,
                "Units text file: one line of space-separated ids; - for standard output")
      ->required();
  p->add_option("--threads", pred->threads, "Threads (0: every CPU this process may use)")
      ->capture_default_str()
      ->check(checks::threads());
  p->callback([pred]() { run_predict(*pred); });
}

}  // namespace acoustok::tools
