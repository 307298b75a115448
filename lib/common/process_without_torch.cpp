// SPDX-License-Identifier: MIT
// configure_process of a build without LibTorch: only the allocator.
#include "common/process.hpp"

namespace acoustok {

void configure_process(const ProcessOptions& options) {
  if (options.tune_allocator) common::apply_allocator_settings();
}

std::string process_report() { return common::cpu_report() + "; no LibTorch in this build"; }

}  // namespace acoustok
