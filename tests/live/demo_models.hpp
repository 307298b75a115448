// SPDX-License-Identifier: MIT
// The demo models the live tests run: the demo feature model (built offline
// by models/make_demo_model.py), k-means fitted on its features of the
// fixture speech, and a tiny vocoder with random weights: the speed of the
// demo models, not their quality. Made once per process.
#pragma once

#include <string>

namespace acoustok::test {

constexpr int kDemoUnits = 32;

struct DemoModels {
  std::string feature_model, kmeans, vocoder;
};

const DemoModels& demo_models();

}  // namespace acoustok::test
