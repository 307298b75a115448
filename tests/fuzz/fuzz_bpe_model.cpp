// SPDX-License-Identifier: MIT
// libFuzzer target: BPE model files (bpe.model, a SentencePiece protobuf), and
// one encoding with what loads.
#include "acoustok/error.hpp"
#include "acoustok/motif_model.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = acoustok::fuzz::write_input(data, size, "bpe.model");
  try {
    const acoustok::MotifModel m(path);
    (void)m.encode({1, 2, 2, 3, 35327});
  } catch (const acoustok::Error&) {
  }
  return 0;
}
