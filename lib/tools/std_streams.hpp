// SPDX-License-Identifier: MIT
// "-" as a file name on the command line: standard input or standard output.
// The readers and writers of the library take paths (they check sizes,
// seek, and write under a temporary name), so "-" goes through a temporary
// file: stdin is copied into one first; what is written to one is copied to
// stdout when the command has finished it. Any other name passes through.
#pragma once

#include <string>

namespace acoustok::tools {

class InputArg {
 public:
  // `what` names the input in errors ("audio", "features").
  explicit InputArg(const std::string& arg);
  ~InputArg();
  InputArg(const InputArg&) = delete;
  InputArg& operator=(const InputArg&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_, temp_dir_;
};

class OutputArg {
 public:
  // `suffix` is the temporary file's extension (".wav", ".npy"), for
  // writers that choose a format from it.
  OutputArg(const std::string& arg, const std::string& suffix);
  ~OutputArg();
  OutputArg(const OutputArg&) = delete;
  OutputArg& operator=(const OutputArg&) = delete;
  const std::string& path() const { return path_; }
  bool is_stdout() const { return !temp_dir_.empty(); }
  // For "-": copies the finished file to stdout. Nothing for a real file.
  void finish();

 private:
  std::string path_, temp_dir_;
};

}  // namespace acoustok::tools
