// SPDX-License-Identifier: MIT
// libFuzzer target: pytorch_model.bin (zip archive + the safe unpickler), and
// every tensor read out of it; the same bytes as a fairseq checkpoint.
#include <vector>

#include "acoustok/error.hpp"
#include "features/fairseq_checkpoint.hpp"
#include "features/torch_zip.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = acoustok::fuzz::write_input(data, size, "pytorch_model.bin");
  try {
    acoustok::features::TorchZipWeights w(path);
    for (const std::string& name : w.names()) {
      int64_t numel = 1;
      for (int64_t d : w.info(name).shape)
        numel = d > 0 && numel <= (int64_t{1} << 24) / d ? numel * d : (d == 0 ? 0 : -1);
      if (numel < 0) continue;  // the loader only allocates what config.json implies
      std::vector<float> out(static_cast<size_t>(numel));
      if (w.info(name).dtype == acoustok::DType::F32 || w.info(name).dtype == acoustok::DType::F16 ||
          w.info(name).dtype == acoustok::DType::BF16 || w.info(name).dtype == acoustok::DType::F64)
        w.read_float32_into(name, out.data());
      else
        (void)w.read_raw(name);
    }
  } catch (const acoustok::Error&) {
  }
  try {
    (void)acoustok::features::open_fairseq_checkpoint(path);
  } catch (const acoustok::Error&) {
  }
  return 0;
}
