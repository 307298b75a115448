// SPDX-License-Identifier: MIT
// acoustok vocoder train: HiFi-GAN training on random 1 s windows of the unit
// corpus, with held-out early stopping and exact resumption.
// Over 600 lines on purpose: the Trainer's parts (data, resumption, epochs,
// held-out checks, checkpoints) share its state; one step is train_step.cpp.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <random>
#include <sstream>

#include "acoustok/audio_io.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/error.hpp"
#include "common/log_printf.hpp"
#include "common/fs_util.hpp"
#include "common/progress.hpp"
#include "acoustok/vocoder_data.hpp"
#include "acoustok/vocoder_train.hpp"
#include "vocoder/torch/checkpoint.hpp"
#include "vocoder/torch/distributed.hpp"
#include "vocoder/torch/train_step.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace acoustok {
namespace {

using vocoder::kMelWeight;
constexpr double kLrDecay = 0.999;
constexpr int kHeldoutMaxFrames = 10 * grid::kFrameRate;  // held-out segments are scored on their first 10 s
constexpr double kCollapseLoss = 0.01;                    // per sub-discriminator
constexpr int kCollapseSteps = 200;                       // consecutive steps before warning

// Segment audio, kept in memory when the corpus is small enough and read
// again per window otherwise (84 h of float would not fit).
class SegmentAudio {
 public:
  SegmentAudio(const UnitCorpus& corpus, const std::string& audio_dir) : dir_(audio_dir), corpus_(corpus) {
    int64_t frames = 0;
    for (const auto& s : corpus.segments) frames += static_cast<int64_t>(s.units.size());
    cache_ = frames * grid::kHop <= (int64_t{1} << 28);  // 1 GiB of float
    if (cache_) {
      cached_.resize(corpus.segments.size());
      for (size_t i = 0; i < corpus.segments.size(); ++i) cached_[i] = load(i);
    }
  }

  // Samples [start, start + count) of segment i, zero-padded past its end.
  std::vector<float> window(size_t i, int64_t start, int64_t count) {
    std::vector<float> loaded;
    const std::vector<float>* audio = &loaded;
    if (cache_)
      audio = &cached_[i];
    else
      loaded = load(i);
    std::vector<float> out(static_cast<size_t>(count), 0.0f);
    for (int64_t t = 0; t < count && start + t < static_cast<int64_t>(audio->size()); ++t)
      out[static_cast<size_t>(t)] = (*audio)[static_cast<size_t>(start + t)];
    return out;
  }

 private:
  std::vector<float> load(size_t i) {
    const std::string path = (fs::path(dir_) / corpus_.segments[i].file).string();
    std::vector<float> audio = read_audio_16k_mono(path);
    const auto units = static_cast<int64_t>(corpus_.segments[i].units.size());
    const int64_t frames = grid::frames_for_samples(static_cast<int64_t>(audio.size()));
    if (std::llabs(frames - units) > 2)
      throw file_error(path, std::to_string(audio.size()) + " samples make " + std::to_string(frames) +
                                 " frames but " + corpus_.path + " gives it " + std::to_string(units) +
                                 " units (wrong --audio folder?)");
    return audio;
  }

  std::string dir_;
  const UnitCorpus& corpus_;
  bool cache_ = false;
  std::vector<std::vector<float>> cached_;
};

struct EpochLosses {
  double d = 0, g = 0, mel = 0, fm = 0, adv = 0;
  int steps = 0;
};

std::string epoch_name(const char* prefix, int epoch, const char* ext) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%04d%s", prefix, epoch, ext);
  return buf;
}

