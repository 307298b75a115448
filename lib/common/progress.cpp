// SPDX-License-Identifier: MIT
#include "common/progress.hpp"
#include "common/log_printf.hpp"

#include <unistd.h>

#include <cstdio>

namespace acoustok::common {

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds != seconds) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::add(int64_t done_units) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ += done_units;
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ < std::chrono::milliseconds(200) && done_ < total_) return;
    last_draw_ = now;
    draw_locked(false);
  } else {
    const int decile = total_ > 0 ? static_cast<int>(10 * done_ / total_) : 10;
    if (decile == last_decile_) return;
    last_decile_ = decile;
    draw_locked(false);
  }
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!enabled_ || finished_) return;
  finished_ = true;
  draw_locked(true);
}

void Progress::draw_locked(bool final_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double frac = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : -1.0;
  char line[256];
  if (final_line) {
    std::snprintf(line, sizeof line, "%s: %lld/%lld done in %s", label_.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_),
                  format_duration(elapsed).c_str());
  } else {
    std::snprintf(line, sizeof line, "%s: %lld/%lld (%3.0f%%) elapsed %s, ETA %s", label_.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), 100.0 * frac,
                  format_duration(elapsed).c_str(), format_duration(eta).c_str());
  }
  common::log(final_line ? LogLevel::info : LogLevel::progress, "%s", line);
}

}  // namespace acoustok::common
