// SPDX-License-Identifier: MIT
// Progress with an ETA through the log callback (acoustok/log.hpp): redrawn
// every 200 ms when stderr is a terminal, a plain line every 10% otherwise
// (logs stay readable). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace acoustok::common {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled = true);
  ~Progress();
  void add(int64_t done_units = 1);
  void finish();

 private:
  void draw_locked(bool final_line);

  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::mutex mutex_;
};

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace acoustok::common