void set_lr(torch::optim::AdamW& opt, double lr) {
  for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

bool is_out_of_memory(const std::string& what) {
  return what.find("out of memory") != std::string::npos ||
         what.find("can't allocate memory") != std::string::npos ||
         what.find("Tried to allocate") != std::string::npos;
}

// What a resumed run keeps of DIR/training_log.json: its records up to the
// checkpoint's epoch. The log is untrusted and the user's only history of
// the run, so one that is not a log (truncated, garbage, epochs out of
// order) is refused with the way out, never replaced by the new epochs
// alone. A missing log starts afresh (what removing it asks for).
json read_training_log(const std::string& path, int checkpoint_epoch, bool quiet) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (checkpoint_epoch > 0 && !quiet)
      common::log(LogLevel::info, "vocoder train: %s is missing; it starts again at epoch %d", path.c_str(),
                  checkpoint_epoch + 1);
    return json::array();
  }
  const std::string way_out =
      "; remove it to resume with a new log, or rerun with --restart to train from scratch";
  json old;
  try {
    old = json::parse(common::read_text_file(path));
  } catch (const json::exception&) {
    throw file_error(path, "not valid JSON (truncated or damaged)" + way_out);
  }
  if (!old.is_array()) throw file_error(path, "not a training log (a JSON array of epoch records)" + way_out);
  json kept = json::array();
  int last = 0;
  for (size_t i = 0; i < old.size(); ++i) {
    const json& rec = old[i];
    const json* epoch = rec.is_object() && rec.contains("epoch") ? &rec["epoch"] : nullptr;
    if (!epoch || !epoch->is_number_integer() || epoch->get<int64_t>() <= last ||
        epoch->get<int64_t>() > INT32_MAX)
      throw file_error(path, "record " + std::to_string(i) + " has no epoch number following " +
                                 std::to_string(last) + way_out);
    last = epoch->get<int>();
    if (last <= checkpoint_epoch) kept.push_back(rec);
  }
  return kept;
}

class Trainer {
 public:
  explicit Trainer(const VocoderTrainOptions& o) : opt_(o), device_(vocoder::resolve_device(o.device)) {}
  void run();

 private:
  void prepare_data();
  void build_or_resume();
  EpochLosses train_epoch(common::Progress& progress);
  struct Heldout {
    double mel = 0, mcd = std::numeric_limits<double>::quiet_NaN();
  };
  Heldout heldout();
  std::vector<float> synthesize(const std::vector<int32_t>& units);
  json state_json() const;
  void save_latest_and_periodic(int epoch);
  void start_over();
  std::string out(const std::string& name) const { return (fs::path(opt_.out_dir) / name).string(); }
  // Rank 0 alone writes checkpoints, logs and samples and reports progress.
  bool lead() const { return rank_ == 0; }
  bool quiet() const { return opt_.quiet || !lead(); }

  VocoderTrainOptions opt_;
  torch::Device device_;
  // Data-parallel training: every rank draws the same global batch from the
  // same random stream and trains on its share of it.
  std::unique_ptr<vocoder::ProcessGroup> group_;
  int rank_ = 0, world_ = 1;
  UnitCorpus corpus_;
  std::unique_ptr<SegmentAudio> audio_;
  std::vector<size_t> train_ids_, heldout_ids_;
  std::vector<double> train_weights_;
  VocoderConfig config_;
  vocoder::Generator gen_{nullptr};
  vocoder::Discriminator disc_{nullptr};
  std::unique_ptr<torch::optim::AdamW> opt_g_, opt_d_;
  std::unique_ptr<vocoder::MelLoss> mel_;
  std::mt19937_64 rng_;
  // Training state that a resumed run restores.
  int epoch_ = 0;
  double lr_ = 0;
  double best_ = std::numeric_limits<double>::infinity();
  int best_epoch_ = 0;
  int since_best_ = 0;
  int64_t steps_ = 0;
  int collapse_run_ = 0;
  bool stopped_early_ = false;
  json log_ = json::array();
};

void Trainer::prepare_data() {
  corpus_ = read_unit_corpus(opt_.units_dir);
  expand_reduced_segments(corpus_);  // a `units --dedup` corpus: back to one unit per frame of audio
  audio_ = std::make_unique<SegmentAudio>(corpus_, opt_.audio_dir);
  // A fixed, evenly spread held-out set: 5 % of the segments, 1 to 50.
  const size_t n = corpus_.segments.size();
  const size_t held =
      std::clamp<size_t>(static_cast<size_t>(std::lround(0.05 * static_cast<double>(n))), 1, 50);
  std::vector<bool> is_held(n, false);
  if (n > 1) {
    for (size_t i = 0; i < held; ++i) {
      const size_t id = static_cast<size_t>((static_cast<double>(i) + 0.5) * static_cast<double>(n) /
                                            static_cast<double>(held));
      is_held[id] = true;
      heldout_ids_.push_back(id);
    }
  } else {
    heldout_ids_.push_back(0);
    common::log(LogLevel::warning, "vocoder train: warning: one segment only; it is also the held-out set");
  }
  const int window = config_.segment_frames;
  for (size_t i = 0; i < n; ++i) {
    const auto frames = static_cast<int>(corpus_.segments[i].units.size());
    if ((is_held[i] && n > 1) || frames < window) continue;
    train_ids_.push_back(i);
    train_weights_.push_back(frames - window + 1);  // uniform over all windows
  }
  if (train_ids_.empty())
    throw file_error(corpus_.path, "no training segment has " + std::to_string(window) + " units (" +
                                       std::to_string(window / static_cast<double>(grid::kFrameRate)) +
                                       " s) or more");
}

