// SPDX-License-Identifier: MIT
// The library changes nothing process-wide unless the program calls
// configure_process: loading and running a feature model leaves LibTorch's
// thread count as the program set it and never calls glibc's mallopt. The
// kernels' scratch memory belongs to the model that runs them (a
// onednn::Workspace) and goes with it, instead of staying with the thread.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/features.hpp"
#include "acoustok/process.hpp"
#include "common/torch/onednn_ops.hpp"
#include "mallopt_spy.hpp"
#include "test_util.hpp"

using acoustok::onednn::Workspace;
using acoustok::test::fixture;
using acoustok::test::mallopt_calls;

namespace {

std::vector<float> one_second_of_speech() {
  std::vector<float> x = acoustok::read_audio_16k_mono(fixture("xlsr/speech_pt.wav"));
  x.resize(std::min<size_t>(x.size(), 16000));
  return x;
}

}  // namespace

TEST(ProcessSettings, LoadingAndRunningAModelLeavesTheProcessAlone) {
  const int sentinel = acoustok::available_cpus() + 1;  // no setting of ours picks it
  at::set_num_threads(sentinel);
  mallopt_calls = 0;
  acoustok::FeatureOptions options;
  options.layer = 2;
  auto extractor = acoustok::FeatureExtractor::load(fixture("xlsr/xlsr_st"), options);
  const std::vector<float> x = one_second_of_speech();
  EXPECT_GT(extractor->extract(x.data(), x.size()).frames, 0);
  extractor.reset();
  EXPECT_EQ(at::get_num_threads(), sentinel);
  EXPECT_EQ(mallopt_calls, 0);
}

TEST(ProcessSettings, WorkspaceScratchIsReusedInScopeAndFreedWithIt) {
  auto workspace = std::make_unique<Workspace>();
  torch::Tensor first, again;
  {
    Workspace::Scope scope(*workspace);
    first = Workspace::scratch(Workspace::Slot::attention_heads, 1000, torch::kFloat32);
    again = Workspace::scratch(Workspace::Slot::attention_heads, 500, torch::kFloat32);
    EXPECT_EQ(again.data_ptr(), first.data_ptr()) << "a smaller request reuses the buffer";
    const torch::Tensor other = Workspace::scratch(Workspace::Slot::bf16_input, 500, torch::kFloat32);
    EXPECT_NE(other.data_ptr(), first.data_ptr()) << "slots are separate buffers";
  }
  // Out of scope: a fresh tensor, not the workspace's.
  const torch::Tensor fresh = Workspace::scratch(Workspace::Slot::attention_heads, 500, torch::kFloat32);
  EXPECT_NE(fresh.data_ptr(), first.data_ptr());
  // Another thread with the same workspace in scope (one at a time) gets it too.
  std::thread([&] {
    Workspace::Scope scope(*workspace);
    EXPECT_EQ(Workspace::scratch(Workspace::Slot::attention_heads, 800, torch::kFloat32).data_ptr(),
              first.data_ptr());
  }).join();
  const c10::Storage storage = first.storage();
  first.reset();
  again.reset();
  EXPECT_EQ(storage.use_count(), 2) << "held by this copy and the workspace";
  workspace.reset();
  EXPECT_EQ(storage.use_count(), 1) << "the workspace let go of its buffer";
}

// The spy sees what configure_process does.
TEST(ProcessSettings, ConfigureProcessIsWhereTheAllocatorIsTuned) {
  acoustok::test::expect_spy_sees_configure_process();
}
