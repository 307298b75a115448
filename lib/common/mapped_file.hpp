// SPDX-License-Identifier: MIT
// A read-only mapping of a whole regular file: the one place libacoustok
// calls mmap. Readers of untrusted files check every offset against size().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace acoustok::common {

class MappedFile {
 public:
  // Throws acoustok::Error naming `path` when it cannot be opened, is not a
  // regular file or cannot be mapped. An empty file maps to data() == nullptr.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Scattered reads ahead: read-ahead would only waste I/O.
  void advise_random() const;
  // Gives back the whole pages inside [p, p + n) once their bytes were copied
  // out (a loader that copies weights one by one then never holds both).
  void release(const void* p, size_t n) const;

 private:
  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace acoustok::common
