// SPDX-License-Identifier: MIT
// acoustok vocoder train | test | compare: phase 3, the unit HiFi-GAN and its
// quality report (metrics defined in acoustok/vocoder_metrics.hpp,
// vocoder/mel_cepstral_distortion.hpp and docs/metrics.md).
#include "config.h"

#include <cmath>
#include <limits>
#include <map>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "common/fs_util.hpp"
#include "common/log_printf.hpp"
#include "common/progress.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_data.hpp"
#include "acoustok/vocoder_metrics.hpp"
#include "acoustok/vocoder_train.hpp"
#include "commands.hpp"
#include "option_checks.hpp"
#include "std_streams.hpp"
#include "vocoder/mel_cepstral_distortion.hpp"
#if HAVE_TORCH
#include "acoustok/features.hpp"
#include "acoustok/tensor_file.hpp"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace acoustok::tools {
namespace {

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Every metric of one original/synthesis pair (docs/metrics.md); with
// f0_tracks, both F0 tracks too (Hz per 10 ms frame, 0 when unvoiced).
json pair_metrics(const std::vector<float>& orig, const std::vector<float>& synth, bool f0_tracks) {
  const PitchTrack po = yin_pitch(orig.data(), orig.size()), ps = yin_pitch(synth.data(), synth.size());
  const PitchErrors pe = pitch_errors(po, ps);
  json r = {{"snr_db", number_or_null(snr_db(orig.data(), orig.size(), synth.data(), synth.size()))},
            {"mcd_db", number_or_null(vocoder::mcd_db(orig.data(), orig.size(), synth.data(), synth.size()))},
            {"length_ratio", number_or_null(length_ratio(synth.size(), orig.size()))},
            {"gpe", number_or_null(pe.gpe)},
            {"vde", number_or_null(pe.vde)},
            {"ffe", number_or_null(pe.ffe)},
            {"f0_rmse_hz", number_or_null(pe.f0_rmse_hz)}};
  if (f0_tracks) {
    r["frames"] = {
        {"mcd_path", vocoder::mcd_path_length(orig.data(), orig.size(), synth.data(), synth.size())},
        {"f0", pe.frames}};
    r["f0_orig"] = po.f0;
    r["f0_synth"] = ps.f0;
  }
  return r;
}

struct CompareArgs {
  std::string orig, synth;
  bool json_out = false, f0_tracks = false;
};

void run_compare(const CompareArgs& a) {
  if (a.orig == "-" && a.synth == "-")
    throw UsageError("vocoder compare: only one of the two files can be standard input");
  const InputArg orig_file(a.orig), synth_file(a.synth);
  const std::vector<float> orig = read_audio_16k_mono(orig_file.path()),
                           synth = read_audio_16k_mono(synth_file.path());
  const json r = pair_metrics(orig, synth, a.f0_tracks);
  if (a.json_out) {
    std::printf("%s\n", r.dump().c_str());
    return;
  }
  for (const char* k : {"snr_db", "mcd_db", "length_ratio", "gpe", "vde", "ffe", "f0_rmse_hz"})
    std::printf("%-13s %s\n", k, r[k].is_number() ? std::to_string(r[k].get<double>()).c_str() : "-");
}

struct TestArgs {
  std::string checkpoint, vocoder_config, units_dir, audio_dir, out_dir;
  int num_samples = 20;
  std::string feature_model, kmeans;
  std::string old_feature_model;  // --feature-model DIR, this command's name for --model before 0.2
  int layer = 14;
  std::string device = "auto";
  int threads = 0;
  bool quiet = false;
  bool json_out = false;
};

// Re-encodes synthesised speech into units: features of the feature model,
// nearest k-means centroid (squared Euclidean).
class UnitReencoder {
 public:
#if HAVE_TORCH
  UnitReencoder(const TestArgs& a) {
    FeatureOptions fo;
    fo.layer = a.layer;
    fo.device = a.device == "auto" ? "cpu" : a.device;
    extractor_ = FeatureExtractor::load(a.feature_model, fo);
    SafetensorsFile km(a.kmeans);
    const TensorView& c = km.at("centroids");
    if (c.shape.size() != 2 || c.shape[1] != extractor_->dim())
      throw file_error(a.kmeans, "centroids must be [k, " + std::to_string(extractor_->dim()) + "]");
    k_ = c.shape[0];
    centroids_ = to_float32(c);
  }
  int64_t k() const { return k_; }
  std::vector<int32_t> encode(const std::vector<float>& audio) {
    const Features f = extractor_->extract(audio.data(), audio.size());
    std::vector<int32_t> units(static_cast<size_t>(f.frames));
    for (int64_t t = 0; t < f.frames; ++t) {
      const float* row = f.data.data() + t * f.dim;
      double best = std::numeric_limits<double>::infinity();
      for (int64_t c = 0; c < k_; ++c) {
        const float* cen = centroids_.data() + c * f.dim;
        double d = 0;
        for (int64_t i = 0; i < f.dim; ++i) d += (row[i] - cen[i]) * static_cast<double>(row[i] - cen[i]);
        if (d < best) {
          best = d;
          units[static_cast<size_t>(t)] = static_cast<int32_t>(c);
        }
      }
    }
    return units;
  }

