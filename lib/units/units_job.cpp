// SPDX-License-Identifier: MIT
#include "acoustok/units_job.hpp"
#include "acoustok/frame_grid.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "acoustok/error.hpp"
#include "common/log_printf.hpp"
#include "common/fs_util.hpp"
#include "common/progress.hpp"
#include "acoustok/tensor_file.hpp"
#include "acoustok/unit_text.hpp"
#include "units/feature_cache.hpp"
#include "units/segment_list.hpp"
#include "units/units_checkpoint.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace acoustok {
namespace {

using units::AppendFile;
using units::bad;
using units::BadState;
using units::brief;
using units::CacheMap;
using units::check_consistency;
using units::Checkpoint;
using units::checkpoint_from_json;
using units::checkpoint_json;
using units::half_table;
using units::kFeatureCache;
using units::kNpyHeaderBytes;
using units::list_segments;
using units::map_features;
using units::npy_f16_header;
using units::number_at;
using units::option_differences;
using units::options_json;
using units::read_segment_index;
using units::SegmentRecord;
using units::SourceInfo;
using units::string_at;

double round_time(double t) { return std::round(t * 1e6) / 1e6; }

// --dedup: a segment's frame units -> one per run, with its length and first
// frame; a run longer than an entry of binary reduced units holds
// (kMaxRunFrames) is several entries, as there.
void reduce_runs(std::vector<int>* ids, std::vector<int64_t>* durations, std::vector<int64_t>* starts) {
  std::vector<int> units;
  std::vector<int64_t> lengths;
  collapse_repeats(*ids, &units, &lengths);
  ids->clear();
  int64_t at = 0;
  for (size_t r = 0; r < units.size(); ++r) {
    for (int64_t left = lengths[r]; left > 0; left -= kMaxRunFrames) {
      ids->push_back(units[r]);
      durations->push_back(std::min(left, kMaxRunFrames));
      starts->push_back(at);
      at += durations->back();
    }
  }
}

const char* const kRestartHint = "rerun with --restart to start over";

class UnitsJob {
 public:
  UnitsJob(const UnitsJobOptions& o, const SegmentFeatureFn& fn) : o_(o), fn_(fn) {
    if (!o_.kmeans_model.empty()) {
      given_ = std::make_unique<KMeansModel>(KMeansModel::load(o_.kmeans_model));
      o_.kmeans.k = static_cast<int>(given_->k());
    }
    o_.kmeans.validate();
    if (o_.shard_count < 1 || o_.shard_index < 0 || o_.shard_index >= o_.shard_count)
      throw Error("--shard must be I/N with 0 <= I < N");
    out_ = fs::path(o_.out_dir);
    // Shards run side by side: each keeps its own cache and checkpoint,
    // which the final unsharded run takes the features from.
    if (o_.shard_count > 1)
      out_ /= fs::path("shards") / (std::to_string(o_.shard_index) + "-of-" + std::to_string(o_.shard_count));
    cache_ = out_ / "cache";
    last_checkpoint_ = std::chrono::steady_clock::now();
  }

