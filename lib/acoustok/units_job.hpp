// SPDX-License-Identifier: MIT
// Phase 1 as a resumable job: features of every segment -> mini-batch
// k-means (or a given model) -> units of every segment, with timestamps
// (`acoustok units`).
//
// Memory does not grow with the corpus: features are cached on disk as
// float16 (DIR/cache/features.npy, NumPy-readable, rows appended in segment
// order) and read
// back through a memory map; k-means draws its mini-batches from that cache.
// float16 rather than recomputing because the feature model is by far the
// dominant cost (recomputing would double the run) while disk is cheap:
// 84 h of 1024-dim XLSR-53 features take ~31 GB instead of ~62 GB in
// float32, and float16's 11-bit mantissa moves a feature by < 0.05 %.
//
// Every --checkpoint-every seconds the job writes checkpoint.json and
// processed_files.txt (atomically, after flushing the caches); a rerun
// truncates the caches to what the checkpoint covers and continues. Every
// random draw of k-means depends only on (seed, step), so a resumed run ends
// with exactly the files of an uninterrupted one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "acoustok/features.hpp"
#include "acoustok/kmeans.hpp"

namespace acoustok {

// Features of one segment file (16 kHz mono WAV path) -> [frames, dim].
using SegmentFeatureFn = std::function<Features(const std::string& wav_path)>;

struct UnitsJobOptions {
  std::string segments_dir;
  std::string out_dir;
  std::string feature_model;  // name stored in the outputs
  // The feature model has random weights (models/make_demo_model.py marks its
  // config.json): the outputs say so (feature_model_stand_in), and so does
  // `acoustok report`.
  bool feature_model_stand_in = false;
  std::string precision = "fp32";  // of the features (a resumed run must not mix them)
  int layer = 14;
  KMeansOptions kmeans;
  // A fitted k-means model to apply instead of fitting one (any file
  // KMeansModel::load reads: kmeans.safetensors, .npy centroids, fairseq's
  // km.bin); its k replaces kmeans.k and the fitting options are unused.
  std::string kmeans_model;
  double checkpoint_every = 300;  // seconds; 0 = after every segment / step
  int shard_index = 0, shard_count = 1;
  bool quiet = false;
  // Reduced units (--dedup): each segment's runs of a repeated unit collapse
  // into one unit with its duration in frames (corpus_timestamped.json's
  // "durations"; "unit_times" then hold the start of every run), and
  // all_units_for_bpe.txt holds the collapsed lines. Runs never span two
  // segments. Only the outputs differ; a run must keep it on resume.
  bool dedup = false;
  // Start over: the checkpoint, caches and outputs of an earlier run in
  // out_dir are removed first (otherwise a run resumes, and refuses state
  // that does not fit together, naming the file and field).
  bool restart = false;
};

struct UnitsJobResult {
  int64_t segments = 0, skipped = 0, frames = 0;
  double inertia = 0;
  bool complete = false;  // false: a --shard run, whose features wait for the final run
};

// Runs (or resumes) the job. Throws acoustok::Error for a failed run
// (nothing usable in SEGMENTS_DIR, k > frames, a checkpoint of other
// options or one that does not fit its caches, another run holding
// out_dir's lock DIR/.acoustok.lock...); bad segments are reported on
// stderr by name and skipped.
UnitsJobResult run_units_job(const UnitsJobOptions& options, const SegmentFeatureFn& features);

}  // namespace acoustok
