// SPDX-License-Identifier: MIT
// FeatureExtractor::load of a build without LibTorch: a clear error.
#include "acoustok/error.hpp"
#include "acoustok/features.hpp"

namespace acoustok {

std::unique_ptr<FeatureExtractor> FeatureExtractor::load(const std::string& model_dir, const FeatureOptions&) {
  throw file_error(model_dir, "this acoustok was built without LibTorch: feature extraction is unavailable");
}

bool bf16_supported() { return false; }

}  // namespace acoustok
