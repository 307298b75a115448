// SPDX-License-Identifier: MIT
// The LibTorch half of acoustok (libacoustok-torch: the feature model, the
// vocoder) is loaded when a program first needs it, not when it starts:
// starting LibTorch costs time and memory (README.md, "Using acoustok from C++") that
// `acoustok segment`, `kmeans` and `units` with cached features never use.
// The public entry points it implements are defined in libacoustok, each in
// its phase's folder (FeatureExtractor::load and bf16_supported in
// features/features.cpp, Vocoder::load and train_vocoder in
// vocoder/vocoder.cpp; the LibTorch part of configure_process and
// process_report in torch_backend.cpp), and call through this table; a
// program that links libacoustok-torch itself gets the same one.
#pragma once

#include <memory>
#include <string>

#include "acoustok/features.hpp"
#include "acoustok/process.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_train.hpp"

namespace acoustok::common {

struct TorchBackend {
  int abi;  // kTorchBackendAbi of the library that filled it
  std::unique_ptr<FeatureExtractor> (*load_features)(const std::string& model_dir,
                                                     const FeatureOptions& options);
  std::unique_ptr<Vocoder> (*load_vocoder)(const std::string& checkpoint, const std::string& device,
                                           const std::string& released_config);
  void (*train_vocoder)(const VocoderTrainOptions& options);
  bool (*bf16_supported)();
  void (*set_threads)(int threads);  // LibTorch's intra-op threads (OpenMP, oneDNN follow)
  std::string (*thread_report)();    // "threads: LibTorch N, OpenMP N (...), inter-op N"
};

// Bumped whenever TorchBackend changes.
constexpr int kTorchBackendAbi = 1;

// libacoustok-torch's table ("acoustok_torch_backend", extern "C").
extern "C" const TorchBackend* acoustok_torch_backend();

// Loads libacoustok-torch (from libacoustok's own folder, else the loader's
// search path) on first call, applies the threads configure_process asked
// for, and returns its table; throws Error when this build has no LibTorch
// or the library cannot be loaded.
const TorchBackend& torch_backend();
// torch_backend(), its error prefixed with `file` (the model being loaded).
const TorchBackend& torch_backend_for(const std::string& file);
// The table if LibTorch is loaded already, else nullptr (loads nothing).
const TorchBackend* loaded_torch_backend();
// process_report's LibTorch part: its threads, or what it will run once loaded.
std::string torch_report();

}  // namespace acoustok::common
