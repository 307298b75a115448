// SPDX-License-Identifier: MIT
// Tensor files without LibTorch: safetensors (memory-mapped, every header
// field checked against the file before use) and NumPy .npy.
//
// Model files are untrusted input: a bad header, an offset past the end, a
// byte count that disagrees with dtype x shape, or an unknown dtype is an
// acoustok::Error naming the file, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace acoustok {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

size_t dtype_size(DType t);
std::string dtype_name(DType t);  // safetensors spelling: "F32", "BF16", ...

// A tensor inside a mapped file: row-major, `data` points into the mapping.
struct TensorView {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t numel() const;
};

// Converts F64/F32/F16/BF16 elements to float32 (host order little endian).
std::vector<float> to_float32(const TensorView& t);
// float16 / bfloat16 bit patterns to float.
float half_to_float(uint16_t h);
float bfloat16_to_float(uint16_t b);
uint16_t float_to_half(float f);

namespace common {
class MappedFile;
}

// Thread-safety: const after opening: read from any number of threads.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws "<file>: missing tensor '<name>'".
  const TensorView& at(const std::string& name) const;
  std::vector<float> float32(const std::string& name) const { return to_float32(at(name)); }
  // Drops the mapped pages of a tensor already copied out, so a loader that
  // copies weights one by one does not hold the file and the copies at once.
  void release(const TensorView& t) const;

 private:
  std::string path_;
  std::unique_ptr<common::MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;  // written as F32
};

// Written to a temporary name and renamed into place.
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// NumPy .npy, little-endian C order; f4, f2 and f8 read as float32.
struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> values;
};
NpyArray read_npy(const std::string& path);
void write_npy(const std::string& path, const float* values, const std::vector<int64_t>& shape);

// A float32 [rows, cols] .npy written row block by row block under a
// temporary name, renamed into place by commit() with its final row count:
// memory stays flat however many rows; the bytes equal write_npy's.
// Thread-safety: one thread at a time.
class NpyRowWriter {
 public:
  NpyRowWriter(const std::string& path, int64_t cols);
  ~NpyRowWriter();
  NpyRowWriter(const NpyRowWriter&) = delete;
  NpyRowWriter& operator=(const NpyRowWriter&) = delete;
  void write(const float* values, int64_t rows);
  void commit();
  int64_t rows() const { return rows_; }

 private:
  void write_preamble();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t cols_ = 0, rows_ = 0;
};

}  // namespace acoustok
