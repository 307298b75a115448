// SPDX-License-Identifier: MIT
// libFuzzer target: the vocoder config JSON (`--config FILE.json`, and the
// config every checkpoint stores).
#include <string>

#include "acoustok/error.hpp"
#include "acoustok/vocoder_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto c = acoustok::VocoderConfig::from_json(std::string(reinterpret_cast<const char*>(data), size), "config.json");
    (void)c.receptive_field_frames();
  } catch (const acoustok::Error&) {
  }
  return 0;
}
