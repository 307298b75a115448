// SPDX-License-Identifier: MIT
#include "units/kernels.hpp"

#include "common/cpu_isa.hpp"

namespace acoustok::units {

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