  UnitsJobResult run() {
    std::vector<std::string> names = list_segments(o_.segments_dir, &unusable_names_);
    // Records may name any segment of the folder (a segment added since
    // moves the --shard shares), never a file outside it.
    all_names_ = std::set<std::string>(names.begin(), names.end());
    if (o_.shard_count > 1) {
      std::vector<std::string> mine;
      for (size_t i = 0; i < names.size(); ++i)
        if (static_cast<int>(i % static_cast<size_t>(o_.shard_count)) == o_.shard_index)
          mine.push_back(names[i]);
      names.swap(mine);
    }
    if (names.empty()) throw file_error(o_.segments_dir, "no .wav segments to process");
    index_ = read_segment_index(o_.segments_dir);

    std::error_code ec;
    fs::create_directories(out_, ec);
    if (ec) throw file_error(out_.string(), "cannot create: " + ec.message());
    // One run at a time per folder (shards each lock their own).
    lock_ = std::make_unique<common::DirLock>(
        out_.string(), o_.shard_count > 1 ? "units --shard " + std::to_string(o_.shard_index) + "/" +
                                                std::to_string(o_.shard_count)
                                          : std::string("units"));
    if (lock_->took_over_stale() && !o_.quiet)
      common::log(LogLevel::info, "units: %s: the run before this one was killed; taking over its folder",
                  out_.c_str());
    if (o_.restart) start_over();
    fs::create_directories(cache_, ec);
    if (ec) throw file_error(cache_.string(), "cannot create: " + ec.message());
    load_checkpoint();

    if (ck_.phase == "features") features_phase(names);
    if (o_.shard_count > 1) return summary(false);
    if (ck_.phase == "kmeans") kmeans_phase();
    if (ck_.phase == "units") units_phase();
    if (resumed_done_) {
      if (!outputs_exist()) {
        // The cache still holds every unit: the outputs come back as they were.
        if (!o_.quiet)
          common::log(LogLevel::info, "units: %s: writing the missing outputs again", o_.out_dir.c_str());
        write_outputs(KMeansModel(ck_.km.centroids, o_.kmeans.k, ck_.dim));
      } else if (!o_.quiet) {
        common::log(LogLevel::info, "units: %s is already complete", o_.out_dir.c_str());
      }
    }
    return summary(true);
  }

 private:
  UnitsJobResult summary(bool complete) const {
    UnitsJobResult r;
    r.complete = complete;
    for (const auto& s : ck_.segments) {
      if (s.error.empty())
        ++r.segments;
      else
        ++r.skipped;
      r.frames += s.frames;
    }
    r.skipped += unusable_names_;
    r.inertia = ck_.inertia;
    return r;
  }

  static constexpr const char* kOutputs[] = {"kmeans.safetensors", "corpus_timestamped.json",
                                             "all_units_for_bpe.txt"};

  bool outputs_exist() const {
    std::error_code ec;
    for (const char* name : kOutputs)
      if (!fs::exists(out_ / name, ec)) return false;
    return true;
  }

  // --restart: everything an earlier run left in this folder goes (not the
  // --shard runs' folders: those are other runs' state).
  void start_over() {
    std::error_code ec;
    for (const char* name : {"checkpoint.json", "processed_files.txt"}) fs::remove(out_ / name, ec);
    for (const char* name : kOutputs) fs::remove(out_ / name, ec);
    fs::remove_all(cache_, ec);
    if (ec) throw file_error(cache_.string(), "cannot remove for --restart: " + ec.message());
    if (!o_.quiet) common::log(LogLevel::info, "units: --restart: starting %s over", out_.c_str());
  }

  std::string checkpoint_path() const { return (out_ / "checkpoint.json").string(); }

  void load_checkpoint() {
    ck_.options = options_json(o_);
    std::error_code ec;
    if (!fs::exists(checkpoint_path(), ec)) return;
    Checkpoint old;
    const std::string text = common::read_text_file(checkpoint_path());
    json j;
    try {
      j = json::parse(text);
    } catch (const json::exception&) {
      throw file_error(checkpoint_path(),
                       std::string("not valid JSON (a damaged checkpoint); ") + kRestartHint);
    }
    try {
      old = checkpoint_from_json(j);
    } catch (const BadState& b) {
      throw file_error(checkpoint_path(), b.what + "; " + kRestartHint);
    } catch (const json::exception& e) {
      throw file_error(checkpoint_path(),
                       std::string("unreadable checkpoint (") + e.what() + "); " + kRestartHint);
    }
    if (old.options != ck_.options) {
      throw file_error(checkpoint_path(), "made by a run with other options (" +
                                              option_differences(old.options, ck_.options) +
                                              "); use another output folder or " + kRestartHint);
    }
    try {
      check_consistency(old, all_names_, cache_, o_.shard_count > 1, o_.kmeans.k);
      if (given_ && old.have_kmeans && old.km.centroids != given_->centroids())
        bad("kmeans.centroids", "differ from those of " + o_.kmeans_model);
    } catch (const BadState& b) {
      throw file_error(checkpoint_path(), b.what + "; " + kRestartHint);
    }
    check_processed_list(old);
    ck_ = std::move(old);
    resumed_done_ = ck_.phase == "done";
    if (!o_.quiet && !resumed_done_) {
      common::log(LogLevel::info, "units: resuming from %s (phase %s, %zu segments cached)",
                  checkpoint_path().c_str(), ck_.phase.c_str(), ck_.segments.size());
    }
  }

