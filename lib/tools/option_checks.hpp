// SPDX-License-Identifier: MIT
// The checks of numeric options, shared by every subcommand: a bad value is
// one line naming the option and its rule ("--threads: must be an integer
// ≥ 0, not '-1'"), exit 2, instead of CLI11's range over the whole double
// scale. CLI11 puts the option's name in front of the message.
#pragma once

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "acoustok/frame_grid.hpp"

namespace acoustok::tools::checks {

inline std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The rule as the message states it: "an integer ≥ 0", "a number between 0 and 1".
inline std::string rule_text(bool integer, double lo, double hi, const std::string& unit) {
  const std::string kind = integer ? "an integer" : "a number";
  const std::string u = unit.empty() ? "" : " " + unit;
  if (hi == std::numeric_limits<double>::infinity()) return kind + " ≥ " + number_text(lo) + u;
  return kind + " between " + number_text(lo) + " and " + number_text(hi) + u;
}

// [lo, hi]; integers also within int's range; NaN and infinities refused.
inline CLI::Validator bounded(bool integer, double lo, double hi, const std::string& unit,
                              const std::string& desc) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const std::string rule = "must be " + rule_text(integer, lo, hi, unit) + ", not '" + text + "'";
        double v = 0;
        if (integer) {
          long long n = 0;
          if (!CLI::detail::lexical_cast(text, n)) return rule;
          if (n > std::numeric_limits<int>::max() || n < std::numeric_limits<int>::min()) return rule;
          v = static_cast<double>(n);
        } else if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v)) {
          return rule;
        }
        return v >= lo && v <= hi ? std::string() : rule;
      },
      desc);
}

constexpr double kNoLimit = std::numeric_limits<double>::infinity();

// Integer options.
inline CLI::Validator int_at_least(int lo) {
  return bounded(true, lo, kNoLimit, "", lo > 0 ? "POSITIVE" : "NONNEGATIVE");
}
inline CLI::Validator int_between(int lo, int hi) {
  return bounded(true, lo, hi, "", "[" + number_text(lo) + ".." + number_text(hi) + "]");
}
// Thread counts: 0 is every CPU the process may use; more than that is lowered
// to it with a warning (acoustok::usable_threads), so only the sign is refused.
inline CLI::Validator threads() { return int_at_least(0); }

// Real options (finite).
inline CLI::Validator number_at_least(double lo, const std::string& unit = "") {
  return bounded(false, lo, kNoLimit, unit, ">=" + number_text(lo));
}
inline CLI::Validator number_between(double lo, double hi, const std::string& unit = "") {
  return bounded(false, lo, hi, unit, "[" + number_text(lo) + ".." + number_text(hi) + "]");
}

// A finite number > 0 (a learning rate).
inline CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        if (CLI::detail::lexical_cast(text, v) && std::isfinite(v) && v > 0) return std::string();
        return "must be a number > 0, not '" + text + "'";
      },
      ">0");
}

// A file or folder name: not empty ("" would be written as a file named after
// its temporary).
inline CLI::Validator non_empty_path() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return text.empty() ? "must name a file or folder, not ''" : std::string();
      },
      "");
}

// --device: auto, cpu, cuda or cuda:N.
inline CLI::Validator device() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (text == "auto" || text == "cpu" || text == "cuda") return std::string();
        if (text.rfind("cuda:", 0) == 0 && text.size() > 5 &&
            text.find_first_not_of("0123456789", 5) == std::string::npos)
          return std::string();
        return "must be auto, cpu, cuda or cuda:N, not '" + text + "'";
      },
      "");
}

// Durations that size buffers (samples, windows): at most an hour.
inline CLI::Validator seconds(double lo) { return number_between(lo, grid::kMaxDurationSeconds, "seconds"); }

}  // namespace acoustok::tools::checks
