// SPDX-License-Identifier: MIT
#include "units/kernels.hpp"

#include "common/cpu_isa.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace acoustok::units {

bool cpu_has_f16c() {
#if defined(__x86_64__) || defined(__i386__)
  // cpuid leaf 1, ECX bit 29 (clang's __builtin_cpu_supports has no "f16c").
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
#else
  return false;
#endif
}

const Kernels& kernels() {
  // The variant of common::cpu_isa() (ACOUSTOK_MAX_CPU_ISA caps it); its
  // levels are what the variants are compiled for (units/meson.build).
  static const Kernels* chosen = []() {
#if defined(__x86_64__) || defined(__i386__)
    switch (common::cpu_isa()) {
      case common::CpuIsa::avx512:
        return &avx512::table;
      case common::CpuIsa::avx2:
        return &avx2::table;
      case common::CpuIsa::generic:
        break;
    }
#endif
    return &generic::table;
  }();
  return *chosen;
}

}  // namespace acoustok::units
