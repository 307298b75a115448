// SPDX-License-Identifier: MIT
// What every fuzz target shares: the input written to a file (our readers
// take paths, as users give them), and the rule that a bad file may only
// end in acoustok::Error. Any other exception escapes and libFuzzer reports
// it as a crash, like a sanitizer finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace acoustok::fuzz {

// DIR/NAME holding exactly the input, DIR private to this process (tmpfs when there is one).
inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  static const std::string dir = [] {
    const std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    const std::string d = base + "/acoustok-fuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  const std::string path = dir + "/" + name;
  if (name.find('/') != std::string::npos)
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace acoustok::fuzz
