// SPDX-License-Identifier: MIT
#include "features/weight_source.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>

#include "acoustok/error.hpp"
#include "features/torch_zip.hpp"

namespace acoustok::features {

int64_t WeightInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<float> WeightSource::read_float32(const std::string& name) {
  std::vector<float> out(static_cast<size_t>(info(name).numel()));
  read_float32_into(name, out.data());
  return out;
}

void WeightSource::read_float32_into(const std::string& name, float* out) {
  const WeightInfo wi = info(name);
  if (wi.dtype != DType::F32 && wi.dtype != DType::F16 && wi.dtype != DType::BF16 && wi.dtype != DType::F64) {
    throw file_error(
        path(), "tensor '" + name + "' has dtype " + dtype_name(wi.dtype) + ", not a floating-point type");
  }
  const uint64_t bytes = read_into(name, out);
  // A NaN or infinite weight makes NaN features on one path and finite ones
  // on another: refused by name. All-ones exponent bits = NaN or Inf; one
  // vectorisable pass.
  int64_t numel = 1;
  for (int64_t d : wi.shape) numel *= d;
  uint32_t bad = 0;
  for (int64_t i = 0; i < numel; ++i) {
    uint32_t bits;
    std::memcpy(&bits, out + i, 4);
    bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  if (bad) {
    for (int64_t i = 0; i < numel; ++i) {
      if (!std::isfinite(out[i])) {
        throw file_error(path(), "tensor '" + name + "' holds a " +
                                     (std::isnan(out[i]) ? "NaN" : "infinite") + " value at element " +
                                     std::to_string(i));
      }
    }
  }
  std::lock_guard<std::mutex> lock(bookkeeping_);
  bytes_read_ += bytes;
  names_read_.insert(name);
}

WeightInfo SafetensorsWeights::info(const std::string& name) const {
  const TensorView& v = file_.at(name);
  return {v.dtype, v.shape};
}

uint64_t SafetensorsWeights::read_into(const std::string& name, float* out) {
  const TensorView& v = file_.at(name);
  if (v.dtype == DType::F32) {
    std::memcpy(out, v.data, v.nbytes);
  } else {
    const std::vector<float> values = to_float32(v);
    std::memcpy(out, values.data(), values.size() * sizeof(float));
  }
  file_.release(v);
  return v.nbytes;
}

std::unique_ptr<WeightSource> open_model_weights(const std::string& model_dir) {
  namespace fs = std::filesystem;
  const fs::path dir(model_dir);
  std::error_code ec;
  if (fs::exists(dir / "model.safetensors", ec)) {
    return std::make_unique<SafetensorsWeights>((dir / "model.safetensors").string());
  }
  if (fs::exists(dir / "pytorch_model.bin", ec)) {
    return std::make_unique<TorchZipWeights>((dir / "pytorch_model.bin").string());
  }
  throw file_error(model_dir, "no weights: expected model.safetensors or pytorch_model.bin");
}

}  // namespace acoustok::features
