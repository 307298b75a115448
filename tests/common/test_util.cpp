// SPDX-License-Identifier: MIT
#include "test_util.hpp"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace acoustok::test {

namespace {
std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

struct TempDirs {
  std::vector<std::string> dirs;
  ~TempDirs() {
    if (std::getenv("ACOUSTOK_KEEP_TEMP")) return;
    for (const auto& d : dirs) {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  }
};
TempDirs temp_dirs;
}  // namespace

std::string fixtures_dir() { return env_or("ACOUSTOK_FIXTURES", "tests/fixtures"); }
std::string fixture(const std::string& relative) { return fixtures_dir() + "/" + relative; }
std::string acoustok_bin() { return env_or("ACOUSTOK_BIN", "acoustok"); }

std::string make_temp_dir(const std::string& tag) {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() / ("acoustok-test-" + tag + "-" + std::to_string(rd()));
  fs::create_directories(p);
  temp_dirs.dirs.push_back(p.string());
  return p.string();
}

int run_command(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + command);
  std::array<char, 4096> buf{};
  std::string out;
  size_t got;
  while ((got = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), got);
  const int status = pclose(pipe);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

long rss_kb() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

}  // namespace acoustok::test
