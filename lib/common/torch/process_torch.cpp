// SPDX-License-Identifier: MIT
// configure_process with LibTorch: its intra-op thread count (which OpenMP
// and oneDNN inside it follow) and the allocator.
#include <torch/torch.h>

#include "common/process.hpp"

namespace acoustok {

void configure_process(const ProcessOptions& options) {
  if (options.threads > 0) torch::set_num_threads(options.threads);
  if (options.tune_allocator) common::apply_allocator_settings();
}

}  // namespace acoustok
