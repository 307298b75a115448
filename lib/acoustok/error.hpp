// SPDX-License-Identifier: MIT
// The one exception type of libacoustok. Its message is a complete sentence
// for the user, normally "<file>: <reason>"; the command line prints it on one
// line and exits 1, the GStreamer elements turn it into GST_ELEMENT_ERROR.
#pragma once

#include <stdexcept>
#include <string>

namespace acoustok {

// Thread-safety: a value type; copies are independent.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "<path>: <reason>"
inline Error file_error(const std::string& path, const std::string& reason) {
  return Error(path + ": " + reason);
}

}  // namespace acoustok
