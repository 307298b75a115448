// SPDX-License-Identifier: MIT
// Tests of the hand-written kernels at every instruction-set level this CPU
// runs: the test program runs again under ACOUSTOK_MAX_CPU_ISA=level
// (common/cpu_isa.hpp: read once per process, so a level needs a process).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/cpu_isa.hpp"
#include "test_util.hpp"

namespace acoustok::test {

// The levels this CPU runs, lowest first.
inline std::vector<std::string> cpu_isa_levels() {
  std::vector<std::string> levels;
  for (auto level : {common::CpuIsa::generic, common::CpuIsa::avx2, common::CpuIsa::avx512}) {
    if (level <= common::detected_cpu_isa()) levels.push_back(common::cpu_isa_name(level));
  }
  return levels;
}

// Whether this process runs under ACOUSTOK_MAX_CPU_ISA: a re-run (or a whole
// run capped on purpose), where the tests that re-run others skip themselves.
inline bool cpu_isa_capped_run() { return std::getenv(common::kMaxCpuIsaVariable) != nullptr; }

// Runs this test program again with ACOUSTOK_MAX_CPU_ISA=level and only the
// tests that match `filter` (--gtest_filter); returns its exit status and
// fills its output. `extra_env`: more NAME=VALUE words for it.
inline int rerun_at_cpu_isa(const std::string& level, const std::string& filter, std::string* output,
                            const std::string& extra_env = "") {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  return run_command(std::string(common::kMaxCpuIsaVariable) + "=" + level + " " + extra_env + " '" + self +
                         "' --gtest_filter='" + filter + "'",
                     output);
}

}  // namespace acoustok::test
