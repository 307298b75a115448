// SPDX-License-Identifier: MIT
#include "units/feature_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "acoustok/error.hpp"
#include "acoustok/tensor_file.hpp"
#include "units/units_checkpoint.hpp"

namespace acoustok::units {

const std::vector<float>& half_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < 65536; ++h) t[h] = half_to_float(static_cast<uint16_t>(h));
    return t;
  }();
  return table;
}

AppendFile::AppendFile(std::string path, int64_t committed_bytes) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd_ < 0) throw file_error(path_, std::string("cannot open: ") + std::strerror(errno));
  if (::ftruncate(fd_, committed_bytes) != 0 || ::lseek(fd_, committed_bytes, SEEK_SET) < 0)
    throw file_error(path_, std::string("cannot truncate: ") + std::strerror(errno));
}

AppendFile::~AppendFile() { ::close(fd_); }

void AppendFile::write_at(uint64_t offset, const void* data, size_t bytes) {
  if (::pwrite(fd_, data, bytes, static_cast<off_t>(offset)) != static_cast<ssize_t>(bytes))
    throw file_error(path_, std::string("write failed: ") + std::strerror(errno));
}

void AppendFile::append(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw file_error(path_, std::string("write failed: ") + std::strerror(errno));
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

std::string npy_f16_header(int64_t rows, int64_t dim) {
  std::string dict = "{'descr': '<f2', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                     std::to_string(dim) + "), }";
  std::string h = std::string("\x93NUMPY\x01\x00", 8);
  const size_t len = kNpyHeaderBytes - 10;
  h += static_cast<char>(len & 0xff);
  h += static_cast<char>(len >> 8);
  dict.resize(len - 1, ' ');
  return h + dict + "\n";
}

CacheMap::CacheMap(const std::string& path, size_t bytes, bool random_access, size_t offset)
    : offset_(offset) {
  if (bytes == 0) return;
  file_ = std::make_unique<common::MappedFile>(path);
  if (file_->size() < bytes + offset) {
    throw file_error(path, "cache is shorter than the checkpoint says; rerun with --restart to start over");
  }
  if (random_access) file_->advise_random();  // mini-batches read scattered rows
}

const uint16_t* CacheMap::halfs() const {
  return file_ ? reinterpret_cast<const uint16_t*>(file_->data() + offset_) : nullptr;
}

std::unique_ptr<CacheMap> map_features(const std::filesystem::path& cache_dir, int64_t rows, int64_t dim,
                                       bool random_access) {
  return std::make_unique<CacheMap>((cache_dir / kFeatureCache).string(), static_cast<size_t>(rows * dim * 2),
                                    random_access, kNpyHeaderBytes);
}

}  // namespace acoustok::units
