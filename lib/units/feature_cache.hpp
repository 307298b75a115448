// SPDX-License-Identifier: MIT
// The on-disk caches of `acoustok units` (DIR/cache/): the float16 feature
// cache, a NumPy file whose layout units_checkpoint.hpp gives, and the unit
// cache; both append-only, cut back to what the checkpoint covers on a rerun.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/mapped_file.hpp"

namespace acoustok::units {

// float16 bit pattern -> float, by table (the cache is read a lot).
const std::vector<float>& half_table();

// An append-only cache file whose committed length is in the checkpoint.
class AppendFile {
 public:
  // Opens (or creates) `path` and cuts it to `committed_bytes`: whatever a
  // killed run wrote after its last checkpoint goes.
  AppendFile(std::string path, int64_t committed_bytes);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  void write_at(uint64_t offset, const void* data, size_t bytes);
  void append(const void* data, size_t bytes);

 private:
  std::string path_;
  int fd_ = -1;
};

// The NPY header of the feature cache (its layout: units_checkpoint.hpp).
std::string npy_f16_header(int64_t rows, int64_t dim);

// Read-only map of a cache file that must hold at least `bytes` bytes after
// a header of `offset` bytes.
class CacheMap {
 public:
  CacheMap(const std::string& path, size_t bytes, bool random_access = false, size_t offset = 0);
  const uint16_t* halfs() const;

 private:
  std::unique_ptr<common::MappedFile> file_;
  size_t offset_ = 0;
};

// The feature cache of this run (rows as float16 after the NPY header).
std::unique_ptr<CacheMap> map_features(const std::filesystem::path& cache_dir, int64_t rows, int64_t dim,
                                       bool random_access);

}  // namespace acoustok::units
