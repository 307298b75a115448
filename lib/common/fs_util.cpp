// SPDX-License-Identifier: MIT
#include "common/fs_util.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "acoustok/error.hpp"

namespace acoustok::common {

namespace {
std::atomic<unsigned> temp_counter{0};
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  temp_ = path_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temp_counter++);
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_.c_str());
}

void AtomicFile::commit() {
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
    throw file_error(path_, std::string("cannot rename into place: ") + std::strerror(errno));
  }
  committed_ = true;
}

void write_text_file(const std::string& path, const std::string& text) {
  AtomicFile out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    if (!f) throw file_error(path, std::string("cannot write: ") + std::strerror(errno));
    f << text;
    f.flush();
    if (!f) throw file_error(path, "write failed (disk full?)");
  }
  out.commit();
}

std::string read_text_file(const std::string& path) {
  // A directory would read as empty text (and then be "not valid JSON"), a
  // FIFO would block: both are named for what they are.
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    throw file_error(path, std::filesystem::is_directory(status) ? "is a directory, not a file" : "not a regular file");
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace acoustok::common
