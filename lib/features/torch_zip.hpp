// SPDX-License-Identifier: MIT
// pytorch_model.bin: the zip archive torch.save writes (data.pkl + data/N raw
// storages), read without LibTorch and without executing anything.
//
// libtorch 1.13's torch::pickle_load cannot read such a state dict, and a
// pickle may name any Python callable, so this is a small reader for the
// subset a state dict uses: the opcodes of pickle protocols 2 to 4 that build
// tuples, lists, dicts, strings and numbers, and only the globals
// collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter and torch.{Float,Half,BFloat16,Double}Storage.
// Any other global is refused. Storages are found by their persistent id;
// each tensor's offset, shape and strides are checked against its storage and
// the storage against its zip entry when the tensor is read, so a tensor that
// is never asked for is never touched.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "features/weight_source.hpp"

namespace acoustok::features {

class TorchZipWeights : public WeightSource {
 public:
  explicit TorchZipWeights(const std::string& path);
  ~TorchZipWeights() override;
  TorchZipWeights(const TorchZipWeights&) = delete;
  TorchZipWeights& operator=(const TorchZipWeights&) = delete;

  const std::string& path() const override { return path_; }
  std::vector<std::string> names() const override;
  bool contains(const std::string& name) const override { return tensors_.count(name) != 0; }
  WeightInfo info(const std::string& name) const override;

  struct ZipEntry {
    uint64_t local_header = 0;
    uint64_t size = 0;  // uncompressed
    uint64_t compressed_size = 0;
    uint16_t method = 0;
    uint32_t crc32 = 0;  // of the uncompressed bytes, from the central directory
  };
  struct TensorRecord {
    std::string storage_key;
    DType dtype = DType::F32;
    int64_t storage_numel = 0;
    int64_t offset = 0;
    std::vector<int64_t> shape, stride;
  };

 protected:
  uint64_t read_into(const std::string& name, float* out) override;

 private:
  void read_exact(uint64_t offset, void* dst, size_t n) const;
  void read_central_directory();
  uint64_t entry_data_offset(const std::string& entry_name, const ZipEntry& e) const;

  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  std::string prefix_;  // "archive/" part before data.pkl
  std::map<std::string, ZipEntry> entries_;
  std::map<std::string, TensorRecord> tensors_;
};

}  // namespace acoustok::features
