// SPDX-License-Identifier: MIT
// Named weights of a model file, read one tensor at a time as float32 so a
// loader materialises only what it asks for (no LibTorch here).
//
// Sources: model.safetensors (memory-mapped) and pytorch_model.bin (the zip
// archive torch.save writes, read by torch_zip.hpp). Both treat the file as
// untrusted: every length, offset, shape and stride is checked before use.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "acoustok/tensor_file.hpp"

namespace acoustok::features {

struct WeightInfo {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  int64_t numel() const;
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual const std::string& path() const = 0;
  virtual std::vector<std::string> names() const = 0;
  virtual bool contains(const std::string& name) const = 0;
  // Throws "<file>: missing tensor '<name>'".
  virtual WeightInfo info(const std::string& name) const = 0;
  // The name a tensor has in the file, for messages (a fairseq checkpoint
  // stores the loader's names under others), and what the shapes the loader
  // expects come from.
  virtual std::string file_key(const std::string& name) const { return name; }
  virtual std::string config_name() const { return "config.json"; }
  // Row-major float32 values of a floating-point tensor, info(name).numel() of them.
  std::vector<float> read_float32(const std::string& name);
  // The same into caller memory of info(name).numel() floats. Several
  // threads may read different tensors at once.
  void read_float32_into(const std::string& name, float* out);

  // What the loader touched: names and payload bytes (tests check that
  // blocks above the asked layer are never read).
  const std::set<std::string>& names_read() const { return names_read_; }
  uint64_t bytes_read() const { return bytes_read_; }

 protected:
  // Fills `out` (numel floats) and returns the payload bytes it consumed;
  // called from several threads at once.
  virtual uint64_t read_into(const std::string& name, float* out) = 0;

 private:
  std::mutex bookkeeping_;
  std::set<std::string> names_read_;
  uint64_t bytes_read_ = 0;
};

class SafetensorsWeights : public WeightSource {
 public:
  explicit SafetensorsWeights(const std::string& path) : file_(path) {}
  const std::string& path() const override { return file_.path(); }
  std::vector<std::string> names() const override { return file_.names(); }
  bool contains(const std::string& name) const override { return file_.contains(name); }
  WeightInfo info(const std::string& name) const override;

 protected:
  uint64_t read_into(const std::string& name, float* out) override;

 private:
  SafetensorsFile file_;
};

// MODEL_DIR/model.safetensors when present, else MODEL_DIR/pytorch_model.bin.
std::unique_ptr<WeightSource> open_model_weights(const std::string& model_dir);

}  // namespace acoustok::features
