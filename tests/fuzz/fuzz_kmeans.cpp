// SPDX-License-Identifier: MIT
// libFuzzer target: k-means files, as safetensors and as .npy centroids,
// and one prediction with what loads.
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/kmeans.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const char* name : {"kmeans.safetensors", "kmeans.npy"}) {
    const std::string path = acoustok::fuzz::write_input(data, size, name);
    try {
      const acoustok::KMeansModel m = acoustok::KMeansModel::load(path);
      if (m.dim() <= 4096) {
        const std::vector<float> row(static_cast<size_t>(m.dim()), 0.5f);
        (void)m.predict(row.data(), 1);
      }
    } catch (const acoustok::Error&) {
    }
  }
  return 0;
}
