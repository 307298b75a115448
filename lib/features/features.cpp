// SPDX-License-Identifier: MIT
#include "acoustok/features.hpp"

#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"
#include "common/torch_backend.hpp"

namespace acoustok {

int64_t feature_frames(int64_t samples) { return grid::frames_for_samples(samples); }

// The model is in libacoustok-torch, loaded on first use (common/torch_backend.hpp).
std::unique_ptr<FeatureExtractor> FeatureExtractor::load(const std::string& model_dir,
                                                         const FeatureOptions& options) {
  return common::torch_backend_for(model_dir).load_features(model_dir, options);
}

bool bf16_supported() {
  // A question, not a request: without the LibTorch part nothing runs bf16.
  try {
    return common::torch_backend().bf16_supported();
  } catch (const Error&) {
    return false;
  }
}

Features FeatureExtractor::front_end(const float*, size_t) {
  throw Error("feature model '" + model_name() + "' cannot stream (no separate front end)");
}

Features FeatureExtractor::encode(const Features&) {
  throw Error("feature model '" + model_name() + "' cannot stream (no separate encoder)");
}

std::unique_ptr<FeatureExtractor::EncoderState> FeatureExtractor::new_encoder_state() {
  throw Error("feature model '" + model_name() + "' cannot stream with reused context");
}

Features FeatureExtractor::encode_next(EncoderState&, const Features&, int64_t, int64_t, int64_t, int64_t) {
  throw Error("feature model '" + model_name() + "' cannot stream with reused context");
}

}  // namespace acoustok
