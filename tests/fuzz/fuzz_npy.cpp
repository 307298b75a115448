// SPDX-License-Identifier: MIT
// libFuzzer target: NumPy .npy files (features, centroids).
#include "acoustok/error.hpp"
#include "acoustok/tensor_file.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = acoustok::fuzz::write_input(data, size, "input.npy");
  try {
    (void)acoustok::read_npy(path);
  } catch (const acoustok::Error&) {
  }
  return 0;
}
