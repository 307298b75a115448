// SPDX-License-Identifier: MIT
// configure_process with LibTorch: its intra-op thread count (which OpenMP
// and oneDNN inside it follow) and the allocator.
#include <torch/torch.h>

#include "common/process.hpp"

namespace acoustok {

void configure_process(const ProcessOptions& options) {
  // 0: every CPU this process may use (LibTorch's own default is 1 on some
  // of the machines acoustok runs on).
  torch::set_num_threads(options.threads > 0 ? options.threads : available_cpus());
  if (options.tune_allocator) common::apply_allocator_settings();
}

std::string process_report() {
  // oneDNN inside LibTorch runs on LibTorch's OpenMP threads.
  return common::cpu_report() + "; threads: LibTorch " + std::to_string(torch::get_num_threads()) + ", OpenMP " +
         std::to_string(at::get_num_threads()) + " (oneDNN follows OpenMP), inter-op " +
         std::to_string(torch::get_num_interop_threads()) + "; allocator tuned: " +
         (common::allocator_tuned() ? "yes" : "no");
}

}  // namespace acoustok
