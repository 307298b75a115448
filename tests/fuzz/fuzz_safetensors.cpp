// SPDX-License-Identifier: MIT
// libFuzzer target: safetensors files (feature models, k-means files).
#include "acoustok/error.hpp"
#include "acoustok/tensor_file.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = acoustok::fuzz::write_input(data, size, "input.safetensors");
  try {
    acoustok::SafetensorsFile f(path);
    for (const std::string& name : f.names()) (void)acoustok::to_float32(f.at(name));
  } catch (const acoustok::Error&) {
  }
  return 0;
}