void Trainer::build_or_resume() {
  const std::string latest = out("vocoder_latest.pt");
  std::error_code ec;
  const bool resume = fs::exists(latest, ec);
  std::unique_ptr<vocoder::CheckpointReader> reader;
  if (resume) {
    reader = std::make_unique<vocoder::CheckpointReader>(latest);  // optimiser states land beside the weights
    config_ = reader->config();
    if (!reader->has_training_state())
      throw file_error(latest, "not a training checkpoint (no discriminator/optimiser states)");
    if (opt_.config != config_.name && !quiet())
      common::log(LogLevel::info,
                  "vocoder train: resuming keeps the checkpoint's config '%s' (--config %s ignored)",
                  config_.name.c_str(), opt_.config.c_str());
  } else {
    config_ = VocoderConfig::from_argument(opt_.config);
  }
  // Its losses and data carry no speaker and no durations: it trains unit-only generators.
  if (config_.has_speaker_table() || config_.has_speaker_embedder() || config_.has_duration_predictor())
    throw file_error(
        resume ? latest : opt_.config,
        "vocoder train trains unit-only vocoders: num_speakers, speaker_embedding_dim and "
        "dur_predictor_hidden must be 0 (a speaker or duration predictor cannot be trained here)");
  prepare_data();
  if (resume) {
    if (config_.num_units != corpus_.k)
      throw file_error(latest, "checkpoint was trained for k=" + std::to_string(config_.num_units) +
                                   " units but " + corpus_.path + " has k=" + std::to_string(corpus_.k));
  } else {
    config_.num_units = corpus_.k;
    config_.validate(opt_.config);
  }

  torch::manual_seed(opt_.seed);
  gen_ = vocoder::Generator(config_);
  disc_ = vocoder::Discriminator(config_);
  gen_->to(device_);  // before the optimisers, whose states must live beside the weights
  disc_->to(device_);
  opt_g_ = vocoder::make_optimizer(gen_->parameters(), opt_.lr);
  opt_d_ = vocoder::make_optimizer(disc_->parameters(), opt_.lr);
  lr_ = opt_.lr;
  rng_.seed(opt_.seed);
  if (resume) {
    reader->load({&gen_, &disc_, opt_g_.get(), opt_d_.get()});
    const json& s = reader->state();
    try {
      epoch_ = s.at("epoch").get<int>();
      lr_ = s.at("lr").get<double>();
      best_ = s.at("best_heldout").is_null() ? std::numeric_limits<double>::infinity()
                                             : s.at("best_heldout").get<double>();
      best_epoch_ = s.at("best_epoch").get<int>();
      since_best_ = s.at("since_best").get<int>();
      steps_ = s.at("steps").get<int64_t>();
      collapse_run_ = s.value("collapse_run", 0);
      // A run that stopped early goes on when --patience was raised past it.
      stopped_early_ = s.value("stopped_early", false) && since_best_ >= opt_.patience;
      std::istringstream rng_text(s.at("rng").get<std::string>());
      rng_text >> rng_;
      if (rng_text.fail()) throw file_error(latest, "bad RNG state");
      // Another --early-stop-metric: its best and patience start afresh.
      if (s.value("early_stop_metric", std::string("mel")) != opt_.early_stop_metric) {
        best_ = std::numeric_limits<double>::infinity();
        since_best_ = 0;
        stopped_early_ = false;
      }
    } catch (const json::exception& e) {
      throw file_error(latest, std::string("bad training state: ") + e.what());
    }
    set_lr(*opt_g_, lr_);
    set_lr(*opt_d_, lr_);
    // The log keeps the epochs the checkpoint has seen, nothing later.
    log_ = read_training_log(out("training_log.json"), epoch_, quiet());
    if (!quiet())
      common::log(LogLevel::info, "vocoder train: resuming %s at epoch %d (config %s, k=%d)", latest.c_str(),
                  epoch_, config_.name.c_str(), config_.num_units);
  }
  mel_ = std::make_unique<vocoder::MelLoss>(device_);
}

