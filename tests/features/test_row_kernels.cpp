// SPDX-License-Identifier: MIT
// The feature model's row kernels (common/torch/row_kernels.*) at every
// instruction-set level this CPU runs (the program runs again under
// ACOUSTOK_MAX_CPU_ISA), against plain references: softmax numerators against
// exp in double, their bf16 copy against c10's rounding, layer norm and GELU
// against LibTorch's (exact erf). The AVX2 and AVX-512 paths give the same
// bits, and the variable caps our oneDNN too.
#include <gtest/gtest.h>
#include <oneapi/dnnl/dnnl.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/cpu_isa.hpp"
#include "common/torch/row_kernels.hpp"
#include "cpu_isa_rerun.hpp"
#include "test_util.hpp"

namespace {

namespace common = acoustok::common;

// Where a re-run writes its outputs, for the bitwise comparison of levels.
constexpr const char* kDumpVariable = "ACOUSTOK_TEST_ROW_KERNELS_DUMP";

void dump(std::ofstream& out, const torch::Tensor& t) {
  const auto c = t.contiguous();
  out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
}

// Softmax numerators of rows below, at and around the 8- and 16-lane widths and
// a long row with a tail; scores over +-40, so exp spans ~e^-60..1.
void check_softmax(std::ofstream* out) {
  for (int64_t cols : {1, 5, 8, 15, 16, 17, 31, 100, 1027}) {
    torch::manual_seed(cols);
    const auto x = torch::randn({6, cols}) * 8;
    auto num = x.clone();
    auto inv = torch::empty({6});
    auto bf = torch::empty({6, cols}, torch::kBFloat16);
    acoustok::onednn::softmax_numerators(num, inv, bf);
    // exp in double of x - max as the kernels form it (in float).
    const auto want = (x - std::get<0>(x.max(1, true))).to(torch::kFloat64).exp();
    const auto err = ((num.to(torch::kFloat64) - want).abs() / want).max().item<double>();
    EXPECT_LT(err, 2e-6) << cols << " columns: exp";
    const auto inv_err = ((inv.to(torch::kFloat64) * want.sum(1) - 1).abs()).max().item<double>();
    EXPECT_LT(inv_err, 1e-5) << cols << " columns: 1 / sum";
    const float* n = num.data_ptr<float>();
    const uint16_t* b = reinterpret_cast<const uint16_t*>(bf.data_ptr());
    int64_t differ = 0;
    for (int64_t i = 0; i < num.numel(); ++i) differ += b[i] != c10::detail::round_to_nearest_even(n[i]);
    EXPECT_EQ(differ, 0) << cols << " columns: bf16 copies not rounded as c10 rounds";
    if (out) {
      dump(*out, num);
      dump(*out, inv);
      dump(*out, bf);
    }
  }
}

// Widths of the vector paths (multiples of 16) and one LibTorch takes (24).
void check_layer_norm(std::ofstream* out) {
  for (int64_t C : {16, 48, 768, 1024, 24}) {
    for (bool gelu : {false, true}) {
      torch::manual_seed(C + gelu);
      const auto x = torch::randn({9, C}) * 3 + 1, gamma = torch::randn({C}), beta = torch::randn({C});
      auto y = torch::empty_like(x);
      acoustok::onednn::layer_norm_rows(x, gamma, beta, 1e-5, gelu, y);
      auto want = torch::layer_norm(x.to(torch::kFloat64), {C}, gamma.to(torch::kFloat64),
                                    beta.to(torch::kFloat64), 1e-5);
      if (gelu) want = torch::gelu(want);
      const double err = ((y.to(torch::kFloat64) - want).abs() / (want.abs() + 1)).max().item<double>();
      EXPECT_LT(err, 5e-6) << C << " channels" << (gelu ? " with GELU" : "");
      // (24 channels go to LibTorch's own kernels, whose AVX2 and AVX-512
      // variants differ in the last bits of GELU from LibTorch 2.x on: only
      // ours are compared bit for bit.)
      if (out && C % 16 == 0) dump(*out, y);
    }
  }
}

// Runs at the process's level (the re-runs set it).
TEST(RowKernels, MatchThePlainReferences) {
  std::ofstream out;
  if (const char* path = std::getenv(kDumpVariable)) out.open(path, std::ios::binary);
  check_softmax(out.is_open() ? &out : nullptr);
  check_layer_norm(out.is_open() ? &out : nullptr);
  std::printf("row kernels at %s\n", common::cpu_isa_report().c_str());
}

// oneDNN's dispatch under the cap: at most AVX2 (its ISA flags are nested bit
// sets: sse41 0x1, avx2 0x7), or not capped at all.
TEST(RowKernels, OneDnnFollowsTheCap) {
  const unsigned effective = dnnl_get_effective_cpu_isa();
  const unsigned avx2 = dnnl_cpu_isa_avx2, sse41 = dnnl_cpu_isa_sse41;
  switch (common::cpu_isa()) {
    case common::CpuIsa::generic:
      EXPECT_EQ(effective & ~sse41, 0u) << std::hex << effective;
      break;
    case common::CpuIsa::avx2:
      EXPECT_EQ(effective & ~avx2, 0u) << std::hex << effective;
      break;
    case common::CpuIsa::avx512:
      EXPECT_NE(effective & ~avx2, 0u) << std::hex << effective;
      break;
  }
}

TEST(RowKernels, EveryLevelOfThisCpu) {
  if (acoustok::test::cpu_isa_capped_run())
    GTEST_SKIP() << "a capped run: the levels are run from an uncapped one";
  const std::string dir = acoustok::test::make_temp_dir("row-kernels");
  const auto levels = acoustok::test::cpu_isa_levels();
  for (const std::string& level : levels) {
    std::string output;
    const int rc =
        acoustok::test::rerun_at_cpu_isa(level, "RowKernels.MatchThePlainReferences:RowKernels.OneDnn*",
                                         &output, std::string(kDumpVariable) + "=" + dir + "/" + level);
    EXPECT_EQ(rc, 0) << "ACOUSTOK_MAX_CPU_ISA=" << level << ":\n" << output;
    EXPECT_NE(output.find("row kernels at " + level + " "), std::string::npos) << output;
  }
  if (levels.size() == 3) {
    const std::string avx2 = acoustok::test::read_file(dir + "/avx2"),
                      avx512 = acoustok::test::read_file(dir + "/avx512");
    EXPECT_FALSE(avx2.empty());
    EXPECT_TRUE(avx2 == avx512) << "the AVX2 and AVX-512 row kernels differ";
  }
}

TEST(RowKernels, ABadLevelIsRefused) {
  if (acoustok::test::cpu_isa_capped_run()) GTEST_SKIP() << "a capped run";
  std::string output;
  EXPECT_NE(acoustok::test::rerun_at_cpu_isa("sse9", "RowKernels.MatchThePlainReferences", &output), 0);
  EXPECT_NE(output.find("ACOUSTOK_MAX_CPU_ISA=sse9: not an instruction-set level (generic, avx2, avx512)"),
            std::string::npos)
      << output;
  // The command line says it in one line before any work.
  const int rc = acoustok::test::run_command("ACOUSTOK_MAX_CPU_ISA=AVX3 '" + acoustok::test::acoustok_bin() +
                                                 "' kmeans predict none.safetensors none.npy -o -",
                                             &output);
  EXPECT_EQ(rc, 1) << output;
  EXPECT_EQ(output,
            "acoustok: ACOUSTOK_MAX_CPU_ISA=AVX3: not an instruction-set level (generic, avx2, avx512)\n");
}

}  // namespace
