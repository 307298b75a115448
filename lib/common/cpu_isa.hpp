// SPDX-License-Identifier: MIT
// The instruction-set level of every hand-written kernel (k-means distances,
// the feature model's row kernels, the vocoder's grouped convolutions) and of
// our oneDNN primitives: the widest level this CPU runs, capped by
// ACOUSTOK_MAX_CPU_ISA=generic|avx2|avx512 in the environment (read once per
// process, as oneDNN reads ONEDNN_MAX_CPU_ISA), so that an AVX-512 machine
// runs and tests the AVX2 and portable paths too.
#pragma once

#include <string>

namespace acoustok::common {

// Ordered: a kernel variant of level L runs wherever cpu_isa() >= L.
enum class CpuIsa {
  generic = 0,  // plain C++ (what the compiler's baseline gives)
  avx2 = 1,     // AVX2 + FMA + F16C (Haswell, Zen 1-3)
  avx512 = 2,   // that + AVX-512 F, DQ, VL, BW (Skylake-SP, Ice Lake, Zen 4)
};

inline constexpr const char* kMaxCpuIsaVariable = "ACOUSTOK_MAX_CPU_ISA";

// The widest level this CPU runs.
CpuIsa detected_cpu_isa();
// detected_cpu_isa(), lowered to ACOUSTOK_MAX_CPU_ISA when set. Throws
// acoustok::Error naming the variable when its value is none of the levels.
CpuIsa cpu_isa();
// Whether ACOUSTOK_MAX_CPU_ISA lowers the level (false when unset or not below
// the CPU's); throws as cpu_isa() does.
bool cpu_isa_capped();
const char* cpu_isa_name(CpuIsa isa);
// One line for logs and benchmarks, e.g. "avx2 (CPU: avx512, ACOUSTOK_MAX_CPU_ISA=avx2)".
std::string cpu_isa_report();

}  // namespace acoustok::common