json Trainer::state_json() const {
  std::ostringstream rng_text;
  rng_text << rng_;
  return {{"epoch", epoch_},
          {"lr", lr_},
          {"best_heldout", std::isfinite(best_) ? json(best_) : json(nullptr)},
          {"early_stop_metric", opt_.early_stop_metric},
          {"best_epoch", best_epoch_},
          {"since_best", since_best_},
          {"steps", steps_},
          {"collapse_run", collapse_run_},
          {"stopped_early", stopped_early_},
          {"rng", rng_text.str()},
          {"seed", opt_.seed}};
}

std::vector<float> Trainer::synthesize(const std::vector<int32_t>& units) {
  torch::NoGradGuard no_grad;
  gen_->eval();
  auto in = torch::tensor(std::vector<int64_t>(units.begin(), units.end()), torch::kInt64)
                .view({1, -1})
                .to(device_);
  auto audio = gen_->forward(in).reshape({-1}).to(torch::kCPU).contiguous();
  gen_->train();
  return std::vector<float>(audio.data_ptr<float>(), audio.data_ptr<float>() + audio.numel());
}

// Mean over the held-out segments, on their first 10 s, of 45 x L1 between
// log-mels (the scale of the training mel term) and, when the program gave
// an MCD, of the mel-cepstral distortion.
Trainer::Heldout Trainer::heldout() {
  torch::NoGradGuard no_grad;
  gen_->eval();
  double total = 0, total_mcd = 0;
  int mcd_count = 0;
  for (size_t id : heldout_ids_) {
    const auto& all = corpus_.segments[id].units;
    const size_t frames = std::min<size_t>(all.size(), kHeldoutMaxFrames);
    if (frames == 0) continue;
    std::vector<int64_t> u(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(frames));
    auto in = torch::tensor(u, torch::kInt64).view({1, -1}).to(device_);
    auto y_hat = gen_->forward(in);
    auto y = torch::tensor(audio_->window(id, 0, static_cast<int64_t>(frames) * grid::kHop))
                 .view({1, 1, -1})
                 .to(device_);
    total += kMelWeight * torch::l1_loss(mel_->mel(y_hat), mel_->mel(y)).item<double>();
    if (opt_.mcd) {
      const auto a = y.reshape({-1}).to(torch::kCPU).contiguous(),
                 b = y_hat.reshape({-1}).to(torch::kCPU).contiguous();
      const double m = opt_.mcd(a.data_ptr<float>(), static_cast<size_t>(a.numel()), b.data_ptr<float>(),
                                static_cast<size_t>(b.numel()));
      if (std::isfinite(m)) {
        total_mcd += m;
        ++mcd_count;
      }
    }
  }
  gen_->train();
  Heldout h;
  h.mel = total / static_cast<double>(heldout_ids_.size());
  if (mcd_count > 0) h.mcd = total_mcd / mcd_count;
  return h;
}

