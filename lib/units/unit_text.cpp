// SPDX-License-Identifier: MIT
#include "acoustok/unit_text.hpp"

#include "acoustok/error.hpp"

namespace acoustok {

namespace {

bool is_separator(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string quoted(std::string_view token) {
  constexpr size_t kShown = 24;
  std::string s(token.substr(0, kShown));
  if (token.size() > kShown) s += "...";
  return "'" + s + "'";
}

}  // namespace

void parse_unit_line(std::string_view line, std::vector<int>* units, const std::string& where,
                     int64_t line_no) {
  units->clear();
  auto fail = [&](const std::string& reason) -> Error {
    return file_error(where, "line " + std::to_string(line_no) + ": " + reason);
  };
  size_t i = 0;
  const size_t n = line.size();
  while (i < n) {
    while (i < n && is_separator(line[i])) ++i;
    if (i == n) break;
    size_t j = i;
    while (j < n && !is_separator(line[j])) ++j;
    const std::string_view token = line.substr(i, j - i);
    if (token[0] == '-' && token.size() > 1 &&
        token.find_first_not_of("0123456789", 1) == std::string_view::npos) {
      throw fail("negative unit id " + quoted(token) + " (unit ids are 0.." + std::to_string(kMaxUnitId) +
                 ")");
    }
    if (token.find_first_not_of("0123456789") != std::string_view::npos) {
      throw fail(quoted(token) + " is not a unit id (a non-negative decimal integer)");
    }
    int64_t value = 0;
    for (char c : token) {
      value = value * 10 + (c - '0');
      if (value > kMaxUnitId) {
        throw fail("unit id " + quoted(token) + " is beyond the largest unit id " +
                   std::to_string(kMaxUnitId) + " (U+4E00 + id must stay below U+D800)");
      }
    }
    units->push_back(static_cast<int>(value));
    i = j;
  }
}

void collapse_repeats(const std::vector<int>& frames, std::vector<int>* units, std::vector<int64_t>* runs) {
  units->clear();
  runs->clear();
  for (int u : frames) {
    if (!units->empty() && units->back() == u) {
      ++runs->back();
    } else {
      units->push_back(u);
      runs->push_back(1);
    }
  }
}

bool RunReducer::push(int unit, UnitRun* done) {
  *done = UnitRun();
  if (held_.frames > 0 && held_.unit == unit && held_.frames < kMaxRunFrames) {
    ++held_.frames;
    return false;
  }
  *done = held_;
  held_ = UnitRun{unit, 1};
  return true;
}

bool RunReducer::finish(UnitRun* done) {
  *done = held_;
  held_ = UnitRun();
  return done->frames > 0;
}

void append_unit_utf8(int id, std::string* out) {
  const char32_t cp = kFirstUnitCodePoint + static_cast<char32_t>(id);
  out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
  out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
  out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
}

std::string units_to_utf8(const std::vector<int>& units) {
  std::string s;
  s.reserve(units.size() * kUnitUtf8Bytes);
  for (int u : units) append_unit_utf8(u, &s);
  return s;
}

bool utf8_to_units(std::string_view text, std::vector<int>* units) {
  units->clear();
  if (text.size() % kUnitUtf8Bytes != 0) return false;
  for (size_t i = 0; i < text.size(); i += kUnitUtf8Bytes) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    const auto b1 = static_cast<unsigned char>(text[i + 1]);
    const auto b2 = static_cast<unsigned char>(text[i + 2]);
    if ((b0 & 0xF0) != 0xE0 || (b1 & 0xC0) != 0x80 || (b2 & 0xC0) != 0x80) return false;
    const char32_t cp =
        (static_cast<char32_t>(b0 & 0x0F) << 12) | (static_cast<char32_t>(b1 & 0x3F) << 6) | (b2 & 0x3F);
    if (cp < kFirstUnitCodePoint || cp > kFirstUnitCodePoint + kMaxUnitId) return false;
    units->push_back(static_cast<int>(cp - kFirstUnitCodePoint));
  }
  return true;
}

std::string join_units(const int* units, size_t count, char separator) {
  std::string s;
  for (size_t i = 0; i < count; ++i) {
    if (i) s.push_back(separator);
    s += std::to_string(units[i]);
  }
  return s;
}

}  // namespace acoustok