 private:
  std::unique_ptr<FeatureExtractor> extractor_;
  int64_t k_ = 0;
  std::vector<float> centroids_;
#else
  explicit UnitReencoder(const TestArgs&) {
    throw Error(
        "vocoder test: --feature-model/--kmeans: unit agreement needs the wav2vec2 feature extractor, "
        "which this build of acoustok does not have yet");
  }
  int64_t k() const { return 0; }
  std::vector<int32_t> encode(const std::vector<float>&) { return {}; }
#endif
};

void run_test(const TestArgs& a, const Context& ctx) {
  if (a.num_samples < 1) throw UsageError("vocoder test: --num-samples must be at least 1");
  const bool reencode = !a.feature_model.empty() || !a.kmeans.empty();
  if (reencode && (a.feature_model.empty() || a.kmeans.empty()))
    throw UsageError("vocoder test: unit agreement needs both --model and --kmeans");
  ctx.configure_process(a.threads, true);  // synthesis (and re-encoding)
  auto vocoder = Vocoder::load(a.checkpoint, a.device, a.vocoder_config);
  UnitCorpus corpus = read_unit_corpus(a.units_dir);
  expand_reduced_segments(corpus);  // compared frame by frame with the audio
  if (corpus.k != vocoder->num_units())
    throw file_error(a.checkpoint, "vocoder was trained for k=" + std::to_string(vocoder->num_units()) +
                                       " units but " + corpus.path + " has k=" + std::to_string(corpus.k));
  std::unique_ptr<UnitReencoder> reencoder;
  if (reencode) {
    reencoder = std::make_unique<UnitReencoder>(a);
    if (reencoder->k() != corpus.k)
      throw file_error(
          a.kmeans, "has k=" + std::to_string(reencoder->k()) + ", the corpus k=" + std::to_string(corpus.k));
  }
  std::error_code ec;
  fs::create_directories(a.out_dir, ec);
  if (ec) throw file_error(a.out_dir, "cannot create output folder: " + ec.message());

  // Evenly spread over the corpus, the same every run.
  const size_t total = corpus.segments.size();
  const size_t n = std::min<size_t>(static_cast<size_t>(a.num_samples), total);
  json samples = json::array();
  const char* keys[] = {"snr_db", "mcd_db", "length_ratio", "gpe",
                        "vde",    "ffe",    "f0_rmse_hz",   "unit_agreement"};
  std::map<std::string, std::pair<double, int>> sums;
  common::Progress progress("vocoder test", static_cast<int64_t>(n), !a.quiet);
  for (size_t i = 0; i < n; ++i) {
    const size_t id = static_cast<size_t>((static_cast<double>(i) + 0.5) * static_cast<double>(total) /
                                          static_cast<double>(n));
    const UnitSegment& seg = corpus.segments[id];
    const std::vector<float> orig = read_audio_16k_mono((fs::path(a.audio_dir) / seg.file).string());
    const std::vector<float> synth = vocoder->synthesize(seg.units.data(), seg.units.size());
    char name[32];
    std::snprintf(name, sizeof name, "%04zu", i);
    write_wav_pcm16((fs::path(a.out_dir) / (std::string("orig_") + name + ".wav")).string(), orig.data(),
                    orig.size());
    write_wav_pcm16((fs::path(a.out_dir) / (std::string("synth_") + name + ".wav")).string(), synth.data(),
                    synth.size());
    // Metrics on what the WAV files hold (16-bit), so they can be recomputed from them.
    const std::vector<float> synth16 =
        read_audio_16k_mono((fs::path(a.out_dir) / (std::string("synth_") + name + ".wav")).string());
    json rec = {{"name", name}, {"segment", seg.file}, {"units", seg.units.size()}};
    rec.update(pair_metrics(orig, synth16, false));
    if (reencoder)
      rec["unit_agreement"] = number_or_null(unit_agreement(seg.units, reencoder->encode(synth16)));
    for (const char* k : keys) {
      if (rec.contains(k) && rec[k].is_number()) {
        sums[k].first += rec[k].get<double>();
        sums[k].second += 1;
      }
    }
    samples.push_back(rec);
    progress.add(1);
  }
  progress.finish();
  json mean = json::object();
  for (const char* k : keys)
    if (sums.count(k))
      mean[k] = sums[k].first / sums[k].second;
    else if (std::string(k) != "unit_agreement" || reencoder)
      mean[k] = nullptr;
  const json report = {{"checkpoint", a.checkpoint}, {"samples", samples}, {"mean", mean}};
  common::write_text_file((fs::path(a.out_dir) / "metrics.json").string(), report.dump(1) + "\n");

  if (a.json_out) {
    std::printf("%s\n", json({{"samples", samples.size()},
                              {"mean", mean},
                              {"metrics", (fs::path(a.out_dir) / "metrics.json").string()}})
                            .dump()
                            .c_str());
    return;
  }
  // Summary table.
  auto cell = [](const json& v, const char* fmt) {
    char buf[32];
    if (v.is_number())
      std::snprintf(buf, sizeof buf, fmt, v.get<double>());
    else
      std::snprintf(buf, sizeof buf, "%s", "-");
    return std::string(buf);
  };
  std::printf("%-6s %9s %9s %9s %7s %7s %7s%s\n", "sample", "SNR dB", "MCD dB", "length", "GPE", "VDE", "FFE",
              reencoder ? "  unit agr" : "");
  auto row = [&](const std::string& label, const json& r) {
    std::printf("%-6s %9s %9s %9s %7s %7s %7s", label.c_str(), cell(r["snr_db"], "%.2f").c_str(),
                cell(r["mcd_db"], "%.2f").c_str(), cell(r["length_ratio"], "%.4f").c_str(),
                cell(r["gpe"], "%.3f").c_str(), cell(r["vde"], "%.3f").c_str(),
                cell(r["ffe"], "%.3f").c_str());
    if (reencoder) std::printf(" %9s", cell(r.value("unit_agreement", json(nullptr)), "%.3f").c_str());
    std::printf("\n");
  };
  for (const auto& r : samples) row(r["name"].get<std::string>(), r);
  row("mean", mean);
}

// Rank 0 of a data-parallel run (RANK, else srun's SLURM_PROCID), or a run alone.
bool lead_rank() {
  for (const char* name : {"RANK", "SLURM_PROCID"}) {
    const char* v = std::getenv(name);
    if (v && *v) return std::string(v) == "0";
  }
  return true;
}

// vocoder train --json: the last epoch of training_log.json, which the run
// has just written.
json train_summary(const std::string& out_dir) {
  const std::string path = (fs::path(out_dir) / "training_log.json").string();
  std::ifstream in(path);
  const json log = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!log.is_array() || log.empty()) throw file_error(path, "no epoch logged");
  const json& last = log.back();
  json summary = {{"epochs", last.value("epoch", 0)},
                  {"early_stop_metric", last.value("early_stop_metric", "")},
                  {"best_heldout", last.value("best_heldout", json())},
                  {"best_epoch", last.value("best_epoch", json())},
                  {"heldout_mel", last.value("heldout_mel", json())},
                  {"heldout_mcd", last.value("heldout_mcd", json())},
                  {"stopped_early", last.value("patience", 0) >= last.value("patience_limit", 1 << 30)},
                  {"output", (fs::path(out_dir) / "vocoder_final.pt").string()}};
  return summary;
}

}  // namespace

