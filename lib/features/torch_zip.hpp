// SPDX-License-Identifier: MIT
// pytorch_model.bin: the zip archive torch.save writes (data.pkl + data/N raw
// storages), read without LibTorch and without executing anything.
//
// libtorch 1.13's torch::pickle_load cannot read such a state dict, and a
// pickle may name any Python callable, so this is a small reader for the
// subset a state dict uses: the opcodes of pickle protocols 2 to 4 that build
// tuples, lists, dicts, strings and numbers, and only the globals
// collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter, torch.jit._pickle.restore_type_tag (what
// LibTorch's torch::pickle_save tags its dicts with; it returns its argument)
// and torch.<type>Storage for float, half, bfloat16, double, long, int, short,
// char, byte and bool.
// Any other global is refused. Storages are found by their persistent id;
// each tensor's offset, shape and strides are checked against its storage and
// the storage against its zip entry (size and CRC-32) when the tensor is
// read, so a tensor that is never asked for is never touched.
//
// A fairseq checkpoint ({"cfg": ..., "model": state_dict, ...}, read with
// Contents::FairseqCheckpoint) may also hold the configuration objects fairseq
// pickles: omegaconf's DictConfig / ListConfig and their value nodes and
// metadata, argparse.Namespace, collections.defaultdict, typing.Any and the
// builtin types their metadata names, and the numpy scalars of the trainer's
// state (read as None). Each is read as the plain data it holds
// (a DictConfig or Namespace as a dict, a value node as its value, metadata as
// None); nothing else is allowed.
//
// Dicts inside the root dict are flattened with dots: torch.save({"generator":
// state_dict}) holds "generator.dict.weight", ... Strings and integers of the
// tree are kept by the same dotted names.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "features/weight_source.hpp"

namespace acoustok::features {

class TorchZipWeights : public WeightSource {
 public:
  enum class Contents { StateDict, FairseqCheckpoint };
  explicit TorchZipWeights(const std::string& path, Contents contents = Contents::StateDict);
  ~TorchZipWeights() override;
  TorchZipWeights(const TorchZipWeights&) = delete;
  TorchZipWeights& operator=(const TorchZipWeights&) = delete;

  const std::string& path() const override { return path_; }
  std::vector<std::string> names() const override;
  bool contains(const std::string& name) const override { return tensors_.count(name) != 0; }
  WeightInfo info(const std::string& name) const override;
  // Row-major bytes of a tensor in its stored dtype (any dtype).
  std::vector<uint8_t> read_raw(const std::string& name);
  // Strings and integers of the dict tree, by dotted name.
  const std::map<std::string, std::string>& strings() const { return strings_; }
  const std::map<std::string, int64_t>& integers() const { return integers_; }

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
  friend class FairseqWeights;  // reads through under other names
  void read_exact(uint64_t offset, void* dst, size_t n) const;
  void read_central_directory();
  uint64_t entry_data_offset(const std::string& entry_name, const ZipEntry& e) const;
  // Reads a tensor's whole storage record into `dst` (room for the record's
  // bytes) after checking its size against the pickle, then its CRC-32.
  void check_fits(const TensorRecord& r, const std::string& name) const;
  void read_storage(const std::string& name, const TensorRecord& r, uint8_t* dst);

  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  std::string prefix_;  // "archive/" part before data.pkl
  std::map<std::string, ZipEntry> entries_;
  std::map<std::string, TensorRecord> tensors_;
  std::map<std::string, std::string> strings_;
  std::map<std::string, int64_t> integers_;
};

}  // namespace acoustok::features
