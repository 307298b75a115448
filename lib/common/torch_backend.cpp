// SPDX-License-Identifier: MIT
#include "common/torch_backend.hpp"

#include <dlfcn.h>

#include <mutex>

#include "acoustok/error.hpp"
#include "common/library_loader.hpp"
#include "common/process.hpp"
#include "config.h"

namespace acoustok {
namespace common {
namespace {

std::mutex backend_mutex;
const TorchBackend* backend = nullptr;
int requested_threads = -1;  // what configure_process asked for; -1: never called

#if HAVE_TORCH
// libacoustok-torch beside this library, else wherever the dynamic loader
// finds it. With RTLD_NOLOAD: only if the process has it already (a program
// linked with it).
void* open_torch_library(std::string& why, int extra_flags = 0) {
  return open_library_beside(reinterpret_cast<const void*>(&torch_backend), "libacoustok-torch.so." ACOUSTOK_SOVERSION,
                             RTLD_NOW | RTLD_LOCAL | extra_flags, why);
}

// The library's table, the requested threads applied (backend_mutex held).
const TorchBackend* attach(void* handle) {
  using Getter = const TorchBackend* (*)();
  auto get = reinterpret_cast<Getter>(dlsym(handle, "acoustok_torch_backend"));
  const TorchBackend* table = get ? get() : nullptr;
  if (!table || table->abi != kTorchBackendAbi)
    throw Error("libacoustok-torch does not match this libacoustok (a mixed installation?)");
  if (requested_threads >= 0) table->set_threads(requested_threads > 0 ? requested_threads : available_cpus());
  backend = table;
  return table;
}
#endif

}  // namespace

const TorchBackend& torch_backend() {
  std::lock_guard<std::mutex> lock(backend_mutex);
  if (backend) return *backend;
#if HAVE_TORCH
  std::string why;
  void* handle = open_torch_library(why);
  if (!handle) throw Error("cannot load acoustok's LibTorch library (feature model, vocoder): " + why);
  attach(handle);
  return *backend;
#else
  throw Error("this acoustok was built without LibTorch: feature extraction and the vocoder are unavailable");
#endif
}

const TorchBackend* loaded_torch_backend() {
  std::lock_guard<std::mutex> lock(backend_mutex);
  return backend;
}

}  // namespace common

// The public entry points LibTorch implements.

std::unique_ptr<FeatureExtractor> FeatureExtractor::load(const std::string& model_dir, const FeatureOptions& options) {
  const common::TorchBackend* b = nullptr;
  try {
    b = &common::torch_backend();
  } catch (const Error& e) {
    throw file_error(model_dir, e.what());
  }
  return b->load_features(model_dir, options);
}

std::unique_ptr<Vocoder> Vocoder::load(const std::string& checkpoint, const std::string& device,
                                       const std::string& released_config) {
  const common::TorchBackend* b = nullptr;
  try {
    b = &common::torch_backend();
  } catch (const Error& e) {
    throw file_error(checkpoint, e.what());
  }
  return b->load_vocoder(checkpoint, device, released_config);
}

void train_vocoder(const VocoderTrainOptions& options) { common::torch_backend().train_vocoder(options); }

bool bf16_supported() {
#if HAVE_TORCH
  // A question, not a request: without the LibTorch part nothing runs bf16.
  try {
    return common::torch_backend().bf16_supported();
  } catch (const Error&) {
    return false;
  }
#else
  return false;
#endif
}

void configure_process(const ProcessOptions& options) {
  if (options.tune_allocator) common::apply_allocator_settings();
  const int threads = usable_threads(options.threads);  // may warn: before the lock
  std::lock_guard<std::mutex> lock(common::backend_mutex);
  common::requested_threads = threads;
#if HAVE_TORCH
  // A program linked with libacoustok-torch (benchmarks, tests, embedders
  // that use the models' classes directly) never passes through a load that
  // would apply the threads: its LibTorch is here now, so apply them now.
  std::string unused;
  if (!common::backend) {
    if (void* handle = common::open_torch_library(unused, RTLD_NOLOAD)) common::attach(handle);
  }
#endif
  if (common::backend) common::backend->set_threads(common::requested_threads);
}

std::string process_report() {
  const common::TorchBackend* b = common::loaded_torch_backend();
#if HAVE_TORCH
  std::string torch = b ? b->thread_report() : "LibTorch not loaded yet (the first model loads it)";
  if (!b && common::requested_threads >= 0)
    torch += "; it will run " + std::to_string(common::requested_threads > 0 ? common::requested_threads : available_cpus()) +
             " threads (OpenMP and oneDNN follow)";
#else
  const std::string torch = "no LibTorch in this build";
#endif
  return common::cpu_report() + "; " + torch + "; allocator tuned: " + (common::allocator_tuned() ? "yes" : "no");
}

}  // namespace acoustok
