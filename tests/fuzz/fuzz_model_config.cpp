// SPDX-License-Identifier: MIT
// libFuzzer target: a feature model's config.json (Hugging Face wav2vec2 / HuBERT).
#include <filesystem>

#include "acoustok/error.hpp"
#include "features/wav2vec2_config.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = acoustok::fuzz::write_input(data, size, "model/config.json");
  try {
    const auto c =
        acoustok::features::read_wav2vec2_config(std::filesystem::path(path).parent_path().string());
    (void)c.frames_for(16000);
  } catch (const acoustok::Error&) {
  }
  return 0;
}
