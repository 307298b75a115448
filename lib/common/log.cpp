// SPDX-License-Identifier: MIT
#include "common/log_printf.hpp"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>

namespace acoustok {

namespace {

std::mutex log_mutex;
LogCallback log_callback = nullptr;
void* log_user_data = nullptr;
bool progress_line_open = false;  // default sink: a progress line drawn without its newline

// stderr; on a terminal a progress line is redrawn in place and the next
// message of any other kind takes its place.
void default_sink(LogLevel level, const char* message) {
  static const bool tty = ::isatty(STDERR_FILENO) != 0;
  if (tty) {
    std::fprintf(stderr, "%s%s%s", progress_line_open ? "\r\033[K" : "", message,
                 level == LogLevel::progress ? "" : "\n");
    progress_line_open = level == LogLevel::progress;
  } else {
    std::fprintf(stderr, "%s\n", message);
  }
  std::fflush(stderr);
}

}  // namespace

void set_log_callback(LogCallback callback, void* user_data) {
  std::lock_guard<std::mutex> lock(log_mutex);
  log_callback = callback;
  log_user_data = user_data;
}

namespace common {

void log(LogLevel level, const char* format, ...) {
  char small[512];
  va_list args;
  va_start(args, format);
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(small, sizeof small, format, args);
  va_end(args);
  std::string big;
  const char* message = small;
  if (n >= static_cast<int>(sizeof small)) {
    big.resize(static_cast<size_t>(n) + 1);
    std::vsnprintf(big.data(), big.size(), format, again);
    message = big.c_str();
  }
  va_end(again);
  std::lock_guard<std::mutex> lock(log_mutex);
  if (log_callback)
    log_callback(level, message, log_user_data);
  else
    default_sink(level, message);
}

}  // namespace common

}  // namespace acoustok
