// Used only while this build has no feature extractor implementation
// (lib/meson.build defines acoustok_models_dep when it does).
#include "acoustok/error.hpp"
#include "acoustok/features.hpp"

namespace acoustok {

std::unique_ptr<FeatureExtractor> FeatureExtractor::load(const std::string& model_dir, const FeatureOptions&) {
  throw file_error(model_dir, "this build has no feature extractor; use --features DIR with precomputed .npy features");
}

}  // namespace acoustok
