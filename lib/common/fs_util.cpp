// SPDX-License-Identifier: MIT
#include "common/fs_util.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
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
    throw file_error(
        path, std::filesystem::is_directory(status) ? "is a directory, not a file" : "not a regular file");
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

namespace {

// What DIR/.acoustok.lock says about its holder: "PID COMMAND", or "".
std::string read_holder(int fd) {
  char buf[256];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

DirLock::DirLock(const std::string& dir, const std::string& command)
    : path_((std::filesystem::path(dir) / ".acoustok.lock").string()) {
  // The holder removes the file when it ends; a run that opened it just
  // before finds, once locked, that its file is no longer the one at the
  // path, and tries again.
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw file_error(path_, std::string("cannot open the output folder's lock: ") + std::strerror(errno));
    int rc;
    do rc = ::flock(fd_, LOCK_EX | LOCK_NB);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      const int err = errno;
      const std::string holder = read_holder(fd_);
      ::close(fd_);
      fd_ = -1;
      if (err != EWOULDBLOCK) throw file_error(path_, std::string("cannot lock: ") + std::strerror(err));
      const size_t space = holder.find(' ');
      const std::string pid = holder.substr(0, space),
                        what = space == std::string::npos ? "" : holder.substr(space + 1);
      throw file_error(dir, "in use by another run (" +
                                (what.empty() ? std::string("acoustok") : "acoustok " + what) +
                                (pid.empty() ? std::string() : ", PID " + pid) +
                                "); wait for it to end or use another output folder");
    }
    struct stat mine {
    }, at_path{};
    if (::fstat(fd_, &mine) == 0 && ::stat(path_.c_str(), &at_path) == 0 && mine.st_ino == at_path.st_ino &&
        mine.st_dev == at_path.st_dev)
      break;
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ < 0) throw file_error(path_, "cannot lock: the file keeps being replaced");
  // A holder that ended removed the file; text in it means the last one was
  // killed.
  stale_ = !read_holder(fd_).empty();
  // The PID only informs a second run: a full disk that cannot hold it does
  // not stop this one (its real outputs fail with their own message).
  const std::string me = std::to_string(::getpid()) + " " + command + "\n";
  // A write cut short is emptied again (part of a PID would mislead).
  if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size()))
    static_cast<void>(!::ftruncate(fd_, 0));
}

DirLock::~DirLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still held: see the constructor
  ::close(fd_);             // releases the flock
}

}  // namespace acoustok::common
