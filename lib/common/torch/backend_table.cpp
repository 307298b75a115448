// SPDX-License-Identifier: MIT
// What libacoustok-torch offers libacoustok (common/torch_backend.hpp): the
// model loaders, the trainer and LibTorch's thread settings.
#include <torch/torch.h>

#include "common/torch/onednn_ops.hpp"
#include "common/torch_backend.hpp"

namespace acoustok {
namespace torch_backend {
std::unique_ptr<FeatureExtractor> load_features(const std::string& model_dir, const FeatureOptions& options);
std::unique_ptr<Vocoder> load_vocoder(const std::string& checkpoint, const std::string& device,
                                      const std::string& released_config);
void train_vocoder(const VocoderTrainOptions& options);
}  // namespace torch_backend

namespace {

// LibTorch's intra-op threads, which OpenMP and oneDNN inside it follow
// (LibTorch's own default is 1 on some of the machines acoustok runs on).
void set_threads(int threads) { torch::set_num_threads(threads); }

std::string thread_report() {
  return "threads: LibTorch " + std::to_string(torch::get_num_threads()) + ", OpenMP " +
         std::to_string(at::get_num_threads()) + " (oneDNN follows OpenMP), inter-op " +
         std::to_string(torch::get_num_interop_threads());
}

bool bf16() { return onednn::bf16_supported(); }

const common::TorchBackend table{common::kTorchBackendAbi,
                                 torch_backend::load_features,
                                 torch_backend::load_vocoder,
                                 torch_backend::train_vocoder,
                                 bf16,
                                 set_threads,
                                 thread_report};

}  // namespace
}  // namespace acoustok

extern "C" __attribute__((visibility("default"))) const acoustok::common::TorchBackend*
acoustok_torch_backend() {
  return &acoustok::table;
}
