// SPDX-License-Identifier: MIT
#include "acoustok/features.hpp"

#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"

namespace acoustok {

int64_t feature_frames(int64_t samples) { return grid::frames_for_samples(samples); }

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