void add_vocoder_command(CLI::App& app, Context& ctx) {
  CLI::App* voc =
      app.add_subcommand("vocoder", "Phase 3: train the unit HiFi-GAN vocoder and measure its quality");
  voc->require_subcommand(1);

  auto t = std::make_shared<VocoderTrainOptions>();
  auto train_threads = std::make_shared<int>(0);
  auto train_json = std::make_shared<bool>(false);
  CLI::App* train =
      voc->add_subcommand("train", "Train (or resume) the unit vocoder on segments and their units");
  train->add_option("--units", t->units_dir, "Folder with corpus_timestamped.json (acoustok units)")
      ->required();
  train->add_option("--audio", t->audio_dir, "Folder of the segment WAVs the corpus names (acoustok segment)")
      ->required();
  train->add_option("-o,--output", t->out_dir, "Output folder; rerunning resumes from its vocoder_latest.pt")
      ->required();
  train->add_option("--epochs", t->epochs, "Last epoch to train (raise it to continue a finished run)")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  train
      ->add_option("--batch-size", t->batch_size,
                   "1 s windows per step, over all ranks in data-parallel runs (lower it when out of memory)")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  train->add_option("--lr", t->lr, "AdamW learning rate (decays x0.999 per epoch)")
      ->capture_default_str()
      ->check(checks::positive_number());
  train->add_option("--samples-per-epoch", t->samples_per_epoch, "Random 1 s windows drawn per epoch")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  train
      ->add_option(
          "--dist-timeout", t->dist_timeout,
          "Data-parallel runs (RANK/WORLD_SIZE or srun): seconds to wait for the other ranks before failing")
      ->capture_default_str()
      ->check(checks::int_between(1, 86400));
  train->add_option("--patience", t->patience, "Stop after this many epochs without held-out improvement")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  train
      ->add_option("--min-delta", t->min_delta,
                   "Smallest held-out improvement that counts, on the early-stop metric's scale (mel: L1 x "
                   "45; mcd: dB)")
      ->capture_default_str()
      ->check(checks::number_at_least(0));
  train
      ->add_option("--early-stop-metric", t->early_stop_metric,
                   "What early stopping and vocoder_best.pt follow: mel (held-out 45 x L1 log-mel) or mcd "
                   "(held-out MCD, dB)")
      ->capture_default_str()
      ->check(CLI::IsMember({"mel", "mcd"}));
  train
      ->add_option("--save-every", t->save_every,
                   "Write vocoder_epoch_XXXX.pt and sample_epoch_XXXX.wav every N epochs (0: never)")
      ->capture_default_str()
      ->check(checks::int_at_least(0));
  add_device_option(train, t->device);
  train
      ->add_option("--config", t->config,
                   "Model size: tiny, small, v1 or a JSON file ({\"base\": \"v1\", ...})")
      ->capture_default_str();
  train->add_option("--threads", *train_threads, "CPU threads (0: every CPU this process may use)")
      ->capture_default_str()
      ->check(checks::threads());
  train->add_option("--seed", t->seed, "Seed of the initial weights and the window draws")
      ->capture_default_str();
  train->add_flag(
      "--restart", t->restart,
      "Train from scratch: remove the checkpoints, samples and training_log.json an earlier run left in -o");
  train->add_flag("-q,--quiet", t->quiet, "No progress on stderr");
  train->add_flag("--json", *train_json,
                  "A summary as one JSON object on stdout (rank 0 of data-parallel runs)");
  train->callback([t, train_threads, train_json, &ctx]() {
    const std::string& c = t->config;
    std::error_code ec;
    if (c != "tiny" && c != "small" && c != "v1" && !std::filesystem::exists(c, ec)) {
      throw UsageError("--config: unknown vocoder config '" + c +
                       "': expected tiny, small, v1 or a JSON file");
    }
    ctx.configure_process(*train_threads, false);
    t->mcd = vocoder::mcd_db;  // the held-out MCD (docs/metrics.md)
    train_vocoder(*t);
    if (*train_json && lead_rank()) std::printf("%s\n", train_summary(t->out_dir).dump().c_str());
  });

  auto a = std::make_shared<TestArgs>();
  CLI::App* test = voc->add_subcommand(
      "test", "Resynthesise segments from their units and measure SNR, MCD, F0 and length");
  test->add_option("--checkpoint", a->checkpoint,
                   "Vocoder checkpoint: acoustok's (vocoder_final.pt) or a released "
                   "speech-resynthesis/fairseq unit HiFi-GAN")
      ->required();
  test->add_option("--vocoder-config", a->vocoder_config,
                   "config.json of a released vocoder (default: config.json beside the checkpoint)");
  test->add_option("--units", a->units_dir, "Folder with corpus_timestamped.json")->required();
  test->add_option("--audio", a->audio_dir, "Folder of the segment WAVs")->required();
  test->add_option("-o,--output", a->out_dir, "Output folder: orig_XXXX.wav, synth_XXXX.wav, metrics.json")
      ->required();
  test->add_option("--num-samples", a->num_samples, "Segments to test, spread evenly over the corpus")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  test->add_option("--model", a->feature_model,
                   "Feature model folder or fairseq checkpoint (as in features, units and live): also report "
                   "unit agreement after re-encoding");
  // --feature-model names the model elsewhere (units, kmeans fit); here it
  // once was the folder: still accepted as that, with a note, out of --help.
  test->add_option("--feature-model", a->old_feature_model)->group("");
  test->add_option("--layer", a->layer, "Transformer layer of the feature model")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  test->add_option("--kmeans", a->kmeans,
                   "k-means file (safetensors with centroids [k, dim]) for re-encoding");
  add_device_option(test, a->device);
  test->add_option("--threads", a->threads, "CPU threads (0: every CPU this process may use)")
      ->capture_default_str()
      ->check(checks::threads());
  test->add_flag("-q,--quiet", a->quiet, "No progress on stderr");
  test->add_flag("--json", a->json_out, "The mean metrics as one JSON object on stdout instead of the table");
  test->callback([a, &ctx]() {
    if (!a->old_feature_model.empty()) {
      if (!a->feature_model.empty())
        throw UsageError("vocoder test: give the feature model folder once, as --model");
      a->feature_model = a->old_feature_model;
      common::log(
          LogLevel::warning,
          "acoustok: vocoder test: --feature-model DIR is now --model DIR (the feature model folder, as in "
          "features, units and live; --feature-model elsewhere is the name recorded in outputs)");
    }
    run_test(*a, ctx);
  });

  auto c = std::make_shared<CompareArgs>();
  CLI::App* compare = voc->add_subcommand(
      "compare", "Quality metrics of one synthesis against its original (SNR, MCD, F0, length)");
  compare
      ->add_option("original", c->orig, "Original recording (resampled to 16 kHz mono); - for standard input")
      ->required();
  compare
      ->add_option("synthesis", c->synth, "Synthesis of it (resampled to 16 kHz mono); - for standard input")
      ->required();
  compare->add_flag("--json", c->json_out, "One JSON object on stdout");
  compare->add_flag("--f0-tracks", c->f0_tracks,
                    "With --json: both F0 tracks (Hz per 10 ms, 0 when unvoiced) and frame counts");
  compare->callback([c]() { run_compare(*c); });
}

}  // namespace acoustok::tools
