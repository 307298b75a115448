// SPDX-License-Identifier: MIT
// Helpers shared by the feature-model suites (test_xlsr,
// test_fairseq_features, test_streaming_features).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/features.hpp"

namespace acoustok::test {

// The committed test utterance (fixtures/xlsr/speech_pt.wav), read once.
const std::vector<float>& speech();
// The feature model at `path` (a folder or a .pt), layer `layer`, 2 threads.
std::unique_ptr<FeatureExtractor> load(const std::string& path, int layer = 2);
// max |ours - ref| <= 1e-4 max |ref|, same frame count and dim, against
// fixtures/<refs_dir>/<ref_name>.npy.
void expect_matches_reference(const Features& f, const std::string& refs_dir, const std::string& ref_name);
// The message of the acoustok::Error that fn throws, else "<no error>".
std::string error_of(const std::function<void()>& fn);

}  // namespace acoustok::test