EpochLosses Trainer::train_epoch(common::Progress& progress) {
  EpochLosses sum;
  const int frames = config_.segment_frames;
  const int64_t samples = static_cast<int64_t>(frames) * grid::kHop;
  const int steps = (opt_.samples_per_epoch + opt_.batch_size - 1) / opt_.batch_size;
  std::discrete_distribution<size_t> pick(train_weights_.begin(), train_weights_.end());
  const int n_disc = static_cast<int>(config_.mpd_periods.size()) + config_.msd_scales;
  bool warned = false;
  for (int step = 0; step < steps; ++step) {
    const int batch = std::min(opt_.batch_size, opt_.samples_per_epoch - step * opt_.batch_size);
    // This rank's share of the global batch: windows [lo, hi).
    const int lo = batch * rank_ / world_, hi = batch * (rank_ + 1) / world_, local = hi - lo;
    std::vector<int64_t> units;
    std::vector<float> audio;
    units.reserve(static_cast<size_t>(local) * static_cast<size_t>(frames));
    audio.reserve(static_cast<size_t>(local * samples));
    for (int b = 0; b < batch; ++b) {  // every rank draws them all: one random stream
      const size_t id = train_ids_[pick(rng_)];
      const auto& seg = corpus_.segments[id].units;
      std::uniform_int_distribution<int64_t> start_dist(0, static_cast<int64_t>(seg.size()) - frames);
      const int64_t f0 = start_dist(rng_);
      if (b < lo || b >= hi) continue;
      units.insert(units.end(), seg.begin() + f0, seg.begin() + f0 + frames);
      // Unit i covers samples [320 i, 320 i + 400): the window starts at 320 f0.
      const auto w = audio_->window(id, f0 * grid::kHop, samples);
      audio.insert(audio.end(), w.begin(), w.end());
    }
    auto x = torch::tensor(units, torch::kInt64).view({local, frames}).to(device_);
    auto y = torch::tensor(audio).view({local, 1, samples}).to(device_);
    // The losses are means over the local windows: weighting each rank's
    // gradients by its share makes their sum the global batch's gradient.
    const double share = static_cast<double>(local) / batch;
    vocoder::GradientSync sync;
    if (group_) sync = [&](torch::nn::Module& m) { group_->reduce_gradients(m, share); };
    vocoder::StepLosses l = vocoder::train_step(gen_, disc_, *opt_g_, *opt_d_, *mel_, x, y, nullptr, sync);
    if (group_) {
      auto v = torch::tensor({l.d, l.g, l.mel, l.fm, l.adv}, torch::kFloat64) * share;
      group_->sum(v);
      const auto a = v.accessor<double, 1>();
      l = {a[0], a[1], a[2], a[3], a[4]};
    }
    const double d = l.d;
    if (!std::isfinite(d) || !std::isfinite(l.g))
      throw Error(opt_.out_dir + ": training diverged (NaN/Inf loss) at epoch " + std::to_string(epoch_ + 1) +
                  "; lower --lr or resume from an earlier vocoder_epoch_XXXX.pt copied to vocoder_latest.pt");
    sum.d += d;
    sum.g += l.g;
    sum.mel += l.mel;
    sum.fm += l.fm;
    sum.adv += l.adv;
    ++sum.steps;
    ++steps_;
    collapse_run_ = d < kCollapseLoss * n_disc ? collapse_run_ + 1 : 0;
    if (collapse_run_ >= kCollapseSteps && !warned) {
      warned = true;
      common::log(
          LogLevel::warning,
          "vocoder train: warning: discriminator collapse: D loss below %.2f for %d steps; "
          "the generator gets no adversarial signal (lower --lr, or restart from an earlier checkpoint)",
          kCollapseLoss * n_disc, collapse_run_);
    }
    progress.add(1);
  }
  if (sum.steps > 0) {
    sum.d /= sum.steps;
    sum.g /= sum.steps;
    sum.mel /= sum.steps;
    sum.fm /= sum.steps;
    sum.adv /= sum.steps;
  }
  return sum;
}

void Trainer::save_latest_and_periodic(int epoch) {
  const json state = state_json();
  vocoder::write_checkpoint(out("vocoder_latest.pt"), config_, state,
                            {&gen_, &disc_, opt_g_.get(), opt_d_.get()});
  if (opt_.save_every > 0 && epoch % opt_.save_every == 0) {
    vocoder::write_checkpoint(out(epoch_name("vocoder_epoch_", epoch, ".pt")), config_, state, {&gen_});
    const auto& units = corpus_.segments[heldout_ids_.front()].units;
    const std::vector<int32_t> head(
        units.begin(),
        units.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(units.size(), kHeldoutMaxFrames)));
    const auto wav = synthesize(head);
    write_wav_pcm16(out(epoch_name("sample_epoch_", epoch, ".wav")), wav.data(), wav.size());
  }
}

// --restart: the state and outputs of an earlier run in the folder go, so
// that training starts from scratch and no stale epoch file is left.
void Trainer::start_over() {
  std::error_code ec;
  for (const char* name : {"vocoder_latest.pt", "vocoder_best.pt", "vocoder_final.pt", "training_log.json"})
    fs::remove(out(name), ec);
  for (const auto& e : fs::directory_iterator(opt_.out_dir, ec)) {
    const std::string name = e.path().filename().string();
    if ((name.rfind("vocoder_epoch_", 0) == 0 && e.path().extension() == ".pt") ||
        (name.rfind("sample_epoch_", 0) == 0 && e.path().extension() == ".wav"))
      fs::remove(e.path(), ec);
  }
  if (ec)
    throw file_error(opt_.out_dir, "cannot remove an earlier run's files for --restart: " + ec.message());
  if (!quiet())
    common::log(LogLevel::info, "vocoder train: --restart: training %s from scratch", opt_.out_dir.c_str());
}