  // processed_files.txt lists the checkpoint's processed segments; being
  // written just after it, it may still be the previous checkpoint's list:
  // a prefix of the records. Anything else was edited or is another run's.
  void check_processed_list(const Checkpoint& c) const {
    const std::string path = (out_ / "processed_files.txt").string();
    std::error_code ec;
    if (!fs::exists(path, ec)) return;  // written again at the next checkpoint
    std::string expected;
    for (const auto& s : c.segments)
      if (s.error.empty()) expected += s.file + "\n";
    const std::string text = common::read_text_file(path);
    if (text.size() <= expected.size() && expected.compare(0, text.size(), text) == 0 &&
        (text.empty() || text.back() == '\n'))
      return;
    size_t same = 0;
    while (same < text.size() && same < expected.size() && text[same] == expected[same]) ++same;
    const size_t line =
        static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(same), '\n'));
    const size_t begin = text.rfind('\n', same == 0 ? 0 : same - 1);
    const size_t from = same == 0 || begin == std::string::npos ? 0 : begin + 1;
    const std::string quoted = text.substr(from, text.find('\n', from) - from);
    throw file_error(path, "line " + std::to_string(line + 1) + " (" + brief(json(printable(quoted))) +
                               ") is not what checkpoint.json says was processed there; " + kRestartHint);
  }

  // Caches are flushed (write(2) hands them to the kernel: a killed process
  // loses nothing written), then the checkpoint replaces the old one.
  void save_checkpoint() {
    if (write_cache_header_) write_cache_header_();
    common::write_text_file(checkpoint_path(), checkpoint_json(ck_).dump());
    std::string names;
    for (const auto& s : ck_.segments)
      if (s.error.empty()) names += s.file + "\n";
    common::write_text_file((out_ / "processed_files.txt").string(), names);
    last_checkpoint_ = std::chrono::steady_clock::now();
  }

  void maybe_checkpoint() {
    const double since =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - last_checkpoint_).count();
    if (since >= o_.checkpoint_every) save_checkpoint();
  }

  // Features that --shard runs have cached: file -> (shard cache, row, frames).
  struct ShardRows {
    std::shared_ptr<CacheMap> map;
    int64_t row, frames, dim;
  };
  std::map<std::string, ShardRows> shard_features() const {
    std::map<std::string, ShardRows> out;
    std::error_code ec;
    const fs::path shards = out_ / "shards";
    if (o_.shard_count > 1 || !fs::is_directory(shards, ec)) return out;
    for (const auto& e : fs::directory_iterator(shards, ec)) {
      const std::string ck_path = (e.path() / "checkpoint.json").string();
      if (!fs::exists(ck_path, ec)) continue;
      const std::string hint = "; rerun that --shard with --restart, or remove " + e.path().string();
      Checkpoint c;
      try {
        c = checkpoint_from_json(json::parse(common::read_text_file(ck_path)));
      } catch (const json::exception&) {
        throw file_error(ck_path, "not valid JSON (a damaged checkpoint)" + hint);
      } catch (const BadState& b) {
        throw file_error(ck_path, b.what + hint);
      }
      json mine = ck_.options, theirs = c.options;
      // The cached features do not depend on --dedup either.
      for (const char* key : {"shard", "dedup"}) {
        mine.erase(key);
        theirs.erase(key);
      }
      if (mine != theirs || c.dim == 0) continue;  // another job's shard
      try {
        check_consistency(c, all_names_, e.path() / "cache", true, o_.kmeans.k);
      } catch (const BadState& b) {
        throw file_error(ck_path, b.what + hint);
      }
      std::shared_ptr<CacheMap> map = map_features(e.path() / "cache", c.feature_rows, c.dim, false);
      for (const auto& r : c.segments)
        if (r.error.empty()) out[r.file] = {map, r.row, r.frames, c.dim};
    }
    return out;
  }

  void features_phase(const std::vector<std::string>& names) {
    const auto from_shards = shard_features();
    if (!from_shards.empty() && !o_.quiet)
      common::log(LogLevel::info, "units: %zu segments' features come from --shard runs", from_shards.size());
    std::set<std::string> done;
    for (const auto& s : ck_.segments) done.insert(s.file);
    AppendFile cache((cache_ / kFeatureCache).string(),
                     static_cast<int64_t>(kNpyHeaderBytes) + ck_.feature_rows * ck_.dim * 2);
    // Each checkpoint first makes the header say how many rows it covers.
    write_cache_header_ = [&] {
      const std::string h = npy_f16_header(ck_.feature_rows, ck_.dim);
      cache.write_at(0, h.data(), h.size());
    };
    write_cache_header_();
    common::Progress progress("features", static_cast<int64_t>(names.size()), !o_.quiet);
    progress.add(static_cast<int64_t>(done.size()));
    std::vector<uint16_t> halfs;
    for (const auto& name : names) {
      if (done.count(name)) continue;
      const std::string path = (fs::path(o_.segments_dir) / name).string();
      SegmentRecord rec{name, ck_.feature_rows, 0, ""};
      try {
        Features f;
        const auto shard = from_shards.find(name);
        if (shard != from_shards.end()) {
          const ShardRows& r = shard->second;
          f.frames = r.frames;
          f.dim = r.dim;
          f.data.resize(static_cast<size_t>(r.frames * r.dim));
          const uint16_t* src = r.map->halfs() + r.row * r.dim;
          for (size_t j = 0; j < f.data.size(); ++j) f.data[j] = half_table()[src[j]];
        } else {
          f = fn_(path);
        }
        if (f.frames < 0 || f.data.size() != static_cast<size_t>(f.frames * f.dim))
          throw file_error(path, "feature extractor returned a malformed matrix");
        if (f.frames > 0) {
          if (ck_.dim == 0) ck_.dim = f.dim;
          if (f.dim != ck_.dim)
            throw file_error(path, "feature dimension " + std::to_string(f.dim) + " differs from " +
                                       std::to_string(ck_.dim) + " of the earlier segments");
          check_finite(f.data.data(), f.frames, f.dim, path + ": features");
          halfs.resize(f.data.size());
          for (size_t i = 0; i < f.data.size(); ++i) {
            halfs[i] = float_to_half(f.data[i]);
            if ((halfs[i] & 0x7c00u) == 0x7c00u)
              throw file_error(path, "feature value " + std::to_string(f.data[i]) +
                                         " is outside the float16 range of the cache");
          }
          cache.append(halfs.data(), halfs.size() * 2);
        }
        rec.frames = f.frames;
        ck_.feature_rows += f.frames;
      } catch (const std::exception& e) {
        rec.error = e.what();
        common::log(LogLevel::warning, "acoustok: %s (skipped)", e.what());
      }
      ck_.segments.push_back(std::move(rec));
      progress.add(1);
      maybe_checkpoint();
    }
    progress.finish();
    ck_.phase = o_.shard_count > 1 ? "shard-done" : "kmeans";
    save_checkpoint();
    write_cache_header_ = nullptr;
  }

  void kmeans_phase() {
    const int64_t n = ck_.feature_rows, dim = ck_.dim;
    if (given_) {
      if (given_->dim() != dim) {
        throw file_error(o_.kmeans_model, "centroids of dimension " + std::to_string(given_->dim()) +
                                              ", but the features have " + std::to_string(dim));
      }
      ck_.km = KMeansState{};
      ck_.km.k = given_->k();
      ck_.km.dim = dim;
      ck_.km.centroids = given_->centroids();
      ck_.km.counts.assign(static_cast<size_t>(given_->k()), 0.0);
      ck_.have_kmeans = true;
      ck_.phase = "units";
      ck_.units_done = 0;
      ck_.inertia = 0;
      save_checkpoint();
      return;
    }
    if (n < o_.kmeans.k) {
      throw file_error(o_.segments_dir, "k=" + std::to_string(o_.kmeans.k) +
                                            " is larger than the number of feature frames (" +
                                            std::to_string(n) + ")");
    }
    const auto map = map_features(cache_, n, dim, true);
    const uint16_t* halfs = map->halfs();
    const std::vector<float>& table = half_table();
    const RowReader read = [&](const int64_t* rows, int64_t count, float* out) {
      for (int64_t i = 0; i < count; ++i) {
        const uint16_t* src = halfs + rows[i] * dim;
        for (int64_t d = 0; d < dim; ++d) out[i * dim + d] = table[src[d]];
      }
    };
    MiniBatchKMeans km(dim, o_.kmeans);
    if (ck_.have_kmeans) {
      km.set_state(ck_.km);
    } else {
      km.init(n, read);
      ck_.km = km.state();
      ck_.have_kmeans = true;
      save_checkpoint();
    }
    common::Progress progress("kmeans steps (at most)", km.total_steps(n), !o_.quiet);
    progress.add(km.state().steps);
    km.run_steps(n, read, [&]() {
      progress.add(1);
      const double since =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - last_checkpoint_).count();
      if (since >= o_.checkpoint_every) {
        ck_.km = km.state();
        save_checkpoint();
      }
      return true;
    });
    progress.finish();
    ck_.km = km.state();
    ck_.phase = "units";
    ck_.units_done = 0;
    ck_.inertia = 0;
    save_checkpoint();
  }

  void units_phase() {
    const int64_t dim = ck_.dim;
    const KMeansModel model(ck_.km.centroids, o_.kmeans.k, dim);
    const auto map = map_features(cache_, ck_.feature_rows, dim, false);
    int64_t unit_rows = 0;
    for (int64_t i = 0; i < ck_.units_done; ++i) unit_rows += ck_.segments[static_cast<size_t>(i)].frames;
    {
      AppendFile units((cache_ / "units.u16").string(), unit_rows * 2);
      const std::vector<float>& table = half_table();
      common::Progress progress("units", static_cast<int64_t>(ck_.segments.size()), !o_.quiet);
      progress.add(ck_.units_done);
      std::vector<float> x;
      std::vector<int32_t> labels;
      std::vector<uint16_t> u;
      while (ck_.units_done < static_cast<int64_t>(ck_.segments.size())) {
        const SegmentRecord& rec = ck_.segments[static_cast<size_t>(ck_.units_done)];
        if (rec.error.empty() && rec.frames > 0) {
          x.resize(static_cast<size_t>(rec.frames * dim));
          const uint16_t* src = map->halfs() + rec.row * dim;
          for (size_t j = 0; j < x.size(); ++j) x[j] = table[src[j]];
          labels.resize(static_cast<size_t>(rec.frames));
          ck_.inertia += model.predict(x.data(), rec.frames, labels.data(), o_.kmeans.threads);
          u.assign(labels.begin(), labels.end());
          units.append(u.data(), u.size() * 2);
        }
        ++ck_.units_done;
        progress.add(1);
        maybe_checkpoint();
      }
      progress.finish();
    }
    write_outputs(model);
    ck_.phase = "done";
    save_checkpoint();
  }

  void write_outputs(KMeansModel model) {
    // Never a model file that acoustok itself would refuse.
    check_finite(model.centroids().data(), model.k(), model.dim(), checkpoint_path() + ": k-means centroids");
    if (!std::isfinite(ck_.inertia))
      throw file_error(checkpoint_path(), "inertia is not finite; " + std::string(kRestartHint));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", ck_.inertia);
    model.metadata() = {{"feature_model", o_.feature_model},
                        {"layer", std::to_string(o_.layer)},
                        {"inertia", buf},
                        {"frames", std::to_string(ck_.feature_rows)},
                        {"steps", std::to_string(ck_.km.steps)},
                        {"seed", std::to_string(o_.kmeans.seed)}};
    if (o_.feature_model_stand_in) model.metadata()["feature_model_stand_in"] = "true";
    if (o_.kmeans.rng == KMeansRng::numpy) model.metadata()["rng"] = "numpy";
    if (given_) {
      model.metadata().erase("rng");
      model.metadata().erase("steps");
      model.metadata().erase("seed");
      model.metadata()["kmeans_model"] = o_.kmeans_model;
    }
    model.save((out_ / "kmeans.safetensors").string());

    int64_t total_units = 0;
    for (const auto& s : ck_.segments) total_units += s.error.empty() ? s.frames : 0;
    CacheMap units((cache_ / "units.u16").string(), static_cast<size_t>(total_units * 2));
    // Records hold feature rows; units were appended in the same order with
    // the same counts, so a record's first unit is at its feature row.
    std::vector<size_t> order;
    for (size_t i = 0; i < ck_.segments.size(); ++i)
      if (ck_.segments[i].error.empty()) order.push_back(i);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return ck_.segments[a].file < ck_.segments[b].file; });

    common::AtomicFile json_out((out_ / "corpus_timestamped.json").string());
    common::AtomicFile text_out((out_ / "all_units_for_bpe.txt").string());
    {
      std::ofstream js(json_out.temp_path(), std::ios::binary), tx(text_out.temp_path(), std::ios::binary);
      if (!js || !tx)
        throw file_error(o_.out_dir, std::string("cannot write outputs: ") + std::strerror(errno));
      js << "{\"feature_model\": " << json(o_.feature_model).dump()
         << (o_.feature_model_stand_in ? ", \"feature_model_stand_in\": true" : "")
         << ", \"layer\": " << o_.layer << ", \"k\": " << o_.kmeans.k
         << ", \"frame_rate\": " << grid::kFrameRate << (o_.dedup ? ", \"dedup\": true" : "")
         << ", \"segments\": [";
      bool first = true;
      for (size_t i : order) {
        const SegmentRecord& rec = ck_.segments[i];
        const auto info = index_.find(rec.file);
        const json source = info != index_.end() ? info->second.source : json(nullptr);
        const double offset = info != index_.end() ? info->second.start : 0.0;
        const uint16_t* frames = units.halfs() + rec.row;
        std::vector<int> ids(frames, frames + rec.frames);
        // Reduced: one entry per run, timed at its first frame.
        std::vector<int64_t> durations, starts;
        if (o_.dedup) {
          reduce_runs(&ids, &durations, &starts);
        } else {
          for (int64_t f = 0; f < rec.frames; ++f) starts.push_back(f);
        }
        std::vector<double> unit_times(ids.size()), source_times(ids.size());
        std::string line;
        for (size_t j = 0; j < ids.size(); ++j) {
          const double t = grid::kFrameSeconds * static_cast<double>(starts[j]);
          unit_times[j] = round_time(t);
          source_times[j] = round_time(offset + t);
          if (j) line += ' ';
          line += std::to_string(ids[j]);
        }
        ordered_json seg;
        seg["file"] = rec.file;
        seg["source"] = source;
        seg["offset"] = offset;
        seg["units"] = ids;
        if (o_.dedup) seg["durations"] = durations;
        seg["unit_times"] = unit_times;
        seg["source_times"] = source_times;
        js << (first ? "\n" : ",\n") << seg.dump();
        tx << line << '\n';
        first = false;
      }
      js << "\n]}\n";
      js.flush();
      tx.flush();
      if (!js || !tx) throw file_error(o_.out_dir, "writing outputs failed (disk full?)");
    }
    json_out.commit();
    text_out.commit();
  }

  UnitsJobOptions o_;
  const SegmentFeatureFn& fn_;
  fs::path out_, cache_;
  std::unique_ptr<KMeansModel> given_;        // --kmeans
  std::function<void()> write_cache_header_;  // during the features phase
  Checkpoint ck_;
  std::unique_ptr<common::DirLock> lock_;  // held for the whole run
  std::set<std::string> all_names_;        // the segment files of the folder
  int64_t unusable_names_ = 0;             // files skipped for their names
  bool resumed_done_ = false;
  std::map<std::string, SourceInfo> index_;
  std::chrono::steady_clock::time_point last_checkpoint_;
};

}  // namespace

UnitsJobResult run_units_job(const UnitsJobOptions& options, const SegmentFeatureFn& features) {
  UnitsJob job(options, features);
  return job.run();
}

}  // namespace acoustok
