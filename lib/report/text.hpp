// SPDX-License-Identifier: MIT
// Text for the report's HTML: escaping, base64 for data: URIs, and the
// number formats of its tables, tooltips and SVG coordinates.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace acoustok::report {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// HTML text and attribute values: & < > " ' escaped, control characters and
// bytes that are not UTF-8 replaced by U+FFFD.
std::string esc(const std::string& s);
// Standard base64 (RFC 4648, with padding).
std::string base64(const std::string& in);

// snprintf of one double.
std::string printf_string(const char* fmt, double v);
// A figure for a table: `digits` significant digits in fixed notation
// (169326.09 reads "169326", 0.012345 "0.01235"), exponents only for the very
// large or small; "–" when undefined.
std::string num(double v, int digits = 4);
// `decimals` after the point; "–" when undefined.
std::string fixed(double v, int decimals);
// 100·share with a " %" sign.
std::string percent(double share, int decimals = 1);
std::string integer(int64_t v);
// 1h02m03s, 3m05.2s, 12.3 s
std::string duration_text(double s);
// An SVG coordinate: one decimal.
std::string coord(double v);

}  // namespace acoustok::report
