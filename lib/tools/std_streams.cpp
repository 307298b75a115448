// SPDX-License-Identifier: MIT
#include "std_streams.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "acoustok/error.hpp"

namespace acoustok::tools {
namespace {

std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/acoustok-stdio-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    throw Error(std::string("cannot create a temporary folder for '-': ") + std::strerror(errno));
  return buf.data();
}

void copy_stream(std::FILE* in, std::FILE* out, const char* what) {
  std::vector<char> buf(1 << 16);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), in)) > 0)
    if (std::fwrite(buf.data(), 1, n, out) != n)
      throw Error(std::string(what) + ": write failed: " + std::strerror(errno));
  if (std::ferror(in)) throw Error(std::string(what) + ": read failed: " + std::strerror(errno));
}

}  // namespace

InputArg::InputArg(const std::string& arg) : path_(arg) {
  if (arg != "-") return;
  temp_dir_ = make_temp_dir();
  path_ = temp_dir_ + "/stdin";
  std::FILE* out = std::fopen(path_.c_str(), "wb");
  if (!out) throw Error("standard input: cannot buffer it: " + std::string(std::strerror(errno)));
  try {
    copy_stream(stdin, out, "standard input");
  } catch (...) {
    std::fclose(out);
    throw;
  }
  if (std::fclose(out) != 0)
    throw Error("standard input: cannot buffer it: " + std::string(std::strerror(errno)));
}

InputArg::~InputArg() {
  std::error_code ec;
  if (!temp_dir_.empty()) std::filesystem::remove_all(temp_dir_, ec);
}

OutputArg::OutputArg(const std::string& arg, const std::string& suffix) : path_(arg) {
  if (arg != "-") return;
  temp_dir_ = make_temp_dir();
  path_ = temp_dir_ + "/stdout" + suffix;
}

OutputArg::~OutputArg() {
  std::error_code ec;
  if (!temp_dir_.empty()) std::filesystem::remove_all(temp_dir_, ec);
}

void OutputArg::finish() {
  if (temp_dir_.empty()) return;
  std::FILE* in = std::fopen(path_.c_str(), "rb");
  if (!in) throw Error("standard output: the result was not written");
  try {
    copy_stream(in, stdout, "standard output");
  } catch (...) {
    std::fclose(in);
    throw;
  }
  std::fclose(in);
  if (std::fflush(stdout) != 0)
    throw Error("standard output: write failed: " + std::string(std::strerror(errno)));
}

}  // namespace acoustok::tools
