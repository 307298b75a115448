// SPDX-License-Identifier: MIT
#include "common/torch_backend.hpp"

#include <dlfcn.h>

#include <mutex>

#include "acoustok/error.hpp"
#include "common/cpu_isa.hpp"
#include "common/library_loader.hpp"
#include "common/malloc_tuning.hpp"
#include "config.h"

namespace acoustok {
namespace common {
namespace {

// The loaded table and the threads configure_process asked for: read and
// written only with `mutex` held (any thread may load a model or ask).
struct BackendState {
  std::mutex mutex;
  const TorchBackend* table = nullptr;
  int requested_threads = -1;  // -1: configure_process never asked
};

BackendState& state() {
  static BackendState s;
  return s;
}

#if HAVE_TORCH
// libacoustok-torch beside this library, else wherever the dynamic loader
// finds it. With RTLD_NOLOAD: only if the process has it already (a program
// linked with it).
void* open_torch_library(std::string& why, int extra_flags = 0) {
  return open_library_beside(reinterpret_cast<const void*>(&torch_backend),
                             "libacoustok-torch.so." ACOUSTOK_SOVERSION, RTLD_NOW | RTLD_LOCAL | extra_flags,
                             why);
}

// The library's table, the requested threads applied (state().mutex held).
const TorchBackend* attach(BackendState& s, void* handle) {
  using Getter = const TorchBackend* (*)();
  auto get = reinterpret_cast<Getter>(dlsym(handle, "acoustok_torch_backend"));
  const TorchBackend* table = get ? get() : nullptr;
  if (!table || table->abi != kTorchBackendAbi)
    throw Error("libacoustok-torch does not match this libacoustok (a mixed installation?)");
  if (s.requested_threads >= 0)
    table->set_threads(s.requested_threads > 0 ? s.requested_threads : available_cpus());
  s.table = table;
  return table;
}
#endif

}  // namespace

const TorchBackend& torch_backend() {
  BackendState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.table) return *s.table;
#if HAVE_TORCH
  std::string why;
  void* handle = open_torch_library(why);
  if (!handle) throw Error("cannot load acoustok's LibTorch library (feature model, vocoder): " + why);
  return *attach(s, handle);
#else
  throw Error("this acoustok was built without LibTorch: feature extraction and the vocoder are unavailable");
#endif
}

const TorchBackend& torch_backend_for(const std::string& file) {
  try {
    return torch_backend();
  } catch (const Error& e) {
    throw file_error(file, e.what());
  }
}

const TorchBackend* loaded_torch_backend() {
  BackendState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.table;
}

std::string torch_report() {
#if HAVE_TORCH
  BackendState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.table) return s.table->thread_report();
  std::string report = "LibTorch not loaded yet (the first model loads it)";
  if (s.requested_threads >= 0)
    report += "; it will run " +
              std::to_string(s.requested_threads > 0 ? s.requested_threads : available_cpus()) +
              " threads (OpenMP and oneDNN follow)";
  return report;
#else
  return "no LibTorch in this build";
#endif
}

}  // namespace common

void configure_process(const ProcessOptions& options) {
  common::cpu_isa();  // refuses a bad ACOUSTOK_MAX_CPU_ISA before any work
  if (options.tune_allocator) common::apply_allocator_settings();
  const int threads = usable_threads(options.threads);  // may warn: before the lock
  common::BackendState& s = common::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.requested_threads = threads;
#if HAVE_TORCH
  // A program linked with libacoustok-torch (benchmarks, tests, embedders
  // that use the models' classes directly) never passes through a load that
  // would apply the threads: its LibTorch is here now, so apply them now.
  std::string unused;
  if (!s.table) {
    if (void* handle = common::open_torch_library(unused, RTLD_NOLOAD)) common::attach(s, handle);
  }
#endif
  if (s.table) s.table->set_threads(s.requested_threads);
}

}  // namespace acoustok
