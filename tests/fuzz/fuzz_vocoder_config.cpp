// SPDX-License-Identifier: MIT
// libFuzzer target: the vocoder config JSON (`--config FILE.json`, and the
// config every checkpoint stores), and a released vocoder's config.json.
#include <string>

#include "acoustok/error.hpp"
#include "acoustok/vocoder_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto c = acoustok::VocoderConfig::from_json(text, "config.json");
    (void)c.receptive_field_frames();
  } catch (const acoustok::Error&) {
  }
  try {
    const auto c = acoustok::VocoderConfig::from_released_json(text, "config.json");
    (void)c.receptive_field_frames();
  } catch (const acoustok::Error&) {
  }
  return 0;
}