void Trainer::run() {
  if (opt_.early_stop_metric != "mel" && opt_.early_stop_metric != "mcd")
    throw Error("vocoder train: --early-stop-metric must be mel or mcd");
  if (opt_.early_stop_metric == "mcd" && !opt_.mcd)
    throw Error("vocoder train: --early-stop-metric mcd needs an MCD (this program has none)");
  if (opt_.epochs < 1 || opt_.batch_size < 1 || opt_.samples_per_epoch < 1 || opt_.patience < 1 ||
      opt_.lr <= 0 || opt_.min_delta < 0 || opt_.save_every < 0)
    throw Error(
        "vocoder train: --epochs, --batch-size, --samples-per-epoch, --patience and --lr must be positive");
  const vocoder::DistributedEnv env = vocoder::distributed_env_from_environment();
  rank_ = env.rank;
  world_ = env.world;
  if (world_ > 1) {
    if (opt_.batch_size < world_ || opt_.batch_size % world_ != 0 ||
        opt_.samples_per_epoch % opt_.batch_size != 0)
      throw Error("vocoder train: with " + std::to_string(world_) +
                  " ranks, --batch-size (the global batch, " + std::to_string(opt_.batch_size) +
                  ") must be a multiple of the world size and divide --samples-per-epoch (" +
                  std::to_string(opt_.samples_per_epoch) + ")");
    group_ = std::make_unique<vocoder::ProcessGroup>(env, std::chrono::seconds(opt_.dist_timeout));
    // One GPU per local rank when --device names CUDA without an index.
    if (device_.is_cuda() && !device_.has_index())
      device_ = torch::Device(torch::kCUDA,
                              static_cast<c10::DeviceIndex>(env.local_rank % torch::cuda::device_count()));
    if (!quiet())
      common::log(LogLevel::info, "vocoder train: %d ranks (%s), %d windows each per step", world_,
                  env.source.c_str(), opt_.batch_size / world_);
  }
  std::error_code ec;
  fs::create_directories(opt_.out_dir, ec);
  if (ec) throw file_error(opt_.out_dir, "cannot create output folder: " + ec.message());
  // One training run per folder (data-parallel ranks share it: rank 0 writes
  // and holds the lock).
  std::unique_ptr<common::DirLock> lock;
  if (lead()) lock = std::make_unique<common::DirLock>(opt_.out_dir, "vocoder train");
  if (opt_.restart && lead()) start_over();
  if (group_) {  // no rank reads the folder before rank 0 cleared it
    auto sync = torch::zeros({1}, torch::kFloat64);
    group_->sum(sync);
  }
  build_or_resume();
  if (group_) {  // the same weights everywhere, whatever each rank initialised or read
    group_->broadcast_from_rank0(*gen_);
    group_->broadcast_from_rank0(*disc_);
  }

  const bool by_mcd = opt_.early_stop_metric == "mcd";
  const int steps_per_epoch = (opt_.samples_per_epoch + opt_.batch_size - 1) / opt_.batch_size;
  const int todo = stopped_early_ ? 0 : std::max(0, opt_.epochs - epoch_);
  if (!quiet()) {
    common::log(LogLevel::info,
                "vocoder train: %zu training / %zu held-out segments, k=%d, config %s, device %s, "
                "%d steps of %d windows per epoch, epochs %d..%d",
                train_ids_.size(), heldout_ids_.size(), config_.num_units, config_.name.c_str(),
                device_.str().c_str(), steps_per_epoch, opt_.batch_size, epoch_ + 1, opt_.epochs);
    if (stopped_early_)
      common::log(LogLevel::info,
                  "vocoder train: this run already stopped early at epoch %d (raise --patience to go on)",
                  epoch_);
  }
  common::Progress progress("vocoder train", static_cast<int64_t>(todo) * steps_per_epoch, !quiet());
  for (int e = 0; e < todo; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    EpochLosses losses;
    Heldout h;
    try {
      losses = train_epoch(progress);
      h = heldout();
    } catch (const c10::Error& err) {
      const std::string what = err.what_without_backtrace();
      if (is_out_of_memory(what))
        throw Error(opt_.out_dir + ": out of memory on " + device_.str() + " at --batch-size " +
                    std::to_string(opt_.batch_size) + ": lower --batch-size");
      throw Error(opt_.out_dir + ": training failed: " + what);
    }
    ++epoch_;
    // What early stopping follows (--early-stop-metric): both are lower-is-better.
    const double held = by_mcd ? h.mcd : h.mel;
    const bool improved = std::isfinite(held) && (!std::isfinite(best_) || held < best_ - opt_.min_delta);
    if (improved) {
      best_ = held;
      best_epoch_ = epoch_;
      since_best_ = 0;
      if (lead()) vocoder::write_checkpoint(out("vocoder_best.pt"), config_, state_json(), {&gen_});
    } else {
      ++since_best_;
    }
    if (since_best_ >= opt_.patience) stopped_early_ = true;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    json record = {{"epoch", epoch_},
                   {"steps", losses.steps},
                   {"loss_d", losses.d},
                   {"loss_g", losses.g},
                   {"loss_mel", losses.mel},
                   {"loss_fm", losses.fm},
                   {"loss_adv", losses.adv},
                   {"heldout_mel", h.mel},
                   {"heldout_mcd", number_or_null(h.mcd)},
                   {"early_stop_metric", opt_.early_stop_metric},
                   {"best_heldout", best_},
                   {"best_epoch", best_epoch_},
                   {"improved", improved},
                   {"lr", lr_},
                   {"seconds", seconds},
                   {"patience", since_best_},
                   {"patience_limit", opt_.patience}};
    if (collapse_run_ >= kCollapseSteps) record["warning"] = "discriminator collapse";
    log_.push_back(record);
    lr_ *= kLrDecay;  // ExponentialLR(0.999) stepped per epoch
    set_lr(*opt_g_, lr_);
    set_lr(*opt_d_, lr_);
    // The log first: a crash before the checkpoint only leaves a record that
    // the resumed run drops (it keeps epochs <= the checkpoint's).
    if (lead()) {
      common::write_text_file(out("training_log.json"), log_.dump(1));
      save_latest_and_periodic(epoch_);
    }
    if (!quiet())
      common::log(LogLevel::info,
                  "epoch %d/%d: D %.3f G %.3f (mel %.3f fm %.3f adv %.3f) held-out mel %.3f MCD %.2f dB "
                  "(best %s %.3f @%d, patience %d/%d) lr %.3g, %.1f s",
                  epoch_, opt_.epochs, losses.d, losses.g, losses.mel, losses.fm, losses.adv, h.mel, h.mcd,
                  opt_.early_stop_metric.c_str(), best_, best_epoch_, since_best_, opt_.patience,
                  record["lr"].get<double>(), seconds);
    if (stopped_early_) {
      if (!quiet())
        common::log(LogLevel::info,
                    "vocoder train: early stop: no held-out improvement of %.3g for %d epochs",
                    opt_.min_delta, opt_.patience);
      break;
    }
  }
  progress.finish();
  if (lead() && fs::exists(out("vocoder_best.pt"), ec)) {
    fs::copy_file(out("vocoder_best.pt"), out("vocoder_final.pt.tmp"), fs::copy_options::overwrite_existing,
                  ec);
    if (!ec) fs::rename(out("vocoder_final.pt.tmp"), out("vocoder_final.pt"), ec);
    if (ec) throw file_error(out("vocoder_final.pt"), "cannot write: " + ec.message());
  }
  if (lead() && !fs::exists(out("vocoder_final.pt"), ec))
    throw file_error(out("vocoder_final.pt"), "not written: no epoch had a finite held-out " +
                                                  opt_.early_stop_metric +
                                                  " to keep (see training_log.json)");
  if (!quiet())
    common::log(LogLevel::info, "vocoder train: %d epochs; best held-out %s %.3f at epoch %d -> %s", epoch_,
                opt_.early_stop_metric.c_str(), best_, best_epoch_, out("vocoder_final.pt").c_str());
}

}  // namespace

namespace torch_backend {

void train_vocoder(const VocoderTrainOptions& options) {
  Trainer trainer(options);
  try {
    trainer.run();
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    if (is_out_of_memory(what))
      throw Error(options.out_dir + ": out of memory at --batch-size " + std::to_string(options.batch_size) +
                  ": lower --batch-size");
    throw Error(options.out_dir + ": " + what);
  }
}

}  // namespace torch_backend

}  // namespace acoustok
