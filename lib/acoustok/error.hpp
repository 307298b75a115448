// SPDX-License-Identifier: MIT
// The one exception type of libacoustok. Its message is a complete sentence
// for the user, normally "<file>: <reason>"; the command line prints it on one
// line and exits 1, the GStreamer elements turn it into GST_ELEMENT_ERROR.
#pragma once

#include <stdexcept>
#include <string>

namespace acoustok {

// `text` made safe to print on one line: control characters, DEL and bytes
// that are not valid UTF-8 become \xNN; valid UTF-8 is kept. Messages quote
// names and tokens read from untrusted files, which must not reach a
// terminal or a log as raw bytes.
inline std::string printable(const std::string& text) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (s[i + k] & 0xc0) == 0x80;
    if (ok && len == 2) ok = c >= 0xc2;  // no overlong
    if (ok && len == 3)
      ok = !(c == 0xe0 && s[i + 1] < 0xa0) && !(c == 0xed && s[i + 1] >= 0xa0);  // no surrogates
    if (ok && len == 4) ok = c <= 0xf4 && !(c == 0xf0 && s[i + 1] < 0x90) && !(c == 0xf4 && s[i + 1] >= 0x90);
    if (ok && len == 1 && (c < 0x20 || c == 0x7f)) ok = false;
    if (!ok) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
      ++i;
      continue;
    }
    out.append(text, i, len);
    i += len;
  }
  return out;
}

// Thread-safety: a value type; copies are independent.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(printable(message)) {}
  explicit Error(const char* message) : Error(std::string(message)) {}
};

// "<path>: <reason>"
inline Error file_error(const std::string& path, const std::string& reason) {
  return Error(path + ": " + reason);
}

}  // namespace acoustok
